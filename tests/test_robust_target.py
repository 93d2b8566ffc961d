"""The robust, soft-robust and entropy-regularised TD targets (Eq. 1, 4) in both reward forms, the E- and M-steps, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

th = pytest.importorskip("torch")

from robust_sb3.common.robust_target import check_robustness, diagonal_gaussian_kl, robust_td_target  # noqa: E402
from robust_sb3.mpo.improvement import estep_weights, mstep_losses, temperature_dual, weights_kl  # noqa: E402

pytestmark = pytest.mark.sb3

# Two transitions, K = 3 models with distinct rewards, the third model's next state terminal in row 0; gamma 0.9.
EXPERIENCED = th.tensor([[1.5], [0.5]])  # the reward of the transition the agent experienced (the buffer's)
REWARDS = th.tensor([[1.0, 2.0, 3.0], [2.0, 0.0, 1.0]])  # each model's own reward
TERMINATED = th.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
VALUES = th.tensor([[10.0, 5.0, 7.0], [1.0, 4.0, 2.0]])
WEIGHTS = th.tensor([0.5, 0.25, 0.25])
# gamma (1 - d_k) V_k: row 0: 9, 4.5, 0 (terminal: no continuation); row 1: 0.9, 3.6, 1.8
# Eq. 1 (reward outside): per model 1.5 + (9, 4.5, 0) = 10.5, 6, 1.5; 0.5 + (0.9, 3.6, 1.8) = 1.4, 4.1, 2.3
EQ1_PER_MODEL = [[10.5, 6.0, 1.5], [1.4, 4.1, 2.3]]
# per-model rewards inside: 1 + 9 = 10, 2 + 4.5 = 6.5, 3 + 0 = 3; 2 + 0.9 = 2.9, 0 + 3.6 = 3.6, 1 + 1.8 = 2.8
INSIDE_PER_MODEL = [[10.0, 6.5, 3.0], [2.9, 3.6, 2.8]]


def test_robust_target_keeps_the_experienced_reward_outside_the_infimum():
    """Eq. 1: r + min_k gamma (1 - d_k) V_k with the experienced r; the worst model is the lowest continuation."""
    out = robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, "robust")
    assert out.target.squeeze(1).tolist() == pytest.approx([1.5 + 0.0, 0.5 + 0.9])
    assert out.target.shape == (2, 1)
    assert np.allclose(out.per_model.numpy(), EQ1_PER_MODEL)
    assert out.worst_model.tolist() == [2, 0]
    # mean minus min of the continuations: (9 + 4.5 + 0) / 3 - 0, (0.9 + 3.6 + 1.8) / 3 - 0.9
    assert out.gap.tolist() == pytest.approx([4.5, 1.2])


def test_robust_target_with_the_models_rewards_inside_the_infimum():
    """reward_in_inf=True: min_k (r_k + gamma (1 - d_k) V_k), each model with its own reward."""
    out = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "robust", reward_in_inf=True)
    assert out.target.squeeze(1).tolist() == pytest.approx([3.0, 2.8])
    assert np.allclose(out.per_model.numpy(), INSIDE_PER_MODEL)
    assert out.worst_model.tolist() == [2, 2]
    assert out.gap.tolist() == pytest.approx([(10 + 6.5 + 3) / 3 - 3.0, (2.9 + 3.6 + 2.8) / 3 - 2.8])


def test_soft_robust_target_in_both_forms():
    """The mean (uniform) or the weighted sum over the models, the experienced reward outside or each model's inside."""
    uniform = robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, "soft")
    assert uniform.target.squeeze(1).tolist() == pytest.approx([1.5 + 4.5, 0.5 + 2.1])
    weighted = robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, "soft", WEIGHTS)
    # 1.5 + 0.5 * 9 + 0.25 * 4.5 + 0.25 * 0; 0.5 + 0.5 * 0.9 + 0.25 * 3.6 + 0.25 * 1.8
    assert weighted.target.squeeze(1).tolist() == pytest.approx([7.125, 2.3])
    assert weighted.gap.tolist() == pytest.approx([4.5, 1.2])  # the unweighted spread, as for "robust"
    inside = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "soft", reward_in_inf=True)
    assert inside.target.squeeze(1).tolist() == pytest.approx([6.5, 3.1])
    inside_weighted = robust_td_target(REWARDS, TERMINATED, VALUES, 0.9, "soft", WEIGHTS, reward_in_inf=True)
    # 0.5 * 10 + 0.25 * 6.5 + 0.25 * 3; 0.5 * 2.9 + 0.25 * 3.6 + 0.25 * 2.8
    assert inside_weighted.target.squeeze(1).tolist() == pytest.approx([7.375, 3.05])


def test_the_forms_agree_when_every_model_has_the_experienced_reward():
    """Rewards of (s, a) only: r_k = r for all k, and the two forms give the same target and diagnostics."""
    same = EXPERIENCED.expand(-1, 3)
    for robustness, weights in (("robust", None), ("soft", None), ("soft", WEIGHTS)):
        eq1 = robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, robustness, weights)
        inside = robust_td_target(same, TERMINATED, VALUES, 0.9, robustness, weights, reward_in_inf=True)
        assert eq1.target.squeeze(1).tolist() == pytest.approx(inside.target.squeeze(1).tolist())
        assert th.allclose(eq1.per_model, inside.per_model)
        assert eq1.worst_model.tolist() == inside.worst_model.tolist()
        assert eq1.gap.tolist() == pytest.approx(inside.gap.tolist())


def test_non_robust_target_takes_one_model():
    rewards, terminated, values = th.tensor([[1.0], [2.0]]), th.tensor([[0.0], [1.0]]), th.tensor([[4.0], [4.0]])
    for reward_in_inf in (False, True):  # K = 1: the experienced transition is the model, both forms are one
        out = robust_td_target(rewards, terminated, values, 0.5, "none", reward_in_inf=reward_in_inf)
        assert out.target.squeeze(1).tolist() == pytest.approx([3.0, 2.0])
        assert out.gap.tolist() == [0.0, 0.0] and out.worst_model.tolist() == [0, 0]
    with pytest.raises(ValueError, match="one next state"):
        robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, "none")


def test_non_robust_target_is_bit_for_bit_the_plain_td_target():
    """The Eq. 1 form must not change non-robust MPO's numbers: r + gamma (1 - d) V, the same float operations."""
    gen = th.Generator().manual_seed(0)
    rewards, values = th.randn(64, 1, generator=gen), th.randn(64, 1, generator=gen) * 100.0
    terminated = (th.rand(64, 1, generator=gen) < 0.2).float()
    out = robust_td_target(rewards, terminated, values, 0.99, "none")
    assert th.equal(out.target, rewards + 0.99 * (1.0 - terminated) * values)


def test_bad_robustness_settings_raise():
    with pytest.raises(ValueError, match="Unknown robustness 'worst'"):
        check_robustness("worst", 3)
    with pytest.raises(ValueError, match="need robustness='soft'"):
        check_robustness("robust", 3, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"one weight per model \(3,\)"):
        check_robustness("soft", 3, [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        check_robustness("soft", 3, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="must both have shape"):
        robust_td_target(EXPERIENCED, TERMINATED[:, :2], VALUES, 0.9)
    with pytest.raises(ValueError, match=r"experienced transition's reward .*need reward_in_inf=True"):
        robust_td_target(REWARDS, TERMINATED, VALUES, 0.9)
    with pytest.raises(ValueError, match=r"each model's reward, shape \(2, 3\)"):
        robust_td_target(EXPERIENCED, TERMINATED, VALUES, 0.9, reward_in_inf=True)
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
