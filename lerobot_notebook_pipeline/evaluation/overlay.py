"""Frame overlays for rollout videos: step/reward/success text, and a plot panel with a moving time cursor.

The plot is drawn once with matplotlib; each video frame only copies it and paints a cursor column, so a
400-step video with a side panel costs milliseconds per frame, not a matplotlib render per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_notebook_pipeline.media import label_frame, resize_frame


def status_lines(step: int, reward: float | None, success: bool, extra: str | None = None) -> list[str]:
    """The text drawn on a rollout frame: step, reward and, once reached, SUCCESS."""
    lines = [f"step {step}"]
    if reward is not None:
        lines.append(f"reward {reward:g}")
    if success:
        lines.append("SUCCESS")
    if extra:
        lines.append(extra)
    return lines


def annotate(frame: np.ndarray, lines: list[str], min_height: int = 160) -> np.ndarray:
    """Draw text lines on a frame (tiny frames are upscaled first so the text stays readable)."""
    frame = np.asarray(frame)
    if frame.shape[0] < min_height:
        frame = resize_frame(frame, min_height / frame.shape[0])
    return label_frame(frame, lines)


@dataclass
class PlotPanel:
    """A pre-rendered plot image and the pixel boxes of its axes, for drawing a time cursor."""

    image: np.ndarray  # H x W x 3 uint8
    boxes: list[tuple[int, int, int, int]]  # (x0, x1, y0, y1) per axes, in image pixels
    steps: int  # the x axis runs over steps 0 .. steps-1

    def at(self, step: int) -> np.ndarray:
        """The panel with a red cursor at step in every axes."""
        out = self.image.copy()
        frac = step / max(1, self.steps - 1)
        for x0, x1, y0, y1 in self.boxes:
            x = int(round(x0 + frac * (x1 - x0)))
            out[y0:y1, max(x0, x - 1):min(x1, x + 1) + 1] = (220, 30, 30)
        return out


def plot_panel(series: list[dict[str, np.ndarray]], titles: list[str], height: int = 480, width: int = 480,
               columns: int = 1, ylabel: str | None = None) -> PlotPanel:
    """Draw one axes per entry of series ({label: values over steps}) and return it as a PlotPanel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = int(np.ceil(len(series) / columns))
    dpi = 100
    fig, axes = plt.subplots(rows, columns, figsize=(width / dpi, height / dpi), dpi=dpi, squeeze=False,
                             sharex=True)
    steps = max(len(v) for s in series for v in s.values())
    for ax, curves, title in zip(axes.flat, series, titles, strict=False):
        for label, values in curves.items():
            ax.plot(np.arange(len(values)), values, linewidth=0.8, label=label)
        ax.set_title(title, fontsize=7, pad=2)
        ax.tick_params(labelsize=6, length=2, pad=1)
        ax.set_xlim(0, max(1, steps - 1))
    for ax in list(axes.flat)[len(series):]:
        ax.axis("off")
    if ylabel:
        axes[0, 0].set_ylabel(ylabel, fontsize=7)
    if series and len(series[0]) > 1 and len(series[0]) <= 4:
        axes[0, 0].legend(fontsize=6, loc="upper right", framealpha=0.6)
    fig.tight_layout(pad=0.4)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    boxes = []
    for ax in list(axes.flat)[:len(series)]:
        (x0, y0), (x1, y1) = ax.get_window_extent().get_points()
        h = image.shape[0]
        boxes.append((int(x0), int(x1), int(h - y1), int(h - y0)))
    plt.close(fig)
    return PlotPanel(image, boxes, steps)


def action_panel(actions: np.ndarray, names: list[str] | None = None, height: int = 480,
                 width: int = 360) -> PlotPanel:
    """Commanded actions over the episode, all joints on one axes (the rollout video's side panel)."""
    actions = np.asarray(actions)
    names = names or [f"a{i}" for i in range(actions.shape[1])]
    panel = plot_panel([{n: actions[:, i] for i, n in enumerate(names)}], ["commanded actions"], height, width)
    return panel


def beside(frame: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """The frame with the panel to its right, the panel scaled to the frame's height."""
    frame = np.asarray(frame)
    if panel.shape[0] != frame.shape[0]:
        panel = resize_frame(panel, frame.shape[0] / panel.shape[0])
        panel = panel[: frame.shape[0]]
        if panel.shape[0] < frame.shape[0]:
            pad = np.full((frame.shape[0] - panel.shape[0], panel.shape[1], 3), 255, np.uint8)
            panel = np.concatenate([panel, pad], axis=0)
    return np.concatenate([frame, panel], axis=1)


def rollout_frames(frames: list[np.ndarray], rewards: list[float], success_step: int | None,
                   actions: np.ndarray | None = None, names: list[str] | None = None) -> list[np.ndarray]:
    """Annotated frames of one episode (frame 0 is the reset), optionally with the action side panel."""
    panel = None
    if actions is not None and len(actions):
        height = max(160, np.asarray(frames[0]).shape[0])
        panel = action_panel(actions, names, height=height, width=int(height * 0.75))
    out = []
    for t, frame in enumerate(frames):
        reward = rewards[t - 1] if t > 0 else None
        success = success_step is not None and t >= success_step + 1
        image = annotate(frame, status_lines(t, reward, success))
        if panel is not None:
            image = beside(image, panel.at(max(0, t - 1)))
        out.append(image)
    return out
