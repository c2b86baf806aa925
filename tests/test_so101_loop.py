"""The SO-101 pick and place through the loop: rollouts with both cameras, perturbations, training with train.py
and lerobot-train, and lerobot's own env factory, rollout and lerobot-eval on the same env."""

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, run_script
from lerobot_notebook_pipeline.evaluation import rollout, success
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import so101_env
from lerobot_notebook_pipeline.sim.so101_placement import REACH_XY
from lerobot_notebook_pipeline.sim.so101_scene import TARGET_XY

pytest_plugins = ("policy_fixtures",)
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline",
       "OMP_NUM_THREADS": "1"}
SMALL = (24, 32)
POSE = (0.23, 0.04)
SPEC = rollout.env_spec("so101_pick_place")
SETTINGS = {"task": "pick_place", "robot": "so101", "image_size": [48, 64], "render_quality": "fast", "cube_pose": None,
            "pose_range": None, "marks": 2, "placement_noise": 0.0, "cameras": ["front", "wrist"], "episode_length": 90}


def run(cmd, cwd=ROOT, timeout=300):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out


@pytest.fixture(scope="module")
def so101_dataset(tmp_path_factory) -> Path:
    """Two scripted pick-and-place episodes of 120 frames at 48x64, recorded by make_sim_dataset.py --robot so101."""
    root = tmp_path_factory.mktemp("so101") / "pick_place"
    assert run_script("make_sim_dataset.py", "--robot", "so101", "--episodes", 2, "--episode-length", 120,
                      "--image-size", 48, 64, "--root", root).returncode == 0
    return root


@pytest.fixture(scope="module")
def so101_checkpoint(so101_dataset, tmp_path_factory) -> Path:
    """A train.py --preset tiny ACT after 2 steps on the SO-101 recording."""
    out = tmp_path_factory.mktemp("so101_train") / "run"
    assert run_script("train.py", "--dataset", so101_dataset, "--policy", "act", "--preset", "tiny", "--steps", 2,
                      "--batch-size", 2, "--val-every", 2, "--val-samples", 4, "--output-dir", out,
                      "--threads", 1).returncode == 0
    return out / "checkpoints" / "last" / "pretrained_model"


@pytest.fixture(scope="module")
def base_env():
    env = so101_env.make_env(image_size=SMALL, cube_pose=POSE)
    yield env
    env.close()


# ------------------------------------------------------------------------------------------------- rollouts

def test_rollout_settings_come_from_the_so101_recording_and_flags_override_them():
    assert rollout.guess_env({"observation.state": (6,)}, SETTINGS) == "so101_pick_place"
    assert (SPEC.fps, SPEC.max_steps, SPEC.description) == (30, 300, so101_env.TASK_STRING)
    assert success.STAGES[SPEC.task] == so101_env.STAGES
    assert rollout.env_kwargs_for(SPEC, SETTINGS) == {
        "max_steps": 90, "render_quality": "fast", "image_size": (48, 64), "cube_pose": None, "pose_range": None,
        "cameras": ("front", "wrist"), "marks": 2, "placement_noise": 0.0}
    flagged = rollout.env_kwargs_for(SPEC, SETTINGS, max_steps=10, render_quality="stock", image_size=[24, 32],
                                     cube_pose=[0.2, 0.05], pose_radius=0.01, perturb={"light_scale": 0.5})
    assert flagged["cube_pose"] is None and flagged["pose_range"] == pytest.approx((0.19, 0.21, 0.04, 0.06))
    assert (flagged["max_steps"], flagged["render_quality"], flagged["image_size"]) == (10, "stock", (24, 32))
    assert flagged["perturb"] == {"light_scale": 0.5}
    with pytest.raises(UserError, match="off the table"):  # on ALOHA's table, not on the SO-101's
        rollout.env_kwargs_for(SPEC, None, cube_pose=[0.1, 0.5])
    assert rollout.lerobot_eval_flags(SPEC, rollout.env_kwargs_for(SPEC, SETTINGS, cube_pose=[0.2, 0.05])) == [
        "--env.type=so101_pick_place", "--env.observation_height=48", "--env.observation_width=64",
        "--env.episode_length=90", "--env.render_quality=fast", "--env.cameras=[front,wrist]", "--env.marks=2",
        "--env.placement_noise=0", "--env.cube_pose=[0.2,0.05]"]
    assert rollout.lerobot_eval_flags(rollout.env_spec("aloha_transfer_cube"), {}) is None
    assert rollout.pose_grid_range(SPEC) == REACH_XY and rollout.ring_centre(SPEC) == TARGET_XY
    with pytest.raises(UserError, match="swap the reversed pair"):
        rollout.pose_grid_range(SPEC, (0.3, 0.1, 0.0, 0.1))


def test_marks_flags_reach_the_env_and_the_training_datas_positions_do_not_win():
    """--marks and --placement-noise reach make_env and lerobot-eval, over the training data's pose_range or cube_pose."""
    spread = SETTINGS | {"pose_range": [0.26, 0.3, 0.08, 0.12]}
    assert rollout.env_kwargs_for(SPEC, spread)["pose_range"] == [0.26, 0.3, 0.08, 0.12]  # without the flags it wins
    kwargs = rollout.env_kwargs_for(SPEC, spread, marks=3, placement_noise=0.02)
    assert {k: kwargs[k] for k in ("marks", "placement_noise", "cube_pose", "pose_range")} == {
        "marks": 3, "placement_noise": 0.02, "cube_pose": None, "pose_range": None}
    env_flags = rollout.lerobot_eval_flags(SPEC, kwargs)
    assert "--env.marks=3" in env_flags and "--env.placement_noise=0.02" in env_flags
    assert not any(f.startswith(("--env.pose_range", "--env.cube_pose")) for f in env_flags)
    fixed = rollout.env_kwargs_for(SPEC, SETTINGS | {"cube_pose": [0.2, 0.05]}, placement_noise=0.01)
    assert (fixed["cube_pose"], fixed["marks"], fixed["placement_noise"]) == (None, 2, 0.01)  # the recording's 2 marks
    with pytest.raises(UserError, match="--marks puts the cube at the pencil marks and --cube-pose puts it elsewhere"):
        rollout.env_kwargs_for(SPEC, None, marks=4, cube_pose=[0.2, 0.05])
    with pytest.raises(UserError, match="--placement-noise puts the cube .* and --pose-radius"):
        rollout.env_kwargs_for(SPEC, None, placement_noise=0.01, pose_radius=0.02)
    for name in ("aloha_transfer_cube", "pusht"):
        with pytest.raises(UserError, match=f"--marks and --placement-noise apply to the so101_pick_place env only, "
                           f"not {name}"):
            rollout.env_kwargs_for(rollout.env_spec(name), None, marks=4, placement_noise=0.01)


def test_replay_baseline_starts_where_the_marks_flags_put_the_cube():
    """A marks evaluation resets the replay baseline at the cube start of --marks 4 --placement-noise 0.015 --seed S."""
    from lerobot_notebook_pipeline.evaluation.replay_baseline import evaluation_starts, reset_env
    from lerobot_notebook_pipeline.sim.so101_placement import mark_index, mark_positions

    spec = {"kind": "marks", "marks": 4, "radius": 0.015, "episodes": 4, "seed": 1000, "max_steps": 5,
            "env": SPEC.name}
    kwargs = rollout.env_kwargs_for(SPEC, SETTINGS | {"pose_range": [0.26, 0.3, 0.08, 0.12]}, image_size=(8, 8),
                                    marks=4, placement_noise=0.015)
    env = rollout.make_env(SPEC.name, **kwargs)  # as visualize_policy.py builds it, each episode reset with its seed
    try:
        ours = [env.reset(seed=seed)[1]["object_pose"] for seed in rollout.episode_seeds(1000, 4)]
    finally:
        env.close()
    theirs = []
    for placement, seed in evaluation_starts(spec):
        replay_env, _ = reset_env(spec, placement, seed, SPEC.task)
        theirs.append(replay_env.object_pose_at_reset)
        replay_env.close()
    np.testing.assert_array_equal(ours, theirs)
    marks = mark_positions(4)
    assert sorted(mark_index(p[:2], marks) for p in ours) == [0, 1, 2, 3]  # these seeds visit every mark
    assert all(np.abs(np.subtract(p[:2], marks[mark_index(p[:2], marks)])).max() <= 0.015 for p in ours)


def test_rollout_feeds_front_and_wrist_to_the_policy_and_scores_stages(tmp_path):
    from policy_fixtures import save_tiny_act

    policy = save_tiny_act(tmp_path / "act", image_size=SMALL, state_dim=6, action_dim=6, cameras=("front", "wrist"))
    loaded = rollout.load_policy(policy, "cpu")
    env = rollout.make_vector_env(SPEC.name, 1, **rollout.env_kwargs_for(SPEC, None, image_size=SMALL, max_steps=6))
    seen = []
    preprocess = loaded.preprocessor

    def spy(batch):  # what the policy gets against what the env's cameras show at that step
        frames = env.envs[0].unwrapped.render_cameras()
        seen.append({k: (batch[f"observation.images.{k}"][0].permute(1, 2, 0) * 255).round().byte().numpy()
                     for k in frames} | {"env": dict(frames)})
        return preprocess(batch)

    loaded.preprocessor = spy
    try:
        episodes, _ = rollout.rollout_batch(env, loaded, [3], SPEC.description, frame_key=SPEC.frame_key)
    finally:
        env.close()
    assert len(seen) == 6 and not np.array_equal(seen[0]["env"]["front"], seen[0]["env"]["wrist"])
    for step in seen:
        assert all(np.array_equal(step[cam], step["env"][cam]) for cam in ("front", "wrist"))
    episode = episodes[0]
    assert episode.frames[0].shape == (SMALL[0], 2 * SMALL[1], 3)  # the video: front and wrist side by side
    assert np.array_equal(episode.frames[0][:, :SMALL[1]], seen[0]["env"]["front"])
    summary = rollout.summarize_episodes(episodes, SPEC.task)
    assert sum(summary["stages"].values()) == 1 and set(summary["stages"]) <= set(so101_env.STAGES)
    assert summary["per_episode"][0]["stage_name"] in so101_env.STAGES


# ------------------------------------------------------------------------------------------- perturbations

def hold(env, steps: int = 4, action=None):
    """Frames of both cameras and states of a reset and a few steps holding one action (the state at reset)."""
    obs, _ = env.reset(seed=0)
    action = np.asarray(obs["agent_pos"] if action is None else action, dtype=np.float32)
    frames, states = [np.concatenate(list(obs["pixels"].values()), axis=1)], [obs["agent_pos"]]
    for _ in range(steps):
        obs, *_ = env.step(action)
        frames.append(np.concatenate(list(obs["pixels"].values()), axis=1))
        states.append(obs["agent_pos"])
    return np.stack(frames), np.stack(states)


def test_no_perturbation_gives_todays_physics_and_pixels(base_env):
    frames, states = hold(base_env)
    zeros = so101_env.make_env(image_size=SMALL, cube_pose=POSE,
                               perturb={"camera_shift_cm": 0, "table_height_cm": 0, "table_x_cm": 0, "obs_delay": 0})
    again = hold(zeros)
    assert np.array_equal(again[0], frames) and np.array_equal(again[1], states)
    assert np.array_equal(zeros.unwrapped.data.qpos, base_env.data.qpos)


def test_the_table_moves_with_all_on_it_and_the_arm_stays(base_env):
    moved = so101_env.make_env(image_size=SMALL, cube_pose=POSE, perturb={"table_height_cm": 2, "table_x_cm": 3})
    shift = np.array([0.03, 0.0, 0.02])
    for name in ("table", "target", "mark_0", "mark_3"):
        np.testing.assert_allclose(moved.model.geom(name).pos - base_env.model.geom(name).pos, shift, atol=1e-12)
    _, info = moved.reset(seed=0)
    base_env.reset(seed=0)
    np.testing.assert_allclose(info["object_pose"][:3] - base_env.object_pose()[:3], shift, atol=1e-12)
    for env in (moved, base_env):
        env.mujoco.mj_step(env.model, env.data, nstep=300)  # the cube settles on the (raised) table top
    np.testing.assert_allclose(moved.object_pose()[:3] - base_env.object_pose()[:3], shift, atol=0.002)
    assert moved.stage() == 0 and moved.rest_z() == pytest.approx(0.035)
    base = moved.model.body("base").id
    np.testing.assert_array_equal(moved.data.xpos[base], base_env.data.xpos[base])  # the robot's base stays
    np.testing.assert_array_equal(moved.data.cam_xpos[moved.model.camera("front").id],
                                  base_env.data.cam_xpos[base_env.model.camera("front").id])


def test_joint_offset_shifts_only_that_joint_in_degrees(base_env):
    _, today = hold(base_env)
    offset = so101_env.make_env(image_size=SMALL, cube_pose=POSE, perturb={"joint_offset": 5, "joint": 2})
    _, shifted = hold(offset, action=today[0])
    np.testing.assert_allclose(shifted - today, np.tile(np.eye(6)[2] * 5.0, (len(today), 1)), atol=1e-9)
    with pytest.raises(UserError, match="joints 0 to 5"):
        so101_env.make_env(image_size=SMALL, perturb={"joint_offset": 1, "joint": 6})


# -------------------------------------------------------------------------------------- lerobot's own rollout

class Replay(torch.nn.Module):
    """A stand-in policy for lerobot's rollout: replays precomputed actions, one per select_action."""

    def __init__(self, actions: np.ndarray):
        super().__init__()
        self.actions, self.t = torch.as_tensor(actions, dtype=torch.float32), 0

    def reset(self):
        self.t = 0

    def select_action(self, observation):
        action = self.actions[min(self.t, len(self.actions) - 1)]
        self.t += 1
        return action[None]


def test_a_scripted_episode_scores_is_success_in_lerobots_rollout(base_env):
    from lerobot.envs.factory import make_env
    from lerobot.scripts.lerobot_eval import rollout as lerobot_rollout

    from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy, run_episode
    from lerobot_notebook_pipeline.sim.so101_lerobot import SO101PickPlaceEnvConfig

    seed, length = 4, 150
    cfg = SO101PickPlaceEnvConfig(observation_height=SMALL[0], observation_width=SMALL[1], episode_length=length)
    assert (cfg.type, cfg.gym_id, cfg.fps) == (SPEC.name, SPEC.gym_id, SPEC.fps)
    vec = make_env(cfg, n_envs=1)[cfg.type][0]
    planner = vec.envs[0].unwrapped  # our expert plans on lerobot's env without rendering; lerobot's rollout resets it
    assert isinstance(planner, so101_env.SO101PickPlaceEnv)
    actions, _, _, rewards = run_episode(planner, PickPlacePolicy(planner, length), seed)
    assert rewards.max() == so101_env.MAX_REWARD
    pre, post = cfg.get_env_processors()
    identity = lambda x: x  # noqa: E731  (the replayed actions are already in the env's units)
    try:
        data = lerobot_rollout(vec, Replay(actions), pre, post, identity, identity, seeds=[seed])
    finally:
        vec.close()
    done = int(np.argmax(data["done"][0].numpy()))
    assert bool(data["success"][0, done]) and not data["success"][0, :done].any()
    assert done == int(np.argmax(rewards == so101_env.MAX_REWARD))  # the same step as our own env
    np.testing.assert_array_equal(data["reward"][0, :done + 1].numpy(), rewards[:done + 1])


# --------------------------------------------------------------------------------------------------- training

def test_lerobot_train_trains_on_the_so101_recording(so101_dataset, tmp_path):
    from test_interop import TINY_ACT

    run([BIN / "lerobot-train", "--dataset.repo_id=local/pick_place", f"--dataset.root={so101_dataset}",
         "--dataset.video_backend=pyav", *TINY_ACT, "--policy.device=cpu", "--policy.push_to_hub=false",
         "--batch_size=2", "--steps=2", "--save_freq=2", "--num_workers=0", "--wandb.enable=false",
         f"--output_dir={tmp_path / 'lerobot_run'}"])
    config = json.loads((tmp_path / "lerobot_run" / "checkpoints" / "last" / "pretrained_model" / "config.json").read_text())
    assert {k: v["shape"] for k, v in config["input_features"].items()} == {
        "observation.state": [6], "observation.images.front": [3, 48, 64], "observation.images.wrist": [3, 48, 64]}
    assert config["output_features"]["action"]["shape"] == [6]


def test_train_py_checkpoint_rolls_out_here_and_in_lerobot_eval_alike(so101_checkpoint, tmp_path):
    """The same checkpoint, seeds and env in visualize_policy.py and lerobot-eval --env.type=so101_pick_place."""
    assert importlib.metadata.distribution("lerobot_env_notebook_pipeline"), "run make setup (installs the plugin)"
    steps, seed, episodes = 12, 21, 2
    kwargs = rollout.env_kwargs_for(SPEC, rollout.sim_settings_for(so101_checkpoint), max_steps=steps,
                                    perturb={"light_scale": 0.8})
    env_flags = rollout.lerobot_eval_flags(SPEC, kwargs)  # the recording's image size, marks, noise, cameras
    assert "--env.observation_height=48" in env_flags and "--env.perturb=light_scale=0.8" in env_flags
    ensemble = ["--policy.temporal_ensemble_coeff=0.01", "--policy.n_action_steps=1"]  # the SO-101 recipe's
    theirs = subprocess.Popen([str(c) for c in [BIN / "lerobot-eval", f"--policy.path={so101_checkpoint}",
                                                "--policy.device=cpu", *env_flags, *ensemble, f"--eval.n_episodes={episodes}",
                                                "--eval.batch_size=1", f"--seed={seed}",
                                                f"--output_dir={tmp_path / 'eval'}"]],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=ENV)
    try:  # ours in this process meanwhile
        ours = run_script("visualize_policy.py", "--policy-path", so101_checkpoint, "--episodes", episodes, "--seed",
                          seed, "--max-steps", steps, "--device", "cpu", "--perturb", "light_scale=0.8",
                          "--temporal-ensemble", 0.01, "--output-dir", tmp_path / "ours")
    finally:
        eval_output, _ = theirs.communicate(timeout=300)
    assert theirs.returncode == 0, eval_output[-3000:]
    output = ours.stdout + ours.stderr
    metrics = json.loads((tmp_path / "ours" / "metrics.json").read_text())
    assert metrics["env"] == "so101_pick_place" and metrics["env_settings"]["image_size"] == [48, 64]
    assert {"successes", "episodes", "ci95", "stages"} <= set(metrics) and metrics["episodes"] == episodes
    assert metrics["inference"]["control_hz"] == 30.0 and "furthest stage:" in output
    assert (f"the same rollouts in lerobot: lerobot-eval --policy.path={so101_checkpoint} {' '.join(env_flags)} "
            f"{' '.join(ensemble)}") in output
    assert metrics["policy_overrides"] == {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1}
    assert metrics["inference"]["actions_per_chunk"] == 1.0  # ensembling predicts a chunk every step
    assert [e["seed"] for e in metrics["per_episode"]] == [seed, seed + 1]
    lerobot = json.loads((tmp_path / "eval" / "eval_info.json").read_text())["per_task"][0]["metrics"]
    mine = [(e["sum_reward"], e["max_reward"], e["success"]) for e in metrics["per_episode"]]
    assert mine == list(zip(lerobot["sum_rewards"], lerobot["max_rewards"], lerobot["successes"], strict=True))
    gif = Image.open(metrics["media"]["gif"])
    assert gif.size[0] > gif.size[1] * 2  # both cameras side by side (48x64 each)
