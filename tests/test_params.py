"""The parameter API: how params are given, reported, persisted and validated."""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import robust_envs
from robust_envs.hopper import RobustHopperEnv
from tests.conftest import MUJOCO_IDS

SPACE = RobustHopperEnv.param_space


def test_partial_dict_keeps_other_values_nominal():
    env = gym.make("RobustHopper-v0", params={"torso_density": 1500.0})
    _, info = env.reset(seed=0)
    expected = SPACE.to_dict(SPACE.nominal)
    expected["torso_density"] = 1500.0
    assert info["params"] == expected
    assert env.unwrapped.params == expected


def test_full_vector_in_declared_order():
    vector = SPACE.nominal
    vector[SPACE.index("friction")] = 0.5
    env = gym.make("RobustHopper-v0", params=vector.tolist())
    assert env.unwrapped.params["friction"] == 0.5
    assert np.array_equal(env.unwrapped.param_vector, vector)


def test_group_sets_every_member():
    env = gym.make("RobustHopper-v0", params={"density": 800.0})
    params = env.unwrapped.params
    assert all(params[f"{body}_density"] == 800.0 for body in ("torso", "thigh", "leg", "foot"))


def test_group_and_member_conflict_is_an_error():
    with pytest.raises(ValueError, match="Conflicting values for 'torso_density'"):
        SPACE.resolve({"density": 800.0, "torso_density": 900.0})
    # the same value twice is not a conflict
    assert SPACE.resolve({"density": 800.0, "torso_density": 800.0})[0] == 800.0


def test_reset_options_hold_for_one_episode_only():
    env = gym.make("RobustHopper-v0", params={"friction": 0.8})
    _, info = env.reset(seed=0, options={"params": {"torso_density": 2000.0}})
    assert info["params"]["torso_density"] == 2000.0
    assert info["params"]["friction"] == 0.8, "a partial mapping in options starts from the persistent params"
    _, _, _, _, step_info = env.step(env.action_space.sample())
    assert step_info["params"]["torso_density"] == 2000.0
    _, info = env.reset()
    assert info["params"]["torso_density"] == 1000.0 and info["params"]["friction"] == 0.8


def test_set_params_persists_across_resets():
    env = gym.make("RobustHopper-v0")
    env.reset(seed=0)
    env.unwrapped.set_params({"friction": 0.3})
    assert env.unwrapped.params["friction"] == 1.0, "the running episode keeps its physics"
    for _ in range(3):
        _, info = env.reset()
        assert info["params"]["friction"] == 0.3
    assert env.unwrapped.model.geom_friction[0, 0] == pytest.approx(0.3 * 1.0)


@pytest.mark.sb3
def test_set_params_survives_sb3_auto_reset():
    from stable_baselines3.common.env_util import make_vec_env

    vec_env = make_vec_env("RobustInvertedPendulum-v0", n_envs=2, seed=0)
    vec_env.env_method("set_params", {"pole_length": 1.0}, indices=1)
    vec_env.reset()
    ends = 0
    for _ in range(200):
        _, _, dones, infos = vec_env.step(np.zeros((2, 1), dtype=np.float32))
        ends += int(dones[1])
        assert infos[1]["params"]["pole_length"] == 1.0
        assert infos[0]["params"]["pole_length"] == 0.6
    assert ends >= 1, "at least one auto-reset happened"


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"torso_densty": 1.0}, ValueError, "Did you mean 'torso_density'"),
        ({"torso_density": math.nan}, ValueError, "must be finite"),
        ({"friction": math.inf}, ValueError, "must be finite"),
        ({"torso_density": -5.0}, ValueError, r"outside its physical bounds \[0.001, 1000000.0\]"),
        ({"friction": 101.0}, ValueError, "outside its physical bounds"),
        ([1000.0, 1000.0], ValueError, r"expected \(11,\) in the order"),
        ({"friction": "high"}, TypeError, "must be a number, got 'high'"),
        ({"friction": True}, TypeError, "must be a number"),
        ("friction", TypeError, "params must be a mapping"),
        (["a"] * 11, TypeError, "must be numbers"),
        ({3: 1.0}, TypeError, "Parameter names must be strings"),
    ],
)
def test_bad_params_raise_clear_errors(params, error, message):
    with pytest.raises(error, match=message):
        gym.make("RobustHopper-v0", params=params)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Valid names: .*'friction'.*'density'"):
        SPACE.resolve({"gravity": 1.0})


def test_bad_reset_options():
    env = gym.make("RobustHopper-v0")
    with pytest.raises(ValueError, match=r"Unknown reset option\(s\) \['param'\]"):
        env.reset(options={"param": {}})
    with pytest.raises(ValueError, match="outside its physical bounds"):
        env.reset(options={"params": {"friction": -1.0}})


def test_declared_nominals_match_the_upstream_model():
    for env_id in MUJOCO_IDS:
        env = gym.make(env_id).unwrapped
        space = env.param_space
        model = env.model
        for spec in space.specs:
            if spec.kind in ("dof_damping", "dof_armature"):
                field = model.dof_damping if spec.kind == "dof_damping" else model.dof_armature
                assert field[model.jnt_dofadr[model.joint(spec.targets[0]).id]] == spec.nominal, spec.name
            if spec.name.endswith("_mass"):
                assert model.body(spec.targets[0]).mass[0] == spec.nominal, spec.name


def test_param_names_are_json_ready():
    env = gym.make("RobustWalker2d-v0")
    _, info = env.reset(seed=0)
    assert all(type(v) is float for v in info["params"].values())
    assert len(info["params"]) == 20


def test_validated_params_are_taken_without_rechecking_and_stay_valid():
    space = robust_envs.env_class("RobustHopper-v0").param_space
    validated = space.validated({"density": 900.0})
    np.testing.assert_array_equal(space.resolve(validated), space.resolve({"density": 900.0}))
    with pytest.raises(ValueError, match="read-only"):
        validated.vector[0] = -1.0  # a validated vector cannot be made invalid afterwards
    other = robust_envs.env_class("RobustWalker2d-v0").param_space
    with pytest.raises(ValueError, match="RobustHopper-v0 given to RobustWalker2d-v0"):
        other.resolve(validated)
    env = gym.make("RobustHopper-v0")
    _, info = env.reset(seed=0, options={"params": validated})
    assert info["params"]["torso_density"] == 900.0
    assert pickle.loads(pickle.dumps(validated)).space == space


def test_full_vector_fast_path_still_names_bad_values():
    space = robust_envs.env_class("RobustHopper-v0").param_space
    vector = space.nominal.copy()
    vector[3] = np.nan
    with pytest.raises(ValueError, match=f"{space.names[3]}.*finite"):
        space.resolve(vector)
    vector[3] = -5.0
    with pytest.raises(ValueError, match=f"{space.names[3]}.*outside its physical bounds"):
        space.resolve(vector)
    vector[3] = 900.0
    resolved = space.resolve(vector)
    vector[3] = 1.0
    assert resolved[3] == 900.0  # a copy: the caller's array can change afterwards


def test_assignment_writes_groups_into_every_member():
    space = robust_envs.env_class("RobustHopper-v0").param_space
    positions, values = space.assignment({"density": 800.0, "friction": 0.7})
    names = [space.names[i] for i in positions]
    assert set(names) == {n for n in space.names if n.endswith("_density")} | {"friction"}
    assert dict(zip(names, values.tolist(), strict=True))["friction"] == 0.7


def test_partial_mappings_complete_against_the_persistent_params_on_every_path():
    env = gym.make("RobustHopper-v0", params={"torso_density": 3000.0}).unwrapped
    np.testing.assert_array_equal(env.base_params, SPACE.resolve({"torso_density": 3000.0}))
    env.set_params({"friction": 0.5})  # keeps torso_density
    assert env.base_params[SPACE.index("torso_density")] == 3000.0 and env.base_params[SPACE.index("friction")] == 0.5
    _, info = env.reset(seed=0, options={"params": {"leg_density": 900.0}})
    assert info["params"]["torso_density"] == 3000.0 and info["params"]["friction"] == 0.5
    assert info["params"]["leg_density"] == 900.0
    batch = env.resolve_param_batch([{"foot_density": 800.0}])
    assert batch[0, SPACE.index("torso_density")] == 3000.0 and batch[0, SPACE.index("foot_density")] == 800.0
    np.testing.assert_array_equal(env.resolve_param_batch(None)[0], env.param_vector)
    env.set_params(None)  # back to nominal
    np.testing.assert_array_equal(env.base_params, SPACE.nominal)
    base = env.base_params
    base[0] = -1.0  # a copy: the env is unaffected
    assert env.base_params[0] == SPACE.nominal[0]


def test_resolve_rows_agrees_with_resolve_row_by_row_and_names_a_bad_row():
    space = RobustHopperEnv.param_space
    rng = np.random.default_rng(0)
    rows = np.tile(space.nominal, (5, 1)) * rng.uniform(0.8, 1.2, (5, len(space.names)))
    resolved = space.resolve_rows(rows)
    np.testing.assert_array_equal(resolved, np.stack([space.resolve(row) for row in rows]))
    assert resolved is not rows and not np.shares_memory(resolved, rows)
    for bad, shown in ((np.nan, "nan"), (np.inf, "inf"), (-1.0, "-1.0")):
        broken = rows.copy()
        broken[3, space.names.index("torso_density")] = bad
        with pytest.raises(ValueError, match=f"torso_density.*{shown}|{shown}.*torso_density"):
            space.resolve_rows(broken)
        # a masked array's .all() would skip the masked NaN: subclasses take the row-by-row checks
        with pytest.raises(ValueError, match="torso_density"):
            space.resolve_rows(np.ma.masked_invalid(broken))
    np.testing.assert_array_equal(
        space.resolve_rows(rows.astype(np.float32)), np.stack([space.resolve(r) for r in rows.astype(np.float32)])
    )
    with pytest.raises(ValueError):
        space.resolve_rows(rows[:, :-1])
