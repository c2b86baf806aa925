"""A study's plots and README, generated from its results: rates with 95% intervals, pooled over training seeds."""

from __future__ import annotations

import math
from collections import Counter

from matplotlib.figure import Figure
from matplotlib.patches import Circle

from lerobot_notebook_pipeline.evaluation.paired import paired_comparison, unpaired_difference
from lerobot_notebook_pipeline.evaluation.success import format_rate, success_summary
from lerobot_notebook_pipeline.studies.definitions import (
    PLACEMENT,
    QUESTIONS,
    ROBOT_NAMES,
    TRAINED_WITHIN,
    hours,
    spec_robot,
)
from lerobot_notebook_pipeline.studies.results import SHRUG_POINTS, factor_curves, position_class, seed_agreement
from lerobot_notebook_pipeline.studies.results import robustness_summary as conditions_summary

CLASSES = ("trained", "between", "outside")
ROBOT = {robot: f"{name} in simulation" for robot, name in ROBOT_NAMES.items()}
ROBOT_SHORT = {"aloha": f"simulated {ROBOT_NAMES['aloha']}", "so101": f"the simulated {ROBOT_NAMES['so101']}"}


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
        group = groups.setdefault(tuple(r["settings"][k] for k in keys), {"s": 0, "n": 0, "seeds": set(), "outcomes": {}})
        if replay and group["n"]:
            continue
        group["s"] += rate["successes"]
        group["n"] += rate["episodes"]
        group["seeds"].add(r["settings"]["train_seed"])
        group["outcomes"].update(start_outcomes(rate, None if replay else r["settings"]["train_seed"]))
    return {k: success_summary(g["s"], g["n"]) | {"training_seeds": len(g["seeds"]), "outcomes": g["outcomes"]}
            for k, g in sorted(groups.items())}


def start_outcomes(rate: dict, train_seed: int | None) -> dict[tuple, bool]:
    """Success per (training seed, grid position) when each position ran one episode, else {}; the replay, which no
    training seed changes, gets None for its seed (so it never pairs with a policy's seed)."""
    cells = rate.get("positions") or []
    if not cells or any(c["episodes"] != 1 for c in cells):
        return {}
    return {(train_seed, *(round(v, 4) for v in c["xy"])): bool(c["successes"]) for c in cells}


def starts_placed(xy, settings: dict) -> bool:
    """Whether a grid position already lies on the SO-101 target (the cube starts placed): not counted in any class."""
    if "target_x" not in settings:
        return False
    return math.dist(xy, (settings["target_x"], settings["target_y"])) <= settings["target_radius"] + 1e-9


def class_rates(results: list[dict], eval_name: str = "grid", replay: bool = False) -> dict[str, dict[str, dict]]:
    """Per layout, the success rate at trained positions, between them and outside them (pooled over seeds);
    positions on the SO-101 target are left out."""
    counts: dict[str, dict] = {}
    for r in results:
        rate = chosen_rate(r, eval_name, replay)
        if rate is None or not r.get("training_starts"):
            continue
        if replay and r["settings"]["layout"] in counts:  # the same replays for every training seed: count once
            continue
        layout = counts.setdefault(r["settings"]["layout"], {c: [0, 0] for c in CLASSES} | {"seeds": set()})
        layout["seeds"].add(r["settings"]["train_seed"])
        for cell in (c for c in rate["positions"] if not starts_placed(c["xy"], r["settings"])):
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
    """A success heatmap per policy over the evaluation grid (a row per training seed, a column per layout), the
    demos' start positions marked; on the SO-101 also the pencil marks and the centre target."""
    from lerobot_notebook_pipeline.studies.definitions import so101_layouts

    shown = [r for r in results if eval_name in r["evals"]]
    seeds = sorted({r["settings"]["train_seed"] for r in shown}) or [0]
    layouts = list(dict.fromkeys(r["settings"]["layout"] for r in shown)) or [""]
    fig = Figure(figsize=(3.2 * len(layouts) + 0.8, 3.4 * len(seeds)), dpi=100, layout="constrained")
    axes = fig.subplots(len(seeds), len(layouts), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    image = None
    for r in shown:
        ax = axes[seeds.index(r["settings"]["train_seed"]), layouts.index(r["settings"]["layout"])]
        ax.axis("on")
        rate = r["evals"][eval_name]
        n, (x0, x1, y0, y1) = rate["spec"]["n"], rate["spec"]["bounds"]
        grid = [[cell["pc_success"] for cell in rate["positions"][row * n:(row + 1) * n]] for row in range(n)]
        half_x, half_y = (x1 - x0) / max(1, n - 1) / 2, (y1 - y0) / max(1, n - 1) / 2
        image = ax.imshow(grid, origin="lower", extent=(x0 - half_x, x1 + half_x, y0 - half_y, y1 + half_y),
                          vmin=0, vmax=100, cmap="RdYlGn")
        starts = r.get("training_starts") or []
        ax.scatter([s[0] for s in starts], [s[1] for s in starts], s=12, c="black", marker="x", label="demo starts")
        if "target_x" in r["settings"]:  # SO-101: the pencil marks on the table, and where the cube must go
            marks = so101_layouts()["4 marks"]
            ax.scatter([m[0] for m in marks], [m[1] for m in marks], s=60, facecolors="none", edgecolors="blue",
                       label="pencil marks")
            target = (r["settings"]["target_x"], r["settings"]["target_y"])
            ax.add_patch(Circle(target, r["settings"]["target_radius"], fill=False, color="blue"))
        ax.set_title(f"{r['name']}\n{format_rate(rate)}", fontsize=8)
        ax.set_xlabel("cube x (m)", fontsize=8)
        ax.set_ylabel("cube y (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    if image is not None:
        fig.colorbar(image, ax=list(axes.ravel()), label="success %", shrink=0.8)
        axes[0, 0].legend(fontsize=6, loc="lower left")
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


def difference(a: dict, b: dict) -> dict:
    """A's rate minus B's in points, with its 95% interval: paired by (training seed, grid position) when both hold
    outcomes there (Newcombe, McNemar's p), else Newcombe's interval for different starts."""
    shared = [k for k in a.get("outcomes", {}) if k in b.get("outcomes", {})]
    if shared:
        return paired_comparison([a["outcomes"][k] for k in shared], [b["outcomes"][k] for k in shared])
    return unpaired_difference(a, b)


def compared(a: dict, b: dict) -> str:
    """'better than', 'worse than' or 'no different from': whether the 95% interval of A's rate minus B's excludes 0."""
    low, high = difference(a, b)["ci95_points"]
    return "better than" if low > 0 else "worse than" if high < 0 else "no different from"


def said_difference(a: dict, b: dict) -> str:
    """'+4 points (95% CI -9 to +18), 49 paired starts, McNemar p 0.75', or '..., from different starts'."""
    d = difference(a, b)
    return change_text(d) + (f", {d['pairs']} paired starts, McNemar p {p_text(d['mcnemar_p'])}" if "pairs" in d
                             else ", from different starts")


def short_rate(summary: dict) -> str:
    """'11/30 (22-54%)': a rate and its 95% interval, for lists."""
    return f"{summary['successes']}/{summary['episodes']} ({summary['ci95'][0]:.0f}-{summary['ci95'][1]:.0f}%)"


def by_count(results: list[dict], name: str, placement: str = "spread", replay: bool = False) -> dict[int, dict]:
    """The demos study's rates in one evaluation by demo count, for one placement (pooled over training seeds)."""
    return {k[1]: v for k, v in pooled(results, ("placement", "demos"), name, replay).items() if k[0] == placement}


def fewest_enough(home: dict[int, dict]) -> tuple[int, int, int]:
    """The fewest demos, the best count, and the fewest not worse than the best by the difference's 95% interval."""
    best_n = max(home, key=lambda n: (home[n]["pc_success"], -n))
    return min(home), best_n, min(n for n, r in home.items() if compared(r, home[best_n]) != "worse than")


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
                 f"demo{'s' * (enough > 1)} already {'were' if enough > 1 else 'was'} no worse by the 95% interval of the "
                 "difference.")
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
                    ": more demos in one small spread did not widen the area the policy handles by a margin the "
                    "difference's 95% interval can show; demos at the positions you need are the next thing to try (the positions "
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
    same = compared(policy[best], policy[worst]) == "no different from"
    said = (f"On the whole evaluation grid the policy succeeded most often with {best}, {short_rate(policy[best])}, "
            f"and least often with {worst}, {short_rate(policy[worst])}; {best} - {worst}: "
            f"{said_difference(policy[best], policy[worst])}"
            + (", so the grid does not tell these layouts apart." if same else "."))
    if with_replay:
        said += (f" Replaying the nearest demo did better at {len(better)} of {len(with_replay)} layouts"
                 + (f", by a difference whose 95% interval excludes 0 at {', '.join(apart)}." if apart else "."))
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
    return (grid_overview(results) + seed_spread(results) + " By where each grid position lies relative to the "
            f"demos' start positions (trained: within {100 * TRAINED_WITHIN:g} cm of one; between: inside their convex "
            "hull): " + ". ".join(parts) + ".")


def seed_spread(results: list[dict], eval_name: str = "grid") -> str:
    """' Seed by seed, the training seeds gave: 9 marks 40, 26 and 34 of 49 (a 29-point range, ...); ...' for the
    layouts trained on more than one seed, or ''."""
    by_layout: dict[str, list[dict]] = {}
    for r in sorted(results, key=lambda r: r["settings"]["train_seed"]):
        rate = chosen_rate(r, eval_name, False)
        if rate is not None:
            by_layout.setdefault(r["settings"]["layout"], []).append(rate)
    said = []
    for layout, rates in by_layout.items():
        if len(rates) > 1:
            agree = seed_agreement(rates)
            said.append(f"{layout} {listed([r['successes'] for r in rates])} of {rates[0]['episodes']} "
                        f"(a {agree['range_points']:.0f}-point range, "
                        + ("wider" if agree["wider_than_episode_interval"] else "no wider")
                        + f" than one seed's 95% interval of about {agree['episode_interval_points']:.0f} points)")
    return " Seed by seed, the training seeds gave: " + "; ".join(said) + "." if said else ""



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
    said = [f"Within {where}, yes: {basis}, and no count did better by a margin the difference's 95% interval shows "
            f"({plural(most, 'demo')}: {short_rate(home[most])})."
            if enough == fewest else
            f"Within {where}, not with {plural(fewest, 'demo')}: {basis}, and {enough} demos were the fewest not clearly worse "
            f"than the best, {plural(best_n, 'demo')} with {short_rate(home[best_n])}."]
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


def robot_of(items: list[dict]) -> str:
    """The robot of a study's points or results: 'so101' when their settings say so, else 'aloha'."""
    return "so101" if items and items[0]["settings"].get("robot") == "so101" else "aloha"


def marks_answer(results: list[dict]) -> str:
    """The SO-101 question in one sentence: can the policy trained at the 4 pencil marks pick there and place in the
    centre, and what happens between and beyond them."""
    where = class_rates(results).get("4 marks")
    if not where:
        return ""
    demos = next(len(r["training_starts"]) for r in results if r["settings"].get("layout") == "4 marks")
    wide = class_rates(results, "wide").get("4 marks")  # the SO-101 study's grid beyond the marks, when it ran
    classes = [("trained", "at the marks"), ("between", "between them"), *([] if wide else [("outside", "beyond them")])]
    said = [f"{short_rate(where[c])} {label}" for c, label in classes if where[c]["episodes"]]
    if wide and wide["outside"]["episodes"]:
        said.append(f"{short_rate(wide['outside'])} beyond them, on a wider grid up to 7 cm past the marks")
    return ("Can one policy pick the cube at 4 pencil marks and put it in the centre? On the simulated SO-101, ACT "
            f"trained on {demos} demos at the 4 marks succeeded {listed(said)} (grid positions already on the target "
            "left out).")


def positions_summary(results: list[dict]) -> str:
    """The positions study's answer in at most three sentences (four on SO-101, the marks' question first): which
    layout did best, against the replay, and where."""
    policy = {k[0]: v for k, v in pooled(results, ("layout",), "grid").items()}
    if not policy:
        return ""
    if robot_of(results) == "so101":
        return " ".join(filter(None, [marks_answer(results), aloha_positions_summary(results, policy)]))
    return aloha_positions_summary(results, policy)


def aloha_positions_summary(results: list[dict], policy: dict) -> str:
    """Which layout did best on the whole grid, against the replay, and where (the positions study's sentences)."""
    replay = {k[0]: v for k, v in pooled(results, ("layout",), "grid", replay=True).items()}
    best = max(policy, key=lambda k: policy[k]["pc_success"])
    others = sorted((k for k in policy if k != best), key=lambda k: -policy[k]["pc_success"])
    apart = [k for k in others if compared(policy[best], policy[k]) == "better than"]
    at = f"At {steps_trained(results)} training steps ({seeds_behind(policy, 'layout')})," if steps_trained(results) \
        else f"With {seeds_behind(policy, 'layout')},"
    if not apart:
        low, high = (f"{policy[k]['successes']}/{policy[k]['episodes']}" for k in (others[-1] if others else best, best))
        said = [f"{at} no layout stood out: on the whole evaluation grid they scored {low} to {high}, and no "
                f"difference from the best excluded 0 from its 95% interval (best: {best}, {short_rate(policy[best])})."]
    elif len(apart) == len(others):
        said = [f"{at} demos at {best} did best: {short_rate(policy[best])} of the whole evaluation grid, clearly "
                f"better than every other layout (next: {others[0]}, {short_rate(policy[others[0]])}, "
                f"{change_text(difference(policy[best], policy[others[0]]))})."]
    else:
        close = [k for k in others if k not in apart]
        said = [f"{at} demos at {best} did best on the whole evaluation grid, {short_rate(policy[best])}, clearly "
                f"better only than {listed(apart)}; not clearly better than {listed(close)} ({close[0]}: "
                f"{short_rate(policy[close[0]])}, {change_text(difference(policy[best], policy[close[0]]))})."]
    if best in replay:
        better = [k for k in policy if k in replay and replay[k]["pc_success"] > policy[k]["pc_success"]]
        beaten = [k for k in better if compared(policy[k], replay[k]) == "worse than"]
        said.append(f"Replaying the nearest demo without the camera, which is told where the cube is, did better at "
                    f"{len(better)} of {len([k for k in policy if k in replay])} layouts"
                    + (f", clearly at {listed(beaten)}" if beaten else "")
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


# What limits any robustness study's answer, on either robot.
ROBUSTNESS_LIMITS = [
    "Each factor is measured at two magnitudes, so the 50% point is a straight line between measured points, "
    "not a fitted curve; where success never fell below 50% the breaking size lies beyond what was measured.",
    "Pooled paired intervals treat the seeds' 30 starts each as 90 pairs; they show the episode noise, and the "
    "seed columns show how much retraining moves each rate.",
]
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
    "positions-so101": [
        "Simulation only: a MuJoCo SO-101 (MuJoCo Menagerie's model) with a scripted expert, boxy fast-render "
        "geometry and no real camera noise; these results make no claim about the real arm.",
        "One training seed per layout unless the table says more.",
        "Each grid position is one rollout from that exact position (a deterministic policy repeats itself there).",
        "Grid positions within 2 cm of the target start already placed (success at the first step); they are left "
        "out of 'trained', 'between' and 'outside' but counted in the whole-grid rate.",
        "The 9-mark layout's centre mark is the target itself, so its demos there pick the cube up and put it back.",
        "The table shows the user's 4 pencil marks in every layout; only where the demos start differs.",
        "The fine grid spans the square plus 1 cm, all of it within the demos' spread round the marks, so 'beyond "
        "them' comes from a second 7x7 grid over x 0.14-0.30 m and y -0.12 to 0.12 m: up to 5 cm past the marks in x "
        "and 7 cm in y, but not below x 0.14 m, where the expert's reach ends.",
        "'Between' and 'outside' depend on the demos' actual start positions, which spread +/-1.5 cm around each mark.",
        "A fixed total of demos and one step count for every layout; `--steps` reruns at another count on the same data.",
        "The nearest-demo replay is told where the cube is (it picks the demo by the true start position); the policy "
        "has to see it with its front and wrist cameras. It shows how far the demos alone reach, not a method to use.",
    ],
    "robustness": [
        f"One robot and task: {ROBOT['aloha']} (`--robot so101` runs the same study on "
        "the SO-101, into experiments/robustness-so101). These are simulation results; they do not claim that a real robot "
        "loses or keeps success the same way (real cameras, lights and calibration drift differ from these edits).",
        "One policy recipe (`make demo`: 20 scripted demos within +/-1.5 cm of the mark, `cpu` ACT, 2500 steps); "
        "one shared recording, so the training seeds differ in training only, not in the demos they saw.",
        *ROBUSTNESS_LIMITS,
        "Not measured on this robot (compute budget): camera tilt, table height, cube size and colour, light direction, "
        "distractors and delays; `--robot so101` measures them on the SO-101.",
        "When the table moves, the camera stays where it was (it would otherwise follow the table), so the image shows "
        "the table and cube moved; the cube keeps its place on the table.",
        "joint_offset shifts what the policy reads for joint 0 (the left arm's waist) in radians; the arm itself is "
        "not moved.",
    ],
    "robustness-so101": [
        f"One robot and task: {ROBOT['so101']} (MuJoCo Menagerie's model, a scripted expert, boxy fast-render "
        "geometry, no real camera noise); these results make no claim about the real arm.",
        "The policies are the positions study's 4-mark ones (experiments/positions-so101): the `make demo ROBOT=so101` "
        "recipe's 40 demos, 10 per pencil mark within +/-1.5 cm, and its ACT settings, trained on all 40 and rolled "
        "out from the last checkpoint (`make demo` holds 4 out and rolls out the best); the training seeds share the "
        "demos and differ in training only.",
        *ROBUSTNESS_LIMITS,
        "When the table moves, the centre target and the pencil marks drawn on it move with it and the cube keeps its "
        "place by them; the robot and the front camera stay (the wrist camera rides on the arm).",
        "joint_offset shifts what the policy reads for joint 0 (shoulder_pan) in degrees; the arm itself is not moved.",
        "The distractor is a free purple block standing 8 or 4 cm from the cube's start; its size is a distance, so it "
        "has no curve and no 50% point (no block is not a distance of zero). Delays are in control steps (30 per "
        "second): an observation that is old, or an action applied late, by that many steps.",
    ],
    "noise": [
        f"One robot and task: {ROBOT['aloha']}; a real arm's noise, cameras and lights differ, and these results make no "
        "claim about one.",
        "One level per kind of noise, and one step count for every variant: noise makes the targets harder to fit, so "
        "a variant that loses here may win with longer training (the evidence says where the held-out error was still "
        "falling at the end). `--steps` reruns every variant at another count on the same data.",
        "DART noise is drawn afresh each control step at 0.02 rad, about the most the scripted expert survives (19 of "
        "20 demos kept; 0.03 rad kept 6 of 20); tries the noise spoiled are dropped, so the demos show only "
        "recoveries that worked, and the DART variants train on other demos than the rest (the same seeds and starts).",
        "The held-out action error of the DART variants is measured on DART demos, so it compares training progress "
        "within a variant, not the variants with each other.",
        "Action noise is in normalised units (stds of each joint over the demos): the same level is a different angle "
        "on each joint.",
        "The robustness conditions were chosen from the robustness study's ladder before its results were in; the "
        "ones that hurt most there may differ.",
        "Pooled paired intervals treat the seeds' 30 starts each as 90 pairs; the seed columns show how much "
        "retraining moves each rate.",
    ],
}


def describe_eval(spec: dict) -> str:
    """Where an evaluation starts the cube, and with which reset seeds."""
    if spec["kind"] == "grid":
        x0, x1, y0, y1 = spec["bounds"]
        return (f"{spec['n']}x{spec['n']} grid of exact cube positions over x {x0}..{x1}, y {y0}..{y1} (m), "
                f"one rollout per position ({spec['episodes']} in all), reset seeds from {spec['seed']}")
    seeds = f"reset seeds {spec['seed']}..{spec['seed'] + spec['episodes'] - 1}"
    if spec["kind"] == "marks":
        return (f"{spec['episodes']} rollouts, the cube at one of the {spec['marks']} pencil marks (by reset seed), "
                f"within +/-{100 * spec['radius']:g} cm of it, {seeds}")
    x, y = spec["cube_pose"]
    where = (f"evenly spaced on the circle of {100 * spec['radius']:g} cm around" if spec["kind"] == "ring" else
             f"drawn uniformly within +/-{100 * spec['radius']:g} cm of")
    return f"{spec['episodes']} rollouts, the cube {where} ({x}, {y}), {seeds}"


def eval_lines(evals: dict) -> list[str]:
    """One line per evaluation; evaluations that differ only by a perturbation share one line that lists them."""
    groups: dict[str, list[str]] = {}
    for name, spec in evals.items():
        groups.setdefault(describe_eval({k: v for k, v in spec.items() if k != "perturb"}), []).append(name)
    lines = []
    for where, names in groups.items():
        if len(names) == 1:
            lines.append(f"- Evaluation '{names[0]}': {where}; the same for every policy.")
        else:
            lines.append(f"- Evaluation: {where}, the same starts under each of {len(names)} conditions ("
                         + "; ".join(names) + ") and for every policy.")
    return lines


def setup_lines(points: list[dict]) -> list[str]:
    """The settings every point shares, and how each is evaluated (the same seeds for every policy)."""
    first, train = points[0]["recordings"][0], points[0]["train"]
    seeds = sorted({p["train"]["seed"] for p in points})
    held = (f"{100 * train['val_fraction']:g}% of the demos held out and the checkpoint with the lowest held-out action "
            "error rolled out (as train_ultimate.py does)" if train.get("val_fraction") else "no held-out episodes")
    demos = ("SO-101 pick-and-place demos (front and wrist cameras)" if first.get("robot") == "so101"
             else "transfer-cube demos")
    return [f"- Data: scripted {demos} in MuJoCo, {first['image_size'][0]}x{first['image_size'][1]} images, "
            f"{first['episode_length']} frames each, {1000 * first['waypoint_noise']:g} mm noise on the expert's "
            "waypoints; where each point's demos start is in its name and in results.json.",
            f"- Training: {train['policy']} (`{train['preset']}` preset), {train['steps']} steps at batch "
            f"{train['batch_size']} for every point, {held}, training seed(s) {seeds}.",
            *eval_lines(points[0]["evals"])]


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
    answer = {"demos": demos_answer, "positions": positions_answer,
              "robustness": robustness_answer, "noise": noise_answer}[study](finished) if finished else ""
    compute = sum(sum(r["compute_s"].values()) for r in results)
    seeds = seeds_per_setting(results)
    robot = robot_of(points)
    lines = [f"# {QUESTIONS[study]}", ""]
    if robot == "so101":
        lines += ["Robot: a simulated SO-101 arm (6 joints, front and wrist cameras, 30 fps) that picks a 3 cm cube "
                  "at the user's pencil marks and puts it on the centre target. Simulation only: no claim about the "
                  "real arm.", ""]
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
                  "seed(s) per setting.", "", *[line for p in study_figures(study, robot) for line in (f"![{p}]({p})", "")]]
    lines += ["## What could change the answer", "", *[f"- {c}" for c in CAVEATS[f"{study}-so101" if robot == "so101" else study]], "",
              "## The setup", "", *setup_lines(points), data_check_line(results), "",
              "## Every point", "", results_table(results),
              ("Plots: " if finished else "Plots, once points are evaluated: ")
              + ", ".join(f"[{p}]({p})" for p in study_figures(study, robot)), "",
              "## Run it", "", "In the background, with its output in a log (a rerun resumes where it stopped):", "",
              "```bash", f"mkdir -p outputs && nohup .venv/bin/{command} > outputs/experiments-{study}.log 2>&1 &",
              "```", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ robustness

SHORT = {"table_x_cm": "table x", "table_y_cm": "table y", "table_height_cm": "table height",
         "camera_shift_cm": "camera shift", "camera_tilt_deg": "camera tilt", "light_scale": "light",
         "light_turn_deg": "light turned", "cube_scale": "cube size", "cube_hue_deg": "cube hue",
         "joint_offset": "joint 0 offset", "obs_delay": "observation delay", "action_delay": "action delay",
         "distractor_cm": "distractor at"}


def unit_of(factor: str, robot: str = "aloha") -> str:
    """A factor's unit on a robot as the README writes it ('x' for a scale)."""
    from lerobot_notebook_pipeline.sim.perturb import FACTORS
    from lerobot_notebook_pipeline.studies.definitions import STATE_UNITS

    if factor == "joint_offset":
        return STATE_UNITS[robot]
    return FACTORS[factor].unit if factor in FACTORS else ""


def size_text(factor: str, value: float, robot: str = "aloha") -> str:
    """'+3 cm', 'x0.3', '+0.2 rad': a magnitude in its unit."""
    unit = unit_of(factor, robot)
    return f"x{value:g}" if unit == "x" else f"{value:+g} {unit}".strip()


def magnitude_text(factor: str, value: float, robot: str = "aloha") -> str:
    """'table x +3 cm', 'light x0.3', 'joint 0 offset +0.2 rad': one factor at one magnitude, as a person reads it."""
    return f"{SHORT.get(factor, factor)} {size_text(factor, value, robot)}"


def condition_label(condition: dict) -> str:
    """A condition's name for plots and the README: its combination's name, its factor and magnitude, or 'in distribution'."""
    from lerobot_notebook_pipeline.studies.definitions import (
        IN_DISTRIBUTION,
        ROBUSTNESS_COMBINATIONS,
        SO101_COMBINATIONS,
        condition_name,
    )

    names = {condition_name(c): label for combinations in (ROBUSTNESS_COMBINATIONS, SO101_COMBINATIONS)
             for label, c in combinations.items()}
    if not condition["perturb"]:
        return IN_DISTRIBUTION
    if condition["factor"] is not None:
        return magnitude_text(condition["factor"], condition["magnitude"], spec_robot(condition["spec"]))
    return names.get(condition["condition"], condition["condition"])


def robust_conditions(results: list[dict]) -> list[dict]:
    """The robustness study's conditions over its training seeds (the study-level part of results.json)."""
    return conditions_summary(results)["conditions"]


def change_text(paired: dict) -> str:
    """'-43 points (95% CI -58 to -27)': a paired change in success."""
    low, high = paired["ci95_points"]
    return f"{paired['difference_points']:+.0f} points (95% CI {low:+.0f} to {high:+.0f})"


def robustness_bars_figure(results: list[dict]) -> Figure:
    """Colosseum-style: the change in success against in distribution per condition, paired 95% intervals, seeds as dots."""
    shown = [c for c in robust_conditions(results) if "paired_pooled" in c]
    fig = Figure(figsize=(max(6.0, 0.62 * len(shown) + 2), 5.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    groups = list(dict.fromkeys(c["factor"] or "combination" for c in shown))
    colours = {g: f"C{i}" for i, g in enumerate(groups)}
    for i, c in enumerate(shown):
        paired, colour = c["paired_pooled"], colours[c["factor"] or "combination"]
        low, high = paired["ci95_points"]
        diff = paired["difference_points"]
        ax.bar(i, diff, color=colour, alpha=0.75)
        ax.errorbar(i, diff, yerr=[[diff - low], [high - diff]], color="black", capsize=4)
        seeds = [r["paired_vs_in_distribution"]["difference_points"] for r in c["per_seed"]]
        ax.scatter([i] * len(seeds), seeds, s=14, color="black", marker="o", zorder=3,
                   label="one training seed" if i == 0 else None)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(shown)), [condition_label(c) for c in shown], rotation=35, ha="right", fontsize=8)
    seeds = max((c["pooled"]["training_seeds"] for c in shown), default=0)
    top = max([40.0, *(c["paired_pooled"]["ci95_points"][1] + 5 for c in shown)])
    ax.set(ylabel="change in success, points (paired, 95% CI)", ylim=(-105, top),
           title=f"Change in success against in distribution\n({plural(seeds, 'training seed')} pooled, the same starts)")
    if shown:
        ax.legend(fontsize=8, loc="lower left")
    return fig


def first_frame(spec: dict, size: tuple[int, int] = (144, 192)):
    """The main camera's first frame (ALOHA top, SO-101 front) of an evaluation's first start, under its perturbation."""
    from lerobot_notebook_pipeline.studies.costs import first_frames

    return first_frames(spec, spec.get("perturb"), size, starts=1)[0]


def grid_shape(panels: int, most_columns: int = 5) -> tuple[int, int]:
    """(rows, columns) for a figure of panels, at most most_columns wide."""
    columns = min(most_columns, max(1, panels))
    return -(-panels // columns) or 1, columns


def first_frames_figure(results: list[dict]) -> Figure:
    """A strip of first frames under each condition, each above what changed from in distribution (amplified 4x)."""
    import numpy as np

    conditions = robust_conditions(results)
    frames = [first_frame(c["spec"]) for c in conditions]
    reference = frames[0].astype(int)
    rows, columns = grid_shape(len(conditions))
    fig = Figure(figsize=(2.4 * columns, 3.7 * rows), dpi=100, layout="constrained")
    axes = fig.subplots(2 * rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (c, frame) in enumerate(zip(conditions, frames, strict=True)):
        top, bottom = axes[2 * (k // columns), k % columns], axes[2 * (k // columns) + 1, k % columns]
        top.imshow(frame)
        top.set_title(condition_label(c), fontsize=8)
        bottom.imshow(np.clip(4 * np.abs(frame.astype(int) - reference), 0, 255).astype(np.uint8))
        bottom.set_title("what changed (x4)" if k else "(the reference)", fontsize=7)
    seen = ("front camera; the policy sees it and the wrist camera at 64x85" if robot_of(results) == "so101"
            else "top camera; the policy sees it at 64x85")
    fig.suptitle(f"The first start under each condition ({seen})", fontsize=9)
    return fig


def magnitude_figure(results: list[dict]) -> Figure:
    """For each factor measured alone: success against its magnitude, pooled and per seed, the 50% point marked."""
    from lerobot_notebook_pipeline.studies.definitions import NEUTRAL

    conditions, robot = robust_conditions(results), robot_of(results)
    reference = next((c for c in conditions if not c["perturb"]), None)
    curves = factor_curves(conditions)
    rows, columns = grid_shape(len(curves))
    fig = Figure(figsize=(3.2 * columns, 3.4 * rows), dpi=100, layout="constrained")
    grid = fig.subplots(rows, columns, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(curves):]:
        ax.axis("off")
    for ax, curve in zip(axes, curves, strict=False):
        factor = curve["factor"]
        measured = [reference, *sorted((c for c in conditions if c["factor"] == factor),
                                       key=lambda c: abs(c["magnitude"] - NEUTRAL.get(factor, 0.0)))]
        _band(ax, curve["magnitudes"], [c["pooled"] for c in measured], "pooled")
        for k, seed in enumerate(r["train_seed"] for r in reference["per_seed"]):
            ys = [next((r["pc_success"] for r in c["per_seed"] if r["train_seed"] == seed), float("nan")) for c in measured]
            ax.plot(curve["magnitudes"], ys, color="grey", linewidth=0.7, alpha=0.7, label="one training seed" if not k else None)
        ax.axhline(50, color="grey", linestyle=":", linewidth=0.8)
        half = curve["half_point"]
        if half is not None:
            ax.axvline(half, color="red", linestyle="--", linewidth=1)
            ax.annotate(f"50% at {half_text(factor, half, robot)}", (half, 52), fontsize=8, color="red")
        unit = unit_of(factor, robot)
        ax.set(xlabel=f"{SHORT.get(factor, factor)} ({unit})", ylim=(-2, 102),
               title=f"{SHORT.get(factor, factor)}: " + (f"50% at {half_text(factor, half, robot)}" if half is not None else
                                                         "never crosses 50% here"))
        ax.title.set_fontsize(9)
    for row in grid:
        row[0].set_ylabel("success % (95% CI)")
    axes[0].legend(fontsize=7, loc="lower left")
    return fig


def grouped(conditions: list[dict]) -> dict[str, list[dict]]:
    """Conditions with a verdict, by verdict."""
    out: dict[str, list[dict]] = {}
    for c in conditions:
        if "verdict" in c:
            out.setdefault(c["verdict"], []).append(c)
    return out


def first_breaking(conditions: list[dict], verdicts=("breaks",)) -> list[dict]:
    """Per factor, its smallest magnitude with one of the verdicts (the study lists magnitudes mildest first); and
    every combination that has one."""
    chosen, seen = [], set()
    for c in conditions:
        if c.get("verdict") in verdicts and (c["factor"] is None or c["factor"] not in seen):
            chosen.append(c)
            seen.add(c["factor"])
    return chosen


def disagreeing(conditions: list[dict]) -> list[dict]:
    """Conditions where the seeds' spread is wider than one seed's 95% episode interval."""
    return [c for c in conditions if c["seeds"]["seeds"] > 1 and c["seeds"]["wider_than_episode_interval"]]


def seeds_sentence(conditions: list[dict]) -> str:
    """Whether the training seeds agree: their range no wider than one seed's 95% episode interval, or where not."""
    seeds = max(c["seeds"]["seeds"] for c in conditions)
    if seeds < 2:
        return "With one training seed, this cannot say how much retraining moves these numbers."
    apart = disagreeing(conditions)
    if not apart:
        return (f"The {seeds} training seeds agreed: in every condition their range was no wider than one seed's "
                "95% interval.")
    where = [f"{condition_label(c)} (" + ", ".join(f"{r['successes']}/{r['episodes']}" for r in c["per_seed"]) + ")"
             for c in apart]
    if len(apart) == 1:
        return f"The {seeds} training seeds disagreed beyond the episode interval at {where[0]}."
    return (f"The {seeds} training seeds disagreed beyond the episode interval in {len(apart)} of {len(conditions)} "
            f"conditions, {where[0]} among them.")


def capped(items: list[str], most: int = 5) -> str:
    """'a, b and c', or the first most items and 'N more (see the table)'."""
    return listed(items) if len(items) <= most else listed([*items[:most], f"{len(items) - most} more (see the table)"])


def robustness_summary(results: list[dict]) -> str:
    """The robustness study's answer in at most three sentences: what breaks it and at what size, what it shrugs
    off, whether the seeds agree."""
    conditions = robust_conditions(results)
    reference = next((c for c in conditions if not c["perturb"]), None)
    if reference is None or not any("verdict" in c for c in conditions):
        return ""
    by = grouped(conditions)
    broke = first_breaking(conditions)
    hurt = first_breaking([c for c in conditions if c["factor"] not in {b["factor"] for b in broke if b["factor"]}],
                          ("hurts",))
    said = [f"On {ROBOT_SHORT[robot_of(results)]}, the demo policy (ACT) succeeded in {short_rate(reference['pooled'])} in distribution and "
            + (f"broke (below 50%) at {dropped(broke)}" if broke else "nothing broke it"
               if reference["pooled"]["pc_success"] >= 50 else "was below 50% before any change")
            + (f"; it lost ground (kept 50% or more) at {dropped(hurt)}" if hurt else "") + "."]
    calm, unclear = by.get("shrugs off", []), by.get("unclear", [])
    if calm or unclear:
        said.append((f"It shrugged off {capped([condition_label(c) for c in calm], 3)} (paired intervals rule out a "
                     f"{SHRUG_POINTS}-point drop)" if calm else "It shrugged off none of the changes")
                    + (f"; for {capped([condition_label(c) for c in unclear], 3)} the intervals cannot tell" if unclear
                       else "") + ".")
    said.append(seeds_sentence(conditions))
    return " ".join(said)


def robustness_table(results: list[dict]) -> str:
    """The robustness study at a glance: per condition, pooled success, the paired change, each seed and the verdict."""
    conditions = robust_conditions(results)
    seeds = sorted({r["train_seed"] for c in conditions for r in c["per_seed"]})
    lines = ["| condition | success (pooled) | change vs in distribution (paired) | McNemar p | "
             + " | ".join(f"seed {s}" for s in seeds) + " | seeds within one episode interval | verdict |",
             "|---" * (6 + len(seeds)) + "|"]
    for c in conditions:
        by_seed = {r["train_seed"]: r for r in c["per_seed"]}
        paired = c.get("paired_pooled")
        agree = "" if c["seeds"]["seeds"] < 2 else ("no" if c["seeds"]["wider_than_episode_interval"] else "yes")
        cells = [condition_label(c), short_rate(c["pooled"]), change_text(paired) if paired else "",
                 p_text(paired["mcnemar_p"]) if paired else "",
                 *(short_rate(by_seed[s]) if s in by_seed else "" for s in seeds), agree, c.get("verdict", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def dropped(conditions: list[dict]) -> str:
    """'table x +3 cm (-80 points) and light x0.3 (-90)': conditions with their pooled paired change."""
    return capped([f"{condition_label(c)} ({c['paired_pooled']['difference_points']:+.0f}{' points' * (not k)})"
                   for k, c in enumerate(conditions)])


def p_text(p: float) -> str:
    """A McNemar p-value as the README writes it: '0.031' or '<0.001'."""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def half_text(factor: str, half: float, robot: str = "aloha") -> str:
    """The interpolated 50% point in its unit, to two significant digits."""
    return size_text(factor, float(f"{half:.2g}"), robot)


def robustness_answer(results: list[dict]) -> str:
    """The robustness study's evidence, in words: every factor along its magnitudes, the combinations and the seeds."""
    conditions, robot = robust_conditions(results), robot_of(results)
    reference = next((c for c in conditions if not c["perturb"]), None)
    if reference is None:
        return ""
    mark = "one of the 4 pencil marks" if robot == "so101" else "the mark"
    parts = [f"In distribution (the cube drawn within +/-{100 * PLACEMENT:g} cm of {mark}, as the demos were), the "
             f"policy succeeded in {format_rate(reference['pooled'])}, pooled over "
             f"{plural(reference['pooled']['training_seeds'], 'training seed')} ("
             + ", ".join(f"seed {r['train_seed']}: {short_rate(r)}" for r in reference["per_seed"]) + ")."]
    replay = [r["evals"].get(reference["condition"], {}).get("nearest_demo_replay") for r in results]
    if replay and replay[0]:
        parts.append(f"Replaying the nearest demo's recorded actions without the camera from the same starts succeeded "
                     f"in {short_rate(replay[0])}.")
    curves = {c["factor"]: c for c in factor_curves(conditions)}
    for factor in dict.fromkeys(c["factor"] for c in conditions if c["factor"] is not None):
        measured = [c for c in conditions if c["factor"] == factor and "paired_pooled" in c]
        steps = "; ".join(f"{size_text(factor, c['magnitude'], robot)} gave {short_rate(c['pooled'])}, "
                          f"{change_text(c['paired_pooled'])}, McNemar p {p_text(c['paired_pooled']['mcnemar_p'])} "
                          f"({c['verdict']})" for c in measured)
        curve = curves.get(factor)
        half = curve["half_point"] if curve else None
        at = ("" if curve is None  # a distractor's distance has no unperturbed value to draw a curve from
              else f"; success crosses 50% at about {half_text(factor, half, robot)} (interpolated)" if half is not None
              else "; success was below 50% already in distribution" if curve["pc_success"][0] < 50
              else "; success stayed at or above 50% over the magnitudes measured")
        parts.append(f"{SHORT.get(factor, factor).capitalize()}: {steps}{at}.")
    for c in conditions:
        if c["factor"] is None and c["perturb"] and "paired_pooled" in c:
            parts.append(f"{condition_label(c).capitalize()} ({', '.join(magnitude_text(k, v, robot) for k, v in c['perturb'].items())}): "
                         f"{short_rate(c['pooled'])}, {change_text(c['paired_pooled'])} ({c['verdict']}).")
    for c in disagreeing(conditions):
        parts.append(f"At {condition_label(c)} the seeds ranged over {c['seeds']['range_points']:.0f} points ("
                     + ", ".join(f"seed {r['train_seed']} {short_rate(r)}" for r in c["per_seed"])
                     + f"), wider than one seed's interval of about {c['seeds']['episode_interval_points']:.0f} points.")
    return " ".join(parts)


# ------------------------------------------------------------------------------------------------ noise


def noise_parts(results: list[dict]) -> dict:
    """The noise study's cells (variant x condition over the seeds) and trainings (the study-level part of results.json)."""
    from lerobot_notebook_pipeline.studies.results import noise_summary as noise_results

    return noise_results(results)


def variant_label(variant: str) -> str:
    """A variant as the README names it: 'no noise', 'DART noise 0.02 rad', ..."""
    from lerobot_notebook_pipeline.studies.definitions import NOISE_LABELS

    return NOISE_LABELS.get(variant, variant)


def noise_condition_label(cell: dict) -> str:
    """A condition as plots and tables name it: 'in distribution', 'cube 3 cm off' or 'camera shift +6 cm'."""
    perturb = cell["spec"].get("perturb") or {}
    robot = spec_robot(cell["spec"])
    return ", ".join(magnitude_text(k, v, robot) for k, v in perturb.items()) if perturb else cell["condition"]


def where_text(cell: dict) -> str:
    """A condition inside a sentence: 'in distribution', 'with the cube 3 cm off', 'under camera shift +6 cm'."""
    from lerobot_notebook_pipeline.studies.definitions import IN_DISTRIBUTION

    if cell["spec"].get("perturb"):
        return f"under {noise_condition_label(cell)}"
    return cell["condition"] if cell["condition"] == IN_DISTRIBUTION else f"with the {cell['condition']}"


def cell_text(cell: dict) -> str:
    """'DART noise 0.02 rad under light x0.3 (+20 points)': a variant's pooled paired change under one condition."""
    return f"{variant_label(cell['variant'])} {where_text(cell)} ({cell['paired_vs_none']['difference_points']:+.0f} points)"


def noise_figure(results: list[dict]) -> Figure:
    """Grouped bars: per condition, each variant's pooled success with its Wilson 95% interval, the seeds as dots."""
    cells = noise_parts(results)["cells"]
    conditions = list(dict.fromkeys(c["condition"] for c in cells))
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    by = {(c["variant"], c["condition"]): c for c in cells}
    width = 0.8 / max(1, len(variants))
    fig = Figure(figsize=(max(7.0, 0.28 * len(conditions) * len(variants) + 2), 5.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    for k, variant in enumerate(variants):
        shown = [(i + width * (k + 0.5) - 0.4, by[(variant, name)]) for i, name in enumerate(conditions)
                 if (variant, name) in by]
        xs, rates = [x for x, _ in shown], [c["pooled"] for _, c in shown]
        ys = [r["pc_success"] for r in rates]
        ax.bar(xs, ys, width, color=f"C{k}", alpha=0.8, label=variant_label(variant))
        ax.errorbar(xs, ys, yerr=[[y - r["ci95"][0] for y, r in zip(ys, rates, strict=True)],
                                  [r["ci95"][1] - y for y, r in zip(ys, rates, strict=True)]],
                    fmt="none", color="black", capsize=3, linewidth=0.8)
        for x, c in shown:
            seeds = [r["pc_success"] for r in c["per_seed"]]
            ax.scatter([x] * len(seeds), seeds, s=9, color="black", zorder=3,
                       label="one training seed" if k == 0 and x == xs[0] else None)
    labels = [noise_condition_label(next(c for c in cells if c["condition"] == name)) for name in conditions]
    ax.set_xticks(range(len(conditions)), labels, rotation=20, ha="right")
    seeds = max((c["pooled"]["training_seeds"] for c in cells), default=0)
    ax.set(ylabel="success % (Wilson 95% CI)", ylim=(0, 105),
           title=f"Does noise buy robustness? Success per condition and variant\n({plural(seeds, 'training seed')} "
                 "pooled, the same starts for every variant)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    return fig


def longer_training(trainings: list[dict]) -> list[dict]:
    """The variants whose held-out error was still at its lowest at the last step in more seeds than without noise."""
    base = next((t["still_improving"] for t in trainings if t["variant"] == "none"), 0)
    return [t for t in trainings if t["variant"] != "none" and t["still_improving"] > base]


def training_sentence(trainings: list[dict]) -> str:
    """Whether ACT needed longer training with noise: where the held-out error was still lowest at the last step."""
    none = next((t for t in trainings if t["variant"] == "none"), None)
    if none is None or none["steps"] is None:
        return ""
    base = f"{none['still_improving']} of {len(none['seeds'])}"
    longer = longer_training(trainings)
    if not longer:
        return (f"No variant's held-out action error was lowest at the last of {none['steps']} steps more often than "
                f"without noise ({base} seeds): no sign that noise needed longer training.")
    names = listed([variant_label(t["variant"]) for t in longer])
    counts = listed([f"{t['still_improving']} of {len(t['seeds'])}" for t in longer])
    return (f"ACT likely needed longer training with {names}: the held-out action error was still falling at the "
            f"last of {none['steps']} steps in {counts} seeds, against {base} without noise.")


def noise_summary(results: list[dict]) -> str:
    """The noise study's answer in at most three sentences: does noise help, where it hurt, and whether ACT needed
    longer training with it."""
    from lerobot_notebook_pipeline.studies.definitions import IN_DISTRIBUTION

    parts = noise_parts(results)
    compared_cells = [c for c in parts["cells"] if "effect" in c]
    reference = next((c for c in parts["cells"] if c["variant"] == "none" and c["condition"] == IN_DISTRIBUTION), None)
    if not compared_cells or reference is None:
        return ""
    helped = [c for c in compared_cells if c["effect"] == "helps"]
    hurt = [c for c in compared_cells if c["effect"] == "hurts"]
    basis = (f"on {ROBOT_SHORT[robot_of(results)]}, pooled over {plural(reference['pooled']['training_seeds'], 'training seed')} from the "
             f"same starts (no noise: {short_rate(reference['pooled'])} in distribution)")
    said = [(f"{'Yes' if len(helped) == len(compared_cells) else 'In places'}: {basis}, "
             f"{capped([cell_text(c) for c in helped])} beat no noise by a margin the paired 95% intervals show.")
            if helped else f"Not measurably: {basis}, no noise variant beat no noise by a margin the paired 95% "
                           "intervals show."]
    said.append(f"Noise hurt at {capped([cell_text(c) for c in hurt])}." if hurt else
                "No variant did measurably worse than no noise either.")
    said.append(training_sentence(parts["training"]))
    return " ".join(s for s in said if s)


def noise_table(results: list[dict]) -> str:
    """The noise study at a glance: per condition and variant, pooled success, the paired change against no noise,
    each seed and whether the seeds agree."""
    cells = noise_parts(results)["cells"]
    conditions = list(dict.fromkeys(c["condition"] for c in cells))
    seeds = sorted({r["train_seed"] for c in cells for r in c["per_seed"]})
    lines = ["| condition | variant | success (pooled) | change vs no noise (paired) | McNemar p | "
             + " | ".join(f"seed {s}" for s in seeds) + " | seeds within one episode interval | effect |",
             "|---" * (7 + len(seeds)) + "|"]
    for name in conditions:
        for c in (c for c in cells if c["condition"] == name):
            by_seed = {r["train_seed"]: r for r in c["per_seed"]}
            paired = c.get("paired_vs_none")
            agree = "" if c["seeds"]["seeds"] < 2 else ("no" if c["seeds"]["wider_than_episode_interval"] else "yes")
            row = [noise_condition_label(c), variant_label(c["variant"]), short_rate(c["pooled"]),
                   change_text(paired) if paired else "", p_text(paired["mcnemar_p"]) if paired else "",
                   *(short_rate(by_seed[s]) if s in by_seed else "" for s in seeds), agree, c.get("effect", "")]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def noise_answer(results: list[dict]) -> str:
    """The noise study's evidence, in words: every condition's rates and paired changes, the trainings, the seeds."""
    parts = noise_parts(results)
    cells = parts["cells"]
    if not any(c["variant"] == "none" for c in cells):
        return ""
    said = ["Every variant is the demo recipe (20 scripted demos within +/-1.5 cm of the mark, `cpu` ACT, one step "
            "count) with its noise: " + ", ".join(variant_label(v) for v in dict.fromkeys(c["variant"] for c in cells)
                                                   if v != "none") + "; each is compared with no noise from the same "
            "starts and training seed (pair tables added up over the seeds)."]
    for name in dict.fromkeys(c["condition"] for c in cells):
        here = [c for c in cells if c["condition"] == name]
        none = next((c for c in here if c["variant"] == "none"), None)
        changes = [f"{variant_label(c['variant'])} {short_rate(c['pooled'])}, {change_text(c['paired_vs_none'])}, "
                   f"McNemar p {p_text(c['paired_vs_none']['mcnemar_p'])}" for c in here if "paired_vs_none" in c]
        if none is not None:
            said.append(f"{where_text(none).capitalize()}: no noise {short_rate(none['pooled'])}"
                        + (f"; {'; '.join(changes)}" if changes else "") + ".")
    runs = [t for t in parts["training"] if t["val_action_mae"] is not None]
    if runs:
        said.append("Held-out action error of the chosen checkpoint (mean over seeds; still lowest at the last step "
                    "in how many seeds): " + "; ".join(
                        f"{variant_label(t['variant'])} {t['val_action_mae']:.3f} ({t['still_improving']} of "
                        f"{len(t['seeds'])}, {t['s_per_step']:.2f} s/step)" for t in runs) + ".")
    for c in disagreeing(cells):
        said.append(f"With {variant_label(c['variant'])} {where_text(c)} the seeds ranged over "
                    f"{c['seeds']['range_points']:.0f} points (" + ", ".join(
                        f"seed {r['train_seed']} {short_rate(r)}" for r in c["per_seed"]) + ").")
    return " ".join(said)


def study_figures(study: str, robot: str = "aloha") -> dict:
    """The plots of a study on a robot, by file name (the SO-101 positions study also maps beyond the marks)."""
    beyond = {"heatmaps_beyond.png": lambda results: heatmaps_figure(results, "wide")}
    return FIGURES[study] | (beyond if (study, robot) == ("positions", "so101") else {})


FIGURES = {"demos": {"success_vs_demos.png": demos_figure},
           "positions": {"heatmaps.png": heatmaps_figure, "success_vs_positions.png": positions_figure},
           "robustness": {"change_vs_in_distribution.png": robustness_bars_figure, "first_frames.png": first_frames_figure,
                          "success_vs_magnitude.png": magnitude_figure},
           "noise": {"success_by_variant.png": noise_figure}}
SUMMARIES = {"demos": (demos_summary, demos_table), "positions": (positions_summary, positions_table),
             "robustness": (robustness_summary, robustness_table), "noise": (noise_summary, noise_table)}
