"""Figures that any stage draws: a grid of small axes, image grids, the pose heatmap, and saving or showing a PNG."""

from __future__ import annotations

import math

import numpy as np


def axes_figure(rows: int, cols: int, width: float = 2.6, height: float = 1.7):
    """A figure with a grid of small axes (returned flat); never opens a window."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, cols * width), max(2.2, rows * height)), dpi=90, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes.ravel()


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(max_cols, max(1, n))
    return math.ceil(n / cols), cols


def hide_unused(axes, used: int) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)


def save_figure(fig, path) -> None:
    """Save a figure as PNG (atomically)."""
    import io

    from lerobot_notebook_pipeline.files import write_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())


def frame_grid(images: dict, max_rows: int = 8):
    """First and last frame of each episode per camera: images maps (episode, camera) -> (first, last) arrays or None."""
    episodes = sorted({e for e, _ in images})[:max_rows]
    cameras = sorted({c for _, c in images})
    fig, axes = axes_figure(len(episodes), 2 * len(cameras), width=1.6, height=1.3)
    axes = axes.reshape(len(episodes), 2 * len(cameras))
    for r, episode in enumerate(episodes):
        for c, camera in enumerate(cameras):
            pair = images.get((episode, camera))
            for k, label in enumerate(("first", "last")):
                ax = axes[r, 2 * c + k]
                ax.set_xticks([])
                ax.set_yticks([])
                if pair is None:
                    ax.text(0.5, 0.5, "missing", ha="center", va="center", fontsize=7, transform=ax.transAxes)
                else:
                    ax.imshow(pair[k])
                if r == 0:
                    ax.set_title(f"{camera.split('.')[-1]} {label}", fontsize=7)
                if c == 0 and k == 0:
                    ax.set_ylabel(f"ep {episode}", fontsize=7)
    return fig


def augmentation_grid(rows: list[list]):
    """Rows of images (C, H, W in [0, 1]): the original first, then its augmented versions."""
    cols = max(len(r) for r in rows)
    fig, axes = axes_figure(len(rows), cols, width=2.0, height=1.6)
    for r, images in enumerate(rows):
        for c in range(cols):
            ax = axes[r * cols + c]
            ax.axis("off")
            if c < len(images):
                ax.imshow(np.asarray(images[c].permute(1, 2, 0).clamp(0, 1)))
                if r == 0:
                    ax.set_title("original" if c == 0 else f"augmented {c}", fontsize=8)
    return fig


def show(fig, path) -> None:
    """Save a figure as PNG, then show it inline when running in a notebook."""
    from lerobot_notebook_pipeline.runtime import display_image

    save_figure(fig, path)
    display_image(path)


def pose_heatmap(pose_range, success_grid, training_xy=(), title: str = "", stage_grid=None):
    """Success per object position on a grid (rows y, columns x) with the training positions marked as dots.

    stage_grid, when given, writes each cell's furthest stage in it.
    """
    from matplotlib.figure import Figure

    grid = np.asarray(success_grid, dtype=float)
    ny, nx = grid.shape
    x0, x1, y0, y1 = pose_range
    dx, dy = (x1 - x0) / max(nx - 1, 1), (y1 - y0) / max(ny - 1, 1)
    extent = (x0 - dx / 2, x1 + dx / 2, y0 - dy / 2, y1 + dy / 2)
    fig = Figure(figsize=(5.2, 4.4), dpi=90, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, origin="lower", extent=extent, cmap="RdYlGn", vmin=0, vmax=1, aspect="equal")
    fig.colorbar(image, ax=ax, label="success")
    if stage_grid is not None:
        xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
        for j, i in np.ndindex(ny, nx):
            ax.text(xs[i], ys[j], str(stage_grid[j][i]), ha="center", va="center", fontsize=7)
    if len(training_xy):
        xy = np.asarray(training_xy, dtype=float)
        ax.scatter(xy[:, 0], xy[:, 1], s=10, c="k", marker="o", label="training positions")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("cube x (m)")
    ax.set_ylabel("cube y (m)")
    ax.set_title(title, fontsize=9)
    return fig
