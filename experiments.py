# %% [markdown]
# # Experiments: is one demonstration enough, and how many cube positions do you need?
#
# Users ask two questions that lerobot's guide answers with a rule of thumb and no data ("at least 50 episodes,
# with 10 episodes per location"). In simulation we can measure them, with the pipeline's own scripts:
#
# * **`demos`**: is one demonstration enough? The cube is put "in the same place" the way a person puts it (within
#   about +/-1.5 cm of a mark, 5 mm of noise on the expert's waypoints). ACT trains on 1, 2, 5, 10, 20 and 40 such
#   demos for the same number of steps, and is evaluated in that same spread and with the cube 3 and 5 cm from the
#   mark (30 positions on each circle). And "why 5 per position?": at a fixed total, demos at one exact pose against demos spread
#   around the mark.
# * **`positions`**: a fixed total of 20 demos at 1 position, 2 positions, the 4 corners of a 10 cm square (a
#   user's pencil marks), a 3x3 grid, or uniform over the square; every policy is evaluated on a 7x7 grid over the
#   square plus a 2.5 cm margin, and each grid position is classed as at a trained position, between them
#   (interpolation) or outside them (extrapolation).
# * **`robustness`**: could I move the table? The `make demo` policy on 3 training seeds, evaluated from the same 30
#   starts in distribution and with the table moved, the camera shifted, the light dimmed, a joint's reading offset,
#   and combinations (`sim/perturb.py`), each change against in distribution as a paired difference; about 3.2 hours.
# * **`noise`**: does noise buy robustness? The `make demo` recipe with no noise, action noise on the targets (two
#   levels), DART noise on the expert's executed actions while recording (`make_sim_dataset.py --dart-noise`),
#   lerobot's robotics image augmentations, and all three combined; 3 training seeds each, evaluated from the same
#   starts in distribution, with the cube 3 cm off and under the robustness factors expected to hurt most, each
#   variant against no noise as a paired difference. It works in the robustness study's folder, where its no-noise
#   variant is the robustness study's policy (cached once for both); about 10 hours on its own.
#
# A study is a grid of points. Each point records data (`make_sim_dataset.py`), trains with a fixed step count
# (`train.py`, never a time budget, so points compare) and evaluates with seeded rollouts (`visualize_policy.py`,
# the same seeds for every policy). Every step is cached under a hash of the settings it depends on, so points share
# datasets and checkpoints, and a stopped study picks up where it was. Each finished point's markers and metrics are
# also kept beside the results (`experiments/<study>/steps`, committed with them, no checkpoints), so a study also
# picks up on a fresh machine. Settings are the demo recipe that worked
# (`benchmarks/RESULTS.md`): `cpu` ACT, 64x85 images, 2500 steps, about 0.41 s/step on 2 cores.
#
# **Compute** (from the recipe's measured costs): the `demos` study is 2 recordings, 8 trainings and 720 rollout
# episodes, about 3.8 hours on a 2-core CPU; `positions` is 17 recordings, 5 trainings and 245 rollout episodes (one
# `visualize_policy.py --pose-grid` call per policy), about 2.1 hours. Every evaluation also gets a cheap baseline:
# from each start, the trained demo that started nearest is replayed without the camera. A policy that only matches
# it is copying a path; one that beats it adapts to what it sees. The plan
# below prints the estimate for your settings. Run them in the background, several points at once with `--workers`,
# or on a Ray cluster with `--engine ray`. `--smoke` is a two-point tiny version that runs in minutes (for tests).
#
# **Your own arm: `--robot so101`.** The `positions` study on the simulated SO-101 pick and place (the user's task:
# 4 pencil marks, cube to the centre) with the `make demo ROBOT=so101` recipe (`training/recipes.py`: 40 demos, here
# at 1, 2, 4 or 9 marks or uniform over the +/-5 cm square; its steps, chunk, schedule and temporal ensembling), two
# cameras, a 7x7 grid over the square plus 1 cm and a wider one beyond the marks; results in
# `experiments/positions-so101`. And the `robustness`
# study on it: the policies of that study's 4-mark points (the same demos and trainings, reused in its folder),
# evaluated from 30 starts at the marks under the ALOHA study's changes in the SO-101's terms (joint 0 in degrees);
# results in `experiments/robustness-so101`, which `analyse_dataset.py --compare` quotes for SO-101 datasets.
# Other studies are ALOHA only.
#
# **Another step count, another machine.** `--steps N` trains every point for N steps on the same cached data (the
# `positions` study changed its answer between 2500 and 5000 steps: `experiments/positions-5k-steps`, run on one
# H200). `--only ID,ID` runs chosen points, and `--report` rewrites a study's plots and README from its
# `results.json`, for results computed elsewhere.

# %%
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
# Parameters: the defaults run the full study on this machine (flags from the terminal, $LNP_ARGS in tests).
import argparse
import os

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

CORES = os.cpu_count() or 1
THREADS = min(2, CORES)  # torch threads per training: the recipe's 0.41 s/step used 2 cores

parser = argparse.ArgumentParser(description="Run a study: record, train and evaluate a grid of points, cached.")
parser.add_argument("--study", default="demos", choices=["demos", "positions", "robustness", "noise"])
parser.add_argument("--robot", default="aloha",
                    help="aloha (every study) or so101 (positions, robustness: the SO-101 pick and place at the "
                    "pencil marks)")
parser.add_argument("--smoke", action="store_true", help="a two-point tiny version (tests; a few minutes)")
parser.add_argument("--seeds", default=None,
                    help="training seeds, comma-separated: each point is trained once per seed (default 0; robustness and noise 0,1,2)")
parser.add_argument("--steps", type=flags.positive_int, default=None,
                    help="training steps of every point (default: the study's, 2500 on ALOHA; 5 with --smoke)")
parser.add_argument("--only", default=None, metavar="ID[,ID]",
                    help="run and report only these points (ids as --plan prints them)")
parser.add_argument("--until", default="eval", choices=["record", "train", "eval"],
                    help="stop every point after this stage (record: check the data of every point first)")
parser.add_argument("--plan", action="store_true", help="print the points and the expected compute; run and write nothing")
parser.add_argument("--report", action="store_true",
                    help="rewrite the plots and README from the study's results.json, run nothing (same flags as its run)")
parser.add_argument("--engine", default="local", choices=["local", "ray"],
                    help="local: parallel processes on this machine; ray: Ray tasks (a local instance or a cluster)")
parser.add_argument("--workers", type=flags.workers, default=max(1, CORES // THREADS), help="points run at once (local engine)")
parser.add_argument("--threads", type=flags.threads, default=THREADS,
                    help="torch threads (and Ray CPUs) per point; use 1 when other jobs share the cores (a tiny ACT "
                    "step took 5 s with 2 threads beside another training, 0.17 s with 1)")
parser.add_argument("--ray-address", default=None, help="join this Ray cluster ('auto' or ray://HOST:PORT)")
parser.add_argument("--gpus-per-point", type=flags.non_negative_float, default=0.0, help="Ray: GPUs each point asks for")
parser.add_argument("--output-dir", type=flags.path, default=None, help="datasets, checkpoints, rollouts and logs (default "
                    "outputs/experiments/<study>, noise: robustness's, SO-101 robustness: positions-so101's, with --smoke "
                    "<study>-smoke)")
parser.add_argument("--results-dir", type=flags.path, default=None, help="results.json, plots and README (default experiments/<study>; "
                    "with --smoke OUTPUT_DIR/results)")
args = parse_args(parser)

# %% [markdown]
# ## 1. The plan: every point, the steps they share, and the expected compute
#
# Steps with equal settings are one step: the `demos` study records one 40-demo dataset and trains each point on its
# first N episodes; a rerun finds every finished step (its outputs plus a done marker written after it succeeded)
# and skips it.

# %%
import json
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.studies.definitions import (
    QUESTIONS,
    ROBOT_NAMES,
    check_robot,
    default_seeds,
    hours,
    select_points,
    study_points,
)
from lerobot_notebook_pipeline.studies.kept import keep_point, kept_study, restorable, restore_point
from lerobot_notebook_pipeline.studies.runner import plan_summary, point_steps


def check_results_dir(folder: Path, study: str) -> None:
    """Refuse a results folder that holds files but no results.json of this study: a study writes only its own."""
    saved = folder / "results.json"
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    try:
        ours = json.loads(saved.read_text()).get("study") == study
    except (OSError, ValueError, AttributeError):  # a run stopped before its first results.json keeps only steps/
        ours = kept_study(folder) == study and [p.name for p in folder.iterdir()] == ["steps"]
    if not ours:
        raise UserError(f"--results-dir '{folder}' holds files but no results.json of the {study} study, so this "
                        f"study writes nothing there: choose a new folder, or the one a {study} run wrote to")


def shown_path(path: Path) -> str:
    """A path as a user types it: relative to the current folder when inside it (for the recorded command)."""
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


check_robot(args.study, args.robot)
study_name = args.study if args.robot == "aloha" else f"{args.study}-{args.robot}"  # folders of this robot's run
seeds_given = args.seeds if args.seeds is not None else ",".join(map(str, default_seeds(args.study, args.robot)))
try:
    seeds = [int(s) for s in seeds_given.split(",") if s.strip()]
except ValueError:
    raise UserError(f"--seeds {args.seeds!r}: give whole numbers separated by commas, e.g. 0,1,2") from None
if not seeds:
    raise UserError("--seeds is empty: give at least one training seed, e.g. 0")
points = select_points(study_points(args.study, args.smoke, seeds, args.steps, args.robot), args.only)
# The noise study works in the robustness study's folder: its no-noise variant is the robustness study's policy (the
# same recording, trainings and rollouts, cached under the same keys), so neither study makes them twice. On the
# SO-101 the robustness study's policies are the positions study's 4-mark ones, in the same way.
STUDY_FOLDERS = {"noise": "robustness", "robustness-so101": "positions-so101"}
folder = study_name if args.smoke else STUDY_FOLDERS.get(study_name, study_name)
root = args.output_dir or flags.path(f"outputs/experiments/{folder}{'-smoke' if args.smoke else ''}")
results_dir = args.results_dir or (root / "results" if args.smoke else flags.path(f"experiments/{study_name}"))
if not args.plan:
    check_results_dir(results_dir, args.study)
# Finished points are kept beside the results (results_dir/steps: markers, summaries, metrics; no checkpoints), so
# a run on a fresh machine, or after the cache was cleared, puts them back instead of training and evaluating again.
if args.plan:  # --plan writes nothing: it only counts them
    kept = len({step.marker for p in points for step in restorable(point_steps(root, p), results_dir)})  # shared once
else:
    kept = sum(restore_point(point_steps(root, p), results_dir) for p in points) if not args.report else 0
plan = plan_summary(root, points)
print(f"{args.study}" + (f" on the simulated {ROBOT_NAMES[args.robot]}" if args.robot != "aloha" else "")
      + f": {QUESTIONS[args.study]}")
for p in points:
    print(f"  {p['id']:28s} {p['name']}")
if points:
    print(f"each point is evaluated {len(points[0]['evals'])} way(s): {'; '.join(points[0]['evals'])}")
print(f"{plan['points']} points, {plan['steps']} distinct steps {plan['steps_by_kind']}, {plan['done']} already done; "
      f"expected compute about {hours(plan['expected_s'])} on 2 cores ({hours(plan['remaining_s'])} left)")
print(f"artefacts and per-point logs in {root}/, results in {results_dir}/"
      + (f" ({kept} finished steps {'kept in' if args.plan else 'put back from'} {results_dir}/steps)" if kept else ""))

# %% [markdown]
# ## 2. Run every point
#
# Points run side by side: `--workers` at a time on this machine (each with `--threads` torch threads), or as Ray
# tasks with `--engine ray` (`--ray-address` joins a cluster whose nodes share this folder). Each point writes its
# steps' output to its own log; a failed point is reported and the others go on.

# %%
from tqdm.auto import tqdm

from lerobot_notebook_pipeline.evaluation.success import format_rate
from lerobot_notebook_pipeline.studies.results import point_result
from lerobot_notebook_pipeline.studies.runner import run_local, run_ray

records = {}
if not (args.plan or args.report):
    if args.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError("--engine ray needs Ray: pip install 'ray[default]', or use --engine local") from None
        runner = run_ray(points, root, args.threads, args.until, args.ray_address, args.workers * args.threads,
                         args.gpus_per_point)
    else:
        runner = run_local(points, root, args.workers, args.threads, args.until)
    by_id = {p["id"]: p for p in points}
    bar = tqdm(total=len(points), unit="point", desc=args.study, dynamic_ncols=True)
    for record, running, pending in runner:
        bar.set_postfix_str(f"running {running}, pending {pending}")
        if record is None:
            continue
        records[record["id"]] = record
        bar.update(1)
        keep_point(point_steps(root, by_id[record["id"]]), results_dir, args.study)  # what a fresh machine needs to go on
        result = point_result(by_id[record["id"]], root, record)
        rates = "; ".join(f"{name} {format_rate(rate)}" for name, rate in result["evals"].items())
        bar.write(f"{record['id']}: {record['status']}" + (f" ({record['error']})" if record["error"] else "")
                  + (f": {rates}" if rates else ""))
    bar.close()

# %% [markdown]
# ## 3. Results
#
# Every point with its settings, its success rate in each evaluation (successes, episodes, `pc_success`, Wilson 95%
# interval, distinct initial conditions), its training steps and seconds, its seeds, and the machine it ran on.

# %%
from lerobot_notebook_pipeline.files import write_atomic, write_json
from lerobot_notebook_pipeline.studies.results import machine, missing_summary, saved_results, study_summary

given = [(f"--robot {args.robot}", args.robot != "aloha"), ("--smoke", args.smoke), (f"--seeds {args.seeds}", seeds != default_seeds(args.study, args.robot)), (f"--steps {args.steps}", args.steps),
         (f"--only {args.only}", args.only), (f"--results-dir {shown_path(results_dir)}", args.results_dir and not args.smoke)]
command = " ".join([f"python experiments.py --study {args.study}", *(flag for flag, on in given if on)])
if args.report:  # the results of an earlier run of the same command, maybe on another machine
    saved = saved_results(results_dir, command)
    results, host, plan = saved["points"], saved["machine"], saved["plan"]
    missing = missing_summary(args.study, saved)
    if missing:  # from a run older than a study-level part (robustness: compare_costs): add it, keep the rest
        write_json(results_dir / "results.json", saved | missing)
else:
    results = [point_result(p, root, records.get(p["id"])) for p in points]
    host = {} if args.plan else machine(args.threads, args.engine, args.workers)  # --plan needs no torch import
    host["devices"] = sorted({r["training"]["device"] for r in results if r.get("training")})
if not (args.plan or args.report):
    write_json(results_dir / "results.json", {"study": args.study, "question": QUESTIONS[args.study],
                                              "smoke": args.smoke, "machine": host, "plan": plan, "command": command,
                                              "points": results, **study_summary(args.study, results)})
done = sum(r["status"] == "done" for r in results)
print(f"{done} of {len(results)} points done; results in {results_dir}/")

# %% [markdown]
# ## 4. Plots
#
# `demos`: success against the number of demos with 95% bands, one line per evaluation spread (dashed: the
# nearest-demo replay from the same starts), and one exact pose against spread at the same totals. `positions`: a
# success heatmap per policy with the demos' start positions marked, and success at trained positions, between them
# and outside them for each layout (crosses: the nearest-demo replay). `robustness`: the change in success against in
# distribution per condition with paired 95% intervals, a strip of first frames under each condition, and success
# against each factor's magnitude with its 50% point.

# %%
from lerobot_notebook_pipeline.plots import show
from lerobot_notebook_pipeline.studies.report import study_figures, study_readme

finished = [r for r in results if r["evals"]]
for name, figure in study_figures(args.study, args.robot).items():
    if finished and not args.plan:  # --plan writes nothing
        show(figure(finished), results_dir / name)

# %% [markdown]
# ## 5. The answer
#
# The README says what the results answer, in one paragraph generated from them, with the compute it took and what
# could change the answer; while points are pending it says so.

# %%
if not args.plan:  # --plan writes nothing; --report and a run write only beside their study's results.json
    readme = study_readme(args.study, points, results, host, plan, command, args.smoke)
    write_atomic(results_dir / "README.md", readme)
    print(readme.split("## What could change")[0])
failed = [r["id"] for r in results if r["status"] == "failed"]
if failed:
    raise UserError(f"{len(failed)} point(s) failed ({', '.join(failed)}): their logs are in {root / 'logs'}; "
                    "fix the cause and run the study again (finished steps are kept)")
