"""
Bad inputs thrown at every entry point of the envs, across families.

Each case asserts the error type, that the message names the bad value, and that a refused call changed
nothing: the env's state (``get_state()``), its persistent and episode parameters and its random generator.
Plain parametrised pytest (hypothesis is not a dependency of the project).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import robust_envs
from robust_envs.presets import friction_factor, get_parameterisation, get_preset, list_parameterisations, list_presets
from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DisturbedByPolicy, DomainRandomization, ForceDisturbance, PerturbedTransitions

#: One env per family (MuJoCo locomotion and pendula, the suite, the two classic-control envs).
FAMILIES = (
    "RobustHopper-v0",
    "RobustInvertedPendulum-v0",
    "RobustCartpoleBalance-v0",
    "RobustCartPole-v0",
    "RobustPendulum-v0",
)
HOPPER = "RobustHopper-v0"
NAN, INF = math.nan, math.inf

_ENVS: dict[str, Any] = {}


def running(env_id: str) -> Any:
    """The unwrapped env of ``env_id``, mid-episode (made once per module: refused calls leave it as it was)."""
    if env_id not in _ENVS:
        env = gym.make(env_id).unwrapped
        env.set_params({env.param_space.names[-1]: _safe_value(env.param_space.specs[-1])})
        env.reset(seed=0)
        env.action_space.seed(0)
        for _ in range(3):
            env.step(env.action_space.sample())
        _ENVS[env_id] = env
    return _ENVS[env_id]


def _safe_value(spec) -> float:
    return spec.nominal * 1.1 if spec.nominal else (spec.low + spec.high) / 2 * 1e-3


def snapshot(env) -> tuple:
    return (
        env.get_state(),
        env.base_params,
        env.param_vector,
        dict(env.params),
        env.np_random.bit_generator.state,
    )


def assert_unchanged(env, before: tuple) -> None:
    after = snapshot(env)
    np.testing.assert_array_equal(after[0], before[0], err_msg="state changed")
    np.testing.assert_array_equal(after[1], before[1], err_msg="base_params changed")
    np.testing.assert_array_equal(after[2], before[2], err_msg="episode params changed")
    assert after[3] == before[3] and after[4] == before[4]


def refuses(call: Callable[[], Any], error: type[Exception], names: str) -> None:
    """``call`` raises ``error`` whose message contains ``names`` (the bad value)."""
    with pytest.raises(error) as caught:
        call()
    assert names in str(caught.value), f"{names!r} not in {caught.value}"


def first(env_id: str) -> str:
    return robust_envs.env_class(env_id).param_space.names[0]


# ---- parameters: gym.make, set_params, reset options, sample_next_states ------------------------------
def bad_params(env_id: str) -> list[tuple[Any, type[Exception], str]]:
    """(params, error, text the message must contain) for an env."""
    name = first(env_id)
    size = len(robust_envs.env_class(env_id).param_space)
    return [
        ({"nope": 1.0}, ValueError, "'nope'"),
        ({f"{name}x": 1.0}, ValueError, f"'{name}x'"),
        ({name: NAN}, ValueError, "nan"),
        ({name: INF}, ValueError, "inf"),
        ({name: -INF}, ValueError, "-inf"),
        ({name: -1e9}, ValueError, "-1000000000.0"),
        ({name: 1e12}, ValueError, "1000000000000.0"),
        ({name: "x"}, TypeError, "'x'"),
        ({name: None}, TypeError, "None"),
        ({name: True}, TypeError, "True"),
        ({name: [1.0]}, TypeError, "[1.0]"),
        ({3: 1.0}, TypeError, "3"),
        ([1.0], ValueError, "(1,)"),
        ([1.0] * (size + 1), ValueError, f"({size + 1},)"),
        ([NAN] * size, ValueError, "nan"),
        (["a"] * size, TypeError, "'a'"),
        ("text", TypeError, "'text'"),
        (42, TypeError, "42"),
    ]


PARAM_CASES = [(env_id, *case) for env_id in FAMILIES for case in bad_params(env_id)]


@pytest.mark.parametrize(("env_id", "params", "error", "names"), PARAM_CASES)
def test_make_refuses_bad_params(env_id, params, error, names):
    refuses(lambda: gym.make(env_id, params=params), error, names)


@pytest.mark.parametrize(("env_id", "params", "error", "names"), PARAM_CASES)
def test_set_params_refuses_bad_params_and_changes_nothing(env_id, params, error, names):
    env = running(env_id)
    before = snapshot(env)
    refuses(lambda: env.set_params(params), error, names)
    assert_unchanged(env, before)


@pytest.mark.parametrize(("env_id", "params", "error", "names"), PARAM_CASES)
def test_reset_refuses_bad_params_and_changes_nothing(env_id, params, error, names):
    env = running(env_id)
    before = snapshot(env)
    refuses(lambda: env.reset(seed=123, options={"params": params}), error, names)
    assert_unchanged(env, before)


@pytest.mark.parametrize(("env_id", "params", "error", "names"), PARAM_CASES)
def test_sample_next_states_refuses_bad_params(env_id, params, error, names):
    env = running(env_id)
    before = snapshot(env)
    action = env.action_space.sample()
    refuses(lambda: env.sample_next_states(None, np.asarray(action)[None], params), error, names)
    assert_unchanged(env, before)


# ---- reset options of every kind -------------------------------------------------------------------------
OPTION_CASES = [
    (42, TypeError, "42"),
    ("text", TypeError, "'text'"),
    ([1, 2], TypeError, "[1, 2]"),
    (3.5, TypeError, "3.5"),
    ({"nope": 1}, ValueError, "'nope'"),
    ({"param": {}}, ValueError, "'param'"),
]


@pytest.mark.parametrize("env_id", FAMILIES)
@pytest.mark.parametrize(("options", "error", "names"), OPTION_CASES)
def test_reset_refuses_bad_options_and_changes_nothing(env_id, options, error, names):
    env = running(env_id)
    before = snapshot(env)
    refuses(lambda: env.reset(seed=7, options=options), error, names)
    assert_unchanged(env, before)


# ---- set_state -------------------------------------------------------------------------------------------
def bad_states(env) -> list[tuple[Any, type[Exception], str]]:
    size = env.state_size
    good = env.get_state()
    nan_state, inf_state = good.copy(), good.copy()
    nan_state[1], inf_state[-1] = NAN, -INF
    return [
        (None, TypeError, "None"),
        ("abc", TypeError, "'abc'"),
        ([None] * size, TypeError, "None"),
        (good.astype(complex), TypeError, "j"),
        (np.zeros(size - 1), ValueError, f"({size - 1},)"),
        (np.zeros(size + 1), ValueError, f"({size + 1},)"),
        (good[None, :], ValueError, f"(1, {size})"),
        (np.float64(1.0), ValueError, "()"),
        (nan_state, ValueError, "nan at 1"),
        (inf_state, ValueError, f"-inf at {size - 1}"),
    ]


STATE_CASES = [(env_id, i) for env_id in FAMILIES for i in range(10)]


@pytest.mark.parametrize(("env_id", "case"), STATE_CASES)
def test_set_state_refuses_bad_states_and_changes_nothing(env_id, case):
    env = running(env_id)
    state, error, names = bad_states(env)[case]
    before = snapshot(env)
    refuses(lambda: env.set_state(state), error, names)
    assert_unchanged(env, before)


def test_cartpole_refuses_a_fractional_step_count():
    env = running("RobustCartPole-v0")
    state = env.get_state()
    state[4] = 0.5
    before = snapshot(env)
    refuses(lambda: env.set_state(state), ValueError, "0.5")
    assert_unchanged(env, before)


# ---- step ------------------------------------------------------------------------------------------------
def bad_actions(env_id: str) -> list[tuple[Any, type[Exception], str]]:
    if env_id == "RobustCartPole-v0":
        return [
            (2, ValueError, "2"),
            (-1, ValueError, "-1"),
            (0.5, ValueError, "0.5"),
            ("1", ValueError, "'1'"),
            (None, ValueError, "None"),
            (np.array([NAN]), ValueError, "nan"),
        ]
    shape = running(env_id).action_space.shape
    nan_action, inf_action = np.zeros(shape), np.zeros(shape)
    nan_action[0], inf_action[-1] = NAN, INF
    return [
        (nan_action, ValueError, "nan"),
        (inf_action, ValueError, "inf"),
        (np.full(shape, "a"), ValueError, "'a'"),
        (None, ValueError, "None"),
        (np.zeros((shape[0] + 1,)), ValueError, f"({shape[0] + 1},)"),
        (np.zeros((1, *shape)) if shape[0] > 1 else np.zeros((1, 2)), ValueError, "shape"),
    ]


STEP_CASES = [(env_id, i) for env_id in FAMILIES for i in range(6)]


@pytest.mark.parametrize(("env_id", "case"), STEP_CASES)
def test_step_refuses_bad_actions_and_changes_nothing(env_id, case):
    env = running(env_id)
    action, error, names = bad_actions(env_id)[case]
    before = snapshot(env)
    refuses(lambda: env.step(action), error, names)
    assert_unchanged(env, before)


# ---- sample_next_states: states, actions, K ----------------------------------------------------------------
def bad_samples(env) -> list[tuple[Any, Any, Any, type[Exception], str]]:
    """(states, actions, params, error, text) for an env."""
    state = env.get_state()[None, :]
    action = np.asarray(env.action_space.sample())[None]
    nan_state = state.copy()
    nan_state[0, 1] = NAN
    bad_action = np.full(action.shape, NAN) if action.dtype.kind == "f" else np.array([NAN])
    other = "RobustWalker2d-v0" if env.spec.id != "RobustWalker2d-v0" else HOPPER
    return [
        (nan_state, action, None, ValueError, "nan at (0, 1)"),
        (np.full_like(state, INF), action, None, ValueError, "inf at (0, 0)"),
        (state, bad_action, None, ValueError, "nan"),
        (state, np.full(action.shape, "a"), None, ValueError, "'a'"),
        (state, None, None, ValueError, "None"),
        ("abc", action, None, TypeError, "'abc'"),
        (np.zeros((1, state.shape[1] + 2)), action, None, ValueError, f"(1, {state.shape[1] + 2})"),
        (np.tile(state, (2, 1)), action, None, ValueError, "2 states"),
        (state, action, [], ValueError, "K = 0"),
        (state, action, np.empty((0, len(env.param_space))), ValueError, "K = 0"),
        (state, action, 42, TypeError, "42"),
        (state, action, "text", TypeError, "'text'"),
        (state, action, UncertaintySet.box(env.spec.id, {first(env.spec.id): (1.0, 1.0)}), ValueError, "no finite members"),
        (state, action, UncertaintySet.finite(other, [{}]), ValueError, f"is for {other!r}"),
    ]


SAMPLE_CASES = [(env_id, i) for env_id in FAMILIES for i in range(14)]


@pytest.mark.parametrize(("env_id", "case"), SAMPLE_CASES)
def test_sample_next_states_refuses_bad_inputs_and_changes_nothing(env_id, case):
    env = running(env_id)
    states, actions, params, error, names = bad_samples(env)[case]
    before = snapshot(env)
    refuses(lambda: env.sample_next_states(states, actions, params), error, names)
    assert_unchanged(env, before)


@pytest.mark.parametrize("env_id", FAMILIES)
def test_sample_next_states_of_no_states_is_empty_with_the_right_shapes(env_id):
    env = running(env_id)
    shape = env.action_space.shape
    actions = np.zeros((0, *shape), dtype=env.action_space.dtype) if shape else np.zeros(0, dtype=np.int64)
    out = env.sample_next_states(np.zeros((0, env.state_size)), actions, [{}, {}, {}])
    obs_space = env.observation_space
    assert out.observations.shape == (0, 3, *obs_space.shape) and out.observations.dtype == obs_space.dtype
    assert out.rewards.shape == (0, 3) and out.terminated.shape == (0, 3) and out.terminated.dtype == bool
    assert out.states.shape == (0, 3, env.state_size)


# ---- wrappers ----------------------------------------------------------------------------------------------
def _hopper():
    return gym.make(HOPPER)


WRAPPER_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("dr-int", lambda: DomainRandomization(_hopper(), 42), TypeError, "42"),
    (
        "dr-unknown-preset",
        lambda: DomainRandomization(_hopper(), "jiang2021/hoper/train"),
        ValueError,
        "'jiang2021/hoper/train'",
    ),
    ("dr-empty-dict", lambda: DomainRandomization(_hopper(), {}), ValueError, "env_id"),
    (
        "dr-other-env",
        lambda: DomainRandomization(_hopper(), get_preset("jiang2021/walker2d/train")),
        ValueError,
        "'RobustWalker2d-v0'",
    ),
    (
        "dr-unknown-name",
        lambda: DomainRandomization(_hopper(), UncertaintySet.box(HOPPER, {"mass": (1.0, 2.0)})),
        ValueError,
        "'mass'",
    ),
    (
        "dr-out-of-bounds",
        lambda: DomainRandomization(_hopper(), UncertaintySet.box(HOPPER, {"friction": (-2.0, 1.0)})),
        ValueError,
        "-2.0",
    ),
    (
        "dr-not-an-env",
        lambda: DomainRandomization("RobustHopper-v0", get_preset("jiang2021/hopper/train")),
        TypeError,
        "'RobustHopper-v0'",
    ),
    (
        "dr-upstream-env",
        lambda: DomainRandomization(gym.make("CartPole-v1"), get_preset("jiang2021/hopper/train")),
        ValueError,
        "CartPoleEnv",
    ),
    ("pt-no-models", lambda: PerturbedTransitions(_hopper(), []), ValueError, "K = 0"),
    ("pt-unknown-name", lambda: PerturbedTransitions(_hopper(), [{"mass": 1.0}]), ValueError, "'mass'"),
    ("pt-nan", lambda: PerturbedTransitions(_hopper(), [{"friction": NAN}]), ValueError, "nan"),
    ("pt-int", lambda: PerturbedTransitions(_hopper(), 42), TypeError, "42"),
    (
        "pt-other-env",
        lambda: PerturbedTransitions(_hopper(), get_preset("mankowitz2020/shadowhand/holdout")),
        ValueError,
        "is for",
    ),
    ("pt-box", lambda: PerturbedTransitions(_hopper(), get_preset("jiang2021/hopper/train")), ValueError, "no finite members"),
    ("fd-unknown-body", lambda: ForceDisturbance(_hopper(), "head", 1.0), ValueError, "'head'"),
    ("fd-body-number", lambda: ForceDisturbance(_hopper(), [1], 1.0), TypeError, "[1]"),
    ("fd-no-body", lambda: ForceDisturbance(_hopper(), [], 1.0), ValueError, "at least one body"),
    ("fd-force-string", lambda: ForceDisturbance(_hopper(), "torso", "5"), TypeError, "'5'"),
    ("fd-force-nan", lambda: ForceDisturbance(_hopper(), "torso", NAN), ValueError, "nan"),
    ("fd-force-negative", lambda: ForceDisturbance(_hopper(), "torso", -1.0), ValueError, "-1.0"),
    ("fd-force-none", lambda: ForceDisturbance(_hopper(), "torso", None), TypeError, "None"),
    ("fd-not-mujoco", lambda: ForceDisturbance(gym.make("RobustPendulum-v0"), "pole", 1.0), ValueError, "RobustPendulumEnv"),
    ("dp-no-channel", lambda: DisturbedByPolicy(_hopper(), lambda obs: np.zeros(2)), ValueError, "no disturbance channel"),
]


@pytest.mark.parametrize(("call", "error", "names"), [c[1:] for c in WRAPPER_CASES], ids=[c[0] for c in WRAPPER_CASES])
def test_wrappers_refuse_bad_arguments(call, error, names):
    refuses(call, error, names)


@pytest.mark.parametrize(
    ("w", "error", "names"),
    [(np.array([NAN, 0.0]), ValueError, "nan"), (np.zeros(3), ValueError, "(3,)"), (np.array([INF, 0.0]), ValueError, "inf")],
)
def test_force_disturbance_refuses_bad_forces(w, error, names):
    env = ForceDisturbance(_hopper(), "torso", 5.0)
    env.reset(seed=0)
    env.set_disturbance(np.array([1.0, -1.0]))
    refuses(lambda: env.set_disturbance(w), error, names)
    np.testing.assert_array_equal(env.get_wrapper_attr("_w"), [1.0, -1.0])


@pytest.mark.parametrize(
    ("options", "error", "names"),
    [
        (42, TypeError, "42"),
        ("text", TypeError, "'text'"),
        ({"params": {}}, ValueError, "draws the params itself"),
        ({"nope": 1}, ValueError, "'nope'"),
    ],
)
@pytest.mark.parametrize("seed", [None, 5])
def test_domain_randomization_refused_resets_change_nothing(options, error, names, seed):
    env = DomainRandomization(gym.make(HOPPER), get_preset("jiang2021/hopper/train"))
    env.reset(seed=0)
    base = env.unwrapped
    before, rng = snapshot(base), env.get_wrapper_attr("_rng").bit_generator.state
    refuses(lambda: env.reset(seed=seed, options=options), error, names)
    assert_unchanged(base, before)
    assert env.get_wrapper_attr("_rng").bit_generator.state == rng


@pytest.mark.parametrize(
    "action", [np.array([NAN, 0.0, 0.0], dtype=np.float32), np.array([0.0, INF, 0.0]), np.zeros(4), np.array(["a", "b", "c"])]
)
def test_perturbed_transitions_refused_steps_change_nothing(action):
    env = PerturbedTransitions(gym.make(HOPPER), [{}, {"friction": 0.5}])
    env.reset(seed=0)
    before = snapshot(env.unwrapped)
    with pytest.raises(ValueError):
        env.step(action)
    assert_unchanged(env.unwrapped, before)


# ---- uncertainty sets and presets --------------------------------------------------------------------------
BOX = UncertaintySet.box(HOPPER, {"friction": (0.5, 1.5), "density": (900.0, 1100.0)})
SET_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("unknown-id", lambda: UncertaintySet.finite("RobustHoper-v0", [{}]), ValueError, "'RobustHoper-v0'"),
    ("id-number", lambda: UncertaintySet.finite(42, [{}]), TypeError, "42"),
    ("member-list", lambda: UncertaintySet.finite(HOPPER, [[1, 2]]), TypeError, "[1, 2]"),
    ("member-nan", lambda: UncertaintySet.finite(HOPPER, [{"friction": NAN}]), ValueError, "nan"),
    ("member-inf", lambda: UncertaintySet.finite(HOPPER, [{"friction": INF}]), ValueError, "inf"),
    ("member-string", lambda: UncertaintySet.finite(HOPPER, [{"friction": "x"}]), TypeError, "'x'"),
    ("member-bool", lambda: UncertaintySet.finite(HOPPER, [{"friction": True}]), TypeError, "True"),
    ("member-key", lambda: UncertaintySet.finite(HOPPER, [{1: 2.0}]), TypeError, "1"),
    ("members-dict", lambda: UncertaintySet.finite(HOPPER, {"friction": 1.0}), TypeError, "{'friction': 1.0}"),
    ("members-none", lambda: UncertaintySet.finite(HOPPER, None), TypeError, "None"),
    ("members-empty", lambda: UncertaintySet.finite(HOPPER, []), ValueError, "at least one member"),
    ("box-bare-number", lambda: UncertaintySet.box(HOPPER, {"friction": 0.5}), TypeError, "0.5"),
    ("box-one-end", lambda: UncertaintySet.box(HOPPER, {"friction": (0.5,)}), ValueError, "(0.5,)"),
    ("box-three-ends", lambda: UncertaintySet.box(HOPPER, {"friction": (0.1, 0.5, 1.0)}), ValueError, "3 values"),
    ("box-string", lambda: UncertaintySet.box(HOPPER, {"friction": "ab"}), TypeError, "'ab'"),
    ("box-nan", lambda: UncertaintySet.box(HOPPER, {"friction": (NAN, 1.0)}), ValueError, "nan"),
    ("box-inf", lambda: UncertaintySet.box(HOPPER, {"friction": (0.0, INF)}), ValueError, "inf"),
    ("box-reversed", lambda: UncertaintySet.box(HOPPER, {"friction": (2.0, 1.0)}), ValueError, "[2.0, 1.0]"),
    ("box-empty", lambda: UncertaintySet.box(HOPPER, {}), ValueError, "at least one parameter range"),
    ("box-not-mapping", lambda: UncertaintySet.box(HOPPER, 42), TypeError, "42"),
    (
        "box-distribution",
        lambda: UncertaintySet.box(HOPPER, {"friction": (0.5, 1.0)}, distribution="normal"),
        ValueError,
        "'normal'",
    ),
    (
        "box-log-zero",
        lambda: UncertaintySet.box(HOPPER, {"friction": (0.0, 1.0)}, distribution="log-uniform"),
        ValueError,
        "0.0",
    ),
    ("name-number", lambda: UncertaintySet.finite(HOPPER, [{}], name=3), TypeError, "3"),
    ("grid-float", lambda: BOX.grid(2.5), TypeError, "2.5"),
    ("grid-string", lambda: BOX.grid("3"), TypeError, "'3'"),
    ("grid-bool", lambda: BOX.grid(True), TypeError, "True"),
    ("grid-zero", lambda: BOX.grid(0), ValueError, "0"),
    ("grid-negative", lambda: BOX.grid(-2), ValueError, "-2"),
    ("grid-unknown-name", lambda: BOX.grid({"nope": 3}), ValueError, "'nope'"),
    ("grid-missing-name", lambda: BOX.grid({"friction": 3}), ValueError, "'density'"),
    ("grid-float-count", lambda: BOX.grid({"friction": 3, "density": 1.5}), TypeError, "1.5"),
    ("sample-none", lambda: BOX.sample(None), TypeError, "None"),
    ("sample-seed", lambda: BOX.sample(42), TypeError, "42"),
    ("sample-many-negative", lambda: BOX.sample_many(np.random.default_rng(0), -1), ValueError, "-1"),
    ("from-dict-empty", lambda: UncertaintySet.from_dict({}), ValueError, "env_id"),
    ("from-dict-number", lambda: UncertaintySet.from_dict(42), TypeError, "42"),
    ("from-dict-unknown-key", lambda: UncertaintySet.from_dict({"env_id": HOPPER, "bogus": 1}), ValueError, "'bogus'"),
    ("from-dict-no-members", lambda: UncertaintySet.from_dict({"env_id": HOPPER}), ValueError, "either finite"),
    ("len-of-box", lambda: len(BOX), TypeError, "no length"),
    ("preset-none", lambda: get_preset(None), TypeError, "None"),
    ("preset-number", lambda: get_preset(42), TypeError, "42"),
    ("preset-typo", lambda: get_preset("jiang2021/hoper/train"), ValueError, "'jiang2021/hopper/train'"),
    ("list-presets-unknown", lambda: list_presets("RobustHoper-v0"), ValueError, "'RobustHoper-v0'"),
    ("list-presets-number", lambda: list_presets(42), TypeError, "42"),
    ("parameterisation-typo", lambda: get_parameterisation("wr2l/hopper/3d"), ValueError, "'wr2l/hopper/3d'"),
    ("parameterisation-none", lambda: get_parameterisation(None), TypeError, "None"),
    ("list-parameterisations-unknown", lambda: list_parameterisations("Nope-v0"), ValueError, "'Nope-v0'"),
    ("friction-factor", lambda: friction_factor("RobustPendulum-v0", 1.0), ValueError, "'RobustPendulum-v0'"),
    (
        "validate",
        lambda: UncertaintySet.finite(HOPPER, [{"friction": -1.0}]).validate(running(HOPPER).param_space),
        ValueError,
        "-1.0",
    ),
]


@pytest.mark.parametrize(("call", "error", "names"), [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES])
def test_uncertainty_sets_and_presets_refuse_bad_input(call, error, names):
    refuses(call, error, names)


def test_the_fuzz_suite_throws_at_least_150_bad_inputs():
    cases = (
        len(PARAM_CASES) * 4
        + len(OPTION_CASES) * len(FAMILIES)
        + len(STATE_CASES)
        + len(STEP_CASES)
        + len(SAMPLE_CASES)
        + len(WRAPPER_CASES)
        + len(SET_CASES)
    )
    assert cases >= 150, cases
