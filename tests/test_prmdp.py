"""PR-MDP (Tessler et al. 2019): the action-mixing wrappers (exact execution, the binomial fraction, seeded draws,
torch-free), the trainer's run, save/load, determinism and bad arguments."""

from __future__ import annotations

import math
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import robust_envs  # noqa: F401
from robust_envs.action_robust import (
    ADVERSARY_ACTED,
    EXECUTED_ACTION,
    ProbabilisticActionAdversary,
    ProbabilisticActionRobust,
)

PENDULUM = "RobustPendulum-v0"
CART_POLE = "RobustInvertedPendulum-v0"
ADVERSARY_ACTION = np.array([-0.7], dtype=np.float32)
PROTAGONIST_ACTION = np.array([0.4], dtype=np.float32)


def constant(action: np.ndarray):
    return lambda observation: action.copy()


def agent_actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)


# ---- the wrappers (torch-free) -----------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_protagonist_view_executes_exactly_one_players_action(alpha):
    env = ProbabilisticActionRobust(gym.make(PENDULUM), constant(ADVERSARY_ACTION), alpha=alpha)
    twin = gym.make(PENDULUM)
    observation, _ = env.reset(seed=7)
    expected, _ = twin.reset(seed=7)
    np.testing.assert_array_equal(observation, expected)
    for action in agent_actions(25):
        observation, reward, *_, info = env.step(action)
        executed = ADVERSARY_ACTION if alpha == 1.0 else action
        expected, expected_reward, *_ = twin.step(executed)
        assert info[ADVERSARY_ACTED] is (alpha == 1.0)
        np.testing.assert_array_equal(info[EXECUTED_ACTION], executed)
        np.testing.assert_array_equal(observation, expected)
        assert reward == expected_reward


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_adversary_view_executes_exactly_one_players_action_and_negates_the_reward(alpha):
    env = ProbabilisticActionAdversary(gym.make(PENDULUM), constant(PROTAGONIST_ACTION), alpha=alpha)
    twin = gym.make(PENDULUM)
    env.reset(seed=3)
    twin.reset(seed=3)
    for action in agent_actions(25, seed=1):
        observation, reward, *_, info = env.step(action)
        executed = action if alpha == 1.0 else PROTAGONIST_ACTION
        expected, expected_reward, *_ = twin.step(executed)
        assert info[ADVERSARY_ACTED] is (alpha == 1.0)
        np.testing.assert_array_equal(info[EXECUTED_ACTION], executed)
        np.testing.assert_array_equal(observation, expected)
        assert reward == -expected_reward


@pytest.mark.parametrize("view", [ProbabilisticActionRobust, ProbabilisticActionAdversary])
@pytest.mark.parametrize("alpha", [0.1, 0.35])
def test_adversary_fraction_is_binomial(view, alpha):
    n = 4000
    env = view(gym.make(PENDULUM, max_episode_steps=n), constant(ADVERSARY_ACTION), alpha=alpha)
    env.reset(seed=11)
    acted = [env.step(PROTAGONIST_ACTION)[-1][ADVERSARY_ACTED] for _ in range(n)]
    # five standard deviations of the binomial fraction: fails by chance with probability below 1e-6
    assert abs(np.mean(acted) - alpha) <= 5 * math.sqrt(alpha * (1 - alpha) / n)
    # and the draws are not stuck in runs: the lag-1 correlation of independent draws is about 0
    a = np.asarray(acted, dtype=float)
    assert abs(np.corrcoef(a[1:], a[:-1])[0, 1]) < 5 / math.sqrt(n)


def draws(env: gym.Env, n: int = 200) -> list[bool]:
    return [env.step(PROTAGONIST_ACTION)[-1][ADVERSARY_ACTED] for _ in range(n)]


def test_draws_are_seeded_by_reset():
    def make():
        return ProbabilisticActionRobust(gym.make(PENDULUM), constant(ADVERSARY_ACTION), alpha=0.5)

    first, second = make(), make()
    first.reset(seed=5)
    second.reset(seed=5)
    sequence = draws(first)
    assert sequence == draws(second)
    second.reset(seed=6)
    assert draws(second) != sequence
    # a reset without a seed continues the stream: the next episode's draws are not the seed's first ones again
    first.reset()
    assert draws(first) != sequence
    first.reset(seed=5)
    assert draws(first) == sequence


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), float("inf")])
def test_alpha_outside_the_unit_interval_is_refused(alpha):
    env = gym.make(PENDULUM)
    for view in (ProbabilisticActionRobust, ProbabilisticActionAdversary):
        with pytest.raises(ValueError, match=rf"alpha must be a probability in \[0, 1\].*got {alpha!r}"):
            view(env, constant(ADVERSARY_ACTION), alpha=alpha)
    env.reset(seed=0)  # untouched
    env.step(PROTAGONIST_ACTION)


@pytest.mark.parametrize("alpha", [True, "0.1", None])
def test_alpha_that_is_not_a_number_is_refused(alpha):
    with pytest.raises(TypeError, match=rf"alpha must be a probability, a number in \[0, 1\], got {alpha!r}"):
        ProbabilisticActionRobust(gym.make(PENDULUM), constant(ADVERSARY_ACTION), alpha=alpha)


def test_bad_players_and_envs_are_refused():
    with pytest.raises(TypeError, match="policy must be callable"):
        ProbabilisticActionRobust(gym.make(PENDULUM), 3.0, alpha=0.1)
    with pytest.raises(TypeError, match="wraps a Gymnasium env"):
        ProbabilisticActionAdversary("RobustPendulum-v0", constant(PROTAGONIST_ACTION), alpha=0.1)
    env = ProbabilisticActionRobust(gym.make(PENDULUM), constant(np.zeros(3)), alpha=1.0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(PROTAGONIST_ACTION)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(1,\)"):
        env.step(PROTAGONIST_ACTION)


def test_the_wrappers_import_no_torch():
    heavy = ("torch", "stable_baselines3")
    code = f"import sys, robust_envs.action_robust; sys.exit(int(any(m in sys.modules for m in {heavy!r})))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---- the trainer -------------------------------------------------------------------------------------------------
try:  # the wrappers' tests above run without the [sb3] extra
    import torch as th
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import KVWriter, Logger

    from robust_sb3 import PRMDP, RARL
except ImportError:  # pragma: no cover
    th = None
    BaseCallback = KVWriter = object  # type: ignore[assignment,misc]

# the trainer tests need torch and SB3: marked, so the torch-free runs (-m "not sb3") deselect them and a run that
# has them never skips them (a missing SB3 fails there instead of hiding)
needs_sb3 = pytest.mark.sb3

N_STEPS = 32
SMALL = {"n_steps": N_STEPS, "batch_size": N_STEPS, "n_epochs": 1, "policy_kwargs": {"net_arch": [16]}}


@pytest.fixture(scope="module")
def one_torch_thread():
    # on a shared 2-core machine more threads only spin (a tiny backward pass takes 100x longer)
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def make_prmdp(env=PENDULUM, **kwargs) -> PRMDP:
    settings = {"alpha": 0.3, "protagonist_kwargs": SMALL, "seed": 0, "device": "cpu"}
    settings.update(kwargs)
    return PRMDP("MlpPolicy", env, **settings)


class Capture(KVWriter):
    def __init__(self) -> None:
        self.dumps: list[dict] = []

    def write(self, key_values, key_excluded, step=0) -> None:
        self.dumps.append(dict(key_values))

    def close(self) -> None:
        pass


class ActedRecorder(BaseCallback):
    """The protagonist's steps' ``adversary_acted`` draws."""

    def __init__(self) -> None:
        super().__init__()
        self.acted: list[bool] = []

    def _on_step(self) -> bool:
        self.acted.extend(info[ADVERSARY_ACTED] for info in self.locals["infos"])
        return True


def parameters(model: PPO) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in model.policy.state_dict().items()}


def assert_same_parameters(a: PPO, b: PPO) -> None:
    pa, pb = parameters(a), parameters(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        np.testing.assert_array_equal(pa[name], pb[name], err_msg=name)


@pytest.mark.sb3
@needs_sb3
def test_run(one_torch_thread):
    model = make_prmdp()
    capture = Capture()
    model.set_logger(Logger(None, [capture]))
    before = parameters(model.adversary)
    recorder = ActedRecorder()
    model.learn(2 * N_STEPS, callback=recorder)
    assert model.adversary_action_space == model.action_space == gym.make(PENDULUM).action_space
    assert model.num_timesteps == model.adversary_timesteps == 2 * N_STEPS
    assert len(recorder.acted) == 2 * N_STEPS
    assert any(not np.array_equal(before[name], value) for name, value in parameters(model.adversary).items())
    logged = capture.dumps[-1]
    for key in ("train/loss", "prmdp/adversary/loss", "prmdp/adversary_timesteps", "time/iterations"):
        assert key in logged, key
    # the logged fraction is the second iteration's protagonist steps' draws
    assert logged["prmdp/adversary_fraction"] == pytest.approx(np.mean(recorder.acted[N_STEPS:]))


@pytest.mark.sb3
@needs_sb3
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_trainer_views_execute_exactly_the_drawn_players_action(one_torch_thread, alpha):
    model = make_prmdp(CART_POLE, alpha=alpha, deterministic_opponent=True)
    twin = gym.make(CART_POLE)
    for view, learner in ((model.env.envs[0], "protagonist"), (model.adversary_env.envs[0], "adversary")):
        observation, _ = view.reset(seed=2)
        twin.reset(seed=2)
        action = np.array([0.9], dtype=np.float32)
        adversary_action = model.adversary.predict(observation, deterministic=True)[0]
        protagonist_action = model.protagonist.predict(observation, deterministic=True)[0]
        next_observation, reward, *_, info = view.step(action)
        if learner == "protagonist":
            executed = adversary_action if alpha == 1.0 else action
        else:
            executed = action if alpha == 1.0 else protagonist_action
        expected, expected_reward, *_ = twin.step(executed)
        assert info[ADVERSARY_ACTED] is (alpha == 1.0)
        np.testing.assert_array_equal(info[EXECUTED_ACTION], executed)
        np.testing.assert_array_equal(next_observation, expected)
        assert reward == (expected_reward if learner == "protagonist" else -expected_reward)


@pytest.mark.sb3
@needs_sb3
def test_save_load(one_torch_thread, tmp_path):
    model = make_prmdp(alpha=0.2)
    model.learn(N_STEPS)
    model.save(tmp_path / "prmdp")
    loaded = PRMDP.load(tmp_path / "prmdp", env=PENDULUM, device="cpu")
    assert loaded.alpha == 0.2 and loaded.env.envs[0].get_wrapper_attr("alpha") == 0.2
    assert_same_parameters(model.protagonist, loaded.protagonist)
    assert_same_parameters(model.adversary, loaded.adversary)
    observations = np.array([[0.1, -0.5], [3.0, 2.0], [-1.0, 0.0]])
    for a, b in ((model, loaded), (model.adversary, loaded.adversary)):
        np.testing.assert_array_equal(
            a.predict(observations, deterministic=True)[0], b.predict(observations, deterministic=True)[0]
        )
    loaded.learn(N_STEPS, reset_num_timesteps=False)
    assert loaded.num_timesteps == 2 * N_STEPS
    RARL("MlpPolicy", PENDULUM, protagonist_kwargs=SMALL, device="cpu").save(tmp_path / "rarl.zip")
    with pytest.raises(ValueError, match="saved by RARL, not PRMDP"):
        PRMDP.load(tmp_path / "rarl.zip")
    with pytest.raises(ValueError, match="saved by PRMDP, not RARL"):
        RARL.load(tmp_path / "prmdp.zip")


@pytest.mark.sb3
@needs_sb3
def test_determinism(one_torch_thread):
    def run(seed: int) -> tuple[PRMDP, list[bool]]:
        recorder = ActedRecorder()
        return make_prmdp(seed=seed).learn(N_STEPS, callback=recorder), recorder.acted

    (first, acted), (second, acted_again), (_, other_acted) = run(3), run(3), run(4)
    assert_same_parameters(first.protagonist, second.protagonist)
    assert_same_parameters(first.adversary, second.adversary)
    assert acted == acted_again  # the mixture's draws come from the sub-envs' reset seeds
    assert acted != other_acted


@pytest.mark.sb3
@needs_sb3
@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"alpha": 1.2}, ValueError, r"PRMDP: alpha must be a probability in \[0, 1\].*got 1\.2"),
        ({"alpha": -0.5}, ValueError, r"got -0\.5"),
        ({"alpha": "0.1"}, TypeError, r"got '0\.1'"),
        ({"n_protagonist_updates": 0}, ValueError, r"n_protagonist_updates must be an int >= 1, got 0"),
        ({"n_adversary_updates": 0}, ValueError, r"n_adversary_updates must be an int >= 1, got 0"),
        ({"protagonist_kwargs": {"n_steps": 1, "batch_size": 2}}, ValueError, r"n_steps \* n_envs = 1 \* 1 = 1"),
    ],
)
def test_bad_arguments_are_refused(one_torch_thread, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        make_prmdp(**kwargs)
