"""Checking transition arrays and turning them into the ensemble's inputs and targets."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th


class Transitions(NamedTuple):
    """
    A batch of transitions as float tensors.

    :param observations: ``(N, obs_dim)``
    :param actions: ``(N, action_dim)``
    :param rewards: ``(N,)``
    :param next_observations: ``(N, obs_dim)``
    """

    observations: th.Tensor
    actions: th.Tensor
    rewards: th.Tensor
    next_observations: th.Tensor


def _first_bad(x: th.Tensor) -> str:
    """:return: where the first non-finite value of ``x`` is and what it is, for messages."""
    flat = th.nonzero(~th.isfinite(x))[0].tolist()
    value = x[tuple(flat)].item()
    where = f"row {flat[0]}" + (f", column {flat[1]}" if len(flat) > 1 else "")
    return f"{value} at {where}"


def as_batch(
    owner: str,
    name: str,
    x: Any,
    width: int | None,
    device: th.device,
    rows: int | None = None,
) -> th.Tensor:
    """
    One array of a batch as a finite float32 tensor of shape ``(N, width)`` (or ``(N,)`` when ``width`` is None).

    :param owner: who checks, for the message
    :param name: the argument's name
    :param x: an array-like or tensor
    :param width: the required number of columns, or ``None`` for a vector
    :param device: the tensor's device
    :param rows: the required number of rows, or ``None``
    :return: the tensor (a copy when the dtype or device changes)
    :raises ValueError: wrong shape, row count mismatch or a non-finite value; the message names the array
    :raises TypeError: not numeric
    """
    try:
        tensor = th.as_tensor(x, dtype=th.float32, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{owner}: {name} must be a numeric array, got {type(x).__name__} ({error})") from error
    expected = "(N,)" if width is None else f"(N, {width})"
    if width is None and tensor.ndim == 2 and tensor.shape[1] == 1:
        tensor = tensor[:, 0]
    if tensor.ndim != (1 if width is None else 2) or (width is not None and tensor.shape[1] != width):
        hint = " (one row? pass x[None])" if width is not None and tensor.ndim == 1 and tensor.shape[0] == width else ""
        raise ValueError(f"{owner}: {name} must have shape {expected}, got {tuple(tensor.shape)}{hint}")
    if rows is not None and tensor.shape[0] != rows:
        raise ValueError(
            f"{owner}: {name} has {tensor.shape[0]} rows but the observations have {rows}; pass one row per transition"
        )
    if not bool(th.isfinite(tensor).all()):
        raise ValueError(f"{owner}: {name} holds a non-finite value ({_first_bad(tensor)}); drop or repair those rows")
    return tensor


def as_transitions(
    owner: str,
    observations: Any,
    actions: Any,
    rewards: Any,
    next_observations: Any,
    obs_dim: int,
    action_dim: int,
    device: th.device,
) -> Transitions:
    """
    Check and convert the four arrays of a transition batch.

    :param owner: who checks, for the messages
    :param observations: ``(N, obs_dim)``
    :param actions: ``(N, action_dim)``
    :param rewards: ``(N,)`` or ``(N, 1)``
    :param next_observations: ``(N, obs_dim)``
    :param obs_dim: the observation size
    :param action_dim: the action size
    :param device: the tensors' device
    :return: the transitions as float32 tensors
    :raises ValueError: see :func:`as_batch`; also an empty batch
    """
    obs = as_batch(owner, "observations", observations, obs_dim, device)
    if obs.shape[0] == 0:
        raise ValueError(f"{owner}: no transitions (observations has 0 rows)")
    rows = obs.shape[0]
    return Transitions(
        obs,
        as_batch(owner, "actions", actions, action_dim, device, rows),
        as_batch(owner, "rewards", rewards, None, device, rows),
        as_batch(owner, "next_observations", next_observations, obs_dim, device, rows),
    )


def targets_of(transitions: Transitions, predict_reward: bool) -> th.Tensor:
    """
    :param transitions: the batch
    :param predict_reward: append the reward as the last target column
    :return: ``[next_obs - obs, reward]`` (or the state change alone), ``(N, obs_dim [+ 1])``
    """
    delta = transitions.next_observations - transitions.observations
    return th.cat((delta, transitions.rewards[:, None]), dim=1) if predict_reward else delta


def to_numpy(x: th.Tensor) -> np.ndarray:
    """:return: a NumPy copy of a tensor on any device."""
    return x.detach().cpu().numpy()
