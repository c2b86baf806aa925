"""Policy presets and construction, the SmolVLA test backbone, and the training helpers (frame cache, sampling,
augmentation, checks) against lerobot's own dataset."""

import pytest
import torch

from lerobot_notebook_pipeline.data import open_dataset
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.synthetic import (
    make_synthetic_dataset,
    synthetic_episode,
    synthetic_features,
    write_dataset,
)
from lerobot_notebook_pipeline.training import loop, policies
from lerobot_notebook_pipeline.training.recipes import RECIPES, act_fields, act_flags
from lerobot_notebook_pipeline.training.smolvla_backbone import FULL_SIZE, backbone_config, ensure_backbone


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("pol") / "ds", num_episodes=3, length=20, dim=14)


@pytest.fixture(scope="module")
def meta(dataset):
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    return LeRobotDatasetMetadata("local/ds", root=dataset)


def test_cpu_act_preset_is_the_measured_recipe():
    cfg = policies.make_config("act", "cpu")
    assert (cfg.dim_model, cfg.n_heads, cfg.dim_feedforward) == (256, 8, 1024)
    assert (cfg.n_encoder_layers, cfg.n_vae_encoder_layers, cfg.n_decoder_layers) == (2, 2, 1)
    assert cfg.chunk_size == 50 and cfg.vision_backbone == "resnet18" and cfg.pretrained_backbone_weights is None
    opt = cfg.get_optimizer_preset()
    assert type(opt).__name__ == "AdamWConfig" and opt.lr == 1e-4 and cfg.optimizer_lr_backbone == 1e-4
    paper = policies.make_config("act", "paper")
    assert (paper.dim_model, paper.dim_feedforward, paper.chunk_size) == (512, 3200, 100)


def test_overrides_are_parsed_checked_and_applied():
    assert policies.parse_overrides(["chunk_size=20", "down_dims=[8, 16]", "use_vae=false", "vision_backbone=resnet34",
                                     "pretrained_backbone_weights=None"]) == {
        "chunk_size": 20, "down_dims": [8, 16], "use_vae": False, "vision_backbone": "resnet34",
        "pretrained_backbone_weights": None}
    cfg = policies.make_config("diffusion", "tiny", {"down_dims": [8, 16]})
    assert cfg.down_dims == (8, 16)
    assert policies.make_config("act", "tiny", {"chunk_size": 20, "n_action_steps": 20}).chunk_size == 20
    with pytest.raises(UserError, match="did you mean kl_weight"):
        policies.make_config("act", "tiny", {"kl_wieght": 1})
    with pytest.raises(UserError, match="invalid act config"):
        policies.make_config("act", "tiny", {"n_action_steps": 99})
    with pytest.raises(UserError, match="key=value"):
        policies.parse_overrides(["chunk_size"])


def test_recipe_act_flags_make_valid_configs_that_chunk_or_ensemble():
    """The demo recipes' --set flags build lerobot ACT configs: whole chunks executed, or one chunk per step averaged."""
    def config(flags):
        return policies.make_config("act", "cpu", policies.parse_overrides(flags[1::2]))

    whole = config(act_flags(100))
    assert (whole.chunk_size, whole.n_action_steps, whole.temporal_ensemble_coeff) == (100, 100, None)
    ensembled = config(act_flags(100, 0.01))
    assert (ensembled.chunk_size, ensembled.n_action_steps, ensembled.temporal_ensemble_coeff) == (100, 1, 0.01)
    assert act_flags(None) == [] and act_flags(100, 0) == act_flags(100)
    assert act_fields(100, 0) == {"temporal_ensemble_coeff": None, "n_action_steps": 100}
    for robot, recipe in RECIPES.items():
        cfg = config(act_flags(recipe["chunk_size"], recipe["temporal_ensemble"]))
        assert cfg.temporal_ensemble_coeff == recipe["temporal_ensemble"], robot
        assert recipe["lr_schedule"] in ("preset", "cosine") and recipe["steps"] > 0


def test_cosine_schedule_anneals_to_zero_by_the_last_step(meta):
    policy = policies.build_policy(policies.make_config("act", "tiny"), meta)
    optimizer, scheduler, _ = loop.make_optimizer(policy, policy.config, 10, "cosine")
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == policy.config.optimizer_lr and all(a > b for a, b in zip(rates, rates[1:], strict=False))
    assert optimizer.param_groups[0]["lr"] == 0.0
    assert loop.make_optimizer(policy, policy.config, 10)[1] is None  # ACT's own preset: a constant rate


def test_pretrained_backbone_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(policies, "imagenet_weights_available", lambda timeout=10.0: "no network")
    with pytest.raises(UserError, match="without --pretrained-backbone"):
        policies.make_config("act", "tiny", pretrained_backbone=True)
    with pytest.raises(UserError, match="without --pretrained-backbone"):
        policies.make_config("diffusion", "tiny", pretrained_backbone=True)
    with pytest.raises(UserError, match="ACT and Diffusion"):
        policies.make_config("smolvla", "tiny", pretrained_backbone=True)


def test_smolvla_hub_presets_name_the_offline_alternative():
    with pytest.raises(UserError, match="preset tiny"):
        policies.make_config("smolvla", "paper")


@pytest.mark.parametrize("name", ["act", "diffusion", "smolvla"])
def test_tiny_policies_build_from_dataset_features(name, meta):
    policy, cfg = policies.make_policy(name, "tiny", meta)
    assert cfg.output_features["action"].shape == (14,)
    assert "observation.images.top" in cfg.input_features
    assert sum(p.numel() for p in policy.parameters()) > 0
    pre, post = policies.make_processors(cfg, meta.stats)
    assert pre is not None and post is not None


def test_feature_mismatch_is_a_user_error(meta, tmp_path):
    cfg = policies.make_config("act", "tiny")
    policies.build_policy(cfg, meta)  # fills input/output features from the 14-dim dataset
    other = make_synthetic_dataset(tmp_path / "six", num_episodes=1, length=10, dim=6)
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    with pytest.raises(UserError, match="shape"):
        policies.check_features(cfg, LeRobotDatasetMetadata("local/six", root=other))
    no_camera = write_dataset(tmp_path / "nocam", [synthetic_episode(10, 6, 0, cameras=())], fps=30,
                              features=synthetic_features(6, (24, 32), ()))
    with pytest.raises(UserError, match="needs a camera"):
        policies.make_policy("act", "tiny", LeRobotDatasetMetadata("local/nocam", root=no_camera))


def test_smolvla_backbone_files_and_full_size_dimensions(tmp_path):
    from transformers import AutoConfig, AutoProcessor, AutoTokenizer

    path = ensure_backbone(tmp_path / "backbone")
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert tokenizer.fake_image_token_id != tokenizer.unk_token_id
    assert tokenizer.global_image_token_id != tokenizer.unk_token_id
    assert AutoProcessor.from_pretrained(path).tokenizer.pad_token == "<pad>"
    assert AutoConfig.from_pretrained(path).text_config.hidden_size == 64
    full = backbone_config(FULL_SIZE, len(tokenizer), 5)
    assert (full.text_config.hidden_size, full.text_config.num_hidden_layers) == (960, 32)
    assert (full.vision_config.hidden_size, full.vision_config.image_size) == (768, 512)


def test_frame_cache_matches_lerobot_dataset_items(dataset):
    cfg = policies.make_config("diffusion", "tiny")  # two observation frames and an 8-step action window
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    delta = resolve_delta_timestamps(cfg, LeRobotDatasetMetadata("local/ds", root=dataset))
    ds = open_dataset(dataset, episodes=[1, 2], delta_timestamps=delta)
    cache = loop.FrameCache(ds, progress=False)
    assert len(cache) == len(ds) == 40 and cache.episodes == [1, 2]
    for i in (0, 1, 19, 20, 39):
        want, got = ds[i], cache[i]
        for key in ("observation.state", "action", "action_is_pad", "observation.state_is_pad", "episode_index"):
            assert torch.equal(want[key], got[key]), (i, key)
        assert got["observation.images.top"].shape == want["observation.images.top"].shape == (2, 3, 24, 32)
        assert (got["observation.images.top"] - want["observation.images.top"]).abs().max() <= 1 / 255 + 1e-6
        assert got["task"] == want["task"]
    batch = cache.batch([0, 39])
    assert batch["action"].shape == (2, 8, 14) and batch["action_is_pad"][1].sum() == 6


def test_step_sampling_is_deterministic_and_drops_episode_tails():
    ends = torch.tensor([5] * 5 + [10] * 5)
    positions = loop.trainable_positions(ends, drop_n_last_frames=2)
    assert positions.tolist() == [0, 1, 2, 5, 6, 7]
    a = loop.step_indices(positions, 16, seed=1, step=7)
    assert torch.equal(a, loop.step_indices(positions, 16, seed=1, step=7))
    assert not torch.equal(a, loop.step_indices(positions, 16, seed=1, step=8))
    assert set(a.tolist()) <= set(positions.tolist())


def test_augmentation_and_nan_check(tmp_path):
    torch.manual_seed(0)
    batch = {"observation.images.top": torch.full((4, 3, 8, 8), 0.5), "action": torch.zeros(4, 10, 6)}
    loop.add_image_noise(batch, ["observation.images.top"], 0.1)
    image = batch["observation.images.top"]
    assert 0.08 < float(image.std()) < 0.12 and image.min() >= 0 and image.max() <= 1
    loop.add_action_noise(batch, 0.5)
    assert 0.45 < float(batch["action"].std()) < 0.55
    assert loop.image_transforms_from_spec("none") is None
    assert loop.image_transforms_from_spec("default") is not None
    with pytest.raises(UserError, match="unknown image transform.*motion_blur"):
        loop.image_transforms_from_spec("blur")
    with pytest.raises(UserError, match="nan at step 7.*ckpt"):
        loop.check_finite(torch.tensor(float("nan")), 7, tmp_path / "ckpt")
    loop.check_finite(torch.tensor(1.0), 7, None)


def test_robotics_augmentations_change_the_image_reproducibly():
    image = torch.rand(3, 24, 32)
    transforms = loop.image_transforms_from_spec("robotics")
    assert set(loop.ROBOTICS_TRANSFORMS) <= set(transforms.transforms)
    first = loop.augmented_samples(image, transforms, 3, seed=1)
    again = loop.augmented_samples(image, transforms, 3, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(a.shape == image.shape and not torch.equal(a, image) for a in first)
    only_shadow = loop.image_transforms_from_spec("shadow")
    assert list(only_shadow.transforms) == ["shadow"]


def test_wandb_goes_offline_without_a_key(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    mode, why = loop.wandb_mode()
    assert mode == "offline" and "key" in why


def test_prune_keeps_the_newest_checkpoints_and_best(tmp_path):
    root = tmp_path / "checkpoints"
    for step in range(1, 6):
        (root / f"{step:06d}").mkdir(parents=True)
    (root / "best").mkdir()
    loop.point_link(root / "last", "000005")
    removed = loop.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in removed] == ["000001", "000002", "000003"]
    assert sorted(p.name for p in root.iterdir()) == ["000004", "000005", "best", "last"]
    assert loop.last_checkpoint(tmp_path).name == "000005"


def _known_policy_types():
    import lerobot.policies  # noqa: F401
    from lerobot.configs.policies import PreTrainedConfig

    return sorted(set(PreTrainedConfig.get_known_choices()) - {"eo1"})  # eo1's config itself reads from the hub


@pytest.mark.parametrize("kind", _known_policy_types())
def test_every_lerobot_policy_config_loads_from_a_checkpoint_folder(kind, tmp_path):
    from lerobot.configs.policies import PreTrainedConfig

    PreTrainedConfig.get_choice_class(kind)(device="cpu")._save_pretrained(tmp_path)
    cfg = policies.load_config(tmp_path, "cpu")
    assert cfg.type == kind and cfg.device == "cpu"
