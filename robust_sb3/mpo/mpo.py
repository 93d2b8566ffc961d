"""MPO and its robust, soft-robust and entropy-regularised variants (Mankowitz et al., ICLR 2020)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, Schedule
from torch.nn import functional as F

from robust_sb3.common.buffers import next_state_batch
from robust_sb3.common.robust_critic import RobustCriticMixin
from robust_sb3.common.robust_target import diagonal_gaussian_kl, robust_td_target
from robust_sb3.common.validation import check_off_policy_arguments
from robust_sb3.mpo.improvement import estep_weights, mstep_losses, temperature_dual, weights_kl
from robust_sb3.mpo.policies import GaussianActor, MlpPolicy, MPOPolicy, MultiInputPolicy, QNetwork

SelfMPO = TypeVar("SelfMPO", bound="MPO")


def repeat_obs(obs: PyTorchObs, times: int) -> PyTorchObs:
    """:return: the batch stacked ``times`` times along the first axis (row ``m * B + i`` is row ``i``); dicts per key."""
    if isinstance(obs, dict):
        return {key: value.repeat(times, *([1] * (value.ndim - 1))) for key, value in obs.items()}
    return obs.repeat(times, *([1] * (obs.ndim - 1)))


class MPO(RobustCriticMixin, OffPolicyAlgorithm):
    """
    Maximum a-posteriori policy optimisation with the robust critics of Mankowitz et al., "Robust Reinforcement
    Learning for Continuous Control with Model Misspecification" (ICLR 2020). One class covers the paper's six agents:

    =====================  ===============  ====================================
    agent                  ``robustness``   ``entropy_regularized``
    =====================  ===============  ====================================
    MPO / E-MPO            ``"none"``       ``False`` / ``True``
    R-MPO / RE-MPO         ``"robust"``     ``False`` / ``True``
    SR-MPO / SRE-MPO       ``"soft"``       ``False`` / ``True``
    =====================  ===============  ====================================

    Every gradient step does (Algorithms 1-3):

    1. **Policy evaluation**: regress ``Q(s, a)`` on the TD target of Eq. 1, ``r + gamma inf_k V(s'_k)``: the
       experienced reward plus the discounted value of the next state under each of the K models of the
       uncertainty set, ``V(s'_k) = E_{a' ~ pi_k} Q_target(s'_k, a')``, aggregated by the infimum (robust) or the
       mean or a weighting (soft-robust); entropy-regularised, Eq. 4,
       ``V(s'_k) - tau KL(pi_k(.|s'_k) || pi_{k-1}(.|s'_k))`` with the previous policy as the reference.
       ``reward_in_inf=True`` puts each model's own reward inside the infimum instead
       (:func:`~robust_sb3.common.robust_target.robust_td_target`).
    2. **E-step**: ``n_action_samples`` actions per state from ``pi_k``, weighted by ``exp(Q / eta)`` with the
       temperature ``eta`` minimising the convex dual of the constraint ``KL(q || pi_k) < epsilon``.
    3. **M-step**: fit the Gaussian policy to the weighted actions, the mean and the covariance decoupled, each
       under a KL bound to ``pi_k`` (``epsilon_mean``, ``epsilon_std``) enforced by a Lagrange multiplier.

    ``pi_k`` is the target actor; every ``target_update_interval`` gradient steps it becomes the reference
    ``pi_{k-1}``, the online actor becomes ``pi_k`` and the critic is copied to its target.

    The K next states come from the env: wrap it in :class:`robust_envs.wrappers.PerturbedTransitions` (it
    puts them in ``info`` at every step; :class:`~robust_sb3.common.buffers.PerturbedReplayBuffer` stores them).
    The agent acts in the env it is given (the paper's nominal model); ``robustness="none"`` needs no wrapper.
    Domain-randomisation baselines (Limited-DR, Full-DR, section 4.2) are ``robustness="none"`` on an env
    wrapped in :class:`robust_envs.wrappers.DomainRandomization`.

    Defaults follow the paper's Table 2 (learning rate 3e-4, epsilon 0.1, eps_mu 0.01, eps_Sigma 1e-5, target
    update every 200 steps, elu, layer norm + tanh on the first layer, discount 0.99, 1e6 transitions) except
    where CPU training needs less: batch size 256 (paper 1024), networks 256-256 (paper 200-200-200 policy,
    500-500-500 Q; see :class:`~robust_sb3.mpo.policies.MPOPolicy`). 15 actions are sampled per state (Table 2).

    :param policy: ``"MlpPolicy"``, ``"MultiInputPolicy"`` or an :class:`MPOPolicy` subclass
    :param env: the environment (``PerturbedTransitions``-wrapped for ``"robust"`` and ``"soft"``)
    :param learning_rate: Adam learning rate of actor and critic (a schedule is accepted)
    :param buffer_size: replay buffer size
    :param learning_starts: env steps before learning starts
    :param batch_size: minibatch size
    :param gamma: discount factor
    :param train_freq: update every ``train_freq`` steps (or ``(n, "episode")``)
    :param gradient_steps: gradient steps per update (-1: as many as env steps collected)
    :param replay_buffer_class: replay buffer class (default: ``PerturbedReplayBuffer`` for robust settings)
    :param replay_buffer_kwargs: its keyword arguments
    :param robustness: ``"none"``, ``"robust"`` (infimum over the models, Eq. 1) or ``"soft"`` (weighted mean)
    :param model_weights: the soft-robust distribution over the K models (default uniform)
    :param reward_in_inf: ``False`` (default): Eq. 1's target, the reward of the transition the agent experienced
        outside the infimum (the mean), ``r + min_k gamma (1 - d_k) V(s'_k)``; ``True``: each model's own reward
        inside it, ``min_k (r_k + gamma (1 - d_k) V(s'_k))``. It matters for rewards that depend on the next state
        (the DeepMind control suite's), where the models' rewards differ; for rewards of ``(s, a)`` only the two
        agree, and for ``robustness="none"`` they are the same target
    :param entropy_regularized: use the entropy-regularised target of Eq. 4 (the E- agents)
    :param kl_temperature: ``tau`` of Eq. 4 (the paper does not give its value)
    :param n_action_samples: N, actions sampled per state in the E-step (Table 2: 15)
    :param n_target_action_samples: actions sampled per next state to estimate ``V(s'_k)`` (more: less noise in the
        infimum over models, at K times the cost of the E-step's sampling per extra action; SAC uses one)
    :param epsilon: E-step KL bound (Table 2: 0.1)
    :param epsilon_mean: M-step KL bound of the mean (Table 2: 0.01)
    :param epsilon_std: M-step KL bound of the covariance (Table 2: 1e-5)
    :param init_eta: initial temperature
    :param init_alpha_mean: initial Lagrange multiplier of the mean constraint
    :param init_alpha_std: initial Lagrange multiplier of the covariance constraint
    :param dual_learning_rate: Adam learning rate of the temperature and the multipliers (in log space)
    :param target_update_interval: gradient steps between target-network updates (Table 2: 200)
    :param stats_window_size: episodes averaged in the rollout logs
    :param tensorboard_log: tensorboard log folder
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ``activation_fn``, ``layer_norm``, ...)
    :param verbose: verbosity (0, 1, 2)
    :param seed: random seed
    :param device: torch device
    :param _init_setup_model: build the networks at construction
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy, "MultiInputPolicy": MultiInputPolicy}
    _identifying_attributes: ClassVar[tuple[str, ...]] = ("robustness", "n_models", "n_action_samples", "epsilon_mean")
    policy: MPOPolicy
    actor: GaussianActor
    actor_target: GaussianActor
    actor_reference: GaussianActor
    critic: QNetwork
    critic_target: QNetwork

    def __init__(
        self,
        policy: str | type[MPOPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        robustness: str = "none",
        model_weights: Sequence[float] | None = None,
        reward_in_inf: bool = False,
        entropy_regularized: bool = False,
        kl_temperature: float = 1.0,
        n_action_samples: int = 15,
        n_target_action_samples: int = 2,
        epsilon: float = 0.1,
        epsilon_mean: float = 0.01,
        epsilon_std: float = 1e-5,
        init_eta: float = 1.0,
        init_alpha_mean: float = 1.0,
        init_alpha_std: float = 10.0,
        dual_learning_rate: float = 1e-2,
        target_update_interval: int = 200,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        check_off_policy_arguments(
            "MPO",
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
        )
        super().__init__(
            policy,
            env,
            learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=1.0,  # hard target updates every target_update_interval steps (the paper's)
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            sde_support=False,
            support_multi_env=True,
            supported_action_spaces=(spaces.Box,),
        )
        # K from the env's PerturbedTransitions, and the K-next-state buffer for the robust settings
        self._init_robustness(robustness, model_weights, reward_in_inf)
        self.entropy_regularized = bool(entropy_regularized)
        for name, value in (
            ("kl_temperature", kl_temperature),
            ("epsilon", epsilon),
            ("epsilon_mean", epsilon_mean),
            ("epsilon_std", epsilon_std),
            ("init_eta", init_eta),
            ("init_alpha_mean", init_alpha_mean),
            ("init_alpha_std", init_alpha_std),
            ("dual_learning_rate", dual_learning_rate),
        ):
            if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"MPO: {name} must be a finite number >= 0, got {value!r}")
        for name, value in (("init_eta", init_eta), ("init_alpha_mean", init_alpha_mean), ("init_alpha_std", init_alpha_std)):
            if value <= 0:
                raise ValueError(f"MPO: {name} must be > 0 (it is optimised in log space), got {value!r}")
        for name, count in (
            ("n_action_samples", n_action_samples),
            ("n_target_action_samples", n_target_action_samples),
            ("target_update_interval", target_update_interval),
        ):
            if not (isinstance(count, int | np.integer) and not isinstance(count, bool) and count >= 1):
                raise ValueError(f"MPO: {name} must be an int >= 1, got {count!r}")
        self.kl_temperature = float(kl_temperature)
        self.n_action_samples = int(n_action_samples)
        self.n_target_action_samples = int(n_target_action_samples)
        self.epsilon = float(epsilon)
        self.epsilon_mean = float(epsilon_mean)
        self.epsilon_std = float(epsilon_std)
        self.init_eta = float(init_eta)
        self.init_alpha_mean = float(init_alpha_mean)
        self.init_alpha_std = float(init_alpha_std)
        self.dual_learning_rate = float(dual_learning_rate)
        self.target_update_interval = int(target_update_interval)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self._create_aliases()
        self._model_weights = None if self.model_weights is None else th.tensor(self.model_weights, device=self.device)
        # The temperature and the multipliers are optimised in log space, so they stay positive.
        self.log_eta = th.tensor(math.log(self.init_eta), device=self.device, requires_grad=True)
        self.log_alpha_mean = th.tensor(math.log(self.init_alpha_mean), device=self.device, requires_grad=True)
        self.log_alpha_std = th.tensor(math.log(self.init_alpha_std), device=self.device, requires_grad=True)
        self.dual_optimizer = th.optim.Adam(
            [self.log_eta, self.log_alpha_mean, self.log_alpha_std], lr=self.dual_learning_rate
        )

    def _create_aliases(self) -> None:
        self.actor = self.policy.actor
        self.actor_target = self.policy.actor_target
        self.actor_reference = self.policy.actor_reference
        self.critic = self.policy.critic
        self.critic_target = self.policy.critic_target

    # ---- training -------------------------------------------------------------------------------
    def train(self, gradient_steps: int, batch_size: int = 256) -> None:
        """Policy evaluation, E-step and M-step on ``gradient_steps`` minibatches; targets updated on schedule."""
        self.policy.set_training_mode(True)
        self._update_learning_rate([self.actor.optimizer, self.critic.optimizer])
        stats: dict[str, list[float]] = defaultdict(list)
        worst_counts = np.zeros(max(self.n_models, 1))
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            worst_counts += self._policy_evaluation(data, stats)
            self._policy_improvement(data.observations, stats)
            self._n_updates += 1
            if self._n_updates % self.target_update_interval == 0:
                self.policy.update_targets()
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in stats.items():
            self.logger.record(key, float(np.mean(values)))
        if self.n_models:
            fractions = worst_counts / max(worst_counts.sum(), 1.0)
            for k, fraction in enumerate(fractions):
                self.logger.record(f"robust/worst_model_fraction_{k}", float(fraction))
            self.logger.record("robust/worst_model_mode", int(np.argmax(worst_counts)))

    def next_state_values(self, next_observations: PyTorchObs) -> th.Tensor:
        """
        ``V(s') = E_{a' ~ pi_k} Q_target(s', a')`` from ``n_target_action_samples`` samples, minus
        ``kl_temperature * KL(pi_k(.|s') || pi_{k-1}(.|s'))`` when entropy-regularised (Eq. 4).

        :param next_observations: ``(R, *obs_shape)`` next observations
        :return: (R,) values
        """
        n_samples = self.n_target_action_samples
        mean, std = self.actor_target.distribution(next_observations)
        actions = (mean + std * th.randn((n_samples, *mean.shape), device=mean.device)).clamp(-1.0, 1.0)
        q_values = self.critic_target(repeat_obs(next_observations, n_samples), actions.reshape(-1, mean.shape[-1]))
        values = q_values.view(n_samples, -1).mean(dim=0)
        if self.entropy_regularized:
            reference_mean, reference_std = self.actor_reference.distribution(next_observations)
            values = values - self.kl_temperature * diagonal_gaussian_kl(mean, std, reference_mean, reference_std)
        return values

    def _policy_evaluation(self, data: Any, stats: dict[str, list[float]]) -> np.ndarray:
        """
        Step 1 (Eq. 1 / Eq. 4): one critic step; logs the mean of the target's ``gap`` (see
        :class:`~robust_sb3.common.robust_target.RobustTarget`) as ``robust/target_gap``.

        :return: counts of the worst model per index (``train`` logs them as ``robust/worst_model_fraction_k``)
        """
        with th.no_grad():
            flat_next, rewards, terminated = next_state_batch(data, self.n_models, self.reward_in_inf)
            values = self.next_state_values(flat_next).view(terminated.shape)
            target = robust_td_target(
                rewards, terminated, values, self.gamma, self.robustness, self._model_weights, self.reward_in_inf
            )
        q_values = self.critic(data.observations, data.actions)
        critic_loss = F.mse_loss(q_values, target.target)
        self.critic.optimizer.zero_grad()
        critic_loss.backward()
        self.critic.optimizer.step()
        stats["train/critic_loss"].append(critic_loss.item())
        stats["train/q_value"].append(q_values.mean().item())
        if not self.n_models:
            return np.zeros(1)
        stats["robust/target_gap"].append(target.gap.mean().item())
        return np.bincount(target.worst_model.cpu().numpy(), minlength=self.n_models)

    def _policy_improvement(self, observations: PyTorchObs, stats: dict[str, list[float]]) -> None:
        """Steps 2 and 3: E-step weights with the dual temperature, M-step with the decoupled KL constraints."""
        n_samples = self.n_action_samples
        with th.no_grad():
            target_mean, target_std = self.actor_target.distribution(observations)
            actions = target_mean + target_std * th.randn((n_samples, *target_mean.shape), device=target_mean.device)
            q_values = self.critic_target(
                repeat_obs(observations, n_samples), actions.clamp(-1.0, 1.0).reshape(-1, target_mean.shape[-1])
            ).view(n_samples, -1)
        eta = self.log_eta.exp()
        eta_loss = temperature_dual(q_values, eta, self.epsilon)
        weights = estep_weights(q_values, eta.detach())
        mean, std = self.actor.distribution(observations)
        m_step = mstep_losses(actions, weights, mean, std, target_mean, target_std)
        alpha_mean, alpha_std = self.log_alpha_mean.exp(), self.log_alpha_std.exp()
        actor_loss = (
            m_step.loss_mean + m_step.loss_std + alpha_mean.detach() * m_step.kl_mean + alpha_std.detach() * m_step.kl_std
        )
        alpha_loss = alpha_mean * (self.epsilon_mean - m_step.kl_mean.detach()) + alpha_std * (
            self.epsilon_std - m_step.kl_std.detach()
        )
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()
        self.dual_optimizer.zero_grad()
        (eta_loss + alpha_loss).backward()
        self.dual_optimizer.step()
        with th.no_grad():
            self.log_eta.clamp_(min=math.log(1e-8))
        stats["train/actor_loss"].append(actor_loss.item())
        stats["train/eta"].append(eta.item())
        stats["train/alpha_mean"].append(alpha_mean.item())
        stats["train/alpha_std"].append(alpha_std.item())
        stats["train/kl_mean"].append(m_step.kl_mean.item())
        stats["train/kl_std"].append(m_step.kl_std.item())
        stats["train/kl_estep"].append(weights_kl(weights).item())
        stats["train/policy_std"].append(std.mean().item())

    # ---- SB3 plumbing ---------------------------------------------------------------------------
    def learn(
        self: SelfMPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "MPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMPO:
        """Train for ``total_timesteps`` env steps (see ``OffPolicyAlgorithm.learn``)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "actor",
            "actor_target",
            "actor_reference",
            "critic",
            "critic_target",
            "_model_weights",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "actor.optimizer", "critic.optimizer", "dual_optimizer"], [
            "log_eta",
            "log_alpha_mean",
            "log_alpha_std",
        ]
