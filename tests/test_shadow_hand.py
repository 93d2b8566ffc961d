"""RobustShadowHandCube-v0: the cube's geometry and mass, the normalised actuators, the goal in the state, the reward."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import robust_envs  # noqa: F401  (registers the ids)
from robust_envs.presets import get_preset
from robust_envs.shadow_hand import (
    CUBE_DENSITY,
    OBS_DIM,
    hand_xml_path,
    orientation_error,
    quaternion_about_z,
)

ID = "RobustShadowHandCube-v0"
PRESET_WIDTHS = (0.025, 0.022, 0.02, 0.021, 0.018, 0.015)


def test_the_mjcf_comes_from_the_installed_gymnasium_robotics():
    path = Path(hand_xml_path())
    assert path.is_file() and "gymnasium_robotics" in path.parts
    repo = Path(__file__).resolve().parents[1]
    for folder in ("robust_envs", "assets"):
        assert not list((repo / folder).rglob("manipulate_block.xml")), "upstream models are loaded, never copied"


@pytest.mark.parametrize("width", PRESET_WIDTHS)
def test_cube_mass_is_its_volume_at_the_same_density(width):
    model = gym.make(ID, params={"cube_half_width": width}).unwrapped.model
    edge = 2.0 * width
    mass = CUBE_DENSITY * edge**3
    cube = model.body("object")
    assert cube.mass[0] == pytest.approx(mass, rel=1e-12)
    # a solid cube: I = m a^2 / 6 about every axis through its centre
    assert cube.inertia == pytest.approx(np.full(3, mass * edge**2 / 6.0), rel=1e-9)
    assert model.geom("object").size == pytest.approx(np.full(3, width), rel=1e-12)
    assert model.geom("object_hidden").size == pytest.approx(np.full(3, 0.024 * width / 0.025), rel=1e-12)
    assert model.geom("target").size == pytest.approx(np.full(3, width), rel=1e-12)


def test_nominal_cube_and_hand_are_the_mjcfs():
    env = gym.make(ID).unwrapped
    upstream = mujoco.MjModel.from_xml_path(hand_xml_path())
    assert env.model.body("object").mass[0] == pytest.approx(0.070875, rel=1e-12)  # 567 kg/m^3 * (0.05 m)^3
    small = gym.make(ID, params={"cube_half_width": 0.015}).unwrapped.model
    hand_bodies = [i for i in range(upstream.nbody) if upstream.body(i).name.startswith("robot0:")]
    for model in (env.model, small):
        assert np.array_equal(model.body_mass[hand_bodies], upstream.body_mass[hand_bodies])
        assert np.array_equal(model.body_inertia[hand_bodies], upstream.body_inertia[hand_bodies])
        assert np.array_equal(model.jnt_range[:24], upstream.jnt_range[:24])


def test_density_scales_the_cube_mass():
    model = gym.make(ID, params={"cube_half_width": 0.02, "cube_density": 2.0 * CUBE_DENSITY}).unwrapped.model
    assert model.body("object").mass[0] == pytest.approx(2.0 * CUBE_DENSITY * 0.04**3, rel=1e-12)


def test_normalised_actions_drive_the_actuators_as_the_mjcf_position_targets():
    # a in [-1, 1] must give the force the MJCF's position actuator gives for target centre + a * half-range
    env = gym.make(ID).unwrapped
    env.reset(seed=0)
    upstream = mujoco.MjModel.from_xml_path(hand_xml_path())
    upstream_data = mujoco.MjData(upstream)
    upstream_data.qpos[:] = env.data.qpos[:24].tolist() + env.data.qpos[24:31].tolist() + [1.0, 0.87, 0.2, 1, 0, 0, 0]
    low, high = upstream.actuator_ctrlrange.T
    action = np.random.default_rng(0).uniform(-1.0, 1.0, 20)
    env.data.ctrl[:] = action
    upstream_data.ctrl[:] = (high + low) / 2.0 + action * (high - low) / 2.0
    mujoco.mj_forward(env.model, env.data)
    mujoco.mj_forward(upstream, upstream_data)
    assert env.data.actuator_force == pytest.approx(upstream_data.actuator_force, rel=1e-12, abs=1e-12)
    assert env.action_space.shape == (20,) and np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)


def test_orientation_error_hand_computed():
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    assert orientation_error(identity, quaternion_about_z(0.5)) == pytest.approx(0.5, rel=1e-12)
    assert orientation_error(quaternion_about_z(-2.0), quaternion_about_z(1.0)) == pytest.approx(3.0, rel=1e-12)
    # q and -q are one orientation; a 270 deg turn is 90 deg the other way
    assert orientation_error(identity, -identity) == 0.0
    assert orientation_error(identity, quaternion_about_z(1.5 * math.pi)) == pytest.approx(0.5 * math.pi, rel=1e-12)
    about_x = np.array([math.cos(0.3), math.sin(0.3), 0.0, 0.0])
    assert orientation_error(identity, about_x) == pytest.approx(0.6, rel=1e-12)


def test_observation_layout_reward_and_constant_goal():
    env = gym.make(ID)
    obs, info = env.reset(seed=3)
    hand = env.unwrapped
    assert obs.shape == (OBS_DIM,) == (65,)
    goal = hand.goal
    # the goal: a unit rotation about z, the last 4 observations, part of the physics state
    assert goal[1] == 0.0 and goal[2] == 0.0 and np.linalg.norm(goal) == pytest.approx(1.0, abs=1e-15)
    assert np.array_equal(obs[-4:], goal) and np.array_equal(obs[48:55], hand.data.qpos[24:31])
    assert info["orientation_error"] == pytest.approx(orientation_error(obs[51:55], goal))
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 20).astype(np.float32))
        steps += 1
        assert reward == pytest.approx(-orientation_error(obs[51:55], obs[-4:]), rel=1e-12) and reward <= 0.0
        assert np.array_equal(obs[-4:], goal), "the goal never moves"
        assert info["is_success"] == (-reward < 0.1) and not terminated
        if truncated:
            break
    assert steps == 200


@pytest.mark.parametrize("width", (0.025, 0.015))
def test_reset_puts_a_randomly_turned_cube_on_the_palm(width):
    env = gym.make(ID, params={"cube_half_width": width}).unwrapped
    yaws, goals = [], []
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        assert obs[50] > 0.04, "the cube rests on the palm"
        w, z = obs[51], obs[54]
        yaws.append(2 * math.atan2(z, w))
        goals.append(2 * math.atan2(obs[-1], obs[-4]))
    # the cube starts turned about z by U[-pi, pi) (it tilts a little while it settles), the goal likewise
    assert np.ptp(np.mod(yaws, 2 * math.pi)) > 1.0 and np.ptp(np.mod(goals, 2 * math.pi)) > 1.0
    again, _ = env.reset(seed=5)
    first, _ = gym.make(ID, params={"cube_half_width": width}).unwrapped.reset(seed=5)
    assert np.array_equal(again, first)


def test_state_carries_the_goal_and_sampling_uses_the_uncertainty_set():
    env = gym.make(ID).unwrapped
    env.reset(seed=1)
    env.step(np.zeros(20, dtype=np.float32))
    state = env.get_state()
    goal = env.goal
    env.reset(seed=2)
    assert not np.array_equal(env.goal, goal)
    env.set_state(state)
    assert np.array_equal(env.goal, goal)
    uncertainty = get_preset("mankowitz2020/shadowhand/uncertainty")
    actions = np.random.default_rng(1).uniform(-1, 1, (2, 20))
    out = env.sample_next_states(np.tile(state, (2, 1)), actions, uncertainty)
    assert out.observations.shape == (2, 3, OBS_DIM)
    assert np.array_equal(out.observations[..., -4:], np.broadcast_to(goal, (2, 3, 4)))
    assert not np.array_equal(out.observations[:, 0], out.observations[:, 2])
    assert np.array_equal(env.get_state(), state), "sampling leaves the episode alone"
    # the nominal row is what a step from that state gives
    observation, reward, *_ = env.step(actions[1].astype(np.float64))
    assert np.array_equal(out.observations[1, 0], observation) and out.rewards[1, 0] == reward


def test_presets_are_table_3():
    uncertainty = get_preset("mankowitz2020/shadowhand/uncertainty")
    holdout = get_preset("mankowitz2020/shadowhand/holdout")
    assert [m["cube_half_width"] for m in uncertainty.members] == [0.025, 0.022, 0.02]
    assert [m["cube_half_width"] for m in holdout.members] == [0.021, 0.018, 0.015]
    assert uncertainty.members[0]["cube_half_width"] == gym.make(ID).unwrapped.params["cube_half_width"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cube_half_width": 0.001}, r"outside its physical bounds \[0.005, 0.1\]"),
        ({"cube_width": 0.02}, "Did you mean 'cube_half_width'"),
        ({"cube_density": math.nan}, "must be finite"),
    ],
)
def test_bad_params(params, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ID, params=params)


def test_bad_actions_and_states():
    env = gym.make(ID).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Action dimension mismatch"):
        env.step(np.zeros(19))
    with pytest.raises(ValueError, match="does not fit"):
        env.set_state(np.zeros(10))
    with pytest.raises(ValueError, match="actions must have shape"):
        env.sample_next_states(env.get_state()[None], np.zeros((1, 19)))


def test_missing_package_is_explained(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="gymnasium-robotics"):
        hand_xml_path()
