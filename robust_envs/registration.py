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
    EnvEntry("RobustCartPole-v0", "robust_envs.cartpole:RobustCartPoleEnv", 500),  # as CartPole-v1
    EnvEntry("RobustShadowHandCube-v0", "robust_envs.shadow_hand:RobustShadowHandCubeEnv", 200),  # 8 s, the paper's episodes
    # -- DeepMind Control Suite family --
    # 1000 control steps = the suite's time limits (cartpole, acrobot, cheetah 10 s; pendulum, hopper 20 s; walker 25 s)
    EnvEntry("RobustCartpoleBalance-v0", "robust_envs.suite.cartpole:RobustCartpoleBalanceEnv", 1000),
    EnvEntry("RobustCartpoleSwingup-v0", "robust_envs.suite.cartpole:RobustCartpoleSwingupEnv", 1000),
    EnvEntry("RobustPendulumSwingup-v0", "robust_envs.suite.pendulum:RobustPendulumSwingupEnv", 1000),
    EnvEntry("RobustAcrobotSwingup-v0", "robust_envs.suite.acrobot:RobustAcrobotSwingupEnv", 1000),
    EnvEntry("RobustHopperHop-v0", "robust_envs.suite.hopper:RobustHopperHopEnv", 1000),
    EnvEntry("RobustHopperStand-v0", "robust_envs.suite.hopper:RobustHopperStandEnv", 1000),
    EnvEntry("RobustWalkerWalk-v0", "robust_envs.suite.walker:RobustWalkerWalkEnv", 1000),
    EnvEntry("RobustWalkerRun-v0", "robust_envs.suite.walker:RobustWalkerRunEnv", 1000),
    EnvEntry("RobustCheetahRun-v0", "robust_envs.suite.cheetah:RobustCheetahRunEnv", 1000),
)

#: Registered ids outside the perturbable family: envs without a ``ParamSpace`` (so not in :data:`ENVS`, which the
#: CLI, ``evaluate_robustness`` and the env-suite tests iterate). A ``max_episode_steps`` of 0 adds no ``TimeLimit``
#: (the env truncates its episodes itself).
OTHER_ENVS: tuple[EnvEntry, ...] = (
    # the linear-quadratic game of Morimoto and Doya (Eq. 14), with a disturbance channel; 300 steps of 0.01 s
    EnvEntry("RobustLinearQuadraticGame-v0", "robust_envs.linear_quadratic:LinearQuadraticGameEnv", 0),
)


def register_robust_envs() -> None:
    """
    Register every id of :data:`ENVS` and :data:`OTHER_ENVS` with Gymnasium (idempotent; string entry points keep
    the import cheap).
    """
    for entry in (*ENVS, *OTHER_ENVS):
        if entry.env_id not in gym.registry:
            gym.register(id=entry.env_id, entry_point=entry.entry_point, max_episode_steps=entry.max_episode_steps or None)


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
