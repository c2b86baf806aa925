"""Run every benchmark side by side on this machine, one after the other, and refresh benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run_all.py            # sim, analysis, training, rollout/inference (about 15 min)
    .venv/bin/python benchmarks/run_all.py --demo     # also make demo end to end (about 30 min more)

Each script rewrites only its own section; this one adds the machine description at the top.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402

BENCHMARKS = ["bench_sim.py", "bench_analysis.py", "bench_compare.py", "bench_train.py", "bench_rollout.py"]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--demo", action="store_true", help="also run make demo end to end (bench_demo.py --run)")
parser.add_argument("--only", nargs="*", default=None, help="run just these scripts, e.g. bench_sim.py")
args = parser.parse_args()

scripts = args.only or BENCHMARKS
runs = [[sys.executable, str(ROOT / "benchmarks" / name)] for name in scripts]
if args.demo:
    runs.append([sys.executable, str(ROOT / "benchmarks" / "bench_demo.py"), "--run"])
took = []
for command in runs:
    start = time.perf_counter()
    print("$", " ".join(Path(c).name if i < 2 else c for i, c in enumerate(command)), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    took.append(f"| `{Path(command[1]).name}` | {time.perf_counter() - start:.0f} s |")

import torch  # noqa: E402

machine = [
    f"Last full run: `.venv/bin/python benchmarks/run_all.py{' --demo' if args.demo else ''}` "
    f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
    "",
    f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}, Python {platform.python_version()}, "
    f"torch {torch.__version__} ({'CUDA' if torch.cuda.is_available() else 'CPU only'}), MuJoCo rendering through EGL.",
    "",
    "| benchmark | wall time |",
    "|---|---:|",
    *took,
]
write_results_section(ROOT / "benchmarks" / "RESULTS.md", "Machine and run", "\n".join(machine))
