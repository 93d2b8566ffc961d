"""
Termination as a function of the observation, for rollouts in a learned model.

A model rollout (MBPO, Janner et al., 2019; RAMBO, Rigter et al., 2022) has only predicted observations, so it
needs the task's termination rule written on observations, as MBPO's ``static_fns``. The rules here use the
healthy ranges the env itself is built with: the defaults of Gymnasium's v5 constructors (read from their
signatures) overridden by the env's keyword arguments (those given here, or the ``spec.kwargs`` of a made env),
and the comparison :func:`robust_envs.locomotion.in_open_range` that the envs' ``_transition`` uses.

What differs from the env, where the observation does not hold the whole state:

- Hopper checks ``|qvel| < 100`` on the state, but its observation clips velocities to ``[-10, 10]``, so on
  observations that part of the check always passes: the rule agrees with ``step`` unless a joint speed
  exceeds 100 (a simulation that has already blown up).
- CartPole decides on the float64 state and observes it in float32: the two can disagree only within one
  float32 rounding step (about 2e-7) of a threshold.

Tasks whose termination is not a function of the observation (the inverted double pendulum's tip height,
which depends on the perturbed pole lengths; the hand) are refused with an error rather than approximated.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from robust_envs.locomotion import in_open_range


@dataclass(frozen=True)
class HealthyRange:
    """
    One condition of health: every value in ``observation[..., start:stop]`` lies within ``(low, high)``.

    :param start: first column
    :param stop: one past the last column (``None``: to the end)
    :param low: lower bound
    :param high: upper bound
    :param inclusive: ``low <= x <= high`` instead of the open range (CartPole, InvertedPendulum)
    """

    start: int
    stop: int | None
    low: float
    high: float
    inclusive: bool = False

    def holds(self, observations: np.ndarray) -> np.ndarray:
        """:return: whether the condition holds in each row, shape ``observations.shape[:-1]``."""
        values = observations[..., self.start : self.stop]
        inside = (
            (self.low <= values) & (values <= self.high) if self.inclusive else in_open_range(values, (self.low, self.high))
        )
        return np.all(inside, axis=-1)


@dataclass(frozen=True)
class ObservationTermination:
    """
    ``terminated = terminate_when_unhealthy and not healthy``, healthy when every range holds (and, with
    ``require_finite``, every value is finite). With no ranges the task never terminates.

    :param env_id: the env the rule belongs to (for ``repr`` and messages)
    :param ranges: the conditions of health
    :param terminate_when_unhealthy: the env's flag of the same name (``False``: never terminates)
    :param require_finite: a non-finite value anywhere in the observation terminates (InvertedPendulum)
    """

    env_id: str
    ranges: tuple[HealthyRange, ...] = ()
    terminate_when_unhealthy: bool = True
    require_finite: bool = False

    def __call__(self, next_observations: np.ndarray) -> np.ndarray:
        """
        :param next_observations: observations after the step, ``(..., obs_dim)``
        :return: terminated flags, ``bool`` of shape ``next_observations.shape[:-1]``
        """
        obs = np.asarray(next_observations)
        healthy = np.ones(obs.shape[:-1], dtype=bool)
        for condition in self.ranges:
            healthy &= condition.holds(obs)
        if self.require_finite:
            healthy &= np.all(np.isfinite(obs), axis=-1)
        return ~healthy & self.terminate_when_unhealthy

    @property
    def never_terminates(self) -> bool:
        """Whether the rule is constant ``False``."""
        return not self.terminate_when_unhealthy or (not self.ranges and not self.require_finite)


def _constructor_defaults(cls: type) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _planar_settings(env_id: str, upstream: type, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The upstream constructor's defaults overridden by ``kwargs``, after checking the names."""
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

    settings = _constructor_defaults(upstream)
    allowed = set(settings) | set(inspect.signature(MujocoEnv.__init__).parameters) | {"params", "keep_mass"}
    unknown = sorted(set(kwargs) - allowed - {"self"})
    if unknown:
        raise ValueError(
            f"termination_fn: {env_id} takes no keyword argument(s) {unknown}; its arguments are {sorted(allowed)}"
        )
    settings.update(kwargs)
    return settings


def _hopper(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

    s = _planar_settings(env_id, HopperEnv, kwargs)
    # the observation is [qpos[1:], qvel] (x excluded) or [qpos, qvel]: z, angle, and the state vector's [2:]
    z = 0 if s["exclude_current_positions_from_observation"] else 1
    return ObservationTermination(
        env_id,
        (
            HealthyRange(z, z + 1, *s["healthy_z_range"]),
            HealthyRange(z + 1, z + 2, *s["healthy_angle_range"]),
            HealthyRange(z + 1, None, *s["healthy_state_range"]),
        ),
        bool(s["terminate_when_unhealthy"]),
    )


def _walker2d(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

    s = _planar_settings(env_id, Walker2dEnv, kwargs)
    z = 0 if s["exclude_current_positions_from_observation"] else 1
    return ObservationTermination(
        env_id,
        (HealthyRange(z, z + 1, *s["healthy_z_range"]), HealthyRange(z + 1, z + 2, *s["healthy_angle_range"])),
        bool(s["terminate_when_unhealthy"]),
    )


def _half_cheetah(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

    _planar_settings(env_id, HalfCheetahEnv, kwargs)  # checks the names only: HalfCheetah never terminates
    return ObservationTermination(env_id)


def _inverted_pendulum(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    # InvertedPendulum-v5: terminated = not all finite or |pole angle| > 0.2, the angle being obs[1]
    return ObservationTermination(env_id, (HealthyRange(1, 2, -0.2, 0.2, inclusive=True),), require_finite=True)


def _cartpole(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    from robust_envs.cartpole import THETA_THRESHOLD, X_THRESHOLD

    # the observation is the state [x, x_dot, theta, theta_dot]; terminated when x or theta leaves its closed interval
    return ObservationTermination(
        env_id,
        (
            HealthyRange(0, 1, -X_THRESHOLD, X_THRESHOLD, inclusive=True),
            HealthyRange(2, 3, -THETA_THRESHOLD, THETA_THRESHOLD, inclusive=True),
        ),
    )


def _never(env_id: str, kwargs: Mapping[str, Any]) -> ObservationTermination:
    return ObservationTermination(env_id)


_Builder = Callable[[str, Mapping[str, Any]], ObservationTermination]

#: the rule of each supported id (Gymnasium's v5 ids share the rules of the robust envs that reproduce them)
RULES: dict[str, _Builder] = {
    "RobustHopper-v0": _hopper,
    "Hopper-v5": _hopper,
    "RobustWalker2d-v0": _walker2d,
    "Walker2d-v5": _walker2d,
    "RobustHalfCheetah-v0": _half_cheetah,
    "HalfCheetah-v5": _half_cheetah,
    "RobustInvertedPendulum-v0": _inverted_pendulum,
    "InvertedPendulum-v5": _inverted_pendulum,
    "RobustCartPole-v0": _cartpole,
    # the torque-limited pendulum and the DeepMind Control Suite tasks never terminate (their docstrings)
    **dict.fromkeys(
        (
            "RobustPendulum-v0",
            "RobustCartpoleBalance-v0",
            "RobustCartpoleSwingup-v0",
            "RobustPendulumSwingup-v0",
            "RobustAcrobotSwingup-v0",
            "RobustHopperHop-v0",
            "RobustHopperStand-v0",
            "RobustWalkerWalk-v0",
            "RobustWalkerRun-v0",
            "RobustCheetahRun-v0",
        ),
        _never,
    ),
}


def termination_fn(env: str | gym.Env, **env_kwargs: Any) -> ObservationTermination:
    """
    The observation-based termination rule of an env, with its healthy ranges.

    Example: ``termination_fn("RobustHopper-v0", healthy_z_range=(0.8, float("inf")))(next_obs)``.

    :param env: a registered id, or an env made with ``gym.make`` (its id and ``spec.kwargs`` are used)
    :param env_kwargs: the env's keyword arguments, as given to ``gym.make`` (with an env: added to its spec's)
    :return: a callable from next observations ``(..., obs_dim)`` to terminated flags ``(...)``
    :raises ValueError: an id without an observation-based rule (the message lists those with one) or a
        keyword argument the env does not take
    """
    if isinstance(env, gym.Env):
        spec = env.spec if env.spec is not None else env.unwrapped.spec
        if spec is None:
            raise ValueError(f"termination_fn: {env!r} has no spec (not made with gym.make); pass its registered id instead")
        env_id, env_kwargs = spec.id, {**spec.kwargs, **env_kwargs}
    else:
        env_id = env
    if not isinstance(env_id, str) or env_id not in RULES:
        import difflib

        close = difflib.get_close_matches(str(env_id), list(RULES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"termination_fn: no observation-based termination rule for {env_id!r}.{hint} Supported ids: {sorted(RULES)}. "
            "Tasks whose termination needs more than the observation (RobustInvertedDoublePendulum-v0's tip height, "
            "the hand) have none."
        )
    return RULES[env_id](env_id, env_kwargs)
