"""Tiny, randomly initialised policies saved in lerobot's checkpoint layout, for fast rollout tests.

`save_tiny_act(dir, ...)` writes config.json, model.safetensors and the pre/post processor files, exactly
what `lerobot-eval --policy.path=DIR` and our loader read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def simple_stats(state_dim: int, action_dim: int, image_keys: tuple[str, ...] = ("observation.images.top",),
                 action_mean: float = 0.0, action_std: float = 0.1) -> dict:
    """Normalisation stats (mean/std/min/max) for a state, an action and images, as numpy arrays."""
    def vector(dim, mean, std):
        return {"mean": np.full(dim, mean, np.float32), "std": np.full(dim, std, np.float32),
                "min": np.full(dim, mean - 3 * std, np.float32), "max": np.full(dim, mean + 3 * std, np.float32)}
    stats = {"observation.state": vector(state_dim, 0.0, 1.0), "action": vector(action_dim, action_mean, action_std)}
    for key in image_keys:
        stats[key] = {
            "mean": np.full((3, 1, 1), 0.5, np.float32), "std": np.full((3, 1, 1), 0.25, np.float32),
            "min": np.zeros((3, 1, 1), np.float32), "max": np.ones((3, 1, 1), np.float32)}
    return stats


def save_tiny_act(out_dir: str | Path, image_size: tuple[int, int] = (48, 64), state_dim: int = 14,
                  action_dim: int = 14, cameras: tuple[str, ...] = ("top",), chunk_size: int = 5,
                  stats: dict | None = None, seed: int = 0) -> Path:
    """Build a tiny random ACT (about 1M parameters) for the given features and save it with its processors."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    torch.manual_seed(seed)
    height, width = image_size
    inputs = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(state_dim,))}
    image_keys = tuple(camera if camera.startswith("observation.") else f"observation.images.{camera}"
                       for camera in cameras)
    for key in image_keys:
        inputs[key] = PolicyFeature(type=FeatureType.VISUAL, shape=(3, height, width))
    config = ACTConfig(
        input_features=inputs,
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(action_dim,))},
        chunk_size=chunk_size, n_action_steps=chunk_size, dim_model=32, n_heads=2, dim_feedforward=64,
        n_encoder_layers=1, n_decoder_layers=1, n_vae_encoder_layers=1, latent_dim=8,
        pretrained_backbone_weights=None, device="cpu",
    )
    if stats is None:
        stats = simple_stats(state_dim, action_dim, image_keys)
    policy = ACTPolicy(config)
    out_dir = Path(out_dir)
    policy.save_pretrained(out_dir)
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=stats)
    preprocessor.save_pretrained(out_dir)
    postprocessor.save_pretrained(out_dir)
    return out_dir


def dataset_stats(root: str | Path) -> dict:
    """The stats of a local LeRobotDataset, as lerobot's training uses them."""
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    return LeRobotDatasetMetadata(f"local/{Path(root).name}", root=root).stats


# ------------------------------------------------------------------- pytest fixtures (import them in a test module)
@pytest.fixture(scope="session")
def tiny_aloha_policy(tmp_path_factory) -> Path:
    """A tiny ACT for ALOHA trained (randomly) on 48x64 top images: cheap to roll out in the fast env."""
    return save_tiny_act(tmp_path_factory.mktemp("act_aloha_48x64"), image_size=(48, 64))


@pytest.fixture(scope="session")
def tiny_aloha_policy_480(tmp_path_factory) -> Path:
    """A tiny ACT head on 480x640 images, the size stock gym-aloha (and so lerobot-eval) renders."""
    return save_tiny_act(tmp_path_factory.mktemp("act_aloha_480x640"), image_size=(480, 640))


@pytest.fixture(scope="session")
def tiny_pusht_policy(tmp_path_factory) -> Path:
    """A tiny ACT for gym-pusht (96x96 image, 2-dim state and action, actions around the board centre)."""
    stats = simple_stats(2, 2, ("observation.image",), action_mean=256.0, action_std=100.0)
    return save_tiny_act(tmp_path_factory.mktemp("act_pusht"), image_size=(96, 96), state_dim=2, action_dim=2,
                         cameras=("observation.image",), stats=stats)


@pytest.fixture(scope="session")
def synthetic_replay(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset root, policy dir): a 2-episode synthetic dataset and a tiny ACT using its stats."""
    from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path_factory.mktemp("replay") / "data", num_episodes=2, length=12, dim=6,
                                  image_size=(24, 32))
    policy = save_tiny_act(tmp_path_factory.mktemp("act_synthetic"), image_size=(24, 32), state_dim=6,
                           action_dim=6, stats=dataset_stats(root), chunk_size=4)
    return root, policy
