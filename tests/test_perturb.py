"""Named perturbations: each changes what it claims by the size it claims, and none leaves today's sim untouched."""

import numpy as np
import pytest

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import perturb, so101_env
from lerobot_notebook_pipeline.sim.aloha_env import make_env

SIZE = (96, 128)
POSE = (0.1, 0.5)


def rollout(env, steps: int = 5, hold=None):
    """Frames and states of a reset and a few steps holding one action (by default the state at reset)."""
    obs, _ = env.reset(seed=0)
    hold = np.asarray(obs["agent_pos"] if hold is None else hold, dtype=np.float32)
    frames, states = [obs["pixels"]["top"]], [obs["agent_pos"]]
    for _ in range(steps):
        obs, *_ = env.step(hold)
        frames.append(obs["pixels"]["top"])
        states.append(obs["agent_pos"])
    return np.stack(frames), np.stack(states)


def red_centroid(frame: np.ndarray) -> np.ndarray:
    """Mean (row, column) of the red cube's pixels."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    rows, cols = np.nonzero((r > 120) & (g < 60) & (b < 60))
    return np.array([rows.mean(), cols.mean()])


def test_parse_names_values_and_refuses_what_it_cannot_do():
    assert perturb.parse_perturb("camera_shift_cm=3, light_scale=0.5") == {"camera_shift_cm": 3.0, "light_scale": 0.5}
    assert perturb.parse_perturb(None) == {} and perturb.parse_perturb("") == {}
    for bad, words in [("wind=3", "unknown factor 'wind'"), ("camera_shift_cm=99", "from -20 to 20"),
                       ("light_scale=dark", "takes a number"), ("obs_delay=1.5", "whole number"),
                       ("table_height_cm", "takes a number")]:
        with pytest.raises(UserError, match=words):
            perturb.parse_perturb(bad)
    with pytest.raises(UserError, match="no cube"):
        make_env(task="insertion", image_size=SIZE, perturb={"cube_scale": 1.2})
    with pytest.raises(UserError, match="joints 0 to 13"):
        make_env(image_size=SIZE, perturb={"joint_offset": 1, "joint": 20})


def test_no_perturbation_gives_todays_physics_and_pixels():
    today = rollout(make_env(image_size=SIZE, cube_pose=POSE))
    for none in ({}, {"camera_shift_cm": 0, "table_height_cm": 0, "obs_delay": 0}):
        frames, states = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb=none))
        assert np.array_equal(frames, today[0]) and np.array_equal(states, today[1])


def test_camera_shift_moves_the_image_by_the_expected_pixels():
    base = red_centroid(rollout(make_env(image_size=SIZE, cube_pose=POSE), steps=0)[0][0])
    shifted = red_centroid(rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"camera_shift_cm": 6}), 0)[0][0])
    focal_px = (SIZE[0] / 2) / np.tan(np.radians(78 / 2))  # the top camera's fovy is 78 degrees
    depth_m = 0.8 - 0.07  # from the camera down to the cube's top face at reset
    expected = 0.06 * focal_px / depth_m
    assert shifted[1] - base[1] == pytest.approx(-expected, rel=0.2)  # the camera went right, the scene left
    assert abs(shifted[0] - base[0]) < 0.5


def test_table_height_moves_the_contact_plane_and_the_cube_with_it():
    def settled_cube_z(extra: dict) -> float:
        env = make_env(image_size=SIZE, cube_pose=POSE, perturb=extra)
        env.reset(seed=0)
        env.unwrapped.physics.step(400)
        return float(env.unwrapped.object_pose()[2])

    assert settled_cube_z({"table_height_cm": 2}) - settled_cube_z({}) == pytest.approx(0.02, abs=0.002)


def test_joint_offset_shifts_only_that_joint_and_delays_lag_by_their_steps():
    _, today = rollout(make_env(image_size=SIZE, cube_pose=POSE))
    _, offset = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"joint_offset": 0.2, "joint": 3}),
                        hold=today[0])
    assert np.allclose(offset - today, np.eye(14)[3] * 0.2)
    frames, states = rollout(make_env(image_size=SIZE, cube_pose=POSE), steps=6)
    late_frames, late_states = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"obs_delay": 2}), steps=6)
    assert np.array_equal(late_states[2:], states[:-2]) and np.array_equal(late_frames[2:], frames[:-2])


def test_action_delay_applies_each_action_that_many_steps_late():
    def states_under(actions, extra):
        env = make_env(image_size=SIZE, cube_pose=POSE, perturb=extra)
        env.reset(seed=0)
        return np.stack([env.step(a)[0]["agent_pos"] for a in actions])

    env = make_env(image_size=SIZE, cube_pose=POSE)
    start = env.reset(seed=0)[0]["agent_pos"].astype(np.float32)
    actions = [start + np.float32(0.05 * k) * np.eye(14, dtype=np.float32)[0] for k in range(6)]
    delayed = states_under(actions, {"action_delay": 2})
    assert np.array_equal(delayed[2:], states_under([actions[0], actions[0], *actions[:4]], {})[2:])


def test_scene_factors_change_the_pixels_they_claim():
    base = rollout(make_env(image_size=SIZE, cube_pose=POSE), steps=0)[0][0].astype(int)
    dark = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"light_scale": 0.3}), steps=0)[0][0].astype(int)
    assert dark.mean() < 0.7 * base.mean()
    green = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"cube_hue_deg": 120}), steps=0)[0][0]
    assert np.isnan(red_centroid(green)).all() or (green[..., 1] > 120).sum() > 0
    big = rollout(make_env(image_size=SIZE, cube_pose=POSE, perturb={"cube_scale": 1.5}), steps=0)[0][0]
    red = lambda f: ((f[..., 0] > 120) & (f[..., 1] < 60) & (f[..., 2] < 60)).sum()  # noqa: E731
    assert red(big) == pytest.approx(red(base.astype(np.uint8)) * 1.5 ** 2, rel=0.35)


@pytest.mark.parametrize("sim", ["aloha", "so101"])
def test_a_turned_light_changes_the_shading_but_not_the_scene(sim):
    """The lights swing over the table: the picture changes (on the SO-101, whose one light shines straight down,
    too), more at 90 degrees than at 20, and nothing in the physics moves."""
    def first(turn):
        perturb = {"light_turn_deg": turn} if turn else None
        if sim == "aloha":
            env = make_env(image_size=SIZE, cube_pose=POSE, perturb=perturb)
            obs, _ = env.reset(seed=0)
            return obs["pixels"]["top"].astype(int), obs["agent_pos"]
        env = so101_env.make_env(image_size=SIZE, perturb=perturb)
        obs, _ = env.reset(seed=0)
        return obs["pixels"]["front"].astype(int), obs["agent_pos"]

    (base, state), (slant, slant_state), (side, _) = first(0), first(20), first(90)
    assert 0 < np.abs(slant - base).mean() < np.abs(side - base).mean()
    np.testing.assert_array_equal(slant_state, state)


def test_rollout_settings_carry_the_perturbation_and_refuse_it_where_no_scene_exists():
    from lerobot_notebook_pipeline.evaluation import rollout

    kwargs = rollout.env_kwargs_for(rollout.env_spec("aloha_transfer_cube"), None, perturb={"light_scale": 0.5})
    assert kwargs["perturb"] == {"light_scale": 0.5}
    assert "perturb" not in rollout.env_kwargs_for(rollout.env_spec("aloha_transfer_cube"), None, perturb={})
    with pytest.raises(UserError, match="--perturb applies to the aloha and so101_pick_place envs only"):
        rollout.env_kwargs_for(rollout.env_spec("pusht"), None, perturb={"light_scale": 0.5})


DISTRACTOR_ENVS = {  # a maker of each env, the axis the distractor stands along and where the cube is carried on it
    "aloha": (lambda extra: make_env(image_size=(192, 256), perturb=extra), 0, 0.0),  # x, the handover
    "so101": (lambda extra: so101_env.make_env(image_size=(192, 256), cameras=("front",), perturb=extra), 1, 0.0),
}


@pytest.mark.parametrize("name", DISTRACTOR_ENVS)
def test_distractor_stands_beside_the_cube_in_view_and_leaves_robot_and_cube_alone(name):
    make, axis, carried_to = DISTRACTOR_ENVS[name]
    base, env = make({}), make({"distractor_cm": 8})
    (today, _), (seen, _) = base.reset(seed=3), env.reset(seed=3)
    cube, stand = env.unwrapped.object_pose(), env.unwrapped.distractor_pose()
    assert np.array_equal(seen["agent_pos"], today["agent_pos"]) and np.array_equal(cube, base.unwrapped.object_pose())
    assert stand[1 - axis] == cube[1 - axis] and abs(stand[axis] - cube[axis]) == pytest.approx(0.08)
    assert np.sign(stand[axis] - cube[axis]) == np.sign(cube[axis] - carried_to)  # away from where the cube goes
    assert stand[2] == pytest.approx(perturb.DISTRACTOR_HALF_HEIGHT)  # standing on the table top (z 0)
    assert np.array_equal(env.reset(seed=3)[0]["agent_pos"], seen["agent_pos"])
    assert np.array_equal(env.unwrapped.distractor_pose(), stand)  # the same seed, the same scene

    camera = next(iter(seen["pixels"]))
    before, after = today["pixels"][camera], seen["pixels"][camera]
    changed = np.any(before != after, axis=-1)
    rows, cols = np.nonzero(changed)
    assert 0 < (np.ptp(rows) + 1) * (np.ptp(cols) + 1) < 0.05 * changed.size  # one small patch of the image
    r, g, b = after[changed].astype(int).mean(axis=0)
    assert r > g + 40 and b > g + 40  # purple: the distractor, not the red cube or the table

    hold = today["agent_pos"].astype(np.float32)
    for _ in range(10):
        today, seen = base.step(hold)[0], env.step(hold)[0]
    assert np.allclose(seen["agent_pos"], today["agent_pos"], rtol=0, atol=1e-9)
    assert np.allclose(env.unwrapped.object_pose(), base.unwrapped.object_pose(), rtol=0, atol=1e-9)
    assert np.linalg.norm(env.unwrapped.distractor_pose()[:3] - stand[:3]) < 0.001  # it rests where it stood


def test_distractor_is_a_free_solid_body():
    env = make_env(image_size=SIZE, cube_pose=POSE, perturb={"distractor_cm": 8})
    env.reset(seed=0)
    physics = env.unwrapped.physics
    physics.step(200)  # the cube drops onto the table
    cube = env.unwrapped.object_pose()
    physics.named.data.qpos[perturb.DISTRACTOR][:3] = cube[:3] + [0, 0, 0.02 + perturb.DISTRACTOR_HALF_HEIGHT + 0.01]
    physics.step(300)  # dropped 1 cm over the cube, it lands on it
    assert env.unwrapped.distractor_pose()[2] == pytest.approx(cube[2] + 0.02 + perturb.DISTRACTOR_HALF_HEIGHT,
                                                               abs=0.002)


def test_distractor_refuses_a_scene_it_cannot_stand_in():
    with pytest.raises(UserError, match="from 4 to 25"):
        perturb.parse_perturb("distractor_cm=2")
    with pytest.raises(UserError, match="no cube"):
        make_env(task="insertion", image_size=SIZE, perturb={"distractor_cm": 8})
    with pytest.raises(UserError, match="would touch the cube; use distractor_cm=5 or more"):
        make_env(image_size=SIZE, perturb={"distractor_cm": 4, "cube_scale": 1.5})
    narrow = perturb.Scene(camera="top", table_body=None, cube_geom="cube", state_size=6, table_xy=(0, 1, 0, 0.3))
    y = lambda cm: perturb.distractor_pose((0.5, 0.2), (0.5, 0.1), narrow, {"distractor_cm": cm})[1]  # noqa: E731
    assert y(8) == pytest.approx(0.28) and y(10) == pytest.approx(0.10)  # away from where the cube goes, else back
    with pytest.raises(UserError, match="no room on the table"):
        y(25)
