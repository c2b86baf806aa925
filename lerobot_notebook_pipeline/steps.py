"""Run one pipeline script (make_sim_dataset.py, train.py, ...) as a step of a bigger story, streaming its output."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import time
from pathlib import Path

from .runtime import UserError, display_image

REPO_ROOT = Path(__file__).resolve().parents[1]


def script_command(script: str, args: list[str]) -> list[str]:
    """The command line that runs a top-level script with this Python."""
    return [sys.executable, str(REPO_ROOT / script), *[str(a) for a in args]]


def run_step(script: str, args: list[str], quiet: bool = False) -> float:
    """Run a top-level script with flags, echoing its output live; return its wall time in seconds."""
    command = script_command(script, args)
    print("$", " ".join([Path(command[0]).name, *command[1:]]).replace(str(REPO_ROOT) + "/", ""), flush=True)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    while chunk := process.stdout.read1(4096):  # raw chunks, so progress bars' carriage returns still redraw in place
        text = decoder.decode(chunk)
        tail = (tail + text)[-4000:]
        if not quiet:
            sys.stdout.write(text)
            sys.stdout.flush()
    code = process.wait()
    if code != 0:
        lines = [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        raise UserError(f"{script} stopped with exit code {code} ({last[:200]}): run it on its own to see the full output")
    return time.perf_counter() - start


def show(path: str | Path) -> None:
    """Display a PNG or GIF inline in a notebook; from a terminal, print where it is."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected {path} to exist: the step that writes it did not run to the end")
    if not display_image(path):
        print(f"[figure] {path}")
