"""The `make demo` recipe of each robot, as measured in benchmarks/RESULTS.md; train_ultimate.py and the studies use it.

Plain values only, so `experiments.py --plan` can read them without importing torch or MuJoCo.
"""

from __future__ import annotations

# episodes: scripted demonstrations; steps: training steps; lr_schedule: train.py --lr-schedule; chunk_size: ACT's
# action chunk (None: the preset's, 50 for cpu);
# temporal_ensemble: ACT's temporal_ensemble_coeff (None: execute each whole chunk; a number m: predict a chunk every
# step and average the actions the overlapping chunks hold for it, the i-th oldest weighted exp(-m * i), as ACT does).
RECIPES = {
    "aloha": {"episodes": 20, "steps": 2500, "lr_schedule": "preset", "chunk_size": None, "temporal_ensemble": None},
    # 10 demos per mark; a 3.3 s chunk carries a whole grasp; a cosine schedule with ensembling places the cube
    # within the 2 cm radius (each alone did not, benchmarks/RESULTS.md)
    "so101": {"episodes": 40, "steps": 2500, "lr_schedule": "cosine", "chunk_size": 100, "temporal_ensemble": 0.01},
}


def act_flags(chunk_size: int | None = None, temporal_ensemble: float | None = None) -> list[str]:
    """train.py `--set` flags for an ACT chunk other than the preset's and for temporal ensembling; none for None.

    Without ensembling the whole chunk runs before the next is predicted; with it a chunk is predicted every step.
    """
    flags = ["--set", f"chunk_size={chunk_size}"] if chunk_size else []
    if temporal_ensemble:
        return flags + ["--set", "n_action_steps=1", "--set", f"temporal_ensemble_coeff={temporal_ensemble}"]
    return flags + (["--set", f"n_action_steps={chunk_size}"] if chunk_size else [])
