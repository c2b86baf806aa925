"""Checks of the user's files before any work: datasets and checkpoints that are damaged, truncated or incomplete.

Each check reads only metadata (JSON files, parquet footers, safetensors headers, video containers and the frames at
their ends), so it costs milliseconds, and each problem is one UserError naming the file and the fix.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lerobot_notebook_pipeline.runtime import UserError

DATASET_FIX = "record or download the dataset again"
CHECKPOINT_FIX = "pass another checkpoint, or train again"
SIM_SETTINGS_FIX = "delete it (the sim settings then come from the flags) or record the dataset again"
STATS_FIX = "delete it (train.py then recomputes the statistics from the data) or record the dataset again"

# info.json's numbers: (whole number?, lowest, highest, lowest excluded?); each must be finite and in its range.
INFO_NUMBERS = {
    "fps": (False, 0, 10_000, True),
    "total_episodes": (True, 0, 10**8, False),
    "total_frames": (True, 0, 10**12, False),
    "total_tasks": (True, 0, 10**8, False),
    "total_chunks": (True, 0, 10**8, False),
    "total_videos": (True, 0, 10**9, False),
    "chunks_size": (True, 1, 10**8, False),
    "data_files_size_in_mb": (False, 0, 10**7, True),
    "video_files_size_in_mb": (False, 0, 10**7, True),
}
SHAPE_SIDE = (True, 1, 100_000, False)  # each entry of a feature's shape
VIDEO_NUMBERS = {"video.fps": INFO_NUMBERS["fps"], "video.height": SHAPE_SIDE, "video.width": SHAPE_SIDE,
                 "video.channels": SHAPE_SIDE}  # the encoder's own settings (crf, g, preset) are never read back


def json_problem(path: Path) -> str | None:
    """Why path is not a usable JSON object (missing, empty, broken), or None."""
    if not path.is_file():
        return f"'{path}' is missing"
    text = path.read_text(errors="replace")
    if not text.strip():
        return f"'{path}' is empty"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return f"'{path}' is not valid JSON ({err.msg} at line {err.lineno})"
    if not isinstance(value, dict):
        return f"'{path}' holds a JSON {type(value).__name__}, not an object"
    return None


def read_json_file(path: Path, fix: str) -> dict:
    """The JSON object in path, or a one-line UserError saying what is wrong with it and the fix."""
    problem = json_problem(path)
    if problem is not None:
        raise UserError(f"{problem}: {fix}")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------------- datasets


def check_dataset(root: str | Path, videos: bool = False, stats: bool = True) -> dict:
    """Refuse a local dataset whose metadata or data files are broken or out of range (with videos, also one whose
    videos are missing or do not decode; with stats, one whose meta/stats.json lerobot cannot read).

    Returns meta/info.json. Older (v2.1) datasets get the info.json checks only; their conversion checks the rest.
    """
    root = Path(root)
    info = read_json_file(root / "meta" / "info.json", DATASET_FIX)
    missing = [key for key in ("codebase_version", "fps", "features", "total_episodes") if key not in info]
    if missing:
        raise UserError(f"'{root / 'meta' / 'info.json'}' lacks {', '.join(missing)}: {DATASET_FIX}")
    check_info_numbers(root, info)
    if (root / "meta" / "sim_settings.json").exists():
        read_json_file(root / "meta" / "sim_settings.json", SIM_SETTINGS_FIX)
    if not str(info["codebase_version"]).startswith("v3"):
        if int(info["total_episodes"]) == 0:
            raise UserError(f"'{root}' holds no episodes (total_episodes is 0 in meta/info.json): record some first")
        return info
    episodes = episode_rows(root)
    check_episode_rows(root, info, episodes)
    check_tasks_file(root)
    if stats:
        problem = stats_file_problem(root)
        if problem is not None and not problem.endswith("is missing") and "not finite" not in problem:
            raise UserError(f"{problem}: {STATS_FIX}")
    check_data_files(root, info, episodes)
    if videos:
        check_video_files(root, info, episodes)
    return info


def number_problem(value, rule: tuple) -> str | None:
    """Why value breaks its rule (whole, lowest, highest, lowest excluded), in words, or None."""
    whole, low, high, low_open = rule
    kind = "a whole number" if whole else "a number"
    limits = f"{'above' if low_open else 'of at least'} {low} and at most {high:g}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be {kind} {limits}"
    if not math.isfinite(value) or (whole and value != int(value)) or value < low or (low_open and value == low) \
            or value > high:
        return f"must be {kind} {limits}"
    return None


def info_number_fields(info: dict) -> dict[str, tuple]:
    """Every number of info.json that a reader uses, by its path (e.g. fps, features.action.shape[0]), with its rule."""
    fields = {name: rule for name, rule in INFO_NUMBERS.items() if name in info}
    for key, feature in (info.get("features") or {}).items():
        if not isinstance(feature, dict):
            continue
        for i in range(len(feature.get("shape") or [])):
            fields[f"features.{key}.shape[{i}]"] = SHAPE_SIDE
        for name, rule in VIDEO_NUMBERS.items():
            if name in (feature.get("info") or {}):
                fields[f"features.{key}.info.{name}"] = rule
    return fields


def info_value(info: dict, field: str):
    """The value at a path from info_number_fields."""
    if not field.startswith("features."):
        return info[field]
    key, _, rest = field[len("features."):].rpartition(".shape[")
    if key:
        return info["features"][key]["shape"][int(rest[:-1])]
    key, _, name = field[len("features."):].partition(".info.")
    return info["features"][key]["info"][name]


def check_info_numbers(root: Path, info: dict) -> None:
    """Refuse an info.json number that is not finite or out of its range (a negative count, fps 0, a shape of 0)."""
    if not isinstance(info.get("features"), dict) or not info["features"]:
        raise UserError(f"'{root / 'meta' / 'info.json'}' lists no features: {DATASET_FIX}")
    for field, rule in info_number_fields(info).items():
        value = info_value(info, field)
        problem = number_problem(value, rule)
        if problem is not None:
            raise UserError(f"{field} is {json.dumps(value)} in '{root / 'meta' / 'info.json'}', and it {problem}: "
                            f"correct it there, or {DATASET_FIX}")


def episode_rows(root: Path) -> list[dict]:
    """The rows of meta/episodes/**/*.parquet (file locations only), or a UserError when they cannot be read."""
    import pyarrow.parquet as pq

    files = sorted((root / "meta" / "episodes").glob("**/*.parquet"))
    if not files:
        raise UserError(f"'{root}' has no meta/episodes/*.parquet, so its episodes are unknown: {DATASET_FIX}")
    rows = []
    for file in files:
        try:
            names = [n for n in pq.read_schema(file).names if not n.startswith("stats/")]
            rows += pq.read_table(file, columns=names).to_pylist()
        except Exception as err:  # pyarrow raises several types for a truncated or foreign file
            raise UserError(f"cannot read '{file}' ({_first_line(err)}): {DATASET_FIX}") from None
    return rows


def check_episode_rows(root: Path, info: dict, episodes: list[dict]) -> None:
    """Refuse meta/episodes that disagree with info.json's total_episodes, or list an episode without frames."""
    info_path = root / "meta" / "info.json"
    if not episodes:
        raise UserError(f"'{root}' holds no episodes (meta/episodes lists none): record some first")
    if int(info["total_episodes"]) != len(episodes):
        raise UserError(f"total_episodes is {info['total_episodes']} in '{info_path}', but meta/episodes lists "
                        f"{len(episodes)} episodes: set total_episodes to {len(episodes)} there, or {DATASET_FIX}")
    empty = [int(row.get("episode_index", i)) for i, row in enumerate(episodes)
             if row.get("length") is not None and int(row["length"]) < 1]
    if empty:
        raise UserError(f"episode(s) {_span(empty)} of '{root}' have 0 frames in meta/episodes: {DATASET_FIX}")


def check_tasks_file(root: Path) -> None:
    """Refuse a meta/tasks.parquet that is missing or cannot be read (lerobot reads each frame's task text there)."""
    import pyarrow.parquet as pq

    path = root / "meta" / "tasks.parquet"
    if not path.is_file():
        raise UserError(f"'{path}' is missing, so the episodes' task texts are unknown: {DATASET_FIX}")
    try:
        pq.read_table(path)
    except Exception as err:
        raise UserError(f"'{path}' is damaged or truncated ({_first_line(err)}): {DATASET_FIX}") from None


def stats_file_problem(root: str | Path) -> str | None:
    """What is wrong with meta/stats.json (missing, broken, not finite, lacking the action), or None.

    Training normalises with these numbers, so without whole ones the policy learns from unscaled data.
    """
    path = Path(root) / "meta" / "stats.json"
    problem = json_problem(path)
    if problem is not None:
        return problem
    stats = json.loads(path.read_text())
    for key, values in stats.items():
        numbers = [v for name, v in (values.items() if isinstance(values, dict) else []) if name != "count"]
        if not all(_all_finite(v) for v in numbers):
            return f"'{path}' holds numbers that are not finite (NaN or infinite) for '{key}'"
    return None


def _all_finite(value) -> bool:
    """True when value (a number or nested lists of numbers) holds only finite numbers."""
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_data_files(root: Path, info: dict, episodes: list[dict]) -> None:
    """Refuse a dataset whose data/*.parquet files (those meta/episodes names) are missing or truncated."""
    import pyarrow.parquet as pq

    pattern = info.get("data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
    files = sorted({root / pattern.format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
                    for row in episodes if row.get("data/chunk_index") is not None})
    for file in files:
        if not file.is_file():
            holding = [r["episode_index"] for r in episodes if root / pattern.format(
                chunk_index=int(r["data/chunk_index"]), file_index=int(r["data/file_index"])) == file]
            raise UserError(f"'{file}' is missing, so episodes {_span(holding)} have no data: restore that file or "
                            f"{DATASET_FIX}")
        try:
            pq.read_metadata(file)
        except Exception as err:
            raise UserError(f"'{file}' is damaged or truncated ({_first_line(err)}): {DATASET_FIX}") from None


def camera_video_files(root: Path, info: dict, episodes: list[dict]) -> dict[str, dict[Path, float]]:
    """Camera -> {video file: the latest time (s) an episode needs from it} for every video camera."""
    pattern = info.get("video_path")
    out = {}
    for key, feature in info["features"].items():
        if feature.get("dtype") != "video" or pattern is None:
            continue
        files = out.setdefault(key, {})
        for row in episodes:
            if row.get(f"videos/{key}/chunk_index") is None:
                continue
            path = root / pattern.format(video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                                         file_index=int(row[f"videos/{key}/file_index"]))
            files[path] = max(files.get(path, 0.0), float(row.get(f"videos/{key}/to_timestamp") or 0.0))
    return out


def check_video_files(root: Path, info: dict, episodes: list[dict]) -> None:
    """Refuse a dataset whose camera videos are missing or do not decode (training and open-loop replay decode them)."""
    for key, files in camera_video_files(root, info, episodes).items():
        missing = sorted(f for f in files if not f.is_file() or f.stat().st_size == 0)
        if missing or not files:
            where = missing[0] if missing else root / "videos" / key
            raise UserError(f"the videos of camera '{key}' are missing from '{root}' ({len(missing) or 'all'} file(s), "
                            f"e.g. '{where}'): restore the dataset's videos/ folder or {DATASET_FIX}")
    for path, problem in video_problems(root, info, episodes).items():
        raise UserError(f"the video '{path}' {problem}: restore that file or {DATASET_FIX}")


def video_problems(root: Path, info: dict, episodes: list[dict] | None = None) -> dict[Path, str]:
    """Video file -> why it cannot give its frames (it does not open, or its first or last needed frame does not
    decode), for the existing video files of a v3.0 dataset."""
    if episodes is None:
        episodes = episode_rows(root)
    fps = float(info["fps"])
    out = {}
    for files in camera_video_files(root, info, episodes).values():
        for path, until in sorted(files.items()):
            problem = None if not path.is_file() else "is empty (0 bytes)" if path.stat().st_size == 0 else \
                video_problem(path, until, fps)
            if problem is not None:
                out[path] = problem
    return out


def video_problem(path: Path, until: float, fps: float) -> str | None:
    """Why one video file cannot give its frames up to `until` seconds, or None; decodes only its first frame and
    the frames from the keyframe before its last needed one."""
    import av

    from lerobot_notebook_pipeline.analysis.consistency import last_frame_time

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "holds no video stream"
            if next(container.decode(container.streams.video[0]), None) is None:
                return "has no frame that decodes"
        last = last_frame_time(path, until - 1.5 / fps)
    except Exception as err:  # PyAV raises many kinds of errors on a damaged file
        return f"cannot be decoded ({type(err).__name__}: {_first_line(err)[:100]})"
    if last is None or last < until - 1.5 / fps:
        return (f"ends at {max(last or 0.0, 0.0):.2f} s, but its episodes need frames up to {until:.2f} s (it is cut "
                "short or its frames fail to decode)")
    return None


def check_not_input(output: Path, inputs: dict[str, Path | str | None], flag: str = "--output-dir") -> None:
    """Refuse an output folder that is an input folder, lies inside one or holds one: replacing it would lose it."""
    out = Path(output).resolve()
    for name, value in inputs.items():
        if value is None or not Path(str(value)).exists():
            continue
        given = Path(str(value)).resolve()
        if given == out or out in given.parents or given in out.parents:
            where = "is" if given == out else "holds" if out in given.parents else "lies inside"
            raise UserError(f"{flag} '{output}' {where} the {name} folder '{value}', so the run would replace what it "
                            f"reads: choose another {flag}, such as outputs/NAME")


def image_shapes(info: dict) -> dict[str, tuple[int, int, int]]:
    """Camera key -> (channels, height, width) from info.json's features."""
    out = {}
    for key, feature in info["features"].items():
        if feature.get("dtype") in ("image", "video") and len(feature.get("shape") or []) == 3:
            shape = [int(v) for v in feature["shape"]]
            out[key] = tuple(shape) if list(feature.get("names") or [])[:1] == ["channels"] else \
                (shape[2], shape[0], shape[1])
    return out


def check_replay_images(policy_inputs: dict[str, tuple], dataset, max_aspect_change: float = 0.05) -> None:
    """Refuse an open-loop replay whose recorded camera images have another aspect ratio than the policy's (resizing
    would distort them, and a replay shows the recorded frames as they are)."""
    from lerobot_notebook_pipeline.data import resolve_dataset

    _, root = resolve_dataset(dataset)
    if root is None:
        return
    recorded = image_shapes(read_json_file(Path(root) / "meta" / "info.json", DATASET_FIX))
    wanted = {k: tuple(s) for k, s in policy_inputs.items() if len(s) == 3}
    spare = [k for k in recorded if k not in wanted]
    for key, want in wanted.items():
        have = recorded.get(key) or (recorded[spare[0]] if len(spare) == 1 else None)
        if have is None or have[0] != want[0]:
            continue  # the replay names the missing camera or the channels itself
        if abs((want[2] / want[1]) / (have[2] / have[1]) - 1) > max_aspect_change:
            raise UserError(f"the policy was trained on {want[1]}x{want[2]} images for '{key}', but '{dataset}' "
                            f"recorded {have[1]}x{have[2]} (another aspect ratio; resizing would distort them): replay "
                            "it on its training dataset, or on one recorded at that aspect ratio")


# ------------------------------------------------------------------------------------------------- checkpoints

# The weight names each policy type builds start with one of these (a config of another type over them would build a
# randomly initialised policy); other types are checked when the weights are loaded.
WEIGHT_PREFIXES = {"act": ("model.decoder.", "model.encoder."), "diffusion": ("diffusion.unet.",),
                   "smolvla": ("model.vlm_with_expert.",)}
PROCESSOR_FILES = ("policy_preprocessor.json", "policy_postprocessor.json")


def checkpoint_problem(path: str | Path) -> str | None:
    """What is wrong with a pretrained_model folder (config.json, model.safetensors, the processors), or None."""
    path = Path(path)
    problem = json_problem(path / "config.json")
    if problem is not None:
        return problem
    policy_type = json.loads((path / "config.json").read_text()).get("type")
    if not policy_type:
        return f"'{path / 'config.json'}' names no policy type"
    problem = safetensors_problem(path / "model.safetensors") or weights_type_problem(path, str(policy_type))
    return problem or processor_problem(path)


def weights_type_problem(path: Path, policy_type: str) -> str | None:
    """Why the weights' names do not fit the config's policy type (read from the safetensors header), or None."""
    prefixes = WEIGHT_PREFIXES.get(policy_type)
    if prefixes is None:
        return None
    names = safetensors_names(path / "model.safetensors")
    if any(name.startswith(prefixes) for name in names):
        return None
    guess = next((kind for kind, marks in WEIGHT_PREFIXES.items() if any(n.startswith(marks) for n in names)), None)
    held = f"{guess} weights" if guess else f"weights named {', '.join(sorted(names)[:2]) or 'nothing'}"
    return (f"'{path / 'config.json'}' is a {policy_type} config, but model.safetensors holds {held}: the config and "
            "the weights come from different checkpoints")


def processor_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint's processor files (the normalisation it was trained with), or None."""
    for name in PROCESSOR_FILES:
        problem = json_problem(path / name)
        if problem is not None:
            return problem + (" (the normalisation the policy was trained with)" if problem.endswith("missing") else "")
        steps = json.loads((path / name).read_text()).get("steps") or []
        for step in steps if isinstance(steps, list) else []:
            state = step.get("state_file") if isinstance(step, dict) else None
            problem = safetensors_problem(path / state) if state else None
            if problem is not None:
                return problem
    return None


def check_checkpoint(path: str | Path) -> None:
    """Refuse a pretrained_model folder whose config, weights or processors are broken, or do not belong together."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise UserError(f"{problem}: {CHECKPOINT_FIX}")


def safetensors_header(path: Path) -> tuple[dict | None, str | None]:
    """(the header of a .safetensors file, None), or (None, why it is unusable: missing, truncated, broken)."""
    if not path.is_file():
        return None, f"'{path}' is missing"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        header_len = int.from_bytes(head, "little") if len(head) == 8 else -1
        if header_len < 2 or 8 + header_len > size:
            return None, f"'{path}' is truncated ({size} bytes)"
        try:
            header = json.loads(f.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, f"'{path}' has a broken header"
    if not isinstance(header, dict):
        return None, f"'{path}' has a broken header"
    tensors = [t for name, t in header.items() if name != "__metadata__"]
    if not all(isinstance(t, dict) and isinstance(t.get("data_offsets"), list) and len(t["data_offsets"]) == 2
               for t in tensors):
        return None, f"'{path}' has a broken header"
    expected = 8 + header_len + max((int(t["data_offsets"][1]) for t in tensors), default=0)
    if size < expected:
        return None, f"'{path}' is truncated ({size} of {expected} bytes)"
    return header, None


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file is unusable (missing, truncated, a broken header), or None."""
    return safetensors_header(path)[1]


def safetensors_names(path: Path) -> list[str]:
    """The tensor names in a whole .safetensors file (from its header alone)."""
    header, _ = safetensors_header(path)
    return [name for name in header or {} if name != "__metadata__"]


# ----------------------------------------------------------------------------------------- train.py run folders


def check_run_folder(run_dir: Path, resume: bool, overwrite: bool) -> Path | None:
    """train.py's run folder: with resume the checkpoint to continue from; else refuse an earlier run unless overwrite.

    Each refusal names the flags under which the same command is then accepted.
    """
    if resume:
        if overwrite:
            raise UserError("--resume continues the run and --overwrite replaces it: pass one of them")
        return check_resumable(run_dir)
    if ((run_dir / "checkpoints").exists() or (run_dir / "metrics.jsonl").exists()) and not overwrite:
        raise UserError(f"run folder '{run_dir}' already exists: pass --resume to continue it, --overwrite to start "
                        "again, or --output-dir for a new run")
    return None


def check_resumable(run_dir: str | Path) -> Path:
    """The checkpoint `checkpoints/last` points to, refused when it is incomplete (naming the previous whole one)."""
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    last = checkpoints / "last"
    if not last.exists():
        held = run_dir.is_dir() and any(p.name != ".lnp-output" for p in run_dir.iterdir())
        fix = ("start it again with --overwrite instead of --resume (it replaces what is there), or pass a new "
               "--output-dir" if held else "drop --resume to start a new run there")
        raise UserError(f"nothing to resume in '{run_dir}' (no checkpoints/last): {fix}")
    target = last.resolve()
    problem = resume_problem(target)
    if problem is None:
        return target
    whole = [p for p in sorted(checkpoints.iterdir(), reverse=True)
             if p.name.isdigit() and p.resolve() != target and resume_problem(p) is None]
    fix = (f"resume from the previous one with 'ln -sfn {whole[0].name} {last}', then --resume again" if whole
           else "no earlier checkpoint is whole: start again with --overwrite instead of --resume")
    raise UserError(f"the last checkpoint '{target}' is incomplete ({problem}): {fix}")


def resume_problem(checkpoint: Path) -> str | None:
    """What keeps a step checkpoint from being resumed (its weights, config or training state), or None."""
    problem = checkpoint_problem(checkpoint / "pretrained_model")
    if problem is not None:
        return problem
    state = checkpoint / "training_state"
    if not state.is_dir() or not any(state.iterdir()):
        return f"'{state}' is missing or empty"
    for file in state.glob("*.safetensors"):
        problem = safetensors_problem(file)
        if problem is not None:
            return problem
    return None


def check_saved_split(run_dir: Path, total_episodes: int, dataset) -> None:
    """Refuse to resume a run whose saved split (split.json) names episodes the dataset does not have."""
    path = Path(run_dir) / "split.json"
    if not path.is_file():
        return
    split = read_json_file(path, "start again with --overwrite instead of --resume")
    wanted = [int(e) for e in (split.get("train") or []) + (split.get("val") or [])]
    beyond = sorted(e for e in wanted if not 0 <= e < int(total_episodes))
    if beyond:
        raise UserError(f"the run in '{run_dir}' trains on episodes up to {max(wanted)} (its split.json), but "
                        f"'{dataset}' holds {total_episodes}: resume with the dataset it was started on, or start again "
                        "with --overwrite instead of --resume")


# --------------------------------------------------------------------------------------------- flags a mode ignores


def given_flags(parser, args, names: list[str]) -> list[str]:
    """The flags among names (e.g. '--episode') whose value differs from the parser's default."""
    defaults = {a.option_strings[0]: a for a in parser._actions if a.option_strings}
    return [name for name in names if name in defaults
            and getattr(args, defaults[name].dest) != defaults[name].default]


def note_ignored(parser, args, names: list[str], why: str) -> list[str]:
    """Print one `note:` line naming the given flags among names, which the chosen mode ignores; return them."""
    ignored = given_flags(parser, args, names)
    if ignored:
        one = len(ignored) == 1
        print(f"note: {' and '.join(ignored)} {'is' if one else 'are'} ignored: {why}", flush=True)
    return ignored


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


def _span(indices: list[int]) -> str:
    return ", ".join(map(str, indices[:5])) + (" ..." if len(indices) > 5 else "")
