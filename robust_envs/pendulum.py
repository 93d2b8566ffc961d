"""RobustPendulum-v0: the torque-limited pendulum of Morimoto and Doya (2001), with a disturbance input."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from robust_envs.core import PerturbableEnv
from robust_envs.disturbance import DISTURBANCE_KEY, check_disturbance
from robust_envs.params import ParamsLike, ParamSpace, ParamSpec

#: Layout of :meth:`RobustPendulumEnv.get_state`: angle (unwrapped, rad, 0 = upright), angular velocity
#: (rad/s), the held disturbance torque (N*m) and the elapsed time (s).
STATE_FIELDS: tuple[str, ...] = ("theta", "theta_dot", "disturbance", "time")

PARAM_SPACE = ParamSpace(
    specs=(
        ParamSpec("mass", 1.0, 1e-3, 1e3, "kg", "mass of the pendulum (a point mass at the tip)"),
        ParamSpec("length", 1.0, 1e-2, 1e2, "m", "length of the pendulum"),
        ParamSpec("friction", 0.01, 0.0, 1e3, "N*m*s/rad", "viscous friction coefficient mu of the joint"),
        ParamSpec("gravity", 9.8, 0.0, 100.0, "m/s^2", "gravitational acceleration"),
    ),
    owner="RobustPendulum-v0",
)


def wrap_angle(theta: np.ndarray | float) -> np.ndarray | float:
    """:return: the angle(s) wrapped to ``[-pi, pi)``."""
    return (np.asarray(theta) + math.pi) % (2.0 * math.pi) - math.pi


def linearized_model(params: ParamsLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    The pendulum linearised about the upright equilibrium ``x = (theta, theta_dot) = (0, 0)`` (Eq. 14).

    ``x_dot = A x + B1 w + B2 u`` with ``A = [[0, 1], [g/l, -mu/(m l^2)]]`` and ``B1 = B2 = [[0], [1/(m l^2)]]``.

    :param params: pendulum parameters (mapping or vector, see :data:`PARAM_SPACE`); ``None`` for nominal
    :return: ``(A, B1, B2)``: the (2, 2) state matrix, the (2, 1) disturbance gain and the (2, 1) control gain
    """
    mass, length, friction, gravity = PARAM_SPACE.resolve(params)
    inertia = mass * length**2
    a = np.array([[0.0, 1.0], [gravity / length, -friction / inertia]])
    b = np.array([[0.0], [1.0 / inertia]])
    return a, b.copy(), b.copy()


class RobustPendulumEnv(PerturbableEnv, EzPickle):
    r"""
    ## Description
    The pendulum of Morimoto and Doya, "Robust Reinforcement Learning" (NIPS 2000), section 4, and of
    Doya (2000): a point mass ``m`` on a massless rod of length ``l`` with viscous joint friction ``mu``,

    ``m l^2 theta'' = -mu theta' + m g l sin(theta) + T + w``,

    where ``theta`` is the angle from the **upright** position (counter-clockwise positive), ``T`` the
    torque the agent applies and ``w`` a disturbance torque that a second player sets through
    :meth:`set_disturbance`. The task is to swing the pendulum up from any angle and hold it upright
    with a torque too weak to lift it directly (``|T| <= 5 < m g l = 9.8`` at nominal parameters).
    The equations are integrated with one fourth-order Runge-Kutta step of ``dt`` (default 0.02 s)
    with torque and disturbance held constant over the step.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the torque as a fraction of the torque limit, ``T = max_torque * a`` N*m
    (default ``max_torque = 5.0``, Doya 2000). Actions outside the box are clipped; a non-finite action
    raises ``ValueError``. In action units the control cost of Eq. 15 is ``R = 0.04 * max_torque^2 = 1.0``
    (:attr:`control_cost_matrix`).

    ## Observation Space
    ``Box([-pi, -inf], [pi, inf], (2,), float64)``: the paper's state ``x = (theta, theta_dot)``, with
    ``theta`` wrapped to ``[-pi, pi)`` (rad) and ``theta_dot`` in rad/s. ``theta = 0`` is upright.

    ## Disturbance
    The env is a :class:`~robust_envs.disturbance.DisturbanceChannel`:
    ``disturbance_space = Box(-max_disturbance, max_disturbance, (1,), float64)`` (default 5.0 N*m).
    :meth:`set_disturbance` sets the torque ``w`` that is added at the joint in every following step until it
    is changed; ``reset`` sets it to zero. Values outside the box are clipped (bad values raise ``ValueError``);
    :attr:`disturbance` is the held value and ``info["disturbance"]`` reports the ``w`` applied during the step.
    The held ``w`` is entry 2 of :meth:`get_state`, so :meth:`set_state` restores it and
    :meth:`sample_next_states` steps each state under its own ``w``. The reward does **not** contain the
    disturbance cost: an H-infinity learner adds its own ``gamma^2 w^2`` (Eq. 7).

    ## Rewards
    The paper's reward (Eq. 15), ``r = cos(theta) - 1 - 0.04 T^2`` (``control_cost = 0.04``, ``T`` in N*m), as a rate
    (per second): the returned reward is its average over the step, ``(1/dt) * integral r dt``, computed
    by the same Runge-Kutta step, so ``sum(rewards) * dt`` is the integral of the paper's reward over an
    episode. It lies in ``[-2 - 0.04 max_torque^2, 0]``.

    ## Starting State
    ``theta ~ U[-pi, pi)``, ``theta_dot = 0`` (random initial angles as in Doya 2000), disturbance zero.
    :meth:`set_state` starts from a chosen state, e.g. ``[pi, 0, 0, 0]`` (hanging down) for a swing-up.

    ## Episode End
    The env never terminates. The registered id truncates after 1000 steps: 20 s at ``dt = 0.02``,
    the trial length of Doya (2000) and of the paper's Figure 4(b).

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order.

    | parameter | nominal | bounds | unit | meaning |
    |---|---|---|---|---|
    | ``mass`` | 1.0 | [1e-3, 1e3] | kg | mass ``m`` of the pendulum |
    | ``length`` | 1.0 | [0.01, 100] | m | length ``l`` |
    | ``friction`` | 0.01 | [0, 1e3] | N*m*s/rad | viscous friction ``mu`` |
    | ``gravity`` | 9.8 | [0, 100] | m/s^2 | gravity ``g`` |

    Other keyword arguments: ``dt`` (0.02 s, time step), ``max_torque`` (5.0 N*m), ``max_disturbance``
    (5.0 N*m), ``control_cost`` (0.04, the ``R`` of Eq. 15), ``render_mode`` (``None`` or ``"rgb_array"``: a
    128 x 128 x 3 numpy drawing of the rod at its length, what SB3's ``make_vec_env`` asks for), ``keep_mass``
    (``False`` only: ``mass`` is a point mass that ``length`` does not change; ``True`` raises ``ValueError``).

    The linearisation about the upright position (Eq. 14) is :meth:`linearized_model`; the input gains
    ``g1(x) = g2(x) = (0, 1/(m l^2))`` of Eq. 15 are :meth:`input_gains` (``g2`` per unit of action, i.e.
    times ``max_torque``).

    ## Version History
    - v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    param_space: ClassVar[ParamSpace] = PARAM_SPACE
    #: Observation dimensions that are angles (wrapped to ``[-pi, pi)``); learners use it for periodic features.
    periodic_dims: ClassVar[tuple[int, ...]] = (0,)
    state_size: ClassVar[int] = len(STATE_FIELDS)  # type: ignore[assignment]
    state_fields: ClassVar[tuple[str, ...] | None] = STATE_FIELDS

    def __init__(
        self,
        params: ParamsLike | None = None,
        dt: float = 0.02,
        max_torque: float = 5.0,
        max_disturbance: float = 5.0,
        control_cost: float = 0.04,
        render_mode: str | None = None,
        keep_mass: bool = False,
    ) -> None:
        self._init_params(params, keep_mass)
        for name, value in (("dt", dt), ("max_torque", max_torque), ("max_disturbance", max_disturbance)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(control_cost, int | float) and math.isfinite(control_cost) and control_cost >= 0):
            raise ValueError(f"control_cost must be a finite number >= 0, got {control_cost!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']} for RobustPendulum-v0, "
                f"got {render_mode!r}"
            )
        EzPickle.__init__(
            self,
            params=params,
            dt=dt,
            max_torque=max_torque,
            max_disturbance=max_disturbance,
            control_cost=control_cost,
            render_mode=render_mode,
            keep_mass=keep_mass,
        )
        self.dt = float(dt)
        self.max_torque = float(max_torque)
        self.max_disturbance = float(max_disturbance)
        self.control_cost = float(control_cost)
        self.render_mode = render_mode
        # normalised actions (the checkers of Gymnasium and SB3 ask for [-1, 1]); the torque is max_torque * a
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        #: the control cost R of Eq. 15 in action units: 0.04 T^2 = (0.04 max_torque^2) a^2
        self.control_cost_matrix = np.array([[self.control_cost * self.max_torque**2]])
        self.observation_space = spaces.Box(
            low=np.array([-math.pi, -np.inf]), high=np.array([math.pi, np.inf]), dtype=np.float64
        )
        self.disturbance_space = spaces.Box(-self.max_disturbance, self.max_disturbance, shape=(1,), dtype=np.float64)
        self._state = np.array([math.pi, 0.0, 0.0, 0.0])

    # ---- dynamics (vectorised over leading axes) ------------------------------------------------
    @staticmethod
    def _derivatives(
        theta: np.ndarray, theta_dot: np.ndarray, torque: np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mass, length, friction, gravity = vectors.T
        inertia = mass * length**2
        theta_ddot = (-friction * theta_dot + mass * gravity * length * np.sin(theta) + torque) / inertia
        # the third component integrates the angle part of the reward, cos(theta) - 1
        return theta_dot, theta_ddot, np.cos(theta) - 1.0

    def _integrate(
        self, states: np.ndarray, torque: np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        One RK4 step of ``dt`` for (M, 4) states, (M,) torques and (M, 4) parameter vectors.

        :return: new angle, new angular velocity and the step average of ``cos(theta) - 1``, each (M,)
        """
        dt = self.dt
        th, om = states[:, 0], states[:, 1]
        total = torque + states[:, 2]
        k1 = self._derivatives(th, om, total, vectors)
        k2 = self._derivatives(th + 0.5 * dt * k1[0], om + 0.5 * dt * k1[1], total, vectors)
        k3 = self._derivatives(th + 0.5 * dt * k2[0], om + 0.5 * dt * k2[1], total, vectors)
        k4 = self._derivatives(th + dt * k3[0], om + dt * k3[1], total, vectors)
        new = [(dt / 6.0) * (a + 2.0 * b + 2.0 * c + d) for a, b, c, d in zip(k1, k2, k3, k4, strict=True)]
        return th + new[0], om + new[1], new[2] / dt

    def _observation(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        return np.stack((wrap_angle(theta), theta_dot), axis=-1)

    def _clip_action(self, action: Any, n: int) -> np.ndarray:
        try:
            values = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"Action must be numbers (the torque as a fraction of max_torque), got {action!r}") from None
        if values.size != n:
            raise ValueError(f"Action must hold {n} value(s) (shape (1,) per state), got shape {values.shape}")
        values = values.reshape(n)
        if not np.all(np.isfinite(values)):
            # None converts to NaN: name what was passed
            raise ValueError(f"Action must be finite numbers, got {action!r}")
        return self.max_torque * np.clip(values, -1.0, 1.0)

    # ---- Gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """
        Start an episode at ``theta ~ U[-pi, pi)``, ``theta_dot = 0``, with zero disturbance.

        :param seed: seeds ``np_random``
        :param options: ``{"params": ...}`` runs this episode (only) with these parameters
        :return: observation and info (``params``, ``disturbance``)
        """
        vector = self._episode_params_from(options)
        gym.Env.reset(self, seed=seed)
        self._begin_episode(vector)
        theta = self.np_random.uniform(-math.pi, math.pi)
        self._state = np.array([theta, 0.0, 0.0, 0.0])
        observation = self._observation(self._state[0], self._state[1])
        return observation, {"params": self.params, DISTURBANCE_KEY: np.zeros(1)}

    def step(self, action):  # type: ignore[override]
        """
        Apply torque ``action`` and the held disturbance for ``dt`` seconds.

        :param action: shape (1,), the torque as a fraction of ``max_torque``; clipped to ``[-1, 1]``
        :return: observation, reward (step average of the paper's reward rate), terminated (always False),
            truncated (False; the TimeLimit wrapper truncates), info with ``params``, ``disturbance`` and ``torque``
        """
        torque = self._clip_action(action, 1)
        vectors = self._episode_params[None, :]
        theta, theta_dot, angle_reward = self._integrate(self._state[None, :], torque, vectors)
        reward = angle_reward[0] - self.control_cost * torque[0] ** 2
        disturbance = self._state[2]
        self._state = np.array([theta[0], theta_dot[0], disturbance, self._state[3] + self.dt])
        observation = self._observation(self._state[0], self._state[1])
        info = {"params": self.params, DISTURBANCE_KEY: np.array([disturbance]), "torque": float(torque[0])}
        return observation, float(reward), False, False, info

    def render(self) -> np.ndarray | None:
        """
        :return: for ``render_mode="rgb_array"``, a 128 x 128 x 3 uint8 image of the rod from the pivot at the centre
            (upright is up), 0.45 * 128 pixels per metre of the episode's ``length``: rods longer than about 1.1 m
            leave the frame; else ``None``
        """
        if self.render_mode != "rgb_array":
            return None
        size = 128
        image = np.full((size, size, 3), 255, dtype=np.uint8)
        # the rod's pixels up to where it leaves the frame
        t = np.linspace(0.0, min(0.45 * size * self.params["length"], float(size)), 4 * size)
        rows = np.round(size / 2 - t * math.cos(self._state[0])).astype(int)
        cols = np.round(size / 2 - t * math.sin(self._state[0])).astype(int)
        for d_row in (-1, 0, 1):
            for d_col in (-1, 0, 1):
                r, c = rows + d_row, cols + d_col
                inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
                image[r[inside], c[inside]] = (204, 77, 77)
        return image

    # ---- disturbance channel ---------------------------------------------------------------------
    def set_disturbance(self, w: Any) -> None:
        """
        Set the disturbance torque of every following step (until changed; ``reset`` zeroes it).

        The :class:`~robust_envs.disturbance.DisturbanceChannel` rule: validated by
        :func:`~robust_envs.disturbance.check_disturbance`, clipped to :attr:`disturbance_space`.

        :param w: shape (1,) (or a scalar), in N*m
        :raises ValueError: not numbers, wrong shape, NaN or inf (the held disturbance is unchanged)
        """
        value = check_disturbance(w, self.disturbance_space, "RobustPendulum-v0 (one torque in N*m)")
        self._state[2] = float(value[0])

    @property
    def disturbance(self) -> np.ndarray:
        """The held disturbance torque, shape (1,)."""
        return np.array([self._state[2]])

    # ---- model --------------------------------------------------------------------------------
    def linearized_model(self, params: ParamsLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        :param params: parameters (partial mappings start from nominal); ``None`` for the current episode's
        :return: ``(A, B1, B2)`` of Eq. 14, see :func:`linearized_model`
        """
        return linearized_model(self._episode_params if params is None else params)

    def input_gains(self, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        The input gains of the input-affine model (Eq. 15), ``x_dot = f(x) + g1(x) w + g2(x) u``.

        :param observation: an observation (unused: the gains are constant)
        :return: ``(g1, g2)``: the gain of the disturbance (per N*m) and of the action (per unit action,
            ``max_torque`` N*m), each (2, 1), for the current episode's parameters
        """
        _, b1, b2 = self.linearized_model()
        return b1, b2 * self.max_torque

    # ---- state ----------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        """:return: ``[theta (unwrapped), theta_dot, disturbance, time]`` as a new array (see :data:`STATE_FIELDS`)."""
        return self._state.copy()

    def _restore_state(self, state: np.ndarray) -> None:
        self._state = state.copy()
        self._state[2] = float(np.clip(self._state[2], -self.max_disturbance, self.max_disturbance))

    def _check_action_rows(self, actions: Any, n: int) -> np.ndarray:
        """:return: the torques (N,) of N actions of shape (N, 1) (or (1,) with N = 1), clipped as ``step`` clips."""
        values = np.asarray(actions)
        if values.ndim > 2 or values.reshape(-1).shape != (n,) or (values.ndim == 2 and values.shape != (n, 1)):
            raise ValueError(f"actions must have shape ({n}, 1) to match {n} states, got {values.shape}")
        return self._clip_action(values, n)

    def _step_rows(self, states: np.ndarray, actions: np.ndarray, vectors: np.ndarray) -> tuple[Any, Any, Any, np.ndarray]:
        """
        The rows of :meth:`sample_next_states`, vectorised; the held disturbance is part of each state, clipped to
        :attr:`disturbance_space` as :meth:`set_state` clips it (so a row steps as ``set_state`` then ``step`` does).
        """
        vector_rows = np.tile(vectors, (states.shape[0] // vectors.shape[0], 1))
        if np.any(np.abs(states[:, 2]) > self.max_disturbance):
            states = states.copy()
            states[:, 2] = np.clip(states[:, 2], -self.max_disturbance, self.max_disturbance)
        theta, theta_dot, angle_reward = self._integrate(states, actions, vector_rows)
        rewards = angle_reward - self.control_cost * actions**2
        final = np.stack((theta, theta_dot, states[:, 2], states[:, 3] + self.dt), axis=-1)
        return self._observation(theta, theta_dot), rewards, np.zeros(states.shape[0], dtype=bool), final
