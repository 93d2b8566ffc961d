"""
Which sampled environments' trajectories an iteration trains on: MRPO's and EPOpt's selection rules as pure numpy.

Every function takes one return estimate per sampled environment (``eta_hat(pi_k | p_i)`` of Jiang et al.
2021, Algorithm 2, line 5) and, for MRPO, the environments' parameters, and returns a boolean mask over the
environments. Ties are resolved without reference to the order of the environments, so permuting the
inputs permutes the mask.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from robust_envs.uncertainty import UncertaintySet


def _check_returns(returns: np.ndarray) -> np.ndarray:
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 1 or returns.size < 1:
        raise ValueError(f"returns must be a non-empty 1-d array (one estimate per environment), got shape {returns.shape}")
    if not np.all(np.isfinite(returns)):
        raise ValueError(f"returns must be finite, got {returns}")
    return returns


def _check_fraction(name: str, fraction: float) -> float:
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
    return max(1, math.ceil(round(_check_fraction("fraction", fraction) * n_envs, 9)))


def worst_set(returns: np.ndarray, fraction: float) -> np.ndarray:
    """
    The environments of the ``fraction`` worst returns: every environment whose return is at most the k-th
    lowest return (``k`` from :func:`n_worst`). Ties at the boundary are all included, so the set can hold
    more than ``k`` environments but never depends on their order.

    :param returns: (M,) return estimates
    :param fraction: the worst fraction
    :return: (M,) boolean mask
    """
    returns = _check_returns(returns)
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
    returns = _check_returns(returns)
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


def mrpo_scores(returns: np.ndarray, params: np.ndarray, kappa: float) -> np.ndarray:
    """
    ``E_hat(p_i) = eta_hat(p_i) - kappa * ||p_i - p_w||`` (Jiang et al. 2021, Algorithm 2, line 9).

    ``p_w`` is the environment of the lowest return (line 7). When several environments share the lowest
    return, the distance is to the nearest of them (the argmin is not unique; this keeps the rule
    independent of the environments' order and equals the paper's where the minimum is unique).

    :param returns: (M,) return estimates ``eta_hat``
    :param params: (M, d) parameters, normalised (see :func:`normalized_params`)
    :param kappa: the penalty coefficient, >= 0 (the Lipschitz constant and Theorem 1's factor in one)
    :return: (M,) scores
    """
    returns = _check_returns(returns)
    params = np.asarray(params, dtype=np.float64)
    if params.ndim != 2 or params.shape[0] != returns.size:
        raise ValueError(f"params must have shape (M={returns.size}, d), got {params.shape}")
    if not (np.isfinite(kappa) and kappa >= 0):
        raise ValueError(f"kappa must be finite and >= 0, got {kappa!r}")
    worst = np.flatnonzero(returns == returns.min())
    distances = np.linalg.norm(params[:, None, :] - params[None, worst, :], axis=-1).min(axis=1)
    return returns - kappa * distances


def mrpo_select(returns: np.ndarray, params: np.ndarray, kappa: float, worst_fraction: float = 0.1) -> np.ndarray:
    """
    MRPO's practical selection (Jiang et al. 2021, Algorithm 2, line 11, with section 4's 10% worst-case set).

    Algorithm 2 trains on ``T = {tau_i : E_hat(p_i) >= E_hat(p_w)}`` (line 11), a set that always contains the
    worst environment ``p_w`` (line 7) itself. Section 4 replaces the single ``p_w`` by the ``worst_fraction``
    worst environments ``W`` (:func:`worst_set`, ties at its boundary included): "the trajectories we add to
    the subset T should have the E_hat(p_i) greater than and equal to those of all the 10% worst-case
    environments". So the trained set is ``W`` itself plus every environment whose score ``E_hat(p_i)``
    (:func:`mrpo_scores`, line 9) is at least the score of every member of ``W``, i.e. at least
    ``max_{j in W} E_hat(p_j)``.

    ``W``, and with it ``p_w``, is always trained on, so the selection is never empty and never smaller than
    ``W``: when many returns tie (at a return cap, say) ``W`` grows with the ties and so does the selection.
    With ``kappa = 0`` every environment is kept (outside ``W`` every return exceeds every return in ``W``),
    as line 11 keeps every environment at ``kappa = 0``; a larger ``kappa`` drops the environments far from
    ``p_w`` unless their return makes up for the distance.

    :param returns: (M,) return estimates ``eta_hat`` (line 5)
    :param params: (M, d) normalised parameters (:func:`normalized_params`)
    :param kappa: the penalty coefficient
    :param worst_fraction: the fraction of worst environments that replaces ``p_w`` (paper: 0.1)
    :return: (M,) boolean mask of the environments trained on
    """
    scores = mrpo_scores(returns, params, kappa)
    worst = worst_set(returns, worst_fraction)
    return worst | (scores >= scores[worst].max())


def epopt_select(returns: np.ndarray, worst_fraction: float = 0.1) -> np.ndarray:
    """
    EPOpt / PW-DR (Rajeswaran et al. 2017; Jiang et al. 2021, section 4): keep the environments of the
    ``worst_fraction`` (alpha) lowest returns, ties at the boundary included (:func:`worst_set`).

    :param returns: (M,) return estimates
    :param worst_fraction: alpha (paper: 0.1)
    :return: (M,) boolean mask
    """
    return worst_set(returns, worst_fraction)
