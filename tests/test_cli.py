"""Tests of the robust-rl command line (robust_envs.cli)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from robust_envs.cli import main
from robust_envs.evaluation import RobustnessReport
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
