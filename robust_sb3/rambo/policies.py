"""
RAMBO's policy: SB3's SAC policy (two layers of 256 units for the actor and each critic, Rigter et al., 2022,
appendix B) whose networks read observations standardised with the dataset's statistics.

The paper normalises the states of the dataset before training ("Normalisation", after TD3+BC, Fujimoto and Gu,
2021), and the official code evaluates the policy on normalised observations. Here the standardisation is the
first layer of the actor's and the critics' feature extractors, with the statistics as buffers: the model then
acts on raw env observations, so ``predict``, ``evaluate_policy`` and ``robust_envs.evaluation.evaluate_robustness``
need nothing extra, and the statistics are saved and loaded with the weights. The dynamics ensemble and the
rollouts keep raw observations (the ensemble standardises its own inputs, and the termination rules read raw ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.sac.policies import MlpPolicy, SACPolicy
from torch import nn

#: added to the dataset's standard deviation of each observation dimension (the official code's ``+ 1e-6``)
STD_EPSILON = 1e-6


class StandardizedFlattenExtractor(BaseFeaturesExtractor):
    """
    ``(flatten(obs) - mean) / std`` with fixed statistics: SB3's ``FlattenExtractor`` plus the dataset's standardisation.

    :param observation_space: a Box observation space
    :param mean: the mean of each observation dimension
    :param std: the standard deviation of each dimension (already floored, > 0)
    """

    def __init__(self, observation_space: spaces.Space, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__(observation_space, get_flattened_obs_dim(observation_space))
        if len(mean) != self.features_dim or len(std) != self.features_dim or min(std) <= 0:
            raise ValueError(
                f"StandardizedFlattenExtractor: mean and std need {self.features_dim} values (std > 0), "
                f"got {len(mean)} and {len(std)} (min std {min(std, default=float('nan'))})"
            )
        self.flatten = nn.Flatten()
        self.register_buffer("mean", th.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", th.as_tensor(np.asarray(std, dtype=np.float32)))

    def forward(self, observations: th.Tensor) -> th.Tensor:
        """:return: the standardised, flattened observations."""
        return (self.flatten(observations) - self.mean) / self.std


def standardizing_policy_kwargs(observations: np.ndarray) -> dict[str, object]:
    """
    :param observations: the dataset's observations, ``(N, obs_dim)``
    :return: ``policy_kwargs`` entries that make SAC's networks read ``(obs - mean) / (std + 1e-6)`` (plain lists,
        so that they are saved with the model)
    """
    observations = np.asarray(observations, dtype=np.float64)
    return {
        "features_extractor_class": StandardizedFlattenExtractor,
        "features_extractor_kwargs": {
            "mean": observations.mean(axis=0).tolist(),
            "std": (observations.std(axis=0) + STD_EPSILON).tolist(),
        },
    }


__all__ = ["MlpPolicy", "SACPolicy", "StandardizedFlattenExtractor", "standardizing_policy_kwargs"]
