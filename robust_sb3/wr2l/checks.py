"""Argument checks shared by WR2L's numerical pieces: each error names the function, the argument, the bad value and a fix."""

from __future__ import annotations

from typing import Any

import numpy as np

from robust_sb3.common.validation import check_int, check_number

__all__ = ["as_rng", "as_vector", "check_hessian", "check_int", "check_number"]


def as_vector(owner: str, name: str, value: Any, size: int | None = None) -> np.ndarray:
    """
    A finite 1-d float64 array (a copy).

    :param owner: the calling function's name, for the message
    :param name: the argument's name
    :param value: anything ``np.asarray`` accepts
    :param size: the required length; ``None`` for any length >= 1
    :return: the vector
    :raises ValueError: not 1-d, empty, of the wrong length, or not finite
    """
    try:
        vector = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: {name} must be a vector of floats, got {value!r}") from error
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"{owner}: {name} must be a non-empty 1-d vector, got shape {vector.shape}")
    if size is not None and vector.size != size:
        raise ValueError(f"{owner}: {name} must have length {size} (one entry per parameter), got length {vector.size}")
    if not np.isfinite(vector).all():
        raise ValueError(f"{owner}: {name} must be finite, got {vector}")
    return vector


def check_hessian(owner: str, hessian: Any, size: int | None = None, symmetric: bool = True) -> np.ndarray:
    """
    A finite, square (and by default symmetric) float64 matrix (a copy).

    Symmetry is checked to a relative tolerance of ``1e-8`` of the largest entry, the rounding a symmetric
    estimate picks up; the returned matrix is then exactly symmetric (``(H + H^T) / 2``).

    :param owner: the calling function's name, for the message
    :param hessian: the matrix
    :param size: the required side ``d``; ``None`` for any
    :param symmetric: require (and enforce) symmetry
    :return: the matrix
    :raises ValueError: wrong shape, not finite, or not symmetric
    """
    try:
        matrix = np.array(hessian, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: hessian must be a (d, d) matrix of floats, got {hessian!r}") from error
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"{owner}: hessian must be a square (d, d) matrix, got shape {matrix.shape}")
    if size is not None and matrix.shape[0] != size:
        raise ValueError(f"{owner}: hessian must be ({size}, {size}) to match the parameter vector, got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{owner}: hessian must be finite, got {matrix}")
    if symmetric:
        scale = np.abs(matrix).max()
        asymmetry = np.abs(matrix - matrix.T).max()
        if asymmetry > 1e-8 * scale:
            raise ValueError(
                f"{owner}: hessian must be symmetric, but max |H - H^T| = {asymmetry:.3g} (largest entry {scale:.3g}); "
                "pass its symmetric part, e.g. robust_sb3.wr2l.project_positive_definite(H)"
            )
        matrix = 0.5 * (matrix + matrix.T)
    return matrix


def as_rng(owner: str, rng: Any) -> np.random.Generator:
    """
    :param owner: the calling function's name, for the message
    :param rng: a ``np.random.Generator``, an int seed or ``None`` (fresh entropy)
    :return: the generator (the same object when one was passed, so its state advances)
    :raises TypeError: anything else (the legacy ``np.random.RandomState`` included)
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{owner}: rng must be a numpy Generator (np.random.default_rng(seed)), an int seed or None, got {rng!r}")
