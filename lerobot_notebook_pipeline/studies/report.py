"""A study's plots and README, generated from its results: rates with 95% intervals, pooled over training seeds."""

from __future__ import annotations

from collections import Counter

from matplotlib.figure import Figure

from lerobot_notebook_pipeline.evaluation.success import format_rate, success_summary
from lerobot_notebook_pipeline.studies.definitions import PLACEMENT, QUESTIONS, TRAINED_WITHIN, hours
from lerobot_notebook_pipeline.studies.results import position_class

CLASSES = ("trained", "between", "outside")


def chosen_rate(result: dict, eval_name: str, replay: bool) -> dict | None:
    """A point's rate in one evaluation: the policy's, or (replay) its nearest-demo replay baseline's."""
    rate = result["evals"].get(eval_name)
    return (rate or {}).get("nearest_demo_replay") if replay else rate


def pooled(results: list[dict], keys: tuple[str, ...], eval_name: str, replay: bool = False) -> dict[tuple, dict]:
    """Rates per setting (the values of keys), episodes pooled over training seeds, with training_seeds.

    The replay baseline does not depend on the training seed, so it is counted once per setting."""
    groups: dict[tuple, dict] = {}
    for r in results:
        rate = chosen_rate(r, eval_name, replay)
        if rate is None:
            continue
        group = groups.setdefault(tuple(r["settings"][k] for k in keys), {"s": 0, "n": 0, "seeds": set()})
        if replay and group["n"]:
            continue
        group["s"] += rate["successes"]
        group["n"] += rate["episodes"]
        group["seeds"].add(r["settings"]["train_seed"])
    return {k: success_summary(g["s"], g["n"]) | {"training_seeds": len(g["seeds"])} for k, g in sorted(groups.items())}


def class_rates(results: list[dict], eval_name: str = "grid", replay: bool = False) -> dict[str, dict[str, dict]]:
    """Per layout, the success rate at trained positions, between them and outside them (pooled over seeds)."""
    counts: dict[str, dict] = {}
    for r in results:
        rate = chosen_rate(r, eval_name, replay)
        if rate is None or not r.get("training_starts"):
            continue
        if replay and r["settings"]["layout"] in counts:  # the same replays for every training seed: count once
            continue
        layout = counts.setdefault(r["settings"]["layout"], {c: [0, 0] for c in CLASSES} | {"seeds": set()})
        layout["seeds"].add(r["settings"]["train_seed"])
        for cell in rate["positions"]:
            tally = layout[position_class(cell["xy"], r["training_starts"])]
            tally[0] += cell["successes"]
            tally[1] += cell["episodes"]
    return {name: {c: success_summary(*t[c]) | {"training_seeds": len(t["seeds"])} for c in CLASSES}
            for name, t in counts.items()}


def _band(ax, xs, rates, label, **style):
    ys = [r["pc_success"] for r in rates]
    line, = ax.plot(xs, ys, marker="o", label=label, **style)
    ax.fill_between(xs, [r["ci95"][0] for r in rates], [r["ci95"][1] for r in rates], color=line.get_color(), alpha=0.15)
    return line


def _errorbars(ax, xs, rates, label):
    ys = [r["pc_success"] for r in rates]
    return ax.errorbar(xs, ys, yerr=[[y - r["ci95"][0] for y, r in zip(ys, rates, strict=True)],
                              [r["ci95"][1] - y for y, r in zip(ys, rates, strict=True)]],
                capsize=4, marker="o", label=label)


def demos_figure(results: list[dict]) -> Figure:
    """Success against the number of demos, one line per evaluation spread; and one exact pose against spread."""
    evals = list(results[0]["seeds"]["eval"]) if results else []
    same = pooled(results, ("placement", "demos"), evals[0]) if evals else {}
    has_same = any(k[0] == "same pose" for k in same)
    fig = Figure(figsize=(11 if has_same else 6.5, 5.2), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2 if has_same else 1, squeeze=False)[0]
    for name in evals:
        rates = {k[1]: v for k, v in pooled(results, ("placement", "demos"), name).items() if k[0] == "spread"}
        if rates:
            line = _band(axes[0], list(rates), list(rates.values()), name)
            replays = {k[1]: v for k, v in pooled(results, ("placement", "demos"), name, replay=True).items()
                       if k[0] == "spread"}
            if replays:
                axes[0].plot(list(replays), [v["pc_success"] for v in replays.values()], linestyle="--",
                             color=line.get_color(), alpha=0.8, label=f"{name}: nearest-demo replay")
    axes[0].set_xscale("log")
    counts = sorted({r["settings"]["demos"] for r in results})
    axes[0].set_xticks(counts, [str(c) for c in counts])
    axes[0].set(xlabel=f"demos (cube within +/-{100 * PLACEMENT:g} cm of the mark)", ylabel="success % (95% CI)",
                ylim=(-2, 102), title="Is one demonstration enough?")
    axes[0].legend(title="cube in the rollouts (dashed: no camera, replays the demo that started nearest)", fontsize=7,
                   title_fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    if has_same:
        for placement in ("same pose", "spread"):
            rates = {k[1]: v for k, v in same.items() if k[0] == placement and (("same pose", k[1]) in same)}
            _errorbars(axes[1], list(rates), list(rates.values()), placement)
        axes[1].set_xticks(sorted({k[1] for k in same if k[0] == "same pose"}))
        axes[1].set(xlabel="demos in total", ylabel="success % (95% CI)", ylim=(-2, 102),
                    title=f"one exact pose vs spread ({evals[0]})")
        axes[1].legend(fontsize=8)
    return fig


def heatmaps_figure(results: list[dict], eval_name: str = "grid") -> Figure:
    """A success heatmap per policy over the evaluation grid, the demos' start positions marked."""
    shown = [r for r in results if eval_name in r["evals"]]
    fig = Figure(figsize=(3.2 * max(1, len(shown)) + 0.8, 3.4), dpi=100, layout="constrained")
    axes = fig.subplots(1, max(1, len(shown)), squeeze=False)[0]
    image = None
    for ax, r in zip(axes, shown, strict=False):
        rate = r["evals"][eval_name]
        n, (x0, x1, y0, y1) = rate["spec"]["n"], rate["spec"]["bounds"]
        grid = [[cell["pc_success"] for cell in rate["positions"][row * n:(row + 1) * n]] for row in range(n)]
        half_x, half_y = (x1 - x0) / max(1, n - 1) / 2, (y1 - y0) / max(1, n - 1) / 2
        image = ax.imshow(grid, origin="lower", extent=(x0 - half_x, x1 + half_x, y0 - half_y, y1 + half_y),
                          vmin=0, vmax=100, cmap="RdYlGn")
        starts = r.get("training_starts") or []
        ax.scatter([s[0] for s in starts], [s[1] for s in starts], s=12, c="black", marker="x", label="demo starts")
        ax.set_title(f"{r['name']}\n{format_rate(rate)}", fontsize=8)
        ax.set_xlabel("cube x (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("cube y (m)", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="success %", shrink=0.8)
    return fig


def positions_figure(results: list[dict]) -> Figure:
    """Success against the layout of the demos, at trained positions, between them and outside them."""
    rates = class_rates(results)
    fig = Figure(figsize=(7, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    names = list(rates)
    labels = {"trained": "at a trained position", "between": "between (interpolation)",
              "outside": "outside (extrapolation)"}
    replays = class_rates(results, replay=True)
    for offset, cls in zip((-0.1, 0.0, 0.1), CLASSES, strict=True):
        shown = [(i, rates[name][cls]) for i, name in enumerate(names) if rates[name][cls]["episodes"]]
        if shown:
            bars = _errorbars(ax, [i + offset for i, _ in shown], [r for _, r in shown], labels[cls])
            copied = [(i, replays[name][cls]) for i, name in enumerate(names)
                      if name in replays and replays[name][cls]["episodes"]]
            ax.scatter([i + offset for i, _ in copied], [r["pc_success"] for _, r in copied], marker="x",
                       color=bars[0].get_color(), label=f"{labels[cls].split(' (')[0]}: nearest-demo replay")
    ax.set_xticks(range(len(names)), names)
    ax.set(xlabel="where the demos were", ylabel="success % (95% CI)", ylim=(-2, 102),
           title="How many cube positions?")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below the axes: clear of the data
    return fig


def results_table(results: list[dict]) -> str:
    """Every point and evaluation as a markdown table row."""
    lines = ["| point | evaluation | success | 95% CI | distinct starts | nearest-demo replay | training steps | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        training = r.get("training") or {}
        for name, rate in r["evals"].items():
            replay = rate.get("nearest_demo_replay")
            lines.append(f"| {r['name']} | {name} | {rate['successes']}/{rate['episodes']} = {rate['pc_success']:.0f}% "
                         f"| {rate['ci95'][0]:.0f}-{rate['ci95'][1]:.0f}% | {rate['distinct_initial_conditions']} "
                         f"| {short_rate(replay) if replay else ''} "
                         f"| {training.get('steps', '')} | {training.get('seconds', '')} |")
        if not r["evals"]:
            lines.append(f"| {r['name']} | ({r['status']}{': ' + r['error'] if r.get('error') else ''}) |  |  |  |  |  |  |")
    return "\n".join(lines) + "\n"


def compared(a: dict, b: dict) -> str:
    """'better than', 'worse than' or 'no different from': whether two rates' 95% intervals are apart."""
    if a["ci95"][0] > b["ci95"][1]:
        return "better than"
    if a["ci95"][1] < b["ci95"][0]:
        return "worse than"
    return "no different from"


def short_rate(summary: dict) -> str:
    """'11/30 (22-54%)': a rate and its 95% interval, for lists."""
    return f"{summary['successes']}/{summary['episodes']} ({summary['ci95'][0]:.0f}-{summary['ci95'][1]:.0f}%)"


def by_count(results: list[dict], name: str, placement: str = "spread", replay: bool = False) -> dict[int, dict]:
    """The demos study's rates in one evaluation by demo count, for one placement (pooled over training seeds)."""
    return {k[1]: v for k, v in pooled(results, ("placement", "demos"), name, replay).items() if k[0] == placement}


def fewest_enough(home: dict[int, dict]) -> tuple[int, int, int]:
    """The fewest demos, the best count, and the fewest whose 95% interval reaches the best's."""
    best_n = max(home, key=lambda n: (home[n]["pc_success"], -n))
    return min(home), best_n, min(n for n, r in home.items() if r["ci95"][1] >= home[best_n]["ci95"][0])


def demos_answer(results: list[dict]) -> str:
    """The demos study's answer, in words, from its results."""
    evals = list(results[0]["seeds"]["eval"])
    home, replay = by_count(results, evals[0]), by_count(results, evals[0], replay=True)
    if not home:
        return ""
    (fewest, best_n, enough), most = fewest_enough(home), max(home)
    text = (f"In the spread the demos were recorded in (cube within +/-{100 * PLACEMENT:g} cm of the mark), ACT trained "
            f"on {fewest} demo{'s' * (fewest > 1)} succeeded in {format_rate(home[fewest])}")
    if best_n == fewest:
        text += ("; no larger count did better (" + ", ".join(f"{n} demos {short_rate(r)}" for n, r in home.items()
                                                            if n != fewest) + ").")
    else:
        text += (f"; the best was {best_n} demos with {format_rate(home[best_n])}, and {enough} "
                 f"demo{'s' * (enough > 1)} already reach{'es' * (enough == 1)} its 95% interval.")
    if fewest in replay:
        verdict = compared(home[fewest], replay[fewest])
        text += (f" But replaying the nearest demo's recorded actions without the camera scored "
                 f"{format_rate(replay[fewest])} from {fewest} demo{'s' * (fewest > 1)}: the policy was {verdict} that "
                 "copied path" + (", so in this spread the gripper's tolerance, not what the network saw, decides the "
                                  "task." if verdict == "no different from" else "."))
    for name in evals[1:]:
        far, far_replay = by_count(results, name), by_count(results, name, replay=True)
        if far:
            low, high = min(r["successes"] for r in far.values()), max(r["successes"] for r in far.values())
            text += (f" With the cube {name}, ACT succeeded in {low} to {high} of {far[fewest]['episodes']} whatever the "
                     f"count ({fewest}: {short_rate(far[fewest])}, {most}: {short_rate(far[most])})")
            if fewest in far_replay and most in far_replay:
                text += (f"; replaying the nearest demo went from {short_rate(far_replay[fewest])} with {fewest} to "
                         f"{short_rate(far_replay[most])} with {most}, so with {most} demos ACT was "
                         f"{compared(far[most], far_replay[most])} that lookup")
            text += "."
    same = by_count(results, evals[0], placement="same pose")
    for n, rate in same.items():
        if n in home:
            text += (f" {n} demos at one exact pose gave {format_rate(rate)}, {compared(rate, home[n])} {n} demos spread "
                     f"around the mark ({format_rate(home[n])}).")
    farthest = by_count(results, evals[-1]) if len(evals) > 1 else {}
    if fewest in farthest and most in farthest:
        verdict = compared(farthest[most], farthest[fewest])
        text += (f" Farthest out ({evals[-1]}), {most} demos were {verdict} {fewest}"
                 + (": more demos widened the area the policy handles." if verdict == "better than" else
                    ": more demos in one small spread did not widen the area the policy handles by a margin these "
                    "intervals can show; demos at the positions you need are the next thing to try (the positions "
                    "study)."))
    return text


def grid_overview(results: list[dict]) -> str:
    """One sentence: the layouts with the most and the fewest successes on the whole grid, and where the replay did better."""
    policy = {k[0]: v for k, v in pooled(results, ("layout",), "grid").items()}
    replay = {k[0]: v for k, v in pooled(results, ("layout",), "grid", replay=True).items()}
    best = max(policy, key=lambda k: policy[k]["pc_success"])
    worst = min(policy, key=lambda k: policy[k]["pc_success"])
    with_replay = [k for k in policy if k in replay]
    better = [k for k in with_replay if replay[k]["pc_success"] > policy[k]["pc_success"]]
    apart = [k for k in better if compared(policy[k], replay[k]) == "worse than"]
    overlap = compared(policy[worst], policy[best]) == "no different from"
    said = (f"On the whole evaluation grid the policy succeeded most often with {best}, {short_rate(policy[best])}, "
            f"and least often with {worst}, {short_rate(policy[worst])}"
            + ("; their intervals overlap, so the grid does not tell these layouts apart." if overlap else "."))
    if with_replay:
        said += (f" Replaying the nearest demo did better at {len(better)} of {len(with_replay)} layouts"
                 + (f", with intervals apart at {', '.join(apart)}." if apart else "."))
    return said


def positions_answer(results: list[dict]) -> str:
    """The positions study's answer, in words, from its results."""
    parts = []
    replays = class_rates(results, replay=True)
    for name, rates in class_rates(results).items():
        said = [f"{label} {format_rate(rates[c])}" for c, label in (("trained", "at a trained position"),
                                                                  ("between", "between them"), ("outside", "outside"))
                if rates[c]["episodes"]]
        replay = replays.get(name)
        copied = (" (replaying the nearest demo without the camera: "
                  + ", ".join(f"{c} {short_rate(replay[c])}" for c in CLASSES if replay[c]["episodes"]) + ")"
                  if replay else "")
        parts.append(f"{name}: " + "; ".join(said) + copied)
    if not parts:
        return ""
    return (grid_overview(results) + " By where each grid position lies relative to the demos' start positions "
            f"(trained: within {100 * TRAINED_WITHIN:g} cm of one; between: inside their convex hull): "
            + ". ".join(parts) + ".")



# ------------------------------------------------------------------ the answer first: three sentences and a table


def plural(n: int, word: str) -> str:
    """'1 demo', '2 demos'."""
    return f"{n} {word}{'s' * (n != 1)}"


def listed(names: list) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = [str(n) for n in names]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def steps_trained(results: list[dict]) -> str:
    """The points' training step count: '2500', or '2500 to 5000' when they differ; '' when none trained."""
    steps = sorted({r["training"]["steps"] for r in results if (r.get("training") or {}).get("steps")})
    return "" if not steps else f"{steps[0]}" if len(steps) == 1 else f"{steps[0]} to {steps[-1]}"


def seeds_behind(rates: dict, unit: str) -> str:
    """The training seeds behind pooled rates: '1 training seed per layout', or '2 training seeds for X, 1 for the others'."""
    counts = {name: rate["training_seeds"] for name, rate in rates.items()}
    low, high = min(counts.values()), max(counts.values())
    if low == high:
        return f"{plural(low, 'training seed')} per {unit}"
    named = {n: [name for name, c in counts.items() if c == n] for n in sorted(set(counts.values()), reverse=True)}
    return ", ".join(f"{plural(n, 'training seed')} for {listed(names)}" for n, names in list(named.items())[:-1]) \
        + f", {low} for the others"


def placement_label(placement: str) -> str:
    """How the demos study's placement setting reads: 'within +/-1.5 cm' or 'at one exact pose'."""
    return {"spread": f"within +/-{100 * PLACEMENT:g} cm", "same pose": "at one exact pose"}.get(placement, placement)


def demos_summary(results: list[dict]) -> str:
    """The demos study's answer in at most three sentences: is the fewest enough, is it more than copying, and farther out."""
    evals = list(results[0]["seeds"]["eval"])
    home, replay = by_count(results, evals[0]), by_count(results, evals[0], replay=True)
    if not home:
        return ""
    (fewest, best_n, enough), most = fewest_enough(home), max(home)
    trained = f"{steps_trained(results)} training steps and " if steps_trained(results) else ""
    seeds = seeds_behind({f"{plural(n, 'demo')} {placement_label(placement)}": v
                          for (placement, n), v in pooled(results, ("placement", "demos"), evals[0]).items()}, "setting")
    where = f"the spread the demos came from (cube within +/-{100 * PLACEMENT:g} cm of the mark)"
    basis = f"with {trained}{seeds}, ACT on {plural(fewest, 'demo')} succeeded in {short_rate(home[fewest])}"
    said = [f"Within {where}, yes: {basis}, and no count did better by a margin the 95% intervals show "
            f"({plural(most, 'demo')}: {short_rate(home[most])})."
            if enough == fewest else
            f"Within {where}, not with {plural(fewest, 'demo')}: {basis}, and {enough} demos were the fewest to reach the "
            f"95% interval of the best, {plural(best_n, 'demo')} with {short_rate(home[best_n])}."]
    if fewest in replay:
        verdict, copied = compared(home[fewest], replay[fewest]), short_rate(replay[fewest])
        which = "that demo's" if fewest == 1 else "the nearest of those demos'"
        said.append(f"But replaying {which} recorded actions without the camera also succeeded in {copied}: in this "
                    "spread the task tolerates a copied path, and the policy was no different from copying it."
                    if verdict == "no different from" else
                    f"Replaying {which} recorded actions without the camera succeeded in {copied}, so the policy was "
                    f"{verdict} copying a path.")
    far = by_count(results, evals[-1]) if len(evals) > 1 else {}
    if fewest in far and most in far:
        wider = compared(far[most], far[fewest]) == "better than"
        said.append(("More demos widened where ACT works" if wider else
                     "More demos in that spread did not widen where ACT works")
                    + f": with the cube {evals[-1]}, {plural(most, 'demo')} gave {short_rate(far[most])} and "
                    f"{plural(fewest, 'demo')} {short_rate(far[fewest])}.")
    return " ".join(said)


def positions_summary(results: list[dict]) -> str:
    """The positions study's answer in at most three sentences: which layout did best, against the replay, and where."""
    policy = {k[0]: v for k, v in pooled(results, ("layout",), "grid").items()}
    if not policy:
        return ""
    replay = {k[0]: v for k, v in pooled(results, ("layout",), "grid", replay=True).items()}
    best = max(policy, key=lambda k: policy[k]["pc_success"])
    others = sorted((k for k in policy if k != best), key=lambda k: -policy[k]["pc_success"])
    apart = [k for k in others if compared(policy[best], policy[k]) == "better than"]
    at = f"At {steps_trained(results)} training steps ({seeds_behind(policy, 'layout')})," if steps_trained(results) \
        else f"With {seeds_behind(policy, 'layout')},"
    if not apart:
        low, high = (f"{policy[k]['successes']}/{policy[k]['episodes']}" for k in (others[-1] if others else best, best))
        said = [f"{at} no layout stood out: on the whole evaluation grid they scored {low} to {high}, with overlapping "
                f"95% intervals (best: {best}, {short_rate(policy[best])})."]
    elif len(apart) == len(others):
        said = [f"{at} demos at {best} did best: {short_rate(policy[best])} of the whole evaluation grid, its 95% "
                f"interval clear of every other layout's (next: {others[0]}, {short_rate(policy[others[0]])})."]
    else:
        close = [k for k in others if k not in apart]
        said = [f"{at} demos at {best} did best on the whole evaluation grid, {short_rate(policy[best])}, clearly "
                f"better only than {listed([f'{k} ({short_rate(policy[k])})' for k in apart])}; its 95% interval "
                f"overlaps those of {listed(close)}."]
    if best in replay:
        better = [k for k in policy if k in replay and replay[k]["pc_success"] > policy[k]["pc_success"]]
        beaten = [k for k in better if compared(policy[k], replay[k]) == "worse than"]
        said.append(f"Replaying the nearest demo without the camera, which is told where the cube is, did better at "
                    f"{len(better)} of {len([k for k in policy if k in replay])} layouts"
                    + (f", with intervals apart at {listed(beaten)}" if beaten else "")
                    + f"; with {best} the policy was {compared(policy[best], replay[best])} it "
                    f"({short_rate(replay[best])}).")
    if apart:
        where = class_rates(results)[best]
        labels = {"trained": f"within {100 * TRAINED_WITHIN:g} cm of a demo's start", "between": "between the starts",
                  "outside": "outside them"}
        parts = [f"{short_rate(where[c])} {labels[c]}" for c in CLASSES if where[c]["episodes"]]
        said.append(f"With {best} ACT succeeded in " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "")
                    + parts[-1] + ".")
    return " ".join(said)


def demos_table(results: list[dict]) -> str:
    """The demos study at a glance: per demo count, ACT and the nearest-demo replay in every evaluation."""
    evals = list(results[0]["seeds"]["eval"])
    head = "| demos | " + " | ".join(f"{name}: ACT | replay" for name in evals) + " | training seeds |"
    lines = [head, "|---" * (2 + 2 * len(evals)) + "|"]
    rates = {name: pooled(results, ("placement", "demos"), name) for name in evals}
    replays = {name: pooled(results, ("placement", "demos"), name, replay=True) for name in evals}
    for placement, n in sorted(rates[evals[0]], key=lambda k: (k[0] != "spread", k[1])):
        where = placement_label(placement)
        cells = [cell for name in evals for cell in (
            short_rate(rates[name][(placement, n)]) if (placement, n) in rates[name] else "",
            short_rate(replays[name][(placement, n)]) if (placement, n) in replays[name] else "")]
        lines.append(f"| {n} {where} | " + " | ".join(cells) + f" | {rates[evals[0]][(placement, n)]['training_seeds']} |")
    return "\n".join(lines) + "\n"


def positions_table(results: list[dict]) -> str:
    """The positions study at a glance: per layout, the whole grid, its replay, and trained / between / outside."""
    policy = {k[0]: v for k, v in pooled(results, ("layout",), "grid").items()}
    replay = {k[0]: v for k, v in pooled(results, ("layout",), "grid", replay=True).items()}
    classes = class_rates(results)
    lines = ["| demos at | whole grid: ACT | replay | at a trained position | between them | outside them "
             "| training seeds |", "|---|---|---|---|---|---|---|"]
    for name, rate in policy.items():
        where = classes.get(name, {})
        cells = [short_rate(where[c]) if c in where and where[c]["episodes"] else "no grid cell" for c in CLASSES]
        lines.append(f"| {name} | {short_rate(rate)} | {short_rate(replay[name]) if name in replay else ''} | "
                     + " | ".join(cells) + f" | {rate['training_seeds']} |")
    return "\n".join(lines) + "\n"


CAVEATS = {
    "demos": [
        "One training seed per point unless the table says more: ACT's result can move by several points between seeds.",
        "The demos are scripted (IK waypoints with 5 mm noise), not a person's; people vary more and less evenly.",
        "Every point trains for the same step count; fewer demos might need fewer steps (or more).",
        "The spread evaluation draws the cube uniformly within the square +/-1.5 cm; the farther ones put it on a "
        "circle around the mark, so directions where the arm reaches less well count as much as easy ones.",
        "The nearest-demo replay is told where the cube is (it picks the demo by the true start position); the policy "
        "has to see it in 64x85 pixels. It is a yardstick for how much the demos alone could do, not a method.",
    ],
    "positions": [
        "One training seed per layout unless the table says more.",
        "Each grid position is one rollout from that exact position (a deterministic policy repeats itself there).",
        "'Between' and 'outside' depend on the demos' actual start positions, which spread +/-1.5 cm around each mark.",
        "A fixed total of demos: more demos per position might close the gap between layouts.",
        "Training length: every layout trains for the same step count, and ACT's loss was still falling at the end. "
        "The committed runs at 2500, 5000 and 10000 steps (experiments/positions, positions-5k-steps, "
        "positions-10k-steps) give different answers; `--steps` reruns the study at another count on the same data.",
        "The nearest-demo replay is told where the cube is (it picks the demo by the true start position); the policy "
        "has to see it. It shows how far the demos alone reach, not a method to use.",
    ],
}


def describe_eval(spec: dict) -> str:
    """Where an evaluation starts the cube, and with which reset seeds."""
    if spec["kind"] == "grid":
        x0, x1, y0, y1 = spec["bounds"]
        return (f"{spec['n']}x{spec['n']} grid of exact cube positions over x {x0}..{x1}, y {y0}..{y1} (m), "
                f"one rollout per position ({spec['episodes']} in all), reset seeds from {spec['seed']}")
    x, y = spec["cube_pose"]
    where = (f"evenly spaced on the circle of {100 * spec['radius']:g} cm around" if spec["kind"] == "ring" else
             f"drawn uniformly within +/-{100 * spec['radius']:g} cm of")
    return f"{spec['episodes']} rollouts, the cube {where} ({x}, {y}), reset seeds {spec['seed']}..{spec['seed'] + spec['episodes'] - 1}"


def setup_lines(points: list[dict]) -> list[str]:
    """The settings every point shares, and how each is evaluated (the same seeds for every policy)."""
    first, train = points[0]["recordings"][0], points[0]["train"]
    seeds = sorted({p["train"]["seed"] for p in points})
    return [f"- Data: scripted transfer-cube demos in MuJoCo, {first['image_size'][0]}x{first['image_size'][1]} images, "
            f"{first['episode_length']} frames each, {1000 * first['waypoint_noise']:g} mm noise on the expert's "
            "waypoints; where each point's demos start is in its name and in results.json.",
            f"- Training: {train['policy']} (`{train['preset']}` preset), {train['steps']} steps at batch "
            f"{train['batch_size']} for every point, no held-out episodes, training seed(s) {seeds}.",
            *[f"- Evaluation '{name}': {describe_eval(spec)}; the same for every policy."
              for name, spec in points[0]["evals"].items()]]


def data_check_line(results: list[dict]) -> str:
    """What analyse_dataset's near-duplicate check found in the episodes each point trained on, in one line."""
    checked = [r for r in results if r.get("data_check")]
    if not checked:
        return "- Data check: pending (no point has its data yet)."
    flagged = [f"{r['name']}: {len(r['data_check']['near_duplicate'])} of {r['data_check']['episodes']} episodes"
               for r in checked if r["data_check"]["near_duplicate"]]
    spreads = [100 * r["data_check"]["trajectory_spread"] for r in checked if r["data_check"]["episodes"] > 1]
    spread = f"; paths differ by {min(spreads):.0f}-{max(spreads):.0f}% of the joint ranges (RMS)" if spreads else ""
    found = ("near-duplicate warnings in " + "; ".join(flagged)) if flagged else "no near-duplicate warnings"
    return (f"- Data check (analyse_dataset's near_duplicate check on the episodes each point trains on, "
            f"{len(checked)} of {len(results)} points): {found}{spread}.")


def seeds_per_setting(results: list[dict]) -> str:
    """How many training seeds stand behind each setting: '1', or '1 to 2' when settings differ."""
    counts = Counter(tuple(sorted((k, v) for k, v in r["settings"].items() if k != "train_seed")) for r in results)
    low, high = min(counts.values()), max(counts.values())
    return f"{low}" if low == high else f"{low} to {high}"


def study_readme(study: str, points: list[dict], results: list[dict], machine: dict, plan: dict, command: str,
                 smoke: bool) -> str:
    """The study's README, answer first: three sentences and a table, then the evidence, caveats, setup and every point."""
    finished = [r for r in results if "eval" in r["finished"]]
    answer = {"demos": demos_answer, "positions": positions_answer}[study](finished) if finished else ""
    compute = sum(sum(r["compute_s"].values()) for r in results)
    seeds = seeds_per_setting(results)
    lines = [f"# {QUESTIONS[study]}", ""]
    if smoke:
        lines += ["**Smoke run**: tiny settings that test the machinery; these numbers answer nothing.", ""]
    if len(finished) < len(results) or not answer:
        lines += [f"**Results pending**: {len(finished)} of {len(results)} points are evaluated; the whole study needs "
                  f"about {hours(plan['expected_s'])} of compute on a 2-core CPU ({plan['steps']} distinct steps).", ""]
    if answer:
        gpu = f", one {machine['gpu']} shared by all jobs" if machine.get("gpu") else ""
        summary, table = SUMMARIES[study]
        lines += [summary(finished), "", table(finished), "## The evidence", "",
                  answer + f" It took {hours(compute)} of compute (every step's wall time added up, "
                  f"{machine['workers']} at a time) on {machine['cpu']} ({machine['cores']} cores, "
                  f"{machine['torch_threads_per_job']} torch thread(s) per job{gpu}), with {seeds} training "
                  "seed(s) per setting.", "", *[line for p in FIGURES[study] for line in (f"![{p}]({p})", "")]]
    lines += ["## What could change the answer", "", *[f"- {c}" for c in CAVEATS[study]], "",
              "## The setup", "", *setup_lines(points), data_check_line(results), "",
              "## Every point", "", results_table(results),
              ("Plots: " if finished else "Plots, once points are evaluated: ")
              + ", ".join(f"[{p}]({p})" for p in FIGURES[study]), "",
              "## Run it", "", "In the background, with its output in a log (a rerun resumes where it stopped):", "",
              "```bash", f"mkdir -p outputs && nohup .venv/bin/{command} > outputs/experiments-{study}.log 2>&1 &",
              "```", ""]
    return "\n".join(lines)


FIGURES = {"demos": {"success_vs_demos.png": demos_figure},
           "positions": {"heatmaps.png": heatmaps_figure, "success_vs_positions.png": positions_figure}}
SUMMARIES = {"demos": (demos_summary, demos_table), "positions": (positions_summary, positions_table)}
