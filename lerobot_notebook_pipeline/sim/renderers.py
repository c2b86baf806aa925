"""MuJoCo renderers the sim envs open: each is closed at exit, before EGL itself shuts down."""

from __future__ import annotations

import atexit
import weakref

_LIVE_ENVS = weakref.WeakSet()


def _close_renderers() -> None:
    for env in list(_LIVE_ENVS):
        env.close()


def close_at_exit(env) -> None:
    """Free env's GL context at exit before EGL itself shuts down (avoids noisy errors at interpreter exit)."""
    if not _LIVE_ENVS:
        atexit.register(_close_renderers)  # registered after EGL's own handler, so it runs first
    _LIVE_ENVS.add(env)
