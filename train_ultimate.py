# %% [markdown]
# # The whole story: from nothing to a policy that picks up the cube
#
# This notebook runs the whole loop of teaching a robot by demonstration, on a laptop CPU, with no hub access:
#
# 1. **Get data**: record scripted demonstrations of the ALOHA transfer-cube task in the MuJoCo simulator, or,
#    with `--robot so101` (`make demo ROBOT=so101`), of one SO-101 arm picking the cube at the pencil marks and
#    putting it on the centre target.
# 2. **Understand it**: summary, plots and quality checks, before any training time is spent.
# 3. **Train** an ACT policy (and optionally Diffusion) on most episodes, holding some out for validation.
# 4. **Look at the validation curves**: does the policy predict actions it has never seen?
# 5. **Watch it act** in the simulator: a video of a rollout, under a 10 MB budget.
# 6. **Measure**: the success rate within the demonstrations' spread and with the cube moved further away, each
#    with its count, a 95% interval and how the failures failed; and the inference FPS.
#
# Each step is one of the pipeline's own scripts (`make_sim_dataset.py`, `analyse_dataset.py`, `train.py`,
# `visualize_policy.py`), run here with the settings below; open any of them to see that step in detail.
# `make demo` runs this file from the terminal with its defaults, the recipe measured to work on a 2-core laptop:
# 20 demonstrations with the cube placed by hand around one mark (within +/-1.5 cm of (0.1, 0.5), and a few
# millimetres of wobble in every motion, as a person's demonstrations vary), 64x85 images, and the `cpu` ACT
# preset trained for 2500 steps. That took about 21 minutes end to end on 2 cores and succeeded 18 of 20 times.
# The SO-101's recipe (`training/recipes.py`) records 40 demos, 10 per mark, anneals the learning rate to 0, and
# rolls out with ACT's temporal ensembling: 18-20 of 20 on 3 seeds, in 27 minutes on 2 cores.
# Training runs by steps, not by the clock: it prints its s/step and an ETA for the whole run once measured.

# %%
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
# Parameters: the defaults are the `make demo` settings (flags from the terminal, $LNP_ARGS in tests).
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="The whole loop: data, analysis, training, rollout video, numbers.")
parser.add_argument("--robot", default="aloha", choices=["aloha", "so101"],
                    help="aloha: the bimanual transfer cube; so101: one SO-101 arm picks the cube at the pencil marks "
                    "and puts it on the centre target")
parser.add_argument("--output-dir", type=flags.path, default="outputs/demo", help="everything this run makes goes here")
parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in --output-dir")
parser.add_argument("--dataset", type=flags.path_or_repo, default=None, help="use this dataset (folder or hub id) instead of recording one")
parser.add_argument("--episodes", type=flags.int_in(1, 100_000), default=None,
                    help="scripted demonstrations to record (default aloha: 20; so101: 40, 10 per mark)")
parser.add_argument("--cube-pose", type=flags.finite_float, nargs=2, default=None, metavar=("X", "Y"),
                    help="the mark the cube is placed around, for recording and for the rollouts (default aloha: "
                    "0.1 0.5; so101: the cube goes to --marks marks, and the moved-cube circles centre on the first)")
parser.add_argument("--marks", type=flags.int_in(1, 64), default=4,
                    help="so101: pencil marks the cube is put at (4: the corners of a +/-5 cm square round the target)")
parser.add_argument("--pose-spread", type=flags.metres, default=0.015, metavar="R",
                    help="record with the cube drawn within +/-R (m) of --cube-pose or of each mark (0: exactly there)")
parser.add_argument("--waypoint-noise", type=flags.metres, default=0.005, help="std (m) of the wobble in the demonstrations")
parser.add_argument("--num-workers", type=flags.workers, default=2, help="processes recording the demonstrations")
parser.add_argument("--image-size", type=flags.image_side, nargs=2, default=[64, 85], metavar=("H", "W"))
parser.add_argument("--episode-length", type=flags.int_in(20, 100_000), default=None,
                    help="frames per demonstration (default aloha: 400 at 50 fps; so101: 300 at 30 fps)")
parser.add_argument("--policies", default="act", help="comma-separated: act, diffusion, smolvla")
parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "paper"])
parser.add_argument("--steps", type=flags.int_in(1, 100_000_000), default=None,
                    help="training steps per policy (default aloha 2500, so101 2000)")
parser.add_argument("--chunk-size", type=flags.int_in(1, 1000), default=None,
                    help="ACT's action chunk (default aloha: the preset's 50; so101: 100)")
parser.add_argument("--temporal-ensemble", type=flags.float_in(0.0, 1.0), default=None, metavar="COEFF",
                    help="ACT predicts a chunk every step and averages what the overlapping chunks say for it, the i-th "
                    "oldest weighted exp(-COEFF * i); 0 executes each whole chunk before the next (default 0)")
parser.add_argument("--lr-schedule", default=None, choices=["preset", "cosine"],
                    help="preset: the policy's own (constant for ACT); cosine: anneal to 0 by the last step "
                    "(default: preset)")
parser.add_argument("--time-budget-min", type=flags.minutes, default=None,
                    help="stop training after this many minutes (default: train all --steps)")
parser.add_argument("--val-fraction", type=flags.fraction, default=0.1)
parser.add_argument("--eval-episodes", type=flags.int_in(1, 100_000), default=20,
                    help="rollouts with the cube drawn from the demonstrations' spread")
parser.add_argument("--nearby-radii", type=flags.float_in(0.0, 0.3), nargs="*", default=[0.03, 0.05],
                    help="also roll out with the cube on a circle this far (m) from --cube-pose")
parser.add_argument("--nearby-episodes", type=flags.int_in(1, 100_000), default=8, help="rollouts per circle")
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
import os
import time
from collections import Counter

from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.data import resolve_dataset
from lerobot_notebook_pipeline.episodes import split_episodes
from lerobot_notebook_pipeline.evaluation.paired import unpaired_difference
from lerobot_notebook_pipeline.evaluation.success import STAGES, format_rate, format_stages, format_trials
from lerobot_notebook_pipeline.files import prepare_output_dir, write_json
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import aloha_env, so101_placement
from lerobot_notebook_pipeline.steps import print_eta_once_measured, run_lanes, run_step, show
from lerobot_notebook_pipeline.training.recipes import RECIPES, act_flags

ROLLOUT_S = 6.6  # seconds per 400-step rollout at 64x85 on 2 cores (20 took 2.2 min), for the ETA
# The rollouts within the spread and those with the cube moved run side by side, one torch thread each: a
# rollout's small forward passes and single-threaded rendering use 2 threads poorly (25 ensembled steps/s on 2
# threads, 18 on 1, so two lanes of 1 thread do 36).
ROLLOUT_LANES = min(2, os.cpu_count() or 1)
ROLLOUT_THREADS = max(1, min(2, os.cpu_count() or 1) // ROLLOUT_LANES)  # torch threads of each lane
ENSEMBLED_ROLLOUT_X = 3  # ACT predicting every step: 36 SO-101 rollouts took 507 s (2 threads), 3x the above
policies = [p.strip() for p in args.policies.split(",") if p.strip()]
unknown = sorted(set(policies) - {"act", "diffusion", "smolvla"})
if unknown or not policies:
    raise UserError(f"--policies {args.policies!r}: choose from act, diffusion, smolvla (comma-separated)")
SO101 = args.robot == "so101"
# The make demo recipe of each robot (training/recipes.py, measured in benchmarks/RESULTS.md); flags given override it.
for key, value in RECIPES[args.robot].items():
    if getattr(args, key) is None:
        setattr(args, key, value)
ENV = "so101_pick_place" if SO101 else "aloha_transfer_cube"
if SO101:
    args.cube_pose = so101_placement.check_on_table(args.cube_pose or so101_placement.mark_positions(args.marks)[0])
    so101_placement.check_noise(args.pose_spread)
else:
    args.cube_pose = args.cube_pose or [0.1, 0.5]
    aloha_env.check_on_table(args.cube_pose)
args.episode_length = args.episode_length or (300 if SO101 else 400)
if not args.dataset:  # train.py will hold out this share of the recorded episodes: check it can, before recording
    split_episodes(list(range(args.episodes)), args.val_fraction, args.seed)
if args.dataset:
    _, dataset_root = resolve_dataset(args.dataset)
    if dataset_root is not None:
        preflight.check_dataset(dataset_root, videos=True)
out = prepare_output_dir(args.output_dir, args.overwrite)
cube = [str(v) for v in args.cube_pose]
x, y, spread = *args.cube_pose, args.pose_spread
placement = ["--pose-range", x - spread, x + spread, y - spread, y + spread] if spread > 0 else ["--cube-pose", *cube]
if SO101:  # the cube at each pencil mark, within the spread a person's hand puts it
    placement = ["--robot", "so101", "--marks", args.marks, "--placement-noise", spread]
timings: dict[str, float] = {}
story_start = time.perf_counter()

# %% [markdown]
# ## 1. Get data: scripted demonstrations in the simulator
#
# A scripted policy plans gripper waypoints (reach, grasp, lift, hand over) and turns them into joint targets;
# only the episodes that end with the cube held by the other arm are kept. The cube starts near one mark, as when
# a person puts it back "in the same place" by hand: within `--pose-spread` of `--cube-pose`, and every motion
# wobbles by a few millimetres (`--waypoint-noise`). This matters: a scripted expert at one exact position records
# the same episode every time, so 20 such demos are one demo, and the policy trained on them failed.

# %%
if args.dataset:
    dataset = args.dataset
else:
    dataset = str(out / "dataset")
    timings["record"] = run_step("make_sim_dataset.py", [
        *([] if SO101 else ["--task", "transfer_cube"]), "--episodes", args.episodes, "--root", dataset,
        "--seed", args.seed,
        "--image-size", *args.image_size, "--episode-length", args.episode_length, *placement,
        "--waypoint-noise", args.waypoint_noise, "--num-workers", args.num_workers])

# %% [markdown]
# ## 2. Understand it: summary, plots and quality checks
#
# Before spending a quarter of an hour of CPU on training, look at the data: how many episodes and frames, what the
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
# not decoding video. It trains for `--steps` steps however long they take; once the first steps are timed, one
# `[eta]` line says how long the whole run will take on this machine.

# %%
rollouts_per_policy = args.eval_episodes + args.nearby_episodes * len(args.nearby_radii)
rest_s = len(policies) * rollouts_per_policy * ROLLOUT_S * args.episode_length / 400
rest_s *= ENSEMBLED_ROLLOUT_X if args.temporal_ensemble and "act" in policies else 1
rest_s /= ROLLOUT_LANES
runs = {}
for policy in policies:
    run_dir = out / "train" / policy
    train_args = ["--dataset", dataset, "--policy", policy, "--preset", args.preset, "--steps", args.steps,
                  "--lr-schedule", args.lr_schedule, "--val-fraction", args.val_fraction, "--seed", args.seed,
                  "--output-dir", run_dir]
    if args.time_budget_min:
        train_args += ["--time-budget-min", args.time_budget_min]
    if policy == "act":
        train_args += act_flags(args.chunk_size, args.temporal_ensemble)
    stop_eta = print_eta_once_measured(run_dir / "metrics.jsonl", args.steps, story_start, rest_s)
    try:
        timings[f"train_{policy}"] = run_step("train.py", train_args)
    finally:
        stop_eta.set()
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
# as the demonstrations: with the cube drawn (seeded) from the demonstrations' own spread, the situations it was
# taught, and side by side (the other core) with the cube on circles 3 and 5 cm from the mark: how far do the
# demonstrations carry?
#
# **Which checkpoint** is fixed before any rollout: the one with the lowest held-out action error
# (`checkpoints/best`, saved by `train.py` at each validation), or the last one when nothing was held out. It is
# never chosen by the rollouts reported here, which would flatter the result.

# %%
def chosen_checkpoint(run_dir):
    """checkpoints/best (lowest held-out action error) when train.py saved one, else checkpoints/last."""
    best = run_dir / "checkpoints" / "best" / "pretrained_model"
    return best if best.is_dir() else run_dir / "checkpoints" / "last" / "pretrained_model"


results, checkpoints = {}, {}
for policy in policies:
    checkpoints[policy] = checkpoint = chosen_checkpoint(out / "train" / policy)
    print(f"{policy}: rolling out {checkpoint.relative_to(out)}")
    rollout_dir = out / "rollouts" / policy
    common = ["--policy-path", checkpoint, "--env", ENV, "--max-steps", args.episode_length, "--max-mb", args.max_mb,
              "--threads", ROLLOUT_THREADS]  # the cube's spread comes from the training data's meta/sim_settings.json
    within = [("visualize_policy.py", [*common, "--episodes", args.eval_episodes, "--output-dir", rollout_dir,
                                       "--seed", 1000 + args.seed], False)]
    moved_dirs = {f"moved_{radius * 100:g}cm": out / "rollouts" / f"{policy}_moved_{radius * 100:g}cm"
                  for radius in args.nearby_radii}
    moved = [("visualize_policy.py", [*common, "--episodes", args.nearby_episodes, "--cube-pose", *cube, "--pose-ring",
                                      radius, "--output-dir", folder, "--seed", 2000 + args.seed], True)
             for radius, folder in zip(args.nearby_radii, moved_dirs.values(), strict=True)]
    started = time.perf_counter()
    run_lanes([within, moved] if ROLLOUT_LANES > 1 and moved else [within + moved])
    timings[f"rollout_{policy}"] = time.perf_counter() - started
    results[policy] = {"demo_spread": json.loads((rollout_dir / "metrics.json").read_text())}
    for setting, folder in moved_dirs.items():
        results[policy][setting] = json.loads((folder / "metrics.json").read_text())

# %%
for policy in policies:
    metrics = results[policy]["demo_spread"]
    video = metrics["media"].get("best_video") or metrics["media"]["gif"]
    print(f"{policy}: {video}")
    show(metrics["media"]["gif"])

# %% [markdown]
# ## 6. The numbers: success rate, how it fails, and inference speed
#
# Success is the simulator's own: the cube lifted and handed over (reward 4 of 4). Each rate comes with its count
# and a Wilson 95% interval: 18 of 20 is "somewhere between 70% and 97%", not "90%". Identical rollouts (a
# deterministic policy from the same start) would count once. The furthest stage of each failure (never touched,
# touched, lifted, reached by the other gripper) says where to look. The inference speed says whether the policy
# could drive the real robot at its control rate (50 Hz for ALOHA, 30 Hz for an SO-101).

# %%
SUMMARY_FIELDS = ("successes", "episodes", "pc_success", "ci95", "rollouts", "distinct_initial_conditions", "stages")
rows = []
for policy in policies:
    for setting, metrics in results[policy].items():
        rows.append({"policy": policy, "setting": setting, **{k: metrics.get(k) for k in SUMMARY_FIELDS},
                     "checkpoint": str(checkpoints[policy]), "inference_hz": metrics["inference"]["effective_hz"]})
        print(f"{policy:10s} {setting:14s} {format_rate(metrics)}  [{format_trials(metrics)}]")
        print(f"{'':25s} furthest stage: {format_stages(metrics.get('stages') or {})}")
    print(f"{policy:10s} inference {rows[-1]['inference_hz']} actions/s")
timings["total"] = time.perf_counter() - story_start
write_json(out / "metrics.json", {"results": rows, "timings_s": timings, "settings": vars(args)})
print(f"\nthe whole story took {timings['total'] / 60:.1f} min; everything is in {out}/:")
print(f"  analysis report  {analysis / 'report.md'}")
for policy in policies:
    print(f"  {policy} checkpoint   {checkpoints[policy]}")
    print(f"  {policy} rollouts     {out / 'rollouts' / policy}")
print(f"  numbers          {out / 'metrics.json'}")
# %% [markdown]
# ## 7. What this run showed, and what to try next
#
# The same numbers in words: how often it works where it was taught, how that falls off as the cube moves away,
# how the failures failed, and the next experiment that follows from them. The moved-cube rollouts start elsewhere,
# so each is set against the spread by the difference of two independent rates, with Newcombe's 95% interval; it
# "falls off" only when that whole interval is below zero.

# %%
for policy in policies:
    taught = results[policy]["demo_spread"]
    print(f"{policy}: with the cube within the demonstrations' spread it succeeded {format_rate(taught)}.")
    moved = {setting: m for setting, m in results[policy].items() if setting != "demo_spread"}
    for setting, metrics in moved.items():
        low, high = unpaired_difference(metrics, taught)["ci95_points"]
        print(f"  cube {setting.replace('moved_', 'moved ').replace('cm', ' cm')} away: {format_rate(metrics)}, "
              f"{metrics['pc_success'] - taught['pc_success']:+.0f} points against the spread (95% CI {low:.0f} to "
              f"{high:.0f}; other starts, so not paired)")
    failures = sum((Counter(r.get("stages") or {}) for r in [taught, *moved.values()]), Counter())
    failures.pop(STAGES["pick_place" if SO101 else "transfer_cube"][-1], None)  # the stage that is success
    if failures:
        worst, count = failures.most_common(1)[0]
        print(f"  most failures stopped at: {worst} ({count} of {failures.total()})")
    if taught["successes"] < 0.8 * taught["episodes"]:
        print("  next: it is not reliable even where it was taught; train longer (--steps) or record more "
              "demonstrations (--episodes)")
    elif any(unpaired_difference(m, taught)["ci95_points"][1] < 0 for m in moved.values()):
        print("  next: success falls off away from the demonstrated positions; record demos at more positions (a "
              "wider --pose-spread) and map where it works with visualize_policy.py --pose-grid 5 5")
    else:
        print("  next: it carries to the moved positions too; try a wider --pose-spread or the insertion task")

task = "pick_place" if SO101 else "transfer_cube"
record = "--robot so101" if SO101 else "--task transfer_cube"
print("\nThe full recipe, random cube positions on a GPU:\n"
      f"  python make_sim_dataset.py {record} --episodes 50 --root outputs/datasets/{task}\n"
      f"  python train.py --dataset outputs/datasets/{task} --policy act --preset paper --device cuda\n"
      f"  python visualize_policy.py --policy-path outputs/train/{task}_act_paper/checkpoints/last/pretrained_model "
      "--episodes 50")
