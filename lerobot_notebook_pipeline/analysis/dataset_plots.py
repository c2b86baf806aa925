"""Compact matplotlib figures of a dataset Table; each function returns a Figure (the caller saves/shows it)."""

from __future__ import annotations

import numpy as np

from lerobot_notebook_pipeline.analysis.stats import (
    ACTION,
    STATE,
    Table,
    episode_lengths,
    feature_names,
    row_range,
    split_by_episode,
)
from lerobot_notebook_pipeline.plots import axes_figure, grid_shape, hide_unused

ACTION_COLOR = "tab:blue"
STATE_COLOR = "tab:orange"


def episode_length_histogram(table: Table):
    """Histogram of episode lengths in seconds (frames when fps is unknown)."""
    lengths = episode_lengths(table).astype(float)
    unit = "s" if table.fps else "frames"
    values = lengths / table.fps if table.fps else lengths
    fig, (ax,) = axes_figure(1, 1, 5, 2.6)
    ax.hist(values, bins=min(30, max(5, len(values))), color="tab:gray", edgecolor="white")
    ax.axvline(np.median(values), color="black", linestyle="--", linewidth=1, label=f"median {np.median(values):.2f} {unit}")
    ax.set_xlabel(f"episode length ({unit})")
    ax.set_ylabel("episodes")
    ax.legend(fontsize=8)
    ax.set_title(f"{len(values)} episodes", fontsize=9)
    return fig


def joint_traces(table: Table, max_episodes: int = 30, max_dims: int = 32):
    """Per joint, the action (blue) and state (orange) of every episode over time, overlaid."""
    keys = [k for k in (ACTION, STATE) if k in table.columns]
    dims = min(max(table.columns[k].shape[1] for k in keys), max_dims)
    rows, cols = grid_shape(dims)
    fig, axes = axes_figure(rows, cols)
    picks = np.linspace(0, len(table.episodes) - 1, min(max_episodes, len(table.episodes))).round().astype(int)
    alpha = max(0.15, min(0.8, 6 / len(picks)))
    for key, color in zip(keys, (ACTION_COLOR, STATE_COLOR), strict=False):
        names = feature_names(table.info, key)
        episodes = split_by_episode(table, key)
        for d in range(min(dims, len(names))):
            ax = axes[d]
            for pos in picks:
                values = episodes[pos][:, d]
                ax.plot(np.arange(len(values)) / (table.fps or 1), values, color=color, alpha=alpha, linewidth=0.7)
            ax.set_title(names[d], fontsize=8)
    for ax in axes[:dims]:
        ax.tick_params(labelsize=6)
    hide_unused(axes, dims)
    fig.suptitle(f"action (blue) and state (orange) over time, {len(picks)} episodes", fontsize=9)
    return fig


def action_histograms(table: Table, max_dims: int = 32):
    """Histogram of every action dimension over all frames."""
    values = table.columns[ACTION]
    names = feature_names(table.info, ACTION)
    dims = min(values.shape[1], max_dims)
    rows, cols = grid_shape(dims)
    fig, axes = axes_figure(rows, cols, height=1.5)
    for d in range(dims):
        column = values[:, d]
        axes[d].hist(column[np.isfinite(column)], bins=40, color=ACTION_COLOR)
        axes[d].set_title(names[d], fontsize=8)
        axes[d].tick_params(labelsize=6)
    hide_unused(axes, dims)
    fig.suptitle("action distribution per dimension", fontsize=9)
    return fig


def action_vs_state(table: Table, episode: int, max_dims: int = 32):
    """Action against state of every joint over one episode: how closely the robot follows its commands."""
    rows_slice = row_range(table, episode)
    action = table.columns[ACTION][rows_slice]
    state = table.columns[STATE][rows_slice] if STATE in table.columns else None
    names = feature_names(table.info, ACTION)
    dims = min(action.shape[1], max_dims)
    rows, cols = grid_shape(dims)
    fig, axes = axes_figure(rows, cols)
    time = np.arange(len(action)) / (table.fps or 1)
    for d in range(dims):
        axes[d].plot(time, action[:, d], color=ACTION_COLOR, linewidth=1, label="action")
        if state is not None and d < state.shape[1]:
            axes[d].plot(time, state[:, d], color=STATE_COLOR, linewidth=1, linestyle="--", label="state")
        axes[d].set_title(names[d], fontsize=8)
        axes[d].tick_params(labelsize=6)
    axes[0].legend(fontsize=6)
    hide_unused(axes, dims)
    fig.suptitle(f"episode {episode}: action (solid) against state (dashed)", fontsize=9)
    return fig


def start_state_spread(table: Table, max_dims: int = 32):
    """Where every episode starts, per joint, against the joint's full range in the dataset."""
    key = STATE if STATE in table.columns else ACTION
    values = table.columns[key]
    names = feature_names(table.info, key)[:max_dims]
    starts = values[table.starts][:, : len(names)]
    low, high = np.nanmin(values[:, : len(names)], axis=0), np.nanmax(values[:, : len(names)], axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    fig, (ax,) = axes_figure(1, 1, width=max(4.0, 0.35 * len(names) + 1.5), height=2.8)
    position = np.arange(len(names))
    ax.bar(position, np.ones(len(names)), bottom=0, color="0.92", width=0.7, label="full range in dataset")
    jitter = np.random.default_rng(0).uniform(-0.2, 0.2, size=starts.shape)
    ax.scatter((position[None, :] + jitter).ravel(), ((starts - low) / span).ravel(), s=8, color="tab:red",
               alpha=0.7, label="episode start")
    ax.set_xticks(position)
    ax.set_xticklabels(names, rotation=60, fontsize=7, ha="right")
    ax.set_ylabel("position in range", fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"start state of {len(starts)} episodes ({key})", fontsize=9)
    return fig


def joint_plot_strip(table: Table, episode: int, height: int, width: int, max_dims: int = 8):
    """An RGB image (height, width, 3) of one episode's actions over time, plus a function mapping frame -> pixel column."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    action = table.columns[ACTION][row_range(table, episode)]
    names = feature_names(table.info, ACTION)
    spans = np.nan_to_num(np.nanmax(action, axis=0) - np.nanmin(action, axis=0))
    dims = sorted(np.argsort(-spans, kind="stable")[:max_dims].tolist())  # the joints that move most
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.08, 0.12, 0.9, 0.84))
    for d in dims:
        ax.plot(action[:, d], linewidth=1, label=names[d])
    ax.set_xlim(0, max(1, len(action) - 1))
    low, high = np.nanmin(action[:, dims]), np.nanmax(action[:, dims])
    pad = (high - low) or 1.0
    ax.set_ylim(low - 0.05 * pad, high + 0.5 * pad)  # head room for the legend
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=5, ncol=3, loc="upper left", framealpha=0.6)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    x0, x1 = ax.transData.transform([(0, 0), (max(1, len(action) - 1), 0)])[:, 0]

    def column(t: int) -> int:
        return int(round(x0 + (x1 - x0) * t / max(1, len(action) - 1)))

    return image, column


def animation_frames(table: Table, episode: int, camera_frames: list, max_dims: int = 8) -> list:
    """Frames of a side-by-side animation: the camera view left, the joint plot with a moving cursor right."""
    from PIL import Image

    first = np.asarray(camera_frames[0])
    height = max(200, min(360, first.shape[0]))
    cam_width = int(round(first.shape[1] * height / first.shape[0]))
    plot, column = joint_plot_strip(table, episode, height, max(240, int(height * 1.4)), max_dims)
    n = min(len(camera_frames), len(table.columns[ACTION][row_range(table, episode)]))
    out = []
    for t in range(n):
        cam = np.asarray(Image.fromarray(np.asarray(camera_frames[t])).resize((cam_width, height), Image.BILINEAR))
        panel = plot.copy()
        x = column(t)
        panel[:, max(0, x - 1): x + 1] = (200, 0, 0)
        out.append(np.concatenate([cam, panel], axis=1))
    return out


# ---------------------------------------------------------------- --compare: the training data against a new recording

REFERENCE_COLOR = "tab:gray"
NEW_COLOR = "tab:red"


def drift_frames(pairs: dict):
    """Per camera, the mean first frame of the training data, of the new recording, and their difference."""
    cameras = sorted(pairs)
    fig, axes = axes_figure(len(cameras), 3, width=2.4, height=1.9)
    axes = axes.reshape(len(cameras), 3)
    for r, camera in enumerate(cameras):
        reference, new = (np.asarray(i, dtype=np.float64) for i in pairs[camera])
        diff = np.abs(new - reference).mean(axis=-1)
        panels = ((reference / 255, "training"), (new / 255, "new"), (diff / max(diff.max(), 1e-6), "difference"))
        for c, (image, label) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(np.clip(image, 0, 1), cmap="magma" if image.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{camera.split('.')[-1]}: {label}", fontsize=8)
    fig.suptitle("mean first frame of each dataset (a moved camera shows as edges in the difference)", fontsize=9)
    return fig


def rest_pose_bars(names: list[str], reference: np.ndarray, new: np.ndarray):
    """Per joint, the median rest pose (E x D first frames) of both datasets, with the spread between episodes."""
    fig, (ax,) = axes_figure(1, 1, width=max(4.0, 0.6 * len(names) + 1.5), height=2.8)
    position = np.arange(len(names))
    for offset, values, color, label in ((-0.2, reference, REFERENCE_COLOR, "training"), (0.2, new, NEW_COLOR, "new")):
        median = np.nanmedian(values, axis=0)
        spread = np.nanpercentile(values, [10, 90], axis=0)
        ax.bar(position + offset, median, width=0.4, color=color, label=label,
               yerr=np.abs(spread - median), error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_xticks(position)
    ax.set_xticklabels(names, rotation=60, fontsize=7, ha="right")
    ax.set_ylabel("rest pose (joint units)", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title("state at the start of the episodes (median, 10-90% of episodes)", fontsize=9)
    return fig


def start_state_scatter(names: list[str], reference: np.ndarray, new: np.ndarray):
    """Every episode's start state, per joint, scaled to the training data's start range: new starts outside 0..1
    lie where no training episode started."""
    low, high = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    span = np.where(high - low > 1e-9, high - low, 1.0)
    fig, (ax,) = axes_figure(1, 1, width=max(4.0, 0.6 * len(names) + 1.5), height=2.8)
    position = np.arange(len(names))
    rng = np.random.default_rng(0)
    ax.axhspan(0, 1, color="0.93", label="training start range")
    for values, color, label in ((reference, REFERENCE_COLOR, "training"), (new, NEW_COLOR, "new")):
        jitter = rng.uniform(-0.2, 0.2, size=values.shape)
        ax.scatter((position[None, :] + jitter).ravel(), ((values - low) / span).ravel(), s=8, color=color, alpha=0.7,
                   label=label)
    ax.set_xticks(position)
    ax.set_xticklabels(names, rotation=60, fontsize=7, ha="right")
    ax.set_ylabel("position in the training range", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"start states: {len(reference)} training and {len(new)} new episodes", fontsize=9)
    return fig


