"""PPO-DR as a recipe: SB3's PPO on a VecEnv whose sub-envs draw new parameters at every reset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DomainRandomization
from robust_sb3.common.sampled_envs import resolve_uncertainty_set


def make_domain_randomized_env(
    env_id: str,
    uncertainty_set: UncertaintySet | str,
    n_envs: int = 1,
    seed: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    vec_env_cls: type[VecEnv] | None = None,
) -> VecEnv:
    """
    The training env of PPO-DR (the DR baseline of Jiang et al. 2021, section 4): uniform domain randomisation.

    Each sub-env is ``Monitor(gym.make(env_id))`` wrapped in :class:`robust_envs.wrappers.DomainRandomization`,
    so every episode (SB3's auto-resets included) runs with a setting drawn from ``uncertainty_set``; sub-env
    ``i`` draws from a generator seeded with ``seed + i``. PPO-DR is then plain SB3 PPO::

        env = make_domain_randomized_env("RobustHopper-v0", "jiang2021/hopper/train", n_envs=8, seed=0)
        model = PPO("MlpPolicy", env, seed=0).learn(1_000_000)

    :param env_id: a robust env id
    :param uncertainty_set: the training set (an :class:`UncertaintySet` or a preset name)
    :param n_envs: number of sub-envs
    :param seed: seed of the sub-envs (and of their parameter draws)
    :param env_kwargs: keyword arguments of ``gym.make`` (``params`` sets the values the set does not name)
    :param vec_env_cls: ``DummyVecEnv`` (default) or ``SubprocVecEnv``
    :return: the VecEnv
    """
    resolved = resolve_uncertainty_set(uncertainty_set)
    if resolved is None:
        raise ValueError("make_domain_randomized_env needs an uncertainty_set (an UncertaintySet or a preset name)")
    if resolved.env_id != env_id:
        raise ValueError(
            f"Uncertainty set {resolved.name or resolved.describe()!r} belongs to {resolved.env_id}, " f"not {env_id}"
        )
    return make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=dict(env_kwargs or {}),
        wrapper_class=DomainRandomization,
        wrapper_kwargs={"uncertainty_set": resolved},
        vec_env_cls=vec_env_cls,
    )
