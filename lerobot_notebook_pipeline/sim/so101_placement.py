"""Where the SO-101 task's cube starts: pencil marks around the centre target, a person's placement noise, a
uniform range or a fixed pose. Pure functions of a seed, testable without MuJoCo.

Placement precedence: a fixed cube_pose, else a pose_range drawn uniformly, else a mark chosen at random plus
the placement noise. N marks lie evenly on the circle through the corners of a square of half-side MARK_HALF
around the centre target, starting at its (+x, +y) corner: 4 marks are the square's corners (x 0.15 to 0.25,
y -0.05 to 0.05 with the defaults), 2 are opposite corners, 1 is the (+x, +y) corner.
"""

from __future__ import annotations

import math

import numpy as np

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim.so101_scene import CUBE_SIZE, TABLE_XY, TARGET_XY

MARKS = 4  # pencil marks: the corners of a square around the centre target
MARK_HALF = 0.05  # m: half the side of that square (marks 5 cm from the target in x and y)
PLACEMENT_NOISE = 0.015  # m: a person puts the cube within about +/-1.5 cm of a mark (uniform in x and y)
REACH_XY = (0.14, 0.30, -0.15, 0.15)  # where the scripted expert picks from (XMIN XMAX YMIN YMAX, m; measured)
MAX_MARKS = 64


def check_on_table(xy, flag: str = "--cube-pose") -> tuple[float, float]:
    """(x, y) as floats when the whole cube fits on the table top, else a UserError naming the table."""
    x0, x1, y0, y1 = TABLE_XY
    half = CUBE_SIZE / 2
    x, y = float(xy[0]), float(xy[1])
    if not (x0 + half <= x <= x1 - half and y0 + half <= y <= y1 - half):
        raise UserError(f"{flag} {x:g} {y:g} is off the table (x from {x0 + half:g} to {x1 - half:g}, y from "
                        f"{y0 + half:g} to {y1 - half:g} m): put the cube on the table, e.g. near the target "
                        f"{TARGET_XY[0]:g} {TARGET_XY[1]:g}")
    return x, y


def check_pose_range(pose_range, flag: str = "--pose-range") -> tuple[float, float, float, float]:
    """XMIN XMAX YMIN YMAX as floats when ordered and on the table, else a UserError naming the fix."""
    if len(pose_range) != 4:
        raise UserError(f"{flag} wants 4 numbers XMIN XMAX YMIN YMAX, got {len(pose_range)}")
    x0, x1, y0, y1 = (float(v) for v in pose_range)
    if x0 > x1 or y0 > y1:
        raise UserError(f"{flag} wants XMIN XMAX YMIN YMAX with XMIN <= XMAX and YMIN <= YMAX, got "
                        f"{x0:g} {x1:g} {y0:g} {y1:g}: swap the reversed pair")
    check_on_table((x0, y0), f"{flag} corner")
    check_on_table((x1, y1), f"{flag} corner")
    return x0, x1, y0, y1


def mark_positions(count: int = MARKS, centre=TARGET_XY, half: float = MARK_HALF) -> list[tuple[float, float]]:
    """count marks evenly on the circle through the corners of the square +/-half around centre."""
    if not isinstance(count, int | np.integer) or not 1 <= count <= MAX_MARKS:
        raise UserError(f"--marks {count}: use a whole number of pencil marks from 1 to {MAX_MARKS} (4 by default)")
    radius = half * math.sqrt(2)
    angles = [math.pi / 4 + 2 * math.pi * k / count for k in range(count)]
    return [(centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a)) for a in angles]


def check_marks(marks) -> list[tuple[float, float]]:
    """Marks from a count (see mark_positions) or a list of (x, y) on the table."""
    if isinstance(marks, int | np.integer):
        result = mark_positions(int(marks))
    else:
        result = [check_on_table(m, "--marks position") for m in marks]
        if not result:
            raise UserError("--marks: give at least one pencil mark (4 by default)")
    for xy in result:
        check_on_table(xy, "a pencil mark")
    return result


def check_noise(noise: float) -> float:
    """The placement noise as a float when it is 0 or more, else a UserError."""
    if not noise >= 0:
        raise UserError(f"--placement-noise {noise:g}: use 0 or more metres (a person's is about {PLACEMENT_NOISE:g})")
    return float(noise)


def near_mark(mark, noise: float, rng: np.random.Generator) -> tuple[float, float]:
    """A person's placement at a mark: uniform within +/-noise in x and y."""
    dx, dy = rng.uniform(-noise, noise, size=2) if noise > 0 else (0.0, 0.0)
    return float(mark[0] + dx), float(mark[1] + dy)


def sample_cube_xy(seed: int, marks, noise: float = PLACEMENT_NOISE, pose_range=None,
                   cube_pose=None) -> tuple[float, float]:
    """The cube's starting (x, y) for seed: cube_pose if given, else uniform in pose_range, else near a mark."""
    if cube_pose is not None:
        return float(cube_pose[0]), float(cube_pose[1])
    rng = np.random.default_rng(int(seed))
    if pose_range is not None:
        x0, x1, y0, y1 = pose_range
        return float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
    mark = marks[int(rng.integers(len(marks)))]
    return near_mark(mark, noise, rng)


def mark_index(xy, marks) -> int:
    """The index of the mark nearest to (x, y)."""
    return int(np.argmin([math.dist(xy, m) for m in marks]))
