"""Robust reinforcement learning (Morimoto and Doya, NIPS 2000): continuous-time RL with an H-infinity disturber."""

from __future__ import annotations

import io
import json
import math
import pathlib
import sys
import time
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.patch_gym import _patch_env

from robust_envs.disturbance import DISTURBANCE_KEY, DisturbanceChannel, find_disturbance_channel
from robust_sb3.rrl.approximators import InputGainModel, NGnet, NGnetCritic, QuadraticCritic, critic_from_config

POLICIES = ("value_gradient", "actor_disturber_critic")
APPROXIMATORS = ("quadratic", "ngnet")
INPUT_GAINS = ("known", "learned")

#: The version of the zip/JSON format that :meth:`RRL.save` wrote before RRL moved onto SB3's ``save``;
#: :meth:`RRL.load` still reads it.
_LEGACY_FORMAT_VERSION = 1

#: An SB3-style schedule: the learning rate as a function of the remaining progress (1 at the start, 0 at the end).
Schedule = Callable[[float], float]

SelfRRL = TypeVar("SelfRRL", bound="RRL")


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


class Float64RewardDummyVecEnv(DummyVecEnv):
    """
    A :class:`~stable_baselines3.common.vec_env.DummyVecEnv` that keeps the rewards in float64.

    ``DummyVecEnv`` stores rewards in a float32 buffer; RRL learns from the reward *rate* of a continuous-time
    system, and rounding it would change the learner's arithmetic. :meth:`RRL._wrap_env` vectorises plain
    Gymnasium envs with this class.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]]) -> None:
        super().__init__(env_fns)
        self.buf_rews = np.zeros((self.num_envs,), dtype=np.float64)


class RRL(BaseAlgorithm):
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
    and return the reward *rate* (per second; its average over the step). With a finite ``gamma`` it needs a
    disturbance channel (:class:`~robust_envs.disturbance.DisturbanceChannel`) anywhere in the env's wrapper chain,
    found by :func:`~robust_envs.disturbance.find_disturbance_channel` (outermost wrapper first, then
    ``env.unwrapped``): RobustPendulum-v0's torque, or forces on bodies of a MuJoCo env wrapped in
    :class:`~robust_envs.wrappers.ForceDisturbance`. The env must then run in this process (a plain env or a
    ``DummyVecEnv``), where the learner sets ``w`` before every step.

    An SB3 algorithm on :class:`~stable_baselines3.common.base_class.BaseAlgorithm` (as sb3-contrib's ARS):
    ``learn(total_timesteps, callback=..., progress_bar=...)``, ``predict``, ``save``/``load``, SB3's logger and
    ``set_random_seed``. It learns on-line from one env (a plain env is wrapped in ``Monitor`` and a
    :class:`Float64RewardDummyVecEnv`); a trial (episode) is a rollout for callbacks: ``on_rollout_start`` when a
    trial starts, ``on_step`` after every env step and its updates, ``on_rollout_end`` when the trial ends (or
    ``learn`` returns in the middle of one). Its policies are numpy functions of its own function approximators
    (:attr:`critic`, :attr:`actor_gain`, :attr:`disturber_gain`, :attr:`gain_model`), not a torch ``BasePolicy``:
    ``policy`` names the kind and is kept in :attr:`policy_class`, and the approximators are saved with the
    model's other attributes (SB3's pickled ``data``), exactly.

    :param policy: ``"value_gradient"`` or ``"actor_disturber_critic"``
    :param env: a Gymnasium env, a registered id or a VecEnv with one env (``None`` only for :meth:`load`)
    :param gamma: robustness level ``gamma > 0`` (H-infinity attenuation bound); ``inf`` for standard RL
    :param approximator: ``"quadratic"`` or ``"ngnet"``
    :param tau: time constant of the value's discounting (s); ``inf`` for none (then the quadratic critic's constant
        term estimates the average reward rate)
    :param kappa: time constant of the eligibility traces (s); 0 for TD(0)
    :param critic_lr: learning rate ``eta`` of the NGnet critic (the RLS critic has none); a number or, as in SB3, a
        function of the remaining progress (1 at the start of ``learn()``, 0 at its end); also SB3's ``learning_rate``
    :param actor_lr: learning rate ``eta_u`` of the actor (actor-disturber-critic); number or schedule
    :param disturber_lr: learning rate ``eta_w`` of the disturber (actor-disturber-critic); number or schedule
    :param action_noise_std: standard deviation of the actor's exploration noise ``n_u`` (action units)
    :param disturbance_noise_std: standard deviation of the disturber's exploration noise ``n_w``
    :param noise_tau: time constant (s) of the low-pass filter on the noise; 0 for noise drawn anew each step
    :param control_cost: ``R`` of Eq. 11 in action units (a number or matrix); default ``env.unwrapped.control_cost_matrix``
    :param input_gain: ``"known"`` (``env.unwrapped.input_gains(obs)``, taken once and assumed constant) or ``"learned"``
    :param max_disturbance: bound on ``|w|`` per component; default the channel's ``disturbance_space`` bound
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
    :param stats_window_size: episodes over which the logged rollout statistics are averaged
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param seed: seed of the learner's random numbers and of the env's first reset
    :param verbose: 0 silent, 1 the logger's table every ``log_interval`` episodes (and SB3's info messages)
    :param device: torch device of SB3's machinery (RRL itself computes in numpy)
    :param _init_setup_model: build the approximators at construction (``load`` passes False)
    """

    def __init__(
        self,
        policy: str,
        env: GymEnv | str | None,
        gamma: float = math.inf,
        approximator: str = "ngnet",
        tau: float = 1.0,
        kappa: float = 0.1,
        critic_lr: float | Schedule = 1.0,
        actor_lr: float | Schedule = 1.0,
        disturber_lr: float | Schedule = 1.0,
        action_noise_std: float = 0.0,
        disturbance_noise_std: float = 0.0,
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
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        verbose: int = 0,
        device: th.device | str = "cpu",
        _init_setup_model: bool = True,
    ) -> None:
        if isinstance(env, str):
            env = gym.make(env)  # SB3's maybe_make_env asks for render_mode="rgb_array", which our envs refuse
        self.critic_lr = _rate("critic_lr", critic_lr)
        super().__init__(
            policy,
            env,
            learning_rate=self.critic_lr,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=False,
            seed=seed,
        )
        # ---- hyperparameters ------------------------------------------------------------------
        self.gamma = _positive("gamma", gamma, allow_inf=True)
        if approximator not in APPROXIMATORS:
            raise ValueError(f"Unknown approximator {approximator!r}; allowed: {APPROXIMATORS}")
        if input_gain not in INPUT_GAINS:
            raise ValueError(f"Unknown input_gain {input_gain!r}; allowed: {INPUT_GAINS}")
        self.approximator, self.input_gain = approximator, input_gain
        self.tau = _positive("tau", tau, allow_inf=True)
        self.kappa = _positive("kappa", kappa, allow_zero=True)
        # learning rates: numbers or SB3-style schedules of the remaining progress (1 -> 0 over a learn() call)
        self.actor_lr = _rate("actor_lr", actor_lr)
        self.disturber_lr = _rate("disturber_lr", disturber_lr)
        self.action_noise_std = _positive("action_noise_std", action_noise_std, allow_zero=True)
        self.disturbance_noise_std = _positive("disturbance_noise_std", disturbance_noise_std, allow_zero=True)
        self.noise_tau = _positive("noise_tau", noise_tau, allow_zero=True)
        if (
            isinstance(policy_update_episodes, bool)
            or not isinstance(policy_update_episodes, int)
            or policy_update_episodes < 0
        ):
            raise ValueError(f"policy_update_episodes must be an int >= 0, got {policy_update_episodes!r}")
        self.policy_update_episodes = policy_update_episodes
        # read from the env and turned into the learner's settings by _setup_model
        self.control_cost = control_cost
        self.max_disturbance = max_disturbance
        self.approximator_kwargs = approximator_kwargs
        self.init_value_matrix = init_value_matrix
        self.init_actor_gain = init_actor_gain
        self.init_disturber_gain = init_disturber_gain
        self.dt = dt
        # built by _setup_model (a loaded model gets them from its file)
        self.critic: QuadraticCritic | NGnetCritic | None = None
        self.rng: np.random.Generator | None = None
        # the env's disturbance channel and the env it was found in (found again for another env; not saved)
        self._channel: DisturbanceChannel | None = None
        self._channel_of: VecEnv | None = None

        if _init_setup_model:
            self._setup_model()

    def _get_policy_from_name(self, policy_name: str) -> str:  # type: ignore[override]
        """:return: the policy kind (RRL's policies are numpy functions of its approximators, not ``BasePolicy`` classes)."""
        if policy_name not in POLICIES:
            raise ValueError(f"Unknown policy {policy_name!r}; allowed: {POLICIES}")
        return policy_name

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        """As :meth:`BaseAlgorithm._wrap_env`, but a plain env goes into a :class:`Float64RewardDummyVecEnv`."""
        if not isinstance(env, VecEnv):
            env = _patch_env(env)
            if not is_wrapped(env, Monitor) and monitor_wrapper:
                env = Monitor(env)
            env = Float64RewardDummyVecEnv([lambda: env])  # type: ignore[list-item, return-value]
        return BaseAlgorithm._wrap_env(env, verbose, monitor_wrapper)

    def _setup_model(self) -> None:
        """
        Build the learner from the env: read its spaces, time step, disturbance channel, control cost and input
        gains, build the critic, the actor and disturber gains and the learned input-gain model, and seed the
        random numbers. A loaded model already has all of these (restored exactly from its file, the random
        generator's state included): only the env's next reset is seeded, as SB3's ``load`` does.
        """
        self._setup_lr_schedule()
        if self.critic is not None:
            BaseAlgorithm.set_random_seed(self, self.seed)
            return
        if self.env is None:
            raise ValueError("RRL needs an env to build its approximators: pass env=... (or use RRL.load)")
        self._setup_env()
        self._setup_approximators()
        # ---- learning state ---------------------------------------------------------------------
        self.num_episodes = 0
        self.episode_returns: list[float] = []
        self._trace = np.zeros_like(self.critic.trace_features(np.zeros(self.obs_dim)))
        self._noise_u = np.zeros(self.action_dim)
        self._noise_w = np.zeros(self.disturbance_dim)
        self._episode_return = 0.0
        self._episode_td_sq = 0.0
        self._episode_steps = 0
        self.rng = np.random.default_rng(self.seed)
        BaseAlgorithm.set_random_seed(self, self.seed)

    def set_random_seed(self, seed: int | None = None) -> None:
        """
        Seed the learner's random numbers (exploration noise) and, as SB3 does, Python's, numpy's and torch's global
        generators, the action space and the env's next reset.

        :param seed: the seed; ``None`` changes nothing
        """
        if seed is None:
            return
        super().set_random_seed(seed)
        self.rng = np.random.default_rng(seed)

    # ---- construction helpers --------------------------------------------------------------------
    def _env_attr(self, name: str) -> Any:
        """:return: the attribute ``name`` of the (single) env, through its wrappers; ``None`` if it has none."""
        assert self.env is not None
        try:
            return self.env.get_attr(name)[0]
        except AttributeError:
            return None

    def _setup_env(self) -> None:
        """Read what the learner needs from the env: spaces, time step, disturbance channel, R and input gains."""
        env_name = type(self._env_attr("unwrapped")).__name__
        if not isinstance(self.observation_space, spaces.Box) or len(self.observation_space.shape) != 1:
            raise ValueError(f"RRL needs a flat Box observation space, got {self.observation_space}")
        if not isinstance(self.action_space, spaces.Box) or len(self.action_space.shape) != 1:
            raise ValueError(f"RRL needs a flat Box action space, got {self.action_space}")
        self.obs_dim = int(self.observation_space.shape[0])
        self.action_dim = int(self.action_space.shape[0])
        self.action_low = np.asarray(self.action_space.low, dtype=np.float64)
        self.action_high = np.asarray(self.action_space.high, dtype=np.float64)
        self.action_dtype = str(self.action_space.dtype)
        dt = self.dt
        if dt is None:
            dt = self._env_attr("dt")
            if dt is None:
                raise ValueError(f"{env_name} has no attribute dt; pass the time step as dt=...")
        self.dt = _positive("dt", dt)
        self.disturbance_dim = 0
        max_disturbance = self.max_disturbance
        self.max_disturbance = 0.0
        if not math.isinf(self.gamma):
            space = self._disturbance_channel().disturbance_space
            self.disturbance_dim = int(np.prod(space.shape))
            bound = float(np.min(space.high)) if max_disturbance is None else max_disturbance
            self.max_disturbance = _positive("max_disturbance", bound, allow_inf=True)
        self.periodic_dims = tuple(int(i) for i in (self._env_attr("periodic_dims") or ()))

        # control cost R (action units) and input gains, needed by the value-gradient policy
        control_cost = self.control_cost
        if control_cost is None:
            control_cost = self._env_attr("control_cost_matrix")
        self.control_cost = None if control_cost is None else np.atleast_2d(np.asarray(control_cost, dtype=np.float64))
        if self.policy_class == "value_gradient":
            if self.control_cost is None:
                raise ValueError(
                    f"policy='value_gradient' needs the control cost R (Eq. 11): pass control_cost=... "
                    f"({env_name} has no control_cost_matrix)"
                )
            if self.control_cost.shape != (self.action_dim, self.action_dim):
                raise ValueError(f"control_cost must be ({self.action_dim}, {self.action_dim}), got {self.control_cost.shape}")
        self.g1 = np.zeros((self.obs_dim, self.disturbance_dim))
        self.g2 = np.zeros((self.obs_dim, self.action_dim))
        if self.policy_class == "value_gradient" and self.input_gain == "known":
            if not callable(self._env_attr("input_gains")):
                raise ValueError(
                    f"input_gain='known' needs env.unwrapped.input_gains(obs); {env_name} has none: use input_gain='learned'"
                )
            assert self.env is not None
            g1, g2 = self.env.env_method("input_gains", np.zeros(self.obs_dim))[0]
            self.g2 = np.asarray(g2, dtype=np.float64).reshape(self.obs_dim, self.action_dim)
            if self.disturbance_dim:
                self.g1 = np.asarray(g1, dtype=np.float64).reshape(self.obs_dim, self.disturbance_dim)

    def _disturbance_channel(self) -> DisturbanceChannel:
        """
        :return: the env's disturbance channel, found through its wrappers (once per env: :meth:`set_env` and
            :meth:`load` bring another)
        :raises ValueError: an env without one, or one in another process, naming the env and what is needed
        """
        if self._channel is None or self._channel_of is not self.env:
            assert self.env is not None
            vec_env = self.env.unwrapped
            envs = getattr(vec_env, "envs", None)
            if not envs:
                raise ValueError(
                    f"gamma={self.gamma} sets the disturbance through the env's channel before every step, which needs the "
                    f"env in this process: pass the env itself or a DummyVecEnv, not a {type(vec_env).__name__}"
                )
            try:
                self._channel = find_disturbance_channel(envs[0])
            except ValueError as error:
                raise ValueError(
                    f"gamma={self.gamma} needs a disturbance channel (use gamma=math.inf for standard RL): {error}"
                ) from error
            self._channel_of = self.env
        return self._channel

    def _excluded_save_params(self) -> list[str]:
        """SB3's, and the disturbance channel (a part of the env, found again in the env a loaded model gets)."""
        return [*super()._excluded_save_params(), "_channel", "_channel_of"]

    def _setup_approximators(self) -> None:
        """Build the critic, the actor and disturber gains and the learned input-gain model."""
        kwargs = dict(self.approximator_kwargs or {})
        init_value_matrix = self.init_value_matrix
        if self.approximator == "quadratic":
            allowed = {"init_cov", "forgetting"}
            self._check_kwargs(kwargs, allowed)
            self.critic = QuadraticCritic(self.obs_dim, kwargs.get("init_cov", 1e4), kwargs.get("forgetting", 1.0))
            if init_value_matrix is not None:
                self.critic.set_matrix(init_value_matrix)
            actor_features = self.obs_dim
        else:
            allowed = {"n_centers", "low", "high", "periodic", "init_value"}
            self._check_kwargs(kwargs, allowed)
            if init_value_matrix is not None:
                raise ValueError("init_value_matrix is for approximator='quadratic'")
            assert isinstance(self.observation_space, spaces.Box)
            low = np.asarray(kwargs.get("low", self.observation_space.low), dtype=np.float64)
            high = np.asarray(kwargs.get("high", self.observation_space.high), dtype=np.float64)
            if not np.all(np.isfinite(low) & np.isfinite(high)):
                raise ValueError(
                    f"The NGnet needs finite ranges; the observation space is {self.observation_space}: pass "
                    "approximator_kwargs={'low': [...], 'high': [...]}"
                )
            n_centers = kwargs.get("n_centers", (15,) * self.obs_dim)
            periodic = kwargs.get("periodic", self.periodic_dims)
            self.critic = NGnetCritic(NGnet(low, high, n_centers, periodic), kwargs.get("init_value", 0.0))
            actor_features = self.critic.net.size
        self.actor_gain = self._init_gain("init_actor_gain", self.init_actor_gain, (self.action_dim, actor_features))
        self.disturber_gain = self._init_gain(
            "init_disturber_gain", self.init_disturber_gain, (self.disturbance_dim, actor_features)
        )
        n_basis = self.critic.net.size if isinstance(self.critic, NGnetCritic) else 0
        self.gain_model = (
            InputGainModel(self.obs_dim, self.action_dim, self.disturbance_dim, n_basis)
            if self.policy_class == "value_gradient" and self.input_gain == "learned"
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
        if self.policy_class != "actor_disturber_critic":
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
        assert self.critic is not None
        return x if isinstance(self.critic, QuadraticCritic) else self.critic.trace_features(x)

    def _gains(self) -> tuple[np.ndarray, np.ndarray]:
        return self.gain_model.gains if self.gain_model is not None else (self.g1, self.g2)

    def _mean_inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: the deterministic ``u`` (clipped to the action bounds) and ``w`` (clipped to ``max_disturbance``)."""
        assert self.critic is not None
        if self.policy_class == "value_gradient":
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

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """
        The actor's action (the disturber only acts during learning).

        :param observation: one observation (obs_dim,) or a batch (B, obs_dim), such as a VecEnv's
        :param state: unused (no recurrent state)
        :param episode_start: unused
        :param deterministic: without exploration noise if True (the default, unlike SB3's stochastic policies:
            RRL's policy is deterministic and its noise is only for exploration); else with white noise of
            ``action_noise_std``
        :return: the action(s), clipped to the action space, and ``None``
        """
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape[-1:] != (self.obs_dim,) or obs.ndim > 2:
            raise ValueError(f"observation must have shape ({self.obs_dim},) or (B, {self.obs_dim}), got {obs.shape}")
        rows = np.atleast_2d(obs)
        actions = np.stack([self._mean_inputs(x)[0] for x in rows])
        if not deterministic and self.action_noise_std > 0:
            assert self.rng is not None
            actions = np.clip(
                actions + self.action_noise_std * self.rng.standard_normal(actions.shape), self.action_low, self.action_high
            )
        actions = actions.astype(self.action_dtype)
        return (actions if obs.ndim == 2 else actions[0]), None

    def value(self, observation: np.ndarray) -> float:
        """:return: the critic's ``V(x)``."""
        assert self.critic is not None
        return self.critic.value(np.asarray(observation, dtype=np.float64))

    # ---- learning -------------------------------------------------------------------------------------
    def _next_noise(self, previous: np.ndarray, std: float) -> np.ndarray:
        if std == 0.0 or previous.size == 0:
            return np.zeros_like(previous)
        assert self.rng is not None
        if self.noise_tau == 0.0:
            return std * self.rng.standard_normal(previous.shape)
        # Ornstein-Uhlenbeck low-pass noise with stationary standard deviation std
        decay = math.exp(-self.dt / self.noise_tau)
        return decay * previous + std * math.sqrt(1.0 - decay**2) * self.rng.standard_normal(previous.shape)

    def _start_episode(self) -> None:
        """A new trial: its traces, noise and statistics start from zero (the env has just been reset)."""
        self._trace[:] = 0.0
        self._noise_u[:] = 0.0
        self._noise_w[:] = 0.0
        self._episode_return = 0.0
        self._episode_td_sq = 0.0
        self._episode_steps = 0

    def _observed_derivative(self, x: np.ndarray, x_next: np.ndarray) -> np.ndarray:
        diff = x_next - x
        for i in self.periodic_dims:
            diff[i] = (diff[i] + math.pi) % (2.0 * math.pi) - math.pi
        return diff / self.dt

    def _current_rates(self) -> tuple[float, float, float]:
        """:return: the critic's, actor's and disturber's learning rates at the current progress."""
        remaining = self._current_progress_remaining
        return tuple(  # type: ignore[return-value]
            lr(remaining) if callable(lr) else lr for lr in (self.critic_lr, self.actor_lr, self.disturber_lr)
        )

    def _learn_step(
        self, x: np.ndarray, critic_lr: float, actor_lr: float, disturber_lr: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """
        One env step and its learning updates.

        :param x: the current observation
        :return: the VecEnv's ``new_obs``, ``rewards``, ``dones`` and ``infos`` (after a done, ``new_obs`` starts the
            next trial: the env has reset itself)
        """
        assert self.env is not None and self.critic is not None
        dt, tau = self.dt, self.tau
        trace_decay = math.exp(-dt / self.kappa) if self.kappa > 0 else 0.0
        u_mean, w_mean = self._mean_inputs(x)
        self._noise_u = self._next_noise(self._noise_u, self.action_noise_std)
        u = np.clip(u_mean + self._noise_u, self.action_low, self.action_high)
        w = np.zeros(0)
        if self.disturbance_dim:
            self._noise_w = self._next_noise(self._noise_w, self.disturbance_noise_std)
            w = np.clip(w_mean + self._noise_w, -self.max_disturbance, self.max_disturbance)
            self._disturbance_channel().set_disturbance(w)
        new_obs, rewards, dones, infos = self.env.step(u.astype(self.action_dtype)[None])
        info = infos[0]
        done = bool(dones[0])
        terminated = done and not info.get("TimeLimit.truncated", False)
        x_next = np.array(info["terminal_observation"] if done else new_obs[0], dtype=np.float64)
        reward = float(rewards[0])
        if self.disturbance_dim:
            w = np.asarray(info.get(DISTURBANCE_KEY, w), dtype=np.float64).reshape(self.disturbance_dim)
        # Eq. 7: the disturber is paid gamma^2 w^T w for its effort, so minimising V keeps w small
        q = reward + (self.gamma**2 * float(w @ w) if self.disturbance_dim else 0.0)
        self._episode_return += reward * dt

        # eligibility trace e_dot = -e/kappa + dV/dtheta (Doya 2000), the instrument of the RLS critic
        self._trace = trace_decay * self._trace + dt * self.critic.trace_features(x)
        if self.policy_class == "actor_disturber_critic":
            # Eq. 10: actor and disturber follow the TD error with opposite signs, correlated with their own noise
            delta = self.critic.td_error(q, x, x_next, terminated, dt, tau)
            phi = self._actor_features(x)
            self.actor_gain += (actor_lr * delta * dt) * np.outer(u - u_mean, phi)
            if self.disturbance_dim:
                self.disturber_gain -= (disturber_lr * delta * dt) * np.outer(w - w_mean, phi)
        delta = self.critic.update(q, x, x_next, terminated, dt, tau, self._trace, critic_lr)
        self._episode_td_sq += delta * delta
        self._episode_steps += 1
        if self.gain_model is not None and not terminated:
            basis = self.critic.trace_features(x) if isinstance(self.critic, NGnetCritic) else None
            self.gain_model.update(x, basis, u, w, self._observed_derivative(x, x_next))
        if self.policy_update_episodes == 0:
            self.policy_theta = self.critic.theta
        self._n_updates += 1
        return new_obs, rewards, dones, infos

    def learn(
        self: SelfRRL,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "RRL",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRRL:
        """
        Learn on-line for ``total_timesteps`` env steps.

        :param total_timesteps: env steps to run
        :param callback: SB3 callback(s) (or a function ``f(locals, globals) -> bool``): ``on_step`` after every step
            (returning False stops learning; ``locals`` holds ``new_obs``, ``rewards``, ``dones``, ``infos``, as
            SB3's off-policy loop), ``on_rollout_start``/``on_rollout_end`` around every trial
        :param log_interval: trials between dumps of the logger (``rollout/``, ``train/``, ``time/`` keys)
        :param tb_log_name: the name of the run for TensorBoard logging
        :param reset_num_timesteps: start the step counter at 0 and a new trial; else continue the running trial
        :param progress_bar: show SB3's progress bar (tqdm and rich)
        :return: self
        """
        if self.env is None:
            raise ValueError("This model has no env: pass one to RRL.load(path, env=...) or call set_env(env)")
        if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, int | np.integer) or total_timesteps < 0:
            raise ValueError(f"total_timesteps must be an int >= 0, got {total_timesteps!r}")
        new_trial = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            int(total_timesteps), callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if new_trial:
            self._start_episode()
        callback.on_training_start(locals(), globals())
        callback.on_rollout_start()
        in_trial = True
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            assert self._last_obs is not None
            x = np.array(self._last_obs[0], dtype=np.float64)
            new_obs, rewards, dones, infos = self._learn_step(x, *self._current_rates())
            self.num_timesteps += 1
            self._update_info_buffer(infos, dones)
            if dones[0]:
                self._end_episode(log_interval)
            self._last_obs = new_obs  # type: ignore[assignment]
            callback.update_locals(locals())
            continue_training = callback.on_step()
            if dones[0]:
                callback.on_rollout_end()
                in_trial = continue_training and self.num_timesteps < total_timesteps
                if in_trial:
                    callback.on_rollout_start()
            if not continue_training:
                break
        if in_trial:
            callback.on_rollout_end()
        callback.on_training_end()
        return self

    def _end_episode(self, log_interval: int | None) -> None:
        """Book-keeping at the end of a trial: returns, policy iteration, logs; then a new trial starts."""
        assert self.critic is not None
        self.num_episodes += 1
        self._episode_num += 1
        self.episode_returns.append(self._episode_return)
        rates = self._current_rates()
        self.logger.record("train/td_error_rms", math.sqrt(self._episode_td_sq / max(self._episode_steps, 1)))
        self.logger.record("train/critic_lr", rates[0])
        if self.policy_class == "actor_disturber_critic":
            self.logger.record("train/actor_lr", rates[1])
            if self.disturbance_dim:
                self.logger.record("train/disturber_lr", rates[2])
        if self.policy_update_episodes and self.num_episodes % self.policy_update_episodes == 0:
            # policy iteration: improve the policy from the evaluated value, then evaluate it on fresh data
            self.policy_theta = self.critic.theta.copy()
            self.critic.reset_statistics()
        self._start_episode()
        if log_interval is not None and log_interval > 0 and self._episode_num % log_interval == 0:
            self.dump_logs()

    def dump_logs(self) -> None:
        """Write the rollout statistics (SB3's ``rollout/ep_rew_mean`` and ``ep_len_mean``, and the integral of
        the reward rate per trial, the paper's return), the time and the training records to the logger."""
        time_elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / time_elapsed)
        if self.ep_info_buffer is not None and len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([ep_info["r"] for ep_info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([ep_info["l"] for ep_info in self.ep_info_buffer]))
        if self.episode_returns:
            recent = self.episode_returns[-self._stats_window_size :]
            self.logger.record("rollout/ep_reward_integral_mean", float(np.mean(recent)))
        self.logger.record("time/episodes", self.num_episodes, exclude="tensorboard")
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    def set_env(self, env: GymEnv | str, force_reset: bool = True) -> None:
        """
        Attach an env (e.g. after :meth:`load`); with ``force_reset`` learning continues with a new trial.

        :param env: a Gymnasium env, a registered id or a VecEnv with one env, with the model's spaces
        :param force_reset: start a new trial at the next ``learn``
        """
        super().set_env(gym.make(env) if isinstance(env, str) else env, force_reset=force_reset)

    # ---- persistence -------------------------------------------------------------------------------------
    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        """RRL has no torch modules: its approximators are numpy objects, saved (pickled) with the other attributes."""
        return [], []

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfRRL],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | str | None = None,
        device: th.device | str = "cpu",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfRRL:
        """
        Load a model saved by :meth:`save` (SB3's zip). Files of RRL's earlier zip/JSON format are read too.

        :param path: the file (``.zip`` is appended when missing and the bare path does not exist), or a file-like
        :param env: the env to continue learning on (optional: :meth:`predict` needs none); its next reset is
            seeded with the model's ``seed``, as SB3 does
        :param device: torch device of SB3's machinery
        :param custom_objects: replacements for saved objects (SB3's ``load``)
        :param print_system_info: print the system info of the saving and the loading machine
        :param force_reset: start a new trial at the next ``learn``
        :param kwargs: attributes to change on the loaded model
        :return: the restored model
        :raises FileNotFoundError: no such file
        :raises ValueError: a file that is not a zip archive, or not a model saved by RRL (such as another algorithm's)
        """
        if isinstance(env, str):
            env = gym.make(env)
        if isinstance(path, str | pathlib.Path):
            path = pathlib.Path(path)
            if not path.exists() and path.suffix != ".zip" and path.with_suffix(".zip").exists():
                path = path.with_suffix(".zip")
            if cls._check_saved_file(path) == "legacy":
                return cls._load_legacy(path, env)
        return super().load(
            path,
            env=env,
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )

    @classmethod
    def _check_saved_file(cls, path: pathlib.Path) -> str:
        """
        :return: ``"sb3"`` for a model saved by :meth:`save`, ``"legacy"`` for the earlier zip/JSON format
        :raises FileNotFoundError: no such file
        :raises ValueError: anything else, naming the file
        """
        if not path.is_file():
            raise FileNotFoundError(f"No such file: {path}")
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if {"data.json", "arrays.npz"} <= names:
                    return "legacy"
                if "data" not in names:
                    raise ValueError(
                        f"{path} is not a model saved by {cls.__name__}.save: the zip archive has no 'data' entry "
                        f"(it holds {sorted(names)})"
                    )
                data = json.loads(archive.read("data"))
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a model saved by {cls.__name__}.save: it cannot be read ({e})") from e
        policy = data.get("policy_class") if isinstance(data, dict) else None
        if not (isinstance(policy, str) and policy in POLICIES and "approximator" in data and "critic" in data):
            found = policy.get("__module__", policy.get(":type:")) if isinstance(policy, dict) else policy
            raise ValueError(
                f"{path} was not saved by {cls.__name__} (its policy is {found!r}, not one of {POLICIES}): "
                "load it with the algorithm class that saved it"
            )
        return "sb3"

    @classmethod
    def _load_legacy(cls: type[SelfRRL], path: pathlib.Path, env: GymEnv | None) -> SelfRRL:
        """Read a file of the earlier zip/JSON format (hyperparameters as JSON, arrays as ``.npz``)."""
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data.json"))
            with np.load(io.BytesIO(archive.read("arrays.npz"))) as npz:
                arrays = {k: npz[k] for k in npz.files}
        if data.get("format_version") != _LEGACY_FORMAT_VERSION:
            raise ValueError(f"{path} has format version {data.get('format_version')}, expected {_LEGACY_FORMAT_VERSION}")
        model = cls(policy=data["policy"], env=None, _init_setup_model=False)
        renamed = {"action_noise": "action_noise_std", "disturbance_noise": "disturbance_noise_std"}
        for name in (
            *("gamma", "approximator", "input_gain", "tau", "kappa", "critic_lr", "actor_lr", "disturber_lr"),
            *("action_noise", "disturbance_noise", "noise_tau", "policy_update_episodes", "seed", "verbose"),
            *("obs_dim", "action_dim", "action_dtype", "dt", "disturbance_dim", "max_disturbance"),
            *("num_timesteps", "num_episodes", "episode_returns"),
        ):
            setattr(model, renamed.get(name, name), float(data[name]) if data[name] in ("inf", "-inf") else data[name])
        model.learning_rate = model.critic_lr
        model.periodic_dims = tuple(data["periodic_dims"])
        model._episode_return = data["_episode_return"]
        model.control_cost = None if data["control_cost"] is None else np.array(data["control_cost"], dtype=np.float64)
        model.critic = critic_from_config(data["critic"])
        model.critic.load_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("critic.")})
        model.gain_model = None
        if data["gain_model"] is not None:
            model.gain_model = InputGainModel(**data["gain_model"])
            model.gain_model.load_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("gain_model.")})
        for name in ("action_low", "action_high", "g1", "g2", "actor_gain", "disturber_gain", "policy_theta", "_trace"):
            setattr(model, name, np.array(arrays[name.lstrip("_")], dtype=np.float64))
        model._noise_u = np.array(arrays["noise_u"], dtype=np.float64)
        model._noise_w = np.array(arrays["noise_w"], dtype=np.float64)
        model._episode_td_sq, model._episode_steps = 0.0, 0
        model.rng = np.random.default_rng()
        model.rng.bit_generator.state = data["rng_state"]
        # the earlier format kept no observation bounds: the env's, if it has the saved shape
        model.observation_space = spaces.Box(-np.inf, np.inf, shape=(model.obs_dim,), dtype=np.float64)
        dtype = np.dtype(model.action_dtype)
        model.action_space = spaces.Box(model.action_low.astype(dtype), model.action_high.astype(dtype), dtype=dtype)
        model.n_envs = 1
        if env is not None:
            env = cls._wrap_env(env, model.verbose)
            if env.observation_space.shape == model.observation_space.shape:
                model.observation_space = env.observation_space
            model.set_env(env)
        model._setup_model()
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
        if self.policy_class == "actor_disturber_critic":
            return self.actor_gain.copy(), self.disturber_gain.copy()
        p = QuadraticCritic.matrix_of(self.critic.theta[: self.critic.n_params], self.obs_dim)
        g1, g2 = self._gains()
        assert self.control_cost is not None
        k_u = -np.linalg.solve(self.control_cost, g2.T @ p)
        k_w = g1.T @ p / self.gamma**2 if self.disturbance_dim else np.zeros((0, self.obs_dim))
        return k_u, k_w
