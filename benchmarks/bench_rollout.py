"""Rollout and inference speed, side by side in one run.

1. One 400-step transfer-cube episode of the same tiny ACT checkpoint (480x640 input): lerobot-eval (stock
   gym-aloha) against visualize_policy.py (fast env, fast and stock render), whole process and episode alone.
2. select_action latency (new chunk vs queued) and effective Hz against the control rate for ACT (lerobot
   defaults at 480x640, and the project's cpu preset at 96x128), Diffusion (lerobot defaults, PushT) and SmolVLA
   (full-size SmolVLM2-500M architecture with RANDOM weights: the real weights cannot be reached here).

    .venv/bin/python benchmarks/bench_rollout.py [--steps 400] [--threads 1] [--skip-rollout] [--skip-inference]

Writes its section of benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import lerobot_notebook_pipeline  # noqa: E402,F401  (headless GL before mujoco)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=400, help="episode length of the rollout comparison")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=1, help="torch threads for the inference figures")
parser.add_argument("--skip-rollout", action="store_true")
parser.add_argument("--skip-inference", action="store_true")
parser.add_argument("--policies", nargs="*", default=["act_paper", "act_cpu", "diffusion", "smolvla"])
parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
args = parser.parse_args()

import torch  # noqa: E402

from lerobot_notebook_pipeline.evaluation.inference import CONTROL_HZ, time_select_action  # noqa: E402
from lerobot_notebook_pipeline.results import write_results_section  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl", "HF_HUB_OFFLINE": "1"}
lines = []


def timed(cmd, cwd):
    """(wall s, CPU s) of a subprocess; CPU time (user + sys) barely depends on other jobs sharing the cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=ENV)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{out.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ------------------------------------------------------------------------------------- 1. rollout wall time
if not args.skip_rollout:
    from policy_fixtures import save_tiny_act

    work = Path(tempfile.mkdtemp(prefix="bench_rollout_"))
    # chunk 50 (the cpu preset's) so that policy compute does not hide the env's cost
    policy = save_tiny_act(work / "act_480x640", image_size=(480, 640), chunk_size=50)
    lerobot_eval = ROOT / ".venv" / "bin" / "lerobot-eval"
    eval_cmd = [str(lerobot_eval), "--env.type=aloha", "--env.task=AlohaTransferCube-v0",
                f"--env.episode_length={args.steps}", "--eval.n_episodes=1", "--eval.batch_size=1",
                f"--policy.path={policy}", "--policy.device=cpu", f"--seed={args.seed}", f"--output_dir={work / 'eval'}"]
    print("lerobot-eval ...", flush=True)
    eval_wall, eval_cpu = timed(eval_cmd, work)
    info = json.loads((work / "eval" / "eval_info.json").read_text())
    eval_episode_s = info["overall"]["eval_s"]
    theirs = info["per_task"][0]["metrics"]
    rows = [("lerobot-eval, stock gym-aloha (3 cameras, shadows, MSAA; video rendered)", eval_wall, eval_cpu,
             eval_episode_s)]
    ours = {}
    for quality in ("fast", "stock"):
        print(f"visualize_policy.py --render-quality {quality} ...", flush=True)
        out_dir = work / f"ours_{quality}"
        cmd = [sys.executable, str(ROOT / "visualize_policy.py"), "--policy-path", str(policy), "--env",
               "aloha_transfer_cube", "--episodes", "1", "--max-steps", str(args.steps), "--seed", str(args.seed),
               "--render-quality", quality, "--output-dir", str(out_dir), "--device", "cpu"]
        wall, cpu = timed(cmd, ROOT)
        ours[quality] = json.loads((out_dir / "metrics.json").read_text())
        rows.append((f"visualize_policy.py, fast env 480x640, render {quality} (+ MP4, GIF, strip)", wall, cpu,
                     ours[quality]["rollout_s"]))
    stock = ours["stock"]["per_episode"][0]
    agree = (stock["success"] == theirs["successes"][0]
             and abs(stock["sum_reward"] - theirs["sum_rewards"][0]) < 1e-6)
    lines += [
        f"### Rollout wall time: one {args.steps}-step transfer-cube episode, same checkpoint and seed",
        "",
        f"Checkpoint: tiny random ACT (dim_model 32, chunk 50, ResNet18 without pretrained weights, 480x640 `top` + "
        f"14-dim state), seed {args.seed}, run one after the other. Process = the whole command incl. imports and "
        "video writing (wall and CPU seconds); episode = the rollout loop alone (lerobot-eval's `eval_s`, our "
        "`rollout_s`, which excludes video encoding).",
        "",
        "| run | process wall s | process CPU s | episode wall s | episode speed-up | process CPU speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, wall, cpu, episode_s in rows:
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {episode_s:.1f} | {eval_episode_s / episode_s:.1f}x | "
                     f"{eval_cpu / cpu:.1f}x |")
    lines += ["", f"Per-episode result of our stock-render run equals lerobot-eval's (success, sum_reward): {agree} "
              f"(lerobot-eval sum_reward {theirs['sum_rewards'][0]:g}, ours {stock['sum_reward']:g}).", ""]
    print("\n".join(lines), flush=True)


# ------------------------------------------------------------------------------------- 2. inference latency
def stats_for(features: dict) -> dict:
    from policy_fixtures import simple_stats

    state = features["observation.state"].shape[0]
    action = features["action"].shape[0]
    images = tuple(k for k in features if "image" in k)
    return simple_stats(state, action, images)


def build(name: str):
    """(label, policy, preprocessor, raw observation, control_hz, note) for one benchmark row."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_notebook_pipeline.training import policies

    def feats(h, w, state, action, image_key="observation.images.top"):
        return ({"observation.state": PolicyFeature(FeatureType.STATE, (state,)),
                 image_key: PolicyFeature(FeatureType.VISUAL, (3, h, w))},
                {"action": PolicyFeature(FeatureType.ACTION, (action,))})

    note = ""
    if name == "act_paper":
        cfg = policies.make_config("act", "paper")
        (h, w), hz, label = (480, 640), CONTROL_HZ["aloha"], "ACT, lerobot defaults (chunk 100), 480x640, ALOHA"
        cfg.input_features, cfg.output_features = feats(h, w, 14, 14)
    elif name == "act_cpu":
        cfg = policies.make_config("act", "cpu")
        (h, w), hz, label = (96, 128), CONTROL_HZ["aloha"], "ACT, cpu preset (chunk 50), 96x128, ALOHA"
        cfg.input_features, cfg.output_features = feats(h, w, 14, 14)
    elif name == "diffusion":
        cfg = policies.make_config("diffusion", "paper")
        (h, w), hz = (96, 96), CONTROL_HZ["pusht"]
        label = (f"Diffusion, lerobot defaults ({cfg.num_inference_steps or cfg.num_train_timesteps} denoising steps, "
                 f"{cfg.n_action_steps} actions/chunk), 96x96, PushT")
        cfg.input_features, cfg.output_features = feats(h, w, 2, 2, "observation.image")
    elif name == "smolvla":
        from lerobot_notebook_pipeline.training.smolvla_backbone import ensure_backbone

        backbone = ensure_backbone(full_size=True)
        cfg = policies.make_config("smolvla", "paper", vlm_model_name=str(backbone))
        (h, w), hz = (480, 640), CONTROL_HZ["so101"]
        label = f"SmolVLA, full-size SmolVLM2-500M architecture, RANDOM weights (chunk {cfg.n_action_steps}), 480x640, SO-101"
        note = "random weights: lerobot/smolvla_base cannot be reached here; latency depends on the architecture only"
        cfg.input_features, cfg.output_features = feats(h, w, 6, 6)
    else:
        raise SystemExit(f"unknown policy {name}")
    features = {**cfg.input_features, **cfg.output_features}
    policy = policies.policy_class(cfg.type)(cfg).eval()
    pre, _ = make_pre_post_processors(cfg, dataset_stats=stats_for(features))
    raw = {k: torch.rand(1, *ft.shape) for k, ft in cfg.input_features.items()}
    raw["task"] = ["pick up the cube"]
    return label, policy, pre(raw), hz, note, sum(p.numel() for p in policy.parameters())


def keeps_up_words(s: dict) -> str:
    if s["keeps_up"]:
        return "yes"
    return "on average only (stalls at each new chunk)" if s["keeps_up_on_average"] else "no"


CALLS = {"act_paper": 200, "act_cpu": 100, "diffusion": 16, "smolvla": 100}
if not args.skip_inference:
    torch.set_num_threads(args.threads)
    rows, notes = [], []
    for name in args.policies:
        print(f"inference: {name} ...", flush=True)
        label, policy, batch, hz, note, params = build(name)
        log = time_select_action(policy, batch, CALLS[name], warmup=1)
        s = log.summary(hz)
        rows.append((label, params, s))
        if note:
            notes.append(note)
        print(label, s["verdict"], flush=True)
        del policy
    lines += [
        "### Inference speed: select_action latency against the control rate",
        "",
        f"CPU, {args.threads} torch thread(s), batch 1, inputs random tensors at the stated size; "
        "calls cover at least two chunks after one warm-up chunk. Wall-clock latencies include waiting for the "
        "shared cores; the CPU column is the process CPU time of a new-chunk call (with one thread, the latency an "
        "idle core would give).",
        "",
        "| policy | params | new chunk p50 / p95 ms | new chunk CPU p50 ms | queued p50 / p95 ms | effective Hz | control Hz | keeps up |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, params, s in rows:
        c, q = s["new_chunk"], s["queued"]
        queued = f"{q['p50_ms']:.2f} / {q['p95_ms']:.2f}" if q["calls"] else "-"
        cpu = s["new_chunk_cpu"]["p50_ms"]
        lines.append(f"| {label} | {params / 1e6:.1f}M | {c['p50_ms']:.0f} / {c['p95_ms']:.0f} | {cpu:.0f} | {queued} | "
                     f"{s['effective_hz']:.1f} | {s['control_hz']:g} | {keeps_up_words(s)} |")
    lines += ["", "Verdicts:", ""] + [f"- {label}: {s['verdict']}." for label, _, s in rows]
    lines += [""] + [f"Note: {n}." for n in notes]

load = os.getloadavg()
flags = " ".join(sys.argv[1:])
header = [f"Command: `.venv/bin/python benchmarks/bench_rollout.py{' ' + flags if flags else ''}`",
          "",
          f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs (load average "
          f"{load[0]:.1f} at the end), MuJoCo EGL (llvmpipe), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
          ""]
write_results_section(args.results, "Policy rollouts and inference speed (bench_rollout.py)", "\n".join(header + lines))
print(f"wrote {args.results}")
