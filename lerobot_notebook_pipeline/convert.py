"""Convert a v2.1 LeRobotDataset (per-episode parquet, meta/*.jsonl) into a local v3.0 copy with lerobot's own converter."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError, log

LEGACY_FILES = ("meta/info.json", "meta/episodes.jsonl", "meta/tasks.jsonl", "meta/episodes_stats.jsonl")


def dataset_version(root: str | Path) -> str:
    """codebase_version from meta/info.json ('?' when absent)."""
    return str(json.loads((Path(root) / "meta" / "info.json").read_text()).get("codebase_version", "?"))


def is_v30(root: str | Path) -> bool:
    """True when root holds a v3.x dataset."""
    path = Path(root) / "meta" / "info.json"
    return path.is_file() and dataset_version(root).startswith("v3")


def conversion_problems(src_root: str | Path) -> list[str]:
    """Why lerobot's v2.1 -> v3.0 converter cannot take this folder (empty when it can)."""
    src = Path(src_root)
    missing = [name for name in LEGACY_FILES if not (src / name).is_file()]
    if "meta/info.json" in missing:
        return ["meta/info.json is missing"]
    problems = [f"{name} is missing" for name in missing]
    version = dataset_version(src)
    if version != "v2.1":
        problems.insert(0, f"it is a {version} dataset and the converter reads v2.1 only")
    info = json.loads((src / "meta" / "info.json").read_text())
    if not any((src / "data").glob("*/*.parquet")):
        problems.append("data/chunk-*/episode_*.parquet files are missing")
    episodes = sum(1 for line in (src / "meta" / "episodes.jsonl").read_text().splitlines() if line.strip()) \
        if (src / "meta" / "episodes.jsonl").is_file() else 0
    for key, ft in info.get("features", {}).items():
        if ft.get("dtype") == "video":
            found = len(list((src / "videos").glob(f"*/{key}/*.mp4")))
            if found != episodes:
                problems.append(f"{found} of {episodes} videos of '{key}' are present (the converter needs all of them)")
    return problems


def convert_to_v30(src_root: str | Path, dst_root: str | Path, overwrite: bool = False) -> Path:
    """Write a v3.0 copy of the v2.1 dataset at src_root to dst_root (src is left untouched) and return dst_root."""
    from lerobot.datasets.utils import DEFAULT_DATA_FILE_SIZE_IN_MB, DEFAULT_VIDEO_FILE_SIZE_IN_MB
    from lerobot.scripts import convert_dataset_v21_to_v30 as v30

    src, dst = Path(src_root), Path(dst_root)
    if not (src / "meta" / "info.json").is_file():
        raise UserError(f"'{src}' has no meta/info.json, so it is not a LeRobotDataset: pass the dataset's root folder")
    problems = conversion_problems(src)
    if problems:
        raise UserError(f"cannot convert '{src}' to v3.0: {'; '.join(problems)}. Fix the dataset, or convert it "
                        "with the lerobot version that wrote it")
    if dst.exists() and any(dst.iterdir()):
        if not overwrite:
            raise UserError(f"'{dst}' already exists: pass --overwrite to convert again, or use it as it is")
        shutil.rmtree(dst)
    work = dst.parent / f".{dst.name}.converting"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log.info("converting %s (v2.1) to v3.0 in %s", src, dst)
    try:
        v30.convert_info(src, work, DEFAULT_DATA_FILE_SIZE_IN_MB, DEFAULT_VIDEO_FILE_SIZE_IN_MB)
        v30.convert_tasks(src, work)
        episodes_meta = v30.convert_data(src, work, DEFAULT_DATA_FILE_SIZE_IN_MB)
        videos_meta = v30.convert_videos(src, work, DEFAULT_VIDEO_FILE_SIZE_IN_MB)
        v30.convert_episodes_metadata(src, work, episodes_meta, videos_meta)
    except Exception as err:
        shutil.rmtree(work, ignore_errors=True)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"lerobot's converter could not convert '{src}' to v3.0 ({reason[:200]}): check that the "
                        "dataset is a complete v2.1 dataset") from None
    if dst.exists():
        dst.rmdir()
    os.replace(work, dst)
    return dst


def v30_root(src_root: str | Path, cache_dir: str | Path = "outputs/datasets", overwrite: bool = False) -> tuple[Path, bool]:
    """The dataset itself when it is v3.0, else its converted copy in cache_dir (made once, then reused); and whether it was converted."""
    src = Path(src_root)
    if is_v30(src):
        return src, False
    dst = Path(cache_dir) / f"{src.name}_v30"
    if is_v30(dst) and not overwrite:
        log.info("using the v3.0 copy converted earlier: %s", dst)
        return dst, True
    return convert_to_v30(src, dst, overwrite=overwrite), True
