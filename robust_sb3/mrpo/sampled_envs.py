"""PPO over M environments sampled afresh every iteration, training on the trajectories of a selected subset."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, unwrap_vec_wrapper

from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_sb3.mrpo.buffers import EnvMaskedDictRolloutBuffer, EnvMaskedRolloutBuffer, _EnvMask
from robust_sb3.mrpo.selection import normalized_params, worst_fraction_mean

#: the paper's worst-case metric: the mean return of the 10% worst sampled environments (Jiang et al. 2021, section 4.1)
REPORTED_WORST_FRACTION = 0.1


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
    raise TypeError(f"uncertainty_set must be an UncertaintySet or a preset name, got {type(uncertainty_set).__name__}")


class SampledEnvsPPO(PPO):
    """
    The machinery MRPO and EPOpt share (Jiang et al. 2021, Algorithm 2, lines 3-6 and 12), on SB3's PPO.

    Every iteration draws one parameter setting per sub-env from ``uncertainty_set`` (so M = ``n_envs``, and
    column ``i`` of the rollout buffer is environment ``p_i``), sets it with the env's persistent
    ``set_params`` and resets every sub-env, collects ``n_steps`` steps per sub-env with the current policy,
    estimates each environment's return, lets :meth:`_select` choose the environments to train on, and runs
    PPO's unchanged ``train()`` on their rows only (:class:`~robust_sb3.mrpo.buffers.EnvMaskedRolloutBuffer`).

    **Return estimate** ``eta_hat(p_i)``: the mean undiscounted return of the episodes environment ``i``
    finished during the rollout, as reported by SB3's ``Monitor`` (or ``VecMonitor``) in ``info["episode"]``
    (never the buffer's rewards, which carry PPO's ``gamma * V`` bootstrap at time-limit truncations).
    **An environment whose first episode did not finish within the rollout** (it survived all ``n_steps``
    steps) is estimated by the return of that unfinished episode so far, read from the Monitor: the return of
    the episode truncated at the rollout's horizon. Every environment starts a fresh episode at the start of
    the rollout, so a finished episode and an unfinished one are both returns over at most ``n_steps`` steps
    and compare on the same footing; with ``n_steps`` at least the time limit every environment finishes one
    episode (the paper's L = 1 trajectory per environment) and the case does not arise. The trajectories of
    unfinished environments are trained on like any other when selected (PPO bootstraps them with the value
    function, as always). ``robust/unfinished_fraction`` logs how often it happens.

    Logged each iteration (``robust/...``, Jiang et al. 2021, section 4.1): ``mean_return`` (average over the M
    sampled environments), ``worst10_return`` (mean of the 10% worst), ``worst_return``, ``selected_fraction``,
    ``selected_mean_return`` and ``unfinished_fraction``.

    :param policy: the policy model to use (``"MlpPolicy"``, ...)
    :param env: a VecEnv of ``n_envs >= 2`` perturbable robust envs (``make_vec_env(env_id, n_envs=M)``), each
        with a Monitor (``make_vec_env`` adds it) or wrapped in a ``VecMonitor``
    :param uncertainty_set: the training set the M environments are drawn from (an
        :class:`~robust_envs.uncertainty.UncertaintySet` or a preset name, e.g. ``"jiang2021/hopper/train"``);
        parameters it does not name keep the value the env was made with
    :param worst_fraction: the fraction of worst environments the selection rule is built on (paper: 0.1)
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    :param kwargs: every other argument of :class:`stable_baselines3.PPO` (``n_steps``, ``batch_size``, ...)
    """

    def __init__(
        self,
        policy: str | type,
        env: VecEnv | str | None,
        uncertainty_set: UncertaintySet | str | None = None,
        worst_fraction: float = 0.1,
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, env, _init_setup_model=False, **kwargs)
        self.uncertainty_set = resolve_uncertainty_set(uncertainty_set)
        if isinstance(worst_fraction, bool) or not isinstance(worst_fraction, int | float) or not 0.0 < worst_fraction <= 1.0:
            raise ValueError(f"worst_fraction must be a fraction in (0, 1], got {worst_fraction!r}")
        self.worst_fraction = float(worst_fraction)
        self.last_selection: Selection | None = None
        if _init_setup_model:
            self._setup_model()

    # ---- set-up -----------------------------------------------------------------------------------
    def _setup_model(self) -> None:
        if self.env is not None:
            self._check_env(self.env)
        if self.rollout_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.rollout_buffer_class = EnvMaskedDictRolloutBuffer if dict_obs else EnvMaskedRolloutBuffer
        elif not issubclass(self.rollout_buffer_class, _EnvMask):
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
        self.uncertainty_set.validate(param_space)

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        """
        Replace the training env (after ``load``), checking it as the constructor does.

        :param env: the new VecEnv (same number of sub-envs)
        :param force_reset: discard the last observation (SB3's default)
        """
        super().set_env(env, force_reset)
        self._check_env(self.env)  # type: ignore[arg-type]

    def set_random_seed(self, seed: int | None = None) -> None:
        """
        Seed PPO's generators and the generator of the sampled environment parameters.

        :param seed: the seed (``None``: fresh entropy)
        """
        super().set_random_seed(seed)
        self._param_rng = np.random.default_rng(seed)

    def _excluded_save_params(self) -> list[str]:
        # the parameter generator is re-seeded from ``seed`` on load, like SB3's own generators
        return [*super()._excluded_save_params(), "_param_rng", "last_selection", "_finished_returns"]

    # ---- one iteration ----------------------------------------------------------------------------
    def _sample_environments(self, env: VecEnv) -> list[dict[str, float]]:
        """Draw M settings, make them persistent in the sub-envs and start a fresh episode everywhere."""
        assert self.uncertainty_set is not None
        settings = self.uncertainty_set.sample_many(self._param_rng, env.num_envs)
        param_space = env.get_attr("param_space", indices=[0])[0]
        specs = env.get_attr("spec")
        for i, (setting, spec) in enumerate(zip(settings, specs, strict=True)):
            # unnamed parameters keep the value the env was made with (its spec's params), not nominal
            made_with = param_space.resolve(None if spec is None else spec.kwargs.get("params"))
            env.env_method("set_params", param_space.resolve(setting, base=made_with), indices=[i])
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

        :param env: the training VecEnv (M sub-envs)
        :param callback: called at every step, as in PPO
        :param rollout_buffer: an env-masked rollout buffer
        :param n_rollout_steps: steps per sub-env
        :return: False if a callback stopped training
        """
        settings = self._sample_environments(env)
        self._finished_returns: list[list[float]] | None = [[] for _ in range(env.num_envs)]
        try:
            if not super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps):
                return False
            finished_returns = self._finished_returns
        finally:
            self._finished_returns = None
        finished = np.array([len(r) > 0 for r in finished_returns])
        returns = np.array([np.mean(r) if r else np.nan for r in finished_returns])
        if not finished.all():
            returns[~finished] = _running_returns(env, np.flatnonzero(~finished))
        params = normalized_params(settings, self.uncertainty_set)  # type: ignore[arg-type]
        mask, kappa = self._select(returns, params)
        assert isinstance(rollout_buffer, _EnvMask)
        rollout_buffer.set_env_mask(mask)
        self.last_selection = Selection(settings, returns, finished, mask, kappa)
        self._log_selection(self.last_selection)
        return True

    def _update_info_buffer(self, infos: list[dict[str, Any]], dones: np.ndarray | None = None) -> None:
        super()._update_info_buffer(infos, dones)
        # infos come in sub-env order: info i is environment p_i's
        if getattr(self, "_finished_returns", None) is not None:
            for i, info in enumerate(infos):
                episode = info.get("episode")
                if episode is not None:
                    self._finished_returns[i].append(float(episode["r"]))  # type: ignore[index]

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


def _running_returns(env: VecEnv, indices: np.ndarray) -> np.ndarray:
    """
    :param env: the training VecEnv
    :param indices: sub-envs whose episode is still running
    :return: the undiscounted return of each one's running episode so far, from its ``Monitor`` or the ``VecMonitor``
    """
    index_list = [int(i) for i in indices]
    if all(env.env_is_wrapped(Monitor, indices=index_list)):
        return np.array([float(np.sum(r)) for r in env.get_attr("rewards", indices=index_list)])
    vec_monitor = unwrap_vec_wrapper(env, VecMonitor)
    if vec_monitor is not None:
        return np.asarray(vec_monitor.episode_returns, dtype=np.float64)[indices]  # type: ignore[attr-defined]
    raise ValueError(
        "MRPO/EPOpt estimate each environment's return from episode returns: wrap the sub-envs in "
        "stable_baselines3.common.monitor.Monitor (make_vec_env does) or the VecEnv in VecMonitor"
    )
