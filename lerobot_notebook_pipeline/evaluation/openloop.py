"""Open-loop replay: run a policy on the recorded observations of one episode and compare with the recorded actions.

This works for any dataset, including real-robot recordings that no simulator covers. The policy never
controls anything: at every frame it sees the recorded camera images and state and says what it would
command. With action chunking (ACT, Diffusion, SmolVLA) it computes a chunk and then pops queued actions,
exactly as it would on the robot, so a chunk's later actions were decided on an older observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lerobot_notebook_pipeline.evaluation.inference import LatencyLog
from lerobot_notebook_pipeline.evaluation.rollout import (
    LoadedPolicy,
    ObservationAdapter,
    check_action_dim,
    plan_observation_adapter,
)
from lerobot_notebook_pipeline.runtime import UserError, log


def check_episode(spec: str, episode: int) -> None:
    """Refuse a damaged local dataset, one without its videos, or an episode it does not have (metadata only)."""
    from lerobot_notebook_pipeline.data import resolve_dataset
    from lerobot_notebook_pipeline.preflight import check_dataset

    _, root = resolve_dataset(spec)
    if root is not None:
        total = int(check_dataset(root, videos=True)["total_episodes"])
        if not 0 <= episode < total:
            raise UserError(f"episode {episode} does not exist: '{spec}' has episodes 0..{total - 1}")


def open_episode(spec: str, episode: int):
    """The dataset restricted to one episode, or a UserError when the episode does not exist."""
    from lerobot_notebook_pipeline.data import open_dataset

    check_episode(spec, episode)
    return open_dataset(spec, episodes=[episode])


def action_names(dataset) -> list[str]:
    """Names of the action dimensions from the dataset's features (a0.. when it has none)."""
    feature = dataset.meta.features["action"]
    names = feature.get("names")
    if isinstance(names, dict):  # some datasets nest the names, e.g. {"motors": [...]}
        names = next(iter(names.values()))
    size = int(feature["shape"][0])
    if not names or len(names) != size:
        return [f"a{i}" for i in range(size)]
    return [str(n) for n in names]


@dataclass
class Replay:
    """Predicted and recorded actions (T x D, original units), the camera frames and the joint names."""

    predicted: np.ndarray
    recorded: np.ndarray
    names: list[str]
    frames: list[np.ndarray] = field(default_factory=list)
    camera: str | None = None

    def mae(self) -> dict[str, float]:
        """Per-joint mean absolute error in the dataset's own units."""
        return per_joint_mae(self.predicted, self.recorded, self.names)


def per_joint_mae(predicted: np.ndarray, recorded: np.ndarray, names: list[str]) -> dict[str, float]:
    """Mean absolute error per named joint."""
    predicted, recorded = np.asarray(predicted, np.float64), np.asarray(recorded, np.float64)
    if predicted.shape != recorded.shape:
        raise ValueError(f"predicted {predicted.shape} and recorded {recorded.shape} differ")
    return {name: float(v) for name, v in zip(names, np.abs(predicted - recorded).mean(axis=0), strict=True)}


def _to_uint8_hwc(image) -> np.ndarray:
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    return array


def replay_episode(loaded: LoadedPolicy, dataset, latency: LatencyLog | None = None, keep_frames: bool = True,
                   adapter: ObservationAdapter | None = None) -> Replay:
    """Feed every recorded frame of the (single-episode) dataset to the policy and collect its actions."""
    policy = loaded.policy
    check_action_dim(loaded.action_dim, int(dataset.meta.features["action"]["shape"][0]))
    latency = latency if latency is not None else LatencyLog()
    cameras = list(dataset.meta.camera_keys)
    camera = next((c for c in cameras if c in loaded.input_shapes), cameras[0] if cameras else None)
    policy.reset()
    predicted, recorded, frames = [], [], []
    for i in range(len(dataset)):
        item = dataset[i]
        batch = {k: v.unsqueeze(0) for k, v in item.items()
                 if k.startswith("observation.") and hasattr(v, "unsqueeze")}
        if adapter is None:
            adapter = plan_observation_adapter(loaded.input_shapes, {k: tuple(v.shape[1:]) for k, v in batch.items()})
            for note in adapter.notes:
                log.info("observation matching: %s", note)
        batch = adapter(batch)
        batch["task"] = [item.get("task", "")]
        action = loaded.postprocessor(latency.select_action(policy, loaded.preprocessor(batch), loaded.device))
        predicted.append(action.to("cpu").numpy()[0])
        recorded.append(item["action"].numpy())
        if keep_frames and camera is not None:
            frames.append(_to_uint8_hwc(item[camera]))
    return Replay(np.asarray(predicted), np.asarray(recorded), action_names(dataset), frames, camera)


def replay_panel(replay: Replay, height: int = 480, width: int = 640):
    """A grid with one axes per joint: predicted against recorded actions (a PlotPanel for video cursors)."""
    from lerobot_notebook_pipeline.evaluation.overlay import plot_panel

    series = [{"recorded": replay.recorded[:, j], "predicted": replay.predicted[:, j]}
              for j in range(replay.recorded.shape[1])]
    mae = replay.mae()
    titles = [f"{n} (MAE {mae[n]:.3g})" for n in replay.names]
    columns = 2 if len(series) > 4 else 1
    return plot_panel(series, titles, height=height, width=width, columns=columns)
