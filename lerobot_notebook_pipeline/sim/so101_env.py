"""A gymnasium env for the SO-101 pick-and-place task: pick the cube at a pencil mark, put it on the centre target.

Actions and state are in lerobot's SO-101 follower units (`use_degrees=True`, lerobot's default): the five
arm joints in degrees (0 at the middle of each joint's range, the model's zero) and the gripper 0 (closed,
the joint's lower limit) .. 100 (open, its upper limit), under lerobot's names (`shoulder_pan.pos` ...
`gripper.pos`). The observation is {'pixels': {camera: H x W x 3 uint8}, 'agent_pos': the 6 joint positions},
like the ALOHA env's. Control is 30 Hz; the reward is the task stage the current state is at (0-4, see
STAGES) and `info["is_success"]` is True once the cube, lifted earlier in the episode, rests within SUCCESS_RADIUS of the
target, released, with the gripper clear above it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_notebook_pipeline.evaluation import success
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import perturb as perturbations
from lerobot_notebook_pipeline.sim import so101_placement as placement
from lerobot_notebook_pipeline.sim.renderers import close_at_exit
from lerobot_notebook_pipeline.sim.so101_scene import (
    CUBE_SIZE,
    DEFAULT_CAMERAS,
    TABLE_XY,
    TARGET_XY,
    build_model,
    check_cameras,
    check_render_quality,
    set_render_quality,
)

FPS = 30
ROBOT_TYPE = "so101_follower"
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
STATE_NAMES = [f"{joint}.pos" for joint in JOINTS]  # lerobot's SO-101 follower feature names
IMAGE_SIZE = (480, 640)  # H, W: what lerobot-record's OpenCV cameras give by default
EPISODE_LENGTH = 300  # steps: 10 s at 30 Hz
TASK = "pick_place"
TASK_STRING = "Pick up the cube and place it on the blue target in the centre."
HOME_DEG = (0.0, -40.0, 45.0, 80.0, 0.0, 0.0)  # start pose, lerobot units: arm raised over the table, gripper closed
SUCCESS_RADIUS = 0.02  # m: the cube's centre within 2 cm (in x and y) of the target's
CLEAR_HEIGHT = 0.03  # m: the fingertips at least 3 cm above the cube's top face count as clear of it
REACH_DISTANCE = 0.03  # m: the grasp point within 3 cm of the cube's centre counts as reached
LIFT_HEIGHT = 0.02  # m: a grasped cube raised 2 cm off the table counts as lifted
REST_SPEED = 0.05  # m/s: the cube counts as resting below this speed
STAGES = success.STAGES[TASK]  # never reached, reached, grasped, lifted, placed
MAX_REWARD = len(STAGES) - 1
GRIP_SITE = "grasp"  # the point between the jaw pads where a cube sits when held (added to the gripper body)
GRIP_OFFSET = (0.007, 0.0, -0.088)  # that point in the gripper body's frame (the fixed jaw's pad face is at x -0.008)
JAW_BODIES = ("gripper", "moving_jaw_so101_v1")
TIP_SITE = "gripperframe"  # the model's site at the fingertips


def gripper_range(model) -> tuple[float, float]:
    """The gripper joint's (lower, upper) limits in radians: 0 and 100 in lerobot's units."""
    low, high = model.jnt_range[model.joint("gripper").id]
    return float(low), float(high)


def arm_degrees(q_arm) -> np.ndarray:
    """The five arm joints from radians to lerobot's degrees."""
    return np.rad2deg(np.asarray(q_arm, dtype=np.float64))


def to_lerobot(qpos6, grip_range) -> np.ndarray:
    """Joint radians (the model's 6 joints) -> lerobot units: degrees for the arm, 0-100 for the gripper."""
    q = np.asarray(qpos6, dtype=np.float64)
    low, high = grip_range
    return np.concatenate([arm_degrees(q[:5]), [(q[5] - low) / (high - low) * 100.0]])


def from_lerobot(values6, grip_range) -> np.ndarray:
    """lerobot units -> joint radians; the gripper is clipped to 0-100 as lerobot's motor bus does."""
    v = np.asarray(values6, dtype=np.float64)
    low, high = grip_range
    return np.concatenate([np.deg2rad(v[:5]), [low + np.clip(v[5], 0.0, 100.0) / 100.0 * (high - low)]])


def check_image_size(image_size) -> tuple[int, int]:
    """(H, W) as ints when both are at least 8 pixels, else a UserError."""
    height, width = (int(v) for v in image_size)
    if height < 8 or width < 8:
        raise UserError(f"--image-size {height} {width}: use at least 8 8 (e.g. 96 128 or 480 640)")
    return height, width


class SO101PickPlaceEnv(gym.Env):
    """SO-101 pick and place in lerobot's follower units, rendering only the cameras it observes through."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, image_size=IMAGE_SIZE, cameras=DEFAULT_CAMERAS, render_quality="fast", cube_pose=None,
                 pose_range=None, marks=placement.MARKS, placement_noise=placement.PLACEMENT_NOISE,
                 max_steps=EPISODE_LENGTH, perturb=None):
        super().__init__()
        import mujoco

        self.mujoco = mujoco
        self.image_size = check_image_size(image_size)
        self.cameras = check_cameras(cameras)
        self.render_quality = check_render_quality(render_quality)
        self.camera_names = [c.name for c in self.cameras]
        self.cube_pose = None if cube_pose is None else placement.check_on_table(cube_pose)
        self.pose_range = None if pose_range is None else placement.check_pose_range(pose_range)
        self.marks = placement.check_marks(marks)
        self.placement_noise = placement.check_noise(placement_noise)
        self.max_steps = int(max_steps)
        self.render_mode = "rgb_array"
        self.task_description = TASK_STRING
        self.task = TASK

        self.perturb = dict(perturb or {})
        self.scene = scene_of(self.camera_names, len(self.marks))
        if self.perturb:
            perturbations.check_applies(self.perturb, self.scene, "so101_pick_place")
        self.model = build_model(self.cameras, self.marks, self.image_size, grip_site=(GRIP_SITE, GRIP_OFFSET),
                                 distractor="distractor_cm" in self.perturb)
        self.scene_option = set_render_quality(self.model, render_quality)
        self.data = mujoco.MjData(self.model)
        if self.perturb:
            perturbations.apply_to_model(self.model, self.data, self.scene, self.perturb)
        self.table_offset = perturbations.object_offset(self.perturb)  # the table and all on it; the arm stays
        self.target_xy = (TARGET_XY[0] + self.table_offset[0], TARGET_XY[1] + self.table_offset[1])
        self.table_z = float(self.table_offset[2])
        self.n_substeps = int(round(1 / FPS / self.model.opt.timestep))
        self.grip_range = gripper_range(self.model)
        self._ids()
        self._renderer = None  # created on first render (GL context), reused afterwards
        self._frames_step = None  # the step whose camera frames are cached in _frames
        self._frames = {}
        self._steps = 0
        self._furthest = 0
        self.object_pose_at_reset = None

        height, width = self.image_size
        low, high = self._action_bounds()
        self.observation_space = spaces.Dict({
            "pixels": spaces.Dict({name: spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)
                                   for name in self.camera_names}),
            "agent_pos": spaces.Box(-1000.0, 1000.0, shape=(len(JOINTS),), dtype=np.float64),
        })
        self.action_space = spaces.Box(low=low, high=high, dtype=np.float32)

    def _ids(self) -> None:
        """Look up the ids of the joints, actuators, cube, sites and jaw geoms once."""
        model, obj = self.model, self.mujoco.mjtObj
        self.qpos_arm = np.array([model.jnt_qposadr[model.joint(j).id] for j in JOINTS])
        self.qvel_arm = np.array([model.jnt_dofadr[model.joint(j).id] for j in JOINTS])
        self.ctrl_arm = np.array([self.mujoco.mj_name2id(model, obj.mjOBJ_ACTUATOR, j) for j in JOINTS])
        cube_joint = model.joint("cube").id
        self.cube_qpos = model.jnt_qposadr[cube_joint]
        self.cube_qvel = model.jnt_dofadr[cube_joint]
        self.cube_geom = model.geom("cube").id
        self.cube_half = float(model.geom_size[self.cube_geom][0])  # half the edge (cube_scale changes it)
        distractor = "distractor_cm" in self.perturb
        self.distractor_qpos = model.jnt_qposadr[model.joint(perturbations.DISTRACTOR).id] if distractor else None
        self.grip_site = model.site(GRIP_SITE).id
        self.tip_site = model.site(TIP_SITE).id
        jaw_bodies = [model.body(b).id for b in JAW_BODIES]
        self.jaw_geoms = [set(np.flatnonzero((model.geom_bodyid == b) & (model.geom_contype > 0)).tolist())
                          for b in jaw_bodies]

    def _action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The action space in lerobot units: each arm joint's control range in degrees, the gripper 0-100."""
        ranges = self.model.actuator_ctrlrange[self.ctrl_arm]
        low = np.concatenate([np.rad2deg(ranges[:5, 0]), [0.0]]).astype(np.float32)
        high = np.concatenate([np.rad2deg(ranges[:5, 1]), [100.0]]).astype(np.float32)
        return low, high

    # -- state the scripted policy, the stages and rollouts read -------------------------------------------
    def agent_pos(self) -> np.ndarray:
        """The 6 joint positions in lerobot units (degrees, gripper 0-100)."""
        return to_lerobot(self.data.qpos[self.qpos_arm], self.grip_range)

    def object_pose(self) -> np.ndarray:
        """The cube's pose: xyz + wxyz quaternion."""
        return self.data.qpos[self.cube_qpos:self.cube_qpos + 7].copy()

    def distractor_pose(self) -> np.ndarray | None:
        """The distractor's current pose (xyz + wxyz quat), or None when there is none."""
        if self.distractor_qpos is None:
            return None
        return self.data.qpos[self.distractor_qpos:self.distractor_qpos + 7].copy()

    def grip_point(self) -> np.ndarray:
        """Where a held cube's centre sits between the jaws (world xyz)."""
        return self.data.site_xpos[self.grip_site].copy()

    def jaw_contacts(self) -> tuple[bool, bool]:
        """Whether the fixed jaw and the moving jaw touch the cube."""
        touching = [False, False]
        contacts = self.data.contact
        for g1, g2 in zip(contacts.geom1[:self.data.ncon], contacts.geom2[:self.data.ncon], strict=True):
            other = g2 if g1 == self.cube_geom else g1 if g2 == self.cube_geom else None
            if other is not None:
                for k, geoms in enumerate(self.jaw_geoms):
                    touching[k] |= int(other) in geoms
        return touching[0], touching[1]

    def stage(self) -> int:
        """The task stage the current state is at (index into STAGES): the reward."""
        cube = self.data.qpos[self.cube_qpos:self.cube_qpos + 3]
        fixed, moving = self.jaw_contacts()
        if self._furthest >= 3 and self.placed(cube, touching=fixed or moving):  # placed only after a lift, so a
            return 4  # cube that starts on the target is not a success
        grasped = fixed and moving
        if grasped and cube[2] > self.rest_z() + LIFT_HEIGHT:
            return 3
        if grasped:
            return 2
        return 1 if np.linalg.norm(self.grip_point() - cube) < REACH_DISTANCE else 0

    def rest_z(self) -> float:
        """The height of the cube's centre when it rests on the table."""
        return self.table_z + self.cube_half

    def placed(self, cube, touching: bool) -> bool:
        """The success condition: the cube rests on the table within SUCCESS_RADIUS of the target, released,
        with the fingertips CLEAR_HEIGHT above its top."""
        on_target = np.hypot(cube[0] - self.target_xy[0], cube[1] - self.target_xy[1]) <= SUCCESS_RADIUS
        resting = cube[2] < self.rest_z() + 0.005 and np.linalg.norm(self.data.qvel[self.cube_qvel:self.cube_qvel + 3]) < REST_SPEED
        clear = self.data.site_xpos[self.tip_site][2] >= cube[2] + self.cube_half + CLEAR_HEIGHT
        return bool(on_target and resting and clear and not touching)

    # -- rendering ----------------------------------------------------------------------------------------
    def render_cameras(self) -> dict[str, np.ndarray]:
        """The current frame of every camera (H x W x 3 uint8), rendered once per step."""
        if self._frames_step == self._steps and self._frames:
            return self._frames
        if self._renderer is None:
            height, width = self.image_size
            self._renderer = self.mujoco.Renderer(self.model, height=height, width=width)
            close_at_exit(self)
        frames = {}
        for name in self.camera_names:
            self._renderer.update_scene(self.data, camera=name, scene_option=self.scene_option)
            frames[name] = self._renderer.render().copy()
        self._frames, self._frames_step = frames, self._steps
        return frames

    def render(self) -> np.ndarray:
        """The cameras side by side (H x (W * cameras) x 3 uint8), as a person's video shows them."""
        return np.concatenate(list(self.render_cameras().values()), axis=1)

    def _observation(self) -> dict:
        return {"pixels": dict(self.render_cameras()), "agent_pos": self.agent_pos()}

    def _info(self, stage: int) -> dict:
        self._furthest = max(self._furthest, stage)
        return {"is_success": stage == MAX_REWARD, "stage": self._furthest, "stage_name": STAGES[self._furthest]}

    # -- gymnasium API ------------------------------------------------------------------------------------
    def reset_pose(self, seed=None) -> np.ndarray:
        """Put the arm at HOME_DEG and the cube at the seeded place, without rendering; returns the cube pose."""
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        x, y = placement.sample_cube_xy(seed, self.marks, self.placement_noise, self.pose_range, self.cube_pose)
        x, y = x + self.table_offset[0], y + self.table_offset[1]  # the marks moved with the table
        self.mujoco.mj_resetData(self.model, self.data)
        home = from_lerobot(HOME_DEG, self.grip_range)
        self.data.qpos[self.qpos_arm] = home
        self.data.ctrl[self.ctrl_arm] = home
        self.data.qpos[self.cube_qpos:self.cube_qpos + 7] = [x, y, self.rest_z(), 1.0, 0.0, 0.0, 0.0]
        if self.distractor_qpos is not None:
            stand = perturbations.distractor_pose((x, y), self.target_xy, self.scene, self.perturb)
            self.data.qpos[self.distractor_qpos:self.distractor_qpos + 7] = stand
        self.mujoco.mj_forward(self.model, self.data)
        self._steps, self._furthest, self._frames_step = 0, 0, None
        self.object_pose_at_reset = self.object_pose()
        return self.object_pose_at_reset.copy()

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.reset_pose(seed)
        info = self._info(self.stage()) | {"object_pose": self.object_pose_at_reset.copy()}
        return self._observation(), info

    def step_physics(self, action) -> int:
        """Apply one 30 Hz control step (lerobot units) and return the stage reached, without rendering."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (len(JOINTS),):
            raise ValueError(f"action must have shape ({len(JOINTS)},), got {action.shape}")
        self.data.ctrl[self.ctrl_arm] = from_lerobot(action, self.grip_range)
        self.mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        self._steps += 1
        stage = self.stage()
        self._furthest = max(self._furthest, stage)
        return stage

    def step(self, action):
        stage = self.step_physics(action)
        info = self._info(stage)
        success = info["is_success"]
        truncated = self._steps >= self.max_steps and not success
        return self._observation(), float(stage), success, truncated, info

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def make_env(image_size=IMAGE_SIZE, cameras=DEFAULT_CAMERAS, render_quality="fast", cube_pose=None, pose_range=None,
             marks=placement.MARKS, placement_noise=placement.PLACEMENT_NOISE, max_steps=EPISODE_LENGTH, perturb=None):
    """The SO-101 pick-and-place env: obs {'pixels': {camera: frame}, 'agent_pos'}, actions in lerobot units.

    perturb ({name: value}, see sim/perturb.py) changes the scene, the observed state or the timing.
    """
    env = SO101PickPlaceEnv(image_size=image_size, cameras=cameras, render_quality=render_quality,
                            cube_pose=cube_pose, pose_range=pose_range, marks=marks,
                            placement_noise=placement_noise, max_steps=max_steps, perturb=perturb)
    return perturbations.wrap_io(env, dict(perturb or {}))


def scene_of(camera_names, n_marks: int) -> perturbations.Scene:
    """The names this scene gives the parts perturbations touch: the first camera, the table geoms, the cube."""
    table = ("table", "target", *(f"mark_{k}" for k in range(n_marks)))
    return perturbations.Scene(camera=camera_names[0], table_body=None, cube_geom="cube", state_size=len(JOINTS),
                               table_geoms=table, table_xy=TABLE_XY, cube_half=CUBE_SIZE / 2,
                               clear_axis=1)  # the jaws close along x in front of the base


def env_from_settings(settings: dict, max_steps: int | None = None):
    """An SO-101 env configured like the one a dataset was recorded with (its meta/sim_settings.json)."""
    return make_env(image_size=tuple(settings.get("image_size", IMAGE_SIZE)),
                    cameras=tuple(settings.get("cameras", DEFAULT_CAMERAS)),
                    render_quality=settings.get("render_quality", "fast"), cube_pose=settings.get("cube_pose"),
                    pose_range=settings.get("pose_range"), marks=settings.get("marks", placement.MARKS),
                    placement_noise=settings.get("placement_noise", placement.PLACEMENT_NOISE),
                    max_steps=max_steps or settings.get("episode_length", EPISODE_LENGTH))
