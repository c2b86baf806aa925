"""experiments.py: studies as cached grids of points; the smoke study end to end with a kill and a resume, the Ray
engine on a local instance, results, plots, README and the notebook."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, inline_images, run_notebook, run_script
from lerobot_notebook_pipeline.evaluation.success import rollout_rate
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.studies.cache import Step, free_first, run_cached
from lerobot_notebook_pipeline.studies.definitions import default_seeds, select_points, share, study_points
from lerobot_notebook_pipeline.studies.results import position_class
from lerobot_notebook_pipeline.studies.runner import point_steps, unique_steps

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def experiments(*args, timeout=600):
    """Run experiments.py with flags; return the finished process."""
    return subprocess.run([sys.executable, "experiments.py", *map(str, args)], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def markers(root):
    """Done marker path -> mtime, for every finished step under root."""
    return {p.relative_to(root): p.stat().st_mtime_ns for p in root.glob("*/*.done.json")}


# ------------------------------------------------------------------------------------------- the studies


def test_full_studies_share_steps_and_evaluate_enough_episodes(tmp_path):
    demos = study_points("demos")
    assert [p["settings"]["demos"] for p in demos] == [1, 2, 5, 10, 20, 40, 5, 20]
    steps = unique_steps(tmp_path, demos)
    kinds = [s.kind for s in steps.values()]
    assert kinds.count("data") == 2 and kinds.count("train") == 8  # one 40-demo dataset, one exact-pose dataset
    assert kinds.count("rollout") == kinds.count("baseline") == 24  # each evaluation has its nearest-demo replay
    assert {point_steps(tmp_path, p)["train"].settings["episodes"] for p in demos[:6]} == {"0:1", "0:2", "0:5", "0:10",
                                                                                          "0:20", "0:40"}
    assert all(spec["episodes"] >= 30 for p in demos for spec in p["evals"].values())
    positions = study_points("positions")
    assert [p["settings"]["layout"] for p in positions] == ["1 position", "2 positions", "4 corners", "9 positions",
                                                            "uniform"]
    nine = point_steps(tmp_path, positions[3])
    assert len(nine["parts"]) == 9 and nine["dataset"].kind == "merge"
    assert sum(r["episodes"] for r in positions[3]["recordings"]) == 20 and share(20, 9) == [3, 3] + [2] * 7
    grid = nine["rollouts"]["grid"].settings  # one visualize_policy.py --pose-grid call: 7x7 positions
    assert (grid["n"], grid["episodes"], grid["bounds"]) == (7, 49, [0.025, 0.175, 0.425, 0.575])
    assert list(demos[0]["evals"]) == ["within 1.5 cm", "3 cm off the mark", "5 cm off the mark"]
    assert all(p["train"]["steps"] == 2500 and p["recordings"][0]["image_size"] == [64, 85] for p in demos + positions)
    assert len(study_points("demos", smoke=True)) == len(study_points("positions", smoke=True)) == 2


def test_another_step_count_trains_anew_on_the_same_data_and_only_picks_points(tmp_path):
    default, longer = study_points("positions"), study_points("positions", steps=5000)
    assert {p["train"]["steps"] for p in longer} == {5000}
    for a, b in zip(default, longer, strict=True):  # the same recordings, a new training and evaluation
        sa, sb = point_steps(tmp_path, a), point_steps(tmp_path, b)
        assert sa["dataset"].key == sb["dataset"].key and sa["train"].key != sb["train"].key
        assert sa["rollouts"]["grid"].key != sb["rollouts"]["grid"].key
    chosen = select_points(longer, "9-positions-seed0, 4-corners-seed0")
    assert [p["id"] for p in chosen] == ["4-corners-seed0", "9-positions-seed0"]
    assert select_points(longer, None) == longer
    for bad in ("9-positions", ","):
        with pytest.raises(UserError, match="--plan lists the ids"):
            select_points(longer, bad)
    result = experiments("--study", "positions", "--only", "nine", "--plan", "--output-dir", tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: --only") and "Traceback" not in result.stderr


def test_step_keys_depend_on_settings_only(tmp_path):
    a, b = Step(tmp_path / "one", "data", {"episodes": 2, "seed": 0}), Step(tmp_path / "two", "data", {"seed": 0, "episodes": 2})
    assert a.key == b.key and a.key != Step(tmp_path, "data", {"episodes": 3, "seed": 0}).key
    assert Step(tmp_path, "train", {"episodes": 2, "seed": 0}).key != a.key


def test_a_step_runs_once_and_only_a_success_is_marked_done(tmp_path):
    calls = []

    def action(out):
        calls.append(out)
        out.mkdir(parents=True)
        return {"answer": 42}

    step = Step(tmp_path, "data", {"episodes": 1})
    marker, ran = run_cached(step, action)
    assert ran and marker["answer"] == 42 and marker["settings"] == {"episodes": 1}
    assert run_cached(step, action) == (marker, False) and len(calls) == 1

    def fails(out):
        out.mkdir(parents=True)
        raise RuntimeError("stopped")

    broken = Step(tmp_path, "data", {"episodes": 2})
    with pytest.raises(RuntimeError):
        run_cached(broken, fails)
    assert broken.done() is None and not broken.marker.exists()  # its partial output is redone next time
    shutil.rmtree(step.out)
    assert step.done() is None  # a marker without its outputs is not done


def test_a_second_run_of_a_point_takes_the_evaluations_nobody_is_running(tmp_path):
    steps = [Step(tmp_path, "rollout", {"condition": c}) for c in ("a", "b", "c")]
    steps[0].lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; h = open(sys.argv[1], 'a'); "
                               "fcntl.flock(h, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", steps[0].lock],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert steps[0].busy() and not steps[1].busy()
        order = free_first(steps)
        assert [next(order), next(order)] == steps[1:]  # the held step is left for last, not waited on first
    finally:
        holder.kill()
        holder.wait()
    assert next(order) == steps[0] and not steps[0].busy()


def test_positions_are_trained_between_or_outside():
    corners = [[0.05, 0.45], [0.15, 0.45], [0.05, 0.55], [0.15, 0.55]]
    assert position_class([0.055, 0.452], corners) == "trained"
    assert position_class([0.1, 0.5], corners) == "between"
    assert position_class([0.175, 0.5], corners) == "outside"
    assert position_class([0.1, 0.5], [[0.05, 0.5], [0.15, 0.5]]) == "between"  # on the segment of two marks
    assert position_class([0.1, 0.55], [[0.05, 0.5], [0.15, 0.5]]) == "outside"
    assert position_class([0.13, 0.5], [[0.1, 0.5]]) == "outside"


def test_rates_use_the_reported_counts_else_the_episodes():
    per_episode = [{"success": s, "object_pose": [0.1 + i / 100, 0.5, 0.05]} for i, s in enumerate([1, 0, 1])]
    rate = rollout_rate([{"per_episode": per_episode}])
    assert (rate["successes"], rate["episodes"], rate["distinct_initial_conditions"]) == (2, 3, 3)
    assert rate["ci95"][0] < 66.7 < rate["ci95"][1]
    reported = rollout_rate([{"successes": 1, "episodes": 3, "distinct_initial_conditions": 3, "per_episode": []}])
    assert (reported["successes"], reported["episodes"], reported["distinct_initial_conditions"]) == (1, 3, 3)


def test_bad_seeds_get_a_one_line_error(tmp_path):
    result = experiments("--smoke", "--seeds", "a,b", "--plan", "--output-dir", tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: --seeds") and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------- real steps, small settings


def stop_after_first_point(args, first_log):
    """Start experiments.py with args and SIGTERM it (the parent only) once the first point's log says it is done.

    Return (exit code, stderr, the step processes it had started that were still running 15 s later)."""
    import psutil

    process = subprocess.Popen([sys.executable, "experiments.py", *map(str, args)], cwd=ROOT, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if first_log.is_file() and "point done" in first_log.read_text():
            break
        time.sleep(0.2)
    time.sleep(2)  # the second point's steps have started
    children = psutil.Process(process.pid).children(recursive=True)
    process.terminate()
    try:
        _, err = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left, so the resume below starts clean
            os.killpg(process.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(children, timeout=15)
    return process.returncode, err, alive


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """The demos smoke study end to end, stopped after its first point and run again.

    Returns the study folder, the done markers it had before the stop, and how the stop went."""
    root = tmp_path_factory.mktemp("demos") / "study"
    points = study_points("demos", smoke=True)
    args = ["--study", "demos", "--smoke", "--workers", 1, "--threads", 1, "--output-dir", root]
    stopped = stop_after_first_point(args, root / "logs" / f"{points[0]['id']}.log")
    first = markers(root)
    result = experiments(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, first, stopped


def test_a_stopped_study_ends_its_running_steps(smoke_study):
    code, err, alive = smoke_study[2]
    assert code == 2 and "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: stopped by")
    assert not alive, f"left running after the study stopped: {alive}"


def test_a_stopped_study_resumes_without_redoing_finished_steps(smoke_study):
    root, first, _ = smoke_study
    after = markers(root)
    assert first and all(after[path] == mtime for path, mtime in first.items())
    assert len(first) == 4 and len(after) == 1 + 2 + 2 + 2  # one shared dataset; per point a training, a rollout
    # call and its nearest-demo replay
    first_log, second_log = (root / "logs" / f"{p['id']}.log" for p in study_points("demos", smoke=True))
    assert first_log.read_text().count(": ran") == 4  # its dataset, training, rollouts and replay, once, before the stop
    assert "already done" in first_log.read_text().split("point done")[1]
    shared = [line for line in second_log.read_text().splitlines() if "] data " in line]
    assert shared and all("already done" in line for line in shared)  # the first point recorded it


def test_smoke_study_writes_rates_plots_and_readme(smoke_study):
    root = smoke_study[0]
    results = json.loads((root / "results" / "results.json").read_text())
    planned = {p["id"]: p["train"]["steps"] for p in study_points("demos", smoke=True)}  # the smoke's own step count
    for point in results["points"]:
        assert point["status"] == "done" and point["finished"] == ["record", "train", "eval"]
        assert point["training"]["steps"] == planned[point["id"]] and point["training"]["seconds"] > 0
        assert point["seeds"] == {"record": [0], "train": 0, "eval": {"within 1.5 cm": 1000}}
        demos = point["settings"]["demos"]  # both points train on the first episodes of one 2-demo dataset
        assert len(point["training_starts"]) == point["data_check"]["episodes"] == demos
        assert point["data_check"]["near_duplicate"] == []
        for rate in point["evals"].values():
            assert {"successes", "episodes", "pc_success", "ci95", "distinct_initial_conditions"} <= set(rate)
            assert rate["episodes"] == 2 and rate["distinct_initial_conditions"] == 2
            replay = rate["nearest_demo_replay"]  # the same two starts, the nearest trained demo's actions replayed
            assert replay["episodes"] == replay["distinct_initial_conditions"] == 2 and len(replay["ci95"]) == 2
    assert results["machine"]["torch_threads_per_job"] >= 1 and results["machine"]["cpu"]
    assert (root / "results" / "success_vs_demos.png").stat().st_size > 5000
    readme = (root / "results" / "README.md").read_text()
    assert "Smoke run" in readme and "What could change the answer" in readme and "| 1 demo within" in readme
    assert "It took" in readme and "training seed(s)" in readme
    assert "Data check (analyse_dataset's near_duplicate check on the episodes each point trains on, 2 of 2 points): " \
           "no near-duplicate warnings" in readme


def test_a_study_goes_on_from_its_kept_results_on_a_fresh_machine(smoke_study, tmp_path):
    root = smoke_study[0]
    kept = sorted((root / "results" / "steps").rglob("*.json"))
    assert sorted(p.parent.name for p in kept) == ["baseline"] * 2 + ["rollout"] * 2 + ["train"] * 2
    shutil.copytree(root / "results", tmp_path / "results")  # what a commit carries; the cache stays behind
    fresh = tmp_path / "fresh"
    result = experiments("--study", "demos", "--smoke", "--workers", 1, "--threads", 1, "--output-dir", fresh,
                         "--results-dir", tmp_path / "results")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6 finished steps put back" in result.stdout
    lines = [line for p in sorted((fresh / "logs").glob("*.log")) for line in p.read_text().splitlines()]
    evaluated = [line for line in lines if "] train " in line or "] rollout " in line or "] baseline " in line]
    assert len(evaluated) == 6 and all("already done" in line for line in evaluated)  # recorded again, nothing else
    assert not list(fresh.glob("train/*/checkpoints"))
    before, after = (json.loads((d / "results.json").read_text()) for d in (root / "results", tmp_path / "results"))
    assert [p["evals"] for p in after["points"]] == [p["evals"] for p in before["points"]]


def test_notebook_reruns_the_study_from_its_cache(smoke_study):
    root = smoke_study[0]
    before = markers(root)
    notebook = run_notebook("experiments.ipynb", f"--study demos --smoke --output-dir {root}", timeout=300)
    assert markers(root) == before
    assert "2 of 2 points done" in json.dumps([c.get("outputs") for c in notebook.cells])
    assert inline_images(notebook)


def test_report_rewrites_plots_and_readme_from_the_results_and_runs_nothing(smoke_study):
    root = smoke_study[0]
    before, results = markers(root), (root / "results" / "results.json").read_bytes()
    (root / "results" / "README.md").unlink()
    (root / "results" / "success_vs_demos.png").unlink()
    report = experiments("--study", "demos", "--smoke", "--output-dir", root, "--report")
    assert report.returncode == 0, report.stderr[-3000:]
    assert markers(root) == before and (root / "results" / "results.json").read_bytes() == results
    readme = (root / "results" / "README.md").read_text()
    assert "| 1 demo within" in readme and readme.split("\n\n")[1].startswith("**Smoke run**")
    assert opening(readme).startswith("Within the spread the demos came from") and sentences(opening(readme)) <= 3
    assert (root / "results" / "success_vs_demos.png").stat().st_size > 5000
    other = experiments("--study", "demos", "--smoke", "--steps", "7", "--output-dir", root, "--report")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert other.stderr.strip() == (f"error: --report: {root}/results/results.json comes from another run; pass its "
                                    "flags: python experiments.py --study demos --smoke")


def test_ray_engine_runs_points_on_a_local_instance(tmp_path):
    root = tmp_path / "study"
    result = experiments("--study", "demos", "--smoke", "--until", "record", "--engine", "ray", "--workers", 1,
                         "--threads", 2, "--output-dir", root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(root.glob("data/*.done.json"))) == 1  # two Ray tasks, one shared recording
    logs = [p.read_text() for p in sorted(root.glob("logs/*.log"))]
    assert sum(": ran" in log for log in logs) == 1 and sum("already done" in log for log in logs) == 1
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["machine"]["engine"] == "ray" and [p["finished"] for p in results["points"]] == [["record"]] * 2


def test_merge_step_joins_recordings_with_their_sim_settings(smoke_study, tmp_path):
    recorded = smoke_study[0]
    dataset = next(p for p in (recorded / "data").iterdir() if p.is_dir())
    parts = [tmp_path / "a", tmp_path / "b"]
    for part in parts:
        shutil.copytree(dataset, part)
    # the command the runner starts (python -m lerobot_notebook_pipeline.studies.runner merge PART... OUT), here
    result = run_script("lerobot_notebook_pipeline/studies/runner.py", "merge", *parts, tmp_path / "merged")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "merged" / "meta" / "info.json").read_text())
    settings = json.loads((tmp_path / "merged" / "meta" / "sim_settings.json").read_text())
    assert info["total_episodes"] == 4 and settings["kept"] == 4 and len(settings["episodes"]) == 4
    assert len(settings["parts"]) == 2 and settings["image_size"] == [48, 64]


def grid_result(layout, seed, starts, successes_at):
    """A positions-study result on a 3x3 grid (as point_result writes it), succeeding where successes_at says."""
    from lerobot_notebook_pipeline.evaluation.success import success_summary
    from lerobot_notebook_pipeline.sim.poses import grid_poses

    spec = {"kind": "grid", "bounds": [0.05, 0.15, 0.45, 0.55], "n": 3, "episodes": 1, "seed": 2000, "max_steps": 400}
    cells = [{"xy": list(xy), **success_summary(int(successes_at(list(xy))), 1)} for xy in grid_poses(spec["bounds"], 3, 3)]
    total = success_summary(sum(c["successes"] for c in cells), len(cells))
    return {"name": f"{layout}, seed {seed}", "settings": {"layout": layout, "train_seed": seed}, "status": "done",
            "finished": ["record", "train", "eval"], "training_starts": starts, "compute_s": {"train": 60.0},
            "seeds": {"eval": {"grid": 2000}}, "evals": {"grid": total | {"spec": spec, "positions": cells}}}


def test_positions_results_become_heatmaps_rates_by_class_and_an_answer(tmp_path):
    from lerobot_notebook_pipeline.plots import save_figure
    from lerobot_notebook_pipeline.studies.report import (
        class_rates,
        heatmaps_figure,
        positions_answer,
        positions_figure,
    )

    results = [grid_result("1 position", 0, [[0.1, 0.5]], lambda xy: xy == [0.1, 0.5]),
               grid_result("4 corners", 0, [[0.05, 0.45], [0.15, 0.45], [0.05, 0.55], [0.15, 0.55]],
                           lambda xy: xy[0] <= 0.1)]
    rates = class_rates(results)
    assert (rates["1 position"]["trained"]["successes"], rates["1 position"]["trained"]["episodes"]) == (1, 1)
    assert rates["1 position"]["outside"]["episodes"] == 8 and rates["1 position"]["between"]["episodes"] == 0
    assert rates["4 corners"]["trained"]["episodes"] == 4 and rates["4 corners"]["between"]["episodes"] == 5
    assert rates["4 corners"]["trained"]["successes"] == 2 and rates["4 corners"]["between"]["successes"] == 4
    results[1]["evals"]["grid"]["nearest_demo_replay"] = grid_result(
        "4 corners", 0, results[1]["training_starts"], lambda xy: xy[0] == 0.05)["evals"]["grid"]
    copied = class_rates(results, replay=True)
    assert list(copied) == ["4 corners"] and copied["4 corners"]["between"]["successes"] == 1
    answer = positions_answer(results)
    assert "1 position: at a trained position 1/1" in answer and "between them 4/5" in answer
    assert "(replaying the nearest demo without the camera: trained 2/4 (15-85%), between 1/5 (4-62%))" in answer
    assert answer.startswith("On the whole evaluation grid the policy succeeded most often with 4 corners, 6/9 ")
    # the Wilson intervals (35-88%, 2-44%) overlap, but paired start by start 4 corners won 5 and lost none
    assert "least often with 1 position, 1/9 " in answer and ("4 corners - 1 position: +56 points (95% CI +11 to +79), "
                                                              "9 paired starts, McNemar p 0.062.") in answer
    assert "Replaying the nearest demo did better at 0 of 1 layouts." in answer  # 3/9 against the policy's 6/9
    for name, figure in (("heatmaps.png", heatmaps_figure), ("classes.png", positions_figure)):
        save_figure(figure(results), tmp_path / name)
        assert (tmp_path / name).stat().st_size > 5000


def test_demos_answer_weighs_the_policies_against_the_replay_and_the_farther_spreads():
    from lerobot_notebook_pipeline.evaluation.success import success_summary
    from lerobot_notebook_pipeline.studies.report import demos_answer

    def result(n, placement, near, far, replay_near):
        return {"settings": {"demos": n, "placement": placement, "train_seed": 0},
                "seeds": {"eval": {"near": 1000, "5 cm off": 1000}},
                "evals": {"near": success_summary(near, 30) | {"nearest_demo_replay": success_summary(replay_near, 30)},
                          "5 cm off": success_summary(far, 30)}}

    results = [result(1, "spread", 3, 0, 28), result(5, "spread", 24, 2, 28), result(20, "spread", 27, 20, 29),
               result(5, "same pose", 6, 0, 28)]
    answer = demos_answer(results)
    assert "ACT trained on 1 demo succeeded in 3/30" in answer and "the best was 20 demos with 27/30" in answer
    assert "and 5 demos already were no worse by the 95% interval of the difference" in answer
    assert "scored 28/30 = 93.3% (95% CI 79-98%) from 1 demo: the policy was worse than that copied path" in answer
    assert "With the cube 5 cm off, ACT succeeded in 0 to 20 of 30 whatever the count (1: 0/30 (0-11%), 20: 20/30" \
        in answer
    assert "5 demos at one exact pose gave 6/30 = 20.0% (95% CI 10-37%), worse than 5 demos spread" in answer
    assert "Farthest out (5 cm off), 20 demos were better than 1: more demos widened the area" in answer
    one_is_best = demos_answer([result(1, "spread", 29, 4, 29), result(10, "spread", 25, 2, 29)])
    assert "ACT trained on 1 demo succeeded in 29/30" in one_is_best and "no larger count did better (10 demos 25/30" \
        in one_is_best and "the policy was no different from that copied path" in one_is_best
    assert "10 demos were no different from 1: more demos in one small spread did not widen" in one_is_best
    far_replay = [result(1, "spread", 29, 4, 29), result(40, "spread", 29, 3, 29)]
    for r, copied in zip(far_replay, (1, 25), strict=True):
        r["evals"]["5 cm off"]["nearest_demo_replay"] = success_summary(copied, 30)
    assert "replaying the nearest demo went from 1/30 (1-17%) with 1 to 25/30 (66-93%) with 40, so with 40 demos ACT " \
        "was worse than that lookup." in demos_answer(far_replay)


def test_the_readme_names_points_whose_training_data_has_near_duplicates():
    from lerobot_notebook_pipeline.studies.report import data_check_line

    clean = {"name": "20 demos within +/-1.5 cm", "data_check": {"episodes": 20, "near_duplicate": [],
                                                               "trajectory_spread": 0.095}}
    copies = {"name": "20 demos at one exact pose", "data_check": {"episodes": 20, "near_duplicate": ["x"] * 19,
                                                                 "trajectory_spread": 0.004}}
    assert "no near-duplicate warnings; paths differ by 10-10%" in data_check_line([clean])
    line = data_check_line([clean, copies, {"name": "pending"}])
    assert "2 of 3 points" in line and "near-duplicate warnings in 20 demos at one exact pose: 19 of 20 episodes" in line


def test_a_demo_replayed_from_its_own_start_reaches_its_recorded_reward(smoke_study):
    from lerobot_notebook_pipeline.evaluation.replay_baseline import nearest_demo_replay

    dataset = next(p for p in (smoke_study[0] / "data").iterdir() if p.is_dir())
    recorded = json.loads((dataset / "meta" / "sim_settings.json").read_text())["episodes"]
    for episode, demo in enumerate(recorded):
        spec = {"kind": "ring", "cube_pose": demo["object_pose"][:2], "radius": 0.0, "episodes": 1, "seed": 5,
                "max_steps": 60}
        replayed = nearest_demo_replay(dataset, "all", spec)["per_episode"][0]
        assert replayed["demo"] == episode and replayed["max_reward"] == demo["max_reward"]


# ------------------------------------------------------------------------------------------- README: the answer first


def opening(readme):
    """A study README's answer: the paragraph just before its first table."""
    return readme.split("\n|", 1)[0].strip().split("\n\n")[-1]


def sentences(text):
    """How many sentences a text has (a full stop, question or exclamation mark ends one)."""
    import re

    return len(re.findall(r"[.!?](?=\s|$)", text))


def committed_report(results_json):
    """The README that experiments.py --report writes from a committed results.json (its own command's flags)."""
    import argparse
    import shlex

    from lerobot_notebook_pipeline.studies.report import study_readme

    saved = json.loads(results_json.read_text())
    parser = argparse.ArgumentParser()
    for flag in ("--study", "--seeds", "--steps", "--only", "--results-dir"):
        parser.add_argument(flag)
    parser.add_argument("--robot", default="aloha")
    flags = parser.parse_args(shlex.split(saved["command"])[2:])
    seeds = [int(s) for s in flags.seeds.split(",")] if flags.seeds else default_seeds(flags.study, flags.robot)
    steps = int(flags.steps) if flags.steps else None
    points = select_points(study_points(flags.study, False, seeds, steps, flags.robot), flags.only)
    return study_readme(flags.study, points, saved["points"], saved["machine"], saved["plan"], saved["command"], False)


@pytest.mark.parametrize("study", sorted(p.parent.name for p in (ROOT / "experiments").glob("*/results.json")))
def test_committed_study_reports_open_with_their_answer_in_three_sentences(study):
    readme = (ROOT / "experiments" / study / "README.md").read_text()
    assert readme == committed_report(ROOT / "experiments" / study / "results.json"), \
        f"experiments/{study}/README.md is stale: rewrite it with experiments.py --report and its results' flags"
    title, rest = readme.split("\n\n", 1)
    so101 = rest.startswith("Robot: a simulated SO-101")  # its README names the robot first, then the answer
    if so101:
        rest = rest.split("\n\n", 1)[1]
    before_table = rest.split("\n|", 1)[0]
    assert title.startswith("# ") and before_table.strip() == opening(readme)  # nothing but the answer before the table
    answer = opening(readme)
    # the old opening was one 250-350 word paragraph; on the SO-101 the marks' question and its answer come first
    most_sentences, most_words = (5, 170) if so101 else (3, 120)
    assert 1 <= sentences(answer) <= most_sentences and len(answer.split()) <= most_words
    assert "(" in answer and "%)" in answer  # its rates carry their intervals
    evidence = readme.split("## The evidence\n\n", 1)[1].split("\n\n")[0]
    assert len(evidence.split()) >= 150 and "What could change the answer" in readme.split("## The evidence")[1]


def demos_point(n, placement, near, far, replay_near, seeds=(0,)):
    """A demos-study result per training seed, near and 5 cm off, the replay scored near only."""
    from lerobot_notebook_pipeline.evaluation.success import success_summary

    return [{"settings": {"demos": n, "placement": placement, "train_seed": seed}, "training": {"steps": 2500},
             "seeds": {"eval": {"near": 1000, "5 cm off": 1000}},
             "evals": {"near": success_summary(near, 30) | {"nearest_demo_replay": success_summary(replay_near, 30)},
                       "5 cm off": success_summary(far, 30)}} for seed in seeds]


def test_demos_report_opens_with_a_three_sentence_answer_and_a_table():
    from lerobot_notebook_pipeline.studies.report import demos_summary, demos_table

    one_is_enough = [*demos_point(1, "spread", 29, 4, 29), *demos_point(40, "spread", 30, 3, 30, seeds=(0, 1)),
                     *demos_point(5, "same pose", 30, 3, 27)]
    said = demos_summary(one_is_enough)
    assert said.startswith("Within the spread the demos came from (cube within +/-1.5 cm of the mark), yes: with 2500 "
                           "training steps and 2 training seeds for 40 demos within +/-1.5 cm, 1 for the others, ACT on 1 demo")
    assert "ACT on 1 demo succeeded in 29/30 (83-99%)" in said and "(40 demos: 60/60 (94-100%))" in said
    assert "also succeeded in 29/30 (83-99%): in this spread the task tolerates a copied path" in said
    assert said.endswith("did not widen where ACT works: with the cube 5 cm off, 40 demos gave 6/60 (5-20%) and "
                         "1 demo 4/30 (5-30%).")
    assert sentences(said) == 3
    table = demos_table(one_is_enough).splitlines()
    assert table[0] == "| demos | near: ACT | replay | 5 cm off: ACT | replay | training seeds |"
    assert table[2:] == ["| 1 within +/-1.5 cm | 29/30 (83-99%) | 29/30 (83-99%) | 4/30 (5-30%) |  | 1 |",
                         "| 40 within +/-1.5 cm | 60/60 (94-100%) | 30/30 (89-100%) | 6/60 (5-20%) |  | 2 |",
                         "| 5 at one exact pose | 30/30 (89-100%) | 27/30 (74-97%) | 3/30 (3-26%) |  | 1 |"]
    more_is_better = demos_summary([*demos_point(1, "spread", 3, 0, 28), *demos_point(20, "spread", 27, 20, 29)])
    assert "not with 1 demo: with 2500 training steps and 1 training seed per setting, ACT on 1 demo succeeded in 3/30" \
        in more_is_better and "20 demos were the fewest not clearly worse than the best" in more_is_better
    assert "so the policy was worse than copying a path." in more_is_better
    assert "More demos widened where ACT works: with the cube 5 cm off, 20 demos gave 20/30" in more_is_better
    assert sentences(more_is_better) == 3


def test_positions_report_opens_with_a_three_sentence_answer_and_a_table():
    from lerobot_notebook_pipeline.studies.report import positions_summary, positions_table

    corners = [[0.05, 0.45], [0.15, 0.45], [0.05, 0.55], [0.15, 0.55]]
    results = [grid_result("1 position", 0, [[0.1, 0.5]], lambda xy: xy[0] == 0.05 or xy == [0.1, 0.5]),
               grid_result("4 corners", 0, corners, lambda xy: xy[0] <= 0.1)]
    alike = positions_summary(results)  # paired start by start: 2 won by 4 corners, none lost
    assert alike.startswith("With 1 training seed per layout, no layout stood out: on the whole evaluation grid they "
                            "scored 4/9 to 6/9, and no difference from the best excluded 0 from its 95% interval (best: 4 corners, "
                            "6/9 (35-88%)).")
    assert sentences(alike) == 1  # no replay in these results, and no layout to describe by where it worked
    many = [grid_result("1 position", 0, [[0.1, 0.5]], lambda xy: False),
            *(grid_result("4 corners", seed, corners, lambda xy: True) for seed in (0, 1))]
    for r in many:
        r["training"] = {"steps": 5000}
        r["evals"]["grid"]["nearest_demo_replay"] = grid_result("x", 0, [], lambda xy: xy[0] == 0.05)["evals"]["grid"]
    said = positions_summary(many)
    assert said.startswith("At 5000 training steps (2 training seeds for 4 corners, 1 for the others), demos at 4 corners "
                           "did best: 18/18 (82-100%) of the whole evaluation grid, clearly better than every other "
                           "layout (next: 1 position, 0/9 (0-30%), +100 points (95% CI +58 to +100)).")
    assert "did better at 1 of 2 layouts; with 4 corners the policy was better than it (3/9 (12-65%))." in said
    assert said.endswith("With 4 corners ACT succeeded in 8/8 (68-100%) within 1 cm of a demo's start and "
                         "10/10 (72-100%) between the starts.")  # no cell of this grid lies outside the corners
    assert sentences(said) == 3
    table = positions_table(many).splitlines()
    assert table[2] == ("| 1 position | 0/9 (0-30%) | 3/9 (12-65%) | 0/1 (0-79%) | no grid cell | 0/8 (0-32%) | 1 |")
    assert table[3].startswith("| 4 corners | 18/18 (82-100%) | 3/9 (12-65%) | 8/8 (68-100%) | 10/10 (72-100%) |")


def test_positions_answer_says_how_far_the_training_seeds_disagree():
    from lerobot_notebook_pipeline.studies.report import positions_answer

    corners = [[0.05, 0.45], [0.15, 0.45], [0.05, 0.55], [0.15, 0.55]]
    results = [grid_result("1 position", 0, [[0.1, 0.5]], lambda xy: False),
               grid_result("4 corners", 0, corners, lambda xy: True),
               grid_result("4 corners", 1, corners, lambda xy: xy[0] == 0.05)]
    answer = positions_answer(results)
    assert ("Seed by seed, the training seeds gave: 4 corners 9 and 3 of 9 (a 67-point range, wider than one seed's "
            "95% interval of about 41 points).") in answer  # 1 position has one seed: nothing to say of its spread
    alike = positions_answer([grid_result("1 position", 0, [[0.1, 0.5]], lambda xy: xy[0] == 0.05),
                              grid_result("1 position", 1, [[0.1, 0.5]], lambda xy: xy[0] == 0.05 or xy == [0.1, 0.5])])
    assert "1 position 3 and 4 of 9 (a 11-point range, no wider than one seed's 95% interval of about 53 points)" in alike
