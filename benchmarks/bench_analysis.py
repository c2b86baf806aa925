"""Dataset analysis speed: our parquet-only tabular report against iterating every dataset[i] (the upstream way).

Both sides compute the same per-episode action/state statistics from the same generated dataset, in one run;
the script checks that they agree, then writes its section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_analysis.py            # 50 episodes x 400 frames, 14 dims, full baseline
    .venv/bin/python benchmarks/bench_analysis.py --baseline-frames 2000   # time a sample and extrapolate
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lerobot_notebook_pipeline.analysis import checks, stats  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset  # noqa: E402

HEADING = "Dataset analysis: analyse_dataset.py tables and checks vs per-frame dataset[i] (bench_analysis.py)"


def tabular_report(root: Path) -> tuple[dict, list[dict]]:
    """Everything analyse_dataset.py computes before plotting: tables, per-episode stats and all quality checks."""
    table = stats.load_table(root)
    cameras = stats.cameras_table(table)
    report = {"summary": stats.summary(table), "features": stats.features_table(table.info), "cameras": cameras,
              "normalization": stats.normalization_stats(root, stats.vector_keys(table)),
              "episodes": stats.episodes_table(table)}
    return report, checks.run_checks(table, 100, cameras)


def per_frame_baseline(root: Path, limit: int | None) -> tuple[dict, int]:
    """The upstream approach: dataset[i] for every frame (decoding its camera image), collecting actions/states."""
    from lerobot_notebook_pipeline.data import open_dataset

    dataset = open_dataset(root)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    actions, states, episodes = [], [], []
    for i in range(n):
        item = dataset[i]
        actions.append(item["action"].numpy())
        states.append(item["observation.state"].numpy())
        episodes.append(int(item["episode_index"]))
    episodes = np.array(episodes)
    actions, states = np.stack(actions), np.stack(states)
    means = {int(e): (actions[episodes == e].mean(0), states[episodes == e].mean(0)) for e in np.unique(episodes)}
    return means, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--dim", type=int, default=14)
    parser.add_argument("--image-size", type=int, nargs=2, default=[48, 64])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of our tabular report (median reported)")
    parser.add_argument("--baseline-frames", type=int, default=None,
                        help="time only this many dataset[i] calls and extrapolate (default: all frames)")
    parser.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench_analysis_"))
    try:
        root = work / "synthetic"
        t0 = time.perf_counter()
        make_synthetic_dataset(root, num_episodes=args.episodes, length=args.length, dim=args.dim, fps=50,
                               image_size=tuple(args.image_size), cameras=("top",))
        generate_s = time.perf_counter() - t0
        frames = args.episodes * args.length

        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report, findings = tabular_report(root)
            times.append(time.perf_counter() - t0)
        ours = statistics.median(times)

        t0 = time.perf_counter()
        script = subprocess.run([sys.executable, str(ROOT / "analyse_dataset.py"), "--dataset", str(root), "--output-dir",
                                 str(work / "report"), "--no-animation"], capture_output=True, text=True, cwd=work)
        script_s = time.perf_counter() - t0
        if script.returncode != 0:
            raise SystemExit(script.stderr[-2000:])
        script_timings = json.loads((work / "report" / "report.json").read_text())["timings_s"]

        t0 = time.perf_counter()
        means, done = per_frame_baseline(root, args.baseline_frames)
        measured = time.perf_counter() - t0
        baseline = measured * frames / done
        sampled = done < frames

        rows = {r["episode"]: r for r in report["episodes"]}
        agree = all(np.allclose(a, rows[e]["action_mean"], atol=1e-3) and np.allclose(s, rows[e]["state_mean"], atol=1e-3)
                    for e, (a, s) in means.items())
        counts = checks.count_by_severity(findings)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    speedup = baseline / ours
    how = (f"timed on the first {done} of {frames} frames ({measured:.1f} s) and **extrapolated linearly** to all frames"
           if sampled else f"timed in full over all {frames} frames")
    text = f"""
Command: `.venv/bin/python benchmarks/bench_analysis.py{f' --baseline-frames {args.baseline_frames}' if args.baseline_frames else ''}` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)

Machine: {platform.machine()}, 2 cores shared with other jobs, CPU only, torch 1 thread.
Dataset: `make_synthetic_dataset`, {args.episodes} episodes x {args.length} frames = {frames} frames, {args.dim}-dim action
and state, one {args.image_size[0]}x{args.image_size[1]} AV1 camera, 50 fps (generated in {generate_s:.1f} s).

| approach | time | frames/s | speed-up |
|---|---:|---:|---:|
| per-frame `dataset[i]` over every frame (decodes each camera frame; upstream way) | {baseline:.1f} s | {frames / baseline:,.0f} | 1x |
| ours: `stats.load_table` (parquet columns) + summary, feature/camera/episode tables, every quality check | {ours * 1000:.0f} ms | {frames / ours:,.0f} | **{speedup:,.0f}x** |

Baseline {how}. Ours: median of {args.repeats} runs ({', '.join(f'{t * 1000:.0f}' for t in times)} ms), reading
{frames} rows and running every quality check ({counts['error']} errors, {counts['warn']} warnings, {counts['info']} notes on this clean data).
Both sides give the same per-episode action and state means: {agree}. Goal: >= 100x and the tabular report < 3 s.
The whole `analyse_dataset.py --no-animation` run on this dataset (Python start-up, imports, tables, checks, 6 PNG
figures, first/last frames of 8 episodes decoded, report.md/json) took {script_s:.1f} s; its own tabular part
{script_timings['tabular'] * 1000:.0f} ms, frame decoding {script_timings['frames'] * 1000:.0f} ms.
"""
    print(text)
    if not args.no_write:
        write_results_section(ROOT / "benchmarks" / "RESULTS.md", HEADING, text)


if __name__ == "__main__":
    main()
