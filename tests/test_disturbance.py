"""The disturbance channel: one protocol, found through wrappers, validated, part of the state and of sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import OrderEnforcing, TimeLimit

import robust_envs  # noqa: F401  (registers the ids)
from robust_envs.disturbance import DISTURBANCE_KEY, DisturbanceChannel, check_disturbance, find_disturbance_channel
from robust_envs.linear_quadratic import LinearQuadraticGameEnv
from robust_envs.pendulum import RobustPendulumEnv
from robust_envs.wrappers import DisturbedByPolicy, DisturberEnv, ForceDisturbance

HOPPER_ACTION = np.array([0.3, -0.2, 0.5], dtype=np.float32)


def hopper_force(**kwargs: Any) -> ForceDisturbance:
    """A Hopper pushed at the torso and the foot (four force components), reset and stepped a little."""
    env = ForceDisturbance(gym.make("RobustHopper-v0", **kwargs), ["torso", "foot"], max_force=20.0)
    env.reset(seed=0)
    for _ in range(5):
        env.step(HOPPER_ACTION)
    return env


def pendulum() -> RobustPendulumEnv:
    env = RobustPendulumEnv()
    env.reset(seed=0)
    return env


def linear_quadratic() -> LinearQuadraticGameEnv:
    env = LinearQuadraticGameEnv.from_pendulum()
    env.reset(seed=0)
    return env


#: every implementer of the channel, made ready to step, with a valid disturbance of its shape
IMPLEMENTERS: dict[str, tuple[Callable[[], Any], np.ndarray]] = {
    "force": (hopper_force, np.array([5.0, -3.0, 1.0, 2.0])),
    "pendulum": (pendulum, np.array([0.7])),
    "linear-quadratic": (linear_quadratic, np.array([0.4])),
}


@pytest.fixture(params=sorted(IMPLEMENTERS))
def channel(request) -> tuple[Any, np.ndarray]:
    make, w = IMPLEMENTERS[request.param]
    return make(), w


# ---- the protocol ----------------------------------------------------------------------------------------------
def test_implementers_satisfy_the_protocol(channel):
    env, w = channel
    assert isinstance(env, DisturbanceChannel)
    assert isinstance(env.disturbance_space, gym.spaces.Box)
    np.testing.assert_array_equal(env.disturbance, np.zeros(env.disturbance_space.shape))
    env.set_disturbance(w)
    np.testing.assert_array_equal(env.disturbance, w)
    held = env.disturbance
    held[:] = 99.0  # a copy: the held value does not change
    np.testing.assert_array_equal(env.disturbance, w)


def test_envs_and_wrappers_without_a_channel_do_not_satisfy_it():
    hopper = gym.make("RobustHopper-v0")
    assert not isinstance(hopper, DisturbanceChannel)
    assert not isinstance(hopper.unwrapped, DisturbanceChannel)  # get_state and set_state, but no disturbance
    assert not isinstance(gym.make("RobustPendulum-v0"), DisturbanceChannel)  # the wrappers do not forward


def test_clipping_rule(channel):
    env, w = channel
    high = env.disturbance_space.high.astype(np.float64)
    env.set_disturbance(1e6 * np.sign(w))
    np.testing.assert_array_equal(env.disturbance, high * np.sign(w))


@pytest.mark.parametrize(
    "bad",
    [np.zeros(7), np.ones((1, 1, 1)), "strong", None, np.array([np.nan]), np.array([np.inf]), [True], object()],
    ids=["shape", "3-d", "string", "none", "nan", "inf", "bool", "object"],
)
def test_bad_disturbances_raise_naming_the_value_and_change_nothing(channel, bad):
    env, w = channel
    env.set_disturbance(w)
    if isinstance(bad, np.ndarray) and bad.size == 1 and bad.ndim == 1:
        bad = np.full(env.disturbance_space.shape, bad[0])  # NaN or inf in every shape
    before = env.get_state()
    with pytest.raises(ValueError, match="Disturbance") as error:
        env.set_disturbance(bad)
    assert repr(bad)[:12] in str(error.value) or str(bad) in str(error.value)
    np.testing.assert_array_equal(env.get_state(), before)
    np.testing.assert_array_equal(env.disturbance, w)


def test_check_disturbance_takes_a_scalar_for_a_one_dimensional_space():
    space = gym.spaces.Box(-2.0, 2.0, shape=(1,))
    np.testing.assert_array_equal(check_disturbance(1.5, space), [1.5])
    np.testing.assert_array_equal(check_disturbance(np.float32(-3.0), space), [-2.0])
    with pytest.raises(ValueError, match=r"does not fit"):
        check_disturbance(1.0, gym.spaces.Box(-1.0, 1.0, shape=(2,)))


# ---- finding the channel -------------------------------------------------------------------------------------
def test_find_through_time_limit_and_order_enforcing_around_force_disturbance():
    force = ForceDisturbance(gym.make("RobustHopper-v0").unwrapped, "torso", max_force=5.0)
    outer = TimeLimit(OrderEnforcing(force), max_episode_steps=10)
    assert find_disturbance_channel(outer) is force
    assert find_disturbance_channel(force) is force


def test_find_force_disturbance_around_gym_make_and_under_two_player_wrappers():
    force = ForceDisturbance(gym.make("RobustHopper-v0"), "torso", max_force=5.0)  # TimeLimit etc. inside
    assert find_disturbance_channel(TimeLimit(force, max_episode_steps=10)) is force
    assert find_disturbance_channel(DisturbedByPolicy(force, lambda obs: np.zeros(2))) is force
    assert find_disturbance_channel(DisturberEnv(force, lambda obs: np.zeros(3))) is force


def test_find_robust_pendulum_behind_its_wrappers():
    env = gym.make("RobustPendulum-v0")
    assert find_disturbance_channel(env) is env.unwrapped
    assert find_disturbance_channel(env.unwrapped) is env.unwrapped


class _HalvedDisturbance(gym.Wrapper):
    """A channel of its own around RobustPendulum (the env's w is half the wrapper's)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.disturbance_space = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float64)

    @property
    def disturbance(self) -> np.ndarray:
        return 2.0 * self.env.unwrapped.disturbance

    def set_disturbance(self, w: Any) -> None:
        self.env.unwrapped.set_disturbance(0.5 * check_disturbance(w, self.disturbance_space))

    def get_state(self) -> np.ndarray:
        return self.env.unwrapped.get_state()

    def set_state(self, state: np.ndarray) -> None:
        self.env.unwrapped.set_state(state)


def test_the_outermost_channel_wins():
    outer = _HalvedDisturbance(gym.make("RobustPendulum-v0"))
    assert find_disturbance_channel(outer) is outer
    assert find_disturbance_channel(outer.env) is outer.unwrapped


def test_no_channel_is_a_clear_error_naming_the_env_and_what_is_needed():
    env = gym.make("RobustHopper-v0")
    with pytest.raises(ValueError, match="no disturbance channel") as error:
        find_disturbance_channel(env)
    message = str(error.value)
    for needed in ("RobustHopperEnv", "TimeLimit", "set_disturbance", "disturbance_space", "ForceDisturbance"):
        assert needed in message
    assert "lacks ['disturbance_space', 'disturbance', 'set_disturbance']" in message  # get_state it has


# ---- the disturbance is part of the state ------------------------------------------------------------------
def test_state_round_trip_carries_the_disturbance(channel):
    env, w = channel
    env.set_disturbance(w)
    state = env.get_state()
    action = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    first = env.step(action)
    env.set_disturbance(np.zeros_like(w))
    env.set_state(state)
    np.testing.assert_array_equal(env.disturbance, w)
    np.testing.assert_array_equal(env.get_state(), state)
    again = env.step(action)
    np.testing.assert_array_equal(again[0], first[0])
    assert again[1] == first[1]
    np.testing.assert_array_equal(again[4][DISTURBANCE_KEY], w)


def test_set_state_clips_the_disturbance_and_refuses_a_bad_one(channel):
    env, w = channel
    state = env.get_state()
    env.set_disturbance(w)
    held = env.get_state()
    where = np.flatnonzero(held != state)  # the entries of the disturbance in the state
    assert where.size == w.size
    loud = held.copy()
    loud[where] = 1e6
    env.set_state(loud)
    np.testing.assert_array_equal(env.disturbance, env.disturbance_space.high)
    env.set_state(held)
    bad = held.copy()
    bad[where[0]] = np.nan
    with pytest.raises(ValueError, match=r"NaN|finite"):
        env.set_state(bad)
    np.testing.assert_array_equal(env.get_state(), held)
    with pytest.raises(ValueError, match="does not fit"):
        env.set_state(held[:-1])
    np.testing.assert_array_equal(env.get_state(), held)


def test_force_disturbance_state_is_the_env_state_then_the_forces():
    env = hopper_force()
    env.set_disturbance([1.0, 2.0, 3.0, 4.0])
    state = env.get_state()
    assert env.state_size == env.unwrapped.state_size + 4 == state.shape[0]
    np.testing.assert_array_equal(state[:-4], env.unwrapped.get_state())
    np.testing.assert_array_equal(state[-4:], [1.0, 2.0, 3.0, 4.0])


# ---- sampling under a disturbance ------------------------------------------------------------------------
def test_force_disturbance_sample_next_states_equals_stepping_with_the_force_held():
    env = hopper_force()
    w = np.array([15.0, -10.0, 5.0, 20.0])
    env.set_disturbance(w)
    start = env.get_state()
    sampled = env.sample_next_states(None, HOPPER_ACTION)
    np.testing.assert_array_equal(env.get_state(), start)  # the episode is untouched
    states, rewards = [], []
    for _ in range(3):  # step with the force held, sampling each step from the state before it
        before = env.get_state()
        one = env.sample_next_states(before[None], HOPPER_ACTION[None])
        obs, reward, terminated, _, info = env.step(HOPPER_ACTION)
        np.testing.assert_array_equal(one.observations[0, 0], obs)
        assert one.rewards[0, 0] == reward and one.terminated[0, 0] == terminated
        np.testing.assert_array_equal(one.states[0, 0], env.get_state())
        np.testing.assert_array_equal(info[DISTURBANCE_KEY], w)
        states.append(before)
        rewards.append(reward)
    np.testing.assert_array_equal(sampled.states[0, 0], states[1])
    # the force matters: without it the next observation differs
    unpushed = start.copy()
    unpushed[-4:] = 0.0
    free = env.sample_next_states(unpushed, HOPPER_ACTION)
    assert not np.array_equal(free.observations[0, 0], sampled.observations[0, 0])
    np.testing.assert_array_equal(free.states[0, 0, -4:], np.zeros(4))


def test_force_disturbance_batch_mixes_forces_and_models():
    env = hopper_force()
    rows = []
    for w in ([0.0, 0.0, 0.0, 0.0], [20.0, 0.0, 0.0, -20.0], [-5.0, 3.0, 0.0, 0.0]):
        env.set_disturbance(w)
        rows.append(env.get_state())
    states = np.stack(rows)
    actions = np.stack([HOPPER_ACTION, -HOPPER_ACTION, 0.5 * HOPPER_ACTION])
    models = [{}, {"friction": 0.6, "torso_density": 1500.0}]
    out = env.sample_next_states(states, actions, models)
    assert out.observations.shape == (3, 2, 11) and out.rewards.shape == (3, 2) and out.states.shape == (3, 2, env.state_size)
    for k, model in enumerate(models):
        other = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso", "foot"], max_force=20.0)
        other.reset(seed=1, options={"params": model})
        for n in range(3):
            other.set_state(states[n])
            obs, reward, terminated, _, _ = other.step(actions[n])
            np.testing.assert_array_equal(out.observations[n, k], obs)
            assert out.rewards[n, k] == reward and out.terminated[n, k] == terminated
            np.testing.assert_array_equal(out.states[n, k, -4:], states[n, -4:])
            # time, qpos and qvel as stepping leaves them (the solver warm-start is the sampler's business)
            physics = 1 + other.unwrapped.model.nq + other.unwrapped.model.nv
            np.testing.assert_array_equal(out.states[n, k, :physics], other.get_state()[:physics])


def test_force_disturbance_sampling_refuses_bad_states():
    env = hopper_force()
    state = env.get_state()
    with pytest.raises(ValueError, match=r"states must have shape \(N, "):
        env.sample_next_states(state[:-4][None], HOPPER_ACTION[None])
    bad = state.copy()
    bad[-1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        env.sample_next_states(bad[None], HOPPER_ACTION[None])
    empty = env.sample_next_states(np.empty((0, env.state_size)), np.empty((0, 3)))
    assert empty.observations.shape == (0, 1, 11) and empty.states.shape == (0, 1, env.state_size)


def test_pendulum_sample_next_states_clips_the_disturbance_of_a_state_as_set_state_does():
    env = pendulum()
    state = np.array([2.0, -1.0, 50.0, 0.0])  # w beyond max_disturbance = 5
    sampled = env.sample_next_states(state[None], np.array([[0.2]]))
    env.set_state(state)
    obs, reward, *_ = env.step(np.array([0.2]))
    np.testing.assert_array_equal(sampled.observations[0, 0], obs)
    assert sampled.rewards[0, 0] == reward
    np.testing.assert_array_equal(sampled.states[0, 0], env.get_state())


# ---- the two-player wrappers drive any channel --------------------------------------------------------------
class _Model:
    """What SB3's models offer the wrappers: ``predict(obs, deterministic=...)``; recorded calls."""

    def __init__(self, action: np.ndarray) -> None:
        self.action = action
        self.calls: list[bool] = []

    def predict(self, observation: Any, deterministic: bool = False) -> tuple[np.ndarray, None]:
        self.calls.append(deterministic)
        return self.action, None


def test_disturbed_by_policy_drives_robust_pendulum_through_its_wrappers():
    adversary = _Model(np.array([3.0]))
    env = DisturbedByPolicy(gym.make("RobustPendulum-v0"), adversary)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(1, dtype=np.float32))
    np.testing.assert_array_equal(info[DISTURBANCE_KEY], [3.0])
    assert adversary.calls == [True]  # deterministic predict, through as_policy


def test_disturber_env_calls_an_sb3_style_protagonist():
    protagonist = _Model(np.zeros(1, dtype=np.float32))
    env = DisturberEnv(gym.make("RobustPendulum-v0"), protagonist)
    assert env.action_space == env.unwrapped.disturbance_space
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([9.0]))
    np.testing.assert_array_equal(info[DISTURBANCE_KEY], [5.0])  # clipped to max_disturbance
    assert reward >= 0.0 and protagonist.calls == [True]


def test_two_player_wrappers_refuse_a_player_that_cannot_act():
    with pytest.raises(TypeError, match="predict"):
        DisturbedByPolicy(gym.make("RobustPendulum-v0"), "adversary")
    with pytest.raises(TypeError, match="predict"):
        DisturberEnv(gym.make("RobustPendulum-v0"), 3)
