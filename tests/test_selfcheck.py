"""The environment works: lerobot imports, gym-aloha renders headless, a tiny dataset round-trips."""

import numpy as np

from lerobot_notebook_pipeline.data import open_dataset
from lerobot_notebook_pipeline.sim.selfcheck import is_blank, main, render_aloha_frame
from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset, synthetic_episode


def test_gym_aloha_renders_a_non_blank_frame():
    frame = render_aloha_frame()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert not is_blank(frame)
    assert is_blank(np.zeros((4, 4, 3), np.uint8))


def test_selfcheck_writes_the_frame(tmp_path):
    path = main(tmp_path)
    assert path.is_file() and path.stat().st_size > 10_000


def test_tiny_dataset_round_trip_decodes_video(tmp_path):
    root = make_synthetic_dataset(tmp_path / "tiny", num_episodes=2, length=12, dim=6)
    ds = open_dataset(root)
    assert ds.num_episodes == 2 and len(ds) == 24 and ds.fps == 30
    item = ds[13]
    assert item["episode_index"].item() == 1 and item["frame_index"].item() == 1
    image = item["observation.images.top"]
    assert tuple(image.shape) == (3, 24, 32)
    expected = synthetic_episode(12, 6, seed=1)["observation.images.top"][1]
    decoded = (image.permute(1, 2, 0).numpy() * 255).astype(np.float32)
    assert np.abs(decoded - expected).mean() < 20  # lossy AV1, but the same picture
    np.testing.assert_allclose(item["action"].numpy(), synthetic_episode(12, 6, seed=1)["action"][1], atol=1e-6)
