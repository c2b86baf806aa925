"""The SO-101 pick and place as a lerobot env: `lerobot-eval --env.type=so101_pick_place --policy.path=CKPT`.

Importing this module registers an `EnvConfig` subclass under the type `so101_pick_place` with lerobot's config
registry and the gymnasium id GYM_ID pointing at sim/so101_env.py, so lerobot's own `make_env` builds the very env
that visualize_policy.py rolls out in (same seeds, same placement, same success). lerobot's CLIs import it through
the `lerobot_env_notebook_pipeline` plugin (plugins/ in this repository, installed by `make setup`).

The flags mirror make_sim_dataset.py's: `--env.observation_height/width` (the recording's --image-size),
`--env.cameras`, `--env.render_quality`, `--env.marks`, `--env.placement_noise`, `--env.cube_pose`,
`--env.pose_range`, `--env.perturb` and `--env.episode_length`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

ENV_TYPE = "so101_pick_place"
NAMESPACE = "lerobot_notebook_pipeline"
TASK_ID = "SO101PickPlace-v0"
GYM_ID = f"{NAMESPACE}/{TASK_ID}"
N_JOINTS = 6  # shoulder_pan ... gripper (sim/so101_env.py's JOINTS)


def make_gym_env(perturb: str | None = None, **kwargs):
    """The env for gymnasium's registry: sim/so101_env.make_env with --perturb's text parsed."""
    from lerobot_notebook_pipeline.sim.perturb import parse_perturb
    from lerobot_notebook_pipeline.sim.so101_env import make_env

    return make_env(perturb=parse_perturb(perturb), **kwargs)


def register_gym_env() -> None:
    """Register GYM_ID with gymnasium once."""
    if GYM_ID not in gym.registry:
        gym.register(GYM_ID, entry_point=f"{__name__}:make_gym_env")


@EnvConfig.register_subclass(ENV_TYPE)
@dataclass
class SO101PickPlaceEnvConfig(EnvConfig):
    """lerobot's view of the SO-101 env: its features under lerobot's keys and the kwargs gym.make passes on."""

    task: str | None = TASK_ID
    fps: int = 30
    episode_length: int = 300
    observation_height: int = 480
    observation_width: int = 640
    cameras: list[str] = field(default_factory=lambda: ["front", "wrist"])
    render_quality: str = "fast"
    marks: int = 4
    placement_noise: float = 0.015
    cube_pose: list[float] | None = None
    pose_range: list[float] | None = None
    perturb: str | None = None  # NAME=VALUE[,NAME=VALUE], as visualize_policy.py's --perturb
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        image = (self.observation_height, self.observation_width, 3)
        self.features = {ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(N_JOINTS,)),
                         "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(N_JOINTS,))}
        self.features_map = {ACTION: ACTION, "agent_pos": OBS_STATE}
        for camera in self.cameras:
            self.features[f"pixels/{camera}"] = PolicyFeature(type=FeatureType.VISUAL, shape=image)
            self.features_map[f"pixels/{camera}"] = f"{OBS_IMAGES}.{camera}"

    @property
    def package_name(self) -> str:
        """The module that registers GYM_ID (lerobot imports it when the id is unknown)."""
        return __name__

    @property
    def gym_id(self) -> str:
        return f"{NAMESPACE}/{self.task}"

    @property
    def gym_kwargs(self) -> dict:
        return {"image_size": (self.observation_height, self.observation_width), "cameras": tuple(self.cameras),
                "render_quality": self.render_quality, "marks": self.marks, "placement_noise": self.placement_noise,
                "cube_pose": self.cube_pose, "pose_range": self.pose_range, "perturb": self.perturb,
                "max_steps": self.episode_length, "max_episode_steps": self.episode_length}


register_gym_env()
