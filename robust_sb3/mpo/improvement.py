"""
MPO's policy improvement (Abdolmaleki et al. 2018a,b; Mankowitz et al. 2020, Algorithms 1-3, steps 2 and 3):
the non-parametric E-step weights with the temperature from the dual, and the M-step losses with decoupled
KL constraints on the mean and the covariance.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch as th

from robust_sb3.common.robust_target import diagonal_gaussian_kl


def temperature_dual(q_values: th.Tensor, eta: th.Tensor, epsilon: float) -> th.Tensor:
    """
    The convex dual of the E-step, ``g(eta) = eta epsilon + eta mean_s log mean_i exp(Q(s, a_i) / eta)``.

    Its minimiser is the temperature at which the weights ``q_i(s) ~ exp(Q(s, a_i) / eta)`` over the N actions
    sampled from ``pi_k`` have ``E_s KL(q(.|s) || pi_k(.|s)) = epsilon`` (the sample estimate of the KL is
    ``sum_i q_i log(N q_i)``).

    :param q_values: (N, B) Q values of N sampled actions at B states (no gradient needed)
    :param eta: the temperature (a positive scalar tensor, differentiable)
    :param epsilon: the E-step KL bound
    :return: the scalar dual
    """
    n_actions = q_values.shape[0]
    log_mean_exp = th.logsumexp(q_values / eta, dim=0) - math.log(n_actions)
    return eta * epsilon + eta * log_mean_exp.mean()


def estep_weights(q_values: th.Tensor, eta: th.Tensor) -> th.Tensor:
    """:return: (N, B) the non-parametric policy ``q_i(s) = softmax_i(Q(s, a_i) / eta)`` over the N sampled actions."""
    return th.softmax(q_values / eta, dim=0)


def weights_kl(weights: th.Tensor) -> th.Tensor:
    """:return: the mean over states of ``KL(q(.|s) || uniform) = sum_i q_i log(N q_i)``, the E-step's KL to ``pi_k``."""
    n_actions = weights.shape[0]
    return (weights * th.log(weights.clamp_min(1e-30) * n_actions)).sum(dim=0).mean()


class MStepLosses(NamedTuple):
    """
    :param loss_mean: weighted negative log-likelihood of the policy with the online mean and the target std
    :param loss_std: the same with the target mean and the online std
    :param kl_mean: ``E_s KL(pi_k || pi_mean)`` (the mean's change)
    :param kl_std: ``E_s KL(pi_k || pi_std)`` (the covariance's change)
    """

    loss_mean: th.Tensor
    loss_std: th.Tensor
    kl_mean: th.Tensor
    kl_std: th.Tensor


def mstep_losses(
    actions: th.Tensor,
    weights: th.Tensor,
    mean: th.Tensor,
    std: th.Tensor,
    target_mean: th.Tensor,
    target_std: th.Tensor,
) -> MStepLosses:
    """
    The M-step fit of the parametric policy to the weighted samples, with the decoupled update of Abdolmaleki
    et al. (2018a): the mean is fitted with the covariance held at ``pi_k``'s and the covariance with the mean
    held at ``pi_k``'s, each with its own KL constraint (``eps_mu``, ``eps_Sigma``).

    :param actions: (N, B, action_dim) actions sampled from ``pi_k``
    :param weights: (N, B) E-step weights (no gradient)
    :param mean: (B, action_dim) online policy mean
    :param std: (B, action_dim) online policy standard deviation
    :param target_mean: (B, action_dim) mean of ``pi_k``
    :param target_std: (B, action_dim) standard deviation of ``pi_k``
    :return: the two losses and the two KLs (:class:`MStepLosses`)
    """
    log_prob_mean = th.distributions.Normal(mean, target_std).log_prob(actions).sum(dim=-1)
    log_prob_std = th.distributions.Normal(target_mean, std).log_prob(actions).sum(dim=-1)
    loss_mean = -(weights * log_prob_mean).sum(dim=0).mean()
    loss_std = -(weights * log_prob_std).sum(dim=0).mean()
    kl_mean = diagonal_gaussian_kl(target_mean, target_std, mean, target_std).mean()
    kl_std = diagonal_gaussian_kl(target_mean, target_std, target_mean, std).mean()
    return MStepLosses(loss_mean, loss_std, kl_mean, kl_std)
