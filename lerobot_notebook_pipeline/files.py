"""Safe file output: atomic writes, and output folders that are never overwritten by accident or lost in a failed run."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError, hooks_installed, on_exit

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = ".lnp-output"  # in every output folder this toolkit makes: only such folders are ever replaced
MIN_FREE_MB = 100


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write data to path via a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj) -> Path:
    """Write obj as indented JSON, atomically."""
    return write_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def is_nonempty_dir(path: str | Path) -> bool:
    """True when path is a folder with something in it."""
    path = Path(path)
    return path.is_dir() and any(path.iterdir())


def check_output_dir(path: str | Path, overwrite: bool, flag: str = "--output-dir") -> Path:
    """Refuse an output folder that is not clearly ours, not writable, or taken without --overwrite; change nothing."""
    text = str(path).strip()
    if not text:
        raise UserError(f"{flag} is empty: pass a new folder such as outputs/NAME")
    path = Path(text).expanduser()
    resolved = path.resolve()
    for name, protected in (("the file system root", Path("/")), ("your home folder", Path.home()),
                            ("the current folder", Path.cwd()), ("the repository", REPO_ROOT)):
        protected = protected.resolve()
        if resolved == protected or resolved in protected.parents:
            raise UserError(f"{flag} '{text}' is {name} or a folder above it, which is never used for output: "
                            "choose a new folder such as outputs/NAME")
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} '{text}' is a file, not a folder: choose another path")
    if (path / ".git").exists():
        raise UserError(f"{flag} '{text}' holds a .git folder (a repository) and is never used for output: "
                        "choose a new folder such as outputs/NAME")
    if is_nonempty_dir(path):
        if not (path / MARKER).is_file():
            raise UserError(f"{flag} '{text}' holds files this toolkit did not make, so it is never replaced: choose "
                            "another path, or empty that folder by hand if you mean to reuse it")
        if not overwrite:
            raise UserError(f"'{text}' already exists and is not empty: pass --overwrite to replace it, or choose "
                            f"another {flag}")
    check_writable(path, flag)
    for backup in leftover_backups(path):
        print(f"note: '{backup}' holds what was in '{text}' before a run that was killed outright replaced it: "
              f"move it back (mv) or delete it", file=sys.stderr, flush=True)
    return path


def leftover_backups(path: Path) -> list[Path]:
    """Earlier outputs that _move_aside kept for a run that was killed (SIGKILL, power loss) before settling them."""
    found = []
    for backup in path.parent.glob(f".{glob.escape(path.name)}.previous-*"):
        pid = backup.name.rsplit("-", 1)[1]
        if pid.isdigit() and not process_alive(int(pid)):
            found.append(backup)
    return sorted(found)


def process_alive(pid: int) -> bool:
    """Whether a process with this id is running on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(path: Path, flag: str = "--output-dir") -> None:
    """Refuse an output path whose folder (or nearest existing parent) cannot be written or is nearly full."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{flag} '{path}' lies inside the file '{existing}': choose another path")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".lnp-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"cannot write to '{existing}' ({err.strerror}): choose a writable {flag}") from None
    free_mb = shutil.disk_usage(existing).free / 1e6
    if free_mb < MIN_FREE_MB:
        raise UserError(f"only {free_mb:.0f} MB free on the disk of '{existing}': free some space (at least "
                        f"{MIN_FREE_MB} MB) or choose a {flag} on another disk")


def prepare_output_dir(path: str | Path, overwrite: bool, flag: str = "--output-dir") -> Path:
    """Return an empty output folder, marked as ours. An earlier one (ours, with overwrite) is kept aside.

    In a terminal script the earlier folder is deleted only when the script ends well; when it fails or is stopped,
    the new folder is removed and the earlier one put back. In a notebook it is deleted at once.
    """
    path = check_output_dir(path, overwrite, flag)
    backup = _move_aside(path) if is_nonempty_dir(path) else None
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).touch()
    if hooks_installed():
        on_exit(lambda succeeded: _settle(path, backup, created, succeeded))
    elif backup is not None:
        shutil.rmtree(backup)
    return path


def _move_aside(path: Path) -> Path:
    """Rename an earlier output folder to a hidden sibling (kept until the new one is complete) and return it."""
    backup = path.parent / f".{path.name}.previous-{os.getpid()}"
    os.replace(path, backup)
    return backup


def _settle(path: Path, backup: Path | None, created: bool, succeeded: bool) -> None:
    """At exit: drop the earlier output after a good run; after a failed one put it back (or drop an empty new one)."""
    if succeeded:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    elif backup is not None:
        shutil.rmtree(path, ignore_errors=True)
        os.replace(backup, path)
    elif created and [p.name for p in path.iterdir()] == [MARKER]:
        shutil.rmtree(path)


def replace_output_dir(new: str | Path, path: str | Path) -> Path:
    """Move the complete folder new to path, marked as ours; an earlier folder at path is deleted only afterwards."""
    new, path = Path(new), Path(path)
    (new / MARKER).touch()
    backup = _move_aside(path) if path.exists() else None
    os.replace(new, path)
    if backup is not None:
        shutil.rmtree(backup)
    return path
