"""SAC with the robust and soft-robust critic target: the RE-SVG and SRE-SVG agents of Mankowitz et al. (ICLR 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import polyak_update
from torch.nn import functional as F

from robust_sb3.common.buffers import next_state_batch
from robust_sb3.common.robust_critic import RobustCriticMixin
from robust_sb3.common.robust_target import robust_td_target
from robust_sb3.common.validation import check_entropy_coefficient, check_int, check_off_policy_arguments, signature_defaults

#: the arguments RobustSAC checks before SAC sees them (the defaults are SAC's, read from its signature)
_SAC_DEFAULTS = signature_defaults(
    SAC.__init__,
    ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma", "train_freq", "gradient_steps"),
)


class RobustSAC(RobustCriticMixin, SAC):
    """
    Soft actor-critic whose critic regresses on the robust (infimum over K models, Eq. 1) or soft-robust (mean)
    target: the robust entropy-regularised SVG(0) agents RE-SVG and SRE-SVG of the paper (section 4.2, appendix
    H.1), with SAC's reparameterised actor and entropy bonus as the entropy-regularised SVG. The target is the same
    function as :class:`~robust_sb3.mpo.MPO`'s (:func:`~robust_sb3.common.robust_target.robust_td_target`), with
    ``V(s'_k) = min_j Q_target_j(s'_k, a') - alpha log pi(a'|s'_k)``, ``a' ~ pi(.|s'_k)``: by default Eq. 1's
    ``r + min_k gamma (1 - d_k) V(s'_k)`` with the reward ``r`` of the transition the agent experienced.

    With ``robustness="none"`` it performs exactly SAC's update. Robust settings need the env wrapped in
    :class:`robust_envs.wrappers.PerturbedTransitions` and use :class:`~robust_sb3.common.buffers.PerturbedReplayBuffer`.

    :param policy: as for SAC
    :param env: the environment
    :param robustness: ``"none"``, ``"robust"`` or ``"soft"``
    :param model_weights: the soft-robust distribution over the K models (default uniform)
    :param reward_in_inf: ``False`` (default): Eq. 1, the experienced reward outside the infimum (the mean);
        ``True``: each model's own reward inside it, ``min_k (r_k + gamma (1 - d_k) V(s'_k))``. The two differ only
        where the models' rewards differ from the experienced one, i.e. for rewards that depend on the next state
        (the DeepMind control suite's); no effect with ``robustness="none"``
    :param kwargs: every other argument of :class:`stable_baselines3.SAC` (``n_steps`` > 1 is not supported with
        robust settings; gSDE is)
    """

    _identifying_attributes: ClassVar[tuple[str, ...]] = ("robustness", "n_models", "ent_coef")

    def __init__(
        self,
        policy: str | type,
        env: GymEnv | str,
        robustness: str = "none",
        model_weights: Sequence[float] | None = None,
        reward_in_inf: bool = False,
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        values = {**_SAC_DEFAULTS, **{key: kwargs[key] for key in _SAC_DEFAULTS if key in kwargs}}
        check_off_policy_arguments("RobustSAC", **values)
        if "target_update_interval" in kwargs:
            check_int("RobustSAC", "target_update_interval", kwargs["target_update_interval"], 1)
        if "n_steps" in kwargs:
            check_int("RobustSAC", "n_steps", kwargs["n_steps"], 1)
        if "ent_coef" in kwargs:
            check_entropy_coefficient("RobustSAC", "ent_coef", kwargs["ent_coef"])
        super().__init__(policy, env, _init_setup_model=False, **kwargs)
        # K from the env's PerturbedTransitions, and the K-next-state buffer for the robust settings
        self._init_robustness(robustness, model_weights, reward_in_inf)
        if self.n_models and self.n_steps > 1:
            raise ValueError(f"RobustSAC does not support n-step returns with robust targets, got n_steps={self.n_steps}")
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self._model_weights = None if self.model_weights is None else th.tensor(self.model_weights, device=self.device)

    def _entropy_coefficient(self, log_prob: th.Tensor, ent_coef_losses: list[float]) -> th.Tensor:
        """One step of SAC's automatic entropy tuning (when enabled). :return: the coefficient to use now."""
        if self.ent_coef_optimizer is None or self.log_ent_coef is None:
            return self.ent_coef_tensor
        coefficient = th.exp(self.log_ent_coef.detach())
        # The loss uses the detached log-probabilities so that only the coefficient moves.
        loss = -(self.log_ent_coef * (log_prob + self.target_entropy).detach()).mean()
        ent_coef_losses.append(loss.item())
        self.ent_coef_optimizer.zero_grad()
        loss.backward()
        self.ent_coef_optimizer.step()
        return coefficient

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        """SAC's update with the robust target; this re-implements ``SAC.train``, which has no hook for the target."""
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        self._update_learning_rate(optimizers)
        ent_coefs: list[float] = []
        ent_coef_losses: list[float] = []
        actor_losses: list[float] = []
        critic_losses: list[float] = []
        gaps: list[float] = []
        worst_counts = np.zeros(max(self.n_models, 1))
        for gradient_step in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discount = self.gamma if getattr(data, "discounts", None) is None else data.discounts
            if self.use_sde:
                self.actor.reset_noise()
            actions_pi, log_prob = self.actor.action_log_prob(data.observations)
            log_prob = log_prob.reshape(-1, 1)
            ent_coef = self._entropy_coefficient(log_prob, ent_coef_losses)
            ent_coefs.append(ent_coef.item())

            with th.no_grad():
                flat_next, rewards, terminated = next_state_batch(data, self.n_models, self.reward_in_inf)
                next_actions, next_log_prob = self.actor.action_log_prob(flat_next)
                next_q = th.cat(self.critic_target(flat_next, next_actions), dim=1).min(dim=1).values
                next_values = (next_q - ent_coef * next_log_prob.reshape(-1)).view(terminated.shape)
                if self.n_models:
                    target = robust_td_target(
                        rewards,
                        terminated,
                        next_values,
                        self.gamma,
                        self.robustness,
                        self._model_weights,
                        self.reward_in_inf,
                    )
                    target_q = target.target
                    gaps.append(target.gap.mean().item())
                    worst_counts += np.bincount(target.worst_model.cpu().numpy(), minlength=self.n_models)
                else:
                    # SB3's n-step buffers give a per-sample discount; one model, so no aggregation is needed.
                    target_q = rewards + (1 - terminated) * discount * next_values

            current_q = self.critic(data.observations, data.actions)
            critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current_q)
            critic_losses.append(critic_loss.item())  # type: ignore[union-attr]
            self.critic.optimizer.zero_grad()
            critic_loss.backward()  # type: ignore[union-attr]
            self.critic.optimizer.step()

            q_pi = th.cat(self.critic(data.observations, actions_pi), dim=1).min(dim=1, keepdim=True).values
            actor_loss = (ent_coef * log_prob - q_pi).mean()
            actor_losses.append(actor_loss.item())
            self.actor.optimizer.zero_grad()
            actor_loss.backward()
            self.actor.optimizer.step()

            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/ent_coef", np.mean(ent_coefs))
        self.logger.record("train/actor_loss", np.mean(actor_losses))
        self.logger.record("train/critic_loss", np.mean(critic_losses))
        if ent_coef_losses:
            self.logger.record("train/ent_coef_loss", np.mean(ent_coef_losses))
        if self.n_models:
            self.logger.record("robust/target_gap", float(np.mean(gaps)))
            for k, fraction in enumerate(worst_counts / max(worst_counts.sum(), 1.0)):
                self.logger.record(f"robust/worst_model_fraction_{k}", float(fraction))
            self.logger.record("robust/worst_model_mode", int(np.argmax(worst_counts)))

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_model_weights"]
