"""
The main job: train a robust policy and its non-robust twin, and show on held-out pole lengths which holds up.

``robust-rl demo`` (or ``make demo``, or ``python -m robust_sb3.demo``) trains, for each seed, with the same
PPO hyperparameters and the same number of env steps:

- the **robust trainer**, MRPO (Jiang et al. 2021) on their training range of ``RobustInvertedPendulum-v0``
  (Table 1: pole length 0.5-2 m, cart size 0.05-0.25 m), and
- its **non-robust twin**, PPO on the nominal pendulum only (pole 0.6 m, cart 0.1 m),

both with ``keep_mass=True``: a length or size change keeps each body's mass, as Roboschool's generalisation
benchmark (which Jiang et al. used) does. It then evaluates every policy, deterministic, on a held-out sweep
fixed in advance by a paper's table, not chosen after seeing results: WR2L's pole-length test range,
0.3-3 m (Abdullah et al., appendix B and Table 1), on a 0.1 m grid at the nominal cart. The verdict is
decided on the part of the sweep outside the robust trainer's training range (0.3-0.4 m and 2.1-3 m, the
:data:`HELD_OUT` cells); the whole sweep is reported too.

It prints per seed the mean and the 10%-worst return (mean of the worst 10% of cells) of both policies, their
mean and spread across seeds, and a verdict computed from those numbers ("within the seed spread" when the
mean +- standard deviation intervals of the two overlap). It writes ``demo.png`` (return against pole length
for both policies, every seed, the training range shaded; per-seed bars of the held-out part),
``summary.json`` and each policy's report as CSV to the output folder (``demo_output/``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "RobustInvertedPendulum-v0"
#: Jiang et al. 2021, Table 1: the robust trainer's training range
TRAIN_SET = "jiang2021/invertedpendulum/train"
TRAIN_POLE_RANGE = (0.5, 2.0)
#: both policies train and are evaluated with masses kept (Roboschool's variant of a length change)
ENV_KWARGS = {"keep_mass": True}
#: WR2L's pole-length test range, 0.3-3 m, on a 0.1 m grid (fixed before any result was seen)
SWEEP = tuple(round(0.1 * i, 1) for i in range(3, 31))
#: the sweep's cells outside the robust trainer's training range: they decide the verdict
HELD_OUT = tuple(length for length in SWEEP if not TRAIN_POLE_RANGE[0] <= length <= TRAIN_POLE_RANGE[1])
#: one PPO configuration for both learners; n_steps is the env's 1000-step time limit, so each of MRPO's
#: sampled environments is estimated from one full episode (Algorithm 2, L = 1)
HYPERPARAMETERS = {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"}
#: evaluation episodes use seeds from here on (never a training seed)
EVAL_SEED = 10_000
ROBUST_NAME, BASELINE_NAME = "MRPO", "PPO"


@dataclass(frozen=True)
class Run:
    """
    One training run of the demo.

    :param algo: ``"robust"`` (MRPO on the training range) or ``"baseline"`` (PPO on the nominal env)
    :param seed: the training seed
    :param timesteps: env steps
    :param n_envs: sub-envs (MRPO: environments sampled per iteration)
    :param episodes: evaluation episodes per pole length
    """

    algo: str
    seed: int
    timesteps: int
    n_envs: int
    episodes: int

    @property
    def name(self) -> str:
        """:return: the learner's display name"""
        return ROBUST_NAME if self.algo == "robust" else BASELINE_NAME


def train(run: Run) -> Any:
    """
    :param run: what to train
    :return: the trained SB3 model
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3 import MRPO

    env = make_vec_env(ENV_ID, n_envs=run.n_envs, seed=run.seed, env_kwargs=ENV_KWARGS)
    if run.algo == "baseline":
        model = PPO("MlpPolicy", env, seed=run.seed, verbose=0, **HYPERPARAMETERS)
    else:
        model = MRPO("MlpPolicy", env, uncertainty_set=TRAIN_SET, seed=run.seed, verbose=0, **HYPERPARAMETERS)
    return model.learn(run.timesteps)


def train_and_evaluate(run: Run) -> dict[str, Any]:
    """
    Train one learner and evaluate it over the sweep (in a worker process: one core each).

    :param run: what to train
    :return: ``{"run": ..., "report": RobustnessReport.to_dict(), "seconds": ...}``
    """
    import torch as th

    from robust_envs.evaluation import evaluate_robustness

    th.set_num_threads(1)  # one run per core: more threads only contend
    tic = time.perf_counter()
    model = train(run)
    report = evaluate_robustness(
        model, ENV_ID, {"pole_length": list(SWEEP)}, n_episodes=run.episodes, seed=EVAL_SEED, env_kwargs=ENV_KWARGS
    )
    return {"run": run, "report": report.to_dict(), "seconds": time.perf_counter() - tic}


# ---- statistics -------------------------------------------------------------------------------------------
def worst10(returns: Sequence[float]) -> float:
    """:return: the mean of the worst 10% of ``returns`` (at least one), the papers' 10%-worst return"""
    from robust_sb3.common.selection import worst_fraction_mean

    return worst_fraction_mean(np.asarray(returns, dtype=np.float64), 0.1)


def cell_returns(report: Any, lengths: Sequence[float]) -> np.ndarray:
    """:return: the mean return of ``report``'s cells at the given pole lengths, in that order"""
    by_length = {round(cell["pole_length"], 6): mean for cell, mean in zip(report.cells, report.cell_means, strict=True)}
    return np.array([by_length[round(length, 6)] for length in lengths])


def verdict(robust: Sequence[float], baseline: Sequence[float], what: str) -> str:
    """
    One sentence from the numbers alone: which learner is ahead on ``what``, and whether the gap exceeds the seed spread.

    The gap counts as outside the seed spread when the intervals mean +- standard deviation (across seeds) of the
    two learners do not overlap.

    :param robust: the robust learner's value per seed
    :param baseline: the twin's value per seed, paired by seed
    :param what: the measure, e.g. ``"held-out mean return"``
    """
    r, b = np.asarray(robust, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    r_mean, b_mean, r_std, b_std = (
        r.mean(),
        b.mean(),
        r.std(ddof=1) if r.size > 1 else 0.0,
        b.std(ddof=1) if b.size > 1 else 0.0,
    )
    ahead = int(np.sum(r > b))
    p_sign = sign_test(ahead, int(np.sum(r != b)))
    leader, trailer = (ROBUST_NAME, BASELINE_NAME) if r_mean >= b_mean else (BASELINE_NAME, ROBUST_NAME)
    spread = "outside" if abs(r_mean - b_mean) > r_std + b_std else "within"
    return (
        f"{what}: {leader} is ahead ({ROBUST_NAME} {r_mean:.0f} +- {r_std:.0f}, {BASELINE_NAME} {b_mean:.0f} +- {b_std:.0f} "
        f"over {r.size} seeds; {ROBUST_NAME} higher in {ahead} of {r.size} paired seeds, "
        f"one-sided sign test p = {p_sign:.3g}); "
        f"the gap is {spread} the seed "
        f"spread" + (f", so {leader} holds up better than {trailer} here." if spread == "outside" else ".")
    )


def sign_test(wins: int, trials: int) -> float:
    """
    The exact one-sided sign test of paired seeds: ``P(X >= wins)`` for ``X ~ Binomial(trials, 1/2)``.

    :param wins: seeds where the robust learner is higher
    :param trials: seeds where the two differ (ties dropped)
    :return: the p-value (1.0 without trials)
    """
    return float(sum(math.comb(trials, k) for k in range(wins, trials + 1)) / 2**trials) if trials else 1.0


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """
    :param results: the outputs of :func:`train_and_evaluate`
    :return: the content of ``summary.json``
    """
    from robust_envs.evaluation import RobustnessReport

    summary: dict[str, Any] = {"robust": ROBUST_NAME, "baseline": BASELINE_NAME, "held_out": {}, "sweep": {}, "seeds": []}
    curves: dict[str, dict[int, list[float]]] = {}
    for result in sorted(results, key=lambda item: (item["run"].algo, item["run"].seed)):
        run, report = result["run"], RobustnessReport.from_dict(result["report"])
        held, whole = cell_returns(report, HELD_OUT), cell_returns(report, SWEEP)
        for key, values in (("held_out", held), ("sweep", whole)):
            entry = summary[key].setdefault(run.name, {"mean": [], "worst10": []})
            entry["mean"].append(float(values.mean()))
            entry["worst10"].append(worst10(values))
        curves.setdefault(run.name, {})[run.seed] = [float(v) for v in whole]
        if run.seed not in summary["seeds"]:
            summary["seeds"].append(run.seed)
    summary["curves"] = {
        "pole_length": list(SWEEP),
        **{name: {str(s): c for s, c in by_seed.items()} for name, by_seed in curves.items()},
    }
    summary["setup"] = {
        "env_id": ENV_ID,
        "env_kwargs": ENV_KWARGS,
        "robust_training_set": TRAIN_SET,
        "baseline_training": "nominal parameters",
        "held_out_pole_lengths": list(HELD_OUT),
        "sweep_source": "Abdullah et al. (WR2L), appendix B: pole length in [0.3, 3]",
        "hyperparameters": HYPERPARAMETERS,
        "timesteps": results[0]["run"].timesteps,
        "n_envs": results[0]["run"].n_envs,
        "episodes_per_cell": results[0]["run"].episodes,
    }
    summary["verdict"] = [
        verdict(summary["held_out"][ROBUST_NAME][key], summary["held_out"][BASELINE_NAME][key], f"held-out {label}")
        for key, label in (("mean", "mean return"), ("worst10", "10%-worst return"))
    ]
    return summary


def table(summary: dict[str, Any], part: str) -> str:
    """:return: the per-seed text table of one part (``"held_out"`` or ``"sweep"``) of the summary"""
    seeds = summary["seeds"]
    lines = [
        f"{'seed':<8}" + "".join(f"{n + ' ' + m:>18}" for n in (ROBUST_NAME, BASELINE_NAME) for m in ("mean", "10%-worst"))
    ]
    data = summary[part]
    for i, seed in enumerate(seeds):
        row = [data[n][m][i] for n in (ROBUST_NAME, BASELINE_NAME) for m in ("mean", "worst10")]
        lines.append(f"{seed:<8}" + "".join(f"{v:>18.1f}" for v in row))
    stats = [
        (np.mean(data[n][m]), np.std(data[n][m], ddof=1) if len(seeds) > 1 else 0.0)
        for n in (ROBUST_NAME, BASELINE_NAME)
        for m in ("mean", "worst10")
    ]
    lines.append(f"{'mean+-sd':<8}" + "".join(f"{f'{a:.1f} +- {s:.1f}':>18}" for a, s in stats))
    return "\n".join(lines)


# ---- the figure -------------------------------------------------------------------------------------------
def plot(summary: dict[str, Any], path: Path) -> Path:
    """
    Return against pole length for both learners (thin: each seed; thick: their mean), the training range
    shaded, beside per-seed bars of the held-out mean return.

    :return: ``path``
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {ROBUST_NAME: "tab:blue", BASELINE_NAME: "tab:orange"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    lengths = summary["curves"]["pole_length"]
    left.axvspan(*TRAIN_POLE_RANGE, color="0.9", label=f"{ROBUST_NAME}'s training range")
    left.axvline(0.6, color="0.5", linestyle=":", linewidth=1, label=f"nominal (where {BASELINE_NAME} trains)")
    for name in (ROBUST_NAME, BASELINE_NAME):
        by_seed = summary["curves"][name]
        for curve in by_seed.values():
            left.plot(lengths, curve, color=colors[name], alpha=0.3, linewidth=1)
        left.plot(
            lengths,
            np.mean(list(by_seed.values()), axis=0),
            color=colors[name],
            linewidth=2.5,
            label=f"{name} (mean of {len(by_seed)} seeds)",
        )
    left.set(
        xlabel="pole length (m), cart mass and pole mass kept",
        ylabel="return (max 1000)",
        title=f"{ENV_ID}: WR2L's test range",
    )
    left.set_ylim(0, 1050)
    left.legend(loc="center right", fontsize=8)
    seeds = summary["seeds"]
    fig.suptitle(summary["verdict"][0].split(" (")[0] + f" (mean over {len(seeds)} seeds, paired by seed)", fontsize=10)
    x = np.arange(len(seeds))
    for offset, name in ((-0.2, ROBUST_NAME), (0.2, BASELINE_NAME)):
        right.bar(x + offset, summary["held_out"][name]["mean"], width=0.4, color=colors[name], label=f"{name} mean")
        right.scatter(x + offset, summary["held_out"][name]["worst10"], marker="_", s=300, color="k", zorder=3)
    right.scatter([], [], marker="_", s=300, color="k", label="10%-worst")
    right.set_xticks(x, [f"seed {s}" for s in seeds])
    right.set(ylabel="return (max 1000)", title="held-out part (0.3-0.4 m, 2.1-3 m)", ylim=(0, 1050))
    right.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- command line -------------------------------------------------------------------------------------------
def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """:return: the demo's argument parser (or ``parser`` with the demo's arguments added)"""
    parser = parser or argparse.ArgumentParser(
        prog="robust-rl demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timesteps", type=_positive_int, default=300_000, help="env steps per learner (default 300000)")
    parser.add_argument(
        "--seeds", type=_non_negative_int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds (default 0-4)"
    )
    parser.add_argument(
        "--n-envs", type=_at_least_two, default=16, help="sub-envs; MRPO's environments per iteration (default 16)"
    )
    parser.add_argument("--episodes", type=_positive_int, default=2, help="evaluation episodes per pole length (default 2)")
    parser.add_argument(
        "--workers", type=_positive_int, default=os.cpu_count() or 1, help="processes, one run each (default: all cores)"
    )
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default demo_output)")
    return parser


def _int_at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """:return: an argparse type: an integer of at least ``minimum`` (``why`` explains the bound in the message)"""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}{why}, got {text}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)
_at_least_two = _int_at_least(2, " (MRPO ranks the environments of its sub-envs)")


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """
    Train and evaluate every (learner, seed), print the tables and the verdict, write the files.

    :return: the summary
    """
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds must be distinct, got {args.seeds}")
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runs = [
        Run(algo, seed, args.timesteps, args.n_envs, args.episodes) for seed in args.seeds for algo in ("robust", "baseline")
    ]
    print(
        f"Training {ROBUST_NAME} on {TRAIN_SET} and {BASELINE_NAME} on the nominal {ENV_ID} (keep_mass=True), "
        f"{args.timesteps} steps each, seeds {args.seeds}, {min(args.workers, len(runs))} at a time",
        flush=True,
    )
    results = []
    with ProcessPoolExecutor(max_workers=min(args.workers, len(runs))) as pool:
        for result in pool.map(train_and_evaluate, runs):
            run = result["run"]
            print(f"  {run.name} seed {run.seed}: trained and evaluated in {result['seconds']:.0f} s", flush=True)
            results.append(result)
    summary = summarize(results)
    from robust_envs.evaluation import RobustnessReport

    for result in results:
        RobustnessReport.from_dict(result["report"]).to_csv(args.out / f"{result['run'].name}_seed{result['run'].seed}.csv")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    short = [h for h in HELD_OUT if h < TRAIN_POLE_RANGE[0]]
    long = [h for h in HELD_OUT if h > TRAIN_POLE_RANGE[1]]
    print(
        f"\n== held-out pole lengths {short[0]}-{short[-1]} m and {long[0]}-{long[-1]} m "
        f"(outside {ROBUST_NAME}'s training range; they decide the verdict)"
    )
    print(table(summary, "held_out"))
    print(f"\n== whole sweep, pole length {SWEEP[0]}-{SWEEP[-1]} m")
    print(table(summary, "sweep"))
    print()
    for line in summary["verdict"]:
        print(line)
    try:
        figure = plot(summary, args.out / "demo.png")
        print(f"\nFigure: {figure}")
    except ImportError as error:
        print(f"\n(no figure: {error}; install the [plots] extra)")
    print(f"Files written to {args.out}/ in {time.perf_counter() - start:.0f} s")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo from the command line."""
    run_demo(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
