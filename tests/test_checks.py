"""Every quality check fires on the episode where its defect was planted, and nowhere else; clean data stays silent."""

import dataclasses
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lerobot_notebook_pipeline.analysis import checks, consistency
from lerobot_notebook_pipeline.analysis.stats import load_table, read_stats_json
from lerobot_notebook_pipeline.data import vector_feature
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset, synthetic_episode, write_dataset

FPS = 30
LENGTH = 60
NAMES = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll", "gripper"]
FEATURES = {"observation.state": vector_feature(NAMES), "action": vector_feature(NAMES)}


def clean_episode(seed: int, length: int = LENGTH) -> dict:
    """A smooth episode without cameras, state one step behind the action."""
    return synthetic_episode(length, len(NAMES), seed, cameras=())


def follow(action: np.ndarray, lag: int = 1) -> np.ndarray:
    """A state that reaches each action `lag` frames later."""
    return np.concatenate([np.repeat(action[:1], lag, axis=0), action[:-lag]], axis=0)


def with_action(action: np.ndarray, lag: int = 1) -> dict:
    action = action.astype(np.float32)
    return {"observation.state": follow(action, lag), "action": action}


# episode -> the check planted there (checks on timestamps are planted after writing)
PLANTED = {1: "nan_inf", 2: "dead_joint", 3: "stuck_actions", 4: "action_jumps", 5: "gripper_chatter",
           6: "state_action_lag", 7: "tracking", 8: "idle", 9: "near_duplicate", 10: "episode_length",
           11: "timestamps", 12: "timestamps", 13: "timestamps", 14: "clipping", 15: "clipping"}


def defect_episodes() -> list[dict]:
    episodes = [clean_episode(seed) for seed in range(16)]
    base = [e["action"].copy() for e in episodes]
    a = base[1].copy()
    a[20, 0] = np.nan
    episodes[1] = with_action(a)
    a = base[2].copy()
    a[:, 3] = a[0, 3]
    episodes[2] = with_action(a)
    a = base[3].copy()
    a = np.concatenate([a[:20], np.repeat(a[20:21], 20, axis=0), a[20:40]])  # held for 21 frames, no jump after
    episodes[3] = with_action(a)
    a = base[4].copy()
    a[30, 1] += 1.0
    episodes[4] = with_action(a)
    a = base[5].copy()
    a[20:34, 5] = np.where(np.arange(14) % 4 < 2, -0.5, 0.5)  # open, open, closed, closed, ...
    episodes[5] = with_action(a)
    episodes[6] = with_action(base[6], lag=10)
    e = with_action(base[7])
    e["observation.state"][30:, 2] += 0.6
    episodes[7] = e
    episodes[8] = with_action(base[8][:1] + 0.03 * (base[8] - base[8][:1]))
    episodes[9] = with_action(base[0] + np.random.default_rng(9).normal(0, 1e-4, base[0].shape))
    episodes[10] = clean_episode(10, length=20)
    for e in (14, 15):  # a limit hit in two episodes: flat tops beyond every other episode's 0.5
        a = base[e].copy()
        a[:, 1] = np.clip(0.8 * np.sin(0.15 * np.arange(LENGTH) + e), -0.6, 0.6)
        episodes[e] = with_action(a)
    return episodes


def plant_timestamps(root):
    """Edit the written parquet: a repeated timestamp (ep 11), a 0.5 s gap (ep 12), a 15 fps clock (ep 13)."""
    path = next((root / "data").glob("**/*.parquet"))
    frame = pq.read_table(path).to_pandas()
    ts = frame["timestamp"].to_numpy().copy()
    ep = frame["episode_index"].to_numpy()
    rows = np.flatnonzero(ep == 11)
    ts[rows[25]] = ts[rows[24]]
    rows = np.flatnonzero(ep == 12)
    ts[rows[30:]] += 0.5
    rows = np.flatnonzero(ep == 13)
    ts[rows] *= 2
    frame["timestamp"] = ts.astype(np.float32)
    schema = pq.read_schema(path)
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)


@pytest.fixture(scope="module")
def defects(tmp_path_factory):
    root = tmp_path_factory.mktemp("defects") / "ds"
    write_dataset(root, defect_episodes(), FPS, FEATURES)
    plant_timestamps(root)
    return load_table(root)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean") / "ds"
    write_dataset(root, [clean_episode(100 + s) for s in range(12)], FPS, FEATURES)
    return load_table(root)


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """4 demonstrations of the same path with small offsets; the wrist_roll joint never moves."""
    rng = np.random.default_rng(0)
    base = clean_episode(50)["action"]
    episodes = []
    for _ in range(4):
        a = base + rng.normal(0, 0.02, size=(1, len(NAMES)))
        a[:, 4] = 0.1
        episodes.append(with_action(a))
    root = tmp_path_factory.mktemp("narrow") / "ds"
    write_dataset(root, episodes, FPS, FEATURES)
    return load_table(root)


EPISODE_CHECKS = {
    "nan_inf": checks.check_nan_inf,
    "dead_joint": checks.check_dead_joints,
    "stuck_actions": checks.check_stuck_actions,
    "action_jumps": checks.check_action_jumps,
    "gripper_chatter": checks.check_gripper_chatter,
    "timestamps": checks.check_timestamps,
    "episode_length": checks.check_episode_lengths,
    "chunk_size": lambda t: checks.check_chunk_size(t, 40),
    "clipping": checks.check_clipping,
    "state_action_lag": checks.check_state_action_lag,
    "tracking": checks.check_tracking,
    "idle": checks.check_idle,
    "near_duplicate": checks.check_near_duplicates,
    "generalisation": checks.check_generalisation,
}


def serious(findings):
    return checks.at_least(findings, "warn")


def test_clean_dataset_is_silent(clean):
    findings = checks.run_checks(clean, chunk_size=40)
    assert serious(findings) == []
    lag = [f for f in findings if f["check"] == "state_action_lag"]
    assert len(lag) == 1 and lag[0]["severity"] == "info" and "1 frame" in lag[0]["message"]


@pytest.mark.parametrize("name", sorted(EPISODE_CHECKS))
def test_check_fires_where_planted_and_nowhere_else(defects, name):
    expected = {ep for ep, check in PLANTED.items() if check == name}
    if name in ("episode_length", "chunk_size"):
        expected = {10}
    found = serious(EPISODE_CHECKS[name](defects))
    assert {f["episode"] for f in found} == expected, found
    for f in found:
        assert set(f) == {"check", "severity", "episode", "frame", "message"}
        assert f["check"] == name and f["message"]


def test_findings_point_at_the_frame(defects):
    frames = {f["episode"]: f["frame"] for f in serious(checks.run_checks(defects, chunk_size=40))
              if f["check"] in ("nan_inf", "action_jumps", "gripper_chatter", "stuck_actions", "timestamps", "tracking")}
    assert frames[1] == 20 and frames[4] == 30 and frames[3] == 20 and frames[7] == 30
    assert 20 <= frames[5] <= 24
    assert frames[11] == 25 and frames[12] == 30


def test_severities(defects):
    by_check = {(f["check"], f["episode"]): f["severity"] for f in checks.run_checks(defects, chunk_size=40)}
    assert by_check[("nan_inf", 1)] == "error"
    assert by_check[("timestamps", 11)] == "error"
    assert by_check[("timestamps", 12)] == "warn"


def test_lag_is_measured_per_episode(defects):
    lags = checks.episode_lags(defects, 12)
    assert lags[6] == 10
    assert np.median(lags) == 1


def test_narrow_dataset_warns_about_generalisation_and_dead_joint(narrow):
    findings = serious(checks.run_checks(narrow))
    kinds = sorted(f["check"] for f in findings)
    assert kinds == ["dead_joint", "dead_joint", "generalisation", "generalisation"], findings
    text = " ".join(f["message"] for f in findings if f["check"] == "generalisation")
    assert "only 4 demonstration" in text and "5" in text and "same path" in text
    assert all(f["episode"] is None for f in findings)
    assert "wrist_roll" in findings[0]["message"] and "1e+07" in findings[0]["message"]
    assert "nonzero std" in findings[0]["message"] and "harmless" not in findings[0]["message"]


def test_missing_videos_finding():
    cams = [{"key": "observation.images.top", "files": 2, "missing": ["videos/x.mp4"]},
            {"key": "observation.images.wrist", "files": 2, "missing": []}]
    found = checks.check_missing_videos(cams)
    assert len(found) == 1 and found[0]["severity"] == "warn" and "videos/x.mp4" in found[0]["message"]


def test_a_rare_task_is_flagged(tmp_path):
    from lerobot_notebook_pipeline.data import add_episode, create_dataset

    dataset = create_dataset(tmp_path / "tasks", FPS, FEATURES)
    for seed, task in enumerate(["pick"] * 6 + ["place"] * 6 + ["wave"]):
        add_episode(dataset, clean_episode(seed), task)
    dataset.finalize()
    found = checks.check_task_balance(load_table(tmp_path / "tasks"))
    assert [(f["check"], f["severity"]) for f in found] == [("task_balance", "warn")] and "'wave' has 1" in found[0]["message"]


def test_any_robot_26_dims_without_names_at_10_fps(tmp_path):
    """A humanoid-sized action space with no joint names: clean data stays silent, and names fall back to action[i]."""
    features = {"observation.state": {"dtype": "float32", "shape": (26,), "names": None},
                "action": {"dtype": "float32", "shape": (26,), "names": None}}
    episodes = [synthetic_episode(30, 26, seed, cameras=()) for seed in range(10)]
    episodes[3]["action"][12, 20] += 2.0
    table = load_table(write_dataset(tmp_path / "humanoid", episodes, 10, features))
    findings = serious(checks.run_checks(table))
    assert [(f["check"], f["episode"]) for f in findings] == [("action_jumps", 3)]
    assert "action[20]" in findings[0]["message"] and findings[0]["frame"] == 12


def test_aloha_like_grippers_are_found_by_name(tmp_path):
    """14 dims named like ALOHA's: chatter is found on right_gripper only, and gripper jumps are not called glitches."""
    names = [f"{side}_{joint}" for side in ("left", "right")
             for joint in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")]
    features = {"observation.state": vector_feature(names), "action": vector_feature(names)}
    episodes = [clean_episode_dim(seed, 14) for seed in range(10)]
    a = episodes[6]["action"]
    a[40:56, 13] = np.where(np.arange(16) % 2 == 0, -0.5, 0.5)  # toggling every frame
    episodes[6] = with_action(a)
    table = load_table(write_dataset(tmp_path / "aloha", episodes, 50, features))
    assert checks.gripper_dims(table) == [6, 13]
    findings = serious(checks.run_checks(table))
    assert [(f["check"], f["episode"]) for f in findings] == [("gripper_chatter", 6)]
    assert "right_gripper" in findings[0]["message"] and 15 <= findings[0]["frame"] <= 41  # within 0.5 s of the burst


def clean_episode_dim(seed: int, dim: int, length: int = 100) -> dict:
    return synthetic_episode(length, dim, seed, cameras=())


def test_resting_at_the_end_is_a_note_not_a_warning(clean):
    columns = {k: v.copy() for k, v in clean.columns.items()}
    end = clean.ends[0]
    columns["action"][end - 25:end] = columns["action"][end - 25]
    rested = dataclasses.replace(clean, columns=columns, cache={})
    found = checks.check_stuck_actions(rested)
    assert [(f["severity"], f["episode"], f["frame"]) for f in found] == [("info", 0, 35)]
    assert "end of the episode" in found[0]["message"]


# ---------------------------------------------------------------- the files against each other (consistency.py)


@pytest.fixture(scope="module")
def filed(tmp_path_factory):
    """A clean 4-episode dataset with one camera, copied before each defect is planted."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("filed") / "ds", num_episodes=4, length=30, cameras=("top",))


def replace_column(path, name, edit):
    """Rewrite one column of a parquet file through edit(numpy array) -> numpy array."""
    table = pq.read_table(path)
    i = table.schema.get_field_index(name)
    values = edit(table.column(name).to_numpy().copy())
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type)), path)


def edit_json(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def plant_info_total(root):
    edit_json(root / "meta/info.json", lambda info: info.update(total_frames=info["total_frames"] + 5))


def plant_episode_length(root):
    def edit(lengths):
        lengths[2] += 3
        return lengths
    replace_column(next((root / "meta/episodes").glob("**/*.parquet")), "length", edit)


def plant_frame_index(root):
    def edit(frame_index):
        frame_index[30 + 10] = 9  # episode 1, frame 10 repeats frame 9
        return frame_index
    replace_column(next((root / "data").glob("**/*.parquet")), "frame_index", edit)


def plant_unknown_task(root):
    replace_column(next((root / "data").glob("**/*.parquet")), "task_index", lambda t: np.where(np.arange(len(t)) < 30, 5, t))


def plant_stale_stats(root):
    edit_json(root / "meta/stats.json", lambda stats: stats["action"]["mean"].__setitem__(0, stats["action"]["mean"][0] + 0.2))


def plant_short_video(root):
    """Re-encode the camera's video without its last 8 frames: episode 3 loses its end."""
    import av

    path = next((root / "videos").glob("**/*.mp4"))
    with av.open(str(path)) as container:
        images = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][:-8]
    from v21_dataset import write_mp4

    write_mp4(path, np.stack(images), 30)


def plant_symlink(root):
    (root / "meta" / "tasks_link.parquet").symlink_to(root / "meta" / "tasks.parquet")


def plant_dropped_frames(root):
    """What lerobot's streaming encoder did under load: episode 1's video span 2 frames short of its parquet rows."""
    replace_column(next((root / "meta/episodes").glob("**/*.parquet")), "videos/observation.images.top/to_timestamp",
                   lambda to: to - np.where(np.arange(len(to)) == 1, 2 / 30, 0.0))


def plant_corrupt_video(root):
    path = next((root / "videos").glob("**/*.mp4"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


FILE_DEFECTS = {  # plant -> (check, severity, episodes with a finding; None = the dataset as a whole)
    plant_info_total: ("metadata", "error", {None}),
    plant_episode_length: ("metadata", "error", {2}),
    plant_frame_index: ("indices", "error", {1}),
    plant_unknown_task: ("metadata", "error", {None}),
    plant_stale_stats: ("stats_json", "warn", {None}),
    plant_short_video: ("video", "error", {3}),
    plant_dropped_frames: ("video", "error", {1}),
    plant_corrupt_video: ("video", "error", {0, 1, 2, 3}),
    plant_symlink: ("portability", "warn", {None}),
}


def test_consistent_files_are_silent(filed):
    assert consistency.run_consistency_checks(load_table(filed), read_stats_json(filed)) == []


@pytest.mark.parametrize("plant", list(FILE_DEFECTS), ids=lambda p: p.__name__)
def test_file_defect_is_found(filed, tmp_path, plant):
    root = tmp_path / "ds"
    shutil.copytree(filed, root)
    plant(root)
    check, severity, episodes = FILE_DEFECTS[plant]
    found = consistency.run_consistency_checks(load_table(root), read_stats_json(root))
    assert {(f["check"], f["severity"]) for f in found} == {(check, severity)}, found
    assert {f["episode"] for f in found} == episodes, found
    assert all(set(f) == {"check", "severity", "episode", "frame", "message"} for f in found)


def test_one_hold_at_the_extreme_is_not_clipping(clean):
    """Scripted experts stop dead at waypoints: one episode resting at a joint's extreme is not called clipping."""
    columns = {k: v.copy() for k, v in clean.columns.items()}
    start = clean.starts[3]
    columns["action"][start + 20:start + 40, 2] = 0.9  # beyond every other episode, reached at speed, held 20 frames
    held = dataclasses.replace(clean, columns=columns, cache={})
    assert checks.check_clipping(held) == []
    assert checks.check_clipping(held, min_episodes=1)[0]["episode"] == 3
