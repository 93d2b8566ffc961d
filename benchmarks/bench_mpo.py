"""
Cost of one gradient step: R-MPO with K = 3 models vs MPO (K = 1), and MPO vs Stable-Baselines3's SAC.

Both sides of each ratio train on buffers filled from the same env, with the same batch size and hidden layers,
``torch.set_num_threads(1)``; the sides alternate (A, B, A, B, ...) and each side's figure is its best round
of CPU time per gradient step (``time.process_time``: other jobs on the machine steal wall time, not CPU time).
MPO runs with the networks SAC uses for the second ratio (ReLU, no layer norm); SAC keeps its two critics.

Run: ``python -m benchmarks.bench_mpo --rounds 7 --steps 20``
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import SAC

import robust_envs  # noqa: F401
from robust_envs import PerturbedTransitions
from robust_sb3 import MPO

MASSES = [{"mass": 1.0}, {"mass": 1.1}, {"mass": 1.4}]


def filled(model_factory, fill: int):
    model = model_factory()
    model.learn(fill)  # learning_starts = fill: only collects
    return model


def per_step_cpu(model, steps: int, batch_size: int) -> float:
    start = time.process_time()
    model.train(gradient_steps=steps, batch_size=batch_size)
    return (time.process_time() - start) / steps


def compare(name_a: str, a, name_b: str, b, rounds: int, steps: int, batch_size: int) -> dict:
    times: dict[str, list[float]] = {name_a: [], name_b: []}
    for _ in range(rounds):
        times[name_a].append(per_step_cpu(a, steps, batch_size))
        times[name_b].append(per_step_cpu(b, steps, batch_size))
    best = {k: min(v) for k, v in times.items()}
    return {
        f"{name_a}_ms": 1000 * best[name_a],
        f"{name_b}_ms": 1000 * best[name_b],
        "ratio": best[name_a] / best[name_b],
        "median_ratio": float(np.median(times[name_a]) / np.median(times[name_b])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20, help="gradient steps per round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[256, 256])
    args = parser.parse_args()
    th.set_num_threads(1)
    fill = 2 * args.batch_size
    common = dict(learning_starts=fill, batch_size=args.batch_size, seed=0, device="cpu")

    def mpo(robust: bool, **policy_kwargs):
        env = gym.make("RobustPendulum-v0", max_episode_steps=200)
        if robust:
            env = PerturbedTransitions(env, MASSES)
        return MPO(
            "MlpPolicy",
            env,
            robustness="robust" if robust else "none",
            policy_kwargs=dict(net_arch=args.net_arch, **policy_kwargs),
            **common,
        )

    robust_k3 = filled(lambda: mpo(True), fill)
    plain_k1 = filled(lambda: mpo(False), fill)
    result = {"robust_vs_plain": compare("R-MPO_K3", robust_k3, "MPO_K1", plain_k1, args.rounds, args.steps, args.batch_size)}

    sac_like = dict(activation_fn=th.nn.ReLU, layer_norm=False)
    mpo_relu = filled(lambda: mpo(False, **sac_like), fill)
    sac = filled(
        lambda: SAC(
            "MlpPolicy",
            gym.make("RobustPendulum-v0", max_episode_steps=200),
            policy_kwargs=dict(net_arch=args.net_arch),
            **common,
        ),
        fill,
    )
    result["mpo_vs_sac"] = compare("MPO", mpo_relu, "SAC", sac, args.rounds, args.steps, args.batch_size)
    result["settings"] = dict(
        vars(args), n_action_samples=plain_k1.n_action_samples, n_target_action_samples=plain_k1.n_target_action_samples
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
