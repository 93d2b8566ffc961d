"""Physics-step rate of sample_next_states (N states x K models) against a single-thread mj_step loop over the same rows."""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import mujoco
import numpy as np

import robust_envs


def main() -> None:
    """Print steps per second of both and their ratio, best of several interleaved rounds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="RobustHopper-v0")
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    env = gym.make(args.env).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    # states from a real trajectory, so contacts occur as in training data
    states, actions = [], []
    while len(states) < args.n:
        action = rng.uniform(env.action_space.low, env.action_space.high)
        states.append(env.get_state())
        actions.append(action)
        if env.step(action)[2]:
            env.reset()
    states_arr, actions_arr = np.array(states), np.array(actions)
    models = [{}, {"torso_density": 1250.0}, {"friction": 0.5}]
    k = len(models)
    env.sample_next_states(states_arr, actions_arr, models)  # builds and caches the K models

    # the peer: one MjData stepped row by row, frame_skip substeps per call, on the K models
    mj_models = [env._builder.model_for(v) for v in env.resolve_param_batch(models)]
    data = mujoco.MjData(env.model)
    spec = robust_envs.mujoco_env.STATE_SPEC

    def peer() -> None:
        for state, action in zip(states_arr, actions_arr, strict=True):
            for model in mj_models:
                mujoco.mj_setState(model, data, state, spec)
                data.ctrl[:] = action
                mujoco.mj_step(model, data, nstep=env.frame_skip)

    def sampler() -> None:
        env.sample_next_states(states_arr, actions_arr, models)

    best = {"peer": np.inf, "sampler": np.inf}
    for _ in range(args.rounds):
        for name, fn in (("peer", peer), ("sampler", sampler)):
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    physics_steps = args.n * k * env.frame_skip
    rate_peer = physics_steps / best["peer"]
    rate_sampler = physics_steps / best["sampler"]
    print(f"{args.env}: N={args.n}, K={k}, frame_skip={env.frame_skip} ({physics_steps} physics steps)")
    print(f"single-thread mj_step loop : {rate_peer:12.0f} steps/s ({best['peer'] * 1e3:.1f} ms)")
    print(f"sample_next_states         : {rate_sampler:12.0f} steps/s ({best['sampler'] * 1e3:.1f} ms)")
    print(f"ratio                      : {rate_sampler / rate_peer:.2f}x")


if __name__ == "__main__":
    main()
