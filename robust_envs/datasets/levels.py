"""
D4RL's dataset levels and how each is assembled from a training run's policies and replay.

D4RL (Fu et al. 2020) built its locomotion datasets from one SAC run per env:

============== ==========================================================================================
level          definition
============== ==========================================================================================
random         a uniform random policy (``action_space.sample()``)
medium         the first checkpoint whose return is about a third of the expert's
medium-replay  every transition the run recorded up to the medium checkpoint (its replay buffer)
medium-expert  medium and expert concatenated
expert         the final policy (trained to convergence)
============== ==========================================================================================

The training itself is not here (``robust_envs`` never imports torch): a caller trains, keeps checkpoints with their
evaluation returns, wraps its training env in :class:`~robust_envs.datasets.recorder.EpisodeRecorder`, picks the
medium checkpoint with :func:`select_medium_checkpoint`, and passes the policies (any ``obs -> action`` callable or
SB3 model; D4RL sampled actions stochastically) and the recorded replay to :func:`make_level`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from robust_envs.datasets.collect import UniformRandomPolicy, check_seed, collect, make_env
from robust_envs.datasets.episodes import Episodes
from robust_envs.uncertainty import UncertaintySet

#: D4RL's level names.
LEVELS = ("random", "medium", "medium-replay", "medium-expert", "expert")

#: What each level needs from a training run (the argument of :func:`make_level`), for messages.
NEEDS = {
    "random": (),
    "medium": ("medium",),
    "medium-replay": ("replay",),
    "medium-expert": ("medium", "expert"),
    "expert": ("expert",),
}

#: How to obtain what a level needs, for messages.
HOW_TO_TRAIN = (
    "train SAC on the env (e.g. stable_baselines3.SAC with its env wrapped in robust_envs.datasets.EpisodeRecorder), "
    "save checkpoints with their evaluation returns, then pass expert = the final policy, medium = the checkpoint "
    "select_medium_checkpoint() picks, replay = recorder.episodes(until_step=<medium checkpoint's step>) to "
    "robust_envs.datasets.make_level"
)


def check_level(level: Any) -> str:
    """
    :param level: a level name
    :return: it
    :raises ValueError: not one of :data:`LEVELS` (with the closest match)
    """
    if not isinstance(level, str) or level not in LEVELS:
        close = difflib.get_close_matches(str(level), LEVELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown dataset level {level!r}.{hint} Levels (D4RL's): {', '.join(LEVELS)}")
    return level


def select_medium_checkpoint(
    returns: Sequence[float], expert_return: float, fraction: float = 1 / 3, random_return: float = 0.0
) -> int:
    """
    D4RL's medium policy: the first checkpoint whose evaluation return reaches a fraction of the expert's.

    The threshold is ``random_return + fraction * (expert_return - random_return)``; with the default
    ``random_return = 0`` it is D4RL's "a third of the expert return". Pass the random policy's return for envs
    whose returns are negative or offset (then the fraction is of the way from random to expert).

    :param returns: the checkpoints' evaluation returns, in training order
    :param expert_return: the expert's evaluation return
    :param fraction: the fraction of the expert return, in (0, 1]
    :param random_return: the return that counts as none of the expert's
    :return: the index of the first checkpoint at or above the threshold
    :raises ValueError: no checkpoint reaches it, no checkpoints, ``fraction`` outside (0, 1], NaN returns, or an
        expert no better than random
    """
    values = np.asarray(returns, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("select_medium_checkpoint needs the returns of at least one checkpoint, got none")
    if not np.isfinite(values).all():
        raise ValueError(f"Checkpoint returns must be finite numbers, got {values.tolist()}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1] (D4RL: 1/3), got {fraction!r}")
    if not expert_return > random_return:
        raise ValueError(
            f"The expert's return {expert_return!r} must exceed the random return {random_return!r}: "
            "pass random_return for envs whose returns are negative"
        )
    threshold = random_return + fraction * (expert_return - random_return)
    reached = np.flatnonzero(values >= threshold)
    if reached.size == 0:
        raise ValueError(
            f"No checkpoint reaches {fraction:.3g} of the expert's return (threshold {threshold:.6g}; best checkpoint "
            f"{values.max():.6g}): save checkpoints earlier or more often"
        )
    return int(reached[0])


def _missing(level: str, given: Mapping[str, Any]) -> None:
    missing = [name for name in NEEDS[level] if given.get(name) is None]
    if missing:
        raise ValueError(
            f"Level {level!r} needs {' and '.join(missing)} from a training run ({', '.join(f'{m}=...' for m in missing)}); "
            f"to make them, {HOW_TO_TRAIN}"
        )


def _describe(policy: Any) -> str:
    """:return: the policy's class (no memory address, so the metadata of two identical runs is identical)."""
    return f"{type(policy).__module__}.{type(policy).__qualname__}"


def make_level(
    level: str,
    env_id: str,
    n_steps: int,
    seed: int = 0,
    *,
    medium: Any = None,
    expert: Any = None,
    replay: Episodes | None = None,
    params: Any = None,
    preset: str | UncertaintySet | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> Episodes:
    """
    Assemble one of D4RL's levels (:data:`LEVELS`) for an env.

    - ``random``: :func:`~robust_envs.datasets.collect.collect` with :class:`UniformRandomPolicy` (seeded with ``seed``);
    - ``medium`` / ``expert``: :func:`~robust_envs.datasets.collect.collect` with that policy;
    - ``medium-expert``: ``medium`` then ``expert``, each ``n_steps`` with the same ``seed``, so it equals
      ``make_level("medium", ...) + make_level("expert", ...)`` (D4RL's 2M-step medium-expert is its two 1M sets);
    - ``medium-replay``: ``replay`` as recorded (``n_steps`` and ``seed`` are not used); its env must be the env these
      arguments make.

    :param level: one of :data:`LEVELS`
    :param env_id: a robust env id
    :param n_steps: steps per collected policy (> 0); the last episode runs to its end, see ``collect``
    :param seed: the collection's seed
    :param medium: the medium policy (``obs -> action`` or an SB3 model; D4RL sampled stochastically)
    :param expert: the expert policy
    :param replay: the run's recorded episodes up to the medium checkpoint
        (:meth:`~robust_envs.datasets.recorder.EpisodeRecorder.episodes` with ``until_step``)
    :param params: fixed parameters, as ``collect`` takes them
    :param preset: domain randomisation over an uncertainty set, as ``collect`` takes it
    :param env_kwargs: other ``gym.make`` keyword arguments
    :param progress: show progress bars
    :return: the level's episodes
    :raises ValueError: unknown level or env, a policy or the replay the level needs is missing (the message says
        how to make it), empty replay or replay from another env, bad ``n_steps``, ``seed``, ``params`` or ``preset``
    """
    check_level(level)
    _missing(level, {"medium": medium, "expert": expert, "replay": replay})
    common = {"seed": seed, "params": params, "preset": preset, "env_kwargs": env_kwargs, "progress": progress}
    if level == "random":
        env = make_env(env_id, params=params, preset=preset, env_kwargs=env_kwargs)  # validates before the policy is built
        space = env.action_space
        env.close()
        policy = UniformRandomPolicy(space, check_seed(seed))
        return collect(env_id, policy, n_steps, provenance={"level": level, "policy": "uniform random"}, **common)
    if level in ("medium", "expert"):
        policy = medium if level == "medium" else expert
        return collect(env_id, policy, n_steps, provenance={"level": level, "policy": _describe(policy)}, **common)
    if level == "medium-expert":
        first = collect(env_id, medium, n_steps, provenance={"level": "medium", "policy": _describe(medium)}, **common)
        second = collect(env_id, expert, n_steps, provenance={"level": "expert", "policy": _describe(expert)}, **common)
        joined = first + second
        return Episodes(joined.env_spec, joined.episodes, {"level": level, **joined.provenance})
    return _replay_level(replay, env_id, params, preset, env_kwargs)


def _replay_level(replay: Any, env_id: str, params: Any, preset: Any, env_kwargs: Any) -> Episodes:
    if not isinstance(replay, Episodes):
        raise ValueError(f"replay must be Episodes (EpisodeRecorder.episodes(until_step=...)), got {type(replay).__name__}")
    if len(replay) == 0:
        raise ValueError(
            "replay holds no complete episode: record the training env with EpisodeRecorder and pass "
            "recorder.episodes(until_step=<medium checkpoint's step>) once an episode has ended"
        )
    env = make_env(env_id, params=params, preset=preset, env_kwargs=env_kwargs)
    spec = env.spec
    env.close()
    if replay.env_spec != spec:
        raise ValueError(
            f"replay was recorded in another env than {env_id!r} with these arguments: {replay.env_spec.to_json()} "
            f"vs {spec.to_json() if spec is not None else None}"
        )
    return Episodes(replay.env_spec, replay.episodes, {**replay.provenance, "level": "medium-replay"})
