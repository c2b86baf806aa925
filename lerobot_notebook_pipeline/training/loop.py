"""Training pieces: an in-memory frame cache, step-indexed sampling, augmentation, validation metrics,
checkpoints in lerobot's layout (atomic, with a `last` link), the metrics log and the loss-curve plot."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import torch

from lerobot_notebook_pipeline.files import write_json
from lerobot_notebook_pipeline.runtime import UserError, log, video_backend

CHECKPOINTS = "checkpoints"
PRETRAINED = "pretrained_model"
TRAINING_STATE = "training_state"
LAST = "last"
BEST = "best"
META_KEYS = ("index", "episode_index", "frame_index", "timestamp", "task_index")


# --------------------------------------------------------------------------------------------------------------
# Data: every frame decoded once, then batches gathered from memory with lerobot's delta-timestamp semantics.


class FrameCache(torch.utils.data.Dataset):
    """All frames of a LeRobotDataset decoded once into memory (images as uint8), served like LeRobotDataset.

    Items have the same keys as LeRobotDataset's (including `{key}_is_pad` for delta-timestamp keys and `task`),
    so lerobot's processors and policies take them unchanged. `batch(indices)` gathers a whole batch at once.
    """

    def __init__(self, dataset, image_transforms=None, progress: bool = True):
        from lerobot.datasets.feature_utils import get_delta_indices
        from lerobot.datasets.video_utils import decode_video_frames

        hf = dataset.hf_dataset.with_format("torch")
        meta = dataset.meta
        self.fps = meta.fps
        self.image_transforms = image_transforms
        self.camera_keys = list(meta.camera_keys)
        deltas = get_delta_indices(dataset.delta_timestamps, meta.fps) if dataset.delta_timestamps else {}
        self.delta = {k: torch.tensor(v) for k, v in deltas.items()}
        self.tasks = [str(name) for name in meta.tasks.index]
        self.store: dict[str, torch.Tensor] = {}
        for key, feature in meta.features.items():
            if feature["dtype"] in ("video", "image", "string") or key not in hf.column_names:
                continue
            self.store[key] = _column(hf[key])
        episode = self.store["episode_index"]
        self.episodes = [int(e) for e in torch.unique_consecutive(episode)]
        # Each row's episode bounds, as positions in this cache (rows of an episode are contiguous).
        starts = torch.zeros(len(episode), dtype=torch.long)
        ends = torch.zeros(len(episode), dtype=torch.long)
        position = 0
        for count in torch.unique_consecutive(episode, return_counts=True)[1]:
            starts[position:position + count] = position
            ends[position:position + count] = position + count
            position += int(count)
        self.ep_start, self.ep_end = starts, ends
        began = time.perf_counter()
        for key in meta.video_keys:
            frames = []
            for ep in self.episodes:
                rows = (episode == ep).nonzero().flatten()
                ts = self.store["timestamp"][rows].tolist()
                shift = meta.episodes[ep][f"videos/{key}/from_timestamp"]
                path = dataset.root / meta.get_video_file_path(ep, key)
                frames.append(decode_video_frames(path, [shift + t for t in ts], dataset.tolerance_s, video_backend(),
                                                  return_uint8=True))
            self.store[key] = torch.cat(frames)
        for key in meta.camera_keys:
            if key not in self.store and key in hf.column_names:  # images stored as PNG, not video
                self.store[key] = (_column(hf[key]).float() * 255).round().to(torch.uint8)
        self.decode_s = time.perf_counter() - began
        if progress:
            mb = sum(t.numel() * t.element_size() for t in self.store.values()) / 1e6
            log.info("frame cache: %d frames of %d episodes in memory (%.0f MB), decoded in %.1f s",
                     len(self), len(self.episodes), mb, self.decode_s)

    def __len__(self) -> int:
        return len(self.store["index"])

    def batch(self, indices) -> dict:
        """A collated batch for cache positions `indices`, gathered with vectorised indexing."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        start, end = self.ep_start[idx][:, None], self.ep_end[idx][:, None]
        out = {}
        for key, values in self.store.items():
            deltas = self.delta.get(key)
            if deltas is None:
                value = values[idx]
            else:
                query = idx[:, None] + deltas[None]
                out[f"{key}_is_pad"] = (query < start) | (query >= end)
                value = values[torch.maximum(torch.minimum(query, end - 1), start)]
            if key in self.camera_keys:
                value = value.float() / 255
                if self.image_transforms is not None:
                    value = torch.stack([self.image_transforms(v) for v in value])
            out[key] = value
        out["task"] = [self.tasks[int(t)] for t in self.store["task_index"][idx]]
        return out

    def __getitem__(self, i: int) -> dict:
        return {key: value[0] for key, value in self.batch([i]).items()}


def cache_size_gb(meta, num_frames: int) -> float:
    """Memory the frame cache needs for num_frames (uint8 images of every camera), in GB."""
    per_frame = sum(int(np.prod(meta.features[key]["shape"])) for key in meta.camera_keys)
    return per_frame * num_frames / 1e9


def available_memory_gb() -> float:
    """Memory available to this process now (Linux /proc/meminfo; inf when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return float("inf")


def _column(values) -> torch.Tensor:
    """A dataset column (a tensor or a list of tensors) as one stacked tensor."""
    if isinstance(values, torch.Tensor):
        return values
    return torch.stack([torch.as_tensor(v) for v in values])


def trainable_positions(episode_ends: torch.Tensor, drop_n_last_frames: int = 0) -> torch.Tensor:
    """Positions that may start a sample, dropping the last n frames of each episode (lerobot's Diffusion rule)."""
    positions = torch.arange(len(episode_ends))
    if drop_n_last_frames <= 0:
        return positions
    keep = positions < episode_ends - drop_n_last_frames
    return positions[keep] if keep.any() else positions


def step_indices(positions: torch.Tensor, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """The batch of sample positions for a given step: a pure function of (seed, step), so resume is exact."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return positions[torch.randint(len(positions), (batch_size,), generator=generator)]


class StepBatchSampler(torch.utils.data.Sampler):
    """DataLoader batch sampler yielding step_indices(step) for step = start, start+1, ... (worker-friendly)."""

    def __init__(self, positions, batch_size: int, seed: int, start_step: int, total_steps: int):
        self.positions, self.batch_size, self.seed = positions, batch_size, seed
        self.start, self.total = start_step, total_steps

    def __iter__(self):
        for step in range(self.start, self.total):
            yield step_indices(self.positions, self.batch_size, self.seed, step).tolist()

    def __len__(self) -> int:
        return max(0, self.total - self.start)


def episode_ends_of(dataset) -> torch.Tensor:
    """For a LeRobotDataset (no cache), each row's episode end as a position in the dataset."""
    episode = _column(dataset.hf_dataset.with_format("torch")["episode_index"])
    ends = torch.zeros(len(episode), dtype=torch.long)
    position = 0
    for count in torch.unique_consecutive(episode, return_counts=True)[1]:
        ends[position:position + count] = position + count
        position += int(count)
    return ends


# --------------------------------------------------------------------------------------------------------------
# Augmentation.


# lerobot 0.6's camera-style augmentations, by the names `--image-transforms` accepts (each at lerobot's defaults).
ROBOTICS_TRANSFORMS = {
    "gaussian_noise": "GaussianNoise", "motion_blur": "MotionBlur", "jpeg": "JPEGCompression",
    "patch_brightness": "GaussianPatchBrightness", "shadow": "RandomShadow", "dropout": "CoarseDropout",
    "gamma": "GammaCorrection", "white_balance": "PlanckianJitter",
}


def image_transforms_from_spec(spec: str | None):
    """lerobot's ImageTransforms from 'default' (its colour/affine set), 'robotics' (its camera-style set),
    or a comma list of names from both, like 'brightness,shadow,motion_blur'."""
    if not spec or spec == "none":
        return None
    from lerobot.transforms import ImageTransformConfig, ImageTransforms, ImageTransformsConfig

    cfg = ImageTransformsConfig(enable=True)
    available = {**cfg.tfs, **{name: ImageTransformConfig(type=kind) for name, kind in ROBOTICS_TRANSFORMS.items()}}
    if spec == "default":
        return ImageTransforms(cfg)
    names = list(ROBOTICS_TRANSFORMS) if spec == "robotics" else [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise UserError(f"unknown image transform '{unknown[0] if unknown else spec}': use none, default, robotics "
                        f"or some of {', '.join(available)}")
    cfg.tfs = {n: available[n] for n in names}
    cfg.max_num_transforms = min(cfg.max_num_transforms, len(names))
    return ImageTransforms(cfg)


def augmented_samples(image, image_transforms, count: int, seed: int = 0) -> list:
    """count augmented versions of one image (C, H, W float in [0, 1]), reproducible for a seed."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return [image_transforms(image.clone()) for _ in range(count)]
    finally:
        torch.random.set_rng_state(generator_state)


def add_image_noise(batch: dict, camera_keys: list[str], std: float) -> dict:
    """Add Gaussian noise (std in [0, 1] pixel units) to every camera image, clamped to [0, 1]."""
    if std <= 0:
        return batch
    for key in camera_keys:
        if key in batch:
            batch[key] = (batch[key] + std * torch.randn_like(batch[key])).clamp_(0, 1)
    return batch


def add_action_noise(batch: dict, std: float) -> dict:
    """Add Gaussian noise to the target actions AFTER normalisation, so std is in normalised units (e.g. stds)."""
    if std > 0 and "action" in batch:
        batch["action"] = batch["action"] + std * torch.randn_like(batch["action"])
    return batch


# --------------------------------------------------------------------------------------------------------------
# Validation.


def predict_chunk(policy, batch: dict) -> tuple[torch.Tensor, int]:
    """(normalised action chunk, index of its first step in the batch's action window) for act|diffusion|smolvla."""
    kind = policy.config.type
    if kind == "diffusion":
        batch = dict(batch)
        if policy.config.image_features:
            batch["observation.images"] = torch.stack([batch[k] for k in policy.config.image_features], dim=-4)
        return policy.diffusion.generate_actions(batch), policy.config.n_obs_steps - 1
    if hasattr(policy, "reset"):
        policy.reset()
    return policy.predict_action_chunk(batch), 0


@torch.no_grad()
def validate(policy, preprocessor, postprocessor, cache: FrameCache, positions: torch.Tensor, batch_size: int,
             seed: int = 0) -> dict:
    """Held-out metrics: the training loss, and the per-joint action error (original units) of predicted chunks."""
    was_training = policy.training
    losses, errors, counts = [], 0.0, 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same noise every time, so numbers are comparable across steps
        for chunk in torch.split(positions, batch_size):
            raw = cache.batch(chunk)
            batch = preprocessor(_copy(raw))
            policy.train()
            loss, _ = policy.forward(_copy(batch))
            losses.append(float(loss) * len(chunk))
            policy.eval()
            pred, start = predict_chunk(policy, _copy(batch))
            pred = postprocessor(pred).float().cpu()
            target = raw["action"][:, start:start + pred.shape[1]].float()
            valid = (~raw["action_is_pad"][:, start:start + pred.shape[1]]).float()[..., None]
            errors = errors + ((pred - target).abs() * valid).sum(dim=(0, 1))
            counts = counts + valid.sum()
    policy.train(was_training)
    per_joint = (errors / max(float(counts), 1.0)).tolist()
    return {"val_loss": sum(losses) / len(positions), "val_action_mae": float(np.mean(per_joint)),
            "val_action_mae_per_joint": per_joint}


def _copy(batch: dict) -> dict:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in batch.items()}


def validation_positions(n: int, max_samples: int) -> torch.Tensor:
    """Evenly spread cache positions (at most max_samples) so validation is fast and always the same."""
    if n <= max_samples:
        return torch.arange(n)
    return torch.linspace(0, n - 1, max_samples).round().long().unique()


def check_finite(loss: torch.Tensor, step: int, last_checkpoint: Path | None) -> None:
    """Stop with a clear message when the loss is NaN or Inf (before the bad update is applied)."""
    if not torch.isfinite(loss):
        kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written yet"
        raise UserError(f"the loss became {float(loss)} at step {step}; {kept}. Lower --lr, check the dataset for "
                        "NaN values (analyse_dataset.py), or resume from the checkpoint with --resume")


# --------------------------------------------------------------------------------------------------------------
# Checkpoints in lerobot's layout: checkpoints/<STEP>/{pretrained_model,training_state}, plus `last` and `best`.


def step_name(step: int, total_steps: int) -> str:
    """lerobot's zero-padded step folder name (at least 6 digits)."""
    return f"{step:0{max(6, len(str(total_steps)))}d}"


def save_checkpoint(run_dir: Path, step: int, total_steps: int, policy, preprocessor, postprocessor,
                    optimizer=None, scheduler=None, extra: dict | None = None, name: str | None = None) -> Path:
    """Write checkpoints/<step>/ atomically (temp folder, then rename) and point `last` at it."""
    from lerobot.common.train_utils import save_training_state

    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / (name or step_name(step, total_steps))
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    pretrained = tmp / PRETRAINED
    try:
        policy.save_pretrained(pretrained)
        preprocessor.save_pretrained(pretrained)
        postprocessor.save_pretrained(pretrained)
        if extra:
            write_json(pretrained / "train_args.json", extra)
        if optimizer is not None:
            save_training_state(tmp, step, optimizer, scheduler)
        _replace_dir(tmp, final)
    except BaseException:  # a full disk or a stop half-way: no half-written checkpoint is left in the run
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if name is None:
        point_link(root / LAST, final.name)
    return final


def prune_checkpoints(run_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` numbered checkpoints (never `last`'s target or `best`); return those removed."""
    root = Path(run_dir) / CHECKPOINTS
    numbered = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit())
    protected = {last_checkpoint(run_dir)}
    removed = [p for p in numbered[:-keep] if p.resolve() not in protected] if keep > 0 else []
    for path in removed:
        shutil.rmtree(path)
    return removed


def _replace_dir(src: Path, dst: Path) -> None:
    """Move src to dst, replacing an existing dst with as short a gap as the filesystem allows."""
    if dst.exists():
        old = dst.with_name(f".old-{dst.name}-{os.getpid()}")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def point_link(link: Path, target: str) -> None:
    """Atomically make `link` a relative symlink to `target` (lerobot's `last` convention)."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def last_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `checkpoints/last` points to, or None."""
    link = Path(run_dir) / CHECKPOINTS / LAST
    return link.resolve() if link.exists() else None


def load_training_state(checkpoint: Path, optimizer, scheduler) -> int:
    """Restore optimizer, scheduler and RNG states from checkpoint/training_state; return the step."""
    from lerobot.common.train_utils import load_training_state as lerobot_load

    if not (Path(checkpoint) / TRAINING_STATE).is_dir():
        raise UserError(f"'{checkpoint}' has no {TRAINING_STATE}/ folder: it cannot be resumed; start a new run")
    step, _, _ = lerobot_load(Path(checkpoint), optimizer, scheduler)
    return int(step)


def make_optimizer(policy, cfg, total_steps: int, schedule: str = "preset"):
    """The policy's own optimizer preset (as lerobot-train uses it) and its scheduler preset, or for schedule
    "cosine" lerobot's cosine annealing of the rate to 0 at total_steps."""
    from lerobot.optim.schedulers import CosineAnnealingWithWarmupSchedulerConfig

    optimizer = cfg.get_optimizer_preset().build(policy.get_optim_params())
    scheduler_cfg = CosineAnnealingWithWarmupSchedulerConfig(num_warmup_steps=0) if schedule == "cosine" else \
        cfg.get_scheduler_preset()
    scheduler = scheduler_cfg.build(optimizer, total_steps) if scheduler_cfg is not None else None
    grad_clip = getattr(cfg.get_optimizer_preset(), "grad_clip_norm", 10.0)
    return optimizer, scheduler, grad_clip


# --------------------------------------------------------------------------------------------------------------
# Logging.


class MetricsLog:
    """Append-only JSONL metrics log (one JSON object per line), flushed every write."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row, default=float) + "\n")

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def truncate_after(self, step: int) -> None:
        """Drop rows past `step` (after a resume, the run continues from there)."""
        kept = [r for r in self.rows() if r.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def plot_loss_curve(rows: list[dict], title: str = ""):
    """Training loss (and validation loss / action error when present) against step, as a figure."""
    from matplotlib.figure import Figure

    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"], r["val_action_mae"]) for r in rows if "val_loss" in r]
    fig = Figure(figsize=(10 if val else 6, 3.5), dpi=100, layout="tight")
    axes = fig.subplots(1, 2 if val else 1, squeeze=False)
    ax = axes[0][0]
    if train:
        steps, losses = zip(*train, strict=True)
        ax.plot(steps, losses, lw=1, alpha=0.5, label="train loss")
        if len(losses) >= 10:
            k = max(2, len(losses) // 20)
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], smooth, lw=2, label=f"train loss (mean of {k})")
    if val:
        ax.plot([v[0] for v in val], [v[1] for v in val], "o-", label="validation loss")
        axes[0][1].plot([v[0] for v in val], [v[2] for v in val], "o-", color="C3")
        axes[0][1].set(xlabel="step", ylabel="action error (original units)", title="held-out action error")
    if train and min(losses) > 0:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="loss", title=title or "training loss")
    ax.legend()
    return fig


def wandb_mode() -> tuple[str, str]:
    """('online'|'offline', why): offline when WANDB_MODE says so, no API key is set, or the server is unreachable."""
    env_mode = os.environ.get("WANDB_MODE", "")
    if env_mode in ("offline", "disabled", "dryrun"):
        return "offline", f"WANDB_MODE={env_mode}"
    has_key = bool(os.environ.get("WANDB_API_KEY"))
    netrc = Path.home() / ".netrc"
    if not has_key and netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"):
        has_key = True
    if not has_key:
        return "offline", "no wandb API key (run `wandb login` to sync online)"
    try:
        socket.create_connection(("api.wandb.ai", 443), timeout=3).close()
    except OSError:
        return "offline", "api.wandb.ai is unreachable"
    return "online", "API key found and server reachable"


def init_wandb(run_dir: Path, name: str, config: dict, project: str = "lerobot_notebook_pipeline"):
    """Start a wandb run (offline automatically when needed); it never uploads files or artifacts on its own."""
    import wandb

    mode, why = wandb_mode()
    log.info("wandb: %s mode (%s)", mode, why)
    settings = wandb.Settings(save_code=False, disable_git=True, console="off")
    return wandb.init(project=project, name=name, dir=str(run_dir), mode=mode, config=config, settings=settings,
                      resume="allow", id=_wandb_id(run_dir))


def _wandb_id(run_dir: Path) -> str:
    """A stable run id per run folder, so --resume continues the same wandb run."""
    path = Path(run_dir) / "wandb_id.txt"
    if path.is_file():
        return path.read_text().strip()
    import uuid
    run_id = uuid.uuid4().hex[:12]
    path.write_text(run_id)
    return run_id


def log_model_artifact(run, pretrained_dir: Path, name: str) -> None:
    """Upload a pretrained_model folder as a wandb artifact (only called with --wandb-log-model)."""
    import wandb

    artifact = wandb.Artifact(name=name.replace("/", "_"), type="model")
    artifact.add_dir(str(pretrained_dir))
    run.log_artifact(artifact)


def format_eta(seconds: float) -> str:
    """'1h02m' / '3m05s' / '12s'."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
