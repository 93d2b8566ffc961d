"""MPO (the six agents of Mankowitz et al. 2020) and RobustSAC: SB3 conventions, the buffer, the targets in the algorithms."""

from __future__ import annotations

import math
from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")

import robust_envs  # noqa: E402,F401
from robust_envs import DomainRandomization, PerturbedTransitions, UncertaintySet  # noqa: E402
from robust_sb3 import MPO, RobustSAC  # noqa: E402
from robust_sb3.mpo.buffers import PerturbedReplayBuffer, PerturbedReplayBufferSamples  # noqa: E402

pytestmark = pytest.mark.sb3

#: env steps of the slow learning test (see test_mpo_learns_the_pendulum_swing_up)
LEARNING_BUDGET = 12000

MASSES = [{"mass": 1.0}, {"mass": 1.1}, {"mass": 1.4}]


def tiny() -> dict:
    return dict(net_arch=[16])  # a new dict each time: SB3 adds keys to policy_kwargs


def pendulum(models=MASSES, steps: int = 100) -> gym.Env:
    return PerturbedTransitions(gym.make("RobustPendulum-v0", max_episode_steps=steps), models)


@pytest.mark.parametrize("robustness", ["none", "robust", "soft"])
@pytest.mark.parametrize("entropy_regularized", [False, True])
def test_run_all_six_agents(robustness, entropy_regularized):
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
    if robustness == "none":
        assert type(model.replay_buffer) is not PerturbedReplayBuffer and model.n_models == 0
    else:
        assert isinstance(model.replay_buffer, PerturbedReplayBuffer) and model.n_models == 3
        assert logged["robust/target_gap"] >= 0.0
        fractions = [logged[f"robust/worst_model_fraction_{k}"] for k in range(3)]
        assert sum(fractions) == pytest.approx(1.0)


def test_progress_bar():
    pytest.importorskip("tqdm", reason="SB3's progress bar needs tqdm and rich (stable-baselines3[extra])")
    pytest.importorskip("rich", reason="SB3's progress bar needs tqdm and rich (stable-baselines3[extra])")
    MPO("MlpPolicy", pendulum(), robustness="robust", learning_starts=20, batch_size=8, policy_kwargs=tiny()).learn(
        40, progress_bar=True
    )


def test_run_on_a_mujoco_env_with_terminations_and_several_envs():
    from stable_baselines3.common.env_util import make_vec_env

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
    assert model.logger.name_to_value["robust/target_gap"] >= 0.0


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
def test_robust_sac_runs(robustness):
    model = RobustSAC(
        "MlpPolicy", pendulum(), robustness=robustness, learning_starts=50, batch_size=16, policy_kwargs=tiny(), seed=0
    )
    model.learn(120)
    assert isinstance(model.replay_buffer, PerturbedReplayBuffer)
    assert model.logger.name_to_value["robust/target_gap"] >= 0.0


def test_robust_sac_without_robustness_is_exactly_sac():
    from stable_baselines3 import SAC

    kwargs = dict(learning_starts=50, batch_size=16, policy_kwargs=tiny(), seed=3, device="cpu")
    ours = RobustSAC("MlpPolicy", "Pendulum-v1", **kwargs).learn(150)
    reference = SAC("MlpPolicy", "Pendulum-v1", **kwargs).learn(150)
    for (name, a), (_, b) in zip(ours.policy.state_dict().items(), reference.policy.state_dict().items(), strict=True):
        assert th.equal(a, b), name


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
    assert np.array_equal(buffer.perturbed_next_observations[:10, 0], np.stack([i["perturbed_next_obs"] for i in infos]))
    assert np.allclose(buffer.perturbed_rewards[:10, 0], np.stack([i["perturbed_rewards"] for i in infos]))
    # model 0 is the nominal 1.0 kg the env runs: its next state is the real one
    assert np.allclose(buffer.perturbed_next_observations[:10, 0, 0], buffer.next_observations[:10, 0])
    sample = buffer.sample(8)
    assert isinstance(sample, PerturbedReplayBufferSamples)
    assert sample.perturbed_next_observations.shape == (8, 3, 2)
    assert sample.perturbed_rewards.shape == (8, 3) and sample.perturbed_terminated.shape == (8, 3)
    with pytest.raises(KeyError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        buffer.add(obs[None], obs[None], action[None], np.array([0.0]), np.array([False]), [{}])
    bad = dict(infos[0], perturbed_next_obs=np.zeros((2, 2)))
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


def test_save_load_round_trip(tmp_path):
    env = pendulum()
    model = MPO(
        "MlpPolicy",
        env,
        robustness="soft",
        model_weights=[0.2, 0.3, 0.5],
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
    loaded.load_replay_buffer(tmp_path / "buffer")
    assert np.array_equal(loaded.replay_buffer.perturbed_next_observations, model.replay_buffer.perturbed_next_observations)
    loaded.learn(40, reset_num_timesteps=False)  # and training continues


def test_robust_sac_save_load(tmp_path):
    env = pendulum()
    model = RobustSAC("MlpPolicy", env, robustness="robust", learning_starts=50, batch_size=16, policy_kwargs=tiny(), seed=0)
    model.learn(100)
    observations = np.stack([env.observation_space.sample() for _ in range(10)])
    model.save(tmp_path / "sac")
    loaded = RobustSAC.load(tmp_path / "sac", env=env)
    assert np.array_equal(
        loaded.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0]
    )
    assert loaded.robustness == "robust" and loaded.n_models == 3


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
