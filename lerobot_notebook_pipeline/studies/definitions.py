"""The experiment studies as grids of points: what each point records, how it trains and where it is evaluated.

A point is plain data (JSON-ready dicts): `recordings` (make_sim_dataset.py settings, one dataset each, merged when
there are several), `train` (train.py settings) and `evals` (name -> where the cube starts in the rollouts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.training.recipes import RECIPES

MARK = (0.1, 0.5)  # the user's pencil mark: where the cube is "always" put (the scripted demos' home position)
PLACEMENT = 0.015  # a person putting the cube "in the same place" lands within about +/-1.5 cm of the mark
WAYPOINT_NOISE = 0.005  # 5 mm on the scripted waypoints, so no two demos move exactly alike
SQUARE = (0.05, 0.15, 0.45, 0.55)  # XMIN XMAX YMIN YMAX: the 10 cm square of the positions study's marks
TRAINED_WITHIN = 0.01  # an evaluation position this close (m, per axis) to a demo's start counts as trained


@dataclass(frozen=True)
class Scale:
    """How big every part of a study is: the full run, or the tiny smoke version for tests."""

    image_size: tuple[int, int] = (64, 85)  # the demo recipe's size: 0.62x the cost of 96x128, and 18/20
    episode_length: int = 400
    preset: str = "cpu"
    steps: int = 2500  # a fixed step count for every point (about 0.41 s/step on 2 cores)
    eval_episodes: int = 30  # rollouts per evaluation spread
    grid: int = 7  # evaluation grid of the positions study: grid x grid positions over the square plus a margin
    margin: float = 0.025
    demo_counts: tuple[int, ...] = (1, 2, 5, 10, 20, 40)
    same_pose_counts: tuple[int, ...] = (5, 20)  # "why 5 per position?": these totals also with one exact pose
    eval_rings: tuple[float, ...] = (0.03, 0.05)  # the demos study also evaluates this far (m) from the mark
    total_demos: int = 20  # the positions study's fixed total (and the demo recipe's recording)
    conditions: str = "full"  # which set of robustness conditions (CONDITIONS)
    points: int | None = None  # keep only the first N points


FULL = Scale()
# The smoke checks the pipeline, not the learning: 5 steps still validate at every step (train.py's default, steps/10,
# at least 1), so a best step and a held-out error curve come out of every training; it checkpoints at the last.
SMOKE = Scale(image_size=(48, 64), episode_length=60, preset="tiny", steps=5, eval_episodes=2, grid=2,
              demo_counts=(1, 2), same_pose_counts=(), eval_rings=(), total_demos=2, conditions="smoke", points=2)


def around(xy, radius: float) -> list[float]:
    """The pose range XMIN XMAX YMIN YMAX of the square +/-radius around xy."""
    x, y = xy
    return [round(x - radius, 4), round(x + radius, 4), round(y - radius, 4), round(y + radius, 4)]


def recording(scale: Scale, episodes: int, seed: int, cube_pose=None, pose_range=None) -> dict:
    """make_sim_dataset.py settings of one transfer-cube dataset."""
    return {"task": "transfer_cube", "episodes": episodes, "seed": seed, "image_size": list(scale.image_size),
            "episode_length": scale.episode_length, "waypoint_noise": WAYPOINT_NOISE,
            "cube_pose": list(cube_pose) if cube_pose else None, "pose_range": pose_range}


def training(scale: Scale, episodes: str, seed: int) -> dict:
    """train.py settings: ACT with a fixed step count, on the chosen episodes, no held-out episodes."""
    return {"policy": "act", "preset": scale.preset, "steps": scale.steps, "batch_size": 8, "episodes": episodes,
            "seed": seed}


def square_eval(centre, radius: float, episodes: int, seed: int, max_steps: int) -> dict:
    """Rollouts with the cube drawn uniformly (seeded) within +/-radius of centre."""
    return {"kind": "square", "cube_pose": list(centre), "radius": radius, "episodes": episodes, "seed": seed,
            "max_steps": max_steps}


def ring_eval(centre, radius: float, episodes: int, seed: int, max_steps: int) -> dict:
    """Rollouts with the cube at `episodes` points evenly spaced on a circle of radius around centre."""
    return square_eval(centre, radius, episodes, seed, max_steps) | {"kind": "ring"}


def grid_eval(bounds, n: int, seed: int, max_steps: int) -> dict:
    """One rollout at each position of an n x n grid spanning bounds (XMIN XMAX YMIN YMAX)."""
    return {"kind": "grid", "bounds": [round(b, 4) for b in bounds], "n": n, "episodes": n * n, "seed": seed,
            "max_steps": max_steps}


def point(study: str, pid: str, name: str, settings: dict, recordings: list[dict], train: dict, evals: dict) -> dict:
    """One point of a study."""
    return {"study": study, "id": pid, "name": name, "settings": settings, "recordings": recordings, "train": train,
            "evals": evals}


def demos_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """Is one demonstration enough? 1..40 demos around the mark, and at a fixed total, one exact pose vs spread."""
    spread = recording(scale, max(scale.demo_counts), 0, pose_range=around(MARK, PLACEMENT))
    evals = {f"within {100 * PLACEMENT:g} cm": square_eval(MARK, PLACEMENT, scale.eval_episodes, 1000, scale.episode_length)}
    evals |= {f"{100 * r:g} cm off the mark": ring_eval(MARK, r, scale.eval_episodes, 1000, scale.episode_length)
              for r in scale.eval_rings}
    points = []
    for seed in seeds:
        for n in scale.demo_counts:
            name = f"{n} demo{'s' * (n > 1)} within +/-1.5 cm, seed {seed}"
            points.append(point("demos", f"spread-{n:02d}demos-seed{seed}", name,
                                {"demos": n, "placement": "spread", "train_seed": seed}, [spread],
                                training(scale, f"0:{n}", seed), evals))
        if scale.same_pose_counts:
            same = recording(scale, max(scale.same_pose_counts), 0, cube_pose=MARK)
            for n in scale.same_pose_counts:
                name = f"{n} demo{'s' * (n > 1)} at one exact pose, seed {seed}"
                points.append(point("demos", f"same-{n:02d}demos-seed{seed}", name,
                                    {"demos": n, "placement": "same pose", "train_seed": seed}, [same],
                                    training(scale, f"0:{n}", seed), evals))
    return points


def layouts(total: int) -> dict[str, list[list[float]] | None]:
    """Where the positions study puts its demos: marks of each layout (None: uniform over the square)."""
    x0, x1, y0, y1 = SQUARE
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return {"1 position": [[xm, ym]], "2 positions": [[x0, ym], [x1, ym]],
            "4 corners": [[x0, y0], [x1, y0], [x0, y1], [x1, y1]],
            "9 positions": [[x, y] for y in (y0, ym, y1) for x in (x0, xm, x1)], "uniform": None}


def share(total: int, parts: int) -> list[int]:
    """total split into parts whole numbers that differ by at most one (the first ones get the extra)."""
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def positions_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """How many cube positions? A fixed total of demos over 1, 2, 4, 9 marks or uniform, evaluated on a grid."""
    x0, x1, y0, y1 = SQUARE
    bounds = (x0 - scale.margin, x1 + scale.margin, y0 - scale.margin, y1 + scale.margin)
    evals = {"grid": grid_eval(bounds, scale.grid, 2000, scale.episode_length)}
    points = []
    for seed in seeds:
        for name, marks in layouts(scale.total_demos).items():
            if marks is None:
                recordings = [recording(scale, scale.total_demos, 0, pose_range=list(SQUARE))]
            else:
                counts = share(scale.total_demos, len(marks))
                recordings = [recording(scale, n, k, pose_range=around(xy, PLACEMENT))
                              for k, (xy, n) in enumerate(zip(marks, counts, strict=True)) if n > 0]
            points.append(point("positions", f"{name.replace(' ', '-')}-seed{seed}", f"{name}, seed {seed}",
                                {"layout": name, "positions": len(marks) if marks else None, "train_seed": seed},
                                recordings, training(scale, "all", seed), evals))
    return points


# ------------------------------------------------------------------------------------------------ robustness

IN_DISTRIBUTION = "in distribution"  # the robustness study's reference: the cube drawn from the demos' own spread

# Each factor at two magnitudes, from "probably no effect" towards "probably breaks" (sim/perturb.py's units), and two
# combinations; 13 conditions x 30 episodes x 3 seeds is about 1,200 rollouts. Why these:
# - table_x_cm, table_y_cm ("can I move the table?"): the table and the cube on it move, the robot and camera do not.
#   1 cm stays inside the demos' +/-1.5 cm spread; 3 cm is where the demos study lost two thirds of its episodes
#   (cube 3 cm off the mark: 8-13 of 30), so the pair should straddle the edge.
# - camera_shift_cm: the top camera is about 0.8 m above the table with a 78-degree view, so at 64x85 pixels 2 cm is
#   about 1 px (a bumped mount) and 6 cm about 3 px (a remounted camera).
# - light_scale: 0.6 is a cloudy day or a lamp off; 0.3 a dim room. Both darken (one direction, one curve).
# - joint_offset (on joint 0, the left waist): ALOHA's state is in radians, so the ladder's 1-6 "units" would be
#   57-340 degrees; 0.05 rad (3 degrees) is the calibration drift analyse_dataset --compare finds, 0.2 rad (11) a
#   badly recalibrated arm.
# Not measured here (budget): camera tilt, table height, cube size and colour, light direction, distractors, delays
# (the SO-101 study below measures them).
ROBUSTNESS_FACTORS = {"table_x_cm": (1, 3), "table_y_cm": (1, 3), "camera_shift_cm": (2, 6),
                      "light_scale": (0.6, 0.3), "joint_offset": (0.05, 0.2)}
# Colosseum-style combinations: the table bumped diagonally, and every small change of the list at once.
ROBUSTNESS_COMBINATIONS = {
    "table bumped 1 cm diagonally": {"table_x_cm": 1, "table_y_cm": 1},
    "every small change at once": {"table_x_cm": 1, "table_y_cm": 1, "camera_shift_cm": 2, "light_scale": 0.6,
                                   "joint_offset": 0.05},
}
CONDITIONS = {"full": (ROBUSTNESS_FACTORS, ROBUSTNESS_COMBINATIONS),
              "smoke": ({"camera_shift_cm": (6,), "table_x_cm": (3,)}, {})}
NEUTRAL = {"light_scale": 1.0, "cube_scale": 1.0}  # the unperturbed value of each factor (0 for the others)
RECIPE_VAL_FRACTION = 0.1  # train_ultimate.py holds out 10% of the demos and rolls out checkpoints/best


def condition_name(perturb: dict) -> str:
    """An evaluation's name: 'in distribution', or its perturbation as 'camera_shift_cm=2, light_scale=0.6'."""
    from lerobot_notebook_pipeline.sim.perturb import describe

    return describe(perturb) if perturb else IN_DISTRIBUTION


def robustness_conditions(conditions: str, robot: str = "aloha") -> list[dict]:
    """The perturbations of a set of conditions on a robot: none first, then each factor's magnitudes, then the
    combinations."""
    factors, combinations = (SO101_CONDITIONS if robot == "so101" else CONDITIONS)[conditions]
    return [{}, *({name: value} for name, values in factors.items() for value in values),
            *(dict(c) for c in combinations.values())]


def robustness_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """Could I move the table? The demo recipe's policy, one per training seed, under each condition from one set of starts.

    One recording (the recipe's, seed 0) is shared by every training seed, so seeds differ only in training."""
    demos = recording(scale, scale.total_demos, 0, pose_range=around(MARK, PLACEMENT))
    start = square_eval(MARK, PLACEMENT, scale.eval_episodes, 1000, scale.episode_length)
    evals = {condition_name(p): start | ({"perturb": p} if p else {}) for p in robustness_conditions(scale.conditions)}
    return [point("robustness", f"seed{seed}", f"demo recipe, training seed {seed}", {"train_seed": seed}, [demos],
                  training(scale, "all", seed) | {"val_fraction": RECIPE_VAL_FRACTION}, evals) for seed in seeds]


# ------------------------------------------------------------------------------------------------ noise

# train.py --action-noise-std adds noise to the normalised target actions, so its unit is one std of each joint over
# the demos (the recipe's action stds are 0.02-0.5 rad, a typical joint 0.2): 0.05 is about 0.01 rad on a typical
# joint, the size of the DART noise below; 0.2 about 0.04 rad, twice what the expert survives executed (0.03 rad
# DART noise kept 6 of 20 demos).
ACTION_NOISE = {"low": 0.05, "high": 0.2}
# make_sim_dataset.py --dart-noise (radians, on every executed action): the expert kept 19 of 20 transfer cubes at
# 0.02 rad and 6 of 20 at 0.03 (sim/record.DART_WORKS; kept here so --plan imports no MuJoCo).
DART_NOISE = 0.02
AUGMENT = "robotics"  # train.py --image-transforms: lerobot's camera-style set (noise, blur, JPEG, shadow, gamma, ...)
RECORD_KNOBS = ("dart_noise",)  # the variant settings that change the recording; the others change the training
# The variants, by id: what each adds to the demo recipe. "combined" is DART + augmentation + the low action noise;
# which mix is best is not known before the run.
NOISE_VARIANTS = {
    "none": {},
    "action_noise_low": {"action_noise_std": ACTION_NOISE["low"]},
    "action_noise_high": {"action_noise_std": ACTION_NOISE["high"]},
    "dart": {"dart_noise": DART_NOISE},
    "augment": {"image_transforms": AUGMENT},
    "combined": {"dart_noise": DART_NOISE, "image_transforms": AUGMENT, "action_noise_std": ACTION_NOISE["low"]},
}
NOISE_LABELS = {"none": "no noise", "action_noise_low": f"action noise {ACTION_NOISE['low']:g} std",
                "action_noise_high": f"action noise {ACTION_NOISE['high']:g} std",
                "dart": f"DART noise {DART_NOISE:g} rad", "augment": "image augmentation (robotics)",
                "combined": "DART + augmentation + low action noise"}
CUBE_OFF = "cube 3 cm off"
CUBE_OFF_M = (0.0, 0.03)  # the in-distribution square of starts moved 3 cm along y (table_x_cm=3 moves it along x)
# The robustness factors that hurt most in the robustness study (experiments/robustness, 3 seeds x 30 paired starts):
# the table moved 1 cm in y (-13 points) and 3 cm (-67), and joint 0 reading 0.2 rad off (-86). Camera shifts up to
# 6 cm, light down to x0.3 and the table 3 cm in x were shrugged off there, so noise has nothing to buy under them.
NOISE_FACTORS = [{"table_y_cm": 1}, {"table_y_cm": 3}, {"joint_offset": 0.2}]

@dataclass(frozen=True)
class NoiseSet:
    """What the noise study runs at one scale (Scale.conditions)."""

    variants: tuple[str, ...]
    cube_off: bool  # whether the cube-off evaluation runs
    perturbations: tuple[dict, ...]
    dart_noise: float  # the DART variants' level


# The smoke runs the two variants that between them use every knob, in distribution only, with the robustness smoke's
# recording and training for no noise (the same cache keys); its 60-frame demos survive only a little DART noise
# (0.005 rad kept 3 of 8, 0.02 none of 8).
NOISE_SETS = {"full": NoiseSet(tuple(NOISE_VARIANTS), True, tuple(NOISE_FACTORS), DART_NOISE),
              "smoke": NoiseSet(("none", "combined"), False, (), 0.005)}


def noise_evals(scale: Scale) -> dict:
    """The noise study's evaluations, all from the robustness study's starts: in distribution, the square moved
    3 cm, and under each hurting perturbation."""
    chosen = NOISE_SETS[scale.conditions]
    start = square_eval(MARK, PLACEMENT, scale.eval_episodes, 1000, scale.episode_length)
    evals = {IN_DISTRIBUTION: start}
    if chosen.cube_off:
        moved = [round(m + d, 4) for m, d in zip(MARK, CUBE_OFF_M, strict=True)]
        evals[CUBE_OFF] = start | {"cube_pose": moved}
    return evals | {condition_name(p): start | {"perturb": p} for p in chosen.perturbations}


def noise_recipe(scale: Scale, variant: str, seed: int) -> tuple[dict, dict]:
    """A variant's recording and training: the demo recipe's (as the robustness study's) plus the variant's knobs."""
    knobs = NOISE_VARIANTS[variant]
    if "dart_noise" in knobs:
        knobs = knobs | {"dart_noise": NOISE_SETS[scale.conditions].dart_noise}
    demos = recording(scale, scale.total_demos, 0, pose_range=around(MARK, PLACEMENT))
    demos |= {k: v for k, v in knobs.items() if k in RECORD_KNOBS}
    train = training(scale, "all", seed) | {"val_fraction": RECIPE_VAL_FRACTION}
    return demos, train | {k: v for k, v in knobs.items() if k not in RECORD_KNOBS}


def noise_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """Does noise buy robustness? Each variant of the demo recipe per training seed, from one set of starts; every
    variant but none names its paired reference (none, the same seed) for the paired changes."""
    variants = NOISE_SETS[scale.conditions].variants
    evals = noise_evals(scale)
    points = []
    for seed in seeds:
        for variant in variants:
            demos, train = noise_recipe(scale, variant, seed)
            settings = {"variant": variant, "dart_noise": demos.get("dart_noise", 0.0),
                        "action_noise_std": train.get("action_noise_std", 0.0),
                        "image_transforms": train.get("image_transforms", "none"), "train_seed": seed}
            p = point("noise", f"{variant}-seed{seed}", f"{NOISE_LABELS[variant]}, training seed {seed}", settings,
                      [demos], train, evals)
            if variant != "none":
                reference, reference_train = noise_recipe(scale, "none", seed)
                p["paired_with"] = {"variant": "none", "recordings": [reference], "train": reference_train}
            points.append(p)
    return points


# ------------------------------------------------------------------------------------------------ SO-101

SO101_MARK_HALF = 0.05  # the user's 4 pencil marks: corners of the +/-5 cm square round the centre target
SO101_TARGET = (0.20, 0.0)  # sim/so101_scene.TARGET_XY: where the cube must go (kept here so --plan imports no MuJoCo)
SO101_SUCCESS_RADIUS = 0.02  # sim/so101_env.SUCCESS_RADIUS: a cube starting this close to the target starts placed
SO101_REACH = (0.14, 0.30, -0.15, 0.15)  # sim/so101_placement.REACH_XY: where the scripted expert picks from
# Beyond the marks: a second 7x7 grid out to the expert's reach in x and 7 cm past the marks in y (the fine grid
# covers only the square plus 1 cm, all of it inside the demos' spread round the 4 marks).
SO101_WIDE = (0.14, 0.30, -0.12, 0.12)
# 10 s at 30 Hz, the demo recipe's demos (10 per mark) and steps; the x margin is limited by the expert's reach
SO101_FULL = replace(FULL, episode_length=300, steps=RECIPES["so101"]["steps"], total_demos=RECIPES["so101"]["episodes"],
                     margin=0.01)
SO101_SMOKE = replace(SMOKE, episode_length=120)  # pick_place needs at least 120 frames


def so101_square() -> tuple[float, float, float, float]:
    """XMIN XMAX YMIN YMAX of the +/-5 cm square round the SO-101 target."""
    (x, y), h = SO101_TARGET, SO101_MARK_HALF
    return round(x - h, 4), round(x + h, 4), round(y - h, 4), round(y + h, 4)


def so101_layouts() -> dict[str, list[list[float]] | None]:
    """The SO-101 demos' marks per layout: 1 and 2 of the pencil marks (as `--marks 1|2` puts them), all 4, a 3x3
    grid over their square (its centre is the target), or None for uniform over the square."""
    x0, x1, y0, y1 = so101_square()
    xm, ym = SO101_TARGET
    return {"1 mark": [[x1, y1]], "2 marks": [[x1, y1], [x0, y0]], "4 marks": [[x1, y1], [x0, y1], [x0, y0], [x1, y0]],
            "9 marks": [[x, y] for y in (y0, ym, y1) for x in (x0, xm, x1)], "uniform": None}


def so101_recording(scale: Scale, episodes: int, seed: int, pose_range) -> dict:
    """make_sim_dataset.py --robot so101 settings: the table shows the user's 4 pencil marks in every layout, so
    only where the demos start differs."""
    return {"robot": "so101", "task": "pick_place", "episodes": episodes, "seed": seed,
            "image_size": list(scale.image_size), "episode_length": scale.episode_length,
            "waypoint_noise": WAYPOINT_NOISE, "marks": 4, "placement_noise": PLACEMENT, "cube_pose": None,
            "pose_range": pose_range}


def so101_mark_recordings(scale: Scale, marks: list[list[float]]) -> list[dict]:
    """The demos split evenly over the marks, one recording (and recording seed) per mark, within +/-1.5 cm of it."""
    counts = share(scale.total_demos, len(marks))
    return [so101_recording(scale, n, k, around(xy, PLACEMENT))
            for k, (xy, n) in enumerate(zip(marks, counts, strict=True)) if n > 0]


def spec_robot(spec: dict) -> str:
    """The robot an evaluation spec rolls out on: 'so101' or 'aloha'."""
    return "so101" if spec.get("env") == "so101_pick_place" else "aloha"


def marks_eval(marks: int, radius: float, episodes: int, seed: int, max_steps: int) -> dict:
    """SO-101 rollouts with the cube at one of the pencil marks (drawn by reset seed), within +/-radius of it."""
    return {"kind": "marks", "marks": marks, "radius": radius, "episodes": episodes, "seed": seed,
            "max_steps": max_steps, "env": "so101_pick_place"}


def so101_grid_bounds(scale: Scale) -> tuple[float, float, float, float]:
    """The evaluation grid: the square plus the margin, clipped to the expert's reach."""
    x0, x1, y0, y1 = so101_square()
    rx0, rx1, ry0, ry1 = SO101_REACH
    m = scale.margin
    return max(x0 - m, rx0), min(x1 + m, rx1), max(y0 - m, ry0), min(y1 + m, ry1)


def so101_training(scale: Scale, seed: int) -> dict:
    """train.py settings of an SO-101 point: the demo recipe's ACT (schedule, chunk, ensembling) on all episodes."""
    recipe = RECIPES["so101"]
    act = {key: recipe[key] for key in ("lr_schedule", "chunk_size", "temporal_ensemble")}
    return training(scale, "all", seed) | {"robot": "so101"} | (act if scale.preset == "cpu" else {})  # smoke: tiny


def so101_positions_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """Pick at the pencil marks, place in the centre: a fixed total of SO-101 demos over 1, 2, 4, 9 marks or
    uniform, each policy evaluated on a grid round the marks and on a wider one beyond them."""
    evals = {name: grid_eval(bounds, scale.grid, seed, scale.episode_length) | {"env": "so101_pick_place"}
             for name, bounds, seed in (("grid", so101_grid_bounds(scale), 2000), ("wide", SO101_WIDE, 3000))}
    target = {"robot": "so101", "target_x": SO101_TARGET[0], "target_y": SO101_TARGET[1],
              "target_radius": SO101_SUCCESS_RADIUS}  # scalars: settings are compared as tuples
    points = []
    for seed in seeds:
        for name, marks in so101_layouts().items():
            if marks is None:
                recordings = [so101_recording(scale, scale.total_demos, 0, list(so101_square()))]
            else:
                recordings = so101_mark_recordings(scale, marks)
            points.append(point("positions", f"{name.replace(' ', '-')}-seed{seed}", f"{name}, seed {seed}",
                                {"layout": name, "positions": len(marks) if marks else None, "train_seed": seed}
                                | target, recordings, so101_training(scale, seed), evals))
    return points


# Could I move the table, on the SO-101? The ALOHA study's factors at the same sizes, in the SO-101's own terms: the
# table moves with the target and marks drawn on it, the front camera shifts, the lights dim. Its state is in
# degrees, so joint 0 (shoulder_pan) reads 3 and 11 degrees off, the ALOHA study's 0.05 and 0.2 rad.
# On our users' robot every other factor of sim/perturb.py is measured too, two magnitudes each, one direction, from
# "probably no effect" towards "probably breaks": the front camera pitched 2 and 10 degrees; the light swung 45 and
# 90 degrees over the table (aslant, then from the side); the table raised 1 and 4 cm (the robot stays); a cube 1.2
# and 1.5 times as big; its colour turned 90 and 180 degrees round the wheel (red to green, then cyan); a purple
# block standing 8 and 4 cm from it; observations or actions 1 and 4 control steps late. 29 conditions x 30 starts
# x 3 seeds is about 2,600 rollouts.
SO101_ROBUSTNESS_FACTORS = ROBUSTNESS_FACTORS | {
    "joint_offset": (3, 11), "camera_tilt_deg": (2, 10), "light_turn_deg": (45, 90), "table_height_cm": (1, 4),
    "cube_scale": (1.2, 1.5), "cube_hue_deg": (90, 180), "distractor_cm": (8, 4), "obs_delay": (1, 4),
    "action_delay": (1, 4)}
SO101_COMBINATIONS = {name: c | ({"joint_offset": 3} if "joint_offset" in c else {})
                      for name, c in ROBUSTNESS_COMBINATIONS.items()}
SO101_CONDITIONS = {"full": (SO101_ROBUSTNESS_FACTORS, SO101_COMBINATIONS), "smoke": CONDITIONS["smoke"]}


def so101_robustness_points(scale: Scale, seeds: list[int]) -> list[dict]:
    """Could I move the table, on the SO-101? The demo recipe's demos (split over the 4 pencil marks) and ACT, one
    policy per training seed, under each condition from one set of starts at the marks.

    Its recordings and trainings are the positions study's 4-mark points' (the same steps), so in that study's
    folder they are reused."""
    recordings = so101_mark_recordings(scale, so101_layouts()["4 marks"])
    start = marks_eval(4, PLACEMENT, scale.eval_episodes, 1000, scale.episode_length)
    evals = {condition_name(p): start | ({"perturb": p} if p else {})
             for p in robustness_conditions(scale.conditions, "so101")}
    return [point("robustness", f"seed{seed}", f"demo recipe, training seed {seed}", {"train_seed": seed, "robot": "so101"},
                  recordings, so101_training(scale, seed), evals) for seed in seeds]


STUDIES = {"demos": demos_points, "positions": positions_points, "robustness": robustness_points, "noise": noise_points}
ROBOT_STUDIES = {"aloha": STUDIES, "so101": {"positions": so101_positions_points, "robustness": so101_robustness_points}}
ROBOT_SCALES = {"aloha": (FULL, SMOKE), "so101": (SO101_FULL, SO101_SMOKE)}
ROBOT_NAMES = {"aloha": "ALOHA transfer cube", "so101": "SO-101 pick and place"}
STATE_UNITS = {"aloha": "rad", "so101": "deg"}  # what each robot's joint state is in (a joint_offset's unit)
QUESTIONS = {"demos": "Is one demonstration enough?",
             "positions": "How many cube positions do I need, and how do policies interpolate between them?",
             "robustness": "Could I move the table? How robust is the demo policy?",
             "noise": "Does noise buy robustness?"}
# training seeds when --seeds is not given (others: [0])
DEFAULT_SEEDS = {"robustness": [0, 1, 2], "noise": [0, 1, 2], "so101 positions": [0, 1, 2]}


def default_seeds(study: str, robot: str = "aloha") -> list[int]:
    """The training seeds a study runs on a robot when --seeds is not given."""
    return list(DEFAULT_SEEDS.get(f"{robot} {study}", DEFAULT_SEEDS.get(study, [0])))


def check_robot(study: str, robot: str) -> str:
    """The robot when it runs this study, else a UserError naming the studies it runs."""
    if robot not in ROBOT_STUDIES:
        raise UserError(f"--robot {robot}: choose one of {', '.join(ROBOT_STUDIES)}")
    if study not in ROBOT_STUDIES[robot]:
        raise UserError(f"--study {study} runs on ALOHA only; with --robot {robot} run "
                        f"{', '.join(f'--study {s}' for s in ROBOT_STUDIES[robot])}, or drop --robot")
    return robot


def study_points(name: str, smoke: bool = False, seeds: list[int] | None = None, steps: int | None = None,
                 robot: str = "aloha") -> list[dict]:
    """The points of a study on a robot (the two-point tiny version with smoke), optionally with another step count."""
    if name not in STUDIES:
        raise UserError(f"unknown study '{name}': choose one of {', '.join(STUDIES)}")
    check_robot(name, robot)
    scale = ROBOT_SCALES[robot][1 if smoke else 0]
    if steps is not None:
        scale = replace(scale, steps=steps)
    points = ROBOT_STUDIES[robot][name](scale, seeds or default_seeds(name, robot))
    return points[:scale.points] if scale.points else points


def select_points(points: list[dict], ids: str | None) -> list[dict]:
    """The points whose ids are in the comma-separated list ids (all of them when ids is None)."""
    if ids is None:
        return points
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    known = {p["id"] for p in points}
    unknown = [i for i in wanted if i not in known]
    if unknown or not wanted:
        raise UserError(f"--only {ids!r}: no point has the id {', '.join(unknown) or '(empty)'}; "
                        "--plan lists the ids (e.g. 4-corners-seed0)")
    return [p for p in points if p["id"] in wanted]


# Measured costs (DESIGN.md, 2 cores): what the plan's compute estimate multiplies.
COST_S = {"train_step": 0.41, "demo": 4.8, "rollout_episode": 6.6, "replay_episode": 0.3, "script_start": 12.0}


# SO-101 costs per step (issue 20's measurements, 2 cores, two cameras): the env ~400 steps/s with fast render at
# 96x128 (a 300-frame demo with the expert's planning and retries about 1.5 s), a rollout with ACT ~72 steps/s
# (300 steps, 4.2 s), ACT cpu preset at 64x85 0.67 s/step with 1 thread while a second such job runs (so 0.34 s
# of the machine per step; alone with 2 threads 0.47), a physics-only replay ~1 s with the scene's build. With the
# recipe's temporal ensembling ACT predicts a chunk every step: 20 rollouts took 296-316 s on 1 thread beside another
# job, so about 7.5 s of the machine per episode; the studies step 4 episodes per policy call, which halved that.
SO101_ROLLOUT_S = 7.5 / 2 if RECIPES["so101"]["temporal_ensemble"] else 4.2  # per 300-step episode
SO101_COST_S = COST_S | {"train_step": 0.34, "demo": 1.5 * 400 / 300, "rollout_episode": SO101_ROLLOUT_S * 400 / 300,
                         "replay_episode": 1.0 * 400 / 300}


def estimate_seconds(kind: str, settings: dict) -> float:
    """Expected seconds of one step on a 2-core CPU, from the measured costs of its robot."""
    so101 = settings.get("robot") == "so101" or spec_robot(settings) == "so101"
    return _estimate(kind, settings, SO101_COST_S if so101 else COST_S)


def _estimate(kind: str, settings: dict, cost: dict) -> float:
    """Expected seconds of one step with these per-unit costs (per 400 frames for demos and episodes)."""
    if kind == "data":
        return cost["script_start"] + settings["episodes"] * cost["demo"] * settings["episode_length"] / 400
    if kind == "train":
        return cost["script_start"] + settings["steps"] * cost["train_step"]
    if kind == "rollout":
        return cost["script_start"] + settings["episodes"] * cost["rollout_episode"] * settings["max_steps"] / 400
    if kind == "baseline":
        return cost["script_start"] + settings["episodes"] * cost["replay_episode"] * settings["max_steps"] / 400
    return cost["script_start"]


def hours(seconds: float) -> str:
    """'3.4 h' or '12 min'."""
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{math.ceil(seconds / 60):.0f} min"
