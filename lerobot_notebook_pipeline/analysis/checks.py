"""Dataset quality checks: one pure function per check, each returning findings
{check, severity, episode, frame, message}. Severities: 'info' (worth knowing), 'warn' (probably a
defect, look at it), 'error' (training on this will go wrong)."""

from __future__ import annotations

import numpy as np

from lerobot_notebook_pipeline.analysis.stats import (
    ACTION,
    STATE,
    Table,
    episode_lengths,
    feature_names,
    key_ranges,
    resample_episodes,
    segment_reduce,
    vector_keys,
)

SEVERITIES = ("info", "warn", "error")
NORMALISATION_EPS = 1e-8  # lerobot normalises by (x - mean) / (std + eps), and min-max by (max - min) or eps


def finding(check: str, severity: str, message: str, episode=None, frame=None) -> dict:
    """One finding in the shape report.json uses."""
    assert severity in SEVERITIES, severity
    return {"check": check, "severity": severity, "episode": None if episode is None else int(episode),
            "frame": None if frame is None else int(frame), "message": message}


def at_least(findings: list[dict], level: str) -> list[dict]:
    """Findings whose severity is level or worse."""
    rank = SEVERITIES.index(level)
    return [f for f in findings if SEVERITIES.index(f["severity"]) >= rank]


def count_by_severity(findings: list[dict]) -> dict[str, int]:
    """How many findings of each severity."""
    return {s: sum(f["severity"] == s for f in findings) for s in SEVERITIES}


# ---------------------------------------------------------------- small shared helpers


def _episode_of_rows(table: Table, rows: np.ndarray) -> np.ndarray:
    """Position in table.episodes of each row."""
    return np.searchsorted(table.starts, rows, side="right") - 1


def _deltas(table: Table, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Row-to-row differences of a column (row t minus row t-1) and a mask of rows that have a predecessor in the same episode."""
    if ("deltas", key) not in table.cache:
        table.cache[("deltas", key)] = _compute_deltas(table, key)
    return table.cache[("deltas", key)]


def _compute_deltas(table: Table, key: str) -> tuple[np.ndarray, np.ndarray]:
    values = table.columns[key].astype(np.float64)
    deltas = np.zeros_like(values)
    if len(values) > 1:
        deltas[1:] = values[1:] - values[:-1]
    valid = np.ones(len(values), dtype=bool)
    valid[table.starts] = False
    return deltas, valid


def _names(table: Table, key: str, dims) -> str:
    names = feature_names(table.info, key)
    dims = list(dims)
    text = ", ".join(names[d] for d in dims[:6])
    return text + (f" and {len(dims) - 6} more" if len(dims) > 6 else "")


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) of every run of True in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def gripper_dims(table: Table, key: str = ACTION) -> list[int]:
    """Dimensions whose name contains 'gripper' (none when the dataset has no names)."""
    if key not in table.info["features"]:
        return []
    return [i for i, n in enumerate(feature_names(table.info, key)) if "gripper" in n.lower()]


def moving_dims(table: Table, key: str) -> np.ndarray:
    """Dimensions that move somewhere in the dataset (range above zero)."""
    return np.flatnonzero(key_ranges(table, key) > 1e-9)


def _comparable(table: Table) -> bool:
    """True when action and state exist, have the same size and (if named) the same names."""
    if ACTION not in table.columns or STATE not in table.columns:
        return False
    if table.columns[ACTION].shape[1] != table.columns[STATE].shape[1]:
        return False
    return feature_names(table.info, ACTION) == feature_names(table.info, STATE) or \
        table.info["features"][ACTION].get("names") is None or table.info["features"][STATE].get("names") is None


# ---------------------------------------------------------------- the checks


def check_nan_inf(table: Table) -> list[dict]:
    """NaN or Inf values in any float column: training on them produces NaN losses."""
    out = []
    for key, values in table.columns.items():
        if not np.issubdtype(values.dtype, np.floating):
            continue
        bad = ~np.isfinite(values) if values.ndim == 1 else ~np.isfinite(values).all(axis=1)
        rows = np.flatnonzero(bad)
        if not len(rows):
            continue
        eps = _episode_of_rows(table, rows)
        for pos in np.unique(eps):
            ep_rows = rows[eps == pos]
            dims = [] if values.ndim == 1 else np.flatnonzero((~np.isfinite(values[ep_rows])).any(axis=0))
            where = f" in {_names(table, key, dims)}" if len(dims) else ""
            out.append(finding("nan_inf", "error", f"{len(ep_rows)} frame(s) of '{key}' hold NaN or Inf{where}: "
                               "fix or drop this episode before training", table.episodes[pos],
                               ep_rows[0] - table.starts[pos]))
    return out


def check_dead_joints(table: Table, frozen_fraction: float = 0.01) -> list[dict]:
    """Dimensions that never change in the whole dataset (zero variance) or stay frozen through one episode while
    moving in others."""
    out = []
    for key in vector_keys(table):
        values = table.columns[key].astype(np.float64)
        ranges = key_ranges(table, key)
        dead = np.flatnonzero(ranges <= 1e-9)
        if len(dead):
            out.append(finding("dead_joint", "warn", f"'{key}' never changes in {_names(table, key, dead)} across the whole "
                               f"dataset (zero variance). lerobot normalises by (x - mean) / (std + {NORMALISATION_EPS:g}), so at "
                               f"deployment a wobble of 0.1 in it becomes an input of about {0.1 / NORMALISATION_EPS:.0e} and "
                               "the policy acts on nonsense. Drop the dimension, or give it a nonzero std (e.g. its sensor "
                               "noise) in meta/stats.json so it passes through near zero"))
        alive = np.flatnonzero(ranges > 1e-9)
        if len(table.episodes) < 2 or not len(alive):
            continue
        ep_range = segment_reduce(values, table.starts, "max") - segment_reduce(values, table.starts, "min")
        ep_range = np.nan_to_num(ep_range[:, alive], nan=0.0)
        typical = np.median(ep_range, axis=0)
        frozen = (ep_range <= frozen_fraction * typical) & (typical > 0)
        for pos in np.flatnonzero(frozen.any(axis=1)):
            dims = alive[frozen[pos]]
            out.append(finding("dead_joint", "warn", f"'{key}' {_names(table, key, dims)} stays frozen for the whole "
                               "episode although it moves in the others: a stalled motor or a dropped signal?",
                               table.episodes[pos], 0))
    return out


def check_stuck_actions(table: Table, min_seconds: float = 0.5, min_frames: int = 10) -> list[dict]:
    """Runs where the whole action vector repeats unchanged for a long time: warn mid-episode (a frozen teleop
    stream), info at the very start or end (waiting to begin, resting after the task)."""
    if ACTION not in table.columns:
        return []
    deltas, valid = _deltas(table, ACTION)
    ranges = key_ranges(table, ACTION)
    alive = ranges > 1e-9
    if not alive.any():
        return []
    still = valid & (np.abs(np.nan_to_num(deltas[:, alive], nan=np.inf)) <= 1e-6 * ranges[alive]).all(axis=1)
    need = max(min_frames, int(round(min_seconds * table.fps)))
    out = []
    for start, stop in zip(*_runs(still), strict=True):
        frames_held = stop - start + 1  # a run of n unchanged steps holds n+1 identical frames
        if frames_held < need:
            continue
        pos = _episode_of_rows(table, np.array([start - 1]))[0]
        held = f"the action stays exactly the same for {frames_held} frames ({frames_held / table.fps:.2f} s)"
        if start - 1 == table.starts[pos] or stop == table.ends[pos]:
            edge = "start" if start - 1 == table.starts[pos] else "end"
            out.append(finding("stuck_actions", "info", f"{held} at the {edge} of the episode: normal waiting or "
                               "resting, but trim it if long, or the policy learns to wait there",
                               table.episodes[pos], start - 1 - table.starts[pos]))
        else:
            out.append(finding("stuck_actions", "warn", f"{held} in the middle of the episode: a frozen teleoperation "
                               "stream? The policy learns to stall here", table.episodes[pos], start - 1 - table.starts[pos]))
    return out


def check_clipping(table: Table, min_fraction: float = 0.1, min_run_s: float = 0.2, min_episodes: int = 2) -> list[dict]:
    """A joint that sits exactly at its dataset-wide minimum or maximum, in flat runs (each at least min_run_s long)
    for at least min_fraction of an episode, in at least min_episodes episodes: a limit the recording kept hitting,
    so the motion beyond it was lost. One such episode alone is more likely a hold (scripted experts stop dead at
    waypoints). Grippers, which rest closed on an object, are left out."""
    out = []
    need = max(3, int(round(min_run_s * table.fps)))
    for key in (k for k in (ACTION, STATE) if k in table.columns):
        values = table.columns[key].astype(np.float64)
        ranges = key_ranges(table, key)
        for d in (d for d in moving_dims(table, key) if d not in gripper_dims(table, key)):
            x = values[:, d]
            for bound, side in ((np.nanmax(x), "maximum"), (np.nanmin(x), "minimum")):
                held = np.zeros(len(x), dtype=bool)
                for start, stop in zip(*_runs(np.abs(x - bound) <= 1e-6 * ranges[d]), strict=True):
                    held[start:stop] = stop - start >= need
                fraction = np.add.reduceat(held, table.starts) / episode_lengths(table)
                hit = np.flatnonzero(fraction >= min_fraction)
                if len(hit) < min_episodes:
                    continue
                for pos in hit:
                    first = int(np.flatnonzero(held[table.starts[pos]:table.ends[pos]])[0])
                    out.append(finding("clipping", "warn", f"'{key}' {feature_names(table.info, key)[d]} sits exactly at its "
                                       f"{side} {bound:.4g} for {fraction[pos] * 100:.0f}% of the episode, in flat runs, as "
                                       f"in {len(hit) - 1} other episode(s): clipped at a limit (a joint limit, a calibration "
                                       "range or a saturated reading), so the motion beyond it was lost",
                                       table.episodes[pos], first))
    return out


def check_action_jumps(table: Table, z: float = 8.0, min_fraction: float = 0.05) -> list[dict]:
    """Sudden action jumps: a frame-to-frame change that breaks from the steps around it (its difference from the
    neighbouring steps is z standard deviations above normal) and exceeds min_fraction of the joint's range (at
    least of the median joint's range, so barely-moving joints don't count). A fast but smooth motion is not a
    jump. Gripper dims are left to the chatter check."""
    if ACTION not in table.columns:
        return []
    deltas, valid = _deltas(table, ACTION)
    ranges = key_ranges(table, ACTION)
    dims = np.array([d for d in moving_dims(table, ACTION) if d not in gripper_dims(table)], dtype=np.int64)
    if not len(dims) or valid.sum() < 2:
        return []
    d = np.where(np.isfinite(deltas[:, dims]) & valid[:, None], deltas[:, dims], np.nan)
    before = np.vstack([np.full((1, len(dims)), np.nan), d[:-1]])  # the step into the previous frame (same episode)
    after = np.vstack([d[1:], np.full((1, len(dims)), np.nan)])
    after[~np.append(valid[1:], False)] = np.nan
    with np.errstate(all="ignore"):
        neighbours = np.nanmean(np.stack([before, after]), axis=0)
    residual = d - np.where(np.isfinite(neighbours), neighbours, d)
    std = np.nanstd(residual, axis=0)
    with np.errstate(all="ignore"):
        score = np.abs(residual) / np.where(std > 0, std, np.inf)
    floor = min_fraction * np.maximum(ranges[dims], np.median(ranges[dims]))
    big = (score > z) & (np.abs(residual) > floor)
    rows = np.flatnonzero(big.any(axis=1))
    out = []
    eps = _episode_of_rows(table, rows)
    for pos in np.unique(eps):
        ep_rows = rows[eps == pos]
        jump_dims = dims[big[ep_rows].any(axis=0)]
        worst = float(np.nanmax(score[ep_rows]))
        out.append(finding("action_jumps", "warn", f"{len(ep_rows)} sudden action jump(s) in {_names(table, ACTION, jump_dims)} "
                           f"(up to {worst:.0f} standard deviations off the motion around it): a glitch, a dropped frame or a teleop hiccup?",
                           table.episodes[pos], ep_rows[0] - table.starts[pos]))
    return out


def check_gripper_chatter(table: Table, window_s: float = 0.5, min_toggles: int = 4, hysteresis: float = 0.1) -> list[dict]:
    """Rapid open-close toggling of gripper dims (named '*gripper*'): min_toggles flips within window_s."""
    dims = gripper_dims(table)
    if not dims:
        return []
    values = table.columns[ACTION].astype(np.float64)
    window = max(4, int(round(window_s * table.fps)))
    rows = np.arange(len(values))
    out = []
    for d in dims:
        x = values[:, d]
        finite = np.isfinite(x)
        if not finite.any():
            continue
        low, high = np.nanmin(np.where(finite, x, np.nan)), np.nanmax(np.where(finite, x, np.nan))
        span = high - low
        if span <= 1e-9:
            continue
        state = np.full(len(x), -1)
        state[x >= low + (0.5 + hysteresis) * span] = 1
        state[x <= low + (0.5 - hysteresis) * span] = 0
        known = state >= 0
        source = np.maximum.accumulate(np.where(known, rows, -1))  # forward-fill inside the hysteresis band
        ep_start = table.starts[_episode_of_rows(table, rows)]
        filled = np.where(source >= ep_start, state[np.maximum(source, 0)], -1)
        flips = np.flatnonzero((filled[1:] != filled[:-1]) & (filled[1:] >= 0) & (filled[:-1] >= 0)) + 1
        eps = _episode_of_rows(table, flips)
        for pos in np.unique(eps):
            t = flips[eps == pos]
            in_window = np.arange(len(t)) - np.searchsorted(t, t - window + 1) + 1
            burst = np.flatnonzero(in_window >= min_toggles)
            if not len(burst):
                continue
            first = t[np.searchsorted(t, t[burst[0]] - window + 1)]
            out.append(finding("gripper_chatter", "warn", f"'{feature_names(table.info, ACTION)[d]}' toggles open/closed "
                               f"{in_window.max()} times within {window / table.fps:.2f} s: gripper chatter (a noisy "
                               "trigger or threshold). The policy will learn to twitch the gripper",
                               table.episodes[pos], first - table.starts[pos]))
    return out


def check_timestamps(table: Table, gap_factor: float = 1.5, fps_tolerance: float = 0.05) -> list[dict]:
    """Timestamps that go backwards or repeat (error), that skip frames, or whose spacing disagrees with the fps."""
    ts = table.columns.get("timestamp")
    if ts is None or not table.fps:
        return []
    ts = ts.astype(np.float64)
    period = 1.0 / table.fps
    out = []
    for pos, (s, e) in enumerate(zip(table.starts, table.ends, strict=True)):
        dt = np.diff(ts[s:e])
        if not len(dt):
            continue
        ep = table.episodes[pos]
        back = np.flatnonzero(~(dt > 0))
        if len(back):
            out.append(finding("timestamps", "error", f"timestamps go backwards or repeat at {len(back)} frame(s): frames "
                               "are out of order, so observations and actions will be paired wrongly", ep, back[0] + 1))
            continue
        median = float(np.median(dt))
        if abs(median - period) > fps_tolerance * period:
            out.append(finding("timestamps", "warn", f"frames are {median * 1000:.1f} ms apart, but the dataset says "
                               f"{table.fps:g} fps ({period * 1000:.1f} ms): the recorded rate and info.json disagree", ep, 0))
            continue
        gaps = np.flatnonzero(dt > gap_factor * median)
        if len(gaps):
            out.append(finding("timestamps", "warn", f"{len(gaps)} gap(s) in the timestamps, the largest "
                               f"{dt[gaps].max() * 1000:.0f} ms where {median * 1000:.0f} ms is normal: dropped frames",
                               ep, gaps[0] + 1))
    return out


def check_episode_lengths(table: Table, min_seconds: float = 1.0, outlier_fraction: float = 0.5) -> list[dict]:
    """Episodes shorter than min_seconds, and lengths far from the median (robust z > 3.5 and off by outlier_fraction)."""
    lengths = episode_lengths(table)
    if not len(lengths):
        return []
    median = float(np.median(lengths))
    mad = float(np.median(np.abs(lengths - median))) * 1.4826
    limit = max(3.5 * mad, outlier_fraction * median)
    out = []
    for pos, n in enumerate(lengths.tolist()):
        reasons = []
        if table.fps and n < min_seconds * table.fps:
            reasons.append(f"only {n} frames ({n / table.fps:.2f} s), under {min_seconds:g} s")
        if len(lengths) >= 3 and abs(n - median) > limit:
            reasons.append(f"{n} frames against a median of {median:.0f}")
        if reasons:
            out.append(finding("episode_length", "warn", "; ".join(reasons) + ": an aborted or runaway recording?",
                               table.episodes[pos]))
    return out


def check_chunk_size(table: Table, chunk_size: int | None) -> list[dict]:
    """Episodes shorter than the policy's action chunk (ACT/Diffusion predict chunk_size actions at once)."""
    if not chunk_size:
        return []
    lengths = episode_lengths(table)
    return [finding("chunk_size", "warn", f"{n} frames, fewer than the chunk size {chunk_size}: every action chunk "
                    "from this episode runs past its end and is padded, so it teaches only part of a chunk",
                    table.episodes[pos]) for pos, n in enumerate(lengths.tolist()) if n < chunk_size]


def episode_lags(table: Table, max_lag: int) -> np.ndarray:
    """Per episode, the shift k (0..max_lag frames) maximising the correlation of action[t] with state[t+k]."""
    if ("lags", max_lag) in table.cache:
        return table.cache[("lags", max_lag)]
    dims = np.intersect1d(moving_dims(table, ACTION), moving_dims(table, STATE))
    a = np.nan_to_num(table.columns[ACTION][:, dims].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    s = np.nan_to_num(table.columns[STATE][:, dims].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n_rows, starts, ends = len(a), table.starts, table.ends
    lengths = ends - starts

    def prefix(x):
        return np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])

    a1, a2, s1, s2 = prefix(a), prefix(a * a), prefix(s), prefix(s * s)
    scores = np.full((len(starts), max_lag + 1), -np.inf)
    for k in range(max_lag + 1):
        ok = (lengths - k >= 3) & (k <= lengths // 3)
        if not ok.any():
            continue
        n = (lengths - k)[:, None].astype(np.float64)
        sx, sxx = a1[ends - k] - a1[starts], a2[ends - k] - a2[starts]  # action rows [start, end-k)
        sy, syy = s1[ends] - s1[starts + k], s2[ends] - s2[starts + k]  # state rows [start+k, end)
        product = np.vstack([a[: n_rows - k] * s[k:], np.zeros((1, len(dims)))])
        bounds = np.stack([starts, np.maximum(ends - k, starts)], axis=1).ravel()
        sxy = np.add.reduceat(product, np.minimum(bounds, n_rows - k), axis=0)[0::2]
        with np.errstate(all="ignore"):
            corr = (sxy - sx * sy / n) / np.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))
            mean = np.nanmean(np.where(np.isfinite(corr), corr, np.nan), axis=1) if len(dims) else np.zeros(len(starts))
        scores[ok, k] = np.where(np.isfinite(mean[ok]), mean[ok], -np.inf)
    lags = np.argmax(scores, axis=1)
    table.cache[("lags", max_lag)] = lags
    return lags


def lag_limit(table: Table, max_lag_s: float) -> int:
    """The largest normal state-action lag in frames (at least 3)."""
    return max(3, int(round(max_lag_s * table.fps)))


def state_action_lags(table: Table, max_lag_s: float = 0.2) -> dict[int, int]:
    """Episode -> frames by which the state trails the action (empty when action and state are not comparable)."""
    if not _comparable(table):
        return {}
    limit = lag_limit(table, max_lag_s)
    lags = episode_lags(table, min(2 * limit, max(1, int(episode_lengths(table).max()) // 3)))
    return {int(e): int(k) for e, k in zip(table.episodes, lags, strict=True)}


def check_state_action_lag(table: Table, max_lag_s: float = 0.2) -> list[dict]:
    """How many frames the state trails the action (cross-correlation peak); info when small, warn above max_lag_s."""
    if not _comparable(table):
        return []
    limit = lag_limit(table, max_lag_s)
    lags = np.array(list(state_action_lags(table, max_lag_s).values()))
    typical = int(np.median(lags))
    out = [finding("state_action_lag", "info", f"the state follows the action by about {typical} frame(s) "
                   f"({typical / table.fps * 1000:.0f} ms), the time the robot takes to reach a command; up to {limit} "
                   "frames is normal")]
    for pos in np.flatnonzero(lags > limit):
        out.append(finding("state_action_lag", "warn", f"the state trails the action by {lags[pos]} frames "
                           f"({lags[pos] / table.fps * 1000:.0f} ms), more than the normal {limit}: a slow or "
                           "overloaded robot, or the streams are out of sync", table.episodes[pos]))
    return out


def check_tracking(table: Table, tolerance: float = 0.1, factor: float = 4.0, max_lag_s: float = 0.2) -> list[dict]:
    """Episodes whose state drifts away from the commanded action (after allowing for the lag); grippers excluded."""
    if not _comparable(table):
        return []
    lags = np.array(list(state_action_lags(table, max_lag_s).values()))
    a = table.columns[ACTION].astype(np.float64)
    s = table.columns[STATE].astype(np.float64)
    ranges = key_ranges(table, ACTION)
    grip = set(gripper_dims(table))
    dims = np.array([d for d in moving_dims(table, ACTION) if d not in grip], dtype=np.int64)
    if not len(dims):
        return []
    errors = np.zeros((len(table.episodes), len(dims)))
    first = {}
    for pos, (start, stop) in enumerate(zip(table.starts, table.ends, strict=True)):
        k = int(lags[pos])
        err = np.abs(a[start:stop - k, dims] - s[start + k:stop, dims]) / ranges[dims]
        errors[pos] = np.nanmean(err, axis=0) if len(err) else 0.0
        first[pos] = err
    typical = np.median(errors, axis=0)
    bad = errors > np.maximum(tolerance, factor * typical)
    out = []
    for pos in np.flatnonzero(bad.any(axis=1)):
        worst_dims = dims[bad[pos]]
        over = np.flatnonzero((first[pos][:, bad[pos]] > tolerance).any(axis=1))
        out.append(finding("tracking", "warn", f"the state does not follow the action in {_names(table, ACTION, worst_dims)} "
                           f"(mean gap {errors[pos][bad[pos]].max() * 100:.0f}% of the joint's range): a blocked joint, a "
                           "collision or a calibration offset", table.episodes[pos], over[0] + int(lags[pos]) if len(over) else 0))
    return out


def _normalised_speed(table: Table, key: str) -> np.ndarray:
    """Mean per-frame motion of each episode, each moving dim scaled by its dataset range."""
    deltas, valid = _deltas(table, key)
    ranges = key_ranges(table, key)
    dims = moving_dims(table, key)
    step = np.where(valid[:, None], np.abs(np.nan_to_num(deltas[:, dims])) / ranges[dims], 0.0).sum(axis=1)
    steps = np.maximum(episode_lengths(table) - 1, 1)
    return np.add.reduceat(step, table.starts) / steps


def check_idle(table: Table, fraction: float = 0.1) -> list[dict]:
    """Episodes that barely move: mean speed under fraction of the typical episode's (an idle or failed recording)."""
    if ACTION not in table.columns or len(table.episodes) < 2 or not len(moving_dims(table, ACTION)):
        return []
    speed = _normalised_speed(table, ACTION)
    typical = float(np.median(speed))
    return [finding("idle", "warn", f"the robot barely moves: {speed[pos] / typical * 100:.0f}% of the typical episode's "
                    "motion. An idle or failed recording teaches the policy to stand still", table.episodes[pos])
            for pos in np.flatnonzero(speed < fraction * typical)]


def _normalised_trajectories(table: Table, key: str, points: int = 32) -> np.ndarray:
    """Each episode resampled to `points` steps, moving dims scaled by their range, flattened (E, points*D)."""
    dims = moving_dims(table, key)
    traj = resample_episodes(table, key, points)[:, :, dims] / key_ranges(table, key)[dims]
    return traj.reshape(len(traj), -1)


def _pairwise_rms(x: np.ndarray) -> np.ndarray:
    """RMS difference between every pair of rows."""
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0) / max(x.shape[1], 1)
    return np.sqrt(d2)


def check_near_duplicates(table: Table, tolerance: float = 0.01, length_tolerance: float = 0.1) -> list[dict]:
    """Pairs of episodes whose action trajectories are nearly identical (RMS gap under tolerance of the joint ranges)."""
    if ACTION not in table.columns or len(table.episodes) < 2 or not len(moving_dims(table, ACTION)):
        return []
    dist = _pairwise_rms(_normalised_trajectories(table, ACTION))
    lengths = episode_lengths(table).astype(np.float64)
    similar_length = np.abs(lengths[:, None] - lengths[None, :]) <= length_tolerance * np.maximum(lengths[:, None], lengths[None, :])
    close = (dist < tolerance) & similar_length & np.tril(np.ones_like(dist, dtype=bool), -1)
    out = []
    for j in np.flatnonzero(close.any(axis=1)):
        i = int(np.flatnonzero(close[j])[np.argmin(dist[j][close[j]])])
        out.append(finding("near_duplicate", "warn", f"nearly identical to episode {table.episodes[i]} (differs by "
                           f"{dist[j, i] * 100:.2f}% of the joint ranges): a copied recording adds no new information "
                           "and over-weights that demonstration", table.episodes[j]))
    return out


def spread_numbers(table: Table) -> dict:
    """How diverse the demonstrations are: start-state spread and trajectory spread, as fractions of the joint ranges."""
    key = STATE if STATE in table.columns else ACTION
    dims = moving_dims(table, key)
    n = len(table.episodes)
    if n < 2 or not len(dims):
        return {"key": key, "episodes": n, "start_spread": 0.0, "trajectory_spread": 0.0}
    starts = table.columns[key][table.starts][:, dims] / key_ranges(table, key)[dims]
    start_spread = float(np.median(np.nanstd(starts, axis=0)))
    dist = _pairwise_rms(_normalised_trajectories(table, key))
    trajectory_spread = float(dist[np.triu_indices(n, 1)].mean())
    return {"key": key, "episodes": n, "start_spread": round(start_spread, 4), "trajectory_spread": round(trajectory_spread, 4)}


def check_generalisation(table: Table, min_episodes: int = 10, tolerance: float = 0.05) -> list[dict]:
    """Generalisation risk: too few demonstrations, or demonstrations that all start (and move) alike."""
    numbers = spread_numbers(table)
    n = numbers["episodes"]
    out = []
    if n < min_episodes:
        out.append(finding("generalisation", "warn", (
            f"only {n} demonstration(s). Imitation learning copies what it has seen: from 1 demonstration a policy can "
            "only replay that one path, and the first time the object sits a few centimetres away or the arm starts "
            "elsewhere it has nothing to fall back on. Every extra demonstration shows a slightly different, still "
            "correct way through the task, and that variation is what the policy learns to generalise from. That is why "
            f"people record several (about 5) per object position, across the positions you care about: aim for at least "
            f"{min_episodes}, the ACT paper used 50.")))
    if n >= 2:
        start, path = numbers["start_spread"], numbers["trajectory_spread"]
        if start < tolerance and path < tolerance:
            out.append(finding("generalisation", "warn", (
                f"the demonstrations start within {start * 100:.1f}% of the joint ranges of each other and follow nearly "
                f"the same path ({path * 100:.1f}%): the scene barely varied, so the policy will only work in that one "
                "setting. Move the object and the start pose between recordings, a few demonstrations per position.")))
        elif start < tolerance:
            out.append(finding("generalisation", "info", (
                f"every demonstration starts from nearly the same pose ({start * 100:.1f}% spread, normal for a home "
                f"position), but the paths differ ({path * 100:.1f}%), so the scene varied: check the first-frame grid "
                "to see how much")))
        else:
            out.append(finding("generalisation", "info", f"{n} demonstrations; start states spread over "
                               f"{start * 100:.1f}% and paths over {path * 100:.1f}% of the joint ranges"))
    return out


def check_task_balance(table: Table, fraction: float = 0.2) -> list[dict]:
    """With several tasks: a task with fewer than `fraction` of the median task's episodes is barely taught."""
    if "task_index" not in table.columns or len(table.episodes) < 2:
        return []
    first = table.columns["task_index"][table.starts].astype(np.int64)
    tasks, counts = np.unique(first, return_counts=True)
    if len(tasks) < 2:
        return []
    median = float(np.median(counts))
    return [finding("task_balance", "warn", f"task '{table.tasks.get(int(t), t)}' has {n} episode(s) against a median of "
                    f"{median:.0f} per task: the policy sees it too rarely to learn it; record more of it or drop it")
            for t, n in zip(tasks.tolist(), counts.tolist(), strict=True) if n < fraction * median]


def check_missing_videos(cameras: list[dict]) -> list[dict]:
    """Cameras whose video files are missing (from stats.cameras_table): the tabular analysis still runs."""
    return [finding("missing_video", "warn", f"'{cam['key']}': {len(cam['missing'])} of {cam['files']} video file(s) "
                    f"missing ({', '.join(cam['missing'][:3])}{' ...' if len(cam['missing']) > 3 else ''}): frames of this "
                    "camera cannot be shown or trained on until they are restored")
            for cam in cameras if cam["missing"]]


def run_checks(table: Table, chunk_size: int | None = None, cameras: list[dict] | None = None) -> list[dict]:
    """Every check above with default thresholds, in report order."""
    findings = (check_nan_inf(table) + check_timestamps(table) + check_dead_joints(table) + check_stuck_actions(table)
                + check_clipping(table) + check_action_jumps(table) + check_gripper_chatter(table) + check_episode_lengths(table)
                + check_chunk_size(table, chunk_size) + check_state_action_lag(table) + check_tracking(table)
                + check_idle(table) + check_near_duplicates(table) + check_generalisation(table)
                + check_task_balance(table))
    if cameras is not None:
        findings += check_missing_videos(cameras)
    return findings
