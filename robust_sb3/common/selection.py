"""
What the selection rules of the sampled-environments algorithms (MRPO, EPOpt) share, as pure numpy: the worst set,
the worst-fraction mean (the papers' 10%-worst metric) and the normalised parameters distances are measured in.

Every function takes one return estimate per sampled environment (``eta_hat(pi_k | p_i)`` of Jiang et al.
2021, Algorithm 2, line 5). Ties are resolved without reference to the order of the environments, so permuting
the inputs permutes the results. The rules themselves are :mod:`robust_sb3.mrpo.selection`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from robust_envs.uncertainty import UncertaintySet


def check_returns(returns: np.ndarray) -> np.ndarray:
    """:return: ``returns`` as a float array. :raises ValueError: not a non-empty 1-d array of finite numbers."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 1 or returns.size < 1:
        raise ValueError(f"returns must be a non-empty 1-d array (one estimate per environment), got shape {returns.shape}")
    if not np.all(np.isfinite(returns)):
        raise ValueError(f"returns must be finite, got {returns}")
    return returns


def check_fraction(name: str, fraction: float) -> float:
    """:return: ``fraction`` as a float. :raises ValueError: not a number in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.floating) or not 0.0 < fraction <= 1.0:
        raise ValueError(f"{name} must be a fraction in (0, 1], got {fraction!r}")
    return float(fraction)


def n_worst(n_envs: int, fraction: float) -> int:
    """
    :param n_envs: number of sampled environments M
    :param fraction: the worst fraction (the papers' 10%: 0.1)
    :return: ``k = ceil(fraction * M)``, at least 1 (``fraction * M`` rounded to 9 decimals first, as
        :meth:`robust_envs.evaluation.RobustnessReport.cvar` does, so that 0.1 * 30 gives 3)
    """
    return max(1, math.ceil(round(check_fraction("fraction", fraction) * n_envs, 9)))


def worst_set(returns: np.ndarray, fraction: float) -> np.ndarray:
    """
    The environments of the ``fraction`` worst returns: every environment whose return is at most the k-th
    lowest return (``k`` from :func:`n_worst`). Ties at the boundary are all included, so the set can hold
    more than ``k`` environments but never depends on their order.

    :param returns: (M,) return estimates
    :param fraction: the worst fraction
    :return: (M,) boolean mask
    """
    returns = check_returns(returns)
    k = n_worst(returns.size, fraction)
    threshold = np.sort(returns)[k - 1]
    return returns <= threshold


def worst_fraction_mean(returns: np.ndarray, fraction: float = 0.1) -> float:
    """
    The paper's "10% worst-case return": the mean of the ``k`` lowest returns (``k`` from :func:`n_worst`).

    :param returns: (M,) returns
    :param fraction: the worst fraction
    :return: the mean of the ``k`` lowest returns
    """
    returns = check_returns(returns)
    return float(np.sort(returns)[: n_worst(returns.size, fraction)].mean())


def normalized_params(settings: Sequence[Mapping[str, float]], uncertainty_set: UncertaintySet) -> np.ndarray:
    """
    Parameters divided by the width of their training range, so that ``||p_i - p_w||`` weighs every dimension alike.

    A box set divides by ``high - low``; a finite set by the spread of its members. A dimension of zero
    width (a fixed value) contributes nothing to distances.

    :param settings: the sampled settings (partial mappings over the set's names)
    :param uncertainty_set: the training set they were drawn from
    :return: (M, n_names) array, ``(p - low) / (high - low)`` per name of the set
    """
    names = uncertainty_set.names
    if uncertainty_set.is_finite:
        values = np.array([[float(m.get(n, np.nan)) for n in names] for m in uncertainty_set.members])
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    else:
        low = np.array([uncertainty_set.low[n] for n in names])
        high = np.array([uncertainty_set.high[n] for n in names])
    width = high - low
    width = np.where(width > 0, width, 1.0)
    try:
        raw = np.array([[float(setting[n]) for n in names] for setting in settings], dtype=np.float64)
    except KeyError as error:
        raise ValueError(f"A sampled setting lacks {error}; every setting must name all of {names}") from error
    return (raw.reshape(len(settings), len(names)) - low) / width
