"""--compare: pairs of real datasets with one known change each; every change is found with its size within 20%,
an unchanged pair reports nothing, and two recordings of one setup with 4 to 50 episodes stay at low risk."""

import json

import numpy as np
import pytest
from drift_pairs import (
    CAMERAS,
    FEATURES,
    GAIN,
    OFFSET,
    OFFSET_JOINT,
    SHIFT_PX,
    TRAINING_X,
    WIDER_X,
    record,
    same_setup,
    training_targets,
)

from lerobot_notebook_pipeline.analysis import drift, frames
from lerobot_notebook_pipeline.analysis.stats import load_table
from lerobot_notebook_pipeline.synthetic import SO101_JOINTS, scene_texture


def compare(reference, new):
    ref, cur = load_table(reference), load_table(new)
    mean_frames = {f"observation.images.{c}": (frames.mean_first_frame(ref, f"observation.images.{c}"),
                                                frames.mean_first_frame(cur, f"observation.images.{c}")) for c in CAMERAS}
    sims = [json.loads((r / "meta" / "sim_settings.json").read_text()) for r in (reference, new)]
    return drift.compare(ref, cur, mean_frames, *sims)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    base = tmp_path_factory.mktemp("drift")
    fresh = training_targets(4, 7)
    reference = record(base / "training", training_targets(6, 0), seed=0)
    wider = [*fresh[:3], (WIDER_X, 0.0)]
    changed = {"unchanged": record(base / "unchanged", fresh, seed=100),
               "camera": record(base / "camera", fresh, seed=100, shift=(0, SHIFT_PX)),
               "lighting": record(base / "lighting", fresh, seed=100, gain=GAIN),
               "calibration": record(base / "calibration", fresh, seed=100,
                                     offset=np.eye(6, dtype=np.float32)[SO101_JOINTS.index(OFFSET_JOINT)] * OFFSET),
               "placement": record(base / "placement", wider, seed=100)}
    return {name: compare(reference, root) for name, root in changed.items()}


def within(measured, truth, tolerance=0.2):
    return abs(measured - truth) <= tolerance * abs(truth)


def test_unchanged_pair_reports_nothing(pairs):
    result = pairs["unchanged"]
    assert result["differences"] == [] and result["findings"] == []
    assert "no measured difference" in result["verdict"]
    assert all(abs(m["motion"]["shift_px"]) < drift.MIN_SHIFT_PX for m in result["cameras"].values())


def test_camera_shift_is_found_in_pixels(pairs):
    result = pairs["camera"]
    found = [d for d in result["differences"] if d["check"] == "drift_camera"]
    assert [d["subject"] for d in found] == ["observation.images.front"], result["differences"]
    motion = result["cameras"]["observation.images.front"]["motion"]
    assert within(motion["dx_px"], SHIFT_PX) and abs(motion["dy_px"]) < 0.5
    assert within(motion["shift_pc"], 100 * SHIFT_PX / 96)
    assert f"moved {motion['dx_px']:.1f} px right" in found[0]["message"] and "turned left" in found[0]["message"]
    assert {d["check"] for d in result["differences"]} == {"drift_camera"}  # nothing else changed
    assert result["differences"][0]["risk"] == "high" and "drift_camera" in result["findings"][0]["check"]


def test_brightness_change_is_found_in_percent(pairs):
    result = pairs["lighting"]
    assert {(d["check"], d["subject"]) for d in result["differences"]} == {("drift_lighting", "observation.images.front")}
    light = result["cameras"]["observation.images.front"]["lighting"]
    assert within(light["brightness_pc"], 100 * (GAIN - 1))
    assert "brighter" in result["differences"][0]["message"]


def test_joint_offset_is_found_in_joint_units(pairs):
    result = pairs["calibration"]
    assert {d["check"] for d in result["differences"]} == {"drift_calibration"}, result["differences"]
    offsets = {c["joint"]: c["offset"] for c in result["calibration"] if c["offset"]}
    assert set(offsets) == {OFFSET_JOINT} and within(offsets[OFFSET_JOINT], OFFSET)
    gaps = {g["joint"]: g["gap_change"] for g in result["leader_follower"] if g["gap_change"]}
    assert set(gaps) == {OFFSET_JOINT} and within(gaps[OFFSET_JOINT], -OFFSET)
    assert all(w["range_pc"] < drift.RISK_SCALES["workspace_range_pc"][0] for w in result["workspace"])


def test_wider_placement_is_found_in_centimetres(pairs):
    result = pairs["placement"]
    objects = [d for d in result["differences"] if d["check"] == "drift_objects"]
    assert [d["subject"] for d in objects] == ["object 0 x"]
    assert within(objects[0]["size"], 100 * (WIDER_X - TRAINING_X[1]))
    reach = {d["subject"] for d in result["differences"] if d["check"] == "drift_workspace"}
    assert "shoulder_lift" in reach and {d["check"] for d in result["differences"]} <= {"drift_objects", "drift_workspace"}


def test_zoom_is_measured():
    from PIL import Image

    texture = scene_texture(96, 128, margin=0, seed=3).astype(np.uint8)
    zoomed = np.asarray(Image.fromarray(texture).resize((141, 106), Image.BILINEAR))[5:101, 6:134]  # 10% larger
    assert within(drift.scale_change(texture.astype(float), zoomed.astype(float)), 0.10)
    assert abs(drift.scale_change(texture.astype(float), texture.astype(float))) < 0.005


def test_schema_differences_name_what_differs():
    info = {"robot_type": "so101_follower", "features": dict(FEATURES)}
    other = {"robot_type": "koch", "features": {k: v for k, v in FEATURES.items() if "wrist" not in k}}
    text = " ".join(drift.schema_differences(info, other))
    assert "robot type 'koch'" in text and "only the reference has observation.images.wrist" in text
    assert drift.schema_differences(info, info) == []


def test_colour_cast_is_told_apart_from_brightness():
    texture = scene_texture(48, 64, margin=0, seed=4)
    bluer = texture * np.array([1.0, 1.0, 1.2])
    light = drift.lighting_change(texture, bluer)
    assert light["colour_pc"]["b"] > 10 and abs(light["colour_pc"]["r"]) < 5 and abs(light["brightness_pc"]) < 5
    brighter = drift.lighting_change(texture, texture * 1.2)
    assert within(brighter["brightness_pc"], 20) and max(abs(v) for v in brighter["colour_pc"].values()) < 0.5


def test_timing_differences():
    training = {"fps": 30.0, "median_frames": 300, "median_s": 10.0, "lag_frames": 2.0}
    assert drift.timing_differences(training, dict(training)) == []
    slower = {"fps": 15.0, "median_frames": 240, "median_s": 16.0, "lag_frames": 6.0}
    found = {d["subject"]: d for d in drift.timing_differences(training, slower)}
    assert set(found) == {"fps", "episode_length", "lag"}
    assert found["fps"]["risk"] == "high" and "15 fps" in found["fps"]["message"]
    assert found["episode_length"]["size"] == 60 and found["episode_length"]["risk"] == "high"
    assert found["lag"]["size"] == 4 and found["lag"]["risk"] == "medium" and found["lag"]["unit"] == "frames"


@pytest.mark.parametrize("episodes", [4, 8, 20, 50])
def test_a_recording_of_the_same_setup_stays_at_low_risk(episodes):
    for seed in range(3):
        result = drift.compare(*same_setup(episodes, seed)[:2], None, *same_setup(episodes, seed)[2:])
        assert all(d["risk"] == "low" for d in result["differences"]), (seed, result["differences"])


def test_reach_beyond_training_says_what_chance_allows(pairs):
    reach = [d for d in pairs["placement"]["differences"] if d["check"] == "drift_workspace"]
    lift = next(d for d in reach if d["subject"] == "shoulder_lift")
    assert 0 < lift["sizes"]["chance"] < lift["sizes"]["reach"] == lift["sizes"]["above"]
    assert "beyond what its own episodes vary" in lift["message"] and f"{lift['sizes']['chance']:.3g}" in lift["message"]
    objects = next(p for p in pairs["placement"]["objects"] if p["axis"] == "x")
    assert 0 < objects["chance_m"] < objects["beyond_m"] == objects["above_m"]


@pytest.mark.parametrize("n, m", [(4, 4), (6, 4), (20, 20), (50, 8)])
def test_chance_reach_holds_its_chance_for_an_exponential_tail(n, m):
    rng = np.random.default_rng(n * 100 + m)
    reference, new = rng.exponential(size=(n, 40_000)), rng.exponential(size=(m, 40_000))
    allowed = drift.chance_factor(n, m) * drift.tail_scale(reference)
    beyond = np.mean(new.max(axis=0) - reference.max(axis=0) > allowed)
    assert abs(beyond - drift.CHANCE) < 0.006, beyond


def test_chance_reach_shrinks_with_more_reference_episodes():
    rng = np.random.default_rng(5)
    allowed = [float(np.median([drift.chance_reach(x := rng.uniform(size=(n, 1)), x, n)[0] for _ in range(200)]))
               for n in (4, 8, 20, 50)]
    assert allowed == sorted(allowed, reverse=True) and allowed[-1] < allowed[0] / 5
    assert drift.chance_reach(np.ones((1, 2)), np.ones((1, 2)), 4).tolist() == [0.0, 0.0]


def test_rest_noise_grows_for_few_episodes():
    groups = [np.random.default_rng(i).normal(size=(8, 2)) for i in range(2)]
    assert np.allclose(drift.rest_noise(groups, 8, 8), drift.REST_SPREADS * drift.within_spread(groups))
    assert np.allclose(drift.rest_noise(groups, 40, 40), drift.rest_noise(groups, 8, 8))
    assert np.allclose(drift.rest_noise(groups, 4, 4), np.sqrt(2) * drift.rest_noise(groups, 8, 8))
