"""
The trainers the rl-zoo3 route runs, by the lower-case names of rl-zoo3's ``--algo``, and what rl-zoo3's ``ALGOS``
table holds for each: the class itself, or a :class:`ZooEntry` that fixes some of its settings or builds its envs.

rl-zoo3 constructs every algorithm as ``ALGOS[algo](env=vec_env, tensorboard_log=..., seed=..., verbose=...,
device=..., **hyperparameters)`` and loads it as ``ALGOS[algo].load(path, ...)``; an entry keeps both working and
returns (and loads) an instance of the trainer's own class, so a model trained through rl-zoo3 is an ordinary
``MPO``, ``RARL``, ... file.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

#: the entry point SB3's ``Monitor`` records in an env's spec (rl-zoo3 wraps every sub-env in it)
MONITOR_ENTRY_POINT = "stable_baselines3.common.monitor:Monitor"


def import_object(target: str) -> Any:
    """
    :param target: ``"package.module:Name"``
    :return: the object
    """
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def as_uncertainty_set(value: Any) -> Any:
    """:return: ``value`` with a preset name resolved to its :class:`~robust_envs.uncertainty.UncertaintySet`."""
    from robust_sb3.common.sampled_envs import resolve_uncertainty_set

    return resolve_uncertainty_set(value)


def as_wr2l_config(value: Any) -> Any:
    """:return: ``value`` with a dict of fields made a :class:`~robust_sb3.wr2l.config.WR2LConfig` (as WR2LTRPO does)."""
    from robust_sb3.wr2l.config import WR2LConfig

    return WR2LConfig(**value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class ZooAlgorithm:
    """
    One row of :data:`ALGORITHMS`: a name of rl-zoo3's ``--algo`` and the trainer behind it.

    :param name: the lower-case name (``--algo``), also the shipped hyperparameter file ``zoo_hyperparams/<name>.yml``
    :param target: the trainer class, as ``"module:Class"`` (imported on first use)
    :param summary: one line for ``python -m robust_sb3.zoo list``
    :param settings: constructor arguments the name fixes (``robust_mpo``: ``robustness="robust"``); hyperparameters
        that set them otherwise are refused
    :param builds_own_envs: the trainer makes its envs from an env id or a function (RARL, PRMDP): rl-zoo3's
        training VecEnv is read for its spec and closed (:func:`env_factory_from_vec_env`)
    :param vec_env_class: the VecEnv class rl-zoo3 must build (``"module:Class"``), or ``None`` for its own
    :param sampler: the Optuna sampler's name in :func:`robust_sb3.zoo.samplers.samplers`
    :param load_conversions: constructor arguments the class converts (a preset name to its set, a dict to a config)
        and the function that does it: rl-zoo3's ``--trained-agent`` passes the file's hyperparameters to ``load``,
        which SB3 sets on the model as given
    """

    name: str
    target: str
    summary: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    builds_own_envs: bool = False
    vec_env_class: str | None = None
    sampler: str = "ppo"
    load_conversions: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    @property
    def algorithm_class(self) -> type:
        """The trainer class (imported now)."""
        return import_object(self.target)

    def entry(self) -> Any:
        """:return: what rl-zoo3's ``ALGOS[name]`` holds: the class itself, or a :class:`ZooEntry` around it."""
        if not self.settings and not self.builds_own_envs and not self.load_conversions:
            return self.algorithm_class
        return ZooEntry(self)


ALGORITHMS: dict[str, ZooAlgorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        ZooAlgorithm(
            "mpo",
            "robust_sb3.mpo:MPO",
            "MPO without a robust critic (E-MPO with entropy_regularized: true)",
            {"robustness": "none"},
            sampler="mpo",
        ),
        ZooAlgorithm(
            "robust_mpo",
            "robust_sb3.mpo:MPO",
            "MPO with the robust critic of Eq. 1 (R-MPO, RE-MPO); needs PerturbedTransitions in env_wrapper",
            {"robustness": "robust"},
            sampler="mpo",
        ),
        ZooAlgorithm(
            "soft_mpo",
            "robust_sb3.mpo:MPO",
            "MPO with the soft-robust critic (SR-MPO, SRE-MPO); needs PerturbedTransitions in env_wrapper",
            {"robustness": "soft"},
            sampler="mpo",
        ),
        ZooAlgorithm(
            "robust_sac",
            "robust_sb3.sac:RobustSAC",
            "SAC with the robust critic (RE-SVG); needs PerturbedTransitions in env_wrapper",
            {"robustness": "robust"},
            sampler="sac",
        ),
        ZooAlgorithm(
            "soft_robust_sac",
            "robust_sb3.sac:RobustSAC",
            "SAC with the soft-robust critic (SRE-SVG); needs PerturbedTransitions in env_wrapper",
            {"robustness": "soft"},
            sampler="sac",
        ),
        ZooAlgorithm(
            "mrpo",
            "robust_sb3.mrpo:MRPO",
            "MRPO (Jiang et al. 2021) over n_envs environments sampled from uncertainty_set",
            sampler="sampled_envs",
            load_conversions={"uncertainty_set": as_uncertainty_set},
        ),
        ZooAlgorithm(
            "epopt",
            "robust_sb3.mrpo:EPOpt",
            "EPOpt / PW-DR over n_envs environments sampled from uncertainty_set",
            sampler="sampled_envs",
            load_conversions={"uncertainty_set": as_uncertainty_set},
        ),
        ZooAlgorithm("wr2l", "robust_sb3.wr2l:WR2L", "WR2L (Abdullah et al.) on PPO over parameterisation", sampler="ppo"),
        ZooAlgorithm(
            "wr2l_trpo",
            "robust_sb3.wr2l:WR2LTRPO",
            "WR2L on sb3-contrib's TRPO (model-phase settings in config)",
            sampler="trpo",
            load_conversions={"config": as_wr2l_config},
        ),
        ZooAlgorithm(
            "rarl",
            "robust_sb3.rarl:RARL",
            "RARL (Pinto et al. 2017): two PPO players; builds its players' envs from the training env's spec",
            builds_own_envs=True,
            sampler="two_player",
        ),
        ZooAlgorithm(
            "prmdp",
            "robust_sb3.prmdp:PRMDP",
            "PR-MDP (Tessler et al. 2019): two PPO players; builds its players' envs from the training env's spec",
            builds_own_envs=True,
            sampler="two_player",
        ),
        ZooAlgorithm(
            "rrl",
            "robust_sb3.rrl:RRL",
            "RRL (Morimoto and Doya): H-infinity actor-disturber-critic, one env, rewards kept in float64",
            vec_env_class="robust_sb3.rrl.rrl:Float64RewardDummyVecEnv",
            sampler="rrl",
        ),
    )
}


def env_factory_from_vec_env(env: Any, owner: str) -> tuple[Callable[[], gym.Env], int]:
    """
    Turn the training VecEnv rl-zoo3 made into what a two-player trainer takes: a function making one env.

    The envs are made again from the sub-envs' spec: the env id, rl-zoo3's ``env_kwargs`` and the ``env_wrapper``
    wrappers, which record their constructor arguments (Gymnasium's ``RecordConstructorArgs``, as every wrapper of
    :mod:`robust_envs.wrappers` does). SB3's ``Monitor`` is left out (the trainer adds its own to each view). The
    VecEnv is closed: the trainer trains on the views it builds.

    :param env: rl-zoo3's training VecEnv
    :param owner: the trainer's name, for the messages
    :return: the env factory and the VecEnv's number of sub-envs (the trainer's ``n_envs``)
    :raises ValueError: a VecEnv wrapper (rl-zoo3's ``normalize``, ``frame_stack``, ``vec_env_wrapper``), which the
        trainer's own envs would not have; sub-envs without a spec; a wrapper that records no constructor arguments
    :raises TypeError: not a VecEnv
    """
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

    if isinstance(env, VecEnvWrapper):
        raise ValueError(
            f"{owner} builds the two players' vectorised envs itself, so rl-zoo3's VecEnv wrapper {type(env).__name__} "
            "(from the hyperparameters normalize, frame_stack or vec_env_wrapper) would not apply to its training: remove "
            f"those hyperparameters for {owner}"
        )
    if not isinstance(env, VecEnv):
        raise TypeError(f"{owner}: expected rl-zoo3's training VecEnv, got {env!r} ({type(env).__name__})")
    spec = env.get_attr("spec", indices=[0])[0]
    if spec is None:
        raise ValueError(f"{owner} makes its envs again from the training env's spec, but the env has none; make it by id")
    kept = []
    for wrapper in spec.additional_wrappers:
        if wrapper.entry_point == MONITOR_ENTRY_POINT:
            continue
        if wrapper.kwargs is None:
            raise ValueError(
                f"{owner} makes its envs again from the training env's spec, but the env_wrapper {wrapper.entry_point} "
                "records no constructor arguments (it is not a gymnasium.utils.RecordConstructorArgs), so it cannot be "
                "made again: use wrappers that record them (those of robust_envs.wrappers do) or leave it out"
            )
        kept.append(wrapper)
    spec = dataclasses.replace(spec, additional_wrappers=tuple(kept))
    n_envs = int(env.num_envs)
    env.close()
    return functools.partial(gym.make, spec), n_envs


class ZooEntry:
    """
    What rl-zoo3's ``ALGOS`` holds for a trainer that needs more than its class: construction and ``load`` as the
    class's, with the settings the name fixes (:attr:`ZooAlgorithm.settings`), for a trainer that builds its own
    envs rl-zoo3's VecEnv turned into an env factory (:func:`env_factory_from_vec_env`), and the arguments of
    :attr:`ZooAlgorithm.load_conversions` converted before ``load`` sets them.

    :param algorithm: the row of :data:`ALGORITHMS`
    """

    def __init__(self, algorithm: ZooAlgorithm) -> None:
        self.algorithm = algorithm
        self.algorithm_class = algorithm.algorithm_class
        #: the class's name (rl-zoo3's ``push_to_hub`` reads ``ALGOS[algo].__name__``)
        self.__name__ = self.algorithm_class.__name__

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.algorithm.settings.items())
        return f"ZooEntry({self.algorithm.name!r}: {self.__name__}({settings}))"

    def _check_settings(self, kwargs: dict[str, Any]) -> None:
        for key, value in self.algorithm.settings.items():
            given = kwargs.get(key, value)
            if given != value:
                others = [
                    other.name
                    for other in ALGORITHMS.values()
                    if other.target == self.algorithm.target and other.settings.get(key) == given
                ]
                hint = f"use --algo {others[0]}" if others else f"allowed with --algo {self.algorithm.name}: {value!r}"
                raise ValueError(
                    f"--algo {self.algorithm.name} trains {self.__name__} with {key}={value!r}, but the hyperparameters "
                    f"set {key}={given!r}; {hint}"
                )

    def __call__(self, **kwargs: Any) -> Any:
        """
        Build the trainer as rl-zoo3 does, ``ALGOS[algo](env=..., **hyperparameters)``.

        :param kwargs: the constructor's arguments (``env`` is rl-zoo3's training VecEnv)
        :return: an instance of the trainer's class
        :raises ValueError: hyperparameters that contradict the settings the name fixes
        """
        self._check_settings(kwargs)
        kwargs = {**kwargs, **self.algorithm.settings}
        if self.algorithm.builds_own_envs:
            # rl-zoo3 consumes the n_envs hyperparameter to size its VecEnv: the trainer gets that size
            kwargs["env"], kwargs["n_envs"] = env_factory_from_vec_env(kwargs["env"], self.__name__)
        return self.algorithm_class(**kwargs)

    def load(self, path: Any, env: Any = None, **kwargs: Any) -> Any:
        """
        The class's ``load`` (rl-zoo3's ``enjoy`` and ``--trained-agent``), with rl-zoo3's VecEnv turned into an env
        factory for a trainer that builds its own envs.

        :param path: the saved model
        :param env: rl-zoo3's VecEnv, or ``None``
        :param kwargs: the class's ``load`` arguments
        :return: the model, an instance of the trainer's class
        """
        if env is not None and self.algorithm.builds_own_envs:
            env, _ = env_factory_from_vec_env(env, self.__name__)
        for key, convert in self.algorithm.load_conversions.items():
            if key in kwargs:
                kwargs[key] = convert(kwargs[key])
        return self.algorithm_class.load(path, env=env, **kwargs)
