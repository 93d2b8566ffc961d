"""WR2L's reproduction script: Hopper runs keep their policies, and ``hopper11d`` reuses ``hopper2d``'s identical trainings."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")

from benchmarks import wr2l_reproduction as reproduction

TIMESTEPS = 64
#: PPO shrunk so that a run is one short update (the same dict in both tasks, as PPO_PAPER is)
TINY_PPO = {"n_steps": 16, "batch_size": 64, "n_epochs": 1, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"}


@pytest.fixture
def tiny_tasks(tmp_path, monkeypatch):
    for task in ("hopper2d", "hopper11d"):
        monkeypatch.setitem(reproduction.TASKS[task], "ppo", TINY_PPO)
        monkeypatch.setitem(reproduction.TASKS[task], "out", tmp_path / task)
    monkeypatch.setitem(reproduction.TASKS["hopper11d"], "systems", {"n": 3, "seed": 2024, "relative_range": 0.5})
    monkeypatch.setitem(reproduction.TASKS["hopper2d"], "grid", {"torso_density": [1000.0], "friction": [0.5, 1.0]})
    return tmp_path


def _run(task: str, algo: str, seed: int = 0) -> dict:
    out = reproduction.TASKS[task]["out"]
    kept = reproduction.policy_path(out, algo, seed)
    record = reproduction.run_one(task, algo, seed, TIMESTEPS, keep_policy=kept.as_posix())
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{algo}_seed{seed}.json").write_text(json.dumps(record))
    return record


@pytest.mark.sb3
def test_hopper11d_evaluates_hopper2d_s_kept_policy_as_a_fresh_identical_training_would(tiny_tasks, monkeypatch):
    trained_2d = _run("hopper2d", "ppo")
    kept_2d = reproduction.policy_path(tiny_tasks / "hopper2d", "ppo", 0)
    assert kept_2d.exists() and "reused_from" not in trained_2d

    reused = _run("hopper11d", "ppo")
    assert reused["reused_from"] == {
        "task": "hopper2d",
        "algo": "ppo",
        "seed": 0,
        "policy": kept_2d.as_posix(),
        "train_seconds": trained_2d["train_seconds"],
    }
    assert "train_seconds" not in reused and reused["timesteps"] == TIMESTEPS  # this run trained nothing
    assert reproduction.policy_path(tiny_tasks / "hopper11d", "ppo", 0).read_bytes() == kept_2d.read_bytes()
    assert len(reused["eval"]["cells"]) == 3  # the 11-D task's systems, not the 2-D grid
    line = reproduction.describe(tiny_tasks / "x.json", reused)
    assert "reused hopper2d/ppo, sweep mean" in line

    # the same training run in hopper11d itself (no reuse) gives the same policy, hence the same returns and record
    monkeypatch.setattr(reproduction, "REUSED", {})
    fresh = reproduction.run_one("hopper11d", "ppo", 0, TIMESTEPS)
    assert "reused_from" not in fresh
    assert fresh["eval"]["returns"] == reused["eval"]["returns"]
    assert set(fresh) == set(reused) - {"reused_from"} | {"train_seconds"}


@pytest.mark.sb3
def test_a_reused_wr2l_record_names_this_task_s_settings_and_equals_a_fresh_training_s(tiny_tasks, monkeypatch):
    trained_2d = _run("hopper2d", "wr2l-large")
    reused = _run("hopper11d", "wr2l-2d")
    assert reused["reused_from"]["algo"] == "wr2l-large"
    # the 11-D task's name for the settings: the 2-D parameterisation written out (its default is the full one)
    assert reused["wr2l"] == {"parameterisation": "wr2l/hopper/2d", "epsilon_index": 1, "epsilon_fraction": 0.3}
    assert reused["worst_params"] == trained_2d["worst_params"] and reused["hessian"] == trained_2d["hessian"]
    monkeypatch.setattr(reproduction, "REUSED", {})
    fresh = reproduction.run_one("hopper11d", "wr2l-2d", 0, TIMESTEPS)
    assert set(fresh) == set(reused) - {"reused_from"} | {"train_seconds"}
    for key in ("wr2l", "epsilon", "hessian", "worst_params", "phase1_env_steps", "phi_history", "eval", "mean"):
        assert fresh[key] == reused[key], key


@pytest.mark.sb3
def test_no_reuse_without_the_same_budget_or_a_kept_policy(tiny_tasks):
    assert reproduction.reusable_policy("hopper11d", "ppo", 0, TIMESTEPS) is None  # nothing run yet
    _run("hopper2d", "ppo")
    assert reproduction.reusable_policy("hopper11d", "ppo", 0, TIMESTEPS) is not None
    assert reproduction.reusable_policy("hopper11d", "ppo", 0, 2 * TIMESTEPS) is None  # another budget
    assert reproduction.reusable_policy("hopper11d", "ppo", 1, TIMESTEPS) is None  # another seed
    assert reproduction.reusable_policy("hopper11d", "wr2l-11d", 0, TIMESTEPS) is None  # not an identical training
    reproduction.policy_path(tiny_tasks / "hopper2d", "ppo", 0).unlink()
    assert reproduction.reusable_policy("hopper11d", "ppo", 0, TIMESTEPS) is None


def test_reused_pairs_are_identical_trainings_and_a_wrong_pair_is_refused(monkeypatch):
    for (task, algo), (other_task, other_algo) in reproduction.REUSED.items():
        assert reproduction.training_settings(task, algo) == reproduction.training_settings(other_task, other_algo)
    monkeypatch.setitem(reproduction.REUSED, ("hopper11d", "wr2l-11d"), ("hopper2d", "wr2l-large"))
    with pytest.raises(ValueError, match="hopper11d/wr2l-11d and hopper2d/wr2l-large are not the same training"):
        reproduction.reusable_policy("hopper11d", "wr2l-11d", 0, TIMESTEPS)
