"""Physics oracles for the suite envs' parameters: what a length or a mass change must do, by mechanics."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from robust_envs.suite.geometry import compile_suite_model
from tests.conftest import make_unwrapped


def model_of(env_id: str, **params: float) -> mujoco.MjModel:
    env = make_unwrapped(env_id, params=params)
    return env.physics.model.ptr


def zero_pose_positions(model: mujoco.MjModel) -> mujoco.MjData:
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return data


def predicted_cartpole_period(model: mujoco.MjModel) -> float:
    """
    Small oscillations of the hanging pole with the cart free on its rail (Lagrange, linearised about theta = 0):

    ``(M + m) x'' + m l theta'' = 0`` and ``m l x'' + (I_c + m l^2) theta'' + m g l theta = 0``, hence
    ``omega^2 = m g l / (I_c + m l^2 - m^2 l^2 / (M + m))``, with the masses, centre of mass and inertia
    MuJoCo computed for the model.
    """
    pole, cart = model.body("pole_1").id, model.body("cart").id
    m, big_m = model.body_mass[pole], model.body_mass[cart]
    arm = float(np.linalg.norm(model.body_ipos[pole]))  # l: the hinge sits at the pole body's origin
    # a capsule along z: the two equal (transverse) principal moments are those about the hinge's y axis
    inertia = np.sort(model.body_inertia[pole])[-1]
    g = -model.opt.gravity[2]
    omega = math.sqrt(m * g * arm / (inertia + m * arm**2 - m**2 * arm**2 / (big_m + m)))
    return 2.0 * math.pi / omega


def measured_period(env_id: str, params: dict[str, float], hinge: str, rest_angle: float, seconds: float) -> float:
    """Release the pole 0.02 rad from rest with zero control; mean time between upward zero crossings."""
    env = make_unwrapped(env_id, params=params)
    env.reset(seed=0)
    physics = env.physics
    with physics.reset_context():
        physics.named.data.qpos[hinge] = rest_angle + 0.02
    physics.set_control(np.zeros(physics.model.nu))
    times, angles = [], []
    for _ in range(int(seconds / physics.timestep())):
        physics.step()
        times.append(physics.data.time)
        angles.append(physics.named.data.qpos[hinge][0] - rest_angle)
    angles_arr, times_arr = np.array(angles), np.array(times)
    up = np.nonzero((angles_arr[:-1] < 0) & (angles_arr[1:] >= 0))[0]
    # linear interpolation of each crossing between the two samples around it
    crossings = times_arr[up] - angles_arr[up] * (times_arr[up + 1] - times_arr[up]) / (angles_arr[up + 1] - angles_arr[up])
    assert len(crossings) >= 3
    return float(np.mean(np.diff(crossings)))


def test_longer_cartpole_pole_swings_slower_in_the_ratio_mechanics_predicts():
    env_id = "RobustCartpoleSwingup-v0"
    periods = {}
    for length in (1.0, 2.0):
        model = model_of(env_id, pole_length=length)
        predicted = predicted_cartpole_period(model)
        measured = measured_period(env_id, {"pole_length": length}, "hinge_1", math.pi, seconds=12.0)
        assert measured == pytest.approx(predicted, rel=2e-3), length
        periods[length] = (measured, predicted)
    measured_ratio = periods[2.0][0] / periods[1.0][0]
    predicted_ratio = periods[2.0][1] / periods[1.0][1]
    # a compound pendulum on a free cart: close to, not exactly, sqrt(2) (the predicted ratio is computed above)
    assert measured_ratio == pytest.approx(predicted_ratio, rel=2e-3)


def test_longer_cartpole_pole_keeps_its_explicit_mass_with_the_inertia_of_the_new_capsule():
    nominal, longer = model_of("RobustCartpoleBalance-v0"), model_of("RobustCartpoleBalance-v0", pole_length=2.0)
    pole = nominal.body("pole_1").id
    assert longer.body_mass[pole] == nominal.body_mass[pole] == 0.1
    assert longer.body_ipos[pole][2] == pytest.approx(1.0) and nominal.body_ipos[pole][2] == pytest.approx(0.5)
    assert np.sort(longer.body_inertia[pole])[-1] > 3.5 * np.sort(nominal.body_inertia[pole])[-1]


@pytest.mark.parametrize(("ball_mass", "pole_length"), [(1.0, 0.5), (1.4, 0.5), (1.0, 0.7)])
def test_pendulum_holding_torque_is_m_g_l(ball_mass, pole_length):
    env = make_unwrapped("RobustPendulumSwingup-v0", params={"ball_mass": ball_mass, "pole_length": pole_length})
    env.reset(seed=0)
    physics = env.physics
    g = -physics.model.opt.gravity[2]
    holding = ball_mass * g * pole_length  # all the swinging mass is the ball, at the pole's end

    def swing(applied: float) -> float:
        with physics.reset_context():
            physics.named.data.qpos["hinge"] = math.pi / 2  # horizontal: the ball at +x
        physics.named.data.qfrc_applied["hinge"] = applied
        physics.set_control(np.zeros(1))
        for _ in range(50):  # 1 s
            physics.step()
        return abs(physics.named.data.qpos["hinge"][0] - math.pi / 2)

    # gravity's torque about +y at the ball at +x is +m g l, so holding needs -m g l
    assert swing(-holding) < 1e-9
    nominal_holding = 1.0 * g * 0.5
    if holding != nominal_holding:
        assert swing(-nominal_holding) > 0.05, "the nominal model's holding torque must not hold the changed pendulum"


def test_heavier_ball_changes_the_holding_torque_by_delta_m_g_l():
    torques = {}
    for mass in (1.0, 1.5):
        env = make_unwrapped("RobustPendulumSwingup-v0", params={"ball_mass": mass})
        physics = env.physics
        with physics.reset_context():
            physics.named.data.qpos["hinge"] = math.pi / 2
        # at rest qfrc_bias is the torque that holds the pole: minus gravity's +m g l about +y
        torques[mass] = physics.named.data.qfrc_bias["hinge"][0]
    g = 9.81
    assert torques[1.0] == pytest.approx(-1.0 * g * 0.5, rel=1e-12)
    assert torques[1.5] - torques[1.0] == pytest.approx(-0.5 * g * 0.5, rel=1e-12)


def test_longer_hopper_calf_moves_the_foot_by_the_change_in_length():
    nominal = zero_pose_positions(model_of("RobustHopperHop-v0"))
    longer = zero_pose_positions(model_of("RobustHopperHop-v0", calf_length=-0.45))
    shift = longer.body("foot").xpos - nominal.body("foot").xpos
    np.testing.assert_allclose(shift, [0.0, 0.0, -0.13], atol=1e-12)
    # the touch sites travel with the foot; the knee (calf body) stays
    np.testing.assert_allclose(longer.site("touch_toe").xpos - nominal.site("touch_toe").xpos, [0, 0, -0.13], atol=1e-12)
    np.testing.assert_array_equal(longer.body("calf").xpos, nominal.body("calf").xpos)


def test_longer_hopper_calf_gets_the_mass_of_its_new_capsule():
    nominal, longer = model_of("RobustHopperHop-v0"), model_of("RobustHopperHop-v0", calf_length=-0.45)
    radius = 0.03

    def capsule_mass(length: float) -> float:
        return 1000.0 * (math.pi * radius**2 * length + 4.0 / 3.0 * math.pi * radius**3)

    assert nominal.body("calf").mass[0] == pytest.approx(capsule_mass(0.32), rel=1e-9)
    assert longer.body("calf").mass[0] == pytest.approx(capsule_mass(0.45), rel=1e-9)
    assert longer.body("foot").mass[0] == nominal.body("foot").mass[0]


def test_longer_walker_thighs_move_both_feet_by_the_change_in_length():
    nominal_model = model_of("RobustWalkerWalk-v0")
    longer_model = model_of("RobustWalkerWalk-v0", thigh_length=0.35)
    nominal, longer = zero_pose_positions(nominal_model), zero_pose_positions(longer_model)
    change = 2 * (0.35 - 0.225)  # the parameter is a half-length
    for side in ("right", "left"):
        foot_shift = longer.body(f"{side}_foot").xpos - nominal.body(f"{side}_foot").xpos
        np.testing.assert_allclose(foot_shift, [0, 0, -change], atol=1e-12)
        # the knee joint (0.25 m up inside the leg) stays at the thigh's lower end
        thigh_bottom = longer.body(f"{side}_thigh").xpos[2] - 2 * 0.35
        assert longer.xanchor[longer.joint(f"{side}_knee").id][2] == pytest.approx(thigh_bottom, abs=1e-12)
    thigh = nominal_model.geom("right_thigh").id
    assert longer_model.geom_size[thigh][1] == pytest.approx(0.35) and longer_model.geom_size[thigh][0] == 0.05


def test_longer_cheetah_torso_moves_the_hips_and_keeps_the_density():
    nominal_model = model_of("RobustCheetahRun-v0")
    longer_model = model_of("RobustCheetahRun-v0", torso_length=0.6)
    nominal, longer = zero_pose_positions(nominal_model), zero_pose_positions(longer_model)
    np.testing.assert_allclose(longer.body("fthigh").xpos - nominal.body("fthigh").xpos, [0.1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(longer.body("bthigh").xpos - nominal.body("bthigh").xpos, [-0.1, 0, 0], atol=1e-12)
    # settotalmass="14" fixes the nominal density; the torso body (torso and head capsules) follows its volume
    radius = 0.046
    head = math.pi * radius**2 * 0.3 + 4.0 / 3.0 * math.pi * radius**3

    def torso_volume(half_length: float) -> float:
        return math.pi * radius**2 * 2 * half_length + 4.0 / 3.0 * math.pi * radius**3 + head

    torso = nominal_model.body("torso").id
    expected = nominal_model.body_mass[torso] * torso_volume(0.6) / torso_volume(0.5)
    assert longer_model.body_mass[torso] == pytest.approx(expected, rel=1e-9)
    legs = [nominal_model.body(name).id for name in ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")]
    np.testing.assert_allclose(longer_model.body_mass[legs], nominal_model.body_mass[legs], rtol=1e-12)
    assert nominal_model.body_mass.sum() == pytest.approx(14.0)


def test_longer_acrobot_upper_arm_moves_the_elbow_and_keeps_the_arm_mass():
    nominal_model = model_of("RobustAcrobotSwingup-v0")
    longer_model = model_of("RobustAcrobotSwingup-v0", upper_arm_length=1.25)
    nominal, longer = zero_pose_positions(nominal_model), zero_pose_positions(longer_model)
    np.testing.assert_allclose(longer.site("tip").xpos - nominal.site("tip").xpos, [0, 0, 0.25], atol=1e-12)
    assert longer_model.body("upper_arm").mass[0] == nominal_model.body("upper_arm").mass[0] == 1.0


def test_perturbed_models_share_the_nominal_textures_and_are_cached():
    from robust_envs.suite.base import suite_xml_path
    from robust_envs.suite.hopper import PARAM_SPACE

    edit = PARAM_SPACE["calf_length"].geometry
    path = suite_xml_path("hopper.xml")
    first = compile_suite_model(path, ((edit, -0.05),))
    assert compile_suite_model(path, ((edit, -0.05),)) is first
    nominal = compile_suite_model(path, ((edit, 0.0),))
    assert np.array_equal(first.tex_data, nominal.tex_data) and first.ntex == nominal.ntex
    assert nominal is compile_suite_model(path, ())
