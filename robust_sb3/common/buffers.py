"""
The buffers robust algorithms share: a replay buffer that also stores the next observation, reward and termination
under each of K models (MPO, RobustSAC), and rollout buffers that train on selected sub-env columns (MRPO, EPOpt).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, ReplayBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

# robust_envs owns the info keys PerturbedTransitions writes; they are imported, never retyped
from robust_envs.wrappers import PERTURBED_INFO_KEYS, PERTURBED_NEXT_OBS, PERTURBED_REWARDS, PERTURBED_TERMINATED


class PerturbedReplayBufferSamples(NamedTuple):
    """
    A batch of transitions with the K models' next observations (Mankowitz et al. 2020, Eq. 1).

    :param observations: ``(B, *obs_shape)``
    :param actions: (B, action_dim)
    :param next_observations: ``(B, *obs_shape)`` the next observation in the env the agent acted in
    :param dones: (B, 1) terminations of that env (time-limit truncations excluded)
    :param rewards: (B, 1) the reward in the env the agent acted in: Eq. 1's reward, outside the infimum
    :param perturbed_next_observations: ``(B, K, *obs_shape)``
    :param perturbed_rewards: (B, K) each model's reward (the per-model target's, ``reward_in_inf=True``)
    :param perturbed_terminated: (B, K) as floats (1.0 = the model's next state is terminal)
    """

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor
    perturbed_next_observations: th.Tensor
    perturbed_rewards: th.Tensor
    perturbed_terminated: th.Tensor


class PerturbedReplayBuffer(ReplayBuffer):
    """
    SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer` plus the K models' next states of every transition.

    The env must be wrapped in :class:`robust_envs.wrappers.PerturbedTransitions`, which puts the next
    observations ``(K, *obs_shape)``, rewards (K,) and terminations (K,) into every step's info, under the keys
    :data:`PERTURBED_INFO_KEYS` it defines. SB3's ``collect_rollouts`` hands the
    infos to :meth:`add`, so the robust target costs no simulation at training time. The wrapper samples
    before the step, so at a terminal step these are the terminal transitions, not the auto-reset ones.

    :param buffer_size: max number of transitions
    :param observation_space: observation space
    :param action_space: action space
    :param device: torch device of the sampled tensors
    :param n_envs: number of parallel envs
    :param optimize_memory_usage: not supported (raises ``NotImplementedError`` when ``True``)
    :param handle_timeout_termination: ignore time-limit truncations in ``dones``, as SB3 does
    :param n_models: K, the number of models of the uncertainty set
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        n_models: int = 1,
    ) -> None:
        if optimize_memory_usage:
            raise NotImplementedError("PerturbedReplayBuffer does not support optimize_memory_usage=True")
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(
                f"PerturbedReplayBuffer stores Box observations only, got {type(observation_space).__name__}; "
                "flatten Dict observations (gymnasium.wrappers.FlattenObservation) before PerturbedTransitions"
            )
        if not (isinstance(n_models, int | np.integer) and n_models >= 1):
            raise ValueError(f"n_models must be an int >= 1, got {n_models!r}")
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=False,
            handle_timeout_termination=handle_timeout_termination,
        )
        self.n_models = int(n_models)
        shape = (self.buffer_size, self.n_envs, self.n_models)
        self.perturbed_next_observations = np.zeros((*shape, *self.obs_shape), dtype=observation_space.dtype)
        self.perturbed_rewards = np.zeros(shape, dtype=np.float32)
        self.perturbed_terminated = np.zeros(shape, dtype=np.float32)

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """
        Store a transition and the K models' next states read from ``infos`` (one info per env).

        :raises KeyError: an info lacks one of the keys of :data:`PERTURBED_INFO_KEYS`
        :raises ValueError: a stored array has the wrong shape (another K than the buffer's)
        """
        # Written before super().add(), which advances self.pos.
        for env_index, info in enumerate(infos):
            missing = [key for key in PERTURBED_INFO_KEYS if key not in info]
            if missing:
                raise KeyError(
                    f"Step info of env {env_index} lacks {missing}: wrap the env in robust_envs.PerturbedTransitions "
                    f"with {self.n_models} models (it writes {PERTURBED_NEXT_OBS} {(self.n_models, *self.obs_shape)}, "
                    f"{PERTURBED_REWARDS} ({self.n_models},), {PERTURBED_TERMINATED} ({self.n_models},))"
                )
            next_observations = np.asarray(info[PERTURBED_NEXT_OBS])
            if next_observations.shape != (self.n_models, *self.obs_shape):
                raise ValueError(
                    f"info[{PERTURBED_NEXT_OBS!r}] of env {env_index} has shape {next_observations.shape}, "
                    f"expected {(self.n_models, *self.obs_shape)} (K={self.n_models} models)"
                )
            rewards = np.asarray(info[PERTURBED_REWARDS]).reshape(-1)
            terminated = np.asarray(info[PERTURBED_TERMINATED]).reshape(-1)
            if rewards.shape != (self.n_models,) or terminated.shape != (self.n_models,):
                raise ValueError(
                    f"{PERTURBED_REWARDS} {rewards.shape} and {PERTURBED_TERMINATED} {terminated.shape} of env {env_index} "
                    f"must have shape ({self.n_models},)"
                )
            self.perturbed_next_observations[self.pos, env_index] = next_observations
            self.perturbed_rewards[self.pos, env_index] = rewards
            self.perturbed_terminated[self.pos, env_index] = terminated
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> PerturbedReplayBufferSamples:  # type: ignore[override]
        # One draw of env indices for every field (the parent's _get_samples draws its own, which would not match).
        # numpy's global generator, as SB3's buffers: set_random_seed seeds it, so a seeded run stays reproducible
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))  # noqa: NPY002
        base = self._base_samples(batch_inds, env_indices, env)
        perturbed_obs = self._normalize_obs(self.perturbed_next_observations[batch_inds, env_indices], env)
        perturbed_rewards = self._normalize_reward(self.perturbed_rewards[batch_inds, env_indices], env)
        return PerturbedReplayBufferSamples(
            *base[:5],
            perturbed_next_observations=self.to_torch(perturbed_obs),
            perturbed_rewards=self.to_torch(perturbed_rewards),
            perturbed_terminated=self.to_torch(self.perturbed_terminated[batch_inds, env_indices]),
        )

    def _base_samples(self, batch_inds: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None) -> tuple:
        """The parent's five fields (same layout and normalisation as ``ReplayBuffer._get_samples``) at given env indices."""
        dones = self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(self.next_observations[batch_inds, env_indices, :], env),
            dones.reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        return tuple(map(self.to_torch, data))


def next_state_batch(data: Any, n_models: int, reward_in_inf: bool = False) -> tuple[Any, th.Tensor, th.Tensor]:
    """
    The next states, rewards and terminations a TD target (:func:`~robust_sb3.common.robust_target.robust_td_target`)
    is computed from, the next states flattened over the models.

    :param data: a :class:`PerturbedReplayBufferSamples` (``n_models`` >= 1) or SB3's ``ReplayBufferSamples`` (0)
    :param n_models: K, or 0 for the env's own next state
    :param reward_in_inf: return each model's reward (B, K) instead of the experienced transition's (B, 1), which
        Eq. 1 keeps outside the infimum; no effect for ``n_models=0``
    :return: next observations ``(B * K, *obs_shape)``, row ``b * K + k`` being model k's next state of transition b;
        rewards (B, 1) (the buffer's ``rewards``) or (B, K) with ``reward_in_inf``; terminated (B, K); K = 1 and
        the experienced transition's next state, reward and termination for ``n_models=0``
    """
    if not n_models:
        return data.next_observations, data.rewards, data.dones
    next_obs = data.perturbed_next_observations
    rewards = data.perturbed_rewards if reward_in_inf else data.rewards
    return next_obs.reshape(-1, *next_obs.shape[2:]), rewards, data.perturbed_terminated


class EnvMask:
    """The mask over sub-env columns shared by both buffers (column ``i`` holds sampled environment ``i``)."""

    n_envs: int
    buffer_size: int

    def _reset_mask(self) -> None:
        self.env_mask = np.ones(self.n_envs, dtype=bool)

    def set_env_mask(self, mask: np.ndarray) -> None:
        """
        Choose the columns the next :meth:`get` draws minibatches from (until the next ``reset``).

        :param mask: (n_envs,) booleans, at least one True
        :raises ValueError: wrong shape or no column selected
        """
        mask = np.asarray(mask)
        if mask.shape != (self.n_envs,) or mask.dtype != np.bool_:
            raise ValueError(f"env mask must be a boolean array of shape ({self.n_envs},), got {mask.dtype} {mask.shape}")
        if not mask.any():
            raise ValueError("env mask selects no column; PPO would have nothing to train on")
        self.env_mask = mask.copy()

    def selected_rows(self) -> np.ndarray:
        """
        :return: the flat row indices of the selected columns; after ``swap_and_flatten`` the row of
            ``(step, env)`` is ``env * buffer_size + step``
        """
        columns = np.flatnonzero(self.env_mask)
        return (columns[:, None] * self.buffer_size + np.arange(self.buffer_size)[None, :]).ravel()

    def _minibatch_indices(self, batch_size: int | None) -> Generator[np.ndarray, None, None]:
        # SB3 permutes with the global generator (seeded by set_random_seed); do the same for determinism.
        rows = np.random.permutation(self.selected_rows())  # noqa: NPY002
        batch_size = rows.size if batch_size is None else batch_size
        for start in range(0, rows.size, batch_size):
            yield rows[start : start + batch_size]


class EnvMaskedRolloutBuffer(EnvMask, RolloutBuffer):
    """
    A :class:`~stable_baselines3.common.buffers.RolloutBuffer` that yields only the rows of selected sub-envs.

    Returns and advantages are computed over every column (GAE never crosses columns), then
    :meth:`set_env_mask` picks the columns PPO trains on. The mask returns to "all columns" at every ``reset``.
    """

    def reset(self) -> None:
        """Clear the buffer and select every column."""
        super().reset()
        self._reset_mask()

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        """
        Like ``RolloutBuffer.get`` (same flattening, same minibatch size, the last one possibly smaller), over
        the selected columns' rows only.

        :param batch_size: minibatch size (``None``: one batch of every selected row)
        :return: a generator of minibatches
        """
        assert self.full, "the rollout buffer must be full before get()"
        if not self.generator_ready:
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        for indices in self._minibatch_indices(batch_size):
            yield self._get_samples(indices)


class EnvMaskedDictRolloutBuffer(EnvMask, DictRolloutBuffer):
    """The Dict-observation variant of :class:`EnvMaskedRolloutBuffer`."""

    def reset(self) -> None:
        """Clear the buffer and select every column."""
        super().reset()
        self._reset_mask()

    def get(self, batch_size: int | None = None) -> Generator[DictRolloutBufferSamples, None, None]:  # type: ignore[override]
        """
        Like ``DictRolloutBuffer.get``, over the selected columns' rows only.

        :param batch_size: minibatch size (``None``: one batch of every selected row)
        :return: a generator of minibatches
        """
        assert self.full, "the rollout buffer must be full before get()"
        if not self.generator_ready:
            for key, obs in self.observations.items():
                self.observations[key] = self.swap_and_flatten(obs)
            for name in ("actions", "values", "log_probs", "advantages", "returns"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        for indices in self._minibatch_indices(batch_size):
            yield self._get_samples(indices)
