"""Media under a size budget: files decode, sizes hold, and the budget forces smaller files."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from lerobot_notebook_pipeline.media import budget_candidates, frame_strip, label_frame, write_gif, write_video
from lerobot_notebook_pipeline.runtime import UserError


def noisy_frames(n=30, h=96, w=128, seed=0):
    """Hard-to-compress frames, so a small budget really bites."""
    return list(np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8))


def test_candidates_start_at_full_quality_and_shrink():
    candidates = budget_candidates()
    assert candidates[0] == (1.0, 1)
    factors = [s * s / k for s, k in candidates]
    assert factors == sorted(factors, reverse=True)


def test_video_fits_generous_budget_at_full_quality(tmp_path):
    result = write_video(noisy_frames(), tmp_path / "a.mp4", fps=30, max_mb=10)
    assert (result.scale, result.stride, result.frames) == (1.0, 1, 30)
    decoded = iio.imread(result.path, index=None)
    assert decoded.shape == (30, 96, 128, 3)
    assert result.size_mb == pytest.approx(result.path.stat().st_size / 2**20)


def test_tight_budget_shrinks_video_and_gif(tmp_path):
    frames = noisy_frames()
    full = write_gif(frames, tmp_path / "full.gif", fps=30, max_mb=10)
    budget = full.size_mb / 5
    small = write_gif(frames, tmp_path / "small.gif", fps=30, max_mb=budget)
    assert small.size_mb <= budget and small.path.stat().st_size <= budget * 2**20
    assert small.scale ** 2 / small.stride < 0.5
    gif = Image.open(small.path)
    assert gif.n_frames == small.frames and gif.size[0] == int(128 * small.scale)
    video = write_video(frames, tmp_path / "small.mp4", fps=30, max_mb=0.05)
    assert video.path.stat().st_size <= 0.05 * 2**20
    assert video.frames < 30 or video.scale < 1


def test_impossible_budget_is_a_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(UserError, match="raise --max-mb"):
        write_gif(noisy_frames(n=4), tmp_path / "x.gif", fps=10, max_mb=1e-5)
    assert list(tmp_path.iterdir()) == []


def test_frame_strip_and_labels(tmp_path):
    first, last = np.zeros((48, 64, 3), np.uint8), np.full((48, 64, 3), 200, np.uint8)
    path = frame_strip([first, last], tmp_path / "strip.png", labels=["first", "last"], height=96)
    strip = iio.imread(path)
    assert strip.shape == (96, 128 + 4 + 128, 3)
    assert strip[60:, 140:].mean() > 150 and strip[60:, :100].mean() < 10
    labelled = label_frame(first, ["step 3"])
    assert labelled[:12, :40].max() > 200 and labelled[30:].max() == 0
