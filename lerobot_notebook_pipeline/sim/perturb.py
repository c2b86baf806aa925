"""Named perturbations of a sim scene, each with a unit and a default ladder: "could I move the table?" as numbers.

`--perturb camera_shift_cm=3,light_scale=0.5` parses into {name: value}. Scene factors edit the compiled MuJoCo
model (camera, lights, table, cube) or, to add the distractor, its spec before it compiles; the rest wrap the env
(a joint's calibration offset, observation and action delays). Values are fixed, not drawn, so a perturbed rollout is as deterministic by seed as an unperturbed one,
and with no perturbation nothing is touched at all.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lerobot_notebook_pipeline.runtime import UserError

DISTRACTOR = "distractor"  # the name of its body, free joint and geom
# A purple block standing up, 3 x 3 x 5 cm (a glue stick, a small carton). Not a cylinder: MuJoCo 3.8 finds false
# 8 cm deep contacts between a cylinder and ALOHA's tabletop mesh in places, which fling it off the table.
DISTRACTOR_HALF_WIDTH = 0.015  # m
DISTRACTOR_HALF_HEIGHT = 0.025
DISTRACTOR_MASS = 0.03  # kg
DISTRACTOR_RGBA = (0.55, 0.25, 0.85, 1.0)  # unlike the cube, the SO-101 arm and table
DISTRACTOR_GAP = 0.004  # m: the least clearance between it and the cube at the start


@dataclass(frozen=True)
class Factor:
    unit: str
    ladder: tuple[float, ...]  # the default magnitudes a study walks, from "no effect" towards "breaks"
    low: float
    high: float
    what: str


FACTORS = {
    "camera_shift_cm": Factor("cm", (1, 3, 6), -20, 20, "the camera moves sideways (along the image's x axis)"),
    "camera_tilt_deg": Factor("deg", (2, 5, 10), -30, 30, "the camera pitches down (positive) or up"),
    "light_scale": Factor("x", (0.6, 0.3, 1.8), 0, 4, "every light and the ambient light scaled"),
    "light_turn_deg": Factor("deg", (20, 45, 90), -180, 180,
                             "the lights swing this far over the table, about the world x axis (a lamp moved to one "
                             "side: what it lit from above it lights at a slant; 90 lights from the side)"),
    "table_height_cm": Factor("cm", (1, 2, 4), -5, 10, "the table and everything on it raised; the robot stays"),
    "table_x_cm": Factor("cm", (1, 3, 5), -15, 15, "the table and everything on it moved along x"),
    "table_y_cm": Factor("cm", (1, 3, 5), -15, 15, "the table and everything on it moved along y"),
    "cube_scale": Factor("x", (1.2, 0.8, 1.5), 0.5, 2, "the cube's size scaled"),
    "cube_hue_deg": Factor("deg", (30, 90, 180), -180, 180, "the cube's colour turned round the colour wheel"),
    "distractor_cm": Factor("cm", (15, 8, 4), 4, 25,
                            "a purple block (3 x 3 x 5 cm, free: the arm can knock it) stands on the table "
                            "this far from the cube's start, beside it across the line the jaws close along (ALOHA: "
                            "along x, SO-101: along y), on the side away from where the cube is carried (the "
                            "handover, the target), or the other side where that one runs off the table"),
    "joint_offset": Factor("state units", (1, 3, 6), -90, 90,
                           "the observed state of one joint reads +X (ALOHA: radians; SO-101: degrees, gripper 0-100)"),
    "joint": Factor("index", (0,), 0, 31, "which joint joint_offset shifts (default 0)"),
    "obs_delay": Factor("frames", (1, 2, 4), 0, 30, "observations arrive this many control steps late"),
    "action_delay": Factor("steps", (1, 2, 4), 0, 30, "actions are applied this many control steps late"),
}
WHOLE = ("joint", "obs_delay", "action_delay")


@dataclass(frozen=True)
class Scene:
    """What a sim env calls the parts perturbations touch.

    The table moves as its body (ALOHA) or, where the table and what is drawn on it are geoms of the world
    body (SO-101), as those geoms; the robot's base stays where it is either way.
    """

    camera: str
    table_body: str | None
    cube_geom: str | None
    state_size: int
    table_geoms: tuple[str, ...] = ()
    table_xy: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # the table top before it moves (m)
    cube_half: float = 0.0  # half the cube's edge before it is scaled (m)
    clear_axis: int = 1  # 0 (x) or 1 (y): across the jaws' closing line, where the distractor stands by the cube


def parse_perturb(spec: str | None) -> dict[str, float]:
    """'NAME=VALUE[,NAME=VALUE]' as {name: value}, each name known and each value in its range."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        name, sep, text = item.partition("=")
        name = name.strip()
        if name not in FACTORS:
            raise UserError(f"--perturb: unknown factor '{name}': use one of {', '.join(FACTORS)}")
        try:
            value = float(text) if sep else math.nan
        except ValueError:
            value = math.nan
        factor = FACTORS[name]
        if not math.isfinite(value) or not factor.low <= value <= factor.high:
            raise UserError(f"--perturb {item}: {name} takes a number of {factor.unit} from {factor.low:g} to "
                            f"{factor.high:g}, e.g. {name}={factor.ladder[-1]:g}")
        if name in WHOLE and value != int(value):
            raise UserError(f"--perturb {item}: {name} counts {factor.unit}, so give a whole number")
        out[name] = value
    return out


def describe(perturb: dict[str, float]) -> str:
    """'camera_shift_cm=3, light_scale=0.5', or 'none', for overlays and printouts."""
    return ", ".join(f"{k}={v:g}" for k, v in perturb.items()) or "none"


def check_applies(perturb: dict[str, float], scene: Scene, env_name: str) -> None:
    """Refuse a factor the env cannot apply (no cube to change, a joint it does not have, a distractor on the cube)."""
    if scene.cube_geom is None and {"cube_scale", "cube_hue_deg", "distractor_cm"} & perturb.keys():
        raise UserError(f"--perturb: {env_name} has no cube to resize, recolour or stand a distractor by; drop "
                        f"cube_scale, cube_hue_deg and distractor_cm")
    if "distractor_cm" in perturb:
        near = DISTRACTOR_HALF_WIDTH + scene.cube_half * perturb.get("cube_scale", 1.0) + DISTRACTOR_GAP
        if perturb["distractor_cm"] / 100.0 < near - 1e-9:
            raise UserError(f"--perturb distractor_cm={perturb['distractor_cm']:g}: the distractor would touch the "
                            f"cube; use distractor_cm={math.ceil(near * 100):g} or more")
    if int(perturb.get("joint", 0)) >= scene.state_size:
        raise UserError(f"--perturb joint={perturb['joint']:g}: {env_name}'s state has joints 0 to "
                        f"{scene.state_size - 1}")


def object_offset(perturb: dict[str, float]) -> np.ndarray:
    """How far the table moves everything on it (x, y, z in metres)."""
    return np.array([perturb.get("table_x_cm", 0.0), perturb.get("table_y_cm", 0.0),
                     perturb.get("table_height_cm", 0.0)]) / 100.0


def comparable_axes(perturb: dict[str, float]) -> int:
    """How many of a start's coordinates (x, y, z) still match once object_offset is taken off: a scaled cube rests
    with its centre higher or lower, so then only x and y."""
    return 2 if "cube_scale" in perturb else 3


def distractor_pose(cube_xy, carry_xy, scene: Scene, perturb: dict[str, float]) -> np.ndarray:
    """Where the distractor starts (xyz + wxyz quat): distractor_cm from the cube along the scene's clear axis, away
    from carry_xy (where the cube goes), on the table (moved with it); a UserError where neither side has room."""
    distance = perturb["distractor_cm"] / 100.0
    offset = object_offset(perturb)
    x0, x1, y0, y1 = np.add(scene.table_xy, offset[[0, 0, 1, 1]])
    away = 1.0 if cube_xy[scene.clear_axis] >= carry_xy[scene.clear_axis] else -1.0
    for side in (away, -away):
        x, y = np.add(cube_xy[:2], side * distance * np.eye(2)[scene.clear_axis])
        w = DISTRACTOR_HALF_WIDTH
        if x0 + w <= x <= x1 - w and y0 + w <= y <= y1 - w:
            return np.array([x, y, offset[2] + DISTRACTOR_HALF_HEIGHT, 1.0, 0.0, 0.0, 0.0])
    raise UserError(f"--perturb distractor_cm={perturb['distractor_cm']:g}: no room on the table beside the cube at "
                    f"({cube_xy[0]:g}, {cube_xy[1]:g}); use a smaller distractor_cm")


# ------------------------------------------------------------------------------- edits of the model spec and model

def add_distractor(spec) -> None:
    """Add the distractor to an MjSpec before it compiles: a free, collidable block that reset places."""
    import mujoco

    w, h, m = DISTRACTOR_HALF_WIDTH, DISTRACTOR_HALF_HEIGHT, DISTRACTOR_MASS
    body = spec.worldbody.add_body(name=DISTRACTOR, pos=[0.0, 0.0, h])
    body.explicitinertial = True  # a solid block's inertia, given: some scenes take none from group-0 geoms
    body.mass = m
    body.inertia = [m * (w * w + h * h) / 3, m * (w * w + h * h) / 3, m * 2 * w * w / 3]
    body.add_freejoint(name=DISTRACTOR)
    body.add_geom(name=DISTRACTOR, type=mujoco.mjtGeom.mjGEOM_BOX, size=[w, w, h], group=0,
                  rgba=list(DISTRACTOR_RGBA))


def _turn_about_x(vector: np.ndarray, degrees: float) -> np.ndarray:
    """A vector turned about the world x axis: a light straight above the table swings towards -y."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([vector[0], c * vector[1] - s * vector[2], s * vector[1] + c * vector[2]])


def freeze_camera(model, data, camera_id: int) -> np.ndarray:
    """Make a camera that aims at a body hold its present pose instead; return its world rotation matrix."""
    import mujoco

    mujoco.mj_forward(model, data)
    xmat = data.cam_xmat[camera_id].reshape(3, 3).copy()
    parent = model.cam_bodyid[camera_id]
    local = data.xmat[parent].reshape(3, 3).T @ xmat
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, local.ravel())
    model.cam_mode[camera_id] = mujoco.mjtCamLight.mjCAMLIGHT_FIXED
    model.cam_quat[camera_id] = quat
    return xmat


def move_camera(model, data, camera_id: int, shift_m: float, tilt_deg: float) -> None:
    """Slide a camera along its image x axis and pitch it about that axis; it no longer follows any target."""
    import mujoco

    xmat = freeze_camera(model, data, camera_id)
    parent_rot = data.xmat[model.cam_bodyid[camera_id]].reshape(3, 3)
    model.cam_pos[camera_id] += parent_rot.T @ (shift_m * xmat[:, 0])
    if tilt_deg:
        turn = np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, np.array([1.0, 0.0, 0.0]), -math.radians(tilt_deg))
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, model.cam_quat[camera_id].copy(), turn)
        model.cam_quat[camera_id] = quat


def recolour(rgba: np.ndarray, hue_deg: float) -> np.ndarray:
    """An RGBA colour with its hue turned by hue_deg, lightness and alpha kept."""
    import colorsys

    hue, lightness, saturation = colorsys.rgb_to_hls(*rgba[:3])
    return np.array([*colorsys.hls_to_rgb((hue + hue_deg / 360.0) % 1.0, lightness, saturation), rgba[3]])


def apply_to_model(model, data, scene: Scene, perturb: dict[str, float]) -> None:
    """Edit the compiled model for the scene factors in perturb (it must be freshly loaded); others are untouched."""
    import mujoco

    shift, tilt = perturb.get("camera_shift_cm", 0.0) / 100.0, perturb.get("camera_tilt_deg", 0.0)
    offset = object_offset(perturb)
    if shift or tilt or offset.any():  # the camera must not follow a moved table
        move_camera(model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, scene.camera), shift, tilt)
    if scene.table_body is not None:
        model.body_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, scene.table_body)] += offset
    for name in scene.table_geoms if offset.any() else ():
        model.geom_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)] += offset
    if "light_scale" in perturb:
        model.light_diffuse[:] *= perturb["light_scale"]
        model.light_specular[:] *= perturb["light_scale"]
        model.vis.headlight.ambient[:] = np.asarray(model.vis.headlight.ambient) * perturb["light_scale"]
        model.vis.headlight.diffuse[:] = np.asarray(model.vis.headlight.diffuse) * perturb["light_scale"]
    if perturb.get("light_turn_deg"):
        for i in range(model.nlight):
            model.light_dir[i] = _turn_about_x(model.light_dir[i], perturb["light_turn_deg"])
            model.light_pos[i] = _turn_about_x(model.light_pos[i], perturb["light_turn_deg"])
    if scene.cube_geom is not None:
        cube = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, scene.cube_geom)
        if "cube_scale" in perturb:
            model.geom_size[cube] *= perturb["cube_scale"]
            model.geom_rbound[cube] *= perturb["cube_scale"]
        if perturb.get("cube_hue_deg"):
            model.geom_rgba[cube] = recolour(model.geom_rgba[cube], perturb["cube_hue_deg"])
    mujoco.mj_forward(model, data)


# ------------------------------------------------------------------------------------- what the policy sees and does

class PerturbedIO(gym.Wrapper):
    """A joint's calibration offset on the observed state, and observation and action delays, around an env."""

    def __init__(self, env: gym.Env, perturb: dict[str, float]):
        super().__init__(env)
        self.offset = np.zeros(env.observation_space["agent_pos"].shape)
        self.offset[int(perturb.get("joint", 0))] = perturb.get("joint_offset", 0.0)
        self.obs_delay, self.action_delay = int(perturb.get("obs_delay", 0)), int(perturb.get("action_delay", 0))
        self._observations: collections.deque = collections.deque()
        self._actions: collections.deque = collections.deque()

    def _seen(self, obs: dict) -> dict:
        obs = {**obs, "agent_pos": obs["agent_pos"] + self.offset}
        self._observations.append(obs)
        while len(self._observations) > self.obs_delay + 1:
            self._observations.popleft()
        return self._observations[0]

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._observations.clear()
        self._actions.clear()
        return self._seen(obs), info

    def step(self, action):
        self._actions.append(np.asarray(action))
        if len(self._actions) <= self.action_delay:  # until the first action arrives, the arm holds the first one
            applied = self._actions[0]
        else:
            applied = self._actions.popleft()
        obs, reward, terminated, truncated, info = self.env.step(applied)
        return self._seen(obs), reward, terminated, truncated, info


def wrap_io(env: gym.Env, perturb: dict[str, float]) -> gym.Env:
    """The env wrapped for the state and timing factors in perturb, or the env itself when there are none."""
    if not {"joint_offset", "obs_delay", "action_delay"} & {k for k, v in perturb.items() if v}:
        return env
    return PerturbedIO(env, perturb)
