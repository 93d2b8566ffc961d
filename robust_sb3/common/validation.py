"""Constructor-argument checks shared by the trainers: each error names the argument, the bad value and what is allowed."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """
    :param owner: the algorithm's name, for the message
    :param name: the argument's name
    :param value: its value
    :param minimum: the smallest allowed value
    :return: the value as an ``int``
    :raises ValueError: not an int (bools refused) or below ``minimum``
    """
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(
    owner: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """
    A finite real number in an interval.

    :param owner: the algorithm's name, for the message
    :param name: the argument's name
    :param value: its value
    :param low: lower bound
    :param high: upper bound
    :param low_open: exclude ``low``
    :param high_open: exclude ``high``
    :return: the value as a ``float``
    :raises ValueError: not a finite number (bools refused) or outside the interval
    """
    ok = _is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def check_discount(owner: str, gamma: Any) -> float:
    """
    :param owner: the algorithm's name, for the message
    :param gamma: the discount factor
    :return: ``gamma`` as a float
    :raises ValueError: ``gamma`` outside (0, 1]
    """
    if not (_is_number(gamma) and math.isfinite(gamma) and 0.0 < gamma <= 1.0):
        raise ValueError(f"{owner}: gamma must be a discount factor in (0, 1], got {gamma!r}")
    return float(gamma)


def check_rate_or_schedule(owner: str, name: str, value: Any) -> None:
    """
    :param owner: the algorithm's name, for the message
    :param name: the argument's name (``learning_rate``, ``clip_range``)
    :param value: a number > 0 or a schedule (a callable of the remaining progress)
    :raises ValueError: neither
    """
    if callable(value):
        return
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be a number > 0 or a schedule progress_remaining -> value, got {value!r}")


def check_train_freq(owner: str, train_freq: Any) -> None:
    """
    :param owner: the algorithm's name, for the message
    :param train_freq: an int >= 1 or a tuple ``(int >= 1, "step" | "episode")``
    :raises ValueError: anything else
    """
    if isinstance(train_freq, tuple):
        unit = getattr(train_freq[1], "value", train_freq[1]) if len(train_freq) == 2 else None
        ok = len(train_freq) == 2 and _is_int(train_freq[0]) and train_freq[0] >= 1 and unit in ("step", "episode")
    else:
        ok = _is_int(train_freq) and train_freq >= 1
    if ok:
        return
    raise ValueError(f"{owner}: train_freq must be an int >= 1 or a tuple (int >= 1, 'step' | 'episode'), got {train_freq!r}")


def check_off_policy_arguments(
    owner: str,
    *,
    learning_rate: float | Callable[[float], float],
    buffer_size: int,
    learning_starts: int,
    batch_size: int,
    gamma: float,
    train_freq: int | tuple[int, str],
    gradient_steps: int,
    tau: float | None = None,
) -> None:
    """
    The arguments every SB3 off-policy algorithm takes (MPO, RobustSAC), checked before SB3 sees them.

    :param owner: the algorithm's name, for the messages
    :raises ValueError: the first bad argument, named with its value and what is allowed
    """
    check_rate_or_schedule(owner, "learning_rate", learning_rate)
    check_int(owner, "buffer_size", buffer_size, 1)
    check_int(owner, "learning_starts", learning_starts, 0)
    check_int(owner, "batch_size", batch_size, 1)
    check_discount(owner, gamma)
    check_train_freq(owner, train_freq)
    if not (_is_int(gradient_steps) and (gradient_steps >= 1 or gradient_steps == -1)):
        raise ValueError(
            f"{owner}: gradient_steps must be an int >= 1, or -1 (as many as env steps collected), got {gradient_steps!r}"
        )
    if tau is not None:
        check_number(owner, "tau", tau, 0.0, 1.0)


def signature_defaults(function: Callable[..., Any], names: Iterable[str]) -> dict[str, Any]:
    """
    :param function: a constructor, e.g. ``stable_baselines3.PPO.__init__``
    :param names: the arguments wanted
    :return: their default values, read from the signature (never retyped here)
    """
    parameters = inspect.signature(function).parameters
    return {name: parameters[name].default for name in names if name in parameters}


def check_entropy_coefficient(owner: str, name: str, value: Any) -> None:
    """
    :param owner: the algorithm's name, for the message
    :param name: the argument's name (``ent_coef``)
    :param value: ``"auto"``, ``"auto_<initial value>"`` or a number > 0 (SAC's forms)
    :raises ValueError: anything else
    """
    if isinstance(value, str):
        if value == "auto":
            return
        if value.startswith("auto_"):
            try:
                initial = float(value[len("auto_") :])
            except ValueError:
                initial = math.nan
            if math.isfinite(initial) and initial > 0:
                return
    elif _is_number(value) and math.isfinite(value) and value > 0:
        return
    raise ValueError(f"{owner}: {name} must be 'auto', 'auto_<initial value > 0>' or a number > 0, got {value!r}")


#: the PPO arguments :func:`check_ppo_arguments` checks
PPO_CHECKED = (
    "learning_rate",
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "clip_range",
    "clip_range_vf",
    "normalize_advantage",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "target_kl",
)


def check_ppo_arguments(owner: str, kwargs: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """
    PPO's arguments, checked before PPO's own ``assert`` statements (stripped by ``python -O``) see them.

    :param owner: the algorithm's name, for the messages
    :param kwargs: the keyword arguments passed on to :class:`stable_baselines3.PPO`
    :param defaults: PPO's defaults of :data:`PPO_CHECKED` (:func:`signature_defaults`), for those not in ``kwargs``
    :raises ValueError: the first bad argument, named with its value and what is allowed
    """
    values = {**defaults, **kwargs}
    check_rate_or_schedule(owner, "learning_rate", values["learning_rate"])
    check_int(owner, "n_steps", values["n_steps"], 1)
    # PPO normalises advantages over each minibatch, which needs two samples at least
    check_int(owner, "batch_size", values["batch_size"], 2 if values["normalize_advantage"] else 1)
    check_int(owner, "n_epochs", values["n_epochs"], 1)
    check_discount(owner, values["gamma"])
    check_number(owner, "gae_lambda", values["gae_lambda"], 0.0, 1.0)
    check_rate_or_schedule(owner, "clip_range", values["clip_range"])
    if values["clip_range_vf"] is not None:
        check_rate_or_schedule(owner, "clip_range_vf", values["clip_range_vf"])
    check_number(owner, "ent_coef", values["ent_coef"])
    check_number(owner, "vf_coef", values["vf_coef"], 0.0)
    check_number(owner, "max_grad_norm", values["max_grad_norm"], 0.0, low_open=True)
    if values["target_kl"] is not None:
        check_number(owner, "target_kl", values["target_kl"], 0.0, low_open=True)
