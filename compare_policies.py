# %% [markdown]
# # Compare policies: ACT, Diffusion and SmolVLA on the same data
#
# Which policy should you train? This notebook trains several of them on **the same episodes**, validates them on
# **the same held-out episodes**, rolls each out in the simulator on **the same seeds**, and puts the numbers side
# by side: size, training speed, held-out action error per joint, success rate, and inference speed against the
# robot's control rate.
#
# Offline, SmolVLA uses the small random-weight test backbone (`lerobot_notebook_pipeline/training/smolvla_backbone.py`),
# so its success rate says nothing about the real model; its speed with `--preset cpu` or `paper` uses the real
# `lerobot/smolvla_base` when the hub is reachable.

# %%
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
# Parameters: the defaults are the notebook's defaults too.
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="Train several policies on the same split and compare them.")
parser.add_argument("--dataset", type=flags.path_or_repo, default="outputs/datasets/transfer_cube",
                    help="local dataset folder or hub repo id")
parser.add_argument("--policies", default="act,diffusion", help="comma-separated: act, diffusion, smolvla")
parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "paper"])
parser.add_argument("--steps", type=flags.int_in(1, 100_000_000), default=2000, help="training steps for each policy")
parser.add_argument("--time-budget-min", type=flags.minutes, default=None, help="stop each training after this many minutes")
parser.add_argument("--episodes", default="all", help="episodes to use: 3 | 0,3,7 | 0:5 | all")
parser.add_argument("--val-fraction", type=flags.fraction, default=0.1, help="held-out fraction, the same for every policy")
parser.add_argument("--env", default="aloha_transfer_cube", choices=["aloha_transfer_cube", "aloha_insertion", "pusht"])
parser.add_argument("--eval-episodes", type=flags.int_in(1, 100_000), default=5, help="sim rollouts per policy (same seeds for all)")
parser.add_argument("--max-steps", type=flags.int_in(1, 1_000_000), default=None, help="rollout length (default: the env's)")
parser.add_argument("--output-dir", type=flags.path, default="outputs/compare")
parser.add_argument("--overwrite", action="store_true", help="replace an earlier comparison in --output-dir")
parser.add_argument("--seed", type=flags.int_in(0, flags.MAX_SEED - 1000), default=0)
args = parse_args(parser)

# %% [markdown]
# ## 1. One split for everyone
#
# The held-out episodes are chosen once, here, and passed to every training run, so the validation numbers
# compare like with like.

# %%
import json
from pathlib import Path

from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.data import resolve_dataset
from lerobot_notebook_pipeline.episodes import parse_episode_spec, split_episodes
from lerobot_notebook_pipeline.evaluation import compare
from lerobot_notebook_pipeline.evaluation.success import format_stages
from lerobot_notebook_pipeline.files import check_output_dir, prepare_output_dir, write_atomic, write_json
from lerobot_notebook_pipeline.plots import show
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.steps import run_step

policies = [p.strip() for p in args.policies.split(",") if p.strip()]
if not policies or set(policies) - {"act", "diffusion", "smolvla"}:
    raise UserError(f"--policies {args.policies!r}: choose from act, diffusion, smolvla (comma-separated)")
twice = sorted({p for p in policies if policies.count(p) > 1})
if twice:
    raise UserError(f"--policies {args.policies!r} names {', '.join(twice)} more than once (each trains into its own "
                    f"folder, named by the policy): name each policy once, e.g. --policies {','.join(dict.fromkeys(policies))}")
_, root = resolve_dataset(args.dataset)
if root is None:
    raise UserError("compare_policies.py needs a dataset on disk: download or record it first, then pass its folder")
info = preflight.check_dataset(root, videos=True)
preflight.check_not_input(check_output_dir(args.output_dir, args.overwrite), {"--dataset": root})
selected = parse_episode_spec(args.episodes, info["total_episodes"])
train_episodes, val_episodes = split_episodes(selected, args.val_fraction, args.seed)
out = prepare_output_dir(args.output_dir, args.overwrite)
write_json(out / "split.json", {"train": train_episodes, "val": val_episodes})
print(f"train on {len(train_episodes)} episodes, validate on {val_episodes}")

# %% [markdown]
# ## 2. Train each policy, then roll it out on the same seeds

# %%
rows, rollouts = [], {}
for policy in policies:
    run_dir = out / policy
    train_args = ["--dataset", args.dataset, "--policy", policy, "--preset", args.preset, "--steps", args.steps,
                  "--episodes", ",".join(map(str, train_episodes)), "--seed", args.seed, "--output-dir", run_dir / "train"]
    if val_episodes:
        train_args += ["--val-episodes", ",".join(map(str, val_episodes))]
    else:
        train_args += ["--val-fraction", "0"]
    if args.time_budget_min:
        train_args += ["--time-budget-min", args.time_budget_min]
    run_step("train.py", train_args)
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    eval_args = ["--policy-path", Path(summary["last_checkpoint"]) / "pretrained_model", "--env", args.env,
                 "--episodes", args.eval_episodes, "--seed", 1000 + args.seed, "--output-dir", run_dir / "rollouts"]
    if args.max_steps:
        eval_args += ["--max-steps", args.max_steps]
    run_step("visualize_policy.py", eval_args, quiet=True)
    rollout = json.loads((run_dir / "rollouts" / "metrics.json").read_text())
    rows.append(compare.comparison_row(policy, summary, rollout))
    rollouts[policy] = rollout

# %% [markdown]
# ## 3. Side by side
#
# Success is the simulator's own verdict, with its count and Wilson 95% interval: with a handful of rollouts the
# interval is wide, and two policies whose intervals overlap are not shown to differ. "Start states" counts the
# distinct initial cube positions (identical rollouts of a deterministic policy count once). "Keeps up" means
# every `select_action` call, including the ones that compute a new action chunk, fits within one control period
# of the env. Every policy rolls out from the same starts, so each is compared with the first by the paired
# difference: the starts where exactly one of the two succeeded, with Newcombe's 95% interval and McNemar's p.

# %%
table = compare.markdown_table(rows)
print(table)
paired = compare.paired_against_first(rollouts)
for line in paired:
    print(line["line"])
for row in rows:
    if row.get("stages"):
        print(f"{row['policy']}: furthest stage: {format_stages(row['stages'])}")
write_atomic(out / "comparison.md", table)
write_json(out / "comparison.json", {"split": {"train": train_episodes, "val": val_episodes}, "rows": rows,
                                     "paired": paired})
action_names = info["features"]["action"].get("names")
show(compare.comparison_figure(rows, action_names if isinstance(action_names, list) else None), out / "comparison.png")
print(f"table, numbers and plot in {out}/")
