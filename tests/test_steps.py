"""run_step streams a script's output as it comes (progress bars intact) and turns a failure into a clear error."""

import os
import time

import pytest

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.steps import REPO_ROOT, child_env, run_lanes, run_step, show


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


def test_lanes_run_side_by_side_and_a_failure_ends_the_others(tmp_path):
    handshake = tmp_path / "handshake.py"  # leaves its file, then waits for the other's: only side by side do both end
    handshake.write_text("import pathlib, sys, time\npathlib.Path(sys.argv[1]).touch()\nfor _ in range(400):\n"
                         "    if pathlib.Path(sys.argv[2]).exists(): sys.exit(0)\n    time.sleep(0.05)\nsys.exit(1)\n")
    a, b = tmp_path / "a", tmp_path / "b"
    times = run_lanes([[(str(handshake), [a, b], True)], [("make_sim_dataset.py", ["--help"], True),
                                                          (str(handshake), [b, a], True)]])
    assert [len(lane) for lane in times] == [1, 2] and all(t > 0 for lane in times for t in lane)
    sleeper = tmp_path / "sleep.py"
    sleeper.write_text("import time\ntime.sleep(60)\n")
    start = time.perf_counter()
    with pytest.raises(UserError, match="unknown task 'nope'"):
        run_lanes([[(str(sleeper), [], True)], [("make_sim_dataset.py", ["--task", "nope"], True)]])
    assert time.perf_counter() - start < 30  # the sleeping lane was ended, not waited for
    assert run_lanes([[(str(handshake), [tmp_path / "c", a], True)]]) and (tmp_path / "c").exists()  # runs again
