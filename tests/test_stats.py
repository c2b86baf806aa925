"""The little tabular functions: exact numbers against the arrays that were written, without decoding video."""

import numpy as np
import pytest

from lerobot_notebook_pipeline.analysis import frames, stats
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset, synthetic_episode

LENGTH, DIM, SIZE = 20, 14, (24, 32)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("stats") / "ds", num_episodes=3, length=LENGTH, dim=DIM,
                                  fps=50, image_size=SIZE, cameras=("top",))


@pytest.fixture(scope="module")
def table(root):
    return stats.load_table(root)


def written(episode):
    return synthetic_episode(LENGTH, DIM, episode, SIZE, ("top",))


def test_lengths_bounds_and_arrays_match_what_was_written(table):
    assert stats.episode_lengths(table).tolist() == [LENGTH] * 3
    assert stats.episode_bounds(table) == {0: (0, 20), 1: (20, 40), 2: (40, 60)}
    for episode in range(3):
        np.testing.assert_allclose(stats.episode_actions(table, episode), written(episode)["action"], atol=1e-6)
        np.testing.assert_allclose(stats.episode_states(table, episode), written(episode)["observation.state"], atol=1e-6)
    assert stats.vector_keys(table) == ["action", "observation.state"]
    with pytest.raises(KeyError):
        stats.episode_actions(table, 7)


def test_selected_episodes_only(root):
    table = stats.load_table(root, episodes=[0, 2])
    assert table.episodes.tolist() == [0, 2] and stats.episode_lengths(table).tolist() == [20, 20]
    np.testing.assert_allclose(stats.episode_actions(table, 2), written(2)["action"], atol=1e-6)
    assert stats.episode_bounds(table) == {0: (0, 20), 2: (40, 60)}


def test_summary_features_cameras_and_normalisation(table):
    s = stats.summary(table)
    assert (s["episodes"], s["frames"], s["fps"], s["duration_s"]) == (3, 60, 50.0, 1.2)
    assert s["tasks"] == ["move the joints"] and s["robot_type"] == "synthetic"
    rows = {r["key"]: r for r in stats.features_table(table.info)}
    assert rows["action"]["shape"] == [DIM] and rows["action"]["names"][:2] == ["j0", "j1"]
    (camera,) = stats.cameras_table(table)
    assert (camera["height"], camera["width"], camera["codec"], camera["files"], camera["missing"]) == (24, 32, "av1", 1, [])
    norm = stats.normalization_stats(table.root, ["action"])
    all_actions = np.concatenate([written(e)["action"] for e in range(3)])
    np.testing.assert_allclose(norm["action"]["mean"], all_actions.mean(0), atol=1e-4)


def test_per_episode_stats_and_path_length(table):
    per = stats.per_episode_stats(table, "action")
    np.testing.assert_allclose(per["max"][1], written(1)["action"].max(0), atol=1e-6)
    np.testing.assert_allclose(per["mean"][2], written(2)["action"].mean(0), atol=1e-5)
    expected = [stats.path_length(written(e)["action"]) for e in range(3)]
    np.testing.assert_allclose(stats.path_lengths(table, "action"), expected, rtol=1e-5)
    assert stats.path_length(np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])) == 5.0
    rows = stats.episodes_table(table)
    assert rows[0]["length"] == 20 and rows[0]["seconds"] == 0.4 and len(rows[0]["state_min"]) == DIM


def test_resample_keeps_endpoints(table):
    traj = stats.resample_episodes(table, "action", points=5)
    assert traj.shape == (3, 5, DIM)
    np.testing.assert_allclose(traj[1, 0], written(1)["action"][0], atol=1e-6)
    np.testing.assert_allclose(traj[1, -1], written(1)["action"][-1], atol=1e-6)


def test_feature_names_from_lists_dicts_or_nothing():
    info = {"features": {"a": {"dtype": "float32", "shape": [2], "names": {"motors": ["x", "y"]}},
                         "b": {"dtype": "float32", "shape": [3], "names": None},
                         "observation.state": {"dtype": "float32", "shape": [2], "names": ["left_gripper", "k"]}}}
    assert stats.feature_names(info, "a") == ["x", "y"]
    assert stats.feature_names(info, "b") == ["b[0]", "b[1]", "b[2]"]
    assert stats.feature_names(info, "observation.state") == ["left_gripper", "k"]


def test_only_the_requested_frames_are_decoded(table):
    first, last = frames.episode_frames(table, 1, [0, -1], "observation.images.top")
    images = written(1)["observation.images.top"]
    assert first.shape == (24, 32, 3)
    assert np.abs(first.astype(float) - images[0]).mean() < 8  # lossy AV1, but the same picture
    assert np.abs(last.astype(float) - images[-1]).mean() < 8
    assert np.abs(last.astype(float) - images[0]).mean() > np.abs(last.astype(float) - images[-1]).mean()
    assert len(frames.whole_episode(table, 2, "observation.images.top")) == LENGTH
    np.testing.assert_array_equal(frames.frame(table, 1, 0, "observation.images.top"), first)


def test_a_lerobot_dataset_object_works_too(root, table):
    from lerobot_notebook_pipeline.data import open_dataset

    dataset = open_dataset(root)
    from_object = stats.load_table(dataset)
    np.testing.assert_array_equal(from_object.columns["action"], table.columns["action"])
    item = dataset[25]
    np.testing.assert_allclose(item["action"].numpy(), stats.episode_actions(table, 1)[5], atol=1e-6)


def test_cameras_stored_as_images_in_parquet(tmp_path):
    from lerobot_notebook_pipeline.data import vector_feature
    from lerobot_notebook_pipeline.synthetic import write_dataset

    features = {"observation.state": vector_feature(["a", "b"]), "action": vector_feature(["a", "b"]),
                "observation.images.cam": {"dtype": "image", "shape": (24, 32, 3), "names": ["height", "width", "channels"]}}
    episodes = [synthetic_episode(10, 2, seed, cameras=("cam",)) for seed in range(2)]
    table = stats.load_table(write_dataset(tmp_path / "images", episodes, 30, features))
    assert "observation.images.cam" not in table.columns  # image bytes are never loaded for the tables
    first, last = frames.episode_frames(table, 1, [0, -1], "observation.images.cam")
    np.testing.assert_array_equal(first, episodes[1]["observation.images.cam"][0])  # PNG is lossless
    np.testing.assert_array_equal(last, episodes[1]["observation.images.cam"][-1])
    assert len(frames.whole_episode(table, 0, "observation.images.cam")) == 10
    assert stats.cameras_table(table)[0]["dtype"] == "image"
