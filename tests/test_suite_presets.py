"""Paper 000's Table 3 for the suite envs: every row, as typed from the paper, and usable by the envs."""

from __future__ import annotations

import numpy as np
import pytest

import robust_envs
from robust_envs.presets import get_preset, list_presets
from robust_envs.suite.presets import training_params
from tests.conftest import make_unwrapped

# (preset, parameter, values), typed from Mankowitz et al. (2020), appendix H.3, Table 3
TABLE_3 = [
    ("acrobot-swingup/uncertainty", "upper_arm_length", (1.0, 1.025, 1.05)),
    ("acrobot-swingup/holdout", "upper_arm_length", (1.15, 1.2, 1.25)),
    ("cartpole-balance/uncertainty", "pole_length", (0.5, 1.9, 2.1)),
    ("cartpole-balance/holdout", "pole_length", (2.0, 2.2, 2.3)),
    ("cartpole-swingup/uncertainty", "pole_length", (1.0, 1.4, 1.7)),
    ("cartpole-swingup/holdout", "pole_length", (1.2, 1.5, 1.8)),
    ("cheetah-run/uncertainty", "torso_length", (0.4, 0.45, 0.5)),
    ("cheetah-run/holdout", "torso_length", (0.3, 0.325, 0.35)),
    ("hopper-hop/uncertainty", "calf_length", (-0.32, -0.33, -0.34)),
    ("hopper-hop/holdout", "calf_length", (-0.4, -0.45, -0.5)),
    ("hopper-stand/uncertainty", "calf_length", (-0.32, -0.33, -0.34)),
    ("hopper-stand/holdout", "calf_length", (-0.4, -0.475, -0.5)),
    ("pendulum-swingup/uncertainty", "ball_mass", (1.0, 1.1, 1.4)),
    ("pendulum-swingup/holdout", "ball_mass", (1.5, 1.6, 1.7)),
    ("walker-run/uncertainty", "thigh_length", (0.225, 0.2375, 0.25)),
    ("walker-run/holdout", "thigh_length", (0.35, 0.375, 0.4)),
    ("walker-walk/uncertainty", "thigh_length", (0.225, 0.2375, 0.25)),
    ("walker-walk/holdout", "thigh_length", (0.35, 0.375, 0.4)),
    ("cartpole-balance/larger-uncertainty", "pole_length", (0.5, 1.9, 2.1)),
    ("cartpole-balance/larger-test", "pole_length", (0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9)),
    ("pendulum-swingup/larger-uncertainty", "pole_length", (1.0, 1.1, 1.4)),
    ("pendulum-swingup/larger-test", "pole_length", (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)),
    ("pendulum-swingup/offline-uncertainty", "ball_mass", (1.0, 1.1, 1.2)),
    ("pendulum-swingup/offline-holdout", "ball_mass", (1.5, 1.6, 1.7)),
    ("cartpole-swingup/offline-uncertainty", "pole_length", (1.0, 1.4, 1.7)),
    ("cartpole-swingup/offline-holdout", "pole_length", (1.2, 1.5, 1.8)),
]
SUITE_PRESETS = [name for name in list_presets() if name.startswith("mankowitz2020/") and "shadowhand" not in name]


@pytest.mark.parametrize(("name", "parameter", "values"), TABLE_3, ids=[row[0] for row in TABLE_3])
def test_table_3_numbers(name, parameter, values):
    preset = get_preset(f"mankowitz2020/{name}")
    assert preset.members == tuple({parameter: v} for v in values)
    assert "Table 3" in preset.source


def test_every_row_is_a_preset_and_nothing_else():
    assert sorted(SUITE_PRESETS) == sorted(f"mankowitz2020/{row[0]}" for row in TABLE_3)


def test_training_model_is_the_first_member_and_the_table_text_conflict_is_recorded():
    assert training_params(get_preset("mankowitz2020/cartpole-balance/uncertainty")) == {"pole_length": 0.5}
    assert training_params(get_preset("mankowitz2020/cheetah-run/uncertainty")) == {"torso_length": 0.4}
    assert "0.5, 1.4, 2.1" in get_preset("mankowitz2020/cartpole-balance/uncertainty").source
    with pytest.raises(ValueError, match="no first member"):
        training_params(robust_envs.UncertaintySet.box("RobustCheetahRun-v0", {"torso_length": (0.3, 0.5)}))


def test_every_suite_preset_builds_its_models():
    for name in SUITE_PRESETS:
        preset = get_preset(name)
        env = make_unwrapped(preset.env_id)
        preset.validate(env.param_space)
        env.reset(seed=0)
        state = env.get_state()
        action = np.zeros(env.action_space.shape)
        out = env.sample_next_states(state[None], action[None], preset)
        assert out.observations.shape[1] == len(preset) and np.isfinite(out.observations).all(), name
