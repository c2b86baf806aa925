"""Open LeRobotDatasets from a local folder or a hub id, and write new ones from arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.runtime import UserError, looks_like_repo_id, require_hub, video_backend

LOCAL_HINT = "pass a local dataset folder instead, e.g. --dataset outputs/datasets/transfer_cube (make one with make_sim_dataset.py)"


def resolve_dataset(spec: str | Path) -> tuple[str, Path | None]:
    """Map a local folder or hub repo id to (repo_id, root); root is None for a hub download."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "meta" / "info.json").is_file():
            raise UserError(f"'{path}' has no meta/info.json, so it is not a LeRobotDataset: pass the dataset's root folder")
        return f"local/{path.name}", path
    if looks_like_repo_id(str(spec)):
        from lerobot.utils.constants import HF_LEROBOT_HOME

        cached = Path(HF_LEROBOT_HOME) / str(spec)
        if (cached / "meta" / "info.json").is_file():
            return str(spec), cached
        require_hub(str(spec), "dataset", LOCAL_HINT)
        return str(spec), None
    raise UserError(f"dataset '{spec}' is neither a local folder nor a hub repo id (owner/name): {LOCAL_HINT}")


def read_info(root: str | Path) -> dict:
    """The dataset's meta/info.json as a dict."""
    return json.loads((Path(root) / "meta" / "info.json").read_text())


def open_dataset(spec: str | Path, episodes: list[int] | None = None, delta_timestamps: dict | None = None,
                 image_transforms=None):
    """Load a LeRobotDataset (v3.0) from a local folder or the hub, decoding video with a backend that works here."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    repo_id, root = resolve_dataset(spec)
    if root is not None:
        version = read_info(root).get("codebase_version", "?")
        if not str(version).startswith("v3"):
            raise UserError(f"'{root}' is a {version} dataset; lerobot 0.6 reads v3.0: convert it with "
                            "lerobot_notebook_pipeline.convert.convert_to_v30 (analyse_dataset.py does this for you)")
    return LeRobotDataset(repo_id, root=root, episodes=episodes, delta_timestamps=delta_timestamps,
                          image_transforms=image_transforms, video_backend=video_backend())


def image_feature(height: int, width: int) -> dict:
    """Feature spec of one camera stored as video."""
    return {"dtype": "video", "shape": (height, width, 3), "names": ["height", "width", "channels"]}


def vector_feature(names: list[str]) -> dict:
    """Feature spec of a float32 vector with named dimensions."""
    return {"dtype": "float32", "shape": (len(names),), "names": list(names)}


def create_dataset(root: str | Path, fps: int, features: dict, robot_type: str | None = None, repo_id: str | None = None):
    """Start a new, empty LeRobotDataset (v3.0, videos encoded as AV1) at root, which must not exist."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = Path(root)
    return LeRobotDataset.create(repo_id or f"local/{root.name}", fps=fps, features=features, root=root,
                                 robot_type=robot_type, use_videos=True, video_backend=video_backend())


def add_episode(dataset, frames: dict[str, np.ndarray], task: str) -> None:
    """Append one episode given per-key arrays of equal length (images as T x H x W x 3 uint8)."""
    lengths = {key: len(value) for key, value in frames.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"episode arrays differ in length: {lengths}")
    for t in range(next(iter(lengths.values()))):
        frame = {key: value[t] for key, value in frames.items()}
        frame["task"] = task
        dataset.add_frame(frame)
    dataset.save_episode()
