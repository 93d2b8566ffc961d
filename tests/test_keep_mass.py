"""``keep_mass``: a length or size change keeps each body's mass and gives it the inertia of its new shape.

The oracles are hand-written mechanics (capsule and box inertia, the cart-pole Lagrangian) and an
independently compiled MJCF with explicit masses, never the code under test.
"""

from __future__ import annotations

import copy
import math
import pickle

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import robust_envs
from robust_envs import DomainRandomization, PerturbedTransitions
from robust_envs.mujoco_model import compile_pristine
from robust_envs.presets import get_preset
from tests.conftest import ROBUST_IDS, make_unwrapped

IP = "RobustInvertedPendulum-v0"
IDP = "RobustInvertedDoublePendulum-v0"
#: MuJoCo's default density, which Gymnasium's pendulum XMLs do not override (kg/m^3)
DENSITY = 1000.0
#: InvertedPendulum's XML: pole capsule radius, and its segment from the hinge (0, 0, 0) to (0.001, 0, 0.6)
POLE_RADIUS = 0.049
POLE_END = np.array([0.001, 0.0, 0.6])
#: Jiang et al.'s testing range of the cart size, and of the pole length (Table 1)
TEST_CART_SIZES = (0.025, 0.05)
TEST_POLE_LENGTH = 0.3


def geometry_ids() -> list[str]:
    return [i for i in ROBUST_IDS if robust_envs.env_class(i).param_space.indices_of_kind("geometry")]


# ---- mechanics by hand ------------------------------------------------------------------------------
def capsule_volume(radius: float, half_length: float) -> float:
    """A cylinder of length ``2 h`` closed by two hemispheres."""
    return math.pi * radius**2 * 2.0 * half_length + 4.0 / 3.0 * math.pi * radius**3


def capsule_inertia(mass: float, radius: float, half_length: float) -> tuple[float, float]:
    """
    Principal moments of a uniform capsule about its centre, as MuJoCo models it (cylinder plus two hemispheres).

    - cylinder (mass ``m_c``, length ``H = 2 h``): ``m_c (3 r^2 + H^2) / 12`` across, ``m_c r^2 / 2`` along the axis;
    - each hemisphere (mass ``mu``) about a transverse axis through its flat face: ``2/5 mu r^2``; its centre of
      mass lies ``3 r / 8`` from that face, so about its own centre ``2/5 mu r^2 - mu (3 r / 8)^2``, and about the
      capsule's centre (``h + 3 r / 8`` away) that plus ``mu (h + 3 r / 8)^2``; along the axis ``2/5 mu r^2``.

    :return: (transverse moment, axial moment)
    """
    cylinder = math.pi * radius**2 * 2.0 * half_length
    total = capsule_volume(radius, half_length)
    m_cyl = mass * cylinder / total
    mu = (mass - m_cyl) / 2.0  # one hemisphere
    height = 2.0 * half_length
    offset = half_length + 3.0 * radius / 8.0
    hemisphere_across = 0.4 * mu * radius**2 - mu * (3.0 * radius / 8.0) ** 2 + mu * offset**2
    across = m_cyl * (3.0 * radius**2 + height**2) / 12.0 + 2.0 * hemisphere_across
    along = m_cyl * radius**2 / 2.0 + 2.0 * 0.4 * mu * radius**2
    return across, along


def inertia_tensor(model: mujoco.MjModel, body: str) -> np.ndarray:
    """A body's inertia tensor about its centre of mass, in the body frame (MuJoCo stores principal moments and axes)."""
    rotation = np.empty(9)
    mujoco.mju_quat2Mat(rotation, model.body(body).iquat)
    rotation = rotation.reshape(3, 3)
    return rotation @ np.diag(model.body(body).inertia) @ rotation.T


def assert_tensor_close(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-9) -> None:
    assert np.allclose(actual, expected, rtol=rel, atol=rel * np.abs(expected).max()), (actual, expected)


class CartPole:
    """
    The cart-pole of InvertedPendulum, by hand: a cart of mass ``M`` on a slider and a uniform capsule pole.

    The pole (mass ``m``) is hinged about y at the cart's origin; its centre of mass sits at ``(a, 0, c)`` in the
    pole frame and ``I`` is its moment about the y axis through that centre. With ``theta`` the hinge angle the
    centre is at ``(x + a cos + c sin, -a sin + c cos)``, so Lagrange's equations at zero velocity read

    ``[[M + m, m p], [m p, I + m (a^2 + c^2)]] [x'', theta''] = [F, m g (a cos(theta) + c sin(theta))]``,

    with ``p = -a sin(theta) + c cos(theta)`` (velocity terms and joint damping vanish at rest).
    """

    def __init__(self, cart_mass: float, pole_mass: float, pole_length: float) -> None:
        end = POLE_END * pole_length / 0.6  # the segment stretched from the hinge
        half_length = float(np.linalg.norm(end)) / 2.0
        self.big_m, self.m = cart_mass, pole_mass
        self.a, self.c = end[0] / 2.0, end[2] / 2.0
        # the axis lies in the x-z plane, so the hinge's y axis is a transverse principal axis
        self.inertia = capsule_inertia(pole_mass, POLE_RADIUS, half_length)[0]

    def accelerations(self, theta: float, force: float, gravity: float) -> np.ndarray:
        """:return: (x'', theta'') at rest at angle ``theta`` with a force on the cart."""
        m, a, c = self.m, self.a, self.c
        p = -a * math.sin(theta) + c * math.cos(theta)
        mass_matrix = np.array([[self.big_m + m, m * p], [m * p, self.inertia + m * (a**2 + c**2)]])
        forces = np.array([force, m * gravity * (a * math.cos(theta) + c * math.sin(theta))])
        return np.linalg.solve(mass_matrix, forces)


def mujoco_accelerations(env, theta: float, ctrl: float) -> np.ndarray:
    """MuJoCo's ``qacc`` of the env's model at rest at hinge angle ``theta`` with control ``ctrl``."""
    env.reset(seed=0)
    env.set_state(np.array([0.0, theta]), np.zeros(2))
    env.data.ctrl[:] = ctrl
    mujoco.mj_forward(env.model, env.data)
    return env.data.qacc.copy()


# ---- the testing-range cart ------------------------------------------------------------------------
@pytest.mark.parametrize("size", TEST_CART_SIZES)
def test_testing_range_cart_keeps_its_mass_with_the_inertia_of_its_new_capsule(size):
    nominal = make_unwrapped(IP).model
    kept_mass = nominal.body("cart").mass[0]  # 10.47 kg
    model = make_unwrapped(IP, params={"cart_size": size}, keep_mass=True).model
    assert model.body("cart").mass[0] == kept_mass
    # cart_size is radius and half-length; the XML's quat (0.707 0 0.707 0) turns the capsule's z axis onto x
    across, along = capsule_inertia(kept_mass, size, size)
    assert_tensor_close(inertia_tensor(model, "cart"), np.diag([along, across, across]))
    assert np.allclose(model.body("cart").ipos, 0.0, atol=1e-15)
    # the pole is untouched, and the derived constants follow the kept masses
    assert model.body("pole").mass[0] == nominal.body("pole").mass[0]
    assert model.body_subtreemass[model.body("cart").id] == pytest.approx(nominal.body_subtreemass[1], rel=1e-12)


@pytest.mark.parametrize("size", TEST_CART_SIZES)
def test_default_still_keeps_the_density_and_gives_the_light_cart(size):
    model = make_unwrapped(IP, params={"cart_size": size}).model
    light = DENSITY * capsule_volume(size, size)
    assert model.body("cart").mass[0] == pytest.approx(light, rel=1e-9)
    assert model.body("cart").mass[0] < 1.31 < 10.0
    across, along = capsule_inertia(light, size, size)
    assert_tensor_close(inertia_tensor(model, "cart"), np.diag([along, across, across]))


def test_kept_masses_equal_an_mjcf_compiled_with_explicit_masses():
    """An independent oracle: the XML edited by hand, each geom given its nominal body's mass, compiled by MuJoCo."""
    nominal = make_unwrapped(IP).model
    env = make_unwrapped(IP, params={"cart_size": 0.025, "pole_length": TEST_POLE_LENGTH}, keep_mass=True)
    spec = mujoco.MjSpec.from_file(env.fullpath)
    cart, pole = spec.geom("cart"), spec.geom("cpole")
    cart.size = np.array(cart.size) * 0.25
    pole.fromto = np.concatenate([np.zeros(3), POLE_END * 0.5])
    cart.mass, pole.mass = nominal.body("cart").mass[0], nominal.body("pole").mass[0]
    oracle = spec.compile()
    for field in ("body_mass", "body_ipos", "body_iquat", "body_subtreemass", "dof_invweight0", "actuator_acc0"):
        assert np.allclose(getattr(env.model, field), getattr(oracle, field), rtol=1e-12, atol=1e-15), field
    assert np.allclose(env.model.body_inertia, oracle.body_inertia, rtol=1e-12, atol=1e-15)


def test_nominal_geometry_is_the_upstream_model_whatever_keep_mass():
    plain, kept = make_unwrapped(IP).model, make_unwrapped(IP, keep_mass=True).model
    for field in ("body_mass", "body_inertia", "body_ipos", "body_iquat", "geom_size", "actuator_acc0"):
        assert np.array_equal(getattr(plain, field), getattr(kept, field)), field


# ---- dynamics ---------------------------------------------------------------------------------------
def test_inverted_rod_on_a_heavy_cart_tips_as_its_new_shape_predicts():
    """
    A kept-mass pole of another length tips from a small tilt with ``theta'' = m g d_x / I_hinge``.

    With a 1e4 kg cart the cart barely moves, so the pole pivots about a fixed hinge: ``I_hinge = I + m (a^2 + c^2)``
    and ``d_x = a cos(theta) + c sin(theta)`` (the centre of mass's horizontal lever).
    """
    env = make_unwrapped(IP, params={"pole_length": TEST_POLE_LENGTH, "cart_mass": 1e4, "slider_damping": 0.0}, keep_mass=True)
    nominal_pole = make_unwrapped(IP).model.body("pole").mass[0]
    assert env.model.body("pole").mass[0] == nominal_pole
    rod = CartPole(cart_mass=math.inf, pole_mass=nominal_pole, pole_length=TEST_POLE_LENGTH)
    gravity = -env.model.opt.gravity[2]
    theta = 0.05
    fixed_hinge = nominal_pole * gravity * (rod.a * math.cos(theta) + rod.c * math.sin(theta))
    fixed_hinge /= rod.inertia + nominal_pole * (rod.a**2 + rod.c**2)
    theta_ddot = mujoco_accelerations(env, theta, 0.0)[1]
    assert theta_ddot == pytest.approx(fixed_hinge, rel=0.01)
    # the nominal 0.6 m pole tips about half as fast (theta'' ~ 3 g / (2 L) for a thin rod)
    assert mujoco_accelerations(make_unwrapped(IP, params={"cart_mass": 1e4}), theta, 0.0)[1] < 0.6 * theta_ddot


@pytest.mark.parametrize("keep_mass", [True, False])
@pytest.mark.parametrize("cart_size, pole_length", [(0.025, TEST_POLE_LENGTH), (0.05, 0.45), (0.2, 1.5)])
def test_cart_pole_accelerations_follow_the_lagrangian(keep_mass, cart_size, pole_length):
    """Cart and pole accelerations under a known push, at rest and tilted, against the hand-written equations."""
    nominal = make_unwrapped(IP).model
    env = make_unwrapped(IP, params={"cart_size": cart_size, "pole_length": pole_length}, keep_mass=keep_mass)
    if keep_mass:
        cart_mass, pole_mass = nominal.body("cart").mass[0], nominal.body("pole").mass[0]
    else:
        half_length = float(np.linalg.norm(POLE_END)) * pole_length / 0.6 / 2.0
        cart_mass = DENSITY * capsule_volume(cart_size, cart_size)
        pole_mass = DENSITY * capsule_volume(POLE_RADIUS, half_length)
    system = CartPole(cart_mass, pole_mass, pole_length)
    theta, ctrl = 0.1, 0.5
    force = ctrl * env.model.actuator_gear[0, 0]
    expected = system.accelerations(theta, force, -env.model.opt.gravity[2])
    assert np.allclose(mujoco_accelerations(env, theta, ctrl), expected, rtol=1e-6)


def test_keep_mass_changes_the_cart_pole_response_a_lot():
    """The testing-range cart-pole under the same push: the light default cart is flung, the kept-mass one is not."""
    params = {"cart_size": 0.025, "pole_length": TEST_POLE_LENGTH}
    kept = mujoco_accelerations(make_unwrapped(IP, params=params, keep_mass=True), 0.1, 0.5)
    light = mujoco_accelerations(make_unwrapped(IP, params=params), 0.1, 0.5)
    assert light[0] > 3.0 * kept[0] > 0.0
    assert abs(light[1]) > 3.0 * abs(kept[1])


# ---- parameters on top of keep_mass --------------------------------------------------------------
def test_mass_parameters_still_multiply_and_geometry_adds_no_factor():
    nominal = make_unwrapped(IP).model
    model = make_unwrapped(
        IP,
        params={"pole_length": TEST_POLE_LENGTH, "pole_mass": 2.0, "cart_size": 0.05, "cart_density": 500.0},
        keep_mass=True,
    ).model
    assert model.body("pole").mass[0] == pytest.approx(2.0, rel=1e-12)
    assert model.body("cart").mass[0] == pytest.approx(nominal.body("cart").mass[0] * 0.5, rel=1e-12)
    across, along = capsule_inertia(nominal.body("cart").mass[0] * 0.5, 0.05, 0.05)
    assert_tensor_close(inertia_tensor(model, "cart"), np.diag([along, across, across]))


def test_double_pendulum_poles_keep_their_mass():
    nominal = make_unwrapped(IDP).model
    params = {"pole1_length": 1.05, "pole2_length": 0.5, "cart_size": 0.05}
    kept = make_unwrapped(IDP, params=params, keep_mass=True).model
    assert np.array_equal(kept.body_mass, nominal.body_mass)
    # the upper pole's 0.5 m capsule (radius 0.045) at its nominal mass, about the hinge axis y
    across, _ = capsule_inertia(nominal.body("pole2").mass[0], 0.045, 0.25)
    assert inertia_tensor(kept, "pole2")[1, 1] == pytest.approx(across, rel=1e-9)
    assert kept.body("pole2").pos[2] == pytest.approx(1.05)
    assert make_unwrapped(IDP, params=params).model.body("pole").mass[0] > 1.5 * nominal.body("pole").mass[0]


def test_shadow_hand_cube_keeps_its_mass_with_the_inertia_of_the_new_box():
    nominal = make_unwrapped("RobustShadowHandCube-v0").model
    cube_mass = nominal.body("object").mass[0]  # 567 kg/m^3 * (0.05 m)^3, from the collision box's density
    half_width = 0.015
    kept = make_unwrapped("RobustShadowHandCube-v0", params={"cube_half_width": half_width}, keep_mass=True).model
    assert kept.body("object").mass[0] == cube_mass
    # a uniform cube of edge e about any axis through its centre: m e^2 / 6
    assert np.allclose(kept.body("object").inertia, cube_mass * (2 * half_width) ** 2 / 6.0, rtol=1e-9)
    light = make_unwrapped("RobustShadowHandCube-v0", params={"cube_half_width": half_width}).model
    assert light.body("object").mass[0] == pytest.approx(567.0 * (2 * half_width) ** 3, rel=1e-9)
    denser = make_unwrapped(
        "RobustShadowHandCube-v0", params={"cube_half_width": half_width, "cube_density": 1134.0}, keep_mass=True
    ).model
    assert denser.body("object").mass[0] == pytest.approx(2.0 * cube_mass, rel=1e-12)


# ---- the suite ----------------------------------------------------------------------------------
def suite_model(env_id: str, keep_mass: bool = False, **params: float) -> mujoco.MjModel:
    return make_unwrapped(env_id, params=params, keep_mass=keep_mass).physics.model.ptr


@pytest.mark.parametrize("keep_mass", [True, False])
def test_suite_pendulum_explicit_masses_stay_and_inertia_follows_the_ball(keep_mass):
    nominal = suite_model("RobustPendulumSwingup-v0")
    model = suite_model("RobustPendulumSwingup-v0", keep_mass, pole_length=1.0)
    pole = model.body("pole").id
    # the ball's explicit 1 kg is all that swings (pole and base have mass="0"), so keep_mass changes nothing here
    assert np.array_equal(model.body_mass, nominal.body_mass)
    assert model.body_mass[pole] == 1.0
    assert model.body_ipos[pole][2] == pytest.approx(1.0)
    # a solid 5 cm ball about its own centre: 2/5 m r^2
    assert np.allclose(model.body_inertia[pole], 0.4 * 1.0 * 0.05**2, rtol=1e-9)


@pytest.mark.parametrize(
    "env_id, params, bodies",
    [
        ("RobustHopperStand-v0", {"calf_length": -0.64}, ("calf",)),
        ("RobustWalkerWalk-v0", {"thigh_length": 0.45}, ("right_thigh", "left_thigh")),
        ("RobustCheetahRun-v0", {"torso_length": 1.0}, ("torso",)),
    ],
)
def test_suite_inferred_masses_stay_at_nominal_with_the_new_shape(env_id, params, bodies):
    nominal = suite_model(env_id)
    kept = suite_model(env_id, True, **params)
    dense = suite_model(env_id, False, **params)
    assert np.array_equal(kept.body_mass, nominal.body_mass)
    for body in bodies:
        i = kept.body(body).id
        assert dense.body_mass[i] > 1.3 * nominal.body_mass[i], "without keep_mass the longer segment is heavier"
        # the same shape (centre of mass, principal axes) at the nominal mass: the dense inertia scaled down
        ratio = nominal.body_mass[i] / dense.body_mass[i]
        assert np.allclose(kept.body_inertia[i], dense.body_inertia[i] * ratio, rtol=1e-12)
        assert np.array_equal(kept.body_ipos[i], dense.body_ipos[i])
        assert not np.allclose(kept.body_inertia[i], nominal.body_inertia[i], rtol=0.05), "the inertia is the new shape's"
    others = [i for i in range(kept.nbody) if kept.body(i).name not in bodies]
    assert np.allclose(dense.body_mass[others], nominal.body_mass[others], rtol=1e-12)


# ---- every model the env builds follows the flag -------------------------------------------------
SAMPLED = [
    (IP, {"pole_length": TEST_POLE_LENGTH, "cart_size": 0.025}),
    (IDP, {"pole1_length": 1.05, "cart_size": 0.05}),
    ("RobustHopperStand-v0", {"calf_length": -0.4}),
    ("RobustCheetahRun-v0", {"torso_length": 0.6}),
]


def _start_state(env) -> np.ndarray:
    env.reset(seed=3)
    for _ in range(3):
        env.step(np.full(env.action_space.shape, 0.3, dtype=np.float32))
    return env.get_state()


def _step_from(env_id: str, params: dict, keep_mass: bool, state: np.ndarray, action: np.ndarray):
    env = make_unwrapped(env_id, params=params, keep_mass=keep_mass)
    env.reset(seed=0)
    env.set_state(state)
    return env.step(action)


@pytest.mark.parametrize("env_id, params", SAMPLED)
def test_sampling_under_other_geometry_equals_stepping_a_keep_mass_env_made_with_it(env_id, params):
    env = make_unwrapped(env_id, keep_mass=True)
    state = _start_state(env)
    action = np.full(env.action_space.shape, -0.4, dtype=np.float32)
    sampled = env.sample_next_states(state[None], action[None], [params, {}])
    observation, reward, terminated, _, info = _step_from(env_id, params, True, state, action)
    assert np.array_equal(sampled.observations[0, 0], observation)
    assert sampled.rewards[0, 0] == reward and sampled.terminated[0, 0] == terminated
    assert info["params"] == {**make_unwrapped(env_id).params, **params}, "info['params'] has no keep_mass entry"
    plain = _step_from(env_id, params, False, state, action)[0]
    assert not np.allclose(sampled.observations[0, 0], plain), "the default variant moves differently"


def test_resets_and_set_params_build_kept_mass_models():
    env = gym.make(IP, keep_mass=True)
    nominal_cart = make_unwrapped(IP).model.body("cart").mass[0]
    _, info = env.reset(seed=0, options={"params": {"cart_size": 0.025}})
    assert env.unwrapped.model.body("cart").mass[0] == nominal_cart
    assert info["params"]["cart_size"] == 0.025 and "keep_mass" not in info["params"]
    env.unwrapped.set_params({"cart_size": 0.04, "pole_length": 0.4})
    _, info = env.reset()
    assert info["params"]["pole_length"] == 0.4
    assert np.array_equal(env.unwrapped.model.body_mass, make_unwrapped(IP).model.body_mass)
    assert env.unwrapped.model.geom("cart").size[0] == pytest.approx(0.04)


def test_envs_with_and_without_keep_mass_in_one_process_do_not_share_models():
    params = {"cart_size": 0.03, "pole_length": 0.35}
    kept = make_unwrapped(IP, params=params, keep_mass=True)
    plain = make_unwrapped(IP, params=params)
    kept_again = make_unwrapped(IP, params=params, keep_mass=True)
    assert kept.model.body("cart").mass[0] > 5.0 > 0.5 > plain.model.body("cart").mass[0]
    assert np.array_equal(kept.model.body_mass, kept_again.model.body_mass)
    # the process-wide pristine models and each env's sampler cache are separate too
    key = kept._builder.geometry_key(kept.param_vector)
    assert compile_pristine(kept.fullpath, key, keep_mass=True) is not compile_pristine(kept.fullpath, key)
    vector = kept.param_vector
    assert kept._builder.model_for(vector).body("cart").mass[0] != plain._builder.model_for(vector).body("cart").mass[0]
    # the same for the suite's pristine models
    suite_kept = suite_model("RobustCheetahRun-v0", True, torso_length=0.8)
    suite_plain = suite_model("RobustCheetahRun-v0", False, torso_length=0.8)
    assert suite_kept.body("torso").mass[0] < suite_plain.body("torso").mass[0]


# ---- pickling, copies, spec ----------------------------------------------------------------------
@pytest.mark.parametrize("env_id, params", [(IP, {"cart_size": 0.025}), ("RobustHopperStand-v0", {"calf_length": -0.5})])
def test_pickle_deepcopy_and_spec_carry_keep_mass(env_id, params):
    env = gym.make(env_id, params=params, keep_mass=True)
    mass = env.unwrapped.model.body_mass.copy()
    assert env.spec.kwargs["keep_mass"] is True
    for clone in (pickle.loads(pickle.dumps(env.unwrapped)), copy.deepcopy(env).unwrapped):
        assert clone.keep_mass is True
        assert np.array_equal(clone.model.body_mass, mass)
    spec = EnvSpec.from_json(env.spec.to_json())
    remade = gym.make(spec).unwrapped
    assert remade.keep_mass is True and np.array_equal(remade.model.body_mass, mass)
    assert gym.make(env_id).unwrapped.keep_mass is False


@pytest.mark.parametrize("bad", ["yes", 1.5, None, 1, 0, "True"])
def test_bad_keep_mass_values_are_refused(bad):
    with pytest.raises(ValueError, match=f"keep_mass must be True or False, got {bad!r}"):
        gym.make(IP, keep_mass=bad)
    with pytest.raises(ValueError, match="keep_mass must be True or False"):
        gym.make("RobustCheetahRun-v0", keep_mass=bad)


def test_numpy_bools_are_accepted_and_stored_as_bools():
    env = gym.make(IP, keep_mass=np.bool_(True))
    assert env.unwrapped.keep_mass is True
    assert '"keep_mass": true' in env.spec.to_json()


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_keep_mass_true_is_taken_exactly_by_envs_with_length_or_size_parameters(env_id):
    assert gym.make(env_id, keep_mass=False).unwrapped.keep_mass is False
    if env_id in geometry_ids():
        assert gym.make(env_id, keep_mass=True).unwrapped.keep_mass is True
    else:
        with pytest.raises(ValueError, match=f"{env_id} has no length or size parameter"):
            gym.make(env_id, keep_mass=True)


def test_the_expected_envs_have_geometry_parameters():
    expected_without = {
        "RobustHopper-v0",
        "RobustWalker2d-v0",
        "RobustHalfCheetah-v0",
        "RobustPendulum-v0",
        "RobustCartPole-v0",
    }
    assert set(ROBUST_IDS) - set(geometry_ids()) == expected_without


# ---- wrappers and presets ------------------------------------------------------------------------
def test_domain_randomization_over_the_testing_range_keeps_the_masses():
    nominal = make_unwrapped(IP).model
    env = DomainRandomization(gym.make(IP, keep_mass=True), get_preset("jiang2021/invertedpendulum/test"))
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert 0.025 <= info["params"]["cart_size"] <= 0.05
        assert np.array_equal(env.unwrapped.model.body_mass, nominal.body_mass)
        env.step(env.action_space.sample())


def test_perturbed_transitions_use_kept_mass_models():
    setting = {"cart_size": 0.025, "pole_length": TEST_POLE_LENGTH}
    env = PerturbedTransitions(gym.make(IP, keep_mass=True), [setting])
    env.reset(seed=0)
    state = env.unwrapped.get_state()
    action = np.array([0.7], dtype=np.float32)
    _, _, _, _, info = env.step(action)
    observation = _step_from(IP, setting, True, state, action)[0]
    assert np.array_equal(info["perturbed_next_obs"][0], observation)


def test_jiang_length_presets_say_which_variant_reproduces_the_paper_and_keep_their_values():
    for name in (
        "jiang2021/invertedpendulum/train",
        "jiang2021/invertedpendulum/test",
        "jiang2021/inverteddoublependulum/train",
        "jiang2021/inverteddoublependulum/test",
    ):
        assert "keep_mass=True" in get_preset(name).source and "Roboschool" in get_preset(name).source
    test = get_preset("jiang2021/invertedpendulum/test")
    assert (dict(test.low), dict(test.high)) == (
        {"pole_length": 0.25, "cart_size": 0.025},
        {"pole_length": 0.5, "cart_size": 0.05},
    )
