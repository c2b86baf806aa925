"""run_step streams a script's output as it comes (progress bars intact) and turns a failure into a clear error."""

import os

import pytest

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.steps import REPO_ROOT, child_env, run_step, show


def test_run_step_streams_output_with_carriage_returns(tmp_path, capsys):
    script = tmp_path / "bar.py"
    script.write_text("import sys\nfor i in range(3):\n    sys.stdout.write(f'\\rstep {i}')\nprint(' done')\n")
    seconds = run_step(str(script), [])
    out = capsys.readouterr().out
    assert "\rstep 0\rstep 1\rstep 2 done\n" in out
    assert seconds > 0


def test_run_step_failure_passes_the_childs_whole_error_line():
    with pytest.raises(UserError) as err:
        run_step("make_sim_dataset.py", ["--task", "nope"], quiet=True)
    assert str(err.value) == "make_sim_dataset.py: unknown task 'nope': use one of transfer_cube, insertion"


def test_show_refuses_a_missing_figure(tmp_path, capsys):
    with pytest.raises(UserError, match="did not run to the end"):
        show(tmp_path / "missing.png")
    (tmp_path / "a.png").write_bytes(b"png")
    show(tmp_path / "a.png")
    assert "a.png" in capsys.readouterr().out


def test_steps_import_this_package_first_and_keep_the_callers_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/opt/extra")  # e.g. packages installed with pip --target
    assert child_env()["PYTHONPATH"] == f"{REPO_ROOT}{os.pathsep}/opt/extra"
    monkeypatch.delenv("PYTHONPATH")
    assert child_env()["PYTHONPATH"] == str(REPO_ROOT)
