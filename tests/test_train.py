"""train.py end to end on a tiny synthetic dataset: ACT, Diffusion and SmolVLA train, checkpoints reload to
identical actions, --resume continues exactly, SIGTERM leaves a loadable checkpoint, splits stay disjoint."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, inline_images, run_notebook, run_script
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset
from lerobot_notebook_pipeline.training import loop
from lerobot_notebook_pipeline.training.policies import load_policy

TRAIN = ROOT / "train.py"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "tiny", num_episodes=4, length=30, dim=6)


def run_train(*argv) -> dict:
    """Run train.py in this process (saves the import time of a subprocess); return its globals."""
    torch.set_num_threads(1)
    return run_script(TRAIN, *argv).globals


def same_input(dataset_root, pre):
    """One preprocessed observation batch from the dataset's first frames."""
    from lerobot_notebook_pipeline.data import open_dataset

    ds = open_dataset(dataset_root)
    raw = torch.utils.data.default_collate([ds[i] for i in (0, 5)])
    return pre({k: v for k, v in raw.items() if k.startswith("observation") or k == "task"})


@pytest.fixture(scope="module")
def act_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "act"
    g = run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--steps", 4, "--save-every", 4,
                  "--val-episodes", 3, "--val-every", 4, "--output-dir", out, "--log-every", 1)
    return out, g


def test_act_checkpoint_layout_and_reload_gives_identical_actions(act_run, dataset):
    out, g = act_run
    last = out / "checkpoints" / "last"
    assert last.is_symlink() and os.readlink(last) == "000004"
    pretrained = last / "pretrained_model"
    for name in ("config.json", "model.safetensors", "policy_preprocessor.json", "policy_postprocessor.json"):
        assert (pretrained / name).is_file(), name
    state = last / "training_state"
    assert json.loads((state / "training_step.json").read_text())["step"] == 4
    assert (state / "optimizer_state.safetensors").is_file() and (state / "rng_state.safetensors").is_file()
    assert not list((out / "checkpoints").glob(".tmp-*")), "temp folders must be renamed away"

    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    reloaded = ACTPolicy.from_pretrained(str(pretrained)).eval()
    pre, post = make_pre_post_processors(reloaded.config, pretrained_path=str(pretrained))
    batch = same_input(dataset, pre)
    ours = g["postprocessor"](g["policy"].eval().predict_action_chunk(batch))
    theirs = post(reloaded.predict_action_chunk(batch))
    assert ours.shape == (2, 10, 6)
    assert torch.equal(ours, theirs)

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    val = [r for r in rows if "val_action_mae" in r]
    assert len(val) == 1 and len(val[0]["val_action_mae_per_joint"]) == 6 and val[0]["val_action_mae"] > 0
    assert (out / "loss_curve.png").stat().st_size > 1000
    assert (out / "checkpoints" / "best" / "pretrained_model" / "model.safetensors").is_file()


def test_resume_continues_exactly_where_it_stopped(act_run, dataset, tmp_path):
    out, _ = act_run
    resumed = run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--steps", 6, "--save-every", 6,
                        "--val-episodes", 3, "--val-every", 100, "--output-dir", out, "--resume", "--log-every", 1)
    assert resumed["start_step"] == 4 and resumed["step"] == 6
    assert os.readlink(out / "checkpoints" / "last") == "000006"
    straight = run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--steps", 6, "--save-every", 6,
                         "--val-episodes", 3, "--val-every", 100, "--output-dir", tmp_path / "straight", "--log-every", 1)
    for (name, a), b in zip(resumed["policy"].state_dict().items(), straight["policy"].state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), f"{name} differs between resumed and uninterrupted runs"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("policy", ["diffusion", "smolvla"])
def test_diffusion_and_smolvla_train_and_reload(policy, dataset, tmp_path):
    out = tmp_path / policy
    wandb = ["--wandb"] if policy == "smolvla" else []
    no_cache = ["--no-cache-frames", "--num-workers", 0] if policy == "diffusion" else []  # lerobot's DataLoader path
    g = run_train("--dataset", dataset, "--policy", policy, "--preset", "tiny", "--steps", 2, "--val-episodes", 3,
                  "--output-dir", out, "--log-every", 1, "--image-noise-std", 0.02, "--action-noise-std", 0.1,
                  "--image-transforms", "brightness,shadow,gamma", *wandb, *no_cache)
    assert (out / "augmentation_preview.png").stat().st_size > 0
    assert g["step"] == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in g["metrics"].rows() if "loss" in r)
    if wandb:  # offline here (no key), and no model files handed to wandb without --wandb-log-model
        runs = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(runs) == 1 and runs[0].stat().st_size > 0
        assert b"model.safetensors" not in runs[0].read_bytes(), "no model artifact without --wandb-log-model"
        assert not list((out / "wandb").rglob("*.safetensors"))
    policy_obj, pre, post = load_policy(out / "checkpoints" / "last" / "pretrained_model")
    assert policy_obj.config.type == policy
    raw = g["val_cache"].batch([0, 1])
    batch = pre({k: v for k, v in raw.items() if k.startswith("observation") or k == "task"})
    chunk, start = loop.predict_chunk(policy_obj, batch)
    assert post(chunk).shape[-1] == 6 and torch.isfinite(chunk).all()


def test_one_episode_and_disjoint_validation(dataset, tmp_path):
    g = run_train("--dataset", dataset, "--policy", "smolvla", "--preset", "tiny", "--steps", 1, "--episodes", 0,
                  "--val-episodes", "1,2", "--output-dir", tmp_path / "one")
    assert g["train_cache"].episodes == [0] and len(g["train_cache"]) == 30
    assert g["val_cache"].episodes == [1, 2]
    assert json.loads((tmp_path / "one" / "split.json").read_text()) == {"train": [0], "val": [1, 2]}
    g = run_train("--dataset", dataset, "--policy", "smolvla", "--preset", "tiny", "--steps", 1, "--val-fraction", 0.5,
                  "--output-dir", tmp_path / "frac", "--seed", 3)
    assert len(g["val_episodes"]) == 2 and not set(g["train_episodes"]) & set(g["val_episodes"])
    assert sorted(g["train_episodes"] + g["val_episodes"]) == [0, 1, 2, 3]
    assert not set(g["train_cache"].store["episode_index"].tolist()) & set(g["val_episodes"])


def test_existing_run_needs_resume_or_overwrite_and_bad_overrides_are_errors(dataset, act_run, tmp_path):
    out, _ = act_run
    with pytest.raises(UserError, match="--resume"):
        run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--output-dir", out)
    with pytest.raises(UserError, match="chunk_size"):
        run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--output-dir", tmp_path / "x",
                  "--set", "chunk_sise=5")
    with pytest.raises(UserError, match="episode 9 does not exist"):
        run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--output-dir", tmp_path / "y",
                  "--episodes", 9)
    with pytest.raises(UserError, match="nothing to resume"):
        run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--output-dir", tmp_path / "z", "--resume")


def test_non_finite_loss_stops_with_a_clear_message(dataset, tmp_path):
    with pytest.raises(UserError, match="loss became inf at step 1; no checkpoint was written yet"):
        run_train("--dataset", dataset, "--policy", "act", "--preset", "tiny", "--steps", 3, "--val-fraction", 0,
                  "--output-dir", tmp_path / "inf", "--set", "kl_weight=inf")
    assert not (tmp_path / "inf" / "checkpoints").exists()


def test_bad_dataset_exits_2_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, str(TRAIN), "--dataset", str(tmp_path / "missing"), "--policy", "act"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in out.stderr


def test_sigterm_saves_a_loadable_checkpoint(dataset, tmp_path):
    out = tmp_path / "term"
    proc = subprocess.Popen([sys.executable, str(TRAIN), "--dataset", str(dataset), "--policy", "smolvla", "--preset",
                             "tiny", "--steps", "100000", "--save-every", "100000", "--val-fraction", "0",
                             "--log-every", "1", "--output-dir", str(out)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and not (out / "metrics.jsonl").is_file():
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, stdout[-2000:]  # stopped before the end: one line says what was kept
    assert "error: stopped by SIGTERM before the end; the last checkpoint is step" in stdout and "--resume" in stdout
    last = out / "checkpoints" / "last"
    step = json.loads((last / "training_state" / "training_step.json").read_text())["step"]
    assert 0 < step < 100000
    policy, _, _ = load_policy(last / "pretrained_model")
    assert policy.config.type == "smolvla"


def test_two_processes_under_torchrun_train_one_run(dataset, tmp_path):
    out = tmp_path / "ddp"
    cmd = [str(ROOT / ".venv" / "bin" / "torchrun"), "--nproc_per_node", "2", str(TRAIN), "--dataset", str(dataset),
           "--policy", "smolvla", "--preset", "tiny", "--steps", "2", "--device", "cpu", "--val-fraction", "0",
           "--log-every", "1", "--output-dir", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2], "only the main process writes metrics"
    policy, _, _ = load_policy(out / "checkpoints" / "last" / "pretrained_model")
    assert policy.config.type == "smolvla"


def test_notebook_runs_headless_with_tiny_preset(dataset, tmp_path, monkeypatch):
    nb = run_notebook("train.ipynb", f"--dataset {dataset} --policy smolvla --preset tiny --steps 2 --val-episodes 3 "
                                     f"--output-dir {tmp_path / 'nb'} --time-budget-min 5",
                      timeout=180, OMP_NUM_THREADS="1")  # shared CPU cores: extra threads only spin
    summary = json.loads((tmp_path / "nb" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["policy"] == "smolvla"
    assert inline_images(nb), "the loss curve should be shown inline"
