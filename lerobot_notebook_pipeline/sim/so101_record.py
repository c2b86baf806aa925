"""Recording scripted SO-101 pick-and-place episodes into a LeRobotDataset with lerobot's follower schema.

The features are made the way `lerobot-record` makes them for a real SO-101 follower with OpenCV cameras: the
robot's features ({'shoulder_pan.pos': float, ..., camera: (H, W, 3)}) through lerobot's own
`hw_to_dataset_features`, for `action` and for the observation: `action` and `observation.state` of 6 float32
named `shoulder_pan.pos` ... `gripper.pos`, one `observation.images.<camera>` video per camera, robot_type
`so101_follower`, 30 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.data import add_episode, create_dataset
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import so101_placement as placement
from lerobot_notebook_pipeline.sim.poses import flag_outside
from lerobot_notebook_pipeline.sim.so101_env import (
    EPISODE_LENGTH,
    FPS,
    MAX_REWARD,
    ROBOT_TYPE,
    STATE_NAMES,
    TASK,
    TASK_STRING,
    make_env,
)
from lerobot_notebook_pipeline.sim.so101_scene import DEFAULT_CAMERAS

MIN_EPISODE_LENGTH = 120  # the shortest episodes (4 s) the scripted expert completes (10 of 10 seeds)


def check_task(task: str) -> str:
    """task when it is the SO-101 task, else a UserError naming it."""
    if task != TASK:
        raise UserError(f"unknown task '{task}' for --robot so101: use {TASK}")
    return task


def robot_features(image_size, cameras=DEFAULT_CAMERAS) -> dict:
    """The follower's hardware features as lerobot's SO-101 follower reports them: joints, then cameras."""
    height, width = (int(v) for v in image_size)
    return {name: float for name in STATE_NAMES} | {cam: (height, width, 3) for cam in cameras}


def so101_features(image_size, cameras=DEFAULT_CAMERAS) -> dict:
    """Dataset features as lerobot-record writes them for the follower: lerobot's hw_to_dataset_features."""
    from lerobot.utils.constants import ACTION, OBS_STR
    from lerobot.utils.feature_utils import hw_to_dataset_features

    hardware = robot_features(image_size, cameras)
    joints = {k: v for k, v in hardware.items() if v is float}
    return {**hw_to_dataset_features(joints, ACTION, True), **hw_to_dataset_features(hardware, OBS_STR, True)}


def image_key(camera: str) -> str:
    """The dataset key of a camera's video."""
    return f"observation.images.{camera}"


def plan_succeeds(env, seed: int, episode_length: int, waypoint_noise: float, dart_noise: float = 0.0) -> bool:
    """Whether the scripted episode for seed reaches the last stage, run without rendering (a cheap pass)."""
    from lerobot_notebook_pipeline.sim.record import dart_executor
    from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy, run_episode

    policy = PickPlacePolicy(env, episode_length, waypoint_noise=waypoint_noise, seed=seed)
    return run_episode(env, policy, seed, execute=dart_executor(dart_noise, seed))[3].max() >= MAX_REWARD


def record_episode(env, seed: int, episode_length: int, waypoint_noise: float = 0.0,
                   dart_noise: float = 0.0) -> dict | None:
    """Frames of one scripted episode, or None when it fails: a planning pass decides, the camera run records
    (with dart_noise the env runs noisy actions and the clean ones are recorded)."""
    from lerobot_notebook_pipeline.sim.record import dart_executor
    from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy, run_episode

    if not plan_succeeds(env, seed, episode_length, waypoint_noise, dart_noise):
        return None
    policy = PickPlacePolicy(env, episode_length, waypoint_noise=waypoint_noise, seed=seed)
    actions, states, images, rewards = run_episode(env, policy, seed, render=True,
                                                   execute=dart_executor(dart_noise, seed))
    if rewards.max() < MAX_REWARD:
        return None
    frames = {image_key(cam): frames for cam, frames in images.items()}
    frames |= {"observation.state": states.astype(np.float32), "action": actions.astype(np.float32)}
    return {"frames": frames, "seed": seed, "object_pose": env.unwrapped.object_pose_at_reset.tolist(),
            "max_reward": float(rewards.max()), "first_success_frame": int(np.argmax(rewards >= MAX_REWARD))}


def record_so101_dataset(root: str | Path, episodes: int, seed: int, attempts: list[int], image_size,
                         episode_length: int = EPISODE_LENGTH, render_quality: str = "fast", cube_pose=None,
                         pose_range=None, waypoint_noise: float = 0.0, progress=None, marks=placement.MARKS,
                         placement_noise: float = placement.PLACEMENT_NOISE, cameras=DEFAULT_CAMERAS,
                         task: str = TASK, dart_noise: float = 0.0, **_) -> dict:
    """Record up to `episodes` successful episodes, trying the attempt indices in order, into a new dataset at root.

    Returns {'kept', 'attempted', 'frames', 'episodes': [per-episode seed/pose]}, like the ALOHA recorder.
    """
    from datasets.utils.logging import disable_progress_bar

    from lerobot_notebook_pipeline.sim.record import attempt_seed, remove_empty_dirs

    disable_progress_bar()
    cameras = tuple(cameras)
    env = make_env(image_size=image_size, cameras=cameras, render_quality=render_quality, cube_pose=cube_pose,
                   pose_range=pose_range, marks=marks, placement_noise=placement_noise, max_steps=episode_length)
    dataset = create_dataset(root, fps=FPS, features=so101_features(image_size, env.camera_names), robot_type=ROBOT_TYPE)
    kept, attempted, frames, info = 0, 0, 0, []
    for attempt in attempts:
        if kept >= episodes:
            break
        attempted += 1
        result = record_episode(env, attempt_seed(seed, attempt), episode_length, waypoint_noise, dart_noise)
        if result is not None:
            add_episode(dataset, result["frames"], TASK_STRING)
            kept += 1
            frames += episode_length
            mark = placement.mark_index(result["object_pose"][:2], env.marks)
            info.append({k: v for k, v in result.items() if k != "frames"} | {"attempt": attempt, "mark": mark})
        if progress is not None:
            progress(kept, attempted)
    dataset.finalize()
    env.close()
    remove_empty_dirs(Path(root) / "images")
    return {"kept": kept, "attempted": attempted, "frames": frames, "episodes": info}


def no_success_message(attempted: int, episode_length: int, cube_pose=None, pose_range=None,
                       waypoint_noise: float = 0.0, dart_noise: float = 0.0, **_) -> str:
    """Why no scripted SO-101 episode succeeded, and what to change."""
    from lerobot_notebook_pipeline.sim.record import DART_WORKS

    x0, x1, y0, y1 = placement.REACH_XY
    reasons = []
    if episode_length < MIN_EPISODE_LENGTH:
        reasons.append(f"--episode-length {episode_length} is too short (the expert needs at least "
                       f"{MIN_EPISODE_LENGTH}): use {EPISODE_LENGTH}")
    flag = flag_outside(cube_pose, pose_range, (x0, x1, y0, y1))
    if flag:
        reasons.append(f"{flag} puts the cube outside the expert's reach: keep it within x {x0:g} to {x1:g}, "
                       f"y {y0:g} to {y1:g}")
    if waypoint_noise > 0.005:
        reasons.append(f"--waypoint-noise {waypoint_noise:g} may spoil every plan: lower it (0.005 works)")
    if dart_noise > DART_WORKS["so101"]:
        reasons.append(f"--dart-noise {dart_noise:g} may spoil every execution: lower it ({DART_WORKS['so101']:g} works)")
    advice = "; ".join(reasons) or "raise --max-attempts"
    return f"no scripted pick_place episode placed the cube in {attempted} attempts: {advice}"
