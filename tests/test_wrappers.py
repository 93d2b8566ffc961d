"""Domain randomisation, next observations under K models, and the adversarial force."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DisturbedByPolicy, DisturberEnv, DomainRandomization, ForceDisturbance, PerturbedTransitions


def test_domain_randomization_draws_within_the_box_and_is_seeded():
    train = get_preset("jiang2021/invertedpendulum/train")

    def draws(seed: int) -> list[dict]:
        env = DomainRandomization(gym.make("RobustInvertedPendulum-v0"), train)
        out = [env.reset(seed=seed)[1]["params"]]
        out += [env.reset()[1]["params"] for _ in range(9)]
        return out

    first = draws(0)
    assert first == draws(0)
    assert first != draws(1)
    lengths = [p["pole_length"] for p in first]
    assert all(0.5 <= v <= 2.0 for v in lengths) and len(set(lengths)) == 10
    assert all(0.05 <= p["cart_size"] <= 0.25 for p in first)


def test_domain_randomization_over_a_finite_set():
    members = [{"friction": 0.5}, {"friction": 1.5}]
    env = DomainRandomization(gym.make("RobustHopper-v0"), UncertaintySet.finite("RobustHopper-v0", members))
    seen = {env.reset(seed=s)[1]["params"]["friction"] for s in range(20)}
    assert seen == {0.5, 1.5}


def test_domain_randomization_rejects_bad_sets_and_options():
    with pytest.raises(ValueError, match="is for 'RobustInvertedPendulum-v0', not for 'RobustHopper-v0'"):
        DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/invertedpendulum/train"))
    with pytest.raises(ValueError, match="Unknown parameter 'pole_length'"):
        DomainRandomization(gym.make("RobustHopper-v0"), UncertaintySet.box("RobustHopper-v0", {"pole_length": (0.5, 1.0)}))
    env = DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/hopper/train"))
    with pytest.raises(ValueError, match="draws the params itself"):
        env.reset(options={"params": {}})


def test_perturbed_transitions_match_sampling_and_terminal_steps():
    models = [{}, {"pole_length": 1.0}, {"cart_size": 0.2}]
    env = PerturbedTransitions(gym.make("RobustInvertedPendulum-v0"), models)
    env.reset(seed=0)
    terminal_seen = False
    for _ in range(200):
        action = np.array([1.0], dtype=np.float32)
        obs, reward, terminated, _, info = env.step(action)
        assert info["perturbed_next_obs"].shape == (3, 4)
        assert info["perturbed_rewards"].shape == (3,) and info["perturbed_terminated"].shape == (3,)
        # model 0 is the env's own: its entry is the real transition, also at the terminal step
        assert np.array_equal(info["perturbed_next_obs"][0], obs)
        assert info["perturbed_rewards"][0] == reward and info["perturbed_terminated"][0] == terminated
        if terminated:
            terminal_seen = True
            break
    assert terminal_seen
    assert not np.array_equal(info["perturbed_next_obs"][0], info["perturbed_next_obs"][1])


@pytest.mark.sb3
def test_wrappers_pass_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env

    check_env(PerturbedTransitions(gym.make("RobustHopper-v0"), [{}, {"friction": 0.5}]), warn=False)
    check_env(DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/hopper/train")), warn=False)
    disturbed = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=10.0)
    check_env(DisturberEnv(disturbed, lambda obs: np.zeros(3, dtype=np.float32)), warn=False)


def test_force_disturbance_pushes_in_its_direction():
    def torso_x(force: float) -> float:
        env = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=50.0)
        env.reset(seed=0)
        env.unwrapped.set_state(env.unwrapped.init_qpos, env.unwrapped.init_qvel)
        env.set_disturbance(np.array([force, 0.0]))
        for _ in range(10):
            _, _, _, _, info = env.step(np.zeros(3, dtype=np.float32))
        assert np.array_equal(info["disturbance"], [force, 0.0])
        return float(env.unwrapped.data.qpos[0])

    assert torso_x(30.0) > torso_x(0.0) > torso_x(-30.0)


def test_force_disturbance_does_not_leak_into_the_model_after_the_step():
    env = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso", "foot"], max_force=5.0)
    env.reset(seed=0)
    env.set_disturbance(np.array([100.0, 0.0, 0.0, -100.0]))
    env.step(np.zeros(3, dtype=np.float32))
    assert not env.unwrapped.data.xfrc_applied.any()
    assert np.array_equal(env.get_wrapper_attr("_w"), [5.0, 0.0, 0.0, -5.0]), "clipped to max_force"
    env.reset()
    assert not env.get_wrapper_attr("_w").any(), "reset zeroes the disturbance"


def test_force_disturbance_errors():
    with pytest.raises(ValueError, match=r"Unknown bodies \['head'\]"):
        ForceDisturbance(gym.make("RobustHopper-v0"), ["head"], max_force=1.0)
    with pytest.raises(ValueError, match="max_force must be positive"):
        ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=0.0)
    env = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=1.0)
    with pytest.raises(ValueError, match="does not fit"):
        env.set_disturbance(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        env.set_disturbance(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="no disturbance channel"):
        DisturbedByPolicy(gym.make("RobustHopper-v0"), lambda obs: np.zeros(2))


def test_adversary_and_protagonist_views_are_zero_sum():
    base = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=20.0)
    pushing = DisturbedByPolicy(base, lambda obs: np.array([20.0, 0.0]))
    pushing.reset(seed=0)
    _, reward_protagonist, _, _, info = pushing.step(np.zeros(3, dtype=np.float32))
    assert np.array_equal(info["disturbance"], [20.0, 0.0])
    adversary_view = DisturberEnv(
        ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=20.0), lambda obs: np.zeros(3)
    )
    adversary_view.reset(seed=0)
    _, reward_adversary, _, _, _ = adversary_view.step(np.array([20.0, 0.0], dtype=np.float32))
    assert reward_adversary == -reward_protagonist


def _zero_disturbance(obs):
    return np.zeros(3, dtype=np.float32)


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
def test_wrappers_pass_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    # the spec of a wrapped env must re-create it, so the wrappers record their constructor arguments
    check_env(PerturbedTransitions(gym.make("RobustHopper-v0"), [{}, {"friction": 0.5}]), skip_render_check=True)
    check_env(DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/hopper/train")), skip_render_check=True)
    disturbed = ForceDisturbance(gym.make("RobustHopper-v0"), ["torso"], max_force=10.0)
    check_env(disturbed, skip_render_check=True)
    check_env(DisturberEnv(disturbed, _zero_disturbance), skip_render_check=True)


def test_domain_randomization_spec_round_trips_through_json():
    from gymnasium.envs.registration import EnvSpec

    env = DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/hopper/train"))
    remade = gym.make(EnvSpec.from_json(env.spec.to_json()))
    assert isinstance(remade, DomainRandomization) and remade.uncertainty_set == env.uncertainty_set
    assert [remade.reset(seed=s)[1]["params"] for s in range(3)] == [env.reset(seed=s)[1]["params"] for s in range(3)]
    by_name = DomainRandomization(gym.make("RobustHopper-v0"), "jiang2021/hopper/train")
    assert by_name.uncertainty_set == env.uncertainty_set


def test_perturbed_transitions_spec_round_trips_through_json():
    from gymnasium.envs.registration import EnvSpec

    members = UncertaintySet.finite("RobustHopper-v0", [{}, {"friction": 0.5}])
    for models in (members, [{"friction": 0.5}, np.array(get_preset_vector())]):
        env = PerturbedTransitions(gym.make("RobustHopper-v0"), models)
        remade = gym.make(EnvSpec.from_json(env.spec.to_json()))
        np.testing.assert_array_equal(remade.get_wrapper_attr("param_batch"), env.get_wrapper_attr("param_batch"))


def get_preset_vector():
    import robust_envs

    return robust_envs.env_class("RobustHopper-v0").param_space.nominal


def test_force_disturbance_takes_one_body_name_as_a_string():
    env = ForceDisturbance(gym.make("RobustHopper-v0"), "torso", max_force=5)
    assert env.bodies == ("torso",) and env.disturbance_space.shape == (2,) and env.max_force == 5.0
    env.reset(seed=0)
    env.set_disturbance(np.array([5.0, 0.0]))
    _, _, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert np.array_equal(info["disturbance"], [5.0, 0.0])


def test_wrappers_refuse_sets_of_other_envs():
    with pytest.raises(ValueError, match="is for 'RobustWalker2d-v0', not for 'RobustHopper-v0'"):
        DomainRandomization(gym.make("RobustHopper-v0"), get_preset("jiang2021/walker2d/train"))
    walker_set = UncertaintySet.finite("RobustWalker2d-v0", [{"friction": 0.5}])
    with pytest.raises(ValueError, match="is for 'RobustWalker2d-v0'"):
        PerturbedTransitions(gym.make("RobustHopper-v0"), walker_set)
