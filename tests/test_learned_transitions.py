"""DDR-MPO's learned perturbed transitions: LearnedPerturbedTransitions and fit_perturbation_models (issue 14)."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")

import robust_envs  # noqa: E402,F401
from robust_envs.datasets import UniformRandomPolicy, collect  # noqa: E402
from robust_envs.wrappers import (  # noqa: E402
    PERTURBED_INFO_KEYS,
    PERTURBED_NEXT_OBS,
    PERTURBED_REWARDS,
    PERTURBED_TERMINATED,
    PerturbedTransitions,
)
from robust_sb3 import MPO  # noqa: E402
from robust_sb3.common.buffers import PerturbedReplayBuffer  # noqa: E402
from robust_sb3.common.dynamics import GaussianEnsemble, termination_fn  # noqa: E402
from robust_sb3.common.learned_transitions import (  # noqa: E402
    LearnedPerturbedTransitions,
    fit_perturbation_models,
)
from robust_sb3.mpo import mpo as mpo_module  # noqa: E402

pytestmark = pytest.mark.sb3


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on a busy 2-core machine a second one makes the small fits several times slower."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


#: paper 000, Table 3's offline rows: the pendulum's uncertainty set learned from data (ball mass, kg)
OFFLINE_MASSES = (1.0, 1.1, 1.2)
TINY_ENSEMBLE = dict(n_members=3, n_elites=2, hidden_sizes=(32, 32), device="cpu")


def perfect_model(env_id: str, setting: dict):
    """
    A "perfect" learned model: the simulator under ``setting``, run from the state the observation determines.

    RobustInvertedPendulum-v0 observes ``[qpos, qvel]``; its state (``get_state``) is ``[time, qpos, qvel,
    qacc_warmstart]``, whose time and warm start are not observed: time does not enter the dynamics, and the warm
    start only seeds the constraint solver, which this env (no contacts) does not use away from the joint limits.
    RobustPendulum-v0 observes ``(wrapped angle, angular velocity)`` of its state ``(angle, angular velocity,
    disturbance, time)``: the angle is known up to whole turns and there is no disturbance here.
    """
    scratch = gym.make(env_id).unwrapped
    scratch.reset(seed=0)

    def model(observations, actions):
        n = observations.shape[0]
        states = np.zeros((n, scratch.state_size))
        if env_id == "RobustPendulum-v0":
            states[:, :2] = observations
        else:
            size = scratch.model.nq + scratch.model.nv
            states[:, 1 : 1 + size] = observations
        sampled = scratch.sample_next_states(states, actions, [setting])
        return sampled.observations[:, 0], sampled.rewards[:, 0], sampled.terminated[:, 0]

    return model


def check_state_layout(env_id: str) -> None:
    """The perfect models' premise: the observation is the part of the state they rebuild."""
    env = gym.make(env_id)
    observation, _ = env.reset(seed=5)
    observation, *_ = env.step(env.action_space.sample())
    state = env.unwrapped.get_state()
    if env_id == "RobustPendulum-v0":
        assert np.allclose(observation, [(state[0] + np.pi) % (2 * np.pi) - np.pi, state[1]], rtol=0, atol=1e-15)
        assert state[2] == 0.0  # no disturbance held
    else:
        base = env.unwrapped
        assert base.state_size == 1 + base.model.nq + 2 * base.model.nv  # time, qpos, qvel, qacc_warmstart
        assert np.array_equal(state[1 : 1 + base.model.nq + base.model.nv], observation)


@pytest.mark.parametrize(
    ("env_id", "settings", "atol"),
    [
        # bit for bit, with terminal steps (the pole falls past 0.2 rad under random pushes)
        ("RobustInvertedPendulum-v0", [{}, {"pole_length": 0.9}, {"cart_mass": 5.0, "slider_damping": 2.0}], 0.0),
        # the angle is rebuilt wrapped, so sin/cos see it shifted by whole turns: equal to rounding
        ("RobustPendulum-v0", [{"mass": m} for m in OFFLINE_MASSES], 1e-12),
    ],
)
def test_perfect_models_reproduce_perturbed_transitions(env_id, settings, atol):
    check_state_layout(env_id)
    simulated = PerturbedTransitions(gym.make(env_id, max_episode_steps=60), settings)
    learned = LearnedPerturbedTransitions(
        gym.make(env_id, max_episode_steps=60), [perfect_model(env_id, s) for s in settings], reward="model"
    )
    assert learned.n_models == simulated.n_models == len(settings)
    rng = np.random.default_rng(0)
    episode, terminal_steps, differing_models = 0, 0, 0
    obs_a, _ = simulated.reset(seed=episode)
    obs_b, _ = learned.reset(seed=episode)
    for _ in range(300):
        action = rng.uniform(simulated.action_space.low, simulated.action_space.high).astype(np.float32)
        step_a, step_b = simulated.step(action), learned.step(action)
        np.testing.assert_array_equal(step_a[0], step_b[0])
        assert step_a[1:4] == step_b[1:4]
        info_a, info_b = step_a[4], step_b[4]
        for key in PERTURBED_INFO_KEYS:
            assert info_b[key].shape == info_a[key].shape and info_b[key].dtype == info_a[key].dtype, key
            np.testing.assert_allclose(info_b[key], info_a[key], rtol=0, atol=atol, err_msg=key)
        terminal_steps += bool(info_a[PERTURBED_TERMINATED].any())
        differing_models += not np.all(info_a[PERTURBED_NEXT_OBS] == info_a[PERTURBED_NEXT_OBS][0])
        if step_a[2] or step_a[3]:
            episode += 1
            obs_a, _ = simulated.reset(seed=episode)
            obs_b, _ = learned.reset(seed=episode)
            np.testing.assert_array_equal(obs_a, obs_b)
    assert differing_models > 250  # the K settings really differ
    if env_id == "RobustInvertedPendulum-v0":
        assert terminal_steps > 20 and episode > 10


# ---------------------------------------------------------------- the ensemble's predictions reach info


def pendulum_env(steps: int = 50) -> gym.Env:
    return gym.make("RobustInvertedPendulum-v0", max_episode_steps=steps)


def untrained(env: gym.Env, seed: int, **kwargs) -> GaussianEnsemble:
    """A small ensemble sized for ``env``, with its termination rule (its random weights predict finite values)."""
    return GaussianEnsemble.for_env(
        env, **{**dict(n_members=3, n_elites=1, hidden_sizes=(16,), device="cpu"), **kwargs}, seed=seed
    )


def rollout(wrapper: gym.Env, seed: int, steps: int = 20, action_seed: int = 0) -> list[dict]:
    """:return: the perturbed entries of ``info`` at each step of seeded episodes under seeded random actions."""
    rng = np.random.default_rng(action_seed)
    wrapper.reset(seed=seed)
    infos = []
    for _ in range(steps):
        action = rng.uniform(wrapper.action_space.low, wrapper.action_space.high).astype(np.float32)
        _, _, terminated, truncated, info = wrapper.step(action)
        infos.append({key: info[key] for key in PERTURBED_INFO_KEYS})
        if terminated or truncated:
            wrapper.reset()
    return infos


def test_one_elite_mean_is_the_ensemble_prediction():
    env = pendulum_env()
    ensembles = [untrained(env, seed=k) for k in range(2)]
    wrapper = LearnedPerturbedTransitions(env, ensembles, reward="model")
    states = [e.generator.get_state() for e in ensembles]
    observation, _ = wrapper.reset(seed=0)
    rule = termination_fn(env)
    for _ in range(30):
        action = wrapper.action_space.sample()
        # (a generator of the test's own: predict draws the member even for the mean)
        direct = [e.predict(observation[None], action[None], True, th.Generator().manual_seed(0)) for e in ensembles]
        observation, _, terminated, truncated, info = wrapper.step(action)
        for k, prediction in enumerate(direct):
            # with one elite, the mean over elites is that elite's mean: what predict(deterministic=True) gives
            np.testing.assert_array_equal(info[PERTURBED_NEXT_OBS][k], prediction.next_observations[0].astype(np.float64))
            assert info[PERTURBED_REWARDS][k] == np.float64(prediction.rewards[0])
            assert info[PERTURBED_TERMINATED][k] == prediction.terminated[0]
        # the env's own termination rule on the predicted next observations
        np.testing.assert_array_equal(info[PERTURBED_TERMINATED], rule(info[PERTURBED_NEXT_OBS]))
        assert not np.array_equal(info[PERTURBED_NEXT_OBS][0], info[PERTURBED_NEXT_OBS][1])
        if terminated or truncated:
            observation, _ = wrapper.reset()
    # the mean draws nothing: the ensembles' own generators are untouched
    assert all(th.equal(s, e.generator.get_state()) for s, e in zip(states, ensembles, strict=True))


def test_mean_over_elites_and_observed_rewards():
    env = pendulum_env()
    ensemble = untrained(env, seed=3, n_members=4, n_elites=2)
    ensemble.set_elites([3, 1])
    wrapper = LearnedPerturbedTransitions(env, [ensemble])
    observation, _ = wrapper.reset(seed=1)
    action = np.array([0.5], dtype=np.float32)
    every = ensemble.predict_all(observation[None], action[None], deterministic=True)
    _, reward, _, _, info = wrapper.step(action)
    mean = every.next_observations[[3, 1], 0].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(info[PERTURBED_NEXT_OBS][0], mean, rtol=0, atol=1e-12)
    assert not np.allclose(info[PERTURBED_NEXT_OBS][0], every.next_observations[0, 0])  # member 0 is no elite
    # reward="observed" (default): the experienced reward for every model (Eq. 1 keeps it outside the infimum)
    assert info[PERTURBED_REWARDS].tolist() == [reward] and info[PERTURBED_REWARDS].dtype == np.float64


def test_sampling_is_seeded_by_reset():
    env = pendulum_env()
    ensembles = [untrained(env, seed=k, n_elites=2) for k in range(3)]
    states = [e.generator.get_state() for e in ensembles]

    def run(seed: int) -> list[dict]:
        return rollout(LearnedPerturbedTransitions(pendulum_env(), ensembles, sample=True, reward="model"), seed)

    first, again = run(7), run(7)
    for a, b in zip(first, again, strict=True):
        for key in PERTURBED_INFO_KEYS:
            np.testing.assert_array_equal(a[key], b[key])
    assert all(th.equal(s, e.generator.get_state()) for s, e in zip(states, ensembles, strict=True))

    # at one observation and action: samples depend on the reset seed and scatter around the mean, which does not
    observation, action = np.array([[0.01, -0.02, 0.1, 0.3]]), np.array([[0.5]], dtype=np.float32)

    def predicted(sample: bool, seed: int) -> np.ndarray:
        wrapper = LearnedPerturbedTransitions(pendulum_env(), ensembles, sample=sample)
        wrapper.reset(seed=seed)
        return np.stack([p.next_observations[0] for p in wrapper.predict(observation, action)])

    np.testing.assert_array_equal(predicted(True, 7), predicted(True, 7))
    assert not np.any(predicted(True, 7) == predicted(True, 8))
    np.testing.assert_array_equal(predicted(False, 7), predicted(False, 8))
    draws = np.stack([predicted(True, seed) for seed in range(200)])
    spread = np.abs(draws - predicted(False, 0)).max()
    assert spread > 0 and np.abs(draws.mean(axis=0) - predicted(False, 0)).max() < 0.2 * spread

    # auto-resets (no seed) continue the generators; a copy continues them identically; the wrapper pickles
    wrapper = LearnedPerturbedTransitions(pendulum_env(), ensembles, sample=True)
    rollout(wrapper, seed=2, steps=5)
    twin = copy.deepcopy(wrapper)
    step = np.array([0.1], dtype=np.float32)
    np.testing.assert_array_equal(wrapper.step(step)[4][PERTURBED_NEXT_OBS], twin.step(step)[4][PERTURBED_NEXT_OBS])
    restored = pickle.loads(pickle.dumps(wrapper))
    assert restored.n_models == 3 and isinstance(restored.models[0], GaussianEnsemble)


class RecordingModel:
    """A model with the ``predict`` protocol, recording how it was asked."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def predict(self, observations, actions, deterministic=True):
        self.calls.append(deterministic)
        return observations + 0.01 * actions, np.ones(len(observations)), None


def test_predict_protocol_and_plain_callables():
    model = RecordingModel()

    def shifted(observations, actions):
        return observations - 1.0, None, np.ones(len(observations), dtype=int)

    for sample in (False, True):
        wrapper = LearnedPerturbedTransitions(pendulum_env(), [model, shifted], sample=sample)
        observation, _ = wrapper.reset(seed=0)
        action = np.array([1.0], dtype=np.float32)
        _, reward, _, _, info = wrapper.step(action)
        assert model.calls[-1] is (not sample)
        np.testing.assert_allclose(info[PERTURBED_NEXT_OBS], [observation + 0.01, observation - 1.0], rtol=0, atol=1e-9)
        assert info[PERTURBED_TERMINATED].tolist() == [False, True]  # None: the model's task never terminates
        assert info[PERTURBED_REWARDS].tolist() == [reward, reward]


# ---------------------------------------------------------------- bad inputs


def test_bad_arguments():
    env = pendulum_env()
    ensemble = untrained(env, seed=0)
    with pytest.raises(ValueError, match="K = 0"):
        LearnedPerturbedTransitions(env, [])
    with pytest.raises(TypeError, match=r"sequence of K models.*\[model\]"):
        LearnedPerturbedTransitions(env, ensemble)
    with pytest.raises(TypeError, match=r"models\[1\] is int, not a model"):
        LearnedPerturbedTransitions(env, [ensemble, 42])
    wrong = GaussianEnsemble(3, 1, n_members=2, n_elites=1, hidden_sizes=(8,), seed=0, device="cpu")
    with pytest.raises(ValueError, match=r"models\[1\] is a GaussianEnsemble for observations \(3,\).*for_env"):
        LearnedPerturbedTransitions(env, [ensemble, wrong])
    with pytest.raises(ValueError, match=r"reward must be one of \('observed', 'model'\), got 'mean'"):
        LearnedPerturbedTransitions(env, [ensemble], reward="mean")
    with pytest.raises(ValueError, match="sample must be True or False, got 'yes'"):
        LearnedPerturbedTransitions(env, [ensemble], sample="yes")
    with pytest.raises(TypeError, match="wraps a Gymnasium env"):
        LearnedPerturbedTransitions("RobustInvertedPendulum-v0", [ensemble])
    with pytest.raises(ValueError, match="Box observation space"):
        LearnedPerturbedTransitions(gym.make("FrozenLake-v1"), [lambda o, a: (o, None, None)])
    with pytest.raises(RuntimeError, match="call reset"):
        LearnedPerturbedTransitions(pendulum_env(), [ensemble]).step(np.zeros(1, dtype=np.float32))


def good(observations, actions):
    return observations, np.zeros(len(observations)), np.zeros(len(observations), dtype=bool)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (lambda o, a: (o[:, :3], None, None), ValueError, r"models\[1\] \(<lambda>\) returned next observations of shape"),
        (lambda o, a: (o[0], None, None), ValueError, r"shape \(4,\); expected \(1, 4\)"),
        (lambda o, a: (o * np.nan, None, None), ValueError, r"models\[1\] \(<lambda>\) predicted non-finite next obs"),
        (lambda o, a: (o, np.array([np.inf]), None), ValueError, r"models\[1\].*non-finite rewards \(inf"),
        (lambda o, a: (o, np.zeros(2), None), ValueError, r"models\[1\].*rewards of shape \(2,\); expected \(1,\)"),
        (lambda o, a: (o, None, np.array([0.5])), ValueError, r"models\[1\].*terminated flags \[0.5\]; expected booleans"),
        (lambda o, a: (o, None), TypeError, r"models\[1\] \(<lambda>\) returned tuple; a model returns"),
    ],
)
def test_bad_predictions_name_the_model(bad, error, match):
    wrapper = LearnedPerturbedTransitions(pendulum_env(), [good, bad])
    wrapper.reset(seed=0)
    state = wrapper.unwrapped.get_state()
    with pytest.raises(error, match=match):
        wrapper.step(np.zeros(1, dtype=np.float32))
    np.testing.assert_array_equal(wrapper.unwrapped.get_state(), state)  # predicted before stepping: env untouched


def test_model_rewards_required_by_reward_model():
    env = pendulum_env()
    no_reward = untrained(env, seed=0, predict_reward=False)
    with pytest.raises(ValueError, match=r"models\[1\] is a GaussianEnsemble\(predict_reward=False\), but reward='model'"):
        LearnedPerturbedTransitions(env, [untrained(env, seed=1), no_reward], reward="model")
    # a callable's rewards show only when it runs
    wrapper = LearnedPerturbedTransitions(env, [good, lambda o, a: (o, None, None)], reward="model")
    wrapper.reset(seed=0)
    with pytest.raises(ValueError, match=r"models\[1\] \(<lambda>\) predicts no rewards.*reward='observed'"):
        wrapper.step(np.zeros(1, dtype=np.float32))
    wrapper = LearnedPerturbedTransitions(env, [no_reward])  # fine with the observed reward
    wrapper.reset(seed=0)
    _, reward, *_, info = wrapper.step(np.zeros(1, dtype=np.float32))
    assert info[PERTURBED_REWARDS].tolist() == [reward]


# ---------------------------------------------------------------- fitting the K models


def random_transitions(mass: float, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """
    ``n`` transitions of the pendulum of ``mass`` from uniformly random states and actions, away from the angle's
    wrap at +-pi (there the observed change jumps by 2 pi, which a smooth model cannot fit).
    """
    rng = np.random.default_rng(seed)
    base = gym.make("RobustPendulum-v0").unwrapped
    states = np.column_stack((rng.uniform(-2.5, 2.5, n), rng.uniform(-6, 6, n), np.zeros(n), np.zeros(n)))
    actions = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    sampled = base.sample_next_states(states, actions, [{"mass": mass}])
    return states[:, :2], actions, sampled.rewards[:, 0], sampled.observations[:, 0]


def test_fit_perturbation_models_is_seeded():
    data = [random_transitions(m, 200, seed=k) for k, m in enumerate((1.0, 3.0))]
    kwargs = dict(ensemble_kwargs=TINY_ENSEMBLE, fit_kwargs=dict(max_epochs=2))
    models = fit_perturbation_models(data, seed=4, **kwargs)
    again = fit_perturbation_models(data, seed=4, **kwargs)
    other = fit_perturbation_models(data[:1], seed=5, **kwargs)
    assert len(models) == 2 and models[0].seed != models[1].seed and other[0].seed != models[0].seed
    for a, b in zip(models, again, strict=True):
        assert a.seed == b.seed
        assert all(th.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_fitted_models_learn_their_own_perturbation():
    masses = (1.0, 5.0)
    data = [random_transitions(m, 1200, seed=k) for k, m in enumerate(masses)]
    # the state change only (DDR-MPO's default, WAVE2 4.2): the mass acts there, the reward hardly depends on it
    ensemble_kwargs = dict(TINY_ENSEMBLE, predict_reward=False)
    fit_kwargs = dict(max_epochs=20, batch_size=32)
    models = fit_perturbation_models(data, seed=0, ensemble_kwargs=ensemble_kwargs, fit_kwargs=fit_kwargs)
    # on fresh data of its mass each model beats the other mass's model and the "no change" prediction
    for k, mass in enumerate(masses):
        obs, actions, rewards, next_obs = random_transitions(mass, 400, seed=10 + k)
        own = models[k].holdout_mse(obs, actions, rewards, next_obs)[models[k].elites].mean()
        assert own < models[1 - k].holdout_mse(obs, actions, rewards, next_obs)[models[1 - k].elites].mean()
        assert own < 0.1 * np.mean(np.square(next_obs - obs))


def test_fit_from_episodes_with_the_env_termination():
    env = pendulum_env()
    episodes = collect("RobustInvertedPendulum-v0", UniformRandomPolicy(env.action_space, seed=0), 300, seed=0)
    obs = np.concatenate([e.observations[:-1] for e in episodes])
    arrays = (obs, np.concatenate([e.actions for e in episodes]), np.concatenate([e.rewards for e in episodes]))
    arrays += (np.concatenate([e.observations[1:] for e in episodes]),)
    kwargs = dict(ensemble_kwargs=dict(TINY_ENSEMBLE, hidden_sizes=(8,)), fit_kwargs=dict(max_epochs=2))
    (from_episodes,) = fit_perturbation_models([episodes], env=env, **kwargs)
    (from_arrays,) = fit_perturbation_models([arrays], env=env, **kwargs)
    (from_mapping,) = fit_perturbation_models(
        [dict(zip(("observations", "actions", "rewards", "next_observations"), arrays, strict=True))], env=env, **kwargs
    )
    for model in (from_arrays, from_mapping):
        assert all(
            th.equal(x, y) for x, y in zip(from_episodes.state_dict().values(), model.state_dict().values(), strict=True)
        )
    assert from_episodes.env_id == "RobustInvertedPendulum-v0" and from_episodes.termination is not None


def test_fit_bad_inputs():
    data = random_transitions(1.0, 50, seed=0)
    with pytest.raises(ValueError, match="K = 0"):
        fit_perturbation_models([])
    with pytest.raises(TypeError, match="sequence of K datasets"):
        fit_perturbation_models({"a": data})
    with pytest.raises(ValueError, match="seed as seed="):
        fit_perturbation_models([data], ensemble_kwargs={"seed": 1})
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        fit_perturbation_models([data], seed=-1)
    with pytest.raises(TypeError, match=r"datasets\[1\] is int"):
        fit_perturbation_models([data, 3])
    with pytest.raises(ValueError, match=r"datasets\[0\] lacks \['rewards'\]"):
        fit_perturbation_models([{"observations": data[0], "actions": data[1], "next_observations": data[3]}])
    wider = (np.column_stack((data[0], data[0])), data[1], data[2], np.column_stack((data[3], data[3])))
    with pytest.raises(ValueError, match=r"datasets\[1\] has observations of size 4.*datasets\[0\] 2"):
        fit_perturbation_models([data, wider], ensemble_kwargs=TINY_ENSEMBLE, fit_kwargs=dict(max_epochs=1))
    bad = (data[0], data[1], data[2], np.full_like(data[3], np.nan))
    with pytest.raises(ValueError, match=r"datasets\[0\]: .*next_observations holds a non-finite value"):
        fit_perturbation_models([bad], ensemble_kwargs=TINY_ENSEMBLE)


# ---------------------------------------------------------------- DDR-MPO


def test_mpo_trains_unchanged_on_learned_transitions(monkeypatch):
    """R-MPO's robust target over K models fitted on offline data of paper 000's pendulum masses (DDR-MPO)."""
    targets = []
    original = mpo_module.robust_td_target

    def spy(*args, **kwargs):
        targets.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(mpo_module, "robust_td_target", spy)
    datasets = [
        collect(
            "RobustPendulum-v0",
            UniformRandomPolicy(gym.make("RobustPendulum-v0").action_space, seed=k),
            2000,
            seed=k,
            params={"mass": m},
        )
        for k, m in enumerate(OFFLINE_MASSES)
    ]
    models = fit_perturbation_models(datasets, seed=0, ensemble_kwargs=TINY_ENSEMBLE, fit_kwargs=dict(max_epochs=10))
    env = LearnedPerturbedTransitions(gym.make("RobustPendulum-v0", max_episode_steps=100), models)
    agent = MPO(
        "MlpPolicy",
        env,
        robustness="robust",
        learning_starts=100,
        batch_size=16,
        n_action_samples=5,
        policy_kwargs=dict(net_arch=[16]),
        seed=0,
        device="cpu",
    )
    agent.learn(300)
    assert agent.n_models == 3 and isinstance(agent.replay_buffer, PerturbedReplayBuffer)
    assert len(targets) == 200 and np.isfinite(agent.logger.name_to_value["train/critic_loss"])
    buffer = agent.replay_buffer
    # what the critic regressed on is what the fitted ensembles predict from the stored observation and action
    # (the stored action is SB3's rescaled one: equal to the applied action up to float32 rounding)
    for i in (0, 150, 299):
        obs, action = buffer.observations[i], buffer.actions[i]
        for k, model in enumerate(models):
            every = model.predict_all(obs, action, deterministic=True)
            mean = every.next_observations[model.elites].astype(np.float64).mean(axis=0)[0]
            np.testing.assert_allclose(buffer.perturbed_next_observations[i, 0, k], mean, rtol=0, atol=1e-4)
    assert not np.allclose(buffer.perturbed_next_observations[:300, 0, 0], buffer.perturbed_next_observations[:300, 0, 2])
