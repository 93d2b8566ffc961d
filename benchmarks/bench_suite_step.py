"""Env step time of each DeepMind Control Suite robust env at nominal parameters against dm_control's own env."""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import robust_envs
from robust_envs.suite.base import RobustSuiteEnv


def time_robust(env: RobustSuiteEnv, actions: np.ndarray, episode: int) -> float:
    """:return: seconds for ``len(actions)`` steps, resetting (untimed) every ``episode`` steps as the time limit does."""
    env.reset(seed=0)
    total, start = 0.0, time.perf_counter()
    for i, action in enumerate(actions, start=1):
        env.step(action)
        if i % episode == 0:
            total += time.perf_counter() - start
            env.reset()
            start = time.perf_counter()
    return total + time.perf_counter() - start


def time_dm_control(env, actions: np.ndarray) -> float:
    """:return: seconds for ``len(actions)`` steps of a dm_control env (its own resets at the time limit untimed)."""
    env.reset()
    total, start = 0.0, time.perf_counter()
    for action in actions:
        if env.step(action).last():
            total += time.perf_counter() - start
            env.reset()
            start = time.perf_counter()
    return total + time.perf_counter() - start


def main() -> None:
    """Print, per id, the best-of-rounds time per step of dm_control's env (dict and flat observations) and ours."""
    from dm_control import suite

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ids", nargs="*", default=None, help="only these ids (default: all nine)")
    args = parser.parse_args()
    print(f"{'env':28s} {'dm_control us':>13s} {'dm flat us':>10s} {'robust us':>10s} {'ratio':>6s} {'vs flat':>7s}")
    for entry in robust_envs.ENVS:
        cls = robust_envs.env_class(entry.env_id)
        if not issubclass(cls, RobustSuiteEnv) or (args.ids and entry.env_id not in args.ids):
            continue
        robust = gym.make(entry.env_id).unwrapped  # unwrapped: TimeLimit's few hundred ns only dilute the ratio
        upstream = suite.load(cls.domain, cls.task_name, task_kwargs={"random": 0})
        upstream_flat = suite.load(
            cls.domain, cls.task_name, task_kwargs={"random": 0}, environment_kwargs={"flat_observation": True}
        )
        rng = np.random.default_rng(0)
        actions = rng.uniform(-1.0, 1.0, (args.steps, *robust.action_space.shape)).astype(np.float32)
        best = {"dm": np.inf, "flat": np.inf, "robust": np.inf}
        for _ in range(args.rounds):  # interleaved rounds: all three see the same machine load
            best["dm"] = min(best["dm"], time_dm_control(upstream, actions))
            best["robust"] = min(best["robust"], time_robust(robust, actions, entry.max_episode_steps))
            best["flat"] = min(best["flat"], time_dm_control(upstream_flat, actions))
        dm, flat, ours = (best[k] / args.steps * 1e6 for k in ("dm", "flat", "robust"))
        print(f"{entry.env_id:28s} {dm:13.1f} {flat:10.1f} {ours:10.1f} {ours / dm:6.3f} {ours / flat:7.3f}")


if __name__ == "__main__":
    main()
