"""The nearest-demo replay: a baseline that plays back recorded actions instead of looking at the camera.

For each evaluation start it picks the training demo whose cube started nearest and replays that demo's actions
open loop in the sim. It knows where the cube is but cannot adapt the path to it, so it measures how far a task
tolerates a copied trajectory. It works for ALOHA's transfer cube and the SO-101 pick and place (the evaluation
spec's env). A policy that only matches it is replaying its demos; one that beats it adapts to
what it sees. Starts are drawn exactly as visualize_policy.py draws them for the same evaluation settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.analysis.stats import ACTION, load_table
from lerobot_notebook_pipeline.episodes import parse_episode_spec
from lerobot_notebook_pipeline.evaluation.success import rollout_rate
from lerobot_notebook_pipeline.files import write_json
from lerobot_notebook_pipeline.sim.aloha_env import demo_starts, make_env
from lerobot_notebook_pipeline.sim.poses import grid_poses, ring_poses, square_range


def demo_actions(dataset_dir: str | Path, episodes: list[int]) -> list[np.ndarray]:
    """The recorded action sequence of each of these episodes, in order."""
    table = load_table(dataset_dir, episodes)
    actions = table.columns[ACTION]
    return [actions[start:end] for start, end in zip(table.starts, table.ends, strict=True)]


def evaluation_starts(spec: dict) -> list[tuple[dict, int]]:
    """(make_env placement arguments, reset seed) per evaluation episode, as visualize_policy.py places the cube."""
    seeds = [spec["seed"] + i for i in range(spec["episodes"])]
    if spec["kind"] == "marks":  # SO-101: the env draws a pencil mark and the noise around it from the reset seed
        return [({"marks": spec["marks"], "placement_noise": spec["radius"]}, s) for s in seeds]
    if spec["kind"] == "square":
        return [({"pose_range": square_range(spec["cube_pose"], spec["radius"])}, s) for s in seeds]
    if spec["kind"] == "ring":
        places = ring_poses(spec["cube_pose"], spec["radius"], spec["episodes"])
    else:
        places = grid_poses(spec["bounds"], spec["n"], spec["n"])
    return [({"cube_pose": xy}, s) for xy, s in zip(places, seeds, strict=True)]


def play(env, actions: np.ndarray, max_reward: float) -> dict:
    """Play the actions open loop from the env's reset state; return its start position, success and reward."""
    rewards = [env.step_physics(a) for a in actions[: env.max_steps]]
    return {"object_pose": env.object_pose_at_reset.tolist(), "success": max(rewards) >= max_reward,
            "max_reward": max(rewards)}


def reset_env(spec: dict, placement: dict, seed: int, task: str):
    """A physics-only env of the evaluation's robot, reset for one start; returns (env, the reward of success).

    ALOHA's transfer cube by default; the SO-101 pick and place when spec names env so101_pick_place (its reset
    without rendering, at the scene's default 4 marks unless the placement names others)."""
    if spec.get("env") == "so101_pick_place":
        from lerobot_notebook_pipeline.sim import so101_env

        env = so101_env.make_env(image_size=(8, 8), max_steps=spec["max_steps"], **placement)
        env.reset_pose(seed)
        return env, so101_env.MAX_REWARD
    env = make_env(task, image_size=(8, 8), max_steps=spec["max_steps"], **placement)
    env.reset(seed=seed)
    return env, env.max_reward


def nearest_demo_replay(dataset_dir: str | Path, episode_spec: str, spec: dict, task: str = "transfer_cube") -> dict:
    """Replay, from every evaluation start of spec, the trained demo that started nearest; return metrics like a rollout."""
    starts = demo_starts(Path(dataset_dir))
    episodes = parse_episode_spec(episode_spec, len(starts))
    actions, places = demo_actions(dataset_dir, episodes), np.array([starts[i] for i in episodes])
    per_episode = []
    for placement, seed in evaluation_starts(spec):
        env, max_reward = reset_env(spec, placement, seed, task)
        nearest = int(np.argmin(np.linalg.norm(places - env.object_pose_at_reset[:2], axis=1)))
        per_episode.append(play(env, actions[nearest], max_reward) | {"seed": seed, "demo": episodes[nearest]})
        env.close()
    return rollout_rate([{"per_episode": per_episode}]) | {"per_episode": per_episode}


if __name__ == "__main__":  # python -m lerobot_notebook_pipeline.evaluation.replay_baseline DATASET EPISODES SPEC_JSON OUT_DIR
    if len(sys.argv) != 5:
        sys.exit("usage: python -m lerobot_notebook_pipeline.evaluation.replay_baseline DATASET EPISODES SPEC_JSON OUT_DIR")
    dataset, episode_spec, spec_json, out = sys.argv[1:]
    metrics = nearest_demo_replay(dataset, episode_spec, json.loads(spec_json))
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "metrics.json", metrics)
    print(f"nearest-demo replay: {metrics['successes']}/{metrics['episodes']} ({metrics['ci95']})")
