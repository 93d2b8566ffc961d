"""
Branched model rollouts (MBPO, Janner et al., 2019; RAMBO, Rigter et al., 2022, Algorithm 1, line 3).

From start states drawn from the dataset, the current policy acts for ``k`` steps in the model. A branch stops at
the step the task's termination rule fires (that transition is kept, marked terminal) and at a non-finite
prediction (that transition is dropped: a model that has blown up must not reach the critic). As in the official
code, the rollout ends early when every branch has stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: ``(observations, actions) -> (next_observations, rewards, terminated)``, one model step for a batch
StepFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
#: ``observations -> actions``, the policy acting in the model
PolicyFn = Callable[[np.ndarray], np.ndarray]


class ModelRollouts(NamedTuple):
    """
    The transitions of a set of rollouts, depth by depth (all depth-0 transitions first).

    :param observations: ``(M, obs_dim)``
    :param actions: ``(M, action_dim)``, as the policy returned them
    :param rewards: ``(M,)``
    :param next_observations: ``(M, obs_dim)``
    :param terminated: ``(M,)``, the termination rule fired at this transition (its branch stops here)
    :param lengths: the number of transitions each start state produced, ``(n_starts,)``
    :param n_nonfinite: transitions dropped for a non-finite prediction
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    lengths: np.ndarray
    n_nonfinite: int

    def __len__(self) -> int:
        """The number of transitions."""
        return int(self.rewards.shape[0])


def rollout_model(step_fn: StepFn, policy_fn: PolicyFn, start_observations: np.ndarray, length: int) -> ModelRollouts:
    """
    Roll ``policy_fn`` in ``step_fn`` for up to ``length`` steps from every start state.

    :param step_fn: one model step for a batch
    :param policy_fn: the acting policy
    :param start_observations: ``(n_starts, obs_dim)``
    :param length: the rollout length ``k`` (>= 1)
    :return: every transition, depth by depth; branches stop after a terminal or a non-finite prediction
    """
    if length < 1:
        raise ValueError(f"rollout_model: length (k) must be >= 1, got {length}")
    observations = np.asarray(start_observations)
    alive = np.arange(observations.shape[0])  # the start row of each live branch
    lengths = np.zeros(observations.shape[0], dtype=np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    n_nonfinite = 0
    for _ in range(length):
        actions = np.asarray(policy_fn(observations))
        next_observations, rewards, terminated = step_fn(observations, actions)
        rewards = np.asarray(rewards).reshape(-1)
        terminated = np.asarray(terminated, dtype=bool).reshape(-1)
        finite = np.isfinite(next_observations).all(axis=-1) & np.isfinite(rewards)
        n_nonfinite += int((~finite).sum())
        parts.append((observations[finite], actions[finite], rewards[finite], next_observations[finite], terminated[finite]))
        lengths[alive[finite]] += 1
        going = finite & ~terminated
        if not going.any():
            break
        observations, alive = next_observations[going], alive[going]
    observations_, actions_, rewards_, next_, terminated_ = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return ModelRollouts(observations_, actions_, rewards_, next_, terminated_, lengths, n_nonfinite)
