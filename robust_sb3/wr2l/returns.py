"""
The perturbed returns of Proposition 1: one episode per parameter row, all rows in lock-step, common random numbers.

WR2L's gradient needs ``J(phi + xi_i)`` and ``J(phi - xi_i)`` for N pairs (``shared/WAVE2.md`` 1.3). The
evaluator runs all rows together, so the policy runs once per time step on a batch of observations rather than once
per row: :class:`BatchedReturns` (the default, ``eval_backend="batched"``) also steps the physics of all rows in one
batched call per time step (the env's ``step_batch``), :class:`LockstepReturns` (``"vec"``, 1.8) keeps one worker
env per row and calls its ``step``. Common random numbers: the two
members of a pair get the same seed, which fixes both the env's reset noise (``reset(seed=...)``) and the
policy's action noise (a generator per row, seeded from the same number), so what differs between them is the
dynamics alone.

:class:`PolicyActor` turns an SB3 policy into the ``(observations, generators) -> actions`` function the
evaluator calls: the mean action, or a sample drawn from the row's own generator (Gaussian policies: ``mean +
std * z``; categorical ones: inverse CDF of a uniform), so a stochastic policy is reproducible row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution, DiagGaussianDistribution
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.vec_env import VecNormalize

__all__ = ["BatchedReturns", "LockstepReturns", "PolicyActor", "ReturnBatch", "row_generators"]

#: ``(observations (m, obs_dim), generators (m,)) -> actions (m, ...)``
Actor = Callable[[np.ndarray, Sequence[np.random.Generator]], np.ndarray]


def row_generators(seeds: Any) -> list[np.random.Generator]:
    """
    One generator of action noise per row, from the row's seed (a stream apart from the env's reset noise).

    :param seeds: (m,) non-negative integer seeds
    :return: the generators
    """
    return [np.random.default_rng([int(seed), 0x5EED]) for seed in np.asarray(seeds).reshape(-1)]


class PolicyActor:
    """
    The actions of an SB3 actor-critic policy on a batch of raw observations, with the row's own noise.

    :param policy: the policy (``model.policy`` of PPO or WR2L)
    :param deterministic: act with the distribution's mode (the Gaussian's mean) instead of sampling
    :param normalizer: the model's ``VecNormalize``, whose observation statistics are applied (not updated);
        ``None`` when the model trains without one
    :raises ValueError: a stochastic actor for a distribution other than a diagonal Gaussian or a categorical
    """

    def __init__(self, policy: ActorCriticPolicy, deterministic: bool = False, normalizer: VecNormalize | None = None) -> None:
        self.policy = policy
        self.deterministic = deterministic
        self.normalizer = normalizer
        kind = type(policy.action_dist)
        if not deterministic and kind not in (DiagGaussianDistribution, CategoricalDistribution):
            raise ValueError(
                f"WR2L draws each perturbed episode's action noise from the row's own generator (common random numbers), "
                f"which it can do for diagonal Gaussian and categorical policies, not for {kind.__name__} (use_sde=True or "
                "a squashed policy); set eval_deterministic=True to evaluate the mean action instead"
            )

    def __call__(self, observations: np.ndarray, generators: Sequence[np.random.Generator]) -> np.ndarray:
        """
        :param observations: (m, obs_dim) raw observations of the worker envs
        :param generators: (m,) each row's generator of action noise
        :return: (m, ...) actions, clipped to a Box action space as PPO's rollouts clip them
        """
        if self.normalizer is not None:
            observations = self.normalizer.normalize_obs(observations)
        policy = self.policy
        with th.no_grad():
            tensor, _ = policy.obs_to_tensor(observations)
            if isinstance(policy.action_dist, DiagGaussianDistribution):
                mean_tensor, std_tensor = _gaussian_parameters(policy, tensor)
                mean = mean_tensor.cpu().numpy()
                if self.deterministic:
                    actions = mean
                else:
                    noise = np.stack([rng.standard_normal(mean.shape[1]) for rng in generators])
                    actions = mean + std_tensor.cpu().numpy() * noise
                return self._clip(actions)
            distribution = policy.get_distribution(tensor)
            if isinstance(distribution, CategoricalDistribution):
                probabilities = distribution.distribution.probs.cpu().numpy()
                if self.deterministic:
                    return probabilities.argmax(axis=1)
                uniforms = np.array([rng.random() for rng in generators])
                # inverse CDF: the first action whose cumulative probability exceeds the row's uniform
                cumulative = np.cumsum(probabilities, axis=1)
                return np.minimum((cumulative < uniforms[:, None]).sum(axis=1), probabilities.shape[1] - 1)
            mean = distribution.distribution.mean.cpu().numpy()
            if self.deterministic:
                actions = mean
            else:
                std = distribution.distribution.stddev.cpu().numpy()
                noise = np.stack([rng.standard_normal(mean.shape[1]) for rng in generators])
                actions = mean + std * noise
        return self._clip(actions)

    def _clip(self, actions: np.ndarray) -> np.ndarray:
        space = self.policy.action_space
        if isinstance(space, spaces.Box) and not self.policy.squash_output:
            actions = np.clip(actions, space.low, space.high)
        return actions


def _gaussian_parameters(policy: ActorCriticPolicy, observations: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """
    The mean and standard deviation that ``policy.get_distribution`` puts in its diagonal Gaussian, computed by the
    same operations without building the distribution object (torch's ``Normal`` checks its arguments: about half of
    the policy's time on a batch of a few rows).
    """
    # BasePolicy's method, as get_distribution calls it (ActorCriticPolicy's returns a pair when not shared)
    features = BasePolicy.extract_features(policy, observations, policy.pi_features_extractor)
    latent = policy.mlp_extractor.forward_actor(features)
    mean = policy.action_net(latent)
    return mean, th.ones_like(mean) * policy.log_std.exp()


def _checked_rows(owner: str, params: Any, seeds: Any) -> tuple[np.ndarray, np.ndarray]:
    """:return: (K, n_params) float rows and their (K,) seeds, one seed per row (else a ``ValueError``)"""
    params = np.atleast_2d(np.asarray(params, dtype=np.float64))
    seeds = np.asarray(seeds).reshape(-1)
    if len(seeds) != len(params):
        raise ValueError(f"{owner}: {len(params)} parameter rows need {len(params)} seeds, got {len(seeds)}")
    return params, seeds


class ReturnBatch(NamedTuple):
    """
    The outcome of one batch of perturbed episodes.

    :param returns: (K,) each row's return ``sum_t discount^t r_t``
    :param lengths: (K,) each row's episode length in steps
    """

    returns: np.ndarray
    lengths: np.ndarray


class LockstepReturns:
    """
    Run one episode per parameter row in worker envs stepped together, the policy batched over the rows.

    Worker envs are made on demand with ``make_env`` (``gym.make`` of the training env's spec, so they carry its
    constructor arguments and time limit) and kept for the next batch. Row ``i`` is reset with
    ``reset(seed=seeds[i], options={"params": params[i]})``: its parameters hold for that episode only, and the
    worker's persistent parameters are never changed. An episode ends when the env terminates or truncates
    (its time limit), or after ``horizon`` steps.

    :param make_env: ``() -> gym.Env``, a robust env
    :param horizon: the most steps per episode (``None``: until the env ends it; it must then have a time limit)
    :param discount: ``gamma`` of the returns, in (0, 1] (1: undiscounted, as WR2L tests)
    """

    def __init__(self, make_env: Callable[[], gym.Env], horizon: int | None = None, discount: float = 1.0) -> None:
        self.make_env = make_env
        self.horizon = horizon
        self.discount = float(discount)
        self.envs: list[gym.Env] = []

    def _workers(self, count: int) -> list[gym.Env]:
        while len(self.envs) < count:
            self.envs.append(self.make_env())
        return self.envs[:count]

    def worker(self) -> gym.Env:
        """:return: the first worker env (made on demand), e.g. to collect data under the reference parameters"""
        return self._workers(1)[0]

    def __call__(self, actor: Actor, params: np.ndarray, seeds: Any) -> ReturnBatch:
        """
        :param actor: ``(observations, generators) -> actions`` (:class:`PolicyActor`)
        :param params: (K, n_params) each row's full parameter vector
        :param seeds: (K,) each row's seed (reset noise and action noise)
        :return: :class:`ReturnBatch` of the K episodes
        """
        params, seeds = _checked_rows("LockstepReturns", params, seeds)
        count = len(params)
        envs = self._workers(count)
        generators = row_generators(seeds)
        first = [
            env.reset(seed=int(seed), options={"params": row})[0] for env, seed, row in zip(envs, seeds, params, strict=True)
        ]
        observations = np.stack(first)
        returns = np.zeros(count)
        weights = np.ones(count)
        lengths = np.zeros(count, dtype=np.int64)
        active = np.arange(count)
        while active.size and (self.horizon is None or lengths[active[0]] < self.horizon):
            actions = actor(observations[active], [generators[i] for i in active])
            still = []
            for row, action in zip(active, actions, strict=True):
                observation, reward, terminated, truncated, _ = envs[row].step(action)
                returns[row] += weights[row] * float(reward)
                weights[row] *= self.discount
                lengths[row] += 1
                if not (terminated or truncated):
                    observations[row] = observation
                    still.append(row)
            active = np.asarray(still, dtype=np.intp)
        return ReturnBatch(returns, lengths)

    def close(self) -> None:
        """Close the worker envs."""
        for env in self.envs:
            env.close()
        self.envs = []


#: Wrappers that change neither the dynamics nor the observations (``gym.make``'s own, and SB3's episode monitor);
#: :class:`BatchedReturns` steps ``env.unwrapped`` past these only (a time limit, subclasses such as rl-zoo3's
#: included, by its own count).
_TRANSPARENT_WRAPPERS: tuple[type, ...] = (
    gym.wrappers.TimeLimit,
    gym.wrappers.OrderEnforcing,
    gym.wrappers.PassiveEnvChecker,
    Monitor,
)


class BatchedReturns:
    """
    Run one episode per parameter row with the physics of all rows stepped in one batched call per time step.

    One env made with ``make_env`` resets each row (``reset(seed=seeds[i], options={"params": params[i]})``, the same
    reset noise and first observation as :class:`LockstepReturns`) and records its state; then every time step the
    policy acts on all running rows at once and ``env.unwrapped.step_batch`` advances them, each under its own
    parameters. An episode ends when the env's termination says so, at the env's time limit, or after ``horizon``
    steps. The MuJoCo family's batched states carry no solver warm start, so episodes can drift from
    :class:`LockstepReturns`' by the solver's tolerance (``step_batch``); the estimates are the same in distribution,
    common random numbers included.

    :param make_env: ``() -> gym.Env``, a robust env made with ``gym.make`` (only Gymnasium's own time limit, order
        and checker wrappers and SB3's ``Monitor`` around it: any other wrapper would be bypassed, so it is refused)
    :param horizon: the most steps per episode (``None``: until the env ends it; it must then have a time limit)
    :param discount: ``gamma`` of the returns, in (0, 1] (1: undiscounted, as WR2L tests)
    :raises ValueError: (on the first call) a wrapper that is not one of Gymnasium's own, or no step limit at all
    """

    def __init__(self, make_env: Callable[[], gym.Env], horizon: int | None = None, discount: float = 1.0) -> None:
        self.make_env = make_env
        self.horizon = horizon
        self.discount = float(discount)
        self.env: gym.Env | None = None
        self._limit: int | None = None

    def worker(self) -> gym.Env:
        """:return: the env the rows reset in (made and checked on demand)"""
        if self.env is None:
            env = self.make_env()
            layer, limit = env, None
            while isinstance(layer, gym.Wrapper):
                if not isinstance(layer, _TRANSPARENT_WRAPPERS):
                    env.close()
                    raise ValueError(
                        f"BatchedReturns steps the unwrapped env, which would bypass the wrapper {type(layer).__name__}; "
                        "use eval_backend='vec' (LockstepReturns) for an env with wrappers that change its dynamics "
                        "or observations"
                    )
                if isinstance(layer, gym.wrappers.TimeLimit):
                    limit = layer._max_episode_steps if limit is None else min(limit, layer._max_episode_steps)
                layer = layer.env
            steps = [value for value in (limit, self.horizon) if value is not None]
            if not steps:
                env.close()
                raise ValueError(
                    "BatchedReturns: the env has no time limit and no horizon was given; episodes could run forever"
                )
            self.env, self._limit = env, min(steps)
        return self.env

    def __call__(self, actor: Actor, params: np.ndarray, seeds: Any) -> ReturnBatch:
        """
        :param actor: ``(observations, generators) -> actions`` (:class:`PolicyActor`)
        :param params: (K, n_params) each row's full parameter vector
        :param seeds: (K,) each row's seed (reset noise and action noise)
        :return: :class:`ReturnBatch` of the K episodes
        """
        params, seeds = _checked_rows("BatchedReturns", params, seeds)
        count = len(params)
        env = self.worker()
        robust = env.unwrapped
        generators = row_generators(seeds)
        first, states = [], []
        for seed, row in zip(seeds, params, strict=True):
            first.append(env.reset(seed=int(seed), options={"params": row})[0])
            states.append(robust.get_state())
        observations, states = np.stack(first), np.stack(states)
        returns = np.zeros(count)
        weights = np.ones(count)
        lengths = np.zeros(count, dtype=np.int64)
        active = np.arange(count)
        while active.size:
            actions = actor(observations[active], [generators[i] for i in active])
            step = robust.step_batch(states[active], actions, params[active])
            returns[active] += weights[active] * step.rewards[:, 0]
            weights[active] *= self.discount
            lengths[active] += 1
            observations[active] = step.observations[:, 0]
            states[active] = step.states[:, 0]
            running = ~step.terminated[:, 0] & (lengths[active] < self._limit)
            active = active[running]
        return ReturnBatch(returns, lengths)

    def close(self) -> None:
        """Close the worker env."""
        if self.env is not None:
            self.env.close()
        self.env = None
