"""Run one pipeline script (make_sim_dataset.py, train.py, ...) as a step of a bigger story, streaming its output."""

from __future__ import annotations

import codecs
import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from lerobot_notebook_pipeline.files import REPO_ROOT
from lerobot_notebook_pipeline.processes import child_env, stop_process
from lerobot_notebook_pipeline.runtime import UserError, display_image, signals_deferred


def script_command(script: str, args: list[str]) -> list[str]:
    """The command line that runs a top-level script with this Python."""
    return [sys.executable, str(REPO_ROOT / script), *[str(a) for a in args]]


_running: set[subprocess.Popen] = set()  # the steps still running, from any thread of this process
_stopping = threading.Event()


@contextlib.contextmanager
def running_child(command: list, stdout):
    """Start a command from the repository root (stderr into stdout) as a step that stop_running_steps can end; a
    stop while it starts acts once it is known, and on any way out of the block it is ended too, leaving no orphan."""
    process = None
    try:
        with signals_deferred():
            process = subprocess.Popen([str(c) for c in command], cwd=REPO_ROOT, env=child_env(), stdout=stdout,
                                       stderr=subprocess.STDOUT)
            _running.add(process)
        if _stopping.is_set():  # another lane or point was stopped while this one was starting
            stop_process(process)
        yield process
    finally:
        if process is not None:
            stop_process(process)
            _running.discard(process)


def run_step(script: str, args: list[str], quiet: bool = False) -> float:
    """Run a top-level script with flags, echoing its output live; return its wall time in seconds."""
    command = script_command(script, args)
    print("$", shown(command), flush=True)
    start = time.perf_counter()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    with running_child(command, subprocess.PIPE) as process:
        while chunk := process.stdout.read1(4096):  # raw chunks, so progress bars' carriage returns redraw in place
            text = decoder.decode(chunk)
            tail = (tail + text)[-4000:]
            if not quiet:
                sys.stdout.write(text)
                sys.stdout.flush()
        code = process.wait()
    if code != 0:
        raise UserError(step_failure(script, code, tail))
    return time.perf_counter() - start


def run_lanes(lanes: list[list[tuple[str, list, bool]]]) -> list[list[float]]:
    """Run lanes of (script, args, quiet) steps side by side, each lane's one after another; return their wall
    times. A failed step or a stop ends every step still running, and the first error is raised."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    def run_lane(lane):
        return [run_step(script, args, quiet) for script, args, quiet in lane]

    try:
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            futures = [pool.submit(run_lane, lane) for lane in lanes]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
                failed = [future.exception() for future in futures if future.done() and future.exception()]
                if failed:
                    raise failed[0]
                return [future.result() for future in futures]
            except BaseException:
                stop_running_steps()
                raise
    finally:
        _stopping.clear()  # every lane has ended: a notebook can run steps again


def stop_running_steps() -> None:
    """End every step this process started that is still running, and start no more (its caller stopped)."""
    _stopping.set()
    for process in list(_running):
        stop_process(process)


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
        with running_child(command, log) as process:
            code = process.wait()
    if code != 0:
        tail = log_path.read_bytes()[-4000:].decode("utf-8", errors="replace")
        raise UserError(step_failure(name, code, tail, f"its full output is in {log_path}"))
    return time.perf_counter() - start


def shown(command: list[str]) -> str:
    """A command line as printed: the Python binary by name, paths inside the repository relative to it."""
    return " ".join([Path(command[0]).name, *map(str, command[1:])]).replace(str(REPO_ROOT) + "/", "")


def step_failure(script: str, code: int, output: str, hint: str = "run it on its own to see the full output") -> str:
    """The one-line message for a failed step: the child's own `error:` line in full, else its last line and hint."""
    lines = [line.strip() for line in output.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if errors:
        return f"{script}: {errors[-1][len('error: '):]}"
    last = lines[-1] if lines else "no output"
    return f"{script} stopped with exit code {code} ({last}): {hint}"


def show(path: str | Path) -> None:
    """Display a PNG or GIF inline in a notebook; from a terminal, print where it is."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected {path} to exist: the step that writes it did not run to the end")
    if not display_image(path):
        print(f"[figure] {path}")


def measured_step_s(metrics_jsonl: str | Path) -> tuple[int, float] | None:
    """(step, seconds per step) from train.py's metrics.jsonl once it logged two windows (the first one warms up)."""
    path = Path(metrics_jsonl)
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]
    timed = [row for row in rows if "step_s" in row]
    return (int(timed[-1]["step"]), float(timed[-1]["step_s"])) if len(timed) >= 2 else None


def eta_line(step: int, step_s: float, total_steps: int, elapsed_s: float, rest_s: float) -> str:
    """One line: the measured s/step, the training time it implies and when the whole run should end."""
    left_s = (total_steps - step) * step_s + rest_s
    end = time.strftime("%H:%M", time.localtime(time.time() + left_s))
    return (f"[eta] training at {step_s:.2f} s/step: {total_steps} steps take about {total_steps * step_s / 60:.0f} min; "
            f"the whole run should take about {(elapsed_s + left_s) / 60:.0f} min (done near {end})")


def print_eta_once_measured(metrics_jsonl: str | Path, total_steps: int, started: float, rest_s: float,
                            poll_s: float = 2.0) -> threading.Event:
    """Watch a training run's metrics.jsonl in the background and print eta_line once; set the event to stop."""
    stop = threading.Event()

    def watch():
        while not stop.wait(poll_s):
            measured = measured_step_s(metrics_jsonl)
            if measured:
                print("\n" + eta_line(*measured, total_steps, time.perf_counter() - started, rest_s), flush=True)
                return

    threading.Thread(target=watch, daemon=True).start()
    return stop
