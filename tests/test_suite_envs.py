"""The DeepMind Control Suite family: equality with dm_control, state, sampling, episode ends and input errors.

The shared family tests (``test_envs.py`` ...) run on these ids too; the MuJoCo-only ones there select
subclasses of ``RobustMujocoEnv``, which these envs are not (their physics is dm_control's), so their
equivalents are here.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import robust_envs
from robust_envs.suite.base import RobustSuiteEnv
from tests.conftest import ROBUST_IDS, make_unwrapped

SUITE_IDS = [env_id for env_id in ROBUST_IDS if issubclass(robust_envs.env_class(env_id), RobustSuiteEnv)]
EXPECTED_IDS = [
    "RobustCartpoleBalance-v0",
    "RobustCartpoleSwingup-v0",
    "RobustPendulumSwingup-v0",
    "RobustAcrobotSwingup-v0",
    "RobustHopperHop-v0",
    "RobustHopperStand-v0",
    "RobustWalkerWalk-v0",
    "RobustWalkerRun-v0",
    "RobustCheetahRun-v0",
]


def perturbed_params(env_id: str) -> dict[str, float]:
    """Every parameter away from nominal: lengths by 20 %, the others by 30 % (damping from zero too)."""
    space = robust_envs.env_class(env_id).param_space
    return {
        spec.name: spec.nominal * (1.2 if spec.kind == "geometry" else 1.3) + (0.0 if spec.kind == "geometry" else 0.01)
        for spec in space.specs
    }


def upstream_env(env_id: str, seed: int):
    from dm_control import suite

    cls = robust_envs.env_class(env_id)
    return suite.load(cls.domain, cls.task_name, task_kwargs={"random": seed})


def flat(timestep) -> np.ndarray:
    from dm_control.rl.control import flatten_observation

    return flatten_observation(timestep.observation)["observations"]


def test_all_nine_ids_are_registered_with_the_suite_time_limit():
    assert SUITE_IDS == EXPECTED_IDS
    for env_id in SUITE_IDS:
        assert gym.spec(env_id).max_episode_steps == 1000
        env = make_unwrapped(env_id)
        upstream = upstream_env(env_id, 0)
        # the suite's time limit in control steps, and the same action repeat
        assert upstream._step_limit == 1000 and env._n_sub_steps == upstream._n_sub_steps
        assert env.dt == pytest.approx(upstream.control_timestep())


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_nominal_reproduces_dm_control(env_id):
    robust = gym.make(env_id)
    # an episode under other parameters first: going back to nominal must restore the upstream model exactly
    robust.reset(seed=0, options={"params": perturbed_params(env_id)})
    robust.step(robust.action_space.sample())
    obs, _ = robust.reset(seed=7)
    upstream = upstream_env(env_id, 7)
    assert np.array_equal(obs, flat(upstream.reset()))
    rng = np.random.default_rng(0)
    for t in range(300):
        if t == 150:
            # unseeded resets continue the task's RandomState, as consecutive dm_control resets do
            assert np.array_equal(robust.reset()[0], flat(upstream.reset()))
        action = rng.uniform(-1.0, 1.0, robust.action_space.shape).astype(np.float32)
        observation, reward, terminated, truncated, info = robust.step(action)
        timestep = upstream.step(action)
        assert np.array_equal(observation, flat(timestep)) and reward == timestep.reward
        assert not terminated and not truncated and timestep.mid()
    assert info["params"] == robust.unwrapped.param_space.to_dict(robust.unwrapped.param_space.nominal)


@pytest.mark.parametrize(("env_id", "control_timestep"), [("RobustPendulumSwingup-v0", 0.08), ("RobustCheetahRun-v0", 0.04)])
def test_control_timestep_reproduces_dm_control_environment_kwargs(env_id, control_timestep):
    from dm_control import suite

    cls = robust_envs.env_class(env_id)
    robust = gym.make(env_id, control_timestep=control_timestep, params=perturbed_params(env_id))
    robust.reset(seed=5)
    robust.unwrapped.set_params(None)  # back to nominal for the next episode, which dm_control can run too
    obs, _ = robust.reset(seed=5)
    upstream = suite.load(
        cls.domain, cls.task_name, task_kwargs={"random": 5}, environment_kwargs={"control_timestep": control_timestep}
    )
    assert robust.unwrapped.dt == pytest.approx(control_timestep) == upstream.control_timestep()
    assert np.array_equal(obs, flat(upstream.reset()))
    rng = np.random.default_rng(1)
    for _ in range(60):
        action = rng.uniform(-1.0, 1.0, robust.action_space.shape).astype(np.float32)
        state = robust.unwrapped.get_state()
        observation, reward, *_ = robust.step(action)
        timestep = upstream.step(action)
        assert np.array_equal(observation, flat(timestep)) and reward == timestep.reward
        # the K next states run the same physics steps per agent step
        sampled = robust.unwrapped.sample_next_states(state[None], action[None])
        assert np.array_equal(sampled.observations[0, 0], observation) and sampled.rewards[0, 0] == reward


@pytest.mark.parametrize("bad", [0.03, 0.0, -0.08, float("nan"), "0.08", True])
def test_control_timestep_rejects_what_is_not_a_multiple_of_the_physics_step(bad):
    with pytest.raises(ValueError, match="control_timestep"):
        make_unwrapped("RobustPendulumSwingup-v0", control_timestep=bad)


def test_time_limit_truncates_where_dm_control_ends_the_episode():
    robust = gym.make("RobustCartpoleBalance-v0")
    upstream = upstream_env("RobustCartpoleBalance-v0", 3)
    robust.reset(seed=3)
    upstream.reset()
    action = np.zeros(1, dtype=np.float32)
    for step in range(1, 1001):
        _, _, terminated, truncated, _ = robust.step(action)
        timestep = upstream.step(action)
        assert truncated == timestep.last() == (step == 1000)
        assert not terminated and (not timestep.last() or timestep.discount == 1.0)


@pytest.mark.parametrize(
    ("discount", "terminated", "truncated"), [(None, False, False), (0.0, True, False), (1.0, False, True)]
)
def test_dm_env_discount_maps_to_terminated_and_truncated(discount, terminated, truncated):
    env = make_unwrapped("RobustHopperStand-v0")
    env.reset(seed=0)
    env.task.get_termination = lambda physics: discount
    _, _, got_terminated, got_truncated, _ = env.step(np.zeros(4, dtype=np.float32))
    assert (got_terminated, got_truncated) == (terminated, truncated)
    states = env.get_state()[None]
    assert env.sample_next_states(states, np.zeros((1, 4))).terminated[0, 0] == terminated


def test_seed_maps_onto_the_task_random_state():
    env = make_unwrapped("RobustCartpoleSwingup-v0")
    first, _ = env.reset(seed=11)
    assert np.array_equal(first, flat(upstream_env("RobustCartpoleSwingup-v0", 11).reset()))
    again, _ = env.reset(seed=11)
    other, _ = env.reset(seed=12)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    # seeds beyond RandomState's range go through np_random, deterministically
    big_a, _ = env.reset(seed=2**40)
    big_b, _ = env.reset(seed=2**40)
    assert np.array_equal(big_a, big_b)


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_get_set_state_resumes_exactly(env_id):
    env = make_unwrapped(env_id, params=perturbed_params(env_id))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (30, *env.action_space.shape)).astype(np.float32)
    for action in actions[:10]:
        env.step(action)
    state = env.get_state()
    first = [env.step(a) for a in actions[10:]]
    env.set_state(state)
    second = [env.step(a) for a in actions[10:]]
    for (o1, r1, *_), (o2, r2, *_) in zip(first, second, strict=True):
        assert np.array_equal(o1, o2) and r1 == r2


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_sample_k1_equals_step_and_leaves_the_episode_untouched(env_id):
    env = make_unwrapped(env_id)
    env.reset(seed=1)
    env.action_space.seed(1)
    others = [{}, perturbed_params(env_id)]
    for _ in range(20):
        action = env.action_space.sample()
        state = env.get_state()
        sampled = env.sample_next_states(state[None], action[None])
        both = env.sample_next_states(state[None], action[None], others)
        assert np.array_equal(env.get_state(), state), "sampling must not move the live simulation"
        observation, reward, terminated, _, _ = env.step(action)
        assert np.array_equal(sampled.observations[0, 0], observation) and sampled.rewards[0, 0] == reward
        assert np.array_equal(both.observations[0, 0], observation)
        assert sampled.terminated[0, 0] == terminated
        assert np.array_equal(sampled.states[0, 0], env.get_state())
    assert not np.array_equal(both.observations[0, 0], both.observations[0, 1])


@pytest.mark.parametrize("env_id", SUITE_IDS)
def test_sampling_shapes_and_rows(env_id):
    env = make_unwrapped(env_id)
    env.reset(seed=3)
    space = env.param_space
    models = [{}, {space.specs[0].name: space.specs[0].nominal * 1.1}, {space.specs[-1].name: space.specs[-1].nominal * 3.0}]
    states, actions = [], []
    for _ in range(4):
        action = env.action_space.sample()
        states.append(env.get_state())
        actions.append(action)
        env.step(action)
    out = env.sample_next_states(np.stack(states), np.stack(actions), models)
    obs_dim = env.observation_space.shape[0]
    assert out.observations.shape == (4, 3, obs_dim) and out.observations.dtype == env.observation_space.dtype
    assert out.rewards.shape == (4, 3) and out.terminated.shape == (4, 3) and out.terminated.dtype == bool
    assert out.states.shape == (4, 3, env.state_size)
    assert not np.array_equal(out.observations[:, 0], out.observations[:, 1])
    # row 2 under model 1 is a step of an env made with that model
    other = make_unwrapped(env_id, params=models[1])
    other.reset(seed=0)
    other.set_state(states[2])
    assert np.array_equal(other.step(actions[2])[0], out.observations[2, 1])


def test_declared_nominals_match_the_dm_control_model():
    for env_id in SUITE_IDS:
        env = make_unwrapped(env_id)
        model = env.physics.model.ptr
        for spec in env.param_space.specs:
            if spec.kind == "dof_damping":
                assert model.dof_damping[model.jnt_dofadr[model.joint(spec.targets[0]).id]] == spec.nominal, spec.name
            elif spec.kind == "mass_scale":
                assert model.body(spec.targets[0]).mass[0] == spec.nominal, spec.name


def test_bad_input_raises_value_errors():
    env = make_unwrapped("RobustWalkerWalk-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Action must have shape \(6,\), got \(5,\)"):
        env.step(np.zeros(5))
    with pytest.raises(ValueError, match="Action must be finite"):
        env.step(np.full(6, np.nan))
    with pytest.raises(ValueError, match="does not fit"):
        env.set_state(np.zeros(3))
    bad = env.get_state()
    bad[2] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        env.set_state(bad)
    state = env.get_state()[None]
    with pytest.raises(ValueError, match="actions must have shape"):
        env.sample_next_states(state, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="states must have shape"):
        env.sample_next_states(np.zeros((1, 4)), np.zeros((1, 6)))
    with pytest.raises(ValueError, match="Did you mean 'thigh_length'"):
        env.sample_next_states(state, np.zeros((1, 6)), [{"thigh_lenght": 0.3}])
    with pytest.raises(ValueError, match=r"outside its physical bounds \[-1.5, -0.05\]"):
        gym.make("RobustHopperHop-v0", params={"calf_length": 0.32})
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        robust_envs.env_class("RobustCheetahRun-v0")(render_mode="human")
    with pytest.raises(gym.error.ResetNeeded):
        make_unwrapped("RobustCheetahRun-v0").step(np.zeros(6))


def test_importing_robust_envs_and_its_presets_does_not_import_dm_control():
    code = (
        "import sys, robust_envs; robust_envs.get_preset('mankowitz2020/walker-walk/holdout'); "
        "assert 'dm_control' not in sys.modules, 'dm_control imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shared_wrappers_work_on_suite_envs():
    from robust_envs.wrappers import DomainRandomization, ForceDisturbance, PerturbedTransitions

    uncertainty = robust_envs.get_preset("mankowitz2020/hopper-hop/uncertainty")
    env = PerturbedTransitions(gym.make("RobustHopperHop-v0"), uncertainty)
    env.reset(seed=0)
    observation, reward, *_, info = env.step(np.full(4, 0.3, dtype=np.float32))
    # the first member (-0.32) is the nominal model the episode runs in
    assert np.array_equal(info["perturbed_next_obs"][0], observation) and info["perturbed_rewards"][0] == reward
    assert not np.array_equal(info["perturbed_next_obs"][2], observation)

    holdout = robust_envs.get_preset("mankowitz2020/walker-walk/holdout")
    randomized = DomainRandomization(gym.make("RobustWalkerWalk-v0"), holdout)
    seen = {randomized.reset(seed=s)[1]["params"]["thigh_length"] for s in range(6)}
    assert seen <= {0.35, 0.375, 0.4} and len(seen) > 1

    def forward_speed(force: float) -> float:
        pushed = ForceDisturbance(gym.make("RobustCheetahRun-v0"), bodies=["torso"], max_force=50.0)
        pushed.reset(seed=0)
        pushed.set_disturbance(np.array([force, 0.0]))
        for _ in range(20):
            pushed.step(np.zeros(6, dtype=np.float32))
        return float(pushed.unwrapped.physics.speed())

    # 50 N on the 14 kg cheetah for 0.2 s: at most 0.71 m/s more without ground friction
    assert 0.1 < forward_speed(50.0) - forward_speed(0.0) < 0.72


def test_evaluate_robustness_over_a_table_3_set():
    holdout = robust_envs.get_preset("mankowitz2020/pendulum-swingup/holdout")
    report = robust_envs.evaluate_robustness(lambda obs: np.zeros(1, dtype=np.float32), "RobustPendulumSwingup-v0", holdout, 1)
    assert report.cells == [dict(m) for m in holdout.members]
    assert report.returns.shape == (3, 1) and np.all(report.lengths == 1000)
    # a pendulum left alone hangs down: it never earns the upright reward, whatever its ball
    assert np.all(report.returns < 5.0)
