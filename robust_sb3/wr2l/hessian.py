"""
The Hessian ``H0`` of the average Wasserstein distance at the reference parameters, and its projection to positive definite.

``W(phi) = E_(s,a) W2^2(P_phi(.|s,a), P_0(.|s,a))`` (Eq. 7). For a deterministic simulator, or Gaussian noise of
fixed covariance around a deterministic mean, ``W2^2`` is the squared distance of the next states (means), so
``W(phi) = E_n ||f_n(phi) - f_n(phi0)||^2`` over the sampled state-action pairs ``n`` (``shared/WAVE2.md`` 1.1).

Both estimators are pure functions of a *simulator*: a callable ``next_state_fn(params)`` taking (K, d)
parameter vectors and returning the (N, K, obs_dim) next states of N fixed state-action pairs under each of
them, the layout of an env's ``sample_next_states(states, actions, params)`` next observations. The pairs are
fixed inside the callable (WR2L draws them from random-policy rollouts under ``phi0``, Sec. 3.1). A stochastic
simulator must use common random numbers: the same noise for a row whatever the parameters, across calls.

- :func:`gauss_newton_hessian`: ``2 E_n[J_n^T J_n]``, exact at ``phi0`` (the default of ``shared/WAVE2.md`` 1.7, A4);
- :func:`zero_order_hessian`: Proposition 2 of the paper (its own estimator), unbiased but sample-hungry.

Neither needs ``H0`` to be well conditioned; :func:`project_positive_definite` prepares it for Eq. 10.
Coordinates are those of the callable; wrap it with
:func:`~robust_sb3.wr2l.coordinates.in_relative_coordinates` to estimate in relative ones around ``u = 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from robust_sb3.wr2l.checks import as_rng, as_vector, check_hessian, check_int, check_number

__all__ = ["HessianEstimate", "gauss_newton_hessian", "project_positive_definite", "zero_order_hessian"]

NextStateFn = Callable[[np.ndarray], Any]


class HessianEstimate(NamedTuple):
    """
    An estimate of ``H0`` with its sampling error.

    :param hessian: (d, d) the symmetric estimate
    :param stderr: (d, d) entrywise standard error of the mean over the estimator's independent terms (rows
        for Gauss-Newton, perturbations for Proposition 2); NaN when there is a single term
    :param n_evaluations: parameter vectors passed to the simulator, each for all N state-action pairs (the cost)
    """

    hessian: np.ndarray
    stderr: np.ndarray
    n_evaluations: int


def _call(owner: str, next_state_fn: NextStateFn, params: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """Evaluate the simulator and check that it returns finite (N, K, obs_dim) next states, N and obs_dim fixed."""
    states = np.asarray(next_state_fn(params), dtype=np.float64)
    expected = "(N, K, obs_dim)" if shape is None else f"({shape[0]}, K, {shape[1]})"
    if states.ndim != 3 or states.shape[1] != len(params) or (shape is not None and states.shape[::2] != shape):
        raise ValueError(
            f"{owner}: next_state_fn must return next states of shape {expected} with K = {len(params)} parameter vectors, "
            f"got {states.shape}; for an env pass lambda p: env.sample_next_states(states, actions, p)[0]"
        )
    if states.shape[0] == 0 or not np.isfinite(states).all():
        raise ValueError(f"{owner}: next_state_fn returned no rows or non-finite next states for parameters {params}")
    return states


def _state_scale(owner: str, state_scale: Any, obs_dim: int) -> np.ndarray:
    if state_scale is None:
        return np.ones(obs_dim)
    scale = as_vector(owner, "state_scale", state_scale, obs_dim)
    if (scale <= 0).any():
        raise ValueError(f"{owner}: state_scale must be > 0 in every dimension, got {scale}")
    return scale


class _RunningMean:
    """Mean and standard error of independent (d, d) terms arriving in chunks (Chan et al.'s pairwise update)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.count = 0
        self.mean = np.zeros(shape)
        self.squares = np.zeros(shape)  # sum of squared deviations from the mean

    def add(self, terms: np.ndarray) -> None:
        count = len(terms)
        mean = terms.mean(axis=0)
        squares = ((terms - mean) ** 2).sum(axis=0)  # two-pass within the chunk: no cancellation
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.squares = self.squares + squares + delta**2 * (self.count * count / total)
        self.count = total

    def stderr(self) -> np.ndarray:
        if self.count < 2:
            return np.full_like(self.mean, np.nan)
        return np.sqrt(self.squares / (self.count - 1) / self.count)


def gauss_newton_hessian(
    next_state_fn: NextStateFn,
    phi0: Any,
    deltas: Any = 1e-2,
    state_scale: Any = None,
) -> HessianEstimate:
    """
    ``H0 = 2 E_n[J_n^T J_n]``, ``J_n = d f_n / d phi`` at ``phi0`` by central differences, in one simulator call.

    With ``W(phi) = E_n ||r_n(phi)||^2`` and residuals ``r_n(phi) = f_n(phi) - f_n(phi0)``,
    ``grad^2 W = 2 E_n[J_n^T J_n + sum_k r_nk grad^2 f_nk]``; the second term vanishes at ``phi0`` because every
    residual does, so the Gauss-Newton matrix *is* ``H0`` there (``shared/WAVE2.md`` 1.4), positive
    semi-definite by construction. Column ``i`` of ``J_n`` is ``(f_n(phi0 + h_i e_i) - f_n(phi0 - h_i e_i)) / (2 h_i)``:
    the K = 2d parameter vectors go to the simulator in one call, so the cost is 2d evaluations. The
    truncation error is O(h^2) (third derivatives of ``f``); a step of ~1% in relative coordinates also smooths
    over contact kinks. The standard error is over the N state-action rows, i.e. the sampling error of the
    (s, a) distribution; the estimate is exact for the rows given when ``f`` is linear in ``phi``.

    :param next_state_fn: ``(K, d) params -> (N, K, obs_dim)`` next states of N fixed state-action pairs
    :param phi0: (d,) reference parameters
    :param deltas: the finite-difference step ``h``, > 0: a scalar or one per parameter (default 1e-2, for
        relative coordinates)
    :param state_scale: (obs_dim,) positive scale dividing each state dimension before the distance
        (``shared/WAVE2.md`` 1.7, A2: the std of the reference next states); ``None`` for raw states
    :return: ``HessianEstimate(hessian, stderr, n_evaluations=2d)``
    :raises ValueError: bad steps, scale or shapes, or non-finite next states
    """
    owner = "gauss_newton_hessian"
    phi0 = as_vector(owner, "phi0", phi0)
    d = phi0.size
    if np.ndim(deltas) == 0:
        deltas = np.full(d, check_number(owner, "deltas", deltas, low=0.0, low_open=True))
    steps = as_vector(owner, "deltas", deltas, d)
    if (steps <= 0).any():
        raise ValueError(f"{owner}: deltas must be > 0, got {steps}")
    params = np.concatenate([phi0 + np.diag(steps), phi0 - np.diag(steps)])  # (2d, d): +h_i e_i, then -h_i e_i
    states = _call(owner, next_state_fn, params, None)
    scale = _state_scale(owner, state_scale, states.shape[2])
    # (N, d, obs_dim): row n holds J_n^T, the derivative of the scaled next state along each parameter
    jacobians = (states[:, :d] - states[:, d:]) / (2.0 * steps[None, :, None] * scale[None, None, :])
    running = _RunningMean((d, d))
    running.add(2.0 * np.einsum("nio,njo->nij", jacobians, jacobians))
    return HessianEstimate(0.5 * (running.mean + running.mean.T), running.stderr(), 2 * d)


def zero_order_hessian(
    next_state_fn: NextStateFn,
    phi0: Any,
    sigma: float,
    n_samples: int,
    rng: Any = None,
    antithetic: bool = True,
    chunk_size: int = 64,
    state_scale: Any = None,
) -> HessianEstimate:
    """
    Proposition 2: ``H0 = sigma^-4 E_xi[W(phi0 + xi) (xi xi^T - sigma^2 I)]``, ``xi ~ N(0, sigma^2 I)``.

    The paper writes it ``sigma^-2 E[sigma^-2 xi W xi^T - W I]``; the proof (Appendix A, re-checked in
    ``shared/WAVE2.md`` 1.4) uses ``E[xi xi^T xi^T H xi] = 2 sigma^4 H + sigma^4 tr(H) I``. For a quadratic ``W``
    it is unbiased; in general it estimates the Hessian of the Gaussian-smoothed ``W`` (Stein's second-order
    identity), an O(sigma^2) bias. ``W(phi0 + xi)`` is the mean over the N rows of
    ``||f_n(phi0 + xi) - f_n(phi0)||^2``, with ``f_n(phi0)`` evaluated once.

    With ``antithetic=True`` (default) each term averages ``W(phi0 + xi)`` and ``W(phi0 - xi)``: the distribution
    of ``xi`` is symmetric, so the expectation is unchanged, and the odd-order terms of ``W`` (``grad W(phi0)``,
    which is 0 only in expectation, and the cubic terms) cancel in every sample.

    Cost and accuracy: ``1 + n_samples`` evaluations (``1 + 2 n_samples`` antithetic), in calls of at most
    ``chunk_size`` parameter vectors (WAVE2 1.4: the env's model cache is bounded, K <= 64). The relative
    Frobenius error is about ``d / sqrt(n_samples)`` (WAVE2 1.4's table: d = 11 needs ~1e4 samples for 20%),
    so ``n_samples = 20 d^2`` is the default WR2L will use, and Gauss-Newton is preferred where it applies. The
    perturbations are drawn before any call, so the estimate does not depend on ``chunk_size``.

    :param next_state_fn: ``(K, d) params -> (N, K, obs_dim)`` next states of N fixed state-action pairs
    :param phi0: (d,) reference parameters
    :param sigma: perturbation scale, > 0
    :param n_samples: number of perturbations ``xi`` (pairs when antithetic), >= 1
    :param rng: ``np.random.Generator``, int seed or ``None``
    :param antithetic: average each ``xi`` with ``-xi``
    :param chunk_size: most parameter vectors per simulator call (>= 2 when antithetic)
    :param state_scale: (obs_dim,) positive scale dividing each state dimension; ``None`` for raw states
    :return: ``HessianEstimate(hessian, stderr, n_evaluations)``
    :raises ValueError: bad arguments or shapes, or non-finite next states
    """
    owner = "zero_order_hessian"
    phi0 = as_vector(owner, "phi0", phi0)
    d = phi0.size
    sigma = check_number(owner, "sigma", sigma, low=0.0, low_open=True)
    n_samples = check_int(owner, "n_samples", n_samples, 1)
    chunk_size = check_int(owner, "chunk_size", chunk_size, 2 if antithetic else 1)
    rng = as_rng(owner, rng)
    xi = sigma * rng.standard_normal((n_samples, d))

    reference = _call(owner, next_state_fn, phi0[None], None)[:, 0]  # (N, obs_dim): f_n(phi0)
    shape = (reference.shape[0], reference.shape[1])
    scale = _state_scale(owner, state_scale, shape[1])

    def distance(params: np.ndarray) -> np.ndarray:
        """W at each row of params: the mean over state-action pairs of the squared (scaled) distance."""
        states = _call(owner, next_state_fn, params, shape)
        return (((states - reference[:, None]) / scale) ** 2).sum(axis=2).mean(axis=0)

    per_call = chunk_size // 2 if antithetic else chunk_size
    running = _RunningMean((d, d))
    identity = sigma**2 * np.eye(d)
    for start in range(0, n_samples, per_call):
        chunk = xi[start : start + per_call]
        if antithetic:
            values = distance(np.concatenate([phi0 + chunk, phi0 - chunk])).reshape(2, -1).mean(axis=0)
        else:
            values = distance(phi0 + chunk)
        # one term per perturbation: W (xi xi^T - sigma^2 I) / sigma^4 (Prop. 2)
        running.add(values[:, None, None] * (chunk[:, :, None] * chunk[:, None, :] - identity) / sigma**4)
    mean = running.mean
    return HessianEstimate(0.5 * (mean + mean.T), running.stderr(), 1 + n_samples * (2 if antithetic else 1))


def project_positive_definite(hessian: Any, min_eigenvalue: float | None = None, relative_floor: float = 1e-6) -> np.ndarray:
    """
    The symmetric part of ``hessian`` with its eigenvalues floored: ``V max(Lambda, floor) V^T``.

    Eq. 10 needs ``H0`` positive definite, and neither estimate guarantees it numerically: Proposition 2's can
    have negative eigenvalues from sampling error, and Gauss-Newton's is singular along a parameter that does
    not move the sampled next states. Flooring (rather than adding a ridge to every eigenvalue, the other form
    ``shared/WAVE2.md`` 1.7, A4 names) leaves the well-determined directions exactly as estimated and is the
    nearest matrix in the Frobenius norm with eigenvalues >= floor. The floor is ``min_eigenvalue`` when given,
    else ``relative_floor * tr(H_+) / d`` with ``H_+`` the positive part (WAVE2's ``1e-6 tr(H) / d``). A floored
    direction is one the data say almost nothing about: the ball is long along it (``sqrt(2 epsilon / floor)``),
    so bounds (:func:`~robust_sb3.wr2l.bounds.clip_to_bounds`) are what limits the step there.

    :param hessian: (d, d) matrix (need not be symmetric)
    :param min_eigenvalue: the floor, > 0; ``None`` for the relative floor
    :param relative_floor: the floor relative to the mean positive eigenvalue, > 0, used when ``min_eigenvalue`` is None
    :return: (d, d) symmetric positive-definite matrix
    :raises ValueError: bad arguments, or (relative floor) a matrix without a positive eigenvalue, whose scale
        says nothing about the floor
    """
    owner = "project_positive_definite"
    matrix = check_hessian(owner, hessian, symmetric=False)
    matrix = 0.5 * (matrix + matrix.T)
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    if min_eigenvalue is None:
        relative_floor = check_number(owner, "relative_floor", relative_floor, low=0.0, low_open=True)
        mean_positive = np.clip(eigenvalues, 0.0, None).sum() / len(eigenvalues)
        if mean_positive == 0.0:
            raise ValueError(
                f"{owner}: the matrix has no positive eigenvalue (eigenvalues {eigenvalues}), so a floor relative to its "
                "scale is 0; the parameters may not move the sampled next states; pass min_eigenvalue explicitly"
            )
        floor = relative_floor * mean_positive
    else:
        floor = check_number(owner, "min_eigenvalue", min_eigenvalue, low=0.0, low_open=True)
    projected = (eigenvectors * np.maximum(eigenvalues, floor)) @ eigenvectors.T
    return 0.5 * (projected + projected.T)
