"""Recording scripted ALOHA episodes into a LeRobotDataset: features, seeds, one episode, shards and their merge."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.data import add_episode, create_dataset, image_feature, vector_feature
from lerobot_notebook_pipeline.sim.aloha_env import CAMERA, DEFAULT_POSE_RANGE, FPS, TASK_STRINGS, make_env
from lerobot_notebook_pipeline.sim.poses import flag_outside

os.environ.setdefault("SVT_LOG", "1")  # the AV1 encoder (SVT-AV1) logs only errors: keeps the progress bar readable

# The joint names of lerobot's aloha sim datasets (observation.state and action share them).
STATE_NAMES = [f"{side}_{joint}" for side in ("left", "right")
               for joint in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")]
IMAGE_KEY = f"observation.images.{CAMERA}"
MIN_EPISODE_LENGTH = {"transfer_cube": 60, "insertion": 300}  # the shortest episodes the scripted expert completes
DART_STREAM = 1  # the DART noise draws from its own stream, so the waypoint noise stays that of a clean recording
# A --dart-noise the expert still mostly succeeds with (measured with 5 mm waypoint noise): ALOHA 0.02 rad kept 19 of
# 20 transfer cubes (0.03: 6 of 20; 0.05: 0 of 10); SO-101 0.5 degrees kept 8 of 10 pick and places (1: 7; 2: 3).
DART_WORKS = {"aloha": 0.02, "so101": 0.5}


def sim_features(image_size: tuple[int, int]) -> dict:
    """Dataset features like lerobot's aloha sim datasets: the top camera, a 14-dim state and action."""
    return {IMAGE_KEY: image_feature(*image_size), "observation.state": vector_feature(STATE_NAMES),
            "action": vector_feature(STATE_NAMES)}


def attempt_seed(seed: int, attempt: int) -> int:
    """The env seed of the attempt-th episode of a run with seed (independent streams, deterministic)."""
    return int(np.random.SeedSequence([int(seed), int(attempt)]).generate_state(1)[0] & 0x7FFFFFFF)


def dart_executor(std: float, seed: int):
    """What the env runs while recording with DART noise: the expert's action plus seeded Gaussian noise of std on
    every dimension (None without noise). Make a new one per pass, so the planning and the camera pass match."""
    if std <= 0:
        return None
    rng = np.random.default_rng([int(seed), DART_STREAM])
    return lambda action: action + rng.normal(0.0, std, np.shape(action))


def make_policy(env, task: str, episode_length: int, waypoint_noise: float, seed: int):
    """The scripted policy for task on env."""
    from lerobot_notebook_pipeline.sim.aloha_expert import POLICIES

    return POLICIES[task](env, episode_length, waypoint_noise=waypoint_noise, seed=seed)


def scripted_success(env, task: str, seed: int, episode_length: int, waypoint_noise: float = 0.0,
                     dart_noise: float = 0.0) -> float:
    """Max reward of the scripted episode for seed, run without rendering (a cheap planning pass)."""
    from lerobot_notebook_pipeline.sim.aloha_expert import run_episode

    policy = make_policy(env, task, episode_length, waypoint_noise, seed)
    return float(run_episode(env, policy, seed, render=False, execute=dart_executor(dart_noise, seed))[3].max())


def record_episode(env, task: str, seed: int, episode_length: int, waypoint_noise: float = 0.0,
                   dart_noise: float = 0.0) -> dict | None:
    """Frames of one scripted episode, or None when it misses the max reward.

    A planning pass without rendering decides first; only a successful plan is run again with the camera,
    and that recorded run must reach the max reward too. With dart_noise the env runs noisy actions and the
    clean ones are recorded.
    """
    from lerobot_notebook_pipeline.sim.aloha_expert import run_episode

    if scripted_success(env, task, seed, episode_length, waypoint_noise, dart_noise) < env.unwrapped.max_reward:
        return None
    policy = make_policy(env, task, episode_length, waypoint_noise, seed)
    actions, states, images, rewards = run_episode(env, policy, seed, render=True,
                                                   execute=dart_executor(dart_noise, seed))
    if rewards.max() < env.unwrapped.max_reward:
        return None
    return {"frames": {IMAGE_KEY: images, "observation.state": states.astype(np.float32),
                       "action": actions.astype(np.float32)},
            "seed": seed, "object_pose": env.unwrapped.object_pose_at_reset.tolist(),
            "max_reward": float(rewards.max()), "first_success_frame": int(np.argmax(rewards >= rewards.max()))}


def record_dataset(root: str | Path, task: str, episodes: int, seed: int, attempts: list[int], image_size,
                   episode_length: int, render_quality: str, cube_pose=None, pose_range=None,
                   waypoint_noise: float = 0.0, progress=None, robot: str = "aloha", dart_noise: float = 0.0,
                   **robot_options) -> dict:
    """Record up to `episodes` successful episodes, trying the attempt indices in order, into a new dataset at root.

    Returns {'kept', 'attempted', 'frames', 'episodes': [per-episode seed/pose]}; progress(kept, attempted) is
    called after each attempt. robot="so101" records the SO-101 pick and place (robot_options: marks,
    placement_noise, cameras) with sim/so101_record.py. dart_noise: std of the noise on the executed actions.
    """
    if robot == "so101":
        from lerobot_notebook_pipeline.sim.so101_record import record_so101_dataset

        return record_so101_dataset(root, episodes, seed, attempts, image_size, episode_length, render_quality,
                                    cube_pose, pose_range, waypoint_noise, progress, task=task, dart_noise=dart_noise,
                                    **robot_options)
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # lerobot's per-episode 'Map' bars would interleave with ours
    env = make_env(task, image_size=image_size, render_quality=render_quality, cube_pose=cube_pose,
                   pose_range=pose_range, max_steps=episode_length)
    dataset = create_dataset(root, fps=FPS, features=sim_features(image_size), robot_type="aloha")
    kept, attempted, frames, info = 0, 0, 0, []
    for attempt in attempts:
        if kept >= episodes:
            break
        attempted += 1
        result = record_episode(env, task, attempt_seed(seed, attempt), episode_length, waypoint_noise, dart_noise)
        if result is not None:
            add_episode(dataset, result["frames"], TASK_STRINGS[task])
            kept += 1
            frames += episode_length
            info.append({k: v for k, v in result.items() if k != "frames"} | {"attempt": attempt})
        if progress is not None:
            progress(kept, attempted)
    dataset.finalize()
    env.close()
    remove_empty_dirs(Path(root) / "images")  # lerobot's scratch folder for frames, empty once encoded
    return {"kept": kept, "attempted": attempted, "frames": frames, "episodes": info}


def record_in_shards(root: str | Path, num_workers: int, episodes: int, max_attempts: int, **kwargs) -> dict:
    """Record in num_workers processes (worker k tries attempts k, k+K, ...), then merge with lerobot's aggregate.

    Each worker is a fresh `python -m lerobot_notebook_pipeline.sim.record SPEC.json` process (its own GL context,
    no re-import of the calling script or notebook); each keeps up to its share of the episodes.
    """
    import json
    import subprocess
    import sys

    from lerobot_notebook_pipeline.processes import child_env, stop_process
    from lerobot_notebook_pipeline.runtime import UserError

    root = Path(root)
    shard_dir = root.parent / f".{root.name}.shards"
    shutil.rmtree(shard_dir, ignore_errors=True)
    shard_dir.mkdir(parents=True)
    shares = [episodes // num_workers + (1 if k < episodes % num_workers else 0) for k in range(num_workers)]
    env = child_env()
    workers = []
    try:
        for k, share in enumerate(shares):
            if share == 0:
                continue
            spec = dict(root=str(shard_dir / f"shard_{k}"), episodes=share, attempts=list(range(k, max_attempts, num_workers)),
                        **{key: (list(v) if isinstance(v, tuple) else v) for key, v in kwargs.items()})
            spec_path = shard_dir / f"shard_{k}.json"
            spec_path.write_text(json.dumps(spec))
            log_file = open(shard_dir / f"shard_{k}.log", "w")  # noqa: SIM115  (closed after wait)
            workers.append((k, subprocess.Popen([sys.executable, "-m", "lerobot_notebook_pipeline.sim.record",
                                                 str(spec_path)], stdout=log_file, stderr=subprocess.STDOUT, env=env),
                            log_file))
        results, roots = [], []
        for k, proc, log_file in workers:
            code = proc.wait()
            log_file.close()
            if code != 0:
                tail = (shard_dir / f"shard_{k}.log").read_text().strip().splitlines()[-1:]
                raise UserError(f"worker {k} failed (exit {code}: {' '.join(tail)}): retry with --num-workers 1")
            results.append(json.loads((shard_dir / f"shard_{k}.result.json").read_text()))
            if results[-1]["kept"] > 0:
                roots.append(shard_dir / f"shard_{k}")
        if roots:
            merge_datasets(roots, root)
    finally:
        for _, proc, log_file in workers:  # stopped or failed early: no worker may outlive the recording
            stop_process(proc)
            log_file.close()
        shutil.rmtree(shard_dir, ignore_errors=True)
    return {"kept": sum(r["kept"] for r in results), "attempted": sum(r["attempted"] for r in results),
            "frames": sum(r["frames"] for r in results), "episodes": [e for r in results for e in r["episodes"]]}


def merge_datasets(roots: list[Path], root: Path) -> None:
    """Merge the datasets at roots (folder names must differ) into a new dataset at root, with lerobot's aggregate."""
    from lerobot.datasets.aggregate import aggregate_datasets

    roots = [Path(r) for r in roots]
    aggregate_datasets([f"local/{r.name}" for r in roots], f"local/{Path(root).name}", roots=roots, aggr_root=Path(root))
    remove_empty_dirs(Path(root) / "images")


def merged_sim_settings(parts: list[dict]) -> dict:
    """The sim settings of datasets merged in this order: shared settings, each part's poses, all episodes."""
    first = parts[0]
    shared = {k: first.get(k) for k in ("task", "image_size", "render_quality", "fps", "episode_length", "waypoint_noise")}
    shared |= {"dart_noise": first["dart_noise"]} if "dart_noise" in first else {}
    shared |= {k: first[k] for k in ("robot", "marks", "placement_noise", "cameras") if k in first}  # SO-101's scene
    return shared | {"cube_pose": None, "pose_range": None,
                     "parts": [{k: p.get(k) for k in ("cube_pose", "pose_range", "seed", "kept")} for p in parts],
                     "attempted": sum(p.get("attempted", 0) for p in parts), "kept": sum(p.get("kept", 0) for p in parts),
                     "episodes": [e for p in parts for e in p.get("episodes", [])]}


def no_success_message(attempted: int, task: str, episode_length: int, cube_pose=None, pose_range=None,
                       waypoint_noise: float = 0.0, robot: str = "aloha", dart_noise: float = 0.0, **_) -> str:
    """Why no scripted episode succeeded, and what to change: the settings that make the expert fail, if any."""
    if robot == "so101":
        from lerobot_notebook_pipeline.sim import so101_record

        return so101_record.no_success_message(attempted, episode_length, cube_pose, pose_range, waypoint_noise,
                                               dart_noise)
    x0, x1, y0, y1 = DEFAULT_POSE_RANGE[task]
    reasons = []
    if episode_length < MIN_EPISODE_LENGTH[task]:
        reasons.append(f"--episode-length {episode_length} is too short for {task} (it needs at least "
                       f"{MIN_EPISODE_LENGTH[task]}): use 400")
    flag = flag_outside(cube_pose, pose_range, (x0, x1, y0, y1))
    if flag:
        reasons.append(f"{flag} puts the object outside the range the expert is made for: keep it within x {x0:g} to "
                       f"{x1:g}, y {y0:g} to {y1:g}")
    if waypoint_noise > 0:
        reasons.append(f"--waypoint-noise {waypoint_noise:g} may spoil every plan: lower it (0.005 works)")
    if dart_noise > DART_WORKS["aloha"]:
        reasons.append(f"--dart-noise {dart_noise:g} may spoil every execution: lower it ({DART_WORKS['aloha']:g} works)")
    advice = "; ".join(reasons) or "raise --max-attempts"
    return f"no scripted {task} episode reached the max reward in {attempted} attempts: {advice}"


def remove_empty_dirs(path: Path) -> None:
    """Delete path and the folders below it when none of them holds a file."""
    if path.is_dir() and not any(f.is_file() for f in path.rglob("*")):
        shutil.rmtree(path)


def folder_size_mb(path: str | Path) -> float:
    """Total size of the files under path, in MB."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


class Stopwatch:
    """Seconds since creation."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


if __name__ == "__main__":  # a shard worker of record_in_shards
    import json
    import sys

    import lerobot_notebook_pipeline  # noqa: F401  (headless GL set-up)

    spec_file = Path(sys.argv[1])
    spec = json.loads(spec_file.read_text())
    spec["image_size"] = tuple(spec["image_size"])
    result = record_dataset(**spec)
    (spec_file.parent / f"{spec_file.stem}.result.json").write_text(json.dumps(result))
