"""
The statistics behind the status table of ``benchmarks/RESULTS.md``: per-seed results of two agents, paired by
seed, with the tests that fit them.

For each comparison it prints both agents' per-seed values, their mean and standard deviation across seeds, the
mean paired difference, how many seeds the first agent wins, and three tests: the exact one-sided sign test over
the paired seeds, the Wilcoxon signed-rank test (paired; exact for small samples) and the Mann-Whitney U test
(unpaired, rank-based: the right one where runs are bimodal, i.e. some seeds learn and some do not), both
two-sided. Cliff's delta is the effect size (the probability that a seed of the first agent beats one of the
second, minus the reverse).

Run::

    python -m benchmarks.seed_tests mpo benchmarks/results/mpo_cartpole_balance RE-MPO E-MPO
    python -m benchmarks.seed_tests mrpo benchmarks/results/mrpo_fixed cartpole mrpo ppo-dr --metric test_worst10
    python -m benchmarks.seed_tests demo benchmarks/results/demo/summary.json
    python -m benchmarks.seed_tests wr2l benchmarks/results/wr2l_1d wr2l ppo --metric worst10
    python -m benchmarks.seed_tests rambo benchmarks/results/rambo_hopper-medium-replay rambo bc --metric nominal
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from robust_sb3.demo import sign_test


def sample_sd(values: Any, axis: int | None = None) -> float | list[float] | None:
    """
    The spread over seeds that the reproduction summaries report: the sample standard deviation (``ddof=1``).

    :param values: one value per seed, or an array with the seeds along ``axis``
    :param axis: the seeds' axis (``None``: all values are seeds)
    :return: the sd (a list along the other axis where ``axis`` is given), or ``None`` with a single seed, which
        gives no estimate of the spread
    """
    values = np.asarray(values, dtype=float)
    if (values.size if axis is None else values.shape[axis]) < 2:
        return None
    sd = values.std(axis=axis, ddof=1)
    return float(sd) if axis is None else sd.tolist()


def mean_sd(mean: float, sd: float | None, digits: int = 1, sign: str = "+-") -> str:
    """
    One cell of a summary table.

    :param mean: the mean over seeds
    :param sd: from :func:`sample_sd`; ``None`` (a single seed) prints the mean alone, not "+- 0.0", which would
        claim that the seeds do not spread
    :param digits: decimals of both
    :param sign: what stands between the two (``"+-"`` or ``"±"``)
    :return: ``"mean +- sd"`` with ``digits`` decimals
    """
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} {sign} {sd:.{digits}f}"


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """:return: ``P(a > b) - P(a < b)`` over all pairs"""
    diff = a[:, None] - b[None, :]
    return float((np.sum(diff > 0) - np.sum(diff < 0)) / diff.size)


def compare(name_a: str, a: dict[int, float], name_b: str, b: dict[int, float]) -> dict[str, float | int | str]:
    """
    :param a: the first agent's value per seed
    :param b: the second agent's value per seed
    :return: the statistics of the seeds both have
    """
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    x, y = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
    diff = x - y
    wins, trials = int(np.sum(diff > 0)), int(np.sum(diff != 0))
    wilcoxon = stats.wilcoxon(x, y).pvalue if trials else 1.0
    return {
        "comparison": f"{name_a} vs {name_b}",
        "seeds": ",".join(map(str, seeds)),
        f"{name_a} per seed": " ".join(f"{v:.0f}" for v in x),
        f"{name_b} per seed": " ".join(f"{v:.0f}" for v in y),
        "mean a": float(x.mean()),
        "sd a": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "mean b": float(y.mean()),
        "sd b": float(y.std(ddof=1)) if y.size > 1 else 0.0,
        "mean paired difference": float(diff.mean()),
        "wins": f"{wins} of {len(seeds)}",
        "sign test p (one-sided)": sign_test(wins, trials),
        "Wilcoxon p (two-sided)": float(wilcoxon),
        "Mann-Whitney p (two-sided)": float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue),
        "Cliff's delta": cliffs_delta(x, y),
    }


def mpo_holdout(folder: Path, agent: str) -> dict[int, float]:
    """:return: per seed, the mean return over the hold-out cells of ``benchmarks.mpo_reproduction``'s run files"""
    out = {}
    for path in sorted(folder.glob(f"{agent}_seed*.json")):
        record = json.loads(path.read_text())
        holdout = set(record["holdout_values"])
        values = [m for cell, m in zip(record["cells"], record["cell_means"], strict=True) if cell[record["param"]] in holdout]
        out[int(record["seed"])] = float(np.mean(values))
    return out


def mrpo_metric(folder: Path, task: str, algo: str, metric: str) -> dict[int, float]:
    """:return: per seed, ``metric`` (``train_mean``, ``train_worst10``, ``test_mean``, ``test_worst10``) of the run files"""
    return {
        int(record["seed"]): float(record[metric])
        for record in (json.loads(p.read_text()) for p in sorted(folder.glob(f"{task}_{algo}_seed*.json")))
    }


def wr2l_metric(folder: Path, algo: str, metric: str) -> dict[int, float]:
    """:return: per seed, ``metric`` (``mean``, ``worst10``, ``worst`` over the test grid) of ``wr2l_reproduction``'s files"""
    return {
        int(record["seed"]): float(record[metric])
        for record in (json.loads(p.read_text()) for p in sorted(folder.glob(f"{algo}_seed*.json")))
    }


#: ``rambo_reproduction``'s per-seed figures: the nominal mean return, the grid's mean and its 10%-worst return
RAMBO_METRICS = {
    "nominal": ("nominal", "mean"),
    "grid_mean": ("grid", "mean"),
    "grid_worst10": ("grid", "worst10"),
}


def rambo_metric(folder: Path, learner: str, metric: str) -> dict[int, float]:
    """:return: per seed, ``metric`` (a key of :data:`RAMBO_METRICS`) of ``rambo_reproduction``'s files"""
    section, key = RAMBO_METRICS[metric]
    return {
        int(record["seed"]): float(record[section][key])
        for record in (json.loads(p.read_text()) for p in sorted(folder.glob(f"{learner}_seed*.json")))
    }


def main() -> None:
    """Print the comparison as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    mpo = sub.add_parser("mpo")
    mpo.add_argument("folder", type=Path)
    mpo.add_argument("agents", nargs=2)
    mrpo = sub.add_parser("mrpo")
    mrpo.add_argument("folder", type=Path)
    mrpo.add_argument("task")
    mrpo.add_argument("algos", nargs=2)
    mrpo.add_argument("--metric", default="test_mean", choices=("train_mean", "train_worst10", "test_mean", "test_worst10"))
    demo = sub.add_parser("demo")
    demo.add_argument("summary", type=Path)
    wr2l = sub.add_parser("wr2l")
    wr2l.add_argument("folder", type=Path)
    wr2l.add_argument("algos", nargs=2)
    wr2l.add_argument("--metric", default="mean", choices=("mean", "worst10", "worst"))
    rambo = sub.add_parser("rambo")
    rambo.add_argument("folder", type=Path)
    rambo.add_argument("learners", nargs=2)
    rambo.add_argument("--metric", default="nominal", choices=tuple(RAMBO_METRICS))
    args = parser.parse_args()
    if args.kind == "mpo":
        a, b = (mpo_holdout(args.folder, agent) for agent in args.agents)
        rows = [compare(*args.agents[:1], a, args.agents[1], b)]
    elif args.kind == "mrpo":
        a, b = (mrpo_metric(args.folder, args.task, algo, args.metric) for algo in args.algos)
        rows = [compare(args.algos[0], a, args.algos[1], b)]
    elif args.kind == "wr2l":
        a, b = (wr2l_metric(args.folder, algo, args.metric) for algo in args.algos)
        rows = [compare(args.algos[0], a, args.algos[1], b)]
    elif args.kind == "rambo":
        a, b = (rambo_metric(args.folder, learner, args.metric) for learner in args.learners)
        rows = [compare(args.learners[0], a, args.learners[1], b)]
    else:
        summary = json.loads(args.summary.read_text())
        seeds = summary["seeds"]
        rows = []
        for metric in ("mean", "worst10"):
            robust, baseline = (dict(zip(seeds, summary["held_out"][n][metric], strict=True)) for n in ("MRPO", "PPO"))
            rows.append({"metric": f"held-out {metric}", **compare("MRPO", robust, "PPO", baseline)})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
