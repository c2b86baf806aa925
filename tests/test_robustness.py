"""experiments.py --study robustness: the conditions as data, paired results over training seeds, the answer and the
plots, and the smoke study end to end with a stop and a resume; then the noise smoke study in its folder (as the noise
study works in the robustness study's), so its no-noise variant is the robustness smoke's cached steps."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from lerobot_notebook_pipeline.evaluation.paired import paired_comparison
from lerobot_notebook_pipeline.evaluation.success import success_summary
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.sim.perturb import FACTORS, parse_perturb
from lerobot_notebook_pipeline.studies.definitions import (
    IN_DISTRIBUTION,
    ROBUSTNESS_COMBINATIONS,
    ROBUSTNESS_FACTORS,
    study_points,
)
from lerobot_notebook_pipeline.studies.results import crossing, paired_by_seed, robustness_summary
from lerobot_notebook_pipeline.studies.runner import point_steps, rollout_args, train_args, unique_steps

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
SMOKE = ["--study", "robustness", "--smoke", "--seeds", "0"]
NOISE_SMOKE = ["--study", "noise", "--smoke", "--seeds", "0"]


def experiments(*args, timeout=600):
    """Run experiments.py with flags; return the finished process."""
    return subprocess.run([sys.executable, "experiments.py", *map(str, args)], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def markers(root):
    """Done marker path -> mtime, for every finished step under root."""
    return {p.relative_to(root): p.stat().st_mtime_ns for p in root.glob("*/*.done.json")}


# ------------------------------------------------------------------------------------------- the study as data


def test_the_full_study_is_the_demo_recipe_on_three_seeds_from_one_set_of_starts(tmp_path):
    points = study_points("robustness")
    assert [p["settings"]["train_seed"] for p in points] == [0, 1, 2]
    names = list(points[0]["evals"])
    assert names[0] == IN_DISTRIBUTION and len(names) == 13
    assert sum(spec["episodes"] for p in points for spec in p["evals"].values()) == 1170  # about 1,200 rollouts
    starts = {json.dumps({k: v for k, v in spec.items() if k != "perturb"}) for p in points for spec in p["evals"].values()}
    assert len(starts) == 1 and json.loads(starts.pop()) == {"kind": "square", "cube_pose": [0.1, 0.5], "radius": 0.015,
                                                            "episodes": 30, "seed": 1000, "max_steps": 400}
    recording, train = points[0]["recordings"][0], points[0]["train"]  # make demo: train_ultimate.py's defaults
    assert (recording["episodes"], recording["seed"], recording["pose_range"], recording["waypoint_noise"],
            recording["image_size"], recording["episode_length"]) == (20, 0, [0.085, 0.115, 0.485, 0.515], 0.005,
                                                                       [64, 85], 400)
    assert (train["preset"], train["steps"], train["batch_size"], train["val_fraction"]) == ("cpu", 2500, 8, 0.1)
    kinds = [s.kind for s in unique_steps(tmp_path, points).values()]
    assert (kinds.count("data"), kinds.count("train"), kinds.count("rollout"), kinds.count("baseline")) == (1, 3, 39, 1)
    for factor, magnitudes in ROBUSTNESS_FACTORS.items():  # every magnitude is a valid --perturb, 2-3 per factor
        assert 2 <= len(magnitudes) <= 3 and FACTORS[factor]
        for value in magnitudes:
            assert parse_perturb(f"{factor}={value}") == {factor: value}
    for combination in ROBUSTNESS_COMBINATIONS.values():
        assert len(combination) >= 2 and parse_perturb(",".join(f"{k}={v}" for k, v in combination.items()))
    steps = point_steps(tmp_path, points[0])
    shifted = rollout_args(steps["rollouts"]["camera_shift_cm=6"].settings, tmp_path / "ckpt", tmp_path / "out")
    assert shifted[shifted.index("--perturb") + 1] == "camera_shift_cm=6"
    assert "--perturb" not in rollout_args(steps["rollouts"][IN_DISTRIBUTION].settings, tmp_path, tmp_path)
    flags = train_args(steps["train"].settings, tmp_path, tmp_path / "run", 1)
    assert flags[flags.index("--val-fraction") + 1] == 0.1
    assert str(steps["rollouts"][IN_DISTRIBUTION].settings["train"]) == steps["train"].key
    assert list(steps["baselines"]) == [IN_DISTRIBUTION]  # the replay ignores perturbations: only where it means something


def test_plan_prints_the_conditions_and_the_estimate_and_writes_nothing(tmp_path):
    result = experiments("--study", "robustness", "--plan", "--output-dir", tmp_path / "study", "--results-dir",
                         tmp_path / "results")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 points, 44 distinct steps" in result.stdout and "expected compute about 3.2 h" in result.stdout
    assert "each point is evaluated 13 way(s): in distribution; table_x_cm=1;" in result.stdout
    assert not (tmp_path / "study").exists() and not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------- pairs and the summary


def test_rollouts_pair_by_seed_and_by_where_the_cube_sits_on_the_table():
    reference = [{"seed": 1000 + i, "success": s, "object_pose": [0.1 + i / 100, 0.5, 0.02]} for i, s in enumerate([1, 1, 0])]
    moved = [{"seed": e["seed"], "success": e["seed"] == 1002, "object_pose": [e["object_pose"][0] + 0.03, 0.5, 0.02]}
             for e in (reference[2], reference[0], reference[1])]  # another order: pairs go by seed
    assert paired_by_seed(moved, reference, {"table_x_cm": 3}) == ([True, False, False], [False, True, True])
    with pytest.raises(UserError, match="do not pair"):
        paired_by_seed(moved, reference, {"camera_shift_cm": 3})  # the cube moved, but not with a table
    bigger = [{**e, "object_pose": [*e["object_pose"][:2], 0.026]} for e in reference]  # a 1.3x cube rests higher
    assert paired_by_seed(bigger, reference, {"cube_scale": 1.3}) == ([True, True, False], [True, True, False])
    with pytest.raises(UserError, match="do not pair"):
        paired_by_seed(bigger, reference, {"cube_hue_deg": 90})
    with pytest.raises(UserError, match="same reset seeds"):
        paired_by_seed(moved[:2], reference, {"table_x_cm": 3})


def test_the_fifty_percent_point_is_interpolated_from_the_unperturbed_value_outwards():
    assert crossing([0, 1, 3], [90, 90, 10]) == 2.0
    assert crossing([1.0, 0.6, 0.3], [90, 70, 10]) == 0.5  # a scale walks down from 1
    assert crossing([0, 2, 6], [90, 80, 60]) is None and crossing([0, 2], [40, 10]) is None


SCENARIO = {  # successes of 30 per condition; camera_shift_cm=6 differs between seeds
    IN_DISTRIBUTION: 27, "table_x_cm=1": 27, "table_x_cm=3": 5, "table_y_cm=1": 26, "table_y_cm=3": 12,
    "camera_shift_cm=2": 27, "camera_shift_cm=6": (25, 5, 15), "light_scale=0.6": 27, "light_scale=0.3": 0,
    "joint_offset=0.05": 27, "joint_offset=0.2": 20, "table_x_cm=1, table_y_cm=1": 24,
    "table_x_cm=1, table_y_cm=1, camera_shift_cm=2, light_scale=0.6, joint_offset=0.05": 10,
}


def scenario_results(scenario=SCENARIO, robot="aloha"):
    """Point results as point_result writes them, for the full study's points and specs on a robot, from success
    counts."""
    results = []
    for p in study_points("robustness", robot=robot):
        seed = p["settings"]["train_seed"]
        outcomes = {}
        for name, count in scenario.items():
            k = count[seed] if isinstance(count, tuple) else count
            outcomes[name] = [True] * k + [False] * (30 - k)  # the successes of the reference's successful starts
        evals = {}
        for name, spec in p["evals"].items():
            evals[name] = success_summary(sum(outcomes[name]), 30) | {"distinct_initial_conditions": 30, "spec": spec}
            if spec.get("perturb"):
                evals[name]["paired_vs_in_distribution"] = paired_comparison(outcomes[name], outcomes[IN_DISTRIBUTION])
        results.append({"id": p["id"], "name": p["name"], "settings": p["settings"], "status": "done",
                        "finished": ["record", "train", "eval"], "training": {"steps": 2500, "seconds": 1000.0},
                        "compute_s": {"train": 1000.0, "eval": 3000.0}, "seeds": {"eval": {}}, "evals": evals})
    return results


def test_conditions_pool_over_seeds_with_paired_changes_verdicts_and_seed_agreement():
    summary = robustness_summary(scenario_results())
    by = {c["condition"]: c for c in summary["conditions"]}
    assert len(by) == 13 and "verdict" not in by[IN_DISTRIBUTION]
    moved = by["table_x_cm=3"]
    assert (moved["pooled"]["successes"], moved["pooled"]["episodes"], moved["pooled"]["training_seeds"]) == (15, 90, 3)
    assert moved["paired_pooled"]["pairs"] == 90 and moved["paired_pooled"]["only_b"] == 66
    assert moved["paired_pooled"]["difference_points"] == pytest.approx(-73.33)
    assert moved["paired_pooled"]["mcnemar_p"] < 1e-6 and moved["verdict"] == "breaks"
    assert [r["paired_vs_in_distribution"]["difference_points"] for r in moved["per_seed"]] == [-73.33] * 3
    assert {name: by[name]["verdict"] for name in ("table_x_cm=1", "joint_offset=0.2", "light_scale=0.3",
                                                   "camera_shift_cm=6", "table_x_cm=1, table_y_cm=1")} == {
        "table_x_cm=1": "shrugs off", "joint_offset=0.2": "hurts", "light_scale=0.3": "breaks",
        "camera_shift_cm=6": "hurts", "table_x_cm=1, table_y_cm=1": "hurts"}
    assert by["camera_shift_cm=6"]["seeds"]["wider_than_episode_interval"] and \
        by["camera_shift_cm=6"]["seeds"]["range_points"] == pytest.approx(66.67)
    assert not any(c["seeds"]["wider_than_episode_interval"] for name, c in by.items() if name != "camera_shift_cm=6")
    curves = {c["factor"]: c for c in summary["factors"]}
    assert curves["table_x_cm"]["magnitudes"] == [0.0, 1, 3] and curves["table_x_cm"]["half_point"] == pytest.approx(2.09, abs=0.01)
    assert curves["light_scale"]["magnitudes"] == [1.0, 0.6, 0.3] and curves["camera_shift_cm"]["half_point"] is None


def test_the_readme_opens_with_what_breaks_what_is_shrugged_off_and_whether_seeds_agree():
    from test_experiments import opening, sentences

    from lerobot_notebook_pipeline.studies.report import robustness_summary as answer
    from lerobot_notebook_pipeline.studies.report import robustness_table, study_readme

    results = scenario_results()
    said = answer(results)
    assert said.startswith("On simulated ALOHA transfer cube, the demo policy (ACT) "
                           "succeeded in 81/90 (82-95%) in distribution and broke (below 50%) at table x +3 cm (-73 "
                           "points), table y +3 cm (-50), light x0.3 (-90) and every small change at once (-57); it "
                           "lost ground (kept 50% or more) at camera shift +6 cm (-40 points), joint 0 offset +0.2 rad "
                           "(-23) and table bumped 1 cm diagonally (-10).")
    assert "It shrugged off table x +1 cm, table y +1 cm, camera shift +2 cm and 2 more (see the table) " \
           "(paired intervals rule out a 15-point drop)." in said
    assert said.endswith("The 3 training seeds disagreed beyond the episode interval at camera shift +6 cm (25/30, "
                         "5/30, 15/30).")
    assert sentences(said) <= 3 and len(said.split()) <= 120
    table = robustness_table(results).splitlines()
    assert table[0] == ("| condition | success (pooled) | change vs in distribution (paired) | McNemar p | seed 0 | seed 1 "
                        "| seed 2 | seeds within one episode interval | verdict |")
    assert table[4].startswith("| table x +3 cm | 15/90 (10-26%) | -73 points (95% CI -81 to -62) | ")
    assert table[4].endswith("| 5/30 (7-34%) | 5/30 (7-34%) | 5/30 (7-34%) | yes | breaks |")
    readme = study_readme("robustness", study_points("robustness"), results, {"workers": 1, "cpu": "cpu", "cores": 2,
                          "torch_threads_per_job": 1}, {"expected_s": 11000, "steps": 44},
                          "python experiments.py --study robustness", False)
    assert opening(readme) == said and readme.startswith("# Could I move the table? How robust is the demo policy?")
    evidence = readme.split("## The evidence\n\n", 1)[1].split("\n\n")[0]
    assert len(evidence.split()) >= 150 and "success crosses 50% at about +2.1 cm (interpolated)" in evidence
    assert "+3 cm gave 15/90 (10-26%), -73 points (95% CI -81 to -62), McNemar p <0.001 (breaks)" in evidence
    assert "At camera shift +6 cm the seeds ranged over 67 points" in evidence
    assert "they do not claim that a real robot" in readme and "- Evaluation: 30 rollouts" in readme
    assert "the same starts under each of 13 conditions (in distribution; table_x_cm=1;" in readme
    assert "10% of the demos held out and the checkpoint with the lowest held-out action error" in readme


def test_bar_chart_and_magnitude_curves_are_drawn(tmp_path):
    from lerobot_notebook_pipeline.plots import save_figure
    from lerobot_notebook_pipeline.studies.report import magnitude_figure, robustness_bars_figure

    for name, figure in (("bars.png", robustness_bars_figure), ("curves.png", magnitude_figure)):
        save_figure(figure(scenario_results()), tmp_path / name)
        assert (tmp_path / name).stat().st_size > 10000


# ------------------------------------------------------------------------------- real steps, small settings


def stop_when_logged(args, log, text):
    """Start experiments.py with args and SIGTERM it once log contains text; return its exit code and stderr."""
    process = subprocess.Popen([sys.executable, "experiments.py", *map(str, args)], cwd=ROOT, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if log.is_file() and text in log.read_text():
            break
        time.sleep(0.2)
    process.terminate()
    try:
        _, err = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, err


def stopped_and_resumed(root, smoke, log_name):
    """Run a smoke study, stop it after its first rollout (logged in log_name) and run it again: the folder, the
    finished steps at the stop, the stop's exit code and stderr."""
    args = [*smoke, "--workers", 1, "--threads", 1, "--output-dir", root]
    code, err = stop_when_logged(args, root / "logs" / log_name, "] rollout ")
    first = markers(root)
    result = experiments(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, first, code, err


@pytest.fixture(scope="module")
def robustness_smoke(tmp_path_factory):
    """The robustness smoke study (one seed, two factors), stopped after its first rollout and run again."""
    return stopped_and_resumed(tmp_path_factory.mktemp("robustness") / "study", SMOKE, "seed0.log")


def test_a_stopped_robustness_study_resumes_without_redoing_finished_steps(robustness_smoke):
    root, first, code, err = robustness_smoke
    assert code == 2 and "Traceback" not in err
    after = markers(root)
    assert len(first) == 3 and all(after[path] == mtime for path, mtime in first.items())  # data, training, a rollout
    assert len(after) == 1 + 1 + 3 + 1  # the recording, the training, three rollouts and the in-distribution replay
    log = (root / "logs" / "seed0.log").read_text()
    assert log.count(": ran") == 6 and log.split("point done")[0].count("already done") == 3


def test_robustness_smoke_writes_paired_results_plots_and_readme(robustness_smoke):
    root = robustness_smoke[0]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["command"] == "python experiments.py --study robustness --smoke --seeds 0"
    point = results["points"][0]
    assert point["status"] == "done" and list(point["evals"]) == [IN_DISTRIBUTION, "camera_shift_cm=6", "table_x_cm=3"]
    for name, rate in point["evals"].items():
        assert rate["episodes"] == rate["distinct_initial_conditions"] == 2 and len(rate["ci95"]) == 2
        if name != IN_DISTRIBUTION:
            paired = rate["paired_vs_in_distribution"]
            assert paired["pairs"] == 2 and {"difference_points", "ci95_points", "mcnemar_p"} <= set(paired)
    assert [c["condition"] for c in results["conditions"]] == list(point["evals"])
    assert [f["factor"] for f in results["factors"]] == ["camera_shift_cm", "table_x_cm"]
    for png in ("change_vs_in_distribution.png", "first_frames.png", "success_vs_magnitude.png"):
        assert (root / "results" / png).stat().st_size > 5000
    readme = (root / "results" / "README.md").read_text()
    assert "Smoke run" in readme and "On simulated ALOHA transfer cube," in readme
    assert "| camera shift +6 cm |" in readme and "do not claim that a real robot" in readme


def test_robustness_report_rewrites_from_results_and_runs_nothing(robustness_smoke):
    root = robustness_smoke[0]
    before, readme = markers(root), (root / "results" / "README.md").read_text()
    (root / "results" / "first_frames.png").unlink()
    report = experiments(*SMOKE, "--output-dir", root, "--report")
    assert report.returncode == 0, report.stderr[-3000:]
    assert markers(root) == before and (root / "results" / "README.md").read_text() == readme
    assert (root / "results" / "first_frames.png").stat().st_size > 5000


# ------------------------------------------------------------- the noise smoke study in the robustness smoke's folder


@pytest.fixture(scope="module")
def noise_smoke(robustness_smoke, tmp_path_factory):
    """The noise smoke study (no noise and combined, one seed, in distribution) in a copy of the robustness smoke's
    folder (hard links, its results left out), as the noise study works in the robustness study's: no noise is the
    robustness smoke's recording, training, rollout and replay. Stopped after its first own rollout (combined's) and
    run again; also returns the done markers the copy started with."""
    source, root = robustness_smoke[0], tmp_path_factory.mktemp("noise") / "study"
    shutil.copytree(source, root, symlinks=True, copy_function=os.link,
                    ignore=lambda folder, names: ["results"] if Path(folder) == source else [])
    shared = markers(root)
    return (*stopped_and_resumed(root, NOISE_SMOKE, "combined-seed0.log"), shared)


def test_the_noise_smoke_reuses_no_noise_stops_resumes_and_pairs_combined_noise_against_none(noise_smoke,
                                                                                             robustness_smoke):
    from lerobot_notebook_pipeline.sim.aloha_env import read_sim_settings

    root, first, code, err, shared = noise_smoke
    assert code == 2 and "Traceback" not in err
    after = markers(root)
    own = set(first) - set(shared)  # combined's data, training and rollout, maybe its replay
    assert len(shared) == 1 + 1 + 3 + 1 and len(own) >= 3 and all(after[path] == mtime for path, mtime in first.items())
    assert len(after) == len(shared) + 4  # combined's recording, training, rollout and nearest-demo replay
    none_log = (root / "logs" / "none-seed0.log").read_text()  # both runs found all four of no noise's steps done
    assert none_log.count("already done") == 2 * 4 and ": ran" not in none_log and none_log.count("point done") == 2
    log = (root / "logs" / "combined-seed0.log").read_text()
    resumed = log.rsplit("(up to eval)", 1)[1]  # the resumed point redid nothing finished at the stop
    assert resumed.count("already done") == len(own) and resumed.count(": ran") == 4 - len(own)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["command"] == "python experiments.py --study noise --smoke --seeds 0"
    none, combined = results["points"]
    assert none["status"] == combined["status"] == "done" and "paired_vs_reference" not in none["evals"][IN_DISTRIBUTION]
    paired = combined["evals"][IN_DISTRIBUTION]["paired_vs_reference"]
    assert paired["pairs"] == 2 and {"difference_points", "ci95_points", "mcnemar_p"} <= set(paired)
    cell = next(c for c in results["cells"] if c["variant"] == "combined")
    assert cell["paired_vs_none"]["pairs"] == 2 and cell["effect"] in ("helps", "hurts", "unclear")
    assert [t["variant"] for t in results["training"]] == ["none", "combined"]
    assert all(isinstance(t["best_steps"][0], int) for t in results["training"])
    trained = [json.loads(p.read_text()) for p in (root / "train").glob("*.done.json")]
    noisy = next(m for m in trained if m["settings"].get("image_transforms") == "robotics")
    assert noisy["settings"]["action_noise_std"] == 0.05
    assert (root / "train" / noisy["key"] / "augmentation_preview.png").is_file()  # train.py augmented its images
    dart = [read_sim_settings(d) for d in (root / "data").iterdir() if d.is_dir()]
    dart = [s for s in dart if s.get("dart_noise")]
    assert len(dart) == 1 and dart[0]["dart_noise"] == 0.005 and dart[0]["kept"] == 2 <= dart[0]["attempted"]
    recorded = (root / "logs" / "combined-seed0.log").read_text()
    assert "--dart-noise 0.005" in recorded and "DART noise 0.005 on the executed actions" in recorded
    assert (root / "results" / "success_by_variant.png").stat().st_size > 5000
    readme = (root / "results" / "README.md").read_text()
    assert "Smoke run" in readme and "| in distribution | DART + augmentation + low action noise |" in readme
    assert markers(robustness_smoke[0]) == {path: after[path] for path in shared}  # the robustness folder: untouched
