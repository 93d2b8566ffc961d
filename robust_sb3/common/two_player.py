"""
Two PPO players trained in alternation on two views of one env: the machinery RARL and PRMDP share.

The loop is Algorithm 1 of Pinto et al. (2017, "Robust Adversarial Reinforcement Learning", ICML): every iteration
rolls out and updates the protagonist ``N_mu`` times with the adversary fixed, then rolls out and updates the
adversary ``N_nu`` times with the protagonist fixed. A subclass says only how the adversary acts: it builds each
player's view of an env, in which the other (fixed) player acts on the same observation.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common import utils
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from robust_envs.evaluation.policies import Policy, as_policy
from robust_sb3.common.base import CheckedLoadMixin
from robust_sb3.common.env_source import EnvSource, check_env_kwargs, close_made, make_envs
from robust_sb3.common.two_player_plumbing import AdversaryLogger, ProtagonistRollout
from robust_sb3.common.validation import PPO_CHECKED, check_int, check_ppo_arguments, signature_defaults

SelfTwoPlayerPPO = TypeVar("SelfTwoPlayerPPO", bound="TwoPlayerPPO")

#: Networks of both players unless ``policy_kwargs`` says otherwise: two hidden layers of 64 tanh units for the
#: policy and the value function, as WR2L's appendix (B.1) gives for its PPO baselines (and SB3's PPO default).
DEFAULT_POLICY_KWARGS: dict[str, Any] = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": th.nn.Tanh}

#: PPO's constructor arguments (what ``protagonist_kwargs`` / ``adversary_kwargs`` may hold, except the ones below).
_PPO_ARGUMENTS = frozenset(inspect.signature(PPO.__init__).parameters) - {"self"}
#: PPO arguments the trainer sets itself for both players.
_SET_BY_TRAINER = ("policy", "env", "seed", "device", "verbose", "tensorboard_log", "stats_window_size", "_init_setup_model")
_PPO_DEFAULTS = signature_defaults(PPO.__init__, PPO_CHECKED)


class TwoPlayerPPO(CheckedLoadMixin, BaseAlgorithm):
    """
    A protagonist and an adversary, both SB3 PPO, trained in alternation (Pinto et al. 2017, Algorithm 1).

    **Algorithm.** Each iteration: ``n_protagonist_updates`` times, collect one PPO rollout (``n_steps`` steps per
    sub-env) in the protagonist's view, where the adversary is fixed, and run PPO's update on it; then
    ``n_adversary_updates`` times the same for the adversary in its view, where the protagonist is fixed and the
    reward is negated (zero-sum). Both players observe the env's observation. The fixed player acts through its
    current policy (the view holds the model by reference, so every update is used at once), sampling from it
    (``deterministic_opponent=False``, as Algorithm 1's roll-outs do) or taking its mean action.

    **Envs.** ``env`` is a registered id (made with ``env_kwargs``), a Gymnasium env, or a function returning a new
    env. The trainer makes ``2 * n_envs`` envs from it, ``n_envs`` for each player's view, so each player continues
    its own episodes across phases; a Gymnasium env serves as the protagonist's first sub-env and deep copies of it
    as the others. The views are wrapped in SB3's ``Monitor`` and a ``DummyVecEnv`` (the fixed player must run in
    the process that trains it). :meth:`get_env` is the protagonist's view; :attr:`adversary_env` the adversary's.

    **Counting.** ``total_timesteps`` in :meth:`learn` and :attr:`num_timesteps` count the protagonist's env steps
    (callbacks and the progress bar follow them); the adversary takes as many again per iteration with the default
    settings, counted in :attr:`adversary_timesteps`. ``learn`` runs whole iterations, so, as PPO overshoots to a
    whole rollout, it stops at the end of the iteration in which the protagonist reached ``total_timesteps``.
    Both players' learning-rate and clip-range schedules follow the protagonist's progress through that budget.

    **Hyperparameters.** Both players are SB3's :class:`~stable_baselines3.PPO` with its defaults (learning rate
    3e-4, 2048 steps per rollout, minibatch 64, 10 epochs, gamma 0.99, GAE lambda 0.95, clip 0.2: the constants of
    Schulman et al. 2017 for MuJoCo that WR2L's appendix B.1 refers to) and 2x64 tanh networks
    (:data:`DEFAULT_POLICY_KWARGS`), unless ``protagonist_kwargs`` says otherwise. ``adversary_kwargs`` updates the
    protagonist's arguments for the adversary (by default both players use the same settings, as Pinto et al.'s
    TRPO players did).

    **Logging.** The protagonist's PPO logs SB3's usual keys (``train/...``, ``rollout/ep_rew_mean``, ``time/...``;
    ``time/iterations`` counts Algorithm 1's iterations). Under ``<prefix>/`` (``rarl/``, ``prmdp/``):
    ``adversary/<key>`` for each ``train/<key>`` of the adversary's PPO, ``adversary_ep_rew_mean`` (the adversary's
    return, the negated protagonist's return in its view), ``adversary_timesteps`` and what the subclass adds.

    **Saving.** ``save`` writes both players (parameters and optimizers) and the settings; ``load(path, env=...)``
    restores them exactly, builds the views from ``env`` (given as to the constructor) when one is passed, and
    refuses another algorithm's file with a ``ValueError``.

    :param policy: the protagonist's policy (``"MlpPolicy"``, ``"MultiInputPolicy"`` or an ``ActorCriticPolicy`` class;
        image observations are not supported: the views are not transposed for ``CnnPolicy``)
    :param env: a registered env id, a Gymnasium env or a function returning one (``None`` only inside ``load``)
    :param adversary_policy: the adversary's policy, as ``policy``
    :param n_envs: sub-envs per player's view
    :param env_kwargs: keyword arguments of ``gym.make`` when ``env`` is an id
    :param n_protagonist_updates: ``N_mu``, protagonist rollouts and updates per iteration (>= 1)
    :param n_adversary_updates: ``N_nu``, adversary rollouts and updates per iteration (>= 1)
    :param protagonist_kwargs: arguments of :class:`~stable_baselines3.PPO` for the protagonist (``n_steps``,
        ``batch_size``, ``learning_rate``, ``policy_kwargs``, ...; not the ones the trainer sets: ``env``, ``seed``,
        ``device``, ``verbose``, ``tensorboard_log``, ``stats_window_size``)
    :param adversary_kwargs: arguments that replace the protagonist's ones for the adversary
    :param deterministic_opponent: the fixed player takes its mean action instead of sampling its policy
    :param stats_window_size: episodes over which the logged returns are averaged
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param seed: seed of the protagonist (and its view, sub-env ``i`` with ``seed + i``); the adversary and its view
        use ``seed + n_envs``, so no two sub-envs share a seed. As for SB3's algorithms, torch's and numpy's
        generators are global: the seed fixes a run that is built and trained without other models in between
    :param verbose: 0 silent, 1 the logger's table every ``log_interval`` iterations
    :param device: torch device of both players
    :param _init_setup_model: build the players at construction (``load`` passes False)
    """

    policy_aliases: ClassVar[dict[str, type[Any]]] = PPO.policy_aliases
    #: prefix of the trainer's own logger keys
    _log_prefix: ClassVar[str] = "two_player"

    protagonist: PPO
    adversary: PPO

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: EnvSource | None,
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
        owner = type(self).__name__
        # every argument is checked before anything is made, so a refused construction leaves nothing behind
        self._check_policy(policy, "policy")
        self._check_policy(adversary_policy, "adversary_policy")
        n_envs = check_int(owner, "n_envs", n_envs, 1)
        n_protagonist_updates = check_int(owner, "n_protagonist_updates", n_protagonist_updates, 1)
        n_adversary_updates = check_int(owner, "n_adversary_updates", n_adversary_updates, 1)
        if not isinstance(deterministic_opponent, bool | np.bool_):
            raise TypeError(f"{owner}: deterministic_opponent must be a bool, got {deterministic_opponent!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
            raise ValueError(f"{owner}: seed must be None or an int >= 0, got {seed!r}")
        protagonist_kwargs = self._check_player_kwargs("protagonist_kwargs", protagonist_kwargs, n_envs)
        adversary_kwargs = self._check_player_kwargs("adversary_kwargs", adversary_kwargs, n_envs, protagonist_kwargs)
        env_kwargs = check_env_kwargs(owner, env, env_kwargs)
        if env is None and _init_setup_model:
            raise ValueError(
                f"{owner} needs an env (a registered id, a Gymnasium env or a function making one); env=None is only "
                f"for {owner}.load"
            )
        super().__init__(
            policy=policy,
            env=None,  # the players' views are built below, from ``env``, once the players exist
            learning_rate=protagonist_kwargs.get("learning_rate", _PPO_DEFAULTS["learning_rate"]),
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=None if seed is None else int(seed),
        )
        self.adversary_policy = adversary_policy
        self.n_envs = n_envs
        self.env_kwargs = env_kwargs
        self.n_protagonist_updates = n_protagonist_updates
        self.n_adversary_updates = n_adversary_updates
        self.protagonist_kwargs = protagonist_kwargs
        self.adversary_kwargs = adversary_kwargs
        self.deterministic_opponent = bool(deterministic_opponent)
        #: the adversary's env steps (the protagonist's are :attr:`num_timesteps`)
        self.adversary_timesteps = 0
        self._n_iterations = 0
        self.adversary_env: VecEnv | None = None
        self._base_envs: list[gym.Env] | None = None
        self._adversary_callback: BaseCallback | None = None
        if env is not None:
            envs = self._make_base_envs(env)
            self.observation_space = envs[0].observation_space
            self.action_space = envs[0].action_space
            #: the adversary's action space (what its view takes as actions)
            self.adversary_action_space = self._adversary_action_space(envs[0])
            self._base_envs = envs
        if _init_setup_model:
            self._setup_model()

    # ---- what a subclass supplies ---------------------------------------------------------------------
    def _prepare_env(self, env: gym.Env) -> gym.Env:
        """
        :param env: one env as made from ``env``
        :return: the env both views wrap (e.g. with the adversary's input); raise a ``ValueError`` if it cannot serve
        """
        return env

    def _adversary_action_space(self, env: gym.Env) -> spaces.Space:
        """:return: the adversary's action space in ``env`` (as :meth:`_prepare_env` returned it)."""
        raise NotImplementedError

    def _protagonist_view(self, env: gym.Env, adversary: Policy) -> gym.Env:
        """:return: ``env`` as the protagonist sees it, with ``adversary`` (``obs -> action``) acting in it."""
        raise NotImplementedError

    def _adversary_view(self, env: gym.Env, protagonist: Policy) -> gym.Env:
        """:return: ``env`` as the adversary sees it (reward negated), with ``protagonist`` acting in it."""
        raise NotImplementedError

    def _on_protagonist_step(self, infos: list[dict[str, Any]]) -> None:
        """Look at the ``infos`` of one protagonist step (for the subclass's logged statistics)."""

    def _record_statistics(self) -> None:
        """Record the subclass's statistics under ``<prefix>/`` before each dump, and start them anew."""

    # ---- argument checks ------------------------------------------------------------------------------
    def _check_policy(self, policy: Any, name: str) -> None:
        if isinstance(policy, str):
            if policy not in self.policy_aliases:
                raise ValueError(
                    f"{type(self).__name__}: {name} {policy!r} is not one of PPO's policies {sorted(self.policy_aliases)}; "
                    "pass one of those names or an ActorCriticPolicy subclass"
                )
        elif not (isinstance(policy, type) and issubclass(policy, ActorCriticPolicy)):
            raise TypeError(
                f"{type(self).__name__}: {name} must be a policy name {sorted(self.policy_aliases)} or an ActorCriticPolicy "
                f"subclass, got {policy!r}"
            )

    def _check_player_kwargs(self, name: str, kwargs: Any, n_envs: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """:return: a copy of the PPO arguments ``kwargs`` (``None``: none), checked as PPO would and more clearly."""
        owner = type(self).__name__
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise TypeError(f"{owner}: {name} must be a dict of PPO arguments or None, got {kwargs!r}")
        reserved = sorted(key for key in kwargs if key in _SET_BY_TRAINER)
        if reserved:
            raise ValueError(
                f"{owner}: {name} may not set {reserved}: {owner} sets them for both players (pass seed, device, verbose, "
                f"tensorboard_log and stats_window_size to {owner} itself)"
            )
        unknown = sorted(key for key in kwargs if key not in _PPO_ARGUMENTS)
        if unknown:
            raise ValueError(f"{owner}: {name} has {unknown}, which are not PPO arguments; allowed: {sorted(_PPO_ARGUMENTS)}")
        merged = {**(base or {}), **kwargs}
        check_ppo_arguments(f"{owner} {name}", merged, _PPO_DEFAULTS)
        values = {**_PPO_DEFAULTS, **merged}
        if values["normalize_advantage"] and values["n_steps"] * n_envs < 2:
            raise ValueError(
                f"{owner}: {name} gives rollouts of n_steps * n_envs = {values['n_steps']} * {n_envs} = "
                f"{values['n_steps'] * n_envs} transition; PPO normalises advantages over a rollout, which needs 2 or more"
            )
        return copy.deepcopy(kwargs)

    # ---- envs ---------------------------------------------------------------------------------------------
    def _make_base_envs(self, env: Any) -> list[gym.Env]:
        """:return: the ``2 * n_envs`` envs the views wrap (the protagonist's first), prepared by :meth:`_prepare_env`."""
        return make_envs(type(self).__name__, env, self.env_kwargs, 2 * self.n_envs, self._prepare_env)

    def _check_spaces(self, env: gym.Env) -> None:
        """:raises ValueError: ``env``'s spaces are not the model's (a model loaded from a file, given a new env)."""
        expected = (
            ("observation", self.observation_space, env.observation_space),
            ("action", self.action_space, env.action_space),
            ("adversary's action", self.adversary_action_space, self._adversary_action_space(env)),
        )
        for what, mine, its in expected:
            if mine != its:
                raise ValueError(
                    f"{type(self).__name__}: the env's {what} space {its} is not the model's {mine}; pass an env like the "
                    "one the model was trained on"
                )

    @property
    def _adversary_seed(self) -> int | None:
        return None if self.seed is None else self.seed + self.n_envs

    def _attach_views(self) -> None:
        """Wrap the base envs into the two players' views, each holding the other player's current model."""
        assert self._base_envs is not None
        n = self.n_envs
        # the views hold the models themselves (as_policy keeps a reference), so every update of a player is
        # used by the other's view at once: no reference needs renewing between phases
        adversary = as_policy(self.adversary, deterministic=self.deterministic_opponent)
        protagonist = as_policy(self.protagonist, deterministic=self.deterministic_opponent)
        protagonist_views = [Monitor(self._protagonist_view(env, adversary)) for env in self._base_envs[:n]]
        adversary_views = [Monitor(self._adversary_view(env, protagonist)) for env in self._base_envs[n:]]
        protagonist_env = DummyVecEnv([_returns(view) for view in protagonist_views])
        adversary_env = DummyVecEnv([_returns(view) for view in adversary_views])
        if self.seed is not None:
            protagonist_env.seed(self.seed)
            adversary_env.seed(self._adversary_seed)
        self.protagonist.set_env(protagonist_env)
        self.adversary.set_env(adversary_env)
        self.env = protagonist_env
        self.adversary_env = adversary_env

    def set_env(self, env: EnvSource, force_reset: bool = True) -> None:
        """
        Train on new envs made from ``env`` (given as to the constructor), with the model's settings (``n_envs``,
        ``env_kwargs`` and the subclass's, such as RARL's ``disturbance_kwargs``).

        Both players start new episodes at the next ``learn``. A refused env changes nothing.

        :param env: a registered id (made with the model's ``env_kwargs``), a Gymnasium env or a function returning one
        :param force_reset: kept for SB3's signature; the players always reset their new views
        :raises ValueError: the env cannot serve (no adversary input, spaces other than the model's, ...)
        """
        envs = self._make_base_envs(env)
        try:
            self._check_spaces(envs[0])
        except ValueError:
            close_made(envs, env)
            raise
        self._base_envs = envs
        self._attach_views()

    # ---- model ------------------------------------------------------------------------------------------
    def _player_kwargs(self, adversary: bool) -> dict[str, Any]:
        kwargs = copy.deepcopy({**self.protagonist_kwargs, **(self.adversary_kwargs if adversary else {})})
        kwargs["policy_kwargs"] = {**copy.deepcopy(DEFAULT_POLICY_KWARGS), **(kwargs.get("policy_kwargs") or {})}
        return kwargs

    def _make_player(self, adversary: bool) -> PPO:
        """A player's PPO, built for the model's spaces without an env (its view needs the other player first)."""
        policy = self.adversary_policy if adversary else self.policy_class
        player = PPO(
            policy,
            env=None,
            seed=self._adversary_seed if adversary else self.seed,
            device=self.device,
            stats_window_size=self._stats_window_size,
            _init_setup_model=False,
            **self._player_kwargs(adversary),
        )
        player.observation_space = self.observation_space
        player.action_space = self.adversary_action_space if adversary else self.action_space
        player.n_envs = self.n_envs
        player._setup_model()
        return player

    def _setup_model(self) -> None:
        self.protagonist = self._make_player(adversary=False)
        self.adversary = self._make_player(adversary=True)
        # the step counts live in the players' PPO loops; a loaded model continues from its saved counts
        self.protagonist.num_timesteps = self.num_timesteps
        self.adversary.num_timesteps = self.adversary_timesteps
        #: the protagonist's policy: what ``predict`` and the saved ``policy`` are
        self.policy = self.protagonist.policy
        if self._base_envs is not None:
            self._attach_views()

    def set_random_seed(self, seed: int | None = None) -> None:
        """
        Seed the random generators (python, numpy, torch), the protagonist's view with ``seed`` and the adversary's
        view with ``seed + n_envs``.

        :param seed: the seed (``None``: nothing is done, as in SB3)
        """
        super().set_random_seed(seed)
        if seed is not None and self.adversary_env is not None:
            self.adversary_env.seed(seed + self.n_envs)

    def _excluded_save_params(self) -> list[str]:
        # the players' networks and optimizers are saved as state dicts (_get_torch_save_params); their
        # settings are this model's attributes, so they are rebuilt exactly by _setup_model
        return [
            *super()._excluded_save_params(),
            "protagonist",
            "adversary",
            "adversary_env",
            "_base_envs",
            "_adversary_callback",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer", "adversary.policy", "adversary.policy.optimizer"], []

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfTwoPlayerPPO],
        path: Any,
        env: EnvSource | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfTwoPlayerPPO:
        """
        Load both players; with ``env``, build their views from it (as :meth:`set_env` does).

        :param path: the file saved by ``save`` (``.zip`` may be omitted) or a binary file object
        :param env: what the constructor takes as ``env`` (``None``: enough for ``predict``)
        :param device: torch device
        :param custom_objects: objects replacing saved ones, as in SB3
        :param print_system_info: print the saved and current system info
        :param force_reset: reset the envs before training (the players always do with a new env)
        :param kwargs: attributes to change on the loaded model
        :return: the model
        :raises FileNotFoundError: no such file
        :raises ValueError: a truncated or corrupt file, another algorithm's file, or an env the model cannot run on
        """
        model = super().load(
            path,
            env=None,  # SB3 would wrap ``env`` in a VecEnv; the two views are built from it below instead
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )
        if env is not None:
            model.set_env(env, force_reset=force_reset)
        return model

    # ---- training ---------------------------------------------------------------------------------------
    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        """
        ``BaseAlgorithm._setup_learn``'s bookkeeping for the trainer (counters, logger, callback), then each player's
        own set-up; copied rather than called because the parent would reset the protagonist's view, which the
        protagonist's set-up resets.
        """
        self.start_time = time.time_ns()
        budget = total_timesteps
        if reset_num_timesteps:
            self.num_timesteps = 0
            self.adversary_timesteps = 0
            self._n_iterations = 0
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self._num_timesteps_at_start = self.num_timesteps
        if not self._custom_logger:
            self._logger = utils.configure_logger(self.verbose, self.tensorboard_log, tb_log_name, reset_num_timesteps)
        self.protagonist.set_logger(self._logger)
        self.adversary.set_logger(AdversaryLogger(self._logger, f"{self._log_prefix}/adversary/"))
        self.protagonist._setup_learn(budget, None, reset_num_timesteps)
        _, self._adversary_callback = self.adversary._setup_learn(budget, None, reset_num_timesteps)
        # the trainer's episode statistics are the protagonist's (SB3 tools read model.ep_info_buffer)
        self.ep_info_buffer = self.protagonist.ep_info_buffer
        self.ep_success_buffer = self.protagonist.ep_success_buffer
        return total_timesteps, self._init_callback(callback, progress_bar)

    def _before_protagonist_step(self, locals_: dict[str, Any]) -> None:
        self.num_timesteps = self.protagonist.num_timesteps
        self._on_protagonist_step(locals_["infos"])

    def _update(self, player: PPO, callback: BaseCallback) -> bool:
        """One rollout and one PPO update of ``player`` in its view; False when the callback stops training."""
        assert player.env is not None
        if not player.collect_rollouts(player.env, callback, player.rollout_buffer, n_rollout_steps=player.n_steps):
            return False
        # as in OnPolicyAlgorithm.learn, after the rollout; both players follow the protagonist's progress
        player._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
        player.train()
        return True

    def _iteration(self, protagonist_callback: BaseCallback) -> bool:
        """One iteration of Algorithm 1; False when the callback stops training."""
        assert self._adversary_callback is not None
        for _ in range(self.n_protagonist_updates):
            if not self._update(self.protagonist, protagonist_callback):
                return False
        for _ in range(self.n_adversary_updates):
            if not self._update(self.adversary, self._adversary_callback):
                return False
            self.adversary_timesteps = self.adversary.num_timesteps
        return True

    def learn(
        self: SelfTwoPlayerPPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTwoPlayerPPO:
        """
        Train both players in alternation until the protagonist has taken ``total_timesteps`` env steps.

        :param total_timesteps: the protagonist's env steps (whole iterations are run; see the class docstring)
        :param callback: callback(s) called at every protagonist step (``on_rollout_start``/``end`` around each of
            its rollouts), with this model as ``callback.model``
        :param log_interval: iterations between two dumps of the logger
        :param tb_log_name: the run's name for tensorboard (default: the class name)
        :param reset_num_timesteps: start the step counts (and both players' episodes) anew
        :param progress_bar: show a progress bar of the protagonist's steps (tqdm and rich)
        :return: this model
        :raises ValueError: the model has no env (loaded without one: pass ``env=`` to ``load`` or call ``set_env``)
        """
        if self.env is None:
            raise ValueError(
                f"{type(self).__name__} has no env to learn on: pass env= to {type(self).__name__}.load or call set_env(env)"
            )
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name or type(self).__name__, progress_bar
        )
        callback.on_training_start(locals(), globals())
        protagonist_callback = ProtagonistRollout(callback, self._before_protagonist_step)
        protagonist_callback.init_callback(self)
        while self.num_timesteps < total_timesteps:
            if not self._iteration(protagonist_callback):
                break
            self._n_iterations += 1
            if log_interval is not None and log_interval > 0 and self._n_iterations % log_interval == 0:
                self.dump_logs()
        callback.on_training_end()
        return self

    def dump_logs(self) -> None:
        """Record the trainer's statistics and the adversary's returns, then the protagonist's PPO dumps the logger."""
        prefix = self._log_prefix
        buffer = self.adversary.ep_info_buffer
        if buffer:
            self.logger.record(f"{prefix}/adversary_ep_rew_mean", safe_mean([info["r"] for info in buffer]))
        self.logger.record(f"{prefix}/adversary_timesteps", self.adversary_timesteps)
        self._record_statistics()
        self.protagonist.dump_logs(self._n_iterations)


def _returns(env: gym.Env) -> Callable[[], gym.Env]:
    """:return: a function returning ``env`` (DummyVecEnv takes env functions)."""
    return lambda: env
