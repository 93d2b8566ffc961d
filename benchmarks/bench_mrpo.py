"""
MRPO's training throughput (env steps per second of ``learn``) against SB3's PPO, same env and hyperparameters.

Target: MRPO at least 0.85x PPO. Both train from scratch on ``RobustInvertedPendulum-v0`` with M = ``n_envs``
sub-envs and the same PPO hyperparameters; MRPO samples the sub-envs' pole length and cart size from Jiang
et al.'s training range every iteration, PPO runs the nominal env (and PPO-DR, PPO with the
domain-randomisation wrapper, is timed too as the same-distribution peer). Rounds interleave the algorithms
(PPO, PPO-DR, MRPO, PPO, ...) so that load from other jobs hits all alike; the table gives the median and the
best round. MRPO's PPO update runs on the selected environments only, so it does fewer gradient steps than
PPO for the same data; the mean selected fraction is printed next to it. ``all-selected`` runs the same
machinery (sampling, resets, Monitor bookkeeping, masked buffer) with every environment kept
(``EPOpt(worst_fraction=1.0)``), so its ratio to PPO is the overhead of the machinery alone.

Run: ``python -m benchmarks.bench_mrpo --rounds 5``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _time_learn(algo: str, n_envs: int, n_steps: int, iterations: int, seed: int) -> tuple[float, float]:
    """:return: env steps per second of ``learn`` and MRPO's mean selected fraction (nan for PPO)"""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3.mrpo import MRPO, EPOpt, make_domain_randomized_env

    env_id, train_set = "RobustInvertedPendulum-v0", "jiang2021/invertedpendulum/train"
    hyper = {"n_steps": n_steps, "batch_size": 64, "n_epochs": 10, "seed": seed, "device": "cpu", "verbose": 0}
    if algo == "ppo":
        model = PPO("MlpPolicy", make_vec_env(env_id, n_envs=n_envs, seed=seed), **hyper)
    elif algo == "ppo-dr":
        model = PPO("MlpPolicy", make_domain_randomized_env(env_id, train_set, n_envs=n_envs, seed=seed), **hyper)
    elif algo == "mrpo":
        model = MRPO("MlpPolicy", make_vec_env(env_id, n_envs=n_envs, seed=seed), uncertainty_set=train_set, **hyper)
    else:
        # the sampled-environments machinery with every environment selected: PPO's full update, MRPO's overhead alone
        env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
        model = EPOpt("MlpPolicy", env, uncertainty_set=train_set, worst_fraction=1.0, **hyper)
    fractions: list[float] = []

    class _Fractions(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_start(self) -> None:
            selection = getattr(self.model, "last_selection", None)
            if selection is not None:
                fractions.append(float(selection.mask.mean()))

    total = iterations * n_envs * n_steps
    start = time.perf_counter()
    model.learn(total, callback=_Fractions())
    seconds = time.perf_counter() - start
    return total / seconds, float(np.mean(fractions)) if fractions else float("nan")


def main() -> None:
    """Interleave the rounds and print the table."""
    import torch as th

    th.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=4, help="PPO iterations per timed learn()")
    args = parser.parse_args()
    algos = ("ppo", "ppo-dr", "mrpo", "all-selected")
    rates: dict[str, list[float]] = {a: [] for a in algos}
    fractions: list[float] = []
    for r in range(args.rounds):
        for algo in algos:
            rate, fraction = _time_learn(algo, args.n_envs, args.n_steps, args.iterations, seed=r)
            rates[algo].append(rate)
            if algo == "mrpo":
                fractions.append(fraction)
        print(f"round {r}: " + ", ".join(f"{a} {rates[a][-1]:.0f} steps/s" for a in algos), flush=True)
    median = {a: float(np.median(v)) for a, v in rates.items()}
    best = {a: float(np.max(v)) for a, v in rates.items()}
    print(f"\nRobustInvertedPendulum-v0, n_envs={args.n_envs}, n_steps={args.n_steps}, {args.rounds} interleaved rounds")
    print("| algorithm | median steps/s | best steps/s | median ratio to PPO | best ratio to PPO |")
    print("|---|---|---|---|---|")
    for algo in algos:
        print(
            f"| {algo} | {median[algo]:.0f} | {best[algo]:.0f} | {median[algo] / median['ppo']:.2f} "
            f"| {best[algo] / best['ppo']:.2f} |"
        )
    print(
        f"MRPO's mean selected fraction: {np.nanmean(fractions):.2f}; all-selected: EPOpt(worst_fraction=1.0), every env kept"
    )


if __name__ == "__main__":
    main()
