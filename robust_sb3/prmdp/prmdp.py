"""PR-MDP: probabilistic action robustness (Tessler, Efroni and Mannor, "Action Robust Reinforcement Learning", ICML 2019)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from robust_envs.action_robust import (
    ADVERSARY_ACTED,
    ProbabilisticActionAdversary,
    ProbabilisticActionRobust,
    check_alpha,
)
from robust_envs.evaluation.policies import Policy
from robust_sb3.common.env_source import EnvSource
from robust_sb3.common.two_player import TwoPlayerPPO

#: Tessler et al.'s probability that the adversary acts (their experiments).
TESSLER2019_ALPHA = 0.1


class PRMDP(TwoPlayerPPO):
    """
    The probabilistic action robust MDP of Tessler et al. (2019): an agent whose action is replaced, with probability
    ``alpha``, by an adversary's.

    The agent acts through the mixture ``pi_mix = (1 - alpha) pi + alpha pi_bar`` (section 3 of the paper) and
    maximises its return; the adversary ``pi_bar`` acts in the same action space and minimises it (zero-sum). Both
    players are trained in alternation by :class:`~robust_sb3.common.two_player.TwoPlayerPPO` (Pinto et al.'s
    Algorithm 1, as RARL): the agent in :class:`~robust_envs.action_robust.ProbabilisticActionRobust` with the
    adversary fixed, then the adversary in :class:`~robust_envs.action_robust.ProbabilisticActionAdversary` with the
    agent fixed, on the negated reward. ``predict`` is the agent's (protagonist's) own policy, without the mixture.

    **Our choices.** Tessler et al. train both players with DDPG (Action Robust DDPG, with a critic of the mixture);
    here both are PPO, as WR2L's comparison runs its baselines with PPO-style agents (appendix B), trained in
    alternating phases like RARL. In the adversary's view a step whose executed action was the agent's still counts
    as the adversary's sample: its policy gradient is unbiased but noisier as ``alpha`` shrinks.

    Which action is executed is drawn by the wrappers from the sub-envs' reset seeds (reproducible under ``seed``);
    ``info["adversary_acted"]`` and ``info["executed_action"]`` report it. Logged besides
    :class:`~robust_sb3.common.two_player.TwoPlayerPPO`'s keys: ``prmdp/adversary_fraction``, the fraction of the
    protagonist's steps since the last dump in which the adversary's action was executed.

    :param policy: the protagonist's policy (``"MlpPolicy"``, ...)
    :param env: a registered env id, a Gymnasium env or a function returning one (``None`` only inside ``load``)
    :param alpha: the probability that the adversary's action is executed, in [0, 1] (Tessler et al.: 0.1)
    :param adversary_policy: the adversary's policy
    :param n_envs: sub-envs per player's view
    :param env_kwargs: keyword arguments of ``gym.make`` when ``env`` is an id
    :param n_protagonist_updates: protagonist rollouts and updates per iteration (>= 1)
    :param n_adversary_updates: adversary rollouts and updates per iteration (>= 1)
    :param protagonist_kwargs: PPO arguments of the protagonist (default: SB3's PPO defaults, 2x64 tanh networks)
    :param adversary_kwargs: PPO arguments that replace the protagonist's ones for the adversary
    :param deterministic_opponent: the fixed player takes its mean action instead of sampling its policy
    :param stats_window_size: episodes over which the logged returns are averaged
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param seed: seed of the protagonist and its view; the adversary and its view use ``seed + n_envs``
    :param verbose: 0 silent, 1 the logger's table every ``log_interval`` iterations
    :param device: torch device of both players
    :param _init_setup_model: build the players at construction (``load`` passes False)
    """

    _log_prefix: ClassVar[str] = "prmdp"
    _identifying_attributes: ClassVar[tuple[str, ...]] = ("n_protagonist_updates", "n_adversary_updates", "alpha")

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: EnvSource | None,
        alpha: float = TESSLER2019_ALPHA,
        adversary_policy: str | type[ActorCriticPolicy] = "MlpPolicy",
        n_envs: int = 1,
        env_kwargs: dict[str, Any] | None = None,
        n_protagonist_updates: int = 1,
        n_adversary_updates: int = 1,
        protagonist_kwargs: dict[str, Any] | None = None,
        adversary_kwargs: dict[str, Any] | None = None,
        deterministic_opponent: bool = False,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        verbose: int = 0,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        # set before the parent makes the views, which mix the actions with it
        self.alpha = check_alpha(alpha, "PRMDP")
        self._adversary_acted: list[bool] = []
        super().__init__(
            policy,
            env,
            adversary_policy=adversary_policy,
            n_envs=n_envs,
            env_kwargs=env_kwargs,
            n_protagonist_updates=n_protagonist_updates,
            n_adversary_updates=n_adversary_updates,
            protagonist_kwargs=protagonist_kwargs,
            adversary_kwargs=adversary_kwargs,
            deterministic_opponent=deterministic_opponent,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            seed=seed,
            verbose=verbose,
            device=device,
            _init_setup_model=_init_setup_model,
        )

    def _adversary_action_space(self, env: gym.Env) -> spaces.Space:
        # the adversary replaces the agent's action, so it acts in the same space
        return env.action_space

    def _protagonist_view(self, env: gym.Env, adversary: Policy) -> gym.Env:
        return ProbabilisticActionRobust(env, adversary, self.alpha)

    def _adversary_view(self, env: gym.Env, protagonist: Policy) -> gym.Env:
        return ProbabilisticActionAdversary(env, protagonist, self.alpha)

    def _on_protagonist_step(self, infos: list[dict[str, Any]]) -> None:
        self._adversary_acted.extend(bool(info[ADVERSARY_ACTED]) for info in infos if ADVERSARY_ACTED in info)

    def _record_statistics(self) -> None:
        if self._adversary_acted:
            self.logger.record("prmdp/adversary_fraction", float(np.mean(self._adversary_acted)))
        self._adversary_acted = []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_adversary_acted"]
