"""RARL (Pinto et al. 2017): a short run, Algorithm 1's alternation, the adversary's force in the dynamics, save/load,
determinism and bad arguments."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

th = pytest.importorskip("torch")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.logger import KVWriter, Logger  # noqa: E402

import robust_envs  # noqa: E402, F401
from robust_envs.disturbance import DISTURBANCE_KEY  # noqa: E402
from robust_envs.wrappers import ForceDisturbance  # noqa: E402
from robust_sb3 import PRMDP, RARL  # noqa: E402
from robust_sb3.rarl import PINTO2017_BODIES  # noqa: E402

pytestmark = pytest.mark.sb3

CART_POLE = "RobustInvertedPendulum-v0"
PENDULUM = "RobustPendulum-v0"
N_STEPS = 32
SMALL = {"n_steps": N_STEPS, "batch_size": N_STEPS, "n_epochs": 1, "policy_kwargs": {"net_arch": [16]}}
FORCE = {"max_force": 1.0}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # on a shared 2-core machine more threads only spin (a tiny backward pass takes 100x longer)
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def make_rarl(env=CART_POLE, **kwargs) -> RARL:
    settings = {"disturbance_kwargs": FORCE, "protagonist_kwargs": SMALL, "seed": 0, "device": "cpu"}
    settings.update(kwargs)
    return RARL("MlpPolicy", env, **settings)


class Capture(KVWriter):
    """The logger's dumps, as dicts."""

    def __init__(self) -> None:
        self.dumps: list[dict] = []

    def write(self, key_values, key_excluded, step=0) -> None:
        self.dumps.append(dict(key_values))

    def close(self) -> None:
        pass


class StepRecorder(BaseCallback):
    """Records, at every protagonist step, the model's step counts."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []
        self.rollouts = 0

    def _on_rollout_start(self) -> None:
        self.rollouts += 1

    def _on_step(self) -> bool:
        self.seen.append((self.num_timesteps, self.model.adversary_timesteps))
        return True


def parameters(model: PPO) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in model.policy.state_dict().items()}


def assert_same_parameters(a: PPO, b: PPO) -> None:
    pa, pb = parameters(a), parameters(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        np.testing.assert_array_equal(pa[name], pb[name], err_msg=name)


def test_run():
    model = make_rarl()
    capture = Capture()
    model.set_logger(Logger(None, [capture]))
    protagonist_before, adversary_before = parameters(model.protagonist), parameters(model.adversary)
    recorder = StepRecorder()
    model.learn(2 * N_STEPS, callback=recorder)
    assert isinstance(model.protagonist, PPO) and isinstance(model.adversary, PPO)
    assert model.policy is model.protagonist.policy
    # total_timesteps counts the protagonist's steps; the adversary took as many (same n_steps, N_mu = N_nu = 1)
    assert model.num_timesteps == 2 * N_STEPS
    assert model.adversary_timesteps == 2 * N_STEPS
    assert recorder.n_calls == model.num_timesteps and recorder.rollouts == 2
    assert recorder.seen[-1][0] == model.num_timesteps
    # both players learned
    for before, player in ((protagonist_before, model.protagonist), (adversary_before, model.adversary)):
        assert any(not np.array_equal(before[name], value) for name, value in parameters(player).items())
    logged = capture.dumps[-1]
    for key in (
        "train/loss",
        "rarl/adversary/loss",
        "rarl/adversary_timesteps",
        "rarl/adversary_ep_rew_mean",
        "time/iterations",
    ):
        assert key in logged, key
    assert logged["time/iterations"] == 2
    # the adversary's forces were applied: each component within max_force, so the norm within sqrt(2) max_force
    assert 0.0 < logged["rarl/disturbance_norm"] <= np.sqrt(2) * FORCE["max_force"] + 1e-9
    assert model.adversary_action_space.shape == (2 * len(PINTO2017_BODIES[CART_POLE]),)
    observation = model.env.reset()
    np.testing.assert_array_equal(
        model.predict(observation, deterministic=True)[0], model.protagonist.predict(observation, deterministic=True)[0]
    )


def test_env_with_its_own_channel_and_several_sub_envs():
    model = make_rarl(PENDULUM, disturbance_kwargs=None, n_envs=2)
    assert model.adversary_action_space == gym.make(PENDULUM).unwrapped.disturbance_space
    assert model.env.num_envs == 2 and model.adversary_env.num_envs == 2
    model.learn(N_STEPS)
    assert model.num_timesteps == 2 * N_STEPS  # one rollout of n_steps on each of the 2 sub-envs


def test_a_users_env_already_wrapped_in_force_disturbance():
    user_env = ForceDisturbance(gym.make(CART_POLE), "pole", max_force=2.0)
    model = make_rarl(user_env, disturbance_kwargs=None)
    np.testing.assert_array_equal(model.adversary_action_space.high, [2.0, 2.0])
    # the user's env serves the protagonist; the adversary's view runs on a copy of it
    assert model.env.envs[0].unwrapped is user_env.unwrapped
    assert model.adversary_env.envs[0].unwrapped is not user_env.unwrapped
    model.learn(N_STEPS)


def test_algorithm_1_alternation():
    """N_mu protagonist updates against the fixed adversary, then N_nu adversary updates, per iteration."""
    model = make_rarl(n_protagonist_updates=2, n_adversary_updates=3)
    recorder = StepRecorder()
    model.learn(3 * N_STEPS, callback=recorder)  # the second iteration reaches the budget
    assert model.num_timesteps == 2 * 2 * N_STEPS
    assert model.adversary_timesteps == 2 * 3 * N_STEPS
    assert model.protagonist._n_updates == 2 * 2 and model.adversary._n_updates == 2 * 3  # n_epochs = 1
    # the first iteration's protagonist steps all come before any adversary step, the second's after three updates
    adversary_seen = [adversary for _, adversary in recorder.seen]
    assert adversary_seen == [0] * (2 * N_STEPS) + [3 * N_STEPS] * (2 * N_STEPS)


def test_a_callback_can_stop_training_within_the_protagonists_phase():
    class StopAfter(BaseCallback):
        def _on_step(self) -> bool:
            return self.n_calls < 5

    model = make_rarl()
    callback = StopAfter()
    model.learn(4 * N_STEPS, callback=callback)
    assert model.num_timesteps == 5 and model.adversary_timesteps == 0
    assert callback.num_timesteps == 5


def test_adversary_force_reaches_the_dynamics():
    """A constant adversary force changes the next velocity by what Newton's law predicts, through the protagonist's view."""
    model = make_rarl(deterministic_opponent=True)
    view = model.env.envs[0]  # Monitor(DisturbedByPolicy(ForceDisturbance(...)))
    action_net = model.adversary.policy.action_net
    force = np.array([0.8, 0.0])  # horizontal push on the pole's centre of mass (N), inside max_force

    def next_observation(bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        with th.no_grad():  # the adversary's mean action is its bias: a constant disturbance
            action_net.weight.zero_()
            action_net.bias.copy_(th.as_tensor(bias))
        start, _ = view.reset(seed=0)
        observation, _, _, _, info = view.step(np.array([0.3], dtype=np.float32))
        return start, observation, info

    start, pushed, info = next_observation(force)
    np.testing.assert_allclose(info[DISTURBANCE_KEY], force)
    # the model is held by reference: changing it after the views were built changes the disturbance
    start_again, free, info_free = next_observation(np.zeros(2))
    np.testing.assert_array_equal(start, start_again)
    np.testing.assert_array_equal(info_free[DISTURBANCE_KEY], [0.0, 0.0])
    # first order in the env's time step dt: delta qvel = dt * M(q)^-1 J(q)^T f, with J the Jacobian of the pole's
    # centre of mass (x and z rows), at the start state
    base = view.unwrapped
    base.set_state(start[:2], start[2:])
    m, d = base.model, base.data
    inertia = np.zeros((m.nv, m.nv))
    mujoco.mj_fullM(m, d, inertia)
    jacobian, _ = np.zeros((3, m.nv)), np.zeros((3, m.nv))
    mujoco.mj_jacBodyCom(m, d, jacobian, _, m.body("pole").id)
    predicted = base.dt * np.linalg.solve(inertia, jacobian[[0, 2]].T @ force)
    measured = (pushed - free)[2:]  # the observation is (qpos, qvel)
    np.testing.assert_allclose(measured, predicted, rtol=0.1)
    assert np.abs(measured).max() > 1e-3  # measurable


def test_adversary_view_applies_its_action_and_negates_the_reward():
    model = make_rarl(deterministic_opponent=True)
    view = model.adversary_env.envs[0]  # Monitor(DisturberEnv(ForceDisturbance(...)))
    twin = ForceDisturbance(gym.make(CART_POLE), "pole", max_force=1.0)
    observation, _ = view.reset(seed=1)
    twin.reset(seed=1)
    w = np.array([0.5, -0.25], dtype=np.float32)
    protagonist_action = model.protagonist.predict(observation, deterministic=True)[0]
    next_observation, reward, *_, info = view.step(w)
    twin.set_disturbance(w)
    expected, twin_reward, *_ = twin.step(protagonist_action)
    np.testing.assert_allclose(info[DISTURBANCE_KEY], w)
    np.testing.assert_array_equal(next_observation, expected)
    assert reward == -twin_reward


def test_save_load(tmp_path):
    model = make_rarl()
    model.learn(N_STEPS)
    path = tmp_path / "rarl.zip"
    model.save(path)
    loaded = RARL.load(path, env=CART_POLE, device="cpu")
    for a, b in ((model.protagonist, loaded.protagonist), (model.adversary, loaded.adversary)):
        assert_same_parameters(a, b)
        saved_state, loaded_state = a.policy.optimizer.state_dict()["state"], b.policy.optimizer.state_dict()["state"]
        assert saved_state.keys() == loaded_state.keys()
        for key in saved_state:
            np.testing.assert_array_equal(saved_state[key]["exp_avg"].numpy(), loaded_state[key]["exp_avg"].numpy())
    assert (loaded.num_timesteps, loaded.adversary_timesteps) == (model.num_timesteps, model.adversary_timesteps)
    assert loaded.disturbance_kwargs == FORCE and loaded.protagonist.n_steps == N_STEPS
    observations = np.stack([model.env.reset()[0], np.linspace(-0.1, 0.1, 4)])
    for a, b in ((model, loaded), (model.adversary, loaded.adversary)):
        np.testing.assert_array_equal(
            a.predict(observations, deterministic=True)[0], b.predict(observations, deterministic=True)[0]
        )
    loaded.learn(N_STEPS, reset_num_timesteps=False)
    assert loaded.num_timesteps == model.num_timesteps + N_STEPS
    # without an env: enough to predict, not to learn
    bare = RARL.load(path, device="cpu")
    np.testing.assert_array_equal(
        bare.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0]
    )
    with pytest.raises(ValueError, match="no env"):
        bare.learn(N_STEPS)


def test_load_refuses_other_algorithms_files(tmp_path):
    ppo = PPO("MlpPolicy", make_vec_env(CART_POLE, n_envs=1), n_steps=N_STEPS, batch_size=N_STEPS, device="cpu")
    ppo.save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match="not saved by RARL"):
        RARL.load(tmp_path / "ppo.zip")
    make_rarl().save(tmp_path / "rarl.zip")
    with pytest.raises(ValueError, match="saved by RARL, not PRMDP"):
        PRMDP.load(tmp_path / "rarl.zip")


def test_determinism():
    # as for SB3's algorithms, the seed fixes a run that is built and trained in one go (the generators are global)
    first, second, other = (make_rarl(seed=seed).learn(N_STEPS) for seed in (3, 3, 4))
    assert_same_parameters(first.protagonist, second.protagonist)
    assert_same_parameters(first.adversary, second.adversary)
    with pytest.raises(AssertionError):
        assert_same_parameters(first.protagonist, other.protagonist)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"n_protagonist_updates": 0}, ValueError, r"n_protagonist_updates must be an int >= 1, got 0"),
        ({"n_protagonist_updates": 1.5}, ValueError, r"n_protagonist_updates.*1\.5"),
        ({"n_adversary_updates": -1}, ValueError, r"n_adversary_updates must be an int >= 1, got -1"),
        ({"n_adversary_updates": True}, ValueError, r"n_adversary_updates.*True"),
        ({"n_envs": 0}, ValueError, r"n_envs must be an int >= 1, got 0"),
        ({"protagonist_kwargs": {"n_steps": 0}}, ValueError, r"protagonist_kwargs: n_steps must be an int >= 1, got 0"),
        ({"adversary_kwargs": {"gamma": 1.5}}, ValueError, r"adversary_kwargs: gamma .* got 1\.5"),
        ({"protagonist_kwargs": {"seed": 1}}, ValueError, r"protagonist_kwargs may not set \['seed'\]"),
        ({"protagonist_kwargs": {"n_step": 8}}, ValueError, r"\['n_step'\], which are not PPO arguments"),
        ({"protagonist_kwargs": [8]}, TypeError, r"protagonist_kwargs must be a dict"),
        ({"disturbance_kwargs": {"bodies": ["pole"]}}, ValueError, r"needs 'max_force'"),
        ({"disturbance_kwargs": {"max_force": 1.0, "body": "pole"}}, ValueError, r"unknown keys \['body'\]"),
        ({"disturbance_kwargs": {"bodies": ["tail"], "max_force": 1.0}}, ValueError, r"Unknown bodies \['tail'\]"),
        ({"disturbance_kwargs": {"max_force": -2.0}}, ValueError, r"max_force must be positive.*-2\.0"),
        ({"disturbance_kwargs": None}, ValueError, r"has none; pass disturbance_kwargs=.*\['pole'\]"),
        ({"adversary_policy": "LstmPolicy"}, ValueError, r"adversary_policy 'LstmPolicy' is not one of PPO's policies"),
        ({"deterministic_opponent": "yes"}, TypeError, r"deterministic_opponent must be a bool, got 'yes'"),
        ({"env": 42}, TypeError, r"env must be a registered env id.*42"),
        ({"env": "RobustNothing-v0"}, ValueError, r"cannot make env 'RobustNothing-v0'"),
        ({"env": PENDULUM}, ValueError, r"already has a disturbance channel"),
        ({"env": "RobustInvertedDoublePendulum-v0"}, ValueError, r"no 'bodies' and env 'RobustInvertedDoublePendulum-v0'"),
        ({"env": None}, ValueError, r"needs an env"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        make_rarl(**kwargs)


def test_refusals_change_nothing():
    user_env = gym.make(CART_POLE)
    with pytest.raises(ValueError, match="has none"):
        make_rarl(user_env, disturbance_kwargs=None)
    user_env.reset(seed=0)  # the user's env is neither closed nor wrapped
    user_env.step(user_env.action_space.sample())
    with pytest.raises(TypeError, match="VecEnv"):
        make_rarl(make_vec_env(CART_POLE))
    with pytest.raises(ValueError, match="env_kwargs"):
        make_rarl(user_env, env_kwargs={"params": {"pole_length": 1.0}})

    model = make_rarl(ForceDisturbance(gym.make(CART_POLE), "pole", max_force=1.0), disturbance_kwargs=None)
    env, adversary_env = model.env, model.adversary_env
    other = ForceDisturbance(gym.make("RobustInvertedDoublePendulum-v0"), "pole", max_force=1.0)
    with pytest.raises(ValueError, match="observation space"):
        model.set_env(other)
    assert model.env is env and model.adversary_env is adversary_env
    other.reset(seed=0)  # still open
