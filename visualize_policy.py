# %% [markdown]
# # Watch the policy act: rollouts, success rate, video and inference speed
#
# Training curves say little about whether a robot policy works. This notebook loads a trained policy,
# runs it in simulation for a few seeded episodes, and answers three questions with numbers and pictures:
#
# 1. **Does it succeed, and how sure is that?** `metrics.json` uses lerobot-eval's definitions (`pc_success`,
#    `avg_sum_reward`, `avg_max_reward`, and per episode `sum_reward`, `max_reward`, `success`, `seed`), so the
#    figures compare directly with published results. Every success rate comes with its count (`successes` of
#    `episodes`) and a Wilson 95% interval (`ci95`), and says from how many distinct initial states it was
#    measured: a deterministic policy started twice from the same state repeats itself, so such rollouts count
#    as one trial. Each episode also records how far it got (`stage`: touched, lifted, handed over...).
# 2. **What does it do?** An MP4 per episode and one GIF (each under `--max-mb`) with the step, reward and
#    success drawn on the frames, plus a first/last-frame strip.
# 3. **Is it fast enough?** Per-call `select_action` latency, split into calls that compute a new action
#    chunk and calls that pop a queued action, against the control rate of the robot.
#
# For a real-robot dataset that no simulator covers, pass `--dataset PATH --episode K`: the policy then
# replays the recorded observations of that episode (open loop) and its actions are compared, joint by
# joint, with what the human operator commanded.

# %%
# Parameters: these defaults are the notebook's defaults too (in a notebook, flags come from $LNP_ARGS).
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="Roll out a trained policy in simulation (or replay it open loop on a "
                                 "recorded episode), save videos under a size budget, and measure its speed.")
parser.add_argument("--policy-path", type=flags.path_or_repo, required=True, help="checkpoint folder (train.py's or lerobot's) or hub id")
parser.add_argument("--env", default=None, choices=["aloha_transfer_cube", "aloha_insertion", "pusht", "so101_pick_place"],
                    help="sim env (default: the training data's task, else guessed from the policy's state size)")
parser.add_argument("--episodes", type=flags.int_in(1, 100_000), default=3,
                    help="number of rollout episodes (--pose-grid: one per position)")
parser.add_argument("--seed", type=flags.seed, default=1000, help="episode i is reset with seed + i (as lerobot-eval)")
parser.add_argument("--max-steps", type=flags.int_in(1, 1_000_000), default=None, help="episode length (default: the env's, 400 for aloha, 300 for so101)")
parser.add_argument("--output-dir", type=flags.path, default=None, help="default outputs/rollouts/<run name>")
parser.add_argument("--max-mb", type=flags.size_mb, default=10.0, help="size budget for each video and the GIF")
parser.add_argument("--num-envs", type=flags.int_in(1, 64), default=1, help="parallel envs (gymnasium vector env, subprocesses)")
parser.add_argument("--render-quality", default=None, choices=["fast", "stock"],
                    help="aloha/so101 render settings (default: those of the training data, else fast)")
parser.add_argument("--cube-pose", type=flags.finite_float, nargs=2, default=None, metavar=("X", "Y"),
                    help="aloha/so101: fixed object position (default: the training data's, else gym-aloha's random range "
                    "or the SO-101's pencil marks)")
parser.add_argument("--pose-radius", type=flags.float_in(0.0, 0.3), default=None, metavar="R",
                    help="aloha/so101, with --cube-pose: draw each episode's object position uniformly within +/-R (m) of it")
parser.add_argument("--pose-ring", type=flags.float_in(0.0, 0.3), default=None, metavar="R",
                    help="aloha/so101: put the object at --episodes points evenly spaced on a circle of radius R (m) around "
                    "--cube-pose (default: the centre of the training data's positions; so101: the target)")
parser.add_argument("--pose-grid", type=flags.int_in(1, 101), nargs=2, default=None, metavar=("NX", "NY"),
                    help="aloha/so101: one episode per position of an NX x NY grid over --pose-range, and a success heatmap")
parser.add_argument("--pose-range", type=flags.finite_float, nargs=4, default=None, metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                    help="with --pose-grid: the area it covers (default: gym-aloha's whole sampling range; so101: the "
                    "expert's reach)")
parser.add_argument("--marks", type=flags.int_in(1, 64), default=None, metavar="N",
                    help="so101: put each episode's cube (seeded) at one of N pencil marks, as make_sim_dataset.py "
                    "--marks N records them, whatever positions the training data has (default: the training data's, "
                    "else 4)")
parser.add_argument("--placement-noise", type=flags.float_in(0.0, 0.05), default=None, metavar="R",
                    help="so101: put the cube within +/-R (m, uniform in x and y) of its pencil mark (default: the "
                    "training data's, else 0.015)")
parser.add_argument("--dataset-settings", type=flags.path, default=None, metavar="PATH",
                    help="the training dataset (or its meta/sim_settings.json) when the checkpoint does not record it")
parser.add_argument("--image-size", type=flags.image_side, nargs=2, default=None, metavar=("H", "W"),
                    help="aloha/so101 render size (default: the training data's, else 480 640)")
parser.add_argument("--perturb", default=None, metavar="NAME=VALUE[,NAME=VALUE]",
                    help="aloha/so101: change the scene, the observed state or the timing, e.g. camera_shift_cm=3,"
                    "light_scale=0.5; the factors, units and ranges are in lerobot_notebook_pipeline/sim/perturb.py")
parser.add_argument("--temporal-ensemble", type=flags.float_in(0.0, 1.0), default=None, metavar="COEFF",
                    help="ACT only: predict a chunk every step and average what the overlapping chunks say, the i-th "
                    "oldest weighted exp(-COEFF * i) (0.01 in the ACT paper); 0 executes whole chunks (default: as trained)")
parser.add_argument("--gif-fps", type=flags.float_in(0.1, 100.0), default=10.0, help="the GIF keeps every k-th frame to play at about this rate")
parser.add_argument("--action-panel", action="store_true", help="plot the commanded actions beside the video")
parser.add_argument("--dataset", type=flags.path_or_repo, default=None,
                    help="open-loop mode: a dataset folder or hub id to replay")
parser.add_argument("--episode", type=flags.non_negative_int, default=0, help="open-loop mode: which episode of --dataset")
parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
parser.add_argument("--threads", type=flags.threads, default=1,
                    help="torch CPU threads (1: with MuJoCo's software renderer on the same cores, 2 made ACT "
                    "chunks 40x slower on a 2-core machine)")
parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
args = parse_args(parser)

# %% [markdown]
# ## Which policy, and which env it was trained for
#
# A policy only works on the images it was trained on. When the checkpoint records its training dataset and
# that dataset stores its sim settings (task, image size, render quality, cube position), the rollout env
# is built the same way; flags override them. Later, mismatches between the policy's inputs and the env's
# observations are fixed only when that is safe (an image resized to the trained size at the same aspect
# ratio); anything else is refused with a message.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np

from lerobot_notebook_pipeline import plots, preflight
from lerobot_notebook_pipeline.evaluation import openloop, rollout, success
from lerobot_notebook_pipeline.evaluation.inference import LatencyLog
from lerobot_notebook_pipeline.evaluation.overlay import annotate, beside, rollout_frames
from lerobot_notebook_pipeline.files import check_output_dir, prepare_output_dir, write_json
from lerobot_notebook_pipeline.media import frame_strip, write_gif, write_video
from lerobot_notebook_pipeline.runtime import UserError, pick_device
from lerobot_notebook_pipeline.sim import poses
from lerobot_notebook_pipeline.sim.perturb import describe, parse_perturb

OPEN_LOOP = args.dataset is not None
policy_dir = rollout.resolve_policy_dir(args.policy_path)
preflight.check_checkpoint(policy_dir)
overrides = rollout.ensemble_overrides(policy_dir, args.temporal_ensemble)
SIM_ONLY = ["--env", "--episodes", "--seed", "--max-steps", "--num-envs", "--render-quality", "--cube-pose",
            "--pose-radius", "--pose-ring", "--pose-grid", "--pose-range", "--marks", "--placement-noise",
            "--dataset-settings", "--image-size", "--perturb", "--action-panel"]
if OPEN_LOOP:
    openloop.check_episode(args.dataset, args.episode)
    preflight.check_replay_images(rollout.saved_input_shapes(policy_dir), args.dataset)
    suffix = f"openloop_ep{args.episode}"
    preflight.note_ignored(parser, args, SIM_ONLY, "they set the sim rollouts, and --dataset replays a recorded "
                           "episode instead (open loop)")
else:
    preflight.note_ignored(parser, args, ["--episode"], "it picks the recorded episode of the open-loop replay, which "
                           "runs only with --dataset PATH; these are sim rollouts (--episodes sets how many)")
    settings = (poses.read_settings(args.dataset_settings) if args.dataset_settings
                else rollout.sim_settings_for(policy_dir))
    env_name = args.env or rollout.guess_env(rollout.saved_input_shapes(policy_dir), settings)
    spec = rollout.env_spec(env_name)
    env_kwargs = rollout.env_kwargs_for(spec, settings, max_steps=args.max_steps, render_quality=args.render_quality,
                                        image_size=args.image_size, cube_pose=args.cube_pose,
                                        pose_radius=args.pose_radius, perturb=parse_perturb(args.perturb),
                                        marks=args.marks, placement_noise=args.placement_noise)
    suffix = env_name
    print(f"env: {env_name}", "(settings from the training data)" if settings else "(no sim settings found: flags/defaults)")
    print("env settings:", env_kwargs)
    if (same_in_lerobot := rollout.lerobot_eval_flags(spec, env_kwargs)) and not (args.pose_grid or args.pose_ring):
        same_in_lerobot += rollout.lerobot_policy_flags(overrides)
        print(f"the same rollouts in lerobot: lerobot-eval --policy.path={policy_dir} {' '.join(same_in_lerobot)} "
              f"--seed={args.seed} --eval.n_episodes={args.episodes} --eval.batch_size=1")
    if env_kwargs.get("perturb"):
        print(f"perturbed: {describe(env_kwargs['perturb'])} (written into metrics.json's env_settings)")

# %% [markdown]
# ## Where the cube starts
#
# By default each episode's cube position is drawn (seeded) from the spread the training data was recorded
# with, so the rollouts test the situations the policy was taught. `--cube-pose` fixes it, `--pose-radius`
# draws it around that point, `--pose-ring R` puts it on a circle R metres away (how does success fall off with
# distance?) and `--pose-grid NX NY` walks a grid over `--pose-range` (where does it work at all?). On the SO-101,
# `--marks N` (with `--placement-noise R`) puts it near one of N pencil marks, as `make_sim_dataset.py --marks N` does.

# %%
if not OPEN_LOOP:
    explicit_poses, pose_grid_range, training_range = None, None, poses.training_range(settings)
    if (args.pose_grid or args.pose_ring is not None) and spec.family not in rollout.CUBE_FAMILIES:
        raise UserError("--pose-grid and --pose-ring apply to the so101_pick_place and aloha envs only: drop them")
    if args.pose_range and not args.pose_grid:
        raise UserError("--pose-range sets the area of --pose-grid: add --pose-grid NX NY, or use --cube-pose with "
                        "--pose-radius")
    if sum(x is not None for x in (args.pose_grid, args.pose_ring, args.pose_radius)) > 1:
        raise UserError("--pose-grid, --pose-ring and --pose-radius exclude each other: pass one of them")
    rollout.check_mark_flags(spec, args.marks, args.placement_noise, {"--pose-grid": args.pose_grid,
                                                                      "--pose-ring": args.pose_ring})
    if args.pose_grid:
        pose_grid_range = rollout.pose_grid_range(spec, args.pose_range)
        explicit_poses = poses.grid_poses(pose_grid_range, *args.pose_grid)
    elif args.pose_ring is not None:
        centre = args.cube_pose or (poses.range_centre(training_range) if training_range else rollout.ring_centre(spec))
        if centre is None:
            raise UserError(f"--pose-ring {args.pose_ring:g} needs a centre, and the checkpoint names no training data "
                            "with recorded cube positions (its meta/sim_settings.json) to take it from: add --cube-pose "
                            "X Y, or --dataset-settings PATH (the training dataset)")
        explicit_poses = poses.ring_poses(centre, args.pose_ring, args.episodes)
    n_episodes = len(explicit_poses) if explicit_poses else args.episodes
    training_xy = poses.training_positions(settings)
    if explicit_poses is None and env_kwargs.get("cube_pose") and n_episodes > 1:
        print(f"note: every episode starts with the cube at {tuple(env_kwargs['cube_pose'])}; a deterministic policy "
              "then repeats one trial (counted once): pass --pose-radius R or --pose-ring R to vary it")
out_dir = args.output_dir or flags.path("outputs/rollouts") / rollout.run_name(policy_dir, suffix)
preflight.check_not_input(check_output_dir(out_dir, args.overwrite), {"--policy-path": policy_dir, "--dataset": args.dataset,
                                    "--dataset-settings": args.dataset_settings})
device = pick_device(args.device)  # imports torch (seconds): after the checks above, which refuse in a fraction of one
out_dir = prepare_output_dir(out_dir, args.overwrite)
print("writing to", out_dir)

# %% [markdown]
# ## Load the policy and its processors
#
# A checkpoint holds the network (`model.safetensors`), its config, and the pre/post processors that
# normalise observations and un-normalise actions with the training data's statistics. Without those the
# policy would see differently scaled inputs than in training, so a checkpoint without them is refused.

# %%
import torch

torch.set_num_threads(args.threads)
loaded = rollout.load_policy(policy_dir, device, overrides)
if overrides:
    print("policy config changed for these rollouts:", overrides)
n_params = sum(p.numel() for p in loaded.policy.parameters())
print(f"policy: {loaded.config.type} with {n_params / 1e6:.1f}M parameters from {loaded.path} on {device}")
print("inputs:", {k: list(v) for k, v in loaded.input_shapes.items()}, "| action dim:", loaded.action_dim)

# %% [markdown]
# ## Roll out seeded episodes
#
# Episode *i* is reset with seed `seed + i`, exactly as `lerobot-eval --seed` does, so the same checkpoint and
# seeds give the same per-episode results in both tools. With `--num-envs K`, K episodes run at once in
# subprocesses (a gymnasium vector env) and the policy sees them as one batch.
#
# Each finished episode goes straight into its MP4, with the step, the reward and SUCCESS drawn on the frames
# (and, with `--action-panel`, the commanded actions plotted beside them). Only the frames the GIF and the
# first/last strip need are kept, so memory stays flat however many episodes run. A video that would exceed
# `--max-mb` is downscaled, then frames are skipped (its playback rate drops with them, so it keeps real time).

# %%
if not OPEN_LOOP:
    from lerobot.utils.random_utils import set_seed

    set_seed(args.seed)
    seeds = rollout.episode_seeds(args.seed, n_episodes)
    latency = LatencyLog()
    env = rollout.make_vector_env(env_name, min(args.num_envs, args.episodes), **env_kwargs)
    episodes, videos, adapter, media_s = [], [], None, 0.0
    gif_frames, gif_episode = None, None
    start = time.perf_counter()
    try:
        for first in range(0, len(seeds), env.num_envs):
            batch_seeds = seeds[first:first + env.num_envs]
            batch_poses = explicit_poses[first:first + env.num_envs] if explicit_poses else None
            if batch_poses:
                batch_poses += [batch_poses[-1]] * (env.num_envs - len(batch_poses))
            batch_seeds += [batch_seeds[-1]] * (env.num_envs - len(batch_seeds))  # pad the last batch, drop later
            done, adapter = rollout.rollout_batch(env, loaded, batch_seeds, spec.description, latency=latency,
                                                  adapter=adapter, frame_key=spec.frame_key, poses=batch_poses)
            for e in done[:len(seeds) - first]:
                where = f" cube ({e.object_pose[0]:.3f}, {e.object_pose[1]:.3f})" if e.object_pose else ""
                print(f"seed {e.seed}{where}: {len(e.rewards)} steps, max_reward {e.max_reward:g}, "
                      f"{'SUCCESS' if e.success else 'no success'}")
                media_start = time.perf_counter()
                frames = rollout_frames(e.frames, e.rewards, e.success_step,
                                        np.asarray(e.actions) if args.action_panel else None)
                videos.append(write_video(frames, out_dir / f"episode_{len(episodes):03d}_seed{e.seed}.mp4", spec.fps,
                                          args.max_mb))
                if gif_episode is None or (e.success and not gif_episode.success):
                    # the GIF (and best_video) show the first success, else the first episode
                    gif_frames, gif_episode, best_video = frames, e, videos[-1].path
                e.frames = [e.frames[0], e.frames[-1]]  # the MP4 has them all; the strip needs first and last
                episodes.append(e)
                media_s += time.perf_counter() - media_start
    finally:
        env.close()
    rollout_s = time.perf_counter() - start - media_s
    metrics = rollout.summarize_episodes(episodes, spec.task)
    steps = sum(len(e.rewards) for e in episodes)
    speed = latency.summary(spec.fps)
    pose_mode = ("grid" if args.pose_grid else "ring" if args.pose_ring is not None else
                 "fixed" if env_kwargs.get("cube_pose") else "drawn from a range" if spec.family == "aloha" or
                 env_kwargs.get("pose_range") else "near the pencil marks" if spec.family == "so101" else None)
    metrics.update(env=env_name, env_settings={k: v for k, v in env_kwargs.items()}, seed=args.seed,
                   num_envs=env.num_envs, rollout_s=round(rollout_s, 2), env_steps_per_s=round(steps / rollout_s, 1),
                   video_s=round(media_s, 2), inference=speed, policy_path=str(loaded.path), device=device,
                   policy_overrides=overrides, poses={"mode": pose_mode, "ring_radius": args.pose_ring, "training_range": training_range,
                          "training_positions": len(training_xy)})
    print(f"\nsuccess {success.format_rate(metrics)}: {success.format_trials(metrics)}")
    if "stages" in metrics:
        print(f"furthest stage: {success.format_stages(metrics['stages'])}")
    print(f"avg_sum_reward {metrics['avg_sum_reward']:.3g} | avg_max_reward {metrics['avg_max_reward']:.3g}")
    print(f"{steps} steps in {rollout_s:.1f} s ({steps / rollout_s:.1f} steps/s including rendering)")

# %% [markdown]
# ## Success over a grid of cube positions
#
# (Runs only with `--pose-grid`.) One episode per position: green worked, red did not, the number is the furthest
# stage it reached, and the dots are where the training demonstrations had the cube. This is the picture behind
# "how many positions do I need to demonstrate?": a policy tends to work near what it was shown.

# %%
if not OPEN_LOOP and args.pose_grid:
    nx, ny = args.pose_grid
    success_grid = np.array([e.success for e in episodes], dtype=float).reshape(ny, nx)
    stage_grid = [[row["stage"] for row in metrics["per_episode"][j * nx:(j + 1) * nx]] for j in range(ny)]
    heatmap = out_dir / "pose_heatmap.png"
    plots.show(plots.pose_heatmap(pose_grid_range, success_grid, training_xy,
                                  f"{env_name}: success {success.format_rate(metrics)}", stage_grid), heatmap)
    metrics["pose_grid"] = {"nx": nx, "ny": ny, "range": list(pose_grid_range), "success": success_grid.tolist(),
                            "stage": stage_grid, "heatmap": str(heatmap)}

# %% [markdown]
# ## Open-loop replay on a recorded episode
#
# (Runs only with `--dataset`.) The policy sees the recorded observations, one frame at a time, and its
# commanded actions are compared with the recorded ones per named joint. The mean absolute error is in the
# dataset's own units (radians, or motor degrees/percent for an SO-101). Open-loop error is a sanity check,
# not a success rate: small errors can still compound on the robot, and a policy can succeed while
# disagreeing with one demonstration.

# %%
if OPEN_LOOP:
    dataset = openloop.open_episode(args.dataset, args.episode)
    fps = float(dataset.meta.fps)
    latency = LatencyLog()
    start = time.perf_counter()
    replay = openloop.replay_episode(loaded, dataset, latency)
    rollout_s = time.perf_counter() - start
    mae = replay.mae()
    control_hz = fps  # a recording's fps is its control rate (30 Hz for an SO-101)
    speed = latency.summary(control_hz)
    metrics = {"mode": "open_loop", "dataset": str(args.dataset), "episode": args.episode, "frames": len(replay.recorded),
               "fps": fps, "per_joint_mae": mae, "mean_mae": float(np.mean(list(mae.values()))),
               "inference": speed, "policy_path": str(loaded.path), "device": device, "policy_overrides": overrides}
    print(f"episode {args.episode}: {len(replay.recorded)} frames at {fps:g} fps, replayed in {rollout_s:.1f} s")
    for name, value in mae.items():
        print(f"  {name:>28s}: MAE {value:.4g}")

# %% [markdown]
# ## Inference speed: does the policy keep up with the robot?
#
# A chunking policy (ACT, Diffusion, SmolVLA) computes a whole chunk of actions in one expensive call and then
# returns queued actions almost for free. The average rate can look fine while the chunk calls are longer
# than one control period, which stalls a synchronous control loop at every new chunk. Both are reported.

# %%
s = metrics["inference"]
print(f"select_action: {s['all']['calls']} calls, p50 {s['all']['p50_ms']} ms, p95 {s['all']['p95_ms']} ms")
print(f"  new chunk: {s['new_chunk']['calls']} calls, p50 {s['new_chunk']['p50_ms']} ms, p95 {s['new_chunk']['p95_ms']} ms")
print(f"  queued:    {s['queued']['calls']} calls, p50 {s['queued']['p50_ms']} ms, p95 {s['queued']['p95_ms']} ms")
print(f"inference FPS {s['effective_hz']} against the {s['control_hz']:g} Hz control rate: {s['verdict']}")

# %% [markdown]
# ## One GIF and a first/last-frame strip
#
# The GIF (also under `--max-mb`, with a reduced palette, at about `--gif-fps` frames per second in real
# time) shows the first successful episode, or the first episode when none succeeded. The strip puts the first and last frame of up to four episodes side by side:
# the quickest look at how each one ended.

# %%
if not OPEN_LOOP:
    gif_step = max(1, round(spec.fps / args.gif_fps))
    gif = write_gif(gif_frames[::gif_step], out_dir / f"rollout_seed{gif_episode.seed}.gif", spec.fps / gif_step,
                    args.max_mb)
    strip_images, strip_labels = [], []
    for e in episodes[:4]:
        strip_images += [e.frames[0], e.frames[-1]]
        strip_labels += [f"seed {e.seed} first", f"seed {e.seed} last" + (" SUCCESS" if e.success else "")]
    strip = frame_strip(strip_images, out_dir / "first_last_frames.png", strip_labels)
else:
    panel = openloop.replay_panel(replay, height=480, width=640)
    plot_path = out_dir / "predicted_vs_recorded.png"
    plt.imsave(plot_path, panel.image)
    frames = [beside(annotate(f, [f"frame {t}"], min_height=480), panel.at(t)) for t, f in enumerate(replay.frames)]
    videos = [write_video(frames, out_dir / f"openloop_episode_{args.episode}.mp4", fps, args.max_mb)]
    gif_step = max(1, round(fps / args.gif_fps))
    gif = write_gif(frames[::gif_step], out_dir / f"openloop_episode_{args.episode}.gif", fps / gif_step, args.max_mb)
    strip = frame_strip([replay.frames[0], replay.frames[-1]], out_dir / "first_last_frames.png",
                        [f"episode {args.episode} first", f"episode {args.episode} last"])
media = {"gif": str(gif.path), "best_video": str(best_video if not OPEN_LOOP else videos[0].path),
         "videos": [str(v.path) for v in videos], "strip": str(strip), "files": {}}
for result in videos + [gif]:
    media["files"][result.path.name] = {"size_mb": round(result.size_mb, 3), "scale": result.scale,
                                        "stride": result.stride, "frames": result.frames}
    print(f"{result.path}: {result.size_mb:.2f} MB (scale {result.scale}, every {result.stride} frame(s))")
print(f"{strip}: first/last frames")
metrics["media"] = media
write_json(out_dir / "metrics.json", metrics)
print(f"{out_dir / 'metrics.json'}")

# %% [markdown]
# ## First and last frames
#
# The quickest look at an outcome: where each episode started and where it ended.

# %%
image = plt.imread(strip)
plt.figure(figsize=(min(16, image.shape[1] / 60), image.shape[0] / 60))
plt.imshow(image)
plt.axis("off")
plt.show()
if OPEN_LOOP:
    plt.figure(figsize=(10, 7.5))
    plt.imshow(panel.image)
    plt.axis("off")
    plt.show()

# %% [markdown]
# ## Summary

# %%
if OPEN_LOOP:
    print(f"open-loop replay of episode {args.episode}: mean MAE {metrics['mean_mae']:.4g} over "
          f"{len(metrics['per_joint_mae'])} joints")
else:
    print(f"success {success.format_rate(metrics)}: {success.format_trials(metrics)}")
    if "stages" in metrics:
        print(f"furthest stage: {success.format_stages(metrics['stages'])}")
speed = metrics["inference"]
keeps_up = ("keeps up" if speed["keeps_up"] else
            "keeps up on average, stalls at each new chunk" if speed["keeps_up_on_average"] else "does NOT keep up")
print(f"inference FPS {speed['effective_hz']} vs {speed['control_hz']:g} Hz: {keeps_up}")
print("media:", ", ".join(f"{name} {m['size_mb']:.2f} MB" for name, m in media["files"].items()))
print("details:", json.dumps({k: metrics[k] for k in metrics if k in ('successes', 'episodes', 'pc_success', 'ci95',
                                                                    'distinct_initial_conditions', 'avg_max_reward')}))
