"""MRPO's and EPOpt's selection rules on synthetic returns and parameters, against hand-computed masks."""

from __future__ import annotations

import numpy as np
import pytest

from robust_envs.uncertainty import UncertaintySet
from robust_sb3.mrpo.selection import (
    epopt_select,
    mrpo_scores,
    mrpo_select,
    n_worst,
    normalized_params,
    worst_fraction_mean,
    worst_set,
)

pytestmark = pytest.mark.sb3


def test_n_worst_rounds_up_and_keeps_one():
    assert n_worst(100, 0.1) == 10
    assert n_worst(30, 0.1) == 3  # 0.1 * 30 = 3.0000000000000004 in floating point
    assert n_worst(16, 0.1) == 2  # ceil(1.6)
    assert n_worst(5, 0.1) == 1
    assert n_worst(4, 1.0) == 4


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_fraction_validation(bad):
    with pytest.raises(ValueError, match="fraction"):
        n_worst(10, bad)


def test_worst_set_includes_boundary_ties():
    returns = np.array([5.0, 1.0, 3.0, 3.0, 9.0, 7.0])
    # k = ceil(0.3 * 6) = 2: the two lowest are 1 and 3, and the other 3 ties at the boundary
    assert worst_set(returns, 0.3).tolist() == [False, True, True, True, False, False]
    assert epopt_select(returns, 0.3).tolist() == [False, True, True, True, False, False]
    # k = 1: only the minimum
    assert epopt_select(returns, 0.1).tolist() == [False, True, False, False, False, False]


def test_worst_fraction_mean_matches_hand_computation():
    returns = np.array([10.0, 2.0, 8.0, 4.0, 6.0, 0.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0])
    assert worst_fraction_mean(returns, 0.1) == pytest.approx((0.0 + 2.0) / 2)  # k = ceil(1.2) = 2
    assert worst_fraction_mean(returns, 0.25) == pytest.approx((0.0 + 2.0 + 4.0) / 3)
    assert worst_fraction_mean(returns, 1.0) == pytest.approx(returns.mean())


def test_normalized_params_box_and_finite():
    box = UncertaintySet.box("RobustHopper-v0", {"density": (750.0, 1250.0), "friction": (0.5, 1.1)})
    out = normalized_params([{"density": 1000.0, "friction": 0.5}, {"density": 1250.0, "friction": 0.8}], box)
    np.testing.assert_allclose(out, [[0.5, 0.0], [1.0, 0.5]])
    finite = UncertaintySet.finite("RobustHopper-v0", [{"friction": 0.5}, {"friction": 1.5}, {"friction": 1.0}])
    np.testing.assert_allclose(normalized_params([{"friction": 1.0}], finite), [[0.5]])
    with pytest.raises(ValueError, match="lacks"):
        normalized_params([{"density": 800.0}], box)


def test_mrpo_scores_hand_computed():
    returns = np.array([10.0, 4.0, 8.0])
    params = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # p_w = environment 1; distances 1, 0, 1
    np.testing.assert_allclose(mrpo_scores(returns, params, kappa=3.0), [7.0, 4.0, 5.0])


def test_mrpo_select_kappa_zero_keeps_all_but_the_worst_below_the_threshold():
    returns = np.arange(10, dtype=float)  # k = 1 (10%): worst set {0}, threshold = 0
    params = np.random.default_rng(0).uniform(size=(10, 2))
    assert mrpo_select(returns, params, kappa=0.0).all()
    # k = 3 at 30%: worst set {0, 1, 2}; with kappa = 0 the threshold is E = 2, environments 0 and 1 drop
    assert mrpo_select(returns, params, kappa=0.0, worst_fraction=0.3).tolist() == [False, False, *[True] * 8]


def test_mrpo_select_large_kappa_keeps_the_neighbourhood_of_the_worst():
    # 1-d parameters; the worst environment (return 0) sits at 0.0
    params = np.array([[0.0], [0.1], [0.5], [1.0], [0.2]])
    returns = np.array([0.0, 50.0, 100.0, 100.0, 10.0])
    # kappa = 200: E = [0, 30, 0, -100, -30]; worst set (k = 1) = {0}, threshold 0
    assert mrpo_select(returns, params, kappa=200.0).tolist() == [True, True, True, False, False]
    # kappa = 60: E = [0, 44, 70, 40, -2]; only the environment at 0.2 falls below
    assert mrpo_select(returns, params, kappa=60.0).tolist() == [True, True, True, True, False]


def test_mrpo_threshold_is_the_best_score_of_the_worst_set():
    params = np.array([[0.0], [1.0], [0.5], [0.9]])
    returns = np.array([0.0, 1.0, 30.0, 40.0])
    # 50%: worst set {0, 1}; kappa = 10: E = [0, -9, 25, 31]; threshold max(0, -9) = 0, so env 1 drops
    assert mrpo_select(returns, params, kappa=10.0, worst_fraction=0.5).tolist() == [True, False, True, True]


def test_mrpo_tied_minimum_uses_the_nearest_worst_environment_and_is_order_free():
    params = np.array([[0.0], [1.0], [0.9], [0.1]])
    returns = np.array([0.0, 0.0, 5.0, 5.0])  # two environments share the minimum
    # distances to the nearest minimum: 0, 0, 0.1, 0.1 -> E = [0, 0, 4, 4] with kappa 10
    np.testing.assert_allclose(mrpo_scores(returns, params, 10.0), [0.0, 0.0, 4.0, 4.0])
    mask = mrpo_select(returns, params, 10.0, worst_fraction=0.25)
    assert mask.tolist() == [True, True, True, True]
    order = np.array([2, 0, 3, 1])
    assert mrpo_select(returns[order], params[order], 10.0, worst_fraction=0.25).tolist() == mask[order].tolist()


def test_selection_is_never_empty():
    rng = np.random.default_rng(1)
    for _ in range(50):
        returns = rng.normal(size=12)
        params = rng.uniform(size=(12, 2))
        assert mrpo_select(returns, params, kappa=float(rng.uniform(0, 100))).any()


def test_bad_inputs():
    with pytest.raises(ValueError, match="finite"):
        mrpo_select(np.array([1.0, np.nan]), np.zeros((2, 1)), 1.0)
    with pytest.raises(ValueError, match="shape"):
        mrpo_select(np.array([1.0, 2.0]), np.zeros((3, 1)), 1.0)
    with pytest.raises(ValueError, match="kappa"):
        mrpo_select(np.array([1.0, 2.0]), np.zeros((2, 1)), -1.0)
    with pytest.raises(ValueError, match="1-d"):
        epopt_select(np.zeros((2, 2)))
