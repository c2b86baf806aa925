"""A fast joint-space ALOHA env on gym-aloha's own scenes and tasks, and the sim settings stored with a dataset.

gym-aloha's task renders three 480x640 cameras with shadows and 4x multisampling on every step, although only
the top camera is returned. This env builds the physics once, steps it with gym-aloha's own task classes
(same actions, same rewards), and renders only the top camera at the requested size. ``render_quality="fast"``
turns shadows and multisampling off; ``"stock"`` keeps gym-aloha's visual settings.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_notebook_pipeline.files import write_json
from lerobot_notebook_pipeline.preflight import SIM_SETTINGS_FIX, read_json_file
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim import perturb as perturbations
from lerobot_notebook_pipeline.sim.renderers import close_at_exit

TASKS = ("transfer_cube", "insertion")
RENDER_QUALITIES = ("fast", "stock")
FPS = 50
CAMERA = "top"
SIM_SETTINGS_FILE = "meta/sim_settings.json"
# gym-aloha's sampling ranges (gym_aloha.utils): the cube, or the peg; the socket mirrors the peg in x.
DEFAULT_POSE_RANGE = {"transfer_cube": (0.0, 0.2, 0.4, 0.6), "insertion": (0.1, 0.2, 0.4, 0.6)}
SOCKET_POSE_RANGE = (-0.2, -0.1, 0.4, 0.6)
TABLE_XY = (-0.6, 0.6, 0.22, 0.98)  # the table top (gym-aloha's 1.22 x 0.76 m tabletop mesh at (0, 0.6))
OBJECT_Z = 0.05
OBJECT_QPOS = {"transfer_cube": 7, "insertion": 14}  # the objects' free joints after the arms' 16 joints
HANDOVER_XY = (0.0, 0.5)  # where the right arm carries the cube to, between the arms (the open fingers spread along y)
CUBE_HALF = 0.02  # gym-aloha's red_box
TASK_STRINGS = {
    "transfer_cube": "Pick up the cube with the right arm and transfer it to the left arm.",
    "insertion": "Insert the peg into the socket.",
}


def check_task(task: str) -> str:
    """Return task when it is a known sim task, else raise a UserError naming the choices."""
    if task not in TASKS:
        raise UserError(f"unknown task '{task}': use one of {', '.join(TASKS)}")
    return task


def check_on_table(xy, flag: str = "--cube-pose") -> None:
    """Refuse an object position (x, y) that is off the table top."""
    x0, x1, y0, y1 = TABLE_XY
    if not (x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1):
        raise UserError(f"{flag} {xy[0]:g} {xy[1]:g} is off the table (x from {x0:g} to {x1:g}, y from {y0:g} to {y1:g} "
                        f"m): put it on the table, e.g. gym-aloha's range x 0 to 0.2, y 0.4 to 0.6")


def check_pose_range(pose_range, flag: str = "--pose-range") -> None:
    """Refuse a sampling range XMIN XMAX YMIN YMAX that is reversed or reaches off the table."""
    x0, x1, y0, y1 = pose_range
    if x0 > x1 or y0 > y1:
        raise UserError(f"{flag} wants XMIN XMAX YMIN YMAX with XMIN <= XMAX and YMIN <= YMAX, got "
                        f"{' '.join(f'{v:g}' for v in pose_range)}: swap the reversed pair")
    for corner in ((x0, y0), (x1, y1)):
        check_on_table(corner, f"{flag} corner")


def sample_object_pose(task: str, rng: np.random.RandomState, pose_range=None) -> np.ndarray:
    """Object pose(s) (7 per object: xyz + wxyz quat) drawn like gym-aloha's samplers, optionally from pose_range."""
    x0, x1, y0, y1 = pose_range if pose_range is not None else DEFAULT_POSE_RANGE[task]
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    first = rng.uniform([x0, y0, OBJECT_Z], [x1, y1, OBJECT_Z])
    if task == "transfer_cube":
        return np.concatenate([first, quat])
    sx0, sx1, sy0, sy1 = SOCKET_POSE_RANGE if pose_range is None else (-x1, -x0, y0, y1)
    socket = rng.uniform([sx0, sy0, OBJECT_Z], [sx1, sy1, OBJECT_Z])
    return np.concatenate([first, quat, socket, quat])


def fixed_object_pose(task: str, xy) -> np.ndarray:
    """Object pose(s) for a fixed (x, y): the cube or peg there, the socket (insertion) mirrored in x."""
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    first = np.array([xy[0], xy[1], OBJECT_Z])
    if task == "transfer_cube":
        return np.concatenate([first, quat])
    return np.concatenate([first, quat, np.array([-xy[0], xy[1], OBJECT_Z]), quat])


class FastAlohaEnv(gym.Env):
    """Joint-space ALOHA (transfer_cube or insertion) that renders only the top camera, only for observations."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, task="transfer_cube", image_size=(480, 640), render_quality="fast", cube_pose=None,
                 pose_range=None, max_steps=400, perturb=None):
        super().__init__()
        from gym_aloha.constants import ASSETS_DIR, DT
        from gym_aloha.tasks.sim import InsertionTask, TransferCubeTask

        self.task_name = check_task(task)
        if render_quality not in RENDER_QUALITIES:
            raise UserError(f"unknown render quality '{render_quality}': use fast or stock")
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.render_quality = render_quality
        self.cube_pose = None if cube_pose is None else (float(cube_pose[0]), float(cube_pose[1]))
        self.pose_range = None if pose_range is None else tuple(float(v) for v in pose_range)
        self.max_steps = int(max_steps)
        self.render_mode = "rgb_array"

        self.perturb = dict(perturb or {})
        scene = scene_of(task)
        if self.perturb:
            perturbations.check_applies(self.perturb, scene, f"ALOHA {task}")
        self.physics = load_physics(ASSETS_DIR / f"bimanual_viperx_{task}.xml", "distractor_cm" in self.perturb)
        self.task = TransferCubeTask() if task == "transfer_cube" else InsertionTask()
        self.max_reward = self.task.max_reward
        self.n_sub_steps = int(round(DT / self.physics.timestep()))
        model = self.physics.model.ptr
        if render_quality == "fast":
            model.vis.quality.shadowsize = 0
            model.vis.quality.offsamples = 0
        height, width = self.image_size
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        if self.perturb:
            perturbations.apply_to_model(model, self.physics.data.ptr, scene, self.perturb)
        self._renderer = None  # created on first render (GL context), reused afterwards
        self._steps = 0
        self.object_pose_at_reset = None

        self.observation_space = spaces.Dict({
            "pixels": spaces.Dict({CAMERA: spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)}),
            "agent_pos": spaces.Box(-1000.0, 1000.0, shape=(14,), dtype=np.float64),
        })
        self.action_space = spaces.Box(low=-1, high=1, shape=(14,), dtype=np.float32)

    # -- state the scripted policy and rollouts read --------------------------------------------------
    def object_pose(self) -> np.ndarray:
        """Current pose(s) of the object(s): 7 numbers (cube) or 14 (peg, socket), xyz + wxyz quat each."""
        return self.physics.data.qpos[16:16 + OBJECT_QPOS[self.task_name]].copy()

    def distractor_pose(self) -> np.ndarray | None:
        """The distractor's current pose (xyz + wxyz quat), or None when there is none."""
        if "distractor_cm" not in self.perturb:
            return None
        return self.physics.named.data.qpos[perturbations.DISTRACTOR].copy()

    def agent_pos(self) -> np.ndarray:
        """The 14 joint positions (grippers normalized 0 closed .. 1 open), as gym-aloha reports them."""
        return self.task.get_qpos(self.physics)

    def render(self) -> np.ndarray:
        """The current top-camera frame (H x W x 3 uint8) at the env's image size and render quality."""
        import mujoco

        if self._renderer is None:
            height, width = self.image_size
            self._renderer = mujoco.Renderer(self.physics.model.ptr, height=height, width=width)
            close_at_exit(self)
        self._renderer.update_scene(self.physics.data.ptr, camera=CAMERA)
        return self._renderer.render().copy()

    def _observation(self) -> dict:
        return {"pixels": {CAMERA: self.render()}, "agent_pos": self.agent_pos()}

    # -- gymnasium API ------------------------------------------------------------------------------
    def reset_pose(self, seed=None) -> np.ndarray:
        """Put the arms at the start pose and the object(s) at the seeded pose, without rendering."""
        from gym_aloha.tasks import sim

        if self.cube_pose is not None:
            pose = fixed_object_pose(self.task_name, self.cube_pose)
        else:
            if seed is None:
                seed = int(self.np_random.integers(0, 2**31 - 1))
            pose = sample_object_pose(self.task_name, np.random.RandomState(seed), self.pose_range)
        pose = moved_with_table(pose, self.perturb)
        sim.BOX_POSE[0] = pose  # gym-aloha's tasks read the object pose from this module global
        with self.physics.reset_context():
            self.task.initialize_episode(self.physics)
            if "distractor_cm" in self.perturb:  # gym-aloha wrote the cube into the last free joint, the distractor's
                self.physics.named.data.qpos["red_box_joint"] = pose
                self.physics.named.data.qpos[perturbations.DISTRACTOR] = perturbations.distractor_pose(
                    pose[:2], HANDOVER_XY, scene_of(self.task_name), self.perturb)
        self._steps = 0
        self.object_pose_at_reset = pose.copy()
        return pose

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.reset_pose(seed)
        return self._observation(), {"is_success": False, "object_pose": self.object_pose_at_reset.copy()}

    def step_physics(self, action) -> float:
        """Apply one 50 Hz control step and return the reward, without rendering (for planning passes)."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (14,):
            raise ValueError(f"action must have shape (14,), got {action.shape}")
        self.task.before_step(action, self.physics)
        self.physics.step(self.n_sub_steps)
        self.task.after_step(self.physics)
        self._steps += 1
        return float(self.task.get_reward(self.physics))

    def step(self, action):
        reward = self.step_physics(action)
        success = reward >= self.max_reward
        truncated = self._steps >= self.max_steps and not success
        return self._observation(), reward, success, truncated, {"is_success": success}

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None




def make_env(task="transfer_cube", image_size=(480, 640), render_quality="fast", cube_pose=None, pose_range=None,
             max_steps=400, perturb=None):
    """The fast joint-space ALOHA env: obs {'pixels': {'top'}, 'agent_pos'} like gym-aloha's pixels_agent_pos.

    perturb ({name: value}, see sim/perturb.py) changes the scene, the observed state or the timing.
    """
    env = FastAlohaEnv(task=task, image_size=image_size, render_quality=render_quality, cube_pose=cube_pose,
                       pose_range=pose_range, max_steps=max_steps, perturb=perturb)
    return perturbations.wrap_io(env, dict(perturb or {}))


def scene_of(task: str) -> perturbations.Scene:
    """The names gym-aloha's scene gives the parts that perturbations touch."""
    return perturbations.Scene(camera=CAMERA, table_body="table", state_size=14,
                               cube_geom="red_box" if task == "transfer_cube" else None, table_xy=TABLE_XY,
                               cube_half=CUBE_HALF, clear_axis=0)


def load_physics(xml: Path, distractor: bool):
    """gym-aloha's scene as dm_control physics, loaded as gym-aloha does, or with the distractor added before it
    compiles."""
    from dm_control import mujoco as dm_mujoco

    if not distractor:
        return dm_mujoco.Physics.from_xml_path(str(xml))
    import mujoco
    from dm_control.mujoco import wrapper

    spec = mujoco.MjSpec.from_file(str(xml))
    perturbations.add_distractor(spec)
    return dm_mujoco.Physics.from_model(wrapper.MjModel(spec.compile()))


def moved_with_table(pose: np.ndarray, perturb: dict) -> np.ndarray:
    """Object pose(s) carried along when the table moves (every 7 numbers start with a position)."""
    offset = perturbations.object_offset(perturb)
    if not offset.any():
        return pose
    pose = pose.copy()
    for start in range(0, len(pose), 7):
        pose[start:start + 3] += offset
    return pose


def write_sim_settings(root: str | Path, settings: dict) -> Path:
    """Store the sim settings a dataset was recorded with at ROOT/meta/sim_settings.json."""
    return write_json(Path(root) / SIM_SETTINGS_FILE, settings)


def read_sim_settings(root: str | Path) -> dict | None:
    """The sim settings stored with a dataset, or None when it has none (e.g. a hub dataset)."""
    path = Path(root) / SIM_SETTINGS_FILE
    if not path.is_file():
        return None
    return read_json_file(path, SIM_SETTINGS_FIX)


def env_from_settings(settings: dict, max_steps: int | None = None):
    """A fast env configured like the one a dataset was recorded with (task, image size, quality, poses)."""
    return make_env(task=settings.get("task", "transfer_cube"), image_size=tuple(settings.get("image_size", (480, 640))),
                    render_quality=settings.get("render_quality", "fast"), cube_pose=settings.get("cube_pose"),
                    pose_range=settings.get("pose_range"),
                    max_steps=max_steps or settings.get("episode_length", 400))


def demo_starts(dataset_dir: Path) -> list[list[float]]:
    """The cube positions (x, y) the dataset's demos started from, from its sim settings."""
    settings = read_sim_settings(dataset_dir) or {}
    return [[round(e["object_pose"][0], 4), round(e["object_pose"][1], 4)] for e in settings.get("episodes", [])]
