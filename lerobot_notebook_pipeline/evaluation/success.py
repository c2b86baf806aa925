"""Success rates that say how sure they are: counts, the Wilson 95% interval, and distinct trials."""

from __future__ import annotations

import hashlib
import math

import numpy as np

Z95 = 1.959963984540054  # the two-sided 95% normal quantile


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate, as (low, high) fractions; (0, 1) when there are no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def success_summary(successes: int, trials: int) -> dict:
    """The fields every reported success rate carries: successes, episodes, pc_success and ci95 (percent)."""
    low, high = wilson_interval(successes, trials)
    return {
        "successes": int(successes),
        "episodes": int(trials),
        "pc_success": 100.0 * successes / trials if trials else float("nan"),
        "ci95": [round(100.0 * low, 2), round(100.0 * high, 2)],
    }


def format_rate(summary: dict) -> str:
    """'16/20 = 80.0% (95% CI 58-92%)', the way every printout shows a success rate."""
    low, high = summary["ci95"]
    return (f"{summary['successes']}/{summary['episodes']} = {summary['pc_success']:.1f}% "
            f"(95% CI {low:.0f}-{high:.0f}%)")


# ------------------------------------------------------------------ distinct trials and how episodes fail

# What each reward level of gym-aloha's tasks (and the SO-101 task) means, as the furthest stage an episode reached (index = reward).
STAGES = {
    "transfer_cube": ["never touched", "touched, not lifted", "lifted, not handed over",
                      "other gripper touched, not handed over", "handed over"],
    "insertion": ["touched neither", "touched both, not grasped", "grasped both, not joined",
                  "peg touched socket, not inserted", "inserted"],
    # the SO-101 pick and place (sim/so101_env.py): its reward is the stage its state is at
    "pick_place": ["never reached", "reached, not grasped", "grasped, not lifted", "lifted, not placed", "placed"],
}


def furthest_stage(rewards) -> int:
    """The highest reward level an episode reached (0 when it has no steps)."""
    return int(max(rewards, default=0))


def stage_name(stage: int, task: str) -> str:
    """The words for a stage of a task with stages: 'lifted, not handed over'."""
    return STAGES[task][stage]


def fingerprint(*arrays, decimals: int = 5) -> str:
    """A short hash of arrays rounded to `decimals`: equal inputs, equal fingerprints."""
    digest = hashlib.sha1()
    for array in arrays:
        array = np.round(np.asarray(array, dtype=np.float64), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        digest.update(str(array.shape).encode() + array.tobytes())
    return digest.hexdigest()[:16]


def distinct(rows: list[dict], key: str) -> list[dict]:
    """The first row of each distinct value of row[key], in order."""
    seen: dict = {}
    for row in rows:
        seen.setdefault(row[key], row)
    return list(seen.values())


def evaluation_summary(rows: list[dict], task: str | None = None) -> dict:
    """Success over distinct trials with its count and Wilson CI, the rollouts behind it, and the furthest stages.

    Each row is a per-episode dict with `success`, `stage`, `initial_condition_id` (the initial state's fingerprint)
    and `trial_id` (initial state plus the per-step rewards and actions): rows with one trial_id are one
    deterministic trial repeated, and count once.
    """
    trials = distinct(rows, "trial_id")
    summary = success_summary(sum(bool(r["success"]) for r in trials), len(trials))
    summary["rollouts"] = len(rows)
    summary["distinct_initial_conditions"] = len(distinct(rows, "initial_condition_id"))
    if task in STAGES:
        counts = {name: sum(r["stage"] == stage for r in trials) for stage, name in enumerate(STAGES[task])}
        summary["stages"] = {name: counts[name] for name in reversed(STAGES[task]) if counts[name]}
    return summary


def format_trials(summary: dict) -> str:
    """'5 rollouts from 1 distinct initial state: 1 trial (identical rollouts counted once)'."""
    rollouts, states, trials = summary["rollouts"], summary["distinct_initial_conditions"], summary["episodes"]
    text = (f"{rollouts} rollout{'s' * (rollouts != 1)} from {states} distinct initial "
            f"state{'s' * (states != 1)}: {trials} trial{'s' * (trials != 1)}")
    return text + (" (identical rollouts counted once)" if trials < rollouts else "")


def format_stages(stages: dict) -> str:
    """'14 handed over, 4 lifted, not handed over, 2 never touched' (best stage first)."""
    return "; ".join(f"{count} {name}" for name, count in stages.items())


def rollout_rate(metrics: list[dict]) -> dict:
    """One success rate over several metrics.json: successes, episodes, pc_success, ci95, distinct_initial_conditions."""
    successes = episodes = reported_distinct = 0
    starts = set()
    for m in metrics:
        per_episode = m.get("per_episode", [])
        successes += m["successes"] if "successes" in m else sum(bool(e["success"]) for e in per_episode)
        episodes += m["episodes"] if isinstance(m.get("episodes"), int) else len(per_episode)
        starts |= {tuple(round(v, 4) for v in e["object_pose"][:2]) for e in per_episode if e.get("object_pose")}
        reported_distinct += m.get("distinct_initial_conditions") or 0
    return success_summary(successes, episodes) | {"distinct_initial_conditions": len(starts) or reported_distinct}


def position_rates(per_episode: list[dict]) -> list[dict]:
    """The success rate at each start position (x, y) of the episodes, in their order."""
    by_xy: dict[tuple, list[bool]] = {}
    for e in per_episode:
        by_xy.setdefault(tuple(round(v, 4) for v in e["object_pose"][:2]), []).append(bool(e["success"]))
    return [{"xy": list(xy), **success_summary(sum(s), len(s))} for xy, s in by_xy.items()]
