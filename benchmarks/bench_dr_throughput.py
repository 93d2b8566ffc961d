"""
PPO-DR's training throughput (env steps per second of ``learn``) against SB3's PPO on the nominal env.

Target: PPO-DR at least 0.9x PPO. Both are SB3 ``PPO`` with the same hyperparameters on
``RobustInvertedPendulum-v0`` (``keep_mass=True``, the variant of Jiang et al.'s Table 1); PPO-DR's sub-envs
draw pole length and cart size from ``jiang2021/invertedpendulum/train`` at every reset
(:func:`robust_sb3.mrpo.make_domain_randomized_env`), so nearly every reset meets a geometry never seen before,
PPO's run the nominal model. Rounds interleave the two (PPO, PPO-DR, PPO, ...) so that load from other jobs
hits both alike; the table gives the ratio of the medians and of the best rounds, and the resets per 1000
steps (the inverted pendulum's episodes are short while the policy learns, so resets are frequent).

Run: ``python -m benchmarks.bench_dr_throughput --rounds 5``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ENV_ID = "RobustInvertedPendulum-v0"
TRAIN_SET = "jiang2021/invertedpendulum/train"


def _time_learn(algo: str, n_envs: int, n_steps: int, iterations: int, seed: int) -> tuple[float, float]:
    """:return: env steps per second of ``learn`` and resets per 1000 env steps"""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3.mrpo import make_domain_randomized_env

    kwargs = {"keep_mass": True}
    if algo == "ppo":
        env = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    else:
        env = make_domain_randomized_env(ENV_ID, TRAIN_SET, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    model = PPO("MlpPolicy", env, n_steps=n_steps, batch_size=64, n_epochs=10, seed=seed, device="cpu", verbose=0)
    total = iterations * n_envs * n_steps
    start = time.perf_counter()
    model.learn(total)
    seconds = time.perf_counter() - start
    episodes = sum(len(lengths) for lengths in env.env_method("get_episode_lengths"))  # Monitor's record
    env.close()
    return total / seconds, 1000.0 * episodes / total


def main() -> None:
    """Print PPO and PPO-DR steps per second per round, and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {"ppo": [], "ppo-dr": []}
    resets: dict[str, list[float]] = {"ppo": [], "ppo-dr": []}
    for round_ in range(args.rounds):
        for algo in rates:
            rate, per_1000 = _time_learn(algo, args.n_envs, args.n_steps, args.iterations, args.seed + round_)
            rates[algo].append(rate)
            resets[algo].append(per_1000)
            print(f"round {round_}  {algo:7s} {rate:9.0f} steps/s   {per_1000:6.1f} resets per 1000 steps", flush=True)
    median = {algo: float(np.median(r)) for algo, r in rates.items()}
    best = {algo: float(np.max(r)) for algo, r in rates.items()}
    print(f"\n{'':8s} {'median':>10s} {'best':>10s}")
    for algo in rates:
        print(f"{algo:8s} {median[algo]:10.0f} {best[algo]:10.0f}   resets/1000 steps {np.median(resets[algo]):.1f}")
    ratio_median, ratio_best = median["ppo-dr"] / median["ppo"], best["ppo-dr"] / best["ppo"]
    print(f"PPO-DR / PPO: median {ratio_median:.2f}x, best {ratio_best:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
