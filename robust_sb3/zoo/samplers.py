"""
Optuna search spaces for ``python -m robust_sb3.zoo train -optimize``: one sampler (and converter, for
``--trial-id``) per trainer, registered in rl-zoo3's ``HYPERPARAMS_SAMPLER`` / ``HYPERPARAMS_CONVERTER``.

A sampler has rl-zoo3's signature ``(trial, n_actions, n_envs, additional_args) -> hyperparameters``; a converter
turns a finished trial's ``params`` back into the same hyperparameters. The trainers on SB3's PPO, TRPO and SAC reuse
rl-zoo3's own spaces; MRPO and EPOpt leave ``n_steps`` at its default (the time limit: one full episode per sampled
environment, Jiang et al.'s L = 1); the two-player trainers put PPO's space into ``protagonist_kwargs`` (replacing
the file's, for both players); MPO and RRL have spaces of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: rl-zoo3's sampler signature: ``(trial, n_actions, n_envs, additional_args) -> hyperparameters``
Sampler = Callable[[Any, int, int, dict[str, Any]], dict[str, Any]]
#: rl-zoo3's converter signature: ``trial.params -> hyperparameters``
Converter = Callable[[dict[str, Any]], dict[str, Any]]

#: MPO's network sizes (``policy_kwargs["net_arch"]``)
MPO_NET_ARCH = {"small": [64, 64], "medium": [256, 256]}


def convert_mpo_params(params: dict[str, Any]) -> dict[str, Any]:
    """
    :param params: a trial's parameters from :func:`sample_mpo_params`
    :return: MPO's constructor arguments
    """
    hyperparams = dict(params)
    hyperparams["gamma"] = 1 - hyperparams.pop("one_minus_gamma")
    hyperparams["batch_size"] = 2 ** hyperparams.pop("batch_size_pow")
    hyperparams["policy_kwargs"] = {"net_arch": MPO_NET_ARCH[hyperparams.pop("net_arch")]}
    return hyperparams


def sample_mpo_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    MPO's space: discount, learning rate, batch size, the E-step and M-step KL bounds, the target period, networks.

    :param trial: the Optuna trial
    :param n_actions: the action dimension (unused)
    :param n_envs: the number of sub-envs (unused)
    :param additional_args: rl-zoo3's extra arguments (unused)
    :return: MPO's constructor arguments
    """
    return convert_mpo_params(
        {
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 1e-4, 0.03, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
            "batch_size_pow": trial.suggest_int("batch_size_pow", 5, 9),
            "epsilon": trial.suggest_float("epsilon", 0.01, 0.5, log=True),
            "epsilon_mean": trial.suggest_float("epsilon_mean", 1e-3, 0.1, log=True),
            "target_update_interval": trial.suggest_categorical("target_update_interval", [50, 100, 200, 500]),
            "net_arch": trial.suggest_categorical("net_arch", list(MPO_NET_ARCH)),
        }
    )


def sample_sampled_envs_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    rl-zoo3's PPO space without ``n_steps``, which stays at the sub-envs' time limit (MRPO, EPOpt).

    :param trial: the Optuna trial
    :param n_actions: the action dimension (unused)
    :param n_envs: the number of sub-envs (unused)
    :param additional_args: rl-zoo3's extra arguments (unused)
    :return: PPO's constructor arguments
    """
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    return convert_onpolicy_params(
        {
            "batch_size_pow": trial.suggest_int("batch_size_pow", 5, 10),
            "one_minus_gamma": trial.suggest_float("one_minus_gamma", 1e-4, 0.03, log=True),
            "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 1e-4, 0.1, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
            "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
            "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4]),
            "n_epochs": trial.suggest_categorical("n_epochs", [1, 5, 10, 20]),
            "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 2),
            "net_arch": trial.suggest_categorical("net_arch", ["tiny", "small", "medium"]),
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
        }
    )


def sample_two_player_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    rl-zoo3's PPO space as ``protagonist_kwargs`` (RARL, PRMDP; the adversary takes the same unless
    ``adversary_kwargs`` says otherwise).

    :param trial: the Optuna trial
    :param n_actions: the action dimension
    :param n_envs: the number of sub-envs
    :param additional_args: rl-zoo3's extra arguments
    :return: ``{"protagonist_kwargs": PPO's constructor arguments}``
    """
    from rl_zoo3.hyperparams_opt import sample_ppo_params

    return {"protagonist_kwargs": sample_ppo_params(trial, n_actions, n_envs, additional_args)}


def convert_two_player_params(params: dict[str, Any]) -> dict[str, Any]:
    """
    :param params: a trial's parameters from :func:`sample_two_player_params`
    :return: ``{"protagonist_kwargs": PPO's constructor arguments}``
    """
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    return {"protagonist_kwargs": convert_onpolicy_params(params)}


def sample_rrl_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    RRL's space: the value's time constant ``tau``, the traces' ``kappa`` and the critic's learning rate.

    :param trial: the Optuna trial
    :param n_actions: the action dimension (unused)
    :param n_envs: the number of sub-envs (unused)
    :param additional_args: rl-zoo3's extra arguments (unused)
    :return: RRL's constructor arguments
    """
    return {
        "tau": trial.suggest_float("tau", 0.1, 10.0, log=True),
        "kappa": trial.suggest_float("kappa", 0.0, 1.0),
        "critic_lr": trial.suggest_float("critic_lr", 0.01, 10.0, log=True),
    }


def _identity(params: dict[str, Any]) -> dict[str, Any]:
    return dict(params)


def samplers() -> dict[str, tuple[Sampler, Converter]]:
    """
    :return: sampler and converter by the sampler name of :attr:`robust_sb3.zoo.algorithms.ZooAlgorithm.sampler`
        (rl-zoo3's own are imported now)
    """
    from rl_zoo3.hyperparams_opt import (
        convert_offpolicy_params,
        convert_onpolicy_params,
        sample_ppo_params,
        sample_sac_params,
        sample_trpo_params,
    )

    return {
        "mpo": (sample_mpo_params, convert_mpo_params),
        "sac": (sample_sac_params, convert_offpolicy_params),
        "ppo": (sample_ppo_params, convert_onpolicy_params),
        "trpo": (sample_trpo_params, convert_onpolicy_params),
        "sampled_envs": (sample_sampled_envs_params, convert_onpolicy_params),
        "two_player": (sample_two_player_params, convert_two_player_params),
        "rrl": (sample_rrl_params, _identity),
    }
