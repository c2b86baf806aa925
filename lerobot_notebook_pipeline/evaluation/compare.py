"""Side-by-side comparison of trained policies: one row per policy, a markdown table and a figure."""

from __future__ import annotations

from matplotlib import colormaps
from matplotlib.figure import Figure

from lerobot_notebook_pipeline.evaluation.paired import format_comparison, paired_comparison, paired_outcomes
from lerobot_notebook_pipeline.evaluation.success import format_rate

COLUMNS = [("policy", "policy"), ("parameters_m", "params (M)"), ("s_per_step", "train s/step"),
           ("val_action_mae", "held-out action MAE"), ("success", "sim success (95% CI)"), ("distinct_initial_conditions", "start states"),
           ("p50_ms", "inference p50 (ms)"), ("effective_hz", "inference Hz"), ("keeps_up", "keeps up")]


def comparison_row(policy: str, train_summary: dict, rollout_metrics: dict) -> dict:
    """One policy's numbers from train.py's summary.json and visualize_policy.py's metrics.json."""
    best = train_summary.get("best") or {}
    inference = rollout_metrics["inference"]
    return {
        "policy": policy,
        "parameters_m": round(train_summary["parameters"] / 1e6, 3),
        "s_per_step": round(train_summary["s_per_step"], 4),
        "val_action_mae": best.get("val_action_mae"),
        "val_action_mae_per_joint": best.get("val_action_mae_per_joint"),
        "success": format_rate(rollout_metrics),
        **{key: rollout_metrics.get(key) for key in ("successes", "episodes", "pc_success", "ci95",
                                                     "distinct_initial_conditions", "stages")},
        "p50_ms": inference["all"]["p50_ms"],
        "effective_hz": inference["effective_hz"],
        "control_hz": inference["control_hz"],
        "keeps_up": inference["keeps_up"],
    }


def paired_against_first(rollouts: dict[str, dict]) -> list[dict]:
    """Each policy after the first against the first, paired by start: the difference, its interval, McNemar's p."""
    (first, reference), *others = rollouts.items()
    out = []
    for name, metrics in others:
        a, b = paired_outcomes(metrics["per_episode"], reference["per_episode"])
        summary = paired_comparison(a, b)
        out.append({"policy": name, "against": first, **summary, "line": format_comparison(summary, name, first)})
    return out


def markdown_table(rows: list[dict]) -> str:
    """The comparison as a markdown table."""
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row.get(key)) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def comparison_figure(rows: list[dict], joint_names: list[str] | None = None):
    """Bars for success, training and inference speed, and the held-out error per joint."""
    fig = Figure(figsize=(15, 3.4), dpi=90, layout="constrained")
    axes = fig.subplots(1, 4)
    names = [row["policy"] for row in rows]
    colors = colormaps["tab10"].colors[: len(rows)]
    for ax, key, title in zip(axes[:3], ["pc_success", "s_per_step", "effective_hz"],
                              ["sim success (%, 95% CI)", "training s/step", "inference Hz"], strict=True):
        ax.bar(names, [row[key] or 0 for row in rows], color=colors)
        ax.set_title(title)
    low_high = [row["ci95"] for row in rows]
    axes[0].errorbar(names, [row["pc_success"] for row in rows], fmt="none", ecolor="k", capsize=4,
                     yerr=[[row["pc_success"] - lo for row, (lo, _) in zip(rows, low_high, strict=True)],
                           [hi - row["pc_success"] for row, (_, hi) in zip(rows, low_high, strict=True)]])
    axes[0].set_xticks(range(len(rows)), [f"{row['policy']}\n{row['successes']}/{row['episodes']}" for row in rows])
    if rows and rows[0].get("control_hz"):
        axes[2].axhline(rows[0]["control_hz"], color="k", ls="--", lw=1, label="control rate")
        axes[2].legend(fontsize=8)
    for row, color in zip(rows, colors, strict=True):
        per_joint = row.get("val_action_mae_per_joint")
        if per_joint:
            axes[3].plot(per_joint, marker="o", ms=3, color=color, label=row["policy"])
    if joint_names:
        axes[3].set_xticks(range(len(joint_names)), joint_names, rotation=90, fontsize=6)
    axes[3].set_title("held-out action error per joint")
    axes[3].legend(fontsize=8)
    return fig
