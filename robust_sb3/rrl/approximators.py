"""
Function approximators of robust RL (Morimoto and Doya, 2001): value functions with their critics.

- :class:`QuadraticCritic`: ``V(x) = -x^T P x`` (section 3.3 / 4.1) whose parameters ``p`` (the upper triangle
  of ``P``) are estimated by recursive least squares on the continuous-time TD error, with eligibility
  traces as instruments (LSTD(lambda) in recursive form; Bradtke 1993 for the linear-quadratic case).
- :class:`NGnetCritic`: a normalised Gaussian network ``V(x) = sum_k v_k b_k(x)`` (Doya 2000) trained by
  gradient TD(lambda) in continuous time (``v_dot = eta delta e``, ``e_dot = -e/kappa + dV/dv``).

Both compute the TD error of a step of length ``dt`` with the discounted continuous-time form of Eq. 8:
``V(x(t)) = integral_t^{t+dt} e^{-(s-t)/tau} q ds + e^{-dt/tau} V(x(t+dt))``, divided by ``dt``, which tends to
``delta(t) = q(t) - V(t)/tau + dV/dt`` (Doya 2000, Eq. 5) as ``dt -> 0`` and is exact for a ``q`` that is constant
over the step (the envs report the step average of the reward rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def td_constants(dt: float, tau: float) -> tuple[float, float]:
    """
    :param dt: time step (s)
    :param tau: time constant of the value (s), ``inf`` for no discounting
    :return: ``(discount, reward_scale)``: ``e^{-dt/tau}`` and ``tau (1 - e^{-dt/tau}) / dt`` (1 for ``tau = inf``),
        so that ``delta = reward_scale q + (discount V(x') - V(x)) / dt``
    """
    if math.isinf(tau):
        return 1.0, 1.0
    return math.exp(-dt / tau), -tau * math.expm1(-dt / tau) / dt


class RecursiveLeastSquares:
    """
    Recursive instrumental-variable least squares: solves ``sum_t e_t (y_t - z_t^T theta) = 0`` online.

    With the instrument ``e_t = z_t`` it is ordinary RLS; with eligibility traces of the features it is
    recursive LSTD(lambda), which stays unbiased when the regressor ``z`` carries exploration noise.

    :param n: number of parameters
    :param init_cov: initial covariance ``delta0 * I`` (a large value means a weak prior on the initial parameters)
    :param forgetting: exponential forgetting factor per update, in ``(0, 1]``
    """

    def __init__(self, n: int, init_cov: float = 1e4, forgetting: float = 1.0) -> None:
        self.n = n
        self.init_cov = float(init_cov)
        self.forgetting = float(forgetting)
        self.cov = np.eye(n) * self.init_cov

    def reset(self) -> None:
        """Forget the data (keep the parameters as the new prior mean): used after a policy improvement."""
        self.cov = np.eye(self.n) * self.init_cov

    def update(self, theta: np.ndarray, instrument: np.ndarray, regressor: np.ndarray, target: float) -> np.ndarray:
        """
        :param theta: current parameters (n,), updated in place
        :param instrument: the instrument ``e`` (n,)
        :param regressor: the regressor ``z`` (n,)
        :param target: the target ``y``
        :return: ``theta``
        """
        cov_e = self.cov @ instrument
        denom = self.forgetting + regressor @ cov_e
        gain = cov_e / denom
        theta += gain * (target - regressor @ theta)
        self.cov -= np.outer(gain, regressor @ self.cov)
        if self.forgetting != 1.0:
            self.cov /= self.forgetting
        return theta


class QuadraticCritic:
    """
    ``V(x) = -x^T P x`` with ``P`` symmetric (the paper's sign, section 3.3), learned by RLS (section 4.1).

    The parameter vector ``p`` holds the upper triangle of ``P`` row by row, ``(p11, p12, p22)`` for two states,
    with features ``phi = (x1^2, 2 x1 x2, x2^2)``, so ``V = -p^T phi``. A further parameter ``rho`` absorbs the
    constant part of the TD target (the average reward rate, to which exploration noise and its cost contribute),
    so the regression is ``reward_scale * q = p^T z + rho`` with ``z = -(phi(x) - discount phi(x')) / dt``.

    :param n: state dimension
    :param init_cov: RLS initial covariance
    :param forgetting: RLS forgetting factor
    """

    def __init__(self, n: int, init_cov: float = 1e4, forgetting: float = 1.0) -> None:
        self.n = n
        self.rows, self.cols = np.triu_indices(n)
        self.scale = np.where(self.rows == self.cols, 1.0, 2.0)
        self.n_params = len(self.rows)
        # parameters: p (upper triangle of P) then rho
        self.theta = np.zeros(self.n_params + 1)
        self.rls = RecursiveLeastSquares(self.n_params + 1, init_cov, forgetting)

    # ---- the value function -----------------------------------------------------------------
    def features(self, x: np.ndarray) -> np.ndarray:
        """:return: ``phi(x)``, shape (n_params,)."""
        return self.scale * x[self.rows] * x[self.cols]

    @staticmethod
    def matrix_of(p: np.ndarray, n: int) -> np.ndarray:
        """:return: the symmetric matrix ``P`` whose upper triangle is ``p``."""
        rows, cols = np.triu_indices(n)
        mat = np.zeros((n, n))
        mat[rows, cols] = p
        mat[cols, rows] = p
        return mat

    @property
    def matrix(self) -> np.ndarray:
        """The current estimate of ``P`` (a new array)."""
        return self.matrix_of(self.theta[: self.n_params], self.n)

    def set_matrix(self, matrix: np.ndarray) -> None:
        """Set ``P`` (symmetrised)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (self.n, self.n):
            raise ValueError(f"Value matrix must have shape ({self.n}, {self.n}), got {matrix.shape}")
        self.theta[: self.n_params] = (0.5 * (matrix + matrix.T))[self.rows, self.cols]

    def value(self, x: np.ndarray) -> float:
        """:return: ``V(x) = -x^T P x``."""
        return float(-self.theta[: self.n_params] @ self.features(x))

    def gradient(self, x: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        """
        :param x: a state
        :param params: parameters to use instead of the current ones (a frozen policy's critic)
        :return: ``dV/dx = -2 P x``, shape (n,)
        """
        p = self.theta if params is None else params
        return -2.0 * self.matrix_of(p[: self.n_params], self.n) @ x

    def trace_features(self, x: np.ndarray) -> np.ndarray:
        """:return: ``dV/dtheta`` up to sign, the quantity eligibility traces accumulate (with a constant for ``rho``)."""
        return np.append(self.features(x), 1.0)

    # ---- learning ------------------------------------------------------------------------------
    def td_error(self, q: float, x: np.ndarray, x_next: np.ndarray, terminal: bool, dt: float, tau: float) -> float:
        """:return: the TD error ``delta`` of the step under the current parameters (the RLS residual)."""
        target, regressor = self._regression(q, x, x_next, terminal, dt, tau)
        return float(target - regressor @ self.theta)

    def _regression(
        self, q: float, x: np.ndarray, x_next: np.ndarray, terminal: bool, dt: float, tau: float
    ) -> tuple[float, np.ndarray]:
        discount, reward_scale = td_constants(dt, tau)
        phi_next = np.zeros(self.n_params) if terminal else self.features(x_next)
        z = -(self.features(x) - discount * phi_next) / dt
        return reward_scale * q, np.append(z, 1.0)

    def update(
        self, q: float, x: np.ndarray, x_next: np.ndarray, terminal: bool, dt: float, tau: float, trace: np.ndarray, lr: float
    ) -> float:
        """
        One RLS step on the step's TD equation; ``trace`` is the instrument, ``lr`` is unused (RLS has no step size).

        :return: the TD error of the step before the update
        """
        target, regressor = self._regression(q, x, x_next, terminal, dt, tau)
        delta = float(target - regressor @ self.theta)
        self.rls.update(self.theta, trace, regressor, target)
        return delta

    def reset_statistics(self) -> None:
        """Forget the RLS data (policy iteration: the next policy is evaluated from fresh data)."""
        self.rls.reset()

    # ---- persistence ------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """:return: the JSON-serialisable constructor arguments."""
        return {"kind": "quadratic", "n": self.n, "init_cov": self.rls.init_cov, "forgetting": self.rls.forgetting}

    def arrays(self) -> dict[str, np.ndarray]:
        """:return: the learned arrays."""
        return {"theta": self.theta.copy(), "cov": self.rls.cov.copy()}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`arrays`."""
        self.theta = np.array(arrays["theta"], dtype=np.float64)
        self.rls.cov = np.array(arrays["cov"], dtype=np.float64)


class NGnet:
    """
    Normalised Gaussian network on a grid (Doya 2000): ``b_k(x) = a_k(x) / sum_l a_l(x)`` with
    ``a_k(x) = exp(-sum_i ((x_i - c_ki) / s_i)^2)``, centres on a regular grid and widths ``s_i`` equal to the
    grid spacing. Periodic dimensions (angles) measure ``x_i - c_ki`` modulo their period.

    The grid is separable, so ``b(x)`` is the outer product of one-dimensional normalised bases, and a
    ``sum_k v_k b_k(x)`` is a sequence of small tensor contractions.

    :param low: lower end of the grid per dimension (for a periodic one, the start of the period)
    :param high: upper end (for a periodic one, ``low + period``)
    :param n_centers: centres per dimension
    :param periodic: dimension indices that are periodic
    """

    def __init__(self, low: Sequence[float], high: Sequence[float], n_centers: Sequence[int], periodic: Sequence[int] = ()):
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.n_centers = tuple(int(n) for n in n_centers)
        self.periodic = tuple(int(i) for i in periodic)
        if not (self.low.shape == self.high.shape == (len(self.n_centers),)):
            raise ValueError(
                f"NGnet low, high and n_centers need one entry per dimension, got {self.low}, {self.high}, {self.n_centers}"
            )
        if not np.all(np.isfinite(self.low) & np.isfinite(self.high) & (self.high > self.low)):
            raise ValueError(f"NGnet needs finite ranges with high > low, got low={self.low}, high={self.high}")
        if any(n < 2 for n in self.n_centers):
            raise ValueError(f"NGnet needs at least 2 centres per dimension, got {self.n_centers}")
        self.centers: list[np.ndarray] = []
        self.widths = np.empty(len(self.n_centers))
        for i, n in enumerate(self.n_centers):
            if i in self.periodic:
                spacing = (self.high[i] - self.low[i]) / n
                self.centers.append(self.low[i] + spacing * np.arange(n))
            else:
                spacing = (self.high[i] - self.low[i]) / (n - 1)
                self.centers.append(np.linspace(self.low[i], self.high[i], n))
            self.widths[i] = spacing
        self.size = int(np.prod(self.n_centers))
        self._cache: dict[bytes, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def _basis_1d(self, i: int, xi: float) -> tuple[np.ndarray, np.ndarray]:
        diff = xi - self.centers[i]
        if i in self.periodic:
            period = self.high[i] - self.low[i]
            diff = (diff + 0.5 * period) % period - 0.5 * period
        s = self.widths[i]
        log_a = -((diff / s) ** 2)
        a = np.exp(log_a - log_a.max())  # the shift cancels in the normalisation and avoids underflow
        b = a / a.sum()
        dlog = -2.0 * diff / s**2
        db = b * (dlog - b @ dlog)
        return b, db

    def basis(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """
        :return: the one-dimensional normalised bases and their derivatives, per dimension (not to be modified).

        A learning step asks for the basis of the same two states several times (policy, trace, TD error, and the
        next state's again at the next step), so the last two results are kept.
        """
        key = np.asarray(x, dtype=np.float64).tobytes()
        cached = self._cache.get(key)
        if cached is None:
            pairs = [self._basis_1d(i, float(xi)) for i, xi in enumerate(x)]
            cached = ([p[0] for p in pairs], [p[1] for p in pairs])
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the basis cache (it is rebuilt on demand, with identical results)."""
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def features(self, x: np.ndarray) -> np.ndarray:
        """:return: ``b(x)``, shape (size,), in C order of the grid."""
        bases, _ = self.basis(x)
        out = bases[0].copy()  # the bases are cached: hand out a new array
        for b in bases[1:]:
            out = np.multiply.outer(out, b).ravel()
        return out

    def evaluate(self, weights: np.ndarray, x: np.ndarray, gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """
        :param weights: (size,) or (size, m) output weights
        :param x: a state
        :param gradient: also return ``d output / dx``
        :return: the output (m,) (or () for 1-D weights) and, if asked, its Jacobian (m, n) (or (n,))
        """
        bases, dbases = self.basis(x)
        tensor = weights.reshape((*self.n_centers, *weights.shape[1:]))

        def contract(factors: list[np.ndarray]) -> np.ndarray:
            out = tensor
            for f in factors:  # sum over the leading grid axis (a matrix product is cheaper than np.tensordot)
                out = (f @ out.reshape(f.shape[0], -1)).reshape(out.shape[1:])
            return out

        value = contract(bases)
        if not gradient:
            return value, None
        grads = [contract([dbases[j] if j == i else bases[j] for j in range(len(bases))]) for i in range(len(bases))]
        return value, np.stack(grads, axis=-1)

    def config(self) -> dict[str, Any]:
        """:return: the JSON-serialisable constructor arguments."""
        return {
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "n_centers": list(self.n_centers),
            "periodic": list(self.periodic),
        }


class NGnetCritic:
    """
    ``V(x) = sum_k v_k b_k(x)`` on an :class:`NGnet`, trained by continuous-time TD(lambda) (Doya 2000):
    ``v_dot = eta delta(t) e(t)`` with ``e_dot = -e / kappa + dV/dv``.

    :param net: the NGnet
    :param init_value: initial value of every weight (0 is optimistic for rewards <= 0, which drives exploration)
    """

    def __init__(self, net: NGnet, init_value: float = 0.0) -> None:
        self.net = net
        self.init_value = float(init_value)
        self.theta = np.full(net.size, self.init_value)

    def value(self, x: np.ndarray) -> float:
        """:return: ``V(x)``."""
        return float(self.net.features(x) @ self.theta)

    def values(self, xs: np.ndarray) -> np.ndarray:
        """:return: ``V`` at each row of ``xs`` (for plots)."""
        return np.array([self.value(x) for x in xs])

    def gradient(self, x: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        """:return: ``dV/dx``, shape (n,)."""
        _, grad = self.net.evaluate(self.theta if params is None else params, x, gradient=True)
        return np.asarray(grad)

    def trace_features(self, x: np.ndarray) -> np.ndarray:
        """:return: ``dV/dv = b(x)``."""
        return self.net.features(x)

    def td_error(self, q: float, x: np.ndarray, x_next: np.ndarray, terminal: bool, dt: float, tau: float) -> float:
        """:return: ``delta`` of the step (see the module docstring)."""
        discount, reward_scale = td_constants(dt, tau)
        v_next = 0.0 if terminal else self.value(x_next)
        return reward_scale * q + (discount * v_next - self.value(x)) / dt

    def update(
        self, q: float, x: np.ndarray, x_next: np.ndarray, terminal: bool, dt: float, tau: float, trace: np.ndarray, lr: float
    ) -> float:
        """
        ``v += eta delta e dt`` (Euler step of ``v_dot = eta delta e``).

        :return: the TD error ``delta`` of the step before the update
        """
        delta = self.td_error(q, x, x_next, terminal, dt, tau)
        self.theta += (lr * delta * dt) * trace
        return delta

    def reset_statistics(self) -> None:
        """Nothing to forget: gradient TD has no statistics."""

    def config(self) -> dict[str, Any]:
        """:return: the JSON-serialisable constructor arguments."""
        return {"kind": "ngnet", "net": self.net.config(), "init_value": self.init_value}

    def arrays(self) -> dict[str, np.ndarray]:
        """:return: the learned arrays."""
        return {"theta": self.theta.copy()}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`arrays`."""
        self.theta = np.array(arrays["theta"], dtype=np.float64)


def critic_from_config(config: dict[str, Any]) -> QuadraticCritic | NGnetCritic:
    """:return: a critic rebuilt from its :meth:`config`."""
    if config["kind"] == "quadratic":
        return QuadraticCritic(config["n"], config["init_cov"], config["forgetting"])
    return NGnetCritic(NGnet(**config["net"]), config["init_value"])


class InputGainModel:
    """
    Learned input-affine model ``x_dot = W^T psi(x) + g1 w + g2 u`` (section 4.2: "the input gain was also learned").

    The drift is linear in the features ``psi(x) = (x, 1, b(x))`` (the NGnet basis when there is one), the gains
    are constant; all are estimated jointly by RLS on finite differences ``(x' - x) / dt`` (wrapped in periodic
    dimensions). Exploration noise in ``u`` and ``w`` makes the gains identifiable.

    :param n: state dimension
    :param m_u: action dimension
    :param m_w: disturbance dimension
    :param n_basis: size of the NGnet basis appended to the drift features (0 for none)
    :param init_cov: RLS initial covariance
    :param forgetting: RLS forgetting factor
    """

    def __init__(self, n: int, m_u: int, m_w: int, n_basis: int = 0, init_cov: float = 1e4, forgetting: float = 1.0) -> None:
        self.n, self.m_u, self.m_w, self.n_basis = n, m_u, m_w, n_basis
        self.n_drift = n + 1 + n_basis
        self.rls = RecursiveLeastSquares(self.n_drift + m_u + m_w, init_cov, forgetting)
        self.weights = np.zeros((self.rls.n, n))

    @property
    def gains(self) -> tuple[np.ndarray, np.ndarray]:
        """``(g1, g2)``: the disturbance gain (n, m_w) and the control gain (n, m_u)."""
        start = self.n_drift
        g2 = self.weights[start : start + self.m_u].T.copy()
        g1 = self.weights[start + self.m_u :].T.copy()
        return g1, g2

    def update(self, x: np.ndarray, basis: np.ndarray | None, u: np.ndarray, w: np.ndarray, x_dot: np.ndarray) -> None:
        """One RLS step on the observed ``x_dot`` (all output dimensions share the regressor and the covariance)."""
        parts = [x, np.ones(1)]
        if self.n_basis:
            parts.append(basis if basis is not None else np.zeros(self.n_basis))
        z = np.concatenate((*parts, u, w))
        cov_z = self.rls.cov @ z
        gain = cov_z / (self.rls.forgetting + z @ cov_z)
        self.weights += np.outer(gain, x_dot - z @ self.weights)
        self.rls.cov -= np.outer(gain, cov_z)
        if self.rls.forgetting != 1.0:
            self.rls.cov /= self.rls.forgetting

    def config(self) -> dict[str, Any]:
        """:return: the JSON-serialisable constructor arguments."""
        return {
            "n": self.n,
            "m_u": self.m_u,
            "m_w": self.m_w,
            "n_basis": self.n_basis,
            "init_cov": self.rls.init_cov,
            "forgetting": self.rls.forgetting,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """:return: the learned arrays."""
        return {"weights": self.weights.copy(), "cov": self.rls.cov.copy()}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`arrays`."""
        self.weights = np.array(arrays["weights"], dtype=np.float64)
        self.rls.cov = np.array(arrays["cov"], dtype=np.float64)
