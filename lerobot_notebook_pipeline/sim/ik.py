"""What the scripted experts share: rotations, a pose error, a damped-least-squares step, timed waypoints."""

from __future__ import annotations

import numpy as np


def damped_step(jac: np.ndarray, err: np.ndarray, damping: float, max_norm: float = 0.2) -> np.ndarray:
    """The joint step that best reduces err (6: position and weighted rotation), damped and at most max_norm long."""
    step = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(len(err)), err)
    norm = np.linalg.norm(step)
    return step * (max_norm / norm) if norm > max_norm else step


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Gripper orientation: x axis (pointing out of the fingers) yawed about world z, pitched down, rolled about x."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) that rotates current onto target."""
    delta = target @ current.T
    angle = np.arccos(np.clip((np.trace(delta) - 1) / 2, -1.0, 1.0))
    if angle < 1e-9:
        return np.zeros(3)
    axis = np.array([delta[2, 1] - delta[1, 2], delta[0, 2] - delta[2, 0], delta[1, 0] - delta[0, 1]])
    return axis * angle / (2 * np.sin(angle)) if np.sin(angle) > 1e-6 else axis * 0.5


class Trajectory:
    """Timed waypoints (t, xyz, yaw/pitch/roll, gripper) for one gripper, linearly interpolated."""

    def __init__(self):
        self.points: list[tuple[float, np.ndarray, np.ndarray, float]] = []

    def add(self, t: float, pos, angles, gripper: float) -> Trajectory:
        """Append a waypoint; times must increase."""
        self.points.append((float(t), np.asarray(pos, dtype=float), np.asarray(angles, dtype=float), float(gripper)))
        self.points.sort(key=lambda p: p[0])
        return self

    def replace_from(self, t: float) -> None:
        """Drop waypoints at or after t (to re-plan the rest from a fresh observation)."""
        self.points = [p for p in self.points if p[0] < t]

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Interpolated (pos, angles, gripper) at time t."""
        pts = self.points
        if t <= pts[0][0]:
            return pts[0][1], pts[0][2], pts[0][3]
        for (t0, p0, a0, g0), (t1, p1, a1, g1) in zip(pts, pts[1:], strict=False):
            if t <= t1:
                w = (t - t0) / (t1 - t0)
                return p0 + w * (p1 - p0), a0 + w * (a1 - a0), g0 + w * (g1 - g0)
        return pts[-1][1], pts[-1][2], pts[-1][3]
