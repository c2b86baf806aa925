"""Build a small dataset in lerobot's older v2.1 layout (per-episode parquet and mp4, meta/*.jsonl) for conversion tests."""

import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lerobot_notebook_pipeline.synthetic import joint_names, synthetic_episode


def write_mp4(path, images, fps):
    """Encode frames (T, H, W, 3 uint8) as an H.264 mp4 with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = images.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_v21_dataset(root, num_episodes=3, length=40, dim=6, fps=30, image_size=(24, 32), camera="top"):
    """Write a v2.1 dataset of synthetic episodes (one camera as per-episode videos, or none) and return its root."""
    root = Path(root)
    names = joint_names(dim)
    features = {"observation.state": {"dtype": "float32", "shape": [dim], "names": names},
                "action": {"dtype": "float32", "shape": [dim], "names": names}}
    if camera:
        features[f"observation.images.{camera}"] = {
            "dtype": "video", "shape": [*image_size, 3], "names": ["height", "width", "channels"],
            "info": {"video.fps": fps, "video.height": image_size[0], "video.width": image_size[1],
                     "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "has_audio": False}}
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "float32" if key == "timestamp" else "int64", "shape": [1], "names": None}
    episodes, stats = [], []
    for e in range(num_episodes):
        arrays = synthetic_episode(length, dim, e, image_size, (camera,) if camera else ())
        t = np.arange(length)
        table = pa.table({
            "observation.state": list(arrays["observation.state"]), "action": list(arrays["action"]),
            "timestamp": (t / fps).astype(np.float32), "frame_index": t, "episode_index": np.full(length, e),
            "index": t + e * length, "task_index": np.zeros(length, dtype=np.int64)})
        path = root / f"data/chunk-000/episode_{e:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        if camera:
            write_mp4(root / f"videos/chunk-000/observation.images.{camera}/episode_{e:06d}.mp4",
                      arrays[f"observation.images.{camera}"], fps)
        episodes.append({"episode_index": e, "tasks": ["move the joints"], "length": length})
        ep_stats = {}
        for key in ("observation.state", "action"):
            v = arrays[key]
            ep_stats[key] = {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(),
                             "std": v.std(0).tolist(), "count": [length]}
        for key, v in (("timestamp", t / fps), ("frame_index", t), ("episode_index", np.full(length, e)),
                       ("index", t + e * length), ("task_index", np.zeros(length))):
            ep_stats[key] = {"min": [float(v.min())], "max": [float(v.max())], "mean": [float(v.mean())],
                             "std": [float(v.std())], "count": [length]}
        stats.append({"episode_index": e, "stats": ep_stats})
    info = {"codebase_version": "v2.1", "robot_type": "synthetic", "total_episodes": num_episodes,
            "total_frames": num_episodes * length, "total_tasks": 1, "total_videos": num_episodes if camera else 0,
            "total_chunks": 1, "chunks_size": 1000, "fps": fps, "splits": {"train": f"0:{num_episodes}"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4" if camera else None,
            "features": features}
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    (meta / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    (meta / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "move the joints"}) + "\n")
    (meta / "episodes_stats.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stats))
    return root
