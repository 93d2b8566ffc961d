"""
"PPO mean", WR2L's baseline of Figure 1: PPO on dynamics drawn uniformly from the Wasserstein ball.

The paper trains it "on dynamics drawn uniformly at random from the Wasserstein set" without saying how; the
ball is the ellipsoid ``{x : 1/2 (x - x0)^T H0 (x - x0) <= epsilon}`` of Eq. 9, and ``shared/WAVE2.md`` 1.7, A13
samples it as the image of the unit ball: ``x = x0 + sqrt(2 epsilon) L^-T z`` with ``H0 = L L^T`` and ``z``
uniform in the unit ball (a direction uniform on the sphere, a radius ``U^(1/d)``). The map is linear, so
uniform stays uniform. :func:`wasserstein_ball_set` turns such draws into a finite
:class:`~robust_envs.uncertainty.UncertaintySet` that :class:`~robust_envs.wrappers.DomainRandomization`
draws a member of at every reset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robust_envs.uncertainty import UncertaintySet
from robust_sb3.wr2l.checks import as_rng, as_vector, check_hessian, check_int, check_number
from robust_sb3.wr2l.parameterisation import DynamicsCoordinates

__all__ = ["sample_in_ellipsoid", "wasserstein_ball_set"]


def sample_in_ellipsoid(hessian: Any, epsilon: float, n: int, rng: Any = None, center: Any = None) -> np.ndarray:
    """
    Points uniformly distributed in ``{x : 1/2 (x - center)^T H (x - center) <= epsilon}``.

    :param hessian: (d, d) symmetric positive-definite ``H0``
    :param epsilon: the radius of the ball, > 0
    :param n: the number of points, >= 1
    :param rng: ``np.random.Generator``, int seed or ``None``
    :param center: (d,) the centre; ``None`` for the origin (the reference in relative coordinates)
    :return: (n, d) the points
    :raises ValueError: bad arguments or a Hessian that is not positive definite
    """
    owner = "sample_in_ellipsoid"
    hessian = check_hessian(owner, hessian)
    d = hessian.shape[0]
    epsilon = check_number(owner, "epsilon", epsilon, low=0.0, low_open=True)
    n = check_int(owner, "n", n, 1)
    rng = as_rng(owner, rng)
    center = np.zeros(d) if center is None else as_vector(owner, "center", center, d)
    try:
        cholesky = np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError as error:
        raise ValueError(f"{owner}: hessian must be positive definite; project it with project_positive_definite") from error
    directions = rng.standard_normal((n, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = rng.random(n) ** (1.0 / d)
    z = directions * radii[:, None]
    # x - center = sqrt(2 eps) L^-T z, so that 1/2 (x - c)^T L L^T (x - c) = eps |z|^2 <= eps
    offsets = np.linalg.solve(cholesky.T, z.T).T * np.sqrt(2.0 * epsilon)
    return center + offsets


def wasserstein_ball_set(
    env_id: str,
    coordinates: DynamicsCoordinates,
    hessian: Any,
    epsilon: float,
    n: int = 1000,
    rng: Any = None,
    name: str = "",
) -> UncertaintySet:
    """
    A finite uncertainty set of ``n`` settings drawn uniformly from the Wasserstein ball, for "PPO mean".

    Draws outside the allowed box (``coordinates.low``/``high``: physical bounds and trust region) are clipped onto
    it, as WR2L clips its own iterates; the returned set records how many were (in its ``source``).

    :param env_id: the env the set is for
    :param coordinates: the varied parameters, their reference and coordinates (those ``hessian`` is expressed in)
    :param hessian: (d, d) ``H0`` in those coordinates, positive definite (``model.hessian`` of a WR2L model)
    :param epsilon: the ball's radius (``model.epsilon``)
    :param n: the number of settings, >= 1
    :param rng: ``np.random.Generator``, int seed or ``None``
    :param name: the set's name
    :return: ``UncertaintySet.finite`` over the varied parameters, in physical units
    """
    points = sample_in_ellipsoid(hessian, epsilon, n, rng, center=coordinates.origin)
    clipped = np.clip(points, coordinates.low, coordinates.high)
    outside = int((clipped != points).any(axis=1).sum())
    members = [coordinates.to_dict(point) for point in clipped]
    source = (
        f"uniform in the Wasserstein ball 1/2 x^T H0 x <= {epsilon:.6g} ({coordinates.coords} coordinates of "
        f"{list(coordinates.names)}), {n} draws, {outside} clipped to the bounds (WR2L's 'PPO mean', A13)"
    )
    return UncertaintySet.finite(env_id, members, name=name or "wr2l/ppo-mean", source=source)
