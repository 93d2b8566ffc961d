"""Offline datasets in Minari's format: round trips, the dynamics check, D4RL conversion and scores, levels, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

# CI installs the [data] extra, so a missing minari is a broken install: fail here rather than skip
try:
    import h5py
    import minari
except ImportError as error:  # pragma: no cover - only on a broken install
    raise ImportError(f"tests/test_datasets.py needs minari[hdf5]: pip install -e '.[data]' ({error})") from error

import robust_envs  # noqa: F401  (registers the ids)
import robust_envs.datasets as rd
from robust_envs.datasets import cli
from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY

DR_PRESET = "jiang2021/hopper/train"


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch) -> Path:
    """Every test writes under its own data path, never ~/.minari."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def _loaded(dataset_id: str) -> list:
    return list(rd.load(dataset_id).iterate_episodes())


def _assert_same_episodes(written, loaded) -> None:
    assert len(written) == len(loaded)
    for episode, data in zip(written, loaded, strict=True):
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            expected, got = getattr(episode, name), getattr(data, name)
            assert got.dtype == expected.dtype, name
            np.testing.assert_array_equal(got, expected, err_msg=name)
        assert set(data.infos) == {PARAMS_KEY, STATE_KEY}
        for key in (PARAMS_KEY, STATE_KEY):
            assert data.infos[key].dtype == np.float64
            np.testing.assert_array_equal(data.infos[key], episode.infos[key], err_msg=key)


# ---- round trip -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "params", "env_kwargs"),
    [
        ("RobustHopper-v0", {"torso_density": 1250.0, "friction": 0.8}, None),
        ("RobustPendulum-v0", {"mass": 1.2}, {"max_episode_steps": 15}),  # numpy physics, episodes truncated
        ("RobustCartPole-v0", None, None),  # a Discrete action space
    ],
)
def test_round_trip(env_id, params, env_kwargs):
    episodes = rd.make_level("random", env_id, n_steps=40, seed=7, params=params, env_kwargs=env_kwargs)
    assert episodes.total_steps >= 40 and episodes.total_steps - len(episodes[-1]) < 40  # only the last runs past
    for index, episode in enumerate(episodes):
        done = episode.terminations | episode.truncations
        assert done[-1] and not done[:-1].any()  # complete, never cut
        assert episode.seed == rd.episode_seed(7, index)
        assert episode.params.shape == (len(episode) + 1, len(episodes.provenance["param_names"]))
    dataset = rd.create_dataset(f"test/{env_id}/random-v0", episodes, ref_min_score=-1.0, ref_max_score=1.0)
    _assert_same_episodes(episodes, _loaded(f"test/{env_id}/random-v0"))

    loaded = rd.load(f"test/{env_id}/random-v0")
    seeds = [m["seed"] for m in loaded.storage.get_episode_metadata(range(len(episodes)))]
    assert seeds == [e.seed for e in episodes]
    assert loaded.total_steps == episodes.total_steps
    assert minari.get_normalized_score(loaded, np.array(1.0)) == 1.0  # Minari reads our reference scores
    env = loaded.recover_environment()
    assert env.spec.kwargs.get("params") == episodes.env_spec.kwargs.get("params")
    if params is not None:
        assert all(env.unwrapped.params[k] == v for k, v in params.items())
    if env_kwargs:
        assert env.spec.max_episode_steps == env_kwargs["max_episode_steps"] and episodes[0].truncations[-1]
    section = loaded.storage.metadata[rd.METADATA_KEY]
    assert section["provenance"]["seed"] == 7 and section["provenance"]["level"] == "random"
    assert section["param_names"] == list(env.unwrapped.param_names)
    assert dataset.total_episodes == len(episodes)


# ---- the dynamics check: stored states + params reproduce the recorded next observations ------------------
def test_stored_states_reproduce_transitions_under_domain_randomisation():
    episodes = rd.make_level("random", "RobustHopper-v0", n_steps=60, seed=3, preset=DR_PRESET)
    rd.create_dataset("test/hopper-dr/random-v0", episodes)
    dataset = rd.load("test/hopper-dr/random-v0")
    env = dataset.recover_environment()  # DomainRandomization over the preset, re-created from the stored spec
    assert [w.name for w in env.spec.additional_wrappers] == ["DomainRandomization"]
    base = env.unwrapped
    firsts = []
    for data in dataset.iterate_episodes():
        params, states = data.infos[PARAMS_KEY], data.infos[STATE_KEY]
        assert (params == params[0]).all()  # one draw per episode
        firsts.append(params[0])
        # every step at once: one model (the episode's parameters), the recorded states and actions
        result = base.sample_next_states(states[:-1], data.actions, params[0])
        np.testing.assert_array_equal(result.observations[:, 0], data.observations[1:])
        np.testing.assert_array_equal(result.rewards[:, 0], data.rewards)
        np.testing.assert_array_equal(result.terminated[:, 0], data.terminations)
        # and one step through the env itself: set_state under the stored params, then step
        t = len(data) // 2
        base.reset(options={"params": params[t]})
        base.set_state(states[t])
        observation, reward, terminated, _, _ = base.step(data.actions[t])
        np.testing.assert_array_equal(observation, data.observations[t + 1])
        assert reward == data.rewards[t] and terminated == data.terminations[t]
        np.testing.assert_array_equal(base.get_state(), states[t + 1])  # the full state, solver warm start included
    assert len({p.tobytes() for p in firsts}) == len(firsts)  # the parameters really vary


# ---- determinism ------------------------------------------------------------------------------------------
def test_generation_is_deterministic_under_a_seed(capsys):
    argv = ["generate", "RobustHopper-v0", "random", "--steps", "50", "--preset", DR_PRESET, "--ref-episodes", "3"]
    for name in ("a", "b"):
        assert cli.main([*argv, "--seed", "11", "--dataset-id", f"det/{name}-v0", "--no-progress"]) == 0
    assert cli.main([*argv, "--seed", "12", "--dataset-id", "det/c-v0", "--no-progress"]) == 0
    assert "wrote det/a-v0" in capsys.readouterr().out
    a, b, c = _loaded("det/a-v0"), _loaded("det/b-v0"), _loaded("det/c-v0")
    _assert_same_episodes(a, b)
    assert not np.array_equal(a[0].observations, c[0].observations)
    meta = [rd.load(f"det/{n}-v0").storage.metadata[rd.METADATA_KEY] for n in "ab"]
    assert meta[0] == meta[1] and meta[0]["reference_returns"]["random"] is not None


# ---- levels -----------------------------------------------------------------------------------------------
def test_levels_assemble_from_policies_and_replay():
    kwargs = {"env_kwargs": {"max_episode_steps": 10}}
    medium = rd.UniformRandomPolicy(gym.make("RobustPendulum-v0").action_space, seed=1)

    def expert(obs):
        return np.zeros(1)

    joined = rd.make_level("medium-expert", "RobustPendulum-v0", 20, seed=4, medium=medium, expert=expert, **kwargs)
    medium_again = rd.UniformRandomPolicy(gym.make("RobustPendulum-v0").action_space, seed=1)
    parts = rd.make_level("medium", "RobustPendulum-v0", 20, 4, medium=medium_again, **kwargs) + rd.make_level(
        "expert", "RobustPendulum-v0", 20, 4, expert=expert, **kwargs
    )
    _assert_same_episodes(parts, joined)
    assert joined.provenance["level"] == "medium-expert" and len(joined.provenance["concatenated"]) == 2

    # medium-replay: what a training run recorded up to the medium checkpoint's step
    recorder = rd.EpisodeRecorder(rd.make_env("RobustPendulum-v0", **kwargs))
    recorder.reset(seed=0)
    for _ in range(35):  # 3 complete episodes and half of a fourth
        _, _, terminated, truncated, _ = recorder.step(np.zeros(1, dtype=np.float32))
        if terminated or truncated:
            recorder.reset()
    assert recorder.n_episodes == 3 and len(recorder.episodes(until_step=25)) == 2
    replay = rd.make_level("medium-replay", "RobustPendulum-v0", 1, replay=recorder.episodes(until_step=25), **kwargs)
    assert len(replay) == 2 and replay.provenance["level"] == "medium-replay"
    with pytest.raises(ValueError, match="another env"):
        rd.make_level("medium-replay", "RobustPendulum-v0", 1, replay=recorder.episodes(), params={"mass": 2.0}, **kwargs)

    assert rd.select_medium_checkpoint([5.0, 20.0, 40.0, 90.0], expert_return=100.0) == 2
    assert rd.select_medium_checkpoint([-900.0, -600.0, -400.0], expert_return=-100.0, random_return=-1000.0) == 1
    with pytest.raises(ValueError, match="No checkpoint reaches"):
        rd.select_medium_checkpoint([1.0, 2.0], expert_return=100.0)


# ---- D4RL ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "low", "high"),
    [
        ("RobustHopper-v0", -20.272305, 3234.3),
        ("halfcheetah-medium-replay-v2", -280.178953, 12135.0),
        ("RobustWalker2d-v0", 1.629008, 4592.3),
    ],
)
def test_d4rl_normalized_score_is_0_at_random_and_100_at_expert(env, low, high):
    assert rd.d4rl_normalized_score(env, low) == 0.0
    assert rd.d4rl_normalized_score(env, high) == 100.0
    np.testing.assert_array_equal(rd.d4rl_normalized_score(env, np.array([low, high])), [0.0, 100.0])


def test_d4rl_normalized_score_refuses_envs_without_references():
    with pytest.raises(ValueError, match=r"'RobustPendulum-v0'.*hopper"):
        rd.d4rl_normalized_score("RobustPendulum-v0", 1.0)


def _write_d4rl(path: Path, next_observations: bool = True) -> dict:
    rng = np.random.default_rng(0)
    n = 25
    data = {
        "observations": rng.normal(size=(n, 3)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminals": np.zeros(n, dtype=bool),
        "timeouts": np.zeros(n, dtype=bool),
        "infos/qpos": rng.normal(size=(n, 4)),
        "infos/qvel": rng.normal(size=(n, 4)),
    }
    data["terminals"][[6, 19]] = True  # episodes 0-6 and 15-19 terminate
    data["timeouts"][14] = True  # 7-14 times out; 20-24 is incomplete
    if next_observations:
        data["next_observations"] = rng.normal(size=(n, 3)).astype(np.float32)
    with h5py.File(path, "w") as file:
        for key, value in data.items():
            file.create_dataset(key, data=value)
    return data


def test_d4rl_converter_on_a_synthetic_file(tmp_path):
    data = _write_d4rl(tmp_path / "hopper_medium-v2.hdf5")
    dataset = rd.from_d4rl_hdf5(tmp_path / "hopper_medium-v2.hdf5", "d4rl/hopper/medium-v0")
    episodes = list(rd.load("d4rl/hopper/medium-v0").iterate_episodes())
    assert [len(e) for e in episodes] == [7, 8, 5]
    for episode, (start, end) in zip(episodes, [(0, 6), (7, 14), (15, 19)], strict=True):
        rows = slice(start, end + 1)
        np.testing.assert_array_equal(episode.observations[:-1], data["observations"][rows])
        np.testing.assert_array_equal(episode.observations[-1], data["next_observations"][end])
        np.testing.assert_array_equal(episode.actions, data["actions"][rows])
        np.testing.assert_array_equal(episode.rewards, data["rewards"][rows])
        np.testing.assert_array_equal(episode.terminations, data["terminals"][rows])
        np.testing.assert_array_equal(episode.truncations, data["timeouts"][rows])
        np.testing.assert_array_equal(episode.infos["qpos"], data["infos/qpos"][rows])
        np.testing.assert_array_equal(episode.infos["qvel"], data["infos/qvel"][rows])
    section = dataset.storage.metadata[rd.METADATA_KEY]
    assert section["converted_from_d4rl"]["dropped_trailing_steps"] == 5
    assert section["d4rl_reference"]["expert"] == 3234.3

    # without next_observations the final observation is unknown: the last step goes, the one before is truncated
    _write_d4rl(tmp_path / "old.hdf5", next_observations=False)
    rd.from_d4rl_hdf5(tmp_path / "old.hdf5", "d4rl/old-v0")
    old = list(rd.load("d4rl/old-v0").iterate_episodes())
    assert [len(e) for e in old] == [6, 7, 4]
    np.testing.assert_array_equal(old[0].observations, data["observations"][0:7])
    assert old[0].truncations[-1] and not old[0].terminations.any()


def test_d4rl_converter_refuses_other_layouts(tmp_path, minari_root):
    with h5py.File(tmp_path / "bad.hdf5", "w") as file:
        file.create_dataset("observations", data=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"missing \['actions', 'rewards', 'terminals', 'timeouts'\]"):
        rd.from_d4rl_hdf5(tmp_path / "bad.hdf5", "d4rl/bad-v0")
    assert not (minari_root / "d4rl").exists()


# ---- bad inputs: clear errors, nothing written -----------------------------------------------------------------
@pytest.fixture
def existing(minari_root) -> str:
    assert (
        cli.main(["generate", "RobustCartPole-v0", "random", "--steps", "5", "--dataset-id", "have/it-v0", "--no-progress"])
        == 0
    )
    return "have/it-v0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["RobustHoper-v0", "random"], "Unknown robust env id 'RobustHoper-v0'. Did you mean 'RobustHopper-v0'"),
        (["RobustCartPole-v0", "mediun"], "Unknown dataset level 'mediun'. Did you mean 'medium'"),
        (["RobustCartPole-v0", "expert"], "Level 'expert' needs policies from a training run"),
        (["RobustCartPole-v0", "random", "--dataset-id", "have/it-v0"], "'have/it-v0' already exists"),
        (["RobustCartPole-v0", "random", "--dataset-id", "no_version"], "Malformed dataset id 'no_version'"),
        (["RobustCartPole-v0", "random", "--steps", "0"], "--steps must be a positive number of steps, got 0"),
        (["RobustCartPole-v0", "random", "--steps", "-3"], "got -3"),
        (["RobustCartPole-v0", "random", "--params", '{"pole_lenght": 1}'], "Unknown parameter 'pole_lenght'"),
        (["RobustCartPole-v0", "random", "--params", '{"pole_mass": -1}'], "'pole_mass' of RobustCartPole-v0 = -1.0"),
        (["RobustCartPole-v0", "random", "--params", "{pole_mass: 1"], "--params must be JSON"),
        (["RobustCartPole-v0", "random", "--preset", "jiang2021/cartpole/trian"], "Unknown preset 'jiang2021/cartpole/trian'"),
        (["RobustCartPole-v0", "random", "--preset", DR_PRESET], f"'{DR_PRESET}' is for 'RobustHopper-v0'"),
    ],
)
def test_bad_generate_inputs_are_clear_and_write_nothing(argv, message, existing, minari_root, capsys):
    before = _files(minari_root)
    defaults = {"--steps": "5", "--dataset-id": "new/set-v0"}
    options = [x for key, value in defaults.items() if key not in argv for x in (key, value)]
    assert cli.main(["generate", *argv, *options, "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert _files(minari_root) == before


def test_bad_library_inputs_are_clear_and_write_nothing(existing, minari_root, monkeypatch):
    before = _files(minari_root)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        rd.collect("RobustCartPole-v0", lambda obs: 0, n_steps=0)
    with pytest.raises(ValueError, match=r"params.*or preset.*not both"):
        rd.collect("RobustCartPole-v0", lambda obs: 0, 5, params={"pole_mass": 0.2}, preset="jiang2021/cartpole/train")
    with pytest.raises(ValueError, match="Level 'medium' needs medium"):
        rd.make_level("medium", "RobustCartPole-v0", 5)
    episodes = rd.make_level("random", "RobustCartPole-v0", 5)
    with pytest.raises(ValueError, match="'have/it-v0' already exists"):
        rd.create_dataset(existing, episodes)
    with pytest.raises(ValueError, match=r"both ref_min_score and ref_max_score.*ref_max_score=None"):
        rd.create_dataset("new/set-v0", episodes, ref_min_score=0.0)
    with pytest.raises(ValueError, match=r"No dataset 'absent-v0'.*have/it-v0"):
        rd.load("absent-v0")
    assert _files(minari_root) == before

    # a write that fails half-way removes what it created (here: the namespace 'new' too)
    def broken(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError("disk full")

    real = minari.create_dataset_from_buffers
    monkeypatch.setattr(minari, "create_dataset_from_buffers", broken)
    with pytest.raises(OSError, match="disk full"):
        rd.create_dataset("new/set-v0", episodes)
    assert _files(minari_root) == before


def test_list_and_show(existing, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "have/it-v0" in out and "RobustCartPole-v0" in out and "random" in out
    assert cli.main(["show", existing]) == 0
    out = capsys.readouterr().out
    assert "episodes" in out and "pole_length" in out and json.dumps("uniform random") in out
    assert cli.main(["show", "absent-v0"]) == 2
    assert "No dataset 'absent-v0'" in capsys.readouterr().err


def test_sb3_style_models_sample_and_episodes_of_other_envs_do_not_mix():
    class Model:  # SB3's predict signature, no torch
        def __init__(self) -> None:
            self.flags: set[bool] = set()

        def predict(self, obs, deterministic=False):
            self.flags.add(deterministic)
            return np.zeros(1, dtype=np.float32), None

    model = Model()
    kwargs = {"env_kwargs": {"max_episode_steps": 5}}
    nominal = rd.collect("RobustPendulum-v0", model, 5, **kwargs)
    assert model.flags == {False}  # D4RL's behaviour policies sampled their actions
    rd.collect("RobustPendulum-v0", model, 5, deterministic=True, **kwargs)
    assert model.flags == {False, True}
    heavy = rd.collect("RobustPendulum-v0", model, 5, params={"mass": 1.5}, **kwargs)
    with pytest.raises(ValueError, match="Cannot concatenate episodes of different envs"):
        nominal + heavy


def test_torch_free_and_minari_only_to_write(monkeypatch):
    code = (
        "import sys, robust_envs.datasets, robust_envs.datasets.cli\n"
        "heavy = sorted({'torch', 'stable_baselines3', 'minari', 'jax'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    episodes = rd.make_level("random", "RobustCartPole-v0", 5)
    monkeypatch.setitem(sys.modules, "minari", None)  # as if the [data] extra were not installed
    with pytest.raises(ImportError, match=r"robust-rl\[data\]"):
        rd.create_dataset("new/set-v0", episodes)


def test_robust_rl_datasets_command(minari_root, capsys):
    # the project's command line reaches the datasets commands: generate, then list and show what it wrote
    from robust_envs.cli import main

    argv = ["datasets", "generate", "RobustCartPole-v0", "random", "--steps", "20", "--dataset-id", "cli/cp-v0"]
    assert main([*argv, "--no-progress", "--ref-episodes", "2"]) == 0
    assert main(["datasets", "list"]) == 0
    assert "cli/cp-v0" in capsys.readouterr().out
    assert main(["datasets", "show", "cli/cp-v0"]) == 0
    assert main(["datasets", "generate", "RobustCartPole-v0", "medium", "--steps", "20", "--dataset-id", "cli/m-v0"]) == 2
    assert "medium" in capsys.readouterr().err
    assert not (minari_root / "cli" / "m-v0").exists()
