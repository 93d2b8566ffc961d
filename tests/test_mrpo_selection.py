"""MRPO's and EPOpt's selection rules on synthetic returns and parameters, against hand-computed masks."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from robust_envs.uncertainty import UncertaintySet
from robust_sb3.common.selection import n_worst, normalized_params, worst_fraction_mean, worst_set
from robust_sb3.mrpo.selection import epopt_select, mrpo_scores, mrpo_select

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


def test_mrpo_select_kappa_zero_keeps_every_environment():
    # Algorithm 2, line 11 at kappa = 0: E = eta, and every return outside W is above every return inside it
    returns = np.arange(10, dtype=float)
    params = np.random.default_rng(0).uniform(size=(10, 2))
    assert mrpo_select(returns, params, kappa=0.0).tolist() == [True] * 10  # W = {0}
    # k = 3 at 30%: W = {0, 1, 2}, all kept (the old rule dropped 0 and 1, p_w among them)
    assert mrpo_select(returns, params, kappa=0.0, worst_fraction=0.3).tolist() == [True] * 10
    shuffled = np.array([7.0, 3.0, 3.0, 9.0, 1.0, 5.0])  # W at 50% (k = 3): {1, 2, 4} with the tie at 3
    assert mrpo_select(shuffled, np.zeros((6, 1)), kappa=0.0, worst_fraction=0.5).tolist() == [True] * 6


# 1-d parameters; M = 10 and 20% give k = 2: W = {0, 2} (returns 0 and 5), p_w = environment 0 at 0.0,
# so the distance to p_w is the parameter itself
SCALE_PARAMS = np.array([[0.0], [0.5], [0.0625], [0.25], [0.875], [1.0], [0.375], [0.625], [0.03125], [0.75]])
SCALE_RETURNS = np.array([0.0, 10.0, 5.0, 40.0, 60.0, 100.0, 20.0, 30.0, 50.0, 70.0])


def test_mrpo_select_keeps_the_worst_set_and_what_beats_all_of_it():
    # kappa = 48: E = r - 48 p = [0, -14, 2, 28, 18, 52, 2, 0, 48.5, 34]; threshold max(E_0, E_2) = 2.
    # Environment 0 (p_w, E = 0 < 2) stays because it is in W; 1 (-14) and 7 (0) drop; 6 (2) ties and stays.
    expected = [True, False, True, True, True, True, True, False, True, True]
    assert mrpo_select(SCALE_RETURNS, SCALE_PARAMS, kappa=48.0, worst_fraction=0.2).tolist() == expected


def test_mrpo_select_large_kappa_drops_the_environments_far_from_the_worst():
    # kappa = 96: E = r - 96 p = [0, -38, -1, 16, -24, 4, -16, -30, 47, -2]; threshold max(E_0, E_2) = 0.
    # Only environments near p_w (p <= 0.25) or with a return to make up for the distance (5: 100 at 1.0) stay.
    expected = [True, False, True, True, False, True, False, False, True, False]
    assert mrpo_select(SCALE_RETURNS, SCALE_PARAMS, kappa=96.0, worst_fraction=0.2).tolist() == expected
    # kappa = 200: E = [0, -90, -7.5, -10, -115, -100, -55, -95, 43.75, -80]: W and the environment at 1/32
    expected = [True, False, True, False, False, False, False, False, True, False]
    assert mrpo_select(SCALE_RETURNS, SCALE_PARAMS, kappa=200.0, worst_fraction=0.2).tolist() == expected


def test_mrpo_select_large_kappa_keeps_the_neighbourhood_of_the_worst():
    # 1-d parameters; the worst environment (return 0) sits at 0.0
    params = np.array([[0.0], [0.1], [0.5], [1.0], [0.2]])
    returns = np.array([0.0, 50.0, 100.0, 100.0, 10.0])
    # kappa = 200: E = [0, 30, 0, -100, -30]; worst set (k = 1) = {0}, threshold 0
    assert mrpo_select(returns, params, kappa=200.0).tolist() == [True, True, True, False, False]
    # kappa = 60: E = [0, 44, 70, 40, -2]; only the environment at 0.2 falls below
    assert mrpo_select(returns, params, kappa=60.0).tolist() == [True, True, True, True, False]


def test_mrpo_select_uses_euclidean_distances_in_two_dimensions():
    # p_w = environment 0 at the origin; distances 0, 0.5 (3-4-5), 1.0, 0.5, 1.0
    params = np.array([[0.0, 0.0], [0.3, 0.4], [0.6, 0.8], [0.0, 0.5], [1.0, 0.0]])
    returns = np.array([1.0, 6.0, 12.0, 4.0, 9.0])
    # kappa = 10, k = 1: E = [1, 1, 2, -1, -1]; threshold E_0 = 1
    assert mrpo_select(returns, params, kappa=10.0).tolist() == [True, True, True, False, False]


def test_mrpo_select_worst_set_members_below_the_threshold_stay():
    params = np.array([[0.0], [1.0], [0.5], [0.9]])
    returns = np.array([0.0, 1.0, 30.0, 40.0])
    # 50%: W = {0, 1}; kappa = 10: E = [0, -9, 25, 31]; threshold max(0, -9) = 0; environment 1 is in W
    assert mrpo_select(returns, params, kappa=10.0, worst_fraction=0.5).tolist() == [True, True, True, True]
    # kappa = 50: E = [0, -49, 5, -5]: environment 3 (far from p_w) drops, environment 1 (in W) stays
    assert mrpo_select(returns, params, kappa=50.0, worst_fraction=0.5).tolist() == [True, True, True, False]


def test_mrpo_select_ties_at_a_cap_never_shrink_below_the_worst_set():
    params = np.arange(16, dtype=float)[:, None] / 15.0
    # every return at the cap: W is all 16 environments, so all are trained on for any kappa
    capped = np.full(16, 1000.0)
    for kappa in (0.0, 100.0, 1e6):
        assert mrpo_select(capped, params, kappa=kappa).tolist() == [True] * 16
    # one environment below the cap: k = 2 and the 2nd-lowest return is the cap, so W is again everything
    # (the old rule kept only the best-scoring environment: the capped one nearest to environment 7)
    one_low = capped.copy()
    one_low[7] = 400.0
    assert mrpo_select(one_low, params, kappa=1e4).tolist() == [True] * 16


def test_mrpo_select_boundary_ties_widen_the_worst_set():
    # k = 2 (10% of 16); the 2nd-lowest return 300 is shared by 1, 2 and 3, so W = {0, 1, 2, 3}
    returns = np.array([100.0, 300.0, 300.0, 300.0, *[1000.0] * 12])
    params = np.array([0.0, 0.25, 0.5, 0.75, 0.125, 0.375, 0.625, 0.875, 0.9375, 1.0, *[0.5] * 6])[:, None]
    assert worst_set(returns, 0.1).tolist() == [True] * 4 + [False] * 12
    # kappa = 1000: E(W) = [100, 50, -200, -450], threshold 100; a capped environment scores 1000 - 1000 p,
    # so it stays when p <= 0.9: all but the ones at 0.9375 and 1.0
    expected = [True] * 4 + [True, True, True, True, False, False] + [True] * 6
    assert mrpo_select(returns, params, kappa=1000.0).tolist() == expected


def test_mrpo_select_always_contains_the_worst_set():
    rng = np.random.default_rng(2)
    for _ in range(50):
        returns = rng.integers(0, 4, size=12).astype(float)  # many ties
        params = rng.uniform(size=(12, 2))
        kappa, fraction = float(rng.uniform(0, 100)), float(rng.uniform(0.05, 1.0))
        mask = mrpo_select(returns, params, kappa, fraction)
        assert mask[worst_set(returns, fraction)].all()
        assert mask[returns == returns.min()].all()  # p_w, whichever of the tied minima it is


@pytest.mark.parametrize("kappa", [0.0, 3.0, 30.0, 1e4])
def test_selection_is_permutation_invariant(kappa):
    rng = np.random.default_rng(3)
    returns = rng.integers(0, 5, size=16).astype(float)  # ties inside and at the boundary of W
    params = rng.uniform(size=(16, 2))
    mask = mrpo_select(returns, params, kappa, worst_fraction=0.2)
    epopt = epopt_select(returns, worst_fraction=0.2)
    for _ in range(10):
        order = rng.permutation(16)
        assert mrpo_select(returns[order], params[order], kappa, worst_fraction=0.2).tolist() == mask[order].tolist()
        assert epopt_select(returns[order], worst_fraction=0.2).tolist() == epopt[order].tolist()


def test_epopt_select_hand_computed():
    # EPOpt / PW-DR is unchanged: the alpha worst returns, boundary ties included, whatever the parameters
    returns = np.array([8.0, 2.0, 6.0, 2.0, 9.0, 4.0, 7.0, 1.0, 5.0, 3.0])
    # alpha = 0.2 (k = 2): the returns 1 and 2, and the other 2 tied with it
    assert epopt_select(returns, 0.2).tolist() == [False, True, False, True, False, False, False, True, False, False]
    # alpha = 0.5 (k = 5): returns <= 4
    assert epopt_select(returns, 0.5).tolist() == [False, True, False, True, False, True, False, True, False, True]
    assert epopt_select(np.full(16, 1000.0), 0.1).tolist() == [True] * 16


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
