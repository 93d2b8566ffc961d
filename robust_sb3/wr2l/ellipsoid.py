"""
WR2L's model step: the closed-form minimiser of a linear function on the Wasserstein ellipsoid (Eq. 9-10).

The average Wasserstein constraint ``W(phi) <= epsilon`` (Eq. 7) is replaced by its second-order expansion at
the reference ``phi0``, where ``W(phi0) = 0`` and ``grad W(phi0) = 0``: the ellipsoid
``1/2 (phi - phi0)^T H0 (phi - phi0) <= epsilon`` (Eq. 9, ``H0`` the Hessian of ``W`` at ``phi0``). Linearising
the return ``J`` at the current iterate with gradient ``g`` leaves a linear objective on that ellipsoid, whose
minimiser has the closed form of Eq. 10 (re-derived in Appendix C of the paper and in ``shared/WAVE2.md`` 1.2):

    ``phi* = phi0 - sqrt(2 epsilon / (g^T H0^-1 g)) H0^-1 g``

``phi*`` depends on the iterate only through ``g``, so Algorithm 1, lines 7-8 (``p = phi* - x``,
``x <- x + alpha p``) is a Frank-Wolfe (conditional-gradient) step on the ellipsoid: ``alpha = 1`` jumps to
``phi*``, and every ``alpha`` in ``(0, 1]`` keeps a feasible iterate feasible (the ellipsoid is convex).

Everything here works in whatever coordinates ``H0`` was estimated in; WR2L uses coordinates relative to the
nominal parameters (:mod:`robust_sb3.wr2l.coordinates`, ``shared/WAVE2.md`` 1.7, A1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robust_sb3.wr2l.checks import as_vector, check_hessian, check_int, check_number

__all__ = ["ball_value", "ellipsoid_step", "epsilon_for", "frank_wolfe_gap", "frank_wolfe_step_size"]

_REACH = ("axis", "extent")


def _cholesky(owner: str, hessian: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of a symmetric matrix, or a ValueError saying it is not positive definite."""
    try:
        return np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError as error:
        smallest = np.linalg.eigvalsh(hessian).min()
        raise ValueError(
            f"{owner}: hessian must be positive definite (the ellipsoid of Eq. 9 is bounded only then), but its smallest "
            f"eigenvalue is {smallest:.3g}; floor its eigenvalues first: robust_sb3.wr2l.project_positive_definite(H)"
        ) from error


def _solve(cholesky: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``H^-1 v`` from the lower Cholesky factor ``L`` of ``H = L L^T``."""
    return np.linalg.solve(cholesky.T, np.linalg.solve(cholesky, vector))


def ball_value(phi: Any, hessian: Any, phi0: Any) -> float:
    """
    The quadratic model of the average Wasserstein distance, ``1/2 (phi - phi0)^T H0 (phi - phi0)`` (Eq. 9).

    At the Eq. 10 point it equals ``epsilon``; WR2L logs it as ``wr2l/ball_value``.

    :param phi: (d,) parameters
    :param hessian: (d, d) symmetric ``H0``
    :param phi0: (d,) reference parameters
    :return: the value
    """
    phi0 = as_vector("ball_value", "phi0", phi0)
    phi = as_vector("ball_value", "phi", phi, phi0.size)
    hessian = check_hessian("ball_value", hessian, phi0.size)
    delta = phi - phi0
    return float(0.5 * delta @ hessian @ delta)


def ellipsoid_step(
    grad: Any,
    hessian: Any,
    phi0: Any,
    epsilon: float,
    phi: Any = None,
    step_size: float = 1.0,
) -> np.ndarray:
    """
    One model step of WR2L: Eq. 10 and Algorithm 1, lines 7-8.

    The target ``phi* = phi0 - sqrt(2 epsilon / (g^T H0^-1 g)) H0^-1 g`` (Eq. 10) is the unique minimiser of
    ``g . x`` over the ellipsoid ``1/2 (x - phi0)^T H0 (x - phi0) <= epsilon``: the Lagrangian's stationarity gives
    ``x = phi0 - H0^-1 g / lambda``, the active constraint gives ``lambda^2 = g^T H0^-1 g / (2 epsilon)``, and then
    ``1/2 (phi* - phi0)^T H0 (phi* - phi0) = epsilon`` exactly (Appendix C). ``g`` is the gradient of the return,
    which the adversary *decreases*, hence the minus sign. Only the direction of ``g`` matters (it is rescaled
    before ``H0^-1 g`` is formed, so tiny or huge gradients do not under- or overflow).

    The step from the current iterate ``phi`` is the Frank-Wolfe update ``phi + step_size (phi* - phi)``
    (lines 7-8 with ``alpha = step_size``); ``step_size = 1`` (the default) returns ``phi*`` itself, whatever
    ``phi`` is. The schedule ``alpha_j = 2 / (j + 2)`` (:func:`frank_wolfe_step_size`) is the default of
    ``shared/WAVE2.md`` 1.7, A6, where the paper's Wolfe-condition line search is not specified. ``phi`` is
    expected inside the ellipsoid (then so is the result); it is not checked, since a caller that shrinks
    ``epsilon`` between steps may hold an iterate just outside it, which the next full step repairs.

    ``g = 0`` (the linearised return is flat, so every point of the ellipsoid minimises it): the iterate stays
    where it is, ``phi`` (``phi0`` when ``phi`` is None). Moving to an arbitrary boundary point would have no
    justification, and the Frank-Wolfe gap (:func:`frank_wolfe_gap`) is zero there, i.e. the step has converged.

    :param grad: (d,) gradient ``g`` of the return with respect to the parameters at the current iterate
        (:func:`~robust_sb3.wr2l.gradient.zero_order_gradient`)
    :param hessian: (d, d) symmetric positive-definite ``H0`` (:func:`~robust_sb3.wr2l.hessian.project_positive_definite`)
    :param phi0: (d,) reference parameters, the centre of the ellipsoid
    :param epsilon: radius of the ball, > 0 (:func:`epsilon_for` turns "reaches +-x% along a parameter" into it)
    :param phi: (d,) current iterate ``x^[j]``; ``None`` for ``phi0``
    :param step_size: the Frank-Wolfe step ``alpha`` in ``(0, 1]``
    :return: (d,) the next iterate (a new array)
    :raises ValueError: shapes that do not match, non-finite values, ``epsilon <= 0``, ``step_size`` outside
        ``(0, 1]``, or a Hessian that is not symmetric positive definite
    """
    owner = "ellipsoid_step"
    phi0 = as_vector(owner, "phi0", phi0)
    grad = as_vector(owner, "grad", grad, phi0.size)
    hessian = check_hessian(owner, hessian, phi0.size)
    epsilon = check_number(owner, "epsilon", epsilon, low=0.0, low_open=True)
    step_size = check_number(owner, "step_size", step_size, low=0.0, high=1.0, low_open=True)
    start = phi0 if phi is None else as_vector(owner, "phi", phi, phi0.size)
    cholesky = _cholesky(owner, hessian)
    scale = np.abs(grad).max()
    if scale == 0.0:
        return start.copy()
    direction = _solve(cholesky, grad / scale)  # H0^-1 g, up to the positive factor 1 / scale
    curvature = float(grad / scale @ direction)  # g^T H0^-1 g > 0 for H0 positive definite and g != 0
    target = phi0 - np.sqrt(2.0 * epsilon / curvature) * direction  # Eq. 10
    if step_size == 1.0:
        return target
    return start + step_size * (target - start)


def frank_wolfe_step_size(iteration: int) -> float:
    """
    The classical Frank-Wolfe step ``alpha_j = 2 / (j + 2)``: 1 at ``j = 0`` (a jump to the Eq. 10 point).

    :param iteration: the inner iteration ``j >= 0``
    :return: ``alpha_j``
    """
    iteration = check_int("frank_wolfe_step_size", "iteration", iteration, 0)
    return 2.0 / (iteration + 2.0)


def frank_wolfe_gap(grad: Any, phi: Any, target: Any) -> float:
    """
    The Frank-Wolfe gap ``g . (phi - phi*)`` at the iterate ``phi``, with ``phi*`` the Eq. 10 point for ``g``.

    It is the largest decrease of the linearised return the ellipsoid allows from ``phi``: >= 0 for a feasible
    ``phi``, 0 exactly when ``phi`` minimises the linearisation. A termination rule for Algorithm 1's inner loop
    (the paper leaves it to the user: "the norm of the gradient being below a threshold" is its example).

    :param grad: (d,) gradient of the return at ``phi``
    :param phi: (d,) current iterate
    :param target: (d,) ``ellipsoid_step(grad, H0, phi0, epsilon)``
    :return: the gap
    """
    phi = as_vector("frank_wolfe_gap", "phi", phi)
    grad = as_vector("frank_wolfe_gap", "grad", grad, phi.size)
    target = as_vector("frank_wolfe_gap", "target", target, phi.size)
    return float(grad @ (phi - target))


def epsilon_for(hessian: Any, index: int, fraction: float, phi0: Any = None, reach: str = "axis") -> float:
    """
    The ball radius ``epsilon`` at which the ellipsoid just reaches a relative deviation along one parameter.

    The deviation is ``x = fraction`` in relative coordinates (``phi0 = None``: ``u = phi / phi_nominal - 1``,
    where the reference is 0 and ``u_i = 0.1`` means +10%), or ``x = fraction * |phi0[index]|`` in raw
    coordinates (``phi0`` given). ``shared/WAVE2.md`` 1.7, A7; the paper gives no epsilon values.

    - ``reach="axis"`` (default, WAVE2's rule): moving parameter ``index`` alone, the others at the reference.
      On the line ``Delta = t e_i`` the constraint ``1/2 t^2 H0_ii <= epsilon`` holds for
      ``|t| <= sqrt(2 epsilon / H0_ii)``; setting that to ``x`` gives ``epsilon = 1/2 H0_ii x^2``.
    - ``reach="extent"``: the ellipsoid's largest reach in coordinate ``index``, the others free. By
      Cauchy-Schwarz in the ``H0`` inner product, ``max Delta_i = sqrt(2 epsilon (H0^-1)_ii)`` (attained at
      ``Delta ~ H0^-1 e_i``, the Eq. 10 point for ``g = -e_i``), so ``epsilon = 1/2 x^2 / (H0^-1)_ii``. Since
      ``(H0^-1)_ii >= 1 / H0_ii`` this is never larger than the ``"axis"`` value: with ``"axis"``, the ball
      can reach beyond ``x`` in coordinate ``index`` when other parameters move along with it.

    :param hessian: (d, d) symmetric ``H0`` (positive definite for ``reach="extent"``; ``H0_ii > 0`` for ``"axis"``)
    :param index: the parameter's position in the vector, ``0 <= index < d``
    :param fraction: the relative deviation, > 0 (0.1 for +-10%)
    :param phi0: (d,) reference parameters when ``H0`` is in raw coordinates; ``None`` for relative coordinates
    :param reach: ``"axis"`` or ``"extent"``
    :return: ``epsilon``
    :raises ValueError: bad index, fraction, reach, a zero reference value, or a Hessian without curvature
        along the parameter
    """
    owner = "epsilon_for"
    hessian = check_hessian(owner, hessian)
    d = hessian.shape[0]
    index = check_int(owner, "index", index, 0)
    if index >= d:
        raise ValueError(f"{owner}: index must be in [0, {d}) for a ({d}, {d}) hessian, got {index}")
    fraction = check_number(owner, "fraction", fraction, low=0.0, low_open=True)
    if reach not in _REACH:
        raise ValueError(f"{owner}: reach must be one of {_REACH}, got {reach!r}")
    deviation = fraction
    if phi0 is not None:
        phi0 = as_vector(owner, "phi0", phi0, d)
        if phi0[index] == 0.0:
            raise ValueError(
                f"{owner}: phi0[{index}] is 0, so a relative deviation along it is 0; pass the Hessian in relative "
                "coordinates with phi0=None, or choose epsilon directly"
            )
        deviation = fraction * abs(phi0[index])
    if reach == "extent":
        inverse_diagonal = _solve(_cholesky(owner, hessian), np.eye(d)[index])[index]  # (H0^-1)_ii
        return float(0.5 * deviation**2 / inverse_diagonal)
    if hessian[index, index] <= 0.0:
        raise ValueError(
            f"{owner}: H0[{index}, {index}] = {hessian[index, index]:.3g} <= 0: the ball is unbounded along parameter "
            f"{index} (it does not change the next states); floor the Hessian first with project_positive_definite"
        )
    return float(0.5 * hessian[index, index] * deviation**2)
