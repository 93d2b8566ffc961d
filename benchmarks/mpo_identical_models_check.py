"""
Check of the robust pipeline on the pendulum swing-up: RE-MPO whose K models are all the acting model.

With K identical models the robust target (the infimum over the K next-state values, Eq. 1) equals E-MPO's, so a
seed where RE-MPO with the uncertainty set 1.0, 1.1, 1.4 kg never swings up should learn like E-MPO if the
buffer and target are right. Settings as ``benchmarks.mpo_reproduction --suite pendulum-swingup
--control-timestep 0.08 --timesteps 60000``; evaluation at 1.0 and 1.7 kg.

Run: ``nice -n 5 python -m benchmarks.mpo_identical_models_check 3 1.0,1.0,1.0`` (seed, comma-separated masses);
the target is Eq. 1's (the experienced reward outside the infimum) unless ``--reward-in-inf`` puts each model's
reward inside it (the target of the runs before the switch existed); the JSON line records which.
The JSON line it prints is kept in ``benchmarks/results/mpo_pendulum_swingup_dt0.08/identical_models_check.json``.
"""

import argparse
import json
import time

import gymnasium as gym
import torch as th

import robust_envs
from robust_envs import PerturbedTransitions, evaluate_robustness
from robust_sb3 import MPO

ENV_KWARGS = {"params": {"ball_mass": 1.0}, "control_timestep": 0.08}


def main() -> None:
    th.set_num_threads(1)
    gym.register_envs(robust_envs)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("seed", type=int)
    parser.add_argument("masses", help="comma-separated ball masses of the K models (kg)")
    parser.add_argument("--reward-in-inf", action="store_true", help="each model's reward inside the infimum")
    args = parser.parse_args()
    seed, masses = args.seed, [float(m) for m in args.masses.split(",")]
    env = gym.make("RobustPendulumSwingup-v0", max_episode_steps=250, **ENV_KWARGS)
    env = PerturbedTransitions(env, [{"ball_mass": m} for m in masses])
    model = MPO(
        "MlpPolicy",
        env,
        batch_size=128,
        learning_starts=1000,
        target_update_interval=100,
        n_action_samples=15,
        n_target_action_samples=2,
        policy_kwargs=dict(net_arch=[64, 64]),
        robustness="robust",
        entropy_regularized=True,
        reward_in_inf=args.reward_in_inf,
        seed=seed,
    )
    start = time.time()
    model.learn(60000)
    report = evaluate_robustness(
        model,
        "RobustPendulumSwingup-v0",
        [{"ball_mass": 1.0}, {"ball_mass": 1.7}],
        n_episodes=10,
        seed=1000,
        max_episode_steps=250,
        env_kwargs=ENV_KWARGS,
    )
    result = {
        "seed": seed,
        "masses": masses,
        "reward_in_inf": args.reward_in_inf,
        "cell_means": report.cell_means.tolist(),
        "train_s": time.time() - start,
        "last_train": [float(e["r"]) for e in model.ep_info_buffer][-10:],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
