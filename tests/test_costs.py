"""--compare quotes measured costs: a size looked up on the robustness study's ladders (a hand-made results.json here,
clearly test data), the report line and its risk level, what no measurement covers, another robot's caveat, and the
study side: what --compare measures for a camera shift and a dimmed light rendered in the ALOHA sim."""

import json

import numpy as np
import pytest
from drift_pairs import LENGTH, table

from lerobot_notebook_pipeline.analysis import costs, drift
from lerobot_notebook_pipeline.runtime import UserError
from lerobot_notebook_pipeline.studies.costs import FACTOR_LADDERS, LADDER_UNITS, compare_equivalents
from lerobot_notebook_pipeline.studies.definitions import MARK, PLACEMENT, square_eval
from lerobot_notebook_pipeline.synthetic import SO101_JOINTS, so101_episode


def rung(size, drop, low, high, condition):
    return {"size": size, "condition": condition, "drop_points": drop, "drop_ci95_points": [low, high]}


# TEST DATA, not a measurement: two rungs per ladder, drops in points with their 95% intervals.
TEST_COSTS = {
    "study": "robustness", "robot_type": "aloha", "robot": "simulated ALOHA transfer cube", "robot_short": "ALOHA",
    "ladders": {
        "camera_shift_pc": {"unit": "% of the frame", "signed": False,
                            "rungs": [rung(2.0, 10.0, 0.0, 20.0, "camera_shift_cm=2"),
                                      rung(5.0, 40.0, 25.0, 55.0, "camera_shift_cm=6")]},
        "brightness_pc": {"unit": "%", "signed": True,
                          "rungs": [rung(-40.0, 4.0, -4.0, 12.0, "light_scale=0.6"),
                                    rung(-70.0, 60.0, 45.0, 72.0, "light_scale=0.3")]},
        "joint_offset_rad": {"unit": "rad", "signed": False,
                             "rungs": [rung(0.05, 6.0, -2.0, 14.0, "joint_offset=0.05"),
                                       rung(0.2, 50.0, 35.0, 63.0, "joint_offset=0.2")]},
    },
}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "robustness" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"study": "robustness", "smoke": False, "points": [], "compare_costs": TEST_COSTS}))
    return costs.load_costs(path)


def moved_camera(dx_px, width=85):
    motion = {"dx_px": dx_px, "dy_px": 0.0, "shift_px": abs(dx_px), "shift_pc": round(100 * abs(dx_px) / width, 2),
              "scale_pc": 0.0, "match": 0.9, "height": 64, "width": width}
    light = {"brightness_ref": 100.0, "brightness_new": 100.0, "brightness_pc": 0.0, "colour_pc": {"r": 0, "g": 0, "b": 0}}
    return drift.camera_differences("observation.images.top", motion, light)[0]


def test_sizes_between_rungs_interpolate_from_no_drop_at_zero(saved):
    half = costs.measured_cost(saved, "camera_shift_pc", 3.5)  # halfway between 2 and 5
    assert half["drop_points"] == pytest.approx(25.0) and half["ci95_points"] == pytest.approx([12.5, 37.5])
    assert not half["at_least"]
    small = costs.measured_cost(saved, "camera_shift_pc", 1.0)  # halfway from (0, 0) to the first rung
    assert small["drop_points"] == pytest.approx(5.0) and small["ci95_points"] == pytest.approx([0.0, 10.0])
    assert costs.measured_cost(saved, "joint_offset_rad", -0.2)["drop_points"] == pytest.approx(50.0)  # either way


def test_past_the_largest_rung_the_drop_is_at_least_the_largest_measured(saved):
    beyond = costs.measured_cost(saved, "camera_shift_pc", 14.0)
    assert beyond["at_least"] and beyond["drop_points"] == 40.0 and beyond["ci95_points"] == [25.0, 55.0]


def test_risk_level_comes_from_the_drop_and_its_interval():
    assert costs.risk_from_drop(45, [30, 60]) == "high"
    assert costs.risk_from_drop(15, [2, 28]) == "medium"
    assert costs.risk_from_drop(5, [-5, 15]) == "low"
    assert costs.risk_from_drop(5, [-10, 32]) == "medium"  # a large drop is not ruled out


def test_a_moved_camera_quotes_its_cost_and_takes_its_risk_from_it(saved):
    judged = moved_camera(-12.0)
    assert judged["risk"] == "high"  # 14% of the frame is high by judgement as well
    d = costs.priced(judged, saved, "aloha")
    assert d["risk"] == "high" and d["measured_cost"]["at_least"] and d["risk_basis"].startswith("measured: robustness")
    assert d["cost_line"] == ("top camera moved 12.0 px (14.1% of the frame): in simulation a camera shift of this "
                              "size cost the demo policy at least 40 points (95% CI 25 to 55 at 5% of the frame; larger "
                              "than any size measured); robustness study on the simulated ALOHA transfer cube, "
                              f"{saved['source']}")
    small = costs.priced(moved_camera(-1.19), saved, "aloha")  # 1.4% of the frame: medium by judgement, low as measured
    assert moved_camera(-1.19)["risk"] == "medium" and small["risk"] == "low"
    assert "cost the demo policy 7 points (95% CI 0 to 14)" in small["cost_line"]


def test_another_robot_is_told_the_cost_is_a_guide(saved):
    line = costs.priced(moved_camera(6.0, width=96), saved, "so101_follower")["cost_line"]
    assert line.endswith(f"transfer cube, {saved['source']}: measured on ALOHA, a guide and not a measurement of your "
                         "robot (so101_follower)")


def test_what_no_measurement_covers_is_said_and_judged(saved):
    zoom = drift.difference("drift_camera", "observation.images.top", "camera_scale_pc", 8.0, "zoomed", {})
    d = costs.priced(zoom, saved, "aloha")
    assert d["cost_line"] == "no measurement covers a zoom change; risk level by judgement"
    assert d["risk"] == zoom["risk"] == "high" and d["measured_cost"] is None
    brighter = drift.difference("drift_lighting", "observation.images.top", "brightness_pc", 30.0, "brighter", {})
    assert "a brighter picture (the study only dimmed the lights)" in costs.priced(brighter, saved, "aloha")["cost_line"]
    placed = drift.difference("drift_objects", "object 0 x", "object_cm", 3.0, "placed", {})
    assert "no measurement covers a placement beyond the training placements in x" in \
        costs.priced(placed, saved, "aloha")["cost_line"]


def test_a_joint_offset_is_looked_up_in_radians(saved):
    def recording(offset, seed):
        targets = np.random.default_rng(seed).uniform([0.20, -0.03], [0.23, 0.03], size=(8, 2))
        return table([so101_episode(LENGTH, tuple(t), seed + i, offset=offset) for i, t in enumerate(targets)])

    offset = np.zeros(6, dtype=np.float32)
    offset[SO101_JOINTS.index("elbow_flex")] = 6.0  # degrees: 0.105 rad
    result = drift.compare(recording(None, 0), recording(offset, 100), costs=saved)
    (rest,) = [d for d in result["differences"] if d["check"] == "drift_calibration" and "offset" in d["sizes"]]
    assert rest["measured_cost"]["size"] == pytest.approx(np.radians(6.0), rel=0.2)
    assert rest["measured_cost"]["drop_points"] == pytest.approx(6 + (np.radians(6.0) - 0.05) / 0.15 * 44, rel=0.2)
    assert rest["cost_line"].startswith(f"elbow_flex offset {rest['sizes']['offset']:+.3g} "
                                        f"({rest['measured_cost']['size']:+.3g} rad): in simulation a joint offset")
    assert "a guide and not a measurement of your robot (so101_follower)" in rest["cost_line"]
    assert result["costs"]["robot_type"] == "aloha"


def test_an_unchanged_setup_stays_silent_with_costs(saved):
    targets = np.random.default_rng(3).uniform([0.20, -0.03], [0.23, 0.03], size=(6, 2))
    same = table([so101_episode(LENGTH, tuple(t), i) for i, t in enumerate(targets)])
    result = drift.compare(same, same, costs=saved)
    assert result["differences"] == [] and result["findings"] == [] and "no measured difference" in result["verdict"]


def test_costs_files_missing_or_without_costs(tmp_path, monkeypatch):
    monkeypatch.setattr(costs, "DEFAULT_COSTS", tmp_path / "experiments" / "robustness" / "results.json")
    assert costs.load_costs() == {"note": costs.NO_COSTS}
    with pytest.raises(UserError, match="--costs .*no such file"):
        costs.load_costs(tmp_path / "no.json")
    older = tmp_path / "older.json"
    older.write_text(json.dumps({"study": "robustness", "points": []}))
    with pytest.raises(UserError, match="no compare_costs: add them with experiments.py --study robustness --report"):
        costs.load_costs(older)
    d = costs.priced(moved_camera(-12.0), {"note": costs.NO_COSTS}, "aloha")
    assert d["risk"] == "high" and d["measured_cost"] is None and d["cost_line"] is None


def test_the_study_and_the_lookup_name_the_same_ladders():
    assert set(FACTOR_LADDERS.values()) == set(costs.LADDERS) == set(LADDER_UNITS)


def test_what_compare_measures_for_a_moved_camera_and_a_dimmed_light():
    def condition(factor, value):
        perturb = {factor: value}
        return {"condition": f"{factor}={value:g}", "factor": factor, "magnitude": value, "perturb": perturb,
                "spec": square_eval(MARK, PLACEMENT, 30, 1000, 400) | {"perturb": perturb}}

    camera, light = compare_equivalents([condition("camera_shift_cm", 6), condition("light_scale", 0.5)], starts=3)
    motion = camera["measured"]
    # The camera moves 6 cm to +x: the picture moves left. The table plane, 0.8 m below a 78-degree camera at 64x85,
    # moves 3 px; the arms, nearer the camera, more: drift measures about 4.4 px for the whole picture.
    assert camera["ladder"] == "camera_shift_pc" and -6.0 < motion["dx_px"] < -2.9 and abs(motion["dy_px"]) < 0.5
    assert camera["size"] == pytest.approx(100 * abs(motion["dx_px"]) / 85, abs=0.02)
    assert light["ladder"] == "brightness_pc" and light["size"] < -30  # half the light: about half as bright


def test_an_older_results_json_gets_its_compare_costs_from_its_points():
    from lerobot_notebook_pipeline.evaluation.paired import paired_comparison
    from lerobot_notebook_pipeline.evaluation.success import success_summary
    from lerobot_notebook_pipeline.studies.results import missing_summary, robustness_summary

    start = square_eval(MARK, PLACEMENT, 4, 1000, 400)
    reference = [True, True, True, False]
    outcomes = {"in distribution": ({}, reference), "camera_shift_cm=6": ({"camera_shift_cm": 6}, [True, False, False, False]),
                "joint_offset=0.2": ({"joint_offset": 0.2}, [True, True, True, False])}
    evals = {name: success_summary(sum(o), 4) | {"spec": start | ({"perturb": p} if p else {})}
             | ({"paired_vs_in_distribution": paired_comparison(o, reference)} if p else {})
             for name, (p, o) in outcomes.items()}
    points = [{"settings": {"train_seed": 0}, "evals": evals}]
    older = {"points": points, **robustness_summary(points)}  # what a run before compare_costs wrote
    missing = missing_summary("robustness", older)
    assert list(missing) == ["compare_costs"] and missing_summary("robustness", older | missing) == {}
    ladders = missing["compare_costs"]["ladders"]
    assert set(ladders) == {"camera_shift_pc", "joint_offset_rad"}
    (camera,), (joint,) = ladders["camera_shift_pc"]["rungs"], ladders["joint_offset_rad"]["rungs"]
    assert camera["drop_points"] == 50.0 and camera["size"] > 3 and camera["measured"]["dx_px"] < 0
    assert (joint["size"], joint["drop_points"]) == (0.2, 0.0)
