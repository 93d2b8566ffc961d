"""RobustPendulum-v0: Gymnasium conventions, physics oracles, next-state sampling and the disturbance channel."""

from __future__ import annotations

import math
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import robust_envs  # noqa: F401  (registers the ids)
from robust_envs.pendulum import RobustPendulumEnv, linearized_model

ENV_ID = "RobustPendulum-v0"


def make(**params: float) -> RobustPendulumEnv:
    env = RobustPendulumEnv(params=params or None)
    env.reset(seed=0)
    return env


def run_free(env: RobustPendulumEnv, state: list[float], steps: int, action: float = 0.0) -> np.ndarray:
    """:return: the (steps + 1, 4) states from ``state`` with a constant action."""
    env.set_state(np.array(state, dtype=np.float64))
    states = [env.get_state()]
    for _ in range(steps):
        env.step(np.array([action], dtype=np.float32))
        states.append(env.get_state())
    return np.array(states)


# ---- Gymnasium and SB3 conventions --------------------------------------------------------------
def test_gymnasium_check_env_only_box_infinity_warnings():
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    unexpected = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert unexpected == []


def test_sb3_check_env():
    env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(ENV_ID, params={"mass": 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # SB3 only recommends bounded observations; the angular velocity is unbounded
        warnings.filterwarnings("ignore", message=".*(infinite|unbounded|normaliz).*")
        env_checker.check_env(env, warn=True)


def test_registration_and_time_limit():
    env = gym.make(ENV_ID)
    assert env.spec.max_episode_steps == 1000
    assert env.unwrapped.dt * env.spec.max_episode_steps == pytest.approx(20.0)  # Doya's 20 s trials
    env.reset(seed=1)
    for step in range(1000):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        assert truncated == (step == 999)


def test_determinism_with_seed():
    def rollout(seed: int) -> np.ndarray:
        env = gym.make(ENV_ID)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(50):
            obs, *_ = env.step(env.action_space.sample())
            out.append(obs)
        return np.array(out)

    np.testing.assert_array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


def test_pickle_round_trip_keeps_params_and_behaviour():
    env = RobustPendulumEnv(params={"mass": 2.5, "friction": 0.2}, dt=0.01, max_torque=4.0)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.params == env.params
    assert (clone.dt, clone.max_torque) == (0.01, 4.0)
    obs_a, _ = env.reset(seed=5)
    obs_b, _ = clone.reset(seed=5)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(env.step(np.array([0.3]))[0], clone.step(np.array([0.3]))[0])


def test_spec_json_round_trip_with_params():
    env = gym.make(ENV_ID, params={"mass": np.float64(3.0), "friction": 0.3})
    spec = EnvSpec.from_json(env.spec.to_json())
    remade = gym.make(spec)
    _, info = remade.reset(seed=0)
    assert info["params"] == {"mass": 3.0, "length": 1.0, "friction": 0.3, "gravity": 9.8}


def test_info_reports_params_and_disturbance():
    env = gym.make(ENV_ID, params={"length": 2.0})
    _, info = env.reset(seed=0, options={"params": {"gravity": 5.0}})
    assert info["params"] == {"mass": 1.0, "length": 2.0, "friction": 0.01, "gravity": 5.0}
    env.unwrapped.set_disturbance(np.array([1.5]))
    _, _, _, _, info = env.step(np.zeros(1, dtype=np.float32))
    assert info["params"]["gravity"] == 5.0
    np.testing.assert_array_equal(info["disturbance"], [1.5])


# ---- physics oracles --------------------------------------------------------------------------------
def test_small_oscillation_period_about_the_downward_equilibrium():
    length, gravity = 2.0, 9.8
    env = make(length=length, gravity=gravity, friction=0.0)
    states = run_free(env, [math.pi + 0.01, 0.0, 0.0, 0.0], 2000)
    deviation = states[:, 0] - math.pi
    # upward zero crossings, linearly interpolated
    idx = np.nonzero((deviation[:-1] < 0) & (deviation[1:] >= 0))[0]
    times = (idx + deviation[idx] / (deviation[idx] - deviation[idx + 1])) * env.dt
    period = np.mean(np.diff(times))
    assert period == pytest.approx(2 * math.pi * math.sqrt(length / gravity), rel=0.01)


@pytest.mark.parametrize("mass", [1.0, 2.0])
def test_heavier_mass_needs_mgl_sin_theta_to_hold(mass):
    theta = 0.2
    env = make(mass=mass)
    hold = -mass * 9.8 * 1.0 * math.sin(theta)  # torque balancing gravity at theta
    states = run_free(env, [theta, 0.0, 0.0, 0.0], 1, action=hold / env.max_torque)
    assert abs(states[-1, 1]) < 1e-3  # only the tiny friction-free drift of the RK4 step
    # the light pendulum's holding torque is m_delta g l sin(theta) short for the heavy one
    if mass > 1.0:
        light = -1.0 * 9.8 * math.sin(theta) / env.max_torque
        states = run_free(env, [theta, 0.0, 0.0, 0.0], 1, action=light)
        expected = (mass - 1.0) * 9.8 * math.sin(theta) / mass * env.dt
        assert states[-1, 1] == pytest.approx(expected, rel=0.02)


def test_friction_decays_velocity_exponentially():
    mass, length, mu = 2.0, 1.5, 0.9
    env = make(mass=mass, length=length, friction=mu, gravity=0.0)
    states = run_free(env, [0.0, 2.0, 0.0, 0.0], 50)
    expected = 2.0 * np.exp(-mu / (mass * length**2) * env.dt * np.arange(51))
    np.testing.assert_allclose(states[:, 1], expected, rtol=1e-8)


def test_disturbance_shifts_velocity_by_w_over_ml2_dt():
    mass, length = 1.5, 1.2
    for gravity, rel in ((0.0, 1e-12), (9.8, 0.02)):
        env = make(mass=mass, length=length, gravity=gravity, friction=0.0)
        free = run_free(env, [0.3, 0.5, 0.0, 0.0], 1)
        pushed = run_free(env, [0.3, 0.5, 2.0, 0.0], 1)
        shift = pushed[-1, 1] - free[-1, 1]
        assert shift == pytest.approx(2.0 / (mass * length**2) * env.dt, rel=rel)


def test_reward_is_step_average_of_the_paper_reward():
    env = make()
    env.set_state(np.zeros(4))
    _, reward, *_ = env.step(np.zeros(1))
    assert reward == 0.0  # upright, no torque
    env.set_state(np.array([math.pi, 0.0, 0.0, 0.0]))
    _, reward, *_ = env.step(np.array([1.0]))
    # hanging down: cos(pi) - 1 = -2, and 0.04 * 5^2 = 1 for full torque (the angle barely moves in one step)
    assert reward == pytest.approx(-3.0, abs=1e-3)
    assert env.control_cost_matrix[0, 0] == pytest.approx(1.0)


def test_linearized_model_matches_finite_differences():
    params = {"mass": 2.0, "length": 0.5, "friction": 0.3, "gravity": 9.8}
    a, b1, b2 = linearized_model(params)
    env = make(**params)
    eps = 1e-6

    def accel(theta: float, theta_dot: float, torque: float) -> float:
        vec = env.param_space.resolve(params)[None, :]
        return env._derivatives(np.array([theta]), np.array([theta_dot]), np.array([torque]), vec)[1][0]

    numeric = np.array([[0.0, 1.0], [accel(eps, 0, 0) / eps, accel(0, eps, 0) / eps]])
    np.testing.assert_allclose(a, numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(b2[:, 0], [0.0, accel(0, 0, eps) / eps], rtol=1e-5)
    np.testing.assert_array_equal(b1, b2)
    g1, g2 = env.input_gains(np.zeros(2))
    np.testing.assert_array_equal(g1, b1)
    np.testing.assert_allclose(g2, b2 * env.max_torque)
    np.testing.assert_array_equal(env.linearized_model()[0], a)


# ---- next-state sampling ------------------------------------------------------------------------------
def test_sample_next_states_k1_equals_step_and_leaves_state_untouched():
    env = make(mass=1.3)
    env.step(np.array([0.4]))
    env.set_disturbance(np.array([0.7]))
    before = env.get_state()
    sampled = env.sample_next_states(None, np.array([-0.6]))
    np.testing.assert_array_equal(env.get_state(), before)
    obs, reward, terminated, _, _ = env.step(np.array([-0.6]))
    assert sampled.observations.shape == (1, 1, 2)
    np.testing.assert_array_equal(sampled.observations[0, 0], obs)
    assert sampled.rewards[0, 0] == reward
    assert sampled.terminated[0, 0] == terminated
    np.testing.assert_array_equal(sampled.states[0, 0], env.get_state())


def test_sample_next_states_batch_matches_separate_envs():
    env = make()
    rng = np.random.default_rng(0)
    states = np.column_stack((rng.uniform(-3, 3, 5), rng.uniform(-2, 2, 5), rng.uniform(-1, 1, 5), np.zeros(5)))
    actions = rng.uniform(-1, 1, (5, 1))
    params = [{"mass": 1.0}, {"mass": 3.0, "friction": 0.3}]
    out = env.sample_next_states(states, actions, params)
    assert out.states.shape == (5, 2, 4) and out.rewards.shape == (5, 2) and out.terminated.shape == (5, 2)
    for k, p in enumerate(params):
        other = make(**p)
        for n in range(5):
            other.set_state(states[n])
            obs, reward, *_ = other.step(actions[n])
            np.testing.assert_allclose(out.observations[n, k], obs, rtol=1e-12, atol=1e-12)
            assert out.rewards[n, k] == pytest.approx(reward, rel=1e-12)


# ---- the disturbance channel ----------------------------------------------------------------------------
def test_disturbance_is_held_clipped_and_reset():
    env = make()
    assert env.disturbance_space.shape == (1,)
    env.set_disturbance(np.array([1.0]))
    for _ in range(3):
        _, _, _, _, info = env.step(np.zeros(1))
        np.testing.assert_array_equal(info["disturbance"], [1.0])
    env.set_disturbance(np.array([100.0]))
    np.testing.assert_array_equal(env.disturbance, [env.max_disturbance])
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["disturbance"], [0.0])
    np.testing.assert_array_equal(env.disturbance, [0.0])


@pytest.mark.parametrize("bad", [np.array([np.nan]), np.array([1.0, 2.0]), np.ones((1, 1, 1)), np.array([np.inf])])
def test_set_disturbance_rejects_bad_values(bad):
    env = make()
    with pytest.raises(ValueError, match="Disturbance"):
        env.set_disturbance(bad)


# ---- bad inputs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"params": {"mas": 1.0}}, "Did you mean 'mass'"),
        ({"params": {"mass": -1.0}}, "outside its physical bounds"),
        ({"params": {"friction": math.nan}}, "finite"),
        ({"dt": 0.0}, "dt"),
        ({"max_torque": -1.0}, "max_torque"),
        ({"control_cost": -0.1}, "control_cost"),
        ({"render_mode": "human"}, "render"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RobustPendulumEnv(**kwargs)


def test_bad_step_state_and_sample_inputs():
    env = make()
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="shape"):
        env.set_state(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        env.set_state(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="states"):
        env.sample_next_states(np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="actions"):
        env.sample_next_states(np.zeros((2, 4)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="Unknown reset option"):
        env.reset(options={"state": [0, 0]})


@pytest.mark.sb3
def test_make_vec_env_works_and_renders():
    from stable_baselines3.common.env_util import make_vec_env

    vec_env = make_vec_env("RobustPendulum-v0", n_envs=2, seed=0)  # SB3 asks for render_mode="rgb_array"
    vec_env.reset()
    vec_env.step(np.zeros((2, 1), dtype=np.float32))
    image = vec_env.env_method("render", indices=0)[0]
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8 and (image != 255).any()
