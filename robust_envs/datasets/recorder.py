"""
:class:`EpisodeRecorder`: a wrapper that keeps every complete episode an env runs, with parameters and states.

It serves two callers: :func:`~robust_envs.datasets.collect.collect` runs a fixed policy through it, and a training
run wraps its env in it to keep its replay (D4RL's medium-replay is every episode recorded up to the medium
checkpoint: :meth:`EpisodeRecorder.episodes` with ``until_step``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from robust_envs.core import PerturbableEnv
from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY, Episode, Episodes


class _Open:
    """The episode being recorded (lists of per-step rows)."""

    def __init__(self, observation: Any, params: np.ndarray, state: np.ndarray, seed: int | None) -> None:
        self.seed = seed
        self.observations = [np.array(observation)]
        self.params = [params]
        self.states = [state]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.terminations: list[bool] = []
        self.truncations: list[bool] = []

    def close(self) -> Episode:
        return Episode(
            observations=np.stack(self.observations),
            actions=np.stack(self.actions),
            rewards=np.array(self.rewards, dtype=np.float64),
            terminations=np.array(self.terminations, dtype=bool),
            truncations=np.array(self.truncations, dtype=bool),
            infos={PARAMS_KEY: np.stack(self.params), STATE_KEY: np.stack(self.states)},
            seed=self.seed,
        )


class EpisodeRecorder(gym.Wrapper):
    """
    Record every complete episode: observations, actions, rewards, terminations, truncations, and at every
    observation the parameter vector and the full physics state (``env.unwrapped.get_state()``).

    An episode is kept when it ends by termination or truncation (the time limit). One left by a ``reset``
    before it ended, or still running, is not kept: its data would stop at an arbitrary step. The recorder counts
    every step it sees (:attr:`total_steps`), and remembers the count at which each kept episode ended, so a
    training run (one env, as SB3's off-policy algorithms count ``num_timesteps``) can ask for the episodes that
    ended by a checkpoint.

    The actions are recorded as passed to ``step``: pass them in the action space's dtype (SB3 does) so that the
    recorded action is the applied one. Put the recorder *inside* any wrapper that changes actions or
    observations if the data should be the env's own.

    :param env: a robust env (its ``unwrapped`` is a :class:`~robust_envs.core.PerturbableEnv`)
    :raises TypeError: another kind of env (it has no parameters or states to record)
    """

    def __init__(self, env: gym.Env) -> None:
        if not isinstance(env, gym.Env) or not isinstance(env.unwrapped, PerturbableEnv):
            raise TypeError(
                f"EpisodeRecorder records parameters and physics states, so it needs a robust_envs env "
                f"(a PerturbableEnv such as gym.make('RobustHopper-v0')), got {type(getattr(env, 'unwrapped', env)).__name__}"
            )
        super().__init__(env)
        self._base: PerturbableEnv = env.unwrapped
        self._open: _Open | None = None
        self._done: list[tuple[int, Episode]] = []
        self.total_steps = 0

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        return self._base.param_vector, self._base.get_state()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset, and start recording a new episode (an unfinished one is dropped)."""
        observation, info = self.env.reset(seed=seed, options=options)
        self._open = _Open(observation, *self._snapshot(), seed)
        return observation, info

    def step(self, action):
        """Step, and record the transition; a terminated or truncated episode is kept."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.total_steps += 1
        episode = self._open
        if episode is not None:
            params, state = self._snapshot()
            episode.actions.append(np.array(action))
            episode.rewards.append(float(reward))
            episode.terminations.append(bool(terminated))
            episode.truncations.append(bool(truncated))
            episode.observations.append(np.array(observation))
            episode.params.append(params)
            episode.states.append(state)
            if terminated or truncated:
                self._done.append((self.total_steps, episode.close()))
                self._open = None
        return observation, reward, terminated, truncated, info

    @property
    def n_episodes(self) -> int:
        """The number of complete episodes recorded so far."""
        return len(self._done)

    def episodes(self, until_step: int | None = None, provenance: dict[str, Any] | None = None) -> Episodes:
        """
        :param until_step: keep only the episodes that ended by this step count (``None``: all complete episodes)
        :param provenance: how the episodes were made, for the dataset's metadata
        :return: the complete episodes, in the order they ended, with the wrapped env's spec
        :raises ValueError: ``until_step`` is negative or not an integer
        :raises RuntimeError: the env has no spec (made without ``gym.make``), so a dataset could not re-create it
        """
        if until_step is not None and (isinstance(until_step, bool) or not isinstance(until_step, int | np.integer)):
            raise ValueError(f"until_step must be a step count (int >= 0) or None, got {until_step!r}")
        if until_step is not None and until_step < 0:
            raise ValueError(f"until_step must be >= 0, got {until_step}")
        spec = self.env.spec
        if spec is None:
            raise RuntimeError(
                "The recorded env has no EnvSpec; make it with gym.make(env_id, ...) so a dataset can re-create it"
            )
        kept = tuple(e for end, e in self._done if until_step is None or end <= until_step)
        return Episodes(spec, kept, provenance or {})
