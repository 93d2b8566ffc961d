"""Robust reinforcement-learning trainers in Stable-Baselines3 style (the algorithms land with their issues)."""

from robust_envs.version import __version__
from robust_sb3.rrl import RRL

__all__ = ["RRL", "__version__"]
