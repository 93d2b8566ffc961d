"""WR2L's reproduction script: the summary table and the 2-D and 11-D figures, on hand-made result files."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from benchmarks import wr2l_reproduction

DENSITIES, FRICTIONS = [500.0, 1000.0], [0.5, 1.0, 1.5]


def _grid_run(algo: str, seed: int, offset: float) -> dict:
    cells = [{"torso_density": d, "friction": f} for d in DENSITIES for f in FRICTIONS]
    # cell value = density / 10 + 100 * friction + offset, two episodes each
    returns = [[d / 10 + 100 * f + offset] * 2 for d in DENSITIES for f in FRICTIONS]
    flat = np.ravel(returns)
    return {"algo": algo, "seed": seed, "eval": {"cells": cells, "returns": returns},
            "mean": float(flat.mean()), "worst10": float(np.sort(flat)[:1].mean()), "worst": float(flat.min())}  # fmt: skip


def test_summary_reports_the_sample_sd_and_no_spread_for_one_seed(tmp_path):
    for algo, seed, offset in (("ppo", 0, 0.0), ("ppo", 1, 10.0), ("wr2l-large", 0, 5.0)):
        (tmp_path / f"{algo}_seed{seed}.json").write_text(json.dumps(_grid_run(algo, seed, offset)))
    table = wr2l_reproduction.summarize(tmp_path)
    # cell mean 75 (density / 10) + 100 (100 * friction) + offset: ppo 175 and 185, sd with ddof 1 = 7.07
    assert "| ppo | 0,1 | 180 +- 7 |" in table
    assert "| wr2l-large | 0 | 180 | " in table and "+- 0 " not in table


def test_heatmaps_average_seeds_cell_by_cell(tmp_path, monkeypatch):
    for seed, offset in ((0, 0.0), (1, 10.0)):
        (tmp_path / f"ppo_seed{seed}.json").write_text(json.dumps(_grid_run("ppo", seed, offset)))
    (tmp_path / "wr2l-small_seed0.json").write_text(json.dumps(_grid_run("wr2l-small", 0, -20.0)))
    shown = {}
    import matplotlib.axes

    original = matplotlib.axes.Axes.imshow

    def capture(self, grid, *args, **kwargs):
        shown[self.get_title() or len(shown)] = np.array(grid)
        return original(self, grid, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", capture)
    figure = wr2l_reproduction.plot_heatmaps(tmp_path, tmp_path / "figure.png")
    assert figure.stat().st_size > 0
    ppo, small = shown.values()
    # rows are frictions (ascending), columns densities: the mean of the two seeds (offset 5)
    expected = np.array([[d / 10 + 100 * f + 5.0 for d in DENSITIES] for f in FRICTIONS])
    np.testing.assert_allclose(ppo, expected)
    np.testing.assert_allclose(small, expected - 25.0)


def test_histograms_pool_the_systems_of_every_seed(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pooled = {}
    for algo in ("ppo", "wr2l-11d"):
        for seed in (0, 1):
            returns = rng.uniform(0, 3000, (50, 1))
            pooled.setdefault(algo, []).append(returns.ravel())
            run = {"algo": algo, "seed": seed, "eval": {"cells": [{}] * 50, "returns": returns.tolist()}}
            (tmp_path / f"{algo}_seed{seed}.json").write_text(json.dumps(run))
    drawn = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.hist
    monkeypatch.setattr(
        matplotlib.axes.Axes, "hist", lambda self, x, *a, **k: drawn.append(np.array(x)) or original(self, x, *a, **k)
    )
    figure = wr2l_reproduction.plot_histograms(tmp_path, tmp_path / "figure.png")
    assert figure.stat().st_size > 0
    # one histogram per learner, of both seeds' systems
    for values, algo in zip(drawn, ("ppo", "wr2l-11d"), strict=True):
        np.testing.assert_array_equal(values, np.concatenate(pooled[algo]))
