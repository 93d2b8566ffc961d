"""
The robust and soft-robust TD targets of Mankowitz et al., "Robust Reinforcement Learning for Continuous
Control with Model Misspecification" (ICLR 2020), Eq. 1 and Eq. 4, shared by :class:`~robust_sb3.mpo.MPO`
and :class:`~robust_sb3.mpo.RobustSAC`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch as th

#: The allowed values of ``robustness``: the non-robust target, the infimum over the K models (Eq. 1), their weighted mean.
ROBUSTNESS = ("none", "robust", "soft")


class RobustTarget(NamedTuple):
    """
    :param target: (B, 1) the TD target
    :param per_model: (B, K) the target under each model, ``r_k + gamma (1 - d_k) V(s'_k)``
    :param worst_model: (B,) index of the model with the lowest target
    :param gap: (B,) the mean over models minus the worst model's target (0 for K = 1)
    """

    target: th.Tensor
    per_model: th.Tensor
    worst_model: th.Tensor
    gap: th.Tensor


def check_robustness(
    robustness: str, n_models: int, model_weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray | None:
    """
    Validate the robustness settings of an algorithm.

    :param robustness: ``"none"``, ``"robust"`` or ``"soft"``
    :param n_models: K, the number of models of the uncertainty set
    :param model_weights: the soft-robust distribution over the K models (``None``: uniform); only with ``"soft"``
    :return: the weights as a float array (or ``None``)
    :raises ValueError: an unknown ``robustness``, weights given without ``"soft"``, of the wrong length,
        negative or not summing to 1
    """
    if robustness not in ROBUSTNESS:
        raise ValueError(f"Unknown robustness {robustness!r}; allowed: {ROBUSTNESS}")
    if model_weights is None:
        return None
    if robustness != "soft":
        raise ValueError(f"model_weights are the soft-robust distribution; they need robustness='soft', got {robustness!r}")
    weights = np.asarray(model_weights, dtype=np.float64)
    if weights.shape != (n_models,):
        raise ValueError(f"model_weights must have one weight per model ({n_models},), got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
        raise ValueError(f"model_weights must be non-negative and sum to 1, got {weights.tolist()}")
    return weights


def robust_td_target(
    rewards: th.Tensor,
    terminated: th.Tensor,
    next_values: th.Tensor,
    gamma: float,
    robustness: str = "robust",
    model_weights: th.Tensor | None = None,
) -> RobustTarget:
    """
    The TD target under K models of the next state, aggregated over the models.

    With ``V_k = E_{a' ~ pi}[Q_target(s'_k, a')]`` the value of model k's next state (Eq. 1; entropy-regularised,
    Eq. 4, the caller passes ``V_k - tau KL(pi(.|s'_k) || pi_ref(.|s'_k))``), the per-model target is
    ``y_k = r_k + gamma (1 - d_k) V_k`` and the target is ``min_k y_k`` (``"robust"``: the infimum over the
    uncertainty set), ``sum_k w_k y_k`` (``"soft"``: the soft-robust target under the average model,
    uniform ``w`` unless given) or ``y_1`` (``"none"``, K must be 1).

    The paper writes the reward outside the infimum because its reward depends on ``(s, a)`` only; here
    each model has its own reward, which is the same thing for such rewards and stays consistent for
    rewards that depend on the next state (the DeepMind control suite's). Each model has its own
    termination flag ``d_k``: a model whose next state is terminal contributes ``r_k`` alone.

    :param rewards: (B, K) rewards under each model
    :param terminated: (B, K) 1.0 where model k's next state is terminal (not for time-limit truncations)
    :param next_values: (B, K) value of each model's next state
    :param gamma: discount factor
    :param robustness: ``"none"``, ``"robust"`` or ``"soft"``
    :param model_weights: (K,) the soft-robust weights (``None``: uniform)
    :return: the target and diagnostics (:class:`RobustTarget`)
    """
    if rewards.shape != next_values.shape or terminated.shape != next_values.shape or next_values.ndim != 2:
        raise ValueError(
            f"rewards {tuple(rewards.shape)}, terminated {tuple(terminated.shape)} and next_values "
            f"{tuple(next_values.shape)} must all have shape (batch, n_models)"
        )
    per_model = rewards + gamma * (1.0 - terminated) * next_values
    worst, worst_model = per_model.min(dim=1)
    gap = per_model.mean(dim=1) - worst
    if robustness == "robust":
        target = worst
    elif robustness == "soft":
        target = per_model.mean(dim=1) if model_weights is None else per_model @ model_weights.to(per_model.dtype)
    elif robustness == "none":
        if per_model.shape[1] != 1:
            raise ValueError(f"robustness='none' takes one next state per transition, got {per_model.shape[1]} models")
        target = per_model[:, 0]
    else:
        raise ValueError(f"Unknown robustness {robustness!r}; allowed: {ROBUSTNESS}")
    return RobustTarget(target=target.unsqueeze(1), per_model=per_model, worst_model=worst_model, gap=gap)


def diagonal_gaussian_kl(mean_p: th.Tensor, std_p: th.Tensor, mean_q: th.Tensor, std_q: th.Tensor) -> th.Tensor:
    """
    ``KL(N(mean_p, diag std_p^2) || N(mean_q, diag std_q^2))``, summed over the last axis.

    :return: the KL per leading index
    """
    var_p, var_q = std_p.pow(2), std_q.pow(2)
    per_dim = th.log(std_q / std_p) + (var_p + (mean_p - mean_q).pow(2)) / (2.0 * var_q) - 0.5
    return per_dim.sum(dim=-1)
