"""Checks of the user's files before any work: datasets and checkpoints that are damaged, truncated or incomplete.

Each check reads only metadata (JSON files, parquet footers, safetensors headers), so it costs milliseconds,
and each problem is one UserError naming the file and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError

DATASET_FIX = "record or download the dataset again"
CHECKPOINT_FIX = "pass another checkpoint, or train again"
SIM_SETTINGS_FIX = "delete it (the sim settings then come from the flags) or record the dataset again"


def json_problem(path: Path) -> str | None:
    """Why path is not a usable JSON object (missing, empty, broken), or None."""
    if not path.is_file():
        return f"'{path}' is missing"
    text = path.read_text(errors="replace")
    if not text.strip():
        return f"'{path}' is empty"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return f"'{path}' is not valid JSON ({err.msg} at line {err.lineno})"
    if not isinstance(value, dict):
        return f"'{path}' holds a JSON {type(value).__name__}, not an object"
    return None


def read_json_file(path: Path, fix: str) -> dict:
    """The JSON object in path, or a one-line UserError saying what is wrong with it and the fix."""
    problem = json_problem(path)
    if problem is not None:
        raise UserError(f"{problem}: {fix}")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------------- datasets


def check_dataset(root: str | Path, videos: bool = False) -> dict:
    """Refuse a local dataset whose metadata or data files are broken (and, with videos, whose videos are missing).

    Returns meta/info.json. Older (v2.1) datasets get the info.json check only; their conversion checks the rest.
    """
    root = Path(root)
    info = read_json_file(root / "meta" / "info.json", DATASET_FIX)
    missing = [key for key in ("codebase_version", "fps", "features", "total_episodes") if key not in info]
    if missing:
        raise UserError(f"'{root / 'meta' / 'info.json'}' lacks {', '.join(missing)}: {DATASET_FIX}")
    if int(info["total_episodes"]) < 1:
        raise UserError(f"'{root}' holds no episodes (total_episodes is 0 in meta/info.json): record some first")
    if (root / "meta" / "sim_settings.json").exists():
        read_json_file(root / "meta" / "sim_settings.json", SIM_SETTINGS_FIX)
    if not str(info["codebase_version"]).startswith("v3"):
        return info
    episodes = episode_rows(root)
    check_data_files(root, info, episodes)
    if videos:
        check_video_files(root, info, episodes)
    return info


def episode_rows(root: Path) -> list[dict]:
    """The rows of meta/episodes/**/*.parquet (file locations only), or a UserError when they cannot be read."""
    import pyarrow.parquet as pq

    files = sorted((root / "meta" / "episodes").glob("**/*.parquet"))
    if not files:
        raise UserError(f"'{root}' has no meta/episodes/*.parquet, so its episodes are unknown: {DATASET_FIX}")
    rows = []
    for file in files:
        try:
            names = [n for n in pq.read_schema(file).names if not n.startswith("stats/")]
            rows += pq.read_table(file, columns=names).to_pylist()
        except Exception as err:  # pyarrow raises several types for a truncated or foreign file
            raise UserError(f"cannot read '{file}' ({_first_line(err)}): {DATASET_FIX}") from None
    return rows


def check_data_files(root: Path, info: dict, episodes: list[dict]) -> None:
    """Refuse a dataset whose data/*.parquet files (those meta/episodes names) are missing or truncated."""
    import pyarrow.parquet as pq

    pattern = info.get("data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
    files = sorted({root / pattern.format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
                    for row in episodes if row.get("data/chunk_index") is not None})
    for file in files:
        if not file.is_file():
            holding = [r["episode_index"] for r in episodes if root / pattern.format(
                chunk_index=int(r["data/chunk_index"]), file_index=int(r["data/file_index"])) == file]
            raise UserError(f"'{file}' is missing, so episodes {_span(holding)} have no data: restore that file or "
                            f"{DATASET_FIX}")
        try:
            pq.read_metadata(file)
        except Exception as err:
            raise UserError(f"'{file}' is damaged or truncated ({_first_line(err)}): {DATASET_FIX}") from None


def check_video_files(root: Path, info: dict, episodes: list[dict]) -> None:
    """Refuse a dataset whose camera videos are missing (training and open-loop replay decode them)."""
    pattern = info.get("video_path")
    for key, feature in info["features"].items():
        if feature.get("dtype") != "video" or pattern is None:
            continue
        files = {root / pattern.format(video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                                       file_index=int(row[f"videos/{key}/file_index"]))
                 for row in episodes if row.get(f"videos/{key}/chunk_index") is not None}
        missing = sorted(f for f in files if not f.is_file() or f.stat().st_size == 0)
        if missing or not files:
            where = missing[0] if missing else root / "videos" / key
            raise UserError(f"the videos of camera '{key}' are missing from '{root}' ({len(missing) or 'all'} file(s), "
                            f"e.g. '{where}'): restore the dataset's videos/ folder or {DATASET_FIX}")


# ------------------------------------------------------------------------------------------------- checkpoints


def checkpoint_problem(path: str | Path) -> str | None:
    """What is wrong with a pretrained_model folder (config.json, model.safetensors), or None when it is whole."""
    path = Path(path)
    problem = json_problem(path / "config.json")
    if problem is not None:
        return problem
    if "type" not in json.loads((path / "config.json").read_text()):
        return f"'{path / 'config.json'}' names no policy type"
    problem = safetensors_problem(path / "model.safetensors")
    if problem is None and (path / "policy_preprocessor.json").exists():
        problem = json_problem(path / "policy_preprocessor.json")
    return problem


def check_checkpoint(path: str | Path) -> None:
    """Refuse a pretrained_model folder whose config or weights are broken."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise UserError(f"{problem}: {CHECKPOINT_FIX}")


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file is unusable (missing, truncated, a broken header), or None."""
    if not path.is_file():
        return f"'{path}' is missing"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        header_len = int.from_bytes(head, "little") if len(head) == 8 else -1
        if header_len < 2 or 8 + header_len > size:
            return f"'{path}' is truncated ({size} bytes)"
        try:
            header = json.loads(f.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return f"'{path}' has a broken header"
    ends = [t["data_offsets"][1] for name, t in header.items() if name != "__metadata__" and isinstance(t, dict)]
    expected = 8 + header_len + max(ends, default=0)
    if size < expected:
        return f"'{path}' is truncated ({size} of {expected} bytes)"
    return None


def check_resumable(run_dir: str | Path) -> Path:
    """The checkpoint `checkpoints/last` points to, refused when it is incomplete (naming the previous whole one)."""
    checkpoints = Path(run_dir) / "checkpoints"
    last = checkpoints / "last"
    if not last.exists():
        raise UserError(f"nothing to resume in '{run_dir}' (no checkpoints/last): drop --resume to start a new run")
    target = last.resolve()
    problem = resume_problem(target)
    if problem is None:
        return target
    whole = [p for p in sorted(checkpoints.iterdir(), reverse=True)
             if p.name.isdigit() and p.resolve() != target and resume_problem(p) is None]
    fix = (f"resume from the previous one with 'ln -sfn {whole[0].name} {last}', then --resume again" if whole
           else "no earlier checkpoint is whole: start again with --overwrite")
    raise UserError(f"the last checkpoint '{target}' is incomplete ({problem}): {fix}")


def resume_problem(checkpoint: Path) -> str | None:
    """What keeps a step checkpoint from being resumed (its weights, config or training state), or None."""
    problem = checkpoint_problem(checkpoint / "pretrained_model")
    if problem is not None:
        return problem
    state = checkpoint / "training_state"
    if not state.is_dir() or not any(state.iterdir()):
        return f"'{state}' is missing or empty"
    for file in state.glob("*.safetensors"):
        problem = safetensors_problem(file)
        if problem is not None:
            return problem
    return None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


def _span(indices: list[int]) -> str:
    return ", ".join(map(str, indices[:5])) + (" ..." if len(indices) > 5 else "")
