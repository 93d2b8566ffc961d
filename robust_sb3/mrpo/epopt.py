"""EPOpt / PW-DR: PPO on the worst alpha-percentile of sampled environments (Rajeswaran et al. 2017; Jiang et al. 2021)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from stable_baselines3.common.type_aliases import MaybeCallback

from robust_sb3.common.sampled_envs import SampledEnvsPPO
from robust_sb3.mrpo.selection import epopt_select

SelfEPOpt = TypeVar("SelfEPOpt", bound="EPOpt")


class EPOpt(SampledEnvsPPO):
    """
    EPOpt-epsilon, the PW-DR baseline of Jiang et al. (2021, section 4): train only on the trajectories of the
    ``worst_fraction`` (alpha, paper: 10%) worst of the M environments sampled each iteration.

    Paper: https://arxiv.org/abs/1610.01283 (Rajeswaran et al., ICLR 2017). As in Jiang et al., there is no
    warm-up phase on all trajectories and the policy update is PPO. Sampling, return estimates (discounted by
    default, as MRPO's), unfinished episodes, the default ``n_steps`` (the time limit) and logging are those of
    :class:`~robust_sb3.common.sampled_envs.SampledEnvsPPO`.

    :param policy: the policy model to use (``"MlpPolicy"``, ...)
    :param env: a VecEnv of ``n_envs = M >= 2`` robust envs
    :param uncertainty_set: the training set (an :class:`~robust_envs.uncertainty.UncertaintySet` or a preset name)
    :param worst_fraction: alpha, the fraction of worst environments trained on (paper: 0.1); ties at the
        boundary are all kept
    :param return_estimate: ``"discounted"`` (by ``gamma``, as in Jiang et al.) or ``"undiscounted"``; the
        worst environments are ranked by it
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    :param kwargs: every other argument of :class:`stable_baselines3.PPO` (``n_steps`` defaults to the time limit)
    """

    def _select(self, returns: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, float]:
        return epopt_select(returns, self.worst_fraction), float("nan")

    def learn(
        self: SelfEPOpt,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "EPOpt",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfEPOpt:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
