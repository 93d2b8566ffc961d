"""
RAMBO's adversarial model loss (Rigter et al., 2022, Eq. 5-7): ``lambda * mean(A * log p) + MLE loss``.

Eq. 6 asks the model to minimise ``-E_D[log T_phi(s'|s,a)] + lambda V_phi^pi``; Eq. 7 estimates ``grad V`` with
Eq. 5, the "model gradient" ``E[(r + gamma V(s') - Q(s, a)) grad log T_phi(s', r | s, a)]`` over transitions the
current policy generates in the current model. Its surrogate, whose gradient that is, is ``mean(A * log p)`` with
the advantage ``A`` held constant (stop-gradient). **Minimising** it lowers the likelihood of outcomes better than
``Q(s, a)`` expects and raises that of worse ones, so the value in the model falls: the adversary.

Three facts of the official code (``marc-rigter/rambo``, ``rambo/algorithms/rambo.py``) are kept here:

- the sample ``(s', r)`` comes from a uniformly random elite per row and ``log p`` is its density under the
  *mixture* of the elites (:mod:`~robust_sb3.rambo.mixture`);
- ``A = r + gamma (1 - d) min_j Q_j(s', pi_det(s')) - min_j Q_j(s, a)``, with ``d`` the task's termination rule on
  ``s'``, then normalised over the batch (``(A - mean) / std``, the paper's "Normalisation" paragraph);
- the adversarial term is a **mean** over the batch. The official code adds a per-sample vector to the scalar MLE
  loss and differentiates the sum, which scales both terms by the batch size alike: the same relative weight as
  the mean. Summing only the adversarial term (OfflineRL-Kit before its fix) makes ``lambda`` 256 times larger.

The MLE term is the pretraining objective (:mod:`robust_sb3.common.dynamics.losses`): every member's Gaussian NLL
on its own fresh batch of real transitions, summed over members, plus weight decay and the log-variance bound
penalty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch as th

from robust_sb3.common.dynamics import GaussianEnsemble
from robust_sb3.common.dynamics.losses import gaussian_nll, logvar_bound_penalty, weight_decay_penalty
from robust_sb3.rambo.mixture import elite_mixture_log_prob, gaussian_log_density

#: the floor of the advantage's standard deviation in :func:`normalize_advantage` (a batch of equal advantages
#: then normalises to zeros instead of dividing by zero)
MIN_ADVANTAGE_STD = 1e-8


class ModelSample(NamedTuple):
    """
    One model step for a batch, with every member's Gaussian kept differentiable.

    :param mean: every member's mean of ``[s' - s, r]``, ``(E, N, D)`` (differentiable)
    :param logvar: every member's log-variance, ``(E, N, D)`` (differentiable)
    :param targets: the sampled ``[s' - s, r]``, ``(N, D)`` (constant)
    :param next_observations: ``s + (s' - s)``, ``(N, obs_dim)`` (constant)
    :param rewards: the sampled rewards, ``(N,)`` (constant)
    :param members: the elite each row was sampled from, ``(N,)``
    """

    mean: th.Tensor
    logvar: th.Tensor
    targets: th.Tensor
    next_observations: th.Tensor
    rewards: th.Tensor
    members: th.Tensor


class MLEBatch(NamedTuple):
    """
    Real transitions for the MLE term, one batch per member (the official code draws independent indices per member).

    :param observations: ``(E, B, obs_dim)``
    :param actions: ``(E, B, action_dim)``, in the env's action scale (the ensemble's)
    :param targets: ``[s' - s, r]``, ``(E, B, obs_dim + 1)``
    """

    observations: th.Tensor
    actions: th.Tensor
    targets: th.Tensor


class AdversarialLoss(NamedTuple):
    """
    The terms of one adversarial model update.

    :param total: ``adversarial_weight * adversarial + mle``, the loss to minimise
    :param adversarial: ``mean(A_normalised * log p)``, Eq. 5's surrogate
    :param mle: the MLE loss (0 when no batch was given)
    :param log_prob: the mixture log-density of each sampled transition, ``(N,)``
    :param advantages: the raw advantages ``r + gamma (1 - d) V(s') - Q(s, a)``, ``(N,)``
    :param terminated: the termination rule on the sampled next observations, ``(N,)``
    :param sample: the model step
    """

    total: th.Tensor
    adversarial: th.Tensor
    mle: th.Tensor
    log_prob: th.Tensor
    advantages: th.Tensor
    terminated: th.Tensor
    sample: ModelSample


def sample_elite_transitions(
    ensemble: GaussianEnsemble,
    observations: th.Tensor,
    actions: th.Tensor,
    generator: th.Generator | None = None,
) -> ModelSample:
    """
    Run every member once (differentiable) and sample ``(s', r)`` from a uniformly random elite per row.

    :param ensemble: the model (it must predict rewards)
    :param observations: ``(N, obs_dim)``
    :param actions: ``(N, action_dim)``, in the env's action scale
    :param generator: the random source of the elite choice and the noise (default: the ensemble's)
    :return: the members' Gaussians and the sample
    """
    if not ensemble.predict_reward:
        raise ValueError(
            "RAMBO's model predicts the reward too (T(s', r | s, a)); build the ensemble with predict_reward=True"
        )
    generator = ensemble.generator if generator is None else generator
    mean, logvar = ensemble(observations, actions)
    with th.no_grad():
        n = observations.shape[0]
        elites = th.as_tensor(ensemble.elites, dtype=th.long, device=mean.device)
        members = elites[th.randint(elites.numel(), (n,), generator=generator, device=mean.device)]
        rows = th.arange(n, device=mean.device)
        noise = th.randn(mean.shape[1:], generator=generator, device=mean.device, dtype=mean.dtype)
        targets = mean[members, rows] + noise * th.exp(0.5 * logvar[members, rows])
        next_observations = observations + targets[:, : ensemble.obs_dim]
        rewards = targets[:, ensemble.obs_dim]
    return ModelSample(mean, logvar, targets, next_observations, rewards, members)


def model_advantage(
    rewards: th.Tensor,
    next_values: th.Tensor,
    terminated: th.Tensor,
    q_values: th.Tensor,
    gamma: float,
) -> th.Tensor:
    """
    Eq. 5's "model advantage" ``r + gamma (1 - d) V(s') - Q(s, a)``: how much better the sampled outcome is than
    the critic expected of ``(s, a)``. ``Q`` is a baseline independent of ``(s', r)``, so the estimate stays unbiased.

    :param rewards: ``(N,)``
    :param next_values: ``V(s')``, ``(N,)``
    :param terminated: ``d``, ``(N,)`` (bool or 0/1)
    :param q_values: ``Q(s, a)``, ``(N,)``
    :param gamma: the discount factor
    :return: ``(N,)``
    """
    return rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * next_values - q_values


def normalize_advantage(advantages: th.Tensor) -> th.Tensor:
    """
    ``(A - mean(A)) / std(A)`` over the batch (population std, floored at :data:`MIN_ADVANTAGE_STD`), so that one
    ``lambda`` suits rewards of any scale (the paper's "Normalisation" paragraph).

    :param advantages: ``(N,)``
    :return: ``(N,)``, detached (the surrogate's weights are constants)
    """
    advantages = advantages.detach()
    return (advantages - advantages.mean()) / advantages.std(unbiased=False).clamp_min(MIN_ADVANTAGE_STD)


def ensemble_mle_loss(
    ensemble: GaussianEnsemble,
    batch: MLEBatch,
    weight_decays: Sequence[float],
    logvar_penalty: float,
) -> th.Tensor:
    """
    The pretraining objective on one batch per member: ``sum_e mean(NLL_e) + decays + penalty * bound width``.

    :param ensemble: the model
    :param batch: each member's real transitions
    :param weight_decays: one L2 coefficient per weight layer
    :param logvar_penalty: the weight of ``sum(max_logvar) - sum(min_logvar)``
    :return: the scalar loss
    """
    network = ensemble.network
    mean, logvar = ensemble(batch.observations, batch.actions)
    return (
        gaussian_nll(mean, logvar, batch.targets).sum()
        + logvar_penalty * logvar_bound_penalty(network.max_logvar, network.min_logvar)
        + weight_decay_penalty([layer.weight for layer in network.layers], weight_decays)
    )


def adversarial_model_loss(
    ensemble: GaussianEnsemble,
    observations: th.Tensor,
    actions: th.Tensor,
    next_value_fn: Callable[[th.Tensor], th.Tensor],
    q_values: th.Tensor,
    adversarial_weight: float,
    gamma: float,
    mle_batch: MLEBatch | None,
    weight_decays: Sequence[float] = (),
    logvar_penalty: float = 1e-3,
    termination: Callable[[np.ndarray], np.ndarray] | None = None,
    generator: th.Generator | None = None,
) -> AdversarialLoss:
    """
    Eq. 7 as a loss: ``adversarial_weight * mean(normalize(A) * log p) + MLE`` (module docstring).

    :param ensemble: the model
    :param observations: start states ``s``, ``(N, obs_dim)``
    :param actions: the policy's actions ``a ~ pi(.|s)``, ``(N, action_dim)``, in the env's action scale
    :param next_value_fn: ``s' -> V(s')``, ``(N, obs_dim) -> (N,)`` (called without gradients)
    :param q_values: ``Q(s, a)``, ``(N,)``
    :param adversarial_weight: ``lambda``
    :param gamma: the discount factor
    :param mle_batch: real transitions for the MLE term (``None``: the adversarial term alone, for analysis)
    :param weight_decays: the MLE term's per-layer L2 coefficients (as in pretraining)
    :param logvar_penalty: the MLE term's log-variance bound penalty (as in pretraining)
    :param termination: ``next_obs -> terminated`` on NumPy arrays (``None``: never terminates)
    :param generator: the random source of the sample (default: the ensemble's)
    :return: the loss and its parts
    """
    sample = sample_elite_transitions(ensemble, observations, actions, generator)
    log_prob = elite_mixture_log_prob(gaussian_log_density(sample.mean, sample.logvar, sample.targets), ensemble.elites)
    with th.no_grad():
        if termination is None:
            terminated = th.zeros_like(sample.rewards, dtype=th.bool)
        else:
            flags = termination(sample.next_observations.cpu().numpy())
            terminated = th.as_tensor(np.asarray(flags, dtype=bool), device=sample.rewards.device)
        next_values = next_value_fn(sample.next_observations).reshape(-1)
        advantages = model_advantage(sample.rewards, next_values, terminated, q_values.reshape(-1), gamma)
    adversarial = (normalize_advantage(advantages) * log_prob).mean()
    mle = (
        ensemble_mle_loss(ensemble, mle_batch, weight_decays, logvar_penalty)
        if mle_batch is not None
        else adversarial.new_zeros(())
    )
    return AdversarialLoss(
        total=adversarial_weight * adversarial + mle,
        adversarial=adversarial,
        mle=mle,
        log_prob=log_prob,
        advantages=advantages,
        terminated=terminated,
        sample=sample,
    )
