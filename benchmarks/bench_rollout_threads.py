"""
Batched physics on threads: ``mujoco.rollout`` of N Hopper rows (4 substeps each, as ``step_batch`` and the sampler
run them) on one thread, on two with rollout's default chunks, and on two with one chunk per thread (what
``RobustMujocoEnv`` does for batches worth threads). The figures behind ``_MIN_THREAD_WORK_S`` in
``robust_envs/mujoco_env.py``.

Run (other jobs paused): ``python -m benchmarks.bench_rollout_threads``
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import mujoco
import mujoco.rollout
import numpy as np

import robust_envs  # noqa: F401  (registers the ids)


def main() -> None:
    """Print the best time per call of each variant for each batch size."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[8, 22, 44])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = gym.make("RobustHopper-v0").unwrapped
    env.reset(seed=0)
    model = env.model
    pool = mujoco.rollout.Rollout(nthread=2)
    size = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    for rows in args.rows:
        datas = [mujoco.MjData(model) for _ in range(2)]
        state = np.zeros((rows, size))
        mujoco.mj_getState(model, env.data, state[0], mujoco.mjtState.mjSTATE_FULLPHYSICS)
        state[:] = state[0]
        control = np.random.default_rng(0).uniform(-1, 1, (rows, 1, 3))
        variants = {
            "1 thread": (mujoco.rollout.rollout, {"data": datas[:1]}),
            "2 threads": (pool.rollout, {"data": datas}),
            "2 threads, 1 chunk each": (pool.rollout, {"data": datas, "chunk_size": -(-rows // 2)}),
        }
        times = {}
        for name, (run, kwargs) in variants.items():
            best = np.inf
            for _ in range(args.rounds):
                start = time.perf_counter()
                for _ in range(args.calls):
                    run([model] * rows, initial_state=state, control=control, nstep=4, **kwargs)
                best = min(best, (time.perf_counter() - start) / args.calls)
            times[name] = best
        print(f"{rows:4d} rows: " + ", ".join(f"{name} {seconds * 1e3:.2f} ms" for name, seconds in times.items()))
    pool.close()


if __name__ == "__main__":
    main()
