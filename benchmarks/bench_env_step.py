"""Env step time of each robust env at nominal parameters against its upstream Gymnasium v5 env, side by side."""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import robust_envs


def time_steps(env: gym.Env, actions: np.ndarray) -> float:
    """:return: seconds for ``len(actions)`` steps (episodes are reset when they end; resets are not timed)."""
    env.reset(seed=0)
    total = 0.0
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            total += time.perf_counter() - start
            env.reset()
            start = time.perf_counter()
    return total + time.perf_counter() - start


def main() -> None:
    """Print, per id, the best-of-rounds time per step of upstream and robust env and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--wrapped",
        action="store_true",
        help="time the envs as gym.make returns them (TimeLimit, checkers) instead of unwrapped",
    )
    args = parser.parse_args()
    print(
        f"{'env':34s} {'upstream us':>12s} {'robust us':>10s} {'ratio':>6s}   ({'wrapped' if args.wrapped else 'unwrapped'})"
    )
    for entry in robust_envs.ENVS:
        upstream_id = getattr(robust_envs.env_class(entry.env_id), "upstream_id", None)
        if upstream_id is None:  # envs with their own equations have no upstream peer
            continue
        # unwrapped by default: the wrappers gym.make adds are the same for both and only dilute the ratio
        upstream = gym.make(upstream_id) if args.wrapped else gym.make(upstream_id).unwrapped
        robust = gym.make(entry.env_id) if args.wrapped else gym.make(entry.env_id).unwrapped
        space = upstream.action_space
        space.seed(0)
        # float32 actions, as policies give them (Box), or ints (Discrete)
        actions = [space.sample() for _ in range(args.steps)]
        best_up, best_robust = np.inf, np.inf
        for _ in range(args.rounds):  # interleaved rounds, so both see the same machine load
            best_up = min(best_up, time_steps(upstream, actions))
            best_robust = min(best_robust, time_steps(robust, actions))
        per_up, per_robust = best_up / args.steps * 1e6, best_robust / args.steps * 1e6
        print(f"{entry.env_id:34s} {per_up:12.1f} {per_robust:10.1f} {per_robust / per_up:6.3f}")


if __name__ == "__main__":
    main()
