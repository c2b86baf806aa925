"""Sim speed, side by side in one run: the fast env against stock gym_aloha/AlohaTransferCube-v0 on the same actions,
and dataset generation frames per second (planning pass + recorded pass + AV1 encoding + lerobot writing).

    .venv/bin/python benchmarks/bench_sim.py [--steps 100] [--episodes 2] [--image-size 96 128]

Writes its section of benchmarks/RESULTS.md.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lerobot_notebook_pipeline  # noqa: E402,F401  (headless GL before mujoco)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=100, help="env steps per configuration")
parser.add_argument("--episodes", type=int, default=2, help="episodes for the generation measurement")
parser.add_argument("--image-size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"),
                    help="image size of the small-image rows and of the generation run")
parser.add_argument("--episode-length", type=int, default=400)
parser.add_argument("--success-seeds", type=int, default=20, help="seeds per scripted-success setting")
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

import gym_aloha  # noqa: E402,F401
import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

from lerobot_notebook_pipeline.evaluation import success  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.sim import record  # noqa: E402
from lerobot_notebook_pipeline.sim.aloha_env import make_env  # noqa: E402
from lerobot_notebook_pipeline.sim.aloha_expert import TransferCubePolicy, run_episode  # noqa: E402

torch.set_num_threads(1)
SEED = 0

# The actions: one scripted transfer-cube episode (planned without rendering).
planner = make_env("transfer_cube", image_size=(48, 64))
actions, _, _, rewards = run_episode(planner, TransferCubePolicy(planner, args.episode_length, seed=SEED), SEED)
actions = actions[: args.steps]


def time_env(env) -> tuple[float, list[float]]:
    """Steps per second of env over the scripted actions (after reset), and the rewards seen."""
    env.reset(seed=SEED)
    seen = []
    start = time.perf_counter()
    for action in actions:
        seen.append(float(env.step(action)[1]))
    return len(actions) / (time.perf_counter() - start), seen


stock_env = gym.make("gym_aloha/AlohaTransferCube-v0", obs_type="pixels_agent_pos").unwrapped
stock_sps, stock_rewards = time_env(stock_env)
stock_env._env.physics.free()  # release its GL context now, not in a noisy interpreter-exit order
h, w = args.image_size
rows = [("stock gym_aloha/AlohaTransferCube-v0 (3 cameras 480x640, shadows, 4x MSAA)", stock_sps, stock_rewards)]
for size, quality in (((480, 640), "stock"), ((480, 640), "fast"), ((h, w), "fast")):
    sps, seen = time_env(make_env("transfer_cube", image_size=size, render_quality=quality))
    rows.append((f"fast env, top camera {size[0]}x{size[1]}, render {quality}", sps, seen))
same = all(row[2] == stock_rewards for row in rows)

# Physics only (what a planning pass costs per step).
planner.reset_pose(SEED)
start = time.perf_counter()
for action in actions:
    planner.step_physics(action)
physics_sps = len(actions) / (time.perf_counter() - start)

# Generation: the real recording path into a temp folder (lerobot imported beforehand: a one-off cost of seconds).
import lerobot.datasets.lerobot_dataset  # noqa: E402,F401

with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    report = record.record_dataset(Path(tmp) / "ds", task="transfer_cube", episodes=args.episodes, seed=SEED,
                                        attempts=list(range(3 * args.episodes + 5)), image_size=(h, w),
                                        episode_length=args.episode_length, render_quality="fast")
    gen_seconds = time.perf_counter() - start
    gen_mb = record.folder_size_mb(Path(tmp) / "ds")
gen_fps = report["frames"] / gen_seconds

# Scripted success (kept / attempted) without rendering, on the env seeds make_sim_dataset.py uses for --seed 0.
SETTINGS = [("gym-aloha's random range", {}, 0.0, args.episode_length),
            ("fixed at (0.1, 0.5)", {"cube_pose": (0.1, 0.5)}, 0.0, args.episode_length),
            ("random range, waypoint noise 5 mm", {}, 0.005, args.episode_length),
            ("random range, 200-step episodes", {}, 0.0, 200),
            ("random range, 100-step episodes", {}, 0.0, 100)]
success_rows = []
for task in ("transfer_cube", "insertion"):
    for name, env_kwargs, noise, length in SETTINGS:
        env = make_env(task, image_size=(24, 32), **env_kwargs)
        start = time.perf_counter()
        episodes = []
        for i in range(args.success_seeds):
            seed = record.attempt_seed(0, i)
            actions, _, _, rewards = run_episode(env, record.make_policy(env, task, length, noise, seed), seed)
            initial = env.object_pose_at_reset
            episodes.append({"success": rewards.max() >= 4, "stage": success.furthest_stage(rewards),
                             "initial_condition_id": success.fingerprint(initial),
                             "trial_id": success.fingerprint(initial, rewards, actions)})
        per_episode = (time.perf_counter() - start) / args.success_seeds
        summary = success.evaluation_summary(episodes, task)
        success_rows.append(f"| {task} | {name} | {length} | {success.format_rate(summary)} | "
                            f"{summary['distinct_initial_conditions']} | {per_episode:.2f} s |")

command = "`" + " ".join([".venv/bin/python benchmarks/bench_sim.py", *sys.argv[1:]]) + "`"
lines = [f"Command: {command}", "",
         f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, MuJoCo EGL (llvmpipe), {time.strftime('%Y-%m-%d')}, "
         f"load average {os.getloadavg()[0]:.1f} at the end (other jobs share the cores; ratios matter more than absolutes).",
         f"{len(actions)} steps of the same scripted transfer-cube actions (seed {SEED}) through each env; "
         f"rewards identical across envs: {same}.", "",
         "| env | steps/s | vs stock |", "|---|---:|---:|"]
lines += [f"| {name} | {sps:.1f} | {sps / stock_sps:.1f}x |" for name, sps, _ in rows]
lines += [f"| physics only (planning pass, no rendering) | {physics_sps:.0f} | {physics_sps / stock_sps:.0f}x |", "",
          f"Generation (`record_dataset`, {h}x{w}, fast render, {args.episode_length}-frame episodes): kept "
          f"{report['kept']}/{report['attempted']}, {report['frames']} frames in {gen_seconds:.1f} s = "
          f"**{gen_fps:.1f} frames/s** ({gen_mb:.2f} MB on disk), including the planning pass, AV1 encoding and "
          "lerobot's parquet/metadata writing.", "",
          "Scripted success (damped-least-squares IK in the joint-space env, planning pass only; identical episodes, "
          "as at a fixed pose without noise, count as one trial):", "",
          "| task | object pose | episode length | success (distinct trials, 95% CI) | distinct starts | "
          "s per planning pass |", "|---|---|---:|---:|---:|---:|",
          *success_rows]
body = "\n".join(lines)
print(body)
write_results_section(args.results, "Sim env and scripted data generation (bench_sim.py)", body)
print(f"wrote {args.results}")
