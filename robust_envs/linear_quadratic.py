"""
RobustLinearQuadraticGame-v0: a linear-quadratic differential game with a disturbance channel.

The linear case of Morimoto and Doya, "Robust Reinforcement Learning" (NIPS 2000), sections 3.3 and 4.1, where the
game Riccati equation (Eq. 12) gives the exact value and the saddle-point gains (Eq. 13) that a learner must find.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from robust_envs.disturbance import DISTURBANCE_KEY, check_disturbance

MatrixLike = np.ndarray | list | tuple | float


class LinearQuadraticGameEnv(gym.Env, EzPickle):
    r"""
    ## Description
    ``x_dot = A x + B1 w + B2 u`` with the reward rate ``r(x, u) = -x^T Q x - u^T R u`` (Morimoto and Doya, section 3.3).
    By default the paper's linear case (Eq. 14): the pendulum of ``RobustPendulum-v0`` linearised about the upright
    position at nominal parameters (``A = [[0, 1], [g/l, -mu/(m l^2)]]``, ``B1 = B2 = [[0], [1/(m l^2)]]``),
    ``Q = diag(1, 0)``, ``R = 1``. :meth:`from_pendulum` builds it for other pendulum parameters.

    Each step integrates ``dt`` seconds with one fourth-order Runge-Kutta step (inputs held) and returns the step
    average of the reward rate.

    ## Action Space
    ``Box(-max_input, max_input, (m_u,), float64)``: the control ``u`` (clipped to the box).

    ## Observation Space
    ``Box(-max_state, max_state, (n,), float64)``: the state ``x``.

    ## Disturbance
    A :class:`~robust_envs.disturbance.DisturbanceChannel` (as ``RobustPendulum-v0``): :attr:`disturbance_space`
    (``Box(-max_input, max_input, (m_w,))``), :meth:`set_disturbance` sets the ``w`` held in every following step
    until it is changed (clipped to the box), ``reset`` zeroes it, :attr:`disturbance` and ``info["disturbance"]``
    report it. :meth:`get_state` is ``[x, w, steps taken]``, so :meth:`set_state` restores the held ``w`` too.
    Its cost ``gamma^2 w^T w`` belongs to the learner (Eq. 7), not to the reward.

    ## Rewards
    The step average of ``-x^T Q x`` (by the Runge-Kutta step) minus ``u^T R u``.

    ## Starting State
    ``x0 ~ U[-init_scale, init_scale]^n``, zero disturbance.

    ## Episode End
    The episode terminates when ``|x|_inf`` exceeds ``max_state`` (a diverging policy; the returned state is clipped
    to the observation box) and is truncated by the env itself after ``episode_steps`` steps (the registered id adds
    no ``TimeLimit``, so ``episode_steps`` is the one time limit).

    ## Arguments
    ``a`` (n, n), ``b1`` (n, m_w), ``b2`` (n, m_u), ``q`` (n, n) symmetric positive semi-definite, ``r`` (m_u, m_u)
    symmetric positive definite: matrices or nested lists (lists keep ``env.spec`` JSON-serialisable); ``None`` for
    Eq. 14's. ``dt`` (0.01 s), ``episode_steps`` (300), ``init_scale`` (0.5), ``max_input`` (1e3), ``max_state``
    (1e2).

    This env has no :class:`~robust_envs.params.ParamSpace`: it is registered outside :data:`robust_envs.ENVS`
    (the perturbable family that the CLI, ``evaluate_robustness`` and the env-suite tests iterate). Its model is
    changed through the matrices, or through the pendulum parameters of :meth:`from_pendulum`.

    ## Version History
    - v0: first version (moved from ``robust_sb3.rrl.linear``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        a: MatrixLike | None = None,
        b1: MatrixLike | None = None,
        b2: MatrixLike | None = None,
        q: MatrixLike | None = None,
        r: MatrixLike | None = None,
        dt: float = 0.01,
        episode_steps: int = 300,
        init_scale: float = 0.5,
        max_input: float = 1e3,
        max_state: float = 1e2,
        render_mode: str | None = None,
    ) -> None:
        EzPickle.__init__(
            self,
            a=a,
            b1=b1,
            b2=b2,
            q=q,
            r=r,
            dt=dt,
            episode_steps=episode_steps,
            init_scale=init_scale,
            max_input=max_input,
            max_state=max_state,
            render_mode=render_mode,
        )
        if render_mode is not None:
            raise ValueError(f"LinearQuadraticGameEnv has no render modes, got render_mode={render_mode!r}")
        if a is None or b1 is None or b2 is None:
            if not (a is None and b1 is None and b2 is None):
                raise ValueError("Pass all of a, b1 and b2, or none of them (for the pendulum linearised upright, Eq. 14)")
            from robust_envs.pendulum import linearized_model

            a, b1, b2 = linearized_model(None)
        q = np.diag([1.0, 0.0]) if q is None else q
        r = np.eye(1) if r is None else r
        self.a, self.b1, self.b2 = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (a, b1, b2))
        self.q, self.r = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (q, r))
        n = self.a.shape[0]
        if self.a.shape != (n, n) or self.b1.shape[0] != n or self.b2.shape[0] != n or self.q.shape != (n, n):
            raise ValueError(
                f"Inconsistent shapes: A {self.a.shape}, B1 {self.b1.shape}, B2 {self.b2.shape}, Q {self.q.shape}"
            )
        if self.r.shape != (self.b2.shape[1],) * 2:
            raise ValueError(f"R must be ({self.b2.shape[1]}, {self.b2.shape[1]}), got {self.r.shape}")
        if not (math.isfinite(dt) and dt > 0) or episode_steps < 1:
            raise ValueError(f"dt must be > 0 and episode_steps >= 1, got dt={dt}, episode_steps={episode_steps}")
        self.dt = float(dt)
        self.episode_steps = int(episode_steps)
        self.init_scale = float(init_scale)
        self.max_state = float(max_state)
        self.render_mode = render_mode
        #: the control cost ``R`` in action units (what a value-gradient learner needs, Eq. 11)
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

        :param params: pendulum parameters (see :mod:`robust_envs.pendulum`); ``None`` for nominal
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
        return self._x.copy(), {DISTURBANCE_KEY: self._w.copy()}

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
        return self._x.copy(), reward, terminated, truncated, {DISTURBANCE_KEY: self._w.copy()}

    def render(self) -> None:
        """The env has no render modes."""
        return None

    def set_disturbance(self, w: Any) -> None:
        """
        :param w: the disturbance of every following step, shape ``disturbance_space.shape`` (clipped to it)
        :raises ValueError: not numbers, wrong shape or non-finite values (the held disturbance is unchanged)
        """
        self._w = check_disturbance(w, self.disturbance_space, type(self).__name__)

    @property
    def disturbance(self) -> np.ndarray:
        """The held disturbance ``w``, a new array of shape ``(m_w,)``."""
        return self._w.copy()

    def get_state(self) -> np.ndarray:
        """:return: ``[x (n), w (m_w), steps taken in the episode]`` as a new flat array."""
        return np.concatenate((self._x, self._w, [float(self._steps)]))

    def set_state(self, state: Any) -> None:
        """
        Resume from a state of :meth:`get_state` (the held disturbance clipped to :attr:`disturbance_space`).

        :raises ValueError: not numbers, wrong shape, NaN or inf, or a step count that is not a whole number >= 0
            (nothing changes then)
        """
        n, m = self._x.size, self._w.size
        try:
            values = np.array(state, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or np.asarray(state).dtype.kind not in "biuf":
            raise ValueError(f"State must be numbers [x, w, steps], got {state!r}")
        if values.shape != (n + m + 1,):
            raise ValueError(
                f"State of shape {values.shape} does not fit: expected ({n + m + 1},) as [x ({n}), w ({m}), steps taken]"
            )
        if not np.isfinite(values).all():
            raise ValueError(f"State must be finite, got {values}")
        steps = values[-1]
        if steps < 0 or steps != math.floor(steps):
            raise ValueError(f"The state's step count must be a whole number >= 0, got {steps}")
        w = check_disturbance(values[n : n + m], self.disturbance_space, f"the state's w, {type(self).__name__}")
        self._x, self._w, self._steps = values[:n].copy(), w, int(steps)

    def input_gains(self, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: ``(B1, B2)`` (constant)."""
        return self.b1.copy(), self.b2.copy()
