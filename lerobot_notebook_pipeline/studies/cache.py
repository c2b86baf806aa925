"""Steps cached under a key of their settings: outputs in ROOT/KIND/KEY, a done marker once they succeeded.

A step is finished when its output folder exists and its done marker (ROOT/KIND/KEY.done.json, written atomically
after the step succeeded) does. A lock file keeps two processes that need the same step from running it twice: the
second waits, then finds it done (or first takes another step, see busy).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from lerobot_notebook_pipeline.files import write_json


def settings_key(kind: str, settings: dict) -> str:
    """A short hash of a step's kind and settings (JSON, sorted keys): equal settings give equal keys."""
    blob = json.dumps({"kind": kind, **settings}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Step:
    """One cached step: its folder, done marker and lock under ROOT/KIND/."""

    root: Path
    kind: str
    settings: dict

    @property
    def key(self) -> str:
        return settings_key(self.kind, self.settings)

    @property
    def out(self) -> Path:
        return self.root / self.kind / self.key

    @property
    def marker(self) -> Path:
        return self.root / self.kind / f"{self.key}.done.json"

    @property
    def lock(self) -> Path:
        return self.root / self.kind / f"{self.key}.lock"

    def busy(self) -> bool:
        """Whether another process holds this step's lock now (it is running the step)."""
        if not self.lock.is_file():
            return False
        with open(self.lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def done(self) -> dict | None:
        """The done marker's contents when the step finished (outputs and marker present), else None."""
        if self.out.exists() and self.marker.is_file():
            return json.loads(self.marker.read_text())
        return None


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on path (created if needed) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_cached(step: Step, action) -> tuple[dict, bool]:
    """Run action(out_dir) -> dict unless the step is done; return (done marker, whether it ran now).

    The marker records the step's settings, its wall time and whatever action returned.
    """
    with locked(step.lock):
        marker = step.done()
        if marker is not None:
            return marker, False
        start = time.perf_counter()
        extra = action(step.out) or {}
        marker = {"kind": step.kind, "key": step.key, "settings": step.settings,
                  "seconds": round(time.perf_counter() - start, 2), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  **extra}
        write_json(step.marker, marker)
        return marker, True


def free_first(steps: list[Step]):
    """Yield every step once, each time the first that no other process is running (else the first left, to wait on):
    two runs of one point share its evaluations instead of queueing behind each other's locks."""
    left = list(steps)
    while left:
        step = next((s for s in left if not s.busy()), left[0])
        left.remove(step)
        yield step
