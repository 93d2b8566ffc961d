"""Robust reinforcement-learning trainers in Stable-Baselines3 style (skeleton: the algorithms land with their issues)."""

from robust_envs.version import __version__

__all__ = ["__version__"]
