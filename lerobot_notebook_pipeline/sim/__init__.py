"""Simulation: the sim envs, their scripted experts, cube poses and recording demos into a LeRobotDataset."""
