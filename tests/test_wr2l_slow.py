"""WR2L learns its 1-D task: a slow test (``pytest -m slow``), the seed-0 run of ``benchmarks/wr2l_reproduction.py``."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_wr2l_balances_every_pole_length_of_its_ball():
    # The recorded run (benchmarks/results/wr2l_1d/wr2l_seed0.json, 300k steps, seed 0) returns 1000 at every length of
    # its +-50% ball (0.3-0.9 m) and beyond to 1.0 m; the same settings and seed must balance the ball's lengths again.
    from benchmarks.wr2l_reproduction import run_one
    from robust_envs.evaluation import RobustnessReport

    record = run_one("ip1d", "wr2l", seed=0, timesteps=300_000)
    report = RobustnessReport.from_dict(record["eval"])
    lengths = np.array([cell["pole_length"] for cell in report.cells])
    in_ball = (lengths >= 0.3 - 1e-9) & (lengths <= 0.9 + 1e-9)
    assert report.cell_means[in_ball].min() >= 900.0
    assert record["model_steps"] > 0 and 0.3 - 1e-9 <= record["worst_params"]["pole_length"] <= 0.9 + 1e-9
