"""MRPO, EPOpt and PPO-DR: runs, return bookkeeping, the masked buffer, save/load, determinism and input errors."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

pytest.importorskip("torch")

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.vec_env import VecNormalize

from robust_envs.core import PerturbableEnv
from robust_envs.params import ParamSpace, ParamSpec
from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_sb3 import MRPO, EPOpt
from robust_sb3.mrpo import EnvMaskedRolloutBuffer, KappaRamp, make_domain_randomized_env
from robust_sb3.mrpo.selection import mrpo_select

SHORT_ROLLOUT = "n_steps=.* is below the sub-envs' time limit"
# most runs here use 16-step rollouts on a 1000-step task on purpose (speed); the warning is tested on its own
pytestmark = [pytest.mark.sb3, pytest.mark.filterwarnings(f"ignore:{SHORT_ROLLOUT}:UserWarning")]

IP = "RobustInvertedPendulum-v0"
IP_TRAIN = "jiang2021/invertedpendulum/train"
SMALL = {"n_steps": 16, "batch_size": 32, "n_epochs": 2, "policy_kwargs": {"net_arch": [16]}, "device": "cpu"}


# ---- a perturbable env whose returns are known in closed form ----------------------------------------
CONSTANT = "ConstantRewardTest-v0"
CONSTANT_LIMIT = 7


class ConstantRewardEnv(PerturbableEnv):
    """
    Reward ``scale`` at every step and no termination, so a ``T``-step episode returns ``scale * T``, or
    ``scale * (1 - gamma^T) / (1 - gamma)`` discounted. ``tilt`` changes nothing but the distance between settings.
    """

    param_space = ParamSpace(
        (
            ParamSpec("scale", 1.0, 0.0, 10.0, "1", "reward per step"),
            ParamSpec("tilt", 0.0, 0.0, 1.0, "1", "no effect: only moves the setting away from the others"),
        ),
        owner=CONSTANT,
    )
    metadata = {"render_modes": ["rgb_array"]}  # make_vec_env asks for rgb_array
    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, params=None, render_mode=None) -> None:
        self._init_params(params)
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._begin_episode(self._episode_params_from(options))
        return np.zeros(1, np.float32), {"params": self.params}

    def step(self, action):
        return np.zeros(1, np.float32), self.params["scale"], False, False, {"params": self.params}

    def render(self):
        return np.zeros((2, 2, 3), dtype=np.uint8)


if CONSTANT not in gym.registry:
    gym.register(CONSTANT, entry_point=ConstantRewardEnv, max_episode_steps=CONSTANT_LIMIT)

SCALES = UncertaintySet.box(CONSTANT, {"scale": (1.0, 2.0), "tilt": (0.0, 1.0)})
#: 7 steps per episode; batch_size 14 divides the rollout of 2, 4 or 10 sub-envs
TINY = {"batch_size": 14, "n_epochs": 1, "gamma": 0.9, "policy_kwargs": {"net_arch": [8]}, "device": "cpu"}
#: sum_{t<7} 0.9^t = (1 - 0.9^7) / (1 - 0.9), by hand
DISCOUNTED_7 = 1 + 0.9 + 0.81 + 0.729 + 0.6561 + 0.59049 + 0.531441


def constant_envs(n_envs=4, seed=0):
    return make_vec_env(CONSTANT, n_envs=n_envs, seed=seed)


def scales(selection) -> np.ndarray:
    return np.array([setting["scale"] for setting in selection.settings])


class CapturedLogs(KVWriter):
    """Keeps every dumped row of the SB3 logger."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def write(self, key_values, key_excluded, step=0) -> None:
        self.rows.append(dict(key_values))


def capture_logs(model) -> CapturedLogs:
    logs = CapturedLogs()
    model.set_logger(Logger(folder=None, output_formats=[logs]))
    return logs


def ip_envs(n_envs=4, seed=0, **env_kwargs):
    return make_vec_env(IP, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs or None)


# ---- the masked rollout buffer ------------------------------------------------------------------------
def test_masked_buffer_yields_only_selected_columns():
    n_steps, n_envs = 4, 3
    buffer = EnvMaskedRolloutBuffer(n_steps, spaces.Box(-1e3, 1e3, (1,)), spaces.Box(-1, 1, (1,)), "cpu", n_envs=n_envs)
    for step in range(n_steps):
        obs = np.array([[100.0 * env + step] for env in range(n_envs)], dtype=np.float32)
        buffer.add(obs, np.zeros((n_envs, 1)), np.ones(n_envs), np.zeros(n_envs), th.zeros(n_envs), th.zeros(n_envs))
    buffer.compute_returns_and_advantage(th.zeros(n_envs), np.zeros(n_envs))
    with pytest.raises(ValueError, match="no column"):
        buffer.set_env_mask(np.zeros(n_envs, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        buffer.set_env_mask(np.ones(n_envs + 1, dtype=bool))
    buffer.set_env_mask(np.array([True, False, True]))
    batches = list(buffer.get(batch_size=3))
    assert [len(b.observations) for b in batches] == [3, 3, 2]
    seen = sorted(float(x) for b in batches for x in b.observations.ravel())
    assert seen == [0.0, 1.0, 2.0, 3.0, 200.0, 201.0, 202.0, 203.0]
    buffer.reset()
    assert buffer.env_mask.all()


# ---- runs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", [MRPO, EPOpt])
def test_run(algo):
    model = algo("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, seed=0, **SMALL)
    logs = capture_logs(model)
    model.learn(3 * 4 * SMALL["n_steps"])
    selection = model.last_selection
    assert len(selection.settings) == 4 and selection.mask.any()
    low, high = get_preset(IP_TRAIN).low, get_preset(IP_TRAIN).high
    for setting in selection.settings:
        assert all(low[k] <= v <= high[k] for k, v in setting.items())
    assert len(logs.rows) == 3
    last = logs.rows[-1]
    assert last["robust/mean_return"] == pytest.approx(selection.returns.mean())
    assert last["robust/worst_return"] == pytest.approx(selection.returns.min())
    assert last["robust/selected_fraction"] == pytest.approx(selection.mask.mean())
    assert "robust/worst10_return" in last and "robust/unfinished_fraction" in last


def test_sampled_params_reach_the_sub_envs():
    env = ip_envs()
    model = MRPO("MlpPolicy", env, uncertainty_set=IP_TRAIN, seed=3, **SMALL)
    model.learn(4 * SMALL["n_steps"])
    running = env.get_attr("params")
    for setting, params in zip(model.last_selection.settings, running, strict=True):
        assert params["pole_length"] == pytest.approx(setting["pole_length"])
        assert params["cart_size"] == pytest.approx(setting["cart_size"])


def test_epopt_selects_the_worst():
    # returns are proportional to the sampled scale, so the two worst of 10 (alpha = 20%) are the two lowest scales
    model = EPOpt("MlpPolicy", constant_envs(n_envs=10), uncertainty_set=SCALES, worst_fraction=0.2, seed=1, **TINY)
    model.learn(10 * CONSTANT_LIMIT)
    selection = model.last_selection
    drawn = scales(selection)
    np.testing.assert_allclose(selection.returns, drawn * DISCOUNTED_7, rtol=1e-6)
    expected = np.zeros(10, dtype=bool)
    expected[np.argsort(drawn)[:2]] = True
    np.testing.assert_array_equal(selection.mask, expected)


def test_mrpo_trains_on_the_worst_set_and_what_beats_it():
    # normalised parameters are (scale - 1, tilt) over the unit box; returns scale * DISCOUNTED_7 by hand
    model = MRPO("MlpPolicy", constant_envs(n_envs=10), uncertainty_set=SCALES, kappa=4.0, worst_fraction=0.2, seed=0, **TINY)
    model.learn(10 * CONSTANT_LIMIT)
    selection = model.last_selection
    drawn = scales(selection)
    params = np.array([[s["scale"] - 1.0, s["tilt"]] for s in selection.settings])
    expected = mrpo_select(drawn * DISCOUNTED_7, params, kappa=4.0, worst_fraction=0.2)
    np.testing.assert_array_equal(selection.mask, expected)
    worst_two = np.argsort(drawn)[:2]
    assert selection.mask[worst_two].all()
    # this seed draws a case the rule decides: some environments outside the worst two kept, some dropped
    assert 2 < selection.mask.sum() < 10


def test_progress_bar():
    pytest.importorskip("rich", reason="SB3's progress bar needs tqdm and rich (stable-baselines3[extra])")
    model = MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, seed=0, **SMALL)
    model.learn(2 * 4 * SMALL["n_steps"], progress_bar=True)
    assert model.num_timesteps == 2 * 4 * SMALL["n_steps"]


def test_ppo_dr_recipe_draws_parameters_from_the_set():
    env = make_domain_randomized_env(IP, IP_TRAIN, n_envs=2, seed=0)
    model = PPO("MlpPolicy", env, seed=0, **SMALL)
    model.learn(64)
    drawn = env.get_attr("params")
    assert drawn[0]["pole_length"] != drawn[1]["pole_length"]
    assert all(0.5 <= p["pole_length"] <= 2.0 and 0.05 <= p["cart_size"] <= 0.25 for p in drawn)
    with pytest.raises(ValueError, match="belongs to"):
        make_domain_randomized_env("RobustHopper-v0", IP_TRAIN)


# ---- return bookkeeping -------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", [MRPO, EPOpt])
def test_discounted_return_is_sum_of_discounted_rewards(algo):
    # default n_steps = the time limit (7): every environment runs exactly one full episode of reward `scale`
    model = algo("MlpPolicy", constant_envs(), uncertainty_set=SCALES, seed=0, **TINY)
    assert model.return_estimate == "discounted" and model.n_steps == CONSTANT_LIMIT
    model.learn(4 * CONSTANT_LIMIT)
    selection = model.last_selection
    assert DISCOUNTED_7 == pytest.approx((1 - 0.9**7) / (1 - 0.9))
    np.testing.assert_allclose(selection.returns, scales(selection) * DISCOUNTED_7, rtol=1e-6)
    assert selection.finished.all()


def test_discount_restarts_with_every_episode():
    # 17 steps: two finished 7-step episodes (their mean is the estimate) and 3 steps of a third, left out
    model = EPOpt(
        "MlpPolicy", constant_envs(n_envs=2), uncertainty_set=SCALES, seed=0, **{**TINY, "n_steps": 17, "batch_size": 34}
    )
    model.learn(2 * 17)
    selection = model.last_selection
    np.testing.assert_allclose(selection.returns, scales(selection) * DISCOUNTED_7, rtol=1e-6)
    assert selection.finished.all()


def test_unfinished_discounted_episode_is_estimated_by_its_return_so_far():
    with pytest.warns(UserWarning, match="n_steps=5 is below the sub-envs' time limit of 7 steps"):
        model = EPOpt(
            "MlpPolicy", constant_envs(n_envs=2), uncertainty_set=SCALES, seed=0, **{**TINY, "n_steps": 5, "batch_size": 10}
        )
    model.learn(2 * 5)
    selection = model.last_selection
    assert not selection.finished.any()
    np.testing.assert_allclose(selection.returns, scales(selection) * (1 + 0.9 + 0.81 + 0.729 + 0.6561), rtol=1e-6)


def test_undiscounted_return_is_the_monitor_episode_return():
    env = constant_envs()
    model = MRPO("MlpPolicy", env, uncertainty_set=SCALES, return_estimate="undiscounted", seed=0, **TINY)
    model.learn(4 * CONSTANT_LIMIT)
    selection = model.last_selection
    monitor = np.array([np.mean(r) for r in env.env_method("get_episode_rewards")])
    np.testing.assert_allclose(selection.returns, monitor, rtol=1e-6)
    np.testing.assert_allclose(selection.returns, scales(selection) * CONSTANT_LIMIT, rtol=1e-6)


def test_returns_ignore_vec_normalize_scaling():
    env = VecNormalize(constant_envs(), norm_obs=False, norm_reward=True)
    model = EPOpt("MlpPolicy", env, uncertainty_set=SCALES, seed=0, **TINY)
    model.learn(3 * 4 * CONSTANT_LIMIT)
    selection = model.last_selection
    np.testing.assert_allclose(selection.returns, scales(selection) * DISCOUNTED_7, rtol=1e-6)
    # PPO itself saw the normalised rewards
    assert not np.allclose(model.rollout_buffer.rewards[0], scales(selection))


def test_returns_come_from_env_rewards_not_bootstrapped_rewards():
    # time limit 5, 10 steps per env: every episode is truncated (rewards get gamma * V added) or terminated
    env = ip_envs(max_episode_steps=5)
    model = EPOpt(
        "MlpPolicy",
        env,
        uncertainty_set=IP_TRAIN,
        seed=0,
        return_estimate="undiscounted",
        **{**SMALL, "n_steps": 10, "batch_size": 20},
    )
    model.learn(4 * 10)
    monitor_returns = env.env_method("get_episode_rewards")
    expected = np.array([np.mean(r) for r in monitor_returns])
    np.testing.assert_allclose(model.last_selection.returns, expected)
    assert model.last_selection.finished.all()
    # undiscounted returns of a +1-per-step task with a 5-step limit
    assert np.all(model.last_selection.returns <= 5.0)
    # the buffer's rewards carry the bootstrap, so their column sums are not the returns
    column_sums = model.rollout_buffer.rewards.sum(axis=0)
    n_episodes = np.array([len(r) for r in monitor_returns])
    assert not np.allclose(column_sums, expected * n_episodes)


def test_discounted_returns_of_terminating_episodes():
    # the pendulum pays 1 per step and 0 at the step it falls, so an episode of Monitor return R has the
    # discounted return sum_{t<R} gamma^t = (1 - gamma^R) / (1 - gamma); episodes end by falling or at the limit
    env = ip_envs(max_episode_steps=5)
    model = MRPO(
        "MlpPolicy", env, uncertainty_set=IP_TRAIN, seed=0, **{**SMALL, "n_steps": 10, "batch_size": 20, "gamma": 0.8}
    )
    model.learn(4 * 10)
    expected = [np.mean([(1 - 0.8**r) / (1 - 0.8) for r in episodes]) for episodes in env.env_method("get_episode_rewards")]
    np.testing.assert_allclose(model.last_selection.returns, expected)
    assert model.last_selection.finished.all()
    # this seed has both: a pole that falls (length > return) and several episodes in one column
    lengths, returns = env.env_method("get_episode_lengths"), env.env_method("get_episode_rewards")
    assert any(n > r for ns, rs in zip(lengths, returns, strict=True) for n, r in zip(ns, rs, strict=True))


def test_unfinished_episode_is_estimated_by_its_running_return():
    # 3 steps per env: most episodes are still running at the end of the rollout (a short pole may fall at once)
    env = ip_envs()
    with pytest.warns(UserWarning, match="n_steps=3 is below the sub-envs' time limit of 1000 steps"):
        model = MRPO("MlpPolicy", env, uncertainty_set=IP_TRAIN, seed=0, **{**SMALL, "n_steps": 3, "batch_size": 12})
    logs = capture_logs(model)
    model.learn(12)
    selection = model.last_selection
    assert (~selection.finished).any() and selection.finished.any()  # this seed exercises both cases
    # running episodes: their discounted return so far, +1 per step survived
    np.testing.assert_allclose(selection.returns[~selection.finished], 1 + 0.99 + 0.99**2)
    episodes = env.env_method("get_episode_rewards")
    for i in np.flatnonzero(selection.finished):
        assert selection.returns[i] == pytest.approx(np.mean([(1 - 0.99**r) / (1 - 0.99) for r in episodes[i]]))
    assert logs.rows[-1]["robust/unfinished_fraction"] == pytest.approx(1.0 - selection.finished.mean())


# ---- n_steps -------------------------------------------------------------------------------------------
def test_n_steps_defaults_to_the_time_limit():
    assert EPOpt("MlpPolicy", constant_envs(), uncertainty_set=SCALES, **TINY).n_steps == CONSTANT_LIMIT
    assert MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, batch_size=100, device="cpu").n_steps == 1000
    assert (
        MRPO("MlpPolicy", ip_envs(max_episode_steps=50), uncertainty_set=IP_TRAIN, batch_size=100, device="cpu").n_steps == 50
    )
    # no time limit (made without a spec): PPO's default
    no_limit = make_vec_env(ConstantRewardEnv, n_envs=2)
    assert EPOpt("MlpPolicy", no_limit, uncertainty_set=SCALES, batch_size=64, device="cpu").n_steps == 2048
    # an explicit n_steps wins
    assert EPOpt("MlpPolicy", constant_envs(), uncertainty_set=SCALES, **{**TINY, "n_steps": 14}).n_steps == 14


def test_short_rollout_warns_and_the_default_does_not():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EPOpt("MlpPolicy", constant_envs(), uncertainty_set=SCALES, **TINY)
        EPOpt("MlpPolicy", constant_envs(), uncertainty_set=SCALES, **{**TINY, "n_steps": 14})
    with pytest.warns(UserWarning, match="n_steps=6 is below the sub-envs' time limit of 7 steps"):
        MRPO("MlpPolicy", constant_envs(n_envs=2), uncertainty_set=SCALES, **{**TINY, "n_steps": 6, "batch_size": 12})
    # set_env checks the new env's time limit too
    model = MRPO("MlpPolicy", ip_envs(max_episode_steps=16), uncertainty_set=IP_TRAIN, **SMALL)
    with pytest.warns(UserWarning, match="n_steps=16 is below the sub-envs' time limit of 1000 steps"):
        model.set_env(ip_envs())


def test_default_n_steps_keeps_sb3_batch_size_warning():
    # 7 steps x 2 envs = 14 transitions: a batch_size of 4 leaves a truncated minibatch, and SB3 says so
    with pytest.warns(UserWarning, match="truncated mini-batch of size 2"):
        model = EPOpt("MlpPolicy", constant_envs(n_envs=2), uncertainty_set=SCALES, **{**TINY, "batch_size": 4})
    assert model.n_steps == CONSTANT_LIMIT


# ---- kappa ---------------------------------------------------------------------------------------------
def test_kappa_ramp_values():
    ramp = KappaRamp(final=100.0, initial=10.0, ramp_fraction=0.5)
    assert ramp(1.0) == pytest.approx(10.0)
    assert ramp(0.75) == pytest.approx(55.0)
    assert ramp(0.5) == pytest.approx(100.0)
    assert ramp(0.0) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="ramp_fraction"):
        KappaRamp(ramp_fraction=0.0)
    with pytest.raises(ValueError, match="final"):
        KappaRamp(final=-1.0)


def test_kappa_schedule_is_followed():
    model = MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, kappa=KappaRamp(80.0, ramp_fraction=1.0), seed=0, **SMALL)
    logs = capture_logs(model)
    model.learn(4 * 4 * SMALL["n_steps"])
    # the 4th of 4 iterations selects at progress remaining 1/4 -> kappa = 80 * 3/4
    assert model.last_selection.kappa == pytest.approx(60.0)
    assert [row["robust/kappa"] for row in logs.rows] == pytest.approx([0.0, 20.0, 40.0, 60.0])


# ---- save/load and determinism -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "algo,kwargs",
    [(MRPO, {"kappa": 25.0}), (MRPO, {"return_estimate": "undiscounted"}), (EPOpt, {"worst_fraction": 0.25})],
)
def test_save_load(tmp_path, algo, kwargs):
    model = algo("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, seed=0, **kwargs, **SMALL)
    model.learn(4 * SMALL["n_steps"])
    model.save(tmp_path / "model")
    loaded = algo.load(tmp_path / "model", device="cpu")
    obs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.uncertainty_set == model.uncertainty_set
    assert loaded.worst_fraction == model.worst_fraction
    assert loaded.return_estimate == model.return_estimate == kwargs.get("return_estimate", "discounted")
    assert loaded.n_steps == SMALL["n_steps"]
    if algo is MRPO:
        assert loaded.kappa == model.kappa
    assert loaded.rollout_buffer_class is EnvMaskedRolloutBuffer
    # training continues with a new env
    loaded.set_env(ip_envs(seed=5))
    loaded.learn(4 * SMALL["n_steps"])
    assert loaded.last_selection is not None


def test_load_resolves_a_preset_name(tmp_path):
    # SB3's load sets keyword arguments as given (rl-zoo3's --trained-agent passes the YAML's): a name becomes the set
    MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, seed=0, **SMALL).save(tmp_path / "model")
    loaded = MRPO.load(tmp_path / "model", env=ip_envs(seed=1), uncertainty_set=IP_TRAIN, device="cpu")
    assert loaded.uncertainty_set == get_preset(IP_TRAIN)
    loaded.learn(2 * SMALL["n_steps"])


def test_determinism():
    def run():
        model = MRPO("MlpPolicy", ip_envs(seed=2), uncertainty_set=IP_TRAIN, seed=7, **SMALL)
        model.learn(3 * 4 * SMALL["n_steps"])
        return model

    a, b = run(), run()
    assert a.last_selection.settings == b.last_selection.settings
    np.testing.assert_array_equal(a.last_selection.returns, b.last_selection.returns)
    np.testing.assert_array_equal(a.last_selection.mask, b.last_selection.mask)
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert th.equal(p, q)


# ---- input errors --------------------------------------------------------------------------------------
def test_input_errors():
    with pytest.raises(ValueError, match="n_envs >= 2"):
        MRPO("MlpPolicy", ip_envs(n_envs=1), uncertainty_set=IP_TRAIN, **SMALL)
    with pytest.raises(ValueError, match="uncertainty_set"):
        MRPO("MlpPolicy", ip_envs(), **SMALL)
    with pytest.raises(ValueError, match="kappa"):
        MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, kappa=-1.0, **SMALL)
    with pytest.raises(ValueError, match="worst_fraction"):
        EPOpt("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, worst_fraction=0.0, **SMALL)
    with pytest.raises(ValueError, match="env-masked"):
        EPOpt("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, rollout_buffer_class=RolloutBuffer, **SMALL)
    with pytest.raises(ValueError, match="torso_density"):
        MRPO("MlpPolicy", ip_envs(), uncertainty_set=UncertaintySet.box(IP, {"torso_density": (1.0, 2.0)}), **SMALL)
    with pytest.raises(ValueError, match="Unknown preset"):
        MRPO("MlpPolicy", ip_envs(), uncertainty_set="jiang2021/pendulum/train", **SMALL)
    with pytest.raises(ValueError, match=r"return_estimate must be one of \('discounted', 'undiscounted'\), got 'mean'"):
        MRPO("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, return_estimate="mean", **SMALL)
    with pytest.raises(ValueError, match=r"return_estimate .* got None"):
        EPOpt("MlpPolicy", ip_envs(), uncertainty_set=IP_TRAIN, return_estimate=None, **SMALL)


# ---- learning -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_mrpo_learns_to_balance_across_the_training_range():
    # the demo's MRPO (robust_sb3.demo: keep_mass=True, 300k steps, n_steps of the time limit, seed 0) on the 4 x 4
    # grid of its own training range; a policy that has not learnt scores below 100.
    from robust_envs.evaluation import evaluate_robustness
    from robust_sb3.demo import ENV_KWARGS, Run, train

    threads = th.get_num_threads()
    th.set_num_threads(1)  # as the demo does; on a shared 2-core machine more threads only spin
    try:
        model = train(Run("robust", seed=0, timesteps=300_000, n_envs=16, episodes=2))
    finally:
        th.set_num_threads(threads)
    report = evaluate_robustness(model, IP, IP_TRAIN, n_episodes=2, seed=10_000, points=4, env_kwargs=ENV_KWARGS)
    assert report.mean >= 600.0


# ---- construction-time checks, persistent parameters, checked load (issue 12) -----------------------------------
@pytest.mark.parametrize("algo", [MRPO, EPOpt])
def test_sub_envs_that_randomise_their_own_parameters_are_refused(algo):
    randomised = make_domain_randomized_env(IP, IP_TRAIN, n_envs=2, seed=0)
    with pytest.raises(ValueError, match=r"sub-envs \[0, 1\] are wrapped in robust_envs\.wrappers\.DomainRandomization"):
        algo("MlpPolicy", randomised, uncertainty_set=IP_TRAIN, **SMALL)
    model = algo("MlpPolicy", ip_envs(n_envs=2), uncertainty_set=IP_TRAIN, **SMALL)
    kept = model.env
    with pytest.raises(ValueError, match="DomainRandomization"):
        model.set_env(randomised)
    assert model.env is kept  # refused before the model took it


def test_unnamed_parameters_keep_the_persistent_values_set_before_training():
    # the set names only `scale`; `tilt` was set persistently after construction (not in the spec's kwargs)
    env = constant_envs(n_envs=2)
    env.env_method("set_params", {"tilt": 0.7})
    scale_only = UncertaintySet.box(CONSTANT, {"scale": (1.0, 2.0)})
    model = EPOpt("MlpPolicy", env, uncertainty_set=scale_only, seed=0, **TINY)
    model.learn(2 * 2 * CONSTANT_LIMIT)
    assert [params["tilt"] for params in env.get_attr("params")] == [0.7, 0.7]
    assert [params["scale"] for params in env.get_attr("params")] == pytest.approx(scales(model.last_selection).tolist())


def test_unnamed_parameters_keep_the_values_the_envs_were_made_with():
    env = make_vec_env(CONSTANT, n_envs=2, seed=0, env_kwargs={"params": {"tilt": 0.3}})
    model = MRPO("MlpPolicy", env, uncertainty_set=UncertaintySet.box(CONSTANT, {"scale": (1.0, 2.0)}), seed=0, **TINY)
    model.learn(2 * 2 * CONSTANT_LIMIT)
    assert [params["tilt"] for params in env.get_attr("params")] == [0.3, 0.3]


def test_load_refuses_another_algorithms_file(tmp_path):
    MRPO("MlpPolicy", ip_envs(n_envs=2), uncertainty_set=IP_TRAIN, **SMALL).save(tmp_path / "mrpo")
    with pytest.raises(ValueError, match=r"Cannot load EPOpt from '.*mrpo': the file was saved by MRPO, not EPOpt"):
        EPOpt.load(tmp_path / "mrpo")
    PPO("MlpPolicy", ip_envs(n_envs=2), **SMALL).save(tmp_path / "ppo")
    with pytest.raises(ValueError, match=r"Cannot load MRPO from '.*ppo': the file was not saved by MRPO \(it lacks"):
        MRPO.load(tmp_path / "ppo")
    with pytest.raises(ValueError, match="DomainRandomization"):
        MRPO.load(tmp_path / "mrpo", env=make_domain_randomized_env(IP, IP_TRAIN, n_envs=2, seed=0))
