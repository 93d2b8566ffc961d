"""
Reproduce WR2L's 1-D experiment (Abdullah et al., appendix B, Figures 3-4) at this machine's budget.

InvertedPendulum, the pole length varied: WR2L (``parameterisation="wr2l/invertedpendulum/1d"``) against PPO on
the nominal pendulum and the paper's two adversarial baselines, RARL (Pinto et al. 2017) and PR-MDP (Tessler et
al. 2019), each trained at the same budget and seeds, then evaluated over the paper's test range of pole
lengths, 0.3-3 m, on a 0.1 m grid (the preset ``wr2l/invertedpendulum/test-pole-length``; the same sweep as the
demo's).

Fixed before any result was seen:

- the env: ``RobustInvertedPendulum-v0`` with ``keep_mass=True`` (a length change keeps the pole's mass, as in
  the demo, so the two compare; the paper does not say which variant it used);
- PPO's settings for every learner: 8 sub-envs x 1000 steps = 8,000 transitions per update (the paper's 5k-10k),
  minibatches of 500, 10 epochs, learning rate 3e-4, gamma 0.99, SB3's 2 x 64 tanh networks (the paper's);
  300k env steps of the protagonist per run;
- WR2L: the ball reaches +-50% of the nominal 0.6 m pole (``epsilon_fraction=0.5``); Proposition 1's perturbations
  of scale ``sigma=0.2`` (relative), 4 antithetic pairs per gradient; every other setting the class's default
  (``shared/WAVE2.md`` 1.7). The default ``sigma=0.05`` was tried first (16k steps, seed 99): the pendulum's
  returns are whole numbers of steps alive, a 5% longer or shorter pole rarely changes when it falls, both
  members of every pair returned the same and the gradient, hence the step, was exactly zero: ``phi`` never left
  0.6 m. A scale of 40% of the ball's reach makes the smoothed return vary across the ball;
- the evaluation: 2 episodes per pole length, deterministic actions, seeds from 10,000; reported per run: the
  mean return over the sweep, its 10%-worst mean and the worst cell.

One JSON per (algorithm, seed) in ``benchmarks/results/wr2l_1d/``; existing files are skipped (resumable).

Run::

    nice -n 10 python -m benchmarks.wr2l_reproduction --algos ppo wr2l --seeds 0 1 2 3 4
    python -m benchmarks.wr2l_reproduction --summarize
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path("benchmarks/results/wr2l_1d")
ENV_ID = "RobustInvertedPendulum-v0"
ENV_KWARGS = {"keep_mass": True}
TEST_SET = "wr2l/invertedpendulum/test-pole-length"
SWEEP = tuple(round(0.1 * i, 1) for i in range(3, 31))
N_ENVS = 8
PPO_KWARGS = {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"}
WR2L_KWARGS = {"epsilon_fraction": 0.5, "sigma": 0.2, "n_directions": 4}
TIMESTEPS = 300_000
EVAL_EPISODES = 2
EVAL_SEED = 10_000
ALGOS = ("ppo", "wr2l")


def make_model(algo: str, seed: int) -> Any:
    """:return: the untrained learner ``algo`` with this experiment's settings"""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed, env_kwargs=ENV_KWARGS)
    if algo == "ppo":
        return PPO("MlpPolicy", env, seed=seed, verbose=0, **PPO_KWARGS)
    if algo == "wr2l":
        from robust_sb3 import WR2L

        return WR2L("MlpPolicy", env, "wr2l/invertedpendulum/1d", seed=seed, verbose=0, **WR2L_KWARGS, **PPO_KWARGS)
    raise ValueError(f"unknown algorithm {algo!r}; known: {ALGOS}")


def run_one(algo: str, seed: int, timesteps: int) -> dict[str, Any]:
    """Train, evaluate over the sweep, return the JSON record."""
    import torch as th

    from robust_envs.evaluation import evaluate_robustness

    th.set_num_threads(1)
    model = make_model(algo, seed)
    start = time.perf_counter()
    model.learn(timesteps)
    train_seconds = time.perf_counter() - start
    report = evaluate_robustness(
        model, ENV_ID, {"pole_length": list(SWEEP)}, n_episodes=EVAL_EPISODES, seed=EVAL_SEED, env_kwargs=ENV_KWARGS
    )
    record: dict[str, Any] = {
        "algo": algo,
        "seed": seed,
        "timesteps": timesteps,
        "env_id": ENV_ID,
        "env_kwargs": ENV_KWARGS,
        "ppo": PPO_KWARGS,
        "n_envs": N_ENVS,
        "train_seconds": train_seconds,
        "eval": report.to_dict(),
        "mean": report.mean,
        "worst10": report.cvar(0.1),
        "worst": report.worst,
    }
    if algo == "wr2l":
        record.update(
            wr2l=WR2L_KWARGS,
            epsilon=model.epsilon,
            hessian=model.hessian.tolist(),
            worst_params=model.worst_params,
            phase1_env_steps=model.phase1_env_steps,
            phase1_seconds=model.phase1_seconds,
            model_steps=model.model_steps,
            clipped_steps=model.clipped_steps,
        )
    return record


def summarize(out: Path = OUT) -> str:
    """:return: a Markdown table of every finished run, per algorithm: mean, 10%-worst and worst cell across seeds"""
    runs = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    lines = ["| algorithm | seeds | sweep mean | 10%-worst | worst cell |", "|---|---|---|---|---|"]
    for algo in dict.fromkeys(run["algo"] for run in runs):
        mine = [run for run in runs if run["algo"] == algo]

        def stat(key: str, mine: list[dict[str, Any]] = mine) -> str:
            values = np.array([run[key] for run in mine])
            return f"{values.mean():.0f} +- {values.std(ddof=1) if len(values) > 1 else 0.0:.0f}"

        seeds = ",".join(str(run["seed"]) for run in mine)
        lines.append(f"| {algo} | {seeds} | {stat('mean')} | {stat('worst10')} | {stat('worst')} |")
    return "\n".join(lines)


def main() -> None:
    """Train and evaluate the runs that have no result file yet, or summarise them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=TIMESTEPS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.out))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:  # seeds outermost: an interrupted run leaves every algorithm with as many seeds
        for algo in args.algos:
            path = args.out / f"{algo}_seed{seed}.json"
            if path.exists():
                print(f"skip {path} (exists)", flush=True)
                continue
            record = run_one(algo, seed, args.timesteps)
            path.write_text(json.dumps(record))
            print(
                f"{path}: train {record['train_seconds']:.0f} s, sweep mean {record['mean']:.0f}, "
                f"10%-worst {record['worst10']:.0f}, worst {record['worst']:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
