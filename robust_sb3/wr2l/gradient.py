"""
Proposition 1: the zero-order gradient of the return with respect to the simulator parameters.

``grad_phi J(phi) = sigma^-2 E_xi[xi J(phi + xi)]``, ``xi ~ N(0, sigma^2 I)``: Stein's identity for the
Gaussian-smoothed return (exact for a quadratic ``J``, an O(sigma^2) bias otherwise). App. B.1 samples the
perturbed dynamics "from a diagonal Gaussian distribution that is centered at the current worst-case dynamics";
``shared/WAVE2.md`` 1.3 adds two variance reductions that keep the estimator unbiased for the same quantity:

- antithetic pairs ``+-xi``, ``g = 1/(2 N sigma^2) sum_i xi_i [J(phi + xi_i) - J(phi - xi_i)]``: the baseline
  ``J(phi)`` and every even-order term of ``J`` cancel in each pair, so for a quadratic ``J`` the estimate is
  ``S grad J(phi)`` with ``S = sum_i xi_i xi_i^T / (N sigma^2)`` (``E[S] = I``): its only error is the sample
  covariance of the perturbations;
- common random numbers: both members of a pair get the same seed (same resets, same policy noise), so
  noise that depends on the seed alone cancels in the difference.

Antithetic Gaussian pairs do *not* make a linear ``J``'s gradient exact: ``S`` is only ``I`` on average.
``directions="orthogonal"`` (an option beyond the paper, in the spirit of orthogonal evolution strategies) draws
the perturbations in blocks of ``d`` mutually orthogonal directions of norm ``sigma sqrt(d)`` (a uniformly random
rotation per block); then ``S = I`` exactly when ``n_pairs`` is a multiple of ``d``, so linear and quadratic
returns get their exact gradient. Each direction is uniform on a sphere with ``E[xi xi^T] = sigma^2 I``, so the
estimator stays unbiased for quadratics; for a general ``J`` it differentiates the sphere-smoothed return instead
of the Gaussian-smoothed one, both ``O(sigma^2)`` from ``grad J``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from robust_sb3.wr2l.checks import as_rng, as_vector, check_int, check_number

__all__ = ["GradientEstimate", "zero_order_gradient"]

ReturnFn = Callable[[np.ndarray, np.ndarray], Any]

#: seeds handed to ``return_fn`` are drawn from [0, SEED_BOUND)
SEED_BOUND = 2**31 - 1


class GradientEstimate(NamedTuple):
    """
    An estimate of the return's gradient with respect to the parameters.

    :param gradient: (d,) the estimate ``g`` (of the return; WR2L's adversary steps against it, Eq. 10)
    :param stderr: (d,) standard error of each entry, over the N independent pairs; NaN when N = 1
    :param mean_return: the mean of the 2N perturbed returns, an estimate of the smoothed ``J(phi)``
        (WR2L logs it as ``wr2l/J_hat``)
    """

    gradient: np.ndarray
    stderr: np.ndarray
    mean_return: float


def _orthogonal_directions(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """(n, d) unit vectors in blocks of d mutually orthogonal ones, each block a uniformly random (Haar) rotation."""
    blocks = []
    for _ in range(-(-n // d)):
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        blocks.append((q * np.sign(np.diag(r))).T)  # the sign fix makes q Haar-distributed
    return np.concatenate(blocks)[:n]


def zero_order_gradient(
    return_fn: ReturnFn,
    phi: Any,
    sigma: float,
    n_pairs: int,
    rng: Any = None,
    directions: str = "gaussian",
) -> GradientEstimate:
    """
    Proposition 1 with antithetic pairs and common random numbers (``shared/WAVE2.md`` 1.3).

    ``return_fn`` is called once, with all 2N perturbed parameter vectors: rows ``i`` and ``N + i`` are
    ``phi + xi_i`` and ``phi - xi_i`` and receive the same seed, so a caller that runs one episode per row
    (in lock-step worker envs, say) can seed both members of a pair alike. WAVE2's defaults for WR2L are
    ``n_pairs = 2 d`` and ``sigma = 0.05`` in relative coordinates.

    :param return_fn: ``(params (2N, d), seeds (2N,) int64) -> (2N,)`` returns (one estimate of ``J`` per row)
    :param phi: (d,) the current parameters
    :param sigma: perturbation scale, > 0, in the coordinates of ``phi``
    :param n_pairs: number of antithetic pairs N, >= 1
    :param rng: ``np.random.Generator``, int seed or ``None``; draws the perturbations, then the seeds
    :param directions: ``"gaussian"`` (Proposition 1, ``xi ~ N(0, sigma^2 I)``) or ``"orthogonal"`` (blocks of
        ``d`` orthogonal directions of norm ``sigma sqrt(d)``, exact for quadratics when ``d`` divides ``n_pairs``)
    :return: ``GradientEstimate(gradient, stderr, mean_return)``
    :raises ValueError: bad arguments, or ``return_fn`` returning the wrong shape or non-finite values
    """
    owner = "zero_order_gradient"
    phi = as_vector(owner, "phi", phi)
    sigma = check_number(owner, "sigma", sigma, low=0.0, low_open=True)
    n_pairs = check_int(owner, "n_pairs", n_pairs, 1)
    rng = as_rng(owner, rng)
    if directions == "gaussian":
        xi = sigma * rng.standard_normal((n_pairs, phi.size))
    elif directions == "orthogonal":
        xi = sigma * np.sqrt(phi.size) * _orthogonal_directions(rng, n_pairs, phi.size)
    else:
        raise ValueError(f"{owner}: directions must be 'gaussian' or 'orthogonal', got {directions!r}")
    seeds = rng.integers(0, SEED_BOUND, size=n_pairs, dtype=np.int64)
    params = np.concatenate([phi + xi, phi - xi])
    returns = np.asarray(return_fn(params, np.concatenate([seeds, seeds])), dtype=np.float64)
    if returns.shape != (2 * n_pairs,) or not np.isfinite(returns).all():
        raise ValueError(
            f"{owner}: return_fn must return {2 * n_pairs} finite returns, one per parameter row, got shape {returns.shape}"
            f"{'' if returns.shape != (2 * n_pairs,) else ' with non-finite values'}"
        )
    # one term per pair: xi_i (J(phi + xi_i) - J(phi - xi_i)) / (2 sigma^2); their mean is the estimate
    terms = xi * ((returns[:n_pairs] - returns[n_pairs:]) / (2.0 * sigma**2))[:, None]
    gradient = terms.mean(axis=0)
    stderr = terms.std(axis=0, ddof=1) / np.sqrt(n_pairs) if n_pairs > 1 else np.full(phi.size, np.nan)
    return GradientEstimate(gradient, stderr, float(returns.mean()))
