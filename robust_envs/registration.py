"""The table of robust environment ids and their registration with Gymnasium."""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym


class EnvEntry(NamedTuple):
    """One registered id: its string entry point and time limit."""

    env_id: str
    entry_point: str
    max_episode_steps: int


ENVS: tuple[EnvEntry, ...] = (
    EnvEntry("RobustHopper-v0", "robust_envs.hopper:RobustHopperEnv", 1000),
    EnvEntry("RobustWalker2d-v0", "robust_envs.walker2d:RobustWalker2dEnv", 1000),
    EnvEntry("RobustHalfCheetah-v0", "robust_envs.half_cheetah:RobustHalfCheetahEnv", 1000),
    EnvEntry("RobustInvertedPendulum-v0", "robust_envs.inverted_pendulum:RobustInvertedPendulumEnv", 1000),
    EnvEntry("RobustInvertedDoublePendulum-v0", "robust_envs.inverted_double_pendulum:RobustInvertedDoublePendulumEnv", 1000),
    EnvEntry("RobustPendulum-v0", "robust_envs.pendulum:RobustPendulumEnv", 1000),  # 20 s trials at dt = 0.02 s
    # -- classic CartPole and the Shadow-hand cube --
    # -- DeepMind Control Suite family --
)


def register_robust_envs() -> None:
    """Register every id of :data:`ENVS` with Gymnasium (idempotent; string entry points keep the import cheap)."""
    for entry in ENVS:
        if entry.env_id not in gym.registry:
            gym.register(id=entry.env_id, entry_point=entry.entry_point, max_episode_steps=entry.max_episode_steps)


def env_class(env_id: str) -> type:
    """
    :param env_id: a registered robust id
    :return: the environment class behind it (imports its module)
    """
    ids = [entry.env_id for entry in ENVS]
    if env_id not in ids:
        import difflib

        close = difflib.get_close_matches(env_id, ids, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown robust env id {env_id!r}.{hint} Registered ids: {ids}")
    module_name, class_name = gym.spec(env_id).entry_point.split(":")  # type: ignore[union-attr]
    import importlib

    return getattr(importlib.import_module(module_name), class_name)
