"""
The envs of a two-player trainer, made from what the user passes as ``env``: a registered id, a Gymnasium env, or
a function making one. Each player's view needs envs of its own, so one source must give several envs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env import VecEnv

#: What a two-player trainer takes as ``env``: a registered id, a Gymnasium env, or a function making one.
EnvSource = str | gym.Env | Callable[[], gym.Env]


def check_env_kwargs(owner: str, source: Any, env_kwargs: Any) -> dict[str, Any]:
    """
    :param owner: the trainer's name, for the messages
    :param source: the ``env`` passed with them (``None`` inside ``load``)
    :param env_kwargs: keyword arguments of ``gym.make``, or ``None``
    :return: a copy of ``env_kwargs`` (``{}`` for ``None``)
    :raises TypeError: not a dict
    :raises ValueError: non-empty with a ``source`` that is not an id (``gym.make`` would never see them)
    """
    if env_kwargs is None:
        return {}
    if not isinstance(env_kwargs, dict):
        raise TypeError(f"{owner}: env_kwargs must be a dict of gym.make arguments or None, got {env_kwargs!r}")
    if env_kwargs and source is not None and not isinstance(source, str):
        raise ValueError(
            f"{owner}: env_kwargs={env_kwargs!r} only apply when env is a registered id (passed to gym.make), but env "
            f"is {source!r}; make the env with those arguments yourself, or pass its id"
        )
    return dict(env_kwargs)


def env_maker(owner: str, source: Any, env_kwargs: dict[str, Any]) -> Callable[[int], gym.Env]:
    """
    :param owner: the trainer's name, for the messages
    :param source: a registered id, a Gymnasium env or a function returning one
    :param env_kwargs: keyword arguments of ``gym.make`` (used with an id only)
    :return: ``i -> the i-th env``: ``gym.make(id, **env_kwargs)``; the env itself for ``i = 0`` and deep copies of
        it (its state and generators included) after; the function's result
    :raises TypeError: a VecEnv (the trainer builds its vectorised envs itself) or anything else
    """
    if isinstance(source, VecEnv):
        raise TypeError(
            f"{owner} builds the two players' vectorised envs itself (each sub-env carries the other player's policy); "
            f"pass a registered id, a Gymnasium env or a function making one, not the VecEnv {source!r}"
        )
    if isinstance(source, str):

        def make_registered(_: int) -> gym.Env:
            try:
                return gym.make(source, **env_kwargs)
            except gym.error.Error as error:  # not registered, a bad version, ...: Gymnasium's message, as a ValueError
                raise ValueError(f"{owner}: cannot make env {source!r}: {error}") from error

        return make_registered
    if isinstance(source, gym.Env):
        return lambda i: source if i == 0 else copy.deepcopy(source)
    if callable(source):
        return lambda _: source()
    raise TypeError(
        f"{owner}: env must be a registered env id, a Gymnasium env or a function returning one, got {source!r} "
        f"({type(source).__name__})"
    )


def make_envs(
    owner: str, source: Any, env_kwargs: dict[str, Any], count: int, prepare: Callable[[gym.Env], gym.Env]
) -> list[gym.Env]:
    """
    :param owner: the trainer's name, for the messages
    :param source: a registered id, a Gymnasium env or a function returning one
    :param env_kwargs: keyword arguments of ``gym.make`` (used with an id only)
    :param count: how many envs
    :param prepare: applied to each env made (e.g. wrapping it); raises if the env cannot serve
    :return: the ``count`` prepared envs, all with the spaces of the first
    :raises ValueError: or ``TypeError``, from making or preparing an env, or envs with different spaces; the envs
        made so far are closed (the user's own env is left open)
    """
    make = env_maker(owner, source, env_kwargs)
    made: list[gym.Env] = []
    try:
        for i in range(count):
            new = make(i)
            if not isinstance(new, gym.Env):
                raise TypeError(f"{owner}: the env function returned {new!r} ({type(new).__name__}), not a Gymnasium env")
            made.append(new)
            made[-1] = prepare(new)
            first, this = made[0], made[-1]
            if this.observation_space != first.observation_space or this.action_space != first.action_space:
                raise ValueError(
                    f"{owner}: the envs made from {source!r} differ: env {i} has the spaces {this.observation_space}, "
                    f"{this.action_space}, the first {first.observation_space}, {first.action_space}"
                )
    except BaseException:
        close_made(made, source)
        raise
    return made


def close_made(envs: list[gym.Env], source: Any) -> None:
    """Close the envs made from ``source``, except the user's own env (when ``source`` is one), which stays open."""
    own = getattr(source, "unwrapped", None)
    for env in envs:
        if env.unwrapped is not own:
            env.close()
