"""experiments.py --study positions --robot so101: the points, the robot on every step's command line, --plan
writing nothing, bad input in one line, and the README naming the robot. No end-to-end run (SO-101 rendering and
training are too slow for the test budget)."""

import math
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from lerobot_notebook_pipeline.sim import so101_env, so101_placement, so101_scene
from lerobot_notebook_pipeline.studies import definitions as d
from lerobot_notebook_pipeline.studies.report import class_rates, marks_answer, study_readme
from lerobot_notebook_pipeline.studies.results import point_result
from lerobot_notebook_pipeline.studies.runner import point_steps, record_args, rollout_args, train_args
from lerobot_notebook_pipeline.training.recipes import RECIPES, act_flags

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
RECIPE_KEYS = ("steps", "lr_schedule", "chunk_size", "temporal_ensemble")


def experiments(*args):
    """Run experiments.py with flags; return the finished process."""
    return subprocess.run([sys.executable, "experiments.py", *map(str, args)], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=120)


def test_constants_match_the_sim():
    """The study's copies of the scene's numbers (kept so --plan needs no MuJoCo) equal the sim's."""
    assert d.SO101_TARGET == so101_scene.TARGET_XY
    assert d.SO101_SUCCESS_RADIUS == so101_env.SUCCESS_RADIUS
    assert d.SO101_REACH == so101_placement.REACH_XY
    assert d.SO101_MARK_HALF == so101_placement.MARK_HALF


def test_layouts_are_the_pencil_marks():
    """1, 2 and 4 marks are where make_sim_dataset.py --marks N puts them; 9 is the 3x3 grid; all inside reach."""
    layouts = d.so101_layouts()
    assert list(layouts) == ["1 mark", "2 marks", "4 marks", "9 marks", "uniform"]
    for n in (1, 2, 4):
        for ours, sims in zip(layouts[f"{n} mark{'s' * (n > 1)}"], so101_placement.mark_positions(n), strict=True):
            assert ours == pytest.approx(sims, abs=1e-9)
    assert len(layouts["9 marks"]) == 9 and list(d.SO101_TARGET) in layouts["9 marks"]
    x0, x1, y0, y1 = d.SO101_REACH
    for marks in layouts.values():
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in marks or [])


def test_points_seeds_and_grid():
    """The demo recipe's 40 demos per layout split over the marks with one recording seed each, its ACT (steps,
    schedule, chunk, ensembling), one 7x7 grid in reach; 3 training seeds by default."""
    points = d.study_points("positions", robot="so101", seeds=[0, 1])
    assert [p["id"] for p in points[:5]] == ["1-mark-seed0", "2-marks-seed0", "4-marks-seed0", "9-marks-seed0",
                                             "uniform-seed0"]
    assert len(points) == 10 and {p["train"]["seed"] for p in points[5:]} == {1}
    for p in points:
        assert sum(r["episodes"] for r in p["recordings"]) == 40
        assert [r["seed"] for r in p["recordings"]] == list(range(len(p["recordings"])))
        assert all(r["placement_noise"] == 0.015 and r["waypoint_noise"] == 0.005 and r["marks"] == 4
                   and r["image_size"] == [64, 85] and r["episode_length"] == 300 for r in p["recordings"])
        assert p["train"]["preset"] == "cpu" and all(p["train"][key] == RECIPES["so101"][key] for key in RECIPE_KEYS)
        grid, wide = p["evals"]["grid"], p["evals"]["wide"]
        assert grid["n"] == 7 and grid["episodes"] == 49 and grid["seed"] == 2000
        assert grid["bounds"] == [0.14, 0.26, -0.06, 0.06]
        assert wide["n"] == 7 and wide["seed"] == 3000 and wide["bounds"] == [0.14, 0.3, -0.12, 0.12]  # beyond the marks
    assert d.study_points("positions", robot="so101", steps=50)[0]["train"]["steps"] == 50
    assert [p["train"]["seed"] for p in d.study_points("positions", robot="so101")[::5]] == [0, 1, 2]
    assert {p["train"]["seed"] for p in d.study_points("positions")} == {0}  # ALOHA's stays one seed


def test_robot_reaches_every_command_line(tmp_path):
    """Every step of an SO-101 point runs the SO-101: recording, training settings, rollout and replay baseline."""
    p = d.study_points("positions", robot="so101")[2]
    steps = point_steps(tmp_path, p)
    for part in steps["parts"]:
        flags = list(map(str, record_args(part.settings, tmp_path)))
        assert flags[flags.index("--robot") + 1] == "so101" and flags[flags.index("--task") + 1] == "pick_place"
        assert flags[flags.index("--marks") + 1] == "4" and flags[flags.index("--placement-noise") + 1] == "0.015"
    assert steps["train"].settings["robot"] == "so101"
    train = list(map(str, train_args(steps["train"].settings, tmp_path, tmp_path, 1)))
    assert "--robot" not in train  # train.py reads the robot from the dataset
    recipe = RECIPES["so101"]  # the demo recipe's schedule, chunk and ensembling
    assert train[train.index("--lr-schedule") + 1] == recipe["lr_schedule"] and train[train.index("--steps") + 1] == str(recipe["steps"])
    assert " ".join(train).endswith(" ".join(act_flags(recipe["chunk_size"], recipe["temporal_ensemble"])))
    rollout = list(map(str, rollout_args(steps["rollouts"]["grid"].settings, tmp_path, tmp_path)))
    assert rollout[rollout.index("--env") + 1] == "so101_pick_place"
    assert rollout[rollout.index("--num-envs") + 1] == "4"  # ensembled rollouts batch 4 episodes per policy call
    assert steps["baselines"]["grid"].settings["env"] == "so101_pick_place"
    aloha = list(map(str, rollout_args(point_steps(tmp_path, d.study_points("positions")[0])["rollouts"]["grid"].settings,
                                       tmp_path, tmp_path)))
    assert aloha[aloha.index("--env") + 1] == "aloha_transfer_cube" and "--num-envs" not in aloha


def test_plan_writes_nothing_and_costs_more(tmp_path):
    """--plan prints the SO-101 points and an estimate above the ALOHA study's, and creates no file."""
    done = experiments("--study", "positions", "--robot", "so101", "--plan", "--output-dir", tmp_path / "out",
                       "--results-dir", tmp_path / "results")
    assert done.returncode == 0, done.stderr
    assert "SO-101" in done.stdout and "4-marks-seed0" in done.stdout and "expected compute about" in done.stdout
    assert list(tmp_path.iterdir()) == []
    so101 = sum(d.estimate_seconds(s.kind, s.settings) for s in _steps(tmp_path, "so101"))
    assert so101 > sum(d.estimate_seconds(s.kind, s.settings) for s in _steps(tmp_path, "aloha"))


def _steps(root, robot):
    """The distinct steps of the positions study on robot."""
    from lerobot_notebook_pipeline.studies.runner import unique_steps

    return unique_steps(root, d.study_points("positions", robot=robot)).values()


@pytest.mark.parametrize("flags", [["--robot", "mars"], ["--study", "demos", "--robot", "so101"]])
def test_bad_robot_is_one_line(flags):
    """An unknown robot, or a study that has no SO-101 version, is one error line and exit 2."""
    done = experiments("--study", "positions", *flags, "--plan")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error:")


def test_readme_names_the_robot_and_leaves_out_placed_starts(tmp_path):
    """The pending README names the SO-101 and disclaims the real arm; grid cells on the target are in no class."""
    points = d.study_points("positions", robot="so101")
    results = [point_result(p, tmp_path) for p in points]
    readme = study_readme("positions", points, results, {}, {"expected_s": 3600, "steps": 35}, "python x", False)
    assert "simulated SO-101" in readme and "no claim about the real arm" in readme
    cells = [{"xy": list(d.SO101_TARGET), "successes": 1, "episodes": 1},
             {"xy": [0.25, 0.05], "successes": 0, "episodes": 1}]
    result = {"settings": points[2]["settings"], "training_starts": [[0.25, 0.05]],
              "evals": {"grid": {"positions": cells}}}
    rates = class_rates([result])["4 marks"]
    assert rates["trained"]["episodes"] == 1 and rates["between"]["episodes"] + rates["outside"]["episodes"] == 0
    assert math.isclose(d.so101_grid_bounds(d.SO101_FULL)[0], 0.14)


def test_the_marks_answer_counts_the_demos_it_trained_on():
    """The user's question is answered with the demos the 4-mark policy really saw, not a number typed in."""
    settings = d.study_points("positions", robot="so101")[2]["settings"]
    starts = [[0.25, 0.05]] * 40
    cells = [{"xy": [0.25, 0.05], "successes": 1, "episodes": 1}, {"xy": [0.20, 0.05], "successes": 0, "episodes": 1}]
    wide = [{"xy": [0.25, 0.05], "successes": 1, "episodes": 1}, {"xy": [0.30, 0.12], "successes": 0, "episodes": 1}]
    result = {"settings": settings, "training_starts": starts, "evals": {"grid": {"positions": cells}}}
    assert "trained on 40 demos at the 4 marks" in marks_answer([result])
    assert "1/1 (21-100%) at the marks and 0/1 (0-79%) beyond them (grid" in marks_answer([result])
    result["evals"]["wide"] = {"positions": wide}  # the wider grid's outside cells are beyond the marks too
    assert ("1/1 (21-100%) at the marks and 0/1 (0-79%) beyond them, on a wider grid up to 7 cm past the marks"
            in marks_answer([result]))


def test_heatmaps_put_a_row_per_seed_and_draw_the_marks_and_target():
    """Three seeds of five layouts make a 3 x 5 grid of heatmaps, each with the pencil marks and the target drawn."""
    from matplotlib.patches import Circle

    from lerobot_notebook_pipeline.sim.poses import grid_poses
    from lerobot_notebook_pipeline.studies.report import heatmaps_figure, study_figures

    results = []
    for p in d.study_points("positions", robot="so101"):
        spec = p["evals"]["grid"]
        cells = [{"xy": list(xy), "successes": 1, "episodes": 1, "pc_success": 100.0}
                 for xy in grid_poses(spec["bounds"], spec["n"], spec["n"])]
        results.append({"name": p["name"], "settings": p["settings"], "training_starts": [[0.25, 0.05]],
                        "evals": {"grid": {"spec": spec, "positions": cells, "successes": 49, "episodes": 49,
                                           "pc_success": 100.0, "ci95": [92.7, 100.0]}}})
    panels = [ax for ax in heatmaps_figure(results).axes if ax.images]
    assert len(panels) == 15 and len({ax.get_subplotspec().rowspan.start for ax in panels}) == 3
    assert panels[0].get_title().startswith("1 mark, seed 0") and panels[5].get_title().startswith("1 mark, seed 1")
    for ax in panels:
        marks = next(c for c in ax.collections if c.get_label() == "pencil marks")
        assert len(marks.get_offsets()) == 4 and any(isinstance(patch, Circle) for patch in ax.patches)
    assert "heatmaps_beyond.png" in study_figures("positions", "so101")  # the wider grid gets its own heatmaps
    assert "heatmaps_beyond.png" not in study_figures("positions", "aloha")
