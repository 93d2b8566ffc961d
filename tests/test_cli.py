"""Tests of the robust-rl command line (robust_envs.cli)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robust_envs.cli import main
from robust_envs.evaluation import RobustnessReport, evaluate_robustness, paths
from robust_envs.registration import ENVS, env_class

IP = "RobustInvertedPendulum-v0"
EVAL = ["evaluate", "--env", IP, "--episodes", "1", "--max-episode-steps", "20"]


def test_envs_lists_every_env_and_parameter(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for entry in ENVS:
        assert entry.env_id in out
        for name in env_class(entry.env_id).param_space.names:
            assert name in out
    assert "jiang2021/invertedpendulum/train" in out
    assert "density = cart_density, pole_density" in out


def test_envs_one_env_with_presets(capsys):
    assert main(["envs", "--env", IP, "--presets"]) == 0
    out = capsys.readouterr().out
    assert IP in out and "RobustHopper-v0" not in out
    assert "pole_length" in out and "meaning" in out
    assert "source: Jiang et al." in out


def test_envs_unknown_id_exits_2(capsys):
    assert main(["envs", "--env", "Nope-v0"]) == 2
    captured = capsys.readouterr()
    assert "Nope-v0" in captured.err and IP in captured.err
    assert captured.out == ""


def test_evaluate_grid_writes_csv(tmp_path, capsys):
    path = tmp_path / "out.csv"
    argv = ["evaluate", "--env", IP, "--grid", "pole_length=0.4,0.8", "--policy", "zero", "--episodes", "1"]
    argv += ["--csv", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pole_length" in out and "10%-worst" in out and "worst cell" in out
    rows = list(csv.DictReader(path.open()))
    assert [float(r["pole_length"]) for r in rows] == [0.4, 0.8]
    assert all(float(r["return"]) > 0 for r in rows)


def test_evaluate_2d_grid_all_outputs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    files = {k: tmp_path / f"r.{ext}" for k, ext in (("--json", "json"), ("--heatmap", "png"))}
    files["--bars"] = tmp_path / "bars.png"
    argv = [*EVAL, "--grid", "pole_length=0.4,0.8", "--grid", "cart_size=0.1,0.2", "--policy", "random", "--seed", "3"]
    for flag, path in files.items():
        argv += [flag, str(path)]
    assert main(argv) == 0
    for path in files.values():
        assert path.stat().st_size > 0
    report = RobustnessReport.from_json(files["--json"])
    assert report.returns.shape == (4, 1) and report.seed == 3
    # the random policy is seeded: the same command gives the same numbers
    assert main([*argv[:-6], "--json", str(tmp_path / "again.json")]) == 0
    assert RobustnessReport.from_json(tmp_path / "again.json") == report


def test_evaluate_preset_and_set_json(tmp_path, capsys):
    assert main([*EVAL, "--preset", "jiang2021/invertedpendulum/test", "--points", "2", "--policy", "zero"]) == 0
    out = capsys.readouterr().out
    assert "4 cell(s)" in out and "0.025" in out and "0.05 " in out
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps([{"pole_length": 0.5}, {"density": 800.0}]))
    assert main([*EVAL, "--set-json", str(cells), "--policy", "zero"]) == 0
    assert "density" in capsys.readouterr().out
    box = tmp_path / "box.json"
    box.write_text(json.dumps({"env_id": IP, "low": {"pole_length": 0.4}, "high": {"pole_length": 0.8}}))
    assert main([*EVAL, "--set-json", str(box), "--points", "3", "--policy", "zero"]) == 0
    assert "0.6" in capsys.readouterr().out


@pytest.mark.parametrize(
    "grid",
    ["pole_length", "pole_length=", "=0.4", "pole_length=0.4,long", "pole_length=0.4;0.8"],
)
def test_bad_grid_syntax_exits_2(grid, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*EVAL, "--grid", grid, "--policy", "zero"])
    assert exc.value.code == 2
    assert "--grid" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "pole_lenght=0.4", "--policy", "zero"], "pole_lenght"),
        (["--grid", "pole_length=50", "--policy", "zero"], "50.0"),
        (["--grid", "pole_length=0.4", "--grid", "pole_length=0.8", "--policy", "zero"], "twice"),
        (["--grid", "pole_length=0.4", "--policy", "no_such_model.zip", "--algo", "PPO"], "no_such_model.zip"),
        (["--grid", "pole_length=0.4", "--policy", "zero", "--algo", "PPO"], "--algo"),
        (["--preset", "jiang2021/hopper/train", "--policy", "zero"], "RobustHopper-v0"),
        (["--set-json", "missing.json", "--policy", "zero"], "missing.json"),
    ],
)
def test_bad_evaluate_input_exits_2_with_message(extra, message, capsys):
    assert main([*EVAL, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_env_for_evaluate_exits_2(capsys):
    assert main(["evaluate", "--env", "Nope-v0", "--grid", "pole_length=0.4", "--policy", "zero"]) == 2
    assert "Nope-v0" in capsys.readouterr().err


def test_evaluate_needs_cells_and_policy(capsys):
    for argv in (["evaluate", "--env", IP, "--policy", "zero"], ["evaluate", "--env", IP, "--grid", "pole_length=0.4"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["--help"], ["envs", "--help"], ["evaluate", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: robust-rl" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "robust_envs", "envs", "--env", IP], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pole_length" in result.stdout


@pytest.mark.sb3
def test_evaluate_an_sb3_model_file(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make(IP), n_steps=64, batch_size=32, seed=0, device="cpu")
    path = tmp_path / "ppo.zip"
    model.save(path)
    argv = [*EVAL, "--grid", "pole_length=0.4,0.8", "--policy", str(path), "--algo", "PPO", "--json", str(tmp_path / "r.json")]
    assert main(argv) == 0
    assert RobustnessReport.from_json(tmp_path / "r.json").returns.shape == (2, 1)
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(path), "--algo", "NoSuchAlgo"]) == 2
    assert "NoSuchAlgo" in capsys.readouterr().err
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(path)]) == 2
    assert "--algo" in capsys.readouterr().err


# ---- --seed and output paths (issue 12) ------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "-30"])
def test_negative_seed_is_rejected_by_argparse(seed, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*EVAL, "--grid", "pole_length=0.4", "--policy", "zero", "--seed", seed])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and seed in err and ">= 0" in err


class Ran(Exception):
    """Raised by the stand-in runner: the evaluation was reached."""


@pytest.fixture
def no_evaluation(monkeypatch):
    """Make the evaluation (and any episode) raise Ran, so a test sees whether the CLI got that far."""
    from robust_envs import evaluation
    from robust_envs.evaluation import runner

    def ran(*args, **kwargs):
        raise Ran

    monkeypatch.setattr(evaluation, "evaluate_robustness", ran)
    monkeypatch.setattr(runner, "_run_cell", ran)


def _bad_outputs(tmp_path):
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    (tmp_path / "folder.csv").mkdir()
    grid2 = ["--grid", "pole_length=0.4,0.8", "--grid", "cart_size=0.1,0.2"]
    return [
        (["--csv", str(tmp_path / "missing" / "r.csv")], "does not exist"),
        (["--json", str(a_file / "r.json")], "is not a folder"),
        (["--csv", str(tmp_path / "folder.csv")], "is a folder"),
        ([*grid2, "--heatmap", str(tmp_path / "heat.txt")], "'.txt', not an image format"),
        (["--bars", str(tmp_path / "bars")], "no suffix"),
        (["--heatmap", str(tmp_path / "heat.png")], "two parameters"),  # a 1-d grid has no heatmap
        (["--csv", str(tmp_path / "r.out"), "--json", str(tmp_path / "r.out")], "both write"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_bad_output_paths_are_rejected_before_any_episode(case, tmp_path, capsys, no_evaluation):
    outputs, message = _bad_outputs(tmp_path)[case]
    argv = [*EVAL, "--policy", "zero", *outputs]
    if "--grid" not in outputs:
        argv += ["--grid", "pole_length=0.4,0.8"]
    assert main(argv) == 2  # Ran would propagate if the evaluation had started
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert outputs[-1] in err  # the path is named


def test_unwritable_folder_is_rejected_before_any_episode(tmp_path, capsys, monkeypatch, no_evaluation):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # root may write into a read-only folder, so the permission check is answered as for an ordinary user
    real_access = os.access
    # the CLI checks its outputs with robust_envs.evaluation.paths.check_output_path
    monkeypatch.setattr(paths.os, "access", lambda path, mode: False if Path(path) == locked else real_access(path, mode))
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", "zero", "--csv", str(locked / "r.csv")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_good_output_paths_reach_the_evaluation(tmp_path, no_evaluation):
    # the counterpart of the tests above: with writable paths and right suffixes the stand-in runner is reached
    pytest.importorskip("matplotlib")
    argv = [*EVAL, "--grid", "pole_length=0.4,0.8", "--grid", "cart_size=0.1,0.2", "--policy", "zero"]
    argv += ["--csv", str(tmp_path / "r.csv"), "--json", str(tmp_path / "r.json"), "--heatmap", str(tmp_path / "h.PNG")]
    argv += ["--bars", str(tmp_path / "b.svg")]
    with pytest.raises(Ran):
        main(argv)


# ---- --algo and model files (issue 12) ------------------------------------------------------------------
PENDULUM = ["evaluate", "--env", "RobustPendulum-v0", "--episodes", "1", "--max-episode-steps", "20"]
PENDULUM_GRID = ["--grid", "mass=0.8,1.2"]


@pytest.fixture(scope="module")
def mpo_file(tmp_path_factory):
    """A tiny MPO model saved by robust_sb3.MPO (trained 32 steps on RobustPendulum-v0)."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym

    from robust_sb3 import MPO

    env = gym.make("RobustPendulum-v0")
    model = MPO("MlpPolicy", env, learning_starts=0, batch_size=16, policy_kwargs=dict(net_arch=[16]), seed=0, device="cpu")
    path = tmp_path_factory.mktemp("models") / "mpo.zip"
    model.learn(32).save(path)
    return path


@pytest.fixture(scope="module")
def ppo_file(tmp_path_factory):
    """An (untrained) PPO model of RobustPendulum-v0."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3 import PPO

    path = tmp_path_factory.mktemp("models") / "ppo.zip"
    PPO("MlpPolicy", gym.make("RobustPendulum-v0"), n_steps=64, batch_size=32, seed=0, device="cpu").save(path)
    return path


@pytest.mark.sb3
@pytest.mark.parametrize("algo", ["MPO", "mpo", "robust_sb3:MPO", "robust_sb3.mpo:MPO", "stem"])
def test_algo_loads_an_mpo_file_by_name_or_module_class(algo, mpo_file, tmp_path):
    from robust_sb3 import MPO

    # "stem": the file named without .zip, as SB3's load accepts it
    policy, algo = (str(mpo_file.with_suffix("")), "MPO") if algo == "stem" else (str(mpo_file), algo)
    out = tmp_path / "r.json"
    assert main([*PENDULUM, *PENDULUM_GRID, "--policy", policy, "--algo", algo, "--json", str(out)]) == 0
    # the numbers are the saved model's own
    model = MPO.load(mpo_file, device="cpu")
    direct = evaluate_robustness(model, "RobustPendulum-v0", {"mass": [0.8, 1.2]}, n_episodes=1, max_episode_steps=20)
    assert RobustnessReport.from_json(out) == direct


@pytest.mark.parametrize(
    ("algo", "message"),
    [
        ("NoSuchAlgo", "unknown --algo 'NoSuchAlgo'"),
        ("MOP", "did you mean MPO?"),
        ("no_such_module:PPO", "cannot import module 'no_such_module'"),
        ("robust_sb3:Nope", "module 'robust_sb3' has no attribute 'Nope'"),
        ("json:loads", "not an algorithm class"),
        ("robust_sb3:", "module:Class"),
    ],
)
def test_bad_algo_exits_2_naming_it(algo, message, tmp_path, capsys):
    model = tmp_path / "model.zip"
    model.write_bytes(b"never read")
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(model), "--algo", algo]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_algo_lists_every_allowed_name(tmp_path, capsys):
    model = tmp_path / "model.zip"
    model.write_bytes(b"never read")
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(model), "--algo", "NoSuchAlgo"]) == 2
    err = capsys.readouterr().err
    for name in ("PPO", "SAC", "TD3", "DQN", "TQC", "TRPO", "MaskablePPO", "MPO", "RobustSAC", "MRPO", "EPOpt", "RRL"):
        assert name in err


def test_zero_policy_and_unknown_algo_import_no_torch(tmp_path):
    code = (
        "import sys\n"
        "from robust_envs.cli import main\n"
        f"assert main({[*EVAL, '--grid', 'pole_length=0.4', '--policy', 'zero']!r}) == 0\n"
        "open('m.zip', 'wb').write(b'x')\n"
        f"assert main({[*EVAL, '--grid', 'pole_length=0.4', '--policy', 'm.zip', '--algo', 'NoSuch']!r}) == 2\n"
        "heavy = sorted({'torch', 'stable_baselines3', 'sb3_contrib'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    # in tmp_path: the script writes m.zip into its working folder
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.sb3
def test_the_algo_table_matches_the_installed_sb3_and_contrib():
    sb3 = pytest.importorskip("stable_baselines3")
    contrib = pytest.importorskip("sb3_contrib")
    from stable_baselines3.common.base_class import BaseAlgorithm

    from robust_envs.cli import SB3_ALGORITHMS

    installed = {
        name: module.__name__
        for module in (sb3, contrib)
        for name in module.__all__
        if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), BaseAlgorithm)
    }
    assert installed == SB3_ALGORITHMS


@pytest.mark.sb3
def test_every_allowed_name_resolves_to_a_class_with_load():
    pytest.importorskip("sb3_contrib")
    from robust_envs.cli import _algorithm_names, resolve_algorithm

    names = _algorithm_names()
    assert {"MPO", "RobustSAC", "MRPO", "EPOpt", "RRL"} <= set(names)
    for name in names:
        assert resolve_algorithm(name.lower()).__name__ == name


@pytest.mark.sb3
def test_another_algorithms_file_names_the_file_and_the_algorithm(mpo_file, ppo_file, capsys):
    cases = [(mpo_file, "SAC", "MPOPolicy"), (ppo_file, "MPO", "ActorCriticPolicy"), (mpo_file, "PPO", "MPOPolicy")]
    for path, algo, held in cases:
        assert main([*PENDULUM, *PENDULUM_GRID, "--policy", str(path), "--algo", algo]) == 2
        err = capsys.readouterr().err
        assert f"--policy {path} is not a {algo} model" in err and held in err and "Traceback" not in err
    # RRL has its own file format: its load fails, and the error still names both
    assert main([*PENDULUM, *PENDULUM_GRID, "--policy", str(mpo_file), "--algo", "RRL"]) == 2
    err = capsys.readouterr().err
    assert f"cannot load --policy {mpo_file} as RRL" in err


@pytest.mark.sb3
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_model_file_names_the_file_and_the_algorithm(damage, mpo_file, tmp_path, capsys):
    data = mpo_file.read_bytes()
    broken = tmp_path / f"{damage}.zip"
    broken.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"PK\x03\x04 not a zip at all", "empty": b""}[damage])
    assert main([*PENDULUM, *PENDULUM_GRID, "--policy", str(broken), "--algo", "MPO"]) == 2
    err = capsys.readouterr().err
    assert f"cannot load --policy {broken} as MPO" in err and "truncated or corrupt" in err and "Traceback" not in err


def test_missing_model_file_names_the_file_and_the_algorithm(tmp_path, capsys):
    missing = tmp_path / "gone.zip"
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(missing), "--algo", "MPO"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and "saved by MPO" in err


@pytest.mark.sb3
def test_model_of_another_env_is_rejected(mpo_file, capsys):
    # the MPO model takes RobustPendulum-v0's 2-d observations; RobustInvertedPendulum-v0 has 4
    assert main([*EVAL, "--grid", "pole_length=0.4", "--policy", str(mpo_file), "--algo", "MPO"]) == 2
    err = capsys.readouterr().err
    assert str(mpo_file) in err and "(2,)" in err and "(4,)" in err and IP in err
