"""experiments.py --study noise: the variants as data, paired against no noise over training seeds, the answer and the
plot. The smoke study end to end with a stop and a resume is in test_robustness.py (in the robustness smoke's folder)."""

import pytest
from test_robustness import experiments

from lerobot_notebook_pipeline.evaluation.paired import paired_comparison
from lerobot_notebook_pipeline.evaluation.success import success_summary
from lerobot_notebook_pipeline.studies.definitions import CUBE_OFF, IN_DISTRIBUTION, NOISE_VARIANTS, study_points
from lerobot_notebook_pipeline.studies.results import noise_summary
from lerobot_notebook_pipeline.studies.runner import point_steps, record_args, train_args, unique_steps

TABLE_Y1, TABLE_Y3, JOINT_OFF = "table_y_cm=1", "table_y_cm=3", "joint_offset=0.2"


# ------------------------------------------------------------------------------------------- the study as data


def test_every_variant_trains_the_demo_recipe_on_three_seeds_and_meets_the_same_starts(tmp_path):
    points = study_points("noise")
    assert [p["id"] for p in points[:6]] == [f"{v}-seed0" for v in NOISE_VARIANTS] and len(points) == 18
    assert sorted({p["settings"]["train_seed"] for p in points}) == [0, 1, 2]
    assert list(points[0]["evals"]) == [IN_DISTRIBUTION, CUBE_OFF, TABLE_Y1, TABLE_Y3, JOINT_OFF]
    assert all(p["evals"] == points[0]["evals"] for p in points)  # one set of starts for every variant and seed
    home, off = points[0]["evals"][IN_DISTRIBUTION], points[0]["evals"][CUBE_OFF]
    assert off == home | {"cube_pose": [0.1, 0.53]} and home["episodes"] == 30 and home["radius"] == 0.015
    assert {p["train"]["steps"] for p in points} == {2500} and {p["train"]["val_fraction"] for p in points} == {0.1}
    by = {p["id"]: point_steps(tmp_path, p) for p in points}
    robustness = point_steps(tmp_path, study_points("robustness")[0])
    plain = {v: by[f"{v}-seed0"]["dataset"].key for v in ("none", "action_noise_low", "action_noise_high", "augment")}
    assert set(plain.values()) == {robustness["dataset"].key}  # the robustness study's recording, cached once
    assert by["none-seed0"]["train"].key == robustness["train"].key
    assert by["none-seed0"]["rollouts"][TABLE_Y1].key == robustness["rollouts"][TABLE_Y1].key
    dart = {by[f"{v}-seed{s}"]["dataset"].key for v in ("dart", "combined") for s in (0, 1, 2)}
    assert len(dart) == 1 and dart != {robustness["dataset"].key}
    kinds = [s.kind for s in unique_steps(tmp_path, points).values()]
    assert (kinds.count("data"), kinds.count("train"), kinds.count("rollout"), kinds.count("baseline")) == (2, 18, 90, 4)
    combined = by["combined-seed1"]
    flags = train_args(combined["train"].settings, tmp_path, tmp_path / "run", 1)
    assert flags[flags.index("--action-noise-std") + 1] == 0.05 and flags[flags.index("--image-transforms") + 1] == "robotics"
    high = train_args(by["action_noise_high-seed0"]["train"].settings, tmp_path, tmp_path / "run", 1)
    assert high[high.index("--action-noise-std") + 1] == 0.2 and high[high.index("--image-transforms") + 1] == "none"
    recorded = record_args(combined["parts"][0].settings, tmp_path)
    assert recorded[recorded.index("--dart-noise") + 1] == 0.02 and "--dart-noise" not in record_args(
        by["none-seed0"]["parts"][0].settings, tmp_path)
    reference = {p["id"]: p["paired_with"] for p in points if p["settings"]["variant"] != "none"}
    assert "paired_with" not in points[0] and len(reference) == 15
    assert point_steps(tmp_path, reference["dart-seed2"] | {"evals": {}})["train"].key == by["none-seed2"]["train"].key


def test_plan_prints_the_variants_the_conditions_and_the_estimate_and_writes_nothing(tmp_path):
    result = experiments("--study", "noise", "--plan", "--output-dir", tmp_path / "study", "--results-dir",
                         tmp_path / "results")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "combined-seed2               DART + augmentation + low action noise, training seed 2" in result.stdout
    assert ("each point is evaluated 5 way(s): in distribution; cube 3 cm off; table_y_cm=1; table_y_cm=3; "
            "joint_offset=0.2") in result.stdout
    assert "18 points, 114 distinct steps" in result.stdout and "expected compute about 10.5 h" in result.stdout
    assert not (tmp_path / "study").exists() and not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------- pairs and the summary

NONE = {IN_DISTRIBUTION: 27, CUBE_OFF: 10, TABLE_Y1: 15, TABLE_Y3: 5, JOINT_OFF: 8}
SCENARIO = {  # successes of 30 per condition (a tuple: per training seed); the rest as with no noise
    "none": NONE, "action_noise_low": NONE, "action_noise_high": NONE | {IN_DISTRIBUTION: 15},
    "dart": NONE | {CUBE_OFF: 20}, "augment": NONE | {TABLE_Y3: 20, TABLE_Y1: (25, 5, 15)},
    "combined": NONE | {CUBE_OFF: 18, TABLE_Y3: 18},
}
BEST_STEP = {"none": (2500, 2250, 2000), "action_noise_high": (2500, 2500, 2500)}  # others: 2250 for every seed


def outcomes(variant: str, name: str, seed: int) -> list[bool]:
    """One rollout per start: the scenario's successes first."""
    count = SCENARIO[variant][name]
    k = count[seed] if isinstance(count, tuple) else count
    return [True] * k + [False] * (30 - k)


def scenario_results():
    """Point results as point_result writes them for the noise study's points, from the scenario's counts."""
    results = []
    for p in study_points("noise"):
        variant, seed = p["settings"]["variant"], p["settings"]["train_seed"]
        evals = {}
        for name, spec in p["evals"].items():
            ours = outcomes(variant, name, seed)
            evals[name] = success_summary(sum(ours), 30) | {"distinct_initial_conditions": 30, "spec": spec}
            if variant != "none":
                evals[name]["paired_vs_reference"] = paired_comparison(ours, outcomes("none", name, seed))
        training = {"steps": 2500, "s_per_step": 0.4, "seconds": 1000.0, "val_action_mae": 0.03,
                    "best_step": BEST_STEP.get(variant, (2250,) * 3)[seed]}
        results.append({"id": p["id"], "name": p["name"], "settings": p["settings"], "status": "done",
                        "finished": ["record", "train", "eval"], "training": training,
                        "compute_s": {"train": 1000.0, "eval": 1000.0}, "seeds": {"eval": {}}, "evals": evals})
    return results


def test_each_variant_pools_its_paired_changes_against_no_noise_over_the_seeds():
    summary = noise_summary(scenario_results())
    by = {(c["variant"], c["condition"]): c for c in summary["cells"]}
    assert len(by) == 30 and "paired_vs_none" not in by[("none", IN_DISTRIBUTION)]
    dart = by[("dart", CUBE_OFF)]
    assert (dart["pooled"]["successes"], dart["pooled"]["episodes"], dart["pooled"]["training_seeds"]) == (60, 90, 3)
    assert dart["paired_vs_none"]["pairs"] == 90 and dart["paired_vs_none"]["only_a"] == 30
    assert dart["paired_vs_none"]["difference_points"] == pytest.approx(33.33) and dart["effect"] == "helps"
    assert by[("action_noise_high", IN_DISTRIBUTION)]["effect"] == "hurts"
    assert by[("action_noise_low", TABLE_Y3)]["effect"] == "unclear" and by[("combined", TABLE_Y3)]["effect"] == "helps"
    shifted = by[("augment", TABLE_Y1)]
    assert shifted["effect"] == "unclear" and shifted["paired_vs_none"]["difference_points"] == 0
    assert [r["paired_vs_reference"]["difference_points"] for r in shifted["per_seed"]] == [33.33, -33.33, 0.0]
    assert shifted["seeds"]["wider_than_episode_interval"] and shifted["seeds"]["range_points"] == pytest.approx(66.67)
    assert [c for c in summary["cells"] if c["seeds"]["wider_than_episode_interval"]] == [shifted]
    training = {t["variant"]: t for t in summary["training"]}
    assert training["none"]["still_improving"] == 1 and training["action_noise_high"]["still_improving"] == 3
    assert training["dart"]["best_steps"] == [2250] * 3 and training["dart"]["seeds"] == [0, 1, 2]


def test_the_readme_answers_whether_noise_helps_where_it_hurt_and_where_training_was_short(tmp_path):
    from test_experiments import opening, sentences

    from lerobot_notebook_pipeline.plots import save_figure
    from lerobot_notebook_pipeline.studies.report import noise_figure, noise_table, study_readme
    from lerobot_notebook_pipeline.studies.report import noise_summary as answer

    results = scenario_results()
    said = answer(results)
    assert said.startswith("In places: on simulated ALOHA transfer cube, pooled over 3 "
                           "training seeds from the same starts (no noise: 81/90 (82-95%) in distribution), DART noise "
                           "0.02 rad with the cube 3 cm off (+33 points), image augmentation (robotics) under table "
                           "y +3 cm (+50 points), DART + augmentation + low action noise with the cube 3 cm off (+27 "
                           "points) and DART + augmentation + low action noise under table y +3 cm (+43 points) beat no "
                           "noise by a margin the paired 95% intervals show.")
    assert " Noise hurt at action noise 0.2 std in distribution (-40 points). " in said
    assert said.endswith("ACT likely needed longer training with action noise 0.2 std: the held-out action error was "
                         "still falling at the last of 2500 steps in 3 of 3 seeds, against 1 of 3 without noise.")
    assert sentences(said) <= 3
    table = noise_table(results).splitlines()
    assert table[0].startswith("| condition | variant | success (pooled) | change vs no noise (paired) | McNemar p | "
                               "seed 0 | seed 1 | seed 2 |")
    assert table[5] == ("| in distribution | DART noise 0.02 rad | 81/90 (82-95%) | +0 points (95% CI -4 to +4) | 1 "
                        "| 27/30 (74-97%) | 27/30 (74-97%) | 27/30 (74-97%) | yes | unclear |")
    readme = study_readme("noise", study_points("noise"), results, {"workers": 1, "cpu": "cpu", "cores": 2,
                          "torch_threads_per_job": 1}, {"expected_s": 38000, "steps": 114},
                          "python experiments.py --study noise", False)
    assert readme.startswith("# Does noise buy robustness?") and opening(readme) == said
    evidence = readme.split("## The evidence\n\n", 1)[1].split("\n\n")[0]
    assert "With the cube 3 cm off: no noise 30/90 (24-44%); action noise 0.05 std 30/90" in evidence
    assert "With image augmentation (robotics) under table y +1 cm the seeds ranged over 67 points" in evidence
    assert "DART noise is drawn afresh each control step at 0.02 rad" in readme
    save_figure(noise_figure(results), tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 10000


# The noise smoke study end to end (a stop and a resume) is in test_robustness.py: it runs in the robustness smoke's
# folder, as the noise study works in the robustness study's, so its no-noise variant is cached there.
