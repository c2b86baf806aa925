"""analyse_dataset.py --compare on two real-shaped SO-101 datasets: how long it takes, and whether it finds the
changes planted in the new one (camera moved, brighter light, one joint recalibrated, objects placed wider).

    .venv/bin/python benchmarks/bench_compare.py                           # 50 episodes x 300 frames, 2 cameras 480x640
    .venv/bin/python benchmarks/bench_compare.py --episodes 5 --length 60 --image-size 96 128 --no-write   # a quick look

The two datasets are generated once into --work (outputs/bench_compare) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lerobot_notebook_pipeline.data import add_episode, image_feature, vector_feature  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402
from lerobot_notebook_pipeline.synthetic import SO101_JOINTS, camera_view, scene_texture, so101_episode  # noqa: E402

HEADING = "Compare a new recording with the training data: analyse_dataset.py --compare (bench_compare.py)"
CAMERAS = ("front", "wrist")
TRAINING_X, TRAINING_Y = (0.18, 0.24), (-0.05, 0.05)  # object placements in the training data, metres
# planted in the new recording: the sizes the report should find
SHIFT_PX, GAIN, OFFSET_JOINT, OFFSET, WIDER_X = 12, 1.15, "elbow_flex", 3.0, 0.27


def record(root: Path, episodes: int, length: int, size: tuple[int, int], seed: int, changed: bool) -> float:
    """Write one SO-101-like dataset (streaming AV1 encoding, no PNG scratch files); return the seconds it took."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {"observation.state": vector_feature(SO101_JOINTS), "action": vector_feature(SO101_JOINTS),
                **{f"observation.images.{c}": image_feature(*size) for c in CAMERAS}}
    textures = {c: scene_texture(*size, margin=max(16, SHIFT_PX + 4), seed=i + 1) for i, c in enumerate(CAMERAS)}
    rng = np.random.default_rng(seed)
    targets = np.column_stack([rng.uniform(*TRAINING_X, episodes), rng.uniform(*TRAINING_Y, episodes)])
    if changed:
        targets[::5, 0] = WIDER_X  # every fifth object sits further out than any training placement
    else:
        targets[:2] = [(TRAINING_X[0], TRAINING_Y[0]), (TRAINING_X[1], TRAINING_Y[1])]  # the corners of the range
    offset = np.eye(6, dtype=np.float32)[SO101_JOINTS.index(OFFSET_JOINT)] * OFFSET if changed else None
    start = time.perf_counter()
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dataset = LeRobotDataset.create(f"local/{root.name}", fps=30, features=features, root=tmp, robot_type="so101_follower",
                                    use_videos=True, streaming_encoding=True)
    for i, (x, y) in enumerate(targets):
        where = ((x - 0.15) / 0.15, 0.5 + y / 0.12)
        views = {c: camera_view(textures[c], *size, shift=(0, SHIFT_PX) if changed and c == "front" else (0, 0),
                                gain=GAIN if changed and c == "front" else 1.0, obj=where) for c in CAMERAS}
        add_episode(dataset, so101_episode(length, (x, y), seed + i, views, offset), "pick up the cube")
    dataset.finalize()
    poses = [{"object_pose": [float(x), float(y), 0.0125, 1, 0, 0, 0]} for x, y in targets]
    (tmp / "meta" / "sim_settings.json").write_text(json.dumps({"episodes": poses}))
    tmp.rename(root)
    return time.perf_counter() - start


def run_compare(new: Path, reference: Path, out: Path) -> tuple[float, dict]:
    """One analyse_dataset.py --compare run (no animation); its wall time and report.json."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "analyse_dataset.py"), "--dataset", str(new), "--compare",
                             str(reference), "--output-dir", str(out), "--no-animation", "--overwrite"],
                            capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return wall, json.loads((out / "report.json").read_text())


def found(report: dict) -> list[tuple[str, str, float]]:
    """(planted change, what was measured, truth) for the table."""
    c = report["comparison"]
    front = c["cameras"]["observation.images.front"]
    offset = {x["joint"]: x["offset"] for x in c["calibration"]}[OFFSET_JOINT]
    objects = max((max(p["above_m"], p["below_m"]) for p in c["objects"]), default=0.0)
    return [("front camera shift, px", front["motion"]["dx_px"], SHIFT_PX),
            ("front brightness change, %", front["lighting"]["brightness_pc"], 100 * (GAIN - 1)),
            (f"{OFFSET_JOINT} rest offset, joint units", offset, OFFSET),
            ("object beyond the training placements, cm", 100 * objects, 100 * (WIDER_X - TRAINING_X[1]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--image-size", type=int, nargs=2, default=[480, 640])
    parser.add_argument("--repeats", type=int, default=3, help="timed --compare runs (median reported)")
    parser.add_argument("--work", default="outputs/bench_compare", help="where the two datasets are kept between runs")
    parser.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = parser.parse_args()

    size = tuple(args.image_size)
    work = Path(args.work).resolve() / f"{args.episodes}x{args.length}_{size[0]}x{size[1]}"
    log = work / "generated.json"  # how long each dataset took to write, kept for later runs
    generate = json.loads(log.read_text()) if log.is_file() else {}
    for name, seed, changed in (("training", 0, False), ("today", 1000, True)):
        if not (work / name).is_dir():
            generate[name] = record(work / name, args.episodes, args.length, size, seed, changed)
            log.write_text(json.dumps(generate))
    runs = [run_compare(work / "today", work / "training", work / "report") for _ in range(args.repeats)]
    walls = [w for w, _ in runs]
    report = runs[-1][1]
    compare_s = statistics.median(r["timings_s"]["compare"] for _, r in runs)
    rows = "\n".join(f"| {what} | {truth:g} | {measured:.2f} | {100 * (measured - truth) / truth:+.0f}% |"
                     for what, measured, truth in found(report))
    ranked = "\n".join(f"{i}. [{d['risk']}] {d['message']}" for i, d in enumerate(report["comparison"]["differences"][:6], 1))
    frames = args.episodes * args.length
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    doctor = (f"{', '.join(sorted({f['check'] for f in errors}))} in episode(s) "
              f"{', '.join(str(e) for e in sorted({f['episode'] for f in errors if f['episode'] is not None}))}, e.g. "
              f"\"{errors[0]['message']}\"") if errors else "none"
    made = ", ".join(f"{k} in {v:.0f} s" for k, v in generate.items()) or "times not recorded"
    text = f"""
Command: `.venv/bin/python benchmarks/bench_compare.py{'' if (args.episodes, args.length, size) == (50, 300, (480, 640)) else f' --episodes {args.episodes} --length {args.length} --image-size {size[0]} {size[1]}'}` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)

Machine: {platform.machine()}, 2 CPU cores shared with other jobs, no GPU.
Data: two SO-101-shaped datasets (6 joints named like lerobot's SO-101, 30 fps, a front and a wrist camera at
{size[0]}x{size[1]}, AV1), {args.episodes} episodes x {args.length} frames = {frames} frames each; generated with streaming
encoding ({made}). The camera scenes are static textures with the object drawn in, so only the first frames matter.

| run | time |
|---|---:|
| `analyse_dataset.py --dataset today --compare training --no-animation`, whole command (start-up, imports, checks, figures, report) | {statistics.median(walls):.1f} s (median of {len(walls)}: {', '.join(f'{w:.1f}' for w in walls)}) |
| of which the comparison (both tables, first frames of 20 episodes x 2 cameras x 2 datasets decoded, measurements, figures) | {compare_s:.1f} s |

What it found against what was planted:

| planted change | truth | measured | error |
|---|---:|---:|---:|
{rows}

Verdict: {report['comparison']['verdict']}

Errors the doctor checks found in the new dataset itself ({len(errors)}): {doctor}

The riskiest differences as ranked in report.md:

{ranked}
"""
    print(text)
    if not args.no_write:
        write_results_section(ROOT / "benchmarks" / "RESULTS.md", HEADING, text)


if __name__ == "__main__":
    main()
