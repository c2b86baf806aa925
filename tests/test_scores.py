"""Per-episode quality scores from findings, and the printed lerobot-edit-dataset command, checked by running it."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from lerobot_notebook_pipeline.analysis import scores
from lerobot_notebook_pipeline.analysis.checks import finding
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset

FINDINGS = [finding("nan_inf", "error", "NaN", 1, 3), finding("action_jumps", "warn", "jump", 2, 5),
            finding("clipping", "warn", "at max", 2, 9), finding("clipping", "warn", "state too", 2, 9),
            finding("action_jumps", "warn", "jump", 3, 1), finding("stuck_actions", "info", "rest", 4, 20),
            finding("generalisation", "warn", "few", None)]


def test_scores_fall_with_each_distinct_problem():
    s = scores.episode_scores(FINDINGS, range(6))
    assert s == {0: 1.0, 1: 0.4, 2: 0.5625, 3: 0.75, 4: 0.95, 5: 1.0}  # the same check twice counts once
    assert all(0.0 <= v <= 1.0 for v in s.values())
    worst = scores.worst_episodes(s, FINDINGS)
    assert [w["episode"] for w in worst] == [1, 2, 3, 4]
    assert worst[1]["checks"] == ["action_jumps", "clipping"] and worst[3]["checks"] == []
    assert scores.episodes_to_drop(s) == [1, 2]


def test_drop_command_runs_with_lerobot_edit_dataset(tmp_path):
    root = make_synthetic_dataset(tmp_path / "my data", num_episodes=4, length=20, cameras=())
    command = scores.drop_command("local/my_data", root, [1, 3])
    assert command.startswith("lerobot-edit-dataset --repo_id local/my_data --root ")
    assert command.endswith("--operation.type delete_episodes --operation.episode_indices '[1, 3]'")
    binary = str(Path(sys.executable).parent / "lerobot-edit-dataset")
    result = subprocess.run([binary, *shlex.split(command)[1:]], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    clean = tmp_path / "my data_clean"
    assert json.loads((clean / "meta" / "info.json").read_text())["total_episodes"] == 2
    assert json.loads((root / "meta" / "info.json").read_text())["total_episodes"] == 4  # the original is untouched
