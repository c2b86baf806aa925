"""Success rates that say how sure they are: counts, the Wilson 95% interval, and distinct trials."""

from __future__ import annotations

import math

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
