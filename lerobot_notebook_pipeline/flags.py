"""argparse `type=` checks for flag values: each names the accepted values, so a bad one is a one-line error."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from lerobot_notebook_pipeline.runtime import REPO_ID_PATTERN

MAX_SEED = 2**32 - 1  # numpy's seed range


def _number(text: str, kind=float) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not {'a whole number' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number: use an ordinary number")
    return value


def int_in(low: int, high: int | None = None):
    """A whole number in [low, high] (no upper bound when high is None)."""
    def parse(text: str) -> int:
        value = _number(text, int)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: use a whole number {_range(low, high)}")
        return value
    return parse


def float_in(low: float, high: float | None = None, low_open: bool = False, high_open: bool = False):
    """A finite number in the interval from low to high, each end open or closed."""
    def parse(text: str) -> float:
        value = _number(text)
        below = value <= low if low_open else value < low
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            upper = "inf)" if high is None else f"{high:g}{right}"
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: use a number in {left}{low:g}, {upper}")
        return value
    return parse


def _range(low: int, high: int | None) -> str:
    return f"of {low} or more" if high is None else f"from {low} to {high}"


def finite_float(text: str) -> float:
    """Any finite number (no nan or inf)."""
    return _number(text)


positive_int = int_in(1)
non_negative_int = int_in(0)
seed = int_in(0, MAX_SEED)
threads = int_in(1, 1024)
workers = int_in(1, 256)
positive_float = float_in(0.0, low_open=True)
non_negative_float = float_in(0.0)
fraction = float_in(0.0, 1.0, high_open=True)  # a held-out share: 0 (none) up to, not including, 1
learning_rate = float_in(0.0, 1.0, low_open=True)
size_mb = float_in(0.01, 10_000)  # a media file's size budget
image_side = int_in(8, 4096)
minutes = float_in(0.0, 7 * 24 * 60, low_open=True)
metres = float_in(0.0, 1.0)  # a distance on the table (noise std, radius)


def path(text: str) -> Path:
    """A file or folder path, made absolute once, here: `~` expanded, relative to the current folder (links kept)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty: give a folder, or leave the flag out for its default")
    return Path(os.path.abspath(os.path.expanduser(text)))


def path_or_repo(text: str) -> Path | str:
    """A local path (as `path` makes it), or a hub repo id (owner/name) kept as text when no such local path exists."""
    if REPO_ID_PATTERN.match(text) and not os.path.exists(os.path.expanduser(text)):
        return text
    return path(text)
