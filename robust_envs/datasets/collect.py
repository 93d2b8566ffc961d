"""
Running a policy in a robust env to collect complete episodes: :func:`collect`, :func:`reference_return`.

The env runs under fixed parameters (``params``, recorded in its ``EnvSpec``) or under domain randomisation over an
uncertainty set (``preset``: :class:`~robust_envs.wrappers.DomainRandomization`, also in the spec), so the dataset's
env spec re-creates exactly the env the data came from. Episode ``i`` is reset with :func:`episode_seed` of the
collection's seed (recorded with the episode), which makes a collection deterministic under a seed whenever the
policy is (:class:`UniformRandomPolicy` is, given its seed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_envs.datasets.episodes import Episodes
from robust_envs.datasets.recorder import EpisodeRecorder
from robust_envs.evaluation.policies import as_policy
from robust_envs.registration import ENVS, env_class
from robust_envs.uncertainty import UncertaintySet


class UniformRandomPolicy:
    """
    Uniform random actions from a seeded copy of the action space (D4RL's ``random`` level: ``action_space.sample()``).

    :param action_space: the env's action space (``Box``: uniform in its bounds; ``Discrete``: uniform over the actions)
    :param seed: the seed of its generator
    """

    def __init__(self, action_space: spaces.Space, seed: int = 0) -> None:
        self.action_space = copy.deepcopy(action_space)
        self.action_space.seed(int(seed))

    def __call__(self, observation: Any) -> Any:
        """:return: a uniform random action (the observation is not used)."""
        return self.action_space.sample()


def check_seed(seed: Any) -> int:
    """
    :param seed: a collection's seed
    :return: it as an int
    :raises ValueError: not an integer >= 0
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def episode_seed(seed: int, index: int) -> int:
    """
    The reset seed of episode ``index`` of a collection seeded with ``seed``.

    Drawn from ``numpy.random.SeedSequence(seed, spawn_key=(index,))``, so the episodes of collections with
    neighbouring seeds do not overlap (as ``seed + index`` would make them).

    :param seed: the collection's seed (>= 0)
    :param index: the episode's index (>= 0)
    :return: a seed for ``env.reset`` in ``[0, 2**32)``
    """
    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint32)[0])


def check_env_id(env_id: Any) -> str:
    """
    :param env_id: an env id that should be a registered robust env with parameters (one of ``robust_envs.ENVS``)
    :return: it
    :raises ValueError: an unknown id, with the closest match and the robust ids
    """
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a robust env id string such as 'RobustHopper-v0', got {env_id!r}")
    if env_id not in {entry.env_id for entry in ENVS}:
        env_class(env_id)  # raises the ValueError naming the id, the closest match and the registered ids
    return env_id


def make_env(
    env_id: str,
    params: Any = None,
    preset: str | UncertaintySet | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> gym.Env:
    """
    Make the env a dataset is collected in.

    :param env_id: a robust env id (one of ``robust_envs.ENVS``)
    :param params: fixed parameters (a partial ``{name: value}`` mapping or a full vector), passed to ``gym.make``
    :param preset: an uncertainty set of this env (or its preset name) to draw each episode's parameters from
    :param env_kwargs: other ``gym.make`` keyword arguments (``keep_mass``, ``max_episode_steps``, ...)
    :return: the env (``DomainRandomization``-wrapped with a preset); its ``spec`` re-creates it
    :raises ValueError: unknown env, ``params`` and ``preset`` together (or ``params`` also in ``env_kwargs``),
        bad parameters (unknown name, out of bounds), a preset unknown or of another env
    :raises TypeError: ``env_kwargs`` not a mapping
    """
    check_env_id(env_id)
    if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
        raise TypeError(f"env_kwargs must be a mapping of gym.make keyword arguments, got {env_kwargs!r}")
    kwargs = dict(env_kwargs or {})
    if params is not None and preset is not None:
        raise ValueError(
            f"Pass params (one fixed setting) or preset (domain randomisation), not both: params={params!r}, preset={preset!r}"
        )
    if params is not None:
        if "params" in kwargs:
            raise ValueError(f"params given twice: params={params!r} and env_kwargs['params']={kwargs['params']!r}")
        kwargs["params"] = _json_params(params)
    if preset is not None and not isinstance(preset, str | UncertaintySet):
        raise ValueError(
            f"preset must be a preset name (robust_envs.list_presets({env_id!r})) or an UncertaintySet, got {preset!r}"
        )
    env = gym.make(env_id, **kwargs)
    if preset is None:
        return env
    from robust_envs.wrappers import DomainRandomization

    try:
        return DomainRandomization(env, preset)
    except BaseException:
        env.close()
        raise


def _json_params(params: Any) -> Any:
    """``params`` as ``gym.make`` should record them: floats in a dict or list (an array breaks ``spec.to_json``)."""
    if isinstance(params, Mapping):
        return dict(params)
    if isinstance(params, np.ndarray):
        return params.tolist()
    return params


def _action_caster(space: spaces.Space) -> Callable[[Any], Any]:
    """:return: a function putting a policy's output into the space's dtype and shape (so recorded = applied)."""
    if isinstance(space, spaces.Discrete):
        return lambda action: np.int64(np.asarray(action).reshape(()))
    if isinstance(space, spaces.Box):
        return lambda action: np.asarray(action, dtype=space.dtype).reshape(space.shape)
    return lambda action: action


@contextmanager
def progress_bar(total: int, enabled: bool, description: str, unit: str = "step") -> Iterator[Any]:
    """
    A tqdm progress bar when ``enabled`` and tqdm is installed; otherwise an object whose ``update`` does nothing.

    :param total: the count the bar runs to
    :param enabled: whether to show it
    :param description: its label
    :param unit: what it counts
    """
    bar: Any = None
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional: no bar, same work
            bar = None
        else:
            bar = tqdm(total=total, desc=description, unit=unit)

    class _Quiet:
        def update(self, n: int = 1) -> None:
            pass

    try:
        yield bar if bar is not None else _Quiet()
    finally:
        if bar is not None:
            bar.close()


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def collect(
    env_id: str,
    policy: Any,
    n_steps: int,
    seed: int = 0,
    params: Any = None,
    preset: str | UncertaintySet | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    provenance: Mapping[str, Any] | None = None,
    deterministic: bool = False,
) -> Episodes:
    """
    Run a policy for complete episodes until at least ``n_steps`` steps are recorded.

    Episodes are never cut: each runs until the env terminates it or its own time limit truncates it, so **the last
    episode may run past** ``n_steps`` (by less than one episode); the result holds ``total_steps >= n_steps``.
    Every step also records the parameter vector it ran with and the full physics state (see
    :mod:`~robust_envs.datasets.episodes`). Actions are what the policy returns, cast to the action space's dtype
    before the step, so the recorded action is the applied one. An SB3 model (anything with ``predict``) samples its
    actions unless ``deterministic=True``: D4RL's behaviour policies sampled too.

    Deterministic under ``seed`` when the policy is: episode ``i`` resets with :func:`episode_seed` ``(seed, i)``, and
    under a preset the parameter draws follow from the reset seeds. An SB3 policy sampling stochastically draws from
    torch's generator: seed it (``stable_baselines3.common.utils.set_random_seed``) for a repeatable collection.

    :param env_id: a robust env id (one of ``robust_envs.ENVS``)
    :param policy: a callable ``obs -> action`` (stochastic or not, as it is), or an SB3 model (called through
        ``predict``, see ``deterministic``)
    :param n_steps: the number of steps to collect at least (> 0)
    :param seed: the collection's seed (>= 0)
    :param params: fixed parameters for every episode (a partial mapping or a full vector); exclusive with ``preset``
    :param preset: domain randomisation: a preset name or :class:`~robust_envs.uncertainty.UncertaintySet` of this env
    :param env_kwargs: other ``gym.make`` keyword arguments (``keep_mass``, ``max_episode_steps``, ...)
    :param progress: show a progress bar (tqdm, when installed)
    :param provenance: extra JSON-able facts for the dataset's metadata (e.g. the policy's name and checkpoint)
    :param deterministic: passed to an SB3 model's ``predict`` (default ``False``: sampled actions, as D4RL's);
        a plain callable is called as it is
    :return: the episodes, with the env's spec and their provenance
    :raises ValueError: unknown env, ``n_steps <= 0``, a bad seed, bad ``params`` or ``preset`` (nothing runs then)
    """
    n_steps = _check_count("n_steps", n_steps)
    seed = check_seed(seed)
    act = as_policy(policy, deterministic=deterministic)
    recorder = EpisodeRecorder(make_env(env_id, params=params, preset=preset, env_kwargs=env_kwargs))
    cast = _action_caster(recorder.action_space)
    try:
        with progress_bar(n_steps, progress, f"collect {env_id}") as bar:
            index = 0
            while recorder.total_steps < n_steps:
                observation, _ = recorder.reset(seed=episode_seed(seed, index))
                done = False
                while not done:
                    observation, _, terminated, truncated, _ = recorder.step(cast(act(observation)))
                    done = terminated or truncated
                    bar.update(1)
                index += 1
    finally:
        recorder.close()
    facts = {
        "env_id": env_id,
        "seed": seed,
        "n_steps": n_steps,
        "params": _json_params(params),
        "preset": preset.to_dict() if isinstance(preset, UncertaintySet) else preset,
        "param_names": list(recorder.unwrapped.param_names),  # type: ignore[attr-defined]
        **dict(provenance or {}),
    }
    return recorder.episodes(provenance=facts)


def reference_return(
    env_id: str,
    policy: Any,
    n_episodes: int = 100,
    seed: int = 0,
    params: Any = None,
    preset: str | UncertaintySet | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    deterministic: bool = False,
) -> float:
    """
    The mean return of a policy over ``n_episodes`` episodes: a dataset's reference score (D4RL and Minari use the
    mean over 100 episodes of a uniform random policy for ``ref_min_score`` and of the expert for ``ref_max_score``).

    Episode ``i`` resets with :func:`episode_seed` ``(seed, i)``, in the env :func:`make_env` makes from the same
    arguments as the dataset's, so the reference is measured under the dataset's parameters or randomisation.

    :param env_id: a robust env id
    :param policy: a callable ``obs -> action`` or an SB3 model, as :func:`collect` takes it
    :param n_episodes: episodes to average (> 0)
    :param seed: seed of the episodes (use one other than the dataset's for held-out episodes)
    :param params: fixed parameters, as :func:`collect` takes them
    :param preset: domain randomisation, as :func:`collect` takes it
    :param env_kwargs: other ``gym.make`` keyword arguments
    :param progress: show a progress bar over episodes
    :param deterministic: passed to an SB3 model's ``predict`` (default ``False``, as :func:`collect`)
    :return: the mean undiscounted return
    """
    n_episodes = _check_count("n_episodes", n_episodes)
    seed = check_seed(seed)
    act = as_policy(policy, deterministic=deterministic)
    env = make_env(env_id, params=params, preset=preset, env_kwargs=env_kwargs)
    cast = _action_caster(env.action_space)
    returns = []
    try:
        with progress_bar(n_episodes, progress, f"reference {env_id}", unit="episode") as bar:
            for index in range(n_episodes):
                observation, _ = env.reset(seed=episode_seed(seed, index))
                total, done = 0.0, False
                while not done:
                    observation, reward, terminated, truncated, _ = env.step(cast(act(observation)))
                    total += float(reward)
                    done = terminated or truncated
                returns.append(total)
                bar.update(1)
    finally:
        env.close()
    return float(np.mean(returns))
