"""SO-101 pick-and-place sim speed and scripted-expert success, side by side in one run: env steps/s with the
front and wrist cameras in each render quality on the same scripted actions, physics alone, and the expert's
kept/attempted over seeded placements at the 4 pencil marks (with the Wilson interval).

    .venv/bin/python benchmarks/bench_so101.py [--steps 100] [--image-size 96 128] [--seeds 50]

Writes its section of benchmarks/RESULTS.md.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lerobot_notebook_pipeline  # noqa: E402,F401  (headless GL before mujoco)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=100, help="env steps per fast configuration")
parser.add_argument("--stock-steps", type=int, default=10, help="env steps for the slow mesh and stock renders")
parser.add_argument("--image-size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (the best counts)")
parser.add_argument("--seeds", type=int, default=50, help="seeded placements per scripted-success setting")
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

from lerobot_notebook_pipeline.evaluation import success  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.sim import so101_placement  # noqa: E402
from lerobot_notebook_pipeline.sim.so101_env import STAGES, make_env  # noqa: E402
from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy, run_episode  # noqa: E402
from lerobot_notebook_pipeline.sim.so101_scene import RENDER_QUALITIES  # noqa: E402

SEED = 0
size = tuple(args.image_size)

# The actions: one scripted episode (planned without rendering).
planner = make_env(image_size=(24, 32))
actions, _, _, _ = run_episode(planner, PickPlacePolicy(planner), SEED)


def time_env(env, steps: int) -> tuple[float, list]:
    """Best steps per second of env over --repeats runs of the first `steps` scripted actions (each after a
    reset; the best run is the one least disturbed by other jobs), and the states seen."""
    best = 0.0
    for _ in range(args.repeats):
        env.reset(seed=SEED)
        states = []
        start = time.perf_counter()
        for action in actions[:steps]:
            states.append(env.step(action)[0]["agent_pos"].tolist())
        best = max(best, steps / (time.perf_counter() - start))
    return best, states


rows, reference = [], None
for quality, image_size in [*((q, size) for q in RENDER_QUALITIES), ("fast", (480, 640))]:
    steps = args.steps if quality in ("fast", "collision") else args.stock_steps
    env = make_env(image_size=image_size, render_quality=quality)
    sps, states = time_env(env, steps)
    env.close()
    reference = reference or states
    rows.append((f"{quality}, {image_size[0]}x{image_size[1]}", sps, states == reference[:steps]))
stock_sps = rows[list(RENDER_QUALITIES).index("stock")][1]

planner.reset_pose(SEED)
start = time.perf_counter()
for action in actions[: args.steps]:
    planner.step_physics(action)
physics_sps = args.steps / (time.perf_counter() - start)

# Scripted success (kept / attempted), planning pass only, on seeds 0 .. N-1.
SETTINGS = [("4 marks, +/-1.5 cm placement", {}, 0.0),
            ("4 marks, +/-1.5 cm placement, waypoint noise 5 mm", {}, 0.005),
            ("4 marks, +/-1.5 cm placement, waypoint noise 1 cm", {}, 0.01),
            ("uniform over x 0.13-0.27, y -0.07-0.07", {"pose_range": (0.13, 0.27, -0.07, 0.07)}, 0.005)]
success_rows = []
for name, env_kwargs, noise in SETTINGS:
    env = make_env(image_size=(24, 32), **env_kwargs)
    start = time.perf_counter()
    furthest = []
    for seed in range(args.seeds):
        furthest.append(int(run_episode(env, PickPlacePolicy(env, waypoint_noise=noise, seed=seed), seed)[3].max()))
    per_episode = (time.perf_counter() - start) / args.seeds
    kept = sum(s == len(STAGES) - 1 for s in furthest)
    fails = "; ".join(f"{furthest.count(k)} {STAGES[k]}" for k in range(len(STAGES) - 1) if furthest.count(k))
    success_rows.append(f"| {name} | {success.format_rate(success.success_summary(kept, args.seeds))} | "
                        f"{fails or '-'} | {per_episode:.2f} s |")

h, w = size
command = "`" + " ".join([".venv/bin/python benchmarks/bench_so101.py", *sys.argv[1:]]) + "`"
lines = [f"Command: {command}", "",
         f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, MuJoCo EGL (llvmpipe), {time.strftime('%Y-%m-%d')}, "
         f"load average {os.getloadavg()[0]:.1f} at the end (other jobs share the cores; ratios matter more than absolutes).",
         f"Scripted SO-101 pick-and-place actions (seed {SEED}) through the env with two cameras (front + wrist) at "
         f"{h}x{w} (and fast at 480x640); `fast` draws convex hulls of the arm's meshes, `collision` its collision geometry, `mesh` and "
         "`stock` the 348k-face meshes (`stock` with shadows and 4x multisampling). Same joint trajectory in every "
         "render quality: " + str(all(same for _, _, same in rows)) + ".", "",
         "| render, image size | steps/s (2 cameras) | vs stock |", "|---|---:|---:|"]
lines += [f"| {quality} | {sps:.1f} | {sps / stock_sps:.0f}x |" for quality, sps, _ in rows]
lines += [f"| physics only (planning pass, no rendering) | {physics_sps:.0f} | {physics_sps / stock_sps:.0f}x |", "",
          f"Scripted expert (top-down grasp by damped-least-squares IK; marks at the corners of the +/-"
          f"{so101_placement.MARK_HALF * 100:.0f} cm square around the target), seeds 0-{args.seeds - 1}, kept = "
          "placed within 2 cm of the target, released, gripper clear:", "",
          "| placement | kept / attempted (95% CI) | failures (furthest stage) | s per planning pass |",
          "|---|---:|---|---:|", *success_rows]
body = "\n".join(lines)
print(body)
write_results_section(args.results, "SO-101 pick-and-place sim speed and scripted success (bench_so101.py)", body)
print(f"wrote {args.results}")
