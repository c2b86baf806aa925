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
    print("$", shown(command), flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=step_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
        raise step_failed(script, code, tail, "run it on its own to see the full output")
    return time.perf_counter() - start


def run_step_logged(script: str, args: list[str], log_path: str | Path) -> float:
    """Run a top-level script quietly, appending its command and output to log_path; return its wall time."""
    return run_logged(script_command(script, args), log_path, script)


def run_logged(command: list[str], log_path: str | Path, name: str) -> float:
    """Run a command from the repository root, appending its command line and output to log_path; return its wall time."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "ab") as log:
        log.write(f"$ {shown(command)}\n".encode())
        log.flush()
        code = subprocess.call([str(c) for c in command], cwd=REPO_ROOT, env=step_env(), stdout=log,
                               stderr=subprocess.STDOUT)
    if code != 0:
        tail = log_path.read_bytes()[-4000:].decode("utf-8", errors="replace")
        raise step_failed(name, code, tail, f"its full output is in {log_path}")
    return time.perf_counter() - start


def step_env() -> dict:
    """The environment a step runs in: this package importable, output unbuffered."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}


def shown(command: list[str]) -> str:
    """A command line as printed: the Python binary by name, paths inside the repository relative to it."""
    return " ".join([Path(command[0]).name, *map(str, command[1:])]).replace(str(REPO_ROOT) + "/", "")


def step_failed(script: str, code: int, tail: str, hint: str) -> UserError:
    """The error for a step that exited with code: its last output line and where to look."""
    lines = [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return UserError(f"{script} stopped with exit code {code} ({last[:200]}): {hint}")


def show(path: str | Path) -> None:
    """Display a PNG or GIF inline in a notebook; from a terminal, print where it is."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected {path} to exist: the step that writes it did not run to the end")
    if not display_image(path):
        print(f"[figure] {path}")
