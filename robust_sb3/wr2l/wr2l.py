"""
``WR2L``: Wasserstein Robust Reinforcement Learning (Abdullah et al., seed 002), on SB3's PPO.

Algorithm 1 of the paper alternates two phases: Phase I moves the simulator parameters ``phi`` to the worst case
of the current policy inside the average Wasserstein-2 ball ``W(phi) <= epsilon`` around the reference ``phi0``
(Eq. 7-8, quadratically approximated in Eq. 9 and solved in closed form by Eq. 10), and Phase II updates the
policy under ``phi^[k]``. The specification, with the choices where the paper is silent, is ``shared/WAVE2.md``
section 1; the numerical pieces are the pure functions of this package.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from sb3_contrib import TRPO
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from robust_envs.wrappers import DomainRandomization
from robust_sb3.common.base import CheckedLoadMixin
from robust_sb3.common.validation import PPO_CHECKED, check_ppo_arguments, signature_defaults
from robust_sb3.wr2l.bounds import clip_to_bounds
from robust_sb3.wr2l.config import WR2LConfig
from robust_sb3.wr2l.ellipsoid import ball_value, ellipsoid_step, epsilon_for, frank_wolfe_step_size
from robust_sb3.wr2l.gradient import SEED_BOUND, GradientEstimate, zero_order_gradient
from robust_sb3.wr2l.hessian import HessianEstimate
from robust_sb3.wr2l.parameterisation import DynamicsCoordinates, resolve_parameterisation
from robust_sb3.wr2l.reference import estimate_reference_hessian
from robust_sb3.wr2l.returns import BatchedReturns, LockstepReturns, PolicyActor

__all__ = ["WR2L", "WR2LTRPO", "WorstCaseDynamics"]

_PPO_DEFAULTS = signature_defaults(PPO.__init__, PPO_CHECKED)
#: Armijo's step sizes, largest first (``step_size="armijo"``), and its sufficient-decrease constant
_ARMIJO_STEPS = (1.0, 0.5, 0.25, 0.125)
_ARMIJO_C = 1e-4


class WorstCaseDynamics:
    """
    WR2L's model phase on an SB3 on-policy algorithm: everything of :class:`WR2L` except the policy update.

    Mixed into :class:`WR2L` (PPO, the paper's choice) and :class:`WR2LTRPO` (sb3-contrib's TRPO, the option of
    ``shared/WAVE2.md`` 1.8); the policy phase is the host algorithm's unchanged ``train()``.
    """

    _identifying_attributes: ClassVar[tuple[str, ...]] = ("config", "coordinates", "hessian", "epsilon")

    def _init_wr2l(self, config: WR2LConfig, parameterisation: Any) -> None:
        """Set WR2L's attributes (after the host algorithm's constructor, before ``_setup_model``)."""
        self.config = config
        self.parameterisation = parameterisation
        self.coordinates: DynamicsCoordinates | None = None
        self.hessian: np.ndarray | None = None
        self.hessian_estimate: HessianEstimate | None = None
        self.epsilon: float | None = config.epsilon
        self.phi: np.ndarray | None = None
        self.model_steps = 0
        self.clipped_steps = 0
        self.zero_gradient_steps = 0
        self.phase1_env_steps = 0
        self.phase1_seconds = 0.0
        self.last_gradient: GradientEstimate | None = None
        self._iterations = 0
        self._returns: BatchedReturns | LockstepReturns | None = None

    # ---- public results -----------------------------------------------------------------------------
    @property
    def worst_params(self) -> dict[str, float] | None:
        """``phi^[k]``, the current worst-case parameters by name (physical units); ``None`` before set-up."""
        if self.coordinates is None or self.phi is None:
            return None
        return self.coordinates.to_dict(self.phi)

    @property
    def reference_params(self) -> dict[str, float] | None:
        """``phi0``, the centre of the Wasserstein ball, by name (physical units); ``None`` before set-up."""
        if self.coordinates is None:
            return None
        return self.coordinates.to_dict(self.coordinates.origin)

    # ---- set-up -------------------------------------------------------------------------------------
    def _setup_model(self) -> None:
        # load(path, config={...}) sets the attribute as given: check it as the constructor does
        if isinstance(self.config, dict):
            self.config = WR2LConfig(**self.config)
        elif not isinstance(self.config, WR2LConfig):
            raise TypeError(f"{type(self).__name__}: config must be a WR2LConfig or a dict of its fields, got {self.config!r}")
        super()._setup_model()
        if self.env is not None:
            self._setup_dynamics(self.env)

    def set_random_seed(self, seed: int | None = None) -> None:
        """
        Seed PPO's generators and WR2L's own (the reference rollouts, the perturbations and their episode seeds).

        :param seed: the seed (``None``: fresh entropy)
        """
        super().set_random_seed(seed)
        self._wr2l_rng = np.random.default_rng(seed)

    def _excluded_save_params(self) -> list[str]:
        # worker envs are rebuilt from the env; the generator is re-seeded from ``seed`` on load, like SB3's own
        return [*super()._excluded_save_params(), "_returns", "_wr2l_rng", "last_gradient"]

    def _check_env(self, env: VecEnv) -> tuple[Any, gym.envs.registration.EnvSpec]:
        """:return: the sub-envs' ``ParamSpace`` and spec, after checking that WR2L can run on them."""
        try:
            param_space = env.get_attr("param_space", indices=[0])[0]
        except AttributeError as error:
            raise ValueError(
                "WR2L needs perturbable robust_envs envs (with a param_space), e.g. make_vec_env('RobustHopper-v0')"
            ) from error
        randomized = [i for i, wrapped in enumerate(env.env_is_wrapped(DomainRandomization)) if wrapped]
        if randomized:
            raise ValueError(
                f"WR2L sets the sub-envs' parameters to its worst case phi, but sub-envs {randomized} are wrapped in "
                "DomainRandomization, which draws new parameters at every reset; make them without it"
            )
        if isinstance(self.observation_space, spaces.Dict):
            raise ValueError("WR2L's lock-step evaluation stacks observations and needs a Box observation space, not a Dict")
        references = np.stack(env.get_attr("base_params"))
        if not (references == references[0]).all():
            differing = sorted({int(i) for i in np.flatnonzero((references != references[0]).any(axis=1))})
            raise ValueError(
                f"WR2L's Wasserstein ball is centred on one reference phi0, but sub-envs {differing} have persistent "
                "parameters (base_params) other than sub-env 0's; give every sub-env the same parameters"
            )
        spec = env.get_attr("spec", indices=[0])[0]
        if spec is None:
            raise ValueError(
                "WR2L builds Phase I's worker envs with gym.make(spec), but the sub-envs have no spec; make them with "
                "gym.make or make_vec_env(env_id, ...)"
            )
        # wrappers that cannot be re-created from the spec (SB3's Monitor records no constructor arguments) only
        # observe; the worker envs do without them
        recreatable = tuple(wrapper for wrapper in spec.additional_wrappers if wrapper.kwargs is not None)
        spec = dataclasses.replace(spec, additional_wrappers=recreatable)
        if self.config.eval_horizon is None and spec.max_episode_steps is None:
            raise ValueError(f"The env {spec.id} has no time limit, so a perturbed episode may never end; pass eval_horizon")
        return param_space, spec

    def _setup_dynamics(self, env: VecEnv) -> None:
        """Resolve ``phi``'s coordinates, build the worker envs, estimate ``H0`` and calibrate ``epsilon`` (once)."""
        config = self.config
        param_space, spec = self._check_env(env)
        if self.coordinates is None:
            if self.parameterisation is None:
                raise ValueError(
                    "WR2L needs parameterisation=: a preset such as 'wr2l/hopper/2d' "
                    "(robust_envs.presets.list_parameterisations()) or a list of the env's parameter names"
                )
            names = resolve_parameterisation(self.parameterisation, param_space, spec.id)
            if config.epsilon is None and config.epsilon_index >= len(names):
                raise ValueError(
                    f"WR2L: epsilon_index={config.epsilon_index} must name one of the {len(names)} parameters {names} "
                    "(0-based) when epsilon is calibrated"
                )
            reference = env.get_attr("base_params", indices=[0])[0]
            self.coordinates = DynamicsCoordinates.build(param_space, reference, names, config.coords, config.trust_region)
        else:
            missing = [name for name in self.coordinates.names if name not in param_space.names]
            if missing:
                raise ValueError(
                    f"WR2L was set up for parameters {missing} that the env {spec.id} does not have ({param_space.names})"
                )
        evaluator = BatchedReturns if config.eval_backend == "batched" else LockstepReturns
        self._returns = evaluator(lambda: gym.make(spec), config.eval_horizon, config.eval_discount)
        if self.hessian is None:
            actor = (
                None
                if config.hessian_data_policy == "random"
                else PolicyActor(self.policy, False, self.get_vec_normalize_env())
            )
            reference = estimate_reference_hessian(self._returns.worker(), self.coordinates, config, self._wr2l_rng, actor)
            self.hessian, self.hessian_estimate = reference.hessian, reference.estimate
        if self.epsilon is None:
            phi0 = None if self.coordinates.coords == "relative" else self.coordinates.phi0
            self.epsilon = epsilon_for(self.hessian, config.epsilon_index, config.epsilon_fraction, phi0=phi0)
        if self.phi is None:
            self.phi = self.coordinates.origin
        self._apply_phi(env)

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        """
        Replace the training env (after ``load``): checked as at construction, and ``phi^[k]`` set on its sub-envs.

        :param env: the new VecEnv
        :param force_reset: discard the last observation (SB3's default)
        """
        env = self._wrap_env(env, self.verbose)
        self._check_env(env)  # before the model takes it
        super().set_env(env, force_reset)
        self._setup_dynamics(env)

    def _apply_phi(self, env: VecEnv) -> None:
        """Make ``phi^[k]`` the persistent parameters of every sub-env (effective from their next reset)."""
        assert self.coordinates is not None and self.phi is not None
        env.env_method("set_params", self.coordinates.to_full(self.phi)[0])

    # ---- Phase I ------------------------------------------------------------------------------------
    def _actor(self) -> PolicyActor:
        return PolicyActor(self.policy, self.config.eval_deterministic, self.get_vec_normalize_env())

    def perturbed_returns(self, points: np.ndarray, seeds: np.ndarray, actor: PolicyActor | None = None) -> np.ndarray:
        """
        The current policy's return under each row of ``points``, ``eval_episodes`` episodes each.

        Rows with equal seeds run with the same reset and action noise (common random numbers). Points beyond the
        physical bounds (a perturbation near a bound) are clipped onto them.

        :param points: (K, d) points of ``phi`` in the model phase's coordinates
        :param seeds: (K,) seeds
        :param actor: the acting policy (``None``: the current one)
        :return: (K,) mean returns
        """
        assert self.coordinates is not None and self._returns is not None
        coordinates, episodes = self.coordinates, self.config.eval_episodes
        points = np.clip(np.atleast_2d(points), coordinates.physical_low, coordinates.physical_high)
        full = np.repeat(coordinates.to_full(points), episodes, axis=0)
        # episode e of a row gets seed (seed + e * prime) mod bound: equal seeds stay equal, episodes differ
        seeds = (
            np.repeat(np.asarray(seeds, dtype=np.int64), episodes) + np.tile(np.arange(episodes) * 7919, len(points))
        ) % SEED_BOUND
        batch = self._returns(actor if actor is not None else self._actor(), full, seeds)
        self.phase1_env_steps += int(batch.lengths.sum())
        return batch.returns.reshape(len(points), episodes).mean(axis=1)

    def _armijo(self, actor: PolicyActor, x: np.ndarray, target: np.ndarray, gradient: np.ndarray) -> float:
        """
        The largest of 1, 1/2, 1/4, 1/8 with sufficient decrease of the estimated return (A6's option).

        ``J(x + alpha p) <= J(x) + c alpha g^T p`` with ``p = target - x``, every candidate evaluated with the same
        ``2 n_directions`` seeds (common random numbers); the smallest step when none qualifies.
        """
        assert self.coordinates is not None
        direction = target - x
        candidates = [x] + [
            clip_to_bounds(x + alpha * direction, self.coordinates.low, self.coordinates.high).params
            for alpha in _ARMIJO_STEPS
        ]
        count = 2 * self.config.n_pairs(self.coordinates.dim)
        seeds = self._wr2l_rng.integers(0, SEED_BOUND, size=count, dtype=np.int64)
        returns = self.perturbed_returns(
            np.repeat(np.stack(candidates), count, axis=0), np.tile(seeds, len(candidates)), actor
        )
        means = returns.reshape(len(candidates), count).mean(axis=1)
        slope = float(gradient @ direction)
        for alpha, value in zip(_ARMIJO_STEPS, means[1:], strict=True):
            if value <= means[0] + _ARMIJO_C * alpha * slope:
                return alpha
        return _ARMIJO_STEPS[-1]

    def model_phase(self) -> np.ndarray:
        """
        Phase I (Algorithm 1, lines 4-9): move ``phi`` towards the worst case of the current policy; sets and returns it.

        :return: (d,) ``phi^[k+1]`` in the model phase's coordinates
        """
        assert self.coordinates is not None and self.hessian is not None and self.epsilon is not None and self.phi is not None
        start = time.perf_counter()
        config, coordinates = self.config, self.coordinates
        actor = self._actor()
        x = self.phi.copy() if config.warm_start else coordinates.origin
        for j in range(config.inner_steps):
            estimate = zero_order_gradient(
                lambda points, seeds: self.perturbed_returns(points, seeds, actor),
                x,
                config.sigma,
                config.n_pairs(coordinates.dim),
                rng=self._wr2l_rng,
                directions=config.directions,
            )
            # Eq. 10 from the current iterate: a zero gradient (a flat return, e.g. every pair survived alike) keeps x
            target = ellipsoid_step(estimate.gradient, self.hessian, coordinates.origin, self.epsilon, phi=x)
            alpha = frank_wolfe_step_size(j) if config.step_size == "fw" else self._armijo(actor, x, target, estimate.gradient)
            clipped = clip_to_bounds(x + alpha * (target - x), coordinates.low, coordinates.high)  # A8
            x = clipped.params
            self.model_steps += 1
            self.clipped_steps += int(clipped.any)
            self.zero_gradient_steps += int(not estimate.gradient.any())
            self.last_gradient = estimate
        self.phi = x
        self.phase1_seconds += time.perf_counter() - start
        return x.copy()

    def _log_model_phase(self) -> None:
        assert self.coordinates is not None and self.hessian is not None and self.phi is not None
        self.logger.record("wr2l/ball_value", ball_value(self.phi, self.hessian, self.coordinates.origin))
        self.logger.record("wr2l/epsilon", float(self.epsilon))  # type: ignore[arg-type]
        if self.last_gradient is not None:
            self.logger.record("wr2l/grad_norm", float(np.linalg.norm(self.last_gradient.gradient)))
            self.logger.record("wr2l/J_hat", self.last_gradient.mean_return)
        self.logger.record("wr2l/clip_fraction", self.clipped_steps / max(self.model_steps, 1))
        self.logger.record("wr2l/zero_gradient_fraction", self.zero_gradient_steps / max(self.model_steps, 1))
        self.logger.record("wr2l/hessian_cond", float(np.linalg.cond(self.hessian)))
        self.logger.record("wr2l/phase1_env_steps", self.phase1_env_steps)
        self.logger.record("wr2l/phase1_seconds", self.phase1_seconds)
        for name, value in (self.worst_params or {}).items():
            self.logger.record(f"wr2l/phi/{name}", value)

    # ---- the alternation ----------------------------------------------------------------------------
    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """
        Phase I (every ``update_every``-th iteration), ``phi^[k+1]`` on every sub-env, then PPO's rollout under it.

        :param env: the training VecEnv
        :param callback: called at every step, as in PPO
        :param rollout_buffer: PPO's buffer
        :param n_rollout_steps: steps per sub-env
        :return: False if a callback stopped training
        """
        if self._iterations % self.config.update_every == 0:
            self.model_phase()
            self._apply_phi(env)
            # every transition of the rollout under phi^[k+1]: episodes in progress end here (PPO bootstraps them)
            self._last_obs = env.reset()  # type: ignore[assignment]
            self._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        self._iterations += 1
        self._log_model_phase()
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)


class WR2L(WorstCaseDynamics, CheckedLoadMixin, PPO):
    """
    Wasserstein Robust RL (Abdullah et al., Algorithm 1): PPO under the worst-case dynamics in a Wasserstein ball.

    **Set-up** (once, at construction): the reference ``phi0`` is the sub-envs' persistent parameters
    (``base_params``: nominal unless set otherwise) restricted to ``parameterisation``; ``H0``, the Hessian of the
    average Wasserstein distance ``W`` at ``phi0`` (Eq. 9), is estimated from ``hessian_data_episodes`` rollouts of a
    uniformly random policy under ``phi0`` (Sec. 3.1), by Gauss-Newton (default, exact at ``phi0`` for a
    deterministic simulator) or Proposition 2, and floored to positive definite. ``epsilon=None`` calibrates the
    ball so that it just reaches ``+-epsilon_fraction`` along parameter ``epsilon_index``
    (:func:`~robust_sb3.wr2l.ellipsoid.epsilon_for`).

    **Every iteration** (every ``update_every``-th; ``shared/WAVE2.md`` 1.8):

    1. *Phase I*, ``inner_steps`` Frank-Wolfe steps from ``phi^[k]`` (``warm_start``, A5) or ``phi0``: the gradient
       of the return by Proposition 1 (``n_directions`` antithetic pairs of perturbations of scale ``sigma``, one
       episode of the current policy each, common random numbers within a pair; all episodes' physics stepped in
       one batched call per time step, :class:`~robust_sb3.wr2l.returns.BatchedReturns`, or with
       ``eval_backend="vec"`` in lock-step worker envs, :class:`~robust_sb3.wr2l.returns.LockstepReturns`), the
       Eq. 10 point of the ellipsoid
       ``1/2 (phi - phi0)^T H0 (phi - phi0) <= epsilon``, the step ``alpha`` (``2 / (j + 2)``, or Armijo
       backtracking on the estimated return), and a clip onto the ``ParamSpace`` bounds and the trust region (A8).
    2. ``phi^[k+1]`` is set on every training sub-env (``set_params``) and the sub-envs are reset, so that
    3. *Phase II*, PPO's rollout and update, runs under ``phi^[k+1]``.

    Phase I's episodes are not counted in ``num_timesteps`` (PPO's env steps); ``wr2l/phase1_env_steps`` logs them.
    The paper's evaluation uses undiscounted returns; so do the perturbed returns by default (``eval_discount=1``).

    After set-up and ``learn()``: :attr:`worst_params` (``phi^[k]`` by name, physical units),
    :attr:`reference_params` (``phi0``), :attr:`hessian` (``H0``, d x d, in the model phase's coordinates, see
    ``coords``), :attr:`epsilon`; :attr:`coordinates` maps between those coordinates and the env's parameters.
    Logged (``wr2l/...``): ``ball_value`` (about ``epsilon`` after an unclipped step), ``epsilon``, ``grad_norm``,
    ``J_hat`` (mean perturbed return), ``clip_fraction`` (the fraction of model steps the bounds clipped so far),
    ``zero_gradient_fraction`` (the fraction of model steps whose gradient estimate was exactly zero, so ``phi``
    stayed where it was: every pair returned alike, common on tasks whose return counts steps alive),
    ``hessian_cond``, ``phase1_env_steps``, ``phase1_seconds`` and ``phi/<name>``. ``save``/``load`` keep ``phi0``,
    ``phi^[k]``, ``H0``, ``epsilon`` and the settings.

    :param policy: the policy model (``"MlpPolicy"``: SB3's default actor-critic, 2 x 64 tanh layers, the
        paper's networks, App. B.1)
    :param env: a VecEnv of robust envs made by ``gym.make``/``make_vec_env`` (their spec builds Phase I's worker
        envs), or an env id; not wrapped in :class:`~robust_envs.wrappers.DomainRandomization`
    :param parameterisation: the parameters WR2L varies: a preset of
        :func:`robust_envs.presets.list_parameterisations` (``"wr2l/hopper/2d"``) or a list of parameter names
    :param epsilon: the radius of the Wasserstein ball in the model phase's coordinates, > 0; ``None`` to calibrate it
    :param epsilon_fraction: with ``epsilon=None``, the relative deviation the ball reaches along ``epsilon_index``
    :param epsilon_index: with ``epsilon=None``, the position in ``phi`` of the parameter it is measured along
    :param coords: ``"relative"`` (``u = phi / phi0 - 1``, default) or ``"raw"``: where ``sigma``,
        ``hessian_step``, ``epsilon`` and ``H0`` live
    :param sigma: Proposition 1's perturbation scale (0.05: 5% in relative coordinates)
    :param n_directions: antithetic pairs per gradient (``None``: ``2 d``)
    :param directions: ``"gaussian"`` (Proposition 1) or ``"orthogonal"``
    :param eval_episodes: episodes per perturbed return
    :param eval_horizon: the most steps of a perturbed episode (``None``: the env's time limit)
    :param eval_discount: discount of the perturbed returns (1: undiscounted)
    :param eval_deterministic: evaluate the mean action instead of sampling the policy
    :param inner_steps: Frank-Wolfe steps per Phase I
    :param step_size: ``"fw"`` (``alpha_j = 2 / (j + 2)``) or ``"armijo"``
    :param warm_start: start Phase I from ``phi^[k]`` (``False``: from ``phi0``, the paper's literal line)
    :param update_every: PPO iterations per Phase I (1: the paper's alternation)
    :param hessian: ``"gauss_newton"`` or ``"zero_order"`` (Proposition 2)
    :param hessian_step: Gauss-Newton's central-difference step
    :param hessian_sigma: Proposition 2's perturbation scale (``None``: ``sigma``)
    :param hessian_samples: Proposition 2's perturbations (``None``: ``20 d^2``)
    :param hessian_data_episodes: reference rollouts supplying the state-action pairs
    :param hessian_data_policy: ``"random"`` (uniform actions, Sec. 3.1) or ``"current"`` (the untrained policy)
    :param n_state_action: state-action pairs subsampled from them
    :param state_scale: ``"none"`` (raw next observations) or ``"std"`` (each dimension divided by its spread)
    :param min_eigenvalue_fraction: the eigenvalue floor of ``H0`` relative to its mean positive eigenvalue
    :param trust_region: the largest relative deviation of a parameter from ``phi0`` (``None``: bounds only)
    :param chunk_size: the most parameter vectors per ``sample_next_states`` call
    :param eval_backend: ``"batched"`` (all rows' physics in one batched call per time step) or ``"vec"`` (a worker
        env per row, for envs whose wrappers change the dynamics); see :class:`WR2LConfig`
    :param _init_setup_model: build the networks (and estimate ``H0``) at construction
    :param kwargs: every other argument of :class:`stable_baselines3.PPO`
    """

    def __init__(
        self,
        policy: str | type,
        env: VecEnv | str | None,
        parameterisation: str | list[str] | tuple[str, ...] | None = None,
        epsilon: float | None = None,
        epsilon_fraction: float = 0.1,
        epsilon_index: int = 0,
        coords: str = "relative",
        sigma: float = 0.05,
        n_directions: int | None = None,
        directions: str = "gaussian",
        eval_episodes: int = 1,
        eval_horizon: int | None = None,
        eval_discount: float = 1.0,
        eval_deterministic: bool = False,
        inner_steps: int = 1,
        step_size: str = "fw",
        warm_start: bool = True,
        update_every: int = 1,
        hessian: str = "gauss_newton",
        hessian_step: float = 1e-2,
        hessian_sigma: float | None = None,
        hessian_samples: int | None = None,
        hessian_data_episodes: int = 20,
        hessian_data_policy: str = "random",
        n_state_action: int = 1000,
        state_scale: str = "none",
        min_eigenvalue_fraction: float = 1e-6,
        trust_region: float | None = 0.9,
        chunk_size: int = 64,
        eval_backend: str = "batched",
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        # every argument is checked before anything is built: a rejected call creates nothing
        config = WR2LConfig(
            epsilon=epsilon,
            epsilon_fraction=epsilon_fraction,
            epsilon_index=epsilon_index,
            coords=coords,
            sigma=sigma,
            n_directions=n_directions,
            directions=directions,
            eval_episodes=eval_episodes,
            eval_horizon=eval_horizon,
            eval_discount=eval_discount,
            eval_deterministic=eval_deterministic,
            inner_steps=inner_steps,
            step_size=step_size,
            warm_start=warm_start,
            update_every=update_every,
            hessian=hessian,
            hessian_step=hessian_step,
            hessian_sigma=hessian_sigma,
            hessian_samples=hessian_samples,
            hessian_data_episodes=hessian_data_episodes,
            hessian_data_policy=hessian_data_policy,
            n_state_action=n_state_action,
            state_scale=state_scale,
            min_eigenvalue_fraction=min_eigenvalue_fraction,
            trust_region=trust_region,
            chunk_size=chunk_size,
            eval_backend=eval_backend,
        )
        check_ppo_arguments("WR2L", kwargs, _PPO_DEFAULTS)
        PPO.__init__(self, policy, env, _init_setup_model=False, **kwargs)
        self._init_wr2l(config, parameterisation)
        if _init_setup_model:
            self._setup_model()


class WR2LTRPO(WorstCaseDynamics, CheckedLoadMixin, TRPO):
    """
    WR2L with sb3-contrib's TRPO as the policy phase (``shared/WAVE2.md`` 1.8's option; the paper's baselines include
    TRPO). Phase I, the set-up, logging and save/load are :class:`WR2L`'s; only the policy update differs.

    :param policy: the policy model (``"MlpPolicy"``: 2 x 64 tanh layers)
    :param env: a VecEnv of robust envs made by ``gym.make``/``make_vec_env``, or an env id
    :param parameterisation: a parameterisation preset or a list of parameter names, as for :class:`WR2L`
    :param config: the model phase's settings (:class:`~robust_sb3.wr2l.config.WR2LConfig`, or a dict of its fields);
        ``None`` for the defaults
    :param _init_setup_model: build the networks (and estimate ``H0``) at construction
    :param kwargs: every other argument of :class:`sb3_contrib.TRPO`
    """

    def __init__(
        self,
        policy: str | type,
        env: VecEnv | str | None,
        parameterisation: str | list[str] | tuple[str, ...] | None = None,
        config: WR2LConfig | dict[str, Any] | None = None,
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        if config is None:
            config = WR2LConfig()
        elif isinstance(config, dict):
            config = WR2LConfig(**config)  # TypeError names an unknown field
        elif not isinstance(config, WR2LConfig):
            raise TypeError(f"WR2LTRPO: config must be a WR2LConfig, a dict of its fields or None, got {config!r}")
        TRPO.__init__(self, policy, env, _init_setup_model=False, **kwargs)
        self._init_wr2l(config, parameterisation)
        if _init_setup_model:
            self._setup_model()
