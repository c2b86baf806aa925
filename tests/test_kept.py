"""studies/kept.py: a finished point's markers and metrics kept beside the results and put back into an empty cache;
a training put back without its checkpoint is dropped when an evaluation still needs it."""

import json

from lerobot_notebook_pipeline.files import write_json
from lerobot_notebook_pipeline.studies.cache import Step
from lerobot_notebook_pipeline.studies.kept import (
    RESTORED,
    forget_restored_training,
    keep_point,
    kept_path,
    kept_study,
    restorable,
    restore_point,
)


def finished(step: Step, files: dict) -> Step:
    """A step as the cache holds it once done: its folder with files, then its marker."""
    step.out.mkdir(parents=True)
    for name, content in files.items():
        write_json(step.out / name, content)
    write_json(step.marker, {"kind": step.kind, "key": step.key, "seconds": 3.0})
    return step


def point(root, done_rollouts=2):
    """A point's steps: a training, two rollouts and a replay (the first done_rollouts rollouts finished)."""
    train = finished(Step(root, "train", {"seed": 0}), {"summary.json": {"steps": 5}})
    (train.out / "checkpoints").mkdir()  # not kept
    rollouts = {name: Step(root, "rollout", {"train": train.key, "eval": name}) for name in ("a", "b")}
    for step in list(rollouts.values())[:done_rollouts]:
        finished(step, {"metrics.json": {"per_episode": [{"seed": 1, "success": True}]}, "video.mp4": {}})
    replay = finished(Step(root, "baseline", {"eval": "a"}), {"metrics.json": {"per_episode": []}})
    return {"train": train, "rollouts": rollouts, "baselines": {"a": replay}}


def test_a_finished_point_is_kept_and_put_back_into_an_empty_cache(tmp_path):
    steps = point(tmp_path / "cache")
    assert keep_point(steps, tmp_path / "results", "noise") == 4
    kept = json.loads(kept_path(tmp_path / "results", steps["rollouts"]["a"]).read_text())
    assert kept["marker"]["seconds"] == 3.0 and list(kept["files"]) == ["metrics.json"]  # no video, no checkpoint
    fresh = point(tmp_path / "elsewhere", done_rollouts=0)  # the same keys in another cache, nothing evaluated
    for step in [fresh["train"], *fresh["baselines"].values()]:  # an empty cache: nothing at all there
        step.marker.unlink()
    assert len(restorable(fresh, tmp_path / "results")) == 4 and fresh["train"].done() is None  # counted, not put back
    assert restore_point(fresh, tmp_path / "results") == 4
    assert all(s.done() for s in [fresh["train"], *fresh["rollouts"].values()])
    assert json.loads((fresh["rollouts"]["b"].out / "metrics.json").read_text())["per_episode"][0]["success"] is True
    assert (fresh["train"].out / RESTORED).is_file() and restore_point(fresh, tmp_path / "results") == 0  # once
    assert kept_study(tmp_path / "results") == "noise" and kept_study(tmp_path) is None


def test_a_point_with_an_evaluation_to_run_is_neither_kept_nor_put_back(tmp_path):
    steps = point(tmp_path / "cache", done_rollouts=1)
    assert keep_point(steps, tmp_path / "results", "noise") == 0 and not (tmp_path / "results").exists()
    full = point(tmp_path / "other")
    keep_point(full, tmp_path / "results", "noise")
    kept_path(tmp_path / "results", full["rollouts"]["b"]).unlink()  # one evaluation was never kept
    fresh = point(tmp_path / "fresh", done_rollouts=0)
    fresh["train"].marker.unlink()
    assert restore_point(fresh, tmp_path / "results") == 0 and fresh["train"].done() is None


def test_a_restored_training_is_dropped_and_a_real_one_kept(tmp_path):
    real = point(tmp_path / "cache")["train"]
    assert not forget_restored_training(real) and real.done()
    (real.out / RESTORED).write_text("put back\n")
    assert forget_restored_training(real) and real.done() is None and not real.out.exists()
