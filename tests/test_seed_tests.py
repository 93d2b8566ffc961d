"""The paired per-seed statistics of the reproductions' status table (``benchmarks/seed_tests.py``)."""

import json

import pytest

from benchmarks import seed_tests


def test_compare_pairs_by_seed_against_hand_computed_values():
    row = seed_tests.compare("a", {0: 3.0, 1: 5.0, 2: 1.0, 7: 9.0}, "b", {0: 1.0, 1: 2.0, 2: 2.0})
    assert row["seeds"] == "0,1,2"  # seed 7 has no partner
    assert row["mean paired difference"] == pytest.approx(4 / 3)  # 2, 3, -1
    assert row["wins"] == "2 of 3"
    assert row["sign test p (one-sided)"] == pytest.approx(0.5)  # P(X >= 2), X ~ Binomial(3, 1/2): 4/8
    assert row["Cliff's delta"] == pytest.approx(4 / 9)  # 6 of 9 pairs greater, 2 smaller, 1 tied
    assert row["sd a"] == pytest.approx(2.0) and row["mean b"] == pytest.approx(5 / 3)


def test_rambo_metric_reads_each_seeds_figure(tmp_path):
    for learner, seed, nominal, mean, worst10 in (("rambo", 0, 900.0, 600.0, 200.0), ("rambo-mle", 0, 1.0, 2.0, 3.0)):
        record = {"seed": seed, "nominal": {"mean": nominal}, "grid": {"mean": mean, "worst10": worst10}}
        (tmp_path / f"{learner}_seed{seed}.json").write_text(json.dumps(record))
    # "rambo_seed*" does not pick up the ablation's "rambo-mle_seed*" files
    assert seed_tests.rambo_metric(tmp_path, "rambo", "nominal") == {0: 900.0}
    assert seed_tests.rambo_metric(tmp_path, "rambo", "grid_mean") == {0: 600.0}
    assert seed_tests.rambo_metric(tmp_path, "rambo-mle", "grid_worst10") == {0: 3.0}
