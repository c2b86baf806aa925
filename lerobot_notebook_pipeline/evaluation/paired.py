"""Two conditions evaluated from the same starts: the paired difference in success, its interval and McNemar's p.

Overlapping Wilson intervals are not a comparison. When condition A and B ran from the same initial states, each
start is a pair of outcomes, and only the discordant pairs (one succeeded, the other failed) carry the difference.
The interval is Newcombe's method 10 (Statistics in Medicine 17:2635, 1998): the two Wilson intervals combined with
a correction for their correlation. The p-value is the exact McNemar test, a two-sided binomial test on the
discordant pairs (scipy's binomtest).
"""

from __future__ import annotations

import math

from lerobot_notebook_pipeline.evaluation.success import Z95, wilson_interval


def pair_table(a: list[bool], b: list[bool]) -> tuple[int, int, int, int]:
    """Counts of (both succeeded, only A, only B, both failed) over outcomes paired by start."""
    if len(a) != len(b):
        raise ValueError(f"paired outcomes need the same starts: {len(a)} against {len(b)} episodes")
    both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    return both, only_a, only_b, len(a) - both - only_a - only_b


def pair_correlation(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Newcombe's continuity-corrected phi between the paired outcomes (0 when a margin is empty)."""
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if margins == 0:
        return 0.0
    n = both + only_a + only_b + neither
    cross = both * neither - only_a * only_b
    corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    return corrected / math.sqrt(margins)


def newcombe_paired_interval(both: int, only_a: int, only_b: int, neither: int,
                             z: float = Z95) -> tuple[float, float]:
    """95% interval of rate(A) - rate(B) for paired outcomes, as fractions (Newcombe's method 10)."""
    n = both + only_a + only_b + neither
    if n == 0:
        return -1.0, 1.0
    p_a, p_b = (both + only_a) / n, (both + only_b) / n
    low_a, high_a = wilson_interval(both + only_a, n, z)
    low_b, high_b = wilson_interval(both + only_b, n, z)
    phi = pair_correlation(both, only_a, only_b, neither)
    below = math.sqrt(max(0.0, (p_a - low_a) ** 2 - 2 * phi * (p_a - low_a) * (high_b - p_b) + (high_b - p_b) ** 2))
    above = math.sqrt(max(0.0, (high_a - p_a) ** 2 - 2 * phi * (high_a - p_a) * (p_b - low_b) + (p_b - low_b) ** 2))
    diff = p_a - p_b
    return max(-1.0, diff - below), min(1.0, diff + above)


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against one half."""
    from scipy.stats import binomtest

    discordant = only_a + only_b
    return 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)


def start_key(episode: dict) -> tuple:
    """Where an episode started: its object pose when the env reports one, else its seed."""
    if episode.get("object_pose"):
        return tuple(round(float(v), 4) for v in episode["object_pose"])
    return ("seed", episode["seed"])


def paired_outcomes(per_episode_a: list[dict], per_episode_b: list[dict]) -> tuple[list[bool], list[bool]]:
    """Success of A and of B at each distinct start they share (a repeated start counts once)."""
    a = {start_key(e): bool(e["success"]) for e in reversed(per_episode_a)}
    b = {start_key(e): bool(e["success"]) for e in reversed(per_episode_b)}
    if a.keys() != b.keys():
        raise ValueError(f"not evaluated from the same starts ({len(a.keys() - b.keys())} of A's and "
                         f"{len(b.keys() - a.keys())} of B's are not shared): evaluate both with the same --seed and "
                         "--episodes")
    return [a[k] for k in a], [b[k] for k in a]


def paired_comparison(a: list[bool], b: list[bool]) -> dict:
    """A against B from the same starts: the table, the difference in points with its 95% interval, McNemar's p."""
    both, only_a, only_b, neither = pair_table(a, b)
    n = len(a)
    low, high = newcombe_paired_interval(both, only_a, only_b, neither)
    return {
        "pairs": n, "both": both, "only_a": only_a, "only_b": only_b, "neither": neither,
        "difference_points": round(100.0 * (only_a - only_b) / n, 2) if n else float("nan"),
        "ci95_points": [round(100.0 * low, 2), round(100.0 * high, 2)],
        "mcnemar_p": round(mcnemar_exact_p(only_a, only_b), 4),
    }


def format_comparison(summary: dict, a: str = "A", b: str = "B") -> str:
    """'A - B: +13 points (95% CI 3 to 24), McNemar p = 0.031, 30 paired starts (5 only A, 1 only B)'."""
    low, high = summary["ci95_points"]
    return (f"{a} - {b}: {summary['difference_points']:+.0f} points (95% CI {low:.0f} to {high:.0f}), "
            f"McNemar p = {summary['mcnemar_p']:.3g}, {summary['pairs']} paired starts "
            f"({summary['only_a']} only {a}, {summary['only_b']} only {b})")


def newcombe_unpaired_interval(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                               z: float = Z95) -> tuple[float, float]:
    """95% interval of rate(A) - rate(B) for independent samples (other starts), as fractions (Newcombe's hybrid)."""
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    low_a, high_a = wilson_interval(successes_a, trials_a, z)
    low_b, high_b = wilson_interval(successes_b, trials_b, z)
    diff = p_a - p_b
    return (max(-1.0, diff - math.hypot(p_a - low_a, high_b - p_b)),
            min(1.0, diff + math.hypot(high_a - p_a, p_b - low_b)))


def unpaired_difference(a: dict, b: dict) -> dict:
    """Two success summaries from different starts: the difference in points and its 95% interval."""
    low, high = newcombe_unpaired_interval(a["successes"], a["episodes"], b["successes"], b["episodes"])
    return {"difference_points": round(a["pc_success"] - b["pc_success"], 2),
            "ci95_points": [round(100.0 * low, 2), round(100.0 * high, 2)]}
