"""Every top-level script is a jupytext pair in sync, committed without outputs, and answers --help."""

import json
import os
import subprocess
import sys

import jupytext
import pytest

from conftest import ROOT

SCRIPTS = sorted(p for p in ROOT.glob("*.py"))


def test_there_are_scripts():
    assert SCRIPTS, "no top-level scripts found"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pair_is_in_sync_and_has_no_outputs(script):
    notebook = script.with_suffix(".ipynb")
    assert notebook.is_file(), f"{notebook.name} is missing: run make sync"
    assert script.read_text().lstrip().startswith(("# %%", "# ---")), f"{script.name} is not in percent format"
    py_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(script).cells]
    nb_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(notebook).cells]
    assert py_cells == nb_cells, f"{script.name} and {notebook.name} differ: run make sync"
    raw = json.loads(notebook.read_text())
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), f"{notebook.name} has outputs: clear them"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_answers_help(script):
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout
