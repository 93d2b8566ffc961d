"""
Mankowitz et al. (ICLR 2020), section 4.1 at CPU scale: do RE-MPO and SRE-MPO beat E-MPO on held-out perturbations?

The paper's Pendulum Swingup protocol (Table 3: uncertainty set 1.0, 1.1, 1.4 kg ball mass; hold-out 1.5, 1.6,
1.7 kg) run on ``RobustPendulum-v0`` (the torque-limited swing-up of Morimoto and Doya, ``mass`` in kg), because
the suite's ``RobustPendulumSwingup-v0`` was not registered when this was written (``--env`` switches once it is).
Every agent acts in the nominal env (1.0 kg); the robust agents' critics also see the next states under the three
training masses (``PerturbedTransitions``). Observations are given to the networks as ``(cos theta, sin theta,
theta_dot)`` (:class:`AngleFeatures`, applied to the K next observations too); the env runs at ``dt = 0.05`` s
(Pendulum-v1's step) with 200-step (10 s) episodes.

One JSON per (agent, seed) goes to ``benchmarks/results/mpo/``; existing files are skipped (resumable).
``--plot`` draws the paper's bar chart (mean and spread over seeds per hold-out env and agent).

Run: ``nice -n 10 python -m benchmarks.mpo_reproduction --seeds 0 1 2`` then ``--plot``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import robust_envs
from robust_envs import PerturbedTransitions, evaluate_robustness
from robust_sb3 import MPO

ROOT = pathlib.Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "mpo"
FIGURE = ROOT / "figures" / "mpo_pendulum_holdout.png"
TRAIN_MASSES = (1.0, 1.1, 1.4)  # Table 3, Pendulum Swingup uncertainty set (kg)
HOLDOUT_MASSES = (1.5, 1.6, 1.7)  # Table 3, hold-out test perturbations (kg)
AGENTS = {
    "E-MPO": dict(robustness="none", entropy_regularized=True),
    "RE-MPO": dict(robustness="robust", entropy_regularized=True),
    "SRE-MPO": dict(robustness="soft", entropy_regularized=True),
}
EPISODE_STEPS = 200
ENV_KWARGS = {"dt": 0.05}  # 10 s episodes of 200 steps, the time step of Gymnasium's Pendulum-v1


class AngleFeatures(gym.Wrapper):
    """Observation ``(theta, theta_dot)`` -> ``(cos theta, sin theta, theta_dot)``, also for ``info["perturbed_next_obs"]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64)

    @staticmethod
    def features(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        return np.stack([np.cos(obs[..., 0]), np.sin(obs[..., 0]), obs[..., 1]], axis=-1)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self.features(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "perturbed_next_obs" in info:
            info["perturbed_next_obs"] = self.features(info["perturbed_next_obs"])
        return self.features(obs), reward, terminated, truncated, info


class FeaturePolicy:
    """``obs -> action`` for :func:`robust_envs.evaluate_robustness`: the model acting on :class:`AngleFeatures`."""

    def __init__(self, model: MPO) -> None:
        self.model = model

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(AngleFeatures.features(obs), deterministic=True)[0]


def make_env(env_id: str, param: str, robust: bool) -> gym.Env:
    env = gym.make(env_id, max_episode_steps=EPISODE_STEPS, **ENV_KWARGS)
    if robust:
        env = PerturbedTransitions(env, [{param: m} for m in TRAIN_MASSES])
    return AngleFeatures(env)


def run(agent: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    th.set_num_threads(1)
    config = AGENTS[agent]
    env = make_env(args.env, args.param, config["robustness"] != "none")
    model = MPO(
        "MlpPolicy",
        env,
        batch_size=args.batch_size,
        learning_starts=1000,
        target_update_interval=args.target_update_interval,
        n_action_samples=args.n_action_samples,
        n_target_action_samples=args.n_target_action_samples,
        policy_kwargs=dict(net_arch=args.net_arch),
        seed=seed,
        **config,
    )
    start = time.time()
    model.learn(args.timesteps)
    train_time = time.time() - start
    cells = [{args.param: m} for m in (*TRAIN_MASSES, *HOLDOUT_MASSES)]
    report = evaluate_robustness(
        FeaturePolicy(model),
        args.env,
        cells,
        n_episodes=args.episodes,
        seed=1000,
        max_episode_steps=EPISODE_STEPS,
        env_kwargs=ENV_KWARGS,
    )
    return {
        "agent": agent,
        "seed": seed,
        "env_id": args.env,
        "param": args.param,
        "timesteps": args.timesteps,
        "batch_size": args.batch_size,
        "net_arch": args.net_arch,
        "target_update_interval": args.target_update_interval,
        "n_action_samples": args.n_action_samples,
        "n_target_action_samples": args.n_target_action_samples,
        "episode_steps": EPISODE_STEPS,
        "env_kwargs": ENV_KWARGS,
        "config": config,
        "train_time_s": train_time,
        "train_masses": TRAIN_MASSES,
        "holdout_masses": HOLDOUT_MASSES,
        "cells": cells,
        "returns": report.returns.tolist(),
        "cell_means": report.cell_means.tolist(),
    }


def plot(results_dir: pathlib.Path, figure: pathlib.Path) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*_seed*.json"))]
    if not runs:
        raise SystemExit(f"No results in {results_dir}")
    masses = list(TRAIN_MASSES) + list(HOLDOUT_MASSES)
    summary: dict[str, Any] = {}
    for agent in AGENTS:
        per_seed = np.array([r["cell_means"] for r in runs if r["agent"] == agent])
        if per_seed.size:
            summary[agent] = {
                "seeds": sorted(r["seed"] for r in runs if r["agent"] == agent),
                "mean": per_seed.mean(axis=0).tolist(),
                "std": per_seed.std(axis=0).tolist(),
                "holdout_mean": float(per_seed[:, len(TRAIN_MASSES) :].mean()),
                "per_seed_holdout_mean": per_seed[:, len(TRAIN_MASSES) :].mean(axis=1).tolist(),
            }
    colours = {"E-MPO": "tab:red", "RE-MPO": "tab:blue", "SRE-MPO": "tab:green"}
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(summary)
    x = np.arange(len(masses))
    for i, (agent, stats) in enumerate(summary.items()):
        ax.bar(
            x + (i - (len(summary) - 1) / 2) * width,
            stats["mean"],
            width,
            yerr=stats["std"],
            capsize=3,
            color=colours[agent],
            label=f"{agent} ({len(stats['seeds'])} seeds)",
        )
    ax.set_xticks(x, [f"{m:g} kg" + ("\n(train)" if m in TRAIN_MASSES else "\n(hold-out)") for m in masses])
    ax.axvline(len(TRAIN_MASSES) - 0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylabel(f"return over {EPISODE_STEPS} steps (mean over seeds, std bars)")
    ax.set_title(f"{runs[0]['env_id']}: {runs[0]['timesteps']} steps per agent, trained at 1.0 kg")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)
    (results_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--timesteps", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--target-update-interval", type=int, default=100)
    parser.add_argument("--n-action-samples", type=int, default=15)
    parser.add_argument("--n-target-action-samples", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes per mass")
    parser.add_argument("--env", default="RobustPendulum-v0")
    parser.add_argument("--param", default="mass")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--plot", action="store_true", help="only draw the bar chart from existing results")
    args = parser.parse_args()
    gym.register_envs(robust_envs)
    if args.plot:
        print(json.dumps(plot(args.out, FIGURE), indent=2))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:  # seeds outermost, so an interrupted run leaves every agent with as many seeds
        for agent in args.agents:
            path = args.out / f"{agent}_seed{seed}.json"
            if path.exists():
                continue
            result = run(agent, seed, args)
            path.write_text(json.dumps(result, indent=2))
            holdout = np.mean(result["cell_means"][len(TRAIN_MASSES) :])
            print(f"{agent} seed {seed}: hold-out mean {holdout:.1f}, {result['train_time_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
