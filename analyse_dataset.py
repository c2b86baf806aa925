# %% [markdown]
# # Understand a dataset before you train on it
#
# Training a policy costs hours; a bad demonstration costs them silently. This notebook answers, in seconds,
# what a LeRobotDataset holds (episodes, frames, action and observation spaces, cameras) and what is wrong with
# it: NaNs, frozen joints, stuck teleoperation, jumps, gripper chatter, broken timestamps, odd episode lengths,
# a robot that lags or does not follow its commands, idle or duplicated episodes, and whether there are enough,
# varied enough demonstrations to generalise at all.
#
# It is fast because it reads the parquet columns directly with vectorised numpy and never decodes video for
# the tables and checks; only the handful of frames it shows are decoded. It works for any robot (a 6-joint
# SO-101, 14-dim ALOHA, a 26-dim humanoid) and names joints when the dataset does.
#
# Run it from a terminal (`python analyse_dataset.py --help`) or here, cell by cell. Outputs go to
# `outputs/analysis/<dataset>/`: `report.md`, `report.json` (every number and finding), PNGs, a GIF and an MP4.

# %%
# Parameters: the defaults are the notebook's defaults too.
# ruff: noqa: E402  (heavy imports come after argument parsing, so --help stays fast)
import argparse

from lerobot_notebook_pipeline import flags
from lerobot_notebook_pipeline.runtime import parse_args

parser = argparse.ArgumentParser(description="Summarise a LeRobotDataset, check its quality, and plot it.")
parser.add_argument("--dataset", type=flags.path_or_repo, default="outputs/datasets/transfer_cube",
                    help="local dataset folder or hub repo id")
parser.add_argument("--episodes", default="all", help="episodes to analyse: 3 | 0,3,7 | 0:5 | all")
parser.add_argument("--output-dir", type=flags.path, default=None, help="where the report goes (default outputs/analysis/<dataset>)")
parser.add_argument("--chunk-size", type=flags.int_in(1, 100_000), default=100, help="the policy's action chunk (ACT: 100); shorter episodes are flagged")
parser.add_argument("--max-mb", type=flags.size_mb, default=10.0, help="size budget of each animation file (GIF, MP4)")
parser.add_argument("--animate-episode", type=flags.non_negative_int, default=None, help="episode to animate (default: the first analysed)")
parser.add_argument("--no-animation", action="store_true", help="skip the GIF/MP4 (the fastest run)")
parser.add_argument("--fail-on", default=None, choices=["warn", "error"],
                    help="exit with code 1 when a finding is this severe or worse (for scripts and CI)")
parser.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
parser.add_argument("--compare", type=flags.path_or_repo, default=None, metavar="REFERENCE",
                    help="the training dataset (folder or hub id): report what changed in --dataset since then")
parser.add_argument("--costs", type=flags.path, default=None, metavar="RESULTS_JSON",
                    help="with --compare: the robustness study's results.json whose measured success drops set the "
                    "risk levels (default experiments/robustness/results.json when it exists; for an SO-101 dataset "
                    "experiments/robustness-so101/results.json first)")
args = parse_args(parser)

# %% [markdown]
# ## Open the dataset
#
# A local folder or a hub repo id. Its metadata and data files are checked first (a damaged file is named, with the
# fix). Datasets in the older v2.1 layout (per-episode parquet, `meta/episodes.jsonl`) are converted once with
# lerobot's own converter into `outputs/datasets/<name>_v30`; the original is not touched. A v2.1 dataset the
# converter cannot take (videos missing, say) is read as it is: its tables need no video.
#
# With `--compare REFERENCE` the reference (the data the policy was trained on) is opened the same way, and must
# describe the same robot with the same features.

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lerobot_notebook_pipeline import media, plots, preflight
from lerobot_notebook_pipeline.analysis import checks, consistency, dataset_plots, drift, frames, scores, stats
from lerobot_notebook_pipeline.analysis.costs import load_costs
from lerobot_notebook_pipeline.analysis.report import findings_lines, markdown_report
from lerobot_notebook_pipeline.convert import conversion_problems, is_v30, v30_root
from lerobot_notebook_pipeline.data import open_dataset, resolve_dataset
from lerobot_notebook_pipeline.episodes import parse_episode_spec
from lerobot_notebook_pipeline.files import check_output_dir, prepare_output_dir, write_atomic, write_json
from lerobot_notebook_pipeline.runtime import UserError, display_image, in_notebook, log
from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 12)


def local_root(spec: str, flag: str) -> tuple[str, Path, Path, bool]:
    """(repo id, folder to analyse, folder given, whether it was converted) of a dataset folder or hub id, after
    checking its metadata and data files."""
    repo_id, root = dataset_id(spec, flag)
    if root is None:  # a hub id that is not cached yet: let lerobot download it
        root = Path(open_dataset(spec).root)
    preflight.check_dataset(root, stats=False)  # a missing or broken stats.json is a finding below
    problems = [] if is_v30(root) else conversion_problems(root)
    if problems:
        log.info("reading %s as it is, without converting it to v3.0 (%s)", root, "; ".join(problems))
        return repo_id, root, root, False
    analysed, converted = v30_root(root, overwrite=args.overwrite)
    return repo_id, analysed, root, converted


def dataset_id(spec: str, flag: str):
    """(repo id, local folder or None) of a dataset spec, with errors that name the flag."""
    try:
        return resolve_dataset(spec)
    except UserError as err:
        raise UserError(f"{flag} {spec}: {err}") from None


repo_id, _ = dataset_id(args.dataset, "--dataset")
name = Path(args.dataset).name if Path(args.dataset).expanduser().is_dir() else repo_id.replace("/", "_")
out_path = check_output_dir(args.output_dir or flags.path("outputs/analysis") / name, args.overwrite)
repo_id, root, source_root, converted = local_root(args.dataset, "--dataset")
def damaged_videos(root: Path) -> dict[Path, str]:
    """Video files of a v3.0 dataset that do not open or decode to their last needed frame (file -> why)."""
    return preflight.video_problems(root, stats.read_info(root)) if is_v30(root) else {}


preflight.check_not_input(out_path, {"--dataset": args.dataset, "--compare": args.compare, "the converted dataset": root})
damaged = damaged_videos(root)
reference_root, costs = None, None
if args.costs and not args.compare:
    raise UserError("--costs sets the risk levels of --compare: add --compare REFERENCE, or drop --costs")
if args.compare:
    costs = load_costs(args.costs, stats.read_info(root).get("robot_type"))  # its own robot's study when it has one
    _, reference_root, _, _ = local_root(args.compare, "--compare")
    preflight.check_not_input(out_path, {"--compare": reference_root})
    for flag, broken in (("--compare", damaged_videos(reference_root)), ("--dataset", damaged)):
        for path, problem in broken.items():
            raise UserError(f"the {flag} video '{path}' {problem}, so the cameras cannot be compared: restore that "
                            "file, or compare with another dataset")
    differ = drift.schema_differences(stats.read_info(reference_root), stats.read_info(root))
    if differ:
        raise UserError(f"--compare {args.compare} records another robot or other features ({'; '.join(differ)}): "
                        "compare against the dataset this robot's policy was trained on")
info = stats.read_info(root)
selected = parse_episode_spec(args.episodes, int(info["total_episodes"]))
if args.animate_episode is not None and args.animate_episode not in selected:
    raise UserError(f"--animate-episode {args.animate_episode} is not among the analysed episodes: pick one of "
                    f"{selected[:10]}{' ...' if len(selected) > 10 else ''}")
out_dir = prepare_output_dir(out_path, args.overwrite)
print(f"dataset: {root}{f'  (converted from {source_root})' if converted else ''}")
print(f"report:  {out_dir}")

# %% [markdown]
# ## Load the numbers, not the pixels
#
# `stats.load_table` reads every non-image column of `data/**/*.parquet` (actions, states, timestamps, indices)
# into numpy arrays, with each episode's row range. Everything below is computed from these arrays.

# %%
timings = {}
start = time.perf_counter()
table = stats.load_table(root, None if args.episodes == "all" else selected)
if not len(table.episodes):
    raise UserError(f"the data files of '{root}' hold no frames of episodes {args.episodes}, although meta/episodes "
                    "lists them: the dataset is damaged; record or download it again")
summary = stats.summary(table)
features = stats.features_table(info)
cameras = stats.cameras_table(table)
for camera in cameras:  # a damaged video is shown and animated as a missing one; the checks below name it
    camera["damaged"] = sorted(str(p.relative_to(root)) for p in damaged if p.parent.parent.name == camera["key"])
stats_problem = preflight.stats_file_problem(root) if is_v30(root) else None
normalization = {} if stats_problem else stats.normalization_stats(root, stats.vector_keys(table))
episode_rows = stats.episodes_table(table)
timings["load_and_tables"] = time.perf_counter() - start
for key, value in summary.items():
    print(f"{key:>20}: {value}")

# %% [markdown]
# ### Features and cameras
#
# The action and observation spaces: every feature's dtype, shape and per-dimension names. Cameras show their
# resolution, codec and whether their video files are all there (missing videos do not stop the analysis).

# %%
print(pd.DataFrame(features).to_string(index=False, max_colwidth=70))
if cameras:
    print()
    print(pd.DataFrame([{**c, "missing": len(c["missing"]), "damaged": len(c["damaged"])} for c in cameras])
          .to_string(index=False))
for key, values in normalization.items():
    print(f"\n{key} normalisation (meta/stats.json): mean {np.round(values.get('mean', []), 3).tolist()}")
    print(f"{'':>{len(key)}}                             std  {np.round(values.get('std', []), 3).tolist()}")

# %% [markdown]
# ### Per episode
#
# Length in frames and seconds, task, the distance the action travels (path length, in joint units), and the
# range of every action and state dimension.

# %%
episodes_frame = pd.DataFrame(episode_rows)
print(episodes_frame[["episode", "length", "seconds", "task", "action_path_length"]].to_string(index=False, max_rows=30))

# %% [markdown]
# ## Quality checks
#
# One small, pure function per check (`lerobot_notebook_pipeline.analysis.checks`), each returning findings with a
# check name, a severity, the episode and frame, and a message in plain words. `error` means training on it will
# go wrong, `warn` means probably a defect worth a look, `info` is worth knowing. A normal state-action lag
# (the robot needs a few frames to reach each command) is reported as info, not as a defect.
#
# The files must also agree with each other: `meta/info.json` totals and `meta/episodes` lengths with the parquet
# rows, frame indices, tasks, `meta/stats.json` (what training normalises with) with the data, and every video file
# with the frames it should hold (container metadata, and only the last frame each file must hold is decoded).

# %%
start = time.perf_counter()
findings = checks.run_checks(table, args.chunk_size, cameras)
spread = checks.spread_numbers(table)
lags = checks.state_action_lags(table)
timings["checks"] = time.perf_counter() - start
timings["tabular"] = timings["load_and_tables"] + timings["checks"]
start = time.perf_counter()
findings += consistency.run_consistency_checks(table, {} if stats_problem else stats.read_stats_json(root))
findings += consistency.check_stats_file(root) if is_v30(root) else []
timings["consistency"] = time.perf_counter() - start
counts = checks.count_by_severity(findings)
print(f"{counts['error']} error(s), {counts['warn']} warning(s), {counts['info']} note(s); "
      f"tabular analysis took {timings['tabular']:.2f} s, file consistency {timings['consistency']:.2f} s")
print("\n".join(findings_lines(findings)))

# %% [markdown]
# ### A quality score per episode
#
# Each episode starts at 1.0 and loses a share for every distinct problem found in it (an error 60%, a warning 25%).
# Episodes under 0.6 (an error, or two different warnings) are worth dropping before training: the command below
# writes a copy of the dataset without them next to it, with lerobot's own `lerobot-edit-dataset`. It is printed,
# not run; the original dataset is left as it is.

# %%
episode_scores = scores.episode_scores(findings, table.episodes)
for row in episode_rows:
    row["quality"] = episode_scores[row["episode"]]
worst = scores.worst_episodes(episode_scores, findings)
to_drop = scores.episodes_to_drop(episode_scores)
drop_command = scores.drop_command(repo_id, root, to_drop) if to_drop else None
print(f"mean episode quality {np.mean(list(episode_scores.values())):.2f}; "
      f"{len(worst)} episode(s) with a problem, {len(to_drop)} worth dropping")
for item in worst[:5]:
    print(f"  episode {item['episode']}: {item['score']:.2f} ({', '.join(item['checks']) or 'notes only'})")
if drop_command:
    if not str(summary["codebase_version"]).startswith("v3"):
        print("convert the dataset to v3.0 first (lerobot-edit-dataset reads v3.0), then:")
    print(drop_command)

# %% [markdown]
# ## How the demonstrations look
#
# Every figure is saved as a PNG in the report folder and shown here. First, how long the episodes are: a
# wide spread or a few very short ones usually means aborted or forgotten recordings.

# %%
figures = []


def show(fig, filename):
    """Save the figure to the report folder, show it inline, remember it for report.md."""
    plots.show(fig, out_dir / filename)
    figures.append(filename)


show(dataset_plots.episode_length_histogram(table), "episode_lengths.png")

# %% [markdown]
# Each joint's action (blue) and state (orange) over time, overlaid for the episodes: consistent demonstrations
# make tight bundles; an outlier episode stands out as a stray line.

# %%
has_action = stats.ACTION in table.columns
if has_action:
    show(dataset_plots.joint_traces(table), "joint_traces.png")
    show(dataset_plots.action_histograms(table), "action_histograms.png")

# %% [markdown]
# Action against state for one episode: the state should follow the action closely, a few frames behind.
# A persistent gap means a joint that is blocked, miscalibrated, or in different units.

# %%
focus = args.animate_episode if args.animate_episode is not None else int(table.episodes[0])
if has_action:
    show(dataset_plots.action_vs_state(table, focus), "action_vs_state.png")

# %% [markdown]
# ### Generalisation: how varied are the demonstrations?
#
# "Is 1 demonstration enough? Why do people record 5 per position?" Imitation learning copies what it has seen.
# From one demonstration a policy learns one path; when the object sits a little elsewhere, or the arm starts
# from another pose, it meets states it has never seen and its small errors grow. Several demonstrations of the
# same position show it the natural variation of a correct motion, so it learns to correct itself; covering
# several positions shows it what has to change with the position. The checks put numbers on this: how many
# episodes there are, and how far apart their start states and paths lie.
#
# Each red dot is where one episode starts, against the joint's full range: dots piled on one spot mean every
# demonstration started alike. If the object moved between recordings (the state does not show it), the first
# frames below do.

# %%
show(dataset_plots.start_state_spread(table), "start_state_spread.png")
print(f"start-state spread {spread['start_spread'] * 100:.1f}% and path spread {spread['trajectory_spread'] * 100:.1f}% "
      f"of the joint ranges over {spread['episodes']} episodes")
for f in findings:
    if f["check"] == "generalisation":
        print(f"[{f['severity']}] {f['message']}")

# %% [markdown]
# ### First and last frames
#
# Only these frames are decoded, straight from the video files with PyAV (or read from the parquet files for
# cameras stored as images): the first and last image of up to eight episodes per camera. Does every episode start from a sensible scene and end with the task done?

# %%
start = time.perf_counter()
shown = table.episodes[np.linspace(0, len(table.episodes) - 1, min(8, len(table.episodes))).round().astype(int)]
images = {}
for camera in [c["key"] for c in cameras]:
    for episode in sorted(set(shown.tolist())):
        path = stats.video_file(table, camera, episode)
        if not frames.is_image_camera(table, camera) and (path is None or not path.is_file() or path in damaged):
            images[(episode, camera)] = None  # drawn as "missing"
            continue
        images[(episode, camera)] = tuple(frames.episode_frames(table, episode, [0, -1], camera))
timings["frames"] = time.perf_counter() - start
if images:
    show(plots.frame_grid(images), "first_last_frames.png")
else:
    print("no cameras to show")

# %% [markdown]
# ## A compact animation of one episode
#
# The camera view beside the joint plot with a moving cursor, as a GIF and an MP4. Each file is shrunk
# (downscaled, frames skipped) until it fits `--max-mb`. The first/last-frame strip is the lightest summary.

# %%
media_results = []
video_cameras = [c["key"] for c in cameras if not c["missing"] and not c["damaged"]]
if args.no_animation:
    preflight.note_ignored(parser, args, ["--max-mb"], "it sizes the GIF and MP4, and --no-animation writes none")
if args.no_animation or not has_action:
    print("animation skipped")
elif not video_cameras:
    print("no camera with all its frames to animate")
else:
    start = time.perf_counter()
    camera = video_cameras[0]
    clip = frames.whole_episode(table, focus, camera)
    animation = dataset_plots.animation_frames(table, focus, clip)
    for writer, filename in ((media.write_gif, "episode.gif"), (media.write_video, "episode.mp4")):
        result = writer(animation, out_dir / filename, fps=table.fps, max_mb=args.max_mb)
        media_results.append({"path": filename, "size_mb": round(result.size_mb, 3), "scale": result.scale,
                              "stride": result.stride, "frames": result.frames})
        print(f"{filename}: {result.size_mb:.2f} MB (scale {result.scale}, every {result.stride} frame(s))")
    media.frame_strip([clip[0], clip[len(clip) // 2], clip[-1]], out_dir / "episode_strip.png",
                      labels=[f"ep {focus} first", "middle", "last"])
    figures.append("episode_strip.png")
    timings["animation"] = time.perf_counter() - start
    display_image(out_dir / "episode.gif")

# %% [markdown]
# ## What changed since the training data (`--compare`)
#
# "Will the policy still work after weeks?" Before an evening of evaluation, compare a few fresh episodes with the
# data the policy was trained on. Each difference is measured in units you can act on: how many pixels a camera
# moved (phase correlation of the mean first frames, a few decoded frames per dataset), how much brighter the
# picture is, how far each joint rests from where it rested in training (a calibration offset), how far the new
# episodes reach beyond every training frame, where the objects sit (sim datasets), and the timing. Where the
# robustness study (`experiments.py --study robustness`, on the simulated ALOHA) measured a change of that kind, each
# difference quotes what a change of its size cost the demo policy there, interpolated between the sizes measured,
# and its risk level comes from that drop (`--costs` picks another results.json); elsewhere the risk is judged from
# the size. Either way it is a guide for your robot, not a prediction of its success.

# %%
comparison = None
if reference_root is None:
    print("no --compare REFERENCE given: nothing to compare with")
else:
    start = time.perf_counter()
    reference = stats.load_table(reference_root)
    mean_frames = {}
    for camera in [c["key"] for c in cameras]:
        pair = (frames.mean_first_frame(reference, camera), frames.mean_first_frame(table, camera))
        if all(image is not None for image in pair) and pair[0].shape == pair[1].shape:
            mean_frames[camera] = pair
    comparison = drift.compare(reference, table, mean_frames, read_sim_settings(reference_root), read_sim_settings(root),
                               costs)
    timings["compare"] = time.perf_counter() - start
    findings += comparison.pop("findings")
    counts = checks.count_by_severity(findings)
    comparison = {"reference": str(args.compare), "reference_root": str(reference_root), **comparison}
    print(f"verdict: {comparison['verdict']}")
    if comparison["costs"].get("note"):
        print(comparison["costs"]["note"])
    for d in comparison["differences"]:
        print(f"- [{d['risk']} risk] {d['message']}" + (f"\n  {d['cost_line']}" if d["cost_line"] else ""))
    if mean_frames:
        show(dataset_plots.drift_frames(mean_frames), "compare_first_frames.png")
    key = comparison["calibration"][0]["key"]
    names = stats.feature_names(table.info, key)
    show(dataset_plots.rest_pose_bars(names, drift.rest_poses(reference, key)[0], drift.rest_poses(table, key)[0]),
         "compare_rest_pose.png")
    show(dataset_plots.start_state_scatter(names, stats.start_states(reference, key), stats.start_states(table, key)),
         "compare_start_states.png")

# %% [markdown]
# ## Write the report
#
# `report.json` holds every number and every finding for scripts; `report.md` is the same for people.
# With `--fail-on warn` (or `error`) the script exits with code 1 when a finding is that severe.

# %%
report = {
    "dataset": str(args.dataset), "root": str(root), "converted_from": str(source_root) if converted else None,
    "summary": summary, "features": features, "cameras": cameras, "normalization": normalization,
    "episodes": episode_rows, "worst_episodes": worst, "drop_command": drop_command, "spread": spread,
    "state_action_lag_frames": lags, "findings": findings, "counts": counts, "chunk_size": args.chunk_size,
    "figures": figures, "media": media_results, "comparison": comparison,
    "timings_s": {k: round(v, 4) for k, v in timings.items()},
}
write_json(out_dir / "report.json", report)
write_atomic(out_dir / "report.md", markdown_report(report))
print(f"wrote {out_dir / 'report.md'}, report.json and {len(figures)} figure(s)")
failing = checks.at_least(findings, args.fail_on) if args.fail_on else []
if failing:
    log.info("%d finding(s) at --fail-on %s or worse", len(failing), args.fail_on)
    if not in_notebook():
        raise SystemExit(1)
