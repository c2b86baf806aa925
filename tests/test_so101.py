"""The SO-101 pick-and-place sim: model from the installed package, lerobot's follower schema and units,
seeded placement at the pencil marks, a scripted success, identical physics in every render quality, bad input."""

from pathlib import Path

import numpy as np
import pytest

import lerobot_notebook_pipeline  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import so101_placement as placement
from lerobot_notebook_pipeline.sim.so101_env import (
    JOINTS,
    MAX_REWARD,
    STATE_NAMES,
    from_lerobot,
    gripper_range,
    make_env,
    to_lerobot,
)
from lerobot_notebook_pipeline.sim.so101_expert import PickPlacePolicy, run_episode
from lerobot_notebook_pipeline.sim.so101_scene import TARGET_XY, model_dir

ROOT = Path(__file__).resolve().parents[1]
SMALL = (24, 32)


@pytest.fixture(scope="module")
def env():
    env = make_env(image_size=SMALL)
    yield env
    env.close()


def test_model_loads_from_the_installed_package(env):
    import so101_nexus

    folder = model_dir()
    assert folder.is_relative_to(Path(so101_nexus.__file__).parent)
    assert not any((ROOT / "lerobot_notebook_pipeline").rglob("*.stl"))  # no model files copied in here
    model = env.model
    assert [model.joint(j).name for j in JOINTS] == list(JOINTS)
    assert model.opt.timestep * env.n_substeps == pytest.approx(1 / 30)
    for name in ("table", "target", "cube", "mark_0", "mark_3"):
        assert model.geom(name).id >= 0
    assert [model.camera(c).name for c in ("front", "wrist")] == ["front", "wrist"]


def test_schema_and_units_match_lerobots_so101_follower(env, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from lerobot.motors import MotorNormMode
    from lerobot.robots.so_follower import so_follower
    from lerobot.robots.so_follower.config_so_follower import SOFollowerRobotConfig

    # lerobot's own follower class names the motors and their units; only its serial bus (which needs the
    # feetech SDK and a port) is stood in for.
    monkeypatch.setattr(so_follower, "FeetechMotorsBus", lambda port, motors, calibration: SimpleNamespace(motors=motors))
    robot = so_follower.SOFollower(SOFollowerRobotConfig(port="/dev/null", calibration_dir=tmp_path))
    assert list(robot.action_features) == STATE_NAMES
    assert [k for k in robot.observation_features if k.endswith(".pos")] == STATE_NAMES
    from lerobot.utils.feature_utils import hw_to_dataset_features

    from lerobot_notebook_pipeline.sim.so101_record import so101_features

    cams = {"front": (48, 64, 3), "wrist": (48, 64, 3)}  # what two OpenCV camera configs would add
    recorded = {**hw_to_dataset_features(robot.action_features, "action"),
                **hw_to_dataset_features({**robot.observation_features, **cams}, "observation")}
    assert so101_features((48, 64)) == recorded  # the features lerobot-record writes for this follower
    modes = {name: motor.norm_mode for name, motor in robot.bus.motors.items()}
    assert modes == {**{j: MotorNormMode.DEGREES for j in JOINTS[:5]}, "gripper": MotorNormMode.RANGE_0_100}

    low, high = gripper_range(env.model)
    q = np.array([0.3, -1.2, 1.0, 0.5, -2.0, 0.4])
    values = to_lerobot(q, (low, high))
    np.testing.assert_allclose(values[:5], np.degrees(q[:5]))
    np.testing.assert_allclose(from_lerobot(values, (low, high)), q, atol=1e-12)
    np.testing.assert_allclose(to_lerobot([0, 0, 0, 0, 0, low], (low, high))[5], 0.0, atol=1e-12)
    np.testing.assert_allclose(to_lerobot([0, 0, 0, 0, 0, high], (low, high))[5], 100.0)
    assert from_lerobot([0, 0, 0, 0, 0, 130.0], (low, high))[5] == pytest.approx(high)  # clipped like lerobot's bus

    gap = {}  # 0 is closed, 100 open: the jaw tips are further apart at 100
    for value in (0.0, 100.0):
        env.reset_pose(0)
        env.data.qpos[env.qpos_arm[5]] = from_lerobot([0, 0, 0, 0, 0, value], (low, high))[5]
        env.mujoco.mj_forward(env.model, env.data)
        tips = [env.data.geom_xpos[env.model.geom(g).id] for g in ("fixed_jaw_sph_tip1", "moving_jaw_sph_tip1")]
        gap[value] = np.linalg.norm(tips[0] - tips[1])
    assert gap[100.0] > gap[0.0] + 0.05

    obs, _ = env.reset(seed=0)
    assert set(obs["pixels"]) == {"front", "wrist"} and obs["pixels"]["wrist"].shape == (*SMALL, 3)
    assert obs["agent_pos"].shape == (6,) and env.observation_space.contains(obs)
    assert env.action_space.shape == (6,) and env.action_space.high[5] == 100.0


def test_placement_is_seeded_and_marks_behave():
    marks = placement.mark_positions(4)
    expected = {(TARGET_XY[0] + sx * 0.05, TARGET_XY[1] + sy * 0.05) for sx in (1, -1) for sy in (1, -1)}
    assert {(round(x, 9), round(y, 9)) for x, y in marks} == {(round(x, 9), round(y, 9)) for x, y in expected}
    assert placement.sample_cube_xy(5, marks) == placement.sample_cube_xy(5, marks)
    draws = [placement.sample_cube_xy(s, marks) for s in range(400)]
    assert len(set(draws)) == 400
    nearest = [placement.mark_index(xy, marks) for xy in draws]
    assert set(nearest) == {0, 1, 2, 3}
    offsets = np.array([np.subtract(xy, marks[k]) for xy, k in zip(draws, nearest, strict=True)])
    assert np.abs(offsets).max() <= placement.PLACEMENT_NOISE and np.abs(offsets).max() > 0.01
    assert placement.sample_cube_xy(1, marks, noise=0.0) in marks
    assert placement.sample_cube_xy(1, marks, cube_pose=(0.2, 0.03)) == (0.2, 0.03)
    x, y = placement.sample_cube_xy(2, marks, pose_range=(0.15, 0.16, -0.01, 0.0))
    assert 0.15 <= x <= 0.16 and -0.01 <= y <= 0.0
    assert len(placement.mark_positions(1)) == 1 and len(placement.mark_positions(9)) == 9


def test_a_scripted_episode_scores_is_success(env):
    obs, info = env.reset(seed=3)
    policy = PickPlacePolicy(env, waypoint_noise=0.005, seed=3)
    policy.reset()
    stages, terminated = [info["stage"]], False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(policy())
        stages.append(info["stage"])
        assert not truncated
    assert info["is_success"] and reward == MAX_REWARD
    assert [s for s in range(MAX_REWARD + 1) if s in stages] == list(range(MAX_REWARD + 1))  # every stage on the way


def test_fast_and_stock_render_give_identical_physics(env):
    """A few rendered steps (what a rollout sees), then the rest of the scripted episode, grasp and place, without
    rendering (stock rendering costs about 0.4 s a step in software GL)."""
    actions, _, _, rewards = run_episode(env, PickPlacePolicy(env), seed=1)
    assert rewards.max() == MAX_REWARD  # the episode below reaches every stage
    rendered, trajectories = 5, {}
    for quality in ("fast", "stock"):
        other = make_env(image_size=SMALL, render_quality=quality)
        other.reset(seed=1)
        sim = other.unwrapped
        seen = [other.step(a)[0]["agent_pos"].tolist() + sim.data.qpos.tolist() for a in actions[:rendered]]
        trajectories[quality] = seen + [[sim.step_physics(a), *sim.data.qpos.tolist()] for a in actions[rendered:]]
        other.close()
    assert len(trajectories["fast"]) == len(actions) and trajectories["fast"] == trajectories["stock"]


@pytest.mark.parametrize(("kwargs", "fix"), [
    ({"marks": 0}, "--marks 0: use a whole number"),
    ({"cube_pose": (0.9, 0.0)}, "off the table"),
    ({"pose_range": (0.3, 0.1, 0.0, 0.1)}, "swap the reversed pair"),
    ({"marks": [(0.2, 0.5)]}, "off the table"),
    ({"cameras": ("front", "side")}, "unknown camera 'side'"),
    ({"render_quality": "pretty"}, "use one of fast"),
    ({"placement_noise": -0.01}, "use 0 or more"),
    ({"image_size": (4, 4)}, "use at least 8 8"),
])
def test_bad_input_names_the_fix(kwargs, fix):
    with pytest.raises(UserError, match=fix.replace("(", r"\(")):
        make_env(**({"image_size": SMALL} | kwargs))


def test_recorded_dataset_has_lerobots_follower_schema_and_loads(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from lerobot_notebook_pipeline.data import open_dataset
    from lerobot_notebook_pipeline.sim import record

    root = tmp_path / "so101"
    report = record.record_dataset(root, task="pick_place", episodes=1, seed=0, attempts=[0, 1, 2], image_size=(48, 64),
                                   episode_length=120, render_quality="fast", robot="so101", waypoint_noise=0.005)
    assert report["kept"] == 1 and report["frames"] == 120
    dataset = open_dataset(root)
    assert isinstance(dataset, LeRobotDataset)
    assert dataset.meta.robot_type == "so101_follower" and dataset.fps == 30 and dataset.num_frames == 120
    for key in ("action", "observation.state"):
        assert dataset.features[key]["dtype"] == "float32" and dataset.features[key]["names"] == STATE_NAMES
    for cam in ("front", "wrist"):
        assert dataset.features[f"observation.images.{cam}"]["dtype"] == "video"
    item = dataset[119]
    assert item["observation.images.front"].shape == (3, 48, 64) and item["action"].shape == (6,)
    assert item["task"].startswith("Pick up the cube")


def test_a_cube_that_starts_on_the_target_is_not_a_success():
    """Success needs a pick: the cube lifted earlier in the episode, then resting on the target."""
    from lerobot_notebook_pipeline.sim.so101_env import make_env
    from lerobot_notebook_pipeline.sim.so101_scene import TARGET_XY

    env = make_env(image_size=(48, 64), cube_pose=TARGET_XY)
    obs, info = env.reset(seed=0)
    hold = obs["agent_pos"].astype("float32")
    assert not info["is_success"]
    for _ in range(10):
        _, reward, terminated, _, info = env.step(hold)
    assert not terminated and not info["is_success"] and reward < 4
