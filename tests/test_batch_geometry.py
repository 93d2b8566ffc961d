"""Geometries compiled ahead in batches (BatchGeometry, ModelBuilder.prepare) and DomainRandomization's draws ahead.

The batch path is held to the same oracle as the scalar writer (the MjSpec rebuild, every numeric field and the
statistics within 1e-12, and 100 steps of dynamics), and to the scalar writer itself row by row. Domain
randomisation draws a box DRAWS_AHEAD points at a time: the draws must be those of one draw per reset.
"""

from __future__ import annotations

import copy
import pickle
import re

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from robust_envs.batch_geometry import BatchGeometry
from robust_envs.inplace_geometry import InPlaceGeometry
from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DRAWS_AHEAD, FIRST_DRAWS_AHEAD, DomainRandomization
from tests.conftest import make_unwrapped
from tests.test_geometry_inplace import GEOMETRY_IDS, TOLERANCE, differences, rebuilt, trajectory

#: envs whose writer has no batch twin, with the reason BatchGeometry.create gives
NO_TWIN = {
    "RobustShadowHandCube-v0": "simple dofs",
    "RobustPendulumSwingup-v0": "is not one geom that defines its inertia",
    "RobustAcrobotSwingup-v0": "is not one geom that defines its inertia",
    "RobustCheetahRun-v0": "is not one geom that defines its inertia",
}
TWIN_IDS = [env_id for env_id in GEOMETRY_IDS if env_id not in NO_TWIN]

IP = "RobustInvertedPendulum-v0"


def geometry_rows(env, count: int, seed: int) -> np.ndarray:
    """(count, n_params) vectors of the env's persistent parameters with random lengths, the bounds among them."""
    space = env.param_space
    rng = np.random.default_rng(seed)
    rows = np.repeat(env.base_params[None], count, axis=0)
    for i in space.indices_of_kind("geometry"):
        spec = space.specs[i]
        rows[:, i] = np.clip(spec.nominal * rng.uniform(0.5, 1.8, count), spec.low, spec.high)
        rows[0, i], rows[1, i] = max(spec.low, spec.nominal * 0.5), min(spec.high, spec.nominal * 1.8)
    return rows


def test_the_twins_are_those_expected():
    assert set(TWIN_IDS) >= {IP, "RobustInvertedDoublePendulum-v0", "RobustHopperHop-v0", "RobustWalkerWalk-v0"}
    for env_id in GEOMETRY_IDS:
        twin = BatchGeometry.create(make_unwrapped(env_id)._builder.in_place)
        if env_id in NO_TWIN:
            assert isinstance(twin, str) and NO_TWIN[env_id] in twin, (env_id, twin)
        else:
            assert isinstance(twin, BatchGeometry), (env_id, twin)


@pytest.mark.parametrize("keep_mass", [False, True], ids=["density", "keep_mass"])
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_a_batch_compiles_what_the_scalar_writer_compiles(env_id, keep_mass):
    env = make_unwrapped(env_id, keep_mass=keep_mass)
    builder = env._builder
    writer = builder.in_place
    twin = BatchGeometry.create(writer)
    rows = geometry_rows(env, 12, seed=3)
    scalars = []
    for vector in rows:
        values = writer.values.copy()
        for edit, amount in builder.geometry_edits(vector):
            builder.edit_values(values, edit, amount)
        scalars.append(values.flat())
    compiled = twin.compile(np.array(scalars))
    assert compiled.ok.all()
    for k, flat in enumerate(scalars):
        geometry = writer.compile(flat)
        model = copy.copy(writer.nominal)
        writer.commit(model, mujoco.MjData(model), geometry, geometry.masses)
        stat = model.stat
        expected = [stat.meaninertia, stat.meanmass, stat.meansize, stat.extent, *stat.center.tolist()]
        np.testing.assert_allclose(compiled.values[k], geometry.values, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_allclose(compiled.masses[k], geometry.masses, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_allclose(compiled.stat[k], expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_rows_the_scalar_writer_refuses_are_marked():
    writer = make_unwrapped(IP)._builder.in_place
    scalars = np.repeat(np.array([writer.scalars]), 3, axis=0)
    fromto = writer.slot("geom", "cpole", "fromto")
    scalars[1, fromto + 3 : fromto + 6] = scalars[1, fromto : fromto + 3]  # a segment of zero length
    scalars[2, writer.slot("geom", "cart", "size")] = 0.0  # a capsule without radius
    assert BatchGeometry.create(writer).compile(scalars).ok.tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("env_id", "keep_mass", "others"),
    [
        (IP, True, {}),
        (IP, False, {"cart_density": 1400.0, "pole_mass": 4.0, "slider_armature": 0.1}),
        (IP, True, {"pole_density": 700.0, "cart_mass": 8.0, "slider_damping": 2.0}),
        ("RobustInvertedDoublePendulum-v0", True, {"pole2_density": 1300.0, "slider_damping": 0.2}),
        ("RobustInvertedDoublePendulum-v0", False, {}),
    ],
)
def test_prepared_settings_equal_the_mjspec_rebuild(monkeypatch, env_id, keep_mass, others):
    env = make_unwrapped(env_id, keep_mass=keep_mass, params=others)
    env.reset(seed=0)
    rows = geometry_rows(env, 6, seed=11)
    assert env.prepare_episodes(rows) == len(rows)
    compiles = []
    monkeypatch.setattr(InPlaceGeometry, "compile", lambda self, scalars: compiles.append(1))
    for k, vector in enumerate(rows):
        env.reset(options={"params": vector})
        assert np.array_equal(env.param_vector, vector)
        reference = rebuilt(env._builder, vector)
        assert differences(env.model, reference) == {}
        if k == 0:  # the dynamics too, over 100 steps
            np.testing.assert_allclose(trajectory(env.model, 0), trajectory(reference, 0), rtol=0, atol=TOLERANCE)
    assert compiles == []  # every write was computed ahead


@pytest.mark.parametrize("keep_mass", [False, True], ids=["density", "keep_mass"])
@pytest.mark.parametrize("env_id", [env_id for env_id in TWIN_IDS if env_id not in (IP, "RobustInvertedDoublePendulum-v0")])
def test_prepared_suite_lengths_equal_the_mjspec_rebuild(monkeypatch, env_id, keep_mass):
    # the suite's length edits (translations of geoms, bodies and sites) computed for a batch at once
    env = make_unwrapped(env_id, keep_mass=keep_mass)
    env.reset(seed=0)
    rows = geometry_rows(env, 4, seed=13)
    assert env.prepare_episodes(rows) == len(rows)
    compiles = _counting_compiles(monkeypatch)
    for k, vector in enumerate(rows):
        env.reset(options={"params": vector})
        reference = rebuilt(env._builder, vector)
        assert differences(env.model, reference) == {}
        if k == 0:
            np.testing.assert_allclose(trajectory(env.model, 0), trajectory(reference, 0), rtol=0, atol=TOLERANCE)
    assert compiles == []


def _counting_compiles(monkeypatch) -> list[int]:
    compiles: list[int] = []
    original = InPlaceGeometry.compile
    monkeypatch.setattr(InPlaceGeometry, "compile", lambda self, scalars: compiles.append(1) or original(self, scalars))
    return compiles


def _resets_compile(env, rows: np.ndarray, order: list[int], compiles: list[int]) -> list[int]:
    """:return: how many geometries each reset compiled (each model checked against the rebuild)."""
    counts = []
    for k in order:
        before = len(compiles)
        env.reset(options={"params": rows[k]})
        counts.append(len(compiles) - before)
        assert differences(env.model, rebuilt(env._builder, rows[k])) == {}
    return counts


@pytest.mark.parametrize("keep_mass", [False, True], ids=["density", "keep_mass"])
def test_prepared_settings_with_other_parameters_changing_equal_the_rebuild(monkeypatch, keep_mass):
    # a box over lengths and other parameters (masses, damping, armature): each reset edits the other parameters too
    env = make_unwrapped(IP, keep_mass=keep_mass)
    env.reset(seed=0)
    rows = geometry_rows(env, 6, seed=2)
    names = env.param_names
    rows[1, :2] = env.param_space.nominal[:2]  # the nominal geometry: nothing to compute
    rows[2, names.index("slider_damping")] = 3.0
    rows[3, names.index("pole_density" if not keep_mass else "pole_mass")] *= 1.3
    rows[4, names.index("slider_armature")] = 0.2
    rows[4, names.index("cart_density" if not keep_mass else "cart_mass")] *= 0.8
    assert env.prepare_episodes(rows) == 5
    compiles = _counting_compiles(monkeypatch)
    assert _resets_compile(env, rows, [0, 1, 2, 3, 4, 5], compiles) == [0] * 6


def test_settings_out_of_turn_take_the_usual_path_and_a_new_batch_replaces_the_old(monkeypatch):
    env = make_unwrapped(IP, keep_mass=True)
    env.reset(seed=0)
    rows = geometry_rows(env, 4, seed=5)
    assert env.prepare_episodes(rows[:2]) == 2
    compiles = _counting_compiles(monkeypatch)
    assert _resets_compile(env, rows, [1, 0], compiles) == [1, 0]  # row 1 out of turn; then row 0 is the next
    assert env.prepare_episodes(rows[2:]) == 2
    assert _resets_compile(env, rows, [2, 3], compiles) == [0, 0]


def test_other_families_prepare_nothing():
    # no geometry parameters (Hopper), no batch twin (the swing-up's bodies of several geoms), other families
    for env_id in ("RobustHopper-v0", "RobustPendulumSwingup-v0", "RobustPendulum-v0", "RobustCartPole-v0"):
        env = make_unwrapped(env_id)
        env.reset(seed=0)
        assert env.prepare_episodes(np.repeat(env.base_params[None], 3, axis=0)) == 0


@pytest.mark.parametrize("env_id", [IP, "RobustHopper-v0", "RobustCartPole-v0", "RobustWalkerWalk-v0"])
def test_prepared_episodes_report_their_settings_as_any_episode_does(env_id):
    # the records (vector and {name: value}) of prepared settings are made in the batch, in every family
    env = make_unwrapped(env_id)
    env.reset(seed=0)
    rows = np.repeat(env.base_params[None], 3, axis=0)
    rows[:, 0] *= np.array([0.9, 1.05, 1.1])
    env.prepare_episodes(rows)
    expected = rows[[2, 0], 0].copy()  # out of turn too: a record is found by its setting
    rows[:, 0] = 0.0  # the env took a copy: what the caller does with its array later changes nothing
    for value in expected:
        vector = env.base_params
        vector[0] = value
        _, info = env.reset(options={"params": vector})
        assert info["params"] == env.param_space.to_dict(vector)
        assert np.array_equal(env.param_vector, vector)
        info["params"][env.param_names[0]] = -1.0  # the caller's copy: the record is untouched
        assert env.params == env.param_space.to_dict(vector)
        assert env._episode_params is next(
            row for key, (row, _) in env._episodes_ahead.items() if key == vector.tobytes()
        )  # the prepared record, not one made at reset


@pytest.mark.parametrize("bad", [np.ones(8), np.ones((2, 3)), np.ones((1, 2, 8))], ids=["1-d", "width", "3-d"])
def test_prepare_episodes_refuses_another_shape_and_changes_nothing(monkeypatch, bad):
    env = make_unwrapped(IP)
    env.reset(seed=0)
    rows = geometry_rows(env, 2, seed=3)
    assert env.prepare_episodes(rows) == 2
    with pytest.raises(ValueError, match=r"\(B, 8\) array .*pole_length.*got shape " + re.escape(str(bad.shape))):
        env.prepare_episodes(bad)
    compiles = _counting_compiles(monkeypatch)
    _, info = env.reset(options={"params": rows[0]})
    assert compiles == [] and info["params"] == env.param_space.to_dict(rows[0])  # still the earlier batch


def _one_at_a_time(env_id: str, uncertainty_set: UncertaintySet, seed: int, base: np.ndarray, count: int) -> np.ndarray:
    env = make_unwrapped(env_id, keep_mass=True)
    draw = uncertainty_set.vector_sampler(env.param_space)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return np.array([draw(rng, base).vector for _ in range(count)])


def test_domain_randomization_draws_ahead_what_it_would_draw_one_at_a_time():
    train = get_preset("jiang2021/invertedpendulum/train")
    env = DomainRandomization(gym.make(IP, keep_mass=True), train)
    count = 2 * DRAWS_AHEAD + 7
    drawn = [env.reset(seed=4)[1]["params"]]
    drawn += [env.reset()[1]["params"] for _ in range(count - 1)]
    names = env.unwrapped.param_names
    expected = _one_at_a_time(IP, train, 4, env.unwrapped.base_params, count)
    assert np.array_equal(np.array([[p[n] for n in names] for p in drawn]), expected)


def test_draws_ahead_follow_set_params_and_a_new_seed():
    train = get_preset("jiang2021/invertedpendulum/train")
    env = DomainRandomization(gym.make(IP, keep_mass=True), train)
    base = env.unwrapped.base_params
    env.reset(seed=1)
    for _ in range(9):
        env.reset()
    env.unwrapped.set_params({"slider_damping": 2.5})  # mid-batch: the drawn lengths stay, on the new parameters
    after = [env.reset()[1]["params"] for _ in range(5)]
    expected = _one_at_a_time(IP, train, 1, base, 15)[10:]
    damping = env.unwrapped.param_names.index("slider_damping")
    expected[:, damping] = 2.5
    names = env.unwrapped.param_names
    assert np.array_equal(np.array([[p[n] for n in names] for p in after]), expected)
    # a new seed starts a new stream, whatever was drawn ahead of the old one
    assert env.reset(seed=7)[1]["params"]["pole_length"] == env.reset(seed=7)[1]["params"]["pole_length"]


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda env: pickle.loads(pickle.dumps(env))], ids=["deepcopy", "pickle"])
def test_a_copy_mid_batch_draws_what_the_original_draws(copier):
    env = DomainRandomization(gym.make(IP, keep_mass=True), get_preset("jiang2021/invertedpendulum/train"))
    env.reset(seed=0)
    for _ in range(FIRST_DRAWS_AHEAD - 4):
        env.reset()
    twin = copier(env)
    for _ in range(8):  # across the first batch's end
        (obs, info), (twin_obs, twin_info) = env.reset(), twin.reset()
        assert info["params"] == twin_info["params"]
        assert np.array_equal(obs, twin_obs)
        assert differences(twin.unwrapped.model, env.unwrapped.model) == {}


def test_the_bare_reset_diagnostic_resets_as_the_usual_path_does(monkeypatch):
    # benchmarks.bench_reset --bare-floor times a reset cut to its bare work; for the pendulum's preset (lengths only)
    # it must start the very episodes the usual path starts, or its figure would be a floor of something else
    from benchmarks.bench_reset import bare_resets
    from robust_envs.mujoco_env import RobustMujocoEnv

    train = get_preset("jiang2021/invertedpendulum/train")
    usual = DomainRandomization(gym.make(IP, keep_mass=True), train)
    usual_starts = [usual.reset(seed=3)] + [usual.reset() for _ in range(FIRST_DRAWS_AHEAD + 40)]
    wrapper_reset, env_reset = bare_resets()
    monkeypatch.setattr(DomainRandomization, "reset", wrapper_reset)
    monkeypatch.setattr(RobustMujocoEnv, "reset", env_reset)
    bare = DomainRandomization(gym.make(IP, keep_mass=True), train)
    builder = bare.unwrapped._builder
    bare_starts = [bare.reset(seed=3)]
    usual_writes = []
    write = builder.write

    def counted_write(*args, **kwargs):
        usual_writes.append(args)
        return write(*args, **kwargs)

    monkeypatch.setattr(builder, "write", counted_write)
    bare_starts += [bare.reset() for _ in range(FIRST_DRAWS_AHEAD + 40)]
    # every reset took the bare path but the one at the first batch's end, which draws the next batch the usual way
    assert len(usual_writes) == 1
    for (obs, info), (bare_obs, bare_info) in zip(usual_starts, bare_starts, strict=True):
        assert info["params"] == bare_info["params"]
        assert np.array_equal(obs, bare_obs)
    assert differences(bare.unwrapped.model, usual.unwrapped.model) == {}


def test_the_free_batch_diagnostic_computes_every_setting_before_the_timing(monkeypatch):
    # benchmarks.bench_reset --free-batch bounds what any faster batch could reach: its figure is that of a run whose
    # settings were all computed at the seeded reset, and whose episodes are those of the usual run
    import robust_envs.wrappers
    from benchmarks.bench_reset import free_batch

    train = get_preset("jiang2021/invertedpendulum/train")
    resets = FIRST_DRAWS_AHEAD + 40  # across the usual first batch's end
    usual = DomainRandomization(gym.make(IP, keep_mass=True), train)
    usual_starts = [usual.reset(seed=5)] + [usual.reset() for _ in range(resets)]
    monkeypatch.setattr(robust_envs.wrappers, "FIRST_DRAWS_AHEAD", FIRST_DRAWS_AHEAD)
    monkeypatch.setattr(robust_envs.wrappers, "DRAWS_AHEAD", DRAWS_AHEAD)
    free_batch(resets)
    free = DomainRandomization(gym.make(IP, keep_mass=True), train)
    batches = []
    prepare = free.unwrapped.prepare_episodes

    def counted_prepare(params):
        batches.append(len(params))
        return prepare(params)

    monkeypatch.setattr(free.unwrapped, "prepare_episodes", counted_prepare)
    free_starts = [free.reset(seed=5)]
    assert batches == [resets + 1]  # every setting of the run, at the seeded reset
    free_starts += [free.reset() for _ in range(resets)]
    assert batches == [resets + 1]
    usual_starts.append(usual.reset())
    free_starts.append(free.reset())  # past the run: the next batch
    assert batches == [resets + 1, resets + 1]
    for (obs, info), (free_obs, free_info) in zip(usual_starts, free_starts, strict=True):
        assert info["params"] == free_info["params"]
        assert np.array_equal(obs, free_obs)
    assert differences(free.unwrapped.model, usual.unwrapped.model) == {}
