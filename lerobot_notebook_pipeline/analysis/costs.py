"""What a difference --compare measures cost in simulation: the robustness study's success drops, looked up by size.

experiments.py --study robustness writes `compare_costs` into its results.json: per ladder (a kind of difference
in --compare's own units) the sizes it measured and the paired drop in success each caused. A size between two rungs
is interpolated linearly, starting from no drop at size 0; past the largest rung the drop is at least the largest
measured. Plain JSON in, plain dicts out: nothing here runs a simulation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lerobot_notebook_pipeline.files import REPO_ROOT
from lerobot_notebook_pipeline.runtime import UserError

DEFAULT_COSTS = REPO_ROOT / "experiments" / "robustness" / "results.json"
# A robot's own robustness study, preferred when a dataset is that robot's and the study has run (--robot so101).
ROBOT_COSTS = {"so101_follower": REPO_ROOT / "experiments" / "robustness-so101" / "results.json"}
LOW_BELOW = 10.0  # a measured drop under this many points is low risk, when its interval also stays under HIGH_FROM
HIGH_FROM = 30.0  # a measured drop of this many points or more is high risk; between the two, medium
NO_COSTS = "no measured costs: run experiments.py --study robustness; risk levels by judgement"
# The ladders a robustness study measures, each in the units --compare reports, and what it changed in words.
LADDERS = {
    "camera_shift_pc": "a camera shift",  # % of the frame (the larger of x and y), as drift.camera_motion reports it
    "brightness_pc": "a change of brightness",  # % of the reference's mean level; the study only dimmed
    "joint_offset_rad": "a joint offset",  # radians, a joint's rest offset as drift.calibration_offsets reports it
    "object_x_cm": "a placement beyond the training placements in x",  # cm, as drift.placement_excess reports it
    "object_y_cm": "a placement beyond the training placements in y",
}
# What --compare measures that no study measures, in words ("no measurement covers a zoom change").
UNMEASURED = {"camera_scale_pc": "a zoom change", "colour_pc": "a colour cast", "workspace_range_pc":
              "reach beyond the training range", "episode_length_pc": "a change of episode duration",
              "lag_frames": "a change of the state-action lag", "fps": "a change of frame rate"}
# Radians per state unit of a robot's arm joints (grippers excepted): ALOHA reports radians, lerobot 0.6.1's SO-101
# follower degrees (use_degrees=True). A joint offset of another robot is not looked up: its units are unknown.
RADIANS_PER_UNIT = {"aloha": 1.0, "so101_follower": math.pi / 180}


# ---------------------------------------------------------------- reading the study's results


def shown_source(path: Path) -> str:
    """Where the costs come from as a user reads it: the results folder, relative to the repository when inside it."""
    folder = path.resolve().parent
    return str(folder.relative_to(REPO_ROOT)) if folder.is_relative_to(REPO_ROOT) else str(folder)


def default_costs_path(robot_type: str | None) -> Path:
    """The robot's own robustness results when they exist, else the ALOHA study's."""
    own = ROBOT_COSTS.get(robot_type)
    return own if own is not None and own.is_file() else DEFAULT_COSTS


def load_costs(path: str | Path | None = None, robot_type: str | None = None) -> dict:
    """The compare_costs of a robustness results.json (by default the robot's own study, else ALOHA's), with where
    they come from. The default file may be missing (then {'note': ...}); a path given with --costs must exist."""
    given = path is not None
    path = Path(path) if given else default_costs_path(robot_type)
    flag = f"--costs {path}"
    if not path.is_file():
        if given:
            raise UserError(f"{flag}: no such file: pass the results.json of experiments.py --study robustness, "
                            "or drop --costs")
        return {"note": NO_COSTS}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{flag}: not a readable results.json ({e}): restore it, or rerun experiments.py --study "
                        "robustness --report") from None
    costs = saved.get("compare_costs") if isinstance(saved, dict) else None
    if not costs:
        if given:
            raise UserError(f"{flag} holds no compare_costs: add them with experiments.py --study robustness --report "
                            "(with the flags of its run), or drop --costs")
        return {"note": f"{shown_source(path)}/results.json has no measured costs yet: run experiments.py --study "
                        "robustness --report; risk levels by judgement"}
    return costs | {"source": shown_source(path), "smoke": bool(saved.get("smoke"))}


def costs_summary(costs: dict) -> dict:
    """What report.json says about the costs used: the study, robot and source, or the note that there are none."""
    if "note" in costs:
        return {"note": costs["note"]}
    return {k: costs.get(k) for k in ("study", "robot_type", "robot", "source", "smoke", "in_distribution")}


# ---------------------------------------------------------------- looking a size up


def interpolate(ladder: list[dict], size: float) -> dict:
    """The drop (points) and its 95% interval at size, linear between rungs from no drop at 0; past the largest
    rung, at least the largest drop measured (at_least)."""
    rungs = sorted(ladder, key=lambda r: abs(r["size"]))
    size = abs(size)
    sizes = [0.0, *(abs(r["size"]) for r in rungs)]
    if size > sizes[-1]:
        worst = max(rungs, key=lambda r: r["drop_points"])
        return {"drop_points": worst["drop_points"], "ci95_points": list(worst["drop_ci95_points"]), "at_least": True,
                "rung": worst["condition"], "rung_size": worst["size"]}
    upper = next(i for i, s in enumerate(sizes) if s >= size)
    lower = max(upper - 1, 0)
    points = [(0.0, 0.0, 0.0), *((r["drop_points"], *r["drop_ci95_points"]) for r in rungs)]
    t = 0.0 if sizes[upper] == sizes[lower] else (size - sizes[lower]) / (sizes[upper] - sizes[lower])
    drop, low, high = (a + t * (b - a) for a, b in zip(points[lower], points[upper], strict=True))
    return {"drop_points": round(drop, 2), "ci95_points": [round(low, 2), round(high, 2)], "at_least": False,
            "rung": rungs[upper - 1]["condition"], "rung_size": rungs[upper - 1]["size"]}


def measured_cost(costs: dict, ladder: str, size: float) -> dict | None:
    """What a difference of this size on this ladder cost in the study (None when the study did not measure it, or
    measured only the other direction, like a brighter picture against dimmed lights)."""
    rungs = (costs.get("ladders") or {}).get(ladder, {}).get("rungs") or []
    if not rungs or size == 0:
        return None
    if costs["ladders"][ladder].get("signed") and all(math.copysign(1, r["size"]) != math.copysign(1, size)
                                                      for r in rungs):
        return None
    return {"ladder": ladder, "size": round(float(size), 4), "unit": costs["ladders"][ladder]["unit"],
            **interpolate(rungs, size)}


def risk_from_drop(drop: float, ci95: list[float]) -> str:
    """'high' from HIGH_FROM points, 'medium' from LOW_BELOW or when the interval reaches HIGH_FROM, else 'low'."""
    if drop >= HIGH_FROM:
        return "high"
    return "medium" if drop >= LOW_BELOW or ci95[1] >= HIGH_FROM else "low"


def joint_offset_rad(difference: dict, robot_type: str | None) -> float | None:
    """A calibration difference's offset in radians (None for a gripper, or a robot whose units are unknown)."""
    value = difference["sizes"].get("offset", difference["sizes"].get("gap_change"))
    if robot_type not in RADIANS_PER_UNIT or "gripper" in difference["subject"] or value is None:
        return None
    return value * RADIANS_PER_UNIT[robot_type]


def ladder_of(difference: dict, robot_type: str | None) -> tuple[str, float] | None:
    """Which ladder measures a difference, and its size there (None when none does)."""
    kind = difference["kind"]
    if kind in ("camera_shift_pc", "brightness_pc"):
        return kind, difference["size"]
    if kind == "calibration_range_pc":
        radians = joint_offset_rad(difference, robot_type)
        return None if radians is None else ("joint_offset_rad", radians)
    if kind == "object_cm" and difference["subject"].endswith((" x", " y")):
        return f"object_{difference['subject'][-1]}_cm", difference["size"]
    return None


def unmeasured(difference: dict, robot_type: str | None) -> str:
    """What no measurement covers, in words, for the 'no measurement covers ...' note."""
    kind = difference["kind"]
    if kind == "brightness_pc":
        return "a brighter picture (the study only dimmed the lights)" if difference["size"] > 0 else LADDERS[kind]
    if kind == "calibration_range_pc":
        return "a gripper offset" if "gripper" in difference["subject"] else f"a joint offset in {robot_type}'s units"
    if kind == "object_cm":
        return "a placement beyond the training placements in height"
    return UNMEASURED.get(kind, LADDERS.get(kind, f"a difference of kind {kind}"))


# ---------------------------------------------------------------- in words


def observed(difference: dict, cost: dict) -> str:
    """The measured difference in a few words: 'top camera moved 4.4 px (5.2% of the frame)'."""
    size, ladder = difference["size"], cost["ladder"]
    if ladder == "camera_shift_pc":
        return f"{difference['subject'].split('.')[-1]} camera moved {difference['sizes']['shift_px']:.1f} px ({size:.1f}% of the frame)"
    if ladder == "brightness_pc":
        return f"{difference['subject'].split('.')[-1]} camera {abs(size):.0f}% {'darker' if size < 0 else 'brighter'}"
    if ladder == "joint_offset_rad":
        value = difference["sizes"].get("offset", difference["sizes"].get("gap_change"))
        return f"{difference['subject']} offset {value:+.3g}" + ("" if cost["unit"] == "rad" and value == cost["size"] else
                                                                 f" ({cost['size']:+.3g} {cost['unit']})")
    return f"{difference['subject']} placed {size:.1f} cm beyond the training placements"


def drop_text(cost: dict) -> str:
    """'cost the demo policy 40 points (95% CI 25 to 55)'; past the largest rung 'at least', with where it was measured."""
    low, high = cost["ci95_points"]
    drop = cost["drop_points"]
    at = f"{cost['rung_size']:g}{'' if cost['unit'].startswith('%') else ' '}{cost['unit']}"
    interval = f"95% CI {low:.0f} to {high:.0f}" + (f" at {at}; larger than any size measured" if cost["at_least"] else "")
    if drop < 0:
        return f"changed the demo policy's success by {-drop:+.0f} points ({interval})"
    return f"cost the demo policy {'at least ' if cost['at_least'] else ''}{drop:.0f} points ({interval})"


def where_measured(costs: dict, robot_type: str | None) -> str:
    """The study and robot a cost was measured on, and a caveat when the dataset is another robot."""
    where = f"{costs['study']} study on the {costs['robot']}, {costs['source']}"
    if costs.get("smoke"):
        where += " (a smoke run: its numbers answer nothing)"
    if robot_type != costs["robot_type"]:
        where += (f": measured on {costs['robot_short']}, a guide and not a measurement of your robot "
                  f"({robot_type or 'robot type unknown'})")
    return where


def cost_line(difference: dict, cost: dict, costs: dict, robot_type: str | None) -> str:
    """The one report line: 'camera moved 12 px: in simulation a camera shift of this size cost the demo policy ...'."""
    return (f"{observed(difference, cost)}: in simulation {LADDERS[cost['ladder']]} of this size "
            f"{drop_text(cost)}; {where_measured(costs, robot_type)}")


def priced(difference: dict, costs: dict, robot_type: str | None) -> dict:
    """The difference with its measured cost and the risk level from it, or with a note that none covers it."""
    if "note" in costs:  # no study results: judgement only, said once for the whole comparison
        return difference | {"measured_cost": None, "risk_basis": "judgement", "cost_line": None}
    found = ladder_of(difference, robot_type)
    cost = measured_cost(costs, *found) if found else None
    if cost is None:
        what = unmeasured(difference, robot_type) if found is None or found[0] == "brightness_pc" else LADDERS[found[0]]
        return difference | {"measured_cost": None, "risk_basis": "judgement",
                             "cost_line": f"no measurement covers {what}; risk level by judgement"}
    return difference | {"measured_cost": cost, "risk": risk_from_drop(cost["drop_points"], cost["ci95_points"]),
                         "risk_score": round(max(cost["drop_points"], 0.0) / HIGH_FROM, 3),
                         "risk_basis": f"measured: {costs['study']} study, {costs['robot']}",
                         "cost_line": cost_line(difference, cost, costs, robot_type)}
