"""RobustCartPole-v0: Gymnasium's classic cart-pole (CartPole-v1) with the perturbable parameters of Jiang et al. (2021)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import logger
from gymnasium.envs.classic_control import utils as classic_utils
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.utils import EzPickle

from robust_envs.core import PerturbableEnv
from robust_envs.params import ParamsLike, ParamSpace, ParamSpec

#: Layout of :meth:`RobustCartPoleEnv.get_state`: Gymnasium's four state variables, then the number of steps
#: taken since the episode terminated (``-1`` while it has not; Gymnasium's ``steps_beyond_terminated = None``),
#: which decides the reward of a step after termination.
STATE_FIELDS: tuple[str, ...] = ("x", "x_dot", "theta", "theta_dot", "steps_beyond_terminated")

#: Gymnasium's constants of CartPole-v1 that are not parameters here.
GRAVITY = 9.8
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
INTEGRATORS = ("euler", "semi-implicit euler")
#: The Gymnasium id this env reproduces at nominal parameters.
UPSTREAM_ID = "CartPole-v1"

PARAM_SPACE = ParamSpace(
    specs=(
        ParamSpec("force_mag", 10.0, 0.0, 1e4, "N", "magnitude of the force that pushes the cart left or right"),
        ParamSpec(
            "pole_length",
            0.5,
            1e-3,
            1e2,
            "m",
            "Gymnasium's `length`: pivot to the pole's centre of mass, i.e. half the pole (the pole is 2 * pole_length long)",
        ),
        ParamSpec("pole_mass", 0.1, 1e-4, 1e3, "kg", "mass of the pole (a uniform rod)"),
        ParamSpec("cart_mass", 1.0, 1e-4, 1e3, "kg", "mass of the cart"),
    ),
    owner="RobustCartPole-v0",
)


def _map(function, values: np.ndarray) -> np.ndarray:
    # math.sin/cos are what Gymnasium's scalar code computes (np.sin of a numpy scalar calls libm); numpy's
    # SIMD loops for arrays differ from them in the last bit, which would break the bit-exact match with
    # CartPole-v1 and between step() and sample_next_states(). The arithmetic around them is vectorised.
    return np.fromiter(map(function, values.tolist()), dtype=np.float64, count=values.size)


def draw_cartpole(state: np.ndarray, length: float, width: int = 600, height: int = 400) -> np.ndarray:
    """
    ``CartPole-v1``'s picture drawn with numpy (no pygame, no display): the sizes, positions and colours of
    Gymnasium's ``CartPoleEnv.render``, without its anti-aliasing.

    :param state: the cart position (m) and pole angle (rad, 0 upright) at indices 0 and 2 (the env's state)
    :param length: Gymnasium's ``length``: half the pole's length (m), drawn at the scale of the track
    :param width: image width in pixels (Gymnasium's ``screen_width``); the track's +-2.4 m span it
    :param height: image height in pixels (Gymnasium's ``screen_height``)
    :return: the frame, ``(height, width, 3)`` uint8
    """
    scale = width / (2 * X_THRESHOLD)
    cart_x = float(state[0]) * scale + width / 2.0
    cart_y = 100.0  # Gymnasium's "top of cart": the track line, through the cart's middle
    axle_y = cart_y + 30.0 / 4.0
    # Gymnasium draws with y up from the bottom edge, then flips the surface
    y = (height - 1 - np.arange(height, dtype=np.float64))[:, None]
    x = np.arange(width, dtype=np.float64)[None, :]
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    image[(np.abs(x - cart_x) <= 25.0) & (np.abs(y - cart_y) <= 15.0)] = (0, 0, 0)  # 50 x 30 cart
    # the 10-pixel-wide pole from the axle, rotated by -theta as pygame's Vector2.rotate_rad(-theta)
    sin, cos = math.sin(float(state[2])), math.cos(float(state[2]))
    dx, dy = x - cart_x, y - axle_y
    across, along = dx * cos - dy * sin, dx * sin + dy * cos
    image[(np.abs(across) <= 5.0) & (along >= -5.0) & (along <= scale * 2.0 * length - 5.0)] = (202, 152, 101)
    image[(x - int(cart_x)) ** 2 + (y - int(axle_y)) ** 2 <= 25.0] = (129, 132, 203)  # the axle
    image[height - 1 - int(cart_y)] = (0, 0, 0)  # the track
    return image


class RobustCartPoleEnv(PerturbableEnv, CartPoleEnv, EzPickle):
    r"""
    ## Description
    Gymnasium's ``CartPole-v1`` (Barto, Sutton and Anderson 1983): a pole hinged on a cart that moves on a
    frictionless track, balanced by pushing the cart left or right with a force of fixed magnitude. The
    physical parameters that Jiang et al., "Monotonic Robust Policy Optimization with Model Discrepancy"
    (ICML 2021), vary in their Table 1 are named and perturbable. The equations of motion are Gymnasium's
    (Florian 2007, with the pole a uniform rod of half-length ``l``):

    ``theta'' = (g sin(theta) - cos(theta) t) / (l (4/3 - m_p cos(theta)^2 / (m_p + m_c)))`` and
    ``x'' = t - m_p l theta'' cos(theta) / (m_p + m_c)``, with ``t = (F + m_p l theta'^2 sin(theta)) / (m_p + m_c)``,

    integrated by one (semi-implicit, if asked) Euler step of ``tau = 0.02`` s. With nominal parameters the env
    reproduces ``CartPole-v1`` exactly: the same ``np_random`` draws, observations (float32), rewards and
    termination, bit for bit.

    ## Action Space
    ``Discrete(2)``: 0 pushes the cart left (force ``-force_mag``), 1 pushes it right (``+force_mag``).

    ## Observation Space
    ``Box(float32)`` of shape (4,): cart position (m), cart velocity (m/s), pole angle (rad, 0 upright), pole
    angular velocity (rad/s), bounds as ``CartPole-v1``.

    ## Rewards
    As ``CartPole-v1``: +1 for every step including the terminating one, 0 for steps taken after termination
    (with Gymnasium's warning). ``sutton_barto_reward=True`` gives 0 per step and -1 on termination.

    ## Starting State
    Every state variable ``~ U(-0.05, 0.05)``; ``reset(options={"low": ..., "high": ...})`` changes the bounds
    as in ``CartPole-v1``, and may be combined with ``"params"``.

    ## Episode End
    Termination when ``|theta| > 12 deg`` or ``|x| > 2.4`` m; the registered id truncates after 500 steps
    (as ``CartPole-v1``).

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order.

    | parameter | nominal | bounds | unit | meaning |
    |---|---|---|---|---|
    | ``force_mag`` | 10.0 | [0, 1e4] | N | magnitude of the push (Gymnasium's ``force_mag``) |
    | ``pole_length`` | 0.5 | [1e-3, 100] | m | Gymnasium's ``length``: pivot to the pole's centre of mass (half the pole) |
    | ``pole_mass`` | 0.1 | [1e-4, 1e3] | kg | mass of the pole (Gymnasium's ``masspole``) |
    | ``cart_mass`` | 1.0 | [1e-4, 1e3] | kg | mass of the cart (Gymnasium's ``masscart``) |

    ``pole_length`` keeps Gymnasium's meaning of the attribute ``length``, so the paper's ranges (training
    0.05-1, testing 1-6, presets ``jiang2021/cartpole/train`` and ``.../test``) apply to the attribute the
    reference implementations set; its nominal 0.5 lies inside the training range.

    Other keyword arguments: ``sutton_barto_reward`` (False), ``kinematics_integrator`` (``"euler"`` or
    ``"semi-implicit euler"``, Gymnasium's attribute of the same name), ``render_mode`` (``"human"``: Gymnasium's
    pygame window, needs ``pygame``; ``"rgb_array"``: (400, 600, 3) uint8 frames of the same picture drawn with numpy
    at the episode's pole length, see :func:`draw_cartpole`), ``keep_mass`` (``False`` only: the
    equations take ``pole_mass`` whatever ``pole_length``, so there is no mass a length could change;
    ``True`` raises ``ValueError``).

    ## Version History
    - v0: first version, on Gymnasium's CartPole-v1.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 50}
    param_space: ClassVar[ParamSpace] = PARAM_SPACE
    upstream_id: ClassVar[str] = UPSTREAM_ID
    state_size: ClassVar[int] = len(STATE_FIELDS)  # type: ignore[assignment]
    state_fields: ClassVar[tuple[str, ...] | None] = STATE_FIELDS

    def __init__(
        self,
        params: ParamsLike | None = None,
        sutton_barto_reward: bool = False,
        kinematics_integrator: str = "euler",
        render_mode: str | None = None,
        keep_mass: bool = False,
    ) -> None:
        self._init_params(params, keep_mass)
        if kinematics_integrator not in INTEGRATORS:
            raise ValueError(f"kinematics_integrator must be one of {INTEGRATORS}, got {kinematics_integrator!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if not isinstance(sutton_barto_reward, bool):
            raise ValueError(f"sutton_barto_reward must be True or False, got {sutton_barto_reward!r}")
        CartPoleEnv.__init__(self, sutton_barto_reward=sutton_barto_reward, render_mode=render_mode)
        EzPickle.__init__(
            self,
            params=params,
            sutton_barto_reward=sutton_barto_reward,
            kinematics_integrator=kinematics_integrator,
            render_mode=render_mode,
            keep_mass=keep_mass,
        )
        self.kinematics_integrator = kinematics_integrator
        self._set_physics(self._episode_params)

    def _set_physics(self, vector: np.ndarray) -> None:
        # Gymnasium's attributes, so that its renderer draws the pole at its length
        self.force_mag, self.length, self.masspole, self.masscart = (float(v) for v in vector)
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length

    # ---- dynamics: one formula for Python floats (step) and arrays of rows (sampler) ------------------
    def _euler_step(self, x, x_dot, theta, theta_dot, force, sintheta, costheta, length, masspole, masscart):
        """
        One step of Gymnasium's cart-pole equations; every argument is a float or an (M,) array.

        The operations and their order are those of ``CartPoleEnv.step`` (``np.square(v)`` is ``v * v``), so a
        nominal step is bit-exact; IEEE arithmetic gives Python floats and numpy arrays the same bits.

        :return: the new ``(x, x_dot, theta, theta_dot)``
        """
        total_mass = masspole + masscart
        polemass_length = masspole * length
        temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
        denominator = length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass)
        thetaacc = (GRAVITY * sintheta - costheta * temp) / denominator
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        if self.kinematics_integrator == "euler":
            return x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc
        x_dot = x_dot + TAU * xacc
        theta_dot = theta_dot + TAU * thetaacc
        return x + TAU * x_dot, x_dot, theta + TAU * theta_dot, theta_dot

    def _integrate(self, states: np.ndarray, push_right: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """:return: the (M, 4) states after one step from (M, 4) states, (M,) actions and (M, 4) parameter vectors."""
        x, x_dot, theta, theta_dot = states.T
        force_mag, length, masspole, masscart = vectors.T
        force = np.where(push_right, force_mag, -force_mag)
        sintheta, costheta = _map(math.sin, theta), _map(math.cos, theta)
        new = self._euler_step(x, x_dot, theta, theta_dot, force, sintheta, costheta, length, masspole, masscart)
        return np.stack(new, axis=-1)

    @staticmethod
    def _terminated(states: np.ndarray) -> np.ndarray:
        x, theta = states[:, 0], states[:, 2]
        return (x < -X_THRESHOLD) | (x > X_THRESHOLD) | (theta < -THETA_THRESHOLD) | (theta > THETA_THRESHOLD)

    def _rewards(self, terminated: np.ndarray, steps_beyond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: rewards and new ``steps_beyond_terminated`` (``-1``: not terminated yet), counted as Gymnasium does."""
        first_end = terminated & (steps_beyond < 0)
        after_end = terminated & (steps_beyond >= 0)
        if self._sutton_barto_reward:
            rewards = np.where(terminated, -1.0, 0.0)
        else:
            rewards = np.where(after_end, 0.0, 1.0)
        new_steps = np.where(first_end, 0.0, np.where(after_end, steps_beyond + 1.0, steps_beyond))
        return rewards, new_steps

    @staticmethod
    def _action_bits(action: Any, n: int) -> np.ndarray:
        values = np.asarray(action)
        if values.size != n or values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(
                f"Action must be {n} integer(s) in {{0, 1}} (0: push left, 1: push right), got {action!r} "
                f"(shape {values.shape}, dtype {values.dtype})"
            )
        values = values.reshape(n)
        if not np.all((values == 0) | (values == 1)):
            raise ValueError(f"Action must be 0 (push left) or 1 (push right), got {action!r}")
        return values == 1

    # ---- Gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """
        Start an episode with every state variable drawn from ``U(low, high)`` (default ``(-0.05, 0.05)``).

        :param seed: seeds ``np_random``
        :param options: ``"params"`` runs this episode (only) with these parameters; ``"low"`` and ``"high"``
            change the bounds of the initial state, as in ``CartPole-v1``
        :return: observation (float32) and info (``params``)
        """
        vector = self._episode_params_from(options, allowed=("high", "low", "params"))
        # the bounds are checked before anything changes, so a refused reset leaves the episode as it was
        low, high = classic_utils.maybe_parse_reset_bounds(options or None, -0.05, 0.05)
        gym.Env.reset(self, seed=seed)
        self._begin_episode(vector)
        self._set_physics(vector)
        self.state = self.np_random.uniform(low=low, high=high, size=(4,))
        self.steps_beyond_terminated = None
        if self.render_mode == "human":
            self.render()
        return np.array(self.state, dtype=np.float32), {"params": self.params}

    def step(self, action):  # type: ignore[override]
        """
        Push the cart for ``tau = 0.02`` s.

        :param action: 0 (left) or 1 (right): a Python or numpy integer
        :return: observation (float32), reward, terminated, truncated (False; the TimeLimit wrapper truncates),
            info with ``params``
        :raises ValueError: an action other than 0 or 1
        """
        if self.state is None:
            raise RuntimeError("Call reset before step")
        if type(action) is int or isinstance(action, np.integer):
            if action not in (0, 1):
                raise ValueError(f"Action must be 0 (push left) or 1 (push right), got {action!r}")
            push_right = action == 1
        else:
            push_right = bool(self._action_bits(action, 1)[0])
        x, x_dot, theta, theta_dot = self.state.tolist()
        # Python floats and math.sin/cos: the same bits as Gymnasium's numpy scalars, at a tenth of the cost of arrays
        x, x_dot, theta, theta_dot = self._euler_step(
            x,
            x_dot,
            theta,
            theta_dot,
            self.force_mag if push_right else -self.force_mag,
            math.sin(theta),
            math.cos(theta),
            self.length,
            self.masspole,
            self.masscart,
        )
        self.state = np.array((x, x_dot, theta, theta_dot), dtype=np.float64)
        terminated = x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD
        # Gymnasium's reward and its count of steps after termination (see _rewards for the sampler's version)
        if not terminated:
            reward = 0.0 if self._sutton_barto_reward else 1.0
        elif self.steps_beyond_terminated is None:
            self.steps_beyond_terminated = 0
            reward = -1.0 if self._sutton_barto_reward else 1.0
        else:
            if self.steps_beyond_terminated == 0:
                logger.warn(
                    "You are calling 'step()' even though this environment has already returned terminated = True. "
                    "You should always call 'reset()' once you receive 'terminated = True' -- "
                    "any further steps are undefined behavior."
                )
            self.steps_beyond_terminated += 1
            reward = -1.0 if self._sutton_barto_reward else 0.0
        if self.render_mode == "human":
            self.render()
        return np.array(self.state, dtype=np.float32), reward, terminated, False, {"params": self.params}

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """
        :return: for ``render_mode="rgb_array"``, a (400, 600, 3) uint8 frame of the state at the episode's pole length
            (:func:`draw_cartpole`; no pygame needed), ``None`` before the first reset; ``"human"`` draws Gymnasium's
            pygame window
        """
        if self.render_mode != "rgb_array":
            return CartPoleEnv.render(self)
        return None if self.state is None else draw_cartpole(self.state, self.length, self.screen_width, self.screen_height)

    # ---- state ----------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        """:return: ``[x, x_dot, theta, theta_dot, steps_beyond_terminated]`` as a new array (see :data:`STATE_FIELDS`)."""
        if self.state is None:
            raise RuntimeError("Call reset before get_state")
        steps = -1.0 if self.steps_beyond_terminated is None else float(self.steps_beyond_terminated)
        return np.append(np.asarray(self.state, dtype=np.float64), steps)

    def _has_state(self) -> bool:
        return self.state is not None

    def _restore_state(self, state: np.ndarray) -> None:
        self.state = state[:4].copy()
        self.steps_beyond_terminated = None if state[4] < 0 else int(state[4])

    def _restore_episode_params(self, vector: np.ndarray) -> None:
        self._begin_episode(vector)
        self._set_physics(vector)

    def _check_state_values(self, states: np.ndarray) -> None:
        steps = states[:, 4]
        if not np.all((steps == -1) | ((steps >= 0) & (steps == np.round(steps)))):
            raise ValueError(f"steps_beyond_terminated must be -1 (not terminated) or a count >= 0, got {steps}")

    def _check_action_rows(self, actions: Any, n: int) -> np.ndarray:
        """:return: whether each of the N actions (shape (N,) or (N, 1), integers in {0, 1}) pushes right."""
        values = np.asarray(actions)
        if values.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"actions must have shape ({n},) or ({n}, 1) to match {n} states, got {values.shape}: {actions!r}"
            )
        return self._action_bits(values, n)

    def _step_rows(self, states: np.ndarray, actions: np.ndarray, vectors: np.ndarray) -> tuple[Any, Any, Any, np.ndarray]:
        """The rows of :meth:`sample_next_states`, vectorised; observations are float32 as ``step``'s."""
        physics = self._integrate(states[:, :4], actions, np.tile(vectors, (states.shape[0] // vectors.shape[0], 1)))
        terminated = self._terminated(physics)
        rewards, steps = self._rewards(terminated, states[:, 4])
        final = np.concatenate((physics, steps[:, None]), axis=1)
        return physics.astype(np.float32), rewards, terminated, final
