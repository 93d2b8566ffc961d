"""
The log-density of a sampled model transition under RAMBO's mixture of elites (Rigter et al., 2022, Eq. 5).

A model rollout picks a uniformly random elite for each row and samples ``(s', r)`` from its Gaussian, so the
density that generated the sample is the uniform mixture ``p(s', r | s, a) = (1/n) sum_{e in elites}
N((s', r); mu_e, Sigma_e)``. Its log is the ``log T_phi(s', r | s, a)`` whose gradient Eq. 5 weights by the
advantage. The official code computes it as ``log(sum(exp(log p_e)) / n)`` in float64; ``logsumexp`` gives the
same value without underflow when every member's density is tiny (a 12-dimensional Gaussian easily reaches
``log p < -745``, where ``exp`` of a float64 is 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch as th


def gaussian_log_density(mean: th.Tensor, logvar: th.Tensor, target: th.Tensor) -> th.Tensor:
    """
    Each member's log-density of targets under its diagonal Gaussian.

    :param mean: means, ``(E, N, D)``
    :param logvar: log-variances, ``(E, N, D)``
    :param target: the points, ``(N, D)`` (the same rows for every member) or ``(E, N, D)``
    :return: ``log N(target; mean_e, diag(exp(logvar_e)))`` summed over the ``D`` dimensions, ``(E, N)``
    """
    return -0.5 * ((target - mean).square() * th.exp(-logvar) + logvar + math.log(2.0 * math.pi)).sum(dim=-1)


def elite_mixture_log_prob(member_log_probs: th.Tensor, elites: th.Tensor | np.ndarray) -> th.Tensor:
    """
    ``log((1/n) sum_{e in elites} p_e) = logsumexp_e(log p_e) - log n``: the log-density under the uniform mixture of
    the elites, the distribution RAMBO's rollouts sample from (Eq. 5's ``log T_phi``).

    :param member_log_probs: every member's log-density of each row, ``(E, N)`` (:func:`gaussian_log_density`)
    :param elites: the ``n`` elite members' indices, ``(n,)``
    :return: the mixture log-density of each row, ``(N,)`` (differentiable through every elite)
    """
    index = th.as_tensor(elites, dtype=th.long, device=member_log_probs.device)
    return th.logsumexp(member_log_probs[index], dim=0) - math.log(index.numel())
