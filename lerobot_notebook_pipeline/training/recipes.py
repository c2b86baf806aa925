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
    # within the 2 cm radius (each alone did not); 2000 steps, as 2500 took 34 min end to end (benchmarks/RESULTS.md)
    "so101": {"episodes": 40, "steps": 2000, "lr_schedule": "cosine", "chunk_size": 100, "temporal_ensemble": 0.01},
}


def act_fields(chunk_size: int | None, temporal_ensemble: float | None) -> dict:
    """ACT config fields for how chunks run: with ensembling a chunk is predicted every step and the overlapping ones
    averaged; without it (None or 0) the whole chunk runs before the next is predicted."""
    if temporal_ensemble:
        return {"temporal_ensemble_coeff": float(temporal_ensemble), "n_action_steps": 1}
    return {"temporal_ensemble_coeff": None, "n_action_steps": chunk_size}


def act_flags(chunk_size: int | None = None, temporal_ensemble: float | None = None) -> list[str]:
    """train.py `--set` flags for an ACT chunk other than the preset's and for temporal ensembling; none for None."""
    fields = {"chunk_size": chunk_size} | act_fields(chunk_size, temporal_ensemble)
    return [flag for key, value in fields.items() if value is not None for flag in ("--set", f"{key}={value}")]
