"""Shared test set-up: headless rendering, offline hub, small torch thread count, and tiny datasets."""

import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# `make test` runs one pytest worker per core (pytest-xdist): one torch thread each, or they spin against each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run_notebook(name: str, args: str, timeout: int = 300, **env: str):
    """Execute a paired notebook headless from the repo root, with flags passed through $LNP_ARGS; return it."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / name, as_version=4)
    saved = {key: os.environ.get(key) for key in ["LNP_ARGS", *env]}
    os.environ.update({"LNP_ARGS": args, **env})
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def inline_images(notebook) -> list:
    """The PNG/GIF outputs a notebook showed inline."""
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if {"image/png", "image/gif"} & set(o.get("data", {}))]
