"""
Episodes kept as their actions: :func:`save_actions` writes what re-creates them, :func:`replay_actions` re-creates them.

A recorded episode of a robust env is fixed by where it started (its first observation, parameter vector and physics
state) and the actions it took, because every family steps deterministically and draws no random numbers within an
episode. That holds where the actions are the episode's only input: no wrapper besides
:class:`~robust_envs.wrappers.DomainRandomization` (whose draw is saved as the episode's parameters), no disturbance
set during the episode (RARL's adversary). :func:`save_actions` refuses other wrappers and re-creates what it wrote
before it keeps it, so data it cannot re-create are refused when saved, not found out when restored. Kept that
way, a dataset shrinks to its actions: Hopper's medium-replay (169,850 steps, with 11 observation, 3 action,
11 parameter and 19 state numbers per step) takes 86 MB as Minari writes it and 2.1 MB here (3 actions per step,
compressed). Re-creating it steps the env again (about 100 us per Hopper step) and checks the result against the
SHA-256 of the original arrays (:func:`~robust_envs.datasets.episodes.episodes_checksum`): a MuJoCo build or CPU that
rounds differently makes the check fail loudly instead of handing back other data.

Example::

    import robust_envs.datasets as rd

    episodes = rd.make_level("random", "RobustHopper-v0", n_steps=2_000, seed=0)
    rd.save_actions(episodes, "hopper-random.npz")
    again = rd.replay_actions("hopper-random.npz")  # the same arrays, checked
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY, Episode, Episodes, episodes_checksum

#: The layout version of the files :func:`save_actions` writes.
FORMAT_VERSION = 1
#: Marks an episode without a reset seed in the ``seeds`` array (seeds are >= 0).
NO_SEED = -1
#: The one wrapper of an env spec whose episodes re-create from their actions (its draw is the saved parameters).
ALLOWED_WRAPPERS = ("DomainRandomization",)
#: The arrays of a :func:`save_actions` file.
ARRAYS = ("format_version", "env_spec", "provenance", "checksum", "lengths", "seeds", "first_observations",
          "first_params", "first_states", "actions", "terminated")  # fmt: skip


def save_actions(episodes: Episodes, path: str | os.PathLike[str], verify: bool = True) -> Path:
    """
    Write the episodes as their starts and actions (``numpy.savez_compressed``), with the env spec, the provenance and
    the checksum of the full episodes.

    :param episodes: complete episodes recorded with their parameters and states (:class:`EpisodeRecorder`,
        :func:`collect`, :func:`make_level`), one parameter vector per episode, the actions their only input
    :param path: the file to write (written whole or not at all); a missing ``.npz`` suffix is not added
    :param verify: re-create the episodes from the written file (:func:`replay_actions`) before keeping it, and refuse
        episodes that do not come back (an input besides the actions, such as a disturbance set during an episode)
    :return: the path written
    :raises TypeError: ``episodes`` is not :class:`Episodes`
    :raises ValueError: no episodes, an episode without recorded parameters or states, one whose parameters change
        within it (the re-creation sets one vector per episode), a wrapper in the env spec other than
        :data:`ALLOWED_WRAPPERS`, a seed outside int64, or (``verify``) episodes that do not re-create; nothing is
        written
    """
    if not isinstance(episodes, Episodes):
        raise TypeError(f"save_actions takes Episodes (with their env spec), got {type(episodes).__name__}")
    if not len(episodes):
        raise ValueError("No episodes to save: collect at least one complete episode")
    for wrapper in episodes.env_spec.additional_wrappers:
        if wrapper.name not in ALLOWED_WRAPPERS:
            raise ValueError(
                f"The episodes ran through the wrapper {wrapper.name} ({wrapper.entry_point}), whose effect is not in "
                f"their starts and actions, so they cannot be re-created; allowed: {list(ALLOWED_WRAPPERS)} (record "
                "inside other wrappers, as EpisodeRecorder's docstring says)"
            )
    for index, episode in enumerate(episodes):
        if episode.params is None or episode.states is None:
            raise ValueError(
                f"Episode {index} has no recorded {PARAMS_KEY!r} and {STATE_KEY!r} infos, so it cannot be re-created: "
                "record it with EpisodeRecorder, collect or make_level"
            )
        changed = np.flatnonzero(np.any(episode.params != episode.params[0], axis=1))
        if changed.size:
            raise ValueError(
                f"Episode {index} changes its parameters at observation {changed[0]} ({episode.params[0]} -> "
                f"{episode.params[changed[0]]}); save_actions re-creates one parameter vector per episode"
            )
        if episode.seed is not None and not 0 <= episode.seed <= np.iinfo(np.int64).max:
            raise ValueError(f"Episode {index} was reset with seed {episode.seed}; save_actions keeps seeds in [0, 2**63)")
    arrays = {
        "format_version": np.array(FORMAT_VERSION),
        "env_spec": np.array(episodes.env_spec.to_json()),
        "provenance": np.array(json.dumps(dict(episodes.provenance), sort_keys=True)),
        "checksum": np.array(episodes_checksum(episodes)),
        "lengths": np.array([len(e) for e in episodes], dtype=np.int64),
        "seeds": np.array([NO_SEED if e.seed is None else e.seed for e in episodes], dtype=np.int64),
        "first_observations": np.stack([e.observations[0] for e in episodes]),
        "first_params": np.stack([e.params[0] for e in episodes]),
        "first_states": np.stack([e.states[0] for e in episodes]),
        "actions": np.concatenate([e.actions for e in episodes]),
        "terminated": np.array([e.terminations[-1] for e in episodes], dtype=bool),
    }
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("wb") as file:
            np.savez_compressed(file, **arrays)
        if verify:
            try:
                replay_actions(temporary)
            except RuntimeError as error:
                raise ValueError(
                    f"These episodes do not re-create from their starts and actions ({error}); an input besides the "
                    "actions (a disturbance set during an episode, a wrapper) changed them: nothing was written"
                ) from None
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def replay_actions(path: str | os.PathLike[str]) -> Episodes:
    """
    Re-create the episodes of a :func:`save_actions` file by stepping the env again: each episode is reset with its
    seed and parameter vector, put in its recorded first state, and run through its actions.

    :param path: a file of :func:`save_actions`
    :return: the episodes, with the env spec and provenance they were saved with
    :raises FileNotFoundError: no such file
    :raises ValueError: not a file of :func:`save_actions` (or of another layout version)
    :raises RuntimeError: the re-created episodes differ from the saved ones (an episode ends at another step, or the
        checksum differs: this machine's simulator does not reproduce the data)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No actions file at {path}")
    with np.load(path, allow_pickle=False) as file:
        saved = {key: file[key] for key in file.files}
    missing = [name for name in ARRAYS if name not in saved]
    if missing:
        raise ValueError(f"{path} is not a file of save_actions: it lacks {missing}; found arrays {sorted(saved)[:8]}")
    if int(saved["format_version"]) != FORMAT_VERSION:
        raise ValueError(f"{path} has layout version {int(saved['format_version'])}; this version reads {FORMAT_VERSION}")
    spec = EnvSpec.from_json(str(saved["env_spec"]))
    # the episode's own parameters are set at reset: no wrapper of the spec (domain randomisation) may draw others
    env = gym.make(dataclasses.replace(spec, additional_wrappers=()))
    base = env.unwrapped
    starts = np.concatenate([[0], np.cumsum(saved["lengths"])])
    episodes = []
    try:
        for index in range(len(saved["lengths"])):
            seed = None if saved["seeds"][index] == NO_SEED else int(saved["seeds"][index])
            episodes.append(
                _replay_one(
                    env,
                    base,
                    index,
                    seed,
                    saved["first_observations"][index],
                    saved["first_params"][index],
                    saved["first_states"][index],
                    saved["actions"][starts[index] : starts[index + 1]],
                    bool(saved["terminated"][index]),
                )
            )
    finally:
        env.close()
    replayed = Episodes(spec, tuple(episodes), json.loads(str(saved["provenance"])))
    checksum = episodes_checksum(replayed)
    if checksum != str(saved["checksum"]):
        raise RuntimeError(
            f"The episodes re-created from {path} differ from those saved (SHA-256 {checksum} vs {saved['checksum']}): "
            "this machine's simulator does not step exactly as the one that recorded them (or the file was altered); "
            "regenerate the data here"
        )
    return replayed


def _replay_one(
    env: gym.Env,
    base: Any,
    index: int,
    seed: int | None,
    first_observation: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    actions: np.ndarray,
    terminated: bool,
) -> Episode:
    """:return: one episode re-created (see :func:`replay_actions`)"""
    env.reset(seed=seed, options={"params": params})
    base.set_state(state)
    observations, param_rows, states = [first_observation], [base.param_vector], [base.get_state()]
    rewards, terminations, truncations = [], [], []
    last = len(actions) - 1
    for step, action in enumerate(actions):
        observation, reward, term, trunc, _ = env.step(action)
        if (term or trunc) != (step == last):
            raise RuntimeError(
                f"Episode {index} re-created ends at step {step + 1} of {len(actions)} recorded "
                f"(terminated={term}, truncated={trunc}): the simulator does not reproduce the data"
            )
        observations.append(np.array(observation))
        rewards.append(float(reward))
        terminations.append(bool(term))
        truncations.append(bool(trunc))
        param_rows.append(base.param_vector)
        states.append(base.get_state())
    if terminations[-1] != terminated:
        raise RuntimeError(
            f"Episode {index} re-created {'terminates' if terminations[-1] else 'is truncated'} at its last step; "
            f"the recorded one {'terminated' if terminated else 'was truncated'}"
        )
    return Episode(
        observations=np.stack(observations),
        actions=actions,
        rewards=np.array(rewards),
        terminations=np.array(terminations),
        truncations=np.array(truncations),
        infos={PARAMS_KEY: np.stack(param_rows), STATE_KEY: np.stack(states)},
        seed=seed,
    )
