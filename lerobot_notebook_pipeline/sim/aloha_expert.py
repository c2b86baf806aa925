"""Scripted ALOHA demonstrations: timed gripper-pose waypoints turned into joint targets by damped-least-squares IK.

The policy works directly in the joint-space env (the one recorded), so there is no end-effector pass to replay.
Each control step it interpolates the waypoints of both grippers, solves IK on MuJoCo's Jacobian of a grip point
between the fingertips (warm-started from the last solution), and sends the joint targets as the action, with
the grippers normalized as gym-aloha expects (0 closed, 1 open). It reads the object pose (privileged state) to
place the pick and the handover, and all waypoint times scale with the episode length.
"""

from __future__ import annotations

import numpy as np

from lerobot_notebook_pipeline.sim.ik import Trajectory, damped_step, rotation, rotation_error

ARM_QPOS = {"left": slice(0, 6), "right": slice(8, 14)}  # the 6 arm joints in qpos / qvel of gym-aloha's scenes
ACTION_ARM = {"left": slice(0, 6), "right": slice(7, 13)}
ACTION_GRIPPER = {"left": 6, "right": 13}
GRIP_OFFSET = np.array([0.125, 0.0, 0.0])  # the point between the finger pads, in the gripper_link frame
BASE_XY = {"left": np.array([-0.469, 0.5]), "right": np.array([0.469, 0.5])}
PEG_HALF_LENGTH = 0.06  # the peg and the socket are both 12 cm long along their x axis
CUBE_HALF = 0.02  # half the cube's edge: its centre height when it rests on the table
REFERENCE_LENGTH = 400  # waypoint times below are written for 400 steps and scaled to the episode length


class ArmIK:
    """Damped-least-squares IK for one arm's grip point on a private copy of the model state (never rendered)."""

    def __init__(self, model, side: str, damping: float = 0.05):
        import mujoco

        self.mujoco = mujoco
        self.model = model
        self.data = mujoco.MjData(model)
        self.side = side
        self.qslice = ARM_QPOS[side]
        self.body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"vx300s_{side}/gripper_link")
        joint_ids = range(self.qslice.start, self.qslice.stop)
        self.lower = np.array([model.jnt_range[j][0] for j in joint_ids])
        self.upper = np.array([model.jnt_range[j][1] for j in joint_ids])
        self.damping = damping
        self.jacp = np.zeros((3, model.nv))
        self.jacr = np.zeros((3, model.nv))

    def forward(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grip point position and gripper rotation for the arm joints q_arm."""
        self.data.qpos[self.qslice] = q_arm
        self.mujoco.mj_kinematics(self.model, self.data)
        rot = self.data.xmat[self.body].reshape(3, 3).copy()
        return self.data.xpos[self.body] + rot @ GRIP_OFFSET, rot

    def solve(self, q_init: np.ndarray, pos: np.ndarray, rot: np.ndarray, iters: int = 20, tol: float = 1e-4,
              rot_weight: float = 0.3) -> np.ndarray:
        """Arm joints that put the grip point at pos with orientation rot, starting from q_init."""
        q = np.clip(np.array(q_init, dtype=float), self.lower, self.upper)
        for _ in range(iters):
            point, current = self.forward(q)
            err = np.concatenate([pos - point, rot_weight * rotation_error(rot, current)])
            if np.linalg.norm(err) < tol:
                break
            self.mujoco.mj_comPos(self.model, self.data)
            self.mujoco.mj_jac(self.model, self.data, self.jacp, self.jacr, point, self.body)
            jac = np.vstack([self.jacp[:, self.qslice], rot_weight * self.jacr[:, self.qslice]])
            q = np.clip(q + damped_step(jac, err, self.damping), self.lower, self.upper)
        return q


def scaled(t: float, episode_length: int) -> float:
    """A waypoint time written for 400 steps, scaled to episode_length."""
    return t * episode_length / REFERENCE_LENGTH


class ScriptedPolicy:
    """Base of the scripted policies: two gripper trajectories -> IK -> 14-dim joint-position actions."""

    def __init__(self, env, episode_length: int = 400, waypoint_noise: float = 0.0, seed: int | None = None):
        self.env = env.unwrapped
        self.T = int(episode_length)
        self.noise = float(waypoint_noise)
        self.rng = np.random.default_rng(seed)
        model = self.env.physics.model.ptr
        self.ik = {side: ArmIK(model, side) for side in ("left", "right")}
        self.traj = {"left": Trajectory(), "right": Trajectory()}
        self.q_cmd = {}
        self.t = 0

    def s(self, t: float) -> float:
        """Scale a 400-step time to this episode's length."""
        return scaled(t, self.T)

    def jitter(self, pos) -> np.ndarray:
        """A waypoint position with the optional Gaussian noise added in x and y."""
        pos = np.asarray(pos, dtype=float)
        if self.noise <= 0:
            return pos
        return pos + [*self.rng.normal(0.0, self.noise, 2), 0.0]  # z stays: grasp heights are tight

    def start(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Current grip point and yaw/pitch/roll of one gripper at the start of the episode."""
        q = self.env.physics.data.qpos[ARM_QPOS[side]].copy()
        self.q_cmd[side] = q
        pos, _ = self.ik[side].forward(q)
        angles = np.array([0.0, -0.1, 0.0]) if side == "left" else np.array([np.pi, -0.1, 0.0])
        return pos, angles

    def reset(self) -> None:
        """Plan the waypoints from the env's current (just reset) state."""
        raise NotImplementedError

    def update(self, t: int) -> None:
        """Re-plan from observations at chosen times (closed loop); default: nothing."""

    def __call__(self) -> np.ndarray:
        """The next 14-dim joint-position action."""
        self.update(self.t)
        action = np.zeros(14)
        for side in ("left", "right"):
            pos, angles, gripper = self.traj[side].at(self.t + 1)
            q = self.ik[side].solve(self.q_cmd[side], pos, rotation(*angles))
            self.q_cmd[side] = q
            action[ACTION_ARM[side]] = q
            action[ACTION_GRIPPER[side]] = gripper
        self.t += 1
        return action


class TransferCubePolicy(ScriptedPolicy):
    """Right gripper picks the cube and lifts it to the middle; left gripper takes it over; right lets go."""

    meet = np.array([0.0, 0.5, 0.25])
    pick_pitch = np.pi / 3
    grasp_dz = 0.01  # grip point 1 cm above the cube centre: fingertips clear the table, so the gripper closes at once

    def reset(self) -> None:
        cube = self.env.object_pose()[:3]
        cube[2] = CUBE_HALF  # the cube starts 5 cm up and drops onto the table
        s, meet = self.s, self.meet
        r_pos, r_ang = self.start("right")
        yaw = np.arctan2(cube[1] - BASE_XY["right"][1], cube[0] - BASE_XY["right"][0]) % (2 * np.pi)  # near pi
        pick = np.array([yaw, self.pick_pitch, 0.0])
        right = self.traj["right"]
        right.add(0, r_pos, r_ang, 0.1).add(s(20), r_pos, r_ang, 1.0)
        right.add(s(90), self.jitter(cube + [0, 0, 0.08]), pick, 1.0)
        right.add(s(130), self.jitter(cube + [0, 0, self.grasp_dz]), pick, 1.0)
        right.add(s(170), right.points[-1][1], pick, 0.0)
        carry = np.array([np.pi, self.pick_pitch, 0.0])
        right.add(s(220), self.jitter(meet + [0.02, 0, 0]), carry, 0.0)
        right.add(s(310), right.points[-1][1], carry, 0.0)
        right.add(s(330), right.points[-1][1], carry, 1.0)
        right.add(s(370), meet + [0.12, 0, 0.02], carry, 1.0)
        right.add(s(400), meet + [0.12, 0, 0.02], carry, 1.0)

        l_pos, l_ang = self.start("left")
        side_grip = np.array([0.0, 0.0, np.pi / 2])
        left = self.traj["left"]
        left.add(0, l_pos, l_ang, 0.1).add(s(20), l_pos, l_ang, 1.0)
        left.add(s(120), self.jitter(meet + [-0.12, 0, 0]), side_grip, 1.0)
        self.handover_read = int(round(s(235)))

    def update(self, t: int) -> None:
        if t != self.handover_read:
            return
        cube = self.env.object_pose()[:3]  # where the right gripper actually holds the cube
        s = self.s
        side_grip = np.array([0.0, 0.0, np.pi / 2])
        left = self.traj["left"]
        left.replace_from(s(236))
        left.add(s(236), left.at(t)[0], side_grip, 1.0)
        left.add(s(275), self.jitter(cube + [-0.01, 0, 0]), side_grip, 1.0)
        left.add(s(300), left.points[-1][1], side_grip, 0.0)
        left.add(s(360), cube + [-0.12, 0, 0], side_grip, 0.0)
        left.add(s(400), cube + [-0.12, 0, 0], side_grip, 0.0)


class InsertionPolicy(ScriptedPolicy):
    """Right gripper picks the peg, left picks the socket; both lift and meet; the peg is pushed into the socket.

    Before the push, the policy reads where the peg and the socket actually are in the grippers and corrects the
    peg's path by the difference, so the peg lines up with the socket's opening.
    """

    socket_at = np.array([-0.06, 0.5, 0.2])  # where the left gripper holds the socket's centre at the meeting
    pitch = np.pi / 3
    pre_insert = 0.16  # peg centre this far (+x) from the socket centre when the arms meet
    insert_depth = 0.01  # aim the peg's tip 3 cm past the pin's end (at +0.04 from the socket centre): a firm push

    def pick(self, side: str, obj: np.ndarray, rest_z: float) -> None:
        """Waypoints to grasp obj (xyz) from above with one gripper and lift it."""
        s = self.s
        pos, angles = self.start(side)
        base = BASE_XY[side]
        yaw = np.arctan2(obj[1] - base[1], obj[0] - base[0])
        if side == "right":
            yaw %= 2 * np.pi  # near pi, like the arm's start pose (no wrist spin)
        down = np.array([yaw, self.pitch, 0.0])
        target = np.array([obj[0], obj[1], rest_z])
        traj = self.traj[side]
        traj.add(0, pos, angles, 0.1).add(s(20), pos, angles, 1.0)
        traj.add(s(100), self.jitter(target + [0, 0, 0.08]), down, 1.0)
        traj.add(s(135), self.jitter(target), down, 1.0)
        traj.add(s(155), traj.points[-1][1], down, 0.0)
        traj.add(s(180), traj.points[-1][1], down, 0.0)
        traj.add(s(215), traj.points[-1][1] + [0, 0, 0.12], down, 0.0)

    def reset(self) -> None:
        poses = self.env.object_pose()
        peg, socket = poses[:3].copy(), poses[7:10].copy()
        self.pick("right", peg, 0.032)
        self.pick("left", socket, 0.035)
        s = self.s
        level = {"left": np.array([0.0, self.pitch, 0.0]), "right": np.array([np.pi, self.pitch, 0.0])}
        self.traj["left"].add(s(270), self.jitter(self.socket_at), level["left"], 0.0)
        self.traj["right"].add(s(270), self.jitter(self.socket_at + [self.pre_insert, 0, 0]), level["right"], 0.0)
        self.level = level
        self.align_read = int(round(s(285)))
        self.push_reads = sorted({int(round(s(t))) for t in (325, 335, 345, 355)})

    def update(self, t: int) -> None:
        if t != self.align_read and t not in self.push_reads:
            return
        poses = self.env.object_pose()
        peg_tip = poses[:3] + quat_to_mat(poses[3:7]) @ [-PEG_HALF_LENGTH, 0, 0]  # the end that goes in first
        socket_rot = quat_to_mat(poses[10:14])
        opening = poses[7:10] + socket_rot @ [PEG_HALF_LENGTH, 0, 0]
        s, right = self.s, self.traj["right"]
        grip, _, _ = right.at(t)
        offset = grip - peg_tip  # keep the grip-to-tip vector: move the tip where it must go
        level = self.level["right"]
        right.replace_from(t + 0.5)
        right.add(t + 0.5, grip, level, 0.0)
        if t == self.align_read:  # line the tip up 3 cm in front of the opening, on the socket's axis
            right.add(s(315), opening + socket_rot @ [0.03, 0, 0] + offset, level, 0.0)
            right.add(s(400), right.points[-1][1], level, 0.0)
        else:  # push it in past the pin's end (4 cm from the socket's centre), re-aimed at each read
            right.add(s(365), poses[7:10] + socket_rot @ [self.insert_depth, 0, 0] + offset, level, 0.0)
            right.add(s(400), right.points[-1][1], level, 0.0)


def quat_to_mat(quat) -> np.ndarray:
    """3x3 rotation matrix of a wxyz quaternion."""
    w, x, y, z = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


POLICIES = {"transfer_cube": TransferCubePolicy, "insertion": InsertionPolicy}


def run_episode(env, policy, seed: int, render: bool = False, execute=None):
    """Reset env with seed and run the scripted policy for its episode length.

    Returns (actions, states, images or None, rewards) as arrays; images only when render is True. execute, when
    given, turns each expert action into the one the env runs (DART noise); the returned actions stay the expert's.
    """
    env = env.unwrapped
    env.reset_pose(seed)
    policy.reset()
    actions, states, images, rewards = [], [], [], []
    for _ in range(policy.T):
        states.append(env.agent_pos())
        if render:
            images.append(env.render())
        action = policy()
        actions.append(action)
        rewards.append(env.step_physics(action if execute is None else execute(action)))
    return (np.array(actions), np.array(states), np.array(images) if render else None, np.array(rewards))
