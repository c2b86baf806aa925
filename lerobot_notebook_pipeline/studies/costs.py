"""What analyse_dataset --compare would measure for each change the robustness study made: its `compare_costs`.

The study sizes its changes in the sim's units (cm of camera motion, a light scale); --compare measures pictures,
joint readings and placements. So for each camera and light condition the first frames of a few of its evaluation
starts are rendered with and without the change, and drift's own camera_motion and lighting_change measure the mean
images. A joint offset is its own size, in radians (the SO-101's degrees converted); a table moved s cm puts the cube
s cm beyond the training placements. Each size is paired with the drop in success the study measured there.
"""

from __future__ import annotations

import numpy as np

from lerobot_notebook_pipeline.analysis import drift
from lerobot_notebook_pipeline.analysis.costs import RADIANS_PER_UNIT
from lerobot_notebook_pipeline.evaluation.rollout import episode_seeds
from lerobot_notebook_pipeline.studies.definitions import FULL, ROBOT_NAMES, spec_robot

RENDERED_STARTS = 5  # first frames per condition: enough for a steady mean image, cheap (about 0.2 s per condition)
IMAGE_SIZE = FULL.image_size  # the study's images (64x85); a shift in % of the frame does not depend on the size
STUDY = "robustness"
# Per robot: the robot_type our recordings write (sim/record.py, sim/so101_record.py), its names, the camera the
# strip and --compare look through.
ROBOTS = {"aloha": {"robot_type": "aloha", "robot": f"simulated {ROBOT_NAMES['aloha']}", "robot_short": "ALOHA",
                    "camera": "top"},
          "so101": {"robot_type": "so101_follower", "robot": f"simulated {ROBOT_NAMES['so101']}",
                    "robot_short": "SO-101", "camera": "front"}}
# which ladder each measured factor climbs, and the ladder's unit (analysis/costs.py reads them)
FACTOR_LADDERS = {"camera_shift_cm": "camera_shift_pc", "light_scale": "brightness_pc",
                  "joint_offset": "joint_offset_rad", "table_x_cm": "object_x_cm", "table_y_cm": "object_y_cm"}
LADDER_UNITS = {"camera_shift_pc": "% of the frame", "brightness_pc": "%", "joint_offset_rad": "rad",
                "object_x_cm": "cm", "object_y_cm": "cm"}
SIGNED = ("brightness_pc",)  # ladders whose sign matters: dimmer is measured, brighter is not


def eval_env(spec: dict, image_size, perturb: dict | None):
    """The env of a square (ALOHA) or marks (SO-101) evaluation spec, under perturb, placing the cube as it does."""
    if spec_robot(spec) == "so101":
        from lerobot_notebook_pipeline.sim import so101_env

        return so101_env.make_env(image_size=tuple(image_size), marks=spec["marks"], placement_noise=spec["radius"],
                                  max_steps=spec["max_steps"], perturb=perturb or None)
    from lerobot_notebook_pipeline.sim.aloha_env import make_env

    (x, y), radius = spec["cube_pose"], spec.get("radius", 0.0)
    return make_env(image_size=tuple(image_size), pose_range=(x - radius, x + radius, y - radius, y + radius),
                    max_steps=spec["max_steps"], perturb=perturb or None)


def first_frames(spec: dict, perturb: dict, image_size=IMAGE_SIZE, starts: int = RENDERED_STARTS) -> list[np.ndarray]:
    """The main camera's first frame (ALOHA top, SO-101 front) at the first `starts` starts of an eval spec."""
    env, camera = eval_env(spec, image_size, perturb), ROBOTS[spec_robot(spec)]["camera"]
    try:
        return [env.reset(seed=s)[0]["pixels"][camera] for s in episode_seeds(spec["seed"], min(starts, spec["episodes"]))]
    finally:
        env.close()


def rendered_size(condition: dict, reference: np.ndarray, image_size, starts: int) -> tuple[float, dict]:
    """A camera or light condition's size as --compare measures it, from the mean first frames, and the measurement."""
    changed = drift.mean_image(first_frames(condition["spec"], condition["perturb"], image_size, starts))
    if condition["factor"] == "camera_shift_cm":
        motion = drift.camera_motion(reference, changed)
        return motion["shift_pc"], motion
    light = drift.lighting_change(reference, changed)
    return light["brightness_pc"], light


def compare_equivalents(conditions: list[dict], image_size=IMAGE_SIZE, starts: int = RENDERED_STARTS) -> list[dict]:
    """For each single-factor condition with a ladder: the ladder, the size --compare would measure, and how."""
    references: dict[str, np.ndarray] = {}
    out = []
    for c in conditions:
        if c.get("factor") not in FACTOR_LADDERS:
            continue
        ladder, magnitude = FACTOR_LADDERS[c["factor"]], c["magnitude"]
        if c["factor"] in ("camera_shift_cm", "light_scale"):
            key = repr(sorted((k, v) for k, v in c["spec"].items() if k != "perturb"))  # the same starts render once
            if key not in references:
                references[key] = drift.mean_image(first_frames(c["spec"], {}, image_size, starts))
            size, measured = rendered_size(c, references[key], image_size, starts)
        elif c["factor"] == "joint_offset":  # a joint's reading is offset by its magnitude, in radians here
            radians = RADIANS_PER_UNIT[ROBOTS[spec_robot(c["spec"])]["robot_type"]]  # what --compare converts by
            size, measured = abs(magnitude) * radians, {"offset": magnitude}
        else:  # a moved table moves the placements by its magnitude
            size, measured = abs(magnitude), {"beyond_cm": magnitude}
        out.append({"condition": c["condition"], "factor": c["factor"], "magnitude": magnitude, "ladder": ladder,
                    "size": round(float(size), 4), "measured": measured})
    return out


def rung(equivalent: dict, condition: dict) -> dict:
    """One rung of a ladder: the size, the condition, the paired drop in points with its 95% interval, the rate."""
    paired, pooled = condition["paired_pooled"], condition["pooled"]
    low, high = paired["ci95_points"]
    return {"size": equivalent["size"], "condition": condition["condition"], "magnitude": equivalent["magnitude"],
            "drop_points": round(-paired["difference_points"], 2) + 0.0,
            "drop_ci95_points": [round(-high, 2) + 0.0, round(-low, 2) + 0.0],
            "pairs": paired["pairs"], "pc_success": pooled["pc_success"], "ci95": pooled["ci95"],
            "measured": equivalent["measured"]}


def compare_costs(conditions: list[dict], image_size=IMAGE_SIZE, starts: int = RENDERED_STARTS) -> dict:
    """results.json's compare_costs: per ladder, the rungs the study measured, sizes in --compare's units."""
    by_name = {c["condition"]: c for c in conditions}
    measured = [c for c in conditions if "paired_pooled" in c]
    reference = next((c for c in conditions if not c["perturb"]), None)
    ladders: dict[str, dict] = {}
    for e in compare_equivalents(measured, image_size, starts):
        ladder = ladders.setdefault(e["ladder"], {"unit": LADDER_UNITS[e["ladder"]], "signed": e["ladder"] in SIGNED,
                                                  "factor": e["factor"], "rungs": []})
        ladder["rungs"].append(rung(e, by_name[e["condition"]]))
    for ladder in ladders.values():
        ladder["rungs"].sort(key=lambda r: abs(r["size"]))
    robot = ROBOTS[spec_robot(conditions[0]["spec"]) if conditions else "aloha"]  # one robot per study
    return {"study": STUDY, **{k: robot[k] for k in ("robot_type", "robot", "robot_short")},
            "policy": "the demo policy (ACT on the make demo recipe), training seeds pooled",
            "in_distribution": reference["pooled"] if reference else None, "image_size": list(image_size),
            "rendered_starts": starts, "ladders": ladders}
