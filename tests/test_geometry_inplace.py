"""Length and size parameters written into the compiled model in place: equal to the MjSpec rebuild, and no recompile.

The oracle is the MjSpec rebuild that geometry parameters went through before (``ModelBuilder.pristine``, i.e.
``compile_pristine`` / ``compile_suite_model``, then the same in-place edits of the other parameters), compared
field by field over every numeric array of ``MjModel`` and its ``stat``, and over 100 steps of dynamics.

Tolerance: 1e-12, absolute for magnitudes up to 1 and relative above (a double near 1000, such as a
cheetah's ``actuator_acc0``, has a spacing of 1.1e-13, so 1e-12 absolute would ask for identical bits).
No field is skipped. Every registered length and size parameter takes the in-place path
(``test_every_geometry_parameter_is_written_in_place``); a parameter that could not would keep MjSpec and be
listed in ``MJSPEC_PARAMETERS`` below with the reason, and its equality test would compare the rebuild with itself.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import robust_envs
from robust_envs.mujoco_model import InPlaceGeometry, ModelBuilder
from robust_envs.params import GeometryEdit
from tests.conftest import ROBUST_IDS, make_unwrapped

TOLERANCE = 1e-12
FACTORS = (0.5, 1.7)
#: parameters that keep the MjSpec rebuild, with the reason (none today)
MJSPEC_PARAMETERS: dict[tuple[str, str], str] = {}


def geometry_parameters() -> list[tuple[str, str]]:
    """Every (env id, parameter) of kind "geometry" of every registered env."""
    pairs = []
    for env_id in ROBUST_IDS:
        space = getattr(robust_envs.env_class(env_id), "param_space", None)
        if space is not None:
            pairs += [(env_id, space.specs[i].name) for i in space.indices_of_kind("geometry")]
    return pairs


GEOMETRY_PARAMETERS = geometry_parameters()
GEOMETRY_IDS = list(dict.fromkeys(env_id for env_id, _ in GEOMETRY_PARAMETERS))

_BUILDERS: dict[tuple[str, bool], ModelBuilder] = {}


def builder_of(env_id: str, keep_mass: bool) -> ModelBuilder:
    key = (env_id, keep_mass)
    if key not in _BUILDERS:
        _BUILDERS[key] = make_unwrapped(env_id, keep_mass=keep_mass)._builder
    return _BUILDERS[key]


def numeric_fields(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    """Every numeric array attribute of ``model``, and the statistics the compiler sets."""
    fields = {}
    for name in dir(model):
        if name.startswith("_"):
            continue
        value = getattr(model, name, None)
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            fields[name] = value
    for name in ("extent", "meaninertia", "meanmass", "meansize", "center"):
        fields[f"stat.{name}"] = np.asarray(getattr(model.stat, name))
    return fields


def differences(model: mujoco.MjModel, reference: mujoco.MjModel) -> dict[str, float]:
    """:return: field -> largest scaled difference, for the fields that differ beyond :data:`TOLERANCE`."""
    ours, theirs = numeric_fields(model), numeric_fields(reference)
    assert ours.keys() == theirs.keys()
    bad = {}
    for name, value in ours.items():
        other = theirs[name]
        if value.shape != other.shape:
            bad[name] = np.inf
            continue
        if value.size == 0:
            continue
        a, b = value.astype(np.float64), other.astype(np.float64)
        both_inf = np.isinf(a) & (a == b)
        scale = np.maximum(1.0, np.abs(b))
        error = np.where(both_inf, 0.0, np.abs(a - b) / scale)
        worst = float(np.max(error))
        if not worst <= TOLERANCE:
            bad[name] = worst
    return bad


def rebuilt(builder: ModelBuilder, vector: np.ndarray) -> mujoco.MjModel:
    """The model of ``vector`` through the MjSpec rebuild (the path geometry parameters took before)."""
    pristine = builder.pristine(vector)
    model = copy.copy(pristine)
    builder.edit(model, pristine, vector, constants_of=None)
    return model


def trajectory(model: mujoco.MjModel, seed: int, steps: int = 100) -> np.ndarray:
    """(steps, nq + nv) states under uniformly random controls within the control range."""
    rng = np.random.default_rng(seed)
    data = mujoco.MjData(model)
    low, high = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    limited = model.actuator_ctrllimited.astype(bool)
    low, high = np.where(limited, low, -1.0), np.where(limited, high, 1.0)
    states = np.empty((steps, model.nq + model.nv))
    for t in range(steps):
        data.ctrl[:] = rng.uniform(low, high)
        mujoco.mj_step(model, data)
        states[t] = np.concatenate((data.qpos, data.qvel))
    return states


def vector_with(builder: ModelBuilder, **values: float) -> np.ndarray:
    space = builder.param_space
    vector = space.nominal.copy()
    for name, value in values.items():
        spec = space[name]
        vector[space.names.index(name)] = float(np.clip(value, spec.low, spec.high))
    return vector


@pytest.mark.parametrize("env_id", GEOMETRY_IDS)
def test_every_geometry_parameter_is_written_in_place(env_id):
    for keep_mass in (False, True):
        builder = builder_of(env_id, keep_mass)
        expected = "in place"
        if any((env_id, name) in MJSPEC_PARAMETERS for name in builder.param_space.names):
            expected = "MjSpec"
        assert builder.geometry_path.startswith(expected), builder.geometry_path


@pytest.mark.parametrize("keep_mass", [False, True], ids=["density", "keep_mass"])
@pytest.mark.parametrize(("env_id", "name"), GEOMETRY_PARAMETERS)
def test_in_place_geometry_equals_the_mjspec_rebuild(env_id, name, keep_mass):
    builder = builder_of(env_id, keep_mass)
    nominal = builder.param_space[name].nominal
    for factor in FACTORS:
        vector = vector_with(builder, **{name: nominal * factor})
        model, reference = builder.build(vector), rebuilt(builder, vector)
        assert differences(model, reference) == {}, f"{name}={vector[builder.param_space.names.index(name)]}"
        # the geometry really changed (the comparison is not between two nominal models)
        assert differences(reference, builder.nominal_model())
        ours, theirs = trajectory(model, seed=1), trajectory(reference, seed=1)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("keep_mass", [False, True], ids=["density", "keep_mass"])
@pytest.mark.parametrize("env_id", GEOMETRY_IDS)
def test_all_parameters_at_once_equal_the_rebuild(env_id, keep_mass):
    """Every geometry parameter changed together, with the other parameters off nominal too."""
    builder = builder_of(env_id, keep_mass)
    space = builder.param_space
    rng = np.random.default_rng(0)
    vector = space.nominal.copy()
    for i, spec in enumerate(space.specs):
        value = spec.nominal * rng.uniform(0.6, 1.4) if spec.nominal != 0 else rng.uniform(0.0, 0.5)
        vector[i] = np.clip(value, spec.low, spec.high)
    model, reference = builder.build(vector), rebuilt(builder, vector)
    assert differences(model, reference) == {}
    np.testing.assert_allclose(trajectory(model, seed=2), trajectory(reference, seed=2), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("env_id", GEOMETRY_IDS)
def test_rewriting_one_model_leaves_no_trace(env_id):
    """A pool model rewritten for setting after setting equals a fresh build of the last one."""
    builder = builder_of(env_id, False)
    space = builder.param_space
    model = copy.copy(builder.nominal_model())
    previous = None
    rng = np.random.default_rng(3)
    geometry = space.indices_of_kind("geometry")
    for _ in range(4):
        vector = space.nominal.copy()
        for i in geometry:
            vector[i] = np.clip(space.specs[i].nominal * rng.uniform(0.5, 1.7), space.specs[i].low, space.specs[i].high)
        builder.write(model, vector, previous)
        previous = vector
    assert differences(model, rebuilt(builder, previous)) == {}
    # back to nominal: the nominal model, to the bit
    builder.write(model, space.nominal, previous)
    assert differences(model, builder.nominal_model()) == {}
    for name in ("body_mass", "body_inertia", "geom_size", "geom_pos", "body_ipos"):
        assert np.array_equal(getattr(model, name), getattr(builder.nominal_model(), name)), name


def test_domain_randomised_resets_compile_nothing():
    """The profiled case: PPO-DR over pole length and cart size, more settings than the pool holds."""
    from robust_envs import mujoco_model
    from robust_envs.presets import get_preset
    from robust_envs.suite import geometry as suite_geometry
    from robust_envs.wrappers import DomainRandomization

    env = DomainRandomization(
        gym.make("RobustInvertedPendulum-v0", keep_mass=True), get_preset("jiang2021/invertedpendulum/train")
    )
    env.reset(seed=0)
    pool_size = env.unwrapped.model_pool_size
    misses = mujoco_model._PRISTINE_CACHE.misses, suite_geometry._SUITE_PRISTINE.misses
    seen = set()
    nominal_half_length = env.unwrapped._builder.nominal_model().geom("cpole").size[1]
    for _ in range(2 * pool_size + 5):
        _, info = env.reset()
        seen.add((info["params"]["pole_length"], info["params"]["cart_size"]))
        model = env.unwrapped.model
        assert model.geom("cpole").size[1] == pytest.approx(
            nominal_half_length * info["params"]["pole_length"] / 0.6, rel=1e-12
        )
        assert model.geom("cart").size[0] == pytest.approx(info["params"]["cart_size"], rel=1e-12)
    assert len(seen) > pool_size
    assert (mujoco_model._PRISTINE_CACHE.misses, suite_geometry._SUITE_PRISTINE.misses) == misses
    # settings never met twice are written into the model in use: no copies pile up
    assert len(env.unwrapped._pool) == 1


def test_a_finite_set_earns_a_model_per_member():
    """Members met a second time get a model of their own; from then on a reset is a lookup."""
    from robust_envs.presets import get_preset
    from robust_envs.uncertainty import UncertaintySet
    from robust_envs.wrappers import DomainRandomization

    grid = UncertaintySet.finite("RobustInvertedPendulum-v0", get_preset("jiang2021/invertedpendulum/train").grid(3))
    env = DomainRandomization(gym.make("RobustInvertedPendulum-v0"), grid)
    env.reset(seed=0)
    for _ in range(100):
        env.reset()
    models = {}
    for _ in range(50):
        _, info = env.reset()
        key = (info["params"]["pole_length"], info["params"]["cart_size"])
        assert models.setdefault(key, env.unwrapped.model) is env.unwrapped.model
    assert len(models) == 9 and len(env.unwrapped._pool) >= 9


def test_suite_resets_with_new_lengths_compile_nothing():
    from robust_envs import mujoco_model
    from robust_envs.suite import geometry as suite_geometry

    env = gym.make("RobustCheetahRun-v0")
    env.reset(seed=0)
    misses = mujoco_model._PRISTINE_CACHE.misses, suite_geometry._SUITE_PRISTINE.misses
    for length in np.linspace(0.3, 0.8, 7):
        env.reset(options={"params": {"torso_length": float(length)}})
        env.step(env.action_space.sample())
    assert (mujoco_model._PRISTINE_CACHE.misses, suite_geometry._SUITE_PRISTINE.misses) == misses
    # the episode's physics is rewritten in place, and its model is the rebuild's
    unwrapped = env.unwrapped
    assert len(unwrapped._live_pool) == 1
    assert differences(unwrapped.model, rebuilt(unwrapped._builder, unwrapped.param_vector)) == {}


def test_a_shape_the_compiler_refuses_raises_as_the_rebuild_does():
    """A degenerate geometry falls back to the MjSpec rebuild, and so fails with MuJoCo's own error."""
    builder = builder_of("RobustInvertedPendulum-v0", False)
    vector = vector_with(builder, pole_length=0.6)
    # a zero-length pole is outside the parameter's bounds: call the builder directly
    vector[builder.param_space.names.index("pole_length")] = 0.0
    with pytest.raises(ValueError, match="fromto"):
        builder.build(vector)


def test_models_the_writer_cannot_reproduce_keep_mjspec():
    """Meshes, shell inertia and the like: the writer reports why, and the builder compiles through MjSpec."""
    xml = """
    <mujoco>
      <worldbody>
        <body name="b">
          <joint type="hinge"/>
          <geom name="g" type="capsule" fromto="0 0 0 0 0 1" size="0.1" shellinertia="true"/>
        </body>
      </worldbody>
    </mujoco>
    """
    spec = mujoco.MjSpec.from_string(xml)
    writer = InPlaceGeometry.create(spec.compile(), spec, GeometryEdit(geom_fromto=("g",)).elements(), 1.0)
    assert isinstance(writer, str) and "shell" in writer


def test_the_mjspec_path_still_pools_and_matches():
    """A builder without an in-place writer (as for meshes) pools compiled models, reusing one per geometry."""
    env = make_unwrapped("RobustInvertedPendulum-v0", keep_mass=True)
    builder = env._builder
    builder._writer = "forced for this test"
    assert builder.in_place is None and builder.geometry_path == "MjSpec: forced for this test"
    rng = np.random.default_rng(4)
    lengths = [0.3, 0.45, 0.6]
    for _ in range(env.model_pool_size + 10):
        params = {"pole_length": float(rng.choice(lengths)), "pole_density": float(rng.uniform(500, 1500))}
        env.reset(options={"params": params})
        vector = env.param_vector
        assert differences(env.model, rebuilt(builder, vector)) == {}
    assert len(env._pool) == env.model_pool_size


def test_fixed_armature_survives_in_place_geometry_draws():
    # regression: with a non-nominal armature held fixed and new geometry at each reset, the in-place writer once
    # left the nominal armature (0) in the model while info["params"] reported 0.1
    import gymnasium as gym
    import numpy as np

    from robust_envs.presets import get_preset

    env = gym.make("RobustInvertedPendulum-v0", params={"slider_armature": 0.1}).unwrapped
    env.reset(seed=0)
    draw = get_preset("jiang2021/invertedpendulum/train").vector_sampler(env.param_space)
    rng = np.random.default_rng(0)
    for _ in range(3):
        env.reset(options={"params": draw(rng, env.base_params)})
        assert env.model.dof_armature[0] == 0.1
        assert env.params["slider_armature"] == 0.1


@pytest.mark.parametrize(
    ("env_id", "keep_mass", "others"),
    [
        (
            "RobustInvertedPendulum-v0",
            True,
            {"pole_density": 700.0, "cart_mass": 8.0, "slider_damping": 2.0, "slider_armature": 0.1},
        ),
        ("RobustInvertedPendulum-v0", False, {"cart_density": 1400.0, "pole_mass": 4.0, "slider_armature": 0.1}),
        ("RobustInvertedDoublePendulum-v0", True, {"pole2_density": 1300.0, "slider_damping": 0.2}),
        # settotalmass: the compiler's masses of every other body differ from the model's (swapped for the statistics)
        ("RobustCheetahRun-v0", False, {"friction": 0.7, "bthigh_damping": 3.0}),
    ],
)
def test_unseen_geometries_with_other_parameters_held_equal_the_rebuild(monkeypatch, env_id, keep_mass, others):
    """The pool's rewrite of a model whose other parameters stay (geometry and reshaped bodies only) is the rebuild."""
    rewrites = []
    rewrite = ModelBuilder._write_reshaped

    def counted(self, *args):
        done = rewrite(self, *args)
        rewrites.append(done)
        return done

    monkeypatch.setattr(ModelBuilder, "_write_reshaped", counted)
    env = make_unwrapped(env_id, keep_mass=keep_mass, params=others)
    env.reset(seed=0)
    space = env.param_space
    rng = np.random.default_rng(5)
    for _ in range(4):
        lengths = {}
        for i in space.indices_of_kind("geometry"):
            spec = space.specs[i]
            lengths[spec.name] = float(np.clip(spec.nominal * rng.uniform(0.6, 1.6), spec.low, spec.high))
        env.reset(options={"params": lengths})
        assert all(env.params[name] == value for name, value in others.items())
        assert differences(env.model, rebuilt(env._builder, env.param_vector)) == {}
    assert rewrites.count(True) == 4


def test_a_moved_body_with_a_free_joint_keeps_mjspec():
    """A free body's position is also its joint's qpos0, which the writer does not set."""
    xml = """
    <mujoco>
      <worldbody>
        <body name="b" pos="0 0 1">
          <freejoint/>
          <geom name="g" type="sphere" size="0.1"/>
        </body>
      </worldbody>
    </mujoco>
    """
    spec = mujoco.MjSpec.from_string(xml)
    writer = InPlaceGeometry.create(spec.compile(), spec, GeometryEdit(body_pos=("b",)).elements(), 1.0)
    assert isinstance(writer, str) and "free joint" in writer


def test_a_copied_builder_writes_into_the_model_it_is_given():
    """The writer keeps views into models' memory: a deep copy (or pickle) of a builder starts without them."""
    import pickle

    builder = builder_of("RobustInvertedPendulum-v0", True)
    model = builder.build(vector_with(builder, pole_length=0.7))
    # the copy is made after the writer has a view of ``model``, and is used on ``model`` itself
    for copied in (copy.deepcopy(builder), pickle.loads(pickle.dumps(builder))):
        vector = vector_with(copied, pole_length=0.9, cart_size=0.2)
        copied.write(model, vector, vector_with(copied, pole_length=0.7))
        assert differences(model, rebuilt(copied, vector)) == {}
