"""The dynamics ensemble of RAMBO and DDR-MPO: recovery of a linear system, elites, early stopping, vectorisation,
determinism, save/load, termination rules against the envs' own ``step``, and errors on bad input."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")

import robust_envs  # noqa: E402, F401
from robust_sb3.common.dynamics import GaussianEnsemble, termination_fn  # noqa: E402
from robust_sb3.common.dynamics.losses import MBPO_WEIGHT_DECAYS, layer_weight_decays  # noqa: E402
from robust_sb3.common.dynamics.network import soft_clamp  # noqa: E402
from robust_sb3.common.dynamics.training import BestWeights  # noqa: E402

pytestmark = pytest.mark.sb3

# s' = A s + B a + noise, r = c.s + d.a + noise: a system the ensemble must recover
A = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.7]])
B = np.array([[0.5, 0.0], [0.0, 0.3], [0.2, -0.4]])
C = np.array([1.0, -0.5, 0.25])
D = np.array([0.3, -0.2])
SIGMA = 0.05
SMALL = dict(n_members=3, n_elites=2, hidden_sizes=(64, 64), device="cpu")
TINY = dict(n_members=2, n_elites=1, hidden_sizes=(8,))


@pytest.fixture(autouse=True)
def one_thread():
    """On a shared 2-core machine a second torch thread only spins (a training step costs 50x more)."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def linear_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s, a = rng.normal(size=(n, 3)), rng.uniform(-1.0, 1.0, size=(n, 2))
    next_s = s @ A.T + a @ B.T + SIGMA * rng.normal(size=(n, 3))
    r = s @ C + a @ D + SIGMA * rng.normal(size=n)
    return s, a, r, next_s


@pytest.fixture(scope="module")
def fitted():
    """A small ensemble fitted on 8000 transitions of the linear system with the default holdout rule (about 3 s)."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    try:
        ensemble = GaussianEnsemble(3, 2, seed=0, **SMALL)
        result = ensemble.fit(*linear_data(8000, seed=0), max_epochs=300)
    finally:
        th.set_num_threads(threads)
    return ensemble, result


def test_fit_recovers_a_linear_system(fitted):
    ensemble, result = fitted
    assert ensemble.last_fit is result  # the record of the latest fit stays on the ensemble
    # the likelihood and the holdout error fall; the holdout MSE ends at the noise floor sigma^2
    assert result.train_loss[-1] < result.train_loss[0] - 10.0
    assert result.holdout_mse_history[0].min() > 10 * SIGMA**2
    assert np.all(result.holdout_mse < 1.2 * SIGMA**2)
    assert result.stopped_early and result.epochs < 300
    assert result.n_holdout == 1000 and result.n_train == 7000  # min(20% of 8000, 1000)

    s, a, _, _ = linear_data(5000, seed=1)
    pred = ensemble.predict_all(s, a, deterministic=True)
    assert pred.next_observations.shape == (3, 5000, 3) and pred.rewards.shape == (3, 5000)
    truth, true_reward = s @ A.T + a @ B.T, s @ C + a @ D
    # every member's mean is within a fraction of the noise of the true mean
    assert np.sqrt(np.mean((pred.next_observations - truth) ** 2)) < 0.4 * SIGMA
    assert np.sqrt(np.mean((pred.rewards - true_reward) ** 2)) < 0.4 * SIGMA
    # the learned variance is of the noise's size (early stopping on the MSE keeps weights whose variance is
    # still somewhat high at this data size: about 1.3 sigma^2)
    _, logvar = ensemble(th.as_tensor(s, dtype=th.float32), th.as_tensor(a, dtype=th.float32))
    ratio = th.exp(logvar).mean().item() / SIGMA**2
    assert 0.5 < ratio < 2.0
    # samples spread by the predicted standard deviation
    one_s, one_a = np.repeat(s[:1], 4000, axis=0), np.repeat(a[:1], 4000, axis=0)
    samples = ensemble.predict(one_s, one_a, generator=th.Generator().manual_seed(0))
    picked = samples.members[0]
    _, logvar = ensemble(th.as_tensor(s[:1], dtype=th.float32), th.as_tensor(a[:1], dtype=th.float32))
    spread = samples.next_observations[samples.members == picked].std(axis=0)
    np.testing.assert_allclose(spread, np.exp(0.5 * logvar[picked, 0, :3].detach().numpy()), rtol=0.15)


def test_fit_keeps_each_members_best_weights_and_stops_by_the_holdout_rule(fitted):
    _, result = fitted
    history = result.holdout_mse_history
    assert history.shape == (result.epochs, 3)
    # each member's final holdout MSE is the one recorded at the epoch its kept weights come from
    np.testing.assert_allclose(result.holdout_mse, history[result.best_epochs, np.arange(3)], rtol=1e-6)
    # stop rule: more than `patience` (5) epochs after the last epoch in which any member improved by > 1%
    assert result.epochs == result.best_epochs.max() + 5 + 2
    last = result.best_epochs.max()
    for epoch in range(last + 1, result.epochs):
        best_so_far = history[:epoch].min(axis=0)
        assert np.all((best_so_far - history[epoch]) / best_so_far <= 0.01 + 1e-12)


def test_best_weights_tracks_relative_improvement_per_member():
    layer = th.nn.Linear(1, 1)
    weight = th.nn.Parameter(th.zeros(2, 1, 1))
    bias = th.nn.Parameter(th.zeros(2, 1, 1))
    layer.weight, layer.bias = weight, bias
    best = BestWeights([layer], min_improvement=0.01)
    steps = [([1.0, 1.0], [0, 0]), ([0.995, 0.5], [0, 1]), ([0.98, 0.499], [2, 1]), ([0.98, 0.6], [2, 1])]
    for epoch, (mse, expected_epochs) in enumerate(steps):
        with th.no_grad():
            weight.fill_(float(epoch))
        best.update(epoch, np.array(mse))
        assert best.best_epoch.tolist() == expected_epochs
    assert best.epochs_since_update == 1  # epoch 3 improved nobody
    best.restore()
    assert weight.detach().flatten().tolist() == [2.0, 1.0]  # member 0 from epoch 2, member 1 from epoch 1


def test_elites_are_the_members_with_the_lowest_holdout_error(fitted):
    ensemble, result = fitted
    assert result.elites.tolist() == np.argsort(result.holdout_mse, kind="stable")[:2].tolist()
    assert ensemble.elites.tolist() == result.elites.tolist()
    broken = copy.deepcopy(ensemble)
    gen = th.Generator().manual_seed(0)
    last = broken.network.layers[-1].weight
    with th.no_grad():  # spoil the two current elites' output layers: the third member must become the first elite
        for member in result.elites:
            last[member] += 0.5 * th.randn(last[member].shape, generator=gen)
    holdout = linear_data(1000, seed=2)
    mse = broken.holdout_mse(*holdout)
    spared = int(np.setdiff1d(np.arange(3), result.elites)[0])
    assert np.argmin(mse) == spared
    elites = broken.select_elites(*holdout)
    assert elites[0] == spared and broken.elites.tolist() == elites.tolist()
    # predictions only ever come from elites
    s, a, _, _ = linear_data(500, seed=3)
    assert set(broken.predict(s, a).members.tolist()) <= set(elites.tolist())


def reference_forward(ensemble: GaussianEnsemble, obs: th.Tensor, act: th.Tensor) -> tuple[list, list]:
    """Each member on its own: plain matrix products over its slice of the weights, in a Python loop."""
    net = ensemble.network
    x = (th.cat((obs, act), dim=1) - ensemble.input_normalizer.mean) / ensemble.input_normalizer.std
    means, logvars = [], []
    for e in range(ensemble.n_members):
        h = x
        for layer in net.layers[:-1]:
            h = th.nn.functional.silu(th.addmm(layer.bias[e], h, layer.weight[e]))
        out = th.addmm(net.layers[-1].bias[e], h, net.layers[-1].weight[e])
        raw = out[:, ensemble.out_dim :]
        upper = net.max_logvar - th.nn.functional.softplus(net.max_logvar - raw)
        means.append(out[:, : ensemble.out_dim])
        logvars.append(net.min_logvar + th.nn.functional.softplus(upper - net.min_logvar))
    return means, logvars


@pytest.mark.parametrize("rows", [256, 257])
def test_the_batched_forward_equals_a_loop_over_members(rows):
    ensemble = GaussianEnsemble(5, 3, n_members=4, n_elites=2, hidden_sizes=(32, 16, 8), seed=3, device="cpu")
    gen = th.Generator().manual_seed(0)
    ensemble.input_normalizer.fit(th.randn(100, 8, generator=gen) * 3 + 1)
    obs, act = th.randn(rows, 5, generator=gen), th.randn(rows, 3, generator=gen)
    with th.no_grad():
        mean, logvar = ensemble(obs, act)
        means, logvars = reference_forward(ensemble, obs, act)
    assert mean.shape == logvar.shape == (4, rows, 6)
    for e in range(4):
        # the batched products equal each member's own products bit for bit
        assert th.equal(mean[e], means[e])
        if rows % 16 == 0:
            assert th.equal(logvar[e], logvars[e])
        else:
            # torch's elementwise kernels compute a tensor's last few values (fewer than one SIMD vector) with
            # scalar code: softplus on 257 x 6 values then differs from the batched layout in the last bit
            th.testing.assert_close(logvar[e], logvars[e], rtol=1e-6, atol=1e-6)
    # per-member inputs (E, N, d) run each member on its own rows
    with th.no_grad():
        stacked, _ = ensemble(obs.expand(4, -1, -1), act.expand(4, -1, -1))
    assert th.equal(stacked, mean)


def test_large_batches_are_predicted_in_row_chunks_with_the_same_result():
    ensemble = GaussianEnsemble(5, 3, seed=4, device="cpu", **TINY)
    gen = th.Generator().manual_seed(1)
    obs, act = th.randn(1000, 5, generator=gen), th.randn(1000, 3, generator=gen)
    with th.no_grad():
        whole = ensemble(obs, act)
    ensemble.predict_chunk_rows = 300  # 4 chunks, the last one short
    chunked = ensemble.predict_distribution(obs, act)
    assert th.equal(whole[0], chunked[0])
    th.testing.assert_close(whole[1], chunked[1], rtol=1e-6, atol=1e-6)  # softplus tails: see the loop test
    empty = ensemble.predict(np.zeros((0, 5)), np.zeros((0, 3)))
    assert empty.next_observations.shape == (0, 5) and empty.rewards.shape == (0,) and empty.members.shape == (0,)


def test_an_ensemble_without_a_reward_head_predicts_the_state_change_only():
    ensemble = GaussianEnsemble(3, 2, predict_reward=False, seed=5, **SMALL)
    s, a, r, next_s = linear_data(300, seed=8)
    ensemble.fit(s, a, r, next_s, max_epochs=2)
    assert ensemble.out_dim == 3
    step = ensemble.predict(s, a)
    assert step.rewards is None and step.next_observations.shape == (300, 3)
    log_p = ensemble.log_prob(*(th.as_tensor(x, dtype=th.float32) for x in (s, a, next_s)))
    assert log_p.shape == (3, 300)
    with pytest.raises(ValueError, match="this ensemble predicts rewards, so pass rewards"):
        GaussianEnsemble(3, 2, seed=5, **SMALL).log_prob(*(th.as_tensor(x, dtype=th.float32) for x in (s, a, next_s)))


def test_soft_clamp_and_weight_decay_schedule():
    low, high = th.tensor(-2.0), th.tensor(1.0)
    x = th.tensor([-100.0, -1.0, 0.0, 100.0], requires_grad=True)
    values = soft_clamp(x, low, high)
    # PETS's two softplus steps: far below -> low; far above -> high + softplus(low - high) (the second step's residue)
    assert values[0].item() == pytest.approx(-2.0) and values[3].item() == pytest.approx(1.0 + math.log1p(math.exp(-3.0)))
    assert bool(th.all(th.diff(values) > 0))
    values.sum().backward()
    assert bool(th.all(x.grad[1:3] > 0.1))  # gradients flow inside the bounds
    assert layer_weight_decays(5, None) == MBPO_WEIGHT_DECAYS
    assert layer_weight_decays(3, None) == pytest.approx((2.5e-5, 7.5e-5, 1e-4))
    assert layer_weight_decays(2, 0.0) == (0.0, 0.0)


def test_log_prob_is_the_diagonal_gaussian_density(fitted):
    ensemble, _ = fitted
    s, a, r, next_s = (th.as_tensor(x, dtype=th.float32) for x in linear_data(50, seed=4))
    with th.no_grad():
        log_p = ensemble.log_prob(s, a, next_s, r).numpy()
        mean, logvar = (x.numpy().astype(np.float64) for x in ensemble(s, a))
    target = np.concatenate(((next_s - s).numpy(), r.numpy()[:, None]), axis=1)
    var = np.exp(logvar)
    by_hand = np.sum(-0.5 * np.log(2 * math.pi * var) - (target - mean) ** 2 / (2 * var), axis=-1)
    np.testing.assert_allclose(log_p, by_hand, rtol=1e-4, atol=1e-4)


def test_predict_picks_an_elite_per_row_and_deterministic_is_its_mean(fitted):
    ensemble, _ = fitted
    s, a, _, _ = linear_data(400, seed=5)
    step = ensemble.predict(s, a, deterministic=True)
    assert step.next_observations.shape == (400, 3) and step.rewards.shape == (400,)
    assert step.terminated.shape == (400,) and not step.terminated.any()  # no env_id: never terminated
    assert set(step.members.tolist()) == set(ensemble.elites.tolist())
    every = ensemble.predict_all(s, a, deterministic=True)
    np.testing.assert_array_equal(step.next_observations, every.next_observations[step.members, np.arange(400)])
    np.testing.assert_array_equal(step.rewards, every.rewards[step.members, np.arange(400)])
    assert every.members.tolist() == [0, 1, 2]


def test_construction_fit_and_prediction_are_deterministic_under_a_seed():
    data = linear_data(600, seed=6)
    runs = []
    for _ in range(2):
        ensemble = GaussianEnsemble(3, 2, seed=7, **SMALL)
        result = ensemble.fit(*data, max_epochs=3)
        runs.append((ensemble, result, ensemble.predict(data[0][:50], data[1][:50])))
    (e1, r1, p1), (e2, r2, p2) = runs
    for key, value in e1.state_dict().items():
        assert th.equal(value, e2.state_dict()[key]), key
    assert r1.train_loss == r2.train_loss and np.array_equal(r1.holdout_mse, r2.holdout_mse)
    for x, y in zip(p1, p2, strict=True):
        np.testing.assert_array_equal(x, y)
    other = GaussianEnsemble(3, 2, seed=8, **SMALL)
    assert not th.equal(other.network.layers[0].weight, e1.network.layers[0].weight)
    # an explicit generator overrides the ensemble's own
    g = [e1.predict(data[0][:50], data[1][:50], generator=th.Generator().manual_seed(1)) for _ in range(2)]
    np.testing.assert_array_equal(g[0].next_observations, g[1].next_observations)
    # without bootstrap every member sees every row, in its own order: members still differ
    plain = GaussianEnsemble(3, 2, seed=7, **SMALL)
    plain.fit(*data, max_epochs=2, bootstrap=False)
    assert not th.equal(plain.network.layers[0].weight[0], plain.network.layers[0].weight[1])


def test_save_and_load_round_trip_exactly(fitted, tmp_path):
    ensemble, _ = fitted
    path = tmp_path / "ensemble.pt"
    ensemble.save(path)
    loaded = GaussianEnsemble.load(path, device="cpu")
    assert loaded.constructor_parameters == ensemble.constructor_parameters
    assert loaded.state_dict().keys() == ensemble.state_dict().keys()
    for key, value in ensemble.state_dict().items():
        assert th.equal(value, loaded.state_dict()[key]), key
    assert loaded.elites.tolist() == ensemble.elites.tolist()
    assert bool(loaded.input_normalizer.fitted)
    # the sampling generator's state travels too: the next sampled steps agree
    s, a, _, _ = linear_data(100, seed=9)
    for x, y in zip(ensemble.predict(s, a), loaded.predict(s, a), strict=True):
        np.testing.assert_array_equal(x, y)

    hopper_kwargs = {"healthy_z_range": (0.9, float("inf"))}
    with_env = GaussianEnsemble(11, 3, env_id="RobustHopper-v0", env_kwargs=hopper_kwargs, seed=1, device="cpu", **TINY)
    with_env.save(tmp_path / "hopper.pt")
    again = GaussianEnsemble.load(tmp_path / "hopper.pt", device="cpu")
    assert again.termination == with_env.termination
    assert again.env_kwargs == {"healthy_z_range": (0.9, float("inf"))}


def rollout_transitions(env_id: str, steps: int, seed: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Next observations and ``step``'s terminated flags under random actions (many falls for the walkers)."""
    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed)
    obs_list, flags = [], []
    env.reset(seed=seed)
    for _ in range(steps):
        next_obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        obs_list.append(next_obs)
        flags.append(terminated)
        if terminated or truncated:
            env.reset()
    env.close()
    return np.array(obs_list), np.array(flags)


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("RobustHopper-v0", {}),
        ("RobustHopper-v0", {"exclude_current_positions_from_observation": False, "healthy_angle_range": (-0.3, 0.3)}),
        ("RobustWalker2d-v0", {}),
        ("RobustWalker2d-v0", {"healthy_z_range": (0.9, 1.9), "exclude_current_positions_from_observation": False}),
        ("RobustHalfCheetah-v0", {}),
        ("RobustInvertedPendulum-v0", {}),
        ("RobustCartPole-v0", {}),
    ],
)
def test_termination_fn_agrees_with_the_envs_step(env_id, kwargs):
    next_obs, flags = rollout_transitions(env_id, 1500, seed=0, **kwargs)
    if env_id != "RobustHalfCheetah-v0":
        assert 5 <= flags.sum() < len(flags)  # the comparison sees both outcomes
    np.testing.assert_array_equal(termination_fn(env_id, **kwargs)(next_obs), flags)
    # a made env carries its kwargs in its spec
    env = gym.make(env_id, **kwargs)
    np.testing.assert_array_equal(termination_fn(env)(next_obs), flags)
    env.close()


def test_termination_fn_agrees_with_perturbed_next_state_sampling():
    """Termination of the next states under other parameters (the envs' batched sampler, the same ``_transition``)."""
    env = gym.make("RobustHopper-v0").unwrapped
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    states = []
    for _ in range(200):
        _, _, terminated, _, _ = env.step(env.action_space.sample())
        states.append(env.get_state())
        if terminated:
            env.reset()
    actions = rng.uniform(-1.0, 1.0, size=(len(states), 3))
    params = [{"friction": 0.5}, {"torso_density": 1500.0}, {}]
    nxt = env.sample_next_states(np.array(states), actions, params)
    assert nxt.terminated.any() and not nxt.terminated.all()
    np.testing.assert_array_equal(termination_fn("RobustHopper-v0")(nxt.observations), nxt.terminated)
    env.close()


def test_an_ensemble_with_an_env_reports_that_envs_termination():
    env = gym.make("RobustHopper-v0")
    ensemble = GaussianEnsemble.for_env(env, seed=0, device="cpu", **TINY)
    assert ensemble.obs_dim == 11 and ensemble.action_dim == 3 and ensemble.env_id == "RobustHopper-v0"
    obs = np.zeros((64, 11), dtype=np.float32)
    obs[:, 0] = np.linspace(0.0, 2.0, 64)  # torso heights on both sides of 0.7
    step = ensemble.predict(obs, np.zeros((64, 3)), deterministic=True)
    np.testing.assert_array_equal(step.terminated, termination_fn("RobustHopper-v0")(step.next_observations))
    assert step.terminated.any() and not step.terminated.all()
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_members=3, n_elites=4), "n_elites=4 exceeds n_members=3"),
        (dict(n_members=0), "n_members must be an int >= 1, got 0"),
        (dict(hidden_sizes=200), "hidden_sizes must be a sequence"),
        (dict(hidden_sizes=(200, 0)), r"hidden_sizes\[1\] must be an int >= 1, got 0"),
        (dict(activation="gelu"), "unknown activation 'gelu'"),
        (dict(min_logvar_init=1.0, max_logvar_init=0.5), "min_logvar_init must be a finite number in"),
        (dict(env_kwargs={"healthy_z_range": (0, 1)}), "given without env_id"),
        (dict(env_id="RobustHoper-v0"), "Did you mean 'RobustHopper-v0'"),
        (dict(env_id="RobustInvertedDoublePendulum-v0"), "no observation-based termination rule"),
        (
            dict(env_id="RobustHopper-v0", env_kwargs={"healthy_z_rang": (0, 1)}),
            r"no keyword argument\(s\) \['healthy_z_rang'\]",
        ),
    ],
)
def test_bad_construction_is_a_clear_error(kwargs, message):
    args = dict(obs_dim=11, action_dim=3, device="cpu") | kwargs
    with pytest.raises(ValueError, match=message):
        GaussianEnsemble(**args)


def test_bad_data_and_settings_are_clear_errors(tmp_path):
    ensemble = GaussianEnsemble(3, 2, seed=0, **SMALL)
    s, a, r, next_s = linear_data(50, seed=0)
    bad = next_s.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"next_observations holds a non-finite value \(nan at row 7, column 1\)"):
        ensemble.fit(s, a, r, bad)
    with pytest.raises(ValueError, match=r"actions must have shape \(N, 2\), got \(50, 3\)"):
        ensemble.fit(s, np.zeros((50, 3)), r, next_s)
    with pytest.raises(ValueError, match="rewards has 49 rows but the observations have 50"):
        ensemble.fit(s, a, r[:49], next_s)
    with pytest.raises(ValueError, match="holdout_ratio must be a finite number in"):
        ensemble.fit(s, a, r, next_s, holdout_ratio=1.0)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        ensemble.fit(s, a, r, next_s, batch_size=0)
    with pytest.raises(ValueError, match="3 transitions leave 0 for the holdout"):
        ensemble.fit(s[:3], a[:3], r[:3], next_s[:3])
    with pytest.raises(ValueError, match="weight_decay must hold one value per weight layer"):
        ensemble.fit(s, a, r, next_s, weight_decay=(1e-5, 1e-5))
    with pytest.raises(ValueError, match=r"observations must have shape \(N, 3\), got \(3,\) \(one row\? pass x\[None\]\)"):
        ensemble.predict(s[0], a[0])
    with pytest.raises(ValueError, match=r"elites must be distinct indices in \[0, 3\), got \[0, 3\]"):
        ensemble.set_elites([0, 3])
    with pytest.raises(ValueError, match="elites must be 2 member indices"):
        ensemble.set_elites([0])
    with pytest.raises(FileNotFoundError, match="no file"):
        GaussianEnsemble.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"is not a file written by GaussianEnsemble\.save"):
        GaussianEnsemble.load(tmp_path / "junk.pt")
    th.save({"weights": th.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"is not a file written by GaussianEnsemble\.save"):
        GaussianEnsemble.load(tmp_path / "other.pt")


# ---- state targets in units of each observation's spread (RAMBO's standardised states) ------------------------------
def small_scale_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A system whose first observation changes by about 1e-3 per step (a position), the others by about 1."""
    rng = np.random.default_rng(seed)
    s, a = rng.normal(size=(n, 3)) * np.array([0.01, 1.0, 1.0]), rng.uniform(-1.0, 1.0, size=(n, 2))
    step = np.column_stack((1e-3 * a[:, 0], 0.3 * a[:, 1] + 0.1 * s[:, 1], 0.2 * s[:, 2]))
    next_s = s + step + rng.normal(size=(n, 3)) * np.array([1e-5, 1e-3, 1e-3])
    return s, a, s[:, 1] + 0.1 * rng.normal(size=n), next_s


def test_scaled_state_targets_are_returned_in_raw_units(tmp_path):
    ensemble = GaussianEnsemble(3, 2, **TINY, scale_state_targets=True, seed=0, device="cpu")
    s, a, r, next_s = small_scale_data(500, seed=0)
    ensemble.fit(s, a, r, next_s, max_epochs=1)
    std = ensemble.input_normalizer.std[:3]
    x = ensemble.input_normalizer(th.as_tensor(np.column_stack((s, a))[:7], dtype=th.float32))
    raw_mean, raw_logvar = ensemble.network(x.expand(2, *x.shape))
    mean, logvar = ensemble(th.as_tensor(s[:7], dtype=th.float32), th.as_tensor(a[:7], dtype=th.float32))
    # hand-computed: state dimensions times the observations' std (log-variance + 2 log std), the reward as is
    th.testing.assert_close(mean[..., :3], raw_mean[..., :3] * std)
    th.testing.assert_close(logvar[..., :3], raw_logvar[..., :3] + 2.0 * th.log(std))
    th.testing.assert_close(mean[..., 3], raw_mean[..., 3])
    th.testing.assert_close(logvar[..., 3], raw_logvar[..., 3])
    prediction = ensemble.predict_all(s[:7], a[:7], deterministic=True)
    np.testing.assert_allclose(prediction.next_observations, s[:7] + mean[..., :3].detach().numpy(), rtol=1e-5, atol=1e-7)
    assert GaussianEnsemble(3, 2, **TINY, seed=0).constructor_parameters["scale_state_targets"] is False
    ensemble.save(tmp_path / "scaled.pt")
    loaded = GaussianEnsemble.load(tmp_path / "scaled.pt", device="cpu")
    assert loaded.scale_state_targets is True
    for a_, b_ in zip(loaded(*(th.as_tensor(v[:7], dtype=th.float32) for v in (s, a))), (mean, logvar), strict=True):
        th.testing.assert_close(a_, b_, rtol=0, atol=0)
    with pytest.raises(TypeError, match="scale_state_targets must be True or False, got 'yes'"):
        GaussianEnsemble(3, 2, **TINY, scale_state_targets="yes")


@pytest.mark.parametrize("scaled", [False, True])
def test_scaled_state_targets_let_a_small_dimension_get_its_own_small_variance(scaled):
    # RAMBO's bounds: a floor of log-variance -6 (std 0.05). On raw targets the 1e-3-per-step dimension cannot be
    # predicted with less than ~0.05 of noise; in units of its observation's std (0.01) the floor is 5e-4
    ensemble = GaussianEnsemble(3, 2, **SMALL, max_logvar_init=1.0, min_logvar_init=-6.0, scale_state_targets=scaled, seed=0)
    s, a, r, next_s = small_scale_data(4000, seed=1)
    ensemble.fit(s, a, r, next_s, max_epochs=30)
    _, logvar = ensemble(th.as_tensor(s[:200], dtype=th.float32), th.as_tensor(a[:200], dtype=th.float32))
    predicted_std = th.exp(0.5 * logvar[..., 0]).median().item()
    if scaled:
        assert predicted_std < 5e-3
    else:
        assert predicted_std > 2e-2
