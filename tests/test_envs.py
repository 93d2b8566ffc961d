"""The env-suite tests of Gymnasium and SB3, run on every registered robust id."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.mujoco.utils import check_mujoco_reset_state
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env, data_equivalence

import robust_envs
from tests.conftest import MUJOCO_IDS, ROBUST_IDS, UPSTREAM_MUJOCO_IDS

# Gymnasium warns about unbounded Box observations and InvertedPendulum's [-3, 3] actions exactly as
# for its own v5 envs; MuJoCo about HalfCheetah's deprecated settotalmass; NumPy >= 2.5 (Python 3.12+) about
# dm_control 1.0.50 setting an array's shape in its named indexing.
ALLOWED_WARNINGS = ("Box observation", "symmetric and normalized space", "settotalmass", "Setting the shape on a NumPy array")


def perturbed(env_id: str, factor: float = 1.2) -> dict[str, float]:
    """The first parameter of the env, scaled by ``factor``."""
    spec = robust_envs.env_class(env_id).param_space.specs[0]
    return {spec.name: spec.nominal * factor}


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert not unexpected, unexpected


@pytest.mark.sb3
@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(gym.make(env_id), warn=False)


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_determinism(env_id):
    params = perturbed(env_id)
    env_a, env_b = gym.make(env_id, params=params), gym.make(env_id, params=params)
    obs_a, info_a = env_a.reset(seed=42)
    obs_b, info_b = env_b.reset(seed=42)
    assert data_equivalence(obs_a, obs_b) and info_a["params"] == info_b["params"]
    env_a.action_space.seed(0)
    for _ in range(50):
        action = env_a.action_space.sample()
        step_a, step_b = env_a.step(action), env_b.step(action)
        assert data_equivalence(step_a, step_b)
        if step_a[2] or step_a[3]:
            env_a.reset(seed=1)
            env_b.reset(seed=1)


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_pickle_round_trip(env_id):
    env = gym.make(env_id, params=perturbed(env_id, 1.3))
    copy = pickle.loads(pickle.dumps(env))
    assert copy.unwrapped.params == env.unwrapped.params
    obs, _ = env.reset(seed=3)
    obs_copy, _ = copy.reset(seed=3)
    assert data_equivalence(obs, obs_copy)
    action = env.action_space.sample()
    assert data_equivalence(env.step(action), copy.step(action))


@pytest.mark.parametrize("env_id", MUJOCO_IDS)
def test_mujoco_reset_state(env_id):
    check_mujoco_reset_state(gym.make(env_id).unwrapped)


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_spec_json_round_trip_with_params(env_id):
    space = robust_envs.env_class(env_id).param_space
    params = perturbed(env_id, 1.5)
    env = gym.make(env_id, params=params)
    restored = EnvSpec.from_json(env.spec.to_json())
    assert restored.kwargs["params"] == params
    remade = gym.make(restored)
    assert remade.unwrapped.params == env.unwrapped.params
    # an ndarray vector is stored as a plain list, so the spec stays JSON-serialisable
    vector_env = gym.make(env_id, params=space.nominal)
    assert EnvSpec.from_json(vector_env.spec.to_json()).kwargs["params"] == space.nominal.tolist()


@pytest.mark.parametrize("env_id", UPSTREAM_MUJOCO_IDS)
def test_nominal_reproduces_upstream_v5(env_id):
    robust = gym.make(env_id)
    upstream = gym.make(robust_envs.env_class(env_id).upstream_id)
    # an episode under other parameters first: going back to nominal must restore the upstream model exactly
    space = robust.unwrapped.param_space
    perturbed = {spec.name: spec.nominal * 1.3 + 0.01 for spec in space.specs if spec.kind != "geometry"}
    perturbed.update({spec.name: spec.nominal * 1.2 for spec in space.specs if spec.kind == "geometry"})
    robust.reset(seed=0, options={"params": perturbed})
    robust.step(robust.action_space.sample())
    obs_r, _ = robust.reset(seed=7)
    obs_u, _ = upstream.reset(seed=7)
    assert np.array_equal(obs_r, obs_u)
    rng = np.random.default_rng(0)
    for _ in range(300):
        action = rng.uniform(robust.action_space.low, robust.action_space.high).astype(np.float32)
        o_r, r_r, t_r, tr_r, _ = robust.step(action)
        o_u, r_u, t_u, tr_u, _ = upstream.step(action)
        assert np.array_equal(o_r, o_u) and r_r == r_u and t_r == t_u and tr_r == tr_u
        if t_r or tr_r:
            assert np.array_equal(robust.reset()[0], upstream.reset()[0])


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_observations_do_not_share_memory_and_vary(env_id):
    env = gym.make(env_id)
    first, _ = env.reset(seed=0)
    second, _, _, _, _ = env.step(env.action_space.sample())
    assert not np.shares_memory(first, second)
    other, _ = env.reset(seed=1)
    assert not np.array_equal(first, other), "the initial state is randomised"


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_copies_continue_the_episode_exactly(env_id, how):
    # Gymnasium's own MuJoCo envs restart from their constructor arguments when copied; ours continue mid-episode
    import copy as copying

    env = gym.make(env_id)
    base = env.unwrapped
    spec = base.param_space.specs[-1]
    base.set_params({spec.name: spec.nominal * 1.1 if spec.nominal else spec.high * 1e-3})
    env.reset(seed=3, options={"params": perturbed(env_id, 1.05)})
    env.action_space.seed(0)
    for _ in range(4):
        env.step(env.action_space.sample())
    twin = copying.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    assert np.array_equal(twin.unwrapped.get_state(), base.get_state())
    assert np.array_equal(twin.unwrapped.base_params, base.base_params) and twin.unwrapped.params == base.params
    assert twin.spec == env.spec
    for _ in range(6):
        action = env.action_space.sample()
        assert data_equivalence(env.step(action), twin.step(action))
    # the next episode: same seeded stream (no seed given) and the persistent parameters of set_params
    first, info = env.reset()
    first_twin, info_twin = twin.reset()
    assert data_equivalence(first, first_twin) and info["params"] == info_twin["params"]
    assert info["params"][spec.name] == base.base_params[-1]


SKIPS_QPOS_COPY = [env_id for env_id in MUJOCO_IDS if not robust_envs.env_class(env_id).reads_qpos_before]


def test_the_envs_that_skip_the_qpos_copy_are_those_expected():
    # the locomotion envs' rewards read the displacement over the step; the pendulums' and the hand's tasks do not
    assert SKIPS_QPOS_COPY == [
        "RobustInvertedPendulum-v0",
        "RobustInvertedDoublePendulum-v0",
        "RobustShadowHandCube-v0",
    ]


@pytest.mark.parametrize("env_id", SKIPS_QPOS_COPY)
def test_a_transition_that_skips_the_qpos_copy_does_not_depend_on_it(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    action = env.action_space.sample()
    before = env.data.qpos.copy()
    observation, reward, terminated, _, info = env.step(action)
    derived = {name: getattr(env.data, name) for name in env.derived_fields}
    with_copy = env._transition(before, action, env.data.qpos, env.data.qvel, derived)
    assert data_equivalence((observation, reward, terminated), (with_copy[0], float(with_copy[1]), bool(with_copy[2])))
    assert data_equivalence({k: v for k, v in info.items() if k != "params"}, with_copy[3])
