"""A study's results from its cached steps: success rates with intervals, training positions, compute and machine.

Rates come from visualize_policy.py's metrics.json: its `successes`/`episodes` fields when present, else counted
from the per-episode list; distinct initial conditions are the distinct cube positions the episodes started from.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from lerobot_notebook_pipeline.analysis.checks import check_near_duplicates, spread_numbers
from lerobot_notebook_pipeline.analysis.stats import load_table
from lerobot_notebook_pipeline.episodes import parse_episode_spec
from lerobot_notebook_pipeline.evaluation.success import position_rates, rollout_rate
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim.aloha_env import demo_starts
from lerobot_notebook_pipeline.studies.definitions import TRAINED_WITHIN
from lerobot_notebook_pipeline.studies.runner import checkpoint_of, point_steps


def data_check(dataset_dir: Path, episodes: list[int]) -> dict:
    """analyse_dataset's near-duplicate check and spread numbers on the episodes a point trains on."""
    table = load_table(dataset_dir, episodes)
    return {"episodes": len(episodes), "near_duplicate": [f["message"] for f in check_near_duplicates(table)],
            **{k: v for k, v in spread_numbers(table).items() if k.endswith("spread")}}


def convex_hull(points: list[list[float]]) -> list[tuple[float, float]]:
    """The convex hull of 2-D points, counter-clockwise (one or two points for degenerate sets)."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    if len(pts) <= 2:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def distance_to_hull(xy, hull: list[tuple[float, float]]) -> float:
    """Euclidean distance from xy to a convex hull (0 inside)."""
    x, y = xy
    if len(hull) >= 3 and all((b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]) >= 0
                              for a, b in zip(hull, hull[1:] + hull[:1], strict=True)):
        return 0.0
    edges = zip(hull, hull[1:] + hull[:1], strict=True) if len(hull) > 1 else [(hull[0], hull[0])]
    return min(_segment_distance(xy, a, b) for a, b in edges)


def _segment_distance(p, a, b) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return ((p[0] - a[0] - t * dx) ** 2 + (p[1] - a[1] - t * dy) ** 2) ** 0.5


def position_class(xy, starts: list[list[float]], within: float = TRAINED_WITHIN) -> str:
    """'trained' within `within` (per axis) of a demo's start, 'between' inside their hull (+within), else 'outside'."""
    if any(max(abs(xy[0] - x), abs(xy[1] - y)) <= within for x, y in starts):
        return "trained"
    return "between" if distance_to_hull(xy, convex_hull(starts)) <= within else "outside"


def _metrics(step) -> dict | None:
    path = step.out / "metrics.json"
    return json.loads(path.read_text()) if step.done() and path.is_file() else None


def point_result(point: dict, root: Path, record: dict | None = None) -> dict:
    """A point's entry of results.json, read from its cached steps (what has not finished yet is left out)."""
    steps = point_steps(root, point)
    train = steps["train"].done()
    result = {"id": point["id"], "name": point["name"], "settings": point["settings"],
              "error": (record or {}).get("error"), "log": f"logs/{point['id']}.log",
              "seeds": {"record": [r["seed"] for r in point["recordings"]], "train": point["train"]["seed"],
                        "eval": {name: spec["seed"] for name, spec in point["evals"].items()}},
              "training_seeds": 1, "evals": {}, "compute_s": {}}
    markers = [s.done() for s in [*steps["parts"], steps["dataset"]]]
    result["compute_s"]["record"] = round(sum(m["seconds"] for m in markers if m), 1)
    if steps["dataset"].done():
        dataset = steps["dataset"].out
        starts = demo_starts(dataset)
        episodes = parse_episode_spec(point["train"]["episodes"], len(starts))
        result["training_starts"] = [starts[i] for i in episodes]
        result["data_check"] = data_check(dataset, episodes)
    if train:
        result["training"] = {"steps": train["steps"], "s_per_step": train["s_per_step"], "seconds": train["seconds"],
                              "device": train["device"], "episodes": point["train"]["episodes"],
                              "checkpoint": str(checkpoint_of(steps["train"]).relative_to(root))}
        result["compute_s"]["train"] = train["seconds"]
    eval_seconds = 0.0
    for name, rollout in steps["rollouts"].items():
        marker, metrics = rollout.done(), _metrics(rollout)
        eval_seconds += marker["seconds"] if marker else 0.0
        if metrics is None:
            continue
        result["evals"][name] = rollout_rate([metrics]) | {"spec": point["evals"][name]}
        if point["evals"][name]["kind"] == "grid":  # a grid: each position's own rate
            result["evals"][name]["positions"] = position_rates(metrics["per_episode"])
        replayed = _metrics(steps["baselines"][name])
        if replayed is not None:  # the same starts with the nearest trained demo's actions replayed, no camera
            result["evals"][name]["nearest_demo_replay"] = rollout_rate([replayed]) | (
                {"positions": position_rates(replayed["per_episode"])} if point["evals"][name]["kind"] == "grid" else {})
    result["compute_s"]["eval"] = round(eval_seconds, 1)
    result["finished"] = [stage for stage, ok in (("record", steps["dataset"].done()), ("train", train),
                                                  ("eval", len(result["evals"]) == len(point["evals"]))) if ok]
    result["status"] = (record or {}).get("status") or ("done" if "eval" in result["finished"] else "pending")
    return result


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: int, engine: str, workers: int) -> dict:
    """What the study ran on: CPU model, cores, GPU (None without one), torch threads per job, engine and workers."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpu, "torch_threads_per_job": threads,
            "engine": engine, "workers": workers, "python": platform.python_version()}


def saved_results(results_dir: Path, command: str) -> dict:
    """A study's results.json, checked to come from this command (else a clear error)."""
    path = Path(results_dir) / "results.json"
    if not path.is_file():
        raise UserError(f"--report: there is no {path}: run the study first, or pass the --results-dir it wrote to")
    saved = json.loads(path.read_text())
    if saved["command"] != command:
        raise UserError(f"--report: {path} comes from another run; pass its flags: {saved['command']}")
    return saved
