"""Tiny synthetic LeRobotDatasets for tests and benchmarks: smooth joint motion and a moving blob on camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import add_episode, create_dataset, image_feature, vector_feature


def joint_names(dim: int) -> list[str]:
    """Default joint names j0..j{dim-1}."""
    return [f"j{i}" for i in range(dim)]


def synthetic_episode(length: int, dim: int, seed: int, image_size: tuple[int, int] = (24, 32),
                      cameras: tuple[str, ...] = ("top",)) -> dict[str, np.ndarray]:
    """Arrays for one episode: sinusoidal actions, a state that lags them by one step, and camera frames."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float32)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, dim)).astype(np.float32)
    freq = rng.uniform(0.05, 0.2, size=(1, dim)).astype(np.float32)
    action = (0.5 * np.sin(freq * t + phase)).astype(np.float32)
    state = np.concatenate([action[:1], action[:-1]], axis=0)
    frames = {"observation.state": state, "action": action}
    height, width = image_size
    ys, xs = np.mgrid[0:height, 0:width]
    for camera_index, camera in enumerate(cameras):
        cx = (width / 2 + width / 3 * np.sin(0.1 * np.arange(length) + camera_index + seed))[:, None, None]
        blob = np.exp(-((xs[None] - cx) ** 2 + (ys[None] - height / 2) ** 2) / (0.05 * height * width))
        image = np.stack([blob * 255, np.full_like(blob, 60 + 40 * camera_index), (1 - blob) * 200], axis=-1)
        frames[f"observation.images.{camera}"] = image.astype(np.uint8)
    return frames


def synthetic_features(dim: int, image_size: tuple[int, int], cameras: tuple[str, ...]) -> dict:
    """Feature specs matching synthetic_episode."""
    names = joint_names(dim)
    features = {"observation.state": vector_feature(names), "action": vector_feature(names)}
    for camera in cameras:
        features[f"observation.images.{camera}"] = image_feature(*image_size)
    return features


def write_dataset(root: str | Path, episodes: list[dict[str, np.ndarray]], fps: int, features: dict,
                  task: str = "move the joints", robot_type: str = "synthetic") -> Path:
    """Write a list of episode arrays as a finalized LeRobotDataset at root."""
    dataset = create_dataset(root, fps=fps, features=features, robot_type=robot_type)
    for frames in episodes:
        add_episode(dataset, frames, task)
    dataset.finalize()
    return Path(root)


def make_synthetic_dataset(root: str | Path, num_episodes: int = 3, length: int = 20, dim: int = 6, fps: int = 30,
                           image_size: tuple[int, int] = (24, 32), cameras: tuple[str, ...] = ("top",),
                           seed: int = 0) -> Path:
    """Write a small clean dataset of num_episodes x length frames and return its root."""
    episodes = [synthetic_episode(length, dim, seed + i, image_size, cameras) for i in range(num_episodes)]
    return write_dataset(root, episodes, fps, synthetic_features(dim, image_size, cameras))
