"""Episode selection specs ('3', '0,3,7', '0:5', 'all') and seeded train/validation splits."""

from __future__ import annotations

import random

from lerobot_notebook_pipeline.runtime import UserError

SPEC_HELP = "an episode spec is an index (3), a list (0,3,7), a range (0:5, end excluded) or 'all'"


def parse_episode_spec(spec: str | int | list[int] | None, num_episodes: int) -> list[int]:
    """Turn an episode spec into a sorted list of valid episode indices."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(num_episodes))
    if isinstance(spec, int):
        indices = [spec]
    elif isinstance(spec, (list, tuple)):
        indices = [int(i) for i in spec]
    else:
        indices = _parse_spec_text(spec.strip(), num_episodes)
    bad = [i for i in indices if not 0 <= i < num_episodes]
    if bad:
        raise UserError(f"episode {bad[0]} does not exist: the dataset has episodes 0 to {num_episodes - 1}")
    if not indices:
        raise UserError(f"episode spec '{spec}' selects no episodes: {SPEC_HELP}")
    return sorted(set(indices))


def _parse_spec_text(spec: str, num_episodes: int) -> list[int]:
    try:
        if ":" in spec:
            start_text, _, stop_text = spec.partition(":")
            start = int(start_text) if start_text else 0
            stop = int(stop_text) if stop_text else num_episodes
            if stop > num_episodes:
                raise UserError(f"range '{spec}' ends past the last episode: the dataset has {num_episodes} episodes")
            return list(range(start, stop))
        return [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"cannot read episode spec '{spec}': {SPEC_HELP}") from None


def split_episodes(episodes: list[int], val_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split episodes into (train, val) with a seeded shuffle; val gets round(fraction*n), at least 1 when fraction>0.

    lerobot 0.6's `--dataset.eval_split` holds out a fraction per task; ours also takes exact `--val-episodes`, keeps
    the split in `split.json` so `--resume` and the rollouts use the same one, and scores per-joint action error.
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0:
        return sorted(episodes), []
    if len(episodes) < 2:
        raise UserError("need at least 2 episodes to hold some out for validation: select more episodes or use --val-fraction 0")
    n_val = min(len(episodes) - 1, max(1, round(val_fraction * len(episodes))))
    shuffled = list(episodes)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[n_val:]), sorted(shuffled[:n_val])


def exclude_episodes(train: list[int], val: list[int]) -> list[int]:
    """Training episodes with every validation episode removed (validation is never trained on)."""
    held_out = set(val)
    remaining = [i for i in train if i not in held_out]
    if not remaining:
        raise UserError("every selected training episode is also a validation episode: choose disjoint --episodes and --val-episodes")
    return remaining
