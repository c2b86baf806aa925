"""Safe file output: atomic writes, and output folders that are never overwritten by accident or lost in a failed run.

Every script writes its output folder in one transaction (`prepare_output_dir`, or `replace_output_dir` for a folder
built elsewhere): the folder is locked for the run, an earlier output there is kept aside, and when the script ends
it is deleted only if the run ended well; on any other way out (a UserError, a bug, SIGINT, SIGTERM, a full disk) the
new output is removed and the earlier one put back.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError, hooks_installed, on_exit, signals_held

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
    """Refuse an output folder that is not clearly ours, not writable, in use, or taken without --overwrite; change
    nothing. Returns the path made absolute (a symbolic link stays a link)."""
    text = str(path).strip()
    if not text:
        raise UserError(f"{flag} is empty: pass a new folder such as outputs/NAME")
    path = Path(os.path.abspath(os.path.expanduser(text)))
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
    holder = lock_holder(resolved)
    if holder is not None:
        raise UserError(f"another run ({holder}) is writing to '{text}' now: wait for it to end, or choose another "
                        f"{flag}")
    if is_nonempty_dir(path):
        if not (path / MARKER).is_file():
            raise UserError(f"{flag} '{text}' holds files this toolkit did not make, so it is never replaced: choose "
                            "another path, or empty that folder by hand if you mean to reuse it")
        if not overwrite:
            backups = leftover_backups(resolved)
            if backups:
                raise UserError(f"'{text}' already exists and is not empty, and '{backups[0]}' holds what was there "
                                f"before a run that was killed replaced it: put it back with rm -rf '{path}' && mv "
                                f"'{backups[0]}' '{path}', or pass --overwrite to replace '{text}' (the copy aside "
                                "stays until you delete it)")
            raise UserError(f"'{text}' already exists and is not empty: pass --overwrite to replace it, or choose "
                            f"another {flag}")
    check_writable(path, flag)
    for backup in leftover_backups(resolved):
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


# ------------------------------------------------------------------------------- locks: one run per folder

_held_locks: dict[Path, int] = {}  # lock file -> open descriptor, held until the script ends


def lock_file(folder: Path) -> Path:
    """The hidden lock file beside an output folder (beside its target, for a symbolic link)."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock"


def lock_holder(folder: Path) -> str | None:
    """'process PID' when another process holds the folder's lock now, else None; changes nothing."""
    lock = lock_file(folder)
    if lock in _held_locks or not lock.is_file():
        return None
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"process {os.read(fd, 32).decode(errors='replace').strip() or '?'}"
    finally:
        os.close(fd)
    return None


def claim_output_dir(folder: str | Path, flag: str = "--output-dir") -> None:
    """Lock an output folder until the script ends (terminal scripts); a second run is refused with one line."""
    lock = lock_file(folder)
    if not hooks_installed() or lock in _held_locks:
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(f"another run (process {holder}) is writing to '{folder}' now: wait for it to end, or "
                            f"choose another {flag}") from None
        if _same_file(lock, fd):
            break
        os.close(fd)  # the run that held it removed the file as it ended: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held_locks[lock] = fd
    on_exit(lambda succeeded: _release(lock))


def _same_file(path: Path, fd: int) -> bool:
    """Whether path still names the file open as fd."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _release(lock: Path) -> None:
    """Remove the lock file, then let go of the lock."""
    lock.unlink(missing_ok=True)
    os.close(_held_locks.pop(lock))


# ------------------------------------------------------------------- the output transaction of one run


def prepare_output_dir(path: str | Path, overwrite: bool, flag: str = "--output-dir", keep=None) -> Path:
    """Return an empty output folder, marked as ours and locked for this run; an earlier one (ours, with overwrite)
    is kept aside until the script ends well, then deleted, and put back on any other way out.

    keep() is asked, after a failed run into a new folder, whether something there is worth resuming: a note saying
    how ("... resume with --resume") keeps the folder; None removes it, so that the plain rerun is not refused.
    In a notebook (no end of script to wait for) the earlier folder is deleted at once.
    """
    path = check_output_dir(path, overwrite, flag)
    _begin(path, keep=keep)
    return path


def replace_output_dir(new: str | Path, path: str | Path) -> Path:
    """Make the complete folder new (built beside path, see aside_path) the output at path, in the same transaction
    as prepare_output_dir: an earlier folder at path is deleted only when the script ends well."""
    (Path(new) / MARKER).touch()
    _begin(Path(path), built=Path(new))
    return Path(path)


def aside_path(path: str | Path, kind: str = "tmp") -> Path:
    """A hidden sibling of an output folder (of its target, for a link), on the same disk: where to build it aside."""
    target = Path(path).resolve()
    return target.parent / f".{target.name}.{kind}-{os.getpid()}"


def _begin(path: Path, built: Path | None = None, keep=None) -> None:
    """Start the transaction on path's target (a symbolic link stays a link): lock, move the earlier one aside."""
    run = _OutputRun(path.resolve(), keep)
    if hooks_installed():
        claim_output_dir(run.folder)
        on_exit(run.settle)
    with signals_held():
        run.begin(built)
    if not hooks_installed():
        run.settle(True)


class _OutputRun:
    """One run's output folder: what was there before (kept aside) and whether this run created the folder."""

    def __init__(self, folder: Path, keep=None):
        self.folder, self.keep, self.backup, self.created = folder, keep, None, False

    def begin(self, built: Path | None) -> None:
        """Move an earlier output aside, then put the new (empty, or built elsewhere) folder in its place."""
        if self.folder.exists() and (built is not None or is_nonempty_dir(self.folder)):
            self.backup = _move_aside(self.folder)
        self.created = not self.folder.exists()
        if built is not None:
            os.replace(built, self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / MARKER).touch()

    def settle(self, succeeded: bool) -> str | None:
        """At exit: after a good run drop the earlier output; else put it back, or keep what is worth resuming."""
        if succeeded:
            if self.backup is not None:
                shutil.rmtree(self.backup, ignore_errors=True)
            return None
        if self.backup is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            os.replace(self.backup, self.folder)
            return f"the earlier output in '{self.folder}' is as it was: run the command again to redo it"
        note = self.keep() if self.keep is not None and self.folder.is_dir() else None
        if note:
            return note
        shutil.rmtree(self.folder, ignore_errors=True)  # a half-made output would block the rerun
        if not self.created:
            self.folder.mkdir()  # it was there, empty: leave it so
        return None


def _move_aside(path: Path) -> Path:
    """Rename an earlier output folder to a hidden sibling (kept until the new one is complete) and return it."""
    backup = aside_path(path, "previous")
    os.replace(path, backup)
    return backup
