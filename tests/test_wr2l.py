"""WR2L's model-phase pieces (robust_sb3.wr2l): Eq. 10, epsilon_for, the Hessian estimators, Proposition 1, coordinates."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from robust_sb3.wr2l import (
    WR2LConfig,
    ball_value,
    clip_to_bounds,
    ellipsoid_step,
    epsilon_for,
    frank_wolfe_gap,
    frank_wolfe_step_size,
    from_relative,
    gauss_newton_hessian,
    in_relative_coordinates,
    project_positive_definite,
    relative_bounds,
    relative_hessian,
    to_relative,
    zero_order_gradient,
    zero_order_hessian,
)

pytestmark = pytest.mark.sb3


def random_spd(rng: np.random.Generator, d: int, condition: float = 100.0) -> np.ndarray:
    """A random symmetric positive-definite matrix with eigenvalues log-spaced in [1, condition]."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.geomspace(1.0, condition, d)) @ q.T


def boundary_points(rng: np.random.Generator, hessian: np.ndarray, phi0: np.ndarray, epsilon: float, n: int) -> np.ndarray:
    """n points uniformly spread in direction on the ellipsoid 1/2 (x - phi0)^T H (x - phi0) = epsilon."""
    cholesky = np.linalg.cholesky(hessian)  # H = L L^T; Delta = sqrt(2 eps) L^-T z / |z| lies on the boundary
    z = rng.standard_normal((n, len(phi0)))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return phi0 + np.sqrt(2.0 * epsilon) * np.linalg.solve(cholesky.T, z.T).T


# ---- Eq. 10: the closed-form step ---------------------------------------------------------------------------------


def test_ellipsoid_step_hand_computed():
    # H = diag(2, 8), g = (1, 1), eps = 1: H^-1 g = (1/2, 1/8), g^T H^-1 g = 5/8, sqrt(2 eps / (5/8)) = 4 / sqrt(5),
    # so the step is (2 / sqrt(5), 1 / (2 sqrt(5))) and 1/2 (2 * 4/5 + 8 * 1/20) = 1 = eps
    hessian = np.diag([2.0, 8.0])
    phi0 = np.array([1.0, -1.0])
    target = ellipsoid_step([1.0, 1.0], hessian, phi0, 1.0)
    expected = phi0 - np.array([2.0, 0.5]) / np.sqrt(5.0)
    np.testing.assert_allclose(target, expected, rtol=1e-15)
    assert ball_value(target, hessian, phi0) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_ellipsoid_step_minimises_on_the_boundary(seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed
    hessian, phi0, grad = random_spd(rng, d), rng.standard_normal(d), rng.standard_normal(d)
    epsilon = float(rng.uniform(0.01, 2.0))
    target = ellipsoid_step(grad, hessian, phi0, epsilon)
    assert ball_value(target, hessian, phi0) == pytest.approx(epsilon, rel=1e-12)
    # every other boundary point has a larger objective (and so has every interior point: the minimum of a
    # linear function on a convex body is on its boundary)
    others = boundary_points(rng, hessian, phi0, epsilon, 2000)
    assert (others @ grad >= target @ grad - 1e-12).all()
    assert grad @ phi0 > grad @ target


@pytest.mark.parametrize("seed", range(3))
def test_ellipsoid_step_matches_a_constrained_optimiser(seed):
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(100 + seed)
    d = 4
    hessian, phi0, grad = random_spd(rng, d, condition=30.0), rng.standard_normal(d), rng.standard_normal(d)
    epsilon = 0.5
    result = optimize.minimize(
        lambda x: grad @ x,
        phi0,
        jac=lambda x: grad,
        method="SLSQP",
        constraints=[
            {
                "type": "ineq",
                "fun": lambda x: epsilon - 0.5 * (x - phi0) @ hessian @ (x - phi0),
                "jac": lambda x: -hessian @ (x - phi0),
            }
        ],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    target = ellipsoid_step(grad, hessian, phi0, epsilon)
    np.testing.assert_allclose(target, result.x, atol=1e-5)
    assert grad @ target <= result.fun + 1e-9  # never worse than the optimiser (and feasible, see above)


def test_ellipsoid_step_depends_on_the_direction_of_the_gradient_only():
    rng = np.random.default_rng(1)
    hessian, phi0, grad = random_spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    target = ellipsoid_step(grad, hessian, phi0, 0.3)
    for factor in (1e-200, 1e-3, 7.0, 1e200):
        np.testing.assert_allclose(ellipsoid_step(factor * grad, hessian, phi0, 0.3), target, rtol=1e-12)


def test_ellipsoid_step_zero_gradient_stays_put():
    hessian, phi0, phi = np.eye(2), np.array([1.0, 2.0]), np.array([1.1, 2.1])
    np.testing.assert_array_equal(ellipsoid_step([0.0, 0.0], hessian, phi0, 0.1), phi0)
    out = ellipsoid_step([0.0, 0.0], hessian, phi0, 0.1, phi=phi, step_size=0.5)
    np.testing.assert_array_equal(out, phi)
    assert out is not phi


def test_frank_wolfe_step_from_the_current_iterate():
    rng = np.random.default_rng(2)
    hessian, phi0, grad = random_spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    epsilon = 0.2
    target = ellipsoid_step(grad, hessian, phi0, epsilon)
    phi = boundary_points(rng, hessian, phi0, epsilon, 1)[0] * 0.5 + phi0 * 0.5  # inside
    # alpha = 1 jumps to the Eq. 10 point whatever the iterate (Algorithm 1, lines 7-8)
    np.testing.assert_array_equal(ellipsoid_step(grad, hessian, phi0, epsilon, phi=phi), target)
    step = ellipsoid_step(grad, hessian, phi0, epsilon, phi=phi, step_size=0.25)
    np.testing.assert_allclose(step, phi + 0.25 * (target - phi), rtol=1e-14)
    assert ball_value(step, hessian, phi0) <= epsilon  # convex combination of feasible points
    # phi=None starts from phi0 (the literal x^[0] = phi^[0] = phi0 of Algorithm 1)
    np.testing.assert_allclose(ellipsoid_step(grad, hessian, phi0, epsilon, step_size=0.5), 0.5 * (phi0 + target))
    assert frank_wolfe_gap(grad, phi, target) > 0
    assert frank_wolfe_gap(grad, target, target) == 0
    assert [frank_wolfe_step_size(j) for j in range(3)] == [1.0, 2.0 / 3.0, 0.5]


def test_frank_wolfe_iterations_solve_eq_9():
    # Algorithm 1's inner loop with exact gradients of a convex return J(x) = c.x + 1/2 x^T Q x on the ellipsoid:
    # the Frank-Wolfe iterates with alpha_j = 2 / (j + 2) converge to the constrained minimiser (rate O(1/j))
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(3)
    d = 3
    hessian, q = random_spd(rng, d, 10.0), random_spd(rng, d, 5.0)
    phi0, c, epsilon = np.zeros(d), rng.standard_normal(d) * 5.0, 0.5
    x = phi0.copy()
    for j in range(3000):
        x = ellipsoid_step(c + q @ x, hessian, phi0, epsilon, phi=x, step_size=frank_wolfe_step_size(j))
    result = optimize.minimize(
        lambda y: c @ y + 0.5 * y @ q @ y,
        phi0,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda y: epsilon - 0.5 * y @ hessian @ y}],
        options={"ftol": 1e-14},
    )
    np.testing.assert_allclose(x, result.x, atol=5e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"grad": [1.0, 2.0, 3.0]}, "grad must have length 2"),
        ({"grad": [1.0, float("inf")]}, "grad must be finite"),
        ({"hessian": np.ones((2, 3))}, "square"),
        ({"hessian": np.eye(3)}, r"\(2, 2\)"),
        ({"hessian": [[1.0, 0.5], [0.0, 1.0]]}, "symmetric"),
        ({"hessian": np.diag([1.0, -1.0])}, "positive definite.*project_positive_definite"),
        ({"hessian": np.zeros((2, 2))}, "positive definite"),
        ({"phi": [0.0]}, "phi must have length 2"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": 1.5}, "step_size"),
        ({"phi0": [[0.0, 0.0]]}, "1-d"),
    ],
)
def test_ellipsoid_step_bad_arguments(kwargs, match):
    arguments = {"grad": [1.0, 0.0], "hessian": np.eye(2), "phi0": [0.0, 0.0], "epsilon": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        ellipsoid_step(**arguments)


# ---- epsilon_for ---------------------------------------------------------------------------------------------------


def test_epsilon_for_axis_reaches_the_deviation_along_the_axis():
    rng = np.random.default_rng(4)
    hessian = random_spd(rng, 3)
    epsilon = epsilon_for(hessian, 1, 0.2)  # relative coordinates: reference 0, +-20% is a step of 0.2
    assert epsilon == pytest.approx(0.5 * hessian[1, 1] * 0.2**2, rel=1e-15)
    for sign in (1.0, -1.0):
        assert ball_value(sign * 0.2 * np.eye(3)[1], hessian, np.zeros(3)) == pytest.approx(epsilon, rel=1e-14)


def test_epsilon_for_raw_coordinates_matches_relative():
    rng = np.random.default_rng(5)
    nominal = np.array([1000.0, -2.0, 0.5])
    hessian_raw = random_spd(rng, 3) / nominal[:, None] / nominal[None, :]
    epsilon = epsilon_for(hessian_raw, 1, 0.1, phi0=nominal)
    assert epsilon == pytest.approx(0.5 * hessian_raw[1, 1] * (0.1 * 2.0) ** 2, rel=1e-14)
    assert epsilon == pytest.approx(epsilon_for(relative_hessian(hessian_raw, nominal), 1, 0.1), rel=1e-12)
    # phi0 + 10% |phi0_i| along axis i is on the boundary
    phi = nominal + 0.1 * np.abs(nominal[1]) * np.eye(3)[1]
    assert ball_value(phi, hessian_raw, nominal) == pytest.approx(epsilon, rel=1e-12)


def test_epsilon_for_extent_is_the_largest_reach():
    rng = np.random.default_rng(6)
    hessian = random_spd(rng, 4)
    for index in range(4):
        epsilon = epsilon_for(hessian, index, 0.3, reach="extent")
        assert epsilon <= epsilon_for(hessian, index, 0.3) * (1 + 1e-12)
        # the boundary point that maximises coordinate i is the Eq. 10 point for g = -e_i
        far = ellipsoid_step(-np.eye(4)[index], hessian, np.zeros(4), epsilon)
        assert far[index] == pytest.approx(0.3, rel=1e-12)
        others = boundary_points(rng, hessian, np.zeros(4), epsilon, 500)
        assert others[:, index].max() <= 0.3 + 1e-12


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.eye(2), 2, 0.1), {}, r"index must be in \[0, 2\)"),
        ((np.eye(2), -1, 0.1), {}, "index"),
        ((np.eye(2), 1.0, 0.1), {}, "index"),
        ((np.eye(2), 0, 0.0), {}, "fraction"),
        ((np.eye(2), 0, 0.1), {"reach": "max"}, "reach"),
        ((np.eye(2), 0, 0.1), {"phi0": [0.0, 1.0]}, "phi0\\[0\\] is 0"),
        ((np.diag([0.0, 1.0]), 0, 0.1), {}, "unbounded"),
        ((np.diag([-1.0, 1.0]), 0, 0.1), {"reach": "extent"}, "positive definite"),
    ],
)
def test_epsilon_for_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        epsilon_for(*args, **kwargs)


# ---- project_positive_definite ----------------------------------------------------------------------------------


def test_project_positive_definite_floors_eigenvalues_only():
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    eigenvalues = np.array([-2.0, 1e-9, 0.5, 3.0])
    matrix = (q * eigenvalues) @ q.T
    asymmetric = matrix + np.triu(np.ones((4, 4)), 1) - np.tril(np.ones((4, 4)), -1)  # antisymmetric part added
    projected = project_positive_definite(asymmetric, min_eigenvalue=0.1)
    np.testing.assert_allclose(projected, projected.T, atol=0)
    np.testing.assert_allclose(projected, (q * np.array([0.1, 0.1, 0.5, 3.0])) @ q.T, atol=1e-12)
    np.linalg.cholesky(projected)
    # a matrix above the floor is returned unchanged
    spd = random_spd(rng, 4)
    np.testing.assert_allclose(project_positive_definite(spd, min_eigenvalue=0.5), spd, atol=1e-12)


def test_project_positive_definite_relative_floor():
    matrix = np.diag([4.0, 0.0, -1.0])  # mean positive eigenvalue 4/3
    projected = project_positive_definite(matrix)
    np.testing.assert_allclose(np.diag(projected), [4.0, 1e-6 * 4.0 / 3.0, 1e-6 * 4.0 / 3.0], rtol=1e-12)
    assert np.linalg.eigvalsh(project_positive_definite(matrix, relative_floor=1e-2)).min() == pytest.approx(4.0 / 300.0)


@pytest.mark.parametrize(
    ("matrix", "kwargs", "match"),
    [
        (np.zeros((2, 2)), {}, "no positive eigenvalue"),
        (-np.eye(2), {}, "no positive eigenvalue"),
        (np.eye(2), {"min_eigenvalue": 0.0}, "min_eigenvalue"),
        (np.eye(2), {"relative_floor": -1.0}, "relative_floor"),
        (np.ones(3), {}, "square"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, "finite"),
    ],
)
def test_project_positive_definite_bad_arguments(matrix, kwargs, match):
    with pytest.raises(ValueError, match=match):
        project_positive_definite(matrix, **kwargs)


# ---- Hessian estimators on a linear-Gaussian toy ------------------------------------------------------------------
# Next state of row n: s'_n = B_n phi + c_n + noise_n, the noise fixed per row (common random numbers). Gaussians
# with equal covariance have W2^2 = |mean difference|^2, so W(phi) = mean_n |B_n (phi - phi0)|^2 and
# H0 = 2 mean_n B_n^T B_n exactly (2 A^T A when every B_n = A).


def linear_gaussian(b: np.ndarray, c: np.ndarray, noise: np.ndarray):
    """The toy simulator: (K, d) params -> (N, K, obs_dim) next states."""

    def next_states(params: np.ndarray) -> np.ndarray:
        return np.einsum("nod,kd->nko", b, params) + (c + noise)[:, None, :]

    return next_states


def toy(seed: int, n: int = 20, obs_dim: int = 5, d: int = 3, spread: float = 0.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((obs_dim, d))
    b = a + spread * rng.standard_normal((n, obs_dim, d))
    c, noise = rng.standard_normal((n, obs_dim)), rng.standard_normal((n, obs_dim))
    return a, b, linear_gaussian(b, c, noise), rng.standard_normal(d)


def test_gauss_newton_is_exact_on_the_linear_toy():
    a, _, simulator, phi0 = toy(0)
    estimate = gauss_newton_hessian(simulator, phi0, deltas=1e-2)
    np.testing.assert_allclose(estimate.hessian, 2 * a.T @ a, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(estimate.stderr, 0.0, atol=1e-9)  # every row has the same B_n = A
    assert estimate.n_evaluations == 6
    # state-dependent B_n: exact for the rows given
    _, b, simulator, phi0 = toy(1, spread=0.5)
    estimate = gauss_newton_hessian(simulator, phi0, deltas=[1e-3, 1.0, 10.0])
    np.testing.assert_allclose(estimate.hessian, 2 * np.einsum("nod,noe->de", b, b) / len(b), rtol=1e-9)


def test_gauss_newton_stderr_covers_the_population_hessian():
    # B_n = A + Z_n with Z_n iid N(0, tau^2): E[B^T B] = A^T A + tau^2 obs_dim I. The estimate over N rows must be
    # within 4.5 standard errors of it entrywise (deterministic under the seed; about 1 in 10^4 per entry by chance)
    tau, obs_dim = 0.5, 5
    a, _, simulator, phi0 = toy(2, n=400, obs_dim=obs_dim, spread=tau)
    population = 2 * (a.T @ a + tau**2 * obs_dim * np.eye(3))
    estimate = gauss_newton_hessian(simulator, phi0)
    assert (np.abs(estimate.hessian - population) <= 4.5 * estimate.stderr).all()
    assert (estimate.stderr > 0).all()


def nonlinear(seed: int, n: int = 30, obs_dim: int = 4, d: int = 3):
    """s'_n = tanh(B_n phi) + c_n: H0 = 2 mean_n J_n^T J_n with J_n = diag(1 - tanh^2(B_n phi0)) B_n."""
    rng = np.random.default_rng(seed)
    b, c = rng.standard_normal((n, obs_dim, d)), rng.standard_normal((n, obs_dim))
    phi0 = 0.3 * rng.standard_normal(d)

    def next_states(params: np.ndarray) -> np.ndarray:
        return np.tanh(np.einsum("nod,kd->nko", b, params)) + c[:, None, :]

    jacobians = (1 - np.tanh(b @ phi0) ** 2)[:, :, None] * b
    return next_states, phi0, 2 * np.einsum("nod,noe->de", jacobians, jacobians) / n


def finite_difference_hessian(simulator, phi0: np.ndarray, step: float) -> np.ndarray:
    """The Hessian of W(phi) = mean_n |f_n(phi) - f_n(phi0)|^2 at phi0 by second differences of W itself."""
    d = len(phi0)
    reference = simulator(phi0[None])[:, 0]

    def w(phi: np.ndarray) -> float:
        return float(((simulator(phi[None])[:, 0] - reference) ** 2).sum(axis=1).mean())

    hessian = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            ei, ej = step * np.eye(d)[i], step * np.eye(d)[j]
            hessian[i, j] = (w(phi0 + ei + ej) - w(phi0 + ei - ej) - w(phi0 - ei + ej) + w(phi0 - ei - ej)) / (4 * step**2)
    return hessian


def test_gauss_newton_on_a_nonlinear_simulator():
    simulator, phi0, exact = nonlinear(3)
    errors = [np.abs(gauss_newton_hessian(simulator, phi0, h).hessian - exact).max() for h in (1e-2, 1e-3)]
    assert errors[1] < 1e-5 * np.abs(exact).max()
    assert errors[1] < errors[0] / 30  # central differences: O(h^2)
    # the Gauss-Newton matrix is the Hessian of W at phi0 (the residual term vanishes there)
    np.testing.assert_allclose(finite_difference_hessian(simulator, phi0, 1e-3), exact, atol=1e-4 * np.abs(exact).max())


def test_zero_order_hessian_is_unbiased_on_the_linear_toy():
    # W is exactly quadratic, so Proposition 2 is unbiased; the tolerance is the estimator's own standard error
    # (about d / sqrt(M) in relative Frobenius error, shared/WAVE2.md 1.4): 4.5 standard errors entrywise
    a, _, simulator, phi0 = toy(4)
    exact = 2 * a.T @ a
    estimate = zero_order_hessian(simulator, phi0, sigma=0.1, n_samples=4000, rng=0)
    assert estimate.n_evaluations == 1 + 2 * 4000
    assert (np.abs(estimate.hessian - exact) <= 4.5 * estimate.stderr).all()
    # E|H_hat - H|_F^2 is the sum of the entries' variances, so the error is about |stderr|_F (here ~0.15 |H|_F)
    assert np.linalg.norm(estimate.hessian - exact) <= 3.0 * np.linalg.norm(estimate.stderr)
    np.testing.assert_allclose(estimate.hessian, estimate.hessian.T, atol=0)


def test_zero_order_hessian_stderr_is_honest():
    # the reported standard error matches the spread over independent seeds
    a, _, simulator, phi0 = toy(5, d=2)
    estimates = [zero_order_hessian(simulator, phi0, 0.2, 200, rng=seed, antithetic=False) for seed in range(60)]
    spread = np.std([e.hessian for e in estimates], axis=0, ddof=1)
    reported = np.mean([e.stderr for e in estimates], axis=0)
    assert np.all((0.6 < spread / reported) & (spread / reported < 1.6))
    # the mean over seeds is unbiased within its own standard error
    mean = np.mean([e.hessian for e in estimates], axis=0)
    assert (np.abs(mean - 2 * a.T @ a) <= 4.5 * spread / np.sqrt(len(estimates))).all()


def test_zero_order_hessian_antithetic_pairs_cancel_odd_terms():
    # mirroring the simulator around phi0 maps W(phi0 + xi) to W(phi0 - xi): the antithetic estimate is unchanged
    simulator, phi0, _ = nonlinear(6)

    def mirrored(params):
        return simulator(2 * phi0 - params)

    first = zero_order_hessian(simulator, phi0, 0.3, 300, rng=1)
    second = zero_order_hessian(mirrored, phi0, 0.3, 300, rng=1)
    np.testing.assert_allclose(first.hessian, second.hessian, rtol=1e-10, atol=1e-12)
    plain = zero_order_hessian(mirrored, phi0, 0.3, 300, rng=1, antithetic=False)
    assert np.abs(plain.hessian - zero_order_hessian(simulator, phi0, 0.3, 300, rng=1, antithetic=False).hessian).max() > 1e-6


def test_zero_order_hessian_is_deterministic_and_chunk_independent():
    _, _, simulator, phi0 = toy(7)
    calls = []

    def counting(params):
        calls.append(len(params))
        return simulator(params)

    reference = zero_order_hessian(counting, phi0, 0.1, 100, rng=3, chunk_size=64)
    assert max(calls) <= 64 and sum(calls) == reference.n_evaluations
    for chunk_size in (2, 7, 1000):
        np.testing.assert_allclose(
            zero_order_hessian(simulator, phi0, 0.1, 100, rng=3, chunk_size=chunk_size).hessian,
            reference.hessian,
            rtol=1e-12,
        )
    np.testing.assert_array_equal(
        zero_order_hessian(simulator, phi0, 0.1, 100, rng=np.random.default_rng(3)).hessian, reference.hessian
    )


def test_zero_order_and_gauss_newton_agree_on_a_nonlinear_simulator():
    # Proposition 2 estimates the Hessian of the Gaussian-smoothed W: an O(sigma^2) bias on top of its sampling error
    simulator, phi0, exact = nonlinear(8, d=2)
    estimate = zero_order_hessian(simulator, phi0, 0.02, 4000, rng=0)
    gauss_newton = gauss_newton_hessian(simulator, phi0, 1e-3).hessian
    np.testing.assert_allclose(gauss_newton, exact, rtol=1e-5)
    assert (np.abs(estimate.hessian - gauss_newton) <= 4.5 * estimate.stderr + 0.01 * np.abs(exact).max()).all()


def test_state_scale_divides_the_state_dimensions():
    a, _, simulator, phi0 = toy(9)
    scale = np.array([1.0, 2.0, 4.0, 0.5, 1.0])
    scaled = a / scale[:, None]
    np.testing.assert_allclose(
        gauss_newton_hessian(simulator, phi0, state_scale=scale).hessian, 2 * scaled.T @ scaled, rtol=1e-9
    )
    first = zero_order_hessian(simulator, phi0, 0.1, 50, rng=0, state_scale=scale).hessian
    second = zero_order_hessian(
        linear_gaussian(scaled[None].repeat(20, 0), np.zeros((20, 5)), np.zeros((20, 5))), phi0, 0.1, 50, rng=0
    )
    np.testing.assert_allclose(first, second.hessian, rtol=1e-9)


@pytest.mark.parametrize(
    ("estimator", "kwargs", "match"),
    [
        (gauss_newton_hessian, {"deltas": 0.0}, "deltas"),
        (gauss_newton_hessian, {"deltas": [1e-2, -1e-2, 1e-2]}, "deltas"),
        (gauss_newton_hessian, {"deltas": [1e-2, 1e-2]}, "length 3"),
        (gauss_newton_hessian, {"state_scale": np.zeros(5)}, "state_scale"),
        (zero_order_hessian, {"sigma": 0.0, "n_samples": 10}, "sigma"),
        (zero_order_hessian, {"sigma": 0.1, "n_samples": 0}, "n_samples"),
        (zero_order_hessian, {"sigma": 0.1, "n_samples": 10, "chunk_size": 1}, "chunk_size"),
        (zero_order_hessian, {"sigma": 0.1, "n_samples": 10, "state_scale": np.ones(4)}, "state_scale"),
    ],
)
def test_hessian_estimators_bad_arguments(estimator, kwargs, match):
    _, _, simulator, phi0 = toy(0)
    with pytest.raises(ValueError, match=match):
        estimator(simulator, phi0, **kwargs)


@pytest.mark.parametrize("estimator", [gauss_newton_hessian, lambda f, p: zero_order_hessian(f, p, 0.1, 4)])
@pytest.mark.parametrize(
    "bad_simulator",
    [
        lambda params: np.zeros((3, len(params))),  # no obs axis
        lambda params: np.zeros((3, len(params) + 1, 2)),  # wrong K
        lambda params: np.full((3, len(params), 2), np.nan),
    ],
)
def test_hessian_estimators_check_the_simulator(estimator, bad_simulator):
    with pytest.raises(ValueError, match="next_state_fn"):
        estimator(bad_simulator, np.zeros(2))


def test_hessian_estimators_on_robust_pendulum():
    # GN, Proposition 2 and second differences of W agree on RobustPendulum-v0 (smooth dynamics), in relative
    # coordinates around the nominal parameters, over random-policy state-action pairs (shared/WAVE2.md 1.4)
    gym = pytest.importorskip("gymnasium")
    import robust_envs  # noqa: F401

    env = gym.make("RobustPendulum-v0").unwrapped
    env.reset(seed=0)
    env.action_space.seed(0)
    states, actions = [], []
    for _ in range(200):
        action = env.action_space.sample()
        states.append(env.get_state())
        actions.append(action)
        env.step(action)
    states, actions = np.array(states), np.array(actions)
    keep = np.abs(states[:, 0]) < 2.5  # away from the angle wrap at +-pi, where the observation jumps
    states, actions = states[keep], actions[keep]
    nominal = env.param_space.nominal

    def next_states(params):
        return env.sample_next_states(states, actions, params).observations.astype(np.float64)

    simulator = in_relative_coordinates(next_states, nominal)
    origin = np.zeros(len(nominal))
    gauss_newton = gauss_newton_hessian(simulator, origin, 1e-3).hessian
    scale = np.abs(gauss_newton).max()
    np.testing.assert_allclose(finite_difference_hessian(simulator, origin, 1e-2), gauss_newton, atol=2e-3 * scale)
    zero_order = zero_order_hessian(simulator, origin, 0.05, 12000, rng=0)
    assert (np.abs(zero_order.hessian - gauss_newton) <= 4.5 * zero_order.stderr + 0.02 * scale).all()
    # not vacuous, but loose: at d = 4 and M = 12000 pairs one standard error is still ~6% of the largest entry
    # (Proposition 2 is sample-hungry, shared/WAVE2.md 1.4), so "agree" here means within ~25% of it
    assert np.abs(zero_order.stderr).max() < 0.07 * scale
    # physics: one step depends on (m, l, mu, g) only through m l^2, mu / (m l^2) and g / l, so to first order
    # u = (-2, 1, 0, 1) (mass down 2%, length and gravity up 1%) leaves every next state unchanged: a null
    # direction of H0, which the projection floors, and which bounds (not the ball) must limit
    null = np.array([-2.0, 1.0, 0.0, 1.0]) / np.sqrt(6.0)
    assert np.abs(gauss_newton @ null).max() < 1e-5 * scale
    projected = project_positive_definite(gauss_newton)
    assert null @ projected @ null == pytest.approx(1e-6 * np.trace(gauss_newton) / 4, rel=1e-3)
    step = ellipsoid_step(np.ones(4), projected, origin, epsilon_for(projected, 1, 0.1))
    assert ball_value(step, projected, origin) == pytest.approx(epsilon_for(projected, 1, 0.1), rel=1e-9)
    # the raw-coordinate estimate maps onto the relative one (H_u = D H_raw D)
    raw = gauss_newton_hessian(next_states, nominal, 1e-3 * nominal).hessian
    np.testing.assert_allclose(relative_hessian(raw, nominal), gauss_newton, rtol=1e-6, atol=1e-9 * scale)


# ---- Proposition 1: the gradient ----------------------------------------------------------------------------------


def quadratic_return(q: np.ndarray, centre: np.ndarray, offset: float = 0.0):
    """J(phi) = offset - 1/2 (phi - centre)^T Q (phi - centre), batched; the seeds are ignored."""

    def return_fn(params: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        delta = params - centre
        return offset - 0.5 * np.einsum("ki,ij,kj->k", delta, q, delta)

    return return_fn


def test_zero_order_gradient_pairs_cancel_even_terms_exactly():
    # for a quadratic J, J(phi + xi) - J(phi - xi) = 2 grad J(phi) . xi, so g = S grad J with S = sum xi xi^T / (N sigma^2)
    rng = np.random.default_rng(10)
    q, centre, phi = random_spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    seen = []
    inner = quadratic_return(q, centre, offset=1e3)

    def recording(params, seeds):
        seen.append((params.copy(), seeds.copy()))
        return inner(params, seeds)

    estimate = zero_order_gradient(recording, phi, sigma=0.1, n_pairs=5, rng=0)
    params, seeds = seen[0]
    xi = params[:5] - phi
    np.testing.assert_allclose(params[5:], phi - xi, rtol=1e-14)
    np.testing.assert_array_equal(seeds[:5], seeds[5:])  # common random numbers within each pair
    exact = -q @ (phi - centre)
    np.testing.assert_allclose(estimate.gradient, xi.T @ xi / (5 * 0.1**2) @ exact, rtol=1e-9)
    # the constant cancels: the same draws without the offset give the same gradient
    np.testing.assert_allclose(
        zero_order_gradient(quadratic_return(q, centre), phi, 0.1, 5, 0).gradient, estimate.gradient, rtol=1e-9
    )
    assert estimate.mean_return == pytest.approx(inner(params, seeds).mean(), rel=1e-15)


def test_zero_order_gradient_common_random_numbers_cancel_seed_noise():
    rng = np.random.default_rng(11)
    q, centre, phi = random_spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    clean = quadratic_return(q, centre)

    def noisy(params, seeds):  # episode noise determined by the seed alone, large next to the signal
        return clean(params, seeds) + np.array([np.random.default_rng(int(s)).normal(0.0, 100.0) for s in seeds])

    np.testing.assert_allclose(
        zero_order_gradient(noisy, phi, 0.1, 6, rng=2).gradient,
        zero_order_gradient(clean, phi, 0.1, 6, rng=2).gradient,
        rtol=1e-6,
    )


def test_zero_order_gradient_is_unbiased():
    # Stein's identity is exact for a quadratic J: the mean over 400 seeds is within 4.5 standard errors (of the
    # mean over seeds) of the true gradient, entrywise; the per-call stderr matches the spread over seeds
    rng = np.random.default_rng(12)
    q, centre, phi = random_spd(rng, 3, 10.0), rng.standard_normal(3), rng.standard_normal(3)
    return_fn = quadratic_return(q, centre)
    estimates = [zero_order_gradient(return_fn, phi, 0.2, 4, rng=seed) for seed in range(400)]
    gradients = np.array([e.gradient for e in estimates])
    spread = gradients.std(axis=0, ddof=1)
    assert (np.abs(gradients.mean(axis=0) + q @ (phi - centre)) <= 4.5 * spread / np.sqrt(len(gradients))).all()
    reported = np.sqrt(np.mean([e.stderr**2 for e in estimates], axis=0))
    assert np.all((0.7 < spread / reported) & (spread / reported < 1.4))


def test_orthogonal_directions_make_a_quadratic_gradient_exact():
    rng = np.random.default_rng(13)
    d = 4
    q, centre, phi = random_spd(rng, d), rng.standard_normal(d), rng.standard_normal(d)
    exact = -q @ (phi - centre)
    for n_pairs in (d, 2 * d):
        estimate = zero_order_gradient(quadratic_return(q, centre), phi, 0.1, n_pairs, rng=n_pairs, directions="orthogonal")
        np.testing.assert_allclose(estimate.gradient, exact, rtol=1e-9)
    # a partial block is still unbiased: the mean over seeds is within 4.5 standard errors of the gradient
    gradients = np.array(
        [
            zero_order_gradient(quadratic_return(q, centre), phi, 0.1, 3, k, directions="orthogonal").gradient
            for k in range(300)
        ]
    )
    assert (np.abs(gradients.mean(axis=0) - exact) <= 4.5 * gradients.std(axis=0, ddof=1) / np.sqrt(300)).all()
    # the gaussian directions are not exact (S = sum xi xi^T / (N sigma^2) is I only on average)
    gaussian = zero_order_gradient(quadratic_return(q, centre), phi, 0.1, 2 * d, rng=0).gradient
    assert np.abs(gaussian - exact).max() > 1e-3 * np.abs(exact).max()


def test_zero_order_gradient_is_deterministic_and_in_relative_coordinates():
    nominal = np.array([1000.0, 0.5])
    raw_return = quadratic_return(np.diag([1e-6, 4.0]), np.array([900.0, 0.6]))
    relative_return = in_relative_coordinates(raw_return, nominal)
    first = zero_order_gradient(relative_return, np.zeros(2), 0.05, 8, rng=5)
    second = zero_order_gradient(relative_return, np.zeros(2), 0.05, 8, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first.gradient, second.gradient)
    # dJ/du = D dJ/dphi at the nominal point, up to the estimator's error
    exact = nominal * -(np.diag([1e-6, 4.0]) @ (nominal - np.array([900.0, 0.6])))
    assert (np.abs(first.gradient - exact) <= 5 * first.stderr + 1e-12).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": float("inf")}, "sigma"),
        ({"n_pairs": 0}, "n_pairs"),
        ({"n_pairs": 2.0}, "n_pairs"),
        ({"phi": []}, "non-empty"),
        ({"return_fn": lambda p, s: np.zeros(3)}, "must return 4 finite returns"),
        ({"return_fn": lambda p, s: np.full(4, np.nan)}, "non-finite"),
        ({"directions": "sobol"}, "directions"),
    ],
)
def test_zero_order_gradient_bad_arguments(kwargs, match):
    arguments = {"return_fn": lambda p, s: p.sum(axis=1), "phi": [0.0, 0.0], "sigma": 0.1, "n_pairs": 2, "rng": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        zero_order_gradient(**arguments)


def test_zero_order_gradient_refuses_a_legacy_rng():
    with pytest.raises(TypeError, match="Generator"):
        zero_order_gradient(lambda p, s: p.sum(axis=1), [0.0], 0.1, 2, rng=np.random.RandomState(0))


# ---- coordinates and bounds ---------------------------------------------------------------------------------------


def test_relative_coordinates_round_trip():
    nominal = np.array([1000.0, -2.0, 0.01])
    phi = np.array([[1100.0, -1.0, 0.02], [900.0, -2.0, 0.01]])
    u = to_relative(phi, nominal)
    np.testing.assert_allclose(u, [[0.1, -0.5, 1.0], [-0.1, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(from_relative(u, nominal), phi, rtol=1e-14)
    low, high = relative_bounds([0.0, -10.0, 0.0], [np.inf, 0.0, 1.0], nominal)
    np.testing.assert_allclose(low, [-1.0, -1.0, -1.0])
    np.testing.assert_allclose(high, [np.inf, 4.0, 99.0])
    with pytest.raises(ValueError, match=r"positions \[1\] are 0"):
        to_relative(phi, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="without NaN"):
        relative_bounds([0.0, 0.0], [1.0, 1.0, 1.0], nominal)


def test_clip_to_bounds_reports_what_it_clipped():
    result = clip_to_bounds([-0.5, 0.2, 3.0], [-0.4, -np.inf, 0.0], [1.0, np.inf, 2.0])
    np.testing.assert_array_equal(result.params, [-0.4, 0.2, 2.0])
    np.testing.assert_array_equal(result.clipped, [True, False, True])
    assert result.any
    untouched = clip_to_bounds([0.0, 0.0], [-1.0, -1.0], [1.0, 1.0])
    assert not untouched.any and untouched.clipped.mean() == 0.0
    with pytest.raises(ValueError, match="low <= high"):
        clip_to_bounds([0.0, 0.0], [1.0, -1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        clip_to_bounds([0.0, 0.0], [-1.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        clip_to_bounds([np.nan, 0.0], [-1.0, -1.0], [1.0, 1.0])


# ---- WR2LConfig (sketch) ---------------------------------------------------------------------------------------------


def test_config_defaults_follow_wave2():
    config = WR2LConfig()
    assert (config.coords, config.sigma, config.hessian, config.step_size, config.inner_steps) == (
        "relative",
        0.05,
        "gauss_newton",
        "fw",
        1,
    )
    assert config.n_pairs(11) == 22 and config.n_hessian_samples(11) == 2420
    assert WR2LConfig(n_directions=5, hessian_samples=7).n_pairs(11) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"sigma": -0.1}, "sigma"),
        ({"coords": "log"}, "coords must be one of"),
        ({"hessian": "exact"}, "hessian must be one of"),
        ({"inner_steps": 0}, "inner_steps"),
        ({"eval_discount": 0.0}, "eval_discount"),
        ({"n_directions": 0}, "n_directions"),
        ({"warm_start": 1}, "warm_start"),
    ],
)
def test_config_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WR2LConfig(**kwargs)
