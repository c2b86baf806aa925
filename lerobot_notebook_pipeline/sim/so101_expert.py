"""A scripted SO-101 pick and place: a top-down grasp from timed gripper waypoints, in joint space by IK.

Approach above the cube, descend, close, lift, carry above the centre target, lower, open, retreat. Each 30 Hz
step interpolates the waypoints (grasp point position, jaw yaw about the vertical, gripper opening) and solves
damped-least-squares IK on MuJoCo's Jacobian of the grasp site (`mj_jacSite`) for the five arm joints,
warm-started from the last solution, with the gripper pointing straight down. It reads the cube's pose at
reset (privileged state). Waypoint noise (Gaussian, in x and y) makes demos vary like a person's.
"""

from __future__ import annotations

import numpy as np

from lerobot_notebook_pipeline.sim.ik import Trajectory, damped_step, rotation_error
from lerobot_notebook_pipeline.sim.so101_env import FPS, GRIP_SITE, JOINTS, MAX_REWARD, arm_degrees
from lerobot_notebook_pipeline.sim.so101_scene import CUBE_SIZE, TARGET_XY

ARM = slice(0, 5)  # the five arm joints in the expert's joint vector (the gripper is the sixth)
OPEN = 45.0  # gripper.pos when open: a 6 cm gap between the jaw pads for the 3 cm cube
CLOSED = 0.0  # gripper.pos when closed on the cube (the servo presses up to its force limit)
HOVER = 0.08  # m above the cube's centre for the approach and above the target for the carry
GRASP_DZ = 0.002  # m: the grasp point this far above the cube's centre when the jaws close
RELEASE_DZ = 0.004  # m: the held cube's centre this far above its resting height when the jaws open
RETREAT = 0.10  # m above the table where the grasp point ends
FIXED_JAW_MARGIN = 0.012  # m: descend with the fixed jaw's pad this far from the cube (the moving jaw sweeps it over)
# Waypoint times (s) of a 10 s episode; they scale with the episode length.
TIMES = {"open": 0.5, "above": 2.0, "down": 3.0, "close": 3.6, "hold": 4.0, "lift": 5.0, "carry": 6.6,
         "lower": 7.6, "release": 8.1, "retreat": 9.0}
REFERENCE_SECONDS = 10.0
NOISE_CUT = 2.0  # waypoint noise is cut at 2 sigmas: a person aims, so no wild misses
DAMPING = 0.02
ROT_WEIGHT = 0.2  # orientation error weight (m per rad) against the position error


def top_down(yaw: float) -> np.ndarray:
    """Gripper body rotation pointing the fingers straight down, the jaws closing along the horizontal yaw."""
    x = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, 1.0])  # the gripper body's +z runs from the fingertips back to the wrist
    return np.column_stack([x, np.cross(z, x), z])


def grasp_yaw(natural: float) -> float:
    """The jaw yaw nearest to natural that closes on a pair of the (axis-aligned) cube's faces."""
    return float(np.round(natural / (np.pi / 2)) * (np.pi / 2))


class SO101IK:
    """Damped-least-squares IK for the grasp site on a private copy of the model state (never rendered)."""

    def __init__(self, model, damping: float = DAMPING, rot_weight: float = ROT_WEIGHT):
        import mujoco

        self.mujoco = mujoco
        self.model = model
        self.data = mujoco.MjData(model)
        self.site = model.site(GRIP_SITE).id
        self.body = model.body("gripper").id
        joints = [model.joint(j).id for j in JOINTS[:5]]
        self.qadr = np.array([model.jnt_qposadr[j] for j in joints])
        self.vadr = np.array([model.jnt_dofadr[j] for j in joints])
        self.lower, self.upper = model.jnt_range[joints, 0], model.jnt_range[joints, 1]
        self.damping, self.rot_weight = damping, rot_weight
        self.jacp, self.jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))

    def forward(self, q_arm) -> tuple[np.ndarray, np.ndarray]:
        """Grasp point position and gripper body rotation for the arm joints q_arm (radians)."""
        self.data.qpos[self.qadr] = q_arm
        self.mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.xmat[self.body].reshape(3, 3).copy()

    def solve(self, q_init, pos, rot, iters: int = 30, tol: float = 1e-4) -> np.ndarray:
        """Arm joints (radians) that put the grasp point at pos with the gripper at rot, from q_init."""
        q = np.clip(np.asarray(q_init, dtype=float), self.lower, self.upper)
        w = self.rot_weight
        for _ in range(iters):
            point, current = self.forward(q)
            err = np.concatenate([pos - point, w * rotation_error(rot, current)])
            if np.linalg.norm(err) < tol:
                break
            self.mujoco.mj_comPos(self.model, self.data)
            self.mujoco.mj_jacSite(self.model, self.data, self.jacp, self.jacr, self.site)
            jac = np.vstack([self.jacp[:, self.vadr], w * self.jacr[:, self.vadr]])
            q = np.clip(q + damped_step(jac, err, self.damping), self.lower, self.upper)
        return q

    def natural_yaw(self, q_arm) -> float:
        """The horizontal direction the jaws close along at q_arm (the gripper body's x axis, as a yaw)."""
        _, rot = self.forward(q_arm)
        return float(np.arctan2(rot[1, 0], rot[0, 0]))


class PickPlacePolicy:
    """Scripted top-down pick of the cube and place on the centre target: lerobot-unit joint actions."""

    def __init__(self, env, episode_length: int | None = None, waypoint_noise: float = 0.0, seed: int | None = None):
        self.env = env.unwrapped
        self.T = int(episode_length or self.env.max_steps)
        self.noise = float(waypoint_noise)
        self.rng = np.random.default_rng(seed)
        self.ik = SO101IK(self.env.model)
        self.traj = Trajectory()
        self.q_cmd = None
        self.t = 0

    def at(self, name: str) -> float:
        """The step of a named waypoint time, scaled to the episode length."""
        return TIMES[name] * FPS * self.T / (REFERENCE_SECONDS * FPS)

    def jitter(self, pos, along=None) -> np.ndarray:
        """A waypoint position with the optional Gaussian noise (cut at NOISE_CUT sigmas) added in x and y, or only
        along the horizontal unit vector `along`; heights stay (grasps are tight)."""
        pos = np.asarray(pos, dtype=float)
        if self.noise <= 0:
            return pos
        dx, dy = np.clip(self.rng.normal(0.0, self.noise, 2), -NOISE_CUT * self.noise, NOISE_CUT * self.noise)
        return pos + (dx * np.asarray(along) if along is not None else [dx, dy, 0.0])

    def reset(self) -> None:
        """Plan the waypoints from the env's current (just reset) state."""
        env = self.env
        self.q_cmd = env.data.qpos[env.qpos_arm[ARM]].copy()
        self.t = 0
        start, _ = self.ik.forward(self.q_cmd)
        cube = env.object_pose()[:3]
        cube[2] = CUBE_SIZE / 2
        target = np.array([*TARGET_XY, CUBE_SIZE / 2])
        pick_yaw = grasp_yaw(self.yaw_towards(cube))
        place_yaw = grasp_yaw(self.yaw_towards(target))
        start_yaw = self.yaw_towards(start)
        grip0 = env.agent_pos()[5]
        at, traj = self.at, Trajectory()
        traj.add(0, start, [start_yaw], grip0).add(at("open"), start, [start_yaw], OPEN)
        above = self.jitter(cube + [0, 0, HOVER])
        traj.add(at("above"), above, [pick_yaw], OPEN)
        closing = top_down(pick_yaw)[:, 0]  # the jaws have slack along it, none across (their pads are narrow)
        down = self.jitter(cube + [0, 0, GRASP_DZ] - FIXED_JAW_MARGIN * closing, along=closing)
        traj.add(at("down"), down, [pick_yaw], OPEN)
        traj.add(at("close"), down, [pick_yaw], CLOSED).add(at("hold"), down, [pick_yaw], CLOSED)
        traj.add(at("lift"), down + [0, 0, HOVER], [pick_yaw], CLOSED)
        self.place = self.jitter(target + [0, 0, RELEASE_DZ])
        self.place_yaw = place_yaw
        self.traj = traj
        self.plan_place(self.place)
        self.carry_read = int(round(at("lift")))

    def plan_place(self, place) -> None:
        """(Re-)plan from the carry on: the grasp point over the target, lowered so the cube lands at place."""
        at, yaw, traj = self.at, [self.place_yaw], self.traj
        traj.replace_from(at("carry"))
        traj.add(at("carry"), place + [0, 0, HOVER], yaw, CLOSED)
        traj.add(at("lower"), place, yaw, CLOSED)
        traj.add(at("release"), place, yaw, OPEN)
        retreat = place.copy()
        retreat[2] = RETREAT
        traj.add(at("retreat"), retreat, yaw, OPEN).add(self.T, retreat, yaw, OPEN)

    def update(self, t: int) -> None:
        """After the lift, read where the cube sits in the jaws and aim the place so the cube, not the grasp
        point, lands on the target (closed loop, like a person watching the cube)."""
        if t != self.carry_read:
            return
        held = self.env.object_pose()[:3] - self.env.grip_point()
        held[2] = 0.0
        self.plan_place(self.place - held)

    def yaw_towards(self, point) -> float:
        """The jaw yaw with the wrist unrolled when the arm points at point (pan = its azimuth)."""
        q = self.q_cmd.copy()
        q[0] = np.arctan2(point[1], point[0])
        q[4] = 0.0
        return self.ik.natural_yaw(q)

    def __call__(self) -> np.ndarray:
        """The next action: 6 joint targets in lerobot units."""
        self.update(self.t)
        pos, angles, gripper = self.traj.at(self.t + 1)
        self.q_cmd = self.ik.solve(self.q_cmd, pos, top_down(angles[0]))
        self.t += 1
        return np.append(arm_degrees(self.q_cmd), gripper)


def run_episode(env, policy, seed: int, render: bool = False, execute=None):
    """Reset env with seed and run the scripted policy for its episode length.

    Returns (actions, states, images or None, rewards): images is {camera: frames} when render is True. execute,
    when given, turns each expert action into the one the env runs (DART noise); the returned actions stay the expert's.
    """
    env = env.unwrapped
    env.reset_pose(seed)
    policy.reset()
    actions, states, rewards = [], [], []
    images = {name: [] for name in env.camera_names} if render else None
    for _ in range(policy.T):
        states.append(env.agent_pos())
        if render:
            for name, frame in env.render_cameras().items():
                images[name].append(frame)
        action = policy()
        actions.append(action)
        rewards.append(env.step_physics(action if execute is None else execute(action)))
    if render:
        images = {name: np.array(frames) for name, frames in images.items()}
    return np.array(actions), np.array(states), images, np.array(rewards)


def success_rate(env, seeds, waypoint_noise: float = 0.0, episode_length: int | None = None) -> dict:
    """Run the scripted expert on each seed without rendering: {'kept', 'attempted', 'stages': furthest per seed}."""
    stages = []
    for seed in seeds:
        policy = PickPlacePolicy(env, episode_length, waypoint_noise=waypoint_noise, seed=seed)
        stages.append(int(run_episode(env, policy, seed)[3].max()))
    return {"kept": sum(s == MAX_REWARD for s in stages), "attempted": len(stages), "stages": stages}
