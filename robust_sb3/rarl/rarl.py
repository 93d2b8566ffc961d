"""RARL, Robust Adversarial Reinforcement Learning (Pinto, Davidson, Sukthankar and Gupta, ICML 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from robust_envs.disturbance import DISTURBANCE_KEY, find_disturbance_channel
from robust_envs.evaluation.policies import Policy
from robust_envs.wrappers import DisturbedByPolicy, DisturberEnv, ForceDisturbance
from robust_sb3.common.env_source import EnvSource
from robust_sb3.common.two_player import TwoPlayerPPO

#: The bodies the adversary pushes in Pinto et al.'s MuJoCo tasks, as the paper's experiments describe them, by our env
#: id: a 2-D force on the pole (InvertedPendulum), on the foot (Hopper), on both feet (Walker2d), on the torso and both
#: feet (HalfCheetah). (The authors' released envs push the torso of the three walkers; the paper's text is followed.)
#: ``disturbance_kwargs`` may leave out ``bodies`` for these ids.
PINTO2017_BODIES: Mapping[str, tuple[str, ...]] = {
    "RobustInvertedPendulum-v0": ("pole",),
    "RobustHopper-v0": ("foot",),
    "RobustWalker2d-v0": ("foot", "foot_left"),
    "RobustHalfCheetah-v0": ("torso", "bfoot", "ffoot"),
}

#: The keys of ``disturbance_kwargs`` (the arguments of :class:`~robust_envs.wrappers.ForceDisturbance`).
DISTURBANCE_KWARGS = ("bodies", "max_force")


def _check_disturbance_kwargs(disturbance_kwargs: Any) -> dict[str, Any] | None:
    """:return: a copy of ``disturbance_kwargs`` after checking its keys (the values are ForceDisturbance's to check)."""
    if disturbance_kwargs is None:
        return None
    if not isinstance(disturbance_kwargs, Mapping):
        raise TypeError(
            f"RARL: disturbance_kwargs must be a dict with keys {DISTURBANCE_KWARGS} or None, got {disturbance_kwargs!r}"
        )
    unknown = sorted(str(key) for key in disturbance_kwargs if key not in DISTURBANCE_KWARGS)
    if unknown:
        raise ValueError(f"RARL: disturbance_kwargs has unknown keys {unknown}; allowed: {DISTURBANCE_KWARGS}")
    if "max_force" not in disturbance_kwargs:
        raise ValueError(
            f"RARL: disturbance_kwargs={dict(disturbance_kwargs)!r} needs 'max_force', the bound of each force component "
            "in newtons (Pinto et al. give none in the paper; their released code bounds each component by 5 N times "
            "an adv_fraction of 0.25 by default)"
        )
    kwargs = dict(disturbance_kwargs)
    if isinstance(kwargs.get("bodies"), list | tuple):
        kwargs["bodies"] = list(kwargs["bodies"])
    return kwargs


def _env_id(env: gym.Env) -> str | None:
    spec = getattr(env, "spec", None)
    return None if spec is None else spec.id


class RARL(TwoPlayerPPO):
    """
    Robust Adversarial Reinforcement Learning (Pinto et al., "Robust Adversarial Reinforcement Learning", ICML 2017).

    A zero-sum game between a protagonist, which acts on the env, and an adversary, which applies disturbance forces
    (the env's disturbance channel, :class:`~robust_envs.disturbance.DisturbanceChannel`). Both are PPO (Pinto et al.
    used TRPO; WR2L compares against PPO-style agents, appendix B) and are trained in alternation by
    Algorithm 1 of the paper (:class:`~robust_sb3.common.two_player.TwoPlayerPPO`): ``N_mu`` protagonist updates
    against the fixed adversary, through :class:`~robust_envs.wrappers.DisturbedByPolicy`, then ``N_nu`` adversary
    updates against the fixed protagonist on the negated reward ``-r``, through
    :class:`~robust_envs.wrappers.DisturberEnv`. Both observe the state. ``predict`` is the protagonist's.

    **The adversary's input.** Either the env has a disturbance channel (``RobustPendulum-v0``'s torque, or an env
    the user wrapped in :class:`~robust_envs.wrappers.ForceDisturbance`), found through its wrappers by
    :func:`~robust_envs.disturbance.find_disturbance_channel`; or ``disturbance_kwargs={"bodies": [...],
    "max_force": ...}`` wraps every env made in ``ForceDisturbance``: a planar force (x, z) in newtons on each named
    body, each component bounded by ``max_force``. ``bodies`` may be left out for the envs of Pinto et al.'s
    experiments (:data:`PINTO2017_BODIES`); ``max_force`` is required, since the paper gives no bounds (their
    released code bounds each component by 5 N times an ``adv_fraction``, 0.25 by default).

    Logged besides :class:`~robust_sb3.common.two_player.TwoPlayerPPO`'s keys: ``rarl/disturbance_norm``, the mean
    Euclidean norm of the disturbance applied during the protagonist's steps since the last dump.

    :param policy: the protagonist's policy (``"MlpPolicy"``, ...)
    :param env: a registered env id, a Gymnasium env or a function returning one (``None`` only inside ``load``)
    :param disturbance_kwargs: ``{"bodies": [...], "max_force": float}`` to wrap the env in ``ForceDisturbance``;
        ``None`` when the env has a disturbance channel of its own
    :param adversary_policy: the adversary's policy
    :param n_envs: sub-envs per player's view
    :param env_kwargs: keyword arguments of ``gym.make`` when ``env`` is an id
    :param n_protagonist_updates: ``N_mu`` of Algorithm 1 (>= 1)
    :param n_adversary_updates: ``N_nu`` of Algorithm 1 (>= 1)
    :param protagonist_kwargs: PPO arguments of the protagonist (default: SB3's PPO defaults, 2x64 tanh networks)
    :param adversary_kwargs: PPO arguments that replace the protagonist's ones for the adversary
    :param deterministic_opponent: the fixed player takes its mean action instead of sampling its policy
    :param stats_window_size: episodes over which the logged returns are averaged
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param seed: seed of the protagonist and its view; the adversary and its view use ``seed + n_envs``
    :param verbose: 0 silent, 1 the logger's table every ``log_interval`` iterations
    :param device: torch device of both players
    :param _init_setup_model: build the players at construction (``load`` passes False)
    """

    _log_prefix: ClassVar[str] = "rarl"
    _identifying_attributes: ClassVar[tuple[str, ...]] = ("n_protagonist_updates", "n_adversary_updates", "disturbance_kwargs")

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: EnvSource | None,
        disturbance_kwargs: dict[str, Any] | None = None,
        adversary_policy: str | type[ActorCriticPolicy] = "MlpPolicy",
        n_envs: int = 1,
        env_kwargs: dict[str, Any] | None = None,
        n_protagonist_updates: int = 1,
        n_adversary_updates: int = 1,
        protagonist_kwargs: dict[str, Any] | None = None,
        adversary_kwargs: dict[str, Any] | None = None,
        deterministic_opponent: bool = False,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        verbose: int = 0,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        # set before the parent makes the envs, which _prepare_env wraps with it
        self.disturbance_kwargs = _check_disturbance_kwargs(disturbance_kwargs)
        self._disturbance_norms: list[float] = []
        super().__init__(
            policy,
            env,
            adversary_policy=adversary_policy,
            n_envs=n_envs,
            env_kwargs=env_kwargs,
            n_protagonist_updates=n_protagonist_updates,
            n_adversary_updates=n_adversary_updates,
            protagonist_kwargs=protagonist_kwargs,
            adversary_kwargs=adversary_kwargs,
            deterministic_opponent=deterministic_opponent,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            seed=seed,
            verbose=verbose,
            device=device,
            _init_setup_model=_init_setup_model,
        )

    def _prepare_env(self, env: gym.Env) -> gym.Env:
        """
        :return: ``env`` with the adversary's input: wrapped in ``ForceDisturbance`` by ``disturbance_kwargs``, or as
            it is when it has a disturbance channel of its own
        :raises ValueError: no channel and no ``disturbance_kwargs``, or both; bad bodies or ``max_force``
        """
        try:
            channel: Any = find_disturbance_channel(env)
        except ValueError as error:
            channel, missing = None, error
        env_id = _env_id(env)
        if self.disturbance_kwargs is None:
            if channel is None:
                bodies = PINTO2017_BODIES.get(env_id or "")
                hint = f" (Pinto et al.'s bodies for {env_id}: {list(bodies)})" if bodies else ""
                raise ValueError(
                    "RARL: the adversary acts through the env's disturbance channel, and this env has none; pass "
                    f"disturbance_kwargs={{'bodies': [...], 'max_force': ...}}{hint} to push bodies of a MuJoCo env, "
                    f"or use an env with a channel such as RobustPendulum-v0. ({missing})"
                ) from missing
            return env
        if channel is not None:
            raise ValueError(
                f"RARL: the env already has a disturbance channel ({type(channel).__name__}), and disturbance_kwargs="
                f"{self.disturbance_kwargs!r} would add a second; pass disturbance_kwargs=None to use the env's own"
            )
        kwargs = dict(self.disturbance_kwargs)
        if "bodies" not in kwargs:
            if env_id not in PINTO2017_BODIES:
                raise ValueError(
                    f"RARL: disturbance_kwargs has no 'bodies' and env {env_id!r} has no default; name the bodies to push "
                    f"(defaults exist for {sorted(PINTO2017_BODIES)})"
                )
            kwargs["bodies"] = list(PINTO2017_BODIES[env_id])
        return ForceDisturbance(env, **kwargs)

    def _adversary_action_space(self, env: gym.Env) -> spaces.Space:
        return find_disturbance_channel(env).disturbance_space

    def _protagonist_view(self, env: gym.Env, adversary: Policy) -> gym.Env:
        return DisturbedByPolicy(env, adversary)

    def _adversary_view(self, env: gym.Env, protagonist: Policy) -> gym.Env:
        return DisturberEnv(env, protagonist)

    def _on_protagonist_step(self, infos: list[dict[str, Any]]) -> None:
        # every channel reports the disturbance it applied in info (robust_envs.disturbance's rules)
        self._disturbance_norms.extend(
            float(np.linalg.norm(info[DISTURBANCE_KEY])) for info in infos if DISTURBANCE_KEY in info
        )

    def _record_statistics(self) -> None:
        if self._disturbance_norms:
            self.logger.record("rarl/disturbance_norm", float(np.mean(self._disturbance_norms)))
        self._disturbance_norms = []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_disturbance_norms"]
