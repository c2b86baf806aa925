"""Nothing lost, nothing put where nobody looks: the output transaction through the real scripts.

Each script run here is a tiny one (a 3-episode synthetic dataset, train.py --preset tiny, analyse_dataset.py
--no-animation), stopped by a signal once a known line is printed, or held still with SIGSTOP while a second run
tries the same folder. After each: exit code 2 and exactly one `error:` line, no traceback, the earlier result
byte-identical, nothing left beside it, and the rerun the message names works.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_input import folder_hash, write_run

from conftest import ROOT, run_script
from lerobot_notebook_pipeline import flags

TIMEOUT = 600


def start(script: str, args: list, cwd: Path, home: Path) -> subprocess.Popen:
    """Start a script with unbuffered output, so its lines arrive as it prints them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HOME": str(home), "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(process: subprocess.Popen, prefix: str) -> str:
    """Read the process's output until a line starts with prefix; return that line."""
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"the script ended without printing {prefix!r}: {process.communicate()[1][-3000:]}")


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """Wait for the end; return the exit code and stderr."""
    _, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, err


def one_error_line(err: str) -> str:
    """The one `error:` line of a failed run (and no traceback)."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    return lines[0]


def run(script: str, args: list, cwd: Path, home: Path) -> tuple[int, str]:
    """Run a script to its end; return the exit code and stderr."""
    return finish(start(script, args, cwd, home))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "ds", num_episodes=3, length=20)


@pytest.fixture
def place(tmp_path):
    """A working folder and a home folder of their own."""
    (tmp_path / "cwd").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path / "cwd", tmp_path / "home"


def train_args(dataset: Path, out: str, steps: int = 200) -> list:
    """A tiny training that prints a `step N:` line at every step (it validates each one)."""
    return ["--dataset", dataset, "--policy", "act", "--preset", "tiny", "--steps", steps, "--val-every", 1,
            "--threads", 1, "--output-dir", out]


# ------------------------------------------------------------------------------------------ train.py and signals


def test_sigterm_during_overwrite_puts_the_finished_run_back(dataset, place):
    cwd, home = place
    write_run(cwd / "run", [5])
    before, names = folder_hash(cwd / "run"), sorted(os.listdir(cwd))
    process = start("train.py", [*train_args(dataset, "run"), "--overwrite"], cwd, home)
    wait_for(process, "step 2:")
    process.send_signal(signal.SIGTERM)
    code, err = finish(process)
    line = one_error_line(err)
    assert code == 2 and line.startswith("error: stopped by SIGTERM") and "is as it was" in line, line
    assert folder_hash(cwd / "run") == before, "the earlier run was not put back as it was"
    assert sorted(os.listdir(cwd)) == names, "something was left beside the run folder"


def test_ctrl_c_keeps_the_new_run_for_resume_and_tilde_means_home(dataset, place, monkeypatch):
    cwd, home = place
    process = start("train.py", train_args(dataset, "~/run"), cwd, home)
    wait_for(process, "step 2:")
    process.send_signal(signal.SIGINT)
    code, err = finish(process)
    line = one_error_line(err)
    assert code == 2 and line.startswith("error: stopped by SIGINT") and "resume with --resume" in line, line
    assert not (cwd / "~").exists() and (home / "run" / "checkpoints" / "last").is_dir()
    assert f"in '{home / 'run'}'" in line
    stopped_at = int(re.search(r"the last checkpoint is step (\d+)", line).group(1))
    monkeypatch.setenv("HOME", str(home))  # the resume runs here (saves a start-up): what the message says works
    resumed = run_script("train.py", *train_args(dataset, "~/run", stopped_at + 1), "--resume", cwd=cwd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (home / "run" / "summary.json").is_file() and not list(cwd.iterdir())


# ------------------------------------------------------------------ one run per folder, and linked folders


def test_a_second_run_into_a_busy_folder_is_refused_and_a_link_stays_a_link(dataset, place):
    cwd, home = place
    (cwd / "target").mkdir()
    (cwd / "target" / ".lnp-output").touch()
    (cwd / "target" / "report.md").write_text("an earlier report\n")
    (cwd / "link").symlink_to("target")
    args = ["--dataset", dataset, "--no-animation", "--overwrite", "--output-dir"]
    first = start("analyse_dataset.py", [*args, "link"], cwd, home)
    wait_for(first, "report:")
    first.send_signal(signal.SIGSTOP)  # holds the folder, mid-run
    try:
        code, err = run("analyse_dataset.py", [*args, "target"], cwd, home)
    finally:
        first.send_signal(signal.SIGCONT)
    line = one_error_line(err)
    assert code == 2 and f"another run (process {first.pid}) is writing to" in line, line
    code, err = finish(first)
    assert code == 0, err[-3000:]
    assert (cwd / "link").is_symlink() and os.readlink(cwd / "link") == "target"
    assert "an earlier report" not in (cwd / "target" / "report.md").read_text()
    assert sorted(os.listdir(cwd)) == ["link", "target"], "a keep-aside or lock file was left"


# ---------------------------------------------------------------------------- experiments.py --plan and --report


def test_plan_writes_nothing_and_report_writes_only_beside_its_results(place):
    cwd, home = place
    (cwd / "experiments" / "demos").mkdir(parents=True)
    (cwd / "experiments" / "demos" / "README.md").write_text("the committed answer\n")
    (cwd / "mine").mkdir()
    (cwd / "mine" / "README.md").write_text("the user's own notes\n")
    before = folder_hash(cwd)
    for extra in ([], ["--results-dir", "mine"]):
        code, err = run("experiments.py", ["--study", "demos", "--plan", "--output-dir", "study", *extra], cwd, home)
        assert code == 0, err[-3000:]
        assert folder_hash(cwd) == before, f"--plan {' '.join(extra)} wrote something"
    code, err = run("experiments.py", ["--study", "demos", "--report", "--results-dir", "mine"], cwd, home)
    assert code == 2 and "results.json" in one_error_line(err)
    assert folder_hash(cwd) == before


# ---------------------------------------------------------------------------------------- one path type


PATH_FLAGS = {"--root", "--dataset", "--compare", "--output-dir", "--results-dir", "--policy-path",
              "--dataset-settings", "--vlm-model-name"}
SCRIPTS = ["make_sim_dataset.py", "analyse_dataset.py", "train.py", "visualize_policy.py", "compare_policies.py",
           "train_ultimate.py", "experiments.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_path_flag_is_parsed_by_the_one_path_type(script):
    calls = re.findall(r"add_argument\(\s*\"(--[\w-]+)\"([^\n]*)", (ROOT / script).read_text())
    path_flags = [(flag, rest) for flag, rest in calls if flag in PATH_FLAGS]
    assert path_flags, f"{script} has no path flag"
    for flag, rest in path_flags:
        assert "type=flags.path" in rest, f"{script} {flag} is parsed as a raw string"


def test_the_path_type_expands_home_once_and_keeps_hub_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert flags.path("~/run") == tmp_path / "home" / "run"
    assert flags.path("a/../b") == tmp_path / "b"
    assert flags.path_or_repo("lerobot/aloha_sim_insertion_human") == "lerobot/aloha_sim_insertion_human"
    (tmp_path / "me" / "data").mkdir(parents=True)
    assert flags.path_or_repo("me/data") == tmp_path / "me" / "data"
    with pytest.raises(Exception, match="the path is empty"):
        flags.path("  ")


def test_a_file_size_limit_during_training_is_one_line_and_leaves_no_half_checkpoint(dataset, place):
    """The disk 'fills' while a checkpoint is written (RLIMIT_FSIZE): one line, exit 2, no temporary folder left."""
    import resource

    cwd, home = place

    def small_files():  # in the child: writes past 256 kB fail with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, train_args(dataset, "run", steps=2))],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=small_files)
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    assert "too large" in line or "full" in line or "limit" in line, line
    leftovers = [p for p in cwd.rglob("*") if p.name.startswith((".tmp", "tmp")) or ".previous-" in p.name]
    assert not leftovers, leftovers
