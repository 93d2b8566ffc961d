"""Tests of robust_envs.evaluation.policies: as_policy (callables, SB3 models, bad objects) and SavedModel."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from robust_envs.evaluation import SavedModel, as_policy, evaluate_robustness

IP = "RobustInvertedPendulum-v0"


def half(obs):
    """A module-level (picklable) policy: a list, which as_policy turns into an array."""
    return [0.5 * float(obs[0])]


class Recorder:
    """SB3's predict signature; records the deterministic flag. Also callable, to show that predict wins."""

    def __init__(self) -> None:
        self.flags: list[bool] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        self.flags.append(deterministic)
        return np.full(1, 7.0), None

    def __call__(self, obs):
        raise AssertionError("as_policy must use predict when there is one")


def test_a_callable_becomes_an_array_valued_policy():
    policy = as_policy(half)
    action = policy(np.array([2.0, 1.0]))
    assert isinstance(action, np.ndarray) and action.tolist() == [1.0]
    assert as_policy(policy) is policy  # already a policy: returned as it is
    copy = pickle.loads(pickle.dumps(policy))  # a module-level callable stays picklable
    assert copy(np.array([4.0])).tolist() == [2.0]


@pytest.mark.parametrize("deterministic", [True, False])
def test_an_object_with_predict_is_called_through_predict(deterministic):
    model = Recorder()
    policy = as_policy(model, deterministic=deterministic)
    assert policy(np.zeros(4)).tolist() == [7.0]
    assert model.flags == [deterministic]


@pytest.mark.parametrize("bad", [42, "PPO", None, type("NotCallable", (), {"predict": 3})()])
def test_a_bad_object_is_a_type_error_saying_what_is_accepted(bad):
    with pytest.raises(TypeError, match=r"callable \(obs -> action\) or have a predict\(\) method, got " + type(bad).__name__):
        as_policy(bad)


def test_deterministic_must_be_a_bool():
    with pytest.raises(TypeError, match=r"deterministic.*'yes'"):
        as_policy(half, deterministic="yes")


@pytest.mark.sb3
def test_an_sb3_model_acts_as_its_predict():
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3 import PPO

    env = gym.make("CartPole-v1")
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu").learn(64)
    observations = [env.reset(seed=s)[0] for s in range(5)]
    policy = as_policy(model)
    for obs in observations:
        expected, _ = model.predict(obs, deterministic=True)
        action = policy(obs)
        assert isinstance(action, np.ndarray) and action == expected
        assert env.action_space.contains(int(action))
    stochastic = as_policy(model, deterministic=False)
    assert all(env.action_space.contains(int(stochastic(obs))) for obs in observations)
    # a SavedModel (what worker processes get) acts exactly like the model it was made from
    shipped = as_policy(pickle.loads(pickle.dumps(SavedModel(model))))
    assert [int(shipped(obs)) for obs in observations] == [int(policy(obs)) for obs in observations]


def test_evaluate_robustness_gives_the_same_numbers_for_a_callable_and_its_policy():
    cells = [{"pole_length": 0.5}, {"pole_length": 1.0}]
    direct = evaluate_robustness(half, IP, cells, n_episodes=2, max_episode_steps=30)
    wrapped = evaluate_robustness(as_policy(half), IP, cells, n_episodes=2, max_episode_steps=30)
    assert wrapped == direct
