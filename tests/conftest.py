"""Shared test set-up: headless rendering, offline hub, one torch thread, scripts run in this process, notebooks run
headless, and the order in which pytest-xdist hands out the test files."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# `make test` runs one pytest worker per core (pytest-xdist): one torch thread each, or they spin against each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class ScriptRun:
    """What run_script saw: the exit code, what the script printed, and its globals (its variables at the end)."""

    returncode: int
    stdout: str
    stderr: str
    globals: dict


def run_script(script: str | Path, *args, cwd: str | Path | None = None) -> ScriptRun:
    """Run a top-level script in this process, as `python SCRIPT ARGS` from a terminal runs it, and return what it did.

    A fresh interpreter spends 5-10 s of CPU importing torch and lerobot before the script starts; here they are
    loaded already. Use it where a test checks what a run makes; tests of exit codes, one-line errors and signals
    start the script in a subprocess. An exception (a UserError too) propagates, after the output folders are put
    back, as a terminal run's exit hooks would; the hooks, signal handlers and working folder are restored."""
    import atexit
    import contextlib
    import io
    import runpy
    import signal

    from lerobot_notebook_pipeline import runtime

    saved_argv, saved_hook, saved_cwd = sys.argv, sys.excepthook, os.getcwd()
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)}
    torch = sys.modules.get("torch")
    saved_threads = torch.get_num_threads() if torch else None
    logged, saved_stream = runtime.log.handlers[0], runtime.log.handlers[0].stream
    out, err = io.StringIO(), io.StringIO()
    code, succeeded, namespace = 0, False, {}
    sys.argv = [str(ROOT / script), *map(str, args)]
    try:
        if cwd is not None:
            os.chdir(cwd)
        logged.setStream(err)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                namespace = runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as stop:  # analyse_dataset.py --fail-on: exit code 1, its outputs kept
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        succeeded = not runtime._exit_state["failed"]
    finally:  # what the end of the interpreter does for a terminal run: settle the outputs, release their locks
        runtime._run_exit_callbacks(succeeded)
        runtime._exit_state.update(hooks=False, failed=False)
        atexit.unregister(runtime._at_exit)
        logged.setStream(saved_stream)
        sys.argv, sys.excepthook = saved_argv, saved_hook
        for number, handler in saved_signals.items():
            signal.signal(number, handler)
        os.chdir(saved_cwd)
        if saved_threads:
            torch.set_num_threads(saved_threads)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    return ScriptRun(code, out.getvalue(), err.getvalue(), namespace)


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


# ------------------------------------------------------------------------------ two workers that finish together
# `make test` runs whole files per worker (pytest-xdist --dist loadfile). xdist hands out the files with the most
# tests first; here the longest go first, so the short ones fill in at the end and neither worker waits alone on a
# long file. Seconds per file from a full `make test` (2026-12-01, 2 cores, busy); a file not listed counts as
# UNLISTED_S. Re-measure with --junitxml when a file changes a lot.
FILE_SECONDS = {
    "test_experiments.py": 211, "test_robustness.py": 201, "test_train_ultimate.py": 127, "test_noise.py": 6,
    "test_make_sim_dataset.py": 89, "test_visualize_policy.py": 75, "test_train.py": 70, "test_interop.py": 63,
    "test_nothing_lost.py": 58, "test_fault_matrix.py": 43, "test_so101_loop.py": 41, "test_analyse_dataset.py": 41,
    "test_bad_input.py": 36, "test_drift.py": 19, "test_jupyter_lab.py": 19, "test_scores.py": 10, "test_so101.py": 9,
}
UNLISTED_S = 30


def pytest_configure(config):
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False  # keep the order below, not xdist's (most tests first)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker collects; all sort alike, so their collections agree
        items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, UNLISTED_S))  # stable: a file stays together
