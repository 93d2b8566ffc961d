"""
The robust and soft-robust TD targets of Mankowitz et al., "Robust Reinforcement Learning for Continuous
Control with Model Misspecification" (ICLR 2020), Eq. 1 and Eq. 4, shared by :class:`~robust_sb3.mpo.MPO`
and :class:`~robust_sb3.sac.RobustSAC`.
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
    The TD target and its diagnostics. ``per_model[:, k]`` is the target the agent would regress on were model k
    the whole uncertainty set, so the three diagnostics read alike in both forms of :func:`robust_td_target`:

    - Eq. 1 (``reward_in_inf=False``): ``per_model[:, k] = r + gamma (1 - d_k) V(s'_k)`` with the experienced
      reward ``r``, common to every column; ``worst_model`` and ``gap`` measure the models' disagreement about
      the discounted value of the next state only.
    - per-model rewards (``reward_in_inf=True``): ``per_model[:, k] = r_k + gamma (1 - d_k) V(s'_k)``; the
      models' rewards take part in both.

    :param target: (B, 1) the TD target
    :param per_model: (B, K) the target under each model alone (see above)
    :param worst_model: (B,) index of the model the infimum picks, the lowest ``per_model`` (for Eq. 1 compared on
        ``gamma (1 - d_k) V(s'_k)``, the experienced reward being common); the first such index on ties, so K
        models that agree give 0
    :param gap: (B,) the unweighted mean of ``per_model`` over the models minus its minimum (for Eq. 1 computed
        without the common reward, which cancels): >= 0, exactly 0 when the models agree, so always for K = 1;
        the unweighted mean also under a weighted soft-robust target
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
    reward_in_inf: bool = False,
) -> RobustTarget:
    """
    The TD target under K models of the next state, aggregated over the models.

    ``V_k = E_{a' ~ pi}[Q_target(s'_k, a')]`` is the value of model k's next state ``s'_k`` (entropy-regularised,
    Eq. 4: the caller passes ``V_k - tau KL(pi(.|s'_k) || pi_ref(.|s'_k))``) and ``d_k`` its termination flag:
    a model whose next state is terminal contributes no continuation. The default is the paper's Eq. 1 (and Eq. 4),
    ``r + gamma inf_p E_{s' ~ p} V(s')``: the reward ``r`` of the transition the agent experienced stays outside
    the aggregation over the models,

    - ``"robust"``: ``y = r + min_k gamma (1 - d_k) V_k`` (the infimum over the uncertainty set),
    - ``"soft"``: ``y = r + sum_k w_k gamma (1 - d_k) V_k`` (the soft-robust target under the average model,
      uniform ``w`` unless given),
    - ``"none"``: ``y = r + gamma (1 - d) V`` (K = 1).

    ``reward_in_inf=True`` is the per-model form, each model with its own reward inside the aggregation:
    ``min_k (r_k + gamma (1 - d_k) V_k)`` (``"robust"``), ``sum_k w_k (r_k + gamma (1 - d_k) V_k)`` (``"soft"``).
    The two forms agree when every ``r_k`` equals the experienced reward, as for the paper's rewards ``r(s, a)``
    of the state and action only. They differ for rewards that depend on the next state (the DeepMind control
    suite's, e.g. the swing-up pays for the pole being upright after the step): there the per-model form also
    takes the worst model's reward, so a rewarding transition gets the reward of a model that would not have
    reached the rewarding state (a heavy pendulum's 0), a pessimism about the reward that Eq. 1 does not have.

    For ``"none"`` the caller passes the experienced transition itself (its reward, termination and next-state
    value), so both forms are ``r + gamma (1 - d) V`` and ``reward_in_inf`` changes nothing. With one model
    (K = 1) under ``"robust"`` or ``"soft"`` the forms differ only if that model's reward differs from the
    experienced one, i.e. not when the model is the env the agent acts in.

    :param rewards: the experienced transition's reward, (B, 1) (the replay buffer's ``rewards``); with
        ``reward_in_inf=True`` each model's reward, (B, K)
    :param terminated: (B, K) 1.0 where model k's next state is terminal (not for time-limit truncations)
    :param next_values: (B, K) value of each model's next state
    :param gamma: discount factor
    :param robustness: ``"none"``, ``"robust"`` or ``"soft"``
    :param model_weights: (K,) the soft-robust weights (``None``: uniform)
    :param reward_in_inf: ``False``: Eq. 1, the experienced reward outside the infimum; ``True``: each model's
        reward inside it
    :return: the target and diagnostics (:class:`RobustTarget`)
    :raises ValueError: shapes that do not fit, an unknown ``robustness``, or ``"none"`` with K > 1
    """
    check_target_shapes(rewards, terminated, next_values, reward_in_inf)
    continuation = gamma * (1.0 - terminated) * next_values
    per_model = rewards + continuation  # Eq. 1: the one experienced reward, broadcast over the models
    # What the models are compared on: the continuation for Eq. 1 (its reward is common to all), else whole targets.
    compared = per_model if reward_in_inf else continuation
    worst, worst_model = compared.min(dim=1)
    gap = compared.mean(dim=1) - worst
    aggregated = aggregate_models(compared, robustness, model_weights)
    target = aggregated if reward_in_inf else rewards[:, 0] + aggregated
    return RobustTarget(target=target.unsqueeze(1), per_model=per_model, worst_model=worst_model, gap=gap)


def check_target_shapes(rewards: th.Tensor, terminated: th.Tensor, next_values: th.Tensor, reward_in_inf: bool) -> None:
    """
    :raises ValueError: ``terminated`` and ``next_values`` not both (B, K), or ``rewards`` not (B, K) with
        ``reward_in_inf`` and (B, 1) without it
    """
    if terminated.shape != next_values.shape or next_values.ndim != 2:
        raise ValueError(
            f"terminated {tuple(terminated.shape)} and next_values {tuple(next_values.shape)} must both have shape "
            "(batch, n_models)"
        )
    expected = tuple(next_values.shape) if reward_in_inf else (next_values.shape[0], 1)
    if tuple(rewards.shape) != expected:
        kind = "each model's reward" if reward_in_inf else "the experienced transition's reward (Eq. 1)"
        hint = "" if reward_in_inf else "; per-model rewards (batch, n_models) need reward_in_inf=True"
        raise ValueError(f"rewards must be {kind}, shape {expected}, got {tuple(rewards.shape)}{hint}")


def aggregate_models(values: th.Tensor, robustness: str, model_weights: th.Tensor | None = None) -> th.Tensor:
    """
    :param values: (B, K) one value per model
    :param robustness: ``"robust"`` (the minimum), ``"soft"`` (the mean, or the ``model_weights``-weighted sum)
        or ``"none"`` (the single column; K must be 1)
    :return: (B,) the aggregate over the models
    """
    if robustness == "robust":
        return values.min(dim=1).values
    if robustness == "soft":
        return values.mean(dim=1) if model_weights is None else values @ model_weights.to(values.dtype)
    if robustness == "none":
        if values.shape[1] != 1:
            raise ValueError(f"robustness='none' takes one next state per transition, got {values.shape[1]} models")
        return values[:, 0]
    raise ValueError(f"Unknown robustness {robustness!r}; allowed: {ROBUSTNESS}")


def diagonal_gaussian_kl(mean_p: th.Tensor, std_p: th.Tensor, mean_q: th.Tensor, std_q: th.Tensor) -> th.Tensor:
    """
    ``KL(N(mean_p, diag std_p^2) || N(mean_q, diag std_q^2))``, summed over the last axis.

    :return: the KL per leading index
    """
    var_p, var_q = std_p.pow(2), std_q.pow(2)
    per_dim = th.log(std_q / std_p) + (var_p + (mean_p - mean_q).pow(2)) / (2.0 * var_q) - 0.5
    return per_dim.sum(dim=-1)
