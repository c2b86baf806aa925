"""Paired comparisons: Newcombe's interval against the paper's worked example, McNemar's exact p, the table."""

import math

import numpy as np
import pytest

from lerobot_notebook_pipeline.evaluation import paired


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Table II, example (a): 36 both, 12 only first, 2 only second, 0 neither -> +0.0569 to +0.3404.
    low, high = paired.newcombe_paired_interval(36, 12, 2, 0)
    assert (round(low, 4), round(high, 4)) == (0.0569, 0.3404)


def test_newcombe_interval_is_antisymmetric_and_holds_the_difference():
    low, high = paired.newcombe_paired_interval(10, 7, 2, 11)
    swapped = paired.newcombe_paired_interval(10, 2, 7, 11)
    assert swapped == pytest.approx((-high, -low))
    assert low < (7 - 2) / 30 < high
    assert paired.newcombe_paired_interval(5, 3, 3, 9)[0] == pytest.approx(-paired.newcombe_paired_interval(5, 3, 3, 9)[1])


def test_newcombe_interval_covers_about_95_percent():
    rng = np.random.default_rng(0)
    cell_p = np.array([0.45, 0.25, 0.1, 0.2])  # true difference 0.15
    hits = 0
    for _ in range(2000):
        low, high = paired.newcombe_paired_interval(*rng.multinomial(40, cell_p))
        hits += low <= 0.15 <= high
    assert 0.93 <= hits / 2000 <= 0.98


def test_mcnemar_exact_p_is_the_binomial_test_of_discordant_pairs():
    assert paired.mcnemar_exact_p(0, 0) == 1.0
    assert paired.mcnemar_exact_p(5, 0) == pytest.approx(2 * 0.5 ** 5)  # all 5 discordant pairs one way
    assert paired.mcnemar_exact_p(12, 2) == pytest.approx(2 * sum(math.comb(14, k) for k in range(3)) / 2 ** 14)


def test_paired_comparison_counts_by_start_and_refuses_unpaired_outcomes():
    a = [True, True, False, True, False, True]
    b = [True, False, False, False, True, True]
    summary = paired.paired_comparison(a, b)
    assert (summary["both"], summary["only_a"], summary["only_b"], summary["neither"]) == (2, 2, 1, 1)
    assert summary["difference_points"] == pytest.approx(100 / 6, abs=0.01)
    low, high = summary["ci95_points"]
    assert low < summary["difference_points"] < high
    assert "2 only A, 1 only B" in paired.format_comparison(summary)
    with pytest.raises(ValueError, match="same starts"):
        paired.paired_comparison(a, b[:-1])


def test_rollouts_pair_by_start_and_a_repeated_start_counts_once():
    a = [{"seed": 1, "object_pose": [0.1, 0.2], "success": True}, {"seed": 2, "object_pose": [0.0, 0.3], "success": False},
         {"seed": 3, "object_pose": [0.1, 0.2], "success": True}]
    b = [{"seed": 9, "object_pose": [0.0, 0.3], "success": True}, {"seed": 8, "object_pose": [0.1, 0.2], "success": False}]
    assert paired.paired_outcomes(a, b) == ([True, False], [False, True])
    with pytest.raises(ValueError, match="same starts"):
        paired.paired_outcomes(a, [{"seed": 1, "success": True}])


def test_unpaired_interval_matches_newcombes_independent_example():
    # Newcombe (1998, independent proportions), method 10 on 56/70 against 48/80: +0.0524 to +0.3339.
    low, high = paired.newcombe_unpaired_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
