"""One quality score in [0, 1] per episode, built from its findings, and the lerobot-edit-dataset command that drops
the worst episodes into a new dataset (printed for the user to run, never run here)."""

from __future__ import annotations

import shlex
from pathlib import Path

# each distinct (check, severity) found in an episode multiplies its score by (1 - penalty)
PENALTIES = {"error": 0.6, "warn": 0.25, "info": 0.05}
DROP_BELOW = 0.6  # an error, or two different warnings, put an episode on the drop list


def episode_scores(findings: list[dict], episodes) -> dict[int, float]:
    """Episode -> score: 1.0 without findings, lower for each distinct problem found in it."""
    seen = {}
    for f in findings:
        if f["episode"] is not None:
            seen.setdefault(int(f["episode"]), set()).add((f["check"], f["severity"]))
    scores = {}
    for episode in (int(e) for e in episodes):
        score = 1.0
        for _, severity in seen.get(episode, ()):
            score *= 1.0 - PENALTIES[severity]
        scores[episode] = round(score, 4)
    return scores


def worst_episodes(scores: dict[int, float], findings: list[dict], limit: int = 10) -> list[dict]:
    """The lowest-scoring episodes (under 1.0), worst first, each with the checks that lowered its score."""
    reasons = {}
    for f in findings:
        if f["episode"] is not None and f["severity"] != "info":
            reasons.setdefault(int(f["episode"]), []).append(f["check"])
    ranked = sorted((e for e, s in scores.items() if s < 1.0), key=lambda e: (scores[e], e))
    return [{"episode": e, "score": scores[e], "checks": sorted(set(reasons.get(e, [])))} for e in ranked[:limit]]


def episodes_to_drop(scores: dict[int, float], below: float = DROP_BELOW) -> list[int]:
    """Episodes whose score is under the drop threshold, in order."""
    return sorted(e for e, s in scores.items() if s < below)


def drop_command(repo_id: str, root: str | Path, episodes: list[int]) -> str:
    """The lerobot-edit-dataset (lerobot 0.6) command that writes a copy of the dataset without these episodes next to it."""
    root = Path(root)
    new_root = root.with_name(f"{root.name}_clean")
    args = ["lerobot-edit-dataset", "--repo_id", repo_id, "--root", str(root), "--new_repo_id", f"{repo_id}_clean",
            "--new_root", str(new_root), "--operation.type", "delete_episodes",
            "--operation.episode_indices", f"[{', '.join(str(e) for e in episodes)}]"]
    return " ".join(shlex.quote(a) for a in args)
