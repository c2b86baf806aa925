"""Object positions for evaluation: the training data's spread and positions, grids over a range, rings at a distance.

A pose range is (XMIN, XMAX, YMIN, YMAX) in metres, as make_sim_dataset.py's --pose-range; a position is (x, y).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.runtime import UserError


def read_settings(path: str | Path) -> dict:
    """Sim settings from a dataset folder (its meta/sim_settings.json) or from such a JSON file itself."""
    from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings

    path = Path(path).expanduser()
    settings = json.loads(path.read_text()) if path.is_file() else read_sim_settings(path)
    if settings is None:
        raise UserError(f"'{path}' holds no meta/sim_settings.json: pass a dataset recorded by make_sim_dataset.py "
                        "or its meta/sim_settings.json")
    return settings


def training_range(settings: dict | None) -> tuple[float, float, float, float] | None:
    """The range the training data's object positions were drawn from (a point for a fixed pose), if recorded."""
    if not settings:
        return None
    if settings.get("pose_range"):
        return tuple(float(v) for v in settings["pose_range"])
    if settings.get("cube_pose"):
        x, y = map(float, settings["cube_pose"])
        return x, x, y, y
    return None


def training_positions(settings: dict | None) -> list[tuple[float, float]]:
    """The (x, y) object position of every recorded training episode (empty when not recorded)."""
    episodes = (settings or {}).get("episodes") or []
    return [(float(e["object_pose"][0]), float(e["object_pose"][1])) for e in episodes if e.get("object_pose")]


def range_centre(pose_range) -> tuple[float, float]:
    """The middle of a pose range."""
    x0, x1, y0, y1 = pose_range
    return (x0 + x1) / 2, (y0 + y1) / 2


def square_range(centre, radius: float) -> tuple[float, float, float, float]:
    """The pose range +/-radius around centre."""
    x, y = centre
    return x - radius, x + radius, y - radius, y + radius


def grid_poses(pose_range, nx: int, ny: int) -> list[tuple[float, float]]:
    """nx x ny positions evenly spaced over the range, edges included, x varying fastest."""
    if nx < 1 or ny < 1:
        raise UserError(f"--pose-grid {nx} {ny}: use at least 1 1")
    x0, x1, y0, y1 = pose_range
    return [(float(x), float(y)) for y in np.linspace(y0, y1, ny) for x in np.linspace(x0, x1, nx)]


def ring_poses(centre, radius: float, count: int) -> list[tuple[float, float]]:
    """count positions evenly spaced on the circle of radius (m) around centre, the first one towards +x."""
    x, y = centre
    angles = [2 * math.pi * k / count for k in range(count)]
    return [(x + radius * math.cos(a), y + radius * math.sin(a)) for a in angles]


def flag_outside(cube_pose, pose_range, box) -> str | None:
    """'--cube-pose' or '--pose-range' when that flag puts the object outside box (XMIN XMAX YMIN YMAX), else None."""
    x0, x1, y0, y1 = box
    corners = [cube_pose] if cube_pose else [pose_range[0::2], pose_range[1::2]] if pose_range else []
    if any(not (x0 <= x <= x1 and y0 <= y <= y1) for x, y in corners):
        return "--cube-pose" if cube_pose else "--pose-range"
    return None
