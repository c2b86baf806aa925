import argparse
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from lerobot_notebook_pipeline import runtime
from lerobot_notebook_pipeline.files import prepare_output_dir, write_json
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
