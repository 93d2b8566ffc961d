"""Tests of robust_envs.evaluation: evaluate_robustness and RobustnessReport."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from robust_envs.cli import RandomPolicy, ZeroPolicy
from robust_envs.evaluation import RobustnessReport, evaluate_robustness
from robust_envs.uncertainty import UncertaintySet

IP = "RobustInvertedPendulum-v0"
STEPS = 50
ZERO = ZeroPolicy((1,))


def _random_policy() -> RandomPolicy:
    return RandomPolicy(np.full(1, -3.0, dtype=np.float32), np.full(1, 3.0, dtype=np.float32), seed=7)


class PredictPolicy:
    """An SB3-like policy: predict(obs, deterministic) -> (action, state); records the flag it got."""

    def __init__(self) -> None:
        self.flags: list[bool] = []

    def predict(self, obs, deterministic=True):
        self.flags.append(deterministic)
        return np.zeros(1, dtype=np.float32), None


def _constructed() -> RobustnessReport:
    returns = np.array([[10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 100.0], [50.0, 50.0, 60.0, 70.0]])
    cells = [{"pole_length": 0.4}, {"pole_length": 0.8}, {"pole_length": 1.2}]
    return RobustnessReport(env_id=IP, cells=cells, returns=returns, lengths=returns.astype(int), seed=3)


# ---- running -----------------------------------------------------------------------------------------
def test_returns_shape_lengths_and_reproducibility():
    grid = {"pole_length": [0.4, 0.8], "cart_size": [0.1, 0.2]}
    report = evaluate_robustness(ZERO, IP, grid, n_episodes=3, seed=5, max_episode_steps=STEPS)
    assert report.returns.shape == (4, 3)
    assert report.cells == [
        {"pole_length": 0.4, "cart_size": 0.1},
        {"pole_length": 0.4, "cart_size": 0.2},
        {"pole_length": 0.8, "cart_size": 0.1},
        {"pole_length": 0.8, "cart_size": 0.2},
    ]
    assert report.seed == 5 and report.env_id == IP
    # InvertedPendulum pays 1 per step, except 0 for the step on which the pole falls
    assert np.all((report.returns == report.lengths) | (report.returns == report.lengths - 1))
    assert report.lengths.max() <= STEPS
    again = evaluate_robustness(ZERO, IP, grid, n_episodes=3, seed=5, max_episode_steps=STEPS)
    assert again == report
    other_seed = evaluate_robustness(ZERO, IP, grid, n_episodes=3, seed=6, max_episode_steps=STEPS)
    # seeds 6, 7 are episodes 1, 2 of seed 5: the same numbers, shifted
    np.testing.assert_array_equal(other_seed.returns[:, :2], report.returns[:, 1:])
    assert not np.array_equal(other_seed.returns, report.returns)


def test_workers_give_identical_numbers():
    grid = [{"pole_length": 0.4}, {"pole_length": 0.8}, {"pole_length": 1.6}]
    serial = evaluate_robustness(_random_policy(), IP, grid, n_episodes=2, max_episode_steps=STEPS)
    parallel = evaluate_robustness(_random_policy(), IP, grid, n_episodes=2, max_episode_steps=STEPS, n_workers=2)
    assert parallel == serial
    # the random policy really acts: its returns differ from the zero policy's
    zero = evaluate_robustness(ZERO, IP, grid, n_episodes=2, max_episode_steps=STEPS)
    assert not np.array_equal(zero.returns, serial.returns)


def test_unpicklable_policy_with_workers_is_a_clear_error():
    with pytest.raises(TypeError, match="n_workers=1"):
        evaluate_robustness(lambda obs: np.zeros(1), IP, [{"pole_length": 0.5}, {"pole_length": 0.6}], n_workers=2)


@pytest.mark.sb3
def test_sb3_model_that_does_not_pickle_goes_to_workers_as_its_saved_bytes():
    from multiprocessing.reduction import ForkingPickler

    import torch as th
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", IP, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu").learn(64)
    # what a trained model can hold: a non-leaf tensor that requires grad, which process pools refuse to send
    model.probe = th.ones(1, requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="non-leaf tensor"):
        ForkingPickler.dumps(model)
    grid = [{"pole_length": 0.4}, {"pole_length": 0.8}]
    serial = evaluate_robustness(model, IP, grid, n_episodes=2, max_episode_steps=STEPS)
    parallel = evaluate_robustness(model, IP, grid, n_episodes=2, max_episode_steps=STEPS, n_workers=2)
    assert parallel == serial


def test_lambda_and_predict_policies_in_process():
    cells = [{"pole_length": 0.5}]
    by_lambda = evaluate_robustness(lambda obs: np.zeros(1), IP, cells, n_episodes=2, max_episode_steps=STEPS)
    sb3_like = PredictPolicy()
    by_predict = evaluate_robustness(sb3_like, IP, cells, n_episodes=2, max_episode_steps=STEPS, deterministic=False)
    assert by_lambda == by_predict
    assert sb3_like.flags and not any(sb3_like.flags)


def test_zero_action_pendulum_falls_and_longer_poles_fall_slower():
    # Uncontrolled, the pole falls past the 0.2 rad limit well before the time limit; a longer pole
    # (larger moment of inertia about the hinge relative to gravity's torque) takes longer to fall.
    report = evaluate_robustness(ZERO, IP, {"pole_length": [0.6, 2.0]}, n_episodes=4, max_episode_steps=200)
    assert report.returns.max() < 200
    short, long = report.returns
    assert np.all(long > short), report.returns
    assert report.worst_cell == {"pole_length": 0.6}


def test_box_grid_contains_endpoints_and_presets_work():
    box = UncertaintySet.box(IP, {"pole_length": (0.3, 1.5)})
    report = evaluate_robustness(ZERO, IP, box, n_episodes=1, points=3, max_episode_steps=5)
    assert [c["pole_length"] for c in report.cells] == [0.3, pytest.approx(0.9), 1.5]
    preset = evaluate_robustness(ZERO, IP, "jiang2021/invertedpendulum/test", n_episodes=1, points=2, max_episode_steps=5)
    assert preset.returns.shape == (4, 1)
    assert {c["pole_length"] for c in preset.cells} == {0.25, 0.5}
    assert {c["cart_size"] for c in preset.cells} == {0.025, 0.05}
    finite = UncertaintySet.finite(IP, [{"pole_length": 0.5}, {"density": 500.0}])
    assert evaluate_robustness(ZERO, IP, finite, n_episodes=1, max_episode_steps=5).cells == list(finite.members)


def test_env_kwargs_params_are_the_base_of_partial_cells():
    base = evaluate_robustness(
        ZERO, IP, [{"cart_size": 0.1}], n_episodes=2, max_episode_steps=STEPS, env_kwargs={"params": {"pole_length": 2.0}}
    )
    explicit = evaluate_robustness(ZERO, IP, [{"cart_size": 0.1, "pole_length": 2.0}], n_episodes=2, max_episode_steps=STEPS)
    np.testing.assert_array_equal(base.returns, explicit.returns)


# ---- bad inputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid_or_set": {"pole_lenght": [0.5]}}, "pole_lenght"),
        ({"grid_or_set": {"pole_length": [0.5, 50.0]}}, "50.0"),
        ({"grid_or_set": [{"pole_length": float("nan")}]}, "nan"),
        ({"n_episodes": 0}, "n_episodes.*0"),
        ({"n_workers": 0}, "n_workers.*0"),
        ({"backend": "dask"}, "dask.*process.*ray"),
        ({"env_id": "RobustPendulum-v9"}, "RobustPendulum-v9"),
        ({"grid_or_set": "jiang2021/hopper/train"}, "RobustHopper-v0"),
        ({"grid_or_set": "no/such/preset"}, "no/such/preset"),
        ({"grid_or_set": []}, "empty"),
        ({"grid_or_set": {"pole_length": []}}, "pole_length"),
        ({"grid_or_set": [{"pole_length": "long"}]}, "long"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_value(kwargs, match):
    args = {"policy": ZERO, "env_id": IP, "grid_or_set": {"pole_length": [0.5]}, "max_episode_steps": 5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        evaluate_robustness(**args)


def test_ray_backend_without_ray_says_how_to_install(monkeypatch):
    # a None entry in sys.modules makes `import ray` fail, whether or not ray is installed
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"robust-rl\[ray\]"):
        evaluate_robustness(ZERO, IP, [{"pole_length": 0.5}], backend="ray", n_workers=2, max_episode_steps=5)


# ---- statistics ----------------------------------------------------------------------------------------
def test_statistics_against_hand_computed_values():
    report = _constructed()
    np.testing.assert_allclose(report.cell_means, [25.0, 26.5, 57.5])
    np.testing.assert_allclose(report.cell_stds[0], math.sqrt(125.0))  # population std of 10, 20, 30, 40
    assert report.mean == pytest.approx(436.0 / 12)
    assert report.worst == 25.0
    assert report.worst_cell == {"pole_length": 0.4}
    # 12 episodes: 10% -> ceil(1.2) = 2 worst returns (1, 2); 25% -> 3 worst (1, 2, 3); 5% -> at least 1
    assert report.cvar(0.1) == 1.5
    assert report.cvar(0.25) == 2.0
    assert report.cvar(0.05) == 1.0
    assert report.cvar(1.0) == pytest.approx(report.mean)
    with pytest.raises(ValueError, match="alpha"):
        report.cvar(0.0)


def test_cvar_is_not_fooled_by_float_rounding():
    # 0.1 * 30 == 3.0000000000000004 in floating point; the worst 10% of 30 episodes is 3 episodes, not 4
    report = RobustnessReport(env_id=IP, cells=[{"pole_length": 0.5}], returns=np.arange(30.0)[None, :])
    assert report.cvar(0.1) == 1.0


def test_summary_lists_every_cell_and_the_worst_case():
    text = _constructed().summary()
    for value in ("0.4", "0.8", "1.2", "25.00", "26.50", "57.50", "36.33", "1.50"):
        assert value in text
    assert "pole_length" in text and "worst cell" in text and "10%-worst" in text


# ---- files --------------------------------------------------------------------------------------------
def test_csv_and_json_round_trip_exactly(tmp_path):
    report = evaluate_robustness(_random_policy(), IP, {"pole_length": [0.4, 0.8]}, n_episodes=2, max_episode_steps=STEPS)
    report.returns = report.returns + np.array([[0.1, 1 / 3], [np.pi, -2e-17]])  # floats that need every digit
    # cells that set different parameters leave empty CSV fields
    report.cells[1] = {"pole_length": 0.8, "cart_size": 0.123456789012345}
    json_copy = RobustnessReport.from_json(report.to_json(tmp_path / "r.json"))
    assert json_copy == report
    csv_copy = RobustnessReport.from_csv(report.to_csv(tmp_path / "r.csv"), env_id=IP)
    assert csv_copy == report
    rows = report.to_rows()
    assert len(rows) == 4 and rows[0]["cart_size"] is None and rows[3]["seed"] == 1
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "cell,episode,seed,pole_length,cart_size,length,return"
    bare = RobustnessReport(env_id=IP, cells=[{"pole_length": 0.5}], returns=[[1.5]])
    assert RobustnessReport.from_json(bare.to_json(tmp_path / "b.json")) == bare
    assert RobustnessReport.from_csv(bare.to_csv(tmp_path / "b.csv"), env_id=IP) == bare


def test_plots_are_written_for_a_2d_grid(tmp_path):
    pytest.importorskip("matplotlib")
    grid = {"pole_length": [0.4, 0.8, 1.2], "cart_size": [0.1, 0.2]}
    report = evaluate_robustness(ZERO, IP, grid, n_episodes=1, max_episode_steps=10)
    heat = report.plot_heatmap(tmp_path / "heat.png")
    bars = report.plot_bars(tmp_path / "bars.png")
    for path in (heat, bars):
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x, y, xs, ys, means = report.grid_axes()
    assert (x, y, xs, ys) == ("pole_length", "cart_size", [0.4, 0.8, 1.2], [0.1, 0.2])
    assert means[1, 2] == report.cell_means[5]  # pole_length=1.2, cart_size=0.2 is the last cell
    swapped = report.grid_axes(x="cart_size", y="pole_length")
    np.testing.assert_array_equal(swapped[4], means.T)


def test_heatmap_needs_a_complete_2d_grid(tmp_path):
    one_d = RobustnessReport(env_id=IP, cells=[{"pole_length": v} for v in (0.4, 0.8)], returns=np.ones((2, 1)))
    with pytest.raises(ValueError, match="two parameters"):
        one_d.plot_heatmap(tmp_path / "h.png")
    irregular = RobustnessReport(
        env_id=IP,
        cells=[{"pole_length": p, "cart_size": c} for p, c in ((0.4, 0.1), (0.8, 0.2), (0.4, 0.2))],
        returns=np.ones((3, 1)),
    )
    with pytest.raises(ValueError, match="2-d grid"):
        irregular.plot_heatmap(tmp_path / "h.png")
    three_d = RobustnessReport(
        env_id=IP,
        cells=[
            {"pole_length": p, "cart_size": c, "density": d} for p in (0.4, 0.8) for c in (0.1, 0.2) for d in (500.0, 900.0)
        ],
        returns=np.ones((8, 1)),
    )
    with pytest.raises(ValueError, match="density"):
        three_d.plot_heatmap(tmp_path / "h.png", x="pole_length", y="cart_size")
    assert not (tmp_path / "h.png").exists()


def test_report_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        RobustnessReport(env_id=IP, cells=[{"pole_length": 0.5}], returns=np.ones((2, 3)))


# ---- the package split (issue 12) ----------------------------------------------------------------------
# Recorded with the single-module robust_envs/evaluation.py before it became a package (same calls, same machine):
# the split must not change a single number.
RECORDED_GRID = {"pole_length": [0.4, 0.8], "cart_size": [0.1, 0.2]}
RECORDED_ZERO = ([[26.0, 19.0], [27.0, 20.0], [24.0, 19.0], [27.0, 21.0]], [[27, 20], [28, 21], [25, 20], [28, 22]])
RECORDED_RANDOM = ([[2.0, 4.0], [10.0, 10.0], [3.0, 4.0], [12.0, 11.0]], [[3, 5], [11, 11], [4, 5], [13, 12]])
RECORDED_PENDULUM = [
    [-25.126860546906155, -0.31279161193699384],
    [-22.356717375523605, -0.24747772712053578],
    [-25.137430836685652, -0.31307943311018255],
    [-22.363055924556228, -0.24760793279352947],
]


@pytest.mark.parametrize(
    ("policy", "recorded"), [(ZERO, RECORDED_ZERO), (_random_policy(), RECORDED_RANDOM)], ids=["zero", "random"]
)
def test_results_identical_to_the_single_module_version(policy, recorded):
    report = evaluate_robustness(policy, IP, RECORDED_GRID, n_episodes=2, seed=0, max_episode_steps=STEPS)
    assert report.returns.tolist() == recorded[0]
    assert report.lengths.tolist() == recorded[1]


def test_float_returns_identical_to_the_single_module_version():
    grid = {"mass": [0.8, 1.2], "length": [0.9, 1.1]}
    report = evaluate_robustness(ZeroPolicy((1,)), "RobustPendulum-v0", grid, n_episodes=2, seed=0, max_episode_steps=30)
    assert report.returns.tolist() == RECORDED_PENDULUM  # exact, every digit
    assert report.lengths.tolist() == [[30, 30]] * 4


def test_public_names_are_reexported_from_their_modules():
    import robust_envs
    from robust_envs import evaluation
    from robust_envs.evaluation import plots, policies, report, runner

    assert evaluation.evaluate_robustness is runner.evaluate_robustness
    assert evaluation.RobustnessReport is report.RobustnessReport
    assert evaluation.SavedModel is policies.SavedModel
    assert evaluation.as_policy is policies.as_policy
    assert evaluation.BACKENDS == ("process", "ray")
    assert robust_envs.evaluate_robustness is runner.evaluate_robustness
    assert robust_envs.RobustnessReport is report.RobustnessReport
    assert set(evaluation.__all__) <= set(dir(evaluation))
    # the report's plot methods draw with the plots module
    assert callable(plots.plot_heatmap) and callable(plots.plot_bars)


def test_evaluation_and_cli_import_without_torch_or_matplotlib():
    code = (
        "import sys, robust_envs, robust_envs.cli, robust_envs.evaluation, robust_envs.evaluation.plots\n"
        "heavy = sorted({'torch', 'stable_baselines3', 'matplotlib', 'ray'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_non_policy_is_a_type_error_before_any_episode(monkeypatch):
    from robust_envs.evaluation import runner

    def fail(task):
        raise AssertionError("an episode ran")

    monkeypatch.setattr(runner, "_run_cell", fail)
    with pytest.raises(TypeError, match=r"predict\(\) method, got int"):
        evaluate_robustness(42, IP, [{"pole_length": 0.5}], max_episode_steps=5)
