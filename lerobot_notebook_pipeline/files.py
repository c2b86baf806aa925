"""Safe file output: atomic writes, and output folders that are never overwritten by accident."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .runtime import UserError


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


def prepare_output_dir(path: str | Path, overwrite: bool, flag: str = "--overwrite") -> Path:
    """Return an empty output folder; refuse a non-empty one unless overwrite is set."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"output path '{path}' is a file, not a folder: choose another path")
    if is_nonempty_dir(path):
        if not overwrite:
            raise UserError(f"'{path}' already exists and is not empty: pass {flag} to replace it, or choose another path")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path
