"""RRL (Morimoto and Doya 2001): LQ convergence to the game Riccati solution, persistence, determinism, errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import OrderEnforcing, TimeLimit

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.callbacks import BaseCallback

import robust_envs  # noqa: F401
from benchmarks.rrl_swingup import GAMMA as SWINGUP_GAMMA
from benchmarks.rrl_swingup import (
    HEAVY,
    MAX_DISTURBANCE,
    N_CENTERS,
    NOMINAL,
    TRIAL_STEPS,
    catches,
    held_upright,
    make_swingup_model,
    swing_up,
    upright_gains,
)
from robust_envs.disturbance import find_disturbance_channel
from robust_envs.wrappers import ForceDisturbance
from robust_sb3.rrl import RRL, LinearQuadraticGameEnv, NGnet

pytestmark = pytest.mark.sb3


GAMMA = 2.0  # section 4.1


def lq_env() -> LinearQuadraticGameEnv:
    # Eq. 14: the pendulum linearised upright, Q = diag(1, 0), R = 1
    return LinearQuadraticGameEnv.from_pendulum(dt=0.01, episode_steps=150, init_scale=1.0)


def game_riccati(env: LinearQuadraticGameEnv, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Eq. 12 (undiscounted, tau = inf): P A + A^T P + Q - P (B2 R^-1 B2^T - gamma^-2 B1 B1^T) P = 0, solved as an ARE
    with the stacked input [u, w] and the indefinite weight diag(R, -gamma^2); Eq. 13 gives the gains.
    """
    # scipy is a dev dependency: imported here so that only the Riccati tests need it (a missing scipy fails them)
    from scipy import linalg as scipy_linalg

    b = np.hstack((env.b2, env.b1))
    r = scipy_linalg.block_diag(env.r, -(gamma**2) * np.eye(env.b1.shape[1]))
    p = scipy_linalg.solve_continuous_are(env.a, b, env.q, r)
    k_u = -np.linalg.solve(env.r, env.b2.T @ p)
    k_w = env.b1.T @ p / gamma**2
    return p, k_u, k_w


def stabilising_design(env: LinearQuadraticGameEnv) -> np.ndarray:
    """The paper's "pre-designed stabilizing controller": an LQR with heavier state cost and no disturber."""
    from scipy import linalg as scipy_linalg

    return scipy_linalg.solve_continuous_are(env.a, env.b2, np.diag([30.0, 3.0]), env.r)


def lq_model(env: LinearQuadraticGameEnv, policy: str, **kwargs) -> RRL:
    """An RRL on the LQ game: quadratic critic, undiscounted, no traces, started from the stabilising design."""
    kwargs.setdefault("init_value_matrix", stabilising_design(env))
    return RRL(policy, env, gamma=GAMMA, approximator="quadratic", tau=math.inf, kappa=0.0, **kwargs)


def rel_err(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def test_game_riccati_solution_is_a_saddle_point():
    env = lq_env()
    p, k_u, k_w = game_riccati(env, GAMMA)
    residual = p @ env.a + env.a.T @ p + env.q - p @ (env.b2 @ env.b2.T - env.b1 @ env.b1.T / GAMMA**2) @ p
    np.testing.assert_allclose(residual, 0.0, atol=1e-8)
    assert np.all(np.linalg.eigvals(env.a + env.b2 @ k_u + env.b1 @ k_w).real < 0)


def test_lq_value_gradient_converges_to_game_riccati():
    env = lq_env()
    p_star, k_u_star, k_w_star = game_riccati(env, GAMMA)
    model = lq_model(env, "value_gradient", policy_update_episodes=2, seed=0)
    assert rel_err(model.value_matrix, p_star) > 0.05  # the initial design is not the answer
    model.learn(6_000)
    k_u, k_w = model.policy_gains()
    assert rel_err(model.value_matrix, p_star) < 0.05
    assert rel_err(k_u, k_u_star) < 0.05
    assert rel_err(k_w, k_w_star) < 0.05


def test_lq_value_gradient_with_learned_input_gain():
    env = lq_env()
    p_star, k_u_star, _ = game_riccati(env, GAMMA)
    model = lq_model(
        env,
        "value_gradient",
        policy_update_episodes=2,
        input_gain="learned",
        action_noise_std=0.5,
        disturbance_noise_std=0.5,
        seed=1,
    )
    model.learn(12_000)
    g1, g2 = model.gain_model.gains
    np.testing.assert_allclose(g2, env.b2, atol=0.05)
    np.testing.assert_allclose(g1, env.b1, atol=0.05)
    assert rel_err(model.value_matrix, p_star) < 0.05
    assert rel_err(model.policy_gains()[0], k_u_star) < 0.05


def test_lq_actor_disturber_critic_converges_to_game_riccati():
    env = lq_env()
    p_star, k_u_star, k_w_star = game_riccati(env, GAMMA)
    p0 = stabilising_design(env)
    model = lq_model(
        env,
        "actor_disturber_critic",
        init_value_matrix=p0,
        init_actor_gain=-env.b2.T @ p0,
        init_disturber_gain=np.zeros((1, 2)),
        actor_lr=lambda remaining: 0.2 + 1.8 * remaining,
        disturber_lr=lambda remaining: 0.2 + 1.8 * remaining,
        action_noise_std=0.5,
        disturbance_noise_std=0.5,
        approximator_kwargs={"forgetting": 0.9995},
        policy_update_episodes=0,
        seed=0,
    )
    assert rel_err(model.actor_gain, k_u_star) > 0.1 and rel_err(model.disturber_gain, k_w_star) > 0.5
    model.learn(60_000)
    assert rel_err(model.value_matrix, p_star) < 0.05
    assert rel_err(model.actor_gain, k_u_star) < 0.05
    assert rel_err(model.disturber_gain, k_w_star) < 0.05


def small_pendulum_model(seed: int | None = 0, **kwargs) -> RRL:
    kwargs.setdefault("gamma", 0.5)
    kwargs.setdefault("policy", "value_gradient")
    return RRL(
        env=gym.make("RobustPendulum-v0"),
        approximator="ngnet",
        seed=seed,
        max_disturbance=1.0,
        approximator_kwargs={"low": [-math.pi, -2 * math.pi], "high": [math.pi, 2 * math.pi], "n_centers": (7, 7)},
        **kwargs,
    )


def test_save_load_round_trip(tmp_path):
    """SB3's save/load keeps the approximators, the counters and the random generator exactly."""
    model = small_pendulum_model(action_noise_std=0.2, disturbance_noise_std=0.2, noise_tau=0.1)
    model.learn(1_500)
    path = tmp_path / "rrl_model"
    model.save(path)
    assert (tmp_path / "rrl_model.zip").is_file()
    loaded = RRL.load(path)
    assert loaded.get_env() is None
    observations = np.random.default_rng(0).uniform([-math.pi, -5], [math.pi, 5], size=(20, 2))
    np.testing.assert_array_equal(loaded.predict(observations)[0], model.predict(observations)[0])
    np.testing.assert_array_equal([loaded.value(x) for x in observations], [model.value(x) for x in observations])
    np.testing.assert_array_equal(loaded.critic.theta, model.critic.theta)
    np.testing.assert_array_equal(loaded.disturber_gain, model.disturber_gain)
    assert loaded.gamma == model.gamma and loaded.num_timesteps == model.num_timesteps
    assert loaded.episode_returns == model.episode_returns and loaded.num_episodes == model.num_episodes
    # the random generator is restored too: stochastic predictions match
    np.testing.assert_array_equal(
        loaded.predict(observations, deterministic=False)[0], model.predict(observations, deterministic=False)[0]
    )
    # and learning continues identically on identically seeded envs
    loaded.set_env(gym.make("RobustPendulum-v0"))
    model.set_env(gym.make("RobustPendulum-v0"))
    for m in (loaded, model):
        m.get_env().seed(11)
    loaded.learn(300)
    model.learn(300)
    np.testing.assert_array_equal(loaded.critic.theta, model.critic.theta)
    np.testing.assert_array_equal(loaded.predict(observations)[0], model.predict(observations)[0])


def test_load_with_env_continues_like_a_fresh_seeded_model(tmp_path):
    """load(path, env) seeds the env's next reset with the model's seed, as SB3 does."""
    model = small_pendulum_model(seed=5, action_noise_std=0.2)
    model.save(tmp_path / "untrained")
    loaded = RRL.load(tmp_path / "untrained", env=gym.make("RobustPendulum-v0"))
    loaded.learn(400)
    model.learn(400)
    np.testing.assert_array_equal(loaded.critic.theta, model.critic.theta)


def test_schedules_are_saved(tmp_path):
    model = lq_model(lq_env(), "actor_disturber_critic", actor_lr=lambda remaining: 0.5 * remaining, seed=0)
    model.save(tmp_path / "sched.zip")
    loaded = RRL.load(tmp_path / "sched.zip")
    assert callable(loaded.actor_lr) and loaded.actor_lr(0.5) == 0.25


def test_save_load_quadratic_adc(tmp_path):
    env = lq_env()
    model = RRL(
        "actor_disturber_critic",
        env,
        gamma=GAMMA,
        approximator="quadratic",
        action_noise_std=0.3,
        init_actor_gain=np.array([[-30.0, -8.0]]),
        seed=3,
    )
    model.learn(500)
    model.save(tmp_path / "adc.zip")
    loaded = RRL.load(tmp_path / "adc.zip", env=lq_env())
    np.testing.assert_array_equal(loaded.actor_gain, model.actor_gain)
    np.testing.assert_array_equal(loaded.value_matrix, model.value_matrix)
    action, state = loaded.predict(np.array([0.1, -0.2]))
    assert state is None and action.shape == (1,)


def test_load_errors_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"corrupt\.zip"):
        RRL.load(corrupt)
    truncated = tmp_path / "truncated.zip"
    small_pendulum_model().save(tmp_path / "whole.zip")
    truncated.write_bytes((tmp_path / "whole.zip").read_bytes()[:200])
    with pytest.raises(ValueError, match=r"truncated\.zip"):
        RRL.load(truncated)
    with pytest.raises(FileNotFoundError, match=r"missing\.zip"):
        RRL.load(tmp_path / "missing.zip")


def test_load_of_another_algorithms_file_is_a_clear_error(tmp_path):
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64, device="cpu").save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match=r"ppo\.zip was not saved by RRL"):
        RRL.load(tmp_path / "ppo.zip")


def test_load_of_the_earlier_format():
    """The models of benchmarks/results/rrl were saved in RRL's earlier zip/JSON format; they load exactly."""
    import json
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "rrl" / "robust_g0.22_seed0.zip"
    model = RRL.load(path)
    recorded = json.loads(path.with_suffix(".json").read_text())
    assert model.num_timesteps == recorded["env_steps"] and model.gamma == recorded["gamma"]
    k_theta, k_omega = upright_gains(model)
    assert k_theta == recorded["upright_gains"]["K_theta"] and k_omega == recorded["upright_gains"]["K_omega"]


def test_callback_stops_training_after_n_trials():
    from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes

    model = lq_model(lq_env(), "value_gradient", seed=0)
    model.learn(10_000, callback=StopTrainingOnMaxEpisodes(max_episodes=3))
    assert model.num_episodes == 3 and model.num_timesteps == 3 * 150


def test_callback_events_follow_the_trials():
    from stable_baselines3.common.callbacks import BaseCallback

    class Recorder(BaseCallback):
        def __init__(self):
            super().__init__()
            self.events: list[str] = []

        def _on_training_start(self) -> None:
            self.events.append(f"start {self.locals['total_timesteps']}")

        def _on_rollout_start(self) -> None:
            self.events.append("rollout_start")

        def _on_step(self) -> bool:
            assert set(self.locals) >= {"new_obs", "rewards", "dones", "infos"}
            if self.locals["dones"][0]:
                self.events.append(f"trial_end {self.model.num_timesteps}")
            return True

        def _on_rollout_end(self) -> None:
            self.events.append("rollout_end")

        def _on_training_end(self) -> None:
            self.events.append(f"end {self.n_calls}")

    model = lq_model(lq_env(), "value_gradient", seed=0)
    recorder = Recorder()
    model.learn(350, callback=recorder)  # two trials of 150 steps and part of a third
    assert recorder.events == [
        "start 350",
        "rollout_start",
        "trial_end 150",
        "rollout_end",
        "rollout_start",
        "trial_end 300",
        "rollout_end",
        "rollout_start",
        "rollout_end",
        "end 350",
    ]
    # a function callback (SB3's ConvertCallback): returning False stops at once
    calls = []
    model.learn(1_000, callback=lambda _locals, _globals: calls.append(1) or len(calls) < 10)
    assert len(calls) == 10 and model.num_timesteps == 10


def test_sb3_eval_and_checkpoint_callbacks(tmp_path):
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.monitor import Monitor

    model = lq_model(lq_env(), "value_gradient", seed=0)
    evaluation = EvalCallback(Monitor(lq_env()), n_eval_episodes=1, eval_freq=150, log_path=str(tmp_path), verbose=0)
    checkpoint = CheckpointCallback(save_freq=200, save_path=str(tmp_path), name_prefix="rrl")
    model.learn(400, callback=[evaluation, checkpoint])
    assert len(np.load(tmp_path / "evaluations.npz")["results"]) == 2
    saved = RRL.load(tmp_path / "rrl_400_steps.zip")
    np.testing.assert_array_equal(saved.value_matrix, model.value_matrix)


def test_logger_records(tmp_path):
    from stable_baselines3.common.logger import configure

    env = lq_env()
    p0 = stabilising_design(env)
    model = lq_model(
        env, "actor_disturber_critic", init_actor_gain=-env.b2.T @ p0, action_noise_std=0.3, disturbance_noise_std=0.3, seed=0
    )
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(4 * 150, log_interval=2)
    import csv

    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert [int(r["time/episodes"]) for r in rows] == [2, 4]
    assert [int(r["time/total_timesteps"]) for r in rows] == [300, 600]
    for key in ("rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/ep_reward_integral_mean", "train/td_error_rms"):
        assert all(math.isfinite(float(r[key])) for r in rows), key
    assert float(rows[-1]["rollout/ep_len_mean"]) == 150
    # the integral of the reward rate is the sum of the (float64) rewards times dt
    assert float(rows[-1]["rollout/ep_reward_integral_mean"]) == pytest.approx(
        float(rows[-1]["rollout/ep_rew_mean"]) * 0.01, rel=1e-9
    )
    assert float(rows[-1]["train/actor_lr"]) == 1.0 and float(rows[-1]["train/disturber_lr"]) == 1.0


@pytest.mark.filterwarnings("ignore:rich is experimental")
def test_progress_bar(capsys):
    model = lq_model(lq_env(), "value_gradient", seed=0)
    model.learn(200, progress_bar=True)
    assert model.num_timesteps == 200
    assert "200/200" in capsys.readouterr().out


def test_set_random_seed_reseeds_the_learner():
    model = small_pendulum_model(seed=None, action_noise_std=0.3)
    obs = np.zeros((5, 2))
    model.set_random_seed(3)
    first = model.predict(obs, deterministic=False)[0]
    model.set_random_seed(3)
    np.testing.assert_array_equal(model.predict(obs, deterministic=False)[0], first)


def test_registered_linear_quadratic_game():
    from gymnasium.utils.env_checker import check_env

    env = gym.make("RobustLinearQuadraticGame-v0")
    check_env(env.unwrapped, skip_render_check=True)
    reference = LinearQuadraticGameEnv.from_pendulum()
    np.testing.assert_array_equal(env.unwrapped.a, reference.a)
    np.testing.assert_array_equal(env.unwrapped.b1, reference.b1)
    np.testing.assert_array_equal(env.unwrapped.q, reference.q)
    obs, _ = env.reset(seed=0)
    ref_obs, _ = reference.reset(seed=0)
    np.testing.assert_array_equal(obs, ref_obs)
    # JSON-serialisable kwargs: the spec round-trips; pickling keeps the arguments
    import pickle

    from gymnasium.envs.registration import EnvSpec

    custom = gym.make("RobustLinearQuadraticGame-v0", a=[[0.0, 1.0], [1.0, 0.0]], b1=[[0.0], [1.0]], b2=[[0.0], [2.0]])
    remade = gym.make(EnvSpec.from_json(custom.spec.to_json()))
    np.testing.assert_array_equal(remade.unwrapped.b2, [[0.0], [2.0]])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(custom)).unwrapped.a, custom.unwrapped.a)
    with pytest.raises(ValueError, match="all of a, b1 and b2"):
        LinearQuadraticGameEnv(a=np.eye(2))
    # RRL learns on the registered id
    model = RRL("value_gradient", "RobustLinearQuadraticGame-v0", gamma=GAMMA, approximator="quadratic", seed=0)
    model.learn(300)
    assert model.num_episodes == 1


def test_determinism_with_seed():
    def train(seed: int) -> np.ndarray:
        model = small_pendulum_model(seed=seed, action_noise_std=0.3, disturbance_noise_std=0.3)
        model.learn(1_000)
        return model.critic.theta

    np.testing.assert_array_equal(train(7), train(7))
    assert not np.array_equal(train(7), train(8))


def test_predict_shapes_and_bounds():
    model = small_pendulum_model()
    model.critic.theta[:] = np.random.default_rng(0).normal(size=model.critic.theta.shape) * 10
    action, _ = model.predict(np.array([0.5, 0.0]))
    assert action.shape == (1,) and action.dtype == np.float32
    batch, _ = model.predict(np.zeros((4, 2)))
    assert batch.shape == (4, 1)
    assert np.all(np.abs(batch) <= 1.0)
    with pytest.raises(ValueError, match="observation"):
        model.predict(np.zeros(3))


def test_standard_rl_needs_no_disturbance_channel():
    env = gym.make("Pendulum-v1")  # no disturbance channel, no dt attribute in action units
    model = RRL(
        "actor_disturber_critic",
        env,
        gamma=math.inf,
        approximator="ngnet",
        dt=0.05,
        action_noise_std=0.1,
        approximator_kwargs={"low": [-1, -1, -8], "high": [1, 1, 8], "n_centers": (3, 3, 5)},
        seed=0,
    )
    model.learn(50)
    assert model.disturbance_dim == 0


@pytest.mark.parametrize("gamma", [0.0, -1.0, math.nan, "2"])
def test_bad_gamma(gamma):
    with pytest.raises(ValueError, match="gamma"):
        RRL("value_gradient", lq_env(), gamma=gamma, approximator="quadratic")


def test_finite_gamma_needs_a_disturbance_channel():
    with pytest.raises(ValueError, match="disturbance channel"):
        RRL(
            "actor_disturber_critic",
            gym.make("Pendulum-v1"),
            gamma=1.0,
            dt=0.05,
            approximator_kwargs={"low": [-1, -1, -8], "high": [1, 1, 8]},
        )
    with pytest.raises(ValueError, match="no disturbance channel") as error:
        RRL("actor_disturber_critic", gym.make("RobustInvertedPendulum-v0"), gamma=1.0, approximator="quadratic")
    assert "RobustInvertedPendulumEnv" in str(error.value) and "ForceDisturbance" in str(error.value)


def pushed_inverted_pendulum() -> gym.Env:
    """RobustInvertedPendulum-v0 with a force on the pole, inside OrderEnforcing and TimeLimit."""
    force = ForceDisturbance(gym.make("RobustInvertedPendulum-v0").unwrapped, "pole", max_force=2.0)
    return TimeLimit(OrderEnforcing(force), max_episode_steps=100)


class _DisturbanceLog(BaseCallback):
    """Records the disturbance each step reported and the one the channel held."""

    def __init__(self, channel) -> None:
        super().__init__()
        self.channel = channel
        self.reported: list[np.ndarray] = []
        self.held: list[np.ndarray] = []

    def _on_step(self) -> bool:
        self.reported.append(self.locals["infos"][0]["disturbance"])
        self.held.append(self.channel.disturbance)
        return True


def test_rrl_trains_with_a_force_disturbance_found_through_wrappers(tmp_path):
    env = pushed_inverted_pendulum()
    force = find_disturbance_channel(env)
    model = RRL(
        "actor_disturber_critic",
        env,
        gamma=2.0,
        approximator="quadratic",
        tau=1.0,
        kappa=0.0,
        action_noise_std=0.3,
        disturbance_noise_std=0.5,
        seed=0,
    )
    assert model.disturbance_dim == 2 and model.max_disturbance == 2.0
    log = _DisturbanceLog(force)
    model.learn(300, callback=log)
    reported = np.array(log.reported)
    assert reported.shape == (300, 2) and np.abs(reported).max() > 0.1
    assert np.abs(reported).max() <= 2.0
    # the learner set each step's force through the channel (a reset zeroes it: compare before episode ends)
    held = np.array(log.held)
    alive = np.abs(held).sum(axis=1) > 0
    np.testing.assert_array_equal(reported[alive], held[alive])
    assert np.any(model.disturber_gain != 0.0)
    # a loaded model finds the channel of the env it is given
    model.save(tmp_path / "pushed")
    other = pushed_inverted_pendulum()
    loaded = RRL.load(tmp_path / "pushed", env=other)
    log = _DisturbanceLog(find_disturbance_channel(other))
    loaded.learn(50, callback=log)
    assert np.abs(np.array(log.reported)).max() > 0.1


def test_rrl_drives_the_channel_of_robust_pendulum_behind_its_wrappers():
    env = gym.make("RobustPendulum-v0")
    model = small_pendulum_model(policy="actor_disturber_critic", disturbance_noise_std=0.3)
    model.set_env(env)
    log = _DisturbanceLog(env.unwrapped)
    model.learn(100, callback=log)
    reported = np.array(log.reported)
    np.testing.assert_array_equal(reported, np.array(log.held))
    assert np.abs(reported).max() > 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"policy": "greedy"}, "Unknown policy"),
        ({"approximator": "mlp"}, "Unknown approximator"),
        ({"input_gain": "guess"}, "Unknown input_gain"),
        ({"tau": 0.0}, "tau"),
        ({"kappa": -1.0}, "kappa"),
        ({"actor_lr": -0.1}, "actor_lr"),
        ({"policy_update_episodes": -1}, "policy_update_episodes"),
        ({"approximator_kwargs": {"width": 3}}, "approximator_kwargs"),
        ({"init_actor_gain": np.zeros((1, 2))}, "actor_disturber_critic"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs.setdefault("approximator", "quadratic")
    kwargs.setdefault("policy", "value_gradient")
    with pytest.raises(ValueError, match=match):
        RRL(env=lq_env(), gamma=GAMMA, **kwargs)


def test_ngnet_needs_finite_ranges_and_value_gradient_needs_control_cost():
    with pytest.raises(ValueError, match="finite ranges"):
        RRL("value_gradient", gym.make("RobustPendulum-v0"), gamma=0.5)
    with pytest.raises(ValueError, match="control cost"):
        RRL("value_gradient", gym.make("Pendulum-v1"), dt=0.05, approximator_kwargs={"low": [-1, -1, -8], "high": [1, 1, 8]})


def test_learn_argument_errors():
    model = small_pendulum_model()
    with pytest.raises(ValueError, match="total_timesteps"):
        model.learn(-1)
    model.env = None
    with pytest.raises(ValueError, match="no env"):
        model.learn(10)


def test_ngnet_basis_cache_returns_fresh_results():
    """The NGnet keeps the last two bases; interleaved queries and a caller's in-place edits must not leak."""
    net = NGnet([-math.pi, -4.0], [math.pi, 4.0], (9, 7), periodic=(0,))
    weights = np.random.default_rng(0).normal(size=net.size)
    points = [np.array([0.3, -1.0]), np.array([-2.0, 2.5]), np.array([3.0, 0.1])]
    expected = [(NGnet(**net.config()).features(x), NGnet(**net.config()).evaluate(weights, x, gradient=True)) for x in points]
    for _ in range(2):
        for x, (features, (value, grad)) in zip(points, expected, strict=True):
            got = net.features(x)
            np.testing.assert_array_equal(got, features)
            got *= 0.0  # a caller editing its copy
            got_value, got_grad = net.evaluate(weights, x, gradient=True)
            np.testing.assert_array_equal(got_value, value)
            np.testing.assert_array_equal(got_grad, grad)


def test_held_upright_criterion():
    dt = 0.5
    # wrapped distance to the top: 3.0, 1.0, 0.2, 2pi + 0.1 (= 0.1 after a full turn), -0.25
    theta = np.array([3.0, 1.0, 0.2, 2 * math.pi + 0.1, -0.25])
    assert held_upright(theta, dt, hold_seconds=1.5) == (True, 1.0)  # last 3 samples within 0.3 rad, from t = 1.0
    assert held_upright(theta, dt, hold_seconds=2.0) == (False, None)  # the 4th-last sample is 1.0 rad away
    assert held_upright(np.zeros(4), dt, hold_seconds=1.0) == (True, 0.0)


class _LinearActor:
    """A stand-in for a trained model: T = -(K_theta theta + K_omega omega), in fractions of the 5 N*m limit."""

    def predict(self, obs, deterministic=True):
        return np.array([-(20.0 * obs[0] + 4.0 * obs[1]) / 5.0], dtype=np.float32), None


def test_upright_gains_and_catch_of_a_known_linear_actor():
    k_theta, k_omega = upright_gains(_LinearActor())
    assert k_theta == pytest.approx(20.0, rel=1e-5) and k_omega == pytest.approx(4.0, rel=1e-5)
    # K_theta = 20 > m g l = 9.8 holds the nominal pendulum but not the heavy one (needs > 29.4)
    assert catches(_LinearActor(), NOMINAL, 0.05)
    assert not catches(_LinearActor(), HEAVY, 0.05)


def test_swingup_setup():
    robust, standard = make_swingup_model(SWINGUP_GAMMA, seed=0), make_swingup_model(math.inf, seed=0)
    assert robust.gamma == 0.22 and robust.max_disturbance == MAX_DISTURBANCE and robust.disturbance_dim == 1
    assert math.isinf(standard.gamma) and standard.disturbance_dim == 0
    for model in (robust, standard):
        assert model.critic.net.n_centers == N_CENTERS and model.policy_class == "value_gradient"
        assert (model.tau, model.kappa, model.critic_lr) == (1.0, 0.1, 1.0)


@pytest.mark.slow
def test_swing_up_robust_controller_holds_heavy_pendulum_where_standard_does_not():
    """
    Section 4.2 / Fig. 4: trained identically at m = 1.0, mu = 0.01 (seed 0, 1000 trials of 20 s each; 400 s for
    both controllers on a loaded core), both swing up and hold the nominal pendulum; only the robust one
    (gamma = 0.22) swings up and holds m = 3.0, mu = 0.3. Criterion: from hanging at rest, |theta| < 0.3 rad during
    the last 10 s of 60 s; and held when started at rest 0.05 or 0.1 rad from the top.
    """
    near_top = (-0.1, -0.05, 0.05, 0.1)
    robust = make_swingup_model(SWINGUP_GAMMA, seed=0).learn(1000 * TRIAL_STEPS)
    standard = make_swingup_model(math.inf, seed=0).learn(1000 * TRIAL_STEPS)
    assert swing_up(robust, NOMINAL).success and swing_up(standard, NOMINAL).success  # Fig. 4(a)
    assert swing_up(robust, HEAVY).success  # Fig. 4(b), robust
    assert not swing_up(standard, HEAVY).success  # Fig. 4(b), standard
    assert all(catches(robust, HEAVY, a) for a in near_top)
    assert not any(catches(standard, HEAVY, a) for a in near_top)
