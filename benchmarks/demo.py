"""
The main job of the README: MRPO against a nominal PPO on RobustInvertedPendulum-v0, across unseen pole lengths and cart sizes.

Both learners get the same PPO hyperparameters and the same number of env steps. Nominal PPO trains on the
nominal pendulum only (pole 0.6 m, cart 0.1 m); MRPO (Jiang et al. 2021) trains on their training range
(Table 1: pole length 0.5-2 m, cart size 0.05-0.25 m). Both are then evaluated, deterministic, over a grid
of the held-out testing range (pole length 0.25-0.5 m, cart size 0.025-0.05 m) and over a grid of the
training range. The script prints both tables, the comparison (mean, worst cell, 10%-worst return) and a
verdict computed from those numbers, whichever way they come out, and writes CSV, JSON and heatmaps to
``demo_output/``.

Run: ``python -m benchmarks.demo`` (``make demo``); ``--timesteps`` trades time for better policies.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from robust_envs.evaluation import RobustnessReport, evaluate_robustness
from robust_envs.presets import get_preset

ENV_ID = "RobustInvertedPendulum-v0"
TRAIN_SET = "jiang2021/invertedpendulum/train"
#: the settings of benchmarks/mrpo_reproduction.py for this task, so the demo's MRPO is that script's seed-0 run
HYPERPARAMETERS = {"n_steps": 512, "batch_size": 256, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"}


def train(algo: str, timesteps: int, n_envs: int, seed: int):
    """
    :param algo: ``"ppo"`` (nominal env) or ``"mrpo"`` (Jiang et al.'s training range)
    :return: the trained model
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3 import MRPO

    env = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed)
    if algo == "ppo":
        return PPO("MlpPolicy", env, seed=seed, verbose=0, **HYPERPARAMETERS).learn(timesteps)
    return MRPO("MlpPolicy", env, uncertainty_set=TRAIN_SET, seed=seed, verbose=0, **HYPERPARAMETERS).learn(timesteps)


def compare(name: str, reports: dict[str, RobustnessReport]) -> str:
    """:return: the side-by-side summary lines of two reports on the same grid"""
    ppo, mrpo = reports["ppo"], reports["mrpo"]
    rows = [
        ("mean return", ppo.mean, mrpo.mean),
        ("worst cell (mean)", ppo.worst, mrpo.worst),
        ("10%-worst return", ppo.cvar(0.1), mrpo.cvar(0.1)),
    ]
    lines = [f"{name:<26}{'nominal PPO':>14}{'MRPO':>10}"]
    lines += [f"{label:<26}{a:>14.1f}{b:>10.1f}" for label, a, b in rows]
    return "\n".join(lines)


def verdict(name: str, reports: dict[str, RobustnessReport]) -> str:
    """:return: one sentence saying which policy did better on a grid, from the numbers alone"""
    ppo, mrpo = reports["ppo"], reports["mrpo"]
    parts = []
    for label, a, b in (("mean return", ppo.mean, mrpo.mean), ("10%-worst return", ppo.cvar(0.1), mrpo.cvar(0.1))):
        if abs(a - b) < 0.05 * max(abs(a), abs(b), 1.0):
            parts.append(f"the same {label} within 5% ({b:.0f} vs {a:.0f})")
        else:
            parts.append(f"a {'higher' if b > a else 'lower'} {label} ({b:.0f} vs {a:.0f})")
    return f"On the {name} MRPO has " + " and ".join(parts) + " than nominal PPO."


def main() -> None:
    """Train both, evaluate both on both grids, print the tables and write the files."""
    import torch as th

    th.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=300_000, help="env steps per learner")
    parser.add_argument("--n-envs", type=int, default=16, help="sub-envs (MRPO: environments sampled per iteration)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", type=int, default=4, help="grid points per parameter")
    parser.add_argument("--episodes", type=int, default=2, help="evaluation episodes per grid cell")
    parser.add_argument(
        "--workers", type=int, default=min(4, os.cpu_count() or 1), help="evaluation processes (default: up to 4 cores)"
    )
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    models = {}
    for algo in ("ppo", "mrpo"):
        tic = time.perf_counter()
        models[algo] = train(algo, args.timesteps, args.n_envs, args.seed)
        print(
            f"trained {'nominal PPO' if algo == 'ppo' else 'MRPO'}: {args.timesteps} steps "
            f"in {time.perf_counter() - tic:.0f} s",
            flush=True,
        )
    reports: dict[str, dict[str, RobustnessReport]] = {"test": {}, "train": {}}
    for role in ("test", "train"):
        preset = get_preset(f"jiang2021/invertedpendulum/{role}")
        for algo, model in models.items():
            report = evaluate_robustness(
                model, ENV_ID, preset, n_episodes=args.episodes, seed=10_000, points=args.points, n_workers=args.workers
            )
            reports[role][algo] = report
            label = "nominal PPO" if algo == "ppo" else "MRPO"
            print(f"\n== {label} on the {role}ing range {preset.describe()}\n   ({preset.source})")
            print(report.summary())
            report.to_csv(args.out / f"{role}_{algo}.csv")
            report.to_json(args.out / f"{role}_{algo}.json")
            try:
                report.plot_heatmap(args.out / f"{role}_{algo}_heatmap.png", x="pole_length", y="cart_size")
            except ImportError as error:
                print(f"(no heatmap: {error})")
    print("\n== comparison (returns of at most 1000: one per step balanced)")
    print(compare("held-out testing range", reports["test"]))
    print(compare("training range", reports["train"]))
    print("\n" + verdict("held-out testing range", reports["test"]))
    print(verdict("training range (unseen by nominal PPO)", reports["train"]))
    print(f"\nFiles written to {args.out}/ in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
