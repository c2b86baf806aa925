"""make demo end to end: wall time per step and the success it shows on each seed, written to benchmarks/RESULTS.md.

Run `make demo` (or `python train_ultimate.py --seed S --output-dir outputs/demo_seedS`, once per seed) first; this
script reads each folder's metrics.json. With --run it runs the demo itself (about 30 minutes on 2 cores per seed).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lerobot_notebook_pipeline.evaluation.success import format_rate, format_stages  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.studies.results import cpu_model  # noqa: E402

GOAL_MIN = 30  # minutes end to end on 2 cores
GOAL_RATE = 80  # % success within the demonstrations' spread, on each seed
GOAL_SEEDS = 3

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--demo-dirs", nargs="+", default=["outputs/demo"], help="the folders train_ultimate.py wrote, one per seed")
parser.add_argument("--run", action="store_true", help="run train_ultimate.py --overwrite into the first folder first")
parser.add_argument("--robot", default="aloha", choices=["aloha", "so101"], help="with --run: the robot of the demo")
parser.add_argument("--alone", nargs="+", default=None, metavar="DIR",
                    help="the --demo-dirs whose run had the machine to itself: the time goal is judged on these; the "
                    "others' times are marked as shared (default: every folder)")
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

demos = [ROOT / d for d in args.demo_dirs]
alone = {ROOT / d for d in args.alone} if args.alone else set(demos)
if not alone <= set(demos):
    sys.exit("error: every --alone folder must also be one of --demo-dirs")
if args.run:
    subprocess.run([sys.executable, "train_ultimate.py", "--robot", args.robot, "--output-dir", str(demos[0]),
                    "--overwrite"], cwd=ROOT, check=True)


def load_run(folder: Path) -> dict:
    """One demo run: its metrics.json with the ACT training summary beside it."""
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["train"] = json.loads((folder / "train" / "act" / "summary.json").read_text())
    metrics["folder"] = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    metrics["alone"] = folder in alone
    return metrics


def rows_by_setting(run: dict) -> dict:
    """The ACT rollout results of a run, by cube setting (demo_spread, moved_3cm, ...)."""
    return {r["setting"]: r for r in run["results"] if r["policy"] == "act"}


def settings_line(s: dict) -> str:
    """What the demo recorded and trained, in one sentence."""
    if s.get("robot") == "so101":
        data = (f"{s['episodes']} scripted SO-101 pick-and-place episodes, the cube at {s['marks']} pencil marks "
                f"(+/-{s['pose_spread']} m), front and wrist cameras")
    else:
        data = f"{s['episodes']} scripted transfer-cube episodes, cube within +/-{s['pose_spread']} m of {tuple(s['cube_pose'])}"
    ensembled = f", temporal ensembling {s['temporal_ensemble']}" if s.get("temporal_ensemble") else " executed whole"
    return (f"Settings: {data}, waypoint noise {s['waypoint_noise']} m, {s['image_size'][0]}x{s['image_size'][1]} "
            f"images, ACT `{s['preset']}` preset, {s['steps']} steps (time budget {s['time_budget_min']}), "
            f"learning rate schedule {s.get('lr_schedule') or 'preset'}, chunk {s.get('chunk_size') or 'the preset'}"
            f"{ensembled}, val fraction {s['val_fraction']}.")


def seed_row(run: dict) -> str:
    """One seed: success within the spread and moved away, the time of each step and the s/step."""
    rows, t = rows_by_setting(run), run["timings_s"]
    moved = [format_rate(rows[k]) for k in rows if k != "demo_spread"]
    rollouts = sum(v for k, v in t.items() if k.startswith("rollout"))
    minutes = [t.get("record", 0) / 60, t.get("analyse", 0) / 60, t.get("train_act", 0) / 60, rollouts / 60, t["total"] / 60]
    return (f"| {run['settings']['seed']} | {format_rate(rows['demo_spread'])} | {' | '.join(moved)} | "
            + " | ".join(f"{m:.1f}" for m in minutes) + ("" if run["alone"] else " (shared)")
            + f" | {run['train']['s_per_step']:.3f} |")


def verdict(runs: list[dict]) -> str:
    """Whether the runs meet the goals: the time and the success on each of at least GOAL_SEEDS seeds."""
    rates = [rows_by_setting(r)["demo_spread"]["pc_success"] for r in runs]
    totals = [r["timings_s"]["total"] / 60 for r in runs if r["alone"]]
    fast, good = max(totals) <= GOAL_MIN, min(rates) >= GOAL_RATE
    enough = len(runs) >= GOAL_SEEDS
    met = "met" if fast and good and enough else "not met"
    timed = "slowest seed" if len(totals) == len(runs) else f"slowest of the {len(totals)} run(s) alone on the machine"
    return (f"Goals: at most {GOAL_MIN} minutes end to end on 2 cores ({timed} {max(totals):.1f} min); at least "
            f"{GOAL_RATE}% success within the spread on each of {GOAL_SEEDS} seeds (lowest {min(rates):.0f}% on "
            f"{len(runs)} seed(s)): **{met}**.")


runs = [load_run(d) for d in demos]
first = runs[0]
so101 = first["settings"].get("robot") == "so101"
moved_names = [k for k in rows_by_setting(first) if k != "demo_spread"]
n_spread = rows_by_setting(first)["demo_spread"]["episodes"]
dirs = " ".join(str(r["folder"]) for r in runs)
lines = [
    f"Commands: `make demo{' ROBOT=so101' if so101 else ''}` (= `.venv/bin/python train_ultimate.py"
    f"{' --robot so101' if so101 else ''} --seed S --output-dir DIR` per seed), then "
    f"`.venv/bin/python benchmarks/bench_demo.py --demo-dirs {dirs}`",
    "",
    f"Machine: {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPU cores, no GPU, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
    f"(load average {os.getloadavg()[0]:.1f} when this table was written).",
    settings_line(first["settings"]),
    "",
    f"| seed | within the spread ({n_spread}) | " + " | ".join(moved_names)
    + " | record min | analyse min | train min | rollouts min | total min | s/step |",
    "|---|---|" + "---|" * len(moved_names) + "---:|---:|---:|---:|---:|---:|",
    *[seed_row(r) for r in runs],
    "",
    "Furthest stage within the spread: " + "; ".join(
        f"seed {r['settings']['seed']}: {format_stages(rows_by_setting(r)['demo_spread'].get('stages') or {})}" for r in runs) + ".",
    "",
    "Within the spread: each rollout's cube drawn (seeded) from the demonstrations' own placements; moved_Rcm: the "
    "cube on a circle R from the (first) mark. Identical rollouts count once. Each seed seeds the recorded poses and "
    "noise, the split, training and the rollouts." + ("" if alone == set(demos) else
    " (shared): the run shared the machine with other work, so its times are not the demo's; its success is."),
    "",
    verdict(runs),
]
heading = "make demo ROBOT=so101 end to end, per seed (bench_demo.py)" if so101 else "make demo end to end (bench_demo.py)"
write_results_section(args.results, heading, "\n".join(lines))
print("\n".join(lines))
