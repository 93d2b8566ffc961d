"""MRPO: Monotonic Robust Policy Optimization with model discrepancy (Jiang et al., ICML 2021), on SB3's PPO."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.vec_env import VecEnv

from robust_envs.uncertainty import UncertaintySet
from robust_sb3.common.sampled_envs import SampledEnvsPPO
from robust_sb3.mrpo.selection import mrpo_select

SelfMRPO = TypeVar("SelfMRPO", bound="MRPO")


@dataclass(frozen=True)
class KappaRamp:
    """
    MRPO's practical kappa schedule (Jiang et al. 2021, section 4.3): "we gradually increase kappa to a fixed high value".

    ``kappa`` grows linearly from ``initial`` to ``final`` over the first ``ramp_fraction`` of training and
    stays at ``final`` afterwards. Called like SB3's schedules, with the remaining progress (1 at the start,
    0 at the end).

    The default ``final = 10`` is sized for the default return estimate, the discounted return: at
    ``gamma = 0.99`` a reward of 1 per step is worth at most 100, so at ``kappa = 10`` an environment one
    training-range width away from ``p_w`` must out-score it by 10% of that ceiling to be kept. The earlier
    default, 100, was set for undiscounted returns (up to 1000 on the inverted pendulum); on discounted returns
    it kept little more than the worst set late in training, and MRPO then learned no balance at all on
    ``RobustInvertedPendulum-v0`` (``keep_mass=True``, 300k steps, 3 seeds: 100-180 of 1000 at every pole
    length; final 10 and 0 balance 0.3-2.5 m with seed 0). The paper tried 5-60 on Hopper in its own units.

    :param final: the fixed high value (return units per unit of normalised parameter distance)
    :param initial: the value at the start
    :param ramp_fraction: the fraction of training over which kappa grows, in (0, 1]
    """

    final: float = 10.0
    initial: float = 0.0
    ramp_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("final", "initial"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"KappaRamp.{name} must be finite and >= 0, got {value!r}")
        if not 0.0 < self.ramp_fraction <= 1.0:
            raise ValueError(f"KappaRamp.ramp_fraction must be in (0, 1], got {self.ramp_fraction!r}")

    def __call__(self, progress_remaining: float) -> float:
        done = min(max(1.0 - progress_remaining, 0.0), 1.0)
        return self.initial + (self.final - self.initial) * min(done / self.ramp_fraction, 1.0)


class MRPO(SampledEnvsPPO):
    """
    Monotonic Robust Policy Optimization, the practical version (Jiang et al. 2021, Algorithm 2 and section 4).

    Paper: https://proceedings.mlr.press/v139/jiang21c.html (ICML 2021).

    Each iteration samples M = ``n_envs`` environments ``p_i`` from the training ``uncertainty_set`` (Algorithm 2,
    line 3), collects ``n_steps`` steps in each (one per sub-env column), estimates ``eta_hat(p_i)``, the mean
    cumulative discounted return of the episodes run in ``p_i`` (line 5; see
    :class:`~robust_sb3.common.sampled_envs.SampledEnvsPPO` for ``return_estimate`` and unfinished episodes),
    finds the worst environment ``p_w`` (line 7), scores ``E_hat(p_i) = eta_hat(p_i) - kappa * ||p_i - p_w||``
    with the parameters normalised by their training range (line 9), and runs one PPO update (line 12) on the
    trajectories of the ``worst_fraction`` worst environments and of every environment whose score is at
    least that of every one of them (line 11 with section 4's 10% worst-case set in place of ``p_w``;
    :func:`~robust_sb3.mrpo.selection.mrpo_select`). The worst environments are always trained on, and with
    ``kappa = 0`` every environment is.

    The paper's settings: M = 100, L = 1 trajectory per environment (here: ``n_steps`` defaults to the time
    limit), two 64-unit hidden layers (SB3's default ``MlpPolicy``), kappa ramped to a fixed high value. kappa
    is in units of the return estimate per unit of normalised parameter distance, so its scale follows the
    returns': a discounted return is at most about ``1 / (1 - gamma)`` rewards per step (100 at ``gamma =
    0.99``), an undiscounted one up to the time limit's worth.

    :param policy: the policy model to use (``"MlpPolicy"``, ...)
    :param env: a VecEnv of ``n_envs = M >= 2`` robust envs (``make_vec_env(env_id, n_envs=M)``)
    :param uncertainty_set: the training set (an :class:`UncertaintySet` or a preset name such as
        ``"jiang2021/invertedpendulum/train"``)
    :param kappa: the penalty coefficient: a number, or a schedule ``progress_remaining -> kappa`` (default
        :class:`KappaRamp`: 0 growing to 10 over the first half of training)
    :param worst_fraction: the fraction of worst environments that replaces ``p_w``: they are always trained on,
        and their best score is the threshold the others must reach (paper: 0.1)
    :param return_estimate: ``"discounted"`` (the paper's, by ``gamma``) or ``"undiscounted"``
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    :param kwargs: every other argument of :class:`stable_baselines3.PPO` (``n_steps`` defaults to the time limit)
    """

    _identifying_attributes: ClassVar[tuple[str, ...]] = ("uncertainty_set", "worst_fraction", "kappa")

    def __init__(
        self,
        policy: str | type,
        env: VecEnv | str | None,
        uncertainty_set: UncertaintySet | str | None = None,
        kappa: float | Callable[[float], float] | None = None,
        worst_fraction: float = 0.1,
        return_estimate: str = "discounted",
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        if kappa is None:
            kappa = KappaRamp()
        if not callable(kappa):
            if isinstance(kappa, bool) or not isinstance(kappa, int | float) or not (math.isfinite(kappa) and kappa >= 0):
                raise ValueError(
                    f"{type(self).__name__}: kappa must be a number >= 0 or a schedule progress_remaining -> kappa, "
                    f"got {kappa!r}"
                )
            kappa = float(kappa)
        super().__init__(policy, env, uncertainty_set, worst_fraction, return_estimate, _init_setup_model=False, **kwargs)
        self.kappa = kappa
        if _init_setup_model:
            self._setup_model()

    def current_kappa(self) -> float:
        """:return: kappa at the current training progress"""
        value = self.kappa(self._current_progress_remaining) if callable(self.kappa) else self.kappa
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"The kappa schedule returned {value!r} at progress remaining "
                f"{self._current_progress_remaining}; kappa must be >= 0"
            )
        return float(value)

    def _select(self, returns: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, float]:
        kappa = self.current_kappa()
        return mrpo_select(returns, params, kappa, self.worst_fraction), kappa

    def learn(
        self: SelfMRPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "MRPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMRPO:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
