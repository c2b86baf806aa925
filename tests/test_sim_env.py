"""The fast ALOHA env: gym-aloha's observation format, seeded poses, same physics and pixels as stock."""

import numpy as np
import pytest

import lerobot_notebook_pipeline  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim.aloha_env import (
    SIM_SETTINGS_FILE,
    env_from_settings,
    make_env,
    read_sim_settings,
    write_sim_settings,
)


def test_observation_format_and_truncation():
    env = make_env("transfer_cube", image_size=(48, 64), max_steps=3)
    obs, info = env.reset(seed=0)
    assert obs["pixels"]["top"].shape == (48, 64, 3) and obs["pixels"]["top"].dtype == np.uint8
    assert obs["agent_pos"].shape == (14,) and obs["agent_pos"].dtype == np.float64
    assert env.observation_space.contains(obs)
    assert info["is_success"] is False
    hold = obs["agent_pos"].copy()
    flags = [env.step(hold)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert env.render().shape == (48, 64, 3)


def test_seeded_pose_matches_gym_aloha_and_fixed_pose():
    from gym_aloha.utils import sample_box_pose

    env = make_env("transfer_cube", image_size=(24, 32))
    env.reset(seed=7)
    np.testing.assert_allclose(env.unwrapped.object_pose(), sample_box_pose(7), atol=1e-9)
    env.reset(seed=8)
    assert not np.allclose(env.unwrapped.object_pose()[:2], sample_box_pose(7)[:2])

    fixed = make_env("transfer_cube", image_size=(24, 32), cube_pose=(0.1, 0.5))
    for seed in (1, 2):
        fixed.reset(seed=seed)
        np.testing.assert_allclose(fixed.unwrapped.object_pose()[:3], [0.1, 0.5, 0.05])
    ranged = make_env("insertion", image_size=(24, 32), pose_range=(0.0, 0.01, 0.5, 0.51))
    ranged.reset(seed=3)
    pose = ranged.unwrapped.object_pose()
    assert pose.shape == (14,) and 0.0 <= pose[0] <= 0.01 and 0.5 <= pose[1] <= 0.51 and -0.01 <= pose[7] <= 0.0


def test_stock_quality_matches_gym_aloha_pixels_and_physics():
    import gym_aloha  # noqa: F401
    import gymnasium as gym

    stock = gym.make("gym_aloha/AlohaTransferCube-v0", obs_type="pixels_agent_pos").unwrapped
    ours = make_env("transfer_cube", render_quality="stock")
    a, _ = stock.reset(seed=3)
    b, _ = ours.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        action = a["agent_pos"] + rng.normal(0, 0.05, 14)
        a, ra, *_ = stock.step(action)
        b, rb, *_ = ours.step(action)
    assert ra == rb
    np.testing.assert_array_equal(a["agent_pos"], b["agent_pos"])
    np.testing.assert_array_equal(a["pixels"]["top"], b["pixels"]["top"])
    fast = make_env("transfer_cube", render_quality="fast")
    fast.reset(seed=3)
    assert fast.render().shape == (480, 640, 3)


def test_bad_task_and_quality_are_user_errors():
    with pytest.raises(UserError, match="unknown task"):
        make_env("stacking")
    with pytest.raises(UserError, match="render quality"):
        make_env("transfer_cube", render_quality="ultra")


def test_sim_settings_roundtrip(tmp_path):
    assert read_sim_settings(tmp_path) is None
    settings = {"task": "insertion", "image_size": [48, 64], "render_quality": "fast", "cube_pose": None,
                "pose_range": None, "waypoint_noise": 0.0, "seed": 0, "fps": 50, "episode_length": 80}
    path = write_sim_settings(tmp_path, settings)
    assert path == tmp_path / SIM_SETTINGS_FILE
    assert read_sim_settings(tmp_path) == settings
    env = env_from_settings(settings)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"]["top"].shape == (48, 64, 3) and env.max_steps == 80 and env.task_name == "insertion"


@pytest.mark.parametrize("task,length,seeds", [("transfer_cube", 100, (0, 1, 2)), ("insertion", 400, (0, 1))])
def test_scripted_policy_reaches_max_reward_without_rendering(task, length, seeds):
    from lerobot_notebook_pipeline.sim.aloha_expert import POLICIES, run_episode

    env = make_env(task, image_size=(24, 32))
    for seed in seeds:
        actions, states, images, rewards = run_episode(env, POLICIES[task](env, length, seed=seed), seed)
        assert images is None and actions.shape == (length, 14) and states.shape == (length, 14)
        assert rewards.max() == 4, f"{task} seed {seed}: max reward {rewards.max()}"
        assert env.unwrapped._renderer is None  # the planning pass never renders
