"""The whole story runs headless with tiny settings, and compare_policies compares two policies on its data."""

import json

import pytest

from conftest import inline_images, run_notebook


def notebook_text(notebook) -> str:
    """Everything the notebook's cells printed."""
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))

TINY = ("--episodes 2 --image-size 48 64 --episode-length 60 --preset tiny --steps 3 --val-fraction 0.5 "
        "--eval-episodes 1 --nearby-radii 0.02 --nearby-episodes 2 --max-mb 2 --num-workers 1")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    out = tmp_path_factory.mktemp("story") / "demo"
    notebook = run_notebook("train_ultimate.ipynb", f"--output-dir {out} {TINY}", timeout=600, OMP_NUM_THREADS="1")
    return out, notebook


def test_story_writes_every_artefact(story):
    out, notebook = story
    assert (out / "dataset" / "meta" / "info.json").is_file()
    report = json.loads((out / "analysis" / "report.json").read_text())
    assert report["summary"]["episodes"] == 2 and report["summary"]["frames"] == 120
    summary = json.loads((out / "train" / "act" / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["train_episodes"] and summary["val_episodes"]
    assert not set(summary["train_episodes"]) & set(summary["val_episodes"])
    rollout = json.loads((out / "rollouts" / "act" / "metrics.json").read_text())
    assert rollout["n_episodes"] == 1 and 0 <= rollout["pc_success"] <= 100
    x, y = rollout["per_episode"][0]["object_pose"][:2]  # drawn from the demonstrations' spread
    assert abs(x - 0.1) <= 0.015 + 1e-9 and abs(y - 0.5) <= 0.015 + 1e-9
    gif = out / "rollouts" / "act" / rollout["media"]["gif"].split("/")[-1]
    assert gif.is_file() and gif.stat().st_size <= 2 * 2**20
    nearby = json.loads((out / "rollouts" / "act_moved_2cm" / "metrics.json").read_text())
    poses = [tuple(e["object_pose"][:2]) for e in nearby["per_episode"]]
    assert len(poses) == 2 and len(set(poses)) == 2
    assert all(abs(((x - 0.1) ** 2 + (y - 0.5) ** 2) ** 0.5 - 0.02) < 1e-4 for x, y in poses)  # on the 2 cm ring
    metrics = json.loads((out / "metrics.json").read_text())
    settings = {row["setting"] for row in metrics["results"]}
    assert settings == {"demo_spread", "moved_2cm"}
    for row in metrics["results"]:  # every success rate carries its count and interval
        assert {"successes", "episodes", "pc_success", "ci95", "distinct_initial_conditions", "stages"} <= set(row)
    assert "succeeded" in notebook_text(notebook) and "furthest stage" in notebook_text(notebook)
    assert "points against the spread (95% CI" in notebook_text(notebook)  # moved starts: an unpaired difference
    assert all(row["inference_hz"] > 0 for row in metrics["results"])
    assert len(inline_images(notebook)) >= 4  # analysis plots, loss curve, rollout GIF


def test_story_refuses_to_overwrite_an_earlier_run(story):
    import subprocess
    import sys

    from conftest import ROOT

    out, _ = story
    result = subprocess.run([sys.executable, "train_ultimate.py", "--output-dir", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--overwrite" in result.stderr and "Traceback" not in result.stderr
    assert (out / "metrics.json").is_file()


def test_compare_policies_on_the_same_split(story, tmp_path):
    out, _ = story
    compare_dir = tmp_path / "compare"
    notebook = run_notebook(
        "compare_policies.ipynb",
        f"--dataset {out / 'dataset'} --policies act,diffusion --preset tiny --steps 2 --val-fraction 0.5 "
        f"--eval-episodes 1 --max-steps 10 --output-dir {compare_dir}", timeout=600, OMP_NUM_THREADS="1")
    result = json.loads((compare_dir / "comparison.json").read_text())
    assert [row["policy"] for row in result["rows"]] == ["act", "diffusion"]
    split = result["split"]
    for policy in ("act", "diffusion"):
        summary = json.loads((compare_dir / policy / "train" / "summary.json").read_text())
        assert summary["val_episodes"] == split["val"] and summary["train_episodes"] == split["train"]
    for row in result["rows"]:
        assert row["parameters_m"] > 0 and row["s_per_step"] > 0 and row["p50_ms"] > 0
        assert len(row["val_action_mae_per_joint"]) == 14
    (paired,) = result["paired"]  # diffusion against act, from the same start
    assert (paired["policy"], paired["against"], paired["pairs"]) == ("diffusion", "act", 1)
    assert paired["ci95_points"][0] <= paired["difference_points"] <= paired["ci95_points"][1]
    table = (compare_dir / "comparison.md").read_text()
    assert table.count("\n") == 4 and "| act |" in table and "| diffusion |" in table
    assert (compare_dir / "comparison.png").stat().st_size > 5000 and inline_images(notebook)
