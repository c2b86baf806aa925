"""Tiny synthetic LeRobotDatasets for tests and benchmarks: smooth joint motion and a moving blob on camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.data import add_episode, create_dataset, image_feature, vector_feature


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


SO101_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
SO101_REST = np.array([0.0, -95.0, 95.0, 70.0, 0.0, 2.0], dtype=np.float32)  # lerobot's -100..100 joint units


def scene_texture(height: int, width: int, margin: int = 16, seed: int = 0,
                  scales: tuple[float, ...] = (0.02, 0.06, 0.15)) -> np.ndarray:
    """A random RGB texture (height + 2 margin, width + 2 margin, 3) in 40..200 with detail at several scales (in
    cycles per pixel): a cluttered table top with features to track."""
    rng = np.random.default_rng(seed)
    shape = (height + 2 * margin, width + 2 * margin)
    fy, fx = np.fft.fftfreq(shape[0])[:, None], np.fft.fftfreq(shape[1])[None, :]
    channels = []
    for _ in range(3):
        noise = np.fft.fft2(rng.normal(size=shape))
        c = sum(np.fft.ifft2(noise * np.exp(-(fx ** 2 + fy ** 2) / (2 * s * s))).real / s for s in scales)
        channels.append((c - c.min()) / (c.max() - c.min()))
    return (40 + 160 * np.stack(channels, axis=-1)).astype(np.float32)


def camera_view(texture: np.ndarray, height: int, width: int, shift: tuple[int, int] = (0, 0), gain: float = 1.0,
                obj: tuple[float, float] | None = None) -> np.ndarray:
    """What a camera sees of the texture: its content moved by shift (dy, dx px, + = down/right), brightness times
    gain, and a dark 6x6 px object at obj (fractions of the frame) when given."""
    canvas = texture.copy()
    margin = (texture.shape[0] - height) // 2
    if obj is not None:
        y, x = margin + int(obj[0] * height), margin + int(obj[1] * width)
        canvas[y - 3:y + 3, x - 3:x + 3] = (30, 30, 160)
    top, left = margin - shift[0], margin - shift[1]
    return np.clip(canvas[top:top + height, left:left + width] * gain, 0, 255).astype(np.uint8)


def so101_episode(length: int, target: tuple[float, float], seed: int, views: dict[str, np.ndarray] | None = None,
                  offset: np.ndarray | None = None, lag: int = 2) -> dict[str, np.ndarray]:
    """One SO-101-like pick: from the rest pose to a reach set by the object's (x, y) in metres, grip, and back.
    The state follows the action `lag` frames later, plus `offset` (a follower calibration offset); views are static
    camera images repeated over the episode."""
    rng = np.random.default_rng(seed)
    x, y = target
    reach = np.array([300 * y, -95 + 400 * x, 95 - 350 * x, 60.0, 50 * y, 40.0], dtype=np.float32)
    t = np.linspace(0, 1, length, dtype=np.float32)[:, None]
    blend = 0.5 - 0.5 * np.cos(2 * np.pi * t)  # 0 at rest, 1 at the reach, back to 0
    action = SO101_REST + blend * (reach - SO101_REST) + rng.normal(0, 0.2, size=(1, 6)).astype(np.float32)
    action[:, 5] = np.where((t[:, 0] > 0.45) & (t[:, 0] < 0.8), 5.0, action[:, 5])  # the gripper closes on the object
    state = np.concatenate([np.repeat(action[:1], lag, axis=0), action[:-lag]]) + (0.0 if offset is None else offset)
    frames = {"observation.state": state.astype(np.float32), "action": action.astype(np.float32)}
    for camera, image in (views or {}).items():
        frames[f"observation.images.{camera}"] = np.broadcast_to(image, (length, *image.shape))  # no copies
    return frames
