"""Runtime set-up in one place: CLI parsing that works in Jupyter, clear errors, device and video backend."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import functools
import logging
import os
import re
import shlex
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("lerobot_notebook_pipeline")
if not log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False

REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FREE_SPACE = "free some space, or choose an output folder on another disk"
DISK_FULL = {errno.ENOSPC: ("the disk is full", FREE_SPACE), errno.EDQUOT: ("your disk quota is used up", FREE_SPACE),
             errno.EFBIG: ("the file would pass the file-size limit", "raise it (ulimit -f unlimited) and run again")}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class UserError(Exception):
    """A problem with the user's input; the message names the problem and the fix."""


def in_notebook() -> bool:
    """True when running inside a Jupyter kernel (where sys.argv belongs to the kernel)."""
    return "ipykernel" in sys.modules and "IPython" in sys.modules and _has_ipython_shell()


def _has_ipython_shell() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ != "TerminalInteractiveShell"


def display_image(path: str | Path) -> bool:
    """Show a PNG or GIF inline when running in a notebook; return whether it was shown."""
    if not in_notebook():
        return False
    from IPython.display import Image, display

    display(Image(filename=str(path)))
    return True


# Called once as the script ends, with True when it ran to the end and False when it failed or was stopped; after a
# failure each may return a note saying what it kept or put back, and how to go on (it joins the `error:` line).
_exit_callbacks: list = []
_exit_state = {"hooks": False, "failed": False}


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse CLI flags; in a notebook ignore the kernel's argv (defaults apply, or flags from $LNP_ARGS).

    A bad flag value is one line (`error: argument --flag: ...`). A script run from a terminal (flags from sys.argv)
    also gets the hooks that turn a UserError, Ctrl-C, SIGTERM or a full disk into one line and exit code 2, and run
    on_exit.
    """
    parser.error = _flag_error
    if in_notebook():
        if argv is None:
            argv = shlex.split(os.environ.get("LNP_ARGS", ""))  # how tests pass tiny settings to a notebook
        return parser.parse_args(argv)
    if argv is None:
        install_exit_hooks()
    return parser.parse_args(argv)


def _flag_error(message: str):
    """argparse's error() as a UserError naming the flag: one line from a terminal, an exception in a notebook."""
    raise UserError(f"{message} (see --help)")


def install_exit_hooks() -> None:
    """Terminal scripts: UserError, Ctrl-C, SIGTERM and a full disk end with one line and exit code 2; on_exit runs."""
    if _exit_state["hooks"]:
        return
    _exit_state["hooks"] = True
    sys.excepthook = _user_error_hook
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit: the write fails with EFBIG instead of a kill
    atexit.register(_at_exit)


def hooks_installed() -> bool:
    """True in a terminal script that called parse_args (failures then reach the on_exit callbacks)."""
    return _exit_state["hooks"]


def on_exit(callback) -> None:
    """Call callback(succeeded) once when the script ends: at a normal exit, a UserError, an exception or a signal.

    After a failure the callback may return a note ("the earlier output in 'X' is as it was"), shown with the error.
    Callbacks run newest first.
    """
    _exit_callbacks.append(callback)


def _run_exit_callbacks(succeeded: bool) -> list[str]:
    """Run every callback once (newest first); return the notes they returned."""
    notes = []
    while _exit_callbacks:
        try:
            note = _exit_callbacks.pop()(succeeded)
        except Exception as err:  # a cleanup problem must not hide the original outcome
            print(f"warning: cleanup failed ({err})", file=sys.stderr, flush=True)
            continue
        if note and not succeeded:
            notes.append(note)
    return notes


def _at_exit() -> None:
    """The interpreter is ending (normally, or after a bug's traceback): settle outputs; name what a failure kept."""
    for note in _run_exit_callbacks(not _exit_state["failed"]):
        print(f"note: {note}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def signals_held():
    """Hold SIGINT and SIGTERM back for a block that must not stop half-way (a folder swap); they arrive after it."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextlib.contextmanager
def signals_deferred():
    """Let SIGINT and SIGTERM act only after a block that must finish (starting a child process, so it is never left
    running unknown); unlike signals_held the handlers are swapped, not the mask, so the child gets the default ones."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread receives them
        yield
        return
    caught = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _user_error_hook(kind, value, tb) -> None:
    if issubclass(kind, UserError):
        fail(str(value))
    if issubclass(kind, KeyboardInterrupt):
        fail(f"stopped by {value.args[0] if value.args else 'SIGINT'} before the end", say_kept=True)
    code = disk_full_errno(value)
    if code is not None:
        filename = getattr(value, "filename", None)
        where, (why, fix) = f" '{filename}'" if filename else "", DISK_FULL[code]
        fail(f"cannot write{where}: {why} ({os.strerror(code)}); {fix}", say_kept=True)
    _exit_state["failed"] = True  # a bug: the traceback follows, then atexit puts earlier outputs back
    sys.__excepthook__(kind, value, tb)


def disk_full_errno(error: BaseException) -> int | None:
    """ENOSPC, EDQUOT or EFBIG behind an error: an OSError's errno, or the '(os error N)' that native writers such as
    safetensors put in their message; None for anything else."""
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return error.errno
    found = re.search(r"os error (\d+)", str(error))
    return int(found.group(1)) if found and int(found.group(1)) in DISK_FULL else None


def fail(message: str, say_kept: bool = False) -> None:
    """Print a one-line error and exit with code 2, without a traceback (earlier outputs are put back first).

    With say_kept the line also says what the run kept or put back, and how to go on (the on_exit notes).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_state["failed"] = True
    notes = _run_exit_callbacks(False)
    if say_kept:
        message += "; " + ("; ".join(notes) or "any earlier output is as it was: run the command again to redo it")
    close_progress_bars()
    sys.stdout.flush()
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    os._exit(2)  # from an excepthook a SystemExit would not change the exit code


def close_progress_bars() -> None:
    """Close any open tqdm bar, so that what is printed next starts on a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or []):
        bar.close()


def pick_device(requested: str = "auto") -> str:
    """Return 'cuda', 'mps' or 'cpu' for 'auto', else validate the requested device."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":")[0]
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }
    if kind not in available:
        raise UserError(f"unknown device '{requested}': use auto, cpu, cuda or mps")
    if not available[kind]:
        raise UserError(f"device '{requested}' is not available on this machine: use --device auto or cpu")
    return requested


@functools.lru_cache(maxsize=1)
def video_backend() -> str:
    """'torchcodec' when it loads with its FFmpeg libraries, else 'pyav' (logged once)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception as err:  # torchcodec raises RuntimeError/OSError when FFmpeg libs are missing
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        log.info("video decoding: torchcodec unavailable (%s); using pyav", reason[:120])
        return "pyav"
    return "torchcodec"


def looks_like_repo_id(spec: str) -> bool:
    """True when spec has the shape of a hub repo id (owner/name) and is not a local path."""
    return bool(REPO_ID_PATTERN.match(spec)) and not Path(spec).expanduser().exists()


def hub_unreachable_reason(repo_id: str, repo_type: str = "dataset") -> str | None:
    """None when the hub answers for repo_id, else a short reason why it cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return "HF_HUB_OFFLINE is set"
    try:
        from huggingface_hub import HfApi

        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=10)
    except Exception as err:
        text = str(err).strip().splitlines()
        return (text[0] if text else type(err).__name__)[:160]
    return None


def require_hub(repo_id: str, repo_type: str, local_hint: str) -> None:
    """Raise a one-line UserError naming the local alternative when repo_id cannot be reached."""
    reason = hub_unreachable_reason(repo_id, repo_type)
    if reason is not None:
        raise UserError(f"cannot reach '{repo_id}' on the Hugging Face hub ({reason}); {local_hint}")
