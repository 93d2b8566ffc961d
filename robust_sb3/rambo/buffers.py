"""
RAMBO's replay buffer: the FIFO pool of model rollouts, sampled together with the real dataset.

MBPO-style training (Janner et al., 2019; RAMBO, Rigter et al., 2022, section 3 and Table 2) draws each SAC batch
with a fraction ``f`` of real transitions and ``1 - f`` of model transitions. The pool of model transitions is this
buffer's own arrays (SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer`, first in first out), filled a
whole rollout at a time by :meth:`MixedReplayBuffer.extend`; the dataset is held as tensors on the training
device, and :meth:`MixedReplayBuffer.sample` returns both parts in one
:class:`~stable_baselines3.common.type_aliases.ReplayBufferSamples`, so SAC's own ``train`` consumes it unchanged.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


class RealTransitions(NamedTuple):
    """
    The dataset on the training device, in SAC's layout.

    :param observations: ``(N, obs_dim)`` float32
    :param actions: ``(N, action_dim)`` float32, scaled to the policy's ``[-1, 1]`` (SB3's buffer convention)
    :param next_observations: ``(N, obs_dim)`` float32
    :param dones: ``(N, 1)`` float32, the terminal flags
    :param rewards: ``(N, 1)`` float32
    """

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor


class MixedReplayBuffer(ReplayBuffer):
    """
    The model-rollout pool (first in, first out) plus the real dataset; batches hold ``int(real_ratio * batch_size)``
    real transitions, the rest from the pool (all real while the pool is empty, before the first rollout).

    Rows are written a rollout at a time, not per env, so the pool always has one env column (``n_envs`` is
    accepted for SB3's constructor call and ignored). Sampling uses the buffer's own generator, seeded by ``seed``.

    :param buffer_size: the pool's capacity in transitions
    :param observation_space: the observation space
    :param action_space: the action space
    :param device: the device of the sampled tensors
    :param n_envs: ignored (see above)
    :param optimize_memory_usage: not supported (must be ``False``)
    :param handle_timeout_termination: ignored: model rollouts have no time limit
    :param real_ratio: the fraction ``f`` of real transitions in a batch, in ``[0, 1]``
    :param seed: the seed of the sampling generator
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
        real_ratio: float = 0.5,
        seed: int | None = None,
    ) -> None:
        if optimize_memory_usage:
            raise NotImplementedError("MixedReplayBuffer does not support optimize_memory_usage=True")
        super().__init__(buffer_size, observation_space, action_space, device, n_envs=1, handle_timeout_termination=False)
        if not 0.0 <= real_ratio <= 1.0:
            raise ValueError(f"MixedReplayBuffer: real_ratio must be in [0, 1], got {real_ratio!r}")
        self.real_ratio = float(real_ratio)
        self.real: RealTransitions | None = None
        self.rng = np.random.default_rng(seed)

    def __getstate__(self) -> dict[str, Any]:
        # the dataset can be large and is reloaded from its source: a saved buffer holds the pool only
        state = self.__dict__.copy()
        state["real"] = None
        return state

    def set_real_data(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminals: np.ndarray,
    ) -> None:
        """
        :param observations: ``(N, obs_dim)``
        :param actions: ``(N, action_dim)``, already scaled to ``[-1, 1]``
        :param rewards: ``(N,)``
        :param next_observations: ``(N, obs_dim)``
        :param terminals: ``(N,)``
        """

        def tensor(x: np.ndarray) -> th.Tensor:
            return th.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

        self.real = RealTransitions(
            tensor(observations),
            tensor(actions),
            tensor(next_observations),
            tensor(terminals).reshape(-1, 1),
            tensor(rewards).reshape(-1, 1),
        )

    @property
    def n_model(self) -> int:
        """The number of model transitions held."""
        return self.buffer_size if self.full else self.pos

    def extend(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        dones: np.ndarray,
    ) -> None:
        """
        Append a batch of model transitions, overwriting the oldest once full (first in, first out).

        :param observations: ``(M, obs_dim)``
        :param actions: ``(M, action_dim)``, scaled to ``[-1, 1]``
        :param rewards: ``(M,)``
        :param next_observations: ``(M, obs_dim)``
        :param dones: ``(M,)``, the terminal flags
        """
        arrays = (observations, actions, rewards, next_observations, dones)
        m = len(rewards)
        if m > self.buffer_size:  # only the newest rows would survive anyway
            arrays = tuple(np.asarray(a)[m - self.buffer_size :] for a in arrays)
            m = self.buffer_size
        start = 0
        while start < m:
            stop = min(m, start + self.buffer_size - self.pos)
            rows = slice(self.pos, self.pos + stop - start)
            obs, act, rew, nxt, done = (np.asarray(a)[start:stop] for a in arrays)
            self.observations[rows, 0] = obs
            self.actions[rows, 0] = act
            self.rewards[rows, 0] = rew.reshape(-1)
            self.next_observations[rows, 0] = nxt
            self.dones[rows, 0] = done.reshape(-1)
            self.pos += stop - start
            if self.pos == self.buffer_size:
                self.full, self.pos = True, 0
            start = stop

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """
        :param batch_size: rows per batch
        :param env: unused (offline data is not normalised by a ``VecNormalize``)
        :return: ``int(real_ratio * batch_size)`` real rows, then the model rows (all real while the pool is empty)
        """
        n_real = int(self.real_ratio * batch_size) if self.n_model > 0 else batch_size
        parts = []
        if n_real > 0:
            if self.real is None:
                raise RuntimeError("MixedReplayBuffer: no real data; call set_real_data() first")
            index = th.as_tensor(self.rng.integers(0, self.real.rewards.shape[0], size=n_real), device=self.device)
            parts.append(ReplayBufferSamples(*(x[index] for x in self.real)))
        if batch_size - n_real > 0:
            rows = self.rng.integers(0, self.n_model, size=batch_size - n_real)

            def tensor(x: np.ndarray) -> th.Tensor:
                return th.as_tensor(np.asarray(x[rows, 0], dtype=np.float32), device=self.device)

            parts.append(
                ReplayBufferSamples(
                    tensor(self.observations),
                    tensor(self.actions),
                    tensor(self.next_observations),
                    tensor(self.dones).reshape(-1, 1),
                    tensor(self.rewards).reshape(-1, 1),
                )
            )
        if len(parts) == 1:
            return parts[0]
        return ReplayBufferSamples(*(th.cat(pair) for pair in zip(parts[0][:5], parts[1][:5], strict=True)))
