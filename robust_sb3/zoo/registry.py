"""Registering the trainers with rl-zoo3 (its ``ALGOS`` and Optuna tables) and finding their shipped hyperparameters."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from robust_sb3.zoo.algorithms import ALGORITHMS

#: the package folder of the shipped hyperparameter files, one ``<algo>.yml`` per name of :data:`ALGORITHMS`
HYPERPARAMS_FOLDER = "zoo_hyperparams"
#: what to install when rl-zoo3 is missing
INSTALL_HINT = "pip install 'robust-rl[zoo]' (rl_zoo3>=2.9,<3)"


def import_rl_zoo3() -> Any:
    """
    :return: the ``rl_zoo3`` module
    :raises ImportError: rl-zoo3 is not installed; the message says what to install
    """
    try:
        import rl_zoo3
    except ImportError as error:
        raise ImportError(
            f"robust_sb3.zoo runs the trainers through rl-zoo3, which is not installed: {INSTALL_HINT}"
        ) from error
    return rl_zoo3


def register_algorithms() -> None:
    """
    Register every trainer of :data:`~robust_sb3.zoo.algorithms.ALGORITHMS` in rl-zoo3's ``ALGOS`` table (so its
    ``train``, ``enjoy`` and ``--trained-agent`` find them) and its Optuna sampler and converter, and import
    :mod:`robust_envs` (its env ids). Idempotent.

    :raises ImportError: rl-zoo3 is not installed
    """
    import robust_envs  # noqa: F401  (registers the env ids)

    import_rl_zoo3()
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER
    from rl_zoo3.utils import ALGOS

    from robust_sb3.zoo.samplers import samplers

    spaces = samplers()
    for algorithm in ALGORITHMS.values():
        ALGOS[algorithm.name] = algorithm.entry()
        HYPERPARAMS_SAMPLER[algorithm.name], HYPERPARAMS_CONVERTER[algorithm.name] = spaces[algorithm.sampler]


def hyperparams_path(algo: str) -> Path:
    """
    :param algo: a name of :data:`~robust_sb3.zoo.algorithms.ALGORITHMS`
    :return: the shipped hyperparameter file of ``algo`` (rl-zoo3's YAML format, keyed by env id)
    :raises ValueError: ``algo`` is not one of the trainers
    """
    if algo not in ALGORITHMS:
        raise ValueError(f"No shipped hyperparameters for --algo {algo!r}; the trainers are {sorted(ALGORITHMS)}")
    return Path(str(importlib.resources.files("robust_sb3") / HYPERPARAMS_FOLDER / f"{algo}.yml"))


def shipped_hyperparams(algo: str) -> dict[str, Any]:
    """
    :param algo: a name of :data:`~robust_sb3.zoo.algorithms.ALGORITHMS`
    :return: its shipped hyperparameters by env id, as rl-zoo3 reads them (``yaml.safe_load``)
    """
    import yaml

    with hyperparams_path(algo).open() as file:
        return yaml.safe_load(file)
