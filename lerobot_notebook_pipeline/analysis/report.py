"""Turn the analysis results (a plain dict, also written as report.json) into report.md for people."""

from __future__ import annotations

from lerobot_notebook_pipeline.analysis.checks import SEVERITIES

ICONS = {"error": "ERROR", "warn": "WARN", "info": "info"}


def _table(rows: list[dict], columns: list[str]) -> list[str]:
    """A markdown table of the given columns."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value[:8]) + (" ..." if len(value) > 8 else "")
            cells.append("" if value is None else str(value).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def findings_lines(findings: list[dict], per_check: int = 3) -> list[str]:
    """Findings, worst first, one bullet each; past per_check of one check and severity, one line says how many more."""
    order = sorted(findings, key=lambda f: (-SEVERITIES.index(f["severity"]), f["check"], f["episode"] if f["episode"] is not None else -1))
    lines, shown = [], {}
    for f in order:
        group = (f["severity"], f["check"])
        shown[group] = shown.get(group, 0) + 1
        if shown[group] <= per_check:
            where = "" if f["episode"] is None else f" episode {f['episode']}" + ("" if f["frame"] is None else f", frame {f['frame']}")
            lines.append(f"- **{ICONS[f['severity']]}** `{f['check']}`{where}: {f['message']}")
        elif shown[group] == per_check + 1:
            more = sum(1 for g in findings if (g["severity"], g["check"]) == group) - per_check
            lines.append(f"- **{ICONS[f['severity']]}** `{f['check']}`: {more} more like these (all in report.json)")
    return lines or ["- no findings"]


def comparison_lines(comparison: dict) -> list[str]:
    """The --compare section: the verdict, then every measured difference, the riskiest first."""
    lines = [f"## Compared with the training data `{comparison['reference']}`", "", f"**Verdict:** {comparison['verdict']}", ""]
    rows = [{"risk": d["risk"], "check": d["check"], "what": d["subject"], "size": f"{d['size']:g} {d['unit']}",
             "finding": d["message"], "measured in simulation": d.get("cost_line")} for d in comparison["differences"]]
    priced = any(d.get("cost_line") for d in comparison["differences"])
    if rows:
        lines += _table(rows, ["risk", "check", "what", "size", "finding", *(["measured in simulation"] * priced)]) + [""]
    costs = comparison.get("costs") or {}
    if costs.get("note"):
        lines += [f"{costs['note']}.", ""]
    lines += ["Risk is a likely effect on the policy: where a simulation study measured a change of that kind, it comes "
              "from the success drop measured at that size (the study and robot are named, and on another robot it is "
              "a guide, not a measurement); elsewhere it is judged from the size of the difference. It is not a "
              "prediction of success. Every measurement is in report.json under `comparison`.", ""]
    return lines


def markdown_report(report: dict) -> str:
    """report.md: summary, features, cameras, quality findings, per-episode table, figures, media."""
    s = report["summary"]
    counts = report["counts"]
    lines = [f"# Dataset analysis: {report['dataset']}", ""]
    if report.get("converted_from"):
        lines += [f"Converted from v2.1 at `{report['converted_from']}` into `{report['root']}`.", ""]
    lines += [f"- episodes: {s['episodes']} analysed (of {s['episodes_in_dataset']})",
              f"- frames: {s['frames']} at {s['fps']:g} fps = {s['duration_s']} s (mean episode {s['mean_episode_s']} s)",
              f"- robot type: {s['robot_type']}; format {s['codebase_version']}",
              f"- tasks: {'; '.join(s['tasks']) or '(none)'}",
              f"- findings: {counts['error']} error, {counts['warn']} warn, {counts['info']} info",
              f"- tabular analysis took {report['timings_s']['tabular']:.2f} s (parquet only, no video decoded)", ""]
    if report.get("comparison"):
        lines += comparison_lines(report["comparison"])
    lines += ["## Quality checks", ""] + findings_lines(report["findings"]) + [""]
    if report.get("worst_episodes"):
        lines += ["## Worst episodes", "", "Each episode's quality score starts at 1.0 and drops with every distinct "
                  "problem found in it.", ""]
        lines += _table(report["worst_episodes"], ["episode", "score", "checks"]) + [""]
    if report.get("drop_command"):
        lines += ["Drop the episodes scoring under 0.6 into a new dataset next to this one (not run for you):", "",
                  "```bash", report["drop_command"], "```", ""]
    lines += ["## Features", ""] + _table(report["features"], ["key", "dtype", "shape", "names"]) + [""]
    if report["cameras"]:
        cams = [{**c, "missing": len(c["missing"])} for c in report["cameras"]]
        lines += ["## Cameras", ""] + _table(cams, ["key", "height", "width", "codec", "fps", "files", "missing"]) + [""]
    if report.get("normalization"):
        lines += ["## Normalization statistics (meta/stats.json)", ""]
        rows = [{"key": k, **v} for k, v in report["normalization"].items()]
        lines += _table(rows, ["key", "mean", "std", "min", "max"]) + [""]
    lines += ["## Episodes", ""]
    lines += _table(report["episodes"][:200], ["episode", "length", "seconds", "quality", "task", "action_path_length",
                                               "action_min", "action_max"]) + [""]
    if len(report["episodes"]) > 200:
        lines += [f"({len(report['episodes']) - 200} more in report.json)", ""]
    if report.get("figures"):
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in report["figures"]] + [""]
    if report.get("media"):
        lines += ["## Animation", ""]
        for item in report["media"]:
            lines.append(f"- `{item['path']}`: {item['size_mb']:.2f} MB (scale {item['scale']}, every {item['stride']} frame(s), "
                         f"{item['frames']} frames)")
        lines.append("")
    return "\n".join(lines)
