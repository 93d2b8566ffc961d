"""A linear-quadratic differential game as a Gymnasium env with a disturbance channel (section 3.3 / 4.1)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class LinearQuadraticGameEnv(gym.Env):
    """
    ``x_dot = A x + B1 w + B2 u`` with the reward rate ``r(x, u) = -x^T Q x - u^T R u`` (section 3.3).

    The disturbance ``w`` follows the project's convention (:attr:`disturbance_space`, :meth:`set_disturbance`,
    held until changed, zero after ``reset``, ``info["disturbance"]``); its cost ``gamma^2 w^T w`` belongs to the
    learner. Each step integrates ``dt`` seconds with one RK4 step (inputs held) and returns the step average
    of the reward rate. Episodes start at ``x0 ~ U[-init_scale, init_scale]^n`` and are truncated after
    ``episode_steps`` steps; an episode terminates if ``|x|`` exceeds ``max_state`` (a diverging policy).

    :param a: state matrix (n, n)
    :param b1: disturbance gain (n, m_w)
    :param b2: control gain (n, m_u)
    :param q: state cost (n, n), symmetric positive semi-definite
    :param r: control cost (m_u, m_u), symmetric positive definite
    :param dt: time step (s)
    :param episode_steps: steps per episode
    :param init_scale: half-width of the initial state box
    :param max_input: bound of the action and disturbance boxes
    :param max_state: bound on ``|x|_inf`` beyond which the episode terminates
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        a: np.ndarray,
        b1: np.ndarray,
        b2: np.ndarray,
        q: np.ndarray,
        r: np.ndarray,
        dt: float = 0.01,
        episode_steps: int = 300,
        init_scale: float = 0.5,
        max_input: float = 1e3,
        max_state: float = 1e2,
    ) -> None:
        self.a, self.b1, self.b2 = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (a, b1, b2))
        self.q, self.r = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (q, r))
        n = self.a.shape[0]
        if self.a.shape != (n, n) or self.b1.shape[0] != n or self.b2.shape[0] != n or self.q.shape != (n, n):
            raise ValueError(
                f"Inconsistent shapes: A {self.a.shape}, B1 {self.b1.shape}, B2 {self.b2.shape}, Q {self.q.shape}"
            )
        if self.r.shape != (self.b2.shape[1],) * 2:
            raise ValueError(f"R must be ({self.b2.shape[1]}, {self.b2.shape[1]}), got {self.r.shape}")
        if dt <= 0 or episode_steps < 1:
            raise ValueError(f"dt must be > 0 and episode_steps >= 1, got dt={dt}, episode_steps={episode_steps}")
        self.dt = float(dt)
        self.episode_steps = int(episode_steps)
        self.init_scale = float(init_scale)
        self.max_state = float(max_state)
        self.control_cost_matrix = self.r.copy()
        self.observation_space = spaces.Box(-self.max_state, self.max_state, shape=(n,), dtype=np.float64)
        self.action_space = spaces.Box(-max_input, max_input, shape=(self.b2.shape[1],), dtype=np.float64)
        self.disturbance_space = spaces.Box(-max_input, max_input, shape=(self.b1.shape[1],), dtype=np.float64)
        self._x = np.zeros(n)
        self._w = np.zeros(self.b1.shape[1])
        self._steps = 0

    @classmethod
    def from_pendulum(cls, params: Any = None, **kwargs: Any) -> LinearQuadraticGameEnv:
        """
        The paper's linear case (Eq. 14): the pendulum linearised upright, ``Q = diag(1, 0)``, ``R = 1``.

        :param params: pendulum parameters (see :mod:`robust_envs.pendulum`)
        :param kwargs: further constructor arguments
        """
        from robust_envs.pendulum import linearized_model

        a, b1, b2 = linearized_model(params)
        return cls(a, b1, b2, np.diag([1.0, 0.0]), np.eye(1), **kwargs)

    def _rates(self, x: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, float]:
        return self.a @ x + drive, float(-x @ self.q @ x)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """:return: ``x0 ~ U[-init_scale, init_scale]^n`` and an info dict with ``disturbance``."""
        super().reset(seed=seed)
        self._x = self.np_random.uniform(-self.init_scale, self.init_scale, size=self.a.shape[0])
        self._w = np.zeros_like(self._w)
        self._steps = 0
        return self._x.copy(), {"disturbance": self._w.copy()}

    def step(self, action):  # type: ignore[override]
        """Integrate one step with the action and the held disturbance; the reward is the step average of ``r``."""
        u = np.clip(
            np.asarray(action, dtype=np.float64).reshape(self.action_space.shape),
            self.action_space.low,
            self.action_space.high,
        )
        drive = self.b2 @ u + self.b1 @ self._w
        dt, x = self.dt, self._x
        k1, c1 = self._rates(x, drive)
        k2, c2 = self._rates(x + 0.5 * dt * k1, drive)
        k3, c3 = self._rates(x + 0.5 * dt * k2, drive)
        k4, c4 = self._rates(x + dt * k3, drive)
        self._x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        reward = (c1 + 2 * c2 + 2 * c3 + c4) / 6.0 - float(u @ self.r @ u)
        self._steps += 1
        terminated = bool(np.max(np.abs(self._x)) > self.max_state)
        if terminated:
            self._x = np.clip(self._x, -self.max_state, self.max_state)
        truncated = self._steps >= self.episode_steps
        return self._x.copy(), reward, terminated, truncated, {"disturbance": self._w.copy()}

    def set_disturbance(self, w: np.ndarray) -> None:
        """
        :param w: the disturbance of every following step, shape ``disturbance_space.shape``
        :raises ValueError: wrong shape or non-finite values
        """
        value = np.asarray(w, dtype=np.float64)
        if value.size != self._w.size:
            raise ValueError(f"Disturbance must have shape {self._w.shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"Disturbance must be finite, got {value}")
        self._w = np.clip(value.reshape(self._w.shape), self.disturbance_space.low, self.disturbance_space.high)

    def input_gains(self, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: ``(B1, B2)`` (constant)."""
        return self.b1.copy(), self.b2.copy()
