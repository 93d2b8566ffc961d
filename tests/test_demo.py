"""The main job (robust_sb3.demo, `robust-rl demo`): its statistics, its verdict and a tiny end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from robust_envs.cli import main as cli_main
from robust_envs.evaluation import RobustnessReport
from robust_sb3 import demo

pytestmark = pytest.mark.sb3


def test_held_out_set_is_wr2l_range_outside_the_training_range():
    # fixed before any result: WR2L's 0.3-3 m on a 0.1 m grid; outside Jiang et al.'s 0.5-2 m training range
    assert demo.SWEEP[0] == 0.3 and demo.SWEEP[-1] == 3.0 and len(demo.SWEEP) == 28
    assert demo.HELD_OUT == (0.3, 0.4, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0)


def test_sign_test_against_binomial_by_hand():
    assert demo.sign_test(3, 3) == pytest.approx(1 / 8)
    assert demo.sign_test(5, 5) == pytest.approx(1 / 32)
    assert demo.sign_test(4, 5) == pytest.approx(6 / 32)  # P(X >= 4) = (5 + 1) / 32
    assert demo.sign_test(0, 4) == pytest.approx(1.0)
    assert demo.sign_test(0, 0) == 1.0


def test_worst10_is_the_mean_of_the_lowest_tenth():
    assert demo.worst10(list(range(100, 0, -1))) == pytest.approx(np.mean(range(1, 11)))
    assert demo.worst10([5.0, 7.0, 9.0]) == 5.0  # at least one value


def test_verdict_says_within_the_seed_spread_when_intervals_overlap():
    text = demo.verdict([500.0, 700.0, 600.0], [550.0, 450.0, 650.0], "held-out mean return")
    assert "MRPO is ahead" in text and "within the seed spread" in text and "holds up better" not in text
    text = demo.verdict([990.0, 1000.0, 980.0], [170.0, 180.0, 190.0], "held-out mean return")
    assert "outside the seed spread, so MRPO holds up better than PPO" in text
    assert "MRPO higher in 3 of 3 paired seeds" in text and "p = 0.125" in text
    text = demo.verdict([100.0, 120.0, 110.0], [900.0, 950.0, 925.0], "held-out mean return")
    assert "PPO is ahead" in text and "PPO holds up better than MRPO" in text


def _fake_result(algo: str, seed: int, level: float) -> dict:
    lengths = list(demo.SWEEP)
    # the robust learner scores `level` everywhere; the twin 1000 inside 0.3-1 m and `level` beyond
    returns = [[level] for _ in lengths] if algo == "robust" else [[1000.0 if x <= 1.0 else level] for x in lengths]
    report = RobustnessReport(demo.ENV_ID, [{"pole_length": x} for x in lengths], np.array(returns), seed=demo.EVAL_SEED)
    return {"run": demo.Run(algo, seed, 1000, 2, 1), "report": report.to_dict(), "seconds": 1.0}


def test_summary_has_the_documented_form_and_numbers():
    results = [_fake_result("robust", 0, 800.0), _fake_result("baseline", 0, 10.0)]
    results += [_fake_result("robust", 1, 900.0), _fake_result("baseline", 1, 20.0)]
    summary = demo.summarize(results)
    assert summary["robust"] == "MRPO" and summary["baseline"] == "PPO"
    assert summary["held_out"]["MRPO"]["mean"] == [800.0, 900.0]
    # the twin: 1000 at 0.3 and 0.4 m, `level` at the ten long poles -> (2000 + 10 level) / 12
    assert summary["held_out"]["PPO"]["mean"] == pytest.approx([(2000 + 100) / 12, (2000 + 200) / 12])
    assert summary["held_out"]["PPO"]["worst10"] == pytest.approx([10.0, 20.0])  # ceil(1.2) = 2 lowest
    assert summary["seeds"] == [0, 1]
    assert len(summary["curves"]["MRPO"]["0"]) == len(demo.SWEEP)
    assert "outside the seed spread" in summary["verdict"][0]


def test_cli_rejects_bad_demo_arguments(capsys):
    with pytest.raises(SystemExit) as error:
        cli_main(["demo", "--n-envs", "1"])
    assert error.value.code == 2
    assert ">= 2 (MRPO ranks" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["demo", "--seeds", "-1"])
    assert cli_main(["demo", "--seeds", "0", "0", "--timesteps", "10", "--out", "unused"]) == 2
    assert "distinct" in capsys.readouterr().err


def test_tiny_demo_end_to_end(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    tiny = ["--timesteps", "2000", "--seeds", "0", "1", "--n-envs", "2", "--episodes", "1", "--workers", "1"]
    code = cli_main(["demo", *tiny, "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["held_out"]) == {"MRPO", "PPO"}
    for name in ("MRPO", "PPO"):
        assert len(summary["held_out"][name]["mean"]) == 2 and len(summary["held_out"][name]["worst10"]) == 2
        # an episode lasts at least one step, and at most the time limit
        assert all(1.0 <= v <= 1000.0 for v in summary["held_out"][name]["mean"])
    assert (out / "demo.png").stat().st_size > 10_000
    assert (out / "MRPO_seed1.csv").exists()
