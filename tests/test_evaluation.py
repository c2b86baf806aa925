"""Honest evaluation: Wilson intervals, identical rollouts counted once, furthest stages, pose sets, the ETA line."""

import json
import math

import numpy as np
import pytest
import torch

from lerobot_notebook_pipeline import steps
from lerobot_notebook_pipeline.evaluation import compare, rollout, success
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import poses

torch.set_num_threads(1)
pytest_plugins = ("policy_fixtures",)  # tiny policies, built once per session


# ------------------------------------------------------------------------------------------ Wilson interval

@pytest.mark.parametrize("hits, trials, low, high", [
    (16, 20, 58.40, 91.93),  # the 16/20 of the varied-demo recipe: 58 to 92%
    (18, 20, 69.90, 97.21),
    (0, 5, 0.0, 43.45),
    (5, 5, 56.55, 100.0),
    (1, 1, 20.65, 100.0),
])
def test_wilson_interval_matches_known_values(hits, trials, low, high):
    summary = success.success_summary(hits, trials)
    assert summary["ci95"] == pytest.approx([low, high], abs=0.01)
    assert summary["successes"] == hits and summary["episodes"] == trials
    assert summary["pc_success"] == pytest.approx(100 * hits / trials)


def test_no_trials_means_no_rate_and_the_widest_interval():
    summary = success.success_summary(0, 0)
    assert math.isnan(summary["pc_success"]) and summary["ci95"] == [0.0, 100.0]
    with pytest.raises(ValueError):
        success.wilson_interval(3, 2)


def test_format_rate_shows_count_and_interval():
    assert success.format_rate(success.success_summary(16, 20)) == "16/20 = 80.0% (95% CI 58-92%)"


# ------------------------------------------------------------------------------------ distinct trials

def row(initial, rewards, actions, ok=False):
    initial_id = success.fingerprint(initial)
    return {"success": ok, "stage": success.furthest_stage(rewards), "initial_condition_id": initial_id,
            "trial_id": success.fingerprint(initial, rewards, actions)}


def test_identical_rollouts_are_one_trial_and_a_different_rollout_from_the_same_start_is_another():
    same = [row([0.1, 0.5], [0, 1, 2], [[0.1], [0.2], [0.3]]) for _ in range(5)]
    stochastic = row([0.1, 0.5], [0, 1, 4], [[0.1], [0.25], [0.3]], ok=True)
    elsewhere = row([0.12, 0.5], [0, 1, 2], [[0.1], [0.2], [0.3]])
    summary = success.evaluation_summary(same, "transfer_cube")
    assert (summary["rollouts"], summary["episodes"], summary["distinct_initial_conditions"]) == (5, 1, 1)
    assert success.format_trials(summary) == "5 rollouts from 1 distinct initial state: 1 trial (identical rollouts counted once)"
    summary = success.evaluation_summary(same + [stochastic, elsewhere], "transfer_cube")
    assert (summary["rollouts"], summary["episodes"], summary["distinct_initial_conditions"]) == (7, 3, 2)
    assert summary["successes"] == 1 and summary["ci95"] == success.success_summary(1, 3)["ci95"]
    assert summary["stages"] == {"handed over": 1, "lifted, not handed over": 2}


def test_fingerprint_ignores_float_noise_below_its_rounding():
    assert success.fingerprint([0.1, -0.0]) == success.fingerprint([0.1 + 1e-9, 0.0])
    assert success.fingerprint([0.1]) != success.fingerprint([0.1001])
    assert success.fingerprint([1.0, 2.0]) != success.fingerprint([[1.0], [2.0]])  # the shape counts too


def test_five_rollouts_of_a_deterministic_policy_from_one_pose_are_one_trial(tiny_aloha_policy):
    loaded = rollout.load_policy(tiny_aloha_policy, "cpu")
    env = rollout.make_vector_env("aloha_transfer_cube", 1, max_steps=4, image_size=(48, 64), cube_pose=(0.1, 0.5))
    try:
        episodes, adapter = [], None
        for seed in range(5):  # different seeds, same pose: the seed does not matter at a fixed pose
            done, adapter = rollout.rollout_batch(env, loaded, [seed], adapter=adapter, render=False)
            episodes += done
        moved, _ = rollout.rollout_batch(env, loaded, [0], adapter=adapter, render=False, poses=[(0.12, 0.48)])
    finally:
        env.close()
    metrics = rollout.summarize_episodes(episodes, "transfer_cube")
    assert metrics["n_episodes"] == 5 and metrics["rollouts"] == 5
    assert metrics["episodes"] == 1 and metrics["distinct_initial_conditions"] == 1
    assert metrics["stages"] == {"never touched": 1} and metrics["per_episode"][0]["stage_name"] == "never touched"
    assert moved[0].object_pose[:2] == pytest.approx([0.12, 0.48])
    metrics = rollout.summarize_episodes(episodes + moved, "transfer_cube")
    assert metrics["episodes"] == 2 and metrics["distinct_initial_conditions"] == 2


# ------------------------------------------------------------------------------------------ furthest stage

def test_the_scripted_expert_reaches_stage_4_and_a_truncated_run_stops_earlier():
    from lerobot_notebook_pipeline.sim.aloha_env import make_env
    from lerobot_notebook_pipeline.sim.aloha_expert import POLICIES, run_episode

    env = make_env("transfer_cube", image_size=(24, 32), cube_pose=(0.1, 0.5), max_steps=100)
    try:
        policy = POLICIES["transfer_cube"](env, 100)
        rewards = run_episode(env, policy, seed=0)[3]
    finally:
        env.close()
    assert success.furthest_stage(rewards) == 4
    lifted = int(np.argmax(rewards >= 2))
    truncated = rewards[:lifted + 1]
    assert success.furthest_stage(truncated) == 2
    full = rollout.Episode(seed=0, rewards=list(rewards), success=True)
    cut = rollout.Episode(seed=0, rewards=list(truncated))
    metrics = rollout.summarize_episodes([full, cut], "transfer_cube")
    assert [e["stage"] for e in metrics["per_episode"]] == [4, 2]
    assert metrics["stages"] == {"handed over": 1, "lifted, not handed over": 1}
    assert success.format_stages(metrics["stages"]) == "1 handed over; 1 lifted, not handed over"
    assert "stages" not in rollout.summarize_episodes([full], "pusht")  # no stages for a task without them


# ------------------------------------------------------------------------------------------ pose sets

def test_grid_and_ring_poses():
    grid = poses.grid_poses((0.0, 0.2, 0.4, 0.6), 3, 2)
    np.testing.assert_allclose(grid, [(0.0, 0.4), (0.1, 0.4), (0.2, 0.4), (0.0, 0.6), (0.1, 0.6), (0.2, 0.6)])
    ring = poses.ring_poses((0.1, 0.5), 0.03, 8)
    assert len(set(ring)) == 8 and ring[0] == pytest.approx((0.13, 0.5))
    assert [math.dist(p, (0.1, 0.5)) for p in ring] == pytest.approx([0.03] * 8)
    with pytest.raises(UserError, match="--pose-grid"):
        poses.grid_poses((0, 1, 0, 1), 0, 2)


def test_training_range_and_positions_from_sim_settings(tmp_path):
    varied = {"pose_range": [0.085, 0.115, 0.485, 0.515], "cube_pose": None,
              "episodes": [{"object_pose": [0.09, 0.49, 0.05, 1, 0, 0, 0]}, {"object_pose": [0.11, 0.51, 0.05, 1, 0, 0, 0]}]}
    assert poses.training_range(varied) == pytest.approx((0.085, 0.115, 0.485, 0.515))
    assert poses.range_centre(poses.training_range(varied)) == pytest.approx((0.1, 0.5))
    assert poses.training_positions(varied) == [(0.09, 0.49), (0.11, 0.51)]
    assert poses.training_range({"cube_pose": [0.1, 0.5], "pose_range": None}) == (0.1, 0.1, 0.5, 0.5)
    assert poses.training_range(None) is None and poses.training_positions(None) == []
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "sim_settings.json").write_text(json.dumps(varied))
    assert poses.read_settings(tmp_path) == varied == poses.read_settings(tmp_path / "meta" / "sim_settings.json")
    with pytest.raises(UserError, match="sim_settings.json"):
        poses.read_settings(tmp_path / "meta")


# ------------------------------------------------------------------------- reports carry counts and CIs

def test_comparison_rows_and_table_carry_count_and_interval():
    metrics = {**success.success_summary(4, 5), "distinct_initial_conditions": 5, "stages": {"handed over": 4},
               "inference": {"all": {"p50_ms": 1.0}, "effective_hz": 60.0, "control_hz": 50.0, "keeps_up": True}}
    summary = {"parameters": 1e6, "s_per_step": 0.1, "best": {}}
    row = compare.comparison_row("act", summary, metrics)
    assert {k: row[k] for k in ("successes", "episodes", "ci95")} == {"successes": 4, "episodes": 5,
                                                                     "ci95": metrics["ci95"]}
    assert "4/5 = 80.0% (95% CI 38-96%)" in compare.markdown_table([row])
    compare.comparison_figure([row])


# ------------------------------------------------------------------------------------------ the ETA line

def test_eta_waits_for_two_timed_windows_then_says_when_the_run_ends(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert steps.measured_step_s(path) is None
    path.write_text(json.dumps({"step": 10, "step_s": 0.9}) + "\n")
    assert steps.measured_step_s(path) is None  # the first window includes the warm-up
    path.write_text(path.read_text() + json.dumps({"step": 10, "val_loss": 1.0}) + "\n"
                    + json.dumps({"step": 20, "step_s": 0.4}) + "\n")
    assert steps.measured_step_s(path) == (20, 0.4)
    line = steps.eta_line(20, 0.4, 2500, elapsed_s=120, rest_s=240)
    # 2480 steps left at 0.4 s + 4 min of rollouts + 2 min so far = 22.5 min
    assert "0.40 s/step: 2500 steps take about 17 min" in line and "whole run should take about 23 min" in line
