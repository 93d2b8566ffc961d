"""
Which sampled environments' trajectories an iteration trains on: MRPO's and EPOpt's selection rules as pure numpy.

Every function takes one return estimate per sampled environment (``eta_hat(pi_k | p_i)`` of Jiang et al.
2021, Algorithm 2, line 5) and, for MRPO, the environments' parameters, and returns a boolean mask over the
environments. Ties are resolved without reference to the order of the environments, so permuting the
inputs permutes the mask. The helpers both rules share live in :mod:`robust_sb3.common.selection`.
"""

from __future__ import annotations

import numpy as np

# n_worst, worst_set, worst_fraction_mean and normalized_params moved to robust_sb3.common.selection; they are
# re-exported here for now so that old imports keep working
from robust_sb3.common.selection import check_returns, n_worst, normalized_params, worst_fraction_mean, worst_set

__all__ = [
    "epopt_select",
    "mrpo_scores",
    "mrpo_select",
    "n_worst",
    "normalized_params",
    "worst_fraction_mean",
    "worst_set",
]


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
    returns = check_returns(returns)
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
