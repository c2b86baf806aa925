"""Training: the pieces of the training loop, policy configs and the offline SmolVLA backbone."""
