"""
RAMBO on the device it is given (issue 15: "everything runs with ``device="cuda"`` too").

Each test runs on the CPU everywhere and on CUDA where torch sees a GPU (skipped otherwise: CI has none). The CPU
run checks the test itself; the CUDA run is the check a machine with a GPU gives. Bit-for-bit equality is asked
only between two copies of the same weights: a CUDA run is not bit-reproducible (atomic adds in index backward).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")

import torch as th

import robust_envs  # noqa: F401  (registers the ids)
import robust_envs.datasets as rd
from robust_envs.evaluation import evaluate_robustness
from robust_sb3 import RAMBO
from robust_sb3.rambo import rambo_preset

pytestmark = pytest.mark.sb3

PENDULUM = "RobustPendulum-v0"
STEPS = 100
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not th.cuda.is_available(), reason="needs a CUDA GPU")),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small networks on a shared 2-core machine: one torch thread avoids oversubscription."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


@pytest.fixture(scope="module")
def pendulum_episodes() -> rd.Episodes:
    env = gym.make(PENDULUM)
    return rd.collect(
        PENDULUM, rd.UniformRandomPolicy(env.action_space, 0), 400, seed=0, env_kwargs={"max_episode_steps": STEPS}
    )


def _env() -> gym.Env:
    return gym.make(PENDULUM, max_episode_steps=STEPS)


def _tensors_off(device: str, named: dict[str, th.Tensor]) -> list[str]:
    # fields a sample does not fill (SB3's optional ``discounts``) are None
    return [name for name, tensor in named.items() if tensor is not None and tensor.device.type != device]


@pytest.mark.parametrize("device", DEVICES)
def test_training_keeps_every_tensor_on_the_models_device(pendulum_episodes, device):
    model = RAMBO("MlpPolicy", _env(), pendulum_episodes, **rambo_preset("rambo/smoke", seed=0, device=device))
    model.learn(100)  # two epochs: MLE fit, BC warm start, rollouts, SAC updates, adversary phases
    assert model.device.type == device and model._adversary_epochs == 2 and model.replay_buffer.n_model > 0
    named = {
        **{f"policy.{k}": v for k, v in model.policy.state_dict().items()},
        **{f"ensemble.{k}": v for k, v in model.ensemble.state_dict().items()},
        **{f"real.{k}": v for k, v in model.replay_buffer.real._asdict().items()},
        "log_ent_coef": model.log_ent_coef,
    }
    assert _tensors_off(device, named) == []
    assert model.ensemble.generator.device.type == device
    batch = model.replay_buffer.sample(8)
    assert _tensors_off(device, batch._asdict()) == []
    obs = np.array([[0.3, -0.2], [1.0, 2.0]], dtype=np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (2, 1) and np.isfinite(actions).all()
    report = evaluate_robustness(model, PENDULUM, {"mass": [0.8, 1.2]}, n_episodes=1, max_episode_steps=20)
    assert np.isfinite(report.returns).all()


@pytest.mark.parametrize("device", DEVICES)
def test_a_model_saved_on_its_device_loads_on_the_cpu(pendulum_episodes, tmp_path, device):
    model = RAMBO("MlpPolicy", _env(), pendulum_episodes, **rambo_preset("rambo/smoke", seed=0, device=device))
    model.learn(50)
    model.save(tmp_path / "rambo")
    loaded = RAMBO.load(tmp_path / "rambo", env=_env(), device="cpu")
    assert loaded.device.type == "cpu" and loaded.ensemble.generator.device.type == "cpu"
    for ours, theirs in ((model.policy, loaded.policy), (model.ensemble, loaded.ensemble)):
        saved, restored = ours.state_dict(), theirs.state_dict()
        assert saved.keys() == restored.keys()
        for key in saved:
            assert restored[key].device.type == "cpu", key
            th.testing.assert_close(saved[key].cpu(), restored[key], rtol=0, atol=0, msg=key)
    # the loaded model trains on: the dataset set again, one more epoch on the CPU
    loaded.set_dataset(pendulum_episodes)
    loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 100
