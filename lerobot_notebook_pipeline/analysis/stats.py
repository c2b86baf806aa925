"""Fast tabular access to a LeRobotDataset: read the parquet columns once, vectorised, never decode video."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.data import read_info

ACTION = "action"
STATE = "observation.state"
VISUAL_DTYPES = ("image", "video")
BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass
class Table:
    """Every non-visual column of the selected episodes, stacked, with the row range of each episode."""

    root: Path
    info: dict
    fps: float
    episodes: np.ndarray  # episode indices present, sorted
    starts: np.ndarray  # first row of each episode in `columns`
    ends: np.ndarray  # one past the last row of each episode
    columns: dict  # name -> (N,) or (N, D) array
    meta: dict  # episode index -> row of meta/episodes (tasks, video files, timestamps), stats left out
    tasks: dict  # task index -> task text
    cache: dict = field(default_factory=dict, repr=False)  # derived arrays, computed once


def dataset_root(dataset_or_root) -> Path:
    """The folder of a LeRobotDataset object, or the given path."""
    if isinstance(dataset_or_root, (str, Path)):
        return Path(dataset_or_root)
    return Path(dataset_or_root.root)


def tabular_keys(info: dict) -> list[str]:
    """Feature keys stored in the parquet files (everything but images and videos)."""
    return [key for key, ft in info["features"].items() if ft["dtype"] not in VISUAL_DTYPES]


def camera_keys(info: dict) -> list[str]:
    """Feature keys of cameras (stored as video or as images)."""
    return [key for key, ft in info["features"].items() if ft["dtype"] in VISUAL_DTYPES]


def feature_names(info: dict, key: str) -> list[str]:
    """Per-dimension names of a vector feature (from info.json when present, else key[i])."""
    ft = info["features"][key]
    size = int(np.prod(ft.get("shape") or [1]))
    names = ft.get("names")
    if isinstance(names, dict):  # e.g. {"motors": [...]}
        names = next((v for v in names.values() if isinstance(v, list) and len(v) == size), None)
    if isinstance(names, list) and len(names) == size and all(isinstance(n, str) for n in names):
        return list(names)
    short = key.split(".")[-1]
    return [f"{short}[{i}]" for i in range(size)]


def _to_numpy(column) -> np.ndarray:
    """A pyarrow column (scalars or fixed-length lists) as a numpy array (N,) or (N, D)."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type) or pa.types.is_large_list(array.type):
        n = len(array)
        flat = array.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(n, -1) if n else flat.reshape(0, 0)
    return array.to_numpy(zero_copy_only=False)


def read_columns(root: str | Path, keys: list[str], episodes: list[int] | None = None) -> dict[str, np.ndarray]:
    """Read the given columns of root/data/**/*.parquet (optionally only some episodes) as numpy arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((Path(root) / "data").glob("**/*.parquet"))
    if not files:
        return {key: np.zeros(0) for key in keys}
    filters = [("episode_index", "in", list(episodes))] if episodes is not None else None
    parts = []
    for file in files:
        present = set(pq.read_schema(file).names)
        part = pq.read_table(file, columns=[k for k in keys if k in present], filters=filters)
        if part.num_rows:
            parts.append(part)
    if not parts:
        return {key: np.zeros(0) for key in keys}
    table = pa.concat_tables(parts, promote_options="default") if len(parts) > 1 else parts[0]
    return {key: _to_numpy(table.column(key)) for key in keys if key in table.column_names}


def read_jsonl(path: str | Path) -> list[dict]:
    """The rows of a JSON-lines file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def read_episodes_meta(root: str | Path) -> dict[int, dict]:
    """Rows of meta/episodes/**/*.parquet (without the per-episode stats columns), keyed by episode index; a v2.1
    dataset's meta/episodes.jsonl when there is no parquet."""
    import pyarrow.parquet as pq

    rows = {}
    for file in sorted((Path(root) / "meta" / "episodes").glob("**/*.parquet")):
        names = [n for n in pq.read_schema(file).names if not n.startswith("stats/")]
        for row in pq.read_table(file, columns=names).to_pylist():
            rows[int(row["episode_index"])] = row
    legacy = Path(root) / "meta" / "episodes.jsonl"
    if not rows and legacy.is_file():
        rows = {int(row["episode_index"]): row for row in read_jsonl(legacy)}
    return rows


def read_tasks(root: str | Path) -> dict[int, str]:
    """Task index -> task text from meta/tasks.parquet (v2.1: meta/tasks.jsonl)."""
    import pandas as pd

    path = Path(root) / "meta" / "tasks.parquet"
    legacy = Path(root) / "meta" / "tasks.jsonl"
    if not path.is_file():
        return {int(row["task_index"]): str(row["task"]) for row in read_jsonl(legacy)} if legacy.is_file() else {}
    frame = pd.read_parquet(path)
    if "task" in frame.columns:
        return {int(i): str(t) for i, t in zip(frame["task_index"], frame["task"], strict=True)}
    return {int(i): str(t) for t, i in zip(frame.index, frame["task_index"], strict=True)}


def load_table(dataset_or_root, episodes: list[int] | None = None) -> Table:
    """Load every non-visual column of a dataset (a LeRobotDataset or its folder) into one Table."""
    root = dataset_root(dataset_or_root)
    info = read_info(root)
    columns = read_columns(root, tabular_keys(info), episodes)
    ep_col = columns.get("episode_index", np.zeros(0, dtype=np.int64)).astype(np.int64).reshape(-1)
    order = np.argsort(ep_col, kind="stable")
    if len(order) and not np.all(order == np.arange(len(order))):
        columns = {k: v[order] for k, v in columns.items()}
        ep_col = ep_col[order]
    for key in BOOKKEEPING:
        if key in columns and columns[key].ndim == 2 and columns[key].shape[1] == 1:
            columns[key] = columns[key][:, 0]
    eps, starts = np.unique(ep_col, return_index=True)
    ends = np.append(starts[1:], len(ep_col)).astype(np.int64)
    meta = read_episodes_meta(root)
    return Table(root=root, info=info, fps=float(info.get("fps") or 0), episodes=eps.astype(np.int64),
                 starts=starts.astype(np.int64), ends=ends, columns=columns,
                 meta={e: meta[e] for e in eps.tolist() if e in meta}, tasks=read_tasks(root))


def vector_keys(table: Table) -> list[str]:
    """Float vector features (action, state and the like), action first, then state."""
    keys = [k for k, v in table.columns.items() if v.ndim == 2 and np.issubdtype(v.dtype, np.floating)]
    return sorted(keys, key=lambda k: (k != ACTION, k != STATE, k))


def episode_lengths(table: Table) -> np.ndarray:
    """Frames per episode, in the order of table.episodes."""
    return table.ends - table.starts


def episode_bounds(table: Table) -> dict[int, tuple[int, int]]:
    """Episode index -> (first, one past last) global frame index, usable with dataset[i]."""
    index = table.columns.get("index")
    if index is None:
        return {int(e): (int(s), int(t)) for e, s, t in zip(table.episodes, table.starts, table.ends, strict=True)}
    return {int(e): (int(index[s]), int(index[t - 1]) + 1) for e, s, t in zip(table.episodes, table.starts, table.ends, strict=True)}


def row_range(table: Table, episode: int) -> slice:
    """Rows of one episode in table.columns."""
    where = np.searchsorted(table.episodes, episode)
    if where >= len(table.episodes) or table.episodes[where] != episode:
        raise KeyError(f"episode {episode} is not in this table")
    return slice(int(table.starts[where]), int(table.ends[where]))


def episode_array(table: Table, key: str, episode: int) -> np.ndarray:
    """One column of one episode, e.g. its actions (T, D)."""
    return table.columns[key][row_range(table, episode)]


def episode_actions(table: Table, episode: int) -> np.ndarray:
    """Actions of one episode (T, D)."""
    return episode_array(table, ACTION, episode)


def episode_states(table: Table, episode: int) -> np.ndarray:
    """Observed states of one episode (T, D)."""
    return episode_array(table, STATE, episode)


def split_by_episode(table: Table, key: str) -> list[np.ndarray]:
    """A column cut into one array per episode (views, no copy)."""
    values = table.columns[key]
    return [values[s:e] for s, e in zip(table.starts, table.ends, strict=True)]


def dim_ranges(values: np.ndarray) -> np.ndarray:
    """Max minus min of each dimension over all rows, ignoring NaN/Inf."""
    finite = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(all="ignore"):
        ranges = np.nanmax(finite, axis=0) - np.nanmin(finite, axis=0) if len(values) else np.zeros(values.shape[1:])
    return np.nan_to_num(ranges, nan=0.0)


def key_ranges(table: Table, key: str) -> np.ndarray:
    """dim_ranges of one column, computed once per table."""
    name = ("ranges", key)
    if name not in table.cache:
        table.cache[name] = dim_ranges(table.columns[key])
    return table.cache[name]


def segment_reduce(values: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """Per-episode min/max/mean/sum of rows (episodes given by start rows), ignoring NaN/Inf."""
    finite = np.isfinite(values)
    if how == "min":
        return np.fmin.reduceat(np.where(finite, values, np.nan), starts, axis=0)
    if how == "max":
        return np.fmax.reduceat(np.where(finite, values, np.nan), starts, axis=0)
    total = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0)
    if how == "sum":
        return total
    if how != "mean":
        raise ValueError(f"unknown reduction '{how}': use min, max, mean or sum")
    count = np.add.reduceat(finite.astype(np.int64), starts, axis=0)
    with np.errstate(all="ignore"):
        return total / count


def path_lengths(table: Table, key: str = ACTION) -> np.ndarray:
    """Distance travelled by each episode in the feature's space: sum of |x[t+1] - x[t]| (Euclidean)."""
    values = table.columns[key].astype(np.float64)
    step = np.zeros(len(values))
    if len(values) > 1:
        diffs = np.diff(values, axis=0)
        step[1:] = np.sqrt(np.nansum(np.where(np.isfinite(diffs), diffs, 0.0) ** 2, axis=1))
        step[table.starts] = 0.0  # no step across an episode boundary
    return np.add.reduceat(step, table.starts) if len(values) else np.zeros(0)


def path_length(values: np.ndarray) -> float:
    """Distance travelled by one trajectory (T, D): sum of Euclidean steps."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.linalg.norm(np.diff(values, axis=0), axis=1).sum()) if len(values) > 1 else 0.0


def start_states(table: Table, key: str = STATE) -> np.ndarray:
    """The first row of every episode (E, D)."""
    return table.columns[key][table.starts]


def resample_episodes(table: Table, key: str, points: int = 32) -> np.ndarray:
    """Every episode's trajectory linearly resampled to the same number of points (E, points, D)."""
    values = np.nan_to_num(table.columns[key].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lengths = episode_lengths(table)
    pos = np.linspace(0, 1, points)[None, :] * (lengths[:, None] - 1)  # (E, P)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, lengths[:, None] - 1)
    frac = (pos - low)[..., None]
    base = table.starts[:, None]
    return values[base + low] * (1 - frac) + values[base + high] * frac


def episode_task(table: Table, episode: int) -> str:
    """The task text(s) of one episode."""
    row = table.meta.get(int(episode), {})
    tasks = row.get("tasks")
    if tasks is not None and len(tasks):
        return "; ".join(str(t) for t in tasks)
    if "task_index" in table.columns:
        idx = table.columns["task_index"][row_range(table, episode)]
        return "; ".join(table.tasks.get(int(i), str(i)) for i in np.unique(idx))
    return ""


def summary(table: Table) -> dict:
    """Dataset-level numbers: episodes, frames, fps, duration, robot type, tasks."""
    lengths = episode_lengths(table)
    frames = int(lengths.sum())
    return {
        "episodes": int(len(table.episodes)),
        "episodes_in_dataset": int(table.info.get("total_episodes", len(table.episodes))),
        "frames": frames,
        "fps": table.fps,
        "duration_s": round(frames / table.fps, 3) if table.fps else None,
        "mean_episode_s": round(float(lengths.mean()) / table.fps, 3) if table.fps and len(lengths) else None,
        "robot_type": table.info.get("robot_type"),
        "codebase_version": table.info.get("codebase_version"),
        "tasks": sorted(set(table.tasks.values())),
    }


def features_table(info: dict) -> list[dict]:
    """One row per feature: key, dtype, shape and dimension names."""
    rows = []
    for key, ft in info["features"].items():
        names = ft.get("names")
        if ft["dtype"] not in VISUAL_DTYPES and ft.get("shape") and int(np.prod(ft["shape"])) > 1:
            names = feature_names(info, key)
        rows.append({"key": key, "dtype": ft["dtype"], "shape": list(ft.get("shape") or []), "names": names})
    return rows


def video_file(table: Table, camera: str, episode: int) -> Path | None:
    """Path of the video file holding one camera's frames for an episode (None if not a video feature); v2.1
    datasets keep one file per episode."""
    path_pattern = table.info.get("video_path")
    if path_pattern is None or table.info["features"][camera]["dtype"] != "video":
        return None
    if "{episode_index" in path_pattern:
        chunk = int(episode) // int(table.info.get("chunks_size") or 1000)
        return table.root / path_pattern.format(video_key=camera, episode_chunk=chunk, episode_index=int(episode))
    row = table.meta.get(int(episode), {})
    chunk = row.get(f"videos/{camera}/chunk_index")
    if chunk is None:
        return None
    return table.root / path_pattern.format(video_key=camera, chunk_index=int(chunk),
                                            file_index=int(row[f"videos/{camera}/file_index"]))


def cameras_table(table: Table) -> list[dict]:
    """One row per camera: resolution, codec, fps, how many of its video files exist and which are missing."""
    rows = []
    for camera in camera_keys(table.info):
        ft = table.info["features"][camera]
        shape = ft.get("shape") or [0, 0, 0]
        names = ft.get("names") or []
        if list(names[:1]) == ["channels"]:  # stored channel-first
            height, width = shape[1], shape[2]
        else:
            height, width = shape[0], shape[1]
        video_info = ft.get("info") or {}
        files = sorted({p for p in (video_file(table, camera, e) for e in table.episodes) if p is not None})
        missing = [str(p.relative_to(table.root)) for p in files if not p.is_file()]
        rows.append({"key": camera, "height": int(height), "width": int(width), "dtype": ft["dtype"],
                     "codec": video_info.get("video.codec"), "fps": video_info.get("video.fps", table.fps),
                     "files": len(files), "missing": missing})
    return rows


def read_stats_json(root: str | Path) -> dict:
    """meta/stats.json as a dict (empty when the dataset has none)."""
    path = Path(root) / "meta" / "stats.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def normalization_stats(root: str | Path, keys: list[str] | None = None) -> dict:
    """mean/std/min/max of non-visual features from meta/stats.json (what training normalises with)."""
    stats = read_stats_json(root)
    if not stats:
        return {}
    wanted = keys if keys is not None else list(stats)
    out = {}
    for key in wanted:
        if key in stats and not key.startswith("observation.image") and key not in BOOKKEEPING:
            out[key] = {s: np.asarray(stats[key][s]).reshape(-1).round(4).tolist()
                        for s in ("mean", "std", "min", "max") if s in stats[key]}
    return out


def per_episode_stats(table: Table, key: str) -> dict[str, np.ndarray]:
    """Per-episode min, max and mean of every dimension of a vector feature, each (E, D)."""
    values = table.columns[key].astype(np.float64)
    return {how: segment_reduce(values, table.starts, how) for how in ("min", "max", "mean")}


def episodes_table(table: Table) -> list[dict]:
    """One row per episode: length (frames, seconds), task, path length, and action/state min/max/mean per dim."""
    lengths = episode_lengths(table)
    keys = [k for k in (ACTION, STATE) if k in table.columns]
    per_key = {k: per_episode_stats(table, k) for k in keys}
    paths = path_lengths(table, ACTION) if ACTION in table.columns else np.zeros(len(lengths))
    rows = []
    for i, episode in enumerate(table.episodes.tolist()):
        row = {"episode": episode, "length": int(lengths[i]),
               "seconds": round(float(lengths[i]) / table.fps, 3) if table.fps else None,
               "task": episode_task(table, episode), "action_path_length": round(float(paths[i]), 4)}
        for key in keys:
            short = "action" if key == ACTION else "state"
            for how, values in per_key[key].items():
                row[f"{short}_{how}"] = np.round(values[i], 4).tolist()
        rows.append(row)
    return rows
