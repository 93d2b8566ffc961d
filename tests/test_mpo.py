"""MPO (the six agents of Mankowitz et al. 2020) and RobustSAC: SB3 conventions, the buffer, the targets in the algorithms."""

from __future__ import annotations

import math
import re
import types
from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")

from stable_baselines3.common.logger import Logger  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import robust_envs  # noqa: E402,F401
from robust_envs import DomainRandomization, PerturbedTransitions, UncertaintySet  # noqa: E402
from robust_envs.wrappers import PERTURBED_NEXT_OBS, PERTURBED_REWARDS, PERTURBED_TERMINATED  # noqa: E402
from robust_sb3 import MPO, RobustSAC  # noqa: E402
from robust_sb3.common.buffers import PerturbedReplayBuffer, PerturbedReplayBufferSamples  # noqa: E402
from robust_sb3.mpo import mpo as mpo_module  # noqa: E402
from robust_sb3.sac import robust_sac as robust_sac_module  # noqa: E402

pytestmark = pytest.mark.sb3

#: env steps of the slow learning test (see test_mpo_learns_the_pendulum_swing_up)
LEARNING_BUDGET = 12000

MASSES = [{"mass": 1.0}, {"mass": 1.1}, {"mass": 1.4}]


def tiny() -> dict:
    return dict(net_arch=[16])  # a new dict each time: SB3 adds keys to policy_kwargs


def pendulum(models=MASSES, steps: int = 100) -> gym.Env:
    return PerturbedTransitions(gym.make("RobustPendulum-v0", max_episode_steps=steps), models)


def spy_on(monkeypatch, owner, name: str) -> list:
    """
    Wrap ``owner.name`` so that every call is recorded (undone at the end of the test).

    :return: the list the calls go to, as ``(args, kwargs, result)``
    """
    calls = []
    original = getattr(owner, name)

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(owner, name, spy)
    return calls


def spy_on_critic_targets(monkeypatch, module) -> list:
    """:return: the recorded ``F.mse_loss(prediction, target)`` calls of an algorithm's module (its critic losses)."""
    monkeypatch.setattr(module, "F", types.SimpleNamespace(mse_loss=F.mse_loss))
    return spy_on(monkeypatch, module.F, "mse_loss")


def assert_logged_diagnostics(logged: dict, call: tuple, n_models: int) -> None:
    """
    The logged ``robust/target_gap`` and ``robust/worst_model_fraction_k`` of a one-gradient-step ``train`` are the
    gap and the argmin of the recorded ``robust_td_target`` call's inputs, recomputed here by hand (Eq. 1 form:
    compared on ``gamma (1 - d_k) V_k``, the experienced reward being common to the models).
    """
    (rewards, terminated, values, gamma, *_), _, _ = call
    assert rewards.shape == (len(values), 1)  # the experienced reward, outside the infimum (Eq. 1)
    continuation = (gamma * (1.0 - terminated) * values).numpy().astype(np.float64)
    gap = continuation.mean(axis=1) - continuation.min(axis=1)
    assert logged["robust/target_gap"] == pytest.approx(gap.mean(), rel=1e-4, abs=1e-5)
    fractions = np.bincount(continuation.argmin(axis=1), minlength=n_models) / len(values)
    assert [logged[f"robust/worst_model_fraction_{k}"] for k in range(n_models)] == pytest.approx(fractions.tolist())


@pytest.mark.parametrize("robustness", ["none", "robust", "soft"])
@pytest.mark.parametrize("entropy_regularized", [False, True])
def test_run_all_six_agents(monkeypatch, robustness, entropy_regularized):
    targets = spy_on(monkeypatch, mpo_module, "robust_td_target")
    model = MPO(
        "MlpPolicy",
        pendulum(),
        robustness=robustness,
        entropy_regularized=entropy_regularized,
        learning_starts=50,
        batch_size=16,
        n_action_samples=5,
        target_update_interval=20,
        policy_kwargs=tiny(),
        seed=0,
        device="cpu",
    )
    model.learn(120)
    logged = model.logger.name_to_value
    for key in ("train/critic_loss", "train/actor_loss", "train/eta", "train/kl_mean", "train/kl_std", "train/kl_estep"):
        assert math.isfinite(logged[key]), key
    assert len(targets) == 120 - 50  # one target per gradient step, one step per env step after learning_starts
    if robustness == "none":
        assert type(model.replay_buffer) is not PerturbedReplayBuffer and model.n_models == 0
        (rewards, terminated, values, *_), _, _ = targets[-1]
        assert rewards.shape == terminated.shape == values.shape == (16, 1)
        assert "robust/target_gap" not in logged
    else:
        assert isinstance(model.replay_buffer, PerturbedReplayBuffer) and model.n_models == 3
        assert_logged_diagnostics(logged, targets[-1], 3)


def test_progress_bar(monkeypatch):
    pytest.importorskip("tqdm", reason="SB3's progress bar needs tqdm and rich (stable-baselines3[extra])")
    pytest.importorskip("rich", reason="SB3's progress bar needs tqdm and rich (stable-baselines3[extra])")
    from stable_baselines3.common.callbacks import ProgressBarCallback

    ticks = spy_on(monkeypatch, ProgressBarCallback, "_on_step")
    model = MPO("MlpPolicy", pendulum(), robustness="robust", learning_starts=20, batch_size=8, policy_kwargs=tiny())
    model.learn(40, progress_bar=True)
    assert model.num_timesteps == 40 and len(ticks) == 40  # the bar was driven once per env step


def test_run_on_a_mujoco_env_with_terminations_and_several_envs(monkeypatch):
    from stable_baselines3.common.env_util import make_vec_env

    targets = spy_on(monkeypatch, mpo_module, "robust_td_target")

    models = [{}, {"pole_length": 1.0}]
    env = make_vec_env(
        "RobustInvertedPendulum-v0", n_envs=2, seed=0, wrapper_class=PerturbedTransitions, wrapper_kwargs={"models": models}
    )
    model = MPO("MlpPolicy", env, robustness="robust", learning_starts=60, batch_size=16, policy_kwargs=tiny(), seed=0)
    model.learn(200)
    buffer = model.replay_buffer
    filled = buffer.pos
    # terminal transitions were stored with each model's own termination flag
    assert buffer.dones[:filled].sum() > 0
    terminal = buffer.dones[:filled] > 0
    assert np.array_equal(buffer.perturbed_terminated[:filled, :, 0][terminal], buffer.dones[:filled][terminal])
    assert_logged_diagnostics(model.logger.name_to_value, targets[-1], 2)


def test_limited_domain_randomization_baseline_runs():
    """Limited-DR (section 4.2): the non-robust agent on the same K models, drawn per episode."""
    env = DomainRandomization(
        gym.make("RobustPendulum-v0", max_episode_steps=30), UncertaintySet.finite("RobustPendulum-v0", MASSES)
    )
    model = MPO("MlpPolicy", env, learning_starts=40, batch_size=16, policy_kwargs=tiny(), seed=0)
    model.learn(100)
    assert {m["mass"] for m in (env.reset()[1]["params"] for _ in range(20))} == {1.0, 1.1, 1.4}


def test_full_domain_randomization_baseline_runs():
    """Full-DR (section 4.2): 100 perturbations drawn once from the range of the uncertainty set, one per episode."""
    box = UncertaintySet.box("RobustPendulum-v0", {"mass": (1.0, 1.4)})
    full = UncertaintySet.finite("RobustPendulum-v0", box.sample_many(np.random.default_rng(0), 100))
    env = DomainRandomization(gym.make("RobustPendulum-v0", max_episode_steps=30), full)
    MPO("MlpPolicy", env, learning_starts=40, batch_size=16, policy_kwargs=tiny(), seed=0).learn(70)
    assert len(full) == 100 and len({m["mass"] for m in full.members}) == 100


@pytest.mark.parametrize("robustness", ["robust", "soft"])
def test_robust_sac_runs(monkeypatch, robustness):
    targets = spy_on(monkeypatch, robust_sac_module, "robust_td_target")
    model = RobustSAC(
        "MlpPolicy", pendulum(), robustness=robustness, learning_starts=50, batch_size=16, policy_kwargs=tiny(), seed=0
    )
    model.learn(120)
    assert isinstance(model.replay_buffer, PerturbedReplayBuffer)
    assert len(targets) == 120 - 50
    assert_logged_diagnostics(model.logger.name_to_value, targets[-1], 3)


def test_robust_sac_without_robustness_is_exactly_sac():
    from stable_baselines3 import SAC

    kwargs = dict(learning_starts=50, batch_size=16, policy_kwargs=tiny(), seed=3, device="cpu")
    ours = RobustSAC("MlpPolicy", "Pendulum-v1", **kwargs).learn(150)
    reference = SAC("MlpPolicy", "Pendulum-v1", **kwargs).learn(150)
    for (name, a), (_, b) in zip(ours.policy.state_dict().items(), reference.policy.state_dict().items(), strict=True):
        assert th.equal(a, b), name


#: Two hand-made transitions with K = 3 models (the numbers of tests/test_robust_target.py): the reward the agent
#: experienced, and each model's next observation (theta, theta_dot), reward and termination (the third model's
#: next state terminal in the first). With V(s') = 10 theta' and gamma = 0.9 the continuations
#: gamma (1 - d_k) V(s'_k) are 9, 4.5, 0 and 0.9, 3.6, 1.8.
HAND_BATCH = {
    1.5: dict(next_obs=[[1.0, 0.0], [0.5, 0.0], [0.7, 0.0]], rewards=[1.0, 2.0, 3.0], terminated=[0.0, 0.0, 1.0]),
    0.5: dict(next_obs=[[0.1, 0.0], [0.4, 0.0], [0.2, 0.0]], rewards=[2.0, 0.0, 1.0], terminated=[0.0, 0.0, 0.0]),
}
#: By hand, per experienced reward: Eq. 1 (r + min / mean of the continuations) and each model's reward inside.
HAND_TARGETS = {
    ("robust", False): {1.5: 1.5 + 0.0, 0.5: 0.5 + 0.9},
    ("robust", True): {1.5: min(1 + 9, 2 + 4.5, 3 + 0), 0.5: min(2 + 0.9, 0 + 3.6, 1 + 1.8)},
    ("soft", False): {1.5: 1.5 + 4.5, 0.5: 0.5 + 2.1},
    ("soft", True): {1.5: (10 + 6.5 + 3) / 3, 0.5: (2.9 + 3.6 + 2.8) / 3},
}
#: The diagnostics by hand: mean minus min of what the models are compared on, and the argmin.
HAND_GAPS = {False: {1.5: 4.5 - 0.0, 0.5: 2.1 - 0.9}, True: {1.5: 6.5 - 3.0, 0.5: 3.1 - 2.8}}
HAND_WORST = {False: {1.5: 2, 0.5: 0}, True: {1.5: 2, 0.5: 2}}


def hand_filled(algorithm: type, **kwargs):
    """:return: an algorithm (gamma 0.9) whose replay buffer holds the HAND_BATCH transitions, with a silent logger."""
    model = algorithm("MlpPolicy", pendulum(), gamma=0.9, learning_starts=10**6, policy_kwargs=tiny(), seed=0, **kwargs)
    for reward, transition in HAND_BATCH.items():
        info = {
            PERTURBED_NEXT_OBS: np.array(transition["next_obs"]),
            PERTURBED_REWARDS: np.array(transition["rewards"]),
            PERTURBED_TERMINATED: np.array(transition["terminated"]),
        }
        next_obs = np.array(transition["next_obs"][:1])  # the agent acts in model 0
        model.replay_buffer.add(np.zeros((1, 2)), next_obs, np.zeros((1, 1)), np.array([reward]), np.array([False]), [info])
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@pytest.mark.parametrize("robustness", ["robust", "soft"])
@pytest.mark.parametrize("reward_in_inf", [False, True])
def test_mpo_regresses_on_the_robust_target_of_its_batch(monkeypatch, robustness, reward_in_inf):
    """The critic's regression target in MPO.train is robust_td_target's, and equals the hand-computed target."""
    model = hand_filled(MPO, robustness=robustness, reward_in_inf=reward_in_inf, batch_size=8, device="cpu")
    monkeypatch.setattr(model, "next_state_values", lambda next_obs: 10.0 * next_obs[:, 0])  # V(s') by hand
    samples = spy_on(monkeypatch, model.replay_buffer, "sample")
    targets = spy_on(monkeypatch, mpo_module, "robust_td_target")
    losses = spy_on_critic_targets(monkeypatch, mpo_module)
    model.train(gradient_steps=1, batch_size=8)
    data = samples[0][2]
    experienced = data.rewards[:, 0].tolist()  # identifies each sampled row's transition
    regressed_on = losses[0][0][1]  # F.mse_loss(q_values, target)
    expected = [HAND_TARGETS[robustness, reward_in_inf][r] for r in experienced]
    assert regressed_on.squeeze(1).tolist() == pytest.approx(expected, rel=1e-5)
    (rewards, terminated, *_), _, out = targets[0]
    assert th.equal(regressed_on, out.target)
    assert th.equal(rewards, data.perturbed_rewards if reward_in_inf else data.rewards)
    assert th.equal(terminated, data.perturbed_terminated)
    logged = model.logger.name_to_value
    assert logged["robust/target_gap"] == pytest.approx(np.mean([HAND_GAPS[reward_in_inf][r] for r in experienced]), rel=1e-5)
    worst = np.bincount([HAND_WORST[reward_in_inf][r] for r in experienced], minlength=3) / len(experienced)
    assert [logged[f"robust/worst_model_fraction_{k}"] for k in range(3)] == pytest.approx(worst.tolist())


@pytest.mark.parametrize("reward_in_inf", [False, True])
def test_robust_sac_regresses_on_the_robust_target_of_its_batch(monkeypatch, reward_in_inf):
    """Both of RobustSAC's critics regress on the robust target of the batch, by hand from the next-state values."""
    model = hand_filled(RobustSAC, robustness="robust", reward_in_inf=reward_in_inf, batch_size=8, device="cpu")
    samples = spy_on(monkeypatch, model.replay_buffer, "sample")
    targets = spy_on(monkeypatch, robust_sac_module, "robust_td_target")
    losses = spy_on_critic_targets(monkeypatch, robust_sac_module)
    model.train(gradient_steps=1, batch_size=8)
    data = samples[0][2]
    (rewards, _, values, *_), _, out = targets[0]
    assert th.equal(rewards, data.perturbed_rewards if reward_in_inf else data.rewards)
    expected = []
    for reward, row in zip(data.rewards[:, 0].tolist(), values.tolist(), strict=True):
        transition = HAND_BATCH[reward]
        continuation = [0.9 * (1.0 - d) * v for d, v in zip(transition["terminated"], row, strict=True)]
        inside = [r + c for r, c in zip(transition["rewards"], continuation, strict=True)]
        expected.append(min(inside) if reward_in_inf else reward + min(continuation))
    assert out.target.squeeze(1).tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert len(losses) == 2 and all(th.equal(call[0][1], out.target) for call in losses)  # the twin critics


def test_identical_models_give_no_gap_and_the_first_worst_model(monkeypatch):
    """K copies of the acting model: the K next states agree, so the gap is 0 and the infimum picks model 0 (ties)."""
    model = MPO(
        "MlpPolicy",
        pendulum([MASSES[0]] * 3),
        robustness="robust",
        learning_starts=50,
        batch_size=16,
        policy_kwargs=tiny(),
        seed=0,
        device="cpu",
    )
    # A deterministic V(s'): the real one samples actions per next state, which would tell identical states apart.
    monkeypatch.setattr(model, "next_state_values", lambda next_obs: next_obs[:, 0] + 0.1 * next_obs[:, 1])
    model.learn(80)
    logged = model.logger.name_to_value
    assert logged["robust/target_gap"] == pytest.approx(0.0, abs=1e-6)
    assert [logged[f"robust/worst_model_fraction_{k}"] for k in range(3)] == [1.0, 0.0, 0.0]


def test_buffer_stores_the_wrappers_next_states():
    env = pendulum()
    buffer = PerturbedReplayBuffer(50, env.observation_space, env.action_space, device="cpu", n_models=3)
    obs, _ = env.reset(seed=0)
    infos = []
    for _ in range(10):
        action = env.action_space.sample()
        next_obs, reward, terminated, _, info = env.step(action)
        buffer.add(obs[None], next_obs[None], action[None], np.array([reward]), np.array([terminated]), [info])
        infos.append(info)
        obs = next_obs
    assert np.array_equal(buffer.perturbed_next_observations[:10, 0], np.stack([i[PERTURBED_NEXT_OBS] for i in infos]))
    assert np.allclose(buffer.perturbed_rewards[:10, 0], np.stack([i[PERTURBED_REWARDS] for i in infos]))
    # model 0 is the nominal 1.0 kg the env runs: its next state and its reward are the real ones, so with K = 1 and
    # this model the Eq. 1 target (experienced reward) and the per-model one (reward_in_inf=True) coincide
    assert np.allclose(buffer.perturbed_next_observations[:10, 0, 0], buffer.next_observations[:10, 0])
    assert np.allclose(buffer.perturbed_rewards[:10, 0, 0], buffer.rewards[:10, 0])
    sample = buffer.sample(8)
    assert isinstance(sample, PerturbedReplayBufferSamples)
    assert sample.perturbed_next_observations.shape == (8, 3, 2)
    assert sample.perturbed_rewards.shape == (8, 3) and sample.perturbed_terminated.shape == (8, 3)
    with pytest.raises(KeyError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        buffer.add(obs[None], obs[None], action[None], np.array([0.0]), np.array([False]), [{}])
    bad = {**infos[0], PERTURBED_NEXT_OBS: np.zeros((2, 2))}
    with pytest.raises(ValueError, match=r"expected \(3, 2\)"):
        buffer.add(obs[None], obs[None], action[None], np.array([0.0]), np.array([False]), [bad])


def test_entropy_regularized_next_state_value_by_hand():
    """Eq. 4: V(s') = Q_target(s', a') - tau KL(pi_k(.|s') || pi_ref(.|s')); a constant critic and constant Gaussians."""
    model = MPO("MlpPolicy", pendulum(), entropy_regularized=True, kl_temperature=0.5, policy_kwargs=tiny(), seed=0)

    def constant(actor, mean: float, std_raw: float) -> None:
        with th.no_grad():
            actor.mean_head.weight.zero_()
            actor.mean_head.bias.fill_(mean)
            actor.std_head.weight.zero_()
            actor.std_head.bias.fill_(std_raw)

    constant(model.actor_target, 0.3, 0.0)  # std softplus(0) = log 2
    constant(model.actor_reference, -0.1, 1.0)  # std softplus(1) = log(1 + e)
    with th.no_grad():
        last = model.critic_target.q_net[-1]
        last.weight.zero_()
        last.bias.fill_(-2.0)
    s_t, s_r = math.log(2.0), math.log(1.0 + math.e)
    kl = math.log(s_r / s_t) + (s_t**2 + 0.4**2) / (2 * s_r**2) - 0.5
    values = model.next_state_values(th.zeros(4, 2))
    assert values.tolist() == pytest.approx([-2.0 - 0.5 * kl] * 4, rel=1e-5)
    model.entropy_regularized = False
    assert model.next_state_values(th.zeros(4, 2)).tolist() == pytest.approx([-2.0] * 4)


def test_mstep_respects_its_kl_bounds():
    """Many M-steps on one batch against a Q that pulls the mean far away: the multipliers hold both KLs at their bounds."""
    model = MPO(
        "MlpPolicy", pendulum(), epsilon_mean=0.01, epsilon_std=1e-3, policy_kwargs=tiny(), seed=0, dual_learning_rate=0.1
    )

    class PullToTwo(th.nn.Module):
        def forward(self, obs, actions):
            return -((actions - 2.0) ** 2).sum(dim=1, keepdim=True) * 10.0

    model.critic_target = PullToTwo()
    obs = th.randn(32, 2, generator=th.Generator().manual_seed(0))
    kls = []
    for _ in range(400):
        stats = defaultdict(list)
        model._policy_improvement(obs, stats)
        kls.append((stats["train/kl_mean"][0], stats["train/kl_std"][0]))
    late = np.array(kls[-100:])
    assert late[:, 0].mean() == pytest.approx(0.01, rel=0.3)
    assert late[:, 1].mean() <= 1e-3 * 1.5
    # without the constraint the same pull moves the mean much further (the bound is what holds it)
    free = MPO(
        "MlpPolicy",
        pendulum(),
        epsilon_mean=1e3,
        epsilon_std=1e3,
        init_alpha_mean=1e-6,
        init_alpha_std=1e-6,
        policy_kwargs=tiny(),
        seed=0,
    )
    free.critic_target = PullToTwo()
    for _ in range(100):
        stats = defaultdict(list)
        free._policy_improvement(obs, stats)
    assert stats["train/kl_mean"][0] > 0.1


def test_save_load_round_trip(monkeypatch, tmp_path):
    env = pendulum()
    model = MPO(
        "MlpPolicy",
        env,
        robustness="soft",
        model_weights=[0.2, 0.3, 0.5],
        reward_in_inf=True,
        entropy_regularized=True,
        learning_starts=50,
        batch_size=16,
        policy_kwargs=tiny(),
        seed=0,
    )
    model.learn(120)
    observations = np.stack([env.observation_space.sample() for _ in range(20)])
    expected = model.predict(observations, deterministic=True)[0]
    model.save(tmp_path / "mpo")
    model.save_replay_buffer(tmp_path / "buffer")
    loaded = MPO.load(tmp_path / "mpo", env=env)
    assert np.array_equal(loaded.predict(observations, deterministic=True)[0], expected)
    for name in ("log_eta", "log_alpha_mean", "log_alpha_std"):
        assert th.equal(getattr(loaded, name), getattr(model, name)), name
    assert (
        loaded.dual_optimizer.state_dict()["state"][0]["exp_avg"].item()
        == model.dual_optimizer.state_dict()["state"][0]["exp_avg"].item()
    )
    for network in ("actor", "actor_target", "actor_reference", "critic", "critic_target"):
        for a, b in zip(
            getattr(loaded, network).state_dict().values(), getattr(model, network).state_dict().values(), strict=True
        ):
            assert th.equal(a, b), network
    assert (loaded.robustness, loaded.model_weights, loaded.n_models) == ("soft", [0.2, 0.3, 0.5], 3)
    assert loaded.reward_in_inf is True and MPO.load(tmp_path / "mpo").reward_in_inf is True
    loaded.load_replay_buffer(tmp_path / "buffer")
    assert np.array_equal(loaded.replay_buffer.perturbed_next_observations, model.replay_buffer.perturbed_next_observations)
    targets = spy_on(monkeypatch, mpo_module, "robust_td_target")
    loaded.learn(40, reset_num_timesteps=False)  # and training continues, with the loaded target form
    assert targets and all(args[0].shape == (16, 3) and args[6] is True for args, _, _ in targets)


def test_robust_sac_save_load(tmp_path):
    env = pendulum()
    model = RobustSAC(
        "MlpPolicy",
        env,
        robustness="robust",
        reward_in_inf=True,
        learning_starts=50,
        batch_size=16,
        policy_kwargs=tiny(),
        seed=0,
    )
    model.learn(100)
    observations = np.stack([env.observation_space.sample() for _ in range(10)])
    model.save(tmp_path / "sac")
    loaded = RobustSAC.load(tmp_path / "sac", env=env)
    assert np.array_equal(
        loaded.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0]
    )
    assert loaded.robustness == "robust" and loaded.n_models == 3 and loaded.reward_in_inf is True
    assert RobustSAC("MlpPolicy", env, robustness="robust").reward_in_inf is False  # Eq. 1 by default


def test_determinism_with_a_seed():
    def train() -> tuple[np.ndarray, list[th.Tensor]]:
        model = MPO(
            "MlpPolicy",
            pendulum(),
            robustness="robust",
            entropy_regularized=True,
            learning_starts=50,
            batch_size=16,
            policy_kwargs=tiny(),
            seed=7,
            device="cpu",
        )
        model.learn(150)
        return model.replay_buffer.actions[:150].copy(), list(model.policy.state_dict().values())

    actions_a, params_a = train()
    actions_b, params_b = train()
    assert np.array_equal(actions_a, actions_b)
    assert all(th.equal(a, b) for a, b in zip(params_a, params_b, strict=True))


def test_check_env_of_the_wrapped_envs():
    # SB3's checker (Gymnasium's also re-creates the env from its spec, which PerturbedTransitions does not support)
    from stable_baselines3.common.env_checker import check_env

    check_env(pendulum(), warn=False)
    check_env(PerturbedTransitions(gym.make("RobustInvertedPendulum-v0"), [{}, {"pole_length": 1.0}]), warn=False)
    check_env(
        DomainRandomization(gym.make("RobustPendulum-v0"), UncertaintySet.finite("RobustPendulum-v0", MASSES)), warn=False
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        MPO("MlpPolicy", gym.make("RobustPendulum-v0"), robustness="robust")
    with pytest.raises(ValueError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        RobustSAC("MlpPolicy", gym.make("RobustPendulum-v0"), robustness="soft")
    with pytest.raises(ValueError, match="Unknown robustness 'worst'"):
        MPO("MlpPolicy", pendulum(), robustness="worst")
    with pytest.raises(ValueError, match="one weight per model"):
        MPO("MlpPolicy", pendulum(), robustness="soft", model_weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="n_action_samples must be an int >= 1"):
        MPO("MlpPolicy", pendulum(), n_action_samples=0)
    with pytest.raises(ValueError, match="epsilon must be a finite number"):
        MPO("MlpPolicy", pendulum(), epsilon=float("nan"))
    with pytest.raises(ValueError, match="init_eta must be > 0"):
        MPO("MlpPolicy", pendulum(), init_eta=0.0)
    with pytest.raises(ValueError, match="exactly the keys 'pi' and 'qf'"):
        MPO("MlpPolicy", pendulum(), policy_kwargs=dict(net_arch=dict(pi=[8])))


@pytest.mark.slow
def test_mpo_learns_the_pendulum_swing_up():
    """
    MPO on Gymnasium's Pendulum-v1 (swing-up, 200-step episodes, random policy about -1200): mean return above -300
    over 10 evaluation episodes (a separate env, seeded) after LEARNING_BUDGET env steps (one gradient step each),
    seed 0. Targets are updated every 50 gradient steps (the paper's 200 learns too slowly for this budget); the
    recorded run went -1422, -645, -145, -119, -120 at 2k, 6k, 8k, 10k, 12k steps (about 2 minutes on 2 shared cores).
    """
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    th.set_num_threads(1)
    model = MPO(
        "MlpPolicy",
        "Pendulum-v1",
        batch_size=128,
        learning_starts=1000,
        target_update_interval=50,
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=0,
        device="cpu",
    )
    model.learn(LEARNING_BUDGET)
    eval_env = make_vec_env("Pendulum-v1", n_envs=1, seed=1000)
    mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    assert mean_return > -300.0


# ---- construction-time checks, the buffer set-up, checked load (issue 12) ---------------------------------------
@pytest.mark.parametrize("algorithm", [MPO, RobustSAC])
@pytest.mark.parametrize("gamma", [0.0, -0.5, 1.0001, float("nan"), "0.99"])
def test_gamma_outside_the_unit_interval_is_refused_at_construction(algorithm, gamma):
    with pytest.raises(ValueError, match=rf"gamma must be a discount factor in \(0, 1\], got {re.escape(repr(gamma))}"):
        algorithm("MlpPolicy", pendulum(), robustness="robust", gamma=gamma, _init_setup_model=False)


def test_gamma_of_one_is_accepted():
    assert MPO("MlpPolicy", pendulum(), gamma=1.0, buffer_size=10, policy_kwargs=tiny()).gamma == 1.0


@pytest.mark.parametrize("algorithm", [MPO, RobustSAC])
@pytest.mark.parametrize("name", ["batch_size", "buffer_size"])
def test_zero_batch_and_buffer_sizes_are_refused_at_construction(algorithm, name):
    # SB3 itself makes a zero-size buffer one transition long and samples empty minibatches
    with pytest.raises(ValueError, match=rf"{algorithm.__name__}: {name} must be an int >= 1, got 0"):
        algorithm("MlpPolicy", pendulum(), **{name: 0})


def test_robust_algorithms_set_up_their_buffer_at_construction():
    """The K-next-state buffer is the algorithm's own choice, made in its constructor (no outside function mutates it)."""
    import robust_sb3.common.buffers as common_buffers

    assert not hasattr(common_buffers, "use_perturbed_buffer")
    for algorithm in (MPO, RobustSAC):
        robust = algorithm("MlpPolicy", pendulum(), robustness="soft", _init_setup_model=False)
        assert robust.replay_buffer_class is PerturbedReplayBuffer and robust.replay_buffer_kwargs == {"n_models": 3}
        plain = algorithm("MlpPolicy", pendulum(), _init_setup_model=False)
        assert plain.replay_buffer_class is None and plain.n_models == 0


def test_a_buffer_that_cannot_hold_the_k_next_states_is_refused():
    from stable_baselines3.common.buffers import ReplayBuffer

    class MyPerturbedBuffer(PerturbedReplayBuffer):
        pass

    for algorithm in (MPO, RobustSAC):
        with pytest.raises(ValueError, match="replay_buffer_class='ReplayBuffer' does not store"):
            algorithm("MlpPolicy", pendulum(), robustness="robust", replay_buffer_class=ReplayBuffer)
        model = algorithm("MlpPolicy", pendulum(), robustness="robust", replay_buffer_class=MyPerturbedBuffer, buffer_size=50)
        assert type(model.replay_buffer) is MyPerturbedBuffer and model.replay_buffer.n_models == 3


@pytest.mark.parametrize("algorithm", [MPO, RobustSAC])
def test_a_k3_model_is_refused_by_a_k2_env_at_load_and_set_env(tmp_path, algorithm):
    model = algorithm("MlpPolicy", pendulum(), robustness="robust", buffer_size=50, policy_kwargs=tiny())
    model.save(tmp_path / "model")
    two_models = pendulum(MASSES[:2])
    message = rf"{algorithm.__name__}.load\('.*model'\): this {algorithm.__name__}\(robustness='robust'\) was built for K=3"
    with pytest.raises(ValueError, match=message + r" models, but the env gives the next states of K=2"):
        algorithm.load(tmp_path / "model", env=two_models)
    with pytest.raises(ValueError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        algorithm.load(tmp_path / "model", env=gym.make("RobustPendulum-v0"))
    loaded = algorithm.load(tmp_path / "model", env=pendulum())
    assert loaded.n_models == 3
    with pytest.raises(ValueError, match=rf"{algorithm.__name__}\.set_env: .* K=3 models, .* K=2"):
        loaded.set_env(two_models)
    loaded.set_env(pendulum())  # the same K is accepted


def test_load_names_the_file_and_the_algorithm(tmp_path):
    model = MPO("MlpPolicy", pendulum(), robustness="robust", buffer_size=50, policy_kwargs=tiny())
    model.save(tmp_path / "mpo.zip")
    with pytest.raises(ValueError, match=r"Cannot load RobustSAC from '.*mpo\.zip': the file was saved by MPO, not RobustSAC"):
        RobustSAC.load(tmp_path / "mpo.zip")
    raw = (tmp_path / "mpo.zip").read_bytes()
    (tmp_path / "truncated.zip").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"Cannot load MPO from '.*truncated\.zip': the file is truncated or corrupt"):
        MPO.load(tmp_path / "truncated.zip")


def test_moved_modules_keep_their_old_import_paths():
    """sb3-contrib layout: shared code in robust_sb3.common, RobustSAC in robust_sb3.sac; the old paths re-export them."""
    import subprocess
    import sys

    import robust_sb3
    import robust_sb3.common.buffers
    import robust_sb3.common.robust_target
    import robust_sb3.mpo
    import robust_sb3.mpo.buffers
    import robust_sb3.mpo.robust_target
    import robust_sb3.sac

    assert robust_sb3.mpo.RobustSAC is robust_sb3.sac.RobustSAC is robust_sb3.RobustSAC
    assert robust_sb3.mpo.robust_target.robust_td_target is robust_sb3.common.robust_target.robust_td_target
    assert robust_sb3.mpo.buffers.PerturbedReplayBuffer is robust_sb3.common.buffers.PerturbedReplayBuffer
    assert robust_sb3.mpo.buffers.next_state_batch is robust_sb3.common.buffers.next_state_batch
    # lazy: importing the package, or MPO, does not load SAC; asking for RobustSAC does
    script = (
        "import sys, robust_sb3, robust_sb3.mpo; assert 'robust_sb3.sac' not in sys.modules, 'eager'; "
        "robust_sb3.RobustSAC; assert 'robust_sb3.sac' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
