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
from lerobot_notebook_pipeline.evaluation.paired import paired_comparison
from lerobot_notebook_pipeline.evaluation.success import position_rates, rollout_rate
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim.aloha_env import demo_starts
from lerobot_notebook_pipeline.studies.definitions import IN_DISTRIBUTION, TRAINED_WITHIN
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


def paired_by_seed(perturbed: list[dict], reference: list[dict], perturb: dict) -> tuple[list[bool], list[bool]]:
    """Success with and without a perturbation at each reset seed both ran, checked to be one start on the table.

    A moved table carries the cube with it, so the starts are compared relative to the table, on the axes
    comparable_axes keeps (where a scaled cube sits on it, not how high its centre is)."""
    from lerobot_notebook_pipeline.sim.perturb import comparable_axes, object_offset

    offset, axes, by_seed = object_offset(perturb), comparable_axes(perturb), {e["seed"]: e for e in reference}
    if sorted(by_seed) != sorted(e["seed"] for e in perturbed):
        raise UserError("paired rollouts need the same reset seeds: evaluate both with the same --seed and --episodes")
    for e in perturbed:
        a, b = e.get("object_pose"), by_seed[e["seed"]].get("object_pose")
        if a and b and max(abs(x - off - y) for x, off, y in zip(a[:axes], offset[:axes], b[:axes], strict=True)) > 1e-4:
            raise UserError(f"seed {e['seed']} started the cube at {a[:3]} on the moved table, {b[:3]} without the "
                            "change: these rollouts do not pair")
    return [bool(e["success"]) for e in perturbed], [bool(by_seed[e["seed"]]["success"]) for e in perturbed]


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
        replayed = _metrics(steps["baselines"][name]) if name in steps["baselines"] else None
        if replayed is not None:  # the same starts with the nearest trained demo's actions replayed, no camera
            result["evals"][name]["nearest_demo_replay"] = rollout_rate([replayed]) | (
                {"positions": position_rates(replayed["per_episode"])} if point["evals"][name]["kind"] == "grid" else {})
    reference = _metrics(steps["rollouts"][IN_DISTRIBUTION]) if IN_DISTRIBUTION in steps["rollouts"] else None
    for name, rate in result["evals"].items():
        perturb = rate["spec"].get("perturb")
        if perturb and reference is not None:  # the same starts, relative to the table, with and without the change
            outcomes = paired_by_seed(_metrics(steps["rollouts"][name])["per_episode"], reference["per_episode"], perturb)
            rate["paired_vs_in_distribution"] = paired_comparison(*outcomes)
    if point["study"] == "noise":  # pairs across points: each variant against no noise from the same starts
        add_noise_pairs(result, point, root)
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


# ------------------------------------------------------------------------------------------------ robustness

SHRUG_POINTS = 15  # a change is shrugged off when its paired 95% interval rules out a drop of this many points


def pooled_pairs(comparisons: list[dict]) -> dict:
    """One paired comparison from several seeds' (their pair tables added up)."""
    both, only_a, only_b, neither = (sum(c[k] for c in comparisons) for k in ("both", "only_a", "only_b", "neither"))
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return paired_comparison(a, b)


def seed_agreement(rates: list[dict]) -> dict:
    """The spread of the training seeds' rates (highest minus lowest), and whether it is wider than one seed's 95%
    episode interval (the mean width of the seeds' Wilson intervals)."""
    pcs = [r["pc_success"] for r in rates]
    widths = [r["ci95"][1] - r["ci95"][0] for r in rates]
    spread, width = max(pcs) - min(pcs), sum(widths) / len(widths)
    return {"seeds": len(rates), "range_points": round(spread, 2), "episode_interval_points": round(width, 2),
            "wider_than_episode_interval": spread > width}


def verdict(rate: dict, paired: dict) -> str:
    """'breaks' (a drop the interval shows, below 50%), 'hurts' (a drop, still 50% or more), 'shrugs off' (the
    interval rules out a drop of SHRUG_POINTS) or 'unclear'."""
    low, high = paired["ci95_points"]
    if high < 0:
        return "breaks" if rate["pc_success"] < 50 else "hurts"
    return "shrugs off" if low > -SHRUG_POINTS else "unclear"


def condition_summary(name: str, entries: list[tuple[int, dict]]) -> dict:
    """One condition over the training seeds: each seed's rate and paired change, pooled, and the seeds' agreement."""
    from lerobot_notebook_pipeline.evaluation.success import success_summary

    spec = entries[0][1]["spec"]
    perturb = spec.get("perturb") or {}
    keep = ("successes", "episodes", "pc_success", "ci95", "distinct_initial_conditions", "paired_vs_in_distribution")
    per_seed = [{"train_seed": seed, **{k: rate[k] for k in keep if k in rate}} for seed, rate in entries]
    pooled = success_summary(sum(r["successes"] for r in per_seed), sum(r["episodes"] for r in per_seed))
    out = {"condition": name, "perturb": perturb, "spec": spec, "factor": next(iter(perturb)) if len(perturb) == 1 else None,
           "magnitude": next(iter(perturb.values())) if len(perturb) == 1 else None, "per_seed": per_seed,
           "pooled": pooled | {"training_seeds": len(per_seed)}, "seeds": seed_agreement(per_seed)}
    paired = [r["paired_vs_in_distribution"] for r in per_seed if "paired_vs_in_distribution" in r]
    if paired and len(paired) == len(per_seed):
        out["paired_pooled"] = pooled_pairs(paired)
        out["verdict"] = verdict(pooled, out["paired_pooled"])
    return out


def crossing(xs: list[float], ys: list[float], level: float = 50.0) -> float | None:
    """Where a piecewise-linear curve first falls below level, walking from its first point (None if it never does)."""
    points = list(zip(xs, ys, strict=True))
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if y0 >= level > y1:
            return round(x0 + (x1 - x0) * (y0 - level) / (y0 - y1), 4)
    return None


NO_CURVE = ("distractor_cm",)  # its magnitude is a distance, and no distractor is not a distance of zero


def factor_curves(conditions: list[dict]) -> list[dict]:
    """Per factor measured alone: pooled success from its unperturbed value outwards, and the 50% point."""
    from lerobot_notebook_pipeline.studies.definitions import NEUTRAL

    reference = next((c for c in conditions if not c["perturb"]), None)
    curves = {}
    for c in conditions:
        if c["factor"] is not None and c["factor"] not in NO_CURVE and reference is not None:
            curves.setdefault(c["factor"], []).append(c)
    out = []
    for factor, measured in curves.items():
        neutral = NEUTRAL.get(factor, 0.0)
        measured = sorted(measured, key=lambda c: abs(c["magnitude"] - neutral))
        xs = [neutral, *(c["magnitude"] for c in measured)]
        ys = [reference["pooled"]["pc_success"], *(c["pooled"]["pc_success"] for c in measured)]
        out.append({"factor": factor, "magnitudes": xs, "pc_success": ys, "half_point": crossing(xs, ys)})
    return out


def robustness_summary(results: list[dict]) -> dict:
    """results.json's study-level part of the robustness study: every condition over the seeds, and each factor's curve."""
    by_name: dict[str, list[tuple[int, dict]]] = {}
    for r in results:
        for name, rate in r["evals"].items():
            by_name.setdefault(name, []).append((r["settings"]["train_seed"], rate))
    conditions = [condition_summary(name, entries) for name, entries in by_name.items()]
    return {"conditions": conditions, "factors": factor_curves(conditions)}


def robustness_study_summary(results: list[dict]) -> dict:
    """robustness_summary with compare_costs: each measured change in analyse_dataset --compare's units, with its drop."""
    from lerobot_notebook_pipeline.studies.costs import compare_costs

    summary = robustness_summary(results)
    return summary | {"compare_costs": compare_costs(summary["conditions"])}


# ------------------------------------------------------------------------------------------------ noise


def paired_with_reference(point: dict, root: Path) -> dict[str, dict]:
    """Per evaluation both ran, a noise variant (a) against its reference point (b: no noise, the same training
    seed) from the same reset seeds, checked to be the same starts (both under the same perturbation)."""
    ours, reference = point_steps(root, point), point_steps(root, point["paired_with"] | {"evals": point["evals"]})
    out = {}
    for name in point["evals"]:
        a, b = _metrics(ours["rollouts"][name]), _metrics(reference["rollouts"][name])
        if a is not None and b is not None:
            out[name] = paired_comparison(*paired_by_seed(a["per_episode"], b["per_episode"], {}))
    return out


def training_progress(train_step) -> dict:
    """Where a finished training's held-out action error was lowest: its step and value (train.py's summary)."""
    path = train_step.out / "summary.json"
    best = (json.loads(path.read_text()).get("best") or {}) if train_step.done() and path.is_file() else {}
    return {"best_step": best.get("step"), "val_action_mae": best.get("val_action_mae")}


def add_noise_pairs(result: dict, point: dict, root: Path) -> None:
    """The noise study's part of a point's result: each evaluation's paired change against no noise, and where the
    held-out error was lowest (still at the last step: the training may be too short)."""
    if point.get("paired_with"):
        for name, paired in paired_with_reference(point, root).items():
            result["evals"][name]["paired_vs_reference"] = paired
    if "training" in result:
        result["training"] |= training_progress(point_steps(root, point)["train"])


def effect(paired: dict) -> str:
    """'helps' or 'hurts' when the paired 95% interval excludes no change, else 'unclear'."""
    low, high = paired["ci95_points"]
    return "helps" if low > 0 else "hurts" if high < 0 else "unclear"


def variant_condition(variant: str, condition: str, entries: list[tuple[int, dict]]) -> dict:
    """One variant under one condition over the training seeds: each seed's rate and paired change against no noise,
    pooled (Wilson; pair tables added up), and the seeds' agreement."""
    from lerobot_notebook_pipeline.evaluation.success import success_summary

    keep = ("successes", "episodes", "pc_success", "ci95", "distinct_initial_conditions", "paired_vs_reference")
    per_seed = [{"train_seed": seed, **{k: rate[k] for k in keep if k in rate}} for seed, rate in entries]
    pooled = success_summary(sum(r["successes"] for r in per_seed), sum(r["episodes"] for r in per_seed))
    out = {"variant": variant, "condition": condition, "spec": entries[0][1]["spec"], "per_seed": per_seed,
           "pooled": pooled | {"training_seeds": len(per_seed)}, "seeds": seed_agreement(per_seed)}
    paired = [r["paired_vs_reference"] for r in per_seed if "paired_vs_reference" in r]
    if paired and len(paired) == len(per_seed):
        out["paired_vs_none"] = pooled_pairs(paired)
        out["effect"] = effect(out["paired_vs_none"])
    return out


def variant_training(variant: str, results: list[dict]) -> dict:
    """A variant's trainings: steps, seconds per step, and per seed where the held-out error was lowest."""
    runs = [r["training"] | {"train_seed": r["settings"]["train_seed"]} for r in results if r.get("training")]
    errors = [t["val_action_mae"] for t in runs if t.get("val_action_mae") is not None]
    return {"variant": variant, "seeds": [t["train_seed"] for t in runs], "steps": max((t["steps"] for t in runs), default=None),
            "s_per_step": round(sum(t["s_per_step"] for t in runs) / len(runs), 4) if runs else None,
            "best_steps": [t.get("best_step") for t in runs],
            "still_improving": sum(t.get("best_step") == t["steps"] for t in runs),  # lowest held-out error at the end
            "val_action_mae": round(sum(errors) / len(errors), 5) if errors else None}


def noise_summary(results: list[dict]) -> dict:
    """results.json's study-level part of the noise study: every variant under every condition over the seeds,
    against no noise from the same starts, and each variant's training."""
    cells: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    by_variant: dict[str, list[dict]] = {}
    for r in results:
        by_variant.setdefault(r["settings"]["variant"], []).append(r)
        for name, rate in r["evals"].items():
            cells.setdefault((r["settings"]["variant"], name), []).append((r["settings"]["train_seed"], rate))
    return {"cells": [variant_condition(v, c, entries) for (v, c), entries in cells.items()],
            "training": [variant_training(v, rs) for v, rs in by_variant.items()]}


STUDY_SUMMARIES = {"robustness": robustness_study_summary, "noise": noise_summary}


def study_summary(study: str, results: list[dict]) -> dict:
    """The study-level part of results.json beyond its points (empty for studies that have none)."""
    finished = [r for r in results if r["evals"]]
    return STUDY_SUMMARIES[study](finished) if study in STUDY_SUMMARIES and finished else {}


def missing_summary(study: str, saved: dict) -> dict:
    """The study-level parts a saved results.json lacks (a run from before they existed), made from its points."""
    return {k: v for k, v in study_summary(study, saved["points"]).items() if k not in saved}
