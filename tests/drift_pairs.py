"""Pairs of SO-101-like datasets for --compare tests: a textured scene per camera, objects placed in metres
(meta/sim_settings.json), and one known change planted at a time."""

import json

import numpy as np

from lerobot_notebook_pipeline.data import image_feature, vector_feature
from lerobot_notebook_pipeline.synthetic import SO101_JOINTS, camera_view, scene_texture, so101_episode, write_dataset

FPS, LENGTH = 30, 40
CAMERAS = {"front": (64, 96), "wrist": (48, 64)}
FEATURES = {"observation.state": vector_feature(SO101_JOINTS), "action": vector_feature(SO101_JOINTS),
            **{f"observation.images.{c}": image_feature(*size) for c, size in CAMERAS.items()}}
TEXTURES = {c: scene_texture(*size, seed=i + 1) for i, (c, size) in enumerate(CAMERAS.items())}
TRAINING_X, TRAINING_Y = (0.20, 0.23), (-0.03, 0.03)  # where the object sat in the training data, metres

# the known changes, each planted in its own new recording
SHIFT_PX = 6  # front camera content moved right
GAIN = 1.3  # front camera 30% brighter
OFFSET_JOINT, OFFSET = "elbow_flex", 4.0  # follower reads 4 units higher
WIDER_X = 0.26  # object placed 3 cm beyond the training placements in x


def record(root, targets, seed, shift=(0, 0), gain=1.0, offset=None):
    """A real LeRobotDataset of SO-101-like picks of objects at `targets`, with meta/sim_settings.json poses."""
    episodes = []
    for i, (x, y) in enumerate(targets):
        where = ((x - 0.15) / 0.15, 0.5 + y / 0.1)
        views = {c: camera_view(TEXTURES[c], *size, shift=shift if c == "front" else (0, 0),
                                gain=gain if c == "front" else 1.0, obj=where) for c, size in CAMERAS.items()}
        episodes.append(so101_episode(LENGTH, (x, y), seed + i, views, offset))
    write_dataset(root, episodes, FPS, FEATURES, robot_type="so101_follower")
    poses = [{"object_pose": [x, y, 0.0125, 1, 0, 0, 0]} for x, y in targets]
    (root / "meta" / "sim_settings.json").write_text(json.dumps({"episodes": poses}))
    return root


def training_targets(n, seed):
    rng = np.random.default_rng(seed)
    targets = np.column_stack([rng.uniform(*TRAINING_X, n), rng.uniform(*TRAINING_Y, n)])
    targets[0], targets[1] = (TRAINING_X[0], TRAINING_Y[0]), (TRAINING_X[1], TRAINING_Y[1])  # the corners
    return [tuple(t) for t in targets]


def table(episodes, root="in-memory"):
    """A stats.Table of SO-101-like episode arrays built in memory (no dataset written, no video encoded)."""
    from pathlib import Path

    from lerobot_notebook_pipeline.analysis.stats import Table

    lengths = np.array([len(e["observation.state"]) for e in episodes])
    ends = np.cumsum(lengths)
    columns = {k: np.concatenate([e[k] for e in episodes]) for k in ("observation.state", "action")}
    columns["episode_index"] = np.repeat(np.arange(len(episodes)), lengths)
    info = {"robot_type": "so101_follower", "fps": FPS, "features": FEATURES}
    return Table(Path(root), info, FPS, np.arange(len(episodes)), ends - lengths, ends, columns, {}, {})


def same_setup(n, seed):
    """A reference and a new recording of one unchanged setup, n episodes each, every target drawn independently
    and uniformly from the training placements: (reference Table, new Table, reference sim, new sim)."""
    rng = np.random.default_rng(seed)
    out = []
    for part in range(2):
        targets = np.column_stack([rng.uniform(*TRAINING_X, n), rng.uniform(*TRAINING_Y, n)])
        episodes = [so101_episode(LENGTH, tuple(t), seed * 1000 + part * 500 + i) for i, t in enumerate(targets)]
        out.append((table(episodes), {"episodes": [{"object_pose": [x, y, 0.0125, 1, 0, 0, 0]} for x, y in targets]}))
    (reference, ref_sim), (new, new_sim) = out
    return reference, new, ref_sim, new_sim
