"""
Complete episodes in memory, laid out as Minari stores them: :class:`Episode` and :class:`Episodes`.

An episode of T steps holds T + 1 observations (the reset observation, then one per step), T actions, rewards,
terminations and truncations, and ``infos`` arrays of T + 1 rows aligned with the observations, as Minari's own
``DataCollector`` records them (the reset's info first). Row ``t`` of :data:`PARAMS_KEY` and :data:`STATE_KEY` is
the parameter vector and the full physics state (``env.unwrapped.get_state()``) at observation ``t``, so
``set_state(states[t])`` under ``params[t]`` followed by ``step(actions[t])`` reproduces observation ``t + 1``.

Nothing here needs Minari; :meth:`Episode.to_buffer` builds Minari's ``EpisodeBuffer`` when a dataset is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec

#: The ``infos`` key of the parameter vector each step ran with: (T + 1, n_params), in the env's ``param_names`` order.
PARAMS_KEY = "params"
#: The ``infos`` key of the full physics state at each observation: (T + 1, state_size), ``env.unwrapped.get_state()``.
STATE_KEY = "state"


def _as_rows(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0:
        raise ValueError(f"Episode {name} must be an array with one row per step, got a scalar {value!r}")
    return array


@dataclass(frozen=True, eq=False)
class Episode:
    """
    One complete episode (Minari's layout: T steps, T + 1 observations).

    :param observations: (T + 1, ...) the reset observation, then the observation after each step
    :param actions: (T, ...) the actions applied, in the action space's dtype
    :param rewards: (T,) rewards
    :param terminations: (T,) booleans: the env terminated at this step
    :param truncations: (T,) booleans: the episode was cut here (the time limit)
    :param infos: arrays with a leading axis of rows, usually T + 1 aligned with the observations
        (:data:`PARAMS_KEY`, :data:`STATE_KEY`); the D4RL converter keeps D4RL's T-row ``qpos``/``qvel``
    :param seed: the seed the episode was reset with (``None``: not seeded)
    :raises ValueError: arrays whose lengths do not fit T steps, or T = 0
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    infos: Mapping[str, np.ndarray] = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self) -> None:
        # frozen: normalise through object.__setattr__, once, so every consumer sees arrays of one layout
        rewards = np.asarray(self.rewards, dtype=np.float64).reshape(-1)
        steps = rewards.shape[0]
        if steps == 0:
            raise ValueError("An Episode needs at least one step (got 0 rewards)")
        object.__setattr__(self, "rewards", rewards)
        for name in ("terminations", "truncations"):
            flags = np.asarray(getattr(self, name)).reshape(-1)
            if flags.shape != (steps,):
                raise ValueError(f"Episode {name} must have {steps} entries (one per reward), got shape {flags.shape}")
            object.__setattr__(self, name, flags.astype(bool, copy=False))
        observations = _as_rows(self.observations, "observations")
        if observations.shape[0] != steps + 1:
            raise ValueError(
                f"Episode observations must have T + 1 = {steps + 1} rows (the reset observation, then one per step), "
                f"got {observations.shape[0]}"
            )
        actions = _as_rows(self.actions, "actions")
        if actions.shape[0] != steps:
            raise ValueError(f"Episode actions must have T = {steps} rows, got {actions.shape[0]}")
        infos = {str(key): _as_rows(value, f"infos[{key!r}]") for key, value in dict(self.infos).items()}
        object.__setattr__(self, "observations", observations)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "infos", infos)
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    def __len__(self) -> int:
        """The number of steps T."""
        return int(self.rewards.shape[0])

    @property
    def episode_return(self) -> float:
        """The undiscounted return (sum of rewards)."""
        return float(self.rewards.sum())

    @property
    def params(self) -> np.ndarray | None:
        """(T + 1, n_params) parameter vectors, or ``None`` when not recorded (a converted D4RL file)."""
        return self.infos.get(PARAMS_KEY)

    @property
    def states(self) -> np.ndarray | None:
        """(T + 1, state_size) physics states, or ``None`` when not recorded."""
        return self.infos.get(STATE_KEY)

    def to_buffer(self, episode_id: int | None = None) -> Any:
        """
        :param episode_id: the id Minari gives the episode (``None``: the next free one)
        :return: a ``minari.data_collector.EpisodeBuffer`` holding this episode (no JAX needed)
        """
        from minari.data_collector import EpisodeBuffer

        return EpisodeBuffer(
            id=episode_id,
            seed=self.seed,
            observations=self.observations,
            actions=self.actions,
            rewards=self.rewards,
            terminations=self.terminations,
            truncations=self.truncations,
            infos=dict(self.infos) or None,
        )


@dataclass(frozen=True, eq=False)
class Episodes(Sequence[Episode]):
    """
    Complete episodes from one environment, with the :class:`~gymnasium.envs.registration.EnvSpec` that re-creates it.

    ``a + b`` concatenates two collections of the same env spec (D4RL's medium-expert is medium + expert).

    :param env_spec: the spec of the env that ran (``params`` in its kwargs, ``DomainRandomization`` among its
        ``additional_wrappers``), so ``gym.make(env_spec)`` re-creates it
    :param episodes: the episodes, in the order they ran
    :param provenance: how they were made (env id, seed, steps asked for, params or preset, level, policy), JSON-able;
        written to the dataset's metadata
    """

    env_spec: EnvSpec
    episodes: tuple[Episode, ...]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        episodes = tuple(self.episodes)
        bad = [type(e).__name__ for e in episodes if not isinstance(e, Episode)]
        if bad:
            raise TypeError(f"Episodes holds Episode objects, got {bad[0]}")
        object.__setattr__(self, "episodes", episodes)
        object.__setattr__(self, "provenance", dict(self.provenance))

    def __len__(self) -> int:
        """The number of episodes."""
        return len(self.episodes)

    def __getitem__(self, index: Any) -> Any:
        return self.episodes[index]

    def __iter__(self) -> Iterator[Episode]:
        return iter(self.episodes)

    @property
    def total_steps(self) -> int:
        """Steps over all episodes."""
        return sum(len(e) for e in self.episodes)

    @property
    def returns(self) -> np.ndarray:
        """The return of each episode."""
        return np.array([e.episode_return for e in self.episodes], dtype=np.float64)

    def __add__(self, other: Episodes) -> Episodes:
        """
        :param other: episodes of the same env spec
        :return: this collection's episodes followed by ``other``'s
        :raises ValueError: the env specs differ (the episodes come from different envs or parameters)
        """
        if not isinstance(other, Episodes):
            return NotImplemented
        if other.env_spec != self.env_spec:
            raise ValueError(
                "Cannot concatenate episodes of different envs: "
                f"{self.env_spec.to_json()} vs {other.env_spec.to_json()}; collect both in the same env"
            )
        parts = [*self.provenance.get("concatenated", [self.provenance])]
        parts += [*other.provenance.get("concatenated", [other.provenance])]
        return Episodes(self.env_spec, self.episodes + other.episodes, {"concatenated": parts})


def _hash_array(digest: Any, name: str, array: Any) -> None:
    array = np.ascontiguousarray(np.asarray(array))
    # name, dtype and shape first: the same bytes under another layout must not hash alike
    digest.update(f"{name}|{array.dtype.str}|{array.shape};".encode())
    digest.update(array.tobytes())


def episodes_checksum(episodes: Iterable[Any]) -> str:
    """
    SHA-256 over every episode's arrays, in order: observations, actions, rewards, terminations, truncations and the
    ``infos`` arrays (by key). Works on :class:`Episode` and on Minari's ``EpisodeData`` (a dataset as loaded back).

    :param episodes: the episodes, in dataset order
    :return: the hex digest
    """
    digest = hashlib.sha256()
    for episode in episodes:
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            _hash_array(digest, name, getattr(episode, name))
        infos = episode.infos or {}
        for key in sorted(infos):
            _hash_array(digest, f"infos/{key}", infos[key])
    return digest.hexdigest()
