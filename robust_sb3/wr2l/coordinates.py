"""
Relative coordinates ``u = phi / phi_nominal - 1`` in which WR2L estimates ``H0``, takes gradients and draws the ball.

Physical parameters differ by orders of magnitude (densities ~1e3, dampings ~1), so one ``sigma`` or one
finite-difference step in raw units fits none of them; ``shared/WAVE2.md`` 1.7, A1 defines ``sigma``, ``h``
and the ball in relative coordinates, where ``u = 0`` is the nominal model and ``u_i = 0.1`` means +10%.
The map is affine with Jacobian ``D = diag(phi_nominal)``, so a Hessian transforms as ``H_u = D H_raw D``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from robust_sb3.wr2l.checks import as_vector, check_hessian

__all__ = ["from_relative", "in_relative_coordinates", "relative_bounds", "relative_hessian", "to_relative"]


def _nominal(owner: str, nominal: Any) -> np.ndarray:
    nominal = as_vector(owner, "nominal", nominal)
    zero = np.flatnonzero(nominal == 0.0)
    if zero.size:
        raise ValueError(
            f"{owner}: nominal values at positions {zero.tolist()} are 0, where relative coordinates u = phi / nominal - 1 "
            "are undefined; leave those parameters out of the parameterisation or use raw coordinates"
        )
    return nominal


def to_relative(phi: Any, nominal: Any) -> np.ndarray:
    """
    ``u = phi / phi_nominal - 1``.

    :param phi: (d,) or (K, d) raw parameters
    :param nominal: (d,) nominal parameters, none of them 0
    :return: relative coordinates, same shape as ``phi``
    """
    nominal = _nominal("to_relative", nominal)
    return np.asarray(phi, dtype=np.float64) / nominal - 1.0


def from_relative(u: Any, nominal: Any) -> np.ndarray:
    """
    ``phi = phi_nominal (1 + u)``, the inverse of :func:`to_relative`.

    :param u: (d,) or (K, d) relative coordinates
    :param nominal: (d,) nominal parameters, none of them 0
    :return: raw parameters, same shape as ``u``
    """
    nominal = _nominal("from_relative", nominal)
    return nominal * (1.0 + np.asarray(u, dtype=np.float64))


def relative_hessian(hessian: Any, nominal: Any) -> np.ndarray:
    """
    A Hessian in raw coordinates expressed in relative ones: ``H_u = D H_raw D`` with ``D = diag(phi_nominal)``.

    :param hessian: (d, d) symmetric Hessian with respect to raw parameters
    :param nominal: (d,) nominal parameters
    :return: (d, d) the Hessian with respect to ``u``
    """
    nominal = _nominal("relative_hessian", nominal)
    hessian = check_hessian("relative_hessian", hessian, nominal.size)
    return nominal[:, None] * hessian * nominal[None, :]


def relative_bounds(low: Any, high: Any, nominal: Any) -> tuple[np.ndarray, np.ndarray]:
    """
    Box bounds (a ``ParamSpace``'s ``low`` and ``high``) in relative coordinates.

    A negative nominal value reverses the order of the ends; the returned ``low <= high`` either way.
    Infinite ends stay infinite.

    :param low: (d,) lower bounds in raw units
    :param high: (d,) upper bounds in raw units
    :param nominal: (d,) nominal parameters
    :return: ``(low_u, high_u)``
    """
    nominal = _nominal("relative_bounds", nominal)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != nominal.shape or high.shape != nominal.shape or np.isnan(low).any() or np.isnan(high).any():
        raise ValueError(
            f"relative_bounds: low and high must be ({nominal.size},) vectors without NaN, got {low!r} and {high!r}"
        )
    ends = np.stack([low, high])
    with np.errstate(invalid="ignore"):
        relative = ends / nominal - 1.0
    return relative.min(axis=0), relative.max(axis=0)


def in_relative_coordinates(function: Callable[..., Any], nominal: Any) -> Callable[..., Any]:
    """
    Wrap a batched function of raw parameters into the same function of relative coordinates.

    ``in_relative_coordinates(f, nominal)(u, *args) == f(from_relative(u, nominal), *args)``; the estimators of
    :mod:`robust_sb3.wr2l.hessian` and :mod:`robust_sb3.wr2l.gradient` then run in ``u`` around ``u = 0``.

    :param function: ``f(params, *args)`` with ``params`` (K, d) raw parameters
    :param nominal: (d,) nominal parameters
    :return: the wrapped function
    """
    nominal = _nominal("in_relative_coordinates", nominal)

    def relative_function(u: np.ndarray, *args: Any) -> Any:
        return function(nominal * (1.0 + np.asarray(u, dtype=np.float64)), *args)

    return relative_function
