"""
D4RL compatibility: D4RL's v2 reference scores (:func:`d4rl_normalized_score`) and a converter from D4RL's HDF5
layout to a Minari dataset (:func:`from_d4rl_hdf5`).

The reference scores are **D4RL's**, not this project's: the mean returns of a random policy and of D4RL's SAC expert
on the ``-v2`` locomotion envs (``d4rl/infos.py``, ``REF_MIN_SCORE`` / ``REF_MAX_SCORE``). They were measured with
mujoco-py (MuJoCo 1.5) on gym's v3-era XMLs; this project's envs reproduce Gymnasium's v5 envs, whose dynamics differ
slightly, so a score normalised with them is an *approximate D4RL-normalised* score. A dataset's own references
(``ref_min_score`` / ``ref_max_score``, our random and expert returns) are in its metadata.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from robust_envs.datasets.episodes import Episode


class D4RLReference(NamedTuple):
    """D4RL's reference returns of one locomotion env: a normalised score is 0 at ``random`` and 100 at ``expert``."""

    random: float
    expert: float


#: D4RL v2 reference returns (random, expert) by D4RL env name; D4RL's numbers, not measured here.
D4RL_REFERENCE_SCORES: dict[str, D4RLReference] = {
    "hopper": D4RLReference(-20.272305, 3234.3),
    "halfcheetah": D4RLReference(-280.178953, 12135.0),
    "walker2d": D4RLReference(1.629008, 4592.3),
}


def d4rl_name(env: str) -> str | None:
    """
    :param env: an env id or name: ``RobustHopper-v0``, ``Hopper-v5``, ``hopper``, ``hopper-medium-replay-v2``, ...
    :return: the D4RL env name it corresponds to (``hopper``, ``halfcheetah``, ``walker2d``), or ``None``
    """
    # "RobustHopper-v0" -> "hopper", "walker2d-medium-replay-v2" -> "walker2d"
    name = re.sub(r"^robust", "", env.strip().lower()).split("-")[0]
    return name if name in D4RL_REFERENCE_SCORES else None


def d4rl_normalized_score(env: str, raw_return: float | np.ndarray) -> float | np.ndarray:
    """
    D4RL's normalised score: ``100 * (raw_return - random) / (expert - random)`` with **D4RL's v2 reference returns**
    (:data:`D4RL_REFERENCE_SCORES`; not this project's), so 0 is D4RL's random policy and 100 its expert.

    :param env: a robust env id (``RobustHopper-v0``, ``RobustWalker2d-v0``, ``RobustHalfCheetah-v0``), a Gymnasium
        id (``Hopper-v5``) or a D4RL name (``hopper``, ``walker2d-medium-v2``)
    :param raw_return: an undiscounted episode return, or an array of them
    :return: the normalised score(s), a float for a scalar return
    :raises ValueError: an env D4RL has no reference for
    """
    if not isinstance(env, str) or d4rl_name(env) is None:
        raise ValueError(
            f"No D4RL reference scores for {env!r}: D4RL's v2 locomotion references exist for "
            f"{', '.join(sorted(D4RL_REFERENCE_SCORES))} (RobustHopper-v0, RobustHalfCheetah-v0, RobustWalker2d-v0)"
        )
    low, high = D4RL_REFERENCE_SCORES[d4rl_name(env)]  # type: ignore[index]
    score = 100.0 * (np.asarray(raw_return, dtype=np.float64) - low) / (high - low)
    return float(score) if score.ndim == 0 else score


def d4rl_reference_metadata(env: str) -> dict[str, Any] | None:
    """:return: D4RL's references for the env as a JSON-able dict for a dataset's metadata, or ``None``."""
    name = d4rl_name(env)
    if name is None:
        return None
    ref = D4RL_REFERENCE_SCORES[name]
    return {
        "name": name,
        "random": ref.random,
        "expert": ref.expert,
        "source": "D4RL v2 reference returns (d4rl/infos.py REF_MIN_SCORE/REF_MAX_SCORE), not measured by robust-rl",
    }


# ---- the HDF5 converter ----------------------------------------------------------------------------------
_REQUIRED = ("observations", "actions", "rewards", "terminals", "timeouts")


def read_d4rl_hdf5(path: str | os.PathLike) -> tuple[list[Episode], dict[str, Any]]:
    """
    Split a D4RL HDF5 file into complete episodes.

    D4RL's layout is flat: ``observations`` (N, obs_dim), ``actions`` (N, act_dim), ``rewards`` (N,), ``terminals``
    (N,), ``timeouts`` (N,), optionally ``next_observations`` (N, obs_dim) and per-step ``infos/*`` (``qpos``,
    ``qvel``, ``action_log_probs``, ...). An episode ends at a step flagged ``terminals`` or ``timeouts``; steps
    after the last such flag belong to no complete episode and are dropped. Inside an episode the next observation of
    step ``t`` is ``observations[t + 1]``. The episode's final observation is ``next_observations`` at its last step;
    without ``next_observations`` (older D4RL files) it is unknown, so the last step of every episode is dropped and
    the step before it marked truncated (the data stops there, the MDP did not). ``infos/*`` arrays keep D4RL's
    alignment: T rows, row ``t`` at observation ``t`` (D4RL recorded no state after the last step).

    :param path: the HDF5 file
    :return: the episodes and facts about the conversion (for the metadata)
    :raises ValueError: a key missing, arrays of different lengths, or no complete episode
    :raises FileNotFoundError: no such file
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No D4RL HDF5 file at {str(path)!r}")
    with h5py.File(path, "r") as file:
        missing = [key for key in _REQUIRED if key not in file]
        if missing:
            raise ValueError(
                f"{str(path)!r} is not in D4RL's layout: missing {missing} (has {sorted(file.keys())}); "
                f"needs {list(_REQUIRED)}, optionally next_observations and infos/*"
            )
        data = {key: np.asarray(file[key][()]) for key in _REQUIRED}
        next_observations = np.asarray(file["next_observations"][()]) if "next_observations" in file else None
        infos = {}
        if "infos" in file:
            for key, value in file["infos"].items():
                if isinstance(value, h5py.Dataset):  # nested groups (D4RL's goal dicts in other suites) are not steps
                    infos[key] = np.asarray(value[()])
    n = data["rewards"].reshape(-1).shape[0]
    arrays = {**data, **({"next_observations": next_observations} if next_observations is not None else {})}
    arrays.update({f"infos/{k}": v for k, v in infos.items()})
    rows = {key: value.shape[0] if value.ndim else 0 for key, value in arrays.items()}
    wrong = {key: count for key, count in rows.items() if count != n}
    if wrong:
        raise ValueError(f"D4RL arrays must all have N = {n} rows (as rewards), got {wrong} in {str(path)!r}")
    ends = np.flatnonzero(data["terminals"].reshape(-1).astype(bool) | data["timeouts"].reshape(-1).astype(bool))
    episodes = []
    start = 0
    for end in ends:
        episode = _episode(data, next_observations, infos, start, int(end))
        if episode is not None:
            episodes.append(episode)
        start = int(end) + 1
    if not episodes:
        raise ValueError(f"No complete episode in {str(path)!r}: no step is flagged terminals or timeouts")
    facts = {
        "source_file": path.name,
        "source_steps": n,
        "dropped_trailing_steps": n - start,
        "final_observation": "next_observations" if next_observations is not None else "dropped last step",
        "info_keys": sorted(infos),
    }
    return episodes, facts


def _episode(
    data: Mapping[str, np.ndarray], next_observations: np.ndarray | None, infos: Mapping[str, np.ndarray], start: int, end: int
) -> Episode | None:
    """:return: the episode of rows ``start..end`` (inclusive), or ``None`` when nothing is left of it."""
    terminals = data["terminals"].reshape(-1)[start : end + 1].astype(bool)
    timeouts = data["timeouts"].reshape(-1)[start : end + 1].astype(bool)
    if next_observations is not None:
        observations = np.concatenate((data["observations"][start : end + 1], next_observations[end : end + 1]))
        stop = end + 1
    else:
        # the final observation is unknown: keep rows start..end-1, whose next observations are rows start+1..end
        stop = end
        observations = data["observations"][start : end + 1]
        terminals, timeouts = terminals[:-1], timeouts[:-1].copy()
        if stop == start:
            return None
        timeouts[-1] = True
    return Episode(
        observations=observations,
        actions=data["actions"][start:stop],
        rewards=data["rewards"].reshape(-1)[start:stop],
        terminations=terminals,
        truncations=timeouts,
        infos={key: value[start:stop] for key, value in infos.items()},
    )


def from_d4rl_hdf5(
    path: str | os.PathLike,
    dataset_id: str,
    env: Any = None,
    observation_space: Any = None,
    action_space: Any = None,
    **create_kwargs: Any,
) -> Any:
    """
    Convert a D4RL HDF5 file (:func:`read_d4rl_hdf5`) to a Minari dataset.

    Without ``env`` the spaces default to unbounded ``Box`` es of the data's shapes and dtypes (D4RL's files do not
    record bounds; pass the spaces, or an env such as ``"RobustHopper-v0"`` whose spaces match, to keep them). The
    metadata gets D4RL's reference returns when ``env`` or the file name names a D4RL env (``hopper_medium-v2.hdf5``).

    :param path: the HDF5 file
    :param dataset_id: the new Minari dataset id (``namespace/name-vN``)
    :param env: the env id or ``EnvSpec`` the data fits (``None``: no env, spaces from the data)
    :param observation_space: the observation space (default: from ``env`` or the data)
    :param action_space: the action space (default: from ``env`` or the data)
    :param create_kwargs: further arguments of :func:`~robust_envs.datasets.storage.create_dataset`
        (``description``, ``ref_min_score`` and ``ref_max_score``, ``metadata``, ...)
    :return: the ``minari.MinariDataset``
    :raises ValueError: a file not in D4RL's layout, a dataset id that is malformed or taken, data that does not fit
        the env's spaces; nothing is written then
    """
    from gymnasium import spaces

    from robust_envs.datasets.storage import check_dataset_id, create_dataset

    check_dataset_id(dataset_id)  # before reading a possibly large file
    episodes, facts = read_d4rl_hdf5(path)
    if env is None:
        first = episodes[0]
        if observation_space is None:
            observation_space = spaces.Box(-np.inf, np.inf, first.observations.shape[1:], first.observations.dtype)
        if action_space is None:
            action_space = spaces.Box(-np.inf, np.inf, first.actions.shape[1:], first.actions.dtype)
    name = d4rl_name(Path(path).stem.replace("_", "-"))
    extra = dict(create_kwargs.pop("metadata", None) or {})
    extra.setdefault("converted_from_d4rl", facts)
    if env is None and name is not None:
        extra.setdefault("d4rl_reference", d4rl_reference_metadata(name))
    create_kwargs.setdefault("algorithm_name", "D4RL (converted)")
    create_kwargs.setdefault(
        "description",
        f"Converted from D4RL's HDF5 file {facts['source_file']} (mujoco-py/MuJoCo 1.5, gym v3-era XMLs; dynamics differ "
        "slightly from Gymnasium v5 and this project's envs)",
    )
    return create_dataset(
        dataset_id,
        episodes,
        env=env,
        observation_space=observation_space,
        action_space=action_space,
        metadata=extra,
        **create_kwargs,
    )
