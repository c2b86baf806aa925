"""Bad input to every script: exit code 2, one `error:` line on stderr, no traceback, earlier outputs byte-identical.

Each case runs a script in a fresh working folder that holds earlier outputs of ours (marked with `.lnp-output`),
a folder with a .git folder and one with source files; the whole folder is hashed before and after. Almost every
case fails before the slow imports, so the table runs in well under a minute.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from lerobot_notebook_pipeline.files import MARKER


def run(script: str, args: list[str], cwd: Path, home: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HOME": str(home)}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def folder_hash(path: Path) -> str:
    """A hash of every name, link target and file's bytes under path."""
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        digest.update(str(item.relative_to(path)).encode())
        if item.is_symlink():
            digest.update(os.readlink(item).encode())
        elif item.is_file():
            digest.update(item.read_bytes())
    return digest.hexdigest()


def write_checkpoint(folder: Path, config: dict | None = None) -> Path:
    """A pretrained_model folder with a complete (if meaningless) safetensors file named for its policy, and its config."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    name = "diffusion.unet.weight" if (config or {}).get("type") == "diffusion" else "model.decoder.weight"
    save_file({name: np.zeros(256, dtype=np.float32)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config or {"type": "act"}))
    for name in ("policy_preprocessor.json", "policy_postprocessor.json"):
        (folder / name).write_text('{"steps": []}')
    return folder


def write_run(run_dir: Path, steps: list[int]) -> Path:
    """An earlier train.py run folder: step checkpoints with training state, `last` at the newest, metrics."""
    for step in steps:
        checkpoint = run_dir / "checkpoints" / f"{step:06d}"
        write_checkpoint(checkpoint / "pretrained_model")
        (checkpoint / "training_state").mkdir()
        (checkpoint / "training_state" / "training_step.json").write_text(json.dumps({"step": step}))
    (run_dir / "checkpoints" / "last").symlink_to(f"{steps[-1]:06d}")
    (run_dir / "metrics.jsonl").write_text('{"step": 10, "loss": 1.0}\n')
    (run_dir / MARKER).touch()
    return run_dir


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A real tiny dataset and damaged copies of it, and checkpoints: whole, with a broken config, truncated."""
    from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset

    base = tmp_path_factory.mktemp("inputs")
    ds = make_synthetic_dataset(base / "ds", num_episodes=3, length=20)
    damaged = {
        "ds_badinfo": lambda d: (d / "meta" / "info.json").write_text('{"fps": 30,'),
        "ds_emptyinfo": lambda d: (d / "meta" / "info.json").write_text(""),
        "ds_truncparquet": lambda d: _truncate(next((d / "data").rglob("*.parquet"))),
        "ds_noparquet": lambda d: next((d / "data").rglob("*.parquet")).unlink(),
        "ds_novideo": lambda d: shutil.rmtree(d / "videos"),
        "ds_badsim": lambda d: (d / "meta" / "sim_settings.json").write_text("task: transfer_cube"),
    }
    paths = {"ds": ds}
    for name, damage in damaged.items():
        shutil.copytree(ds, base / name)
        damage(base / name)
        paths[name] = base / name
    paths["ckpt"] = write_checkpoint(base / "ckpt")
    paths["ckpt_badconfig"] = write_checkpoint(base / "ckpt_badconfig")
    (paths["ckpt_badconfig"] / "config.json").write_text('{"type": "act", ')
    paths["ckpt_diffusion"] = write_checkpoint(base / "ckpt_diffusion", {"type": "diffusion"})
    paths["ckpt_trunc"] = write_checkpoint(base / "ckpt_trunc")
    _truncate(paths["ckpt_trunc"] / "model.safetensors")
    return paths


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def place(tmp_path):
    """A working folder with earlier outputs of ours, a repository folder, a source folder; and a home folder."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    (home / "notes.txt").parent.mkdir()
    (home / "notes.txt").write_text("mine")
    earlier = cwd / "earlier"
    (earlier / "plots").mkdir(parents=True)
    (earlier / MARKER).touch()
    (earlier / "report.md").write_text("an earlier result\n")
    (earlier / "plots" / "a.png").write_bytes(b"\x89PNG earlier")
    write_run(cwd / "run", [10])
    write_run(cwd / "run_broken", [10, 20])
    _truncate(cwd / "run_broken" / "checkpoints" / "000020" / "pretrained_model" / "model.safetensors")
    (cwd / "repo" / ".git").mkdir(parents=True)
    (cwd / "repo" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (cwd / "repo" / "code.py").write_text("print('mine')\n")
    (cwd / "src").mkdir()
    (cwd / "src" / "main.py").write_text("print('mine')\n")
    (cwd / "notes.txt").write_text("the user's own file in the current folder")
    return cwd, home


MAKE, ANALYSE, TRAIN, VIS, COMPARE, STORY = ("make_sim_dataset.py", "analyse_dataset.py", "train.py",
                                             "visualize_policy.py", "compare_policies.py", "train_ultimate.py")
TRAIN_ARGS = ["--dataset", "{ds}", "--policy", "act", "--preset", "tiny", "--output-dir", "run", "--overwrite"]
VIS_ARGS = ["--policy-path", "{ckpt}", "--env", "aloha_transfer_cube", "--output-dir", "earlier", "--overwrite"]
TINY_RECORD = ["--episodes", "2", "--episode-length", "60", "--image-size", "48", "64"]

# (id, script, flags, words the error line must hold); {name} is a path from the fixtures
CASES = [
    # data loss: folders that are not ours are refused even with --overwrite
    ("empty-output-dir", ANALYSE, ["--dataset", "{ds}", "--output-dir", "", "--overwrite"],
     "argument --output-dir: the path is empty"),
    ("current-folder", ANALYSE, ["--dataset", "{ds}", "--output-dir", ".", "--overwrite"], "the current folder"),
    ("story-empty-output-dir", STORY, ["--output-dir", "", "--overwrite"], "argument --output-dir: the path is empty"),
    ("compare-current-folder", COMPARE, ["--dataset", "{ds}", "--output-dir", ".", "--overwrite"], "the current folder"),
    ("home-folder", STORY, ["--output-dir", "~", "--overwrite"], "your home folder"),
    ("file-system-root", COMPARE, ["--dataset", "{ds}", "--output-dir", "/"], "the file system root"),
    ("repository-root", MAKE, ["--root", str(ROOT)], "the repository"),
    ("folder-above-current", ANALYSE, ["--dataset", "{ds}", "--output-dir", "..", "--overwrite"], "a folder above it"),
    ("git-folder", ANALYSE, ["--dataset", "{ds}", "--output-dir", "repo", "--overwrite"], "holds a .git folder"),
    ("git-folder-record", MAKE, ["--root", "repo", "--overwrite", *TINY_RECORD], "holds a .git folder"),
    ("source-folder", VIS, [*VIS_ARGS, "--output-dir", "src"], "did not make"),
    ("earlier-output-without-overwrite", ANALYSE, ["--dataset", "{ds}", "--output-dir", "earlier"], "--overwrite"),
    ("output-inside-a-file", ANALYSE, ["--dataset", "{ds}", "--output-dir", "notes.txt/report"], "inside the file"),
    ("read-only-output", ANALYSE, ["--dataset", "{ds}", "--output-dir", "/sys/lnp-report"], "cannot write"),
    # data loss: --overwrite with a bad input keeps the earlier result
    ("analyse-bad-episodes", ANALYSE, ["--dataset", "{ds}", "--output-dir", "earlier", "--overwrite", "--episodes", "7"],
     "episode 7 does not exist"),
    ("train-bad-episodes", TRAIN, [*TRAIN_ARGS, "--episodes", "0:9"], "ends past the last episode"),
    ("train-bad-val-episodes", TRAIN, [*TRAIN_ARGS, "--val-episodes", "5"], "episode 5 does not exist"),
    ("vis-bad-checkpoint", VIS, [*VIS_ARGS, "--policy-path", "{ckpt_trunc}"],
     "model.safetensors' is truncated"),
    ("compare-empty-output-dir", COMPARE, ["--dataset", "{ds}", "--output-dir", "", "--overwrite"], "path is empty"),
    # one line naming the flag and the accepted values
    ("seed", MAKE, ["--seed", "-1"], "argument --seed: -1 is out of range"),
    ("huge-seed", VIS, [*VIS_ARGS, "--seed", "99999999999"], "argument --seed"),
    ("threads", TRAIN, [*TRAIN_ARGS, "--threads", "0"], "argument --threads"),
    ("record-workers", MAKE, ["--num-workers", "0"], "argument --num-workers"),
    ("loader-workers", TRAIN, [*TRAIN_ARGS, "--num-workers", "-1"], "argument --num-workers"),
    ("learning-rate-nan", TRAIN, [*TRAIN_ARGS, "--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
    ("learning-rate-negative", TRAIN, [*TRAIN_ARGS, "--lr", "-0.1"], "argument --lr"),
    ("log-every", TRAIN, [*TRAIN_ARGS, "--log-every", "0"], "argument --log-every"),
    ("val-every", TRAIN, [*TRAIN_ARGS, "--val-every", "-5"], "argument --val-every"),
    ("val-samples", TRAIN, [*TRAIN_ARGS, "--val-samples", "0"], "argument --val-samples"),
    ("val-fraction", TRAIN, [*TRAIN_ARGS, "--val-fraction", "1.5"], "argument --val-fraction"),
    ("chunk-size", ANALYSE, ["--dataset", "{ds}", "--chunk-size", "0"], "argument --chunk-size"),
    ("steps", TRAIN, [*TRAIN_ARGS, "--steps", "0"], "argument --steps"),
    ("compare-steps", COMPARE, ["--dataset", "{ds}", "--steps", "-5"], "argument --steps"),
    ("max-steps", VIS, [*VIS_ARGS, "--max-steps", "0"], "argument --max-steps"),
    ("time-budget", TRAIN, [*TRAIN_ARGS, "--time-budget-min", "-1"], "argument --time-budget-min"),
    ("size-budget", ANALYSE, ["--dataset", "{ds}", "--max-mb", "0"], "argument --max-mb"),
    ("size-budget-inf", STORY, ["--max-mb", "inf"], "argument --max-mb: 'inf' is not a finite number"),
    ("waypoint-noise", MAKE, ["--waypoint-noise", "-0.01"], "argument --waypoint-noise"),
    ("image-noise", TRAIN, [*TRAIN_ARGS, "--image-noise-std", "-0.1"], "argument --image-noise-std"),
    ("action-noise", TRAIN, [*TRAIN_ARGS, "--action-noise-std", "nan"], "argument --action-noise-std"),
    ("image-size", MAKE, ["--image-size", "0", "64"], "argument --image-size"),
    ("image-size-absurd", VIS, [*VIS_ARGS, "--image-size", "100000", "64"], "argument --image-size"),
    ("cube-pose-off-table", MAKE, ["--cube-pose", "5", "0.5"], "--cube-pose 5 0.5 is off the table"),
    ("cube-pose-nan", MAKE, ["--cube-pose", "nan", "0.5"], "argument --cube-pose"),
    ("vis-cube-pose-off-table", VIS, [*VIS_ARGS, "--cube-pose", "0.1", "-3"], "off the table"),
    ("story-cube-pose-off-table", STORY, ["--cube-pose", "0.1", "2"], "off the table"),
    ("pose-range-reversed", MAKE, ["--pose-range", "0.2", "0.1", "0.4", "0.6"], "XMIN <= XMAX"),
    ("max-attempts", MAKE, ["--max-attempts", "-1"], "argument --max-attempts: -1 is out of range"),
    ("rollout-episodes", VIS, [*VIS_ARGS, "--episodes", "0"], "argument --episodes"),
    ("pose-radius", VIS, [*VIS_ARGS, "--pose-radius", "-0.01"], "argument --pose-radius"),
    ("ensemble-not-act", VIS, [*VIS_ARGS, "--policy-path", "{ckpt_diffusion}", "--temporal-ensemble", "0.01"],
     "averages ACT's action chunks, and this checkpoint is 'diffusion'"),
    ("ensemble-range", STORY, ["--temporal-ensemble", "-1"], "argument --temporal-ensemble"),
    # orchestrating scripts check their own flags before the first step
    ("story-nearby-radii", STORY, ["--nearby-radii", "-0.01"], "argument --nearby-radii"),
    ("story-cannot-hold-out", STORY, ["--episodes", "1", "--output-dir", "earlier", "--overwrite"],
     "need at least 2 episodes to hold some out"),
    ("compare-eval-episodes", COMPARE, ["--dataset", "{ds}", "--eval-episodes", "0"], "argument --eval-episodes"),
    ("study-workers", "experiments.py", ["--plan", "--workers", "0"], "argument --workers: 0 is out of range"),
    ("study-gpus", "experiments.py", ["--plan", "--gpus-per-point", "-1"], "argument --gpus-per-point"),
    ("one-flag-named", VIS, [*VIS_ARGS, "--env", "pusht", "--image-size", "48", "64"],
     "--image-size applies to the aloha"),
    # damaged user files: the file and the fix are named
    ("broken-info", ANALYSE, ["--dataset", "{ds_badinfo}"], "info.json' is not valid JSON"),
    ("empty-info", TRAIN, [*TRAIN_ARGS, "--dataset", "{ds_emptyinfo}"], "info.json' is empty"),
    ("truncated-parquet", ANALYSE, ["--dataset", "{ds_truncparquet}"], "is damaged or truncated"),
    ("missing-parquet", ANALYSE, ["--dataset", "{ds_noparquet}"], "is missing, so episodes 0, 1, 2 have no data"),
    ("broken-sim-settings", ANALYSE, ["--dataset", "{ds_badsim}"], "sim_settings.json' is not valid JSON"),
    ("train-missing-videos", TRAIN, [*TRAIN_ARGS, "--dataset", "{ds_novideo}"], "videos of camera"),
    ("replay-missing-videos", VIS, [*VIS_ARGS, "--dataset", "{ds_novideo}"], "videos of camera"),
    ("broken-config", VIS, [*VIS_ARGS, "--policy-path", "{ckpt_badconfig}"], "config.json' is not valid JSON"),
    ("resume-incomplete", TRAIN, [*TRAIN_ARGS[:-3], "--output-dir", "run_broken", "--resume"], "ln -sfn 000010"),
    ("story-unknown-robot", STORY, ["--robot", "mars"], "argument --robot: invalid choice: 'mars'"),
    ("record-unknown-robot", MAKE, ["--robot", "mars", "--root", "new_ds"], "argument --robot: invalid choice: 'mars'"),
    ("record-no-marks", MAKE, ["--robot", "so101", "--marks", "0", "--root", "new_ds"],
     "argument --marks: 0 is out of range"),
    ("story-so101-off-table", STORY, ["--robot", "so101", "--cube-pose", "2", "0"], "--cube-pose 2 0"),
]


@pytest.mark.parametrize("script,flags,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_loses_nothing(inputs, place, script, flags, words):
    cwd, home = place
    if "/sys/" in " ".join(flags) and not Path("/sys").is_dir():
        pytest.skip("no /sys here")
    before, home_before = folder_hash(cwd), (home / "notes.txt").read_text()
    result = run(script, [f.format(**{k: str(v) for k, v in inputs.items()}) for f in flags], cwd, home)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    assert words in lines[0], lines[0]
    assert folder_hash(cwd) == before, "an earlier output or a user file changed"
    assert (home / "notes.txt").read_text() == home_before


def test_bad_policy_override_keeps_the_earlier_run(inputs, place):
    """A --set that lerobot's config rejects (found only after the slow imports) leaves the earlier run as it was."""
    cwd, home = place
    before = folder_hash(cwd)
    result = run(TRAIN, [f.format(ds=inputs["ds"]) for f in TRAIN_ARGS] + ["--set", "no_such_field=3"], cwd, home,
                 timeout=300)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: 'no_such_field'")
    assert "Traceback" not in result.stderr
    assert folder_hash(cwd) == before


def test_missing_argument_keeps_argparse_usage(place):
    cwd, home = place
    result = run(VIS, [], cwd, home)
    assert result.returncode == 2 and "the following arguments are required: --policy-path" in result.stderr
