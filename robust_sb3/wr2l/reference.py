"""
``H0`` on an env: the state-action pairs of Section 3.1 and the Hessian of the average Wasserstein distance at ``phi0``.

Section 3.1 of the paper: roll out the reference dynamics ``P0`` with a policy acting uniformly at random, sample
state-action pairs uniformly from those trajectories, and measure the distance of each pair's next state under
``phi`` from its next state under ``phi0``. Here every pair's next states under all the parameter vectors an
estimator asks for come from one batched ``sample_next_states`` call per chunk, from the exact simulator state
(``get_state``), so the distances are those of the dynamics alone (``shared/WAVE2.md`` 1.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_sb3.wr2l.config import WR2LConfig
from robust_sb3.wr2l.hessian import HessianEstimate, gauss_newton_hessian, project_positive_definite, zero_order_hessian
from robust_sb3.wr2l.parameterisation import DynamicsCoordinates
from robust_sb3.wr2l.returns import Actor, row_generators

__all__ = ["ReferenceHessian", "StateActionPairs", "collect_state_action_pairs", "estimate_reference_hessian"]


class StateActionPairs(NamedTuple):
    """
    State-action pairs under the reference dynamics.

    :param states: (N, state_size) simulator states (``env.unwrapped.get_state()``)
    :param actions: (N, ...) the actions taken from them
    :param available: how many pairs the rollouts produced before subsampling
    """

    states: np.ndarray
    actions: np.ndarray
    available: int


class ReferenceHessian(NamedTuple):
    """
    ``H0`` as WR2L uses it.

    :param hessian: (d, d) the estimate projected to positive definite (what Eq. 10 uses)
    :param estimate: the raw estimate with its standard error and cost
    :param pairs: the state-action pairs it was estimated on
    """

    hessian: np.ndarray
    estimate: HessianEstimate
    pairs: StateActionPairs


def _uniform_actor(space: gym.Space) -> Actor:
    """Actions uniformly at random in a bounded Box or a Discrete space, from each row's generator (Sec. 3.1)."""
    if isinstance(space, spaces.Box):
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise ValueError(
                f"WR2L's random policy needs a bounded action space, got {space}; use hessian_data_policy='current'"
            )

        def box(observations: np.ndarray, generators: list[np.random.Generator]) -> np.ndarray:
            return np.stack([rng.uniform(space.low, space.high).astype(space.dtype) for rng in generators])

        return box
    if isinstance(space, spaces.Discrete):

        def discrete(observations: np.ndarray, generators: list[np.random.Generator]) -> np.ndarray:
            return np.array([space.start + rng.integers(space.n) for rng in generators])

        return discrete
    raise ValueError(f"WR2L's random policy supports Box and Discrete action spaces, got {space}")


def collect_state_action_pairs(
    env: gym.Env,
    reference: np.ndarray,
    n_episodes: int,
    n_pairs: int,
    rng: np.random.Generator,
    actor: Actor | None = None,
    max_steps: int = 1000,
) -> StateActionPairs:
    """
    Roll out ``n_episodes`` under the reference parameters and subsample ``n_pairs`` state-action pairs uniformly.

    :param env: a robust env (wrappers allowed; states are read from ``env.unwrapped``)
    :param reference: (n_params,) the reference parameters ``phi0`` (full vector)
    :param n_episodes: episodes to roll out, >= 1
    :param n_pairs: pairs to keep (all of them when the rollouts produced fewer)
    :param rng: draws the episode seeds, the random actions and the subsample
    :param actor: ``(observations, generators) -> actions``; ``None`` for uniformly random actions (Sec. 3.1)
    :param max_steps: the most steps of one episode (its time limit applies too)
    :return: the pairs
    """
    base = env.unwrapped
    act = actor if actor is not None else _uniform_actor(env.action_space)
    states, actions = [], []
    for seed in rng.integers(0, 2**31 - 1, size=n_episodes):
        observation, _ = env.reset(seed=int(seed), options={"params": reference})
        generator = row_generators([seed])
        for _ in range(max_steps):
            action = act(np.asarray(observation)[None], generator)[0]
            states.append(base.get_state())
            actions.append(np.asarray(action))
            observation, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    available = len(states)
    keep = np.sort(rng.choice(available, size=min(n_pairs, available), replace=False))
    return StateActionPairs(np.stack(states)[keep], np.stack(actions)[keep], available)


def next_state_function(
    env: gym.Env, pairs: StateActionPairs, coordinates: DynamicsCoordinates, chunk_size: int
) -> Callable[[np.ndarray], np.ndarray]:
    """
    ``(K, d) points -> (N, K, obs_dim)`` next observations of the pairs, in calls of at most ``chunk_size`` vectors.

    :param env: a robust env (its ``unwrapped.sample_next_states`` is used)
    :param pairs: the state-action pairs
    :param coordinates: maps points of ``phi`` to the env's full parameter vectors
    :param chunk_size: the most parameter vectors per ``sample_next_states`` call (the model cache is bounded)
    :return: the function the Hessian estimators take
    """
    base = env.unwrapped

    def next_states(points: np.ndarray) -> np.ndarray:
        full = coordinates.to_full(points)
        chunks = [
            base.sample_next_states(pairs.states, pairs.actions, full[start : start + chunk_size]).observations
            for start in range(0, len(full), chunk_size)
        ]
        return np.concatenate(chunks, axis=1).astype(np.float64)

    return next_states


def estimate_reference_hessian(
    env: gym.Env,
    coordinates: DynamicsCoordinates,
    config: WR2LConfig,
    rng: np.random.Generator,
    actor: Actor | None = None,
) -> ReferenceHessian:
    """
    ``H0`` in the coordinates of ``coordinates``, by Gauss-Newton or Proposition 2, projected to positive definite.

    The finite-difference step (``config.hessian_step``) and Proposition 2's ``sigma`` are in those coordinates:
    relative ones by default, where ``0.01`` is 1% of each reference value.

    :param env: a robust env made like the training envs
    :param coordinates: the varied parameters and their coordinates
    :param config: WR2L's settings (``hessian``, ``hessian_step``, ``hessian_sigma``, ``hessian_samples``,
        ``hessian_data_episodes``, ``n_state_action``, ``state_scale``, ``min_eigenvalue_fraction``, ``chunk_size``)
    :param rng: draws the rollouts, the subsample and Proposition 2's perturbations
    :param actor: the data policy; ``None`` for uniformly random actions
    :return: :class:`ReferenceHessian`
    """
    pairs = collect_state_action_pairs(
        env, coordinates.reference, config.hessian_data_episodes, config.n_state_action, rng, actor=actor
    )
    next_states = next_state_function(env, pairs, coordinates, config.chunk_size)
    origin = coordinates.origin
    scale = None
    if config.state_scale == "std":
        spread = next_states(origin[None])[:, 0].std(axis=0)
        scale = np.where(spread > 0.0, spread, 1.0)  # a constant dimension cannot be scaled by its spread
    if config.hessian == "gauss_newton":
        steps = config.hessian_step if coordinates.coords == "relative" else config.hessian_step * np.abs(coordinates.phi0)
        estimate = gauss_newton_hessian(next_states, origin, deltas=steps, state_scale=scale)
    else:
        estimate = zero_order_hessian(
            next_states,
            origin,
            sigma=config.hessian_sigma if config.hessian_sigma is not None else config.sigma,
            n_samples=config.n_hessian_samples(coordinates.dim),
            rng=rng,
            chunk_size=config.chunk_size,
            state_scale=scale,
        )
    hessian = project_positive_definite(estimate.hessian, relative_floor=config.min_eigenvalue_fraction)
    return ReferenceHessian(hessian, estimate, pairs)
