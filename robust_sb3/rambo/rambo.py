"""
RAMBO-RL: robust adversarial model-based offline RL (Rigter, Lacerda and Hawes, 2022), as an SB3 algorithm.

Problem 1 (Eq. 2-3): ``max_pi min_{T in M_D} V^pi_T``, the inner minimum over models close to the maximum-likelihood
model on the dataset. Algorithm 1 approximates the game by alternating agent and adversary updates:

1. pretrain a Gaussian ensemble by maximum likelihood (7 members, 5 elites; :mod:`robust_sb3.common.dynamics`),
   and (the official code's addition, on by default) warm-start the policy by behaviour cloning;
2. each epoch of ``epoch_length`` agent steps:

   - roll the current policy ``k`` steps in the model from dataset states, a random elite per row, into a FIFO pool
     (:mod:`~robust_sb3.rambo.rollouts`, :class:`~robust_sb3.rambo.buffers.MixedReplayBuffer`);
   - SAC updates on batches of a fraction ``f`` of real and ``1 - f`` of model transitions (SAC's own ``train``);
   - ``adversary_steps`` adversarial model updates minimising ``lambda * mean(A * log p) + MLE`` (Eq. 5-7;
     :mod:`~robust_sb3.rambo.adversary`). ``lambda = 0`` switches the adversary off: MBPO-style SAC on the MLE
     ensemble, the paper's ``(k, lambda) = (5, 0)`` configuration and the ablation.

Where this follows the official code rather than a literal reading: the ensemble predicts the state change in units
of each observation's standard deviation (``scale_state_targets``), as the official code trains on standardised
states, so its log-variance bounds (+1 / -6) mean the same here; the behaviour-cloning targets are clipped to +-0.999
(:data:`~robust_sb3.rambo.bc.BC_ACTION_LIMIT`; the official code skips batches with an action at the bound); a given
ensemble must carry the data's termination rule when that env has one.

Offline: the env gives the spaces (and is where the policy is evaluated); it is never stepped for training. SB3's
``learn`` loop runs on an offline clock (:meth:`RAMBO.collect_rollouts`): one "timestep" is one SAC gradient step,
so ``learn(total_timesteps=n_epochs * epoch_length)`` trains ``n_epochs`` epochs (the paper: 2000 x 1000).
"""

from __future__ import annotations

import io
import math
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_pkl
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, RolloutReturn, Schedule, TrainFreq, TrainFrequencyUnit
from stable_baselines3.common.utils import FloatSchedule, update_learning_rate
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from robust_sb3.common.base import CheckedLoadMixin
from robust_sb3.common.dynamics import FitResult, GaussianEnsemble, termination_fn
from robust_sb3.common.dynamics.losses import layer_weight_decays
from robust_sb3.common.validation import check_int, check_number, check_rate_or_schedule, check_train_freq
from robust_sb3.rambo.adversary import MLEBatch, adversarial_model_loss
from robust_sb3.rambo.bc import behaviour_cloning, behaviour_log_prob
from robust_sb3.rambo.buffers import MixedReplayBuffer
from robust_sb3.rambo.checkpoint import load_checkpoint, save_checkpoint
from robust_sb3.rambo.data import OfflineData, load_offline_data
from robust_sb3.rambo.policies import MlpPolicy, SACPolicy, standardizing_policy_kwargs
from robust_sb3.rambo.rollouts import ModelRollouts, rollout_model

SelfRAMBO = TypeVar("SelfRAMBO", bound="RAMBO")
OWNER = "RAMBO"

#: the ensemble of the official code (``rambo/models/bnn.py``): 7 members, 5 elites, 4 x 200 swish, learned
#: log-variance bounds starting at +1 / -6 (:class:`GaussianEnsemble`'s own defaults are MBPO's 0.5 / -10)
ENSEMBLE_DEFAULTS: dict[str, Any] = {
    "n_members": 7,
    "n_elites": 5,
    "hidden_sizes": (200, 200, 200, 200),
    "activation": "silu",
    "max_logvar_init": 1.0,
    "min_logvar_init": -6.0,
    # the official code standardises the dataset's states, so its bounds above hold per unit of each state's spread
    "scale_state_targets": True,
}
#: the MLE pretraining of the official code: Adam at 3e-4 (Table 2), batches of 256, a holdout of
#: min(10%, 1000) transitions, stop after more than 10 epochs without a 1% improvement, log-variance penalty 0.001
FIT_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "batch_size": 256,
    "holdout_ratio": 0.1,
    "max_holdout": 1000,
    "patience": 10,
    "logvar_penalty": 1e-3,
}

#: what :meth:`RAMBO.adversarial_update` logs (means over its steps): the loss, its two terms, the mixture
#: log-probability of the sampled transitions, the raw advantage and the share of sampled terminal next states
ADVERSARY_LOG_KEYS = (
    "rambo/adv_total_loss",
    "rambo/adv_loss",
    "rambo/mle_loss",
    "rambo/log_prob",
    "rambo/adv_mean_raw",
    "rambo/adv_terminated_fraction",
)


def _check_mapping(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{OWNER}: {name} must be a dict of keyword arguments, got {type(value).__name__} ({value!r:.80})")
    return dict(value)


class RAMBO(CheckedLoadMixin, SAC):
    """
    RAMBO-RL (Rigter et al., 2022, Algorithm 1): SAC on real and model data, against an adversarially trained model.

    Defaults are the paper's Table 2 and the official code's schedule (shared/WAVE2.md section 2.2); per-dataset
    ``(k, lambda)`` and a CPU-sized configuration are in :data:`~robust_sb3.rambo.presets.RAMBO_PRESETS`.

    :param policy: ``"MlpPolicy"`` or a SAC policy class (actor and critics of two layers of 256 units)
    :param env: the env (or its id) giving the spaces and where the policy is evaluated; never stepped for training.
        ``None``: made from the dataset's recorded env spec
    :param dataset: a Minari dataset id (loaded locally, never downloaded), a ``minari.MinariDataset``,
        :class:`robust_envs.datasets.Episodes`, or a dict of arrays ``observations``, ``actions``, ``rewards``,
        ``next_observations``, ``terminals`` (:mod:`~robust_sb3.rambo.data`)
    :param rollout_length: ``k``, the model rollout length (official: 5, or 2 on some datasets)
    :param adversarial_weight: ``lambda``, the weight of the adversarial term (Eq. 6; official: 3e-4 or 0).
        0 switches the adversary off (MBPO-style SAC on the MLE ensemble)
    :param real_ratio: ``f``, the fraction of real transitions in each SAC batch (Table 2: 0.5)
    :param rollout_batch_size: start states per model rollout (official: 50 000)
    :param rollout_freq: agent steps between model rollouts (official ``model_train_freq``: 1000, once per epoch)
    :param epoch_length: agent steps per epoch; an adversary phase follows each epoch (official: 1000)
    :param model_retain_epochs: epochs of rollouts the FIFO pool keeps (official: 5); the pool holds
        ``model_retain_epochs * ceil(epoch_length / rollout_freq) * rollout_batch_size * rollout_length`` transitions
    :param adversary_steps: adversarial model updates after each epoch (official: 1000, ``update_adv_ratio = 1``)
    :param adversary_batch_size: synthetic transitions per adversarial update (Table 2: 256)
    :param model_batch_size: real transitions per member for the MLE term of an adversarial update (Table 2: 256)
    :param adversarial_learning_rate: Adam's step size for the adversarial model updates (Table 2: 3e-4)
    :param include_entropy_in_advantage: subtract ``alpha log pi(a'|s')`` in ``V(s')`` (official default: off)
    :param pretrain_bc: warm-start the policy by behaviour cloning (the official code's default; not in the paper v1)
    :param bc_epochs: behaviour-cloning epochs (official: 50)
    :param bc_learning_rate: behaviour-cloning Adam step size (official: 1e-4)
    :param bc_batch_size: behaviour-cloning batch size (official: 256)
    :param normalize_observations: the networks read observations standardised with the dataset's mean and std
        (the paper's "Normalisation"; :mod:`~robust_sb3.rambo.policies`)
    :param ensemble: a dynamics ensemble to start from (copied, with its elites and sampling state; if already
        fitted, MLE pretraining is skipped, e.g. to share one MLE model between runs and seeds). ``None``: a new one
        from ``ensemble_kwargs``. Its actions are in the env's scale
    :param ensemble_kwargs: :class:`~robust_sb3.common.dynamics.GaussianEnsemble` arguments over
        :data:`ENSEMBLE_DEFAULTS`; by default the termination rule is the dataset's (or the env's) env id
    :param model_fit_kwargs: :meth:`GaussianEnsemble.fit` arguments over :data:`FIT_DEFAULTS`; ``weight_decay``
        and ``logvar_penalty`` also weight the MLE term of the adversarial updates
    :param learning_rate: the critics' learning rate (Table 2: 3e-4), a number or a schedule
    :param actor_learning_rate: the actor's and the entropy coefficient's learning rate (Table 2: 1e-4; the
        official code's temperature uses the policy's rate)
    :param batch_size: SAC's batch size (Table 2: 256)
    :param tau: the target networks' soft update (Table 2: 5e-3)
    :param gamma: the discount factor (Table 2: 0.99)
    :param learning_starts: agent steps before the first SAC update (offline: 0)
    :param train_freq: agent steps between calls of ``train`` (steps only: offline data has no episodes)
    :param gradient_steps: SAC updates per call of ``train``
    :param ent_coef: SAC's entropy coefficient (``"auto"``: learned with target ``target_entropy``)
    :param target_entropy: ``"auto"``: ``-dim(A)`` (Table 2)
    :param kwargs: SAC's other arguments (``target_update_interval``, ``use_sde``, ``policy_kwargs``, ``seed``,
        ``device``, ``verbose``, ``tensorboard_log``, ...); ``buffer_size`` is derived (see ``model_retain_epochs``)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy}
    _identifying_attributes: ClassVar[tuple[str, ...]] = ("rollout_length", "adversarial_weight", "real_ratio")
    policy: SACPolicy
    replay_buffer: MixedReplayBuffer

    def __init__(
        self,
        policy: str | type[SACPolicy],
        env: GymEnv | str | None,
        dataset: Any = None,
        rollout_length: int = 5,
        adversarial_weight: float = 3e-4,
        real_ratio: float = 0.5,
        rollout_batch_size: int = 50_000,
        rollout_freq: int = 1000,
        epoch_length: int = 1000,
        model_retain_epochs: int = 5,
        adversary_steps: int = 1000,
        adversary_batch_size: int = 256,
        model_batch_size: int = 256,
        adversarial_learning_rate: float = 3e-4,
        include_entropy_in_advantage: bool = False,
        pretrain_bc: bool = True,
        bc_epochs: int = 50,
        bc_learning_rate: float = 1e-4,
        bc_batch_size: int = 256,
        normalize_observations: bool = True,
        ensemble: GaussianEnsemble | None = None,
        ensemble_kwargs: Mapping[str, Any] | None = None,
        model_fit_kwargs: Mapping[str, Any] | None = None,
        learning_rate: float | Schedule = 3e-4,
        actor_learning_rate: float | Schedule = 1e-4,
        batch_size: int = 256,
        tau: float = 5e-3,
        gamma: float = 0.99,
        learning_starts: int = 0,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        ent_coef: str | float = "auto",
        target_entropy: str | float = "auto",
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        self.rollout_length = check_int(OWNER, "rollout_length (k)", rollout_length, 1)
        self.adversarial_weight = check_number(OWNER, "adversarial_weight (lambda)", adversarial_weight, 0.0)
        self.real_ratio = check_number(OWNER, "real_ratio (f)", real_ratio, 0.0, 1.0)
        self.rollout_batch_size = check_int(OWNER, "rollout_batch_size", rollout_batch_size, 1)
        self.rollout_freq = check_int(OWNER, "rollout_freq", rollout_freq, 1)
        self.epoch_length = check_int(OWNER, "epoch_length", epoch_length, 1)
        self.model_retain_epochs = check_int(OWNER, "model_retain_epochs", model_retain_epochs, 1)
        self.adversary_steps = check_int(OWNER, "adversary_steps", adversary_steps, 0)
        # the advantage is normalised over the batch, which needs two rows
        self.adversary_batch_size = check_int(OWNER, "adversary_batch_size", adversary_batch_size, 2)
        self.model_batch_size = check_int(OWNER, "model_batch_size", model_batch_size, 1)
        self.adversarial_learning_rate = check_number(
            OWNER, "adversarial_learning_rate", adversarial_learning_rate, 0.0, low_open=True
        )
        self.include_entropy_in_advantage = bool(include_entropy_in_advantage)
        self.pretrain_bc = bool(pretrain_bc)
        self.bc_epochs = check_int(OWNER, "bc_epochs", bc_epochs, 0)
        self.bc_learning_rate = check_number(OWNER, "bc_learning_rate", bc_learning_rate, 0.0, low_open=True)
        self.bc_batch_size = check_int(OWNER, "bc_batch_size", bc_batch_size, 1)
        self.normalize_observations = bool(normalize_observations)
        self.ensemble_kwargs = {**ENSEMBLE_DEFAULTS, **_check_mapping("ensemble_kwargs", ensemble_kwargs)}
        self.model_fit_kwargs = {**FIT_DEFAULTS, **_check_mapping("model_fit_kwargs", model_fit_kwargs)}
        check_rate_or_schedule(OWNER, "learning_rate", learning_rate)
        check_rate_or_schedule(OWNER, "actor_learning_rate", actor_learning_rate)
        self.actor_learning_rate = actor_learning_rate
        check_train_freq(OWNER, train_freq)
        if isinstance(train_freq, tuple) and getattr(train_freq[1], "value", train_freq[1]) == "episode":
            raise ValueError(f"{OWNER}: train_freq={train_freq!r} counts episodes, which offline data has none of; use steps")
        if "buffer_size" in kwargs:
            raise ValueError(
                f"{OWNER}: buffer_size={kwargs['buffer_size']!r} is derived (model_retain_epochs * ceil(epoch_length / "
                "rollout_freq) * rollout_batch_size * rollout_length); set those instead"
            )
        if ensemble is not None and not isinstance(ensemble, GaussianEnsemble):
            raise TypeError(f"{OWNER}: ensemble must be a GaussianEnsemble or None, got {type(ensemble).__name__}")

        self._offline: OfflineData | None = None
        self.dataset_id: str | None = None
        if dataset is not None:
            self._offline = load_offline_data(dataset)
            self.dataset_id = self._offline.dataset_id
        elif _init_setup_model:
            raise ValueError(
                f"{OWNER}: dataset is required: a Minari dataset id, a minari.MinariDataset, robust_envs.datasets.Episodes "
                "or a dict of arrays (observations, actions, rewards, next_observations, terminals)"
            )
        if env is None and self._offline is not None:
            if self._offline.env_spec is None:
                raise ValueError(f"{OWNER}: env=None needs a dataset that records its env (Minari or Episodes); pass env")
            env = gym.make(self._offline.env_spec)

        # the ensemble, the buffer's sampling and this class's draws (start states, batches) each get a stream
        ensemble_seed, buffer_seed, rng_seed = (int(s) for s in np.random.SeedSequence(kwargs.get("seed")).generate_state(3))
        self._buffer_seed = buffer_seed
        self._rng = np.random.default_rng(rng_seed)
        self.ensemble_kwargs.setdefault("seed", ensemble_seed)

        super().__init__(
            policy,
            env,  # type: ignore[arg-type]
            learning_rate=learning_rate,
            buffer_size=1,  # set below, once the spaces are known
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            ent_coef=ent_coef,
            target_entropy=target_entropy,
            _init_setup_model=False,
            **kwargs,
        )
        self.buffer_size = (
            self.model_retain_epochs
            * math.ceil(self.epoch_length / self.rollout_freq)
            * self.rollout_batch_size
            * self.rollout_length
            if self.real_ratio < 1.0
            else 1  # f = 1: SAC on real data only, no pool
        )
        self.ensemble: GaussianEnsemble | None = ensemble  # replaced by a copy in _setup_model
        self.fit_result: FitResult | None = None
        self.bc_losses: list[float] = []
        self._pending_records: dict[str, Any] = {}  # values recorded before learn() made the logger
        self._bc_done = False
        self._adversary_epochs = 0
        self._log_interval: int | None = None
        self._ensemble_generator_state: tuple[np.ndarray, str] | None = None
        if self.env is not None:
            self._check_env(self.env)
        if self._offline is not None:
            self._check_data(self._offline)
            if self.normalize_observations:
                if "features_extractor_class" in self.policy_kwargs:
                    raise ValueError(
                        f"{OWNER}: normalize_observations=True sets the features extractor; pass "
                        "normalize_observations=False to use policy_kwargs['features_extractor_class']"
                    )
                # a new dict: SB3 keeps the caller's policy_kwargs object, which must not change
                self.policy_kwargs = {**self.policy_kwargs, **standardizing_policy_kwargs(self._offline.observations)}
            if self.ensemble is None:
                self._resolve_termination(self._offline)
            else:
                self._check_given_termination(self._offline, self.ensemble)
        if _init_setup_model:
            self._setup_model()

    # ---------------------------------------------------------------- checks

    def _check_env(self, env: VecEnv) -> None:
        if env.num_envs != 1:
            raise ValueError(
                f"{OWNER}: the env is only for spaces and evaluation; pass one env, got a VecEnv of {env.num_envs}"
            )
        if isinstance(env, VecNormalize):
            raise ValueError(
                f"{OWNER}: VecNormalize is not supported offline; normalize_observations standardises with the dataset"
            )
        obs_space, action_space = self.observation_space, self.action_space
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"{OWNER}: needs a flat Box observation space, got {obs_space}")
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"{OWNER}: needs a flat Box action space, got {action_space}")

    def _check_data(self, data: OfflineData) -> None:
        obs_dim, action_dim = self.observation_space.shape[0], self.action_space.shape[0]  # type: ignore[index]
        if data.obs_dim != obs_dim or data.action_dim != action_dim:
            raise ValueError(
                f"{OWNER}: the dataset has observations of size {data.obs_dim} and actions of size {data.action_dim}, "
                f"but the env has {obs_dim} and {action_dim}; pass the env the data was collected in"
            )

    def _resolve_termination(self, data: OfflineData) -> None:
        """Default the ensemble's termination rule to the dataset's env (else the env's), checking that one exists."""
        if "env_id" in self.ensemble_kwargs:
            return
        spec = data.env_spec
        if spec is None and self.env is not None:
            spec = self.env.get_attr("spec")[0]
        if spec is None:
            raise ValueError(
                f"{OWNER}: neither the dataset nor the env records an env id, so model rollouts have no termination rule; "
                "pass ensemble_kwargs={'env_id': '<id>'} (or {'env_id': None} for a task that never terminates)"
            )
        try:
            termination_fn(spec.id, **spec.kwargs)
        except ValueError as error:
            raise ValueError(
                f"{OWNER}: model rollouts need the task's termination rule on observations: {error} Pass "
                "ensemble_kwargs={'env_id': None} if the task never terminates"
            ) from error
        self.ensemble_kwargs.update(env_id=spec.id, env_kwargs=dict(spec.kwargs))

    def _check_given_termination(self, data: OfflineData, ensemble: GaussianEnsemble) -> None:
        """A given ensemble without a termination rule, for data of an env that has one, would roll out past falls."""
        if ensemble.termination is not None:
            return
        spec = data.env_spec
        if spec is None and self.env is not None:
            spec = self.env.get_attr("spec")[0]
        if spec is None:
            return  # nothing says which env the data come from: the ensemble's own setting stands
        try:
            rule = termination_fn(spec.id, **spec.kwargs)
        except ValueError:
            return  # the env has no observation-based rule: never terminated is what the ensemble can do
        if rule.never_terminates:
            return
        raise ValueError(
            f"{OWNER}: the given ensemble has no termination rule (env_id=None), but the data come from {spec.id!r}, "
            f"whose episodes end by a rule on observations: model rollouts would run on past a fall. Build it with "
            f"GaussianEnsemble.for_env(env, ...) or GaussianEnsemble(..., env_id={spec.id!r})"
        )

    # ---------------------------------------------------------------- model setup

    def _setup_model(self) -> None:
        if self.replay_buffer_class is None:
            self.replay_buffer_class = MixedReplayBuffer
        elif not issubclass(self.replay_buffer_class, MixedReplayBuffer):
            raise ValueError(f"{OWNER}: replay_buffer_class must subclass MixedReplayBuffer, got {self.replay_buffer_class}")
        self.replay_buffer_kwargs = {**self.replay_buffer_kwargs, "real_ratio": self.real_ratio, "seed": self._buffer_seed}
        super()._setup_model()
        self.actor_lr_schedule = FloatSchedule(self.actor_learning_rate)
        for optimizer in self._actor_side_optimizers():
            update_learning_rate(optimizer, self.actor_lr_schedule(1.0))

        obs_dim, action_dim = self.observation_space.shape[0], self.action_space.shape[0]  # type: ignore[index]
        if self.ensemble is None:
            self.ensemble = GaussianEnsemble(obs_dim, action_dim, **self.ensemble_kwargs, device=self.device)
        else:  # a given ensemble: rebuilt on this device from its public state, so the caller's is never changed
            given = self.ensemble
            if (given.obs_dim, given.action_dim) != (obs_dim, action_dim):
                raise ValueError(
                    f"{OWNER}: the ensemble is for observations of size {given.obs_dim} and actions of size "
                    f"{given.action_dim}, the env has {obs_dim} and {action_dim}"
                )
            # the sizes are this model's own arguments (a load rebuilds from ensemble_kwargs with them)
            self.ensemble_kwargs = {
                name: value for name, value in given.constructor_parameters.items() if name not in ("obs_dim", "action_dim")
            }
            self.ensemble = GaussianEnsemble(obs_dim, action_dim, **self.ensemble_kwargs, device=self.device)
            self.ensemble.load_state_dict(given.state_dict())
            if given.device.type == self.device.type:
                self.ensemble.generator.set_state(given.generator.get_state())
        if not self.ensemble.predict_reward:
            raise ValueError(f"{OWNER}: the ensemble must predict rewards (T(s', r | s, a)); use predict_reward=True")
        if self._ensemble_generator_state is not None:
            state, device_type = self._ensemble_generator_state
            if device_type == self.device.type:  # CPU and CUDA generators keep different states
                self.ensemble.generator.set_state(th.as_tensor(state, dtype=th.uint8))
        self.model_optimizer = th.optim.Adam(self.ensemble.network.parameters(), lr=self.adversarial_learning_rate)
        self._model_decays = layer_weight_decays(len(self.ensemble.network.layers), self.model_fit_kwargs.get("weight_decay"))
        if self._offline is not None:
            self._load_real_data(self._offline)

    def _load_real_data(self, data: OfflineData) -> None:
        """Put the dataset on the device: SAC's layout in the buffer, the ensemble's (raw actions, targets) here."""
        scaled = np.clip(self.policy.scale_action(data.actions), -1.0, 1.0)
        self.replay_buffer.set_real_data(data.observations, scaled, data.rewards, data.next_observations, data.terminals)

        def tensor(x: np.ndarray) -> th.Tensor:
            return th.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

        self._model_data = MLEBatch(
            tensor(data.observations),
            tensor(data.actions),
            tensor(np.concatenate((data.next_observations - data.observations, data.rewards[:, None]), axis=1)),
        )

    def set_dataset(self, dataset: Any) -> None:
        """
        Give a loaded model its dataset to continue training (a saved model keeps the dataset's Minari id, if any,
        and reloads it by itself; an in-memory dataset is not saved). The observation standardisation keeps the
        statistics the model was built with.

        :param dataset: as the constructor's ``dataset``
        """
        data = load_offline_data(dataset)
        self._check_data(data)
        self._offline, self.dataset_id = data, data.dataset_id
        self._load_real_data(data)

    def _require_data(self) -> OfflineData:
        if self._offline is None:
            if self.dataset_id is None:
                raise ValueError(
                    f"{OWNER}.learn: no dataset: this model was loaded from a file and trained on an in-memory dataset; "
                    "call model.set_dataset(dataset) first"
                )
            self.set_dataset(self.dataset_id)
        assert self._offline is not None
        return self._offline

    def _record(self, key: str, value: Any) -> None:
        """
        Log to SB3's logger, which exists once ``learn`` has started. The public steps (:meth:`pretrain` and its
        parts) may run before that: their values wait in :attr:`_pending_records` and go to the logger with the
        first record made during ``learn``.
        """
        if not hasattr(self, "_logger"):
            self._pending_records[key] = value
            return
        if self._pending_records:
            for pending_key, pending_value in self._pending_records.items():
                if pending_key != key:
                    self.logger.record(pending_key, pending_value)
            self._pending_records = {}
        self.logger.record(key, value)

    # ---------------------------------------------------------------- pretraining (Algorithm 1, line 1)

    def pretrain_dynamics(self) -> FitResult:
        """
        Fit the ensemble by maximum likelihood on the dataset (holdout, early stopping, elites; ``model_fit_kwargs``).

        :return: the record of the fit (also in :attr:`fit_result`)
        """
        data = self._require_data()
        assert self.ensemble is not None
        self.fit_result = self.ensemble.fit(
            data.observations, data.actions, data.rewards, data.next_observations, **self.model_fit_kwargs
        )
        self._record("rambo/model_fit_epochs", self.fit_result.epochs)
        self._record("rambo/model_holdout_mse", float(np.mean(self.fit_result.holdout_mse[self.fit_result.elites])))
        return self.fit_result

    def pretrain_policy(self) -> list[float]:
        """
        Behaviour-cloning warm start of the actor (``bc_epochs`` epochs of ``-log pi(a|s)``; :mod:`~robust_sb3.rambo.bc`).

        :return: each epoch's mean loss (also in :attr:`bc_losses`)
        """
        self._require_data()
        real = self.replay_buffer.real
        assert real is not None
        self.bc_losses = behaviour_cloning(
            self.actor, real.observations, real.actions, self.bc_epochs, self.bc_learning_rate, self.bc_batch_size, self._rng
        )
        self._bc_done = True
        if self.bc_losses:
            self._record("rambo/bc_loss", self.bc_losses[-1])
        return self.bc_losses

    def pretrain(self) -> None:
        """What :meth:`learn` runs first, each part once: MLE fit (unless the ensemble is fitted) and behaviour cloning."""
        assert self.ensemble is not None
        if not bool(self.ensemble.input_normalizer.fitted):
            self.pretrain_dynamics()
        if self.pretrain_bc and not self._bc_done:
            self.pretrain_policy()

    # ---------------------------------------------------------------- model rollouts (Algorithm 1, line 3)

    def _policy_actions(self, observations: np.ndarray) -> np.ndarray:
        """The current stochastic policy's actions, scaled to [-1, 1]."""
        with th.no_grad():
            obs = th.as_tensor(np.asarray(observations, dtype=np.float32), device=self.device)
            return self.actor(obs, deterministic=False).cpu().numpy()

    def _model_step(self, observations: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.ensemble is not None
        prediction = self.ensemble.predict(observations, self.policy.unscale_action(actions))
        assert prediction.rewards is not None
        return prediction.next_observations, prediction.rewards, prediction.terminated

    def generate_rollouts(self) -> ModelRollouts:
        """
        Roll the current policy ``rollout_length`` steps in the model from ``rollout_batch_size`` dataset states (a
        random elite per row, branches stop at terminals) and push the transitions into the FIFO pool.

        :return: the rollouts
        """
        data = self._require_data()
        starts = data.observations[self._rng.integers(0, len(data), size=self.rollout_batch_size)]
        self.policy.set_training_mode(False)
        rollouts = rollout_model(self._model_step, self._policy_actions, starts, self.rollout_length)
        self.replay_buffer.extend(
            rollouts.observations, rollouts.actions, rollouts.rewards, rollouts.next_observations, rollouts.terminated
        )
        self._record("rambo/rollout_length_mean", float(rollouts.lengths.mean()))
        self._record("rambo/rollout_reward_mean", float(rollouts.rewards.mean()) if len(rollouts) else float("nan"))
        self._record("rambo/rollout_nonfinite", rollouts.n_nonfinite)
        self._record("rambo/model_pool_size", self.replay_buffer.n_model)
        return rollouts

    # ---------------------------------------------------------------- adversarial model update (Eq. 5-7)

    def _min_q(self, observations: th.Tensor, actions: th.Tensor) -> th.Tensor:
        return th.cat(self.critic(observations, actions), dim=1).min(dim=1).values

    def _next_value(self, next_observations: th.Tensor) -> th.Tensor:
        """``V(s') = min_j Q_j(s', pi_det(s'))`` (minus ``alpha log pi`` with ``include_entropy_in_advantage``)."""
        next_actions = self.actor(next_observations, deterministic=True)
        value = self._min_q(next_observations, next_actions)
        if self.include_entropy_in_advantage:
            alpha = th.exp(self.log_ent_coef.detach()) if self.ent_coef_optimizer is not None else self.ent_coef_tensor
            value = value - alpha * behaviour_log_prob(self.actor, next_observations, next_actions)
        return value

    def _mle_batch(self) -> MLEBatch:
        """Real transitions for the MLE term: independent indices per member (the official ``get_labeled_batch``)."""
        assert self.ensemble is not None
        n = self._model_data.observations.shape[0]
        index = th.as_tensor(
            self._rng.integers(0, n, size=(self.ensemble.n_members, self.model_batch_size)), device=self.device
        )
        return MLEBatch(*(x[index] for x in self._model_data))

    def adversarial_update(self, n_steps: int) -> None:
        """
        ``n_steps`` adversarial model updates (Eq. 7), each on ``adversary_batch_size`` synthetic transitions.

        As the official code: start states are fresh dataset states every ``rollout_length`` steps and the previous
        step's sampled next states in between (terminal ones included), actions are the stochastic policy's, and
        the loss ``lambda * mean(A * log p) + MLE`` updates all members with a separate Adam optimiser.

        :param n_steps: the number of updates
        """
        data = self._require_data()
        assert self.ensemble is not None and self.replay_buffer.real is not None
        self.policy.set_training_mode(False)
        self.ensemble.train()
        real_obs = self.replay_buffer.real.observations
        low = th.as_tensor(self.action_space.low, dtype=th.float32, device=self.device)  # type: ignore[attr-defined]
        high = th.as_tensor(self.action_space.high, dtype=th.float32, device=self.device)  # type: ignore[attr-defined]
        # summed on the device, read once at the end: no host sync per step on a GPU
        sums = th.zeros(len(ADVERSARY_LOG_KEYS), device=self.device)
        observations = real_obs[:0]
        for step in range(n_steps):
            if step % self.rollout_length == 0:
                starts = self._rng.integers(0, len(data), size=self.adversary_batch_size)
                observations = real_obs[th.as_tensor(starts, device=self.device)]
            with th.no_grad():
                actions = self.actor(observations, deterministic=False)
                q_values = self._min_q(observations, actions)
                env_actions = low + 0.5 * (actions + 1.0) * (high - low)
            loss = adversarial_model_loss(
                self.ensemble,
                observations,
                env_actions,
                self._next_value,
                q_values,
                self.adversarial_weight,
                self.gamma,
                self._mle_batch(),
                self._model_decays,
                self.model_fit_kwargs["logvar_penalty"],
                self.ensemble.termination,
            )
            self.model_optimizer.zero_grad()
            loss.total.backward()
            self.model_optimizer.step()
            observations = loss.sample.next_observations
            parts = (loss.total, loss.adversarial, loss.mle, loss.log_prob.mean(), loss.advantages.mean())
            sums += th.stack([*parts, loss.terminated.float().mean()]).detach()
        self.ensemble.eval()
        if n_steps:
            for key, value in zip(ADVERSARY_LOG_KEYS, (sums / n_steps).tolist(), strict=True):
                self._record(key, value)

    # ---------------------------------------------------------------- SB3 hooks

    def _actor_side_optimizers(self) -> list[th.optim.Optimizer]:
        """The optimisers on the actor's learning rate: the actor's and the entropy coefficient's."""
        return [self.actor.optimizer] + ([self.ent_coef_optimizer] if self.ent_coef_optimizer is not None else [])

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """SAC sets one rate on every optimiser; RAMBO's actor and temperature follow ``actor_learning_rate`` (Table 2)."""
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        actor_side = self._actor_side_optimizers()
        super()._update_learning_rate([o for o in optimizers if not any(o is a for a in actor_side)])
        rate = self.actor_lr_schedule(self._current_progress_remaining)
        self.logger.record("train/actor_learning_rate", rate)
        for optimizer in optimizers:
            if any(optimizer is a for a in actor_side):
                update_learning_rate(optimizer, rate)

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        """SB3's setup, then the pretraining (once) and a first rollout when resuming with an empty pool."""
        total_timesteps, callback = super()._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        self._require_data()
        self.pretrain()
        if reset_num_timesteps:
            self._adversary_epochs = 0
        # else the saved count stands: before learning_starts no adversary phase has run yet, and the first train()
        # catches up on every epoch it missed, so the count can lag num_timesteps // epoch_length
        if self.real_ratio < 1.0 and self.replay_buffer.n_model == 0 and self.num_timesteps % self.rollout_freq != 0:
            self.generate_rollouts()
        return total_timesteps, callback

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        train_freq: TrainFreq,
        replay_buffer: ReplayBuffer,
        action_noise: ActionNoise | None = None,
        learning_starts: int = 0,
        log_interval: int | None = None,
    ) -> RolloutReturn:
        """
        The offline clock, replacing ``OffPolicyAlgorithm.collect_rollouts`` (SB3 has no hook for a learn loop that does
        not step its env): advance ``num_timesteps`` by ``train_freq`` agent steps, calling the callbacks at each, and
        run the model rollouts when due (every ``rollout_freq`` steps). ``env`` is not stepped.

        :return: the steps advanced, no episodes
        """
        assert train_freq.unit == TrainFrequencyUnit.STEP
        self.policy.set_training_mode(False)
        self._log_interval = log_interval
        callback.on_rollout_start()
        # what SB3's loop leaves in the callbacks' locals, for callbacks that read them (no episode ever ends)
        dones, infos = np.zeros(env.num_envs, dtype=bool), [{} for _ in range(env.num_envs)]
        for step in range(train_freq.frequency):
            if self.real_ratio < 1.0 and self.num_timesteps % self.rollout_freq == 0:
                self.generate_rollouts()
            self.num_timesteps += 1
            callback.update_locals({"dones": dones, "infos": infos, "step": step})
            if not callback.on_step():
                return RolloutReturn(step + 1, 0, continue_training=False)
            self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
            self._on_step()
        callback.on_rollout_end()
        return RolloutReturn(train_freq.frequency, 0, continue_training=True)

    def train(self, gradient_steps: int, batch_size: int = 256) -> None:
        """SAC's update on mixed real/model batches, then the adversary phase of every epoch just completed."""
        super().train(gradient_steps, batch_size)
        while self._adversary_epochs < self.num_timesteps // self.epoch_length:
            if self.adversarial_weight > 0:  # lambda = 0: the adversary is off (the official _train_adversarial)
                self.adversarial_update(self.adversary_steps)
            self._adversary_epochs += 1
            self.logger.record("rambo/epoch", self._adversary_epochs)
            interval = self._log_interval or 1
            if self._adversary_epochs % interval == 0:
                self.dump_logs()

    def learn(
        self: SelfRAMBO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "RAMBO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRAMBO:
        """
        SB3's ``learn`` on the offline clock: ``total_timesteps`` SAC gradient steps (``n_epochs * epoch_length``),
        preceded by the pretraining the first time.

        :param total_timesteps: agent steps to train for
        :param callback: SB3 callbacks (called once per agent step; ``EvalCallback`` evaluates in its own env)
        :param log_interval: write the logs every ``log_interval`` epochs (SB3 counts episodes; offline has none)
        :param tb_log_name: the TensorBoard run name
        :param reset_num_timesteps: restart the step count (and hence the epoch schedule) at 0
        :param progress_bar: show a progress bar over the agent steps
        :return: the trained model
        """
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    # ---------------------------------------------------------------- persistence

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """
        SB3's ``save``: policy, critics, optimisers, the ensemble (weights, input scaler, elites, log-variance
        bounds) and its optimiser, and the ensemble's sampling generator, so that a loaded model samples on.
        Not the dataset: a Minari id is reloaded by ``learn``; an in-memory one is given again with :meth:`set_dataset`.

        :param path: where to save (``.zip`` appended when missing)
        :param exclude: attributes not to save
        :param include: attributes to save although excluded by default
        """
        assert self.ensemble is not None
        # the generator is not in the ensemble's state_dict; pickled with the other attributes
        self._ensemble_generator_state = (self.ensemble.generator.get_state().cpu().numpy(), self.device.type)
        super().save(path, exclude=exclude, include=include)

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase, truncate_last_traj: bool = True) -> None:
        """
        SB3's ``load_replay_buffer`` for the model pool (a ``MixedReplayBuffer``, checked before the model changes),
        then the dataset put back beside it (a saved pool holds the model transitions only).

        :param path: the pickled pool (``save_replay_buffer``)
        :param truncate_last_traj: SB3's argument (no effect: the pool has no episodes)
        """
        loaded = load_from_pkl(path, self.verbose)
        if not isinstance(loaded, MixedReplayBuffer):  # checked before anything changes: a rejected call changes nothing
            raise ValueError(f"{OWNER}: {path} holds a {type(loaded).__name__}, not RAMBO's MixedReplayBuffer")
        self.replay_buffer = loaded
        self.replay_buffer.device = self.device  # as SB3's load_replay_buffer does (its GH#1561)
        if self._offline is not None:
            self._load_real_data(self._offline)

    def save_checkpoint(self, path: str | pathlib.Path, metadata: dict[str, Any] | None = None) -> pathlib.Path:
        """
        Save what ``learn`` needs to continue this run bit for bit (:func:`~robust_sb3.rambo.checkpoint.save_checkpoint`:
        the model, its pool, the global random states) into the folder ``path``.

        :param path: the checkpoint folder (replaced)
        :param metadata: JSON-serialisable values kept with the checkpoint
            (:func:`~robust_sb3.rambo.checkpoint.checkpoint_metadata`)
        :return: the folder
        """
        return save_checkpoint(self, path, metadata)

    @classmethod
    def load_checkpoint(
        cls: type[SelfRAMBO], path: str | pathlib.Path, env: GymEnv | None = None, dataset: Any = None, **kwargs: Any
    ) -> SelfRAMBO:
        """
        A model from :meth:`save_checkpoint`, ready to continue with ``learn(total - model.num_timesteps,
        reset_num_timesteps=False)``; sets torch's, numpy's and Python's global random states back to the
        checkpoint's (:func:`~robust_sb3.rambo.checkpoint.load_checkpoint`).

        :param path: the checkpoint folder
        :param env: as for :meth:`load`
        :param dataset: the dataset of an in-memory run (a Minari id reloads itself)
        :param kwargs: further arguments of :meth:`load`
        :return: the model
        """
        return load_checkpoint(cls, path, env=env, dataset=dataset, **kwargs)  # type: ignore[return-value]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_offline", "_model_data", "actor_lr_schedule"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        return [*state_dicts, "ensemble", "model_optimizer"], variables


__all__ = ["ENSEMBLE_DEFAULTS", "FIT_DEFAULTS", "RAMBO"]
