"""Rollouts, observation matching, inference latency and open-loop replay, with real lerobot policies and MuJoCo."""

import json

import numpy as np
import pytest
import torch

from lerobot_notebook_pipeline.evaluation import openloop, rollout
from lerobot_notebook_pipeline.evaluation.inference import LatencyLog, latency_verdict, summarize_latency
from lerobot_notebook_pipeline.runtime import UserError

torch.set_num_threads(1)
pytest_plugins = ("policy_fixtures",)  # tiny policies and datasets, built once per session


# ------------------------------------------------------------------------------------ observation matching

def test_adapter_passes_matching_observations_through():
    adapter = rollout.plan_observation_adapter({"observation.state": (14,), "observation.images.top": (3, 48, 64)},
                                               {"observation.state": (14,), "observation.images.top": (3, 48, 64)})
    assert not adapter.renames and not adapter.resizes


def test_adapter_resizes_to_the_trained_size_and_renames_a_single_camera():
    adapter = rollout.plan_observation_adapter({"observation.state": (14,), "observation.images.cam": (3, 96, 128)},
                                               {"observation.state": (14,), "observation.images.top": (3, 480, 640)})
    assert adapter.renames == {"observation.images.top": "observation.images.cam"}
    assert adapter.resizes == {"observation.images.cam": (96, 128)}
    out = adapter({"observation.state": torch.zeros(2, 14), "observation.images.top": torch.rand(2, 3, 480, 640)})
    assert tuple(out["observation.images.cam"].shape) == (2, 3, 96, 128)
    assert "observation.images.top" not in out


@pytest.mark.parametrize("policy_inputs, env_inputs, words", [
    ({"observation.images.top": (3, 96, 96)}, {"observation.images.top": (3, 480, 640)}, "distort"),
    ({"observation.state": (6,)}, {"observation.state": (14,)}, "state sizes must match"),
    ({"observation.images.a": (3, 8, 8), "observation.images.b": (3, 8, 8)}, {"observation.images.c": (3, 8, 8)},
     "expects camera"),
    ({"observation.environment_state": (16,)}, {"observation.state": (2,)}, "does not provide"),
])
def test_adapter_refuses_unsafe_mismatches(policy_inputs, env_inputs, words):
    with pytest.raises(UserError, match=words):
        rollout.plan_observation_adapter(policy_inputs, env_inputs)


def test_action_dim_mismatch_is_refused():
    with pytest.raises(UserError, match="2-dim actions but the env takes 14"):
        rollout.check_action_dim(2, 14)


def test_resolve_policy_dir(tmp_path, tiny_aloha_policy):
    assert rollout.resolve_policy_dir(tiny_aloha_policy) == tiny_aloha_policy
    run = tmp_path / "run"
    run.mkdir()
    (run / "pretrained_model").symlink_to(tiny_aloha_policy, target_is_directory=True)
    assert rollout.resolve_policy_dir(run) == run / "pretrained_model"
    with pytest.raises(UserError, match="holds no policy checkpoint"):
        rollout.resolve_policy_dir(tmp_path)
    with pytest.raises(UserError, match="neither an existing folder"):
        rollout.resolve_policy_dir(tmp_path / "missing" / "dir")


def test_run_name():
    assert rollout.run_name("outputs/train/act_cube/checkpoints/000500/pretrained_model", "pusht") == "act_cube_000500_pusht"
    assert rollout.run_name("/x/my_policy", "aloha_insertion") == "my_policy_aloha_insertion"


# ------------------------------------------------------------------------------------------ inference speed

def test_latency_summary_splits_chunk_and_queued_calls():
    seconds = [0.1, 0.001, 0.001, 0.001, 0.1, 0.001, 0.001, 0.001]
    chunk = [True, False, False, False, True, False, False, False]
    s = summarize_latency(seconds, chunk, control_hz=30)
    assert s["new_chunk"]["calls"] == 2 and s["queued"]["calls"] == 6
    assert s["new_chunk"]["p50_ms"] == pytest.approx(100.0)
    assert s["queued"]["p95_ms"] == pytest.approx(1.0)
    assert s["effective_hz"] == pytest.approx(8 / 0.206, rel=1e-3)
    assert s["actions_per_chunk"] == 4.0
    # 38.8 actions/s >= 30 Hz, but a 100 ms chunk call is longer than the 33 ms period: not keeping up.
    assert s["keeps_up"] is False and "stalls" in s["verdict"]


def test_latency_verdicts():
    fast = summarize_latency([0.002] * 10, [True] * 10, control_hz=50)
    assert fast["keeps_up"] and fast["verdict"].startswith("keeps up")
    slow = summarize_latency([0.05] * 10, [True] * 10, control_hz=50)
    assert not slow["keeps_up"] and slow["verdict"].startswith("too slow")
    assert latency_verdict({"effective_hz": 1, "new_chunk": {"calls": 0}, "all": {"p95_ms": None}}, 10)[0] is False


def test_latency_log_sees_the_act_action_queue(tiny_aloha_policy):
    loaded = rollout.load_policy(tiny_aloha_policy, "cpu")
    batch = loaded.preprocessor({"observation.state": torch.zeros(1, 14),
                                 "observation.images.top": torch.rand(1, 3, 48, 64), "task": [""]})
    log = LatencyLog()
    loaded.policy.reset()
    for _ in range(12):
        log.select_action(loaded.policy, batch)
    # chunk_size = n_action_steps = 5: a new chunk at calls 0, 5 and 10
    assert log.new_chunk == [i % 5 == 0 for i in range(12)]


# ---------------------------------------------------------------------------------------------- rollouts

def test_rollout_in_fast_aloha_env(tiny_aloha_policy):
    loaded = rollout.load_policy(tiny_aloha_policy, "cpu")
    env = rollout.make_vector_env("aloha_transfer_cube", 1, max_steps=6, image_size=(48, 64))
    try:
        episodes, adapter = rollout.rollout_batch(env, loaded, [7])
        again, _ = rollout.rollout_batch(env, loaded, [7], adapter=adapter, render=False)
    finally:
        env.close()
    episode = episodes[0]
    assert len(episode.rewards) == 6 and len(episode.actions) == 6 and len(episode.frames) == 7
    assert episode.frames[0].shape == (48, 64, 3) and episode.frames[0].dtype == np.uint8
    assert np.asarray(episode.actions).shape == (6, 14)
    assert len(episode.as_metrics(0)["object_pose"]) == 7  # cube xyz + quaternion, from the env's reset info
    # same seed, deterministic ACT: the same actions again
    np.testing.assert_allclose(np.asarray(again[0].actions), np.asarray(episode.actions), atol=1e-5)
    metrics = rollout.summarize_episodes(episodes + again)
    assert set(metrics) >= {"pc_success", "avg_sum_reward", "avg_max_reward", "per_episode"}
    assert [e["seed"] for e in metrics["per_episode"]] == [7, 7]
    assert set(metrics["per_episode"][0]) >= {"sum_reward", "max_reward", "success", "seed"}


def test_metrics_use_lerobot_eval_definitions():
    a = rollout.Episode(seed=3, rewards=[0.0, 1.0, 4.0], success=True)
    b = rollout.Episode(seed=4, rewards=[0.5, 0.25], success=False)
    m = rollout.summarize_episodes([a, b])
    assert m["pc_success"] == 50.0 and (m["successes"], m["episodes"], m["n_episodes"]) == (1, 2, 2)
    assert m["ci95"] == pytest.approx([9.45, 90.55], abs=0.01)
    assert m["avg_sum_reward"] == pytest.approx((5.0 + 0.75) / 2)
    assert m["avg_max_reward"] == pytest.approx((4.0 + 0.5) / 2)
    row = m["per_episode"][1]
    assert {k: row[k] for k in ("episode_ix", "seed", "sum_reward", "max_reward", "success", "steps")} == {
        "episode_ix": 1, "seed": 4, "sum_reward": 0.75, "max_reward": 0.5, "success": False, "steps": 2}
    assert row["trial_id"] != m["per_episode"][0]["trial_id"]


def test_parallel_envs_match_sequential_episodes(tiny_pusht_policy):
    """--num-envs 2 (subprocess vector env, batched policy) scores each seed like a one-env rollout."""
    loaded = rollout.load_policy(tiny_pusht_policy, "cpu")
    single = rollout.make_vector_env("pusht", 1, max_steps=15)
    try:
        sequential = [rollout.rollout_batch(single, loaded, [s], render=False)[0][0] for s in (0, 6)]
    finally:
        single.close()
    pair = rollout.make_vector_env("pusht", 2, max_steps=15)
    try:
        parallel, _ = rollout.rollout_batch(pair, loaded, [0, 6])
    finally:
        pair.close()
    assert sequential[0].sum_reward > 0  # seed 0 overlaps the goal: a non-trivial reward to compare
    for s, p in zip(sequential, parallel, strict=True):
        assert p.seed == s.seed and len(p.rewards) == len(s.rewards)
        assert p.sum_reward == pytest.approx(s.sum_reward, rel=1e-4, abs=1e-6)
        assert len(p.frames) == len(p.rewards) + 1


# ------------------------------------------------------------------------------------------ open-loop replay

def direct_replay(dataset_root, policy_dir, episode):
    """Predicted and recorded actions computed straight with lerobot's own API, for comparison."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    policy = ACTPolicy.from_pretrained(policy_dir).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(policy_dir))
    dataset = LeRobotDataset("local/x", root=dataset_root, episodes=[episode], video_backend="pyav")
    predicted, recorded = [], []
    for i in range(len(dataset)):
        item = dataset[i]
        batch = pre({"observation.state": item["observation.state"][None],
                     "observation.images.top": item["observation.images.top"][None], "task": [item["task"]]})
        with torch.inference_mode():
            predicted.append(post(policy.select_action(batch))[0].numpy())
        recorded.append(item["action"].numpy())
    return np.asarray(predicted), np.asarray(recorded)


def test_openloop_mae_matches_a_direct_computation(synthetic_replay):
    root, policy_dir = synthetic_replay
    loaded = rollout.load_policy(policy_dir, "cpu")
    replay = openloop.replay_episode(loaded, openloop.open_episode(str(root), 1))
    predicted, recorded = direct_replay(root, policy_dir, 1)
    np.testing.assert_allclose(replay.recorded, recorded, atol=1e-6)
    np.testing.assert_allclose(replay.predicted, predicted, atol=1e-5)
    expected = np.abs(predicted - recorded).mean(axis=0)
    mae = replay.mae()
    assert list(mae) == [f"j{i}" for i in range(6)]
    np.testing.assert_allclose(list(mae.values()), expected, rtol=1e-5)
    assert len(replay.frames) == 12 and replay.frames[0].shape == (24, 32, 3)
    panel = openloop.replay_panel(replay, height=240, width=320)
    assert panel.image.shape == (240, 320, 3) and len(panel.boxes) == 6


def test_openloop_refuses_a_missing_episode(synthetic_replay):
    with pytest.raises(UserError, match="episodes 0..1"):
        openloop.open_episode(str(synthetic_replay[0]), 5)


def test_rollout_refuses_a_policy_for_another_env(tiny_aloha_policy):
    loaded = rollout.load_policy(tiny_aloha_policy, "cpu")
    env = rollout.make_vector_env("pusht", 1, max_steps=3)
    try:
        with pytest.raises(UserError, match="14-dim actions but the env takes 2"):
            rollout.rollout_batch(env, loaded, [0])
    finally:
        env.close()


def test_env_settings_come_from_flags_then_training_data_then_defaults():
    spec = rollout.env_spec("aloha_transfer_cube")
    settings = {"image_size": [96, 128], "render_quality": "fast", "cube_pose": [0.1, 0.5], "episode_length": 300}
    assert rollout.env_kwargs_for(spec, settings) == {"max_steps": 300, "render_quality": "fast",
                                                      "image_size": (96, 128), "cube_pose": [0.1, 0.5],
                                                      "pose_range": None}
    flagged = rollout.env_kwargs_for(spec, settings, max_steps=50, render_quality="stock", image_size=[480, 640],
                                     cube_pose=[0.05, 0.45])
    assert flagged == {"max_steps": 50, "render_quality": "stock", "image_size": (480, 640),
                       "cube_pose": (0.05, 0.45), "pose_range": None}
    assert rollout.env_kwargs_for(spec, None)["image_size"] == (480, 640)
    moved = rollout.env_kwargs_for(spec, None, cube_pose=[0.1, 0.5], pose_radius=0.02)
    assert moved["cube_pose"] is None and moved["pose_range"] == pytest.approx((0.08, 0.12, 0.48, 0.52))
    with pytest.raises(UserError, match="needs --cube-pose"):
        rollout.env_kwargs_for(spec, None, pose_radius=0.02)
    with pytest.raises(UserError, match="aloha and so101_pick_place envs only"):
        rollout.env_kwargs_for(rollout.env_spec("pusht"), None, cube_pose=[0.1, 0.5])
    assert rollout.guess_env({"observation.state": (2,)}, None) == "pusht"
    assert rollout.guess_env({"observation.state": (14,)}, {"task": "insertion"}) == "aloha_insertion"
    with pytest.raises(UserError, match="pass --env"):
        rollout.guess_env({"observation.state": (6,)}, None)


def test_sim_settings_are_found_through_the_checkpoint(tmp_path):
    from lerobot_notebook_pipeline.sim.aloha_env import write_sim_settings

    data = tmp_path / "data"
    (data / "meta").mkdir(parents=True)
    (data / "meta" / "info.json").write_text("{}")
    write_sim_settings(data, {"task": "insertion", "image_size": [96, 128], "render_quality": "fast"})
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert rollout.sim_settings_for(ckpt) is None
    (ckpt / "train_args.json").write_text(json.dumps({"dataset": str(data)}))  # train.py's record
    assert rollout.sim_settings_for(ckpt)["task"] == "insertion"
    (ckpt / "train_args.json").unlink()
    (ckpt / "train_config.json").write_text(json.dumps({"dataset": {"repo_id": "local/x", "root": str(data)}}))
    assert rollout.training_dataset_root(ckpt) == data


def test_hub_policy_without_network_names_the_local_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="local checkpoint folder"):
        rollout.resolve_policy_dir("lerobot/act_aloha_sim_transfer_cube_human")
