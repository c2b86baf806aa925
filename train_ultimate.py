# %% [markdown]
# # The whole story: from nothing to a policy that picks up the cube
#
# This notebook runs the whole loop of teaching a robot by demonstration, on a laptop CPU, with no hub access:
#
# 1. **Get data**: record scripted demonstrations of the ALOHA transfer-cube task in the MuJoCo simulator.
# 2. **Understand it**: summary, plots and quality checks, before any training time is spent.
# 3. **Train** an ACT policy (and optionally Diffusion) on most episodes, holding some out for validation.
# 4. **Look at the validation curves**: does the policy predict actions it has never seen?
# 5. **Watch it act** in the simulator: a video of a rollout, under a 10 MB budget.
# 6. **Measure**: the success rate at the trained cube position and at positions nearby, and the inference FPS.
#
# Each step is one of the pipeline's own scripts (`make_sim_dataset.py`, `analyse_dataset.py`, `train.py`,
# `visualize_policy.py`), run here with the settings below; open any of them to see that step in detail.
# `make demo` runs this file from the terminal with its defaults: the user's "cube always in the same place"
# setting, about 20 demonstrations at 96x128, and the `cpu` ACT preset, in about half an hour on 2 cores.

# %%
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
# Parameters: the defaults are the `make demo` settings (flags from the terminal, $LNP_ARGS in tests).
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="The whole loop: data, analysis, training, rollout video, numbers.")
parser.add_argument("--output-dir", default="outputs/demo", help="everything this run makes goes here")
parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in --output-dir")
parser.add_argument("--dataset", default=None, help="use this dataset (folder or hub id) instead of recording one")
parser.add_argument("--episodes", type=flags.int_in(1, 100_000), default=20, help="scripted demonstrations to record")
parser.add_argument("--cube-pose", type=flags.finite_float, nargs=2, default=[0.1, 0.5], metavar=("X", "Y"),
                    help="fixed cube position for recording and for the trained-position rollouts")
parser.add_argument("--image-size", type=flags.image_side, nargs=2, default=[96, 128], metavar=("H", "W"))
parser.add_argument("--episode-length", type=flags.int_in(20, 100_000), default=400, help="frames per demonstration (50 fps)")
parser.add_argument("--policies", default="act", help="comma-separated: act, diffusion, smolvla")
parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "paper"])
parser.add_argument("--steps", type=flags.int_in(1, 100_000_000), default=3500, help="training steps per policy")
parser.add_argument("--time-budget-min", type=flags.minutes, default=22.0, help="stop training after this many minutes")
parser.add_argument("--val-fraction", type=flags.fraction, default=0.1)
parser.add_argument("--eval-episodes", type=flags.int_in(1, 100_000), default=5, help="rollouts at the trained cube position")
parser.add_argument("--nearby-radii", type=flags.float_in(0.0, 0.3), nargs="*", default=[0.02, 0.05],
                    help="also roll out with the cube moved this far (m) from the trained position")
parser.add_argument("--nearby-episodes", type=flags.int_in(1, 100_000), default=6, help="rollouts per nearby radius")
parser.add_argument("--max-mb", type=flags.size_mb, default=10.0, help="size budget of each video and GIF")
parser.add_argument("--seed", type=flags.int_in(0, flags.MAX_SEED - 2000), default=0)
args = parse_args(parser)

# %% [markdown]
# ## 0. Set-up
#
# Every artefact of this run lives under one folder. An earlier run there is kept unless you ask for
# `--overwrite`, and even then it is only deleted once this run has ended well. Every setting is checked here,
# before the first step runs.

# %%
import json
import time

from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.data import resolve_dataset
from lerobot_notebook_pipeline.episodes import split_episodes
from lerobot_notebook_pipeline.files import prepare_output_dir, write_json
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim_env import check_on_table
from lerobot_notebook_pipeline.steps import run_step, show

policies = [p.strip() for p in args.policies.split(",") if p.strip()]
unknown = sorted(set(policies) - {"act", "diffusion", "smolvla"})
if unknown or not policies:
    raise UserError(f"--policies {args.policies!r}: choose from act, diffusion, smolvla (comma-separated)")
check_on_table(args.cube_pose)
if not args.dataset:  # train.py will hold out this share of the recorded episodes: check it can, before recording
    split_episodes(list(range(args.episodes)), args.val_fraction, args.seed)
if args.dataset:
    _, dataset_root = resolve_dataset(args.dataset)
    if dataset_root is not None:
        preflight.check_dataset(dataset_root, videos=True)
out = prepare_output_dir(args.output_dir, args.overwrite)
cube = [str(v) for v in args.cube_pose]
timings: dict[str, float] = {}
story_start = time.perf_counter()

# %% [markdown]
# ## 1. Get data: scripted demonstrations in the simulator
#
# A scripted policy plans gripper waypoints (reach, grasp, lift, hand over) and turns them into joint targets;
# only the episodes that end with the cube held by the other arm are kept. The cube always starts at the same
# place here, our user's "cube always in the same place" setting: the question is then whether a policy can
# learn that one motion well, and how far from that place it still works.

# %%
if args.dataset:
    dataset = args.dataset
else:
    dataset = str(out / "dataset")
    timings["record"] = run_step("make_sim_dataset.py", [
        "--task", "transfer_cube", "--episodes", args.episodes, "--root", dataset, "--seed", args.seed,
        "--image-size", *args.image_size, "--episode-length", args.episode_length, "--cube-pose", *cube])

# %% [markdown]
# ## 2. Understand it: summary, plots and quality checks
#
# Before spending half an hour of CPU on training, look at the data: how many episodes and frames, what the
# joints do, and whether anything is wrong (frozen joints, gripper chatter, jumps, too little diversity).

# %%
analysis = out / "analysis"
timings["analyse"] = run_step("analyse_dataset.py", ["--dataset", dataset, "--output-dir", analysis,
                                                     "--max-mb", args.max_mb], quiet=True)
report = json.loads((analysis / "report.json").read_text())
summary = report["summary"]
print(f"{summary['episodes']} episodes, {summary['frames']} frames at {summary['fps']} fps "
      f"({summary['duration_s']:.0f} s of demonstrations)")
for finding in report["findings"]:
    if finding["severity"] in ("warn", "error"):
        print(f"  [{finding['severity']}] {finding['check']}: {finding['message']}")

# %%
show(analysis / "joint_traces.png")
show(analysis / "first_last_frames.png")

# %% [markdown]
# ## 3. Train: ACT on the demonstrations, with held-out episodes for validation
#
# `train.py` holds the training loop in plain sight; here it runs with the `cpu` preset (a 256-wide ACT with a
# ResNet18 trained from scratch) and every decoded frame cached in memory, so the CPU spends its time learning,
# not decoding video.

# %%
runs = {}
for policy in policies:
    run_dir = out / "train" / policy
    timings[f"train_{policy}"] = run_step("train.py", [
        "--dataset", dataset, "--policy", policy, "--preset", args.preset, "--steps", args.steps,
        "--time-budget-min", args.time_budget_min, "--val-fraction", args.val_fraction, "--seed", args.seed,
        "--output-dir", run_dir])
    runs[policy] = json.loads((run_dir / "summary.json").read_text())

# %% [markdown]
# ## 4. The validation curves
#
# The training loss always falls; the held-out action error says whether the policy learned the task or the
# particular episodes. Its unit is the robot's own (radians for the joints).

# %%
for policy, summary_ in runs.items():
    best = summary_["best"]
    print(f"{policy}: {summary_['steps']} steps at {summary_['s_per_step']:.2f} s/step; best held-out action "
          f"error {best.get('val_action_mae')} at step {best.get('step')}")
    show(out / "train" / policy / "loss_curve.png")

# %% [markdown]
# ## 5. Watch it act: rollouts in the simulator
#
# The policy now drives the arms itself, closed loop, in the same fast simulator and at the same image size
# as the demonstrations. First at the trained cube position, then with the cube moved a little: how far does
# one position's worth of demonstrations carry?

# %%
results = {}
for policy in policies:
    checkpoint = out / "train" / policy / "checkpoints" / "last" / "pretrained_model"
    rollout_dir = out / "rollouts" / policy
    timings[f"rollout_{policy}"] = run_step("visualize_policy.py", [
        "--policy-path", checkpoint, "--env", "aloha_transfer_cube", "--episodes", args.eval_episodes,
        "--cube-pose", *cube, "--max-steps", args.episode_length, "--output-dir", rollout_dir, "--max-mb", args.max_mb,
        "--seed", 1000 + args.seed])
    results[policy] = {"trained_position": json.loads((rollout_dir / "metrics.json").read_text())}
    for radius in args.nearby_radii:
        nearby_dir = out / "rollouts" / f"{policy}_moved_{radius * 100:g}cm"
        run_step("visualize_policy.py", [
            "--policy-path", checkpoint, "--env", "aloha_transfer_cube", "--episodes", args.nearby_episodes,
            "--cube-pose", *cube, "--pose-radius", radius, "--max-steps", args.episode_length,
            "--output-dir", nearby_dir, "--max-mb", args.max_mb, "--seed", 2000 + args.seed], quiet=True)
        results[policy][f"moved_{radius * 100:g}cm"] = json.loads((nearby_dir / "metrics.json").read_text())

# %%
for policy in policies:
    metrics = results[policy]["trained_position"]
    video = metrics["media"].get("best_video") or metrics["media"]["gif"]
    print(f"{policy}: {video}")
    show(metrics["media"]["gif"])

# %% [markdown]
# ## 6. The numbers: success rate and inference speed
#
# Success is the simulator's own: the cube lifted and handed over (reward 4 of 4). The inference speed says
# whether the policy could drive the real robot at its control rate (50 Hz for ALOHA, 30 Hz for an SO-101).

# %%
rows = []
for policy in policies:
    for setting, metrics in results[policy].items():
        episodes = metrics["per_episode"]
        rows.append({"policy": policy, "setting": setting, "success": sum(e["success"] for e in episodes),
                     "episodes": len(episodes), "pc_success": metrics["pc_success"],
                     "inference_hz": metrics["inference"]["effective_hz"]})
        print(f"{policy:10s} {setting:18s} {rows[-1]['success']} of {rows[-1]['episodes']} succeeded "
              f"({metrics['pc_success']:.0f}%), inference {metrics['inference']['effective_hz']} Hz")
timings["total"] = time.perf_counter() - story_start
write_json(out / "metrics.json", {"results": rows, "timings_s": timings, "settings": vars(args)})
print(f"\nthe whole story took {timings['total'] / 60:.1f} min; everything is in {out}/:")
print(f"  analysis report  {analysis / 'report.md'}")
for policy in policies:
    print(f"  {policy} checkpoint   {out / 'train' / policy / 'checkpoints' / 'last' / 'pretrained_model'}")
    print(f"  {policy} rollouts     {out / 'rollouts' / policy}")
print(f"  numbers          {out / 'metrics.json'}")
print("\nThe full recipe, random cube positions on a GPU:\n"
      "  python make_sim_dataset.py --task transfer_cube --episodes 50 --root outputs/datasets/transfer_cube\n"
      "  python train.py --dataset outputs/datasets/transfer_cube --policy act --preset paper --device cuda\n"
      "  python visualize_policy.py --policy-path outputs/train/transfer_cube_act_paper/checkpoints/last/pretrained_model "
      "--episodes 50")
