"""
Reproduce Jiang et al. (2021) Table 2 and Figure 2 at this machine's budget: MRPO vs PPO-DR vs PW-DR (EPOpt).

For every (task, algorithm, seed) it trains one policy on the paper's training range (Table 1, the
``jiang2021/<task>/train`` preset), records the training curves (average and 10%-worst return over the
environments sampled each iteration), then evaluates the final policy over grids of the training range
(Table 2's claim) and of the unseen testing range (Figure 2's heatmaps). One JSON per run in
``benchmarks/results/mrpo/``; runs whose file exists are skipped, so the script is resumable. Run one
process at a time (``nice -n 10``); ``--summarize`` aggregates the files into tables and figures.
``--ray-address`` runs each missing (algorithm, seed) as a Ray task (one CPU each) on a cluster, or with ``local``
on a new Ray instance on this machine, writing the same files as the runs finish (``benchmarks/ray_runs.py``).

Every task rolls out ``n_steps`` equal to its time limit per sub-env, so each of MRPO's and PW-DR's sampled
environments is estimated from one full episode (the paper's L = 1; the estimate is the discounted return,
as the paper's eta). ``--keep-mass`` makes a length or size change keep the bodies' masses (Roboschool's
variant, ``keep_mass=True``) for the pendula and writes to ``<out>_keep_mass``.

Run::

    nice -n 10 python -m benchmarks.mrpo_reproduction --task invertedpendulum --seeds 0 1 2 3 4
    nice -n 10 python -m benchmarks.mrpo_reproduction --task inverteddoublependulum --keep-mass --seeds 0 1 2 3 4
    nice -n 10 python -m benchmarks.mrpo_reproduction --task cartpole --seeds 0 1 2 3 4
    nice -n 10 python -m benchmarks.mrpo_reproduction --task hopper --timesteps 1000000 --seeds 0 1 2 3 4
    python -m benchmarks.mrpo_reproduction --summarize [--keep-mass]
    python -m benchmarks.mrpo_reproduction --task hopper --timesteps 1000000 --seeds 0 1 2 3 4 --ray-address auto

Results of the runs made before MRPO's selection was fixed (it dropped the worst environment at kappa = 0)
and with 512-step rollouts are kept in ``benchmarks/results/superseded/mrpo_selection_bug/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.seed_tests import mean_sd, sample_sd
from robust_envs.evaluation import RobustnessReport, evaluate_robustness
from robust_envs.presets import get_preset

OUT = Path("benchmarks/results/mrpo_fixed")
FIGURES = Path("benchmarks/figures")
ALGOS = ("mrpo", "ppo-dr", "pw-dr")

#: Per task: env id, grid axes (x, y) of Figure 2, and the budget this machine runs (PPO settings shared by all).
TASKS: dict[str, dict[str, Any]] = {
    "invertedpendulum": {
        "env_id": "RobustInvertedPendulum-v0",
        "axes": ("pole_length", "cart_size"),
        "timesteps": 300_000,
        "n_envs": 16,
        "ppo": {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99},
    },
    "inverteddoublependulum": {
        "env_id": "RobustInvertedDoublePendulum-v0",
        "axes": ("pole1_length", "pole2_length"),
        "timesteps": 500_000,
        "n_envs": 16,
        "ppo": {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99},
    },
    "cartpole": {
        "env_id": "RobustCartPole-v0",
        "axes": ("pole_length", "pole_mass"),
        "timesteps": 300_000,
        "n_envs": 16,
        "ppo": {"n_steps": 500, "batch_size": 250, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99},
    },
    "hopper": {
        "env_id": "RobustHopper-v0",
        "axes": ("density", "friction"),
        "timesteps": 1_000_000,
        "n_envs": 16,
        "ppo": {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99},
    },
}
#: the tasks whose presets change lengths or sizes, where --keep-mass applies
KEEP_MASS_TASKS = ("invertedpendulum", "inverteddoublependulum")


class CurveRecorder:
    """Per-iteration average and 10%-worst return over the environments of that iteration (Figure 1's curves)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def record(self, model: Any, episode_returns: list[float]) -> None:
        """
        :param model: the algorithm (its ``last_selection`` is used for MRPO/PW-DR)
        :param episode_returns: PPO-DR: the Monitor returns of the episodes finished during the rollout
        """
        from robust_sb3.common.selection import worst_fraction_mean

        selection = getattr(model, "last_selection", None)
        returns = selection.returns if selection is not None else np.asarray(episode_returns, dtype=np.float64)
        if returns.size == 0:
            return
        row = {
            "timesteps": int(model.num_timesteps),
            "mean_return": float(returns.mean()),
            "worst10_return": worst_fraction_mean(returns, 0.1),
        }
        if selection is not None:
            row["selected_fraction"] = float(selection.mask.mean())
        self.rows.append(row)


def _callback(recorder: CurveRecorder):
    from stable_baselines3.common.callbacks import BaseCallback

    class _Curves(BaseCallback):
        def _on_rollout_start(self) -> None:
            self._returns: list[float] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self._returns.append(float(info["episode"]["r"]))
            return True

        def _on_rollout_end(self) -> None:
            self._pending = list(self._returns)

        def _on_training_end(self) -> None:
            pass

    class _AfterSelection(_Curves):
        # MRPO/PW-DR select after on_rollout_end returns, so record at the next rollout start (and at the end)
        def _on_rollout_start(self) -> None:
            if getattr(self, "_pending", None) is not None:
                recorder.record(self.model, self._pending)
            super()._on_rollout_start()

        def _on_training_end(self) -> None:
            if getattr(self, "_pending", None) is not None:
                recorder.record(self.model, self._pending)

    return _AfterSelection()


def make_model(
    task: str, algo: str, seed: int, timesteps: int | None = None, env_kwargs: dict[str, Any] | None = None
) -> tuple[Any, int]:
    """
    :return: the untrained model of ``algo`` on ``task`` with the shared hyperparameters, and its training steps
    """
    import torch as th
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3.mrpo import MRPO, EPOpt, make_domain_randomized_env

    th.set_num_threads(1)
    config = TASKS[task]
    train_set = get_preset(f"jiang2021/{task}/train")
    common = {"seed": seed, "device": "cpu", "verbose": 0, **config["ppo"]}
    if algo == "ppo-dr":
        env = make_domain_randomized_env(
            config["env_id"], train_set, n_envs=config["n_envs"], seed=seed, env_kwargs=env_kwargs
        )
        model = PPO("MlpPolicy", env, **common)
    else:
        env = make_vec_env(config["env_id"], n_envs=config["n_envs"], seed=seed, env_kwargs=env_kwargs)
        cls = MRPO if algo == "mrpo" else EPOpt
        model = cls("MlpPolicy", env, uncertainty_set=train_set, **common)
    return model, int(timesteps or config["timesteps"])


def run_one(
    task: str, algo: str, seed: int, timesteps: int | None, points: int, episodes: int, keep_mass: bool = False
) -> dict[str, Any]:
    """Train, record the curves, evaluate on the training and testing grids; return the JSON record."""
    config = TASKS[task]
    env_kwargs = {"keep_mass": True} if keep_mass else {}
    model, steps = make_model(task, algo, seed, timesteps, env_kwargs)
    recorder = CurveRecorder()
    start = time.perf_counter()
    model.learn(steps, callback=_callback(recorder))
    train_seconds = time.perf_counter() - start
    record: dict[str, Any] = {
        "task": task,
        "env_id": config["env_id"],
        "algo": algo,
        "seed": seed,
        "timesteps": steps,
        "n_envs": config["n_envs"],
        "ppo": config["ppo"],
        "env_kwargs": env_kwargs,
        "return_estimate": getattr(model, "return_estimate", None),
        "train_seconds": train_seconds,
        "curves": recorder.rows,
    }
    if algo == "mrpo":
        record["kappa"] = repr(model.kappa)
    for role in ("train", "test"):
        report = evaluate_robustness(
            model,
            config["env_id"],
            f"jiang2021/{task}/{role}",
            n_episodes=episodes,
            seed=1000,
            points=points,
            env_kwargs=env_kwargs,
        )
        record[f"eval_{role}"] = report.to_dict()
        record[f"{role}_mean"] = report.mean
        record[f"{role}_worst10"] = report.cvar(0.1)
    record["eval_seconds"] = time.perf_counter() - start - train_seconds
    return record


def summarize(out: Path = OUT) -> str:
    """Aggregate the run files: tables (markdown) and figures. :return: the markdown"""
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    lines = []
    for task in TASKS:
        runs = [r for r in records if r["task"] == task]
        if not runs:
            continue
        lines.append(f"\n### {task} ({runs[0]['env_id']})\n")
        lines.append(
            "| algorithm | seeds | steps | train avg | train 10%-worst | test avg | test 10%-worst "
            "| last 10 iterations avg | last 10 iterations 10%-worst |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for algo in ALGOS:
            mine = [r for r in runs if r["algo"] == algo]
            if not mine:
                continue

            def stat(values: list[float]) -> str:
                return mean_sd(float(np.mean(values)), sample_sd(values), sign="±")

            tail_mean = [np.mean([c["mean_return"] for c in r["curves"][-10:]]) for r in mine]
            tail_worst = [np.mean([c["worst10_return"] for c in r["curves"][-10:]]) for r in mine]
            lines.append(
                f"| {algo} | {','.join(str(r['seed']) for r in mine)} | {mine[0]['timesteps']} "
                f"| {stat([r['train_mean'] for r in mine])} | {stat([r['train_worst10'] for r in mine])} "
                f"| {stat([r['test_mean'] for r in mine])} | {stat([r['test_worst10'] for r in mine])} "
                f"| {stat(tail_mean)} | {stat(tail_worst)} |"
            )
        _figures(task, runs, suffix="_keep_mass" if out.name.endswith("_keep_mass") else "")
    return "\n".join(lines)


def _figures(task: str, runs: list[dict[str, Any]], suffix: str = "") -> None:
    from matplotlib.figure import Figure

    FIGURES.mkdir(parents=True, exist_ok=True)
    x, y = TASKS[task]["axes"]
    algos = [a for a in ALGOS if any(r["algo"] == a for r in runs)]
    # Figure 2: mean over seeds of the per-cell mean return on the testing grid
    fig = Figure(figsize=(4.2 * len(algos), 3.8), layout="constrained")
    grids = {}
    for algo in algos:
        means = [RobustnessReport.from_dict(r["eval_test"]).grid_axes(x, y) for r in runs if r["algo"] == algo]
        grids[algo] = (means[0][2], means[0][3], np.mean([m[4] for m in means], axis=0), len(means))
    vmax = max(g[2].max() for g in grids.values())
    for k, algo in enumerate(algos):
        xs, ys, grid, n = grids[algo]
        ax = fig.add_subplot(1, len(algos), k + 1)
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs], fontsize=7)
        ax.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys], fontsize=7)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{algo} (mean of {n} seeds)", fontsize=9)
        for i in range(len(ys)):
            for j in range(len(xs)):
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.0f}",
                    ha="center",
                    va="center",
                    color="w" if grid[i, j] < vmax / 2 else "k",
                    fontsize=7,
                )
    fig.colorbar(image, ax=fig.axes, label="mean return")
    fig.suptitle(f"{TASKS[task]['env_id']}: unseen testing range (Jiang et al. Table 1)", fontsize=10)
    fig.savefig(FIGURES / f"mrpo_{task}{suffix}_test_heatmaps.png", dpi=100)
    # Figure 1: training curves
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    for k, key in enumerate(("mean_return", "worst10_return")):
        ax = fig.add_subplot(1, 2, k + 1)
        for algo in algos:
            for n, r in enumerate(rr for rr in runs if rr["algo"] == algo):
                steps = [c["timesteps"] for c in r["curves"]]
                values = [c[key] for c in r["curves"]]
                colour = {"mrpo": "tab:red", "ppo-dr": "tab:blue", "pw-dr": "tab:green"}[algo]
                ax.plot(steps, values, color=colour, alpha=0.7, label=algo if n == 0 else None)
        ax.set_xlabel("env steps")
        ax.set_ylabel({"mean_return": "average return", "worst10_return": "10%-worst return"}[key])
        ax.legend(fontsize=8)
    window = TASKS[task]["ppo"]["n_steps"]
    fig.suptitle(
        f"{TASKS[task]['env_id']}: training curves over the environments of each iteration\n"
        f"(mrpo, pw-dr: per-environment discounted returns of the {window}-step rollout; "
        "ppo-dr: undiscounted returns of full episodes that ended in the iteration; not on one scale)",
        fontsize=9,
    )
    fig.savefig(FIGURES / f"mrpo_{task}{suffix}_training_curves.png", dpi=100)


def describe(path: Path, record: dict[str, Any]) -> str:
    """:return: the line printed for a finished run"""
    return (
        f"{path}: train {record['train_seconds']:.0f}s, train avg {record['train_mean']:.1f} / 10%-worst "
        f"{record['train_worst10']:.1f}, test avg {record['test_mean']:.1f} / 10%-worst {record['test_worst10']:.1f}"
    )


def main() -> None:
    """Run the missing (task, algorithm, seed) combinations one after another (or as Ray tasks), or summarise."""
    from benchmarks.ray_runs import add_ray_address_argument, parse_with_ray_address

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=list(TASKS), default="invertedpendulum")
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=None, help="override the task's budget")
    parser.add_argument("--points", type=int, default=5, help="evaluation grid points per parameter")
    parser.add_argument("--episodes", type=int, default=2, help="evaluation episodes per grid cell")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep-mass", action="store_true", help="lengths and sizes keep the bodies' masses (pendula)")
    parser.add_argument("--summarize", action="store_true")
    add_ray_address_argument(parser)
    args = parse_with_ray_address(parser)
    if args.keep_mass:
        if not args.summarize and args.task not in KEEP_MASS_TASKS:
            parser.error(f"--keep-mass applies to the tasks with lengths or sizes {KEEP_MASS_TASKS}, not {args.task}")
        args.out = args.out.with_name(args.out.name + "_keep_mass")
    if args.summarize:
        print(summarize(args.out))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.ray_address is not None:
        from benchmarks import ray_runs

        jobs = []
        for seed in args.seeds:  # seed-major submission, as below
            for algo in args.algos:
                path = args.out / f"{args.task}_{algo}_seed{seed}.json"
                if path.exists():
                    print(f"skip {path} (exists)", flush=True)
                    continue
                kwargs = {
                    "task": args.task,
                    "algo": algo,
                    "seed": seed,
                    "timesteps": args.timesteps,
                    "points": args.points,
                    "episodes": args.episodes,
                    "keep_mass": args.keep_mass,
                }
                jobs.append((path, "benchmarks.mrpo_reproduction", "run_one", kwargs))
        ray_runs.run_on_ray(jobs, args.ray_address, describe)
        return
    # seed-major order: after any interruption every algorithm has the same number of seeds done
    for seed in args.seeds:
        for algo in args.algos:
            path = args.out / f"{args.task}_{algo}_seed{seed}.json"
            if path.exists():
                print(f"skip {path} (exists)", flush=True)
                continue
            record = run_one(args.task, algo, seed, args.timesteps, args.points, args.episodes, args.keep_mass)
            path.write_text(json.dumps(record))
            print(describe(path, record), flush=True)


if __name__ == "__main__":
    main()
