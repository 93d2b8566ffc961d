"""
WR2L's Phase I on top of PPO: wall time of ``learn`` for WR2L against SB3's PPO at the same env steps, on Hopper.

Target (issue 13): Phase I adds at most 30% to PPO's time at the paper's 5k-10k transitions per update. Both run
SB3's PPO with the same hyperparameters (4 sub-envs x 2048 steps = 8192 transitions per update, 10 epochs of
minibatches of 64, 2 x 64 tanh networks); WR2L adds one Phase I per update: ``2 d`` antithetic pairs of
perturbed episodes (``2 N = 4 d`` episodes), the policy batched over them and, with the default
``--eval-backend batched``, their physics stepped in one batched call per time step (``env.step_batch``);
``--eval-backend vec`` times the worker envs stepped one by one instead.

Hopper's episodes end when it falls, so how much Phase I costs depends on how long the current policy survives:
an untrained policy falls within ~20-50 steps. To measure the case that matters late in training (every
perturbed episode the full 1000 steps), ``--no-termination`` makes Hopper's episodes run to the time limit
(``terminate_when_unhealthy=False``), for PPO and WR2L alike: the upper bound of Phase I's cost. Rounds
interleave the two (PPO, WR2L, PPO, ...) so that load from other jobs hits both alike; the overhead is
``WR2L time / PPO time - 1`` from the medians, and Phase I's own share is reported from WR2L's ``phase1_seconds``.
``H0``'s one-off estimate happens at construction and is timed separately.

Run: ``python -m benchmarks.bench_wr2l_phase1 --rounds 3 --no-termination --parameterisation wr2l/hopper/2d``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ENV_ID = "RobustHopper-v0"


def _time(algo: str, parameterisation: str, env_kwargs: dict, iterations: int, seed: int, backend: str) -> dict[str, float]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3 import WR2L

    env = make_vec_env(ENV_ID, n_envs=4, seed=seed, env_kwargs=env_kwargs)
    kwargs = dict(n_steps=2048, batch_size=64, n_epochs=10, seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    if algo == "ppo":
        model = PPO("MlpPolicy", env, **kwargs)
    else:
        model = WR2L("MlpPolicy", env, parameterisation, eval_backend=backend, **kwargs)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    model.learn(iterations * 4 * 2048)
    seconds = time.perf_counter() - start
    env.close()
    return {
        "setup": setup,
        "learn": seconds,
        "phase1": getattr(model, "phase1_seconds", 0.0),
        "phase1_steps": getattr(model, "phase1_env_steps", 0),
    }


def main() -> None:
    """Print per-round timings and the overhead of WR2L over PPO."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=2, help="PPO updates (8192 transitions each) per round")
    parser.add_argument("--parameterisation", default="wr2l/hopper/2d")
    parser.add_argument("--no-termination", action="store_true", help="Hopper's episodes run to the time limit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-backend", choices=("batched", "vec"), default="batched", help="WR2L's Phase I back-end")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    env_kwargs = {"terminate_when_unhealthy": False} if args.no_termination else {}
    rows: dict[str, list[dict[str, float]]] = {"ppo": [], "wr2l": []}
    for round_ in range(args.rounds):
        for algo in ("ppo", "wr2l"):
            row = _time(algo, args.parameterisation, env_kwargs, args.iterations, args.seed + round_, args.eval_backend)
            rows[algo].append(row)
            print(
                f"round {round_} {algo:5s}: learn {row['learn']:.1f} s (set-up {row['setup']:.2f} s), "
                f"Phase I {row['phase1']:.1f} s over {row['phase1_steps']} env steps",
                flush=True,
            )
    ppo = np.median([row["learn"] for row in rows["ppo"]])
    wr2l = np.median([row["learn"] for row in rows["wr2l"]])
    phase1 = np.median([row["phase1"] for row in rows["wr2l"]])
    setup = np.median([row["setup"] for row in rows["wr2l"]])
    steps = np.median([row["phase1_steps"] for row in rows["wr2l"]]) / args.iterations
    print(
        f"{args.parameterisation} ({args.eval_backend}), "
        f"{'no termination' if args.no_termination else 'default termination'}: "
        f"WR2L / PPO = {wr2l / ppo:.2f} (overhead {100 * (wr2l / ppo - 1):.0f}%); Phase I {phase1 / args.iterations:.2f} s "
        f"per update = {100 * phase1 / ppo:.0f}% of PPO's time, {steps:.0f} env steps per update; H0 set-up {setup:.2f} s"
    )


if __name__ == "__main__":
    main()
