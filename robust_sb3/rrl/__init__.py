"""Robust reinforcement learning (Morimoto and Doya, 2001): H-infinity actor-disturber-critic in continuous time."""

from robust_envs.linear_quadratic import LinearQuadraticGameEnv
from robust_sb3.rrl.approximators import NGnet, NGnetCritic, QuadraticCritic, RecursiveLeastSquares
from robust_sb3.rrl.rrl import RRL

__all__ = ["RRL", "LinearQuadraticGameEnv", "NGnet", "NGnetCritic", "QuadraticCritic", "RecursiveLeastSquares"]
