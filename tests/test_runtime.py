import argparse
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from lerobot_notebook_pipeline import runtime
from lerobot_notebook_pipeline.files import check_output_dir, prepare_output_dir, write_json
from lerobot_notebook_pipeline.runtime import UserError


def test_mujoco_gl_defaults_to_egl():
    out = subprocess.run(
        [sys.executable, "-c", "import os; os.environ.pop('MUJOCO_GL', None); import lerobot_notebook_pipeline; print(os.environ['MUJOCO_GL'])"],
        capture_output=True, text=True, check=True, env={k: v for k, v in os.environ.items() if k != "MUJOCO_GL"},
    )
    assert out.stdout.strip() == "egl"


def test_pick_device():
    assert runtime.pick_device("cpu") == "cpu"
    assert runtime.pick_device("auto") in {"cpu", "cuda", "mps"}
    with pytest.raises(UserError, match="unknown device"):
        runtime.pick_device("tpu")


def test_video_backend_is_one_that_decodes():
    assert runtime.video_backend() in {"torchcodec", "pyav"}


def test_parse_args_ignores_argv_outside_notebooks_only():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    assert runtime.parse_args(parser, ["--steps", "7"]).steps == 7
    assert runtime.parse_args(parser, []).steps == 5


def test_unreachable_hub_repo_gives_local_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="pass a local folder"):
        runtime.require_hub("someone/some_dataset", "dataset", "pass a local folder instead")
    assert runtime.looks_like_repo_id("lerobot/aloha_sim_transfer_cube_human")
    assert not runtime.looks_like_repo_id("outputs/datasets/x/y")


def test_user_error_in_a_script_is_one_line_and_exit_2(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import argparse\n"
        "from lerobot_notebook_pipeline.runtime import UserError, parse_args\n"
        "args = parse_args(argparse.ArgumentParser())\n"
        "raise UserError('bad thing: do the fix')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2
    assert out.stderr.strip() == "error: bad thing: do the fix"


def test_other_errors_keep_their_traceback(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import argparse\n"
        "from lerobot_notebook_pipeline.runtime import parse_args\n"
        "args = parse_args(argparse.ArgumentParser())\n"
        "raise ValueError('a bug')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_prepare_output_dir_refuses_to_overwrite(tmp_path):
    target = prepare_output_dir(tmp_path / "out", overwrite=False)
    write_json(target / "keep.json", {"a": 1})
    with pytest.raises(UserError, match="--overwrite"):
        prepare_output_dir(target, overwrite=False)
    assert json.loads((target / "keep.json").read_text()) == {"a": 1}
    prepare_output_dir(target, overwrite=True)
    assert [p.name for p in target.iterdir()] == [".lnp-output"]


def test_existing_local_folder_is_not_a_repo_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runtime.looks_like_repo_id("me/data")
    (tmp_path / "me" / "data").mkdir(parents=True)
    assert not runtime.looks_like_repo_id("me/data")


def test_write_atomic_gives_normal_permissions(tmp_path):
    from lerobot_notebook_pipeline.files import write_atomic

    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello" and (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


PREPARE_THEN = (
    "import argparse, errno, os, resource, signal, sys\n"
    "from lerobot_notebook_pipeline.files import prepare_output_dir\n"
    "from lerobot_notebook_pipeline.runtime import UserError, parse_args\n"
    "parser = argparse.ArgumentParser()\n"
    "parser.add_argument('out')\n"
    "parser.add_argument('how')\n"
    "args = parse_args(parser)\n"
    "keep = {'keep': lambda: 'step 4 is kept: resume with --resume'} if args.how == 'keep' else {}\n"
    "out = prepare_output_dir(args.out, overwrite=True, **keep)\n"
    "(out / 'new.txt').write_text('new')\n"
    "how = args.how\n"
    "if how == 'user-error': raise UserError('bad input: fix it')\n"
    "if how == 'bug': raise ValueError('a bug')\n"
    "if how in ('sigterm', 'keep'): os.kill(os.getpid(), signal.SIGTERM)\n"
    "if how == 'ctrl-c': raise KeyboardInterrupt\n"
    "if how == 'sigkill': os.kill(os.getpid(), signal.SIGKILL)\n"
    "if how == 'disk-full': raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / 'big.bin'))\n"
    "if how == 'file-size-limit':\n"
    "    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
    "    (out / 'big.bin').write_bytes(bytes(100_000))\n"
)


@pytest.mark.parametrize("how,code", [("ok", 0), ("user-error", 2), ("bug", 1), ("sigterm", 2), ("ctrl-c", 2),
                                      ("disk-full", 2), ("file-size-limit", 2)])
def test_earlier_output_is_replaced_only_by_a_run_that_ends_well(tmp_path, how, code):
    script, earlier = tmp_path / "s.py", tmp_path / "out"
    script.write_text(PREPARE_THEN)
    prepare_output_dir(earlier, overwrite=False)
    (earlier / "old.txt").write_text("old")
    out = subprocess.run([sys.executable, str(script), str(earlier), how], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == code, out.stderr
    kept = sorted(p.name for p in earlier.iterdir())
    assert kept == ([".lnp-output", "new.txt"] if how == "ok" else [".lnp-output", "old.txt"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.py"], "no backup folder is left beside it"
    if code == 2:
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        start = {"user-error": "error: bad input", "disk-full": "error: cannot write", "file-size-limit": "error: cannot write"}
        assert out.stderr.startswith(start.get(how, "error: stopped by")), out.stderr
    if how in ("sigterm", "ctrl-c", "disk-full", "file-size-limit"):  # the line says what was kept
        assert f"the earlier output in '{earlier}' is as it was" in out.stderr, out.stderr


@pytest.mark.parametrize("how,code", [("user-error", 2), ("bug", 1), ("sigterm", 2), ("disk-full", 2)])
def test_a_failed_run_into_a_new_folder_leaves_nothing_that_blocks_its_rerun(tmp_path, how, code):
    script = tmp_path / "s.py"
    script.write_text(PREPARE_THEN)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh"), how], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == code, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.py"], "the half-made folder (or its lock) is left"


def test_a_stopped_run_keeps_what_is_worth_resuming_and_says_how(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(PREPARE_THEN)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh"), "keep"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == "error: stopped by SIGTERM before the end; step 4 is kept: resume with --resume"
    assert sorted(p.name for p in (tmp_path / "fresh").iterdir()) == [".lnp-output", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "s.py"]


def test_the_earlier_output_kept_aside_by_a_killed_run_is_named_on_the_next_run(tmp_path, capsys):
    script, earlier = tmp_path / "s.py", tmp_path / "out"
    script.write_text(PREPARE_THEN)
    prepare_output_dir(earlier, overwrite=False)
    (earlier / "old.txt").write_text("old")
    out = subprocess.run([sys.executable, str(script), str(earlier), "sigkill"], env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == -9
    backup = next(tmp_path.glob(".out.previous-*"))
    assert (backup / "old.txt").read_text() == "old"  # nothing lost, but nobody put it back
    capsys.readouterr()
    check_output_dir(earlier, overwrite=True)
    note = capsys.readouterr().err
    assert note.startswith("note: ") and str(backup) in note and "move it back" in note
    with pytest.raises(UserError, match="put it back with") as refused:  # without --overwrite: named, with the fix
        check_output_dir(earlier, overwrite=False)
    fix = str(refused.value).split("put it back with ", 1)[1].split(", or pass")[0]
    subprocess.run(fix, shell=True, check=True)  # doing what it says puts the earlier output back
    assert (earlier / "old.txt").read_text() == "old" and not list(tmp_path.glob(".out.previous-*"))


def test_a_new_output_folder_is_removed_when_the_run_fails_before_writing(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(PREPARE_THEN.replace("(out / 'new.txt').write_text('new')\n", ""))
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh"), "user-error"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("make", ["git", "source", "nothing"])
def test_only_folders_we_made_are_ever_replaced(tmp_path, make):
    target = tmp_path / "target"
    target.mkdir()
    if make == "git":
        (target / ".git").mkdir()
    elif make == "source":
        (target / "main.py").write_text("print('mine')\n")
    if make == "nothing":
        assert prepare_output_dir(target, overwrite=True) == target and (target / ".lnp-output").is_file()
        return
    with pytest.raises(UserError, match=".git folder" if make == "git" else "did not make"):
        prepare_output_dir(target, overwrite=True)
    assert (target / (".git" if make == "git" else "main.py")).exists()


def test_a_nearly_full_disk_is_refused_before_any_work(tmp_path, monkeypatch):
    from lerobot_notebook_pipeline import files

    monkeypatch.setattr(files, "MIN_FREE_MB", 10**12)  # more than any disk has free: this one counts as full
    with pytest.raises(UserError, match="MB free on the disk of"):
        prepare_output_dir(tmp_path / "out", overwrite=False)
    assert not (tmp_path / "out").exists()


def test_a_stop_while_a_child_starts_acts_after_it_and_the_child_can_still_be_stopped():
    """signals_deferred: SIGTERM inside the block reaches the handler only after it; the child it started keeps the
    default SIGTERM (a mask would have blocked it there too)."""
    import signal

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with runtime.signals_deferred():
            child = subprocess.Popen(["sleep", "30"])
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
        child.terminate()
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
