"""
The main job of the README, until the trainers land: a fixed controller across unseen pole lengths and cart sizes.

A linear state-feedback controller, tuned by hand on the nominal RobustInvertedPendulum-v0, is evaluated
over the training and the testing ranges of Jiang et al. (2021), Table 1. It balances the nominal
pendulum for the whole episode; the grid shows where a policy fitted to one model stops working. The
trainer issues replace this controller with MRPO against PPO.

Run: ``python -m benchmarks.demo`` (``make demo``); output in ``demo_output/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from robust_envs.evaluation import evaluate_robustness
from robust_envs.presets import get_preset


class LinearController:
    """
    ``action = clip(K @ obs)``: state feedback on cart position, pole angle and their velocities.

    :param gains: the feedback gains K, (4,)
    :param limit: the actuator's control range (InvertedPendulum-v5: [-3, 3])
    """

    def __init__(self, gains: np.ndarray, limit: float = 3.0) -> None:
        self.gains = np.asarray(gains, dtype=np.float64)
        self.limit = limit

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        return np.clip([self.gains @ observation], -self.limit, self.limit).astype(np.float32)


def main() -> None:
    """Evaluate the controller on both grids, print the tables and write CSV, JSON and heatmaps."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=4, help="grid points per parameter")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    controller = LinearController(np.array([0.5, 5.0, 0.5, 0.5]))
    for role in ("train", "test"):
        preset = get_preset(f"jiang2021/invertedpendulum/{role}")
        report = evaluate_robustness(
            controller,
            "RobustInvertedPendulum-v0",
            preset,
            n_episodes=args.episodes,
            seed=0,
            points=args.points,
            n_workers=args.workers,
        )
        print(f"\n== fixed linear controller on {preset.name}: {preset.describe()}\n   ({preset.source})")
        print(report.summary())
        report.to_csv(args.out / f"{role}.csv")
        report.to_json(args.out / f"{role}.json")
        try:
            report.plot_heatmap(args.out / f"{role}_heatmap.png", x="pole_length", y="cart_size")
        except ImportError as error:
            print(f"(no heatmap: {error})")
    print(f"\nFiles written to {args.out}/")


if __name__ == "__main__":
    main()
