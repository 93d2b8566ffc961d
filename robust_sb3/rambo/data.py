"""
RAMBO's offline dataset as flat transition arrays, from a Minari dataset id, a loaded ``MinariDataset``,
:class:`robust_envs.datasets.Episodes` or a dict of arrays.

The next observation of every step is the episode's own next observation (Minari keeps ``T + 1`` observations per
episode), so the last step of an episode, truncated or terminated, has its true successor: D4RL's
``qlearning_dataset`` took ``obs[i + 1]`` across episode boundaries instead. Datasets are read locally only
(``minari.load_dataset(..., download=False)`` through :func:`robust_envs.datasets.load`): an unknown id is an error
that lists the local ids, never a download.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec

OWNER = "RAMBO"
#: the keys of an in-memory dataset (``terminations``, Minari's name, is accepted for ``terminals``, D4RL's)
ARRAY_KEYS = ("observations", "actions", "rewards", "next_observations", "terminals")


@dataclass(frozen=True, eq=False)
class OfflineData:
    """
    A dataset of ``N`` transitions ``(s, a, r, s', terminal)``.

    :param observations: ``(N, obs_dim)`` float32
    :param actions: ``(N, action_dim)`` float32, in the env's action scale
    :param rewards: ``(N,)`` float32
    :param next_observations: ``(N, obs_dim)`` float32
    :param terminals: ``(N,)`` bool: the env terminated at this step (a time-limit truncation is not terminal)
    :param env_spec: the spec of the env that produced the data, when known (Minari and ``Episodes`` record it)
    :param dataset_id: the Minari id it was loaded from, if any
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray
    env_spec: EnvSpec | None = None
    dataset_id: str | None = None

    def __len__(self) -> int:
        """The number of transitions."""
        return int(self.rewards.shape[0])

    @property
    def obs_dim(self) -> int:
        """The observation size."""
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        """The action size."""
        return int(self.actions.shape[1])


def _rows(name: str, value: Any, n: int | None, width: int | None) -> np.ndarray:
    """One array as float32 rows ``(n, width)`` (or ``(n,)`` for ``width=None``), finite. :raises ValueError: naming it."""
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{OWNER}: dataset[{name!r}] must be a numeric array, got {type(value).__name__} ({error})") from None
    if width is None and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if width is not None and array.ndim == 1 and n is not None and array.shape[0] == n:
        array = array[:, None]  # one-dimensional actions given as (N,)
    expected = "(N,)" if width is None else f"(N, {'obs_dim' if width < 0 else width})"
    if array.ndim != (1 if width is None else 2) or (width is not None and width >= 0 and array.shape[1] != width):
        raise ValueError(f"{OWNER}: dataset[{name!r}] must have shape {expected}, got {array.shape}")
    if n is not None and array.shape[0] != n:
        raise ValueError(
            f"{OWNER}: dataset[{name!r}] has {array.shape[0]} rows, but observations has {n}; pass one row per step"
        )
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{OWNER}: dataset[{name!r}] holds a non-finite value at row {row}; drop or repair that step")
    return array


def from_arrays(arrays: Mapping[str, Any], env_spec: EnvSpec | None = None, dataset_id: str | None = None) -> OfflineData:
    """
    :param arrays: ``observations`` (N, obs_dim), ``actions`` (N, action_dim), ``rewards`` (N,),
        ``next_observations`` (N, obs_dim) and ``terminals`` (N,) (or ``terminations``); other keys are ignored
    :param env_spec: the env's spec, when known
    :param dataset_id: the Minari id, when loaded from one
    :return: the checked transitions
    :raises ValueError: a missing key, a wrong shape, a non-finite value or no transitions at all
    """
    arrays = dict(arrays)
    if "terminals" not in arrays and "terminations" in arrays:
        arrays["terminals"] = arrays["terminations"]
    missing = [key for key in ARRAY_KEYS if key not in arrays]
    if missing:
        hint = (
            " (next_observations is required: obs[i + 1] is wrong at episode ends; pass Episodes or a Minari id to get it)"
            if "next_observations" in missing
            else ""
        )
        raise ValueError(f"{OWNER}: the dataset dict lacks {missing}; it needs {list(ARRAY_KEYS)}{hint}, got {sorted(arrays)}")
    observations = _rows("observations", arrays["observations"], None, -1)
    n = observations.shape[0]
    if n == 0:
        raise ValueError(f"{OWNER}: the dataset is empty (0 transitions); RAMBO needs at least one transition to learn from")
    actions = _rows("actions", arrays["actions"], n, -1)
    terminals = np.asarray(arrays["terminals"])
    if terminals.ndim == 2 and terminals.shape[1] == 1:
        terminals = terminals[:, 0]
    if terminals.shape != (n,):
        raise ValueError(f"{OWNER}: dataset['terminals'] must have shape ({n},), got {terminals.shape}")
    return OfflineData(
        observations=observations,
        actions=actions,
        rewards=_rows("rewards", arrays["rewards"], n, None),
        next_observations=_rows("next_observations", arrays["next_observations"], n, observations.shape[1]),
        terminals=terminals.astype(bool),
        env_spec=env_spec,
        dataset_id=dataset_id,
    )


def from_episodes(episodes: Iterable[Any], env_spec: EnvSpec | None = None, dataset_id: str | None = None) -> OfflineData:
    """
    :param episodes: episodes in Minari's layout (``T + 1`` observations, ``T`` actions, rewards, terminations):
        Minari's ``EpisodeData`` or :class:`robust_envs.datasets.Episode`
    :param env_spec: the env's spec, when known
    :param dataset_id: the Minari id, when loaded from one
    :return: the transitions of every episode, in order
    :raises ValueError: no episodes, dict observations, or arrays :func:`from_arrays` refuses
    """
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ARRAY_KEYS}
    for index, episode in enumerate(episodes):
        observations = episode.observations
        if isinstance(observations, Mapping):
            raise ValueError(
                f"{OWNER}: episode {index} has dict observations (keys {sorted(observations)}); "
                "RAMBO needs flat Box observations"
            )
        observations = np.asarray(observations)
        actions = np.asarray(episode.actions)
        parts["observations"].append(observations[:-1])
        parts["next_observations"].append(observations[1:])
        parts["actions"].append(actions.reshape(len(actions), -1))
        parts["rewards"].append(np.asarray(episode.rewards).reshape(-1))
        parts["terminals"].append(np.asarray(episode.terminations).reshape(-1))
    if not parts["observations"]:
        where = f" {dataset_id!r}" if dataset_id is not None else ""
        raise ValueError(
            f"{OWNER}: the dataset{where} is empty (0 episodes); RAMBO needs at least one transition to learn from"
        )
    return from_arrays({key: np.concatenate(value) for key, value in parts.items()}, env_spec, dataset_id)


def load_offline_data(dataset: Any) -> OfflineData:
    """
    :param dataset: a Minari dataset id (loaded locally, never downloaded), a ``minari.MinariDataset``,
        :class:`robust_envs.datasets.Episodes` (or a sequence of episodes), or a dict of arrays (:func:`from_arrays`)
    :return: the transitions
    :raises ValueError: an unknown or malformed id (the message lists the local ids), an empty dataset, bad arrays
    :raises TypeError: none of the accepted kinds
    """
    if isinstance(dataset, OfflineData):
        return dataset
    if isinstance(dataset, str):
        from robust_envs.datasets import load

        loaded = load(dataset)  # ValueError naming the id and listing the local ones when it is not there
        return from_episodes(loaded.iterate_episodes(), loaded.env_spec, dataset)
    if callable(getattr(dataset, "iterate_episodes", None)):  # a MinariDataset
        return from_episodes(dataset.iterate_episodes(), getattr(dataset, "env_spec", None), getattr(dataset, "id", None))
    if isinstance(dataset, Mapping):
        return from_arrays(dataset)
    from robust_envs.datasets import Episodes

    if isinstance(dataset, Episodes):
        return from_episodes(dataset, dataset.env_spec)
    if isinstance(dataset, list | tuple) and all(hasattr(e, "observations") for e in dataset):
        return from_episodes(dataset)
    raise TypeError(
        f"{OWNER}: dataset must be a Minari dataset id (str), a minari.MinariDataset, robust_envs.datasets.Episodes or a "
        f"dict of arrays {list(ARRAY_KEYS)}, got {type(dataset).__name__}"
    )
