"""RobustCartPole-v0: CartPole-v1 reproduced exactly, the cart-pole equations under other parameters, sampling."""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import robust_envs
from robust_envs.presets import get_preset

ID = "RobustCartPole-v0"


def _compare_with_upstream(robust, upstream, seeds, rng, reset_options=None, steps_after_end=0):
    for seed in seeds:
        obs_r, _ = robust.reset(seed=seed, options=reset_options)
        obs_u, _ = upstream.reset(seed=seed, options=reset_options)
        assert obs_r.dtype == np.float32 and np.array_equal(obs_r, obs_u)
        extra = steps_after_end
        while True:
            action = int(rng.integers(2))
            o_r, r_r, t_r, tr_r, _ = robust.step(action)
            o_u, r_u, t_u, tr_u, _ = upstream.step(action)
            assert np.array_equal(o_r, o_u) and (r_r, t_r, tr_r) == (r_u, t_u, tr_u)
            assert type(r_r) is float
            if t_r or tr_r:
                if extra == 0:
                    break
                extra -= 1


def test_nominal_reproduces_cartpole_v1_bit_for_bit():
    robust, upstream = gym.make(ID), gym.make("CartPole-v1")
    # an episode under other parameters first: nominal must come back exactly
    robust.reset(seed=0, options={"params": {"pole_length": 2.0, "force_mag": 3.0}})
    robust.step(1)
    _compare_with_upstream(robust, upstream, range(40), np.random.default_rng(0))
    # Gymnasium's reset bounds
    _compare_with_upstream(robust, upstream, [5], np.random.default_rng(1), reset_options={"low": -0.2, "high": 0.2})


@pytest.mark.filterwarnings("ignore:.*calling 'step\\(\\)' even though")
def test_steps_after_termination_and_other_variants_match_upstream():
    rng = np.random.default_rng(2)
    # the raw envs (no order enforcing/TimeLimit): 0 reward after termination, as Gymnasium counts it
    robust = robust_envs.env_class(ID)()
    upstream = gym.make("CartPole-v1").unwrapped
    _compare_with_upstream(robust, upstream, [3, 4], rng, steps_after_end=5)
    for kwargs in ({"sutton_barto_reward": True}, {"kinematics_integrator": "semi-implicit euler"}):
        robust = robust_envs.env_class(ID)(**kwargs)
        upstream = gym.make("CartPole-v1", sutton_barto_reward=kwargs.get("sutton_barto_reward", False)).unwrapped
        upstream.kinematics_integrator = kwargs.get("kinematics_integrator", "euler")
        _compare_with_upstream(robust, upstream, [6, 7], rng, steps_after_end=3)


def _one_step_from_rest(params, action=1, theta=0.0):
    env = gym.make(ID, params=params).unwrapped
    env.reset(seed=0)
    env.set_state(np.array([0.0, 0.0, theta, 0.0, -1.0]))
    env.step(action)
    state = env.get_state()
    # one Euler step from rest: velocities are tau times the accelerations
    return state[1] / 0.02, state[3] / 0.02


def test_pole_length_changes_the_angular_acceleration_as_the_equations_predict():
    # From rest at theta = 0 with F = +10 N, m_p = 0.1, m_c = 1: t = F / M = 100/11 and
    # theta'' = -t / (l (4/3 - m_p/M)) = -(100/11) / (l * 41/33) = -(300/41) / l;
    # x'' = t - m_p l theta'' / M = 100/11 + (30/41) * (10/11) = 400/41, whatever the length.
    xacc_short, thetaacc_short = _one_step_from_rest({"pole_length": 0.5})
    xacc_long, thetaacc_long = _one_step_from_rest({"pole_length": 1.0})
    assert thetaacc_short == pytest.approx(-600.0 / 41.0, rel=1e-12)
    assert thetaacc_long == pytest.approx(-300.0 / 41.0, rel=1e-12)
    assert xacc_short == pytest.approx(400.0 / 41.0, rel=1e-12)
    assert xacc_long == pytest.approx(400.0 / 41.0, rel=1e-12)


def test_force_and_masses_scale_the_accelerations():
    # at theta = 0 both accelerations are linear in F
    xacc, thetaacc = _one_step_from_rest({"force_mag": 20.0}, action=0)
    assert xacc == pytest.approx(-800.0 / 41.0, rel=1e-12) and thetaacc == pytest.approx(1200.0 / 41.0, rel=1e-12)
    # heavier pole (m_p = 1, M = 2, l = 0.5): theta'' = -(10/2) / (0.5 (4/3 - 1/2)) = -12, x'' = 5 - 0.5 * -12 / 2 = 8
    xacc, thetaacc = _one_step_from_rest({"pole_mass": 1.0})
    assert thetaacc == pytest.approx(-12.0, rel=1e-12) and xacc == pytest.approx(8.0, rel=1e-12)
    # no force, tilted by 0.1 rad, heavier cart (m_c = 9, M = 9.1): theta'' = g sin / (l (4/3 - m_p cos^2 / M))
    _, thetaacc = _one_step_from_rest({"cart_mass": 9.0, "force_mag": 0.0}, theta=0.1)
    expected = 9.8 * math.sin(0.1) / (0.5 * (4.0 / 3.0 - 0.1 * math.cos(0.1) ** 2 / 9.1))
    assert thetaacc == pytest.approx(expected, rel=1e-12)


def _free_swing_period(length: float, steps: int = 600) -> float:
    # the pole hanging down (theta = pi) with no push, released 0.01 rad off; stepped through the sampler,
    # which does not stop at the (upright-task) termination
    env = gym.make(ID, params={"pole_length": length, "force_mag": 0.0}).unwrapped
    env.reset(seed=0)
    state = np.array([0.0, 0.0, math.pi + 0.01, 0.0, -1.0])
    phis = []
    for _ in range(steps):
        state = env.sample_next_states(state[None], np.array([0])).states[0, 0]
        phis.append(state[2] - math.pi)
    phis = np.array(phis)
    # upward zero crossings, interpolated linearly between steps
    idx = np.nonzero((phis[:-1] < 0) & (phis[1:] >= 0))[0]
    crossings = idx + phis[idx] / (phis[idx] - phis[idx + 1])
    return float(np.mean(np.diff(crossings))) * 0.02


def test_a_longer_pole_swings_slower_as_the_linearised_equations_predict():
    # About theta = pi, theta = pi + phi: phi'' = -g phi / (l (4/3 - m_p / (m_p + m_c))), so the period is
    # 2 pi sqrt(l (4/3 - m_p/M) / g): 1.582 s for l = 0.5, twice that for l = 2.
    periods = {length: _free_swing_period(length) for length in (0.5, 2.0)}
    for length, period in periods.items():
        expected = 2 * math.pi * math.sqrt(length * (4.0 / 3.0 - 0.1 / 1.1) / 9.8)
        assert period == pytest.approx(expected, rel=0.01)
    assert periods[2.0] / periods[0.5] == pytest.approx(2.0, rel=0.01)


def test_sample_k1_equals_step_bit_for_bit_and_leaves_the_episode_alone():
    env = gym.make(ID, params={"pole_mass": 0.3}).unwrapped
    env.reset(seed=1)
    rng = np.random.default_rng(3)
    for _ in range(200):
        action = int(rng.integers(2))
        state = env.get_state()
        sampled = env.sample_next_states(state[None], np.array([action]))
        others = env.sample_next_states(None, np.array([[action]]), [{"pole_length": 3.0}, {"force_mag": 1.0}])
        assert np.array_equal(env.get_state(), state), "sampling must not touch the episode"
        observation, reward, terminated, _, _ = env.step(action)
        assert np.array_equal(sampled.observations[0, 0], observation) and sampled.observations.dtype == np.float32
        assert sampled.rewards[0, 0] == reward and sampled.terminated[0, 0] == terminated
        assert np.array_equal(sampled.states[0, 0], env.get_state())
        assert not np.array_equal(others.observations[0, 0], others.observations[0, 1])
        if terminated:
            env.reset()


@pytest.mark.filterwarnings("ignore:.*calling 'step\\(\\)' even though")
def test_sampling_batches_match_single_rows():
    env = gym.make(ID).unwrapped
    env.reset(seed=2)
    rng = np.random.default_rng(4)
    n = 64
    states = np.column_stack((rng.uniform(-2.5, 2.5, (n, 4)), rng.choice([-1.0, 0.0, 3.0], n)))
    actions = rng.integers(0, 2, n)
    preset = get_preset("jiang2021/cartpole/test")
    models = preset.grid(2)
    batch = env.sample_next_states(states, actions, models)
    assert batch.observations.shape == (n, len(models), 4) and batch.states.shape == (n, len(models), 5)
    for row in (0, 17, 63):
        for k, model in enumerate(models):
            env.reset(options={"params": model})
            env.set_state(states[row])
            observation, reward, terminated, _, _ = env.step(int(actions[row]))
            assert np.array_equal(batch.observations[row, k], observation)
            assert batch.rewards[row, k] == reward and batch.terminated[row, k] == terminated
            assert np.array_equal(batch.states[row, k], env.get_state())


def test_params_are_reported_and_pickled():
    env = gym.make(ID, params={"force_mag": 5.0})
    _, info = env.reset(seed=0, options={"params": {"pole_length": 1.5}})
    assert info["params"] == {"force_mag": 5.0, "pole_length": 1.5, "pole_mass": 0.1, "cart_mass": 1.0}
    assert env.unwrapped.length == 1.5 and env.unwrapped.polemass_length == pytest.approx(0.15)
    copy = pickle.loads(pickle.dumps(env))
    assert copy.unwrapped.params["force_mag"] == 5.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda env: env.step(2), "must be 0 .* or 1"),
        (lambda env: env.step(0.5), "integer"),
        (lambda env: env.step(True), "integer"),
        (lambda env: env.step(np.array([0, 1])), r"1 integer\(s\)"),
        (lambda env: env.reset(options={"lo": 0.1}), r"Unknown reset option\(s\) \['lo'\]"),
        (lambda env: env.reset(options={"params": {"pole_lenght": 1.0}}), "Did you mean 'pole_length'"),
        (lambda env: env.reset(options={"params": {"pole_mass": -1.0}}), "outside its physical bounds"),
        (lambda env: env.set_state(np.zeros(4)), r"expected \(5,\)"),
        (lambda env: env.set_state(np.array([0, 0, np.nan, 0, -1.0])), "NaN"),
        (lambda env: env.set_state(np.array([0, 0, 0, 0, 0.5])), "steps_beyond_terminated"),
        (lambda env: env.sample_next_states(np.zeros((2, 5)) - [0, 0, 0, 0, 1], np.array([0])), r"actions must have shape"),
        (lambda env: env.sample_next_states(None, np.array([1]), [{"force": 1.0}]), "Unknown parameter 'force'"),
    ],
)
def test_bad_input_raises_value_errors(call, message):
    env = gym.make(ID).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        call(env)


def test_bad_constructor_arguments():
    cls = robust_envs.env_class(ID)
    with pytest.raises(ValueError, match="kinematics_integrator"):
        cls(kinematics_integrator="rk4")
    with pytest.raises(ValueError, match="render_mode"):
        cls(render_mode="depth_array")


def test_jiang_presets():
    train, test = get_preset("jiang2021/cartpole/train"), get_preset("jiang2021/cartpole/test")
    assert train.low == {"force_mag": 1.0, "pole_length": 0.05, "pole_mass": 0.01}
    assert train.high == {"force_mag": 20.0, "pole_length": 1.0, "pole_mass": 1.0}
    assert test.low == {"force_mag": 10.0, "pole_length": 1.0, "pole_mass": 1.0}
    assert test.high == {"force_mag": 10.0, "pole_length": 6.0, "pole_mass": 6.0}
    assert "Table 1" in train.source
