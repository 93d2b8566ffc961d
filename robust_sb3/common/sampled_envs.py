"""
PPO over M environments sampled afresh every iteration, training on the trajectories of a selected subset: the
machinery MRPO and EPOpt (:mod:`robust_sb3.mrpo`) share.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, NamedTuple

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize, unwrap_vec_wrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DomainRandomization
from robust_sb3.common.base import CheckedLoadMixin
from robust_sb3.common.buffers import EnvMask, EnvMaskedDictRolloutBuffer, EnvMaskedRolloutBuffer
from robust_sb3.common.selection import normalized_params, worst_fraction_mean
from robust_sb3.common.validation import PPO_CHECKED, check_ppo_arguments, signature_defaults

#: the paper's worst-case metric: the mean return of the 10% worst sampled environments (Jiang et al. 2021, section 4.1)
REPORTED_WORST_FRACTION = 0.1
#: PPO's defaults of the arguments checked at construction
_PPO_DEFAULTS = signature_defaults(PPO.__init__, PPO_CHECKED)
#: the allowed ``return_estimate`` values: the paper's cumulative discounted return, or the plain sum of rewards
RETURN_ESTIMATES = ("discounted", "undiscounted")


class Selection(NamedTuple):
    """
    What one iteration sampled, measured and selected (``model.last_selection``).

    :param settings: the M sampled parameter settings (mappings over the uncertainty set's names)
    :param returns: (M,) return estimates ``eta_hat`` (see :class:`SampledEnvsPPO` for unfinished episodes)
    :param finished: (M,) whether the environment finished at least one episode in the rollout
    :param mask: (M,) the environments whose trajectories PPO trained on
    :param kappa: MRPO's penalty coefficient this iteration (``nan`` for rules without one)
    """

    settings: list[dict[str, float]]
    returns: np.ndarray
    finished: np.ndarray
    mask: np.ndarray
    kappa: float


def resolve_uncertainty_set(uncertainty_set: UncertaintySet | str | None) -> UncertaintySet | None:
    """
    :param uncertainty_set: an :class:`UncertaintySet`, a preset name or ``None``
    :return: the set (``None`` stays ``None``)
    """
    if uncertainty_set is None or isinstance(uncertainty_set, UncertaintySet):
        return uncertainty_set
    if isinstance(uncertainty_set, str):
        return get_preset(uncertainty_set)
    raise TypeError(
        "uncertainty_set must be an UncertaintySet or a preset name, "
        f"got {uncertainty_set!r} ({type(uncertainty_set).__name__})"
    )


class SampledEnvsPPO(CheckedLoadMixin, PPO):
    """
    The machinery MRPO and EPOpt share (Jiang et al. 2021, Algorithm 2, lines 3-6 and 12), on SB3's PPO.

    Every iteration draws one parameter setting per sub-env from ``uncertainty_set`` (so M = ``n_envs``, and
    column ``i`` of the rollout buffer is environment ``p_i``), sets it with the env's persistent
    ``set_params`` and resets every sub-env, collects ``n_steps`` steps per sub-env with the current policy,
    estimates each environment's return, lets :meth:`_select` choose the environments to train on, and runs
    PPO's unchanged ``train()`` on their rows only (:class:`~robust_sb3.common.buffers.EnvMaskedRolloutBuffer`).

    **Parameters the uncertainty set does not name** keep the sub-env's persistent values (its ``base_params``:
    the constructor's, then ``set_params``'), so a setting made before training holds throughout. The sub-envs
    must not draw parameters themselves: wrappers such as
    :class:`robust_envs.wrappers.DomainRandomization` are refused, since the ranking would then be of settings
    the envs never ran.

    **Return estimate** ``eta_hat(p_i)`` (Algorithm 2, line 5): the mean, over the episodes environment ``i``
    finished during the rollout, of each episode's cumulative discounted return ``sum_t gamma^t r_t``, with
    ``gamma`` PPO's discount, as in the paper (``return_estimate="discounted"``, the default).
    ``return_estimate="undiscounted"`` sums the rewards instead: the episode return SB3's ``Monitor`` reports.
    Both are computed from the rewards the VecEnv returns at every step (before ``VecNormalize``'s scaling,
    if the env has one), never from the rollout buffer's rewards, which carry PPO's ``gamma * V`` bootstrap
    at time-limit truncations.

    **An environment whose first episode did not finish within the rollout** (it survived all ``n_steps``
    steps) is estimated by the return of that unfinished episode so far, discounted the same way: the return
    of the episode truncated at the rollout's horizon. Every environment starts a fresh episode at the start
    of the rollout, so a finished episode and an unfinished one are both returns over at most ``n_steps``
    steps and compare on the same footing. The trajectories of unfinished environments are trained on like
    any other when selected (PPO bootstraps them with the value function, as always).
    ``robust/unfinished_fraction`` logs how often it happens.

    **n_steps**: the paper estimates each environment from full trajectories (L = 1 per environment), so
    ``n_steps`` defaults to the sub-envs' time limit (their ``spec.max_episode_steps``; PPO's 2048 when they
    have none): every environment then finishes at least one episode and the unfinished case does not
    arise. An environment whose episode ends earlier starts new ones in the same rollout and is estimated
    by the mean of those it finished. An explicit ``n_steps`` below the time limit issues a ``UserWarning``
    naming both numbers, since the environments that survive the rollout are then estimated from unfinished
    episodes. A rollout holds ``n_steps * n_envs`` transitions; as in PPO, SB3 warns when that is not a
    multiple of ``batch_size`` (the last minibatch of each epoch is then smaller), so with the default
    ``n_steps`` pick a ``batch_size`` that divides ``time_limit * n_envs`` (minibatches come from the selected
    columns only, so the last one can be smaller all the same).

    Logged each iteration (``robust/...``, Jiang et al. 2021, section 4.1): ``mean_return`` (average over the M
    sampled environments), ``worst10_return`` (mean of the 10% worst), ``worst_return``, ``selected_fraction``,
    ``selected_mean_return`` and ``unfinished_fraction``, all of the return estimates above.

    :param policy: the policy model to use (``"MlpPolicy"``, ...)
    :param env: a VecEnv of ``n_envs >= 2`` perturbable robust envs (``make_vec_env(env_id, n_envs=M)``), without
        :class:`~robust_envs.wrappers.DomainRandomization`
    :param uncertainty_set: the training set the M environments are drawn from (an
        :class:`~robust_envs.uncertainty.UncertaintySet` or a preset name, e.g. ``"jiang2021/hopper/train"``);
        parameters it does not name keep the sub-env's persistent values
    :param worst_fraction: the fraction of worst environments the selection rule is built on (paper: 0.1)
    :param return_estimate: ``"discounted"`` (the paper's ``eta_hat``, discounted by ``gamma``) or
        ``"undiscounted"`` (the plain sum of rewards, the Monitor's episode return)
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    :param kwargs: every other argument of :class:`stable_baselines3.PPO` (``n_steps``, default: the
        sub-envs' time limit; ``batch_size``, ``gamma``, ...)
    """

    _identifying_attributes: ClassVar[tuple[str, ...]] = ("uncertainty_set", "worst_fraction")

    def __init__(
        self,
        policy: str | type,
        env: VecEnv | str | None,
        uncertainty_set: UncertaintySet | str | None = None,
        worst_fraction: float = 0.1,
        return_estimate: str = "discounted",
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        if not isinstance(return_estimate, str) or return_estimate not in RETURN_ESTIMATES:
            raise ValueError(f"{owner}: return_estimate must be one of {RETURN_ESTIMATES}, got {return_estimate!r}")
        if isinstance(worst_fraction, bool) or not isinstance(worst_fraction, int | float) or not 0.0 < worst_fraction <= 1.0:
            raise ValueError(f"{owner}: worst_fraction must be a fraction in (0, 1], got {worst_fraction!r}")
        check_ppo_arguments(owner, kwargs, _PPO_DEFAULTS)
        time_limit = episode_time_limit(env)
        if "n_steps" not in kwargs and time_limit is not None:
            # one full episode per column: the paper's L = 1 trajectory per sampled environment
            kwargs["n_steps"] = time_limit
        super().__init__(policy, env, _init_setup_model=False, **kwargs)
        self.uncertainty_set = resolve_uncertainty_set(uncertainty_set)
        self.worst_fraction = float(worst_fraction)
        self.return_estimate = return_estimate
        self.last_selection: Selection | None = None
        if _init_setup_model:
            self._setup_model()

    # ---- set-up -----------------------------------------------------------------------------------
    def _setup_model(self) -> None:
        # load(path, uncertainty_set="preset/name") sets the attribute as given: resolve it as the constructor does
        self.uncertainty_set = resolve_uncertainty_set(self.uncertainty_set)
        if self.env is not None:
            self._check_env(self.env)
        if self.rollout_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.rollout_buffer_class = EnvMaskedDictRolloutBuffer if dict_obs else EnvMaskedRolloutBuffer
        elif not issubclass(self.rollout_buffer_class, EnvMask):
            raise ValueError(
                f"{type(self).__name__} trains on selected sub-envs and needs an env-masked rollout buffer, got "
                f"rollout_buffer_class={self.rollout_buffer_class.__name__}; leave it None or subclass EnvMaskedRolloutBuffer"
            )
        super()._setup_model()

    def _check_env(self, env: VecEnv) -> None:
        if self.uncertainty_set is None:
            raise ValueError(
                f"{type(self).__name__} needs uncertainty_set= (an UncertaintySet or a preset name such as "
                "'jiang2021/invertedpendulum/train') to sample the training environments from"
            )
        if env.num_envs < 2:
            raise ValueError(
                f"{type(self).__name__} samples one environment per sub-env and ranks them, so it needs n_envs >= 2; "
                f"got n_envs={env.num_envs}. Use make_vec_env(env_id, n_envs=M) (the paper uses M = 100)."
            )
        try:
            param_space = env.get_attr("param_space", indices=[0])[0]
        except AttributeError as error:
            raise ValueError(f"{type(self).__name__} needs perturbable robust_envs envs (with a param_space)") from error
        randomized = [i for i, wrapped in enumerate(env.env_is_wrapped(DomainRandomization)) if wrapped]
        if randomized:
            raise ValueError(
                f"{type(self).__name__} sets every sub-env's parameters itself and ranks the settings it set, but sub-envs "
                f"{randomized} are wrapped in robust_envs.wrappers.DomainRandomization, which draws new parameters at every "
                "reset: the ranked settings would not be the ones the envs ran. Make the sub-envs without the wrapper "
                "(make_vec_env(env_id, n_envs=M)); for domain-randomised PPO use make_domain_randomized_env with SB3's PPO."
            )
        self.uncertainty_set.validate(param_space)
        self._warn_if_rollout_is_short(env)

    def _warn_if_rollout_is_short(self, env: VecEnv) -> None:
        """Warn when a rollout is too short for every environment to finish an episode (no full trajectory)."""
        time_limit = episode_time_limit(env)
        if time_limit is not None and self.n_steps < time_limit:
            warnings.warn(
                f"n_steps={self.n_steps} is below the sub-envs' time limit of {time_limit} steps: an environment whose "
                f"episode survives all {self.n_steps} steps is estimated from that unfinished episode, not from a full "
                f"trajectory as in Jiang et al. (2021). Leave n_steps unset (default: the time limit, {time_limit}) "
                "for one full episode per environment.",
                UserWarning,
                stacklevel=2,
            )

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        """
        Replace the training env (after ``load``), checking it as the constructor does.

        :param env: the new VecEnv (same number of sub-envs)
        :param force_reset: discard the last observation (SB3's default)
        """
        env = self._wrap_env(env, self.verbose)
        self._check_env(env)  # before the model takes it
        super().set_env(env, force_reset)

    def set_random_seed(self, seed: int | None = None) -> None:
        """
        Seed PPO's generators and the generator of the sampled environment parameters.

        :param seed: the seed (``None``: fresh entropy)
        """
        super().set_random_seed(seed)
        self._param_rng = np.random.default_rng(seed)

    def _excluded_save_params(self) -> list[str]:
        # the parameter generator is re-seeded from ``seed`` on load, like SB3's own generators
        return [*super()._excluded_save_params(), "_param_rng", "last_selection"]

    # ---- one iteration ----------------------------------------------------------------------------
    def _sample_environments(self, env: VecEnv) -> list[dict[str, float]]:
        """Draw M settings, make them persistent in the sub-envs and start a fresh episode everywhere."""
        assert self.uncertainty_set is not None
        settings = self.uncertainty_set.sample_many(self._param_rng, env.num_envs)
        param_space = env.get_attr("param_space", indices=[0])[0]
        for i, (setting, base) in enumerate(zip(settings, persistent_params(env), strict=True)):
            # unnamed parameters keep the sub-env's persistent values; a full vector, so set_params completes nothing
            env.env_method("set_params", param_space.resolve(setting, base=param_space.resolve(base)), indices=[i])
        self._last_obs = env.reset()  # type: ignore[assignment]
        self._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        return settings

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """
        Sample M environments, collect PPO's rollout in them, estimate their returns and select the columns to train on.

        PPO's own ``collect_rollouts`` runs unchanged on the env seen through :class:`_EpisodeReturns`, which
        records every step's rewards for the return estimates.

        :param env: the training VecEnv (M sub-envs)
        :param callback: called at every step, as in PPO
        :param rollout_buffer: an env-masked rollout buffer
        :param n_rollout_steps: steps per sub-env
        :return: False if a callback stopped training
        """
        settings = self._sample_environments(env)
        recorder = _EpisodeReturns(env, discount=self.gamma if self.return_estimate == "discounted" else 1.0)
        if not super().collect_rollouts(recorder, callback, rollout_buffer, n_rollout_steps):
            return False
        returns, finished = recorder.estimates()
        params = normalized_params(settings, self.uncertainty_set)  # type: ignore[arg-type]
        mask, kappa = self._select(returns, params)
        assert isinstance(rollout_buffer, EnvMask)
        rollout_buffer.set_env_mask(mask)
        self.last_selection = Selection(settings, returns, finished, mask, kappa)
        self._log_selection(self.last_selection)
        return True

    def _select(self, returns: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, float]:
        """
        :param returns: (M,) return estimates
        :param params: (M, d) normalised parameters
        :return: the (M,) mask of environments to train on, and the kappa used (``nan`` if none)
        """
        raise NotImplementedError

    def _log_selection(self, selection: Selection) -> None:
        returns, mask = selection.returns, selection.mask
        self.logger.record("robust/mean_return", float(returns.mean()))
        self.logger.record("robust/worst10_return", worst_fraction_mean(returns, REPORTED_WORST_FRACTION))
        self.logger.record("robust/worst_return", float(returns.min()))
        self.logger.record("robust/selected_fraction", float(mask.mean()))
        self.logger.record("robust/selected_mean_return", float(returns[mask].mean()))
        self.logger.record("robust/unfinished_fraction", float(1.0 - selection.finished.mean()))
        if np.isfinite(selection.kappa):
            self.logger.record("robust/kappa", selection.kappa)


def persistent_params(env: VecEnv) -> list[Any]:
    """
    The parameters each sub-env returns to at every reset, which a partial setting is completed against.

    :param env: a VecEnv of robust envs
    :return: each sub-env's ``base_params`` (its persistent parameters: the constructor's, then ``set_params``')
    """
    return list(env.get_attr("base_params"))


def episode_time_limit(env: Any) -> int | None:
    """
    :param env: a VecEnv (anything else has no sub-envs to ask)
    :return: the longest ``spec.max_episode_steps`` of its sub-envs, ``None`` when none has a time limit
    """
    if not isinstance(env, VecEnv):
        return None
    limits = [spec.max_episode_steps for spec in env.get_attr("spec") if spec is not None and spec.max_episode_steps]
    return max(limits, default=None)


class _EpisodeReturns(VecEnvWrapper):
    """
    The training VecEnv for one rollout, recording each sub-env's episode returns ``sum_t discount^t r_t``.

    Rewards are taken where ``env.step`` returns them, before PPO adds its ``gamma * V`` bootstrap at
    time-limit truncations, and before ``VecNormalize``'s scaling (its original rewards), so the returns are
    those of the environment's own rewards. Every sub-env starts a fresh episode with the rollout.

    :param venv: the training VecEnv, its episodes just reset
    :param discount: ``gamma`` for discounted returns, 1 for undiscounted ones
    """

    def __init__(self, venv: VecEnv, discount: float) -> None:
        super().__init__(venv)
        self.discount = discount
        self._normalize = unwrap_vec_wrapper(venv, VecNormalize)
        self._running = np.zeros(venv.num_envs)
        self._weights = np.ones(venv.num_envs)
        self._finished: list[list[float]] = [[] for _ in range(venv.num_envs)]

    def reset(self) -> VecEnvObs:
        # PPO's rollout never resets (VecEnvs reset finished episodes themselves); kept for the VecEnv interface
        self._running[:] = 0.0
        self._weights[:] = 1.0
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        observations, rewards, dones, infos = self.venv.step_wait()
        raw = rewards if self._normalize is None else self._normalize.get_original_reward()
        self._running += self._weights * np.asarray(raw, dtype=np.float64)
        self._weights *= self.discount
        ended = np.asarray(dones, dtype=bool)
        # infos and dones come in sub-env order: entry i is environment p_i's
        for i in np.flatnonzero(ended):
            self._finished[i].append(float(self._running[i]))
        self._running[ended] = 0.0
        self._weights[ended] = 1.0
        return observations, rewards, dones, infos

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """
        :return: the (M,) return estimates (the mean over finished episodes, else the running episode's
            return so far) and the (M,) booleans saying which sub-envs finished an episode
        """
        finished = np.array([len(returns) > 0 for returns in self._finished])
        estimates = np.array(
            [np.mean(returns) if returns else running for returns, running in zip(self._finished, self._running, strict=True)],
            dtype=np.float64,
        )
        return estimates, finished
