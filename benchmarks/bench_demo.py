"""make demo end to end: wall time per step and the success it shows, written to benchmarks/RESULTS.md.

Run `make demo` (or `python train_ultimate.py`) first, then this script reads outputs/demo/metrics.json;
with --run it runs the demo itself (about 30 minutes on 2 cores).
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

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--demo-dir", default="outputs/demo", help="the folder train_ultimate.py wrote")
parser.add_argument("--run", action="store_true", help="run train_ultimate.py --overwrite first")
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

demo = ROOT / args.demo_dir
if args.run:
    subprocess.run([sys.executable, "train_ultimate.py", "--output-dir", str(demo), "--overwrite"], cwd=ROOT, check=True)
metrics = json.loads((demo / "metrics.json").read_text())
timings, settings = metrics["timings_s"], metrics["settings"]
train = json.loads((demo / "train" / "act" / "summary.json").read_text())

lines = [
    "Command: `make demo` (= `.venv/bin/python train_ultimate.py`), then `.venv/bin/python benchmarks/bench_demo.py`",
    "",
    f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    f"Settings: {settings['episodes']} scripted transfer-cube episodes, cube within +/-{settings['pose_spread']} m of "
    f"{tuple(settings['cube_pose'])}, waypoint noise {settings['waypoint_noise']} m, "
    f"{settings['image_size'][0]}x{settings['image_size'][1]} images, ACT `{settings['preset']}` preset, "
    f"{settings['steps']} steps (time budget {settings['time_budget_min']}), val fraction {settings['val_fraction']}.",
    "",
    "| step | wall time |",
    "|---|---:|",
    *[f"| {name} | {seconds / 60:.1f} min |" for name, seconds in timings.items()],
    "",
    f"Training: {train['steps']} steps at {train['s_per_step']:.3f} s/step, stopped by {train['stopped_by'] or 'the step count'}; "
    f"best held-out action error {train['best'].get('val_action_mae')}.",
    "",
    "| policy | cube position | success (95% CI) | distinct starts | furthest stage | inference Hz (effective) |",
    "|---|---|---:|---:|---|---:|",
    *[f"| {r['policy']} | {r['setting']} | {format_rate(r)} | {r['distinct_initial_conditions']} | "
      f"{format_stages(r.get('stages') or {})} | {r['inference_hz']} |" for r in metrics["results"]],
    "",
    "demo_spread: each rollout's cube drawn (seeded) from the demonstrations' own range; moved_Rcm: the cube on a "
    "circle R from the mark. Identical rollouts count once. The rollout row times the demo-spread runs only; the "
    "total includes the moved-cube runs.",
    "",
    "Goals: at most 30 minutes end to end on 2 cores; at least 80% success within the spread, on each of 3 seeds of the whole demo.",
]
write_results_section(args.results, "make demo end to end (bench_demo.py)", "\n".join(lines))
print("\n".join(lines))
