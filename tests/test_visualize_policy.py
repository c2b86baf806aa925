"""visualize_policy.py end to end: media under budget, metrics.json, agreement with lerobot-eval, open loop, errors."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, inline_images, run_notebook, run_script

pytest_plugins = ("policy_fixtures",)  # tiny policies and datasets, built once per session
SCRIPT = ROOT / "visualize_policy.py"
LEROBOT_EVAL = ROOT / ".venv" / "bin" / "lerobot-eval"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def script_cmd(*args):
    return [sys.executable, str(SCRIPT), *map(str, args)]


def run_cli(*args, timeout=180):
    """The script in a subprocess, as a terminal runs it: for exit codes and error lines."""
    return subprocess.run(script_cmd(*args), capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout)


def run_here(*args):
    """The script in this process (its imports are loaded already): for what a run writes and prints."""
    return run_script(SCRIPT, *args)


def run_side_by_side(tmp_path, policy, eval_args, seed, episodes, script_args):
    """Run lerobot-eval and visualize_policy.py at the same time; per-episode (sum, max, success) from each."""
    out = tmp_path / "lerobot_eval"
    eval_cmd = [str(LEROBOT_EVAL) if LEROBOT_EVAL.exists() else "lerobot-eval", *eval_args,
                f"--eval.n_episodes={episodes}", "--eval.batch_size=1", f"--policy.path={policy}",
                "--policy.device=cpu", f"--seed={seed}", f"--output_dir={out}"]
    theirs_run = subprocess.Popen(eval_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                  env=ENV)
    try:  # ours in this process meanwhile
        run_here("--policy-path", policy, "--episodes", episodes, "--seed", seed, "--output-dir", tmp_path / "ours",
                 "--device", "cpu", *script_args)
    finally:
        _, err = theirs_run.communicate(timeout=300)
    assert theirs_run.returncode == 0, err[-3000:]
    m = json.loads((out / "eval_info.json").read_text())["per_task"][0]["metrics"]
    theirs = list(zip(m["sum_rewards"], m["max_rewards"], m["successes"], strict=True))
    mine, metrics = ours(tmp_path / "ours" / "metrics.json")
    assert [e["seed"] for e in metrics["per_episode"]] == [seed + i for i in range(episodes)]
    return mine, theirs


def ours(metrics_path):
    metrics = json.loads(metrics_path.read_text())
    return [(e["sum_reward"], e["max_reward"], e["success"]) for e in metrics["per_episode"]], metrics


def test_rollout_writes_videos_gif_strip_and_metrics(tiny_aloha_policy, tmp_path):
    out = tmp_path / "run"
    result = run_here("--policy-path", tiny_aloha_policy, "--env", "aloha_transfer_cube", "--image-size", 48, 64,
                      "--episodes", 2, "--max-steps", 8, "--seed", 5, "--output-dir", out, "--max-mb", 0.5,
                      "--action-panel", "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"pc_success", "avg_sum_reward", "avg_max_reward", "per_episode", "inference", "media"}
    assert {"successes", "episodes", "ci95", "distinct_initial_conditions", "stages"} <= set(metrics)
    assert metrics["episodes"] == 2 and metrics["distinct_initial_conditions"] == 2  # seeded poses from gym-aloha's range
    assert [e["seed"] for e in metrics["per_episode"]] == [5, 6]
    for episode in metrics["per_episode"]:
        assert set(episode) >= {"sum_reward", "max_reward", "success", "seed"} and episode["steps"] == 8
    assert metrics["inference"]["all"]["calls"] == 16 and metrics["inference"]["new_chunk"]["calls"] == 4
    assert metrics["inference"]["control_hz"] == 50.0 and isinstance(metrics["inference"]["keeps_up"], bool)
    videos = sorted(out.glob("*.mp4"))
    gifs = sorted(out.glob("*.gif"))
    assert [v.name for v in videos] == ["episode_000_seed5.mp4", "episode_001_seed6.mp4"] and len(gifs) == 1
    for path in videos + gifs:
        assert path.stat().st_size <= 0.5 * 1024 * 1024
        assert metrics["media"]["files"][path.name]["size_mb"] == pytest.approx(path.stat().st_size / 2**20, abs=1e-3)
    assert metrics["media"]["gif"] == str(gifs[0]) and metrics["media"]["best_video"] == str(videos[0])
    frames = iio.imread(videos[0], plugin="pyav")
    stride = metrics["media"]["files"][videos[0].name]["stride"]
    assert len(frames) == len(range(0, 9, stride)) and frames.shape[-1] == 3  # reset frame + 8 steps
    assert frames.shape[2] > frames.shape[1]  # the action panel sits beside the camera view
    gif = Image.open(gifs[0])
    assert gif.n_frames >= 2
    strip = np.asarray(Image.open(out / "first_last_frames.png"))
    assert strip.shape[0] == 160 and strip.shape[1] > 4 * 160
    assert "success" in result.stdout and "inference FPS" in result.stdout and "MB" in result.stdout
    assert "(95% CI 0-66%): 2 rollouts from 2 distinct initial states: 2 trials" in result.stdout
    assert "furthest stage: 2 never touched" in result.stdout


def policy_trained_on(tmp_path, policy, settings: dict):
    """A copy of a tiny policy whose train_args.json names a dataset folder holding these sim settings."""
    import shutil

    root = tmp_path / "data"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text("{}")
    (root / "meta" / "sim_settings.json").write_text(json.dumps(settings))
    copy = shutil.copytree(policy, tmp_path / "policy")
    (copy / "train_args.json").write_text(json.dumps({"dataset": str(root)}))
    return copy


SPREAD = {"task": "transfer_cube", "image_size": [48, 64], "render_quality": "fast", "cube_pose": None,
          "pose_range": [0.085, 0.115, 0.485, 0.515], "episode_length": 400,
          "episodes": [{"object_pose": [0.09, 0.49, 0.05, 1, 0, 0, 0]}, {"object_pose": [0.11, 0.51, 0.05, 1, 0, 0, 0]}]}


def test_episodes_start_from_the_training_datas_spread_by_default(tiny_aloha_policy, tmp_path):
    policy = policy_trained_on(tmp_path, tiny_aloha_policy, SPREAD)
    result = run_here("--policy-path", policy, "--episodes", 3, "--max-steps", 3, "--output-dir", tmp_path / "o",
                      "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    xy = [tuple(e["object_pose"][:2]) for e in metrics["per_episode"]]
    assert len(set(xy)) == 3 and all(0.085 <= x <= 0.115 and 0.485 <= y <= 0.515 for x, y in xy)
    assert metrics["distinct_initial_conditions"] == 3 and metrics["episodes"] == 3
    assert metrics["poses"]["training_range"] == SPREAD["pose_range"] and metrics["poses"]["training_positions"] == 2


def test_a_fixed_pose_is_one_trial_however_many_rollouts(tiny_aloha_policy, tmp_path):
    result = run_here("--policy-path", tiny_aloha_policy, "--image-size", 48, 64, "--cube-pose", 0.1, 0.5,
                      "--episodes", 3, "--max-steps", 3, "--output-dir", tmp_path / "o", "--device", "cpu",
                      "--perturb", "table_height_cm=1,obs_delay=1")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert (metrics["n_episodes"], metrics["episodes"], metrics["distinct_initial_conditions"]) == (3, 1, 1)
    assert metrics["env_settings"]["perturb"] == {"table_height_cm": 1.0, "obs_delay": 1.0}
    assert "perturbed: table_height_cm=1, obs_delay=1" in result.stdout
    assert "3 rollouts from 1 distinct initial state: 1 trial (identical rollouts counted once)" in result.stdout


def test_pose_grid_writes_a_heatmap_with_the_training_positions(tiny_aloha_policy, tmp_path):
    settings = tmp_path / "sim_settings.json"
    settings.write_text(json.dumps(SPREAD))
    out = tmp_path / "grid"
    result = run_here("--policy-path", tiny_aloha_policy, "--dataset-settings", settings, "--pose-grid", 2, 2,
                      "--pose-range", 0.05, 0.15, 0.45, 0.55, "--max-steps", 3, "--output-dir", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    xy = [tuple(round(v, 5) for v in e["object_pose"][:2]) for e in metrics["per_episode"]]
    assert xy == [(0.05, 0.45), (0.15, 0.45), (0.05, 0.55), (0.15, 0.55)]
    grid = metrics["pose_grid"]
    assert (grid["nx"], grid["ny"]) == (2, 2) and np.asarray(grid["success"]).shape == (2, 2)
    assert grid["stage"] == [[0, 0], [0, 0]] and metrics["episodes"] == 4
    heatmap = np.asarray(Image.open(out / "pose_heatmap.png"))
    assert heatmap.shape[0] > 200 and (heatmap[..., :3].std(axis=(0, 1)) > 10).all()


def test_success_and_rewards_agree_with_lerobot_eval_on_aloha(tiny_aloha_policy_480, tmp_path):
    """Same checkpoint, seeds and stock rendering: lerobot-eval's per-episode results equal ours."""
    steps, seed = 5, 11
    mine, theirs = run_side_by_side(
        tmp_path, tiny_aloha_policy_480,
        ["--env.type=aloha", "--env.task=AlohaTransferCube-v0", f"--env.episode_length={steps}"], seed, 2,
        ["--env", "aloha_transfer_cube", "--render-quality", "stock", "--max-steps", steps])
    assert [m[2] for m in mine] == [t[2] for t in theirs]
    np.testing.assert_allclose([m[:2] for m in mine], [t[:2] for t in theirs], rtol=1e-5, atol=1e-6)


def test_rewards_agree_with_lerobot_eval_on_pusht(tiny_pusht_policy, tmp_path):
    """PushT gives non-zero rewards from a random policy: a sharper check of the per-step loop and metrics."""
    steps, seed = 20, 0
    mine, theirs = run_side_by_side(tmp_path, tiny_pusht_policy, ["--env.type=pusht", f"--env.episode_length={steps}"],
                                    seed, 2, ["--env", "pusht", "--max-steps", steps])
    assert theirs[0][0] > 0, "seed 0 should give a non-zero reward to compare"
    assert [m[2] for m in mine] == [t[2] for t in theirs]
    # float32 matmuls with different thread counts may differ in the last bits
    np.testing.assert_allclose([m[:2] for m in mine], [t[:2] for t in theirs], rtol=1e-5, atol=1e-6)


def test_open_loop_replay_writes_mae_plot_and_video(synthetic_replay, tmp_path):
    from test_rollout import direct_replay

    root, policy = synthetic_replay
    out = tmp_path / "ol"
    result = run_here("--policy-path", policy, "--dataset", root, "--episode", 1, "--output-dir", out,
                      "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    predicted, recorded = direct_replay(root, policy, 1)
    expected = np.abs(predicted - recorded).mean(axis=0)
    assert list(metrics["per_joint_mae"]) == [f"j{i}" for i in range(6)]
    np.testing.assert_allclose(list(metrics["per_joint_mae"].values()), expected, rtol=1e-5)
    assert metrics["frames"] == 12 and metrics["inference"]["control_hz"] == 30.0
    assert (out / "predicted_vs_recorded.png").is_file()
    video = iio.imread(out / "openloop_episode_1.mp4", plugin="pyav")
    assert video.shape[0] == 12 and video.shape[2] > video.shape[1]  # camera view beside the curves


@pytest.mark.parametrize("make_args, words", [
    (lambda p, r, t: ["--policy-path", t / "nope"], "neither an existing folder"),
    (lambda p, r, t: ["--policy-path", p, "--dataset", r, "--episode", 9], "episodes 0..1"),
    (lambda p, r, t: ["--policy-path", p, "--episodes", 0], "--episodes"),
    (lambda p, r, t: ["--policy-path", p, "--env", "aloha_transfer_cube", "--pose-range", 0, 1, 0, 1], "--pose-grid"),
    (lambda p, r, t: ["--policy-path", p, "--env", "pusht", "--pose-grid", 2, 2], "aloha envs only"),
    (lambda p, r, t: ["--policy-path", p, "--env", "aloha_transfer_cube", "--perturb", "wind=3"], "unknown factor"),
    (lambda p, r, t: ["--policy-path", p, "--env", "aloha_transfer_cube", "--perturb", "camera_shift_cm=99"],
     "from -20 to 20"),
    (lambda p, r, t: ["--policy-path", p, "--env", "aloha_insertion", "--perturb", "cube_scale=1.2"], "no cube"),
    (lambda p, r, t: ["--policy-path", p, "--env", "so101_pick_place", "--marks", 4, "--pose-grid", 2, 2],
     "--marks puts the cube at the pencil marks and --pose-grid puts it elsewhere"),
])
def test_bad_input_exits_2_with_one_line(synthetic_replay, tmp_path, make_args, words):
    root, policy = synthetic_replay
    result = run_cli(*make_args(policy, root, tmp_path), "--output-dir", tmp_path / "o", "--device", "cpu")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and words in lines[-1], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_refuses_to_overwrite_without_flag(tiny_aloha_policy, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / ".lnp-output").touch()  # an earlier output of ours: only such a folder is ever replaced
    (out / "keep.txt").write_text("user data")
    result = run_cli("--policy-path", tiny_aloha_policy, "--output-dir", out, "--device", "cpu")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (out / "keep.txt").read_text() == "user data"


def test_notebook_executes_headless_with_tiny_settings(tiny_aloha_policy, tmp_path):
    out = tmp_path / "nb"
    nb = run_notebook("visualize_policy.ipynb", f"--policy-path {tiny_aloha_policy} --env aloha_transfer_cube "
                      f"--image-size 48 64 --episodes 1 --max-steps 5 --output-dir {out} --device cpu")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_episodes"] == 1 and metrics["per_episode"][0]["steps"] == 5
    assert inline_images(nb), "the first/last-frame strip should be shown inline"


def test_parallel_envs_from_the_command_line(tiny_pusht_policy, tmp_path):
    """--num-envs 2 with 3 episodes: two batches, the padded slot of the last one dropped."""
    out = tmp_path / "par"
    result = run_here("--policy-path", tiny_pusht_policy, "--env", "pusht", "--episodes", 3, "--num-envs", 2,
                      "--max-steps", 6, "--seed", 0, "--output-dir", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_envs"] == 2 and [e["seed"] for e in metrics["per_episode"]] == [0, 1, 2]
    assert len(list(out.glob("episode_*.mp4"))) == 3
