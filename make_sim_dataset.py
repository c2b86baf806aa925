# %% [markdown]
# # Make a simulated ALOHA dataset: scripted demonstrations recorded as a LeRobotDataset
#
# Imitation learning needs demonstrations. This notebook makes them on your own machine, without the Hugging Face
# hub: a scripted "expert" drives the two simulated ALOHA arms of gym-aloha (MuJoCo) through the task, and every
# successful run is recorded as one episode of a regular lerobot `LeRobotDataset` (v3.0): the top camera as
# video, the 14 joint positions as `observation.state`, and the 14 joint targets as `action`, at 50 fps. These
# are the same keys, shapes and frame rate as lerobot's `aloha_sim_transfer_cube_scripted` data, so everything
# downstream (analysis, training, rollouts) works the same on either.
#
# * **transfer_cube**: the right arm picks up a red cube and hands it to the left arm.
# * **insertion**: the arms pick up a peg and a socket and put the peg into the socket.
# * **pick_place** (`--robot so101`): one SO-101 arm (MuJoCo Menagerie's model) picks a 3 cm cube put at a pencil
#   mark (`--marks`, `--placement-noise`) and puts it on the centre target, recorded with the features
#   `lerobot-record` writes for a real SO-101 follower: `front` and `wrist` cameras, the 6 joints in degrees
#   with the gripper 0-100, robot_type `so101_follower`, 30 fps.
#
# Run it from a terminal (`python make_sim_dataset.py --help`) or here, cell by cell. In Jupyter the flags below
# keep their defaults (tests pass flags through the `LNP_ARGS` environment variable).

# %%
# Parameters: the defaults are the notebook's defaults too.
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="Record scripted ALOHA or SO-101 demonstrations into a local LeRobotDataset.")
parser.add_argument("--robot", default="aloha", choices=["aloha", "so101"],
                    help="aloha: the bimanual ALOHA tasks (50 fps); so101: one SO-101 arm picks the cube at the pencil "
                         "marks and puts it on the centre target (task pick_place, 30 fps, lerobot's follower schema)")
parser.add_argument("--task", default=None, help="aloha: transfer_cube (default) | insertion; so101: pick_place")
parser.add_argument("--episodes", type=flags.int_in(1, 100_000), default=20, help="successful episodes to keep")
parser.add_argument("--root", type=flags.path, default=None, help="dataset folder (default outputs/datasets/<task>)")
parser.add_argument("--seed", type=flags.seed, default=0, help="seeds the object poses and the waypoint noise")
parser.add_argument("--image-size", type=flags.image_side, nargs=2, default=[480, 640], metavar=("H", "W"),
                    help="camera image size; smaller (e.g. 96 128) is much faster to train on a CPU")
parser.add_argument("--episode-length", type=flags.int_in(20, 100_000), default=None, help="frames per episode (default 400 at 50 fps for aloha, 300 at 30 fps for so101); the script scales its timing: transfer_cube works from 60, insertion from 300, pick_place from 120")
parser.add_argument("--render-quality", default="fast", choices=["fast", "stock"],
                    help="fast: no shadows or multisampling (about 5x cheaper); stock: as gym-aloha renders")
parser.add_argument("--cube-pose", type=flags.finite_float, nargs=2, default=None, metavar=("X", "Y"),
                    help="put the cube (insertion: the peg; the socket mirrored in x) always at this position")
parser.add_argument("--pose-range", type=flags.finite_float, nargs=4, default=None, metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                    help="sample the cube (or peg) position from this range (default gym-aloha's)")
parser.add_argument("--marks", type=flags.int_in(1, 64), default=4,
                    help="so101: pencil marks the cube is put at (4: the corners of a +/-5 cm square around the target)")
parser.add_argument("--placement-noise", type=flags.float_in(0.0, 0.05), default=0.015,
                    help="so101: how far (m, uniform in x and y) a person puts the cube from a mark")
parser.add_argument("--waypoint-noise", type=flags.float_in(0.0, 0.1), default=0.0,
                    help="std (m, 0 to 0.1) of Gaussian noise on the waypoints")
parser.add_argument("--dart-noise", type=flags.float_in(0.0, 10.0), default=0.0, metavar="STD",
                    help="DART: std of seeded Gaussian noise added to every action the env executes, in the action's "
                         "units (aloha: radians, the grippers 0-1; so101: degrees, the gripper 0-100); the clean expert "
                         "action is recorded, so the demos show recoveries (aloha 0.02 and so101 0.5 keep most episodes)")
parser.add_argument("--max-attempts", type=flags.int_in(1, 1_000_000), default=None, help="give up after this many tries (default 3x episodes + 5)")
parser.add_argument("--num-workers", type=flags.workers, default=1, help="record shards in this many processes, then merge")
parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --root")
args = parse_args(parser)

# %% [markdown]
# ## 1. Check the options before any work
#
# A dataset is never overwritten by accident: an existing, non-empty `--root` needs `--overwrite`, and only a folder
# this toolkit made is ever replaced. The new dataset is written into a hidden temporary folder next to `--root` and
# renamed into place only when it is complete, so a crash, Ctrl-C or SIGTERM never leaves half a dataset behind; the
# earlier one is deleted only when the script has ended well, and put back otherwise.

# %%
import shutil

from lerobot_notebook_pipeline.files import aside_path, check_output_dir, claim_output_dir, replace_output_dir
from lerobot_notebook_pipeline.runtime import UserError, log
from lerobot_notebook_pipeline.sim.aloha_env import check_on_table, check_pose_range, check_task

if args.robot == "so101":  # the SO-101 task, its checks and its defaults (sim/so101_*.py)
    from lerobot_notebook_pipeline.sim.so101_placement import check_on_table, check_pose_range
    from lerobot_notebook_pipeline.sim.so101_record import EPISODE_LENGTH, check_task
else:
    EPISODE_LENGTH = 400
args.task = check_task(args.task or ("pick_place" if args.robot == "so101" else "transfer_cube"))
args.episode_length = args.episode_length or EPISODE_LENGTH
root = check_output_dir(args.root or flags.path("outputs/datasets") / args.task, args.overwrite, "--root")
if args.cube_pose and args.pose_range:
    raise UserError("--cube-pose and --pose-range exclude each other: pass one of them")
if args.cube_pose:
    check_on_table(args.cube_pose)
if args.pose_range:
    check_pose_range(args.pose_range)
max_attempts = args.max_attempts or 3 * args.episodes + 5
image_size = tuple(args.image_size)
log.info("recording %d %s episodes of %d frames at %dx%d (%s render) into %s", args.episodes, args.task,
         args.episode_length, image_size[0], image_size[1], args.render_quality, root)

# %% [markdown]
# ## 2. The simulator and the scripted expert
#
# `make_env` is a fast version of `gym_aloha/AlohaTransferCube-v0`: the same MuJoCo scene, task classes, actions and
# rewards, but it renders only the top camera (gym-aloha renders three) and, with `--render-quality fast`,
# without shadows and multisampling. The rollout notebook uses the same env with the settings stored next to the
# dataset, so a policy is evaluated on the kind of images it was trained on.
#
# The expert (`lerobot_notebook_pipeline/sim/aloha_expert.py`) plans gripper poses (above the cube, down, close, lift to the
# middle, hand over, let go), turns them into joint targets with damped-least-squares inverse kinematics on MuJoCo's
# Jacobian, and sends those as the actions, so what is recorded is exactly what drove the robot. It reads the
# object's position from the simulator. The reward goes 0..4 (touch, lift, other gripper touches, transfer done);
# only episodes that reach 4 are kept. Each try is first run without the camera, which costs a fraction of a second;
# only a success is run again with the camera on and recorded.
#
# `--dart-noise STD` (DART, Laskey et al. 2017) adds seeded Gaussian noise to every action the env executes, while the
# dataset keeps the expert's clean action. The expert's actions are absolute joint targets, so after a push off its
# path the next clean label points back to the plan: the demos show small recoveries, the states a policy drifts
# into. A noisy execution that fails the task is dropped like any failed demo (kept against attempted below).

# %%
from lerobot_notebook_pipeline.sim.aloha_env import make_env

if args.robot == "so101":
    from lerobot_notebook_pipeline.sim.so101_env import make_env as make_so101_env

    preview_env = make_so101_env(image_size=image_size, render_quality=args.render_quality, cube_pose=args.cube_pose,
                                 pose_range=args.pose_range, marks=args.marks, placement_noise=args.placement_noise,
                                 max_steps=args.episode_length)
else:
    preview_env = make_env(args.task, image_size=image_size, render_quality=args.render_quality,
                           cube_pose=args.cube_pose, pose_range=args.pose_range, max_steps=args.episode_length)
first_obs, _ = preview_env.reset(seed=args.seed)
print("observation keys:", list(first_obs), "| agent_pos", first_obs["agent_pos"].shape,
      "| cameras", {name: frame.shape for name, frame in first_obs["pixels"].items()},
      "| object pose", preview_env.unwrapped.object_pose()[:3].round(3))
preview_env.close()

# %% [markdown]
# ## 3. Record
#
# Attempt `i` of seed `S` uses its own env seed derived from `(S, i)`, so the same arguments always give the same
# dataset. With `--num-workers K`, worker `k` tries attempts `k, k+K, ...` into its own shard, and lerobot's
# `aggregate_datasets` merges the shards.

# %%

from tqdm.auto import tqdm

from lerobot_notebook_pipeline.sim import record
from lerobot_notebook_pipeline.sim.aloha_env import write_sim_settings

settings = {"task": args.task, "image_size": list(image_size), "render_quality": args.render_quality,
            "cube_pose": args.cube_pose, "pose_range": args.pose_range, "waypoint_noise": args.waypoint_noise,
            "seed": args.seed, "fps": 30 if args.robot == "so101" else 50, "episode_length": args.episode_length}
recording = dict(task=args.task, seed=args.seed, image_size=image_size, episode_length=args.episode_length,
                 render_quality=args.render_quality, cube_pose=args.cube_pose, pose_range=args.pose_range,
                 waypoint_noise=args.waypoint_noise)
if args.dart_noise > 0:  # recorded only when used, so a clean dataset's settings read as before
    settings["dart_noise"] = recording["dart_noise"] = args.dart_noise
if args.robot == "so101":
    so101_options = dict(robot="so101", marks=args.marks, placement_noise=args.placement_noise)
    settings |= so101_options | {"cameras": list(preview_env.camera_names)}
    recording |= so101_options
import lerobot.datasets.lerobot_dataset  # noqa: F401  (a few seconds of imports, kept out of the timing below)

claim_output_dir(root, "--root")  # one recording at a time into this folder: a second one is refused
tmp_root = aside_path(root)  # beside --root (beside its target, for a link): the same disk, so the swap is a rename
shutil.rmtree(tmp_root, ignore_errors=True)
clock = record.Stopwatch()
try:
    if args.num_workers == 1:
        bar = tqdm(total=args.episodes, desc=f"{args.task} episodes", unit="ep")

        def progress(kept, attempted):
            bar.set_postfix(attempted=attempted, refresh=False)
            bar.update(kept - bar.n)

        report = record.record_dataset(tmp_root, episodes=args.episodes, attempts=list(range(max_attempts)),
                                            progress=progress, **recording)
        bar.close()
    else:
        log.info("recording in %d worker processes", args.num_workers)
        report = record.record_in_shards(tmp_root, args.num_workers, args.episodes, max_attempts, **recording)
    if report["kept"] == 0:
        raise UserError(record.no_success_message(report["attempted"], **recording))
    write_sim_settings(tmp_root, settings | {"attempted": report["attempted"], "kept": report["kept"],
                                             "episodes": report["episodes"]})
    replace_output_dir(tmp_root, root)  # an earlier dataset (only with --overwrite) is deleted once the script ends well
finally:
    shutil.rmtree(tmp_root, ignore_errors=True)
seconds = clock()

# %% [markdown]
# ## 4. Summary
#
# Kept against attempted is the scripted expert's success rate: how often the plan works for a random object pose
# (with `--dart-noise`, and survives the noisy execution).

# %%
size_mb = record.folder_size_mb(root)
summary = (f"kept {report['kept']}/{report['attempted']} attempted episodes "
           f"({100 * report['kept'] / report['attempted']:.0f}%), {report['frames']} frames in {seconds:.1f} s "
           f"({report['frames'] / seconds:.1f} frames/s), {size_mb:.1f} MB on disk at {root}")
if args.dart_noise > 0:
    summary += f"; DART noise {args.dart_noise:g} on the executed actions, tries it spoiled were dropped"
print(summary)
if report["kept"] < args.episodes:
    log.warning("only %d of the %d requested episodes succeeded within --max-attempts %d", report["kept"],
                args.episodes, max_attempts)

# %% [markdown]
# ## 5. Load it back with lerobot and look at it
#
# The dataset opens with lerobot's own `LeRobotDataset` (video decoded with a backend that works here). Below: the
# first and last camera frames of the first episode, and its joint targets over time.

# %%
import matplotlib.pyplot as plt

from lerobot_notebook_pipeline.data import open_dataset

dataset = open_dataset(root)
print(f"{dataset.num_episodes} episodes, {dataset.num_frames} frames, {dataset.fps} fps; features:",
      {key: tuple(spec["shape"]) for key, spec in dataset.features.items() if key.startswith(("observation", "action"))})
camera_key = dataset.meta.camera_keys[0]
first, last = dataset[0], dataset[args.episode_length - 1]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), gridspec_kw={"width_ratios": [1, 1, 2]})
for ax, item, title in ((axes[0], first, "first frame"), (axes[1], last, "last frame")):
    ax.imshow(item[camera_key].permute(1, 2, 0).numpy())
    ax.set_title(title)
    ax.axis("off")
episode_actions = dataset.hf_dataset.select(range(args.episode_length))["action"]
axes[2].plot([list(map(float, a)) for a in episode_actions], linewidth=0.8)
axes[2].set_title(f"episode 0: the {len(episode_actions[0])} joint targets")
axes[2].set_xlabel("frame")
plt.tight_layout()
plt.show()
