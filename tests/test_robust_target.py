"""The robust, soft-robust and entropy-regularised TD targets (Eq. 1, 4), the E- and M-steps, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

th = pytest.importorskip("torch")

from robust_sb3.mpo.improvement import estep_weights, mstep_losses, temperature_dual, weights_kl  # noqa: E402
from robust_sb3.mpo.robust_target import check_robustness, diagonal_gaussian_kl, robust_td_target  # noqa: E402

pytestmark = pytest.mark.sb3

# One transition, K = 3 models: rewards, the third model's next state terminal, next-state values, gamma 0.9.
REWARDS = th.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
TERMINATED = th.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
VALUES = th.tensor([[10.0, 5.0, 7.0], [1.0, 4.0, 2.0]])
# per model: row 0: 1 + 0.9 * 10 = 10, 2 + 0.9 * 5 = 6.5, 3 (terminal: reward only); row 1: 0.9, 3.6, 1.8
PER_MODEL = [[10.0, 6.5, 3.0], [0.9, 3.6, 1.8]]


def test_robust_target_is_the_worst_model_with_per_model_terminals():
    out = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "robust")
    assert np.allclose(out.per_model.numpy(), PER_MODEL)
    assert out.target.squeeze(1).tolist() == pytest.approx([3.0, 0.9])
    assert out.worst_model.tolist() == [2, 0]
    assert out.gap.tolist() == pytest.approx([(10 + 6.5 + 3) / 3 - 3.0, (0.9 + 3.6 + 1.8) / 3 - 0.9])
    assert out.target.shape == (2, 1)


def test_soft_robust_target_is_the_mean_or_the_weighted_mean():
    uniform = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "soft")
    assert uniform.target.squeeze(1).tolist() == pytest.approx([6.5, 2.1])
    weighted = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "soft", th.tensor([0.5, 0.25, 0.25]))
    assert weighted.target.squeeze(1).tolist() == pytest.approx([0.5 * 10 + 0.25 * 6.5 + 0.25 * 3, 0.45 + 0.9 + 0.45])


def test_non_robust_target_takes_one_model():
    out = robust_td_target(th.tensor([[1.0], [2.0]]), th.tensor([[0.0], [1.0]]), th.tensor([[4.0], [4.0]]), 0.5, "none")
    assert out.target.squeeze(1).tolist() == pytest.approx([3.0, 2.0])
    with pytest.raises(ValueError, match="one next state"):
        robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "none")


def test_bad_robustness_settings_raise():
    with pytest.raises(ValueError, match="Unknown robustness 'worst'"):
        check_robustness("worst", 3)
    with pytest.raises(ValueError, match="need robustness='soft'"):
        check_robustness("robust", 3, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"one weight per model \(3,\)"):
        check_robustness("soft", 3, [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        check_robustness("soft", 3, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="must all have shape"):
        robust_td_target(REWARDS, TERMINATED[:, :2], VALUES, 0.9)
    assert check_robustness("soft", 2, (0.25, 0.75)).tolist() == [0.25, 0.75]


def test_gaussian_kl_by_hand():
    # KL(N(0, 1) || N(1, 2^2)) = log 2 + (1 + 1) / 8 - 1/2; two dims add up
    kl = diagonal_gaussian_kl(
        th.tensor([[0.0, 0.0]]), th.tensor([[1.0, 1.0]]), th.tensor([[1.0, 0.0]]), th.tensor([[2.0, 1.0]])
    )
    assert kl.item() == pytest.approx(math.log(2.0) + 0.25 - 0.5)
    p = th.distributions.Normal(th.tensor([0.3, -1.0]), th.tensor([0.5, 2.0]))
    q = th.distributions.Normal(th.tensor([0.1, 0.0]), th.tensor([1.5, 0.7]))
    assert diagonal_gaussian_kl(p.loc, p.scale, q.loc, q.scale).item() == pytest.approx(
        th.distributions.kl_divergence(p, q).sum().item(), rel=1e-6
    )


def test_estep_temperature_meets_its_kl_bound():
    """The minimiser of the dual gives weights whose KL to pi_k (uniform over the samples) is epsilon."""
    gen = th.Generator().manual_seed(0)
    q_values = th.randn(20, 64, generator=gen, dtype=th.float64) * 3.0
    epsilon = 0.1
    log_eta = th.tensor(0.0, dtype=th.float64, requires_grad=True)
    optimizer = th.optim.Adam([log_eta], lr=0.05)
    for _ in range(3000):  # the same dual and parameterisation MPO.train uses, run to convergence
        optimizer.zero_grad()
        temperature_dual(q_values, log_eta.exp(), epsilon).backward()
        optimizer.step()
    weights = estep_weights(q_values, log_eta.exp().detach())
    assert weights_kl(weights).item() == pytest.approx(epsilon, abs=2e-3)
    # and a grid over eta confirms it is the dual's minimum (the dual is convex in eta)
    grid = np.exp(np.linspace(-3, 3, 2001))
    duals = [temperature_dual(q_values, th.tensor(eta, dtype=th.float64), epsilon).item() for eta in grid]
    assert log_eta.exp().item() == pytest.approx(grid[int(np.argmin(duals))], rel=0.01)


def test_weights_kl_by_hand():
    # N = 2, q = (0.75, 0.25): KL to uniform = 0.75 log 1.5 + 0.25 log 0.5
    weights = th.tensor([[0.75], [0.25]])
    assert weights_kl(weights).item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    # softmax of Q / eta by hand
    q = th.tensor([[1.0], [0.0]])
    assert estep_weights(q, th.tensor(0.5))[:, 0].tolist() == pytest.approx([math.e**2 / (math.e**2 + 1), 1 / (math.e**2 + 1)])


def test_mstep_decouples_mean_and_covariance():
    """The mean loss moves only the mean (covariance held at pi_k's) and vice versa; KLs by hand."""
    target_mean, target_std = th.zeros(1, 1), th.ones(1, 1)
    mean = th.tensor([[0.2]], requires_grad=True)
    std = th.tensor([[2.0]], requires_grad=True)
    actions = th.tensor([[[1.0]], [[-1.0]]])  # N = 2 samples, B = 1, action_dim = 1
    weights = th.tensor([[0.75], [0.25]])
    out = mstep_losses(actions, weights, mean, std, target_mean, target_std)
    assert out.kl_mean.item() == pytest.approx(0.2**2 / 2)  # KL(N(0,1) || N(0.2,1))
    assert out.kl_std.item() == pytest.approx(math.log(2.0) + 1 / 8 - 0.5)  # KL(N(0,1) || N(0,4))
    # loss_mean = -sum q log N(a; mean, 1): gradient wrt mean = -sum q (a - mean)
    (grad_mean,) = th.autograd.grad(out.loss_mean, mean, retain_graph=True)
    assert grad_mean.item() == pytest.approx(-(0.75 * (1 - 0.2) + 0.25 * (-1 - 0.2)))
    assert th.autograd.grad(out.loss_mean, std, retain_graph=True, allow_unused=True)[0] is None
    assert th.autograd.grad(out.loss_std, mean, allow_unused=True)[0] is None
