"""Inference speed: per-call select_action latency, split into new-chunk and queued calls, against the control rate."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# Control rates the policy must keep up with (Hz): gym-aloha, gym-pusht, and a real SO-101 recording.
CONTROL_HZ = {"aloha": 50.0, "pusht": 10.0, "so101": 30.0}


def queued_actions(policy) -> int | None:
    """Number of actions waiting in the policy's action queue (ACT, Diffusion, SmolVLA), or None if it has none."""
    queue = getattr(policy, "_action_queue", None)
    if queue is None:
        queues = getattr(policy, "_queues", None)
        queue = queues.get("action") if isinstance(queues, dict) else None
    if queue is None:
        return None
    try:
        return len(queue)
    except TypeError:
        return None


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


@dataclass
class LatencyLog:
    """Wall time of every select_action call and whether that call had to compute a new action chunk."""

    seconds: list[float] = field(default_factory=list)
    new_chunk: list[bool] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # process CPU time: unaffected by other jobs' load

    def select_action(self, policy, batch, device: str = "cpu"):
        """Call policy.select_action(batch) under inference_mode, timing it."""
        import torch

        before = queued_actions(policy)
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            action = policy.select_action(batch)
        _sync(device)
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.process_time() - cpu_start)
        self.new_chunk.append(before is None or before == 0)
        return action

    def summary(self, control_hz: float) -> dict:
        """Latency percentiles and the verdict for this log (see summarize_latency), plus new-chunk CPU time."""
        result = summarize_latency(self.seconds, self.new_chunk, control_hz)
        chunk_cpu = [c for c, new in zip(self.cpu_seconds, self.new_chunk, strict=True) if new]
        result["new_chunk_cpu"] = _percentiles_ms(chunk_cpu)
        return result


def _percentiles_ms(values: list[float]) -> dict:
    if not values:
        return {"calls": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None}
    ms = np.asarray(values) * 1000.0
    return {"calls": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "mean_ms": round(float(ms.mean()), 3)}


def summarize_latency(seconds: list[float], new_chunk: list[bool], control_hz: float) -> dict:
    """p50/p95 latency of all, new-chunk and queued calls, the effective rate in Hz, and a plain-words verdict."""
    if len(seconds) != len(new_chunk):
        raise ValueError("seconds and new_chunk differ in length")
    chunk = [s for s, c in zip(seconds, new_chunk, strict=True) if c]
    queued = [s for s, c in zip(seconds, new_chunk, strict=True) if not c]
    effective_hz = len(seconds) / sum(seconds) if seconds and sum(seconds) > 0 else float("inf")
    result = {
        "all": _percentiles_ms(seconds), "new_chunk": _percentiles_ms(chunk), "queued": _percentiles_ms(queued),
        "effective_hz": round(effective_hz, 2), "control_hz": float(control_hz),
        "actions_per_chunk": round(len(seconds) / len(chunk), 2) if chunk else None,
    }
    keeps_up, verdict = latency_verdict(result, control_hz)
    result["keeps_up"] = keeps_up  # every call, including a new chunk, fits in one control period
    result["keeps_up_on_average"] = bool(effective_hz >= control_hz)
    result["verdict"] = verdict
    return result


def latency_verdict(summary: dict, control_hz: float) -> tuple[bool, str]:
    """(keeps_up, sentence): can the policy deliver an action every 1/control_hz seconds, and what happens if not."""
    period_ms = 1000.0 / control_hz
    hz = summary["effective_hz"]
    worst = summary["new_chunk"]["p95_ms"] if summary["new_chunk"]["calls"] else summary["all"]["p95_ms"]
    if worst is None:
        return False, "no select_action calls were timed"
    if hz < control_hz:
        return False, (f"too slow: {hz:.1f} actions/s against the {control_hz:g} Hz control rate; on average each "
                       f"step waits {1000.0 / hz - period_ms:.1f} ms longer than its {period_ms:.1f} ms period")
    if worst > period_ms:
        return False, (f"keeps up on average ({hz:.1f} actions/s >= {control_hz:g} Hz) only because most calls pop a "
                       f"queued action: computing a new chunk takes {worst:.1f} ms (p95), longer than one "
                       f"{period_ms:.1f} ms period, so a synchronous loop stalls at every new chunk; run inference "
                       f"asynchronously or on a faster device")
    return True, (f"keeps up: {hz:.1f} actions/s against {control_hz:g} Hz, and even a new chunk "
                  f"({worst:.1f} ms p95) fits in the {period_ms:.1f} ms period")


def time_select_action(policy, batch, calls: int, device: str = "cpu", warmup: int = 2) -> LatencyLog:
    """Time `calls` select_action calls on one prepared batch after `warmup` untimed calls (for benchmarks)."""
    import torch

    policy.reset()
    with torch.inference_mode():
        for _ in range(warmup):
            policy.select_action(batch)
    policy.reset()
    log = LatencyLog()
    for _ in range(calls):
        log.select_action(policy, batch, device)
    return log
