"""
RAMBO's cost per epoch, split into its phases, against SB3's SAC gradient steps at the same batch size, same run.

One RAMBO epoch (Rigter et al., 2022, Algorithm 1; the official schedule) is: one model rollout from
``rollout_batch_size`` dataset states for ``k`` steps, ``epoch_length`` SAC gradient steps on mixed real/model
batches, and ``adversary_steps`` adversarial model updates. Each phase is timed on its own here (a few hundred
steps, projected to the epoch), with the paper's networks (SAC 2 x 256, ensemble 7 x 4 x 200) on a random-policy
``RobustHopper-v0`` dataset. The reference is ``stable_baselines3.SAC.train`` on the same batch size, timed in the
same process between RAMBO's phases (rounds interleave, so load from other jobs hits both alike). The table also
gives one batched ensemble forward over the rollout batch (every member in one call) and the projection of
``rambo/cpu`` (200 epochs) from the measured phases, without the one-off pretraining.

Run: ``python -m benchmarks.bench_rambo --rounds 3 --cpu-time`` (``--rollout-batch-size 50000`` for the paper's rollouts)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ENV_ID = "RobustHopper-v0"


def _dataset(n_steps: int, seed: int):
    import gymnasium as gym

    import robust_envs.datasets as rd

    env = gym.make(ENV_ID)
    return rd.collect(ENV_ID, rd.UniformRandomPolicy(env.action_space, seed), n_steps, seed=seed)


#: the clock of :func:`_timed`: wall time, or with ``--cpu-time`` the process's CPU time, which other jobs' load
#: does not inflate (with one torch thread it is the work itself; the machine this was written on ran at load 9 on 2 cores)
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def _timed(fn, clock: str = "wall") -> float:
    now = CLOCK[clock]
    start = now()
    fn()
    return now() - start


def main() -> None:
    """Print seconds per epoch of each RAMBO phase and SAC's steps, per round, and the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset-steps", type=int, default=20_000)
    parser.add_argument("--rollout-batch-size", type=int, default=5_000, help="rambo/cpu: 5000; the paper: 50000")
    parser.add_argument("--rollout-length", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200, help="gradient steps timed per phase and round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-time", action="store_true", help="time with the process's CPU time, not wall time")
    args = parser.parse_args()

    import gymnasium as gym
    import torch as th
    from stable_baselines3 import SAC
    from stable_baselines3.common.logger import Logger

    from robust_sb3.rambo import RAMBO

    th.set_num_threads(args.threads)
    episodes = _dataset(args.dataset_steps, args.seed)
    model = RAMBO(
        "MlpPolicy",
        gym.make(ENV_ID),
        episodes,
        rollout_length=args.rollout_length,
        rollout_batch_size=args.rollout_batch_size,
        bc_epochs=1,
        model_fit_kwargs={"max_epochs": 2},
        seed=args.seed,
        device="cpu",
    )
    model.set_logger(Logger(folder=None, output_formats=[]))
    fit_seconds = _timed(model.pretrain, "cpu" if args.cpu_time else "wall")
    data = model._offline
    sac = SAC("MlpPolicy", gym.make(ENV_ID), batch_size=256, seed=args.seed, device="cpu", buffer_size=len(data))
    sac.set_logger(Logger(folder=None, output_formats=[]))
    for i in range(len(data)):  # fill SAC's buffer with the same transitions
        sac.replay_buffer.add(
            data.observations[i], data.next_observations[i], data.actions[i], data.rewards[i], data.terminals[i], [{}]
        )
    obs = th.as_tensor(data.observations[np.arange(args.rollout_batch_size) % len(data)])
    actions = th.zeros(len(obs), model.action_space.shape[0])
    per_epoch = model.epoch_length / args.steps
    rows: dict[str, list[float]] = {"rollout": [], "sac_mixed": [], "adversary": [], "sb3_sac": [], "forward": []}
    clock = "cpu" if args.cpu_time else "wall"
    for round_ in range(args.rounds):
        rows["rollout"].append(_timed(model.generate_rollouts, clock) * model.epoch_length / model.rollout_freq)
        rows["sb3_sac"].append(_timed(lambda: sac.train(args.steps, 256), clock) * per_epoch)
        rows["sac_mixed"].append(_timed(lambda: SAC.train(model, args.steps, 256), clock) * per_epoch)
        adversary = _timed(lambda: model.adversarial_update(args.steps), clock)
        rows["adversary"].append(adversary * model.adversary_steps / args.steps)
        rows["forward"].append(_timed(lambda: model.ensemble.predict_distribution(obs, actions), clock))
        print(f"round {round_}: " + ", ".join(f"{key} {values[-1]:.2f} s" for key, values in rows.items()))
    median = {key: float(np.median(values)) for key, values in rows.items()}
    epoch = median["rollout"] + median["sac_mixed"] + median["adversary"]
    print(
        f"\nRobustHopper-v0, {len(data)} transitions, k={args.rollout_length}, rollout batch {args.rollout_batch_size}, "
        f"{args.threads} torch thread(s), {clock} time; seconds per epoch ({model.epoch_length} SAC + "
        f"{model.adversary_steps} adversary steps), medians:"
    )
    print("| phase | s/epoch | x SB3 SAC's 1000 steps |")
    print("|---|---|---|")
    for key in ("rollout", "sac_mixed", "adversary", "sb3_sac"):
        print(f"| {key} | {median[key]:.2f} | {median[key] / median['sb3_sac']:.2f} |")
    print(f"| RAMBO epoch | {epoch:.2f} | {epoch / median['sb3_sac']:.2f} |")
    print(f"\none batched ensemble forward over {args.rollout_batch_size} rows: {median['forward']:.3f} s")
    print(f"pretraining here (2 MLE epochs + 1 BC epoch on {len(data)} transitions): {fit_seconds:.1f} s")
    # rambo/cpu runs 250 adversary steps per epoch (see robust_sb3.rambo.presets)
    cpu_epoch = median["rollout"] + median["sac_mixed"] + median["adversary"] * 250 / model.adversary_steps
    print(
        "rambo/cpu projection (200 epochs of 1000 SAC + 250 adversary steps, pretraining excluded): "
        f"{200 * cpu_epoch / 3600:.2f} h"
    )


if __name__ == "__main__":
    main()
