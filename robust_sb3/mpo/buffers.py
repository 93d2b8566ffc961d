"""A replay buffer that also stores the next observation, reward and termination under each of K models."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.vec_env import VecNormalize

#: The ``info`` keys that :class:`robust_envs.wrappers.PerturbedTransitions` writes at every step.
PERTURBED_INFO_KEYS = ("perturbed_next_obs", "perturbed_rewards", "perturbed_terminated")


class PerturbedReplayBufferSamples(NamedTuple):
    """
    A batch of transitions with the K models' next observations (Mankowitz et al. 2020, Eq. 1).

    :param observations: (B, *obs_shape)
    :param actions: (B, action_dim)
    :param next_observations: (B, *obs_shape) the next observation in the env the agent acted in
    :param dones: (B, 1) terminations of that env (time-limit truncations excluded)
    :param rewards: (B, 1) the reward in the env the agent acted in: Eq. 1's reward, outside the infimum
    :param perturbed_next_observations: (B, K, *obs_shape)
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

    The env must be wrapped in :class:`robust_envs.wrappers.PerturbedTransitions`, which puts
    ``info["perturbed_next_obs"]`` (K, *obs_shape), ``info["perturbed_rewards"]`` (K,) and
    ``info["perturbed_terminated"]`` (K,) into every step's info. SB3's ``collect_rollouts`` hands the
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
                    f"with {self.n_models} models (it writes perturbed_next_obs {(self.n_models, *self.obs_shape)}, "
                    f"perturbed_rewards ({self.n_models},), perturbed_terminated ({self.n_models},))"
                )
            next_observations = np.asarray(info["perturbed_next_obs"])
            if next_observations.shape != (self.n_models, *self.obs_shape):
                raise ValueError(
                    f"info['perturbed_next_obs'] of env {env_index} has shape {next_observations.shape}, "
                    f"expected {(self.n_models, *self.obs_shape)} (K={self.n_models} models)"
                )
            rewards = np.asarray(info["perturbed_rewards"]).reshape(-1)
            terminated = np.asarray(info["perturbed_terminated"]).reshape(-1)
            if rewards.shape != (self.n_models,) or terminated.shape != (self.n_models,):
                raise ValueError(
                    f"perturbed_rewards {rewards.shape} and perturbed_terminated {terminated.shape} of env {env_index} "
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


def use_perturbed_buffer(algorithm: Any) -> None:
    """
    Make an off-policy algorithm with a robust target store the K next states, unless it has a buffer class of its own.

    Call before SB3's ``_setup_model`` builds the buffer.

    :param algorithm: an SB3 off-policy algorithm with ``n_models`` (0 for the non-robust agents)
    """
    if algorithm.n_models and algorithm.replay_buffer_class is None:
        algorithm.replay_buffer_class = PerturbedReplayBuffer
        algorithm.replay_buffer_kwargs = {**algorithm.replay_buffer_kwargs, "n_models": algorithm.n_models}


def n_models_of(env: Any, robustness: str, owner: str) -> int:
    """
    K, read from the :class:`robust_envs.wrappers.PerturbedTransitions` wrapper of a VecEnv's envs.

    :param env: the algorithm's VecEnv
    :param robustness: ``"none"`` (returns 0: the plain replay buffer suffices), ``"robust"`` or ``"soft"``
    :param owner: the algorithm's name, for the error message
    :return: K (0 for ``"none"``)
    :raises ValueError: a robust setting on an env without the wrapper
    """
    if robustness == "none":
        return 0
    try:
        counts = set(env.get_attr("n_models"))
    except AttributeError as error:
        raise ValueError(
            f"{owner}(robustness={robustness!r}) needs the next observations under the K models of an uncertainty set: "
            "wrap the env in robust_envs.PerturbedTransitions(env, models) before passing it"
        ) from error
    if len(counts) != 1:
        raise ValueError(f"All envs must have the same number of models, got {sorted(counts)}")
    return int(counts.pop())


def next_state_batch(data: Any, n_models: int, reward_in_inf: bool = False) -> tuple[Any, th.Tensor, th.Tensor]:
    """
    The next states, rewards and terminations a TD target (:func:`~robust_sb3.mpo.robust_target.robust_td_target`)
    is computed from, the next states flattened over the models.

    :param data: a :class:`PerturbedReplayBufferSamples` (``n_models`` >= 1) or SB3's ``ReplayBufferSamples`` (0)
    :param n_models: K, or 0 for the env's own next state
    :param reward_in_inf: return each model's reward (B, K) instead of the experienced transition's (B, 1), which
        Eq. 1 keeps outside the infimum; no effect for ``n_models=0``
    :return: next observations (B * K, *obs_shape), row ``b * K + k`` being model k's next state of transition b;
        rewards (B, 1) (the buffer's ``rewards``) or (B, K) with ``reward_in_inf``; terminated (B, K); K = 1 and
        the experienced transition's next state, reward and termination for ``n_models=0``
    """
    if not n_models:
        return data.next_observations, data.rewards, data.dones
    next_obs = data.perturbed_next_observations
    rewards = data.perturbed_rewards if reward_in_inf else data.rewards
    return next_obs.reshape(-1, *next_obs.shape[2:]), rewards, data.perturbed_terminated
