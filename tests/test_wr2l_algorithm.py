"""WR2L on envs: coordinates, reference Hessian, lock-step perturbed returns, the PPO subclass, save/load, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

import robust_envs  # noqa: F401  (registers the ids)
from robust_envs.wrappers import DomainRandomization
from robust_sb3 import WR2L
from robust_sb3.wr2l import (
    BatchedReturns,
    DynamicsCoordinates,
    LockstepReturns,
    PolicyActor,
    WR2LConfig,
    ball_value,
    estimate_reference_hessian,
    resolve_parameterisation,
    sample_in_ellipsoid,
    wasserstein_ball_set,
)

pytestmark = pytest.mark.sb3


IP = "RobustInvertedPendulum-v0"
#: small settings that keep each construction and learn() to a second or two
FAST = dict(n_steps=64, batch_size=32, n_epochs=1, hessian_data_episodes=4, n_state_action=200, eval_horizon=60)


def _vec(env_id: str = IP, n_envs: int = 2, seed: int = 0, **kwargs):
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=kwargs or None)


def _model(env=None, parameterisation=("pole_length",), seed: int = 0, **kwargs) -> WR2L:
    return WR2L("MlpPolicy", env if env is not None else _vec(), parameterisation, seed=seed, **{**FAST, **kwargs})


# ---- coordinates ----------------------------------------------------------------------------------
def test_coordinates_relative_map_and_box():
    space = gym.make(IP).unwrapped.param_space
    reference = space.nominal
    coordinates = DynamicsCoordinates.build(space, reference, ("pole_length", "cart_size"), "relative", trust_region=0.5)
    phi0 = reference[[space.index("pole_length"), space.index("cart_size")]]
    np.testing.assert_array_equal(coordinates.phi0, phi0)
    np.testing.assert_array_equal(coordinates.origin, [0.0, 0.0])
    # +10% and -20%, by hand
    np.testing.assert_allclose(coordinates.to_raw([0.1, -0.2]), [1.1 * phi0[0], 0.8 * phi0[1]])
    np.testing.assert_allclose(coordinates.from_raw(coordinates.to_raw([0.1, -0.2])), [0.1, -0.2])
    full = coordinates.to_full([[0.1, -0.2]])
    assert full.shape == (1, len(space.names))
    expected = reference.copy()
    expected[space.index("pole_length")] = 1.1 * phi0[0]
    expected[space.index("cart_size")] = 0.8 * phi0[1]
    np.testing.assert_allclose(full[0], expected)
    # the trust region of +-50% is inside the physical bounds of both
    np.testing.assert_allclose(coordinates.low, [-0.5, -0.5])
    np.testing.assert_allclose(coordinates.high, [0.5, 0.5])
    assert (coordinates.physical_low <= coordinates.low).all() and (coordinates.physical_high >= coordinates.high).all()


def test_coordinates_raw_keep_physical_units():
    space = gym.make(IP).unwrapped.param_space
    coordinates = DynamicsCoordinates.build(space, space.nominal, ("pole_length",), "raw", trust_region=None)
    np.testing.assert_array_equal(coordinates.origin, coordinates.phi0)
    np.testing.assert_array_equal(coordinates.low, [space["pole_length"].low])
    np.testing.assert_array_equal(coordinates.high, [space["pole_length"].high])


@pytest.mark.parametrize(
    "parameterisation, error, match",
    [
        ("wr2l/hopper/2d", ValueError, "is for RobustHopper-v0"),
        ("no/such/preset", ValueError, "'no/such/preset' is neither"),
        (["pole_length", "wingspan"], ValueError, "'wingspan'"),
        (["pole_length", "pole_length"], ValueError, r"\['pole_length'\] more than once"),
        (["density"], ValueError, "'density' is a parameter group"),
        ([], TypeError, "non-empty list"),
        (42, TypeError, "42"),
        ([1, 2], TypeError, r"\[1, 2\]"),
    ],
)
def test_resolve_parameterisation_refuses(parameterisation, error, match):
    space = gym.make(IP).unwrapped.param_space
    with pytest.raises(error, match=match):
        resolve_parameterisation(parameterisation, space, IP)


def test_resolve_parameterisation_presets_and_names():
    hopper = gym.make("RobustHopper-v0").unwrapped.param_space
    assert resolve_parameterisation("wr2l/hopper/2d", hopper, "RobustHopper-v0") == ("torso_density", "friction")
    assert len(resolve_parameterisation("wr2l/hopper/full", hopper, "RobustHopper-v0")) == 11
    assert resolve_parameterisation("friction", hopper) == ("friction",)


# ---- the reference Hessian on an env --------------------------------------------------------------------
def test_reference_hessian_matches_second_differences_of_w():
    # H0 from WR2L's own pipeline (random-policy pairs, Gauss-Newton in relative coordinates) against a central
    # second difference of the sampled W(u) = mean ||s'(u) - s'(0)||^2 on the same pairs
    env = gym.make(IP)
    space = env.unwrapped.param_space
    coordinates = DynamicsCoordinates.build(space, space.nominal, ("pole_length", "cart_mass"), "relative")
    config = WR2LConfig(hessian_data_episodes=5, n_state_action=300)
    result = estimate_reference_hessian(env, coordinates, config, np.random.default_rng(0))
    pairs = result.pairs
    assert len(pairs.states) == min(300, pairs.available)

    def w(u):
        states = env.unwrapped.sample_next_states(
            pairs.states, pairs.actions, coordinates.to_full([coordinates.origin, u])
        ).observations
        return float(((states[:, 1] - states[:, 0]) ** 2).sum(axis=1).mean())

    h = 1e-2
    second = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
            second[i, j] = (w(e_i + e_j) - w(e_i - e_j) - w(-e_i + e_j) + w(-e_i - e_j)) / (4 * h * h)
    np.testing.assert_allclose(result.estimate.hessian, second, rtol=0.05, atol=1e-3 * np.abs(second).max())
    assert np.linalg.eigvalsh(result.hessian).min() > 0.0


@pytest.mark.parametrize("hessian", ["gauss_newton", "zero_order"])
def test_reference_hessian_is_symmetric_positive_definite(hessian):
    env = gym.make(IP)
    space = env.unwrapped.param_space
    coordinates = DynamicsCoordinates.build(space, space.nominal, ("pole_length", "slider_damping"), "relative")
    config = WR2LConfig(hessian=hessian, hessian_data_episodes=3, n_state_action=100, hessian_samples=50)
    result = estimate_reference_hessian(env, coordinates, config, np.random.default_rng(1))
    assert np.linalg.eigvalsh(result.hessian).min() > 0.0
    np.testing.assert_array_equal(result.hessian, result.hessian.T)
    assert result.estimate.n_evaluations == (4 if hessian == "gauss_newton" else 101)


def test_relative_coordinates_refuse_a_zero_reference():
    space = gym.make(IP).unwrapped.param_space
    with pytest.raises(ValueError, match=r"\['slider_armature'\] are 0.*coords='raw'"):
        DynamicsCoordinates.build(space, space.nominal, ("pole_length", "slider_armature"), "relative")
    raw = DynamicsCoordinates.build(space, space.nominal, ("slider_armature",), "raw")
    np.testing.assert_array_equal(raw.origin, [0.0])


# ---- lock-step returns --------------------------------------------------------------------------------
def _sequential_return(env_id, actor, params, seed, horizon):
    env = gym.make(env_id)
    observation, _ = env.reset(seed=int(seed), options={"params": params})
    from robust_sb3.wr2l.returns import row_generators

    generator = row_generators([seed])
    total = 0.0
    for _ in range(horizon):
        observation, reward, terminated, truncated, _ = env.step(actor(np.asarray(observation)[None], generator)[0])
        total += reward
        if terminated or truncated:
            break
    return total


def test_lockstep_returns_equal_sequential_episodes():
    model = PPO("MlpPolicy", IP, seed=0)
    actor = PolicyActor(model.policy, deterministic=False)
    space = gym.make(IP).unwrapped.param_space
    params = np.stack([space.resolve({"pole_length": length}) for length in (0.6, 1.0, 1.5)])
    seeds = np.array([3, 4, 3])
    batch = LockstepReturns(lambda: gym.make(IP), horizon=50)(actor, params, seeds)
    expected = [_sequential_return(IP, actor, row, seed, 50) for row, seed in zip(params, seeds, strict=True)]
    np.testing.assert_allclose(batch.returns, expected, rtol=0, atol=1e-9)
    assert (batch.lengths <= 50).all() and (batch.lengths >= 1).all()


def test_lockstep_common_random_numbers_and_discount():
    model = PPO("MlpPolicy", "RobustPendulum-v0", seed=0)
    actor = PolicyActor(model.policy, deterministic=False)
    nominal = gym.make("RobustPendulum-v0").unwrapped.param_space.nominal
    returns = LockstepReturns(lambda: gym.make("RobustPendulum-v0"), horizon=20)
    same = returns(actor, np.stack([nominal, nominal, nominal]), [7, 7, 8]).returns
    # same seed, same dynamics: the same episode (reset and action noise alike), up to the float32 rounding of a
    # batched forward pass, which may differ between rows of one batch
    assert same[0] == pytest.approx(same[1], rel=1e-9)
    assert abs(same[0] - same[2]) > 1e-3
    # discount 1/2 over a horizon of 1 step: the first reward only; over 2 steps r0 + r1 / 2
    one = LockstepReturns(lambda: gym.make("RobustPendulum-v0"), horizon=1, discount=0.5)(actor, nominal[None], [7]).returns
    two = LockstepReturns(lambda: gym.make("RobustPendulum-v0"), horizon=2, discount=0.5)(actor, nominal[None], [7]).returns
    full = LockstepReturns(lambda: gym.make("RobustPendulum-v0"), horizon=2, discount=1.0)(actor, nominal[None], [7]).returns
    np.testing.assert_allclose(two - one, (full - one) * 0.5)


@pytest.mark.parametrize(("env_id", "horizon"), [(IP, 50), ("RobustPendulum-v0", 30), ("RobustHopper-v0", None)])
def test_batched_returns_equal_the_lockstep_workers(env_id, horizon):
    # the same resets, action noise and dynamics: IP and the pendulum bit for bit; Hopper's contacts to the solver's
    # tolerance (the batched states carry no warm start), its episodes ending at the same steps
    model = PPO("MlpPolicy", env_id, seed=0)
    actor = PolicyActor(model.policy, deterministic=False)
    space = gym.make(env_id).unwrapped.param_space
    name = space.names[0]
    params = np.stack([space.resolve({name: space[name].nominal * factor}) for factor in (1.0, 1.2, 0.8, 1.0)])
    seeds = np.array([3, 4, 3, 5])
    lockstep = LockstepReturns(lambda: gym.make(env_id), horizon=horizon)(actor, params, seeds)
    batched_returns = BatchedReturns(lambda: gym.make(env_id), horizon=horizon)
    batched = batched_returns(actor, params, seeds)
    np.testing.assert_array_equal(batched.lengths, lockstep.lengths)
    np.testing.assert_allclose(batched.returns, lockstep.returns, rtol=1e-12, atol=1e-9)
    if env_id != "RobustHopper-v0":
        np.testing.assert_array_equal(batched.returns, lockstep.returns)
    assert batched.lengths.max() <= (horizon or 1000)
    batched_returns.close()


def test_batched_returns_refuse_wrappers_that_change_the_dynamics_and_endless_episodes():
    model = PPO("MlpPolicy", IP, seed=0)
    actor = PolicyActor(model.policy, deterministic=True)
    nominal = gym.make(IP).unwrapped.param_space.nominal[None]
    wrapped = BatchedReturns(lambda: DomainRandomization(gym.make(IP), "jiang2021/invertedpendulum/train"))
    with pytest.raises(ValueError, match="bypass the wrapper DomainRandomization; use eval_backend='vec'"):
        wrapped(actor, nominal, [0])
    endless = BatchedReturns(lambda: gym.make(IP, max_episode_steps=None).env)  # OrderEnforcing alone, no TimeLimit
    with pytest.raises(ValueError, match="no time limit and no horizon"):
        endless(actor, nominal, [0])
    with pytest.raises(ValueError, match="2 parameter rows need 2 seeds, got 1"):
        BatchedReturns(lambda: gym.make(IP))(actor, np.concatenate([nominal, nominal]), [0])


def test_batched_returns_pass_monitors_and_time_limit_subclasses():
    # SB3's Monitor changes nothing the policy sees; a TimeLimit subclass (rl-zoo3 has one) is a time limit too
    from stable_baselines3.common.monitor import Monitor

    class ShortLimit(gym.wrappers.TimeLimit):
        pass

    pendulum = "RobustPendulum-v0"  # never terminates: only the limit ends its episodes
    model = PPO("MlpPolicy", pendulum, seed=0)
    actor = PolicyActor(model.policy, deterministic=True)
    nominal = gym.make(pendulum).unwrapped.param_space.nominal[None]
    make = lambda: Monitor(ShortLimit(gym.make(pendulum).unwrapped, max_episode_steps=7))  # noqa: E731
    assert BatchedReturns(make)(actor, nominal, [0]).lengths.tolist() == [7]


def test_policy_actor_draws_gaussian_noise_from_the_rows_generator():
    model = PPO("MlpPolicy", IP, seed=0)
    actor = PolicyActor(model.policy, deterministic=False)
    observations = np.zeros((2, 4), dtype=np.float32)
    mean = model.policy.predict(observations, deterministic=True)[0]
    std = th.exp(model.policy.log_std).detach().numpy()
    z = [np.random.default_rng(s).standard_normal(1) for s in (1, 2)]
    actions = actor(observations, [np.random.default_rng(1), np.random.default_rng(2)])
    space = model.action_space
    np.testing.assert_allclose(actions, np.clip(mean + std * np.stack(z), space.low, space.high), rtol=1e-6)
    np.testing.assert_allclose(PolicyActor(model.policy, deterministic=True)(observations, []), mean, rtol=1e-6)


def test_policy_actor_refuses_noise_it_cannot_reproduce():
    model = PPO("MlpPolicy", IP, use_sde=True, seed=0)
    with pytest.raises(ValueError, match="StateDependentNoiseDistribution"):
        PolicyActor(model.policy, deterministic=False)
    PolicyActor(model.policy, deterministic=True)  # the mean action is fine


# ---- the algorithm --------------------------------------------------------------------------------------
def test_wr2l_sets_phi_on_every_sub_env_and_logs():
    env = _vec(n_envs=3)
    model = _model(env)
    model.set_logger(configure(None, ["csv"]))
    records = {}
    original = model.logger.record

    def record(key, value, exclude=None):
        records[key] = value
        original(key, value, exclude)

    model.logger.record = record
    model.learn(2 * 64 * 3)
    assert model.model_steps == 2
    expected = model.coordinates.to_full(model.phi)[0]
    for base in env.get_attr("base_params"):
        np.testing.assert_array_equal(base, expected)
    # the episodes that ran last used phi: each sub-env's episode parameters are phi's
    for episode in env.get_attr("param_vector"):
        np.testing.assert_array_equal(episode, expected)
    assert set(model.worst_params) == {"pole_length"}
    assert model.worst_params["pole_length"] == pytest.approx(model.coordinates.to_raw(model.phi)[0])
    assert model.reference_params == {"pole_length": pytest.approx(gym.make(IP).unwrapped.param_space["pole_length"].nominal)}
    for key in (
        "wr2l/ball_value",
        "wr2l/epsilon",
        "wr2l/grad_norm",
        "wr2l/J_hat",
        "wr2l/clip_fraction",
        "wr2l/hessian_cond",
        "wr2l/phase1_env_steps",
        "wr2l/phase1_seconds",
        "wr2l/phi/pole_length",
    ):
        assert key in records, key
    assert records["wr2l/phase1_env_steps"] > 0 and model.num_timesteps == 2 * 64 * 3  # Phase I not counted
    # the logged ball value is phi's (on the ellipsoid after an unclipped step with a nonzero gradient; that case is
    # test_wr2l_moves_phi_against_the_return: an untrained policy on this env often gets equal returns in a pair)
    assert records["wr2l/ball_value"] == ball_value(model.phi, model.hessian, model.coordinates.origin)
    assert records["wr2l/phi/pole_length"] == model.worst_params["pole_length"]


def test_wr2l_epsilon_calibration_and_hessian_shape():
    model = _model(parameterisation=("pole_length", "cart_mass"), epsilon_fraction=0.2, epsilon_index=1)
    assert model.hessian.shape == (2, 2)
    assert model.epsilon == pytest.approx(0.5 * model.hessian[1, 1] * 0.2**2)  # epsilon_for's axis rule
    explicit = _model(epsilon=0.01)
    assert explicit.epsilon == 0.01


def test_wr2l_moves_phi_against_the_return():
    # a gradient pointing at longer poles being better: the adversary moves phi towards shorter ones, to the ellipsoid
    model = _model(epsilon=1e-6)
    model.perturbed_returns = lambda points, seeds, actor=None: np.atleast_2d(points)[:, 0] * 100.0  # J = 100 u
    phi = model.model_phase()
    assert phi[0] < 0.0
    assert ball_value(phi, model.hessian, model.coordinates.origin) == pytest.approx(1e-6, rel=1e-6)


def test_wr2l_zero_gradient_keeps_phi_where_it_was():
    # a flat return (every pair alike) gives g = 0: Eq. 10 has no direction, and phi stays, not back to phi0
    model = _model(epsilon=1e-4)
    model.perturbed_returns = lambda points, seeds, actor=None: np.atleast_2d(points)[:, 0] * 100.0
    moved = model.model_phase()
    assert moved[0] < 0.0 and model.zero_gradient_steps == 0
    model.perturbed_returns = lambda points, seeds, actor=None: np.full(len(np.atleast_2d(points)), 7.0)
    np.testing.assert_array_equal(model.model_phase(), moved)
    assert model.zero_gradient_steps == 1 and model.model_steps == 2
    cold = _model(epsilon=1e-4, warm_start=False)
    cold.phi = moved.copy()
    cold.perturbed_returns = model.perturbed_returns
    np.testing.assert_array_equal(cold.model_phase(), cold.coordinates.origin)  # the literal form starts at phi0


def test_wr2l_clips_to_the_trust_region():
    model = _model(epsilon=1e6, trust_region=0.2)
    model.perturbed_returns = lambda points, seeds, actor=None: -np.atleast_2d(points)[:, 0]  # J falls with length
    phi = model.model_phase()
    assert phi[0] == pytest.approx(0.2)
    assert model.clipped_steps == 1
    assert model.worst_params["pole_length"] == pytest.approx(1.2 * model.reference_params["pole_length"])


def test_wr2l_armijo_and_cold_start():
    model = _model(epsilon=1e-4, step_size="armijo", warm_start=False, inner_steps=2)
    model.perturbed_returns = lambda points, seeds, actor=None: np.atleast_2d(points)[:, 0] * 10.0
    phi = model.model_phase()
    assert phi[0] < 0.0 and model.model_steps == 2


def test_wr2l_is_deterministic_under_a_seed():
    # one after the other: SB3 seeds torch's global generator, which every model then draws from
    first = _model(seed=3)
    first.learn(2 * 64 * 2)
    second = _model(seed=3)
    np.testing.assert_array_equal(first.hessian, second.hessian)
    second.learn(2 * 64 * 2)
    np.testing.assert_array_equal(first.phi, second.phi)
    for a, b in zip(first.policy.parameters(), second.policy.parameters(), strict=True):
        assert th.equal(a, b)
    other = _model(seed=4)
    other.learn(2 * 64 * 2)
    assert not np.array_equal(other.phi, first.phi)


def test_wr2l_save_load_round_trip(tmp_path):
    model = _model(parameterisation=("pole_length", "cart_mass"), seed=5)
    model.learn(2 * 64 * 2)
    path = tmp_path / "wr2l.zip"
    model.save(path)
    env = _vec(seed=9)
    loaded = WR2L.load(path, env=env)
    np.testing.assert_array_equal(loaded.hessian, model.hessian)
    np.testing.assert_array_equal(loaded.phi, model.phi)
    np.testing.assert_array_equal(loaded.coordinates.reference, model.coordinates.reference)
    assert loaded.epsilon == model.epsilon and loaded.config == model.config
    assert loaded.worst_params == model.worst_params
    for a, b in zip(model.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert th.equal(a, b)
    # phi^[k] is set on the new env at load, and training continues from it
    for base in env.get_attr("base_params"):
        np.testing.assert_array_equal(base, model.coordinates.to_full(model.phi)[0])
    loaded.learn(2 * 64)
    assert loaded.model_steps == model.model_steps + 1
    # without an env: enough to predict
    alone = WR2L.load(path)
    observation = np.zeros(4, dtype=np.float32)
    np.testing.assert_array_equal(
        alone.predict(observation, deterministic=True)[0], model.predict(observation, deterministic=True)[0]
    )


def test_wr2l_load_refuses_another_algorithms_file(tmp_path):
    PPO("MlpPolicy", IP, seed=0).save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match=r"ppo\.zip"):
        WR2L.load(tmp_path / "ppo.zip")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epsilon": 0.0}, ValueError, "epsilon must be a finite number in \\(0"),
        ({"epsilon": -1.0}, ValueError, "-1.0"),
        ({"sigma": 0}, ValueError, "sigma"),
        ({"coords": "polar"}, ValueError, "'polar'"),
        ({"hessian": "exact"}, ValueError, "'exact'"),
        ({"eval_backend": "ray"}, ValueError, "'ray'"),
        ({"inner_steps": 0}, ValueError, "inner_steps"),
        ({"parameterisation": ["wingspan"]}, ValueError, "'wingspan'"),
        ({"parameterisation": ["torso_density"]}, ValueError, "'torso_density'"),
        ({"parameterisation": "wr2l/hopper/1d"}, ValueError, "is for RobustHopper-v0"),
        ({"parameterisation": None}, ValueError, "needs parameterisation="),
        ({"epsilon_index": 3}, ValueError, "epsilon_index=3"),
        ({"n_steps": 0}, ValueError, "n_steps"),
    ],
)
def test_wr2l_bad_arguments(kwargs, error, match):
    env = _vec()
    before = [base.copy() for base in env.get_attr("base_params")]
    arguments = {"parameterisation": ("pole_length",), **kwargs}
    parameterisation = arguments.pop("parameterisation")
    with pytest.raises(error, match=match):
        WR2L("MlpPolicy", env, parameterisation, **{**FAST, **arguments})
    for base, old in zip(env.get_attr("base_params"), before, strict=True):
        np.testing.assert_array_equal(base, old)  # a rejected construction changed no sub-env


def test_wr2l_refuses_domain_randomized_and_mixed_sub_envs():
    randomized = make_vec_env(
        IP, n_envs=2, wrapper_class=DomainRandomization, wrapper_kwargs={"uncertainty_set": "jiang2021/invertedpendulum/train"}
    )
    with pytest.raises(ValueError, match="DomainRandomization"):
        _model(randomized)
    mixed = _vec()
    mixed.env_method("set_params", {"pole_length": 1.5}, indices=[1])
    with pytest.raises(ValueError, match=r"sub-envs \[1\]"):
        _model(mixed)


def test_wr2l_reference_follows_the_persistent_params():
    env = _vec()
    env.env_method("set_params", {"pole_length": 1.5, "cart_mass": 3.0})
    model = _model(env)
    assert model.reference_params == {"pole_length": 1.5}
    np.testing.assert_array_equal(model.coordinates.reference, env.get_attr("base_params")[0])


# ---- PPO mean -----------------------------------------------------------------------------------------
def test_sample_in_ellipsoid_is_uniform_in_the_ball():
    hessian = np.array([[4.0, 1.0], [1.0, 2.0]])
    points = sample_in_ellipsoid(hessian, 0.5, 20000, rng=0, center=[1.0, -1.0])
    offsets = points - [1.0, -1.0]
    values = 0.5 * np.einsum("ni,ij,nj->n", offsets, hessian, offsets)
    assert values.max() <= 0.5 + 1e-12
    # uniform in a 2-d ellipsoid: P(value <= eps t^2) = t^2; at t = 1/2 that is 1/4 (binomial sd 0.003)
    assert np.mean(values <= 0.5 * 0.25) == pytest.approx(0.25, abs=0.015)
    assert np.abs(offsets.mean(axis=0)).max() < 0.01  # centred


def test_wasserstein_ball_set_feeds_domain_randomization():
    model = _model(epsilon=0.01)
    ball = wasserstein_ball_set(IP, model.coordinates, model.hessian, model.epsilon, n=50, rng=0)
    assert len(ball) == 50 and ball.names == ("pole_length",)
    lengths = np.array([member["pole_length"] for member in ball.members])
    u = model.coordinates.from_raw(lengths[:, None])[:, 0]
    assert (0.5 * model.hessian[0, 0] * u**2 <= model.epsilon * (1 + 1e-9)).all()
    env = DomainRandomization(gym.make(IP), ball)
    env.reset(seed=0)
    assert env.unwrapped.params["pole_length"] in set(lengths)


# ---- TRPO as the policy phase -------------------------------------------------------------------------
def test_wr2l_trpo_runs_saves_and_loads(tmp_path):
    from robust_sb3.wr2l import WR2LTRPO

    env = _vec()
    config = {"epsilon": 0.05, "hessian_data_episodes": 4, "n_state_action": 200, "eval_horizon": 60}
    model = WR2LTRPO("MlpPolicy", env, ("pole_length",), config=config, n_steps=64, batch_size=32, seed=0)
    assert model.config == WR2LConfig(**config)
    model.learn(2 * 64 * 2)
    assert model.model_steps == 2
    for base in env.get_attr("base_params"):
        np.testing.assert_array_equal(base, model.coordinates.to_full(model.phi)[0])
    model.save(tmp_path / "trpo.zip")
    loaded = WR2LTRPO.load(tmp_path / "trpo.zip", env=_vec())
    np.testing.assert_array_equal(loaded.phi, model.phi)
    np.testing.assert_array_equal(loaded.hessian, model.hessian)
    with pytest.raises(ValueError, match="saved by WR2LTRPO, not WR2L"):
        WR2L.load(tmp_path / "trpo.zip")


@pytest.mark.parametrize(
    "config, error, match",
    [({"epsilon": -1.0}, ValueError, "-1.0"), ({"sigmaa": 0.1}, TypeError, "sigmaa"), (3, TypeError, "config must be")],
)
def test_wr2l_trpo_bad_config(config, error, match):
    from robust_sb3.wr2l import WR2LTRPO

    with pytest.raises(error, match=match):
        WR2LTRPO("MlpPolicy", _vec(), ("pole_length",), config=config)


def test_wr2l_trpo_load_takes_a_config_dict(tmp_path):
    # SB3's load sets keyword arguments as given (rl-zoo3's --trained-agent passes the YAML's): a dict becomes a config
    from robust_sb3.wr2l import WR2LTRPO

    config = {"epsilon": 0.05, "hessian_data_episodes": 4, "n_state_action": 200, "eval_horizon": 60}
    WR2LTRPO("MlpPolicy", _vec(), ("pole_length",), config=config, n_steps=64, seed=0).save(tmp_path / "m.zip")
    loaded = WR2LTRPO.load(tmp_path / "m.zip", env=_vec(), config={**config, "sigma": 0.1})
    assert loaded.config == WR2LConfig(**{**config, "sigma": 0.1})


@pytest.mark.parametrize("share", [True, False])
def test_policy_actor_gaussian_equals_the_policys_own_distribution(share):
    # the actor computes the Gaussian's mean and std without building torch's Normal: the values must be the same
    from robust_sb3.wr2l.returns import _gaussian_parameters

    model = PPO("MlpPolicy", IP, seed=0, policy_kwargs={"share_features_extractor": share})
    observations = th.as_tensor(np.random.default_rng(0).normal(size=(5, 4)), dtype=th.float32)
    with th.no_grad():
        mean, std = _gaussian_parameters(model.policy, observations)
        distribution = model.policy.get_distribution(observations).distribution
    assert th.equal(mean, distribution.mean) and th.equal(std, distribution.stddev)
