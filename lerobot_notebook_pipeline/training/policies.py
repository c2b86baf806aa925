"""Policy construction through lerobot's own configs and processors, with presets tiny | cpu | paper."""

from __future__ import annotations

import ast
import dataclasses
import enum
import json
import math
import types
import typing
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError, require_hub

POLICIES = ("act", "diffusion", "smolvla")
PRESETS = ("tiny", "cpu", "paper")
SMOLVLA_BASE = "lerobot/smolvla_base"
IMAGENET_WEIGHTS = "ResNet18_Weights.IMAGENET1K_V1"

# Each preset is a dict of lerobot config fields; everything else stays at lerobot's defaults ("paper").
PRESET_FIELDS = {
    "act": {
        # Seconds per step on a laptop: for tests only.
        "tiny": {"dim_model": 32, "n_heads": 2, "dim_feedforward": 64, "n_encoder_layers": 1,
                 "n_vae_encoder_layers": 1, "n_decoder_layers": 1, "latent_dim": 8, "chunk_size": 10,
                 "n_action_steps": 10, "pretrained_backbone_weights": None, "optimizer_lr": 1e-4,
                 "optimizer_lr_backbone": 1e-4},
        # The measured CPU recipe (DESIGN.md): solves the fixed-position transfer in ~25 min on 2 cores.
        "cpu": {"dim_model": 256, "n_heads": 8, "dim_feedforward": 1024, "n_encoder_layers": 2,
                "n_vae_encoder_layers": 2, "n_decoder_layers": 1, "chunk_size": 50, "n_action_steps": 50,
                "vision_backbone": "resnet18", "pretrained_backbone_weights": None, "optimizer_lr": 1e-4,
                "optimizer_lr_backbone": 1e-4},
        # lerobot's published ACT defaults (52M parameters, chunk 100); the ImageNet backbone is opt-in.
        "paper": {"pretrained_backbone_weights": None},
    },
    "diffusion": {
        "tiny": {"down_dims": (16, 32), "horizon": 8, "n_action_steps": 4, "n_obs_steps": 2,
                 "drop_n_last_frames": 3, "kernel_size": 3, "n_groups": 4, "diffusion_step_embed_dim": 16,
                 "spatial_softmax_num_keypoints": 8, "num_train_timesteps": 10, "num_inference_steps": 2,
                 "scheduler_warmup_steps": 10, "pretrained_backbone_weights": None,
                 "use_group_norm": True},
        "cpu": {"down_dims": (64, 128, 256), "horizon": 16, "n_action_steps": 8, "n_obs_steps": 2,
                "drop_n_last_frames": 7, "diffusion_step_embed_dim": 64, "spatial_softmax_num_keypoints": 16,
                "noise_scheduler_type": "DDIM", "num_train_timesteps": 100, "num_inference_steps": 10,
                "scheduler_warmup_steps": 100, "pretrained_backbone_weights": None, "use_group_norm": True},
        # lerobot 0.6's Diffusion defaults start from ImageNet weights; random init with group norm works offline.
        "paper": {"pretrained_backbone_weights": None, "use_group_norm": True},
    },
    "smolvla": {
        # tiny: the random-weight local test backbone (see smolvla_backbone.py); filled in by make_config.
        "tiny": {},
        # cpu and paper fine-tune lerobot/smolvla_base (there is no smaller pretrained SmolVLA).
        "cpu": {},
        "paper": {},
    },
}


def parse_overrides(pairs: list[str] | None) -> dict:
    """Turn ['key=value', ...] into a dict, reading values as Python/JSON literals when possible."""
    overrides = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"cannot read --set '{pair}': write it as key=value, e.g. --set chunk_size=20")
        overrides[key.strip()] = _literal(text.strip())
    return overrides


def _literal(text: str):
    lowered = {"none": None, "null": None, "true": True, "false": False}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return float(text)  # also 'inf' and 'nan'
    except ValueError:
        return text


def config_class(policy_name: str):
    """lerobot's config class for act | diffusion | smolvla."""
    if policy_name == "act":
        from lerobot.policies.act.configuration_act import ACTConfig
        return ACTConfig
    if policy_name == "diffusion":
        from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
        return DiffusionConfig
    if policy_name == "smolvla":
        from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
        return SmolVLAConfig
    raise UserError(f"unknown policy '{policy_name}': use one of {', '.join(POLICIES)}")


def _check_fields(cls, fields: dict) -> dict:
    """Validate override keys against the config dataclass and convert each value to the field's declared type."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    checked = {}
    for key, value in fields.items():
        if key not in known:
            import difflib
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see the config's fields in lerobot"
            raise UserError(f"'{key}' is not a field of {cls.__name__}: {hint}")
        try:
            checked[key] = convert(value, hints.get(key, typing.Any))
        except (TypeError, ValueError):
            raise UserError(f"--set {key}={_shown(value)}: {key} of {cls.__name__} takes "
                            f"{type_words(hints.get(key))}, e.g. --set {key}={example(hints.get(key))}") from None
    return checked


def _shown(value) -> str:
    """A value as the user typed it (true, none, [8, 16], text)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    return str(list(value) if isinstance(value, tuple) else value)


def _union_members(hint) -> tuple:
    """The members of X | Y (or Optional[X]); () for any other type."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return ()


def convert(value, hint):
    """value as the declared type hint (bool, int, float, str, Path, tuples, lists, enums, X | None), or TypeError."""
    members = _union_members(hint)
    if members:
        if value is None and type(None) in members:
            return None
        for member in (m for m in members if m is not type(None)):
            try:
                return convert(value, member)
            except (TypeError, ValueError):
                continue
        raise TypeError(value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any or hint is None:
        return value
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, list | tuple):
            raise TypeError(value)
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) != len(value):
            raise TypeError(value)
        kinds = [args[0]] * len(value) if args and (origin is list or args[-1] is Ellipsis) else list(args) or \
            [typing.Any] * len(value)
        items = [convert(v, k) for v, k in zip(value, kinds, strict=True)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TypeError(value)
        return {k: convert(v, args[1]) for k, v in value.items()} if len(args) == 2 else value
    if isinstance(hint, type):
        return _convert_plain(value, hint)
    return value


def _convert_plain(value, hint: type):
    """value as a plain type: bool, int, float, str, Path or an Enum (TypeError when it is not one)."""
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(value)
        return value
    if isinstance(value, bool) or value is None:
        raise TypeError(value)
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise TypeError(value)
        return value
    if hint is float:
        if not isinstance(value, int | float) or math.isnan(value):
            raise TypeError(value)
        return float(value)
    if hint is str:
        if isinstance(value, list | tuple | dict):
            raise TypeError(value)
        return str(value)
    if issubclass(hint, Path):
        if not isinstance(value, str | Path):
            raise TypeError(value)
        return Path(value)
    if issubclass(hint, enum.Enum):
        for member in hint:
            if value in (member.value, member.name):
                return member
        raise TypeError(value)
    if not isinstance(value, hint):
        raise TypeError(value)
    return value


def type_words(hint) -> str:
    """A declared type in words: 'true or false', 'a whole number', 'a list of whole numbers', ... 'or none'."""
    members = [m for m in _union_members(hint) if m is not type(None)]
    if members:
        words = " or ".join(type_words(m) for m in members)
        return words + (", or none" if type(None) in _union_members(hint) else "")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (tuple, list) or hint in (tuple, list):
        inner = type_words(args[0]) if args else "values"
        return f"a list of {inner.removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    plain = {bool: "true or false", int: "a whole number", float: "a number", str: "text", dict: "a dict"}
    if hint in plain:
        return plain[hint]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(m.name for m in hint)
    return getattr(hint, "__name__", str(hint))


def example(hint) -> str:
    """A value of the declared type, as one would type it after --set KEY=."""
    members = [m for m in _union_members(hint) if m is not type(None)]
    if members:
        return example(members[0])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (tuple, list) or hint in (tuple, list):
        return f"[{example(args[0]) if args else 1}, {example(args[0]) if args else 2}]"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint)).name
    return {bool: "true", int: "20", float: "0.5", str: "TEXT", dict: "{}"}.get(hint, "VALUE")


def imagenet_weights_available(timeout: float = 10.0) -> str | None:
    """None when torchvision's ImageNet resnet18 weights are cached or downloadable, else the reason."""
    import torch
    from torchvision.models import ResNet18_Weights

    url = ResNet18_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return None
    import urllib.request
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except Exception as err:
        return (str(err).splitlines() or [type(err).__name__])[0][:120]
    return None


def make_config(policy_name: str, preset: str = "tiny", overrides: dict | None = None, device: str = "cpu",
                pretrained_backbone: bool = False, vlm_model_name: str | None = None):
    """A lerobot policy config: lerobot defaults, then the preset, then the user's overrides."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    cls = config_class(policy_name)
    fields = dict(PRESET_FIELDS[policy_name][preset])
    if policy_name == "smolvla":
        fields.update(_smolvla_fields(preset, vlm_model_name))
    if pretrained_backbone:
        if policy_name == "smolvla":
            raise UserError("--pretrained-backbone applies to ACT and Diffusion: SmolVLA brings its own VLM")
        reason = imagenet_weights_available()
        if reason is not None:
            raise UserError(f"cannot reach torchvision's ImageNet resnet18 weights ({reason}): run without "
                            "--pretrained-backbone (random init), or put resnet18-f37072fd.pth in "
                            "~/.cache/torch/hub/checkpoints")
        fields["pretrained_backbone_weights"] = IMAGENET_WEIGHTS
        if policy_name == "diffusion":
            fields["use_group_norm"] = False  # lerobot refuses group norm over pretrained batch-norm weights
    fields.update(overrides or {})
    fields = _check_fields(cls, fields)
    fields["device"] = device
    fields.setdefault("push_to_hub", False)
    try:
        return cls(**fields)
    except (ValueError, NotImplementedError, TypeError) as err:
        raise UserError(f"invalid {policy_name} config ({err}): fix the --set values") from None


def _smolvla_fields(preset: str, vlm_model_name: str | None) -> dict:
    """SmolVLA fields: the local test backbone for tiny, else lerobot/smolvla_base or a given VLM."""
    from lerobot_notebook_pipeline.training.smolvla_backbone import ensure_backbone, tiny_smolvla_overrides

    if preset == "tiny" and vlm_model_name is None:
        return tiny_smolvla_overrides(ensure_backbone())
    if vlm_model_name is not None:
        path = Path(vlm_model_name).expanduser()
        if path.is_dir():
            has_weights = any(path.glob("*.safetensors"))
            return {"vlm_model_name": str(path.resolve()), "load_vlm_weights": has_weights}
        require_hub(vlm_model_name, "model", "pass --vlm-model-name LOCAL_DIR, or --preset tiny for the offline "
                    "test backbone (lerobot_notebook_pipeline/training/smolvla_backbone.py)")
        return {"vlm_model_name": vlm_model_name, "load_vlm_weights": True}
    require_hub(SMOLVLA_BASE, "model", "use --preset tiny (a local random-weight test backbone) or "
                "--vlm-model-name LOCAL_DIR")
    return {"pretrained_path": SMOLVLA_BASE, "load_vlm_weights": True}


def check_features(cfg, dataset_meta) -> None:
    """Raise a UserError when the dataset lacks what the policy needs (images or env state, an action)."""
    from lerobot.utils.feature_utils import dataset_to_policy_features

    features = dataset_to_policy_features(dataset_meta.features)
    if "action" not in features:
        raise UserError("the dataset has no 'action' feature: a policy learns actions; pick a dataset recorded with actions")
    has_images = any(key.startswith("observation.image") for key in features)
    if not has_images and "observation.environment_state" not in features:
        raise UserError(f"{type(cfg).__name__} needs a camera (observation.images.*) or observation.environment_state; "
                        f"the dataset has {sorted(features)}")
    if cfg.input_features or cfg.output_features:  # a loaded config: compare shapes with the dataset
        expected = {**cfg.input_features, **cfg.output_features}
        for key, feature in expected.items():
            if key not in features:
                raise UserError(f"the policy expects '{key}' but the dataset has no such feature: train on a "
                                "dataset with the same cameras and joints, or start a new run")
            if tuple(features[key].shape) != tuple(feature.shape):
                raise UserError(f"'{key}' has shape {tuple(features[key].shape)} in the dataset but "
                                f"{tuple(feature.shape)} in the policy: use a matching dataset or a new run")


def make_policy(policy_name: str, preset: str, dataset_meta, overrides: dict | None = None, device: str = "cpu",
                pretrained_backbone: bool = False, vlm_model_name: str | None = None):
    """Build (policy, config) for a dataset through lerobot's make_policy; features come from the dataset."""
    cfg = make_config(policy_name, preset, overrides, device, pretrained_backbone, vlm_model_name)
    return build_policy(cfg, dataset_meta), cfg


def build_policy(cfg, dataset_meta):
    """lerobot's make_policy for a ready config, with feature problems reported as UserError."""
    from lerobot.policies.factory import make_policy as lerobot_make_policy

    check_features(cfg, dataset_meta)
    try:
        return lerobot_make_policy(cfg, ds_meta=dataset_meta)
    except ValueError as err:
        raise UserError(f"the dataset does not fit the {cfg.type} policy ({err}): check cameras and image sizes") from None


BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def recompute_stats(root: str | Path, features: dict) -> dict:
    """Normalisation statistics from the dataset's own files, in memory (the dataset is not changed): numeric features
    from the parquet data, as lerobot's recompute_stats does, and cameras from meta/episodes' per-episode stats."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from lerobot.datasets.compute_stats import aggregate_stats, compute_episode_stats

    root = Path(root)
    numeric = {k: v for k, v in features.items() if v["dtype"] not in ("image", "video", "string") and k not in BOOKKEEPING}
    per_episode = []
    for file in sorted((root / "data").glob("*/*.parquet")):
        frame = pd.read_parquet(file, columns=[*numeric, "episode_index"])
        for _, part in frame.groupby("episode_index"):
            data = {k: np.stack(part[k].to_numpy()) if len(v["shape"]) and isinstance(part[k].iloc[0], np.ndarray | list)
                    else part[k].to_numpy() for k, v in numeric.items()}
            per_episode.append(compute_episode_stats(data, numeric))
    stats = aggregate_stats(per_episode) if per_episode else {}
    cameras = [k for k, v in features.items() if v["dtype"] in ("image", "video")]
    rows = []
    for file in sorted((root / "meta" / "episodes").glob("**/*.parquet")):
        rows += pq.read_table(file, columns=[n for n in pq.read_schema(file).names if n.split("/")[1:2] and
                                             n.split("/")[1] in cameras]).to_pylist()
    camera_stats = [{key: {stat: np.asarray(row[f"stats/{key}/{stat}"], dtype=np.float64) for stat in
                           ("min", "max", "mean", "std", "count") if f"stats/{key}/{stat}" in row} for key in cameras}
                    for row in rows]
    if cameras and (not camera_stats or not all(len(s[k]) >= 4 and all(np.isfinite(v).all() for v in s[k].values())
                                                for s in camera_stats for k in cameras)):
        raise UserError(f"cannot recompute the camera statistics of '{root}': meta/stats.json is unusable and "
                        "meta/episodes holds no whole per-episode camera stats; record the dataset again")
    if cameras:
        stats.update(aggregate_stats(camera_stats))
    return stats


def make_processors(cfg, dataset_stats=None, pretrained_path: str | Path | None = None):
    """lerobot's pre/post processors: fresh from dataset stats, or loaded from a saved pretrained_model folder."""
    from lerobot.policies.factory import make_pre_post_processors

    if pretrained_path is not None:
        overrides = {"device_processor": {"device": cfg.device}}
        return make_pre_post_processors(cfg, pretrained_path=str(pretrained_path), preprocessor_overrides=overrides)
    return make_pre_post_processors(cfg, dataset_stats=dataset_stats)


def load_config(pretrained_dir: str | Path, device: str | None = None, overrides: dict | None = None):
    """The policy config saved in a pretrained_model folder (any policy type lerobot knows, not only ours), with
    the fields in overrides replaced."""
    import lerobot.policies  # noqa: F401  registers every policy config type (act, pi0, groot, xvla, ...)
    from lerobot.configs.policies import PreTrainedConfig

    cfg = PreTrainedConfig.from_pretrained(str(pretrained_dir))
    if device is not None:
        cfg.device = device
    for key, value in (overrides or {}).items():
        setattr(cfg, key, value)
    return cfg


def policy_class(policy_name: str):
    """lerobot's policy class for act | diffusion | smolvla."""
    from lerobot.policies.factory import get_policy_class

    return get_policy_class(policy_name)


def load_policy(pretrained_dir: str | Path, device: str = "cpu", overrides: dict | None = None):
    """(policy, preprocessor, postprocessor) from a checkpoint's pretrained_model folder, its config's fields in
    overrides replaced."""
    pretrained_dir = Path(pretrained_dir)
    if not (pretrained_dir / "config.json").is_file():
        raise UserError(f"'{pretrained_dir}' has no config.json: pass a checkpoint's pretrained_model folder")
    cfg = load_config(pretrained_dir, device, overrides)
    policy = policy_class(cfg.type).from_pretrained(str(pretrained_dir), config=cfg)
    check_weights_fit(policy, pretrained_dir)
    policy.to(device).eval()
    pre, post = make_processors(cfg, pretrained_path=pretrained_dir)
    return policy, pre, post


def check_weights_fit(policy, pretrained_dir: Path) -> None:
    """Refuse a checkpoint whose weights lack most of what its config builds (lerobot would fill it in at random)."""
    from lerobot_notebook_pipeline.preflight import CHECKPOINT_FIX, safetensors_names

    saved = set(safetensors_names(pretrained_dir / "model.safetensors"))
    built = set(policy.state_dict())
    missing = sorted(built - saved)
    if built and len(missing) > len(built) // 2:
        raise UserError(f"the weights in '{pretrained_dir / 'model.safetensors'}' do not fit its {policy.config.type} "
                        f"config ({len(missing)} of {len(built)} tensors missing, e.g. {missing[0]}): the config and "
                        f"the weights come from different checkpoints; {CHECKPOINT_FIX}")


def describe(cfg) -> str:
    """One line naming the policy and its main sizes."""
    keys = ("dim_model", "n_encoder_layers", "chunk_size", "down_dims", "horizon", "vlm_model_name",
            "pretrained_backbone_weights")
    parts = [f"{k}={getattr(cfg, k)}" for k in keys if hasattr(cfg, k)]
    return f"{cfg.type}: " + ", ".join(parts)


def config_dict(cfg) -> dict:
    """The config as plain JSON-able values (for logs and wandb)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))

