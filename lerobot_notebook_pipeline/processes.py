"""Child processes of ours: the environment they start in, and ending one that is still running."""

from __future__ import annotations

import os
import subprocess

from lerobot_notebook_pipeline.files import REPO_ROOT


def child_env() -> dict:
    """The environment a child runs in: this package importable (before any PYTHONPATH of the caller's), unbuffered."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def stop_process(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """End a child that is still running (the caller failed or was stopped): SIGTERM, then SIGKILL after grace_s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
