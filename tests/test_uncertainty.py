"""Uncertainty sets and the paper presets."""

from __future__ import annotations

import json

import numpy as np
import pytest

import robust_envs
from robust_envs.params import ValidatedParams
from robust_envs.presets import friction_factor, get_parameterisation, get_preset, list_parameterisations, list_presets
from robust_envs.uncertainty import UncertaintySet


def test_box_grid_includes_endpoints_and_varies_last_name_fastest():
    box = UncertaintySet.box("RobustInvertedPendulum-v0", {"pole_length": (0.5, 2.0), "cart_size": (0.05, 0.25)})
    grid = box.grid(3)
    assert len(grid) == 9
    assert grid[0] == {"pole_length": 0.5, "cart_size": 0.05}
    assert grid[-1] == {"pole_length": 2.0, "cart_size": 0.25}
    assert grid[1] == {"pole_length": 0.5, "cart_size": pytest.approx(0.15)}
    assert box.grid({"pole_length": 2, "cart_size": 1})[1] == {"pole_length": 2.0, "cart_size": pytest.approx(0.15)}


def test_samples_stay_in_the_box_and_follow_the_rng():
    box = UncertaintySet.box(
        "RobustHopper-v0", {"density": (750.0, 1250.0), "friction": (0.1, 10.0)}, distribution="log-uniform"
    )
    draws = box.sample_many(np.random.default_rng(0), 500)
    assert draws == box.sample_many(np.random.default_rng(0), 500)
    frictions = np.array([d["friction"] for d in draws])
    assert frictions.min() >= 0.1 and frictions.max() <= 10.0
    # log-uniform: the median sits at the geometric mean, 1.0
    assert np.median(frictions) == pytest.approx(1.0, rel=0.25)


def test_finite_set_sample_and_len():
    members = [{"friction": 0.5}, {"friction": 1.0}, {"friction": 2.0}]
    finite = UncertaintySet.finite("RobustHopper-v0", members)
    assert len(finite) == 3 and finite.grid() == members
    rng = np.random.default_rng(1)
    assert {finite.sample(rng)["friction"] for _ in range(50)} == {0.5, 1.0, 2.0}
    with pytest.raises(TypeError, match="has no length"):
        len(get_preset("jiang2021/hopper/train"))


def test_json_round_trip():
    for name in list_presets():
        preset = get_preset(name)
        assert UncertaintySet.from_dict(json.loads(preset.to_json())) == preset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"members": ({"friction": 1.0},), "low": {"friction": 0.0}, "high": {"friction": 1.0}}, "either finite"),
        ({"low": {"friction": 2.0}, "high": {"friction": 1.0}}, r"low <= high, got \[2.0, 1.0\]"),
        ({"low": {"friction": 0.0}, "high": {"friction": 1.0}, "distribution": "log-uniform"}, "positive ranges"),
        ({"low": {"friction": 0.5}, "high": {"friction": 1.0}, "distribution": "normal"}, "Unknown distribution 'normal'"),
        ({"low": {"friction": 0.5}, "high": {"density": 1.0}}, "different parameters"),
    ],
)
def test_bad_sets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UncertaintySet(env_id="RobustHopper-v0", **kwargs)


def test_every_preset_validates_against_its_env():
    for name in list_presets():
        preset = get_preset(name)
        preset.validate(robust_envs.env_class(preset.env_id).param_space)
        assert preset.source


def test_jiang_table_1_numbers():
    """Jiang et al. (2021), Table 1; friction converted by the floor friction of Gymnasium's XML."""
    hopper_train = get_preset("jiang2021/hopper/train")
    assert hopper_train.low == {"density": 750.0, "friction": 0.5} and hopper_train.high == {
        "density": 1250.0,
        "friction": 1.1,
    }
    hopper_test = get_preset("jiang2021/hopper/test")
    assert hopper_test.low["density"] == 1.0 and hopper_test.high == {"density": 750.0, "friction": 0.5}
    walker = get_preset("jiang2021/walker2d/train")
    assert walker.low["friction"] == pytest.approx(0.2 / 0.7) and walker.high["friction"] == pytest.approx(2.5 / 0.7)
    cheetah = get_preset("jiang2021/halfcheetah/test")
    assert cheetah.low["friction"] == pytest.approx(0.05 / 0.4) and cheetah.high["friction"] == pytest.approx(0.2 / 0.4)
    ip = get_preset("jiang2021/invertedpendulum/test")
    assert ip.low == {"pole_length": 0.25, "cart_size": 0.025} and ip.high == {"pole_length": 0.5, "cart_size": 0.05}
    idp = get_preset("jiang2021/inverteddoublependulum/train")
    assert idp.low == {"pole1_length": 0.5, "pole2_length": 0.5} and idp.high == {"pole1_length": 1.0, "pole2_length": 1.0}


def test_friction_conversion_gives_the_floor_the_paper_coefficient():
    import gymnasium as gym

    env = gym.make("RobustWalker2d-v0", params={"friction": friction_factor("RobustWalker2d-v0", 0.2)}).unwrapped
    assert env.model.geom_friction[env.model.geom("floor").id, 0] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="No friction conversion"):
        friction_factor("RobustInvertedPendulum-v0", 0.5)


def test_wr2l_parameterisations():
    assert len(get_parameterisation("wr2l/hopper/full").names) == 11
    assert len(get_parameterisation("wr2l/walker2d/full").names) == 20
    assert get_parameterisation("wr2l/hopper/2d").names == ("torso_density", "friction")
    for name in list_parameterisations():
        p = get_parameterisation(name)
        space = robust_envs.env_class(p.env_id).param_space
        assert all(n in space for n in p.names)


def test_unknown_preset_suggests():
    with pytest.raises(ValueError, match="Did you mean 'jiang2021/hopper/train'"):
        get_preset("jiang2021/hoper/train")


@pytest.mark.parametrize(
    "uncertainty_set",
    [
        UncertaintySet.box("RobustHopper-v0", {"density": (750.0, 1250.0), "friction": (0.1, 10.0)}),
        UncertaintySet.box("RobustHopper-v0", {"torso_density": (500.0, 3000.0)}, distribution="log-uniform"),
        UncertaintySet.finite("RobustHopper-v0", [{"density": 900.0}, {"friction": 0.5, "foot_density": 1100.0}]),
    ],
    ids=["box", "log-box", "finite"],
)
def test_vector_sampler_draws_what_sample_draws(uncertainty_set):
    space = robust_envs.env_class("RobustHopper-v0").param_space
    base = space.resolve({"thigh_damping": 2.0})  # persistent values the draws are written onto
    draw = uncertainty_set.vector_sampler(space)
    fast_rng, slow_rng = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(50):
        fast = space.resolve(draw(fast_rng, base))
        slow = space.resolve(uncertainty_set.sample(slow_rng), base=base)
        np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize(
    "uncertainty_set",
    [
        UncertaintySet.box("RobustHopper-v0", {"density": (750.0, 1250.0), "friction": (0.1, 10.0)}),
        UncertaintySet.box("RobustHopper-v0", {"torso_density": (500.0, 3000.0)}, distribution="log-uniform"),
    ],
    ids=["box", "log-box"],
)
def test_many_box_draws_at_once_are_the_single_draws(uncertainty_set):
    # DomainRandomization draws a batch ahead: the same settings, in the same order, from the same generator
    space = robust_envs.env_class("RobustHopper-v0").param_space
    base = space.resolve({"thigh_damping": 2.0})
    box = uncertainty_set.box_draws(space)
    draw = uncertainty_set.vector_sampler(space)
    batch_rng, single_rng = np.random.default_rng(8), np.random.default_rng(8)
    settings = box.on(base, box.points(batch_rng, 40))
    assert len(settings) == 40
    for setting in settings:
        assert isinstance(setting, ValidatedParams) and not setting.vector.flags.writeable
        np.testing.assert_array_equal(setting.vector, draw(single_rng, base).vector)
    assert batch_rng.random() == single_rng.random()  # both generators consumed alike
    with pytest.raises(ValueError, match="is a finite set; box_draws needs a box"):
        UncertaintySet.finite("RobustHopper-v0", [{"density": 900.0}]).box_draws(space)


def test_finite_draws_are_uniform_over_members():
    members = [{"pole_length": 0.5 + 0.1 * i} for i in range(5)]
    draws = UncertaintySet.finite("RobustInvertedPendulum-v0", members).sample_many(np.random.default_rng(0), 5000)
    counts = np.bincount([round((d["pole_length"] - 0.5) / 0.1) for d in draws], minlength=5)
    # 1000 expected per member; a binomial standard deviation is about 28
    assert counts.min() > 900 and counts.max() < 1100


def test_grid_has_one_point_on_a_fixed_dimension():
    box = UncertaintySet.box("RobustCartPole-v0", {"force_mag": (10.0, 10.0), "pole_length": (1.0, 6.0)})
    grid = box.grid(4)
    assert len(grid) == 4
    assert {cell["force_mag"] for cell in grid} == {10.0}


def test_presets_are_data_that_import_no_env_module():
    import subprocess
    import sys

    code = (
        "import sys; from robust_envs.presets import list_presets, get_parameterisation, presets_by_env; "
        "assert list_presets() and presets_by_env()['RobustHopper-v0']; get_parameterisation('wr2l/hopper/full'); "
        "loaded = [m for m in sys.modules if m.startswith(('mujoco', 'dm_control', 'robust_envs.hopper', "
        "'robust_envs.suite.cartpole', 'robust_envs.mujoco_env'))]; assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_preset_tables_name_the_envs_parameters():
    from robust_envs.presets import WR2L_FULL_NAMES, presets_by_env

    for env_id, names in WR2L_FULL_NAMES.items():
        assert names == robust_envs.env_class(env_id).param_space.names
    for env_id, sets in presets_by_env().items():
        assert all(s.env_id == env_id for s in sets) and list_presets(env_id) == sorted(s.name for s in sets)
    assert list_presets("RobustPendulum-v0") == []


class _ExtremeUniforms:
    """A stand-in generator whose uniforms are all one value (the ends of [0, 1))."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self, n: int | tuple[int, int]) -> np.ndarray:
        return np.full(n, self.value)


@pytest.mark.parametrize("distribution", ["uniform", "log-uniform"])
@pytest.mark.parametrize("u", [0.0, float(np.nextafter(1.0, 0.0))])
def test_box_draws_are_validated_and_stay_inside_the_box(distribution, u):
    # the draws skip the env's validation (ValidatedParams), so even the extreme uniforms must land inside the box;
    # the box's upper end is the physical bound of torso_density, where one ulp over would be refused
    space = robust_envs.env_class("RobustHopper-v0").param_space
    high = float(space.high[space.names.index("torso_density")])
    box = UncertaintySet.box(
        "RobustHopper-v0", {"torso_density": (0.1, high), "friction": (0.3, 0.7)}, distribution=distribution
    )
    draw = box.vector_sampler(space)
    validated = draw(_ExtremeUniforms(u), space.nominal)
    assert isinstance(validated, ValidatedParams) and validated.space is space
    assert not validated.vector.flags.writeable
    density = validated.vector[space.names.index("torso_density")]
    friction = validated.vector[space.names.index("friction")]
    assert 0.1 <= density <= high and 0.3 <= friction <= 0.7
    np.testing.assert_array_equal(space.resolve(validated.vector.copy()), validated.vector)  # the full checks agree
    # drawn ahead, many at once, the same
    (ahead,) = box.box_draws(space).on(space.nominal, box.box_draws(space).points(_ExtremeUniforms(u), 1))
    np.testing.assert_array_equal(ahead.vector, validated.vector)
