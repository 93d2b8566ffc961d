"""Episodes kept as their starts and actions (``save_actions``) and re-created exactly (``replay_actions``)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import robust_envs.datasets as rd
from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY

FAMILIES = ["RobustHopper-v0", "RobustPendulum-v0", "RobustCartPole-v0", "RobustCartpoleSwingup-v0"]


def _recorded_training_replay(env_id: str, steps: int) -> rd.Episodes:
    """A training run's replay: one env, seeded once, then unseeded resets (SB3's off-policy algorithms do this)."""
    recorder = rd.EpisodeRecorder(gym.make(env_id, max_episode_steps=60))
    recorder.action_space.seed(3)
    recorder.reset(seed=0)
    for _ in range(steps):
        action = recorder.action_space.sample()
        _, _, terminated, truncated, _ = recorder.step(action)
        if terminated or truncated:
            recorder.reset()
    return recorder.episodes(provenance={"policy": "uniform random", "env_id": env_id})


def _assert_same(replayed: rd.Episodes, original: rd.Episodes) -> None:
    assert replayed.env_spec == original.env_spec
    assert replayed.provenance == original.provenance
    assert [e.seed for e in replayed] == [e.seed for e in original]
    for again, episode in zip(replayed, original, strict=True):
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            assert getattr(again, name).dtype == getattr(episode, name).dtype
            np.testing.assert_array_equal(getattr(again, name), getattr(episode, name))
        for key in (PARAMS_KEY, STATE_KEY):
            np.testing.assert_array_equal(again.infos[key], episode.infos[key])
    assert rd.episodes_checksum(replayed) == rd.episodes_checksum(original)


@pytest.mark.parametrize("env_id", FAMILIES)
def test_a_training_replay_with_unseeded_resets_is_recreated_exactly(env_id, tmp_path):
    original = _recorded_training_replay(env_id, 400)
    assert len(original) >= 5 and all(e.seed is None for e in original[1:])
    path = rd.save_actions(original, tmp_path / "replay.npz")
    _assert_same(rd.replay_actions(path), original)


def test_seeded_episodes_under_domain_randomisation_are_recreated_exactly(tmp_path):
    # one parameter draw per episode, from a preset; the saved spec carries the randomisation wrapper
    original = rd.collect("RobustHopper-v0", lambda obs: np.zeros(3, dtype=np.float32), 300, seed=5,
                          preset="jiang2021/hopper/train")  # fmt: skip
    draws = {tuple(e.params[0]) for e in original}
    assert len(draws) == len(original) > 1
    _assert_same(rd.replay_actions(rd.save_actions(original, tmp_path / "dr.npz")), original)


def test_the_file_is_a_small_fraction_of_the_episodes(tmp_path):
    original = rd.make_level("random", "RobustHopper-v0", n_steps=2000, seed=0)
    path = rd.save_actions(original, tmp_path / "random.npz")
    full = sum(sum(a.nbytes for a in (e.observations, e.actions, e.rewards, *e.infos.values())) for e in original)
    assert path.stat().st_size < full / 5


def test_a_changed_action_is_caught(tmp_path):
    original = rd.make_level("random", "RobustPendulum-v0", n_steps=400, seed=1)  # never terminates: only the checksum
    path = rd.save_actions(original, tmp_path / "pendulum.npz")
    with np.load(path) as file:
        arrays = {key: file[key] for key in file.files}
    arrays["actions"][7] = -arrays["actions"][7] + np.float32(0.25)
    np.savez_compressed(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(RuntimeError, match="differ from those saved"):
        rd.replay_actions(tmp_path / "tampered.npz")


def test_an_episode_that_ends_elsewhere_is_caught(tmp_path):
    original = _recorded_training_replay("RobustHopper-v0", 300)
    path = rd.save_actions(original, tmp_path / "hopper.npz")
    with np.load(path) as file:
        arrays = {key: file[key] for key in file.files}
    arrays["lengths"][0] -= 1  # the first episode said to end a step earlier, the second to last a step longer
    arrays["lengths"][1] += 1
    np.savez_compressed(tmp_path / "moved.npz", **arrays)
    with pytest.raises(RuntimeError, match=r"Episode 0 re-created ends at step .* \(terminated=False, truncated=False\)"):
        rd.replay_actions(tmp_path / "moved.npz")


def test_bad_inputs_are_clear_errors_and_write_nothing(tmp_path):
    target = tmp_path / "out.npz"
    original = rd.make_level("random", "RobustPendulum-v0", n_steps=250, seed=2)
    with pytest.raises(TypeError, match=r"save_actions takes Episodes .* got list"):
        rd.save_actions(list(original), target)
    with pytest.raises(ValueError, match="No episodes to save"):
        rd.save_actions(rd.Episodes(original.env_spec, ()), target)
    bare = dataclasses.replace(original[0], infos={})
    with pytest.raises(ValueError, match="Episode 0 has no recorded 'params' and 'state' infos"):
        rd.save_actions(rd.Episodes(original.env_spec, (bare,)), target)
    params = original[0].params.copy()
    params[3, 0] *= 1.5
    changing = dataclasses.replace(original[0], infos={**original[0].infos, PARAMS_KEY: params})
    with pytest.raises(ValueError, match="Episode 0 changes its parameters at observation 3"):
        rd.save_actions(rd.Episodes(original.env_spec, (changing,)), target)
    assert not target.exists() and not list(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="No actions file at"):
        rd.replay_actions(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match=r"not a file of save_actions: it lacks \['format_version', .*found arrays \['x'\]"):
        rd.replay_actions(tmp_path / "other.npz")
    rd.save_actions(original, target)
    with np.load(target) as file:
        arrays = {key: file[key] for key in file.files}
    np.savez(tmp_path / "v2.npz", **{**arrays, "format_version": np.array(2)})
    with pytest.raises(ValueError, match="has layout version 2; this version reads 1"):
        rd.replay_actions(tmp_path / "v2.npz")


def test_episodes_through_another_wrapper_are_refused_when_saved(tmp_path):
    recorder = rd.EpisodeRecorder(gym.wrappers.NormalizeObservation(gym.make("RobustPendulum-v0", max_episode_steps=20)))
    recorder.reset(seed=0)
    for _ in range(20):
        recorder.step(np.zeros(1, dtype=np.float32))
    episodes = recorder.episodes()
    with pytest.raises(
        ValueError, match=r"ran through the wrapper NormalizeObservation .* allowed: \['DomainRandomization'\]"
    ):
        rd.save_actions(episodes, tmp_path / "normalised.npz")
    assert not list(tmp_path.iterdir())


def test_a_disturbance_set_during_an_episode_is_refused_when_saved_and_nothing_is_written(tmp_path):
    def record(disturb: bool) -> rd.Episodes:
        recorder = rd.EpisodeRecorder(gym.make("RobustPendulum-v0", max_episode_steps=30))
        recorder.reset(seed=0)
        for step in range(30):
            if disturb and step == 10:  # an adversary's torque, an input the actions do not carry
                recorder.unwrapped.set_disturbance(0.7)
            recorder.step(np.zeros(1, dtype=np.float32))
        return recorder.episodes()

    with pytest.raises(ValueError, match=r"do not re-create from their starts and actions .* nothing was written"):
        rd.save_actions(record(disturb=True), tmp_path / "disturbed.npz")
    assert not list(tmp_path.iterdir())
    rd.save_actions(record(disturb=False), tmp_path / "plain.npz")  # the same run without the torque is kept
    assert [p.name for p in tmp_path.iterdir()] == ["plain.npz"]
