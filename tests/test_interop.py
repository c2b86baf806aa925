"""Interop with lerobot 0.6 both ways: its checkpoints and datasets work here, ours work in its tools."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_script

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
TINY_ACT = ["--policy.type=act", "--policy.dim_model=32", "--policy.n_heads=2", "--policy.dim_feedforward=64",
            "--policy.n_encoder_layers=1", "--policy.n_decoder_layers=1", "--policy.n_vae_encoder_layers=1",
            "--policy.chunk_size=10", "--policy.n_action_steps=10", "--policy.pretrained_backbone_weights=null"]


def run(cmd, cwd=ROOT, timeout=300):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out


@pytest.fixture(scope="module")
def sim_dataset(tmp_path_factory) -> Path:
    """Two scripted transfer-cube episodes of 60 frames at 48x64, recorded by make_sim_dataset.py."""
    root = tmp_path_factory.mktemp("interop") / "transfer_cube"
    assert run_script("make_sim_dataset.py", "--task", "transfer_cube", "--episodes", 2, "--episode-length", 60,
                      "--image-size", 48, 64, "--root", root).returncode == 0
    return root


def test_lerobot_train_checkpoint_rolls_out_and_replays_here(sim_dataset, tmp_path):
    run([BIN / "lerobot-train", "--dataset.repo_id=local/transfer_cube", f"--dataset.root={sim_dataset}",
         "--dataset.video_backend=pyav", *TINY_ACT, "--policy.device=cpu", "--policy.push_to_hub=false",
         "--batch_size=2", "--steps=2", "--save_freq=2", "--num_workers=0", "--wandb.enable=false",
         f"--output_dir={tmp_path / 'lerobot_run'}"])
    policy = tmp_path / "lerobot_run" / "checkpoints" / "last" / "pretrained_model"
    assert json.loads((policy / "config.json").read_text())["type"] == "act"
    script = ["visualize_policy.py", "--policy-path", policy, "--device", "cpu"]
    assert run_script(*script, "--episodes", 1, "--output-dir", tmp_path / "rollout").returncode == 0
    assert run_script(*script, "--dataset", sim_dataset, "--episode", 1, "--output-dir", tmp_path / "replay").returncode == 0
    metrics = json.loads((tmp_path / "rollout" / "metrics.json").read_text())
    assert len(metrics["per_episode"]) == 1 and "pc_success" in metrics
    replayed = json.loads((tmp_path / "replay" / "metrics.json").read_text())
    assert len(replayed["per_joint_mae"]) == 14 and replayed["frames"] == 60


def test_our_checkpoint_runs_in_lerobot_eval(sim_dataset, tmp_path):
    assert run_script("train.py", "--dataset", sim_dataset, "--policy", "act", "--preset", "tiny", "--steps", 2,
                      "--batch-size", 2, "--output-dir", tmp_path / "run", "--threads", 1).returncode == 0
    policy = tmp_path / "run" / "checkpoints" / "last" / "pretrained_model"
    run([BIN / "lerobot-eval", f"--policy.path={policy}", "--policy.device=cpu", "--env.type=aloha",
         "--env.task=AlohaTransferCube-v0", "--env.episode_length=5", "--eval.n_episodes=1", "--eval.batch_size=1",
         f"--output_dir={tmp_path / 'eval'}"], cwd=tmp_path)
    info = json.loads((tmp_path / "eval" / "eval_info.json").read_text())
    assert info["per_task"][0]["metrics"]["successes"] == [False]


def test_our_dataset_loads_in_lerobot_and_its_tools_write_one_we_analyse(sim_dataset, tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    dataset = LeRobotDataset("local/transfer_cube", root=sim_dataset, video_backend="pyav")
    item = dataset[len(dataset) - 1]
    assert tuple(item["observation.images.top"].shape) == (3, 48, 64) and int(item["episode_index"]) == 1

    edited = tmp_path / "edited"  # written by lerobot 0.6's own dataset tools, not by us
    run([BIN / "lerobot-edit-dataset", "--repo_id", "local/transfer_cube", "--root", sim_dataset,
         "--new_repo_id", "local/edited", "--new_root", edited, "--operation.type", "delete_episodes",
         "--operation.episode_indices", "[0]"])
    assert json.loads((edited / "meta" / "info.json").read_text())["total_episodes"] == 1
    assert run_script("analyse_dataset.py", "--dataset", edited, "--output-dir", tmp_path / "report").returncode == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["summary"]["episodes"] == 1
