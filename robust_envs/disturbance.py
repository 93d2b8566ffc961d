"""
The disturbance channel: the second player's input to an env (an H-infinity disturber, RARL's adversary).

One contract, :class:`DisturbanceChannel`, implemented by ``RobustPendulum-v0`` (a torque at the joint),
:class:`~robust_envs.wrappers.ForceDisturbance` (forces on bodies of a MuJoCo env) and
``RobustLinearQuadraticGame-v0``; :func:`find_disturbance_channel` finds it through a wrapper chain, so trainers
(``robust_sb3.rrl.RRL``) and the two-player wrappers (:class:`~robust_envs.wrappers.DisturbedByPolicy`,
:class:`~robust_envs.wrappers.DisturberEnv`) accept the env however it is wrapped.

The rules every implementer follows:

- ``set_disturbance(w)`` holds ``w`` for every following step until it is changed; ``reset`` sets it to zero;
  ``info["disturbance"]`` (:data:`DISTURBANCE_KEY`) reports the ``w`` applied during a step.
- **Validation** (:func:`check_disturbance`, one rule for every implementer): ``w`` must be numbers of the shape of
  ``disturbance_space`` (a scalar is accepted for a one-dimensional space), all finite; otherwise a ``ValueError``
  names the value and nothing changes. Finite values outside the box are **clipped** to it (an adversary's policy
  may overshoot its bounds, as a protagonist's may; SB3's algorithms clip actions the same way), and
  ``disturbance`` reports the clipped value.
- **State**: the held disturbance is part of ``get_state()``, and ``set_state(state)`` restores it (clipped by the
  same rule), so a state resumes exactly the dynamics it was taken from: ``sample_next_states(states, ...)``
  from a state reproduces ``step`` under the disturbance held in that state.

Torch-free (numpy and gymnasium only).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: The ``info`` key under which a step reports the disturbance it applied (one definition for every writer and reader).
DISTURBANCE_KEY = "disturbance"

#: The members of :class:`DisturbanceChannel`, in the order error messages list them.
CHANNEL_MEMBERS: tuple[str, ...] = ("disturbance_space", "disturbance", "set_disturbance", "get_state", "set_state")


@runtime_checkable
class DisturbanceChannel(Protocol):
    """
    What an env (or a wrapper) offers a disturber; see the module's rules for validation, clipping and state.

    ``isinstance(obj, DisturbanceChannel)`` checks that the members exist (not their signatures).
    """

    #: the box of allowed disturbances ``w``
    disturbance_space: spaces.Box

    @property
    def disturbance(self) -> np.ndarray:
        """The held disturbance, a new array of ``disturbance_space.shape``."""
        ...

    def set_disturbance(self, w: Any) -> None:
        """Hold ``w`` (clipped to ``disturbance_space``) from the next step on; ``ValueError`` for a bad ``w``."""
        ...

    def get_state(self) -> np.ndarray:
        """:return: the full state as a flat array, the held disturbance included."""
        ...

    def set_state(self, state: np.ndarray) -> None:
        """Resume from a state of :meth:`get_state`, the held disturbance included."""
        ...


def check_disturbance(w: Any, space: spaces.Box, owner: str = "") -> np.ndarray:
    """
    The validation of ``set_disturbance`` for every implementer (see the module's rules).

    :param w: the disturbance a caller passed
    :param space: the channel's ``disturbance_space``
    :param owner: who validates (the env's or wrapper's name), for the messages
    :return: ``w`` as a new float64 array of ``space.shape``, clipped to the box
    :raises ValueError: not numbers (strings, ``None``, booleans), a shape other than ``space.shape`` (a scalar fits
        a one-dimensional space), NaN or inf; the message names the value
    """
    where = f" for {owner}" if owner else ""
    try:
        value = np.array(w, dtype=np.float64)
    except (TypeError, ValueError):
        value = None
    if value is None or np.asarray(w).dtype.kind not in "iuf":
        raise ValueError(f"Disturbance must be numbers, got {w!r} ({type(w).__name__}){where}")
    shape = space.shape
    if value.shape != shape and not (value.ndim == 0 and shape == (1,)):
        raise ValueError(
            f"Disturbance {w!r} of shape {value.shape} does not fit disturbance_space {space}{where}: "
            f"pass an array of shape {shape}"
        )
    if not np.isfinite(value).all():
        raise ValueError(f"Disturbance must be finite, got {w!r}{where}")
    return np.clip(value.reshape(shape), space.low.astype(np.float64), space.high.astype(np.float64))


def _layers(env: Any) -> list[Any]:
    """:return: ``env``, the envs each wrapper wraps (outermost first), then ``env.unwrapped``."""
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    unwrapped = getattr(env, "unwrapped", None)
    if unwrapped is not None and all(unwrapped is not layer for layer in layers):
        layers.append(unwrapped)
    return layers


def find_disturbance_channel(env: Any) -> DisturbanceChannel:
    """
    The env's disturbance channel, wherever it sits in the wrapper chain.

    :param env: a Gymnasium env, possibly wrapped (``TimeLimit``, ``Monitor``, :class:`~robust_envs.wrappers.ForceDisturbance`
        ...)
    :return: the first layer that implements :class:`DisturbanceChannel`, outermost wrapper first, then
        ``env.unwrapped`` (a wrapper's channel thus takes precedence over one of the env it wraps)
    :raises ValueError: no layer implements it; the message names the env, each layer and what it lacks
    """
    layers = _layers(env)
    for layer in layers:
        if isinstance(layer, DisturbanceChannel):
            return layer
    # name what the layers that look like a channel lack (and the env itself): a partial channel is likely a typo
    partial = [layer for layer in layers[:-1] if any(hasattr(layer, m) for m in CHANNEL_MEMBERS)] + layers[-1:]
    lacking = "; ".join(
        f"{type(layer).__name__} lacks {[m for m in CHANNEL_MEMBERS if not hasattr(layer, m)]}" for layer in partial
    )
    raise ValueError(
        f"{env} has no disturbance channel: no layer of it has all of {list(CHANNEL_MEMBERS)} "
        f"(robust_envs.disturbance.DisturbanceChannel), looking through {' > '.join(type(x).__name__ for x in layers)}; "
        f"{lacking}. Wrap a MuJoCo env in "
        "robust_envs.wrappers.ForceDisturbance(env, bodies, max_force), or use an env with a channel such as "
        "RobustPendulum-v0"
    )
