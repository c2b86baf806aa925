"""make_sim_dataset.py end to end: a tiny real dataset, reloaded by lerobot, deterministic, with clean errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, inline_images, run_notebook
from lerobot_notebook_pipeline.files import MARKER

TINY = ["--episodes", "2", "--image-size", "48", "64", "--episode-length", "100", "--seed", "3"]


def run_script(*args, timeout=240):
    return subprocess.run([sys.executable, str(ROOT / "make_sim_dataset.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=timeout)


def parquet_frame(root):
    files = sorted((root / "data").rglob("*.parquet"))
    assert files, f"no parquet data under {root}"
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One CLI run in 2 worker processes (shards merged by lerobot's aggregate_datasets)."""
    root = tmp_path_factory.mktemp("sim") / "transfer_cube"
    proc = run_script("--root", root, "--num-workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, proc.stdout


def test_dataset_reloads_with_lerobot_shapes_dtypes_fps(recorded):
    import torch

    from lerobot_notebook_pipeline.data import open_dataset
    from lerobot_notebook_pipeline.sim.record import STATE_NAMES

    root, _ = recorded
    dataset = open_dataset(root)
    assert dataset.fps == 50 and dataset.num_episodes == 2 and dataset.num_frames == 200
    assert dataset.features["observation.state"]["names"] == STATE_NAMES
    assert tuple(dataset.features["observation.images.top"]["shape"]) == (48, 64, 3)
    item = dataset[199]  # last frame of the second episode: decodes from the video
    assert item["observation.images.top"].shape == (3, 48, 64) and item["observation.images.top"].dtype == torch.float32
    assert 0.0 <= float(item["observation.images.top"].min()) and float(item["observation.images.top"].max()) <= 1.0
    assert item["observation.state"].shape == (14,) and item["observation.state"].dtype == torch.float32
    assert item["action"].shape == (14,) and item["action"].dtype == torch.float32
    assert int(item["episode_index"]) == 1
    assert item["task"].startswith("Pick up the cube")
    assert [int(dataset[i]["episode_index"]) for i in (0, 99, 100, 199)] == [0, 0, 1, 1]
    assert not (root / "images").exists(), "lerobot's scratch image folder should be gone"
    assert sorted(p.name for p in root.parent.iterdir()) == ["transfer_cube"], "temp folders and shards are removed"


def test_kept_attempted_report_and_sim_settings(recorded):
    from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings

    root, stdout = recorded
    settings = read_sim_settings(root)
    assert settings["task"] == "transfer_cube" and settings["image_size"] == [48, 64]
    assert settings["render_quality"] == "fast" and settings["episode_length"] == 100 and settings["fps"] == 50
    assert settings["kept"] == 2 and settings["attempted"] >= 2 and len(settings["episodes"]) == 2
    assert [ep["attempt"] for ep in settings["episodes"]] == [0, 1]
    assert all(ep["max_reward"] == 4.0 for ep in settings["episodes"])
    assert f"kept 2/{settings['attempted']} attempted episodes" in stdout
    assert "frames/s" in stdout and "MB on disk" in stdout and str(root) in stdout
    # the recorded state follows the action: the arm tracks its joint targets within a few degrees
    frame = parquet_frame(root)
    state, action = np.stack(frame["observation.state"]), np.stack(frame["action"])
    arm = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    assert np.abs(state[1:100, arm] - action[:99, arm]).mean() < 0.05


def test_notebook_with_same_args_gives_identical_parquet_data(recorded, tmp_path):
    """Same seed, same data: here the notebook records in one process, the fixture in two shards (worker k tries
    attempts k, k+2, ...); with attempts 0 and 1 both kept, the merged shards hold the same episodes in order."""
    root, _ = recorded
    other = tmp_path / "again"
    nb = run_notebook("make_sim_dataset.ipynb", " ".join(["--root", str(other), *TINY]))
    first, second = parquet_frame(root), parquet_frame(other)
    assert list(first.columns) == list(second.columns) and len(first) == len(second) == 200
    for column in first.columns:
        assert np.array_equal(np.stack(first[column]), np.stack(second[column])), column
    assert inline_images(nb), "the first/last frames and joint plot should be shown inline"


ARM = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]  # ALOHA's arm joints in state and action (the rest are grippers)
HANDOVER = 59  # the left arm re-plans the handover from where the cube is at step round(235 * 100 / 400)


def test_dart_noise_runs_noisy_actions_but_records_the_clean_experts():
    """--dart-noise: the env runs the expert's actions plus seeded noise and the episode keeps the expert's own. The
    labels are a clean run's (ALOHA: the right arm's throughout, the left arm's until it re-plans the handover from
    the cube it sees; SO-101: until it re-aims the place from the held cube), the states stray further from them,
    and the same seed draws the same noise."""
    from lerobot_notebook_pipeline.sim import record, so101_record
    from lerobot_notebook_pipeline.sim.aloha_env import make_env
    from lerobot_notebook_pipeline.sim.aloha_expert import run_episode
    from lerobot_notebook_pipeline.sim.so101_env import make_env as make_so101_env
    from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy

    env = make_env("transfer_cube", image_size=(24, 32), max_steps=100)
    seed = record.attempt_seed(3, 0)
    noisy, again, clean = (record.record_episode(env, "transfer_cube", seed, 100, 0.005, dart_noise=noise)["frames"]
                           for noise in (0.02, 0.02, 0.0))
    labels, states = noisy["action"], noisy["observation.state"]
    assert np.array_equal(labels[:, 7:], clean["action"][:, 7:]) and np.array_equal(labels[:HANDOVER], clean["action"][:HANDOVER])
    assert not np.allclose(states[:HANDOVER], clean["observation.state"][:HANDOVER])  # it ran other actions
    strayed = np.abs(states[1:, ARM] - labels[:-1, ARM]).mean()
    tracked = np.abs(clean["observation.state"][1:, ARM] - clean["action"][:-1, ARM]).mean()
    assert strayed > 1.3 * tracked, (strayed, tracked)
    assert all(np.array_equal(noisy[key], again[key]) for key in noisy)
    other = run_episode(env, record.make_policy(env, "transfer_cube", 100, 0.005, seed), seed,
                        execute=record.dart_executor(0.02, seed + 1))
    assert not np.allclose(other[1], states)
    env = make_so101_env(image_size=(24, 32), max_steps=120)
    seed = 1576890651  # attempt 0 of --seed 3: the noisy pick and place still succeeds
    noisy = so101_record.record_episode(env, seed, 120, 0.005, dart_noise=0.5)["frames"]
    clean = so101_record.record_episode(env, seed, 120, 0.005)["frames"]
    carry = int(PickPlacePolicy(env, 120).at("lift"))  # the re-aim reads the held cube here
    assert np.array_equal(noisy["action"][:carry], clean["action"][:carry])
    assert not np.allclose(noisy["observation.state"], clean["observation.state"], atol=0.05)


def test_existing_root_needs_overwrite_and_is_left_untouched(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / ".lnp-output").touch()  # an earlier dataset of ours
    (root / "precious.txt").write_text("keep me")
    proc = run_script("--root", root, *TINY)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--overwrite" in lines[0], proc.stderr
    assert sorted(p.name for p in root.iterdir()) == [".lnp-output", "precious.txt"]
    assert (root / "precious.txt").read_text() == "keep me"


def test_unknown_task_is_a_one_line_error_and_writes_nothing(tmp_path):
    root = tmp_path / "never"
    proc = run_script("--task", "stacking", "--root", root, *TINY)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown task 'stacking'" in lines[0] and "transfer_cube" in lines[0], proc.stderr
    assert not root.exists() and list(tmp_path.iterdir()) == []


def test_help_lists_the_knobs():
    proc = run_script("--help", timeout=60)
    assert proc.returncode == 0
    for flag in ("--task", "--episodes", "--root", "--image-size", "--episode-length", "--render-quality", "--cube-pose",
                 "--pose-range", "--waypoint-noise", "--dart-noise", "--max-attempts", "--num-workers", "--overwrite"):
        assert flag in proc.stdout



def test_failed_run_with_overwrite_keeps_the_old_dataset_and_leaves_no_temp(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    (root / ".lnp-output").touch()  # an earlier dataset of ours, so --overwrite may replace it
    (root / "precious.txt").write_text("keep me")
    # 20-step episodes are far too short for the script: nothing is kept, so nothing may be replaced
    proc = run_script("--root", root, "--overwrite", "--episodes", "1", "--episode-length", "20", "--max-attempts", "1",
                      "--image-size", "24", "32")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: no scripted transfer_cube episode reached the max reward in 1 "
                                          "attempts: --episode-length 20 is too short"), proc.stderr
    assert (root / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


@pytest.mark.parametrize("workers,sig", [(2, signal.SIGTERM), (1, signal.SIGTERM), (2, signal.SIGINT)])
def test_stopped_recording_leaves_no_files_no_processes_and_one_line(tmp_path, workers, sig):
    """SIGTERM or Ctrl-C while recording (over an earlier dataset, with --overwrite): the earlier dataset stays as it
    was, no temporary folder or shard is left beside --root, no worker keeps running, and stderr ends in one line."""
    import psutil

    root = tmp_path / "ds"
    root.mkdir()
    (root / MARKER).touch()
    (root / "earlier.txt").write_text("the earlier dataset")
    proc = subprocess.Popen([sys.executable, str(ROOT / "make_sim_dataset.py"), "--root", str(root), "--overwrite",
                             "--episodes", "20", "--episode-length", "60", "--image-size", "48", "64",
                             "--num-workers", str(workers)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while [p.name for p in tmp_path.iterdir()] == ["ds"]:  # a hidden temp folder (or the shards) beside it: recording
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    time.sleep(1.5)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= (workers if workers > 1 else 0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in err, err[-3000:]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and "stopped by" in errors[0], err[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert sorted(p.name for p in root.iterdir()) == [MARKER, "earlier.txt"]
    assert (root / "earlier.txt").read_text() == "the earlier dataset"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {alive}"
