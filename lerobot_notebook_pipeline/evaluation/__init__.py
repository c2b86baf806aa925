"""Evaluation: rollouts in simulation, success rates with intervals, overlays, latency and replays."""
