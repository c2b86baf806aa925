"""What changed between the training data (the reference) and a new recording: camera, lighting, calibration,
workspace, object placement and timing, each measured in units a person can act on and ranked by likely risk.

Pure functions on arrays and Tables; decoding the few first frames is left to frames.py."""

from __future__ import annotations

import functools
import math

import numpy as np

from lerobot_notebook_pipeline.analysis.checks import finding, state_action_lags
from lerobot_notebook_pipeline.analysis.costs import costs_summary, priced
from lerobot_notebook_pipeline.analysis.stats import (
    ACTION,
    STATE,
    Table,
    camera_keys,
    dim_ranges,
    episode_lengths,
    feature_names,
)

# (noise floor: smaller is not reported, medium risk, high risk), each in the unit named by the key
RISK_SCALES = {
    "camera_shift_pc": (0.0, 1.0, 3.0),  # image shift, % of the frame (and at least MIN_SHIFT_PX)
    "camera_scale_pc": (2.0, 3.0, 6.0),  # zoom, % change of the image scale
    "brightness_pc": (4.0, 10.0, 25.0),  # mean brightness change, % of the reference
    "colour_pc": (4.0, 8.0, 15.0),  # one colour channel's change beyond the brightness change, %
    "calibration_range_pc": (1.0, 2.0, 5.0),  # joint offset at rest, % of the joint's training range
    "workspace_range_pc": (3.0, 5.0, 15.0),  # reach beyond the training range, % of the joint's range
    "object_cm": (0.3, 1.0, 3.0),  # object placement beyond the training placements, cm
    "episode_length_pc": (15.0, 25.0, 50.0),  # median episode duration change, %
    "lag_frames": (2.0, 2.0, 5.0),  # state-action lag change, frames
}
UNITS = {"camera_shift_pc": "% of the frame", "camera_scale_pc": "% zoom", "brightness_pc": "%", "colour_pc": "%",
         "calibration_range_pc": "% of the joint's range", "workspace_range_pc": "% of the joint's range",
         "object_cm": "cm", "episode_length_pc": "%", "lag_frames": "frames", "fps": "fps"}
MIN_SHIFT_PX = 1.0  # phase correlation is reliable to a fraction of a pixel; below 1 px nothing is reported
WEAK_MATCH = 0.15  # a phase-correlation peak under this means the two pictures barely match
PHASE_BAND = 0.15  # cycles per pixel kept by the phase correlation's low-pass
MIN_SCALE_OF_MEDIAN = 0.25  # a joint's scale is at least this share of the median joint range (see joint_scales)
REST_SPREADS = 3.0  # a rest-pose offset must exceed this many training spreads (robust std of rest poses) ...
REST_EPISODES = 8  # ... with this many episodes on each side or more; with fewer, more (see rest_noise)
# Reach and placement beyond the training range. With few episodes a new recording of the very same setup goes past
# the reference's maximum by chance (with m new and n reference episodes, in m / (n + m) of cases). So an excess
# counts only when it is larger than the allowance chance_reach gives: the reference's own tail scale (how far apart
# its most extreme episodes lie, tail_scale) times chance_factor(n, m), the factor a same-setup recording exceeds
# with probability CHANCE when the per-episode extremes have an exponential tail. The allowance shrinks as the
# reference gains episodes; a counted excess keeps its full size.
CHANCE = 0.1  # per joint side or placement axis; a bounded spread, like placements drawn from an area, far less often
LEVELS = ("low", "medium", "high")


# ---------------------------------------------------------------- can the two be compared at all


def schema_differences(reference: dict, new: dict) -> list[str]:
    """Why two info.json dicts describe different robots or features (empty when they match)."""
    out = []
    if reference.get("robot_type") != new.get("robot_type"):
        out.append(f"robot type {new.get('robot_type')!r} vs {reference.get('robot_type')!r} in the reference")
    ref_ft, new_ft = reference["features"], new["features"]
    only_ref = sorted(set(ref_ft) - set(new_ft))
    only_new = sorted(set(new_ft) - set(ref_ft))
    if only_ref:
        out.append(f"only the reference has {', '.join(only_ref)}")
    if only_new:
        out.append(f"only the new dataset has {', '.join(only_new)}")
    for key in sorted(set(ref_ft) & set(new_ft)):
        a, b = ref_ft[key], new_ft[key]
        if a["dtype"] != b["dtype"] or list(a.get("shape") or []) != list(b.get("shape") or []):
            out.append(f"'{key}' is {b['dtype']} {list(b.get('shape') or [])} vs {a['dtype']} {list(a.get('shape') or [])}")
        elif key not in camera_keys(reference) and feature_names(reference, key) != feature_names(new, key):
            out.append(f"'{key}' names its dimensions differently")
    return out


# ---------------------------------------------------------------- measuring sizes


def risk_level(kind: str, size: float) -> str | None:
    """'low', 'medium' or 'high' for a measured size of one kind; None under the noise floor."""
    floor, medium, high = RISK_SCALES[kind]
    size = abs(size)
    if size < floor or size == 0:
        return None
    return "high" if size >= high else "medium" if size >= medium else "low"


def grayscale(image: np.ndarray) -> np.ndarray:
    """Luminance (Rec. 601) of an RGB image as float64."""
    image = np.asarray(image, dtype=np.float64)
    return image @ np.array([0.299, 0.587, 0.114]) if image.ndim == 3 else image


def mean_image(images: list[np.ndarray]) -> np.ndarray:
    """The pixel-wise mean of equally sized RGB images, as float64."""
    return np.mean(np.stack([np.asarray(i, dtype=np.float64) for i in images]), axis=0)


def _parabola_peak(left: float, centre: float, right: float) -> float:
    """Sub-sample offset of a peak from three samples around it."""
    curve = left - 2 * centre + right
    return 0.0 if curve == 0 else 0.5 * (left - right) / curve


def phase_shift(reference: np.ndarray, new: np.ndarray) -> tuple[float, float, float]:
    """How far the content of `new` lies from `reference` (dy, dx in pixels, + = down/right), by phase correlation;
    the third number is the correlation peak (near 1: a clean match, near 0: no match)."""
    a, b = grayscale(reference), grayscale(new)
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    fy, fx = np.fft.fftfreq(a.shape[0])[:, None], np.fft.fftfreq(a.shape[1])[None, :]
    band = np.exp(-(fx ** 2 + fy ** 2) / (2 * PHASE_BAND ** 2))  # fine detail is mostly compression noise
    surface = np.fft.ifft2(band * cross / np.maximum(np.abs(cross), 1e-12)).real
    y, x = np.unravel_index(np.argmax(surface), surface.shape)
    h, w = surface.shape
    dy = y + _parabola_peak(surface[(y - 1) % h, x], surface[y, x], surface[(y + 1) % h, x])
    dx = x + _parabola_peak(surface[y, (x - 1) % w], surface[y, x], surface[y, (x + 1) % w])
    dy = dy - h if dy > h / 2 else dy
    dx = dx - w if dx > w / 2 else dx
    return float(dy), float(dx), float(surface[y, x] / band.mean())


def scale_change(reference: np.ndarray, new: np.ndarray, grid: int = 3) -> float:
    """Relative zoom of `new` against `reference` (0.05 = 5% larger), from a grid of half-size patches: under a zoom
    each patch moves away from the centre in proportion to its distance. The median over patches ignores a patch
    fooled by a moved object."""
    h, w = reference.shape[:2]
    ph, pw = h // 2, w // 2
    ty, tx, _ = phase_shift(reference, new)
    estimates = []
    for top in np.linspace(0, h - ph, grid).astype(int):
        for left in np.linspace(0, w - pw, grid).astype(int):
            oy, ox = top + ph / 2 - h / 2, left + pw / 2 - w / 2
            if oy == 0 and ox == 0:
                continue
            dy, dx, _ = phase_shift(reference[top:top + ph, left:left + pw], new[top:top + ph, left:left + pw])
            estimates.append(((dy - ty) * oy + (dx - tx) * ox) / (oy * oy + ox * ox))
    return float(np.median(estimates))


def camera_motion(reference: np.ndarray, new: np.ndarray) -> dict:
    """Shift (px and % of the frame) and zoom between two mean first frames of one camera."""
    dy, dx, peak = phase_shift(reference, new)
    h, w = reference.shape[:2]
    return {"dx_px": round(dx, 2), "dy_px": round(dy, 2), "shift_px": round(float(np.hypot(dx, dy)), 2),
            "shift_pc": round(100 * max(abs(dx) / w, abs(dy) / h), 2), "scale_pc": round(100 * scale_change(reference, new), 2),
            "match": round(peak, 3), "height": h, "width": w}


def lighting_change(reference: np.ndarray, new: np.ndarray) -> dict:
    """Mean brightness (0-255) of both frames, its change in %, and each colour channel's change beyond it in %."""
    ref_level, new_level = grayscale(reference).mean(), grayscale(new).mean()
    gain = new_level / max(ref_level, 1e-6)
    channels = np.asarray(new, dtype=np.float64).reshape(-1, 3).mean(0) / np.maximum(
        np.asarray(reference, dtype=np.float64).reshape(-1, 3).mean(0), 1e-6)
    colour = 100 * (channels / gain - 1)
    return {"brightness_ref": round(float(ref_level), 1), "brightness_new": round(float(new_level), 1),
            "brightness_pc": round(float(100 * (gain - 1)), 2),
            "colour_pc": {c: round(float(v), 2) for c, v in zip("rgb", colour, strict=True)}}


def rest_poses(table: Table, key: str = STATE) -> tuple[np.ndarray, np.ndarray]:
    """The first and the last row of every episode (each E x D): where the robot rests."""
    values = table.columns[key].astype(np.float64)
    return values[table.starts], values[table.ends - 1]


def robust_spread(values: np.ndarray) -> np.ndarray:
    """Per column, 1.4826 x the median absolute deviation (a standard deviation that ignores outliers)."""
    return 1.4826 * np.nanmedian(np.abs(values - np.nanmedian(values, axis=0)), axis=0)


def joint_scales(values: np.ndarray) -> np.ndarray:
    """Per joint, its range in the training data, but at least a quarter of the median joint's range: a joint that
    barely moved in training does not turn a negligible offset into a large percentage."""
    ranges = dim_ranges(values)
    typical = np.median(ranges[ranges > 1e-9]) if (ranges > 1e-9).any() else 1.0
    return np.maximum(ranges, MIN_SCALE_OF_MEDIAN * typical)


def within_spread(groups: list[np.ndarray]) -> np.ndarray:
    """Per column, the largest robust spread inside any one group (a shift between groups does not count)."""
    return np.max([robust_spread(g) for g in groups], axis=0)


def rest_noise(groups: list[np.ndarray], n: int, m: int) -> np.ndarray:
    """Per column, the smallest rest-pose offset taken as real: REST_SPREADS spreads, grown like the standard error of a
    difference of medians, sqrt(1/n + 1/m), when n or m is under REST_EPISODES (a spread of few episodes is uncertain)."""
    few = np.sqrt((1 / max(n, 1) + 1 / max(m, 1)) / (2 / REST_EPISODES))
    return REST_SPREADS * max(1.0, few) * within_spread(groups)


def calibration_offsets(reference: Table, new: Table, key: str = STATE) -> list[dict]:
    """Per joint, how far the new rest poses (start and end of episodes) sit from the reference's, when both agree."""
    ref_start, ref_end = rest_poses(reference, key)
    new_start, new_end = rest_poses(new, key)
    ranges = joint_scales(reference.columns[key])
    start_offset = np.nanmedian(new_start, 0) - np.nanmedian(ref_start, 0)
    end_offset = np.nanmedian(new_end, 0) - np.nanmedian(ref_end, 0)
    noise = rest_noise([ref_start, new_start, ref_end, new_end], len(ref_start), len(new_start))
    names = feature_names(reference.info, key)
    out = []
    for d, name in enumerate(names):
        agree = np.sign(start_offset[d]) == np.sign(end_offset[d])
        offset = float(np.mean([start_offset[d], end_offset[d]])) if agree else 0.0
        offset = offset if abs(offset) > noise[d] else 0.0
        out.append({"joint": name, "dim": d, "key": key, "offset": round(offset, 4),
                    "start_offset": round(float(start_offset[d]), 4), "end_offset": round(float(end_offset[d]), 4),
                    "range_pc": round(float(100 * abs(offset) / ranges[d]), 2), "training_range": round(float(ranges[d]), 4),
                    "noise": round(float(noise[d]), 4)})
    return out


def leader_follower_gap(table: Table) -> np.ndarray:
    """Per joint, the median of action minus state at the first frame: the leader-follower offset at rest."""
    return np.nanmedian(table.columns[ACTION][table.starts].astype(np.float64)
                        - table.columns[STATE][table.starts].astype(np.float64), axis=0)


def gap_changes(reference: Table, new: Table) -> list[dict]:
    """Per joint, how much the leader-follower gap at rest changed (None when action and state differ in size)."""
    if ACTION not in reference.columns or STATE not in reference.columns:
        return []
    if reference.columns[ACTION].shape[1] != reference.columns[STATE].shape[1]:
        return []
    change = leader_follower_gap(new) - leader_follower_gap(reference)
    gaps = [(t.columns[ACTION][t.starts] - t.columns[STATE][t.starts]).astype(np.float64) for t in (reference, new)]
    noise = rest_noise(gaps, len(reference.starts), len(new.starts))
    ranges = joint_scales(reference.columns[STATE])
    return [{"joint": name, "dim": d, "gap_change": round(float(change[d]) if abs(change[d]) > noise[d] else 0.0, 4),
             "range_pc": round(float(100 * abs(change[d]) / ranges[d]) if abs(change[d]) > noise[d] else 0.0, 2)}
            for d, name in enumerate(feature_names(reference.info, STATE))]


def range_excess(reference: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, how far the new values go above the reference's maximum and below its minimum (>= 0 each)."""
    above = np.nanmax(new, axis=0) - np.nanmax(reference, axis=0)
    below = np.nanmin(reference, axis=0) - np.nanmin(new, axis=0)
    return np.maximum(above, 0.0), np.maximum(below, 0.0)


def episode_extremes(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per episode and column, the largest and the smallest value (each E x D; NaN ignored)."""
    return np.fmax.reduceat(values, starts, axis=0), np.fmin.reduceat(values, starts, axis=0)


def tail_count(n: int) -> int:
    """How many of the largest of n values estimate a tail's scale: floor(sqrt(n)), between 1 and n - 1."""
    return max(1, min(n - 1, math.isqrt(n)))


def tail_scale(extremes: np.ndarray) -> np.ndarray:
    """Per column of E x D values, the mean of i x (x(i) - x(i+1)) over the tail_count(E) largest: for an exponential
    tail each term is an exponential draw of its scale (Renyi); a bounded spread gives a larger, safer value."""
    k = tail_count(len(extremes))
    top = -np.sort(-extremes, axis=0)
    return np.mean((top[:k] - top[1:k + 1]) * np.arange(1, k + 1)[:, None], axis=0)


@functools.lru_cache(maxsize=256)
def chance_factor(n: int, m: int, chance: float = CHANCE, draws: int = 200_000) -> float:
    """The largest of m new values passes the largest of n reference values (one exponential tail) by more than this
    many tail_scale's with probability `chance`; simulated with a fixed seed by Renyi's representation of the spacings."""
    k = tail_count(n)
    rng = np.random.default_rng(0)
    spacings = rng.exponential(size=(draws, k))
    reference_max = -np.log(rng.beta(k + 1, n - k, draws)) + (spacings / np.arange(1, k + 1)).sum(axis=1)
    new_max = -np.log1p(-rng.uniform(size=draws) ** (1 / m))
    return max(0.0, float(np.quantile((new_max - reference_max) / spacings.mean(axis=1), 1 - chance)))


def chance_reach(top: np.ndarray, bottom: np.ndarray, m: int, chance: float = CHANCE) -> np.ndarray:
    """Per column, how far past the reference's range m new same-setup episodes go by chance, from the per-episode
    largest and smallest values (E x D each); the larger side's scale serves both, as one may sit on the rest pose."""
    keep = np.isfinite(top).all(axis=1) & np.isfinite(bottom).all(axis=1)
    if keep.sum() < 2 or m < 1:
        return np.zeros(top.shape[1])
    scale = np.maximum(tail_scale(top[keep]), tail_scale(-bottom[keep]))
    return chance_factor(int(keep.sum()), m, chance) * scale


def beyond_chance(excess: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The excess where it is larger than what chance allows, else 0 (the whole excess is kept: its size is real)."""
    return np.where(excess > allowed, excess, 0.0)


def workspace_excess(reference: Table, new: Table, offsets: np.ndarray | None = None, key: str = STATE) -> list[dict]:
    """Per joint, how far the new episodes reach beyond every training frame (after removing calibration offsets),
    and how far a same-setup recording of as many episodes would reach by chance (see chance_reach)."""
    ref_values = reference.columns[key].astype(np.float64)
    new_values = new.columns[key].astype(np.float64) - (0.0 if offsets is None else offsets)
    above, below = range_excess(ref_values, new_values)
    top, bottom = episode_extremes(ref_values, reference.starts)
    allowed = chance_reach(top, bottom, len(new.starts))
    reach = np.maximum(beyond_chance(above, allowed), beyond_chance(below, allowed))
    ranges = joint_scales(ref_values)
    return [{"joint": name, "dim": d, "key": key, "above": round(float(above[d]), 4), "below": round(float(below[d]), 4),
             "chance": round(float(allowed[d]), 4),
             "reach": round(float(reach[d]), 4), "range_pc": round(float(100 * reach[d] / ranges[d]), 2),
             "training_min": round(float(np.nanmin(ref_values[:, d])), 4), "training_max": round(float(np.nanmax(ref_values[:, d])), 4),
             "new_min": round(float(np.nanmin(new_values[:, d])), 4), "new_max": round(float(np.nanmax(new_values[:, d])), 4),
             "reference_episodes": len(reference.starts), "new_episodes": len(new.starts)}
            for d, name in enumerate(feature_names(reference.info, key))]


def object_positions(sim_settings: dict | None) -> np.ndarray | None:
    """Object positions at reset (E, objects, 3) in metres from meta/sim_settings.json (None without them)."""
    episodes = (sim_settings or {}).get("episodes") or []
    poses = [e.get("object_pose") for e in episodes]
    if not poses or any(p is None for p in poses):
        return None
    return np.array([np.reshape(p, (-1, 7))[:, :3] for p in poses], dtype=np.float64)


def placement_excess(reference: np.ndarray, new: np.ndarray) -> list[dict]:
    """Per object and axis, how far the new placements lie beyond the training placements, in metres, and how far a
    same-setup recording of as many episodes would lie beyond them by chance (see chance_reach)."""
    out = []
    for obj in range(min(reference.shape[1], new.shape[1])):
        above, below = range_excess(reference[:, obj], new[:, obj])
        allowed = chance_reach(reference[:, obj], reference[:, obj], len(new))
        beyond = np.maximum(beyond_chance(above, allowed), beyond_chance(below, allowed))
        for axis, name in enumerate("xyz"):
            out.append({"object": obj, "axis": name, "above_m": round(float(above[axis]), 4),
                        "below_m": round(float(below[axis]), 4), "chance_m": round(float(allowed[axis]), 4),
                        "beyond_m": round(float(beyond[axis]), 4),
                        "training_m": [round(float(reference[:, obj, axis].min()), 4), round(float(reference[:, obj, axis].max()), 4)],
                        "new_m": [round(float(new[:, obj, axis].min()), 4), round(float(new[:, obj, axis].max()), 4)]})
    return out


def median_lag(table: Table) -> float | None:
    """Median state-action lag in frames (None when action and state are not comparable)."""
    lags = list(state_action_lags(table).values())
    return float(np.median(lags)) if lags else None


def timing(table: Table) -> dict:
    """fps, median episode length (frames and seconds) and the median state-action lag of one dataset."""
    lengths = episode_lengths(table)
    median = float(np.median(lengths)) if len(lengths) else 0.0
    return {"fps": table.fps, "median_frames": median, "median_s": round(median / table.fps, 3) if table.fps else None,
            "lag_frames": median_lag(table)}


# ---------------------------------------------------------------- differences, in words


def difference(check: str, subject: str, kind: str, size: float, message: str, sizes: dict) -> dict | None:
    """One measured difference with its risk level (None when under the noise floor of its kind)."""
    level = risk_level(kind, size)
    if level is None:
        return None
    high = RISK_SCALES[kind][2]
    return {"check": check, "subject": subject, "risk": level, "risk_score": round(abs(size) / high, 3), "kind": kind,
            "size": round(float(size), 4), "unit": UNITS[kind], "message": message, "sizes": sizes}


def camera_differences(camera: str, motion: dict, light: dict) -> list[dict]:
    """Differences of one camera: shift, zoom, brightness, colour."""
    name = camera.split(".")[-1]
    out = []
    if motion["shift_px"] >= MIN_SHIFT_PX:
        moves = [f"{abs(motion['dx_px']):.1f} px {'right' if motion['dx_px'] > 0 else 'left'}"] if abs(motion["dx_px"]) >= 0.5 else []
        moves += [f"{abs(motion['dy_px']):.1f} px {'down' if motion['dy_px'] > 0 else 'up'}"] if abs(motion["dy_px"]) >= 0.5 else []
        turned = [w for w, v in (("left" if motion["dx_px"] > 0 else "right", motion["dx_px"]),
                                 ("up" if motion["dy_px"] > 0 else "down", motion["dy_px"])) if abs(v) >= 0.5]
        out.append(difference("drift_camera", camera, "camera_shift_pc", motion["shift_pc"],
                              f"the {name} camera's picture moved {' and '.join(moves)} ({motion['shift_pc']:.1f}% of the "
                              f"frame): the camera itself moved or turned {' and '.join(turned)} since the training data"
                              + (" (a weak match: the scene itself changed a lot, check the first-frame figure)"
                                 if motion["match"] < WEAK_MATCH else ""), motion))
    out.append(difference("drift_camera", camera, "camera_scale_pc", motion["scale_pc"],
                          f"the {name} camera's picture is {abs(motion['scale_pc']):.1f}% "
                          f"{'larger' if motion['scale_pc'] > 0 else 'smaller'}: it moved "
                          f"{'closer' if motion['scale_pc'] > 0 else 'further away'} or zoomed", motion))
    out.append(difference("drift_lighting", camera, "brightness_pc", light["brightness_pc"],
                          f"the {name} camera's picture is {abs(light['brightness_pc']):.0f}% "
                          f"{'brighter' if light['brightness_pc'] > 0 else 'darker'} (mean level {light['brightness_ref']:.0f} -> "
                          f"{light['brightness_new']:.0f} of 255): other lighting, time of day or exposure", light))
    channel, shift = max(light["colour_pc"].items(), key=lambda kv: abs(kv[1]))
    colour = {"r": "red", "g": "green", "b": "blue"}[channel]
    out.append(difference("drift_lighting", camera, "colour_pc", shift,
                          f"the {name} camera's colours shifted: {colour} {shift:+.0f}% against the others (another "
                          "light source or white balance)", light))
    return [d for d in out if d is not None]


def joint_differences(calibration: list[dict], gaps: list[dict], workspace: list[dict]) -> list[dict]:
    """Differences of the joints: rest-pose offsets, leader-follower gaps, reach beyond the training range."""
    out = []
    for c in calibration:
        if c["offset"]:
            out.append(difference("drift_calibration", c["joint"], "calibration_range_pc", c["range_pc"],
                                  f"{c['joint']} rests {abs(c['offset']):.3g} {'higher' if c['offset'] > 0 else 'lower'} "
                                  f"(the dataset's joint units) than in training, at the start and the end of the episodes "
                                  f"({c['range_pc']:.1f}% of its training range): a calibration offset or a new rest pose", c))
    for g in gaps:
        if g["gap_change"]:
            out.append(difference("drift_calibration", g["joint"], "calibration_range_pc", g["range_pc"],
                                  f"{g['joint']}: at rest the leader (action) and follower (state) now differ by "
                                  f"{g['gap_change']:+.3g} more than in training ({g['range_pc']:.1f}% of its range): one "
                                  "arm was recalibrated", g))
    for w in workspace:
        if w["reach"] > 0:
            up = w["reach"] == w["above"]
            side = f"above the training maximum {w['training_max']:.3g}" if up else \
                f"below the training minimum {w['training_min']:.3g}"
            out.append(difference("drift_workspace", w["joint"], "workspace_range_pc", w["range_pc"],
                                  f"{w['joint']} goes {w['reach']:.3g} {side} ({w['range_pc']:.0f}% of its training range), "
                                  f"beyond what its own episodes vary (by chance a recording of the same setup goes up "
                                  f"to {w['chance']:.3g} beyond, {round((1 - CHANCE) * 10)} times in 10): the new "
                                  "episodes reach where no training episode went", w))
    return [d for d in out if d is not None]


def placement_differences(placements: list[dict]) -> list[dict]:
    """Differences of object placement (sim datasets with meta/sim_settings.json), in cm."""
    out = []
    for p in placements:
        beyond = p["beyond_m"]
        out.append(difference("drift_objects", f"object {p['object']} {p['axis']}", "object_cm", 100 * beyond,
                              f"object {p['object']} is placed up to {100 * beyond:.1f} cm beyond the training placements "
                              f"in {p['axis']} (new {p['new_m'][0]:.3f}..{p['new_m'][1]:.3f} m, training "
                              f"{p['training_m'][0]:.3f}..{p['training_m'][1]:.3f} m), beyond what they vary (by chance a same-"
                              f"setup recording lands up to {100 * p['chance_m']:.1f} cm beyond, "
                              f"{round((1 - CHANCE) * 10)} times in 10)", p))
    return [d for d in out if d is not None]


def timing_differences(reference: dict, new: dict) -> list[dict]:
    """Differences of fps, episode duration and state-action lag."""
    out = []
    if reference["fps"] != new["fps"]:
        out.append({"check": "drift_timing", "subject": "fps", "risk": "high", "risk_score": 2.0, "kind": "fps",
                    "size": new["fps"] - reference["fps"], "unit": UNITS["fps"], "sizes": {"reference": reference, "new": new},
                    "message": f"recorded at {new['fps']:g} fps, the training data at {reference['fps']:g} fps: the policy's "
                               "action chunks and temporal ensembling assume the training rate"})
    if reference["median_s"] and new["median_s"]:
        change = 100 * (new["median_s"] / reference["median_s"] - 1)
        out.append(difference("drift_timing", "episode_length", "episode_length_pc", change,
                              f"episodes last {new['median_s']:.1f} s (median) against {reference['median_s']:.1f} s in "
                              f"training ({change:+.0f}%): a slower or faster operator, or a harder scene",
                              {"reference": reference, "new": new}))
    if reference["lag_frames"] is not None and new["lag_frames"] is not None:
        change = new["lag_frames"] - reference["lag_frames"]
        out.append(difference("drift_timing", "lag", "lag_frames", change,
                              f"the state now trails the action by {new['lag_frames']:g} frames against "
                              f"{reference['lag_frames']:g} in training: a slower, loaded or differently tuned robot",
                              {"reference": reference, "new": new}))
    return [d for d in out if d is not None]


def rank(differences: list[dict]) -> list[dict]:
    """Differences ordered by how much each is likely to hurt the policy (largest risk score first)."""
    return sorted(differences, key=lambda d: -d["risk_score"])


def to_findings(differences: list[dict]) -> list[dict]:
    """The differences as report findings: medium and high risk warn, low risk is a note; each with its measured
    cost (or that none covers it) when costs were looked up."""
    return [finding(d["check"], "warn" if d["risk"] != "low" else "info",
                    f"{d['risk']} risk: {d['message']}" + (f". {d['cost_line']}" if d.get("cost_line") else ""))
            for d in differences]


def verdict(differences: list[dict]) -> str:
    """One line: what was measured and how risky it likely is (not a prediction of success)."""
    risky = [d for d in differences if d["risk"] != "low"]
    if not differences:
        return ("no measured difference above the noise floor: camera, lighting, rest poses, reach and timing match the "
                "training data as far as these checks see")
    if not risky:
        return f"{len(differences)} small difference(s), each of low risk; the setup looks like the training data's"
    top = "; ".join(f"{d['check'].removeprefix('drift_')} ({d['subject']})" for d in risky[:3])
    return (f"{len(risky)} difference(s) of medium or high risk, the largest: {top}. The policy never saw these "
            "conditions; restore the setup, or record a few training episodes in it, before judging the policy")


def compare(reference: Table, new: Table, mean_frames: dict | None = None, reference_sim: dict | None = None,
            new_sim: dict | None = None, costs: dict | None = None) -> dict:
    """Every measurement and ranked difference between two datasets; mean_frames maps camera -> (reference, new)
    mean first frames, the sim dicts are meta/sim_settings.json when present. With costs (costs.load_costs) each
    difference gets its cost measured in simulation and the risk level from it, where a measurement covers it."""
    key = STATE if STATE in reference.columns and STATE in new.columns else ACTION
    calibration = calibration_offsets(reference, new, key)
    offsets = np.array([c["offset"] for c in calibration])
    gaps = gap_changes(reference, new) if key == STATE else []
    workspace = workspace_excess(reference, new, offsets, key)
    cameras = {camera: {"motion": camera_motion(ref, cur), "lighting": lighting_change(ref, cur)}
               for camera, (ref, cur) in (mean_frames or {}).items()}
    ref_objects, new_objects = object_positions(reference_sim), object_positions(new_sim)
    placements = placement_excess(ref_objects, new_objects) if ref_objects is not None and new_objects is not None else []
    times = {"reference": timing(reference), "new": timing(new)}
    found = [d for camera, m in cameras.items() for d in camera_differences(camera, m["motion"], m["lighting"])]
    found += joint_differences(calibration, gaps, workspace) + placement_differences(placements)
    found += timing_differences(times["reference"], times["new"])
    if costs is not None:
        found = [priced(d, costs, new.info.get("robot_type")) for d in found]
    ranked = rank(found)
    return {"cameras": cameras, "calibration": calibration, "leader_follower": gaps, "workspace": workspace,
            "objects": placements, "timing": times, "differences": ranked, "findings": to_findings(ranked),
            "verdict": verdict(ranked), "costs": None if costs is None else costs_summary(costs)}
