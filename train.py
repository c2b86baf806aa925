# %% [markdown]
# # Train a policy: ACT, Diffusion or SmolVLA on a LeRobotDataset
#
# This notebook trains a robot policy by imitation: it shows the policy camera images and joint states from
# recorded demonstrations and teaches it to output the actions the demonstrator took next. Everything that
# matters is on this page: the options at the top, the data split, the model, and the training loop itself
# (batch, normalise, forward, backward, optimizer step). The small helpers live in `lerobot_notebook_pipeline/`.
#
# Policies and processors are lerobot's own (`lerobot.policies.*`, `make_pre_post_processors`), so the
# checkpoints this writes load with `ACTPolicy.from_pretrained(...)` and `lerobot-eval --policy.path=...`.
#
# Run it from a terminal (`python train.py --help`) or here, cell by cell. In Jupyter the flags below keep their
# defaults (tests pass flags through the `LNP_ARGS` environment variable).

# %%
# Parameters: the defaults are the notebook's defaults too.
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="Train an ACT, Diffusion or SmolVLA policy on a LeRobotDataset.")
parser.add_argument("--dataset", type=flags.path_or_repo, default="outputs/datasets/transfer_cube",
                    help="local dataset folder or hub repo id")
parser.add_argument("--policy", default="act", choices=["act", "diffusion", "smolvla"])
parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "paper"],
                    help="tiny: tests (seconds); cpu: small model, minutes on a laptop; paper: published sizes, GPU")
parser.add_argument("--steps", type=flags.int_in(1, 100_000_000), default=None, help="training steps (default: tiny 20, cpu 4000, paper 100000)")
parser.add_argument("--batch-size", type=flags.int_in(1, 65_536), default=8)
parser.add_argument("--time-budget-min", type=flags.minutes, default=None,
                    help="stop (with a checkpoint) after this many minutes of training, even before --steps")
parser.add_argument("--lr", type=flags.learning_rate, default=None, help="learning rate (default: the policy's own preset)")
parser.add_argument("--lr-schedule", default="preset", choices=["preset", "cosine"],
                    help="preset: the policy's own (constant for ACT); cosine: anneal the rate to 0 by the last step")
parser.add_argument("--episodes", default="all", help="episodes to train on: 3 | 0,3,7 | 0:5 | all")
split = parser.add_mutually_exclusive_group()
split.add_argument("--val-episodes", default=None, help="held-out validation episodes (never trained on)")
split.add_argument("--val-fraction", type=flags.fraction, default=None,
                   help="hold out this fraction of the selected episodes, seeded (default 0.1 with >= 2 episodes)")
parser.add_argument("--output-dir", type=flags.path, default=None,
                    help="run folder (default outputs/train/<dataset>_<policy>_<preset>)")
parser.add_argument("--resume", action="store_true", help="continue the run in --output-dir from checkpoints/last")
parser.add_argument("--overwrite", action="store_true", help="delete an existing run folder and start again")
parser.add_argument("--seed", type=flags.seed, default=1000)
parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
parser.add_argument("--threads", type=flags.threads, default=None,
                    help="torch CPU threads (default: one per core; use 1 when other jobs share the cores)")
parser.add_argument("--num-workers", type=flags.int_in(0, 256), default=2, help="DataLoader workers (only without the frame cache)")
parser.add_argument("--cache-frames", action=argparse.BooleanOptionalAction, default=True,
                    help="decode every frame once into memory (fast on CPU for small datasets)")
parser.add_argument("--image-noise-std", type=flags.float_in(0.0, 1.0), default=0.0, help="Gaussian pixel noise, in [0,1] units")
parser.add_argument("--image-transforms", default="none",
                    help="lerobot's image augmentations: none | default (colour, sharpness, affine) | robotics (noise, "
                         "blur, JPEG, shadow, dropout, gamma, white balance) | a list such as brightness,shadow")
parser.add_argument("--action-noise-std", type=flags.float_in(0.0, 10.0), default=0.0,
                    help="Gaussian noise on target actions, in normalised units (stds for ACT)")
parser.add_argument("--save-every", type=flags.positive_int, default=None, help="checkpoint every N steps, and at the last (default steps/4, at least 100)")
parser.add_argument("--keep-last", type=flags.non_negative_int, default=3, help="keep the newest N step checkpoints (0: keep all)")
parser.add_argument("--val-every", type=flags.positive_int, default=None, help="validate every N steps (default steps/10)")
parser.add_argument("--val-samples", type=flags.int_in(1, 1_000_000), default=64, help="held-out samples per validation")
parser.add_argument("--log-every", type=flags.positive_int, default=10)
parser.add_argument("--vlm-model-name", type=flags.path_or_repo, default=None, help="SmolVLA backbone: hub id or local folder")
parser.add_argument("--pretrained-backbone", action="store_true", help="ACT and Diffusion: start the ResNet from ImageNet weights")
parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="set any policy config field, e.g. --set chunk_size=20 --set kl_weight=5 (repeatable)")
parser.add_argument("--wandb", action="store_true", help="log to Weights & Biases (offline without a key/network)")
parser.add_argument("--wandb-log-model", action="store_true", help="also upload the final model as an artifact")
args = parse_args(parser)

# %% [markdown]
# ## 1. Check every input before any work
#
# A run folder holds everything: `checkpoints/<step>/pretrained_model` (lerobot's format), `metrics.jsonl`,
# `loss_curve.png` and `summary.json`. An existing run is never overwritten without `--overwrite`, and even then
# it is kept aside until the new run has checked its inputs and ended well; `--resume` continues it from
# `checkpoints/last`, with the optimizer, scheduler, step count and random state restored. The dataset's files
# (metadata, data, videos) and the episode selections are checked here too, in a second, before the slow imports.

# %%
import json

from lerobot_notebook_pipeline import episodes as ep_utils
from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.convert import is_v30, v30_root
from lerobot_notebook_pipeline.data import resolve_dataset
from lerobot_notebook_pipeline.files import check_output_dir
from lerobot_notebook_pipeline.runtime import UserError, on_exit
from lerobot_notebook_pipeline.training import policies

overrides = policies.parse_overrides(args.overrides)
repo_id, root = resolve_dataset(args.dataset)
if root is not None:
    total_episodes = preflight.check_dataset(root, videos=True)["total_episodes"]
    for spec in (args.episodes, args.val_episodes):
        ep_utils.parse_episode_spec(spec, total_episodes)  # the split itself is made below, from lerobot's metadata
if root is not None and not is_v30(root):  # lerobot reads v3.0: convert an older dataset once, then reuse it
    root, _ = v30_root(root)
    repo_id, args.dataset = f"local/{root.name}", str(root)
dataset_name = (root.name if root is not None else repo_id.replace("/", "_"))
run_dir = args.output_dir or flags.path(f"outputs/train/{dataset_name}_{args.policy}_{args.preset}")


def kept_checkpoint():
    """After a failed or stopped run: how to go on from its last whole checkpoint (None when there is none)."""
    last = run_dir / "checkpoints" / "last"
    if not last.exists() or preflight.resume_problem(last.resolve()) is not None:
        return None
    return f"the last checkpoint is step {int(last.resolve().name)}, in '{run_dir}': resume with --resume"


resume_from = preflight.check_run_folder(run_dir, args.resume, args.overwrite)
if resume_from is not None:
    if root is not None:
        preflight.check_saved_split(run_dir, total_episodes, args.dataset)
    on_exit(lambda succeeded: None if succeeded else kept_checkpoint())
    preflight.note_ignored(parser, args, ["--set", "--lr", "--pretrained-backbone", "--vlm-model-name"],
                           "a resumed run keeps the policy config of its checkpoint")
    if (run_dir / "split.json").is_file():
        preflight.note_ignored(parser, args, ["--episodes", "--val-episodes", "--val-fraction"],
                               "a resumed run keeps the episode split in its split.json")
else:
    check_output_dir(run_dir, args.overwrite)
preflight.check_not_input(run_dir, {"--dataset": root, "--vlm-model-name": args.vlm_model_name})
if args.cache_frames:
    preflight.note_ignored(parser, args, ["--num-workers"], "the frame cache (--cache-frames, the default) decodes "
                           "every frame once and uses no DataLoader workers; add --no-cache-frames to use them")
stats_problem = preflight.stats_file_problem(root) if root is not None else None

# %% [markdown]
# ## 2. Set-up: device, seed, threads

# %%
import os
import signal
import time

import torch
from lerobot.utils.random_utils import set_seed
from tqdm.auto import tqdm

from lerobot_notebook_pipeline import plots
from lerobot_notebook_pipeline.data import open_dataset
from lerobot_notebook_pipeline.files import claim_output_dir, prepare_output_dir, write_json
from lerobot_notebook_pipeline.runtime import log, pick_device
from lerobot_notebook_pipeline.training import loop

DEFAULT_STEPS = {"tiny": 20, "cpu": 4000, "paper": 100_000}
steps = args.steps if args.steps is not None else DEFAULT_STEPS[args.preset]
val_every = args.val_every or max(1, steps // 10)
save_every = args.save_every or max(100, steps // 4)  # and at the last step; a checkpoint takes seconds to write
device = pick_device(args.device)
if args.threads:
    torch.set_num_threads(args.threads)
# Several GPUs: `accelerate launch train.py ...` (or torchrun) starts one process per GPU. Each process trains on
# its own batches, the gradients are averaged, and only the main process validates and writes files.
accelerator = None
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    accelerator = Accelerator(cpu=device == "cpu",
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    device = "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)
is_main = accelerator is None or accelerator.is_main_process
rank = 0 if accelerator is None else accelerator.process_index
if is_main:
    claim_output_dir(run_dir)  # one run at a time in this folder: a second one is refused here, in one line
if args.lr is not None:
    overrides.setdefault("optimizer_lr", args.lr)
    if args.policy == "act":
        overrides.setdefault("optimizer_lr_backbone", args.lr)
set_seed(args.seed)  # python, numpy and torch
log.info("run folder %s, device %s, %d steps of batch %d", run_dir, device, steps, args.batch_size)

# %% [markdown]
# ## 3. Which episodes to train on, and which to hold out
#
# Validation episodes are never trained on: their frames measure how well the policy predicts actions it has
# not seen. Training on a single episode (`--episodes 0`) is allowed: it is the quickest way to check that a
# policy can fit a demonstration at all.

# %%
from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

meta = LeRobotDatasetMetadata(repo_id, root=root)
if resume_from is not None:
    preflight.check_saved_split(run_dir, meta.total_episodes, args.dataset)
if stats_problem is not None and resume_from is None:  # without them the policy would learn from unscaled data
    print(f"note: {stats_problem}: computing the normalisation statistics from the data instead (the dataset is not "
          "changed; lerobot-edit-dataset --operation.type recompute_stats rewrites the file)")
    meta.stats = policies.recompute_stats(root, meta.features)
if resume_from is not None and (run_dir / "split.json").is_file():
    saved_split = json.loads((run_dir / "split.json").read_text())
    train_episodes, val_episodes = saved_split["train"], saved_split["val"]
    log.info("resuming: using the run's saved split")
else:
    selected = ep_utils.parse_episode_spec(args.episodes, meta.total_episodes)
    if args.val_episodes is not None:
        val_episodes = ep_utils.parse_episode_spec(args.val_episodes, meta.total_episodes)
        train_episodes = ep_utils.exclude_episodes(selected, val_episodes)
    else:
        fraction = args.val_fraction if args.val_fraction is not None else (0.1 if len(selected) >= 2 else 0.0)
        train_episodes, val_episodes = ep_utils.split_episodes(selected, fraction, args.seed)
assert not set(train_episodes) & set(val_episodes)
print(f"dataset {repo_id}: {meta.total_episodes} episodes, {meta.total_frames} frames at {meta.fps} fps")
print(f"train on {len(train_episodes)} episodes {train_episodes[:20]}{'...' if len(train_episodes) > 20 else ''}")
print(f"validate on {len(val_episodes)} episodes {val_episodes}")

# %% [markdown]
# ## 4. The policy, built by lerobot from a preset
#
# The preset picks the model size (`tiny` for tests, `cpu` for a laptop, `paper` for the published sizes);
# `--set key=value` changes any field of lerobot's config. The policy's `delta_timestamps` decide which frames
# each sample holds: ACT learns a chunk of the next `chunk_size` actions from the current frame; Diffusion sees
# `n_obs_steps` frames and predicts `horizon` actions.
#
# SmolVLA: `--preset cpu|paper` fine-tunes `lerobot/smolvla_base` from the Hugging Face hub (the normal way to use
# it). `--preset tiny` instead builds a *test backbone* in `outputs/smolvla_backbones/tiny`: the SmolVLM
# architecture with random weights and a toy vocabulary (`lerobot_notebook_pipeline/training/smolvla_backbone.py`), so the
# whole pipeline runs offline. It learns nothing useful about language or vision; it exists to test the plumbing.

# %%
from lerobot.datasets.factory import resolve_delta_timestamps

if resume_from is not None:
    cfg = policies.load_config(resume_from / loop.PRETRAINED, device)
    if cfg.type != args.policy:
        raise UserError(f"the run in '{run_dir}' trains {cfg.type}, not {args.policy}: pass --policy {cfg.type}")
else:
    cfg = policies.make_config(args.policy, args.preset, overrides, device, args.pretrained_backbone,
                               None if args.vlm_model_name is None else str(args.vlm_model_name))
delta_timestamps = resolve_delta_timestamps(cfg, meta)
if resume_from is None and is_main:  # every input is checked: only now is an earlier run put aside
    prepare_output_dir(run_dir, args.overwrite, keep=kept_checkpoint)  # a failed new run keeps what --resume takes
    write_json(run_dir / "split.json", {"train": train_episodes, "val": val_episodes})
print(policies.describe(cfg))
print("delta timestamps (s):", {k: f"{v[0]:+.3f}..{v[-1]:+.3f} ({len(v)})" for k, v in (delta_timestamps or {}).items()})

# %% [markdown]
# ## 5. Data: decode every frame once
#
# lerobot's dataset decodes video for every sample it returns. For a few thousand frames on a CPU it is much
# faster to decode every frame once into memory (as uint8) and gather batches from there; `--no-cache-frames`
# uses lerobot's DataLoader path instead. Augmentation: `--image-transforms` (lerobot's ImageTransforms, per
# sample), `--image-noise-std` (pixel noise) and `--action-noise-std` (noise on the normalised target actions).

# %%
image_transforms = loop.image_transforms_from_spec(args.image_transforms)
train_ds = open_dataset(args.dataset, episodes=train_episodes, delta_timestamps=delta_timestamps,
                        image_transforms=None if args.cache_frames else image_transforms)
if len(train_ds) == 0:
    raise UserError("the selected training episodes hold no frames: choose other --episodes")
drop_last = getattr(cfg, "drop_n_last_frames", 0) or 0
cache_gb, free_gb = loop.cache_size_gb(meta, len(train_ds)), loop.available_memory_gb()
if args.cache_frames and cache_gb > 0.5 * free_gb:
    log.info("frame cache would need %.1f GB of %.1f GB available: using lerobot's DataLoader instead", cache_gb, free_gb)
    args.cache_frames = False
    train_ds = open_dataset(args.dataset, episodes=train_episodes, delta_timestamps=delta_timestamps,
                            image_transforms=image_transforms)
if args.cache_frames:
    train_cache = loop.FrameCache(train_ds, image_transforms=image_transforms)
    train_positions = loop.trainable_positions(train_cache.ep_end, drop_last)
else:
    train_positions = loop.trainable_positions(loop.episode_ends_of(train_ds), drop_last)
val_cache = None
if val_episodes:
    val_ds = open_dataset(args.dataset, episodes=val_episodes, delta_timestamps=delta_timestamps)
    val_cache = loop.FrameCache(val_ds, progress=False)
    val_positions = loop.validation_positions(len(val_cache), args.val_samples)
camera_keys = list(meta.camera_keys)

# %% [markdown]
# What the augmentation does to the pictures: the first frame of each camera, then a few augmented versions, in
# `augmentation_preview.png`. If a person could no longer tell where the cube is, the policy cannot either.

# %%
if image_transforms is not None and camera_keys and rank == 0:
    first = open_dataset(args.dataset, episodes=train_episodes[:1])[0]
    rows = [[first[key], *loop.augmented_samples(first[key], image_transforms, 4, args.seed)]
            for key in camera_keys]
    plots.show(plots.augmentation_grid(rows), run_dir / "augmentation_preview.png")


def batches(start_step):
    """Training batches for steps start_step, start_step+1, ...: each is a pure function of (seed, step)."""
    seed = args.seed + 7919 * rank  # each GPU process draws its own batches
    if args.cache_frames:
        step = start_step
        while True:
            yield train_cache.batch(loop.step_indices(train_positions, args.batch_size, seed, step))
            step += 1
    sampler = loop.StepBatchSampler(train_positions, args.batch_size, seed, start_step, steps)
    loader = torch.utils.data.DataLoader(train_ds, batch_sampler=sampler, num_workers=args.num_workers,
                                         pin_memory=device == "cuda")
    yield from loader


# %% [markdown]
# ## 6. Model, normalisation and optimizer
#
# lerobot's pre-processor normalises inputs and targets with the dataset's statistics; its post-processor turns
# predicted actions back into joint units. The optimizer and learning-rate schedule are the policy's own presets,
# as `lerobot-train` uses them.

# %%
if resume_from is not None:
    policies.check_features(cfg, meta)
    cfg.pretrained_path = str(resume_from / loop.PRETRAINED)
    policy = policies.build_policy(cfg, meta)
    preprocessor, postprocessor = policies.make_processors(cfg, pretrained_path=resume_from / loop.PRETRAINED)
else:
    policy = policies.build_policy(cfg, meta)
    preprocessor, postprocessor = policies.make_processors(cfg, dataset_stats=meta.stats)
optimizer, scheduler, grad_clip = loop.make_optimizer(policy, cfg, steps, args.lr_schedule)
start_step = 0
if resume_from is not None:
    start_step = loop.load_training_state(resume_from, optimizer, scheduler)
    log.info("resumed from %s at step %d", resume_from, start_step)
    if start_step >= steps:
        log.info("the run already reached step %d: raise --steps to train longer", start_step)
model = policy  # the policy itself: saved and validated; `policy` becomes a wrapper when several GPUs train it
if accelerator is not None:
    policy, optimizer = accelerator.prepare(policy, optimizer)
n_params = sum(p.numel() for p in policy.parameters())
n_trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
print(f"{cfg.type}: {n_params / 1e6:.2f}M parameters ({n_trainable / 1e6:.2f}M trainable), lr {optimizer.param_groups[0]['lr']:g}")

metrics = loop.MetricsLog(run_dir / "metrics.jsonl")
if is_main:
    metrics.truncate_after(start_step)
best = json.loads((run_dir / "best.json").read_text()) if (run_dir / "best.json").is_file() else {"val_action_mae": None}
run_args = {**vars(args), "steps": steps, "train_episodes": train_episodes, "val_episodes": val_episodes}
wandb_run = None
if args.wandb and is_main:
    wandb_run = loop.init_wandb(run_dir, run_dir.name, {"args": run_args, "policy": policies.config_dict(cfg)})

# %% [markdown]
# ## 7. The training loop
#
# One step: gather a batch, normalise it (pre-processor), run the policy forward to get the loss, backpropagate,
# clip the gradient, step the optimizer and the learning-rate schedule. Every `--val-every` steps the held-out
# episodes are scored; every `--save-every` steps (and at the end) a checkpoint is written. Ctrl-C (or SIGTERM)
# finishes the current step, saves a checkpoint and stops with exit code 2: a new run keeps that checkpoint for
# `--resume`, and a run started with `--overwrite` puts the earlier run back as it was.

# %%
stop_signal = {"name": None}


def request_stop(signum, frame):
    """Ask the loop to save and stop after the current step."""
    stop_signal["name"] = signal.Signals(signum).name


previous_handlers = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}


def checkpoint(step):
    """Save checkpoints/<step>, move `last` to it and drop old step checkpoints beyond --keep-last."""
    path = loop.save_checkpoint(run_dir, step, steps, model, preprocessor, postprocessor, optimizer, scheduler,
                                    extra=run_args)
    loop.prune_checkpoints(run_dir, args.keep_last)
    return path


step, last_saved, timing = start_step, None, {"data": 0.0, "total": 0.0, "n": 0}
window = {"loss": [], "data": 0.0, "total": 0.0}
policy.train()
batch_iter = batches(start_step)
loop_start = time.perf_counter()
bar = tqdm(total=steps, initial=start_step, unit="step", desc=f"train {cfg.type}", dynamic_ncols=True, disable=not is_main)
try:
    while step < steps:
        t0 = time.perf_counter()
        raw = next(batch_iter)
        raw = loop.add_image_noise(raw, camera_keys, args.image_noise_std)
        batch = preprocessor(raw)
        batch = loop.add_action_noise(batch, args.action_noise_std)
        t1 = time.perf_counter()

        loss, _ = policy.forward(batch)
        loop.check_finite(loss, step + 1, last_saved or loop.last_checkpoint(run_dir))
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        step += 1
        if args.time_budget_min is not None and time.perf_counter() - loop_start > 60 * args.time_budget_min:
            stop_signal["name"] = f"time budget of {args.time_budget_min:g} min"
        if accelerator is not None:  # every process stops at the same step
            flag = torch.tensor([float(bool(stop_signal["name"]))], device=accelerator.device)
            if accelerator.reduce(flag, reduction="max").item() and not stop_signal["name"]:
                stop_signal["name"] = "another process"

        t2 = time.perf_counter()
        timing["data"] += t1 - t0
        timing["total"] += t2 - t0
        timing["n"] += 1
        window["loss"].append(loss.item())
        window["data"] += t1 - t0
        window["total"] += t2 - t0
        bar.update(1)
        if is_main and (step % args.log_every == 0 or step == steps):
            n = len(window["loss"])
            row = {"step": step, "loss": sum(window["loss"]) / n, "grad_norm": float(grad_norm),
                   "lr": optimizer.param_groups[0]["lr"], "step_s": window["total"] / n, "data_s": window["data"] / n}
            metrics.write(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", data=f"{100 * window['data'] / window['total']:.0f}%")
            if wandb_run is not None:
                wandb_run.log({f"train/{k}": v for k, v in row.items() if k != "step"}, step=step)
            window = {"loss": [], "data": 0.0, "total": 0.0}
        if is_main and val_cache is not None and (step % val_every == 0 or step == steps or stop_signal["name"]):
            scores = loop.validate(model, preprocessor, postprocessor, val_cache, val_positions, args.batch_size)
            metrics.write({"step": step, **scores})
            bar.write(f"step {step}: val loss {scores['val_loss']:.4f}, held-out action error "
                      f"{scores['val_action_mae']:.4f} (mean over joints, original units)")
            if wandb_run is not None:
                wandb_run.log({"val/loss": scores["val_loss"], "val/action_mae": scores["val_action_mae"]}, step=step)
            if best["val_action_mae"] is None or scores["val_action_mae"] < best["val_action_mae"]:
                best = {"step": step, **scores}
                loop.save_checkpoint(run_dir, step, steps, model, preprocessor, postprocessor,
                                         extra=run_args, name=loop.BEST)
                write_json(run_dir / "best.json", best)
        if is_main and (step % save_every == 0 or step == steps or stop_signal["name"]):
            last_saved = checkpoint(step)
        if stop_signal["name"]:
            break
finally:
    bar.close()
    for sig, handler in previous_handlers.items():
        signal.signal(sig, handler)
if stop_signal["name"] in ("SIGINT", "SIGTERM"):
    raise KeyboardInterrupt(stop_signal["name"])  # exit code 2, and one line saying what was kept
if stop_signal["name"]:
    print(f"{stop_signal['name']}: saved {last_saved} and stopped at step {step}; continue with --resume")

# %% [markdown]
# ## 8. Results: the loss curve and where the checkpoints are
#
# The training loss should fall steadily; the held-out action error says how far (in joint units) the predicted
# actions are from the demonstrator's on episodes the policy never saw. `checkpoints/best` is the checkpoint with
# the lowest held-out action error; `checkpoints/last` is the newest.

# %%
if accelerator is not None:  # several GPU processes: the others stop here, the main one reports
    accelerator.wait_for_everyone()
    accelerator.end_training()
    if not is_main:
        raise SystemExit(0)
plots.show(loop.plot_loss_curve(metrics.rows(), title=f"{cfg.type} on {dataset_name}"), run_dir / "loss_curve.png")
summary = {
    "run_dir": str(run_dir), "policy": cfg.type, "preset": args.preset, "steps": step, "device": device,
    "train_episodes": train_episodes, "val_episodes": val_episodes, "parameters": n_params,
    "s_per_step": timing["total"] / max(timing["n"], 1), "data_fraction": timing["data"] / max(timing["total"], 1e-9),
    "last_checkpoint": str(loop.last_checkpoint(run_dir)), "best": best, "stopped_by": stop_signal["name"],
}
write_json(run_dir / "summary.json", summary)
if wandb_run is not None:
    if args.wandb_log_model:  # the only upload of model files, and only when asked for
        best_dir = run_dir / loop.CHECKPOINTS / loop.BEST
        upload = best_dir if best_dir.is_dir() else loop.last_checkpoint(run_dir)
        if upload is not None:
            loop.log_model_artifact(wandb_run, upload / loop.PRETRAINED, run_dir.name)
    wandb_run.finish()
print(f"{step} steps at {summary['s_per_step']:.3f} s/step ({100 * summary['data_fraction']:.0f}% data loading)")
print(f"last checkpoint: {summary['last_checkpoint']}/{loop.PRETRAINED}")
if best.get("step"):
    print(f"best checkpoint: step {best['step']}, held-out action error {best['val_action_mae']:.4f} "
          f"-> {run_dir / loop.CHECKPOINTS / loop.BEST / loop.PRETRAINED}")
