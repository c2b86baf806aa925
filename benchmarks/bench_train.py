"""Training speed, side by side in one run: our train.py against lerobot's own `lerobot-train` on the same dataset,
policy config (ACT, the `cpu` preset), batch size, device and thread count.

    .venv/bin/python benchmarks/bench_train.py [--steps 30] [--batch-size 8] [--threads 2] [--dataset PATH]

Both run as subprocesses; per-step times come from their own logs (lerobot-train: updt_s + data_s with
--log_freq=1; train.py: metrics.jsonl), and the first --warmup steps are dropped. Writes its section of
benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the per-step figures")
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--threads", type=int, default=2, help="OMP/torch threads for both sides")
parser.add_argument("--lerobot-workers", default="0,2", help="lerobot-train DataLoader worker counts to try (best counts)")
parser.add_argument("--dataset", default=None, help="dataset folder (default: a synthetic 14-dim, 96x128 one)")
parser.add_argument("--episodes", type=int, default=4, help="episodes of the synthetic dataset")
parser.add_argument("--episode-length", type=int, default=200)
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset  # noqa: E402
from lerobot_notebook_pipeline.training.policies import PRESET_FIELDS  # noqa: E402

work = Path(tempfile.mkdtemp(prefix="bench_train_"))
dataset = Path(args.dataset) if args.dataset else make_synthetic_dataset(
    work / "aloha_like", num_episodes=args.episodes, length=args.episode_length, dim=14, image_size=(96, 128))
env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
       "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
fields = PRESET_FIELDS["act"]["cpu"]


def lerobot_flag(key, value):
    """A draccus CLI flag for one ACT config field."""
    text = "null" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    return f"--policy.{key}={text}"


def run(cmd):
    """Run a command; return (wall seconds, combined output)."""
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return wall, out.stdout + out.stderr


def run_lerobot(workers):
    """lerobot-train with the same ACT fields, batch, steps and device; one checkpoint at the end."""
    cmd = [str(ROOT / ".venv" / "bin" / "lerobot-train"), f"--dataset.repo_id=local/{dataset.name}",
           f"--dataset.root={dataset}", "--dataset.video_backend=pyav", "--policy.type=act",
           "--policy.device=cpu", "--policy.push_to_hub=false", "--wandb.enable=false",
           f"--batch_size={args.batch_size}", f"--steps={args.steps}", "--log_freq=1", "--env_eval_freq=0",
           f"--save_freq={args.steps}", f"--num_workers={workers}", "--seed=1000",
           f"--output_dir={work / f'lerobot_run_{workers}'}", *[lerobot_flag(k, v) for k, v in fields.items()]]
    wall, text = run(cmd)
    updt = [float(x) for x in re.findall(r"updt_s:([0-9.]+)", text)]
    data = [float(x) for x in re.findall(r"data_s:([0-9.]+)", text)]
    steps = [u + d for u, d in zip(updt, data, strict=True)][args.warmup:]
    s_per_step = statistics.median(steps)
    return {"workers": workers, "s": s_per_step, "frac": statistics.median(data[args.warmup:]) / s_per_step,
            "wall": wall}


lerobot_runs = [run_lerobot(int(w)) for w in args.lerobot_workers.split(",")]
best_lerobot = min(lerobot_runs, key=lambda r: r["s"])

# Ours: the cpu preset, frame cache on, no validation, one checkpoint at the end.
ours_cmd = [sys.executable, str(ROOT / "train.py"), "--dataset", str(dataset), "--policy", "act", "--preset", "cpu",
            "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--device", "cpu", "--val-fraction", "0",
            "--log-every", "1", "--save-every", str(args.steps), "--output-dir", str(work / "ours_run"), "--seed", "1000"]
ours_wall, ours_log = run(ours_cmd)
rows = [json.loads(line) for line in (work / "ours_run" / "metrics.jsonl").read_text().splitlines()]
rows = [r for r in rows if "step_s" in r][args.warmup:]
our_steps = [r["step_s"] for r in rows]
our_data = [r["data_s"] for r in rows]
cache_line = re.search(r"frame cache: .*decoded in ([0-9.]+) s", ours_log)

our_s = statistics.median(our_steps)
our_frac = statistics.median(our_data) / our_s
speedup = best_lerobot["s"] / our_s
info = json.loads((dataset / "meta" / "info.json").read_text())
lerobot_rows = "\n".join(f"| lerobot-train, {r['workers']} workers | {r['s']:.3f} | {1 / r['s']:.2f} | "
                         f"{100 * r['frac']:.1f}% | {r['wall']:.0f} s |" for r in lerobot_runs)
cmd_text = " ".join(["benchmarks/bench_train.py", *sys.argv[1:]])
body = f"""Command: `.venv/bin/python {cmd_text}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})

Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), CPU only, {args.threads} threads per side.
Dataset: {dataset.name}, {info['total_episodes']} episodes, {info['total_frames']} frames, 14-dim actions, one 96x128 AV1 camera.
Policy: ACT `cpu` preset on both sides ({', '.join(f'{k}={v}' for k, v in fields.items())}), batch {args.batch_size},
{args.steps} steps each; medians over steps {args.warmup + 1}..{args.steps}. lerobot-train decodes with pyav in its
DataLoader (workers as listed); train.py decodes every frame once into its in-memory frame cache.

| | s/step (median) | steps/s | data loading share of a step | wall time incl. start-up |
|---|---|---|---|---|
{lerobot_rows}
| train.py | {our_s:.3f} | {1 / our_s:.2f} | {100 * our_frac:.1f}% | {ours_wall:.0f} s |

Speed-up against the faster lerobot-train row: **{speedup:.2f}x** steps/s (goal >= 1.0x). Data loading with the frame cache: **{100 * our_frac:.1f}%** of a step
(goal < 10%); decoding every frame once took {cache_line.group(1) if cache_line else '?'} s before the first step.
Data loading counts fetching the batch plus lerobot's pre-processor on both sides.
"""
write_results_section(args.results, "Training speed: train.py vs lerobot-train (ACT, cpu preset)", body)
print(body)
