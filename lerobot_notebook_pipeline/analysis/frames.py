"""Decode only the few camera frames we show, straight from the video files with PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.analysis.stats import Table, row_range, video_file


def _half_frame(stream) -> float:
    """Half the frame period of a video stream, in seconds (the tolerance for matching timestamps)."""
    rate = float(stream.average_rate or stream.guessed_rate or 30)
    return 0.5 / rate


def decode_at(path: str | Path, timestamps: list[float]) -> list[np.ndarray]:
    """Frames (H, W, 3 uint8) of a video file nearest to each timestamp in seconds, one seek per request."""
    import av

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tolerance = _half_frame(stream)
        for ts in timestamps:
            container.seek(int(max(ts - tolerance, 0) / stream.time_base), stream=stream, backward=True, any_frame=False)
            best = None
            for frame in container.decode(stream):
                best = frame
                if frame.time is not None and frame.time >= ts - tolerance:
                    break
            if best is None:
                raise ValueError(f"no frame near {ts:.3f}s in {path}")
            out.append(best.to_ndarray(format="rgb24"))
    return out


def decode_range(path: str | Path, start: float, stop: float) -> list[np.ndarray]:
    """Every frame of a video file with start <= time < stop, decoded in one pass."""
    import av

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tolerance = _half_frame(stream)
        container.seek(int(max(start - 0.5, 0) / stream.time_base), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.time is None or frame.time < start - tolerance:
                continue
            if frame.time >= stop - tolerance:
                break
            out.append(frame.to_ndarray(format="rgb24"))
    return out


def frame_time(table: Table, episode: int, t: int, camera: str) -> float:
    """Time in the camera's video file of frame t of an episode."""
    row = table.meta[int(episode)]
    start = float(row.get(f"videos/{camera}/from_timestamp", 0.0))
    stamps = table.columns.get("timestamp")
    offset = float(stamps[row_range(table, episode)][t]) if stamps is not None else t / table.fps
    return start + offset


def frame(table: Table, episode: int, t: int, camera: str) -> np.ndarray:
    """One camera image (H, W, 3 uint8) of frame t of an episode (negative t counts from the end)."""
    return episode_frames(table, episode, [t], camera)[0]


def parquet_images(table: Table, camera: str, indices: list[int]) -> list[np.ndarray]:
    """Images of a camera stored inside the parquet files (dtype 'image'), for the given global frame indices."""
    import io

    import pyarrow.parquet as pq
    from PIL import Image

    found = {}
    for file in sorted((table.root / "data").glob("**/*.parquet")):
        part = pq.read_table(file, columns=["index", camera], filters=[("index", "in", list(indices))])
        for index, cell in zip(part.column("index").to_pylist(), part.column(camera).to_pylist(), strict=True):
            data = cell["bytes"] if cell.get("bytes") else (table.root / cell["path"]).read_bytes()
            found[int(index)] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return [found[i] for i in indices]


def is_image_camera(table: Table, camera: str) -> bool:
    """True when a camera's frames are stored as images inside the parquet files rather than as video."""
    return table.info["features"][camera]["dtype"] == "image"


def episode_frames(table: Table, episode: int, ts: list[int], camera: str) -> list[np.ndarray]:
    """Camera images of several frames of one episode (negative indices count from the end)."""
    if is_image_camera(table, camera):
        index = table.columns["index"][row_range(table, episode)]
        return parquet_images(table, camera, [int(index[t]) for t in ts])
    path = video_file(table, camera, episode)
    if path is None:
        raise ValueError(f"'{camera}' is not stored as video in this dataset")
    if not path.is_file():
        raise FileNotFoundError(f"video file {path} is missing")
    length = len(range(*row_range(table, episode).indices(len(table.columns["episode_index"]))))
    times = [frame_time(table, episode, t % length, camera) for t in ts]
    return decode_at(path, times)


def whole_episode(table: Table, episode: int, camera: str) -> list[np.ndarray]:
    """Every camera image of one episode, decoded sequentially in one pass."""
    if is_image_camera(table, camera):
        return parquet_images(table, camera, table.columns["index"][row_range(table, episode)].tolist())
    path = video_file(table, camera, episode)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"video of '{camera}' for episode {episode} is missing")
    row = table.meta[int(episode)]
    start = float(row.get(f"videos/{camera}/from_timestamp", 0.0))  # v2.1: a file per episode, from 0 to its end
    stop = float(row.get(f"videos/{camera}/to_timestamp", np.inf))
    return decode_range(path, start, stop)


def mean_first_frame(table: Table, camera: str, max_episodes: int = 20) -> np.ndarray | None:
    """The pixel-wise mean (float64) of the first frame of up to max_episodes evenly spread episodes; None when the
    camera's frames cannot be read (missing video files)."""
    picks = np.unique(np.linspace(0, len(table.episodes) - 1, min(max_episodes, len(table.episodes))).round().astype(int))
    try:
        images = [episode_frames(table, int(table.episodes[p]), [0], camera)[0] for p in picks]
    except (FileNotFoundError, ValueError):
        return None
    return np.mean(np.stack(images).astype(np.float64), axis=0)
