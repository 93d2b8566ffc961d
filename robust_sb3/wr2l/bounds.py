"""Keeping WR2L's parameters inside the physically valid box of the env's ``ParamSpace`` (``shared/WAVE2.md`` 1.7, A8)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from robust_sb3.wr2l.checks import as_vector

__all__ = ["ClippedParams", "clip_to_bounds"]


class ClippedParams(NamedTuple):
    """
    The result of :func:`clip_to_bounds`.

    :param params: (d,) the parameters, inside the box
    :param clipped: (d,) boolean, True where a coordinate was moved onto a bound
    """

    params: np.ndarray
    clipped: np.ndarray

    @property
    def any(self) -> bool:
        """Whether any coordinate was clipped (WR2L logs how often, as ``wr2l/clip_fraction``)."""
        return bool(self.clipped.any())


def clip_to_bounds(phi: Any, low: Any, high: Any) -> ClippedParams:
    """
    Project parameters onto the box ``[low, high]``, coordinate by coordinate, reporting which were clipped.

    The Eq. 10 point can leave the physically valid range (a density below 0, say) when ``epsilon`` is large
    next to the curvature of ``W``; WR2L clips after each model step. A clipped point is still inside the
    ellipsoid when the ellipsoid's centre is inside the box, but no longer on its boundary. The box must be in
    the coordinates of ``phi`` (:func:`~robust_sb3.wr2l.coordinates.relative_bounds` converts a ``ParamSpace``'s
    raw bounds); infinite ends are allowed.

    :param phi: (d,) parameters
    :param low: (d,) lower bounds (``-inf`` allowed)
    :param high: (d,) upper bounds (``+inf`` allowed), ``>= low``
    :return: ``ClippedParams(params, clipped)``
    :raises ValueError: shapes that do not match, NaN or non-finite ``phi``, or ``low > high``
    """
    phi = as_vector("clip_to_bounds", "phi", phi)
    low = np.array(low, dtype=np.float64).reshape(-1)
    high = np.array(high, dtype=np.float64).reshape(-1)
    if low.shape != phi.shape or high.shape != phi.shape:
        raise ValueError(f"clip_to_bounds: low and high must have shape {phi.shape} like phi, got {low.shape}, {high.shape}")
    if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
        bad = np.flatnonzero(np.isnan(low) | np.isnan(high) | (low > high)).tolist()
        raise ValueError(f"clip_to_bounds: need low <= high without NaN; violated at positions {bad}: low={low}, high={high}")
    params = np.clip(phi, low, high)
    return ClippedParams(params, params != phi)
