"""A study's finished evaluations kept beside its results, so that it resumes on a fresh machine.

The step cache (outputs/experiments/<study>) holds datasets and checkpoints, which are never committed. What the
results need from a finished point is small: the done markers of its training and evaluations, train.py's
summary.json and visualize_policy.py's metrics.json. Each finished point's are kept in RESULTS_DIR/steps/KIND/KEY.json
(committed with the results); a run on a machine without the cache puts them back, so finished points are not
trained and evaluated again. Recordings are not kept: they are deterministic and take minutes to redo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lerobot_notebook_pipeline.files import write_json
from lerobot_notebook_pipeline.studies.cache import Step

KEPT_FILES = {"train": ("summary.json",), "rollout": ("metrics.json",), "baseline": ("metrics.json",)}
RESTORED = "RESTORED"  # in a step folder put back from the kept files (a training's has no checkpoint)
STUDY_FILE = "study.txt"  # in RESULTS_DIR/steps: which study kept them (a results folder holds one study's)


def kept_path(folder: Path, step: Step) -> Path:
    """Where a step's markers and small files are kept under a results folder."""
    return Path(folder) / "steps" / step.kind / f"{step.key}.json"


def evaluations(steps: dict) -> list[Step]:
    """A point's rollouts and nearest-demo replays (runner.point_steps)."""
    return [*steps["rollouts"].values(), *steps["baselines"].values()]


def keep_step(step: Step, folder: Path) -> bool:
    """Keep a finished step's done marker and small files under folder; False when it has not finished."""
    marker = step.done()
    if marker is None:
        return False
    files = {name: json.loads((step.out / name).read_text()) for name in KEPT_FILES[step.kind]
             if (step.out / name).is_file()}
    write_json(kept_path(folder, step), {"marker": marker, "files": files})
    return True


def keep_point(steps: dict, folder: Path, study: str) -> int:
    """Keep a point's training and evaluations once all its evaluations have finished; return how many were kept."""
    if not all(step.done() for step in evaluations(steps)):
        return 0
    (Path(folder) / "steps").mkdir(parents=True, exist_ok=True)
    (Path(folder) / "steps" / STUDY_FILE).write_text(study + "\n")
    return sum(keep_step(step, folder) for step in [steps["train"], *evaluations(steps)])


def kept_study(folder: Path) -> str | None:
    """The study whose steps a results folder keeps (None when it keeps none)."""
    path = Path(folder) / "steps" / STUDY_FILE
    return path.read_text().strip() if path.is_file() else None


def restore_step(step: Step, folder: Path) -> bool:
    """Put a kept step back into the cache when the cache lacks it; False when there is nothing to put back."""
    path = kept_path(folder, step)
    if step.done() is not None or not path.is_file():
        return False
    kept = json.loads(path.read_text())
    step.out.mkdir(parents=True, exist_ok=True)
    for name, content in kept["files"].items():
        write_json(step.out / name, content)
    (step.out / RESTORED).write_text(f"put back from {path}; the outputs beyond these files were not kept\n")
    write_json(step.marker, kept["marker"])
    return True


def restorable(steps: dict, folder: Path) -> list[Step]:
    """The kept steps of a point that restore_point would put back: none unless every evaluation is kept (a training
    without its checkpoint cannot evaluate more)."""
    if not all(step.done() or kept_path(folder, step).is_file() for step in evaluations(steps)):
        return []
    return [step for step in [steps["train"], *evaluations(steps)] if step.done() is None and kept_path(folder, step).is_file()]


def restore_point(steps: dict, folder: Path) -> int:
    """Put back a point's kept training and evaluations (restorable); return how many steps were put back."""
    return sum(restore_step(step, folder) for step in restorable(steps, folder))


def forget_restored_training(train: Step) -> bool:
    """Drop a training put back without its checkpoint, so that it trains again for an evaluation still to run."""
    if train.done() is None or not (train.out / RESTORED).is_file():
        return False
    train.marker.unlink()
    shutil.rmtree(train.out)
    return True
