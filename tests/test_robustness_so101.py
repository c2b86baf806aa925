"""experiments.py --study robustness --robot so101: the conditions in the SO-101's units, the positions study's 4-mark
policies reused step for step, rollouts at the pencil marks, the README and measured costs on the SO-101, and
--compare picking the SO-101's own costs. No end-to-end run (SO-101 training is too slow for the test budget)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_robustness import SCENARIO, scenario_results

from conftest import ROOT
from lerobot_notebook_pipeline.analysis import costs
from lerobot_notebook_pipeline.evaluation.replay_baseline import evaluation_starts
from lerobot_notebook_pipeline.studies.definitions import IN_DISTRIBUTION, study_points
from lerobot_notebook_pipeline.studies.runner import point_steps, rollout_args, unique_steps

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
# The ALOHA scenario's counts under the SO-101's names: its joint offsets are 3 and 11 degrees, not 0.05 and 0.2 rad.
RENAMED = {"joint_offset=0.05": "joint_offset=3", "joint_offset=0.2": "joint_offset=11",
           "table_x_cm=1, table_y_cm=1, camera_shift_cm=2, light_scale=0.6, joint_offset=0.05":
           "table_x_cm=1, table_y_cm=1, camera_shift_cm=2, light_scale=0.6, joint_offset=3"}
# The factors measured on the SO-101 only: small sizes cost little, a raised table and a close distractor break it.
SO101_ONLY = {"camera_tilt_deg=2": 27, "camera_tilt_deg=10": 14, "light_turn_deg=45": 27, "light_turn_deg=90": 26,
              "table_height_cm=1": 25, "table_height_cm=4": 3, "cube_scale=1.2": 27, "cube_scale=1.5": 20,
              "cube_hue_deg=90": 22, "cube_hue_deg=180": 9, "distractor_cm=8": 26, "distractor_cm=4": 6,
              "obs_delay=1": 27, "obs_delay=4": 18, "action_delay=1": 27, "action_delay=4": 11}
SO101_SCENARIO = {RENAMED.get(name, name): count for name, count in SCENARIO.items()} | SO101_ONLY


def so101_results():
    """Point results as point_result writes them, for the SO-101 study, from the ALOHA scenario's success counts."""
    return scenario_results(SO101_SCENARIO, "so101")


def test_the_policies_are_the_positions_studys_four_mark_ones_rolled_out_at_the_marks(tmp_path):
    """Three seeds, 29 conditions (every factor of sim/perturb.py at two magnitudes, joint 0 in degrees); the
    recordings and trainings are the positions study's 4-mark steps (the same keys), and every rollout puts the cube
    at the 4 marks."""
    from lerobot_notebook_pipeline.sim.perturb import FACTORS

    points = study_points("robustness", robot="so101")
    assert [p["id"] for p in points] == ["seed0", "seed1", "seed2"]
    assert len(points[0]["evals"]) == 29 and "joint_offset=11" in points[0]["evals"]
    alone = [spec["perturb"] for spec in points[0]["evals"].values() if len(spec.get("perturb", {})) == 1]
    assert sorted({next(iter(p)) for p in alone}) == sorted(set(FACTORS) - {"joint"})  # every factor, alone
    assert all(sum(next(iter(p)) == f for p in alone) == 2 for f in set(FACTORS) - {"joint"})  # at two magnitudes
    four_marks = [p for p in study_points("positions", robot="so101") if p["settings"]["layout"] == "4 marks"]
    ours = unique_steps(tmp_path, points)
    for p, q in zip(points, four_marks, strict=True):
        steps, theirs = point_steps(tmp_path, p), point_steps(tmp_path, q)
        assert steps["train"].key == theirs["train"].key and steps["dataset"].key == theirs["dataset"].key
    assert sum(s.kind == "train" for s in ours.values()) == 3 and sum(s.kind == "data" for s in ours.values()) == 4
    flags = list(map(str, rollout_args(point_steps(tmp_path, points[0])["rollouts"]["joint_offset=11"].settings,
                                       tmp_path, tmp_path)))
    assert flags[flags.index("--env") + 1] == "so101_pick_place" and "--cube-pose" not in flags
    assert flags[flags.index("--marks") + 1] == "4" and flags[flags.index("--placement-noise") + 1] == "0.015"
    assert flags[flags.index("--perturb") + 1] == "joint_offset=11"
    placement, seed = evaluation_starts(points[0]["evals"][IN_DISTRIBUTION])[0]
    assert placement == {"marks": 4, "placement_noise": 0.015} and seed == 1000


def test_plan_works_in_the_positions_studys_folder_and_writes_nothing(tmp_path):
    """--plan names the positions study's folder as its cache, the SO-101 study's results folder, and creates no file."""
    done = subprocess.run([sys.executable, "experiments.py", "--study", "robustness", "--robot", "so101", "--plan",
                           "--results-dir", tmp_path / "results"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "outputs/experiments/positions-so101/" in done.stdout and "29 way(s)" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_readme_speaks_of_the_so101_in_its_units():
    """The answer names the SO-101, joint offsets read in degrees, the starts are at the pencil marks, and the
    caveats say whose policies these are and that nothing transfers to the real arm."""
    from lerobot_notebook_pipeline.studies.report import robustness_summary, study_readme

    results = so101_results()
    said = robustness_summary(results)
    assert said.startswith("On the simulated SO-101 pick and place, the demo policy (ACT) succeeded in 81/90")
    assert "joint 0 offset +11 deg (-23)" in said and "rad" not in said
    readme = study_readme("robustness", study_points("robustness", robot="so101"), results,
                          {"workers": 2, "cpu": "cpu", "cores": 2, "torch_threads_per_job": 1},
                          {"expected_s": 11000, "steps": 48}, "python experiments.py --study robustness --robot so101",
                          False)
    assert "Robot: a simulated SO-101 arm" in readme and "no claim about the real arm" in readme
    assert "within +/-1.5 cm of one of the 4 pencil marks" in readme
    assert "the cube at one of the 4 pencil marks (by reset seed), within +/-1.5 cm of it" in readme
    assert "the positions study's 4-mark ones" in readme and "shoulder_pan" in readme and "left arm" not in readme
    assert "Not measured" not in readme  # every factor is, on this robot


def test_the_so101_only_factors_are_answered_and_drawn():
    """The answer gives each new factor its rates, the distractor without a 50% point (a distance, no curve), and
    the magnitude figure lays its twelve curves out in rows instead of one strip."""
    from lerobot_notebook_pipeline.studies.report import magnitude_figure, robustness_answer
    from lerobot_notebook_pipeline.studies.results import factor_curves, robustness_summary

    results = so101_results()
    said = robustness_answer(results)
    assert "Table height: +1 cm gave 75/90" in said and "+4 cm gave 9/90" in said
    assert "Distractor at: +8 cm gave 78/90" in said
    distractor = said.split("Distractor at: ")[1].split("Observation delay")[0]
    assert "+4 cm gave 18/90" in distractor and "50%" not in distractor
    assert "Action delay: +1 steps gave 81/90" in said and "crosses 50% at about" in said.split("Action delay")[1]
    curves = factor_curves(robustness_summary(results)["conditions"])
    assert len(curves) == 12 and "distractor_cm" not in {c["factor"] for c in curves}
    fig = magnitude_figure(results)
    assert len([ax for ax in fig.axes if ax.axison]) == 12 and fig.get_size_inches()[0] <= 3.2 * 5 + 0.01


def test_measured_costs_are_the_so101s_rendered_through_its_front_camera():
    """compare_costs on the SO-101 names its robot type, renders the camera and light changes through the front
    camera at the marks, and puts the joint offsets on the radian ladder (11 degrees = 0.19 rad)."""
    from lerobot_notebook_pipeline.studies.costs import compare_costs
    from lerobot_notebook_pipeline.studies.results import robustness_summary

    conditions = robustness_summary(so101_results())["conditions"]
    measured = compare_costs(conditions, starts=2)
    assert (measured["robot_type"], measured["robot_short"]) == ("so101_follower", "SO-101")
    joints = measured["ladders"]["joint_offset_rad"]["rungs"]
    assert [r["size"] for r in joints] == [pytest.approx(math.radians(3), abs=1e-4), pytest.approx(0.192, abs=1e-3)]
    assert joints[1]["measured"] == {"offset": 11}
    camera = measured["ladders"]["camera_shift_pc"]["rungs"]
    assert 0 < camera[0]["size"] < camera[1]["size"]  # the front camera moved, 6 cm more than 2
    light = measured["ladders"]["brightness_pc"]["rungs"]
    assert light[0]["size"] < 0 and light[-1]["size"] < light[0]["size"]  # dimmer, then dimmer still


def test_compare_picks_the_robots_own_costs_when_it_has_them(tmp_path, monkeypatch):
    """An SO-101 dataset's --compare reads the SO-101 study's costs once they exist; before, and for other robots,
    the ALOHA study's."""
    aloha, so101 = tmp_path / "robustness" / "results.json", tmp_path / "robustness-so101" / "results.json"
    for path, robot_type in ((aloha, "aloha"), (so101, "so101_follower")):
        path.parent.mkdir()
        path.write_text(json.dumps({"study": "robustness", "compare_costs": {"robot_type": robot_type, "ladders": {}}}))
    monkeypatch.setattr(costs, "DEFAULT_COSTS", aloha)
    monkeypatch.setattr(costs, "ROBOT_COSTS", {"so101_follower": so101})
    assert costs.load_costs(robot_type="so101_follower")["robot_type"] == "so101_follower"
    assert costs.load_costs(robot_type="aloha")["robot_type"] == "aloha"
    assert costs.load_costs()["robot_type"] == "aloha"
    so101.unlink()
    assert costs.load_costs(robot_type="so101_follower")["robot_type"] == "aloha"
    assert Path(costs.default_costs_path("so101_follower")) == aloha
