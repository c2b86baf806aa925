"""The README's promise as a matrix: every file a dataset and a checkpoint hold, damaged every way; every number of
info.json out of range; SIGINT and SIGTERM at three points of each script, over an earlier result or into a new folder.

Each cell must end in one of two ways: a one-line refusal (exit code 2, one `error:` line, no traceback), or, where the
analysis can go on, a finding that names the damage. An earlier result stays byte-identical and nothing is left that
blocks the rerun. The cells are generated, not listed: files x corruptions and fields x values run in process against
the preflight and loader functions (milliseconds each); a sample of signals and damaged inputs runs through the scripts.
LNP_FULL_MATRIX=1 runs every signal cell through its script (minutes). The sizes are printed as the tests run.
"""

import itertools
import json
import os
import random
import shutil
import signal
from pathlib import Path

import pytest
from test_bad_input import folder_hash
from test_nothing_lost import finish, one_error_line, start

from lerobot_notebook_pipeline import preflight
from lerobot_notebook_pipeline.files import MARKER, check_output_dir
from lerobot_notebook_pipeline.runtime import UserError

CAMERAS = ("top", "wrist")
DATASET_FILES = {  # kind -> glob inside the dataset; every file the dataset holds must match one
    "info.json": "meta/info.json", "stats.json": "meta/stats.json", "tasks": "meta/tasks.parquet",
    "meta/episodes": "meta/episodes/*/*.parquet", "data parquet": "data/*/*.parquet",
    **{f"video {c}": f"videos/observation.images.{c}/*/*.mp4" for c in CAMERAS},
}
CHECKPOINT_FILES = {  # kind -> glob inside the pretrained_model folder
    "config.json": "config.json", "model.safetensors": "model.safetensors",
    "policy_preprocessor.json": "policy_preprocessor.json", "policy_postprocessor.json": "policy_postprocessor.json",
    "normalizer state": "policy_preprocessor_step_*.safetensors",
    "unnormalizer state": "policy_postprocessor_step_*.safetensors",
}
CORRUPTIONS = {
    "deleted": lambda path: path.unlink(),
    "emptied": lambda path: path.write_bytes(b""),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "random bytes": lambda path: path.write_bytes(random.Random(path.name).randbytes(max(path.stat().st_size, 64))),
}
VALUES = {"0": 0, "-1": -1, "NaN": float("nan"), "huge": 10**30}
SCRIPTS = {  # script -> (three points: the start of a line it prints, in order), its flags, the output flag
    "analyse_dataset.py": (("dataset:", "mean episode quality", "start-state spread"),
                           ["--dataset", "{ds}", "--no-animation"]),
    "train.py": (("dataset ", "delta timestamps", "step 2:"),
                 ["--dataset", "{ds}", "--policy", "act", "--preset", "tiny", "--steps", "200", "--val-every", "1",
                  "--threads", "1"]),
    "visualize_policy.py": (("writing to", "policy:", "episode 0:"),
                            ["--policy-path", "{ckpt}", "--dataset", "{ds}", "--device", "cpu"]),
    "compare_policies.py": (("train on", "dataset ", "step 2:"),
                            ["--dataset", "{ds}", "--policies", "act", "--preset", "tiny", "--steps", "200",
                             "--eval-episodes", "1", "--max-steps", "5"]),
}
SIGNALS = (signal.SIGINT, signal.SIGTERM)
SIGNAL_CELLS = list(itertools.product(SCRIPTS, SIGNALS, range(3), (False, True)))
# one cell per script through the real script, covering both signals, every point and both kinds of output folder
SAMPLE = {("analyse_dataset.py", signal.SIGTERM, 1, True), ("train.py", signal.SIGINT, 0, True),
          ("visualize_policy.py", signal.SIGINT, 1, False), ("compare_policies.py", signal.SIGTERM, 0, True)}
FULL = os.environ.get("LNP_FULL_MATRIX", "0") not in ("", "0")


def say(capsys, text: str) -> None:
    """Print past pytest's capture, so the matrix sizes show in every run."""
    with capsys.disabled():
        print(f"\n[fault matrix] {text}")


# ---------------------------------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny two-camera dataset and a tiny ACT checkpoint trained (randomly) for it, with its processors."""
    from policy_fixtures import save_tiny_act

    from lerobot_notebook_pipeline.synthetic import make_synthetic_dataset

    base = tmp_path_factory.mktemp("matrix")
    ds = make_synthetic_dataset(base / "ds", num_episodes=3, length=20, cameras=CAMERAS)
    ckpt = save_tiny_act(base / "ckpt", image_size=(24, 32), state_dim=6, action_dim=6, cameras=CAMERAS)
    return {"ds": ds, "ckpt": ckpt, "base": base}


def damaged_copy(source: Path, target: Path, pattern: str, corruption: str) -> Path:
    """A copy of source (files hard-linked, the damaged one copied first) with the first file matching pattern damaged;
    returns the damaged file's path."""
    shutil.copytree(source, target, copy_function=os.link)
    path = sorted(target.glob(pattern))[0]
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)  # its own inode: the original stays whole
    CORRUPTIONS[corruption](path)
    return path


def refusal(call) -> str | None:
    """The one-line message of the UserError that call raises, or None when it passes; any other error fails."""
    try:
        call()
    except UserError as err:
        message = str(err)
        assert "\n" not in message.strip() and message.strip(), f"not one line: {message!r}"
        return message
    return None


def analysis_findings(root: Path) -> list[dict]:
    """What analyse_dataset.py finds in a dataset its preflight let through: quality, consistency, videos, stats."""
    from lerobot_notebook_pipeline.analysis import checks, consistency, stats

    table = stats.load_table(root)
    problem = preflight.stats_file_problem(root)
    found = checks.run_checks(table, 10, stats.cameras_table(table))
    found += consistency.run_consistency_checks(table, {} if problem else stats.read_stats_json(root))
    found += consistency.check_stats_file(root)
    damaged = preflight.video_problems(root, stats.read_info(root))
    return [f for f in found if f["severity"] != "info"] + [{"message": f"{p} {why}"} for p, why in damaged.items()]


def test_every_file_of_the_built_inputs_is_in_the_matrix(built, capsys):
    for root, kinds in ((built["ds"], DATASET_FILES), (built["ckpt"], CHECKPOINT_FILES)):
        files = {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
        covered = {p.relative_to(root) for pattern in kinds.values() for p in root.glob(pattern)}
        assert files == covered, f"files no kind covers: {sorted(map(str, files - covered))}"
    say(capsys, f"files x corruptions: {len(DATASET_FILES)} dataset + {len(CHECKPOINT_FILES)} checkpoint file kinds x "
                f"{len(CORRUPTIONS)} = {(len(DATASET_FILES) + len(CHECKPOINT_FILES)) * len(CORRUPTIONS)} cells; "
                f"scripts x signals: {len(SCRIPTS)} x {len(SIGNALS)} x 3 points x 2 (new, --overwrite) = "
                f"{len(SIGNAL_CELLS)} cells, {len(SIGNAL_CELLS) if FULL else len(SAMPLE)} run through the scripts")


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("kind", DATASET_FILES)
def test_a_damaged_dataset_file_is_refused_or_found(built, tmp_path, kind, corruption):
    """Training and replay (videos decoded) refuse it in one line, or recompute what is missing; the analysis refuses
    it or names it in a finding."""
    root = tmp_path / "ds"
    path = damaged_copy(built["ds"], root, DATASET_FILES[kind], corruption)
    named = (path.name, path.parent.name, kind)
    train = refusal(lambda: preflight.check_dataset(root, videos=True))
    if train is None:
        assert kind == "stats.json" and corruption == "deleted", f"training accepts a {corruption} {kind}"
        from lerobot_notebook_pipeline.training.policies import recompute_stats

        stats = recompute_stats(root, json.loads((root / "meta" / "info.json").read_text())["features"])
        assert {"action", "observation.state", "observation.images.top"} <= set(stats)
    else:
        assert any(n in train for n in named), train
    analysis = refusal(lambda: preflight.check_dataset(root, stats=False))
    if analysis is None:
        found = analysis_findings(root)
        assert any(path.name in f["message"] or kind.split()[-1] in f["message"] for f in found), found
    else:
        assert any(n in analysis for n in named), analysis


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("kind", CHECKPOINT_FILES)
def test_a_damaged_checkpoint_file_is_refused(built, tmp_path, kind, corruption):
    from lerobot_notebook_pipeline.evaluation.rollout import resolve_policy_dir

    path = damaged_copy(built["ckpt"], tmp_path / "ckpt", CHECKPOINT_FILES[kind], corruption)
    message = refusal(lambda: preflight.check_checkpoint(resolve_policy_dir(tmp_path / "ckpt")))
    assert message is not None, f"a checkpoint with a {corruption} {kind} is accepted"
    assert path.name in message or "holds no policy checkpoint" in message, message


def test_a_diffusion_config_over_act_weights_is_refused(built, tmp_path):
    from lerobot_notebook_pipeline.training.policies import make_config

    shutil.copytree(built["ckpt"], tmp_path / "ckpt", copy_function=os.link)
    (tmp_path / "ckpt" / "config.json").unlink()
    make_config("diffusion", "tiny")._save_pretrained(tmp_path / "ckpt")
    message = refusal(lambda: preflight.check_checkpoint(tmp_path / "ckpt"))
    assert message and "is a diffusion config, but model.safetensors holds act weights" in message, message


@pytest.mark.parametrize("value", VALUES)
def test_every_info_number_out_of_range_is_refused_or_found(built, tmp_path, value, capsys):
    info = json.loads((built["ds"] / "meta" / "info.json").read_text())
    fields = preflight.info_number_fields(info)
    assert len(fields) >= 20, sorted(fields)
    if value == "0":
        say(capsys, f"fields x values: {len(fields)} numeric info.json fields x {len(VALUES)} = "
                    f"{len(fields) * len(VALUES)} cells")
    failures = []
    for i, field in enumerate(fields):
        root = tmp_path / f"ds{i}"
        shutil.copytree(built["ds"], root, copy_function=os.link)
        edited = json.loads(json.dumps(info))
        holder, key = _holder(edited, field)
        holder[key] = VALUES[value]
        (root / "meta" / "info.json").unlink()
        (root / "meta" / "info.json").write_text(json.dumps(edited))
        message = refusal(lambda: preflight.check_dataset(root, videos=True))  # noqa: B023
        name = field.split(".")[-1].split("[")[0]
        if message is not None:
            if name not in message:
                failures.append(f"{field}={value}: {message}")
        elif not any(name in f["message"] for f in analysis_findings(root)):
            failures.append(f"{field}={value}: accepted, and the analysis finds nothing")
    assert not failures, "\n".join(failures)


def _holder(info: dict, field: str) -> tuple:
    """The container and key of a field path from preflight.info_number_fields."""
    if not field.startswith("features."):
        return info, field
    key, _, rest = field[len("features."):].rpartition(".shape[")
    if key:
        return info["features"][key]["shape"], int(rest[:-1])
    key, _, name = field[len("features."):].partition(".info.")
    return info["features"][key]["info"], name


# ---------------------------------------------------------------------------------- signals through the scripts


@pytest.fixture
def place(tmp_path):
    """A working folder and a home folder of their own."""
    (tmp_path / "cwd").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path / "cwd", tmp_path / "home"


def earlier_result(folder: Path) -> None:
    """An earlier output of ours, as --overwrite would replace it."""
    (folder / "sub").mkdir(parents=True)
    (folder / MARKER).touch()
    (folder / "report.md").write_text("an earlier result\n")
    (folder / "sub" / "numbers.json").write_text('{"kept": true}\n')


def cell_id(cell) -> str:
    script, sig, point, overwrite = cell
    return f"{script.removesuffix('.py')}-{sig.name}-point{point + 1}-{'overwrite' if overwrite else 'new'}"


RUN_CELLS = SIGNAL_CELLS if FULL else [c for c in SIGNAL_CELLS if c in SAMPLE]  # the others: LNP_FULL_MATRIX=1


@pytest.mark.parametrize("cell", RUN_CELLS, ids=[cell_id(c) for c in RUN_CELLS])
def test_a_signal_keeps_the_earlier_result_and_blocks_no_rerun(built, place, cell):
    script, sig, point, overwrite = cell
    cwd, home = place
    out = cwd / "out"
    if overwrite:
        earlier_result(out)
    before, names = folder_hash(cwd), sorted(os.listdir(cwd))
    points, flags = SCRIPTS[script]
    args = [f.format(ds=built["ds"], ckpt=built["ckpt"]) for f in flags] + ["--output-dir", "out"]
    process = start(script, args + (["--overwrite"] if overwrite else []), cwd, home)
    for prefix in points[: point + 1]:
        _wait_for_line(process, prefix)
    process.send_signal(sig)
    code, err = finish(process)
    if code == 0:  # it ended before the signal arrived: a run that ends well replaces the earlier result
        assert "Traceback" not in err and (out / MARKER).is_file()
        return
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: stopped by {sig.name}"), line
    if overwrite:
        assert folder_hash(cwd) == before and "is as it was" in line, "the earlier result changed"
        assert sorted(os.listdir(cwd)) == names, "something was left beside the output"
    elif "resume with --resume" in line:
        preflight.check_resumable(out)  # what the message offers is there
    else:
        check_output_dir(out, overwrite=False)  # the plain rerun is not refused
        assert sorted(os.listdir(cwd)) in (names, [*names, "out"]), os.listdir(cwd)


def _wait_for_line(process, prefix: str) -> None:
    """Read the script's stdout (and its steps') until a line holds prefix at its start or after a step's tag."""
    for line in process.stdout:
        if line.startswith(prefix) or line.split("] ", 1)[-1].startswith(prefix):
            return
    raise AssertionError(f"the script ended without printing {prefix!r}: {process.communicate()[1][-3000:]}")


# ------------------------------------------------------------------------------ damaged inputs through the scripts


def run(script: str, args: list, cwd: Path, home: Path) -> tuple[int, str, str]:
    """Run a script to its end; return the exit code, stdout and stderr."""
    process = start(script, args, cwd, home)
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def test_through_the_scripts_a_damaged_video_is_a_finding_or_one_line(built, place, tmp_path):
    cwd, home = place
    root = tmp_path / "ds"
    damaged_copy(built["ds"], root, DATASET_FILES["video wrist"], "truncated")
    code, _, err = run("analyse_dataset.py", ["--dataset", root, "--no-animation", "--output-dir", "a"], cwd, home)
    assert code == 0 and "Traceback" not in err, err[-3000:]
    report = json.loads((cwd / "a" / "report.json").read_text())
    assert any(f["check"] == "video" and "wrist" in f["message"] for f in report["findings"])
    code, _, err = run("analyse_dataset.py", ["--dataset", built["ds"], "--compare", root, "--output-dir", "b"],
                       cwd, home)
    assert code == 2 and "so the cameras cannot be compared" in one_error_line(err)
    code, _, err = run("visualize_policy.py", ["--policy-path", built["ckpt"], "--dataset", root, "--output-dir", "c"],
                       cwd, home)
    assert code == 2 and "observation.images.wrist" in one_error_line(err)
    assert sorted(os.listdir(cwd)) == ["a"]


def test_through_the_scripts_a_mismatched_checkpoint_and_an_ignored_flag(built, place, tmp_path):
    from lerobot_notebook_pipeline.training.policies import make_config

    cwd, home = place
    shutil.copytree(built["ckpt"], tmp_path / "ckpt", copy_function=os.link)
    (tmp_path / "ckpt" / "config.json").unlink()
    make_config("diffusion", "tiny")._save_pretrained(tmp_path / "ckpt")
    code, _, err = run("visualize_policy.py", ["--policy-path", tmp_path / "ckpt", "--output-dir", "r"], cwd, home)
    assert code == 2 and "holds act weights" in one_error_line(err)
    (cwd / "mine").mkdir()
    (cwd / "mine" / "notes.txt").write_text("the user's own\n")
    code, out, err = run("visualize_policy.py", ["--policy-path", built["ckpt"], "--env", "aloha_transfer_cube",
                                                 "--episode", "1", "--output-dir", "mine"], cwd, home)
    assert code == 2 and "did not make" in one_error_line(err)
    assert "note: --episode is ignored" in out and "--dataset" in out, out
    shutil.copytree(built["ckpt"], cwd / "run" / "checkpoints" / "000005" / "pretrained_model", copy_function=os.link)
    (cwd / "run" / MARKER).touch()
    before = folder_hash(cwd)
    code, _, err = run("visualize_policy.py", ["--policy-path", cwd / "run" / "checkpoints" / "000005", "--dataset",
                                               built["ds"], "--output-dir", "run", "--overwrite"], cwd, home)
    assert code == 2 and "holds the --policy-path folder" in one_error_line(err)
    assert folder_hash(cwd) == before


def test_same_policy_twice_is_one_line(built, place):
    cwd, home = place
    code, _, err = run("compare_policies.py", ["--dataset", built["ds"], "--policies", "act,diffusion,act"], cwd, home)
    assert code == 2 and "names act more than once" in one_error_line(err) and not os.listdir(cwd)


# --------------------------------------------------------------------------- in process: the other input checks


def test_set_values_take_the_fields_declared_type():
    from lerobot_notebook_pipeline.training.policies import make_config, parse_overrides

    for text, words in (("use_vae=maybe", "takes true or false"), ("chunk_size=2.5", "takes a whole number"),
                        ("kl_weight=nan", "takes a number"), ("pretrained_backbone_weights=[1]", "or none")):
        message = refusal(lambda: make_config("act", "tiny", parse_overrides([text])))  # noqa: B023
        assert message and message.startswith(f"--set {text}:") and words in message, message
    cfg = make_config("diffusion", "tiny", parse_overrides(["crop_shape=[20, 20]", "num_inference_steps=none",
                                                            "optimizer_lr=1", "use_group_norm=true"]))
    assert (cfg.crop_shape, cfg.num_inference_steps, cfg.optimizer_lr, cfg.use_group_norm) == ((20, 20), None, 1.0, True)
    assert isinstance(cfg.optimizer_lr, float)


def test_missing_or_nan_stats_are_a_finding_and_train_recomputes_them(built, tmp_path):
    from lerobot_notebook_pipeline.analysis import consistency
    from lerobot_notebook_pipeline.training.policies import recompute_stats

    root = tmp_path / "ds"
    shutil.copytree(built["ds"], root, copy_function=os.link)
    stats = json.loads((root / "meta" / "stats.json").read_text())
    (root / "meta" / "stats.json").unlink()
    assert "is missing" in consistency.check_stats_file(root)[0]["message"]
    stats["action"]["mean"][0] = float("nan")
    (root / "meta" / "stats.json").write_text(json.dumps(stats))
    found = consistency.check_stats_file(root)
    assert found and found[0]["severity"] == "error" and "not finite" in found[0]["message"]
    assert preflight.check_dataset(root, videos=True)  # training goes on, and computes them instead
    again = recompute_stats(root, json.loads((root / "meta" / "info.json").read_text())["features"])
    assert abs(float(again["action"]["mean"][1]) - stats["action"]["mean"][1]) < 1e-5


def test_resume_against_a_dataset_that_cannot_hold_the_split(tmp_path):
    (tmp_path / "split.json").write_text('{"train": [0, 1, 2, 3], "val": [4]}')
    message = refusal(lambda: preflight.check_saved_split(tmp_path, 3, "small"))
    assert message and "episodes up to 4" in message and "'small' holds 3" in message
    assert refusal(lambda: preflight.check_saved_split(tmp_path, 5, "whole")) is None


def test_an_output_folder_that_is_an_input_is_refused(built, tmp_path):
    for out, words in ((built["ds"], "is the --dataset folder"), (built["ds"].parent, "holds the --dataset folder"),
                       (built["ds"] / "report", "lies inside the --dataset folder")):
        message = refusal(lambda: preflight.check_not_input(out, {"--dataset": built["ds"]}))  # noqa: B023
        assert message and words in message, message
    assert refusal(lambda: preflight.check_not_input(tmp_path / "out", {"--dataset": built["ds"]})) is None


# --------------------------------------------------------------------- messages name a fix, and the fix works


def test_nothing_to_resume_names_the_flags_that_then_work(tmp_path):
    new = tmp_path / "new"
    message = refusal(lambda: preflight.check_run_folder(new, resume=True, overwrite=False))
    assert "drop --resume" in message
    assert preflight.check_run_folder(new, resume=False, overwrite=False) is None and check_output_dir(new, False)
    held = tmp_path / "held"
    held.mkdir()
    (held / MARKER).touch()
    (held / "metrics.jsonl").write_text('{"step": 1}\n')
    message = refusal(lambda: preflight.check_run_folder(held, resume=True, overwrite=False))
    assert "drop --resume" not in message and "--overwrite instead of --resume" in message, message
    assert refusal(lambda: preflight.check_run_folder(held, resume=False, overwrite=False)) is not None
    assert preflight.check_run_folder(held, resume=False, overwrite=True) is None and check_output_dir(held, True)


def test_a_negative_episode_count_names_a_fix_that_works(built, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(built["ds"], root, copy_function=os.link)
    info = json.loads((root / "meta" / "info.json").read_text())
    for wrong in (-1, 0, 7):
        (root / "meta" / "info.json").unlink()
        (root / "meta" / "info.json").write_text(json.dumps({**info, "total_episodes": wrong}))
        message = refusal(lambda: preflight.check_dataset(root))
        assert "record some first" not in message and "total_episodes" in message, message
    (root / "meta" / "info.json").write_text(json.dumps(info))  # what the message says: correct it there
    assert preflight.check_dataset(root, videos=True)["total_episodes"] == 3


def test_an_open_loop_aspect_mismatch_names_a_fix_that_works(built, tmp_path):
    other = tmp_path / "square"
    (other / "meta").mkdir(parents=True)
    info = json.loads((built["ds"] / "meta" / "info.json").read_text())
    for camera in CAMERAS:
        info["features"][f"observation.images.{camera}"]["shape"] = [24, 24, 3]
    (other / "meta" / "info.json").write_text(json.dumps(info))
    wants = {f"observation.images.{c}": (3, 24, 32) for c in CAMERAS}
    message = refusal(lambda: preflight.check_replay_images(wants, other))
    assert "--image-size" not in message and "replay it on its training dataset" in message, message
    assert refusal(lambda: preflight.check_replay_images(wants, built["ds"])) is None


def test_a_pose_ring_without_a_centre_names_a_fix_that_works(built, place):
    cwd, home = place
    (cwd / "mine").mkdir()
    (cwd / "mine" / "notes.txt").write_text("the user's own\n")
    args = ["--policy-path", built["ckpt"], "--env", "aloha_transfer_cube", "--pose-ring", "0.05", "--output-dir", "mine"]
    code, _, err = run("visualize_policy.py", args, cwd, home)
    line = one_error_line(err)
    assert code == 2 and "add --cube-pose X Y" in line, line
    code, _, err = run("visualize_policy.py", [*args, "--cube-pose", "0.1", "0.5"], cwd, home)
    assert code == 2 and "did not make" in one_error_line(err)  # past the ring's check: it only stops at the folder
