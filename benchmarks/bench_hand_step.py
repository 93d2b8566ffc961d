"""
Step time of RobustShadowHandCube-v0 against raw ``mj_step`` calls, and of RobustCartPole-v0 against CartPole-v1.

Hand: the env's ``step`` (unwrapped, nominal parameters) against ``data.ctrl[:] = a; mj_step(model, data,
nstep=20)`` on a copy of the same model, from the same start states with the same actions (target: at
most 1.2x). CartPole: the env's ``step`` against Gymnasium's ``CartPole-v1`` (unwrapped, same seeds and
actions), and ``sample_next_states`` for N states x K models against as many ``set_state`` + ``step`` calls.
Sides are interleaved round by round; the best round counts, so both sides see the same machine load.
"""

from __future__ import annotations

import argparse
import copy
import time

import gymnasium as gym
import mujoco
import numpy as np

import robust_envs  # noqa: F401  (registers the ids)

HAND = "RobustShadowHandCube-v0"
CARTPOLE = "RobustCartPole-v0"


def time_hand_episode(env, seed: int, actions: np.ndarray) -> float:
    """:return: seconds for the steps of one episode (the reset is not timed)."""
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    return time.perf_counter() - start


def time_raw_episode(model, data, state: np.ndarray, actions: np.ndarray, nstep: int) -> float:
    """:return: seconds for the same steps as raw ``mj_step`` calls from the env's start state."""
    mujoco.mj_setState(model, data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
    start = time.perf_counter()
    for action in actions:
        data.ctrl[:] = action
        mujoco.mj_step(model, data, nstep=nstep)
    return time.perf_counter() - start


def bench_hand(episodes: int, steps: int, rounds: int) -> None:
    env = gym.make(HAND).unwrapped
    model = copy.copy(env.model)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, (episodes, steps, 20)).astype(np.float32)
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    starts = []
    for seed in range(episodes):
        env.reset(seed=seed)
        state = np.empty(mujoco.mj_stateSize(env.model, spec))
        mujoco.mj_getState(env.model, env.data, state, spec)
        starts.append(state)
    # episode by episode, the two sides alternate; each episode's best round counts
    best_env, best_raw = np.full(episodes, np.inf), np.full(episodes, np.inf)
    for _ in range(rounds):
        for i in range(episodes):
            best_env[i] = min(best_env[i], time_hand_episode(env, i, actions[i]))
            best_raw[i] = min(best_raw[i], time_raw_episode(model, data, starts[i], actions[i], env.frame_skip))
    n = episodes * steps
    per_env, per_raw = best_env.sum() / n * 1e6, best_raw.sum() / n * 1e6
    ratio = per_env / per_raw
    print(f"{HAND}: raw mj_step x{env.frame_skip} {per_raw:.1f} us/step, env.step {per_env:.1f} us/step, ratio {ratio:.3f}")


def time_cartpole(env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    total = 0.0
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            total += time.perf_counter() - start
            env.reset()
            start = time.perf_counter()
    return total + time.perf_counter() - start


def bench_cartpole(steps: int, rounds: int, n: int, k: int) -> None:
    robust, upstream = gym.make(CARTPOLE).unwrapped, gym.make("CartPole-v1").unwrapped
    actions = np.random.default_rng(0).integers(0, 2, steps)
    best_up, best_robust = np.inf, np.inf
    for _ in range(rounds):
        best_up = min(best_up, time_cartpole(upstream, actions))
        best_robust = min(best_robust, time_cartpole(robust, actions))
    per_up, per_robust = best_up / steps * 1e6, best_robust / steps * 1e6
    print(f"{CARTPOLE}: CartPole-v1 {per_up:.2f} us/step, robust {per_robust:.2f} us/step, ratio {per_robust / per_up:.3f}")
    # next-state sampling: one vectorised call against N*K set_state + step calls
    rng = np.random.default_rng(1)
    states = np.column_stack((rng.uniform(-0.2, 0.2, (n, 4)), -np.ones(n)))
    batch_actions = rng.integers(0, 2, n)
    models = [{}, {"pole_length": 1.0}, {"force_mag": 5.0}, {"pole_mass": 0.5}][:k]
    loop_env = gym.make(CARTPOLE).unwrapped
    loop_env.reset(seed=0)
    best_batch, best_loop = np.inf, np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        robust.sample_next_states(states, batch_actions, models)
        best_batch = min(best_batch, time.perf_counter() - start)
        start = time.perf_counter()
        for model in models:
            loop_env.reset(options={"params": model})
            for state, action in zip(states, batch_actions, strict=True):
                loop_env.set_state(state)
                loop_env.step(int(action))
        best_loop = min(best_loop, time.perf_counter() - start)
    print(
        f"{CARTPOLE}: sample_next_states N={n} K={len(models)} {best_batch * 1e3:.2f} ms, "
        f"loop of set_state + step {best_loop * 1e3:.2f} ms, speed-up {best_loop / best_batch:.1f}x"
    )


def main() -> None:
    """Print the per-step times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=5, help="hand episodes per round")
    parser.add_argument("--steps", type=int, default=200, help="hand steps per episode")
    parser.add_argument("--cartpole-steps", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=1024, help="states per CartPole sampling call")
    parser.add_argument("--k", type=int, default=3, help="models per CartPole sampling call (at most 4)")
    args = parser.parse_args()
    bench_hand(args.episodes, args.steps, args.rounds)
    bench_cartpole(args.cartpole_steps, args.rounds, args.n, args.k)


if __name__ == "__main__":
    main()
