"""Time of a domain-randomised reset with a cached model against a plain reset of the same env."""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from robust_envs.presets import get_preset
from robust_envs.wrappers import DomainRandomization


def best_time(fn, repeats: int, rounds: int) -> float:
    """:return: the best per-call time over ``rounds`` rounds of ``repeats`` calls."""
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    """Print per-reset times and the ratio for a density/friction box (in-place edits) and a geometry set (cached rebuilds)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = (
        ("RobustHopper-v0", get_preset("jiang2021/hopper/train")),
        # a finite grid of geometries: every model is compiled once, then comes from the cache
        ("RobustInvertedPendulum-v0", get_preset("jiang2021/invertedpendulum/train")),
    )
    for env_id, preset in cases:
        plain = gym.make(env_id)
        if preset.is_finite:
            randomised_set = preset
        else:
            from robust_envs.uncertainty import UncertaintySet

            randomised_set = preset if env_id == "RobustHopper-v0" else UncertaintySet.finite(env_id, preset.grid(4))
        randomised = DomainRandomization(gym.make(env_id), randomised_set)
        plain.reset(seed=0)
        randomised.reset(seed=0)
        for _ in range(200):  # warm the model cache
            randomised.reset()
        t_plain = best_time(plain.reset, args.repeats, args.rounds)
        t_random = best_time(randomised.reset, args.repeats, args.rounds)
        print(
            f"{env_id:28s} plain reset {t_plain * 1e6:8.1f} us   randomised ({randomised_set.describe()[:40]}...) "
            f"{t_random * 1e6:8.1f} us   ratio {t_random / t_plain:.2f}"
        )


if __name__ == "__main__":
    main()
