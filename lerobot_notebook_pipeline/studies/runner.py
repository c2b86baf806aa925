"""Run a study's points: record, train, evaluate, each step one of our scripts, cached; points in parallel.

Points run side by side either in local worker threads, each driving its steps as subprocesses (one machine), or as
Ray tasks (one machine or a cluster). Every step is cached (step_cache), so points share data and checkpoints, and a
rerun skips what is finished.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.steps import REPO_ROOT, run_logged, run_step_logged, script_command, stop_running_steps
from lerobot_notebook_pipeline.studies.cache import Step, free_first, run_cached
from lerobot_notebook_pipeline.studies.definitions import estimate_seconds, spec_robot
from lerobot_notebook_pipeline.studies.kept import forget_restored_training
from lerobot_notebook_pipeline.training.recipes import act_flags

STAGES = ("record", "train", "eval")
STATUS_EVERY_S = 5.0  # how often the progress display refreshes while no point finishes
# SO-101 rollouts step this many episodes side by side, one policy call for all: with the recipe's temporal
# ensembling ACT predicts a chunk every step, and 4 in a batch took half the CPU of one at a time with the same
# outcomes (benchmarks/RESULTS.md). ALOHA's ACT predicts every 50 steps, where batching saved 8%: one at a time.
SO101_ROLLOUT_ENVS = 4


# ------------------------------------------------------------------------------------------------ the steps


def dataset_steps(root: Path, recordings: list[dict]) -> tuple[list[Step], Step]:
    """The recording steps of a point and the step whose folder is its training dataset (a merge of several)."""
    parts = [Step(root, "data", r) for r in recordings]
    if len(parts) == 1:
        return parts, parts[0]
    return parts, Step(root, "merge", {"parts": [p.key for p in parts]})


def train_step(root: Path, dataset: Step, train: dict) -> Step:
    """The training step of a point: its settings and the dataset it trains on."""
    return Step(root, "train", {"dataset": dataset.key, **train})


def rollout_step(root: Path, train: Step, spec: dict) -> Step:
    """The visualize_policy.py call of one evaluation of a trained policy."""
    return Step(root, "rollout", {"train": train.key, **spec})


def baseline_step(root: Path, dataset: Step, episodes: str, spec: dict) -> Step:
    """The nearest-demo replay of one evaluation, from the demos a point trains on (replay_baseline.py)."""
    return Step(root, "baseline", {"dataset": dataset.key, "demos": episodes, **spec})


def point_steps(root: Path, point: dict) -> dict:
    """Every step of a point, by stage: parts, dataset, train, rollouts and baselines (eval name -> step)."""
    parts, dataset = dataset_steps(root, point["recordings"])
    train = train_step(root, dataset, point["train"])
    return {"parts": parts, "dataset": dataset, "train": train,
            "rollouts": {name: rollout_step(root, train, spec) for name, spec in point["evals"].items()},
            "baselines": {name: baseline_step(root, dataset, point["train"]["episodes"], spec)
                          for name, spec in point["evals"].items() if not spec.get("perturb")}}


def unique_steps(root: Path, points: list[dict]) -> dict[str, Step]:
    """The distinct steps of all points (shared ones once), by key."""
    steps = {}
    for p in points:
        s = point_steps(root, p)
        for step in [*s["parts"], s["dataset"], s["train"], *s["rollouts"].values(), *s["baselines"].values()]:
            steps[step.key] = step
    return steps


def plan_summary(root: Path, points: list[dict]) -> dict:
    """How much work the points are: distinct steps by kind, how many are done, and the expected seconds of the rest."""
    steps = unique_steps(root, points).values()
    todo = [s for s in steps if s.done() is None]
    by_kind = {kind: sum(s.kind == kind for s in steps) for kind in ("data", "merge", "train", "rollout", "baseline")}
    return {"points": len(points), "steps": len(steps), "steps_by_kind": by_kind, "done": len(steps) - len(todo),
            "expected_s": round(sum(estimate_seconds(s.kind, s.settings) for s in steps)),
            "remaining_s": round(sum(estimate_seconds(s.kind, s.settings) for s in todo))}


def record_args(settings: dict, out: Path) -> list:
    """make_sim_dataset.py flags (one worker: the same settings always give the same episodes in the same order)."""
    args = ["--task", settings["task"], "--episodes", settings["episodes"], "--seed", settings["seed"],
            "--image-size", *settings["image_size"], "--episode-length", settings["episode_length"],
            "--waypoint-noise", settings["waypoint_noise"], "--root", out, "--num-workers", 1, "--overwrite"]
    if settings["cube_pose"]:
        args += ["--cube-pose", *settings["cube_pose"]]
    if settings["pose_range"]:
        args += ["--pose-range", *settings["pose_range"]]
    if settings.get("robot") == "so101":
        args += ["--robot", "so101", "--marks", settings["marks"], "--placement-noise", settings["placement_noise"]]
    if settings.get("dart_noise"):
        args += ["--dart-noise", settings["dart_noise"]]
    return args


def train_args(settings: dict, dataset: Path, out: Path, threads: int) -> list:
    """train.py flags: a fixed step count, held-out episodes only when settings say (val_fraction), noise on the
    target actions and image augmentations when they say; continues a stopped run from its last checkpoint."""
    return ["--dataset", dataset, "--policy", settings["policy"], "--preset", settings["preset"],
            "--steps", settings["steps"], "--batch-size", settings["batch_size"], "--episodes", settings["episodes"],
            "--val-fraction", settings.get("val_fraction", 0), "--seed", settings["seed"], "--threads", threads, "--output-dir", out,
            "--lr-schedule", settings.get("lr_schedule", "preset"),
            "--action-noise-std", settings.get("action_noise_std", 0), "--image-transforms",
            settings.get("image_transforms", "none"), "--resume" if (out / "checkpoints" / "last").exists() else "--overwrite",
            *act_flags(settings.get("chunk_size"), settings.get("temporal_ensemble"))]


def rollout_args(settings: dict, checkpoint: Path, out: Path) -> list:
    """visualize_policy.py flags: seeded rollouts in a square or on a ring around a position, on a grid, or at the
    SO-101's pencil marks; perturbed when settings name a perturbation."""
    args = ["--policy-path", checkpoint, "--env", settings.get("env", "aloha_transfer_cube"), "--episodes", settings["episodes"],
            "--seed", settings["seed"], "--max-steps", settings["max_steps"], "--threads", 1, "--max-mb", 1,
            "--output-dir", out, "--overwrite"]
    if spec_robot(settings) == "so101":
        args += ["--num-envs", min(SO101_ROLLOUT_ENVS, settings["episodes"])]
    if settings.get("perturb"):
        args += ["--perturb", ",".join(f"{name}={value:g}" for name, value in settings["perturb"].items())]
    if settings["kind"] == "grid":
        return args + ["--pose-grid", settings["n"], settings["n"], "--pose-range", *settings["bounds"]]
    if settings["kind"] == "marks":  # SO-101: at one of the pencil marks, as the demos were
        return args + ["--marks", settings["marks"], "--placement-noise", settings["radius"]]
    args += ["--cube-pose", *settings["cube_pose"]]
    return args + ["--pose-ring" if settings["kind"] == "ring" else "--pose-radius", settings["radius"]]


def checkpoint_of(train: Step) -> Path:
    """The checkpoint a training step is evaluated with: checkpoints/best (lowest held-out action error) when it
    held episodes out, as train_ultimate.py chooses, else the last one."""
    chosen = "best" if train.settings.get("val_fraction") else "last"
    return train.out / "checkpoints" / chosen / "pretrained_model"


def merge_into(parts: list[Path], out: Path) -> None:
    """Merge the parts' datasets into out, with the sim settings of all parts."""
    from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings, write_sim_settings
    from lerobot_notebook_pipeline.sim.record import merge_datasets, merged_sim_settings

    shutil.rmtree(out, ignore_errors=True)  # a merge stopped half-way
    merge_datasets(parts, out)
    write_sim_settings(out, merged_sim_settings([read_sim_settings(p) for p in parts]))


def trained(settings: dict, out: Path) -> dict:
    """Check that train.py reached the step count (a stop by signal saves and exits cleanly, but is not done)."""
    summary = json.loads((out / "summary.json").read_text())
    if summary["steps"] < settings["steps"]:
        raise UserError(f"training in {out} stopped at step {summary['steps']} of {settings['steps']} "
                        f"({summary.get('stopped_by')}): run the study again to continue it")
    return {"steps": summary["steps"], "s_per_step": round(summary["s_per_step"], 4), "device": summary["device"]}


# ------------------------------------------------------------------------------------------------ a point


def note(log: Path, text: str) -> None:
    """Append a line to a point's log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")


def run_step(step: Step, action, log: Path) -> dict:
    """Run one cached step of a point, noting in its log whether it ran or was already done."""
    marker, ran = run_cached(step, action)
    note(log, f"{step.kind} {step.key}: {'ran' if ran else 'already done'} ({marker['seconds']:.0f} s)")
    return {"kind": step.kind, "key": step.key, "seconds": marker["seconds"], "ran": ran}


def logged_action(name: str, make_command, log: Path):
    """A step action that runs make_command(out_dir), its output appended to log."""
    def action(out: Path) -> None:
        run_logged(make_command(out), log, name)
    return action


def record_parts(parts: list[Step], log: Path, at_once: int) -> list[dict]:
    """Record a point's datasets, up to at_once side by side (each recording is one single-threaded process)."""
    from concurrent.futures import ThreadPoolExecutor

    def record(part: Step) -> dict:
        action = logged_action("make_sim_dataset.py", lambda out: script_command(
            "make_sim_dataset.py", record_args(part.settings, out)), log)
        return run_step(part, action, log)

    with ThreadPoolExecutor(max_workers=max(1, min(at_once, len(parts)))) as pool:
        return list(pool.map(record, parts))


def run_point(point: dict, root: str, threads: int, until: str = "eval") -> dict:
    """Record, train and evaluate one point (up to stage `until`); return its record, with an error if a step failed."""
    root = Path(root)
    log = root / "logs" / f"{point['id']}.log"
    steps = point_steps(root, point)
    train, dataset = steps["train"], steps["dataset"]
    record = {"id": point["id"], "status": "done", "error": None, "log": str(log.relative_to(root)), "steps": []}
    note(log, f"point {point['name']} (up to {until})")

    def train_action(out: Path) -> dict:
        run_step_logged("train.py", train_args(train.settings, dataset.out, out, threads), log)
        return trained(train.settings, out)

    try:
        record["steps"] += record_parts(steps["parts"], log, threads)
        if dataset.kind == "merge":  # its own process, so lerobot's progress bars go to the log
            merge = [sys.executable, "-m", __name__, "merge", *(p.out for p in steps["parts"])]
            record["steps"].append(run_step(dataset, logged_action("merge", lambda out: [*merge, out], log), log))
        if STAGES.index(until) >= STAGES.index("train"):
            if any(r.done() is None for r in steps["rollouts"].values()) and forget_restored_training(train):
                note(log, f"train {train.key}: put back from the kept results without its checkpoint; training again")
            record["steps"].append(run_step(train, train_action, log))
        if STAGES.index(until) >= STAGES.index("eval"):
            for rollout in free_first(steps["rollouts"].values()):
                action = logged_action("visualize_policy.py", lambda out, s=rollout.settings: script_command(
                    "visualize_policy.py", rollout_args(s, checkpoint_of(train), out)), log)
                record["steps"].append(run_step(rollout, action, log))
            for name, baseline in steps["baselines"].items():
                replay = [sys.executable, "-m", "lerobot_notebook_pipeline.evaluation.replay_baseline", dataset.out,
                          point["train"]["episodes"], json.dumps(point["evals"][name])]
                record["steps"].append(run_step(baseline, logged_action("replay_baseline", lambda out, c=replay: [*c, out],
                                                                        log), log))
    except Exception as err:  # one failed point is reported; the others go on
        record.update(status="failed", error=str(err).splitlines()[0][:400] if str(err) else type(err).__name__)
    note(log, f"point {record['status']}" + (f": {record['error']}" if record["error"] else ""))
    return record


# ------------------------------------------------------------------------------------------------ engines


def run_local(points: list[dict], root: Path, workers: int, threads: int, until: str):
    """Run the points `workers` at a time on this machine; yield (record or None, running, pending) as they go."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait on the steps' subprocesses
        pending = {pool.submit(run_point, p, str(root), threads, until) for p in points}
        try:
            while pending:
                done, pending = wait(pending, timeout=STATUS_EVERY_S, return_when=FIRST_COMPLETED)
                running = sum(f.running() for f in pending)
                if not done:
                    yield None, running, len(pending) - running
                for future in done:
                    yield future.result(), running, len(pending) - running
        except BaseException:  # stopped (Ctrl-C, SIGTERM): start no more points and end the running steps
            for future in pending:
                future.cancel()
            stop_running_steps()
            raise


def run_ray(points: list[dict], root: Path, threads: int, until: str, address: str | None = None,
            num_cpus: int | None = None, gpus: float = 0.0):
    """Run the points as Ray tasks (num_cpus=threads, num_gpus=gpus each); yield (record or None, running, pending).

    address None starts a local instance with num_cpus; "auto" or ray://HOST:PORT joins a cluster, whose nodes
    must see this repository and the output folder at the same paths (a shared filesystem).
    """
    import ray

    started = not ray.is_initialized()
    if started:
        env_vars = {"PYTHONPATH": str(REPO_ROOT), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env_vars})
    try:
        task = ray.remote(num_cpus=threads, num_gpus=gpus)(run_point)
        capacity = max(1, int(ray.cluster_resources().get("CPU", threads) // threads))
        pending = [task.remote(p, str(root), threads, until) for p in points]
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=STATUS_EVERY_S)
            running = min(capacity, len(pending))
            if not done:
                yield None, running, len(pending) - running
            for ref in done:
                yield ray.get(ref), running, len(pending) - running
    finally:
        if started:
            ray.shutdown()


if __name__ == "__main__":  # python -m lerobot_notebook_pipeline.studies.runner merge PART... OUT
    if sys.argv[1:2] == ["merge"] and len(sys.argv) >= 5:
        merge_into([Path(p) for p in sys.argv[2:-1]], Path(sys.argv[-1]))
    else:
        sys.exit("usage: python -m lerobot_notebook_pipeline.studies.runner merge PART PART... OUT")
