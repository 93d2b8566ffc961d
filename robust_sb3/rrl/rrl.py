"""Robust reinforcement learning (Morimoto and Doya, NIPS 2000): continuous-time RL with an H-infinity disturber."""

from __future__ import annotations

import io
import json
import math
import pathlib
import zipfile
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_sb3.rrl.approximators import InputGainModel, NGnet, NGnetCritic, QuadraticCritic, critic_from_config

POLICIES = ("value_gradient", "actor_disturber_critic")
APPROXIMATORS = ("quadratic", "ngnet")
INPUT_GAINS = ("known", "learned")

_FORMAT_VERSION = 1

#: An SB3-style schedule: the learning rate as a function of the remaining progress (1 at the start, 0 at the end).
Schedule = Callable[[float], float]


def _positive(name: str, value: Any, allow_inf: bool = False, allow_zero: bool = False) -> float:
    """:return: ``value`` as a float, after checking it is a number > 0 (or >= 0), finite unless ``allow_inf``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = (value >= 0 if allow_zero else value > 0) and not math.isnan(value) and (allow_inf or math.isfinite(value))
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}{' (inf allowed)' if allow_inf else ' and finite'}, got {value}")
    return value


def _rate(name: str, value: Any) -> float | Schedule:
    """:return: a validated learning rate: a number >= 0 or a callable schedule."""
    if callable(value):
        _positive(f"{name}(1.0)", value(1.0), allow_zero=True)
        return value
    return _positive(name, value, allow_zero=True)


class RRL:
    """
    Robust Reinforcement Learning (Morimoto and Doya, "Robust Reinforcement Learning", NIPS 2000).

    A continuous-time learner (Doya 2000) for a differential game between an actor, which maximises the value,
    and a disturber, which minimises it but pays for its effort (H-infinity control):

    - augmented reward (Eq. 7): ``q(t) = r(x, u) + s(w)`` with ``s(w) = gamma^2 w^T w``, where ``r`` is the env's
      reward rate and ``w`` the disturbance the learner sets through the env's disturbance channel;
    - value (Eq. 8): ``V(x(t)) = integral_t^inf e^{-(s-t)/tau} q ds``, learned from the continuous-time TD error
      ``delta(t) = q(t) - V(t)/tau + dV/dt`` with eligibility traces of time constant ``kappa``;
    - ``policy="actor_disturber_critic"`` (section 3.1, Eq. 10): ``u = A_u(x) + n_u``, ``w = A_w(x) + n_w``, updated by
      ``v_u_dot = eta_u delta n_u dA_u/dv_u`` and ``v_w_dot = -eta_w delta n_w dA_w/dv_w`` (opposite signs);
    - ``policy="value_gradient"`` (section 3.2, Eq. 11): for an input-affine model ``x_dot = f(x) + g1 w + g2 u`` and
      ``r = Q(x) - u^T R u``, ``u_op = 1/2 R^{-1} g2^T dV/dx^T`` and ``w_op = -1/(2 gamma^2) g1^T dV/dx^T``; the input
      gains come from the env (``input_gain="known"``, its ``input_gains(obs)``) or are learned by RLS
      (``"learned"``, as the paper does for the swing-up);
    - approximators: ``"quadratic"`` (``V = -x^T P x``, RLS with traces as instruments, linear actor and disturber;
      section 4.1) or ``"ngnet"`` (normalised Gaussian network, gradient TD(lambda); section 4.2).

    ``gamma = inf`` removes the disturber (``w = 0``, no disturbance channel needed): the standard continuous-time RL
    baseline of the paper. The env must have Box spaces, a time step ``dt`` (``env.unwrapped.dt`` or the argument)
    and return the reward *rate* (per second; its average over the step). With a finite ``gamma`` it needs the
    disturbance channel: ``disturbance_space`` and ``set_disturbance(w)``.

    :param env: a Gymnasium env or a registered id
    :param gamma: robustness level ``gamma > 0`` (H-infinity attenuation bound); ``inf`` for standard RL
    :param policy: ``"value_gradient"`` or ``"actor_disturber_critic"``
    :param approximator: ``"quadratic"`` or ``"ngnet"``
    :param tau: time constant of the value's discounting (s); ``inf`` for none (then the quadratic critic's constant
        term estimates the average reward rate)
    :param kappa: time constant of the eligibility traces (s); 0 for TD(0)
    :param critic_lr: learning rate ``eta`` of the NGnet critic (the RLS critic has none); a number or, as in SB3, a
        function of the remaining progress (1 at the start of ``learn()``, 0 at its end)
    :param actor_lr: learning rate ``eta_u`` of the actor (actor-disturber-critic); number or schedule
    :param disturber_lr: learning rate ``eta_w`` of the disturber (actor-disturber-critic); number or schedule
    :param action_noise: standard deviation of the actor's exploration noise ``n_u`` (action units)
    :param disturbance_noise: standard deviation of the disturber's exploration noise ``n_w``
    :param noise_tau: time constant (s) of the low-pass filter on the noise; 0 for noise drawn anew each step
    :param control_cost: ``R`` of Eq. 11 in action units (a number or matrix); default ``env.unwrapped.control_cost_matrix``
    :param input_gain: ``"known"`` (``env.unwrapped.input_gains(obs)``, taken once and assumed constant) or ``"learned"``
    :param max_disturbance: bound on ``|w|`` per component; default the env's ``disturbance_space`` bound
    :param approximator_kwargs: for ``"ngnet"``: ``n_centers`` (default 15 per dimension), ``low``, ``high`` (default the
        observation bounds, required where those are infinite), ``periodic`` (default ``env.unwrapped.periodic_dims``),
        ``init_value`` (0.0); for ``"quadratic"``: ``init_cov`` (1e4), ``forgetting`` (1.0)
    :param policy_update_episodes: the quadratic critic's RLS data is discarded every this many episodes and the
        value-gradient policy set from the critic (policy iteration, Bradtke 1993); 0 never discards (the policy then
        follows the critic at every step). The NGnet value-gradient policy always follows the critic.
    :param init_value_matrix: initial ``P`` of the quadratic critic (a stabilising design for unstable plants,
        section 4.1: "pre-designed stabilizing controller")
    :param init_actor_gain: initial linear actor gain (m_u, n) (quadratic actor-disturber-critic)
    :param init_disturber_gain: initial linear disturber gain (m_w, n)
    :param dt: time step (s); default ``env.unwrapped.dt``
    :param seed: seed of the learner's and the env's random numbers
    :param verbose: 0 silent, 1 one line per 10 episodes
    """

    def __init__(
        self,
        env: gym.Env | str,
        gamma: float = math.inf,
        policy: str = "value_gradient",
        approximator: str = "ngnet",
        tau: float = 1.0,
        kappa: float = 0.1,
        critic_lr: float | Schedule = 1.0,
        actor_lr: float | Schedule = 1.0,
        disturber_lr: float | Schedule = 1.0,
        action_noise: float = 0.0,
        disturbance_noise: float = 0.0,
        noise_tau: float = 0.0,
        control_cost: float | np.ndarray | None = None,
        input_gain: str = "known",
        max_disturbance: float | None = None,
        approximator_kwargs: dict[str, Any] | None = None,
        policy_update_episodes: int = 1,
        init_value_matrix: np.ndarray | None = None,
        init_actor_gain: np.ndarray | None = None,
        init_disturber_gain: np.ndarray | None = None,
        dt: float | None = None,
        seed: int | None = None,
        verbose: int = 0,
    ) -> None:
        if isinstance(env, str):
            env = gym.make(env)
        self.env: gym.Env | None = env
        # ---- hyperparameters ------------------------------------------------------------------
        self.gamma = _positive("gamma", gamma, allow_inf=True)
        if policy not in POLICIES:
            raise ValueError(f"Unknown policy {policy!r}; allowed: {POLICIES}")
        if approximator not in APPROXIMATORS:
            raise ValueError(f"Unknown approximator {approximator!r}; allowed: {APPROXIMATORS}")
        if input_gain not in INPUT_GAINS:
            raise ValueError(f"Unknown input_gain {input_gain!r}; allowed: {INPUT_GAINS}")
        self.policy, self.approximator, self.input_gain = policy, approximator, input_gain
        self.tau = _positive("tau", tau, allow_inf=True)
        self.kappa = _positive("kappa", kappa, allow_zero=True)
        # learning rates: numbers or SB3-style schedules of the remaining progress (1 -> 0 over a learn() call)
        self.critic_lr = _rate("critic_lr", critic_lr)
        self.actor_lr = _rate("actor_lr", actor_lr)
        self.disturber_lr = _rate("disturber_lr", disturber_lr)
        self.action_noise = _positive("action_noise", action_noise, allow_zero=True)
        self.disturbance_noise = _positive("disturbance_noise", disturbance_noise, allow_zero=True)
        self.noise_tau = _positive("noise_tau", noise_tau, allow_zero=True)
        if (
            isinstance(policy_update_episodes, bool)
            or not isinstance(policy_update_episodes, int)
            or policy_update_episodes < 0
        ):
            raise ValueError(f"policy_update_episodes must be an int >= 0, got {policy_update_episodes!r}")
        self.policy_update_episodes = policy_update_episodes
        self.seed, self.verbose = seed, int(verbose)
        self.rng = np.random.default_rng(seed)

        self._setup_env(env, dt, max_disturbance, control_cost)
        self._setup_approximators(env, approximator_kwargs, init_value_matrix, init_actor_gain, init_disturber_gain)

        # ---- learning state ---------------------------------------------------------------------
        self.num_timesteps = 0
        self.num_episodes = 0
        self.episode_returns: list[float] = []
        self._trace = np.zeros_like(self.critic.trace_features(np.zeros(self.obs_dim)))
        self._noise_u = np.zeros(self.action_dim)
        self._noise_w = np.zeros(self.disturbance_dim)
        self._last_obs: np.ndarray | None = None
        self._episode_return = 0.0
        self._env_seeded = False

    # ---- construction helpers --------------------------------------------------------------------
    def _setup_env(self, env: gym.Env, dt: float | None, max_disturbance: float | None, control_cost: Any) -> None:
        """Read what the learner needs from the env: spaces, time step, disturbance channel, R and input gains."""
        unwrapped = env.unwrapped
        if not isinstance(env.observation_space, spaces.Box) or len(env.observation_space.shape) != 1:
            raise ValueError(f"RRL needs a flat Box observation space, got {env.observation_space}")
        if not isinstance(env.action_space, spaces.Box) or len(env.action_space.shape) != 1:
            raise ValueError(f"RRL needs a flat Box action space, got {env.action_space}")
        self.obs_dim = int(env.observation_space.shape[0])
        self.action_dim = int(env.action_space.shape[0])
        self.action_low = np.asarray(env.action_space.low, dtype=np.float64)
        self.action_high = np.asarray(env.action_space.high, dtype=np.float64)
        self.action_dtype = str(env.action_space.dtype)
        if dt is None:
            dt = getattr(unwrapped, "dt", None)
            if dt is None:
                raise ValueError(f"{type(unwrapped).__name__} has no attribute dt; pass the time step as dt=...")
        self.dt = _positive("dt", dt)
        self.disturbance_dim = 0
        self.max_disturbance = 0.0
        if not math.isinf(self.gamma):
            space = getattr(unwrapped, "disturbance_space", None)
            if not (isinstance(space, spaces.Box) and callable(getattr(unwrapped, "set_disturbance", None))):
                raise ValueError(
                    f"gamma={self.gamma} needs an env with a disturbance channel (disturbance_space and set_disturbance), "
                    f"which {type(unwrapped).__name__} lacks; use gamma=math.inf for standard RL"
                )
            self.disturbance_dim = int(np.prod(space.shape))
            bound = float(np.min(space.high)) if max_disturbance is None else max_disturbance
            self.max_disturbance = _positive("max_disturbance", bound, allow_inf=True)
        self.periodic_dims = tuple(int(i) for i in getattr(unwrapped, "periodic_dims", ()))

        # control cost R (action units) and input gains, needed by the value-gradient policy
        if control_cost is None:
            control_cost = getattr(unwrapped, "control_cost_matrix", None)
        self.control_cost = None if control_cost is None else np.atleast_2d(np.asarray(control_cost, dtype=np.float64))
        if self.policy == "value_gradient":
            if self.control_cost is None:
                raise ValueError(
                    f"policy='value_gradient' needs the control cost R (Eq. 11): pass control_cost=... "
                    f"({type(unwrapped).__name__} has no control_cost_matrix)"
                )
            if self.control_cost.shape != (self.action_dim, self.action_dim):
                raise ValueError(f"control_cost must be ({self.action_dim}, {self.action_dim}), got {self.control_cost.shape}")
        self.g1 = np.zeros((self.obs_dim, self.disturbance_dim))
        self.g2 = np.zeros((self.obs_dim, self.action_dim))
        if self.policy == "value_gradient" and self.input_gain == "known":
            gains = getattr(unwrapped, "input_gains", None)
            if not callable(gains):
                raise ValueError(
                    f"input_gain='known' needs env.unwrapped.input_gains(obs); {type(unwrapped).__name__} has none: "
                    "use input_gain='learned'"
                )
            g1, g2 = gains(np.zeros(self.obs_dim))
            self.g2 = np.asarray(g2, dtype=np.float64).reshape(self.obs_dim, self.action_dim)
            if self.disturbance_dim:
                self.g1 = np.asarray(g1, dtype=np.float64).reshape(self.obs_dim, self.disturbance_dim)

    def _setup_approximators(
        self,
        env: gym.Env,
        approximator_kwargs: dict[str, Any] | None,
        init_value_matrix: np.ndarray | None,
        init_actor_gain: np.ndarray | None,
        init_disturber_gain: np.ndarray | None,
    ) -> None:
        """Build the critic, the actor and disturber gains and the learned input-gain model."""
        kwargs = dict(approximator_kwargs or {})
        if self.approximator == "quadratic":
            allowed = {"init_cov", "forgetting"}
            self._check_kwargs(kwargs, allowed)
            self.critic: QuadraticCritic | NGnetCritic = QuadraticCritic(
                self.obs_dim, kwargs.get("init_cov", 1e4), kwargs.get("forgetting", 1.0)
            )
            if init_value_matrix is not None:
                self.critic.set_matrix(init_value_matrix)
            actor_features = self.obs_dim
        else:
            allowed = {"n_centers", "low", "high", "periodic", "init_value"}
            self._check_kwargs(kwargs, allowed)
            if init_value_matrix is not None:
                raise ValueError("init_value_matrix is for approximator='quadratic'")
            low = np.asarray(kwargs.get("low", env.observation_space.low), dtype=np.float64)
            high = np.asarray(kwargs.get("high", env.observation_space.high), dtype=np.float64)
            if not np.all(np.isfinite(low) & np.isfinite(high)):
                raise ValueError(
                    f"The NGnet needs finite ranges; the observation space is {env.observation_space}: pass "
                    "approximator_kwargs={'low': [...], 'high': [...]}"
                )
            n_centers = kwargs.get("n_centers", (15,) * self.obs_dim)
            periodic = kwargs.get("periodic", self.periodic_dims)
            self.critic = NGnetCritic(NGnet(low, high, n_centers, periodic), kwargs.get("init_value", 0.0))
            actor_features = self.critic.net.size
        self.actor_gain = self._init_gain("init_actor_gain", init_actor_gain, (self.action_dim, actor_features))
        self.disturber_gain = self._init_gain(
            "init_disturber_gain", init_disturber_gain, (self.disturbance_dim, actor_features)
        )
        n_basis = self.critic.net.size if isinstance(self.critic, NGnetCritic) else 0
        self.gain_model = (
            InputGainModel(self.obs_dim, self.action_dim, self.disturbance_dim, n_basis)
            if self.policy == "value_gradient" and self.input_gain == "learned"
            else None
        )
        self.policy_theta = self.critic.theta.copy()

    @staticmethod
    def _check_kwargs(kwargs: dict[str, Any], allowed: set[str]) -> None:
        unknown = set(kwargs) - allowed
        if unknown:
            raise ValueError(f"Unknown approximator_kwargs {sorted(unknown)}; allowed: {sorted(allowed)}")

    def _init_gain(self, name: str, value: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
        if value is None:
            return np.zeros(shape)
        if self.policy != "actor_disturber_critic":
            raise ValueError(f"{name} is for policy='actor_disturber_critic'")
        gain = np.asarray(value, dtype=np.float64)
        if gain.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {gain.shape}")
        return gain.copy()

    # ---- policies ------------------------------------------------------------------------------------
    @property
    def value_matrix(self) -> np.ndarray:
        """The quadratic critic's ``P`` (``V = -x^T P x``)."""
        if not isinstance(self.critic, QuadraticCritic):
            raise AttributeError("value_matrix exists for approximator='quadratic' only")
        return self.critic.matrix

    def _actor_features(self, x: np.ndarray) -> np.ndarray:
        return x if isinstance(self.critic, QuadraticCritic) else self.critic.trace_features(x)

    def _gains(self) -> tuple[np.ndarray, np.ndarray]:
        return self.gain_model.gains if self.gain_model is not None else (self.g1, self.g2)

    def _mean_inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: the deterministic ``u`` (clipped to the action bounds) and ``w`` (clipped to ``max_disturbance``)."""
        if self.policy == "value_gradient":
            # Eq. 11: u_op = R^-1 g2^T dV/dx^T / 2, w_op = -g1^T dV/dx^T / (2 gamma^2)
            params = self.policy_theta if self.policy_update_episodes and isinstance(self.critic, QuadraticCritic) else None
            grad = self.critic.gradient(x, params)
            g1, g2 = self._gains()
            assert self.control_cost is not None
            u = 0.5 * np.linalg.solve(self.control_cost, g2.T @ grad)
            w = -0.5 / self.gamma**2 * (g1.T @ grad) if self.disturbance_dim else np.zeros(0)
        else:
            phi = self._actor_features(x)
            u = self.actor_gain @ phi
            w = self.disturber_gain @ phi
        return np.clip(u, self.action_low, self.action_high), np.clip(w, -self.max_disturbance, self.max_disturbance)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """
        The actor's action (the disturber only acts during learning).

        :param observation: one observation (obs_dim,) or a batch (B, obs_dim)
        :param state: unused (SB3 signature)
        :param episode_start: unused (SB3 signature)
        :param deterministic: without exploration noise if True; else with white noise of ``action_noise``
        :return: the action(s), clipped to the action space, and ``None``
        """
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape[-1:] != (self.obs_dim,) or obs.ndim > 2:
            raise ValueError(f"observation must have shape ({self.obs_dim},) or (B, {self.obs_dim}), got {obs.shape}")
        rows = np.atleast_2d(obs)
        actions = np.stack([self._mean_inputs(x)[0] for x in rows])
        if not deterministic and self.action_noise > 0:
            actions = np.clip(
                actions + self.action_noise * self.rng.standard_normal(actions.shape), self.action_low, self.action_high
            )
        actions = actions.astype(self.action_dtype)
        return (actions if obs.ndim == 2 else actions[0]), None

    def value(self, observation: np.ndarray) -> float:
        """:return: the critic's ``V(x)``."""
        return self.critic.value(np.asarray(observation, dtype=np.float64))

    # ---- learning -------------------------------------------------------------------------------------
    def _next_noise(self, previous: np.ndarray, std: float) -> np.ndarray:
        if std == 0.0 or previous.size == 0:
            return np.zeros_like(previous)
        if self.noise_tau == 0.0:
            return std * self.rng.standard_normal(previous.shape)
        # Ornstein-Uhlenbeck low-pass noise with stationary standard deviation std
        decay = math.exp(-self.dt / self.noise_tau)
        return decay * previous + std * math.sqrt(1.0 - decay**2) * self.rng.standard_normal(previous.shape)

    def _reset_env(self) -> np.ndarray:
        assert self.env is not None
        seed = None
        if not self._env_seeded:
            seed = self.seed
            self._env_seeded = True
        obs, _ = self.env.reset(seed=seed)
        self._trace[:] = 0.0
        self._noise_u[:] = 0.0
        self._noise_w[:] = 0.0
        self._episode_return = 0.0
        return np.asarray(obs, dtype=np.float64)

    def _set_disturbance(self, w: np.ndarray) -> None:
        assert self.env is not None
        setter = getattr(self.env.unwrapped, "set_disturbance")  # noqa: B009
        setter(w)

    def _observed_derivative(self, x: np.ndarray, x_next: np.ndarray) -> np.ndarray:
        diff = x_next - x
        for i in self.periodic_dims:
            diff[i] = (diff[i] + math.pi) % (2.0 * math.pi) - math.pi
        return diff / self.dt

    def _learn_step(
        self, x: np.ndarray, critic_lr: float, actor_lr: float, disturber_lr: float
    ) -> tuple[np.ndarray, bool, bool]:
        """One env step and its learning updates; :return: next observation, terminated, truncated."""
        assert self.env is not None
        dt, tau = self.dt, self.tau
        trace_decay = math.exp(-dt / self.kappa) if self.kappa > 0 else 0.0
        u_mean, w_mean = self._mean_inputs(x)
        self._noise_u = self._next_noise(self._noise_u, self.action_noise)
        u = np.clip(u_mean + self._noise_u, self.action_low, self.action_high)
        w = np.zeros(0)
        if self.disturbance_dim:
            self._noise_w = self._next_noise(self._noise_w, self.disturbance_noise)
            w = np.clip(w_mean + self._noise_w, -self.max_disturbance, self.max_disturbance)
            self._set_disturbance(w)
        obs, reward, terminated, truncated, info = self.env.step(u.astype(self.action_dtype))
        x_next = np.asarray(obs, dtype=np.float64)
        if self.disturbance_dim:
            w = np.asarray(info.get("disturbance", w), dtype=np.float64).reshape(self.disturbance_dim)
        # Eq. 7: the disturber is paid gamma^2 w^T w for its effort, so minimising V keeps w small
        q = float(reward) + (self.gamma**2 * float(w @ w) if self.disturbance_dim else 0.0)
        self._episode_return += float(reward) * dt

        # eligibility trace e_dot = -e/kappa + dV/dtheta (Doya 2000), the instrument of the RLS critic
        self._trace = trace_decay * self._trace + dt * self.critic.trace_features(x)
        if self.policy == "actor_disturber_critic":
            # Eq. 10: actor and disturber follow the TD error with opposite signs, correlated with their own noise
            delta = self.critic.td_error(q, x, x_next, terminated, dt, tau)
            phi = self._actor_features(x)
            self.actor_gain += (actor_lr * delta * dt) * np.outer(u - u_mean, phi)
            if self.disturbance_dim:
                self.disturber_gain -= (disturber_lr * delta * dt) * np.outer(w - w_mean, phi)
        self.critic.update(q, x, x_next, terminated, dt, tau, self._trace, critic_lr)
        if self.gain_model is not None and not terminated:
            basis = self.critic.trace_features(x) if isinstance(self.critic, NGnetCritic) else None
            self.gain_model.update(x, basis, u, w, self._observed_derivative(x, x_next))
        if self.policy_update_episodes == 0:
            self.policy_theta = self.critic.theta
        return x_next, bool(terminated), bool(truncated)

    def learn(
        self,
        total_timesteps: int,
        callback: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
        log_interval: int = 10,
        progress_bar: bool = False,
        reset_num_timesteps: bool = True,
    ) -> RRL:
        """
        Learn on-line for ``total_timesteps`` env steps.

        :param total_timesteps: env steps to run
        :param callback: called as ``callback(locals(), globals())`` after every step; returning False stops learning
        :param log_interval: episodes between log lines (with ``verbose >= 1``)
        :param progress_bar: show a tqdm progress bar
        :param reset_num_timesteps: start the step counter at 0 (and start a new episode)
        :return: self
        """
        if self.env is None:
            raise ValueError("This model has no env: pass one to RRL.load(path, env=...) or call set_env(env)")
        if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, int | np.integer) or total_timesteps < 0:
            raise ValueError(f"total_timesteps must be an int >= 0, got {total_timesteps!r}")
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._last_obs = None
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(total_timesteps))
        x = self._reset_env() if self._last_obs is None else self._last_obs
        total = max(int(total_timesteps), 1)
        for step in range(int(total_timesteps)):
            remaining = 1.0 - step / total
            rates = tuple(lr(remaining) if callable(lr) else lr for lr in (self.critic_lr, self.actor_lr, self.disturber_lr))
            x_next, terminated, truncated = self._learn_step(x, *rates)

            self.num_timesteps += 1
            if bar is not None:
                bar.update(1)
            x = x_next
            if terminated or truncated:
                self._end_episode()
                x = self._reset_env()
            self._last_obs = x
            if callback is not None and callback(locals(), globals()) is False:
                break
        if bar is not None:
            bar.close()
        return self

    def _end_episode(self) -> None:
        self.num_episodes += 1
        self.episode_returns.append(self._episode_return)
        if self.policy_update_episodes and self.num_episodes % self.policy_update_episodes == 0:
            # policy iteration: improve the policy from the evaluated value, then evaluate it on fresh data
            self.policy_theta = self.critic.theta.copy()
            self.critic.reset_statistics()
        if self.verbose >= 1 and self.num_episodes % 10 == 0:
            recent = self.episode_returns[-10:]
            print(f"episode {self.num_episodes} steps {self.num_timesteps} mean return (last 10) {np.mean(recent):.3f}")

    def set_env(self, env: gym.Env | str) -> None:
        """Attach an env (e.g. after :meth:`load`); learning continues with a new episode."""
        self.env = gym.make(env) if isinstance(env, str) else env
        self._last_obs = None

    def get_env(self) -> gym.Env | None:
        """:return: the env."""
        return self.env

    # ---- persistence -------------------------------------------------------------------------------------
    _HYPER = (
        "gamma",
        "policy",
        "approximator",
        "input_gain",
        "tau",
        "kappa",
        "critic_lr",
        "actor_lr",
        "disturber_lr",
        "action_noise",
        "disturbance_noise",
        "noise_tau",
        "policy_update_episodes",
        "seed",
        "verbose",
        "obs_dim",
        "action_dim",
        "action_dtype",
        "dt",
        "disturbance_dim",
        "max_disturbance",
        "periodic_dims",
        "num_timesteps",
        "num_episodes",
        "episode_returns",
        "_episode_return",
        "_env_seeded",
    )
    _ARRAYS = ("action_low", "action_high", "g1", "g2", "actor_gain", "disturber_gain", "policy_theta", "_trace")

    def save(self, path: str | pathlib.Path) -> None:
        """
        Write the model to a zip file (``.zip`` is appended when ``path`` has no suffix): hyperparameters and
        counters as JSON, every array (critic, actor, disturber, learned model, traces) in an ``.npz``, and the
        state of the random generator, so that :meth:`load` restores predictions and further learning exactly.
        The env is not saved.

        :param path: file path
        """
        path = pathlib.Path(path)
        if not path.suffix:
            path = path.with_suffix(".zip")
        data: dict[str, Any] = {name: getattr(self, name) for name in self._HYPER}
        data["gamma"] = "inf" if math.isinf(self.gamma) else self.gamma
        data["max_disturbance"] = "inf" if math.isinf(self.max_disturbance) else self.max_disturbance
        data["tau"] = "inf" if math.isinf(self.tau) else self.tau
        data["periodic_dims"] = list(self.periodic_dims)
        for name in ("critic_lr", "actor_lr", "disturber_lr"):
            # a schedule is saved as its final value (SB3 likewise does not pickle schedules portably)
            rate = getattr(self, name)
            data[name] = float(rate(0.0)) if callable(rate) else rate
        data["format_version"] = _FORMAT_VERSION
        data["critic"] = self.critic.config()
        data["gain_model"] = None if self.gain_model is None else self.gain_model.config()
        data["control_cost"] = None if self.control_cost is None else self.control_cost.tolist()
        data["rng_state"] = self.rng.bit_generator.state
        arrays = {name.lstrip("_"): np.asarray(getattr(self, name)) for name in self._ARRAYS}
        arrays.update({f"critic.{k}": v for k, v in self.critic.arrays().items()})
        arrays["noise_u"], arrays["noise_w"] = self._noise_u, self._noise_w
        if self._last_obs is not None:
            arrays["last_obs"] = self._last_obs
        if self.gain_model is not None:
            arrays.update({f"gain_model.{k}": v for k, v in self.gain_model.arrays().items()})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", json.dumps(data, indent=1))
            archive.writestr("arrays.npz", buffer.getvalue())

    @classmethod
    def load(cls, path: str | pathlib.Path, env: gym.Env | str | None = None) -> RRL:
        """
        :param path: a file written by :meth:`save` (``.zip`` is appended when missing and the bare path does not exist)
        :param env: the env to continue learning on (optional: :meth:`predict` needs none)
        :return: the restored model
        """
        path = pathlib.Path(path)
        if not path.exists() and not path.suffix:
            path = path.with_suffix(".zip")
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data.json"))
            with np.load(io.BytesIO(archive.read("arrays.npz"))) as npz:
                arrays = {k: npz[k] for k in npz.files}
        if data.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path} has format version {data.get('format_version')}, expected {_FORMAT_VERSION}")
        model = cls.__new__(cls)
        for name in cls._HYPER:
            setattr(model, name, data[name])
        model.gamma = float(data["gamma"])
        model.max_disturbance = float(data["max_disturbance"])
        model.tau = float(data["tau"])
        model.periodic_dims = tuple(data["periodic_dims"])
        model.control_cost = None if data["control_cost"] is None else np.array(data["control_cost"], dtype=np.float64)
        model.critic = critic_from_config(data["critic"])
        model.critic.load_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("critic.")})
        model.gain_model = None
        if data["gain_model"] is not None:
            model.gain_model = InputGainModel(**data["gain_model"])
            model.gain_model.load_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("gain_model.")})
        for name in cls._ARRAYS:
            setattr(model, name, np.array(arrays[name.lstrip("_")], dtype=np.float64))
        model._noise_u = np.array(arrays["noise_u"], dtype=np.float64)
        model._noise_w = np.array(arrays["noise_w"], dtype=np.float64)
        model._last_obs = np.array(arrays["last_obs"]) if "last_obs" in arrays else None
        model.rng = np.random.default_rng()
        model.rng.bit_generator.state = data["rng_state"]
        model.env = None
        if env is not None:
            model.set_env(env)
        return model

    # ---- diagnostics ---------------------------------------------------------------------------------------
    def policy_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """
        The linear gains of the current policy (quadratic approximator): ``u = K_u x`` and ``w = K_w x``.

        For the value-gradient policy they follow from ``P`` by Eq. 13, ``K_u = -R^{-1} B2^T P`` and
        ``K_w = gamma^-2 B1^T P``; for the actor-disturber-critic they are the actor's and the disturber's gains.

        :return: ``(K_u, K_w)``
        """
        if not isinstance(self.critic, QuadraticCritic):
            raise AttributeError("policy_gains exists for approximator='quadratic' only")
        if self.policy == "actor_disturber_critic":
            return self.actor_gain.copy(), self.disturber_gain.copy()
        p = QuadraticCritic.matrix_of(self.critic.theta[: self.critic.n_params], self.obs_dim)
        g1, g2 = self._gains()
        assert self.control_cost is not None
        k_u = -np.linalg.solve(self.control_cost, g2.T @ p)
        k_w = g1.T @ p / self.gamma**2 if self.disturbance_dim else np.zeros((0, self.obs_dim))
        return k_u, k_w
