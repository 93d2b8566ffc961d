"""
Perturbed next states under a held force: :class:`PerturbedTransitions` samples through :class:`ForceDisturbance`.

``env.unwrapped.sample_next_states`` knows nothing of a force that a wrapper writes to ``xfrc_applied`` during the
step; sampled through it, the K next states ignored the held force (a model-0 next observation 0.08 away from
what ``step`` returned for 40 N on the hopper's torso). The wrapper now samples through the nearest layer with its own
``sample_next_states`` and ``get_state``, so the model-0 entry is the step's transition again.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DisturbedByPolicy, DisturberEnv, DomainRandomization, ForceDisturbance, PerturbedTransitions

HOPPER = "RobustHopper-v0"
#: (env id, bodies pushed, held force x, z per body, a second model)
SETUPS = [
    (HOPPER, ["torso"], [40.0, -30.0], {"friction": 0.5}),
    (HOPPER, ["torso", "foot"], [25.0, 10.0, -15.0, 20.0], {"torso_density": 1500.0}),
    ("RobustInvertedPendulum-v0", ["pole"], [2.0, 0.0], {"pole_length": 0.8}),
    ("RobustCheetahRun-v0", ["torso"], [50.0, -20.0], {"friction": 0.6}),
]


def pushed(env_id: str, bodies: list[str], force: list[float]) -> ForceDisturbance:
    env = ForceDisturbance(gym.make(env_id), bodies, max_force=60.0)
    env.reset(seed=0)
    env.set_disturbance(np.array(force))
    return env


def assert_model_zero_is_the_step(env: gym.Env, steps: int = 5) -> list[dict]:
    """Step ``env`` (a PerturbedTransitions); model 0 must be the step's transition. :return: the infos."""
    env.action_space.seed(1)
    infos = []
    for _ in range(steps):
        obs, reward, terminated, _, info = env.step(env.action_space.sample())
        np.testing.assert_allclose(info["perturbed_next_obs"][0], obs, rtol=0, atol=1e-9)
        assert abs(info["perturbed_rewards"][0] - reward) <= 1e-9
        assert info["perturbed_terminated"][0] == terminated
        infos.append(info)
        if terminated:
            break
    return infos


@pytest.mark.parametrize(("env_id", "bodies", "force", "other"), SETUPS, ids=[f"{s[0]}-{len(s[1])}" for s in SETUPS])
def test_model_zero_under_a_held_force_is_the_step(env_id, bodies, force, other):
    force_env = pushed(env_id, bodies, force)
    env = PerturbedTransitions(force_env, [{}, other])
    batch = env.get_wrapper_attr("param_batch")
    d = len(force)
    env.action_space.seed(1)
    for _ in range(4):
        state, action = force_env.get_state(), env.action_space.sample()
        # what the env's own sampler, which knows nothing of the force, gives for both models
        ignoring = env.unwrapped.sample_next_states(state[None, :-d], action[None], batch).observations[0]
        obs, reward, terminated, _, info = env.step(action)
        np.testing.assert_allclose(info["perturbed_next_obs"][0], obs, rtol=0, atol=1e-9)
        assert abs(info["perturbed_rewards"][0] - reward) <= 1e-9 and info["perturbed_terminated"][0] == terminated
        # the force matters, for the env's model and for the other one
        assert np.abs(ignoring - info["perturbed_next_obs"]).max(axis=1).min() > 1e-4
        if terminated:
            break


def test_sampling_goes_through_plain_wrappers_to_the_force():
    force_env = pushed(HOPPER, ["torso"], [40.0, -30.0])
    env = PerturbedTransitions(gym.wrappers.RecordEpisodeStatistics(force_env), [{}, {"friction": 0.5}])
    assert env.get_wrapper_attr("_sampler") is force_env
    assert_model_zero_is_the_step(env)


def test_without_a_force_wrapper_sampling_stays_on_the_env():
    env = PerturbedTransitions(gym.make(HOPPER), [{}, {"friction": 0.5}])
    assert env.get_wrapper_attr("_sampler") is env.unwrapped
    env.reset(seed=0)
    assert_model_zero_is_the_step(env)


def test_a_zero_force_gives_the_env_samplers_numbers():
    env = PerturbedTransitions(pushed(HOPPER, ["torso"], [0.0, 0.0]), [{}, {"friction": 0.5}])
    plain = PerturbedTransitions(gym.make(HOPPER), [{}, {"friction": 0.5}])
    plain.reset(seed=0)
    action = np.array([0.3, -0.2, 0.1], dtype=np.float32)
    for _ in range(3):
        info = env.step(action)[-1]
        np.testing.assert_array_equal(info["perturbed_next_obs"], plain.step(action)[-1]["perturbed_next_obs"])


def test_domain_randomization_between_passes_the_episode_params_and_the_force():
    # DomainRandomization samples nothing itself: it draws each episode's parameters at reset and passes them down
    # through ForceDisturbance (whose reset zeroes the force, as the channel's rules say)
    draws = UncertaintySet.finite(HOPPER, [{"torso_density": 1500.0}])
    force_env = ForceDisturbance(gym.make(HOPPER), ["torso"], max_force=60.0)
    env = PerturbedTransitions(DomainRandomization(force_env, draws), [{"torso_density": 1500.0}, {}])
    _, info = env.reset(seed=3)
    assert info["params"]["torso_density"] == 1500.0 and not force_env.disturbance.any()
    force_env.set_disturbance(np.array([40.0, -30.0]))
    assert env.get_wrapper_attr("_sampler") is force_env
    infos = assert_model_zero_is_the_step(env)
    # model 1 ({}: the env's persistent torso density, 1000) is not the episode's
    assert np.abs(infos[0]["perturbed_next_obs"][1] - infos[0]["perturbed_next_obs"][0]).max() > 0


def test_an_adversary_outside_the_wrapper_is_sampled_with_its_force():
    # DisturbedByPolicy sets the force before the inner step, so PerturbedTransitions inside it samples under it
    def adversary(obs: np.ndarray) -> np.ndarray:
        return np.array([40.0 if obs[5] >= 0 else -40.0, -30.0])

    force_env = ForceDisturbance(gym.make(HOPPER), ["torso"], max_force=60.0)
    env = DisturbedByPolicy(PerturbedTransitions(force_env, [{}, {"friction": 0.5}]), adversary)
    env.reset(seed=0)
    infos = assert_model_zero_is_the_step(env)
    assert np.abs(infos[0]["disturbance"]).max() == 40.0


@pytest.mark.parametrize(
    "two_player",
    [lambda env: DisturbedByPolicy(env, lambda obs: np.zeros(2)), lambda env: DisturberEnv(env, lambda obs: np.zeros(3))],
    ids=["DisturbedByPolicy", "DisturberEnv"],
)
def test_a_two_player_wrapper_inside_is_refused(two_player):
    inner = two_player(ForceDisturbance(gym.make(HOPPER), ["torso"], max_force=60.0))
    name = type(inner).__name__
    with pytest.raises(ValueError, match=rf"PerturbedTransitions cannot wrap {name}: .* Wrap the other way round: {name}\("):
        PerturbedTransitions(inner, [{}, {"friction": 0.5}])


def test_a_force_outside_the_wrapper_is_refused():
    inner = PerturbedTransitions(gym.make(HOPPER), [{}, {"friction": 0.5}])
    with pytest.raises(ValueError, match=r"ForceDisturbance cannot wrap PerturbedTransitions: .*ignore the force"):
        ForceDisturbance(inner, ["torso"], max_force=60.0)
    with pytest.raises(ValueError, match="PerturbedTransitions"):
        ForceDisturbance(gym.wrappers.RecordEpisodeStatistics(inner), ["torso"], max_force=60.0)
