"""Do a dataset's files agree with each other? info.json totals, meta/episodes, frame indices, tasks, stats.json and
the video files, each against the parquet data; and will they still load elsewhere (no links, no absolute paths). Video is checked from the container metadata; only the last frame
each file must hold is decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.analysis.checks import finding
from lerobot_notebook_pipeline.analysis.stats import (
    Table,
    camera_keys,
    feature_names,
    read_columns,
    read_episodes_meta,
    row_range,
    video_file,
)

STATS_TOLERANCE = 0.05  # mean and std may differ by this fraction of the data's std, min and max by 1% of the range


def data_episode_lengths(root: str | Path) -> dict[int, int]:
    """Frames per episode over every parquet file of the dataset (reads only the episode_index column)."""
    column = read_columns(root, ["episode_index"]).get("episode_index", np.zeros(0))
    episodes, counts = np.unique(np.asarray(column, dtype=np.int64).reshape(-1), return_counts=True)
    return {int(e): int(n) for e, n in zip(episodes, counts, strict=True)}


def check_info_totals(table: Table) -> list[dict]:
    """info.json's total_frames and total_episodes, and meta/episodes' lengths, against the parquet data."""
    lengths = data_episode_lengths(table.root)
    meta = read_episodes_meta(table.root)
    out = []
    frames, episodes = sum(lengths.values()), len(lengths)
    if int(table.info.get("total_frames", frames)) != frames:
        out.append(finding("metadata", "error", f"meta/info.json says total_frames {table.info['total_frames']}, but the "
                           f"parquet files hold {frames} frames: the metadata was not updated after an edit or a crash; "
                           "rewrite it, or re-create the dataset with lerobot-edit-dataset"))
    if int(table.info.get("total_episodes", episodes)) != episodes:
        out.append(finding("metadata", "error", f"meta/info.json says total_episodes {table.info['total_episodes']}, but "
                           f"the parquet files hold {episodes} episodes"))
    if "total_tasks" in table.info and table.tasks and int(table.info["total_tasks"]) != len(table.tasks):
        out.append(finding("metadata", "error", f"meta/info.json says total_tasks {table.info['total_tasks']}, but "
                           f"meta/tasks holds {len(table.tasks)} task(s): set total_tasks to {len(table.tasks)}"))
    for episode, row in sorted(meta.items()):
        listed = row.get("length")
        if episode not in lengths:
            out.append(finding("metadata", "error", "listed in meta/episodes but has no frames in data/: a data file is "
                               "missing or was cut short", episode))
        elif listed is not None and int(listed) != lengths[episode]:
            out.append(finding("metadata", "error", f"meta/episodes says {int(listed)} frames, the parquet holds "
                               f"{lengths[episode]}: lerobot will pair frames of the wrong episodes", episode))
    for episode in sorted(set(lengths) - set(meta)) if meta else []:
        out.append(finding("metadata", "error", "has frames in data/ but no row in meta/episodes: lerobot cannot load it",
                           episode))
    return out


def check_indices(table: Table) -> list[dict]:
    """frame_index must count 0..n-1 in every episode, and index must run on without gaps from the episode's first."""
    out = []
    for episode in table.episodes.tolist():
        rows = row_range(table, episode)
        n = rows.stop - rows.start
        if "frame_index" in table.columns:
            frame_index = table.columns["frame_index"][rows].astype(np.int64)
            bad = np.flatnonzero(frame_index != np.arange(n))
            if len(bad):
                out.append(finding("indices", "error", f"frame_index does not count 0..{n - 1} ({len(bad)} frame(s) off, "
                                   f"the first reads {frame_index[bad[0]]}): frames are missing, repeated or out of order",
                                   episode, bad[0]))
                continue
        if "index" in table.columns:
            index = table.columns["index"][rows].astype(np.int64)
            first = table.meta.get(episode, {}).get("dataset_from_index", index[0] if n else 0)
            bad = np.flatnonzero(index != int(first) + np.arange(n))
            if len(bad):
                out.append(finding("indices", "error", f"the global index jumps (frame {bad[0]} reads {index[bad[0]]}, "
                                   f"expected {int(first) + bad[0]}): it disagrees with meta/episodes, so dataset[i] "
                                   "returns another frame", episode, bad[0]))
    return out


def check_tasks(table: Table) -> list[dict]:
    """Every task_index in the data must have its text in meta/tasks."""
    if "task_index" not in table.columns or not table.tasks:
        return []
    unknown = sorted(set(np.unique(table.columns["task_index"]).tolist()) - set(table.tasks))
    return [finding("metadata", "error", f"task_index {', '.join(map(str, unknown[:5]))} appear in the data but not in "
                    "meta/tasks: language-conditioned policies get no instruction for those frames")] if unknown else []


def stats_disagreements(stored: dict, values: np.ndarray, tolerance: float = STATS_TOLERANCE) -> list[tuple[str, int, float, float]]:
    """(statistic, dim, stored, actual) for each of mean/std/min/max in stats.json that does not match the values."""
    values = values.astype(np.float64)
    actual = {"mean": values.mean(0), "std": values.std(0), "min": values.min(0), "max": values.max(0)}
    span = actual["max"] - actual["min"]
    scale = np.maximum(actual["std"], 1e-6)
    out = []
    for name, real in actual.items():
        if name not in stored:
            continue
        saved = np.asarray(stored[name], dtype=np.float64).reshape(-1)
        if saved.shape != real.shape:
            out.append((name, -1, float(len(saved)), float(len(real))))
            continue
        limit = tolerance * scale if name in ("mean", "std") else 0.01 * span + 1e-6
        out += [(name, int(d), float(saved[d]), float(real[d])) for d in np.flatnonzero(np.abs(saved - real) > limit)]
    return out


def check_stats_json(table: Table, stats_json: dict | None) -> list[dict]:
    """meta/stats.json (what training normalises with) against the data; only when every episode is loaded."""
    if not stats_json or len(table.episodes) != len(data_episode_lengths(table.root)):
        return []
    out = []
    for key, values in table.columns.items():
        if key not in stats_json or values.ndim != 2 or not np.issubdtype(values.dtype, np.floating):
            continue
        bad = stats_disagreements(stats_json[key], values[np.isfinite(values).all(axis=1)])
        if bad:
            name, d, saved, real = bad[0]
            where = "its size" if d < 0 else f"{name} of {feature_names(table.info, key)[d]}"
            out.append(finding("stats_json", "warn", f"meta/stats.json disagrees with the data for '{key}' in {len(bad)} "
                               f"number(s), e.g. {where}: {saved:.4g} stored, {real:.4g} in the data. Training normalises "
                               "with the stored numbers; recompute them: lerobot-edit-dataset --repo_id REPO --root ROOT "
                               "--operation.type recompute_stats"))
    return out


def check_stats_file(root: str | Path) -> list[dict]:
    """A missing, broken or non-finite meta/stats.json: training normalises with it."""
    problem = preflight.stats_file_problem(root)
    if problem is None:
        return []
    return [finding("stats_json", "error", f"{problem}: training normalises inputs and actions with these numbers. "
                    "train.py computes them from the data instead; lerobot-train needs the file: delete it and "
                    "recompute it with lerobot-edit-dataset --repo_id REPO --root ROOT --operation.type recompute_stats")]


def video_facts(path: Path) -> dict:
    """Container metadata of a video file: frames (0 when unknown), duration in s, fps, width, height."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
        return {"frames": int(stream.frames or 0), "duration": duration, "fps": float(stream.average_rate or 0),
                "width": int(stream.codec_context.width), "height": int(stream.codec_context.height)}


def last_frame_time(path: Path, wanted: float) -> float | None:
    """Time of the first frame at or after `wanted` seconds (decoding from the keyframe before it), else of the last frame."""
    import av

    last = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(wanted - 1.0, 0) / stream.time_base), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            last = frame.time
            if frame.time is not None and frame.time >= wanted:
                break
    return last


def episode_spans(table: Table, camera: str) -> dict[Path, list[tuple[int, float, float, int]]]:
    """Video file -> (episode, from s, to s, frames) of every episode stored in it."""
    lengths = table.ends - table.starts
    spans = {}
    for episode, n in zip(table.episodes.tolist(), lengths.tolist(), strict=True):
        path = video_file(table, camera, episode)
        if path is None:
            continue
        row = table.meta.get(episode, {})
        start = float(row.get(f"videos/{camera}/from_timestamp", 0.0))
        stop = float(row.get(f"videos/{camera}/to_timestamp", start + n / table.fps))
        spans.setdefault(path, []).append((episode, start, stop, n))
    return spans


def check_video_file(table: Table, camera: str, path: Path, spans: list[tuple[int, float, float, int]]) -> list[dict]:
    """One video file against the episodes it should hold: frame count, resolution, fps, and its last needed frame."""
    ft = table.info["features"][camera]
    name = f"'{camera}' video {path.relative_to(table.root)}"
    try:
        facts = video_facts(path)
        end = max(stop for _, _, stop, _ in spans)
        last = last_frame_time(path, end - 1.5 / table.fps)
    except Exception as err:  # PyAV raises many kinds of errors on a damaged file
        return [finding("video", "error", f"{name} cannot be read ({type(err).__name__}: {str(err)[:100]}): re-encode "
                        "or re-record it", e) for e, *_ in spans]
    out = []
    height, width = (ft["shape"][1], ft["shape"][2]) if list(ft.get("names") or [])[:1] == ["channels"] else ft["shape"][:2]
    if (facts["height"], facts["width"]) != (int(height), int(width)):
        out.append(finding("video", "error", f"{name} is {facts['width']}x{facts['height']}, info.json says {width}x{height}"))
    if facts["fps"] and abs(facts["fps"] - table.fps) > 0.01 * table.fps:
        out.append(finding("video", "warn", f"{name} plays at {facts['fps']:g} fps, the dataset at {table.fps:g} fps"))
    short = [(e, round((stop - start) * table.fps), n) for e, start, stop, n in spans
             if round((stop - start) * table.fps) != n]
    out += [finding("video", "error", f"{name} holds {held} frames for this episode (its span in meta/episodes), the "
                    f"parquet {n}: frames were dropped (lerobot's streaming encoder drops frames when it cannot keep up), "
                    "so images and actions are paired wrongly", e)
            for e, held, n in short]
    expected = sum(n for *_, n in spans)  # a v3.0 file may hold more episodes than the ones analysed
    if not short and facts["frames"] and (facts["frames"] < expected or (len(spans) == 1 and facts["frames"] != expected)):
        out.append(finding("video", "error", f"{name} holds {facts['frames']} frames, the parquet {expected}: frames and "
                           "actions will be paired wrongly", spans[-1][0]))
    reached = -1.0 if last is None else last
    for episode, _, stop, _ in spans:
        if reached < stop - 1.5 / table.fps:
            out.append(finding("video", "error", f"{name} ends at {max(reached, 0):.2f} s, but this episode needs frames up "
                               f"to {stop:.2f} s: the file is cut short or its frames fail to decode", episode))
    return out


def check_videos(table: Table) -> list[dict]:
    """Every existing video file of every camera (missing files are check_missing_videos' job)."""
    out = []
    for camera in camera_keys(table.info):
        for path, spans in episode_spans(table, camera).items():
            if path.is_file():
                out += check_video_file(table, camera, path, spans)
    return out


def check_portability(table: Table) -> list[dict]:
    """Symbolic links inside the dataset folder and absolute paths in info.json: fine here, broken on another machine
    or on the hub."""
    links = sorted(str(p.relative_to(table.root)) for p in table.root.rglob("*") if p.is_symlink())
    out = [finding("portability", "warn", f"{len(links)} symbolic link(s) inside the dataset ({', '.join(links[:3])}): a "
                   "copy or a hub upload loses what they point to; replace them with the files")] if links else []
    absolute = [k for k in ("data_path", "video_path") if str(table.info.get(k) or "").startswith("/")]
    if absolute:
        out.append(finding("portability", "warn", f"meta/info.json has absolute {' and '.join(absolute)}: the dataset "
                           "only loads on this machine; make them relative to the dataset folder"))
    return out


def run_consistency_checks(table: Table, stats_json: dict | None) -> list[dict]:
    """Every check above: metadata, indices, tasks, stats.json and video files against the parquet data."""
    return (check_info_totals(table) + check_indices(table) + check_tasks(table) + check_stats_json(table, stats_json)
            + check_videos(table) + check_portability(table))
