"""Policy rollouts in simulation: load a checkpoint, match its inputs to the env, run seeded episodes, score them.

Metrics use lerobot-eval's definitions: per episode the sum and the max of the rewards up to and including the
step that ended it, success if the env reported is_success by then, and the episode's reset seed; then
pc_success, avg_sum_reward and avg_max_reward over episodes. Episode i is reset with seed + i, as in lerobot-eval.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.evaluation import success
from lerobot_notebook_pipeline.evaluation.inference import LatencyLog
from lerobot_notebook_pipeline.runtime import UserError, log, looks_like_repo_id, require_hub


@dataclass(frozen=True)
class EnvSpec:
    """One simulated task: how to build it, its control rate and its default episode length."""

    name: str
    family: str  # "aloha", "so101" or "pusht"
    gym_id: str
    fps: int
    max_steps: int
    task: str  # sim_env task name, or the task text handed to language-conditioned policies
    description: str
    frame_key: str | None = None  # observation camera that equals env.render(), if any


ENVS = {
    "aloha_transfer_cube": EnvSpec("aloha_transfer_cube", "aloha", "gym_aloha/AlohaTransferCube-v0", 50, 400,
                                   "transfer_cube", "Pick up the cube with the right arm and transfer it to the left arm.", "top"),
    "aloha_insertion": EnvSpec("aloha_insertion", "aloha", "gym_aloha/AlohaInsertion-v0", 50, 400, "insertion",
                               "Insert the peg into the socket.", "top"),
    "pusht": EnvSpec("pusht", "pusht", "gym_pusht/PushT-v0", 10, 300, "pusht", "Push the T-shaped block onto the target."),
    # the SO-101 pick and place (sim/so101_env.py); its video is env.render(): the cameras side by side
    "so101_pick_place": EnvSpec("so101_pick_place", "so101", "lerobot_notebook_pipeline/SO101PickPlace-v0", 30, 300,
                                "pick_place", "Pick up the cube and place it on the blue target in the centre."),
}
CUBE_FAMILIES = ("aloha", "so101")  # the envs with a table, a cube and cameras that the sim flags set


def env_spec(name: str) -> EnvSpec:
    """The EnvSpec for a --env name, or a UserError listing the choices."""
    if name not in ENVS:
        raise UserError(f"unknown env '{name}': choose one of {', '.join(ENVS)}")
    return ENVS[name]


# ----------------------------------------------------------------------------------------------- loading


def resolve_policy_dir(spec: str | Path) -> Path:
    """Folder holding config.json + model.safetensors for a local checkpoint (any of train.py's levels) or hub id."""
    path = Path(spec).expanduser()
    if path.exists():
        for candidate in (path, path / "pretrained_model", path / "checkpoints" / "last" / "pretrained_model"):
            if (candidate / "config.json").is_file() and (candidate / "model.safetensors").is_file():
                return candidate
        raise UserError(f"'{path}' holds no policy checkpoint (config.json + model.safetensors): pass a "
                        "pretrained_model folder, e.g. outputs/train/RUN/checkpoints/last/pretrained_model")
    if looks_like_repo_id(str(spec)):
        require_hub(str(spec), "model", "pass a local checkpoint folder instead, e.g. --policy-path "
                    "outputs/train/RUN/checkpoints/last/pretrained_model (train one with train.py)")
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(spec), repo_type="model"))
    raise UserError(f"policy '{spec}' is neither an existing folder nor a hub repo id (owner/name): "
                    "pass a checkpoint folder made by train.py")


@dataclass
class LoadedPolicy:
    """A policy in eval mode with the processors it was trained with."""

    policy: object
    preprocessor: object
    postprocessor: object
    config: object
    path: Path
    device: str

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Policy input feature key -> shape (images as C, H, W)."""
        return {key: tuple(ft.shape) for key, ft in self.config.input_features.items()}

    @property
    def action_dim(self) -> int:
        """Size of the action vector the policy outputs."""
        return int(self.config.output_features["action"].shape[0])


def load_policy(spec: str | Path, device: str = "cpu", overrides: dict | None = None) -> LoadedPolicy:
    """Load a policy and its pre/post processors from a local checkpoint or a hub id, ready for select_action; the
    config fields in overrides replace the saved ones."""
    import lerobot.policies.factory  # noqa: F401  registers every policy config type (act, diffusion, ...)

    from lerobot_notebook_pipeline.training import policies

    path = resolve_policy_dir(spec)
    try:
        policies.load_config(path, device)
    except Exception as err:  # draccus raises several types for a bad or foreign config.json
        raise UserError(f"cannot read the policy config in '{path}' ({str(err).splitlines()[0][:120]}): "
                        "pass a checkpoint saved by train.py or lerobot") from err
    if not (path / "policy_preprocessor.json").is_file():
        raise UserError(f"'{path}' has no policy_preprocessor.json, so the normalisation it was trained with is "
                        "unknown: pass a checkpoint saved with its processors (train.py saves them)")
    policy, preprocessor, postprocessor = policies.load_policy(path, device, overrides)
    return LoadedPolicy(policy, preprocessor, postprocessor, policy.config, path, device)


def training_dataset_root(policy_dir: str | Path) -> Path | None:
    """The local root of the dataset the policy trained on, when the checkpoint records it and it still exists.

    Reads train.py's train_args.json ("dataset": a folder or hub id) or lerobot-train's train_config.json
    (dataset.root, or dataset.repo_id in the local lerobot cache).
    """
    policy_dir = Path(policy_dir)
    candidates = []
    if (policy_dir / "train_args.json").is_file():
        candidates.append(json.loads((policy_dir / "train_args.json").read_text()).get("dataset"))
    if (policy_dir / "train_config.json").is_file():
        dataset = json.loads((policy_dir / "train_config.json").read_text()).get("dataset") or {}
        candidates += [dataset.get("root"), dataset.get("repo_id")]
    for spec in filter(None, candidates):
        path = Path(str(spec)).expanduser()
        if not path.is_dir() and looks_like_repo_id(str(spec)):
            from lerobot.utils.constants import HF_LEROBOT_HOME

            path = Path(HF_LEROBOT_HOME) / str(spec)
        if (path / "meta" / "info.json").is_file():
            return path
    return None


def sim_settings_for(policy_dir: str | Path) -> dict | None:
    """The sim settings (task, image_size, render_quality, cube pose...) of the data the policy trained on, if known."""
    root = training_dataset_root(policy_dir)
    if root is None:
        return None
    try:
        from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings
    except ImportError:
        return None
    return read_sim_settings(root)


# ------------------------------------------------------------------------------------ observation matching


@dataclass
class ObservationAdapter:
    """Renames and resizes env observations (lerobot layout, batched) into what the policy was trained on."""

    renames: dict[str, str] = field(default_factory=dict)  # env key -> policy key
    resizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # policy key -> (H, W)
    notes: list[str] = field(default_factory=list)

    def __call__(self, observation: dict) -> dict:
        import torch.nn.functional as F

        out = {self.renames.get(key, key): value for key, value in observation.items()}
        for key, size in self.resizes.items():
            out[key] = F.interpolate(out[key], size=size, mode="bilinear", antialias=True, align_corners=False)
        return out


def plan_observation_adapter(policy_inputs: dict[str, tuple[int, ...]], env_inputs: dict[str, tuple[int, ...]],
                             max_aspect_change: float = 0.05) -> ObservationAdapter:
    """Work out how to feed env observations to the policy, or raise a UserError naming the mismatch.

    Both dicts map lerobot keys to shapes without the batch dim (images C, H, W). Safe fixes: one unmatched
    camera renamed to the one camera the policy lacks, and an image resized to the trained size when the aspect
    ratio changes by at most max_aspect_change. Any other mismatch (state size, cameras, distortion) is refused.
    """
    adapter = ObservationAdapter()
    want_images = [k for k, s in policy_inputs.items() if len(s) == 3]
    have_images = [k for k, s in env_inputs.items() if len(s) == 3]
    missing = [k for k in want_images if k not in env_inputs]
    spare = [k for k in have_images if k not in policy_inputs]
    if missing:
        if len(missing) == 1 and len(spare) == 1:
            adapter.renames[spare[0]] = missing[0]
            adapter.notes.append(f"camera '{spare[0]}' fed to the policy as '{missing[0]}'")
        else:
            raise UserError(f"the policy expects camera(s) {missing} but the env gives {have_images}: "
                            "use a policy trained on this env's cameras")
    for key in want_images:
        env_key = next((e for e, p in adapter.renames.items() if p == key), key)
        want, have = policy_inputs[key], env_inputs[env_key]
        if want == have:
            continue
        if want[0] != have[0]:
            raise UserError(f"'{key}' has {have[0]} channels in the env but the policy expects {want[0]}: "
                            "use a policy trained on RGB images")
        aspect_change = abs((want[2] / want[1]) / (have[2] / have[1]) - 1)
        if aspect_change > max_aspect_change:
            raise UserError(f"'{key}' is {have[1]}x{have[2]} in the env but the policy was trained on "
                            f"{want[1]}x{want[2]}; resizing would distort it: render the env at the trained "
                            "aspect ratio (--image-size H W)")
        adapter.resizes[key] = (want[1], want[2])
        adapter.notes.append(f"'{key}' resized from {have[1]}x{have[2]} to the trained {want[1]}x{want[2]}")
    for key, want in policy_inputs.items():
        if len(want) == 3:
            continue
        if key not in env_inputs:
            raise UserError(f"the policy expects '{key}' {list(want)} but the env does not provide it (it gives "
                            f"{sorted(env_inputs)}): use a policy trained on this env")
        if tuple(env_inputs[key]) != tuple(want):
            raise UserError(f"'{key}' has shape {list(env_inputs[key])} in the env but the policy expects "
                            f"{list(want)}: use a policy trained on this env (state sizes must match exactly)")
    return adapter


def observation_shapes(observation: dict) -> dict[str, tuple[int, ...]]:
    """Key -> shape without the batch dim, for the tensors in a lerobot-layout observation."""
    return {k: tuple(v.shape[1:]) for k, v in observation.items() if hasattr(v, "shape")}


def check_action_dim(policy_action_dim: int, env_action_dim: int) -> None:
    """Refuse a policy whose action size differs from the env's."""
    if policy_action_dim != env_action_dim:
        raise UserError(f"the policy outputs {policy_action_dim}-dim actions but the env takes {env_action_dim}: "
                        "use a policy trained for this env (--env)")


# ------------------------------------------------------------------------------------------------- envs


def make_env(name: str, max_steps: int | None = None, render_quality: str = "fast",
             image_size: tuple[int, int] | None = None, cube_pose: tuple[float, float] | None = None,
             pose_range: tuple[float, float, float, float] | None = None, perturb: dict | None = None,
             **so101_options):
    """A single gymnasium env for a --env name with the pixels_agent_pos observation layout.

    ALOHA uses the fast joint-space env (sim_env), the one the demonstrations were recorded in; the SO-101 env
    takes so101_options too (cameras, marks, placement_noise).
    """
    import gymnasium as gym

    spec = env_spec(name)
    steps = max_steps or spec.max_steps
    if spec.family == "pusht":
        import gym_pusht  # noqa: F401  registers the env

        # lerobot-eval's PushT video size (the policy's own 96x96 observation is unaffected)
        return gym.make(spec.gym_id, obs_type="pixels_agent_pos", max_episode_steps=steps,
                        visualization_width=384, visualization_height=384)
    if spec.family == "so101":
        from lerobot_notebook_pipeline.sim import so101_env

        return so101_env.make_env(image_size=tuple(image_size or so101_env.IMAGE_SIZE), render_quality=render_quality,
                                  cube_pose=cube_pose, pose_range=pose_range, max_steps=steps, perturb=perturb,
                                  **so101_options)
    from lerobot_notebook_pipeline.sim import aloha_env

    return aloha_env.make_env(task=spec.task, image_size=tuple(image_size or (480, 640)), render_quality=render_quality,
                            cube_pose=cube_pose, pose_range=pose_range, max_steps=steps, perturb=perturb)


def make_vector_env(name: str, num_envs: int, **env_kwargs):
    """num_envs copies of make_env(name, ...) as a gymnasium vector env (subprocesses when num_envs > 1)."""
    import gymnasium as gym

    factory = functools.partial(make_env, name, **env_kwargs)
    if num_envs == 1:
        return gym.vector.SyncVectorEnv([factory])
    with _main_script_hidden():
        return gym.vector.AsyncVectorEnv([factory] * num_envs, context="spawn")


@contextlib.contextmanager
def _main_script_hidden():
    """Keep 'spawn' workers from re-running a top-level script (ours have no __main__ guard) while they start.

    The workers only need make_env, which they import from this package.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if main is None or (path is None and spec is None):
        yield
        return
    if path is not None:
        del main.__file__
    main.__spec__ = None
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path
        main.__spec__ = spec


# ---------------------------------------------------------------------------------------------- rollouts


@dataclass
class Episode:
    """One rollout: per-step rewards and actions, the rendered frames (reset frame first), and its score."""

    seed: int
    rewards: list[float] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    success: bool = False
    success_step: int | None = None  # index of the first step that reported is_success
    object_pose: list[float] | None = None  # the cube/peg (and socket) pose at reset, when the env reports it
    agent_pos: list[float] | None = None  # the robot's state at reset
    done: bool = False
    wall_s: float = 0.0

    @property
    def sum_reward(self) -> float:
        """Sum of rewards up to and including the final step."""
        return float(np.sum(self.rewards)) if self.rewards else 0.0

    @property
    def max_reward(self) -> float:
        """Max reward up to and including the final step."""
        return float(np.max(self.rewards)) if self.rewards else 0.0

    def as_metrics(self, index: int, task: str | None = None) -> dict:
        """The per-episode entry of metrics.json: lerobot-eval's fields, the furthest stage and the trial fingerprints."""
        row = {"episode_ix": index, "seed": self.seed, "sum_reward": self.sum_reward, "max_reward": self.max_reward,
               "success": bool(self.success), "steps": len(self.rewards), "wall_s": round(self.wall_s, 3)}
        if self.object_pose is not None:
            row["object_pose"] = [round(float(v), 5) for v in self.object_pose]
        if task in success.STAGES:
            row["stage"] = success.furthest_stage(self.rewards)
            row["stage_name"] = success.stage_name(row["stage"], task)
        initial = [*(self.object_pose or []), *(self.agent_pos or [])]
        row["initial_condition_id"] = success.fingerprint(initial)
        row["trial_id"] = success.fingerprint(initial, self.rewards, np.asarray(self.actions).reshape(len(self.rewards), -1))
        return row


def _render_all(env, count: int, obs=None, frame_key: str | None = None) -> list[np.ndarray]:
    import gymnasium as gym

    if frame_key is not None and obs is not None:  # the observation already holds the frame: no second render
        return [np.asarray(obs["pixels"][frame_key][i]) for i in range(count)]
    if isinstance(env, gym.vector.SyncVectorEnv):
        return [env.envs[i].render() for i in range(count)]
    return list(env.call("render"))[:count]


def _add_task(observation: dict, text: str, batch: int) -> dict:
    observation["task"] = [text] * batch
    return observation


def rollout_batch(env, loaded: LoadedPolicy, seeds: list[int], task_text: str = "",
                  render: bool = True, latency: LatencyLog | None = None,
                  adapter: ObservationAdapter | None = None, frame_key: str | None = None,
                  poses: list | None = None) -> tuple[list[Episode], ObservationAdapter]:
    """Run one episode per sub-env of a vector env, reset with `seeds`, until every episode has ended.

    Video frames come from env.render(), or from the observation's camera `frame_key` when that is the same
    image (ALOHA's top camera), which saves a render per step.

    Each episode stops recording at its own terminated/truncated step (later steps of that sub-env are ignored).
    `poses` (ALOHA): one (x, y) object position per sub-env for this batch, instead of the env's seeded draw.
    Returns the episodes and the observation adapter (planned on the first observation when not given).
    """
    from lerobot.envs.utils import preprocess_observation

    policy, num = loaded.policy, env.num_envs
    check_action_dim(loaded.action_dim, int(env.single_action_space.shape[0]))
    latency = latency if latency is not None else LatencyLog()
    policy.reset()
    if poses is not None:
        env.set_attr("cube_pose", [tuple(map(float, p)) for p in poses])
    obs, reset_info = env.reset(seed=list(seeds))
    episodes = [Episode(seed=int(s), agent_pos=list(np.asarray(obs["agent_pos"][i], dtype=float)))
                for i, s in enumerate(seeds)]
    if "object_pose" in reset_info:  # the fast ALOHA env reports where it put the cube (or peg and socket)
        for i, episode in enumerate(episodes):
            episode.object_pose = list(np.asarray(reset_info["object_pose"][i]))
    if render:
        for episode, frame in zip(episodes, _render_all(env, num, obs, frame_key), strict=True):
            episode.frames.append(frame)
    start = time.perf_counter()
    while not all(e.done for e in episodes):
        batch = preprocess_observation(obs)
        if adapter is None:
            adapter = plan_observation_adapter(loaded.input_shapes, observation_shapes(batch))
            for note in adapter.notes:
                log.info("observation matching: %s", note)
        batch = loaded.preprocessor(_add_task(adapter(batch), task_text, num))
        action = loaded.postprocessor(latency.select_action(policy, batch, loaded.device))
        action = action.to("cpu").numpy()
        obs, reward, terminated, truncated, info = env.step(action)
        frames = _render_all(env, num, obs, frame_key) if render else [None] * num
        success = np.asarray(info.get("is_success", np.zeros(num, bool)), dtype=bool).reshape(-1)
        for i, episode in enumerate(episodes):
            if episode.done:
                continue
            episode.rewards.append(float(reward[i]))
            episode.actions.append(action[i].copy())
            if success[i] and not episode.success:
                episode.success, episode.success_step = True, len(episode.rewards) - 1
            if frames[i] is not None:
                episode.frames.append(frames[i])
            if terminated[i] or truncated[i]:
                episode.done = True
                episode.wall_s = time.perf_counter() - start
    return episodes, adapter


def summarize_episodes(episodes: list[Episode], task: str | None = None) -> dict:
    """lerobot-eval's aggregate metrics and per-episode list, with success counted over distinct trials.

    successes, episodes, pc_success and ci95 count each distinct trial once (identical rollouts of a deterministic
    policy from one initial state are one trial); with no repeats pc_success is lerobot-eval's. n_episodes and
    the averages are over every rollout, as in lerobot-eval.
    """
    per_episode = [e.as_metrics(i, task) for i, e in enumerate(episodes)]
    return {
        **success.evaluation_summary(per_episode, task),
        "avg_sum_reward": float(np.mean([e.sum_reward for e in episodes])) if episodes else float("nan"),
        "avg_max_reward": float(np.mean([e.max_reward for e in episodes])) if episodes else float("nan"),
        "n_episodes": len(episodes),
        "per_episode": per_episode,
    }


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """Reset seeds seed, seed+1, ... as lerobot-eval uses them."""
    return [seed + i for i in range(episodes)]


def saved_input_shapes(policy_dir: str | Path) -> dict[str, tuple[int, ...]]:
    """Input feature key -> shape read straight from a checkpoint's config.json (no lerobot import needed)."""
    config = json.loads((Path(policy_dir) / "config.json").read_text())
    return {key: tuple(ft["shape"]) for key, ft in (config.get("input_features") or {}).items()}


def ensemble_overrides(policy_dir: str | Path, coeff: float | None) -> dict:
    """Config overrides for `--temporal-ensemble coeff` (none for None), refused for a checkpoint that is not ACT."""
    if coeff is None:
        return {}
    from lerobot_notebook_pipeline.training.recipes import act_fields

    config = json.loads((Path(policy_dir) / "config.json").read_text())
    if config.get("type") != "act":
        raise UserError(f"--temporal-ensemble averages ACT's action chunks, and this checkpoint is "
                        f"{config.get('type')!r}: drop the flag")
    return act_fields(config["chunk_size"], coeff)


def lerobot_policy_flags(overrides: dict) -> list[str]:
    """lerobot-eval `--policy.<field>=<value>` flags for the config overrides (null for None)."""
    return [f"--policy.{key}={'null' if value is None else value}" for key, value in overrides.items()]


def env_kwargs_for(spec: EnvSpec, settings: dict | None, max_steps: int | None = None,
                   render_quality: str | None = None, image_size=None, cube_pose=None,
                   pose_radius: float | None = None, perturb: dict | None = None, marks: int | None = None,
                   placement_noise: float | None = None) -> dict:
    """make_env keyword arguments: each flag given wins, then the training data's sim settings, then defaults.

    cube_pose with pose_radius R draws each episode's object position (seeded) from the square +/-R around it.
    marks or placement_noise (SO-101) draws it near a pencil mark, whatever cube_pose or pose_range the training
    data has.
    """
    settings = settings or {}
    at_marks = check_mark_flags(spec, marks, placement_noise, {"--cube-pose": cube_pose, "--pose-radius": pose_radius})
    if pose_radius is not None and (cube_pose is None or pose_radius < 0):
        raise UserError(f"--pose-radius {pose_radius:g} needs --cube-pose X Y (the centre) and a radius >= 0: add "
                        "--cube-pose or drop --pose-radius")
    kwargs = {"max_steps": max_steps or settings.get("episode_length") or spec.max_steps}
    if spec.family not in CUBE_FAMILIES:
        given = [flag for flag, value in (("--cube-pose", cube_pose), ("--pose-radius", pose_radius),
                                          ("--image-size", image_size), ("--render-quality", render_quality),
                                          ("--perturb", perturb or None))
                 if value is not None]
        if given:
            one = len(given) == 1
            raise UserError(f"{' and '.join(given)} {'applies' if one else 'apply'} to the aloha and so101_pick_place "
                            f"envs only, not {spec.name}: drop {'it' if one else 'them'}")
        return kwargs
    check_on_table, check_pose_range = table_checks(spec)
    if cube_pose:
        check_on_table(cube_pose)
    kwargs["render_quality"] = render_quality or settings.get("render_quality", "fast")
    kwargs["image_size"] = tuple(image_size or settings.get("image_size") or (480, 640))
    kwargs["cube_pose"] = tuple(cube_pose) if cube_pose else None if at_marks else settings.get("cube_pose")
    kwargs["pose_range"] = None if cube_pose or at_marks else settings.get("pose_range")
    if cube_pose and pose_radius:
        x, y = cube_pose
        kwargs["cube_pose"], kwargs["pose_range"] = None, (x - pose_radius, x + pose_radius, y - pose_radius, y + pose_radius)
        check_pose_range(kwargs["pose_range"], "--cube-pose with --pose-radius: the square")
    if spec.family == "so101":
        kwargs |= so101_settings(settings, marks, placement_noise)
    if perturb:
        kwargs["perturb"] = dict(perturb)
    return kwargs


def check_mark_flags(spec: EnvSpec, marks: int | None, placement_noise: float | None, placing: dict) -> bool:
    """Whether --marks or --placement-noise is given; refused off the SO-101 and beside a flag in placing (flag ->
    value) that puts the cube elsewhere when it is set."""
    given = [flag for flag, value in (("--marks", marks), ("--placement-noise", placement_noise)) if value is not None]
    clash = [flag for flag, value in placing.items() if value is not None]
    if given and spec.family != "so101":
        one = len(given) == 1
        raise UserError(f"{' and '.join(given)} {'applies' if one else 'apply'} to the so101_pick_place env only, "
                        f"not {spec.name}: drop {'it' if one else 'them'}")
    if given and clash:
        raise UserError(f"{given[0]} puts the cube at the pencil marks and {clash[0]} puts it elsewhere: drop one of "
                        "them")
    return bool(given)


def so101_settings(settings: dict, marks: int | None = None, placement_noise: float | None = None) -> dict:
    """The SO-101 env's cameras, pencil marks and placement noise: marks and placement_noise when given, else as the
    training data was recorded with."""
    from lerobot_notebook_pipeline.sim import so101_placement
    from lerobot_notebook_pipeline.sim.so101_scene import DEFAULT_CAMERAS

    return {"cameras": tuple(settings.get("cameras") or DEFAULT_CAMERAS),
            "marks": settings.get("marks", so101_placement.MARKS) if marks is None else marks,
            "placement_noise": (settings.get("placement_noise", so101_placement.PLACEMENT_NOISE)
                                if placement_noise is None else placement_noise)}


def lerobot_eval_flags(spec: EnvSpec, env_kwargs: dict) -> list[str] | None:
    """The `lerobot-eval --env.*` flags that build the same SO-101 env as env_kwargs (through the plugin in
    plugins/lerobot_env_notebook_pipeline), or None for an env lerobot-eval cannot build that way."""
    marks = env_kwargs.get("marks")
    if spec.family != "so101" or not isinstance(marks, int):
        return None
    height, width = env_kwargs["image_size"]
    flags = [f"--env.type={spec.name}", f"--env.observation_height={height}", f"--env.observation_width={width}",
             f"--env.episode_length={env_kwargs['max_steps']}", f"--env.render_quality={env_kwargs['render_quality']}",
             f"--env.cameras=[{','.join(env_kwargs['cameras'])}]", f"--env.marks={marks}",
             f"--env.placement_noise={env_kwargs['placement_noise']:g}"]
    for key in ("cube_pose", "pose_range"):
        if env_kwargs.get(key):
            flags.append(f"--env.{key}=[{','.join(f'{v:g}' for v in env_kwargs[key])}]")
    if env_kwargs.get("perturb"):
        flags.append("--env.perturb=" + ",".join(f"{k}={v:g}" for k, v in env_kwargs["perturb"].items()))
    return flags


def table_checks(spec: EnvSpec):
    """(check_on_table, check_pose_range) of the env's table: each raises a UserError naming the table."""
    if spec.family == "so101":
        from lerobot_notebook_pipeline.sim import so101_placement as table
    else:
        from lerobot_notebook_pipeline.sim import aloha_env as table
    return table.check_on_table, table.check_pose_range


def pose_grid_range(spec: EnvSpec, pose_range=None) -> tuple[float, float, float, float]:
    """The area --pose-grid covers: the given range (checked to lie on the table), else the env's whole range
    (gym-aloha's sampling range; the SO-101 expert's reach)."""
    if spec.family not in CUBE_FAMILIES:
        raise UserError(f"--pose-grid applies to the aloha and so101_pick_place envs only, not {spec.name}")
    if pose_range:
        table_checks(spec)[1](pose_range)
        return tuple(float(v) for v in pose_range)
    if spec.family == "so101":
        from lerobot_notebook_pipeline.sim.so101_placement import REACH_XY

        return REACH_XY
    from lerobot_notebook_pipeline.sim.aloha_env import DEFAULT_POSE_RANGE

    return DEFAULT_POSE_RANGE[spec.task]


def ring_centre(spec: EnvSpec) -> tuple[float, float] | None:
    """The default centre of --pose-ring when the training data has no range: the SO-101's target, else none."""
    if spec.family == "so101":
        from lerobot_notebook_pipeline.sim.so101_scene import TARGET_XY

        return TARGET_XY
    return None


def guess_env(input_shapes: dict[str, tuple[int, ...]], settings: dict | None) -> str:
    """The --env to use when none is given: the training data's sim task, else from the state size."""
    if settings and (settings.get("robot") == "so101" or settings.get("task") == "pick_place"):
        return "so101_pick_place"
    if settings and settings.get("task") in ("transfer_cube", "insertion"):
        return f"aloha_{settings['task']}"
    state = input_shapes.get("observation.state")
    if state == (2,):
        return "pusht"
    if state == (14,):
        return "aloha_transfer_cube"
    raise UserError(f"cannot tell which sim env fits a policy with inputs {sorted(input_shapes)}: pass --env, "
                    "or --dataset PATH --episode K for open-loop replay on recorded data")


def run_name(policy_dir: str | Path, suffix: str) -> str:
    """A readable run name: TRAINRUN_STEP for train.py checkpoints, else the folder name, plus suffix."""
    path = Path(policy_dir).resolve()
    parts = path.parts
    if path.name == "pretrained_model" and len(parts) >= 4 and parts[-3] == "checkpoints":
        base = f"{parts[-4]}_{parts[-2]}"
    elif path.name == "pretrained_model":
        base = path.parent.name
    else:
        base = path.name
    if "snapshots" in parts:  # a hub download: models--owner--name/snapshots/HASH
        base = next((p.split("--")[-1] for p in parts if p.startswith("models--")), base)
    return f"{base}_{suffix}"
