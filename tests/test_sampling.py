"""Full state save/restore and next-state sampling under other parameters."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_unwrapped


def _run(env, actions):
    return [env.step(a) for a in actions]


def test_get_set_state_resumes_exactly(mujoco_id):
    env = make_unwrapped(mujoco_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(env.action_space.low, env.action_space.high, (40, *env.action_space.shape)).astype(np.float32)
    for a in actions[:10]:
        env.step(a)
    state = env.get_state()
    first = _run(env, actions[10:])
    env.set_state(state)
    second = _run(env, actions[10:])
    for (o1, r1, t1, *_), (o2, r2, t2, *_) in zip(first, second, strict=True):
        assert np.array_equal(o1, o2) and r1 == r2 and t1 == t2


def test_set_state_rejects_bad_states():
    env = make_unwrapped("RobustHopper-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected \(19,\)"):
        env.set_state(np.zeros(5))
    bad = env.get_state()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        env.set_state(bad)


def test_sample_k1_nominal_equals_step_bit_for_bit(mujoco_id):
    env = make_unwrapped(mujoco_id)
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(60):
        action = env.action_space.sample()
        state = env.get_state()
        sampled = env.sample_next_states(state[None], action[None])
        observation, reward, terminated, _, _ = env.step(action)
        assert np.array_equal(sampled.observations[0, 0], observation)
        assert sampled.rewards[0, 0] == reward and sampled.terminated[0, 0] == terminated
        physics_sampled, _ = env._split_state(sampled.states[0])
        physics_live, _ = env._split_state(env.get_state()[None])
        assert np.array_equal(physics_sampled, physics_live)
        if terminated:
            env.reset()


def test_sampling_leaves_the_live_simulation_untouched(mujoco_id):
    env = make_unwrapped(mujoco_id)
    env.reset(seed=2)
    before = env.get_state()
    model_before = env.model.body_mass.copy()
    space = env.param_space
    others = [{spec.name: spec.nominal * 1.5} for spec in space.specs[:3]]
    actions = np.tile(env.action_space.sample(), (4, 1))
    env.sample_next_states(np.tile(before, (4, 1)), actions, others)
    assert np.array_equal(env.get_state(), before)
    assert np.array_equal(env.model.body_mass, model_before)


def test_sampling_differs_across_params_and_has_the_right_shapes(mujoco_id):
    env = make_unwrapped(mujoco_id)
    env.reset(seed=3)
    for _ in range(5):
        env.step(env.action_space.sample())
    space = env.param_space
    models = [{}, {space.specs[0].name: space.specs[0].nominal * 2.0}, {space.specs[1].name: space.specs[1].nominal * 0.5}]
    n = 5
    states = np.tile(env.get_state(), (n, 1))
    actions = np.stack([env.action_space.sample() for _ in range(n)])
    out = env.sample_next_states(states, actions, models)
    obs_dim = env.observation_space.shape[0]
    assert out.observations.shape == (n, 3, obs_dim) and out.observations.dtype == env.observation_space.dtype
    assert out.rewards.shape == (n, 3) and out.terminated.shape == (n, 3) and out.terminated.dtype == bool
    assert out.states.shape == (n, 3, env.state_size)
    assert not np.array_equal(out.observations[:, 0], out.observations[:, 1])
    assert not np.array_equal(out.observations[:, 0], out.observations[:, 2])
    # row n of model 0 is what stepping from that state with that action gives
    env.set_state(states[2])
    observation, *_ = env.step(actions[2])
    assert np.array_equal(out.observations[2, 0], observation)


def test_large_batches_use_threads_and_agree_with_single_rows(monkeypatch):
    import robust_envs.mujoco_env as mujoco_env

    monkeypatch.setattr(mujoco_env, "_CPUS", 4)  # threads even where the machine has fewer cores
    env = make_unwrapped("RobustHopper-v0")
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    n = 256
    states = np.tile(env.get_state(), (n, 1))
    states[:, 2:8] += rng.normal(0, 0.01, (n, 6))
    actions = rng.uniform(-1, 1, (n, 3))
    models = [{}, {"torso_density": 1300.0}, {"friction": 0.5}]
    first = env.sample_next_states(states, actions, models)  # one thread: measures the model's cost
    assert not env._rollout_pools and env._substep_seconds > 0
    batch = env.sample_next_states(states, actions, models)
    # 768 rows of 4 Hopper substeps are ~1000x the least work of a thread: all four
    assert list(env._rollout_pools) == [4]
    np.testing.assert_array_equal(batch.states, first.states)
    for row in (0, 100, 255):
        single = env.sample_next_states(states[row : row + 1], actions[row : row + 1], models)
        assert np.array_equal(single.observations[0], batch.observations[row])
        assert np.array_equal(single.states[0], batch.states[row])
    env.close()
    assert not env._rollout_pools


def test_sampling_input_errors():
    env = make_unwrapped("RobustHopper-v0")
    env.reset(seed=0)
    state = env.get_state()
    with pytest.raises(ValueError, match="actions must have shape"):
        env.sample_next_states(state[None], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="states must have shape"):
        env.sample_next_states(np.zeros((1, 4)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Unknown parameter"):
        env.sample_next_states(state[None], np.zeros((1, 3)), [{"mass": 1.0}])


def test_partial_models_complete_against_the_env_params_not_nominal():
    # the trap: a model that only restates one of the env's own values is the env's own model, bit for bit
    import gymnasium as gym

    from robust_envs.wrappers import PerturbedTransitions

    env = PerturbedTransitions(gym.make("RobustHopper-v0", params={"torso_density": 3000.0}), [{"friction": 1.0}, {}])
    env.reset(seed=0)
    for _ in range(20):
        observation, reward, terminated, _, info = env.step(np.full(3, 0.3, dtype=np.float32))
        assert np.array_equal(info["perturbed_next_obs"][0], observation)
        assert np.array_equal(info["perturbed_next_obs"][1], observation)
        assert info["perturbed_rewards"][0] == reward and info["perturbed_terminated"][0] == terminated
    # set_params moves the persistent parameters: the partial models follow them
    env.unwrapped.set_params({"torso_density": 1500.0})
    observation, _ = env.reset(seed=1)
    _, _, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert env.get_wrapper_attr("param_batch")[0, 0] == 1500.0
    assert np.array_equal(info["perturbed_next_obs"][0], info["perturbed_next_obs"][1])


def test_nan_states_and_actions_are_refused_by_the_mujoco_family_too():
    env = make_unwrapped("RobustHopper-v0")
    env.reset(seed=0)
    state = env.get_state()
    before = state.copy()
    with pytest.raises(ValueError, match=r"actions contain NaN or inf: nan at \(0, 1\)"):
        env.sample_next_states(state[None], np.array([[0.0, np.nan, 0.0]]))
    bad = state.copy()
    bad[2] = np.inf
    with pytest.raises(ValueError, match=r"states contain NaN or inf: inf at \(0, 2\)"):
        env.sample_next_states(bad[None], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Action must be finite"):
        env.step(np.array([np.nan, 0.0, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="K = 0"):
        env.sample_next_states(state[None], np.zeros((1, 3)), [])
    assert np.array_equal(env.get_state(), before)
    empty = env.sample_next_states(np.zeros((0, env.state_size)), np.zeros((0, 3)), [{}, {"friction": 0.5}])
    assert empty.observations.shape == (0, 2, 11) and empty.states.shape == (0, 2, env.state_size)


@pytest.mark.parametrize(
    "env_id",
    [
        "RobustHopper-v0",
        "RobustInvertedDoublePendulum-v0",
        "RobustCartPole-v0",
        "RobustPendulum-v0",
        "RobustPendulumSwingup-v0",
        "RobustWalkerWalk-v0",
    ],
)
def test_step_batch_steps_each_row_under_its_own_params_as_step_does(env_id):
    # three copies of the env, each running its own perturbation; one paired batch call must reproduce each copy's
    # step from the same state, bit for bit (one step from a state of get_state)
    probe = make_unwrapped(env_id)
    space = probe.param_space
    names = list(space.names)[:2]
    settings = [{}, {names[0]: space[names[0]].nominal * 1.3}, {names[-1]: space[names[-1]].nominal * 0.8}]
    envs = [make_unwrapped(env_id, params=setting) for setting in settings]
    for i, env in enumerate(envs):
        env.reset(seed=i)
        env.action_space.seed(i)
    for _ in range(5):
        actions = np.stack([env.action_space.sample() for env in envs])
        states = np.stack([env.get_state() for env in envs])
        batch = probe.step_batch(states, actions, settings)
        assert batch.observations.shape[:2] == (3, 1) and batch.states.shape == (3, 1, probe.state_size)
        for i, env in enumerate(envs):
            observation, reward, terminated, _, _ = env.step(actions[i])
            assert np.array_equal(batch.observations[i, 0], observation)
            assert batch.rewards[i, 0] == reward and batch.terminated[i, 0] == terminated


def test_step_batch_needs_one_setting_per_row():
    env = make_unwrapped("RobustHopper-v0")
    env.reset(seed=0)
    states = np.stack([env.get_state()] * 2)
    actions = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"2 states need 2 parameter settings \(one per row\), got 3"):
        env.step_batch(states, actions, [{}, {}, {}])
    empty = env.step_batch(states[:0], actions[:0], [])
    assert empty.observations.shape == (0, 1, 11) and empty.rewards.shape == (0, 1)
