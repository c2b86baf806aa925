"""`make lab` gives a JupyterLab where a paired script opens as a notebook and saving writes both files."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

TOKEN = "lnp-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def lab(tmp_path):
    """A headless JupyterLab serving a copy of one paired script (and the project's jupytext.toml)."""
    for name in ("jupytext.toml", "make_sim_dataset.py", "make_sim_dataset.ipynb"):
        shutil.copy(ROOT / name, tmp_path / name)
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    process = subprocess.Popen([str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                                f"--ServerApp.root_dir={tmp_path}", f"--IdentityProvider.token={TOKEN}",
                                *(["--allow-root"] if os.geteuid() == 0 else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while True:
        try:
            api(port, "status")
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"jupyter lab did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.5)
    yield port, tmp_path
    process.terminate()
    process.wait(timeout=30)


def test_paired_script_opens_as_a_notebook_and_saving_writes_both_files(lab):
    port, folder = lab
    model = api(port, "contents/make_sim_dataset.py?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert any(c["cell_type"] == "markdown" for c in cells) and any(c["cell_type"] == "code" for c in cells)
    assert any("argparse" in c["source"] for c in cells if c["cell_type"] == "code")

    cells.append({"cell_type": "code", "source": "saved_through_the_api = True", "metadata": {},
                  "outputs": [], "execution_count": None})
    api(port, "contents/make_sim_dataset.py", "PUT", {"type": "notebook", "format": "json",
                                                       "content": model["content"]})
    assert "saved_through_the_api = True" in (folder / "make_sim_dataset.py").read_text()
    assert "saved_through_the_api = True" in (folder / "make_sim_dataset.ipynb").read_text()
