"""Every kind of parameter changes the dynamics the way mechanics says it should."""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from tests.conftest import make_unwrapped

GRAVITY = 9.81


def test_heavier_torso_scales_mass_and_inertia_by_the_exact_factor():
    nominal = make_unwrapped("RobustHopper-v0").model
    env = make_unwrapped("RobustHopper-v0", params={"torso_density": 2500.0})
    torso = nominal.body("torso").id
    assert env.model.body_mass[torso] == nominal.body_mass[torso] * 2.5
    assert np.array_equal(env.model.body_inertia[torso], nominal.body_inertia[torso] * 2.5)
    others = [i for i in range(nominal.nbody) if i != torso]
    assert np.array_equal(env.model.body_mass[others], nominal.body_mass[others])
    # derived constants follow (mj_setConst): the root's subtree mass includes the extra torso mass
    extra = nominal.body_mass[torso] * 1.5
    assert env.model.body_subtreemass[torso] == pytest.approx(nominal.body_subtreemass[torso] + extra)


def test_density_change_equals_a_recompiled_model():
    """In-place scaling + mj_setConst gives the dynamics of an XML compiled with that density."""
    env = make_unwrapped("RobustHopper-v0", params={"thigh_density": 1700.0})
    spec = mujoco.MjSpec.from_file(env.fullpath)
    for geom in spec.geoms:
        if geom.name == "thigh_geom":
            geom.density = 1700.0
    recompiled = spec.compile()
    data_a, data_b = mujoco.MjData(env.model), mujoco.MjData(recompiled)
    ctrl = np.array([0.5, -0.3, 0.2])
    for data in (data_a, data_b):
        data.ctrl[:] = ctrl
    for _ in range(500):
        mujoco.mj_step(env.model, data_a)
        mujoco.mj_step(recompiled, data_b)
    assert np.allclose(data_a.qpos, data_b.qpos, atol=1e-9)


def test_more_damping_decays_a_free_joint_faster():
    """A cart given 1 m/s with no force slows as exp(-c t / M) (M: cart plus pole)."""

    def speed_after(damping: float, steps: int = 5) -> float:
        env = make_unwrapped("RobustInvertedPendulum-v0", params={"slider_damping": damping})
        env.reset(seed=0)
        env.set_state(np.zeros(2), np.array([1.0, 0.0]))
        for _ in range(steps):
            env.step(np.zeros(1))
        return float(env.data.qvel[0])

    speeds = [speed_after(c) for c in (0.0, 1.0, 10.0)]
    assert speeds[0] > speeds[1] > speeds[2]
    env = make_unwrapped("RobustInvertedPendulum-v0")
    total_mass = env.model.body_subtreemass[env.model.body("cart").id]
    elapsed = 5 * env.dt
    assert speeds[2] / speeds[0] == pytest.approx(math.exp(-10.0 * elapsed / total_mass), rel=0.06)


def test_lower_friction_lets_a_pushed_foot_slide():
    """Coulomb: the foot slides once the push exceeds mu * m * g (mu = factor x 2.0, the foot's friction)."""
    push = 40.0

    def foot_travel(factor: float) -> float:
        env = make_unwrapped("RobustHopper-v0", params={"friction": factor})
        env.reset(seed=0)
        for _ in range(30):  # settle onto the floor
            env.step(np.zeros(3))
        foot = env.model.body("foot").id
        start = env.data.xpos[foot, 0]
        for _ in range(40):
            env.data.xfrc_applied[foot, 0] = push
            env.step(np.zeros(3))
        return float(env.data.xpos[foot, 0] - start)

    weight = make_unwrapped("RobustHopper-v0").model.body_subtreemass[1] * GRAVITY
    assert 0.1 * 2.0 * weight < push < 0.5 * 2.0 * weight, "the push sits between the two friction limits"
    assert foot_travel(0.1) > 0.03
    assert abs(foot_travel(0.5)) < 0.01


def test_friction_factor_scales_every_geom():
    nominal = make_unwrapped("RobustWalker2d-v0").model
    env = make_unwrapped("RobustWalker2d-v0", params={"friction": 0.25})
    assert np.array_equal(env.model.geom_friction[:, 0], nominal.geom_friction[:, 0] * 0.25)
    assert np.array_equal(env.model.geom_friction[:, 1:], nominal.geom_friction[:, 1:])


def test_armature_and_damping_are_written_to_the_joint():
    env = make_unwrapped("RobustHalfCheetah-v0", params={"bthigh_damping": 9.0, "ffoot_armature": 0.3})
    model = env.model
    assert model.dof_damping[model.jnt_dofadr[model.joint("bthigh").id]] == 9.0
    assert model.dof_armature[model.jnt_dofadr[model.joint("ffoot").id]] == 0.3


def _capsule_mass(radius: float, length: float, density: float = 1000.0) -> float:
    return density * (math.pi * radius**2 * length + 4.0 / 3.0 * math.pi * radius**3)


def test_longer_pole_has_the_mass_of_its_new_volume():
    env = make_unwrapped("RobustInvertedPendulum-v0", params={"pole_length": 1.2})
    pole = env.model.body("pole").id
    # the XML's segment runs from (0,0,0) to (0.001, 0, 0.6); it is stretched to 1.2 / 0.6 of its length
    length = math.hypot(0.001, 0.6) * 2.0
    assert env.model.body_mass[pole] == pytest.approx(_capsule_mass(0.049, length), rel=1e-9)
    # the pole's centre of mass moves to its new middle
    assert env.model.body_ipos[pole][2] == pytest.approx(0.6, rel=1e-6)


def test_cart_size_scales_the_cart_capsule():
    env = make_unwrapped("RobustInvertedPendulum-v0", params={"cart_size": 0.2})
    cart = env.model.geom("cart").id
    assert np.allclose(env.model.geom_size[cart][:2], [0.2, 0.2])
    assert env.model.body("cart").mass[0] == pytest.approx(_capsule_mass(0.2, 0.4), rel=1e-9)


def test_lower_pole_length_moves_the_upper_pole():
    env = make_unwrapped("RobustInvertedDoublePendulum-v0", params={"pole1_length": 0.9, "pole2_length": 0.3})
    model = env.model
    assert model.body_pos[model.body("pole2").id][2] == pytest.approx(0.9)
    assert model.site_pos[model.site("tip").id][2] == pytest.approx(0.3)
    env.reset(seed=0)
    env.set_state(np.zeros(3), np.zeros(3))
    assert env.data.site_xpos[0][2] == pytest.approx(1.2), "the upright tip is at the sum of the lengths"


def test_mass_parameter_sets_the_mass_and_scales_inertia():
    nominal = make_unwrapped("RobustInvertedPendulum-v0").model
    env = make_unwrapped("RobustInvertedPendulum-v0", params={"pole_mass": 2.0})
    pole = nominal.body("pole").id
    assert env.model.body_mass[pole] == pytest.approx(2.0, rel=1e-12)
    ratio = 2.0 / nominal.body_mass[pole]
    assert np.allclose(env.model.body_inertia[pole], nominal.body_inertia[pole] * ratio, rtol=1e-12)


def test_longer_pole_falls_slower():
    """A uniform rod tipping from upright: angular acceleration 3 g sin(theta) / (2 L) falls with its length."""

    def angle_after(params: dict, steps: int = 10) -> float:
        env = make_unwrapped("RobustInvertedPendulum-v0", params={**params, "slider_damping": 0.0})
        env.reset(seed=0)
        env.set_state(np.array([0.0, 0.05]), np.zeros(2))
        for _ in range(steps):
            env.step(np.zeros(1))
        return float(env.data.qpos[1])

    base = angle_after({})
    # (much shorter poles are light enough for the hinge's own damping of 1 N*m*s/rad to dominate)
    assert angle_after({"pole_length": 2.4}) < angle_after({"pole_length": 1.2}) < base


def test_models_are_cached_not_rebuilt():
    from robust_envs.mujoco_model import _PRISTINE_CACHE

    env = gym.make("RobustInvertedPendulum-v0")
    env.reset(seed=0, options={"params": {"pole_length": 0.77}})
    long_pole = env.unwrapped.model
    misses = _PRISTINE_CACHE.misses
    env.reset(options={"params": {"pole_length": 0.6}})
    assert env.unwrapped.model is not long_pole
    env.reset(options={"params": {"pole_length": 0.77}})
    assert env.unwrapped.model is long_pole, "a setting seen before reuses its model"
    assert _PRISTINE_CACHE.misses == misses, "no recompile for a geometry seen before"


def test_recycled_models_carry_no_trace_of_earlier_settings():
    """Past the pool size, models are edited in place; the result equals a fresh build."""
    env = make_unwrapped("RobustHopper-v0")
    rng = np.random.default_rng(0)
    for _ in range(env.model_pool_size + 5):
        env.reset(options={"params": {"density": rng.uniform(500, 1500), "thigh_damping": rng.uniform(0, 5)}})
    target = {"torso_density": 1234.0, "friction": 0.7}
    env.reset(options={"params": target})
    fresh = make_unwrapped("RobustHopper-v0", params=target).model
    for field in (
        "body_mass",
        "body_inertia",
        "body_subtreemass",
        "dof_damping",
        "dof_armature",
        "geom_friction",
        "dof_invweight0",
    ):
        assert np.array_equal(getattr(env.model, field), getattr(fresh, field)), field
