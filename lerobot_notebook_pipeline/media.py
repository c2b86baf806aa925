"""Videos, GIFs and frame strips that stay under a size budget (downscale, skip frames, fewer colours)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from lerobot_notebook_pipeline.runtime import UserError

SCALES = (1.0, 0.75, 0.5, 0.35, 0.25, 0.18)
STRIDES = (1, 2, 3, 4, 6, 8)


@dataclass
class MediaResult:
    """Where a media file went and what it took to fit the budget."""

    path: Path
    size_mb: float
    scale: float
    stride: int
    frames: int


def resize_frame(frame: np.ndarray, scale: float, multiple: int = 1) -> np.ndarray:
    """Resize an H x W x 3 uint8 frame by scale, rounding each side down to a multiple (at least one multiple)."""
    height, width = frame.shape[:2]
    new_h = max(multiple, int(height * scale) // multiple * multiple)
    new_w = max(multiple, int(width * scale) // multiple * multiple)
    if (new_h, new_w) == (height, width):
        return frame
    return np.asarray(Image.fromarray(frame).resize((new_w, new_h), Image.BILINEAR))


def budget_candidates() -> list[tuple[float, int]]:
    """(scale, stride) pairs ordered from best quality to smallest file."""
    pairs = [(scale, stride) for scale in SCALES for stride in STRIDES]
    return sorted(pairs, key=lambda p: (-(p[0] ** 2) / p[1], p[1]))


def _fit_budget(frames: Sequence[np.ndarray], path: str | Path, max_mb: float,
                encode: Callable[[list[np.ndarray], Path, int], None]) -> MediaResult:
    """Encode at full quality, then at the best (scale, stride) predicted to fit, until one does."""
    if len(frames) == 0:
        raise ValueError("no frames to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    budget = max_mb * 1024 * 1024
    full_size_estimate = None  # bytes the full-quality file would take, from the latest attempt
    for scale, stride in budget_candidates():
        factor = scale ** 2 / stride
        if full_size_estimate is not None and full_size_estimate * factor > budget:
            continue  # predicted too big: skip the encode
        chosen = list(frames[::stride])
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
        os.close(fd)
        try:
            encode(chosen, Path(tmp), stride, scale)
            size = os.path.getsize(tmp)
            if size <= budget:
                os.replace(tmp, path)
                return MediaResult(path, size / 1024 / 1024, scale, stride, len(chosen))
        finally:
            Path(tmp).unlink(missing_ok=True)
        full_size_estimate = size / factor
    raise UserError(f"cannot fit {path.name} into {max_mb} MB even at the smallest size: raise --max-mb or use fewer frames")


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float, max_mb: float = 10.0) -> MediaResult:
    """Write an H.264 MP4 (playable everywhere) under max_mb; skipped frames keep the real-time duration.

    Encoded with PyAV, which lerobot already uses for its dataset videos, so no separate ffmpeg binary is needed.
    """
    import av

    def encode(chosen, tmp, stride, scale):
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps / stride).limit_denominator(1000))
            stream.pix_fmt = "yuv420p"
            for k, frame in enumerate(chosen):
                image = resize_frame(np.asarray(frame), scale, multiple=2)
                if k == 0:
                    stream.height, stream.width = image.shape[:2]
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())  # flush the encoder

    return _fit_budget(frames, path, max_mb, encode)


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float, max_mb: float = 10.0,
              colors: int = 128) -> MediaResult:
    """Write a looping GIF with an adaptive palette under max_mb."""

    def encode(chosen, tmp, stride, scale):
        images = [Image.fromarray(resize_frame(np.asarray(f), scale)).quantize(colors=colors) for f in chosen]
        duration_ms = max(20, int(round(1000 * stride / fps / 10)) * 10)
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms,
                       loop=0, optimize=True)

    return _fit_budget(frames, path, max_mb, encode)


def label_frame(frame: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Draw short text lines in the top-left corner of a frame, on a dark band so they stay readable."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(image)
    line_height = 11
    band_width = max((draw.textlength(text) for text in lines), default=0) + 6
    draw.rectangle([0, 0, band_width, line_height * len(lines) + 4], fill=(0, 0, 0))
    for i, text in enumerate(lines):
        draw.text((3, 2 + i * line_height), text, fill=(255, 255, 255))
    return np.asarray(image)


def frame_strip(images: Sequence[np.ndarray], path: str | Path, labels: Sequence[str] | None = None,
                height: int = 160) -> Path:
    """Save images side by side as one PNG, each scaled to the same height and optionally labelled."""
    from lerobot_notebook_pipeline.files import write_atomic

    tiles = []
    for i, image in enumerate(images):
        image = np.asarray(image)
        tile = resize_frame(image, height / image.shape[0])
        if labels is not None:
            tile = label_frame(tile, [labels[i]])
        tiles.append(tile)
    gap = np.full((height, 4, 3), 255, np.uint8)
    parts = [part for tile in tiles for part in (tile, gap)][:-1]
    strip = np.concatenate([p[:height] for p in parts], axis=1)
    import io

    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return write_atomic(path, buffer.getvalue())
