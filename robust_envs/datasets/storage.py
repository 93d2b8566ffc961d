"""
Writing and reading Minari datasets: :func:`create_dataset`, :func:`load`, :func:`list_datasets`.

Datasets are written with ``minari.create_dataset_from_buffers`` (Minari's ``DataCollector`` needs JAX; this path does
not) and loaded with ``minari.load_dataset``, which never touches the network. They live under Minari's data path:
``$MINARI_DATASETS_PATH`` when set, else ``~/.minari/datasets``, then ``<dataset_id>/data/``.

Every check runs before anything is written, and a write that fails half-way removes what it created, so a rejected
call leaves the data path as it was.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from robust_envs.datasets.d4rl import d4rl_reference_metadata
from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY, Episode, Episodes

#: The key of this project's section in a dataset's metadata (``dataset.storage.metadata[METADATA_KEY]``).
METADATA_KEY = "robust_rl"
#: The layout version of that section.
METADATA_VERSION = 1
#: Storage formats Minari writes (``arrow`` needs pyarrow).
DATA_FORMATS = ("hdf5", "arrow")
#: The layout of the recorded infos, as the metadata describes it.
_PARAMS_LAYOUT = "parameter vector at each observation (T + 1 rows), in the order of param_names"
_STATE_LAYOUT = "env.unwrapped.get_state() at each observation (T + 1 rows); set_state() resumes from it"
#: An example id, for messages.
EXAMPLE_ID = "robust_rl/hopper/random-v0"

# Minari warns about each optional field left empty; here they are optional on purpose and recorded as absent.
_OPTIONAL_FIELD_WARNINGS = r"`(code_permalink|author|author_email|algorithm_name|description|eval_env)` is set to None"


def require_minari() -> Any:
    """
    :return: the ``minari`` module
    :raises ImportError: minari is not installed, with the install command
    """
    try:
        import minari
    except ImportError as error:
        raise ImportError(
            f"Minari datasets need the [data] extra: pip install 'robust-rl[data]' (minari[hdf5]) ({error})"
        ) from error
    return minari


def datasets_root() -> Path:
    """
    Minari's data path, as ``minari.storage.get_dataset_path`` finds it, without creating it.

    :return: ``$MINARI_DATASETS_PATH`` when set, else ``~/.minari/datasets``
    """
    configured = os.environ.get("MINARI_DATASETS_PATH")
    return Path(configured) if configured is not None else Path.home() / ".minari" / "datasets"


def dataset_path(dataset_id: str) -> Path:
    """:return: the directory of a dataset (it holds ``data/``), whether or not it exists."""
    return datasets_root() / dataset_id


def check_dataset_id(dataset_id: Any, exists: bool = False) -> str:
    """
    :param dataset_id: a Minari dataset id, ``(namespace/)name-vN``
    :param exists: whether the dataset must exist (loading) or must not (creating)
    :return: the id
    :raises ValueError: a malformed id (with the expected form), an id taken when creating, or one absent when
        loading (with the local ids)
    """
    from minari.dataset.minari_dataset import DATASET_ID_RE

    match = DATASET_ID_RE.fullmatch(dataset_id) if isinstance(dataset_id, str) else None
    if match is None or match.group("version") is None:
        raise ValueError(
            f"Malformed dataset id {dataset_id!r}: Minari ids read (namespace/)name-vN, with a version, "
            f"letters, digits, '-' and '_' (e.g. {EXAMPLE_ID!r})"
        )
    path = dataset_path(dataset_id)
    if not exists and path.exists():
        raise ValueError(
            f"Dataset id {dataset_id!r} already exists at {str(path)!r}: choose another name or version "
            f"(e.g. {_next_version(dataset_id)!r}), or delete it with minari.delete_dataset({dataset_id!r})"
        )
    if exists and not path.joinpath("data").is_dir():
        local = sorted(list_datasets()) if datasets_root().is_dir() else []
        raise ValueError(
            f"No dataset {dataset_id!r} under {str(datasets_root())!r} (MINARI_DATASETS_PATH); local datasets: {local}. "
            "Make one with 'robust-rl datasets generate' or robust_envs.datasets.create_dataset"
        )
    return dataset_id


def _next_version(dataset_id: str) -> str:
    stem, _, version = dataset_id.rpartition("-v")
    return f"{stem}-v{int(version) + 1}"


def _spec_of(env: Any) -> EnvSpec:
    if isinstance(env, EnvSpec):
        return env
    if isinstance(env, str):
        try:
            return gym.spec(env)
        except gym.error.Error as error:
            raise ValueError(f"Unknown env {env!r} for the dataset: {error}") from None
    raise ValueError(f"env must be an env id or an EnvSpec (or None with both spaces), got {env!r}")


def _check_fits(episodes: Sequence[Episode], observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Refuse episodes whose observations or actions have another shape than the spaces' (Minari would store them)."""
    for index, episode in enumerate(episodes):
        for what, rows, space in (
            ("observations", episode.observations, observation_space),
            ("actions", episode.actions, action_space),
        ):
            shape = space.shape if space.shape is not None else ()
            if rows.shape[1:] != tuple(shape):
                raise ValueError(
                    f"Episode {index}: {what} of shape {rows.shape} do not fit the space {space} (rows of shape {shape})"
                )


def _check_scores(ref_min_score: Any, ref_max_score: Any) -> dict[str, float]:
    if ref_min_score is None and ref_max_score is None:
        return {}
    if ref_min_score is None or ref_max_score is None:
        # Minari would run 100 random episodes to fill a missing minimum: make the reference explicit instead
        raise ValueError(
            f"Pass both ref_min_score and ref_max_score (our random and expert mean returns, see reference_return) or "
            f"neither; got ref_min_score={ref_min_score!r}, ref_max_score={ref_max_score!r}"
        )
    scores = {}
    for name, value in (("ref_min_score", ref_min_score), ("ref_max_score", ref_max_score)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.integer | np.floating)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        scores[name] = float(value)
    if not scores["ref_max_score"] > scores["ref_min_score"]:
        raise ValueError(f"ref_max_score {ref_max_score!r} must exceed ref_min_score {ref_min_score!r}")
    return scores


def default_requirements() -> list[str]:
    """:return: pip requirements pinning the packages that re-create the env (robust-rl, mujoco, gymnasium)."""
    pins = []
    for package in ("robust-rl", "mujoco", "gymnasium"):
        try:
            pins.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:  # running from a source tree without installing
            continue
    return pins


def create_dataset(
    dataset_id: str,
    episodes: Episodes | Sequence[Episode],
    env: str | EnvSpec | None = None,
    *,
    eval_env: str | EnvSpec | None = None,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
    ref_min_score: float | None = None,
    ref_max_score: float | None = None,
    algorithm_name: str | None = None,
    author: str | None = None,
    author_email: str | None = None,
    code_permalink: str | None = None,
    description: str | None = None,
    requirements: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    data_format: str = "hdf5",
) -> Any:
    """
    Write episodes as a Minari dataset with ``minari.create_dataset_from_buffers`` (no JAX).

    Each episode's ``infos`` (:data:`~robust_envs.datasets.episodes.PARAMS_KEY`, :data:`~robust_envs.datasets.
    episodes.STATE_KEY`, T + 1 rows) and reset seed are stored with it. The dataset's metadata gets Minari's fields,
    the reference scores (``ref_min_score`` / ``ref_max_score``, which ``minari.get_normalized_score`` reads) and a
    section :data:`METADATA_KEY` with the episodes' provenance (env id, seed, steps asked for, params or preset,
    level, policy), the parameter names, the infos' layout, D4RL's references where the env has them
    (:func:`~robust_envs.datasets.d4rl.d4rl_reference_metadata`) and ``metadata``.

    :param dataset_id: the new dataset's id, ``(namespace/)name-vN`` (e.g. ``robust_rl/hopper/medium-v0``)
    :param episodes: :class:`~robust_envs.datasets.episodes.Episodes` (their env spec is the dataset's), or a sequence
        of :class:`~robust_envs.datasets.episodes.Episode` with ``env`` or both spaces
    :param env: the env id or ``EnvSpec`` the data comes from (default: the episodes'); ``gym.make`` re-creates it
    :param eval_env: the env to evaluate policies in (default: ``env``)
    :param observation_space: the observation space (default: the env's)
    :param action_space: the action space (default: the env's)
    :param ref_min_score: our random policy's mean return (both reference scores, or neither)
    :param ref_max_score: our expert policy's mean return
    :param algorithm_name: how the data was generated (e.g. ``"SB3/SAC"``, ``"uniform random"``)
    :param author: author name
    :param author_email: author contact
    :param code_permalink: the code that generated the data (``repo@commit``)
    :param description: free text
    :param requirements: pip requirements to re-create the env (default :func:`default_requirements`)
    :param metadata: extra JSON-able facts for the :data:`METADATA_KEY` section
    :param data_format: ``"hdf5"`` (default) or ``"arrow"`` (needs pyarrow)
    :return: the ``minari.MinariDataset``
    :raises ValueError: a malformed or taken id, no episodes, an env that is unknown or whose spec is not JSON, data
        that does not fit the spaces, one reference score without the other, an unknown format; nothing is written
    :raises ImportError: minari is not installed
    """
    minari = require_minari()
    check_dataset_id(dataset_id)
    if data_format not in DATA_FORMATS:
        raise ValueError(f"Unknown data_format {data_format!r}; Minari writes {list(DATA_FORMATS)}")
    scores = _check_scores(ref_min_score, ref_max_score)
    provenance: dict[str, Any] = {}
    if isinstance(episodes, Episodes):
        provenance = dict(episodes.provenance)
        env = episodes.env_spec if env is None else env
    items = list(episodes) if isinstance(episodes, Sequence) else None
    if items is None or not all(isinstance(e, Episode) for e in items):
        raise ValueError(f"episodes must be Episodes or a sequence of Episode, got {type(episodes).__name__}")
    if not items:
        raise ValueError(f"No episodes to write to {dataset_id!r}: collect at least one complete episode")
    spec = _spec_of(env) if env is not None else None
    eval_spec = _spec_of(eval_env) if eval_env is not None else spec
    if spec is not None:
        try:
            spec.to_json()
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"The env spec of {spec.id!r} is not JSON-serialisable, so a dataset could not re-create it: {error}"
            ) from None
        if observation_space is None or action_space is None:
            probe = gym.make(spec)
            observation_space = observation_space or probe.observation_space
            action_space = action_space or probe.action_space
            probe.close()
    if observation_space is None or action_space is None:
        raise ValueError("Without env, pass both observation_space and action_space")
    _check_fits(items, observation_space, action_space)
    section = _section(provenance, items, spec, metadata)

    created = _new_directories(dataset_path(dataset_id))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_OPTIONAL_FIELD_WARNINGS, category=UserWarning)
            warnings.filterwarnings("ignore", message="env_spec is None", category=UserWarning)
            dataset = minari.create_dataset_from_buffers(
                dataset_id,
                [episode.to_buffer(index) for index, episode in enumerate(items)],
                env=spec,
                eval_env=eval_spec,
                algorithm_name=algorithm_name,
                author=author,
                author_email=author_email,
                code_permalink=code_permalink,
                observation_space=observation_space,
                action_space=action_space,
                description=description,
                data_format=data_format,
                requirements=default_requirements() if requirements is None and spec is not None else requirements,
            )
        # written here, not passed to Minari: given only ref_max_score Minari would make an env to measure the minimum
        dataset.storage.update_metadata({**scores, METADATA_KEY: section})
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    return dataset


def _section(provenance: Mapping[str, Any], items: Sequence[Episode], spec: EnvSpec | None, extra: Any) -> dict[str, Any]:
    """:return: this project's metadata section (JSON-able)."""
    from robust_envs.version import __version__

    first = items[0]
    section: dict[str, Any] = {
        "metadata_version": METADATA_VERSION,
        "robust_rl_version": __version__,
        "provenance": dict(provenance),
        "infos": {
            PARAMS_KEY: _PARAMS_LAYOUT if first.params is not None else None,
            STATE_KEY: _STATE_LAYOUT if first.states is not None else None,
        },
        "param_names": _param_names(provenance),
        "state_size": int(first.states.shape[1]) if first.states is not None else None,
        "d4rl_reference": d4rl_reference_metadata(spec.id) if spec is not None else None,
    }
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise ValueError(f"metadata must be a mapping of JSON-able values, got {extra!r}")
        section.update(extra)
    return _jsonable(section, METADATA_KEY)


def _jsonable(value: Any, where: str) -> Any:
    """
    :return: ``value`` in plain JSON types (numpy scalars and arrays become numbers and lists), checked before writing
    :raises ValueError: a value JSON cannot hold, named by its place in the metadata
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(
        f"Metadata {where} = {value!r} ({type(value).__name__}) is not JSON-able: use numbers, strings, lists, dicts"
    )


def _param_names(provenance: Mapping[str, Any]) -> list[str] | None:
    if "param_names" in provenance:
        return list(provenance["param_names"])
    parts = provenance.get("concatenated") or []
    names = [p.get("param_names") for p in parts if isinstance(p, Mapping)]
    return list(names[0]) if names and names[0] is not None else None


def _new_directories(path: Path) -> Path | None:
    """:return: the highest of ``path`` and its parents that does not exist yet (what a failed write must remove)."""
    highest = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        highest = candidate
    return highest


def load(dataset_id: str) -> Any:
    """
    Load a local dataset with ``minari.load_dataset`` (never downloads).

    :param dataset_id: the dataset's id
    :return: the ``minari.MinariDataset``; ``dataset.recover_environment()`` re-creates its env (``robust_envs`` is
        imported, so its ids are registered)
    :raises ValueError: a malformed id, or no such dataset under the data path (with the local ids)
    :raises ImportError: minari is not installed
    """
    minari = require_minari()
    check_dataset_id(dataset_id, exists=True)
    return minari.load_dataset(dataset_id, download=False)


def list_datasets() -> dict[str, dict[str, Any]]:
    """:return: the local datasets' metadata by id (``minari.list_local_datasets``), an empty dict without any."""
    minari = require_minari()
    if not datasets_root().is_dir():  # Minari would create the data path just to list it
        return {}
    return minari.list_local_datasets()
