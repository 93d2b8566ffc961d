"""
Reproduce WR2L's experiments (Abdullah et al.) at this machine's budget: the 1-D InvertedPendulum (``--task ip1d``,
appendix B, Figures 3-4) and the 2-D Hopper (``--task hopper2d``, Figure 1).

InvertedPendulum, the pole length varied: WR2L (``parameterisation="wr2l/invertedpendulum/1d"``) against PPO on
the nominal pendulum and the paper's two adversarial baselines, RARL (Pinto et al. 2017) and PR-MDP (Tessler et
al. 2019), each trained at the same budget and seeds, then evaluated over the paper's test range of pole
lengths, 0.3-3 m, on a 0.1 m grid (the preset ``wr2l/invertedpendulum/test-pole-length``; the same sweep as the
demo's).

Fixed before any result was seen:

- the env: ``RobustInvertedPendulum-v0`` with ``keep_mass=True`` (a length change keeps the pole's mass, as in
  the demo, so the two compare; the paper does not say which variant it used);
- PPO's settings for every learner: 8 sub-envs x 1000 steps = 8,000 transitions per update (the paper's 5k-10k),
  minibatches of 500, 10 epochs, learning rate 3e-4, gamma 0.99, SB3's 2 x 64 tanh networks (the paper's);
  300k env steps of the protagonist per run;
- WR2L: the ball reaches +-50% of the nominal 0.6 m pole (``epsilon_fraction=0.5``); Proposition 1's perturbations
  of scale ``sigma=0.2`` (relative), 4 antithetic pairs per gradient; every other setting the class's default
  (``shared/WAVE2.md`` 1.7). The default ``sigma=0.05`` was tried first (16k steps, seed 99): the pendulum's
  returns are whole numbers of steps alive, a 5% longer or shorter pole rarely changes when it falls, both
  members of every pair returned the same and the gradient, hence the step, was exactly zero: ``phi`` never left
  0.6 m. A scale of 40% of the ball's reach makes the smoothed return vary across the ball;
- RARL: an adversarial horizontal/vertical force on the pole (Pinto et al.'s body for InvertedPendulum) of at most
  5 N per component (the scale of Pinto et al.'s released code; the paper gives no bound), adversary and
  protagonist updated in alternation with the same PPO settings; PR-MDP: the adversary's action executed with
  probability 0.1 (Tessler et al.'s alpha); both trained for 300k protagonist steps;
- the evaluation: 2 episodes per pole length, deterministic actions, seeds from 10,000; reported per run: the
  mean return over the sweep, its 10%-worst mean and the worst cell.

**Ablation, added after the primary runs were seen** (``wr2l-literal``; the primary protocol above is unchanged and
stays the result): in 3 of the first 4 seeds WR2L's adversary ended at the ball's short end (0.3 m), which the
nominal policy already balances, and the long poles it fails were never trained on. Early in training a short pole
falls sooner (a rod's ``omega^2 = 3 g / 2 l``), so the first gradients point to short poles; once the policy balances
there every perturbed episode returns 1000 and the gradient is exactly zero, so the warm-started Phase I (A5's
default, from ``phi^[k]``) never leaves. ``wr2l-literal`` runs Algorithm 1 as printed (``warm_start=False``: every
Phase I starts from ``phi0`` and a flat return there leaves ``phi`` at nominal), everything else as ``wr2l``. Runs
also record ``phi_history``, the parameters of every update's rollout.

``--task hopper2d`` (Figure 1: WR2L at two epsilons vs PPO vs "PPO mean", torso density x friction), fixed
before any result was seen:

- ``RobustHopper-v0`` at its defaults, ``parameterisation="wr2l/hopper/2d"``; PPO's settings of the PPO paper's
  MuJoCo runs for every learner (4 sub-envs x 2048 steps = 8,192 transitions per update, minibatches of 64,
  10 epochs, learning rate 3e-4, gamma 0.99, GAE 0.95, clip 0.2), 1M env steps;
- WR2L: epsilon calibrated along friction (``epsilon_index=1``), the ball reaching +-15% (``wr2l-small``) and
  +-30% (``wr2l-large``) of it; the estimated ``H0`` makes the ball several times longer along torso density
  (density moves the next states less, per relative unit); every other setting the class's default;
- "PPO mean": PPO on 1,000 settings drawn uniformly from the larger ball (``wasserstein_ball_set``, the ``H0`` of
  the same seed's WR2L set-up), one drawn per episode (``DomainRandomization``);
- the test grid (``shared/WAVE2.md`` A12, "our test set", not the paper's, which gives none): torso density
  500-2000 x friction 0.5-1.5, 5 x 5 points, 2 episodes per cell, deterministic actions, seeds from 10,000.

``--task hopper11d`` (Figure 2: returns on 1,000 systems with all 11 parameters varied), fixed before any result:
WR2L trained on the 2-D parameterisation (``wr2l-2d``, the ball of ``wr2l-large`` above) and on all 11
(``wr2l-11d``, the ball reaching +-30% along friction), PPO, and "PPO mean" on the 11-D ball; the same PPO settings
and budget as ``hopper2d``; the test systems: 1,000 draws uniform in +-50% of nominal on all 11 parameters (seed
2024), one episode each (A12's "our test set": the paper states none).

One JSON per (task, algorithm, seed) in ``benchmarks/results/wr2l_<task>/`` (``wr2l_1d`` for ip1d); existing files
are skipped (resumable). The Hopper tasks also keep each trained policy (SB3's ``policy.save``, about 50 kB) in
``policies/<algo>_seed<S>.zip`` beside the results, committed with them. ``hopper11d``'s ``ppo`` and ``wr2l-2d`` are
the same training as ``hopper2d``'s ``ppo`` and ``wr2l-large`` (same env, settings, budget and seed: checked key by
key, :data:`REUSED`): where ``hopper2d`` kept that policy, ``hopper11d`` evaluates it on its 1,000 systems instead of
training it again, and its record says so (``reused_from``, with the training record's figures copied).
``--ray-address`` runs each missing (algorithm, seed) as a Ray task (one CPU each) on a
cluster, or with ``local`` on a new Ray instance on this machine, writing the same files as the runs finish
(``benchmarks/ray_runs.py``); without it the runs go one after another in this process.

Run::

    nice -n 10 python -m benchmarks.wr2l_reproduction --task ip1d --seeds 0 1 2 3 4
    nice -n 10 python -m benchmarks.wr2l_reproduction --task hopper2d --seeds 0 1 2 3 4
    python -m benchmarks.wr2l_reproduction --task ip1d --summarize       # also benchmarks/figures/wr2l_ip1d_sweep.png
    python -m benchmarks.wr2l_reproduction --task hopper2d --summarize   # heatmaps: benchmarks/figures/wr2l_hopper2d.png
    python -m benchmarks.wr2l_reproduction --task hopper2d --seeds 0 1 2 3 4 --ray-address auto
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.hopper_grid_figure import draw_grid, mean_grid
from benchmarks.seed_tests import mean_sd, sample_sd

#: the 1-D task's figure (the others: ``benchmarks/figures/wr2l_<task>.png``)
FIGURE_1D = Path("benchmarks/figures/wr2l_ip1d_sweep.png")

EVAL_EPISODES = 2
EVAL_SEED = 10_000
PPO_PAPER = {"n_steps": 2048, "batch_size": 64, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"}
#: per task: env, parameterisation, PPO settings, budget, WR2L variants, the test grid
TASKS: dict[str, dict[str, Any]] = {
    "ip1d": {
        "env_id": "RobustInvertedPendulum-v0",
        "env_kwargs": {"keep_mass": True},
        "parameterisation": "wr2l/invertedpendulum/1d",
        "n_envs": 8,
        "ppo": {"n_steps": 1000, "batch_size": 500, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99, "device": "cpu"},
        "timesteps": 300_000,
        "wr2l": {
            "wr2l": {"epsilon_fraction": 0.5, "sigma": 0.2, "n_directions": 4},
            # ablation added after the primary runs were seen (see the docstring): Algorithm 1's literal start
            "wr2l-literal": {"epsilon_fraction": 0.5, "sigma": 0.2, "n_directions": 4, "warm_start": False},
        },
        "adversarial": {"rarl": {"disturbance_kwargs": {"max_force": 5.0}}, "prmdp": {"alpha": 0.1}},
        "grid": {"pole_length": [round(0.1 * i, 1) for i in range(3, 31)]},
        "out": Path("benchmarks/results/wr2l_1d"),
    },
    "hopper2d": {
        "env_id": "RobustHopper-v0",
        "env_kwargs": {},
        "parameterisation": "wr2l/hopper/2d",
        "n_envs": 4,
        "ppo": PPO_PAPER,
        "timesteps": 1_000_000,
        "wr2l": {
            "wr2l-small": {"epsilon_index": 1, "epsilon_fraction": 0.15},
            "wr2l-large": {"epsilon_index": 1, "epsilon_fraction": 0.3},
        },
        "ppo_mean_ball": "wr2l-large",
        "grid": {"torso_density": list(np.linspace(500.0, 2000.0, 5)), "friction": list(np.linspace(0.5, 1.5, 5))},
        "out": Path("benchmarks/results/wr2l_hopper2d"),
    },
    "hopper11d": {
        "env_id": "RobustHopper-v0",
        "env_kwargs": {},
        "parameterisation": "wr2l/hopper/full",
        "n_envs": 4,
        "ppo": PPO_PAPER,
        "timesteps": 1_000_000,
        "wr2l": {
            "wr2l-2d": {"parameterisation": "wr2l/hopper/2d", "epsilon_index": 1, "epsilon_fraction": 0.3},
            "wr2l-11d": {"epsilon_index": 10, "epsilon_fraction": 0.3},
        },
        "ppo_mean_ball": "wr2l-11d",
        "grid": "systems",
        "systems": {"n": 1000, "seed": 2024, "relative_range": 0.5},
        "out": Path("benchmarks/results/wr2l_hopper11d"),
    },
}


#: ``(task, algo) -> (task, algo)``: a learner whose training is identical to another task's (see the docstring)
REUSED: dict[tuple[str, str], tuple[str, str]] = {
    ("hopper11d", "ppo"): ("hopper2d", "ppo"),
    ("hopper11d", "wr2l-2d"): ("hopper2d", "wr2l-large"),
}
#: the tasks whose trained policies are kept (``policies/`` beside the results)
KEEPS_POLICIES = ("hopper2d", "hopper11d")
#: the figures a training measured (copied from the record of a reused policy; its ``train_seconds`` goes under
#: ``reused_from``, as this run spent none)
TRAINING_KEYS = (
    "timesteps", "epsilon", "hessian", "worst_params", "phase1_env_steps", "phase1_seconds", "model_steps",
    "clipped_steps", "phi_history",
)  # fmt: skip


def policy_path(out: Path, algo: str, seed: int) -> Path:
    """:return: where the policy of ``(algo, seed)`` is kept, beside the results folder ``out``'s records"""
    return out / "policies" / f"{algo}_seed{seed}.zip"


def training_settings(task: str, algo: str) -> dict[str, Any]:
    """:return: everything that decides the training of ``algo`` in ``task`` (besides the seed and budget)"""
    config = TASKS[task]
    settings: dict[str, Any] = {
        "env_id": config["env_id"],
        "env_kwargs": config["env_kwargs"],
        "n_envs": config["n_envs"],
        "ppo": config["ppo"],
    }
    if algo in config["wr2l"]:
        settings["wr2l"] = {"parameterisation": config["parameterisation"], **config["wr2l"][algo]}
    return settings


def reusable_policy(task: str, algo: str, seed: int, timesteps: int) -> tuple[Path, dict[str, Any]] | None:
    """
    :return: the kept policy and training record of the identical training in another task (:data:`REUSED`), or
        ``None`` where there is none (not identical, not run, or its policy not kept)
    :raises ValueError: :data:`REUSED` names two trainings whose settings differ (a mistake in this script)
    """
    if (task, algo) not in REUSED:
        return None
    other_task, other_algo = REUSED[(task, algo)]
    if training_settings(task, algo) != training_settings(other_task, other_algo):
        raise ValueError(f"{task}/{algo} and {other_task}/{other_algo} are not the same training; fix REUSED")
    out = TASKS[other_task]["out"]
    record_path, path = out / f"{other_algo}_seed{seed}.json", policy_path(out, other_algo, seed)
    if not (record_path.exists() and path.exists()):
        return None
    record = json.loads(record_path.read_text())
    if record["timesteps"] != timesteps:
        return None
    return path, record


def test_cells(task: str) -> Any:
    """
    :return: the task's test cells: a grid ``{name: [values]}``, or for ``hopper11d`` the list of 1,000 systems drawn
        uniformly from +-50% of nominal on all 11 parameters (seed 2024; ``shared/WAVE2.md`` A12, "our test set")
    """
    config = TASKS[task]
    if config["grid"] != "systems":
        return config["grid"]
    import gymnasium as gym

    from robust_envs.presets import get_parameterisation
    from robust_envs.uncertainty import UncertaintySet

    space = gym.make(config["env_id"]).unwrapped.param_space
    systems = config["systems"]
    names = get_parameterisation(config["parameterisation"]).names
    ranges = {}
    for name in names:
        nominal = space[name].nominal
        ranges[name] = (nominal * (1 - systems["relative_range"]), nominal * (1 + systems["relative_range"]))
    box = UncertaintySet.box(config["env_id"], ranges)
    return box.sample_many(np.random.default_rng(systems["seed"]), systems["n"])


def algos_of(task: str) -> tuple[str, ...]:
    """:return: the learners a task compares"""
    config = TASKS[task]
    return ("ppo", *config["wr2l"], *config.get("adversarial", {}), *(("ppo-mean",) if "ppo_mean_ball" in config else ()))


def make_model(task: str, algo: str, seed: int) -> Any:
    """:return: the untrained learner ``algo`` with this task's settings"""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from robust_sb3 import WR2L

    config = TASKS[task]
    env_id, env_kwargs = config["env_id"], config["env_kwargs"]
    env = make_vec_env(env_id, n_envs=config["n_envs"], seed=seed, env_kwargs=env_kwargs)
    if algo == "ppo":
        return PPO("MlpPolicy", env, seed=seed, verbose=0, **config["ppo"])
    if algo in config["wr2l"]:
        settings = {**config["wr2l"][algo], **config["ppo"]}
        parameterisation = settings.pop("parameterisation", config["parameterisation"])
        return WR2L("MlpPolicy", env, parameterisation, seed=seed, verbose=0, **settings)
    if algo in config.get("adversarial", {}):
        from robust_sb3 import PRMDP, RARL

        env.close()
        ppo = {key: value for key, value in config["ppo"].items() if key != "device"}
        trainer = RARL if algo == "rarl" else PRMDP
        return trainer(
            "MlpPolicy",
            env_id,
            n_envs=config["n_envs"],
            env_kwargs=env_kwargs,
            protagonist_kwargs=ppo,
            seed=seed,
            device=config["ppo"]["device"],
            **config["adversarial"][algo],
        )
    if algo == "ppo-mean":
        from robust_envs.wrappers import DomainRandomization
        from robust_sb3.wr2l import wasserstein_ball_set

        # the ball of the same seed's WR2L set-up (its H0 and epsilon), then plain PPO on draws from it
        settings = dict(config["wr2l"][config["ppo_mean_ball"]])
        parameterisation = settings.pop("parameterisation", config["parameterisation"])
        reference = WR2L("MlpPolicy", env, parameterisation, seed=seed, **settings)
        ball = wasserstein_ball_set(env_id, reference.coordinates, reference.hessian, reference.epsilon, n=1000, rng=seed)
        env.close()
        randomized = make_vec_env(
            env_id,
            n_envs=config["n_envs"],
            seed=seed,
            env_kwargs=env_kwargs,
            wrapper_class=DomainRandomization,
            wrapper_kwargs={"uncertainty_set": ball},
        )
        return PPO("MlpPolicy", randomized, seed=seed, verbose=0, **config["ppo"])
    raise ValueError(f"unknown algorithm {algo!r} for {task}; known: {algos_of(task)}")


def _phi_history_callback(history: list[dict[str, float]]) -> Any:
    """:return: an SB3 callback appending WR2L's ``worst_params`` (the rollout's parameters) to ``history`` per update"""
    from stable_baselines3.common.callbacks import BaseCallback

    class PhiHistory(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            history.append(dict(self.model.worst_params))

    return PhiHistory()


def run_one(task: str, algo: str, seed: int, timesteps: int, keep_policy: str | None = None) -> dict[str, Any]:
    """
    Train (or reuse an identical training's policy, :func:`reusable_policy`), evaluate over the test cells, return
    the JSON record.

    :param keep_policy: where to save the trained policy (``policy.save``); ``None``: not kept
    """
    import torch as th

    th.set_num_threads(1)
    config = TASKS[task]
    reused = reusable_policy(task, algo, seed, timesteps)
    if reused is not None:
        return _evaluate_reused(task, algo, seed, *reused, keep_policy=keep_policy)
    model = make_model(task, algo, seed)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    model.learn(timesteps, callback=_phi_history_callback(history) if algo in config["wr2l"] else None)
    train_seconds = time.perf_counter() - start
    if keep_policy is not None:
        Path(keep_policy).parent.mkdir(parents=True, exist_ok=True)
        model.policy.save(keep_policy)
    record: dict[str, Any] = {
        "task": task,
        "algo": algo,
        "seed": seed,
        "timesteps": timesteps,
        "env_id": config["env_id"],
        "env_kwargs": config["env_kwargs"],
        "ppo": config["ppo"],
        "n_envs": config["n_envs"],
        "train_seconds": train_seconds,
        **evaluate(task, model),
    }
    if algo in config["wr2l"]:
        record.update(
            wr2l=config["wr2l"][algo],
            epsilon=model.epsilon,
            hessian=model.hessian.tolist(),
            worst_params=model.worst_params,
            phase1_env_steps=model.phase1_env_steps,
            phase1_seconds=model.phase1_seconds,
            model_steps=model.model_steps,
            clipped_steps=model.clipped_steps,
            phi_history=history,
        )
    return record


def evaluate(task: str, policy: Any) -> dict[str, Any]:
    """:return: the record's evaluation of ``policy`` (a model or a policy) over the task's test cells"""
    from robust_envs.evaluation import evaluate_robustness

    config = TASKS[task]
    report = evaluate_robustness(
        policy,
        config["env_id"],
        test_cells(task),
        n_episodes=1 if config["grid"] == "systems" else EVAL_EPISODES,
        seed=EVAL_SEED,
        env_kwargs=config["env_kwargs"],
    )
    return {"eval": report.to_dict(), "mean": report.mean, "worst10": report.cvar(0.1), "worst": report.worst}


def _evaluate_reused(
    task: str, algo: str, seed: int, path: Path, training: dict[str, Any], keep_policy: str | None
) -> dict[str, Any]:
    """:return: the record of ``(task, algo, seed)`` for the kept policy ``path`` of an identical training"""
    import shutil

    from stable_baselines3.common.policies import ActorCriticPolicy

    config = TASKS[task]
    policy = ActorCriticPolicy.load(str(path), device="cpu")
    if keep_policy is not None:
        Path(keep_policy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, keep_policy)
    other_task, other_algo = REUSED[(task, algo)]
    record: dict[str, Any] = {
        "task": task,
        "algo": algo,
        "seed": seed,
        "env_id": config["env_id"],
        "env_kwargs": config["env_kwargs"],
        "ppo": config["ppo"],
        "n_envs": config["n_envs"],
        "reused_from": {
            "task": other_task,
            "algo": other_algo,
            "seed": seed,
            "policy": path.as_posix(),
            "train_seconds": training["train_seconds"],
        },
        **{key: training[key] for key in TRAINING_KEYS if key in training},
        **evaluate(task, policy),
    }
    if algo in config["wr2l"]:
        record["wr2l"] = config["wr2l"][algo]  # this task's name for the settings (the same training)
    return record


def _runs_by_algo(out: Path) -> dict[str, list[dict[str, Any]]]:
    """:return: the result files of ``out`` by algorithm, in the order each first appears (files sorted by name)"""
    runs = [json.loads(path.read_text()) for path in sorted(out.glob("*_seed*.json"))]
    return {algo: [run for run in runs if run["algo"] == algo] for algo in dict.fromkeys(run["algo"] for run in runs)}


def summarize(out: Path) -> str:
    """:return: a Markdown table of every finished run, per algorithm: mean, 10%-worst and worst cell across seeds"""
    lines = ["| algorithm | seeds | sweep mean | 10%-worst | worst cell |", "|---|---|---|---|---|"]
    for algo, mine in _runs_by_algo(out).items():

        def stat(key: str, mine: list[dict[str, Any]] = mine) -> str:
            values = [run[key] for run in mine]
            return mean_sd(float(np.mean(values)), sample_sd(values), digits=0)

        seeds = ",".join(str(run["seed"]) for run in mine)
        lines.append(f"| {algo} | {seeds} | {stat('mean')} | {stat('worst10')} | {stat('worst')} |")
    return "\n".join(lines)


def plot_sweep(out: Path, figure: Path) -> Path:
    """
    The 1-D task's figure (the paper's Figures 3-4): each learner's return against pole length, the mean over its
    seeds as a line, every seed as a thin line, WR2L's +-50% ball shaded; written to ``figure``.

    :return: the figure's path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.axvspan(0.3, 0.9, color="0.9", label="WR2L's ball (+-50% of 0.6 m)")
    for index, (algo, mine) in enumerate(_runs_by_algo(out).items()):
        lengths = [cell["pole_length"] for cell in mine[0]["eval"]["cells"]]
        curves = np.array([[np.mean(cell) for cell in run["eval"]["returns"]] for run in mine])
        color = f"C{index}"
        for curve in curves:
            ax.plot(lengths, curve, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(lengths, curves.mean(axis=0), color=color, linewidth=2.0, label=f"{algo} ({len(mine)} seeds)")
    ax.set_xlabel("pole length (m); trained at 0.6 m (nominal)")
    ax.set_ylabel("return (of 1000)")
    ax.set_title("RobustInvertedPendulum-v0, keep_mass: WR2L vs PPO, RARL, PR-MDP")
    ax.legend(fontsize=8, loc="upper right")
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


def plot_heatmaps(out: Path, figure: Path) -> Path:
    """
    The 2-D task's figure (the paper's Figure 1): per learner, the mean return of each (torso density, friction)
    cell of the test grid, averaged over its seeds, on one colour scale; the cell values are written in.

    :return: the figure's path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_algo = _runs_by_algo(out)
    grids = {
        algo: (*mean_grid([(run["eval"]["cells"], run["eval"]["returns"]) for run in mine]), len(mine))
        for algo, mine in by_algo.items()
    }
    high = max(grid.max() for _, _, grid, _ in grids.values())
    fig, axes = plt.subplots(1, len(grids), figsize=(3.4 * len(grids) + 1.6, 3.8), squeeze=False, layout="constrained")
    for ax, (algo, (densities, frictions, grid, n_seeds)) in zip(axes[0], grids.items(), strict=True):
        image = draw_grid(ax, densities, frictions, grid, high, f"{algo} ({n_seeds} seeds): mean {grid.mean():.0f}")
    axes[0][0].set_ylabel("friction", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="return (mean of seeds, episodes)")
    fig.suptitle("RobustHopper-v0 test grid (nominal: 1000, 1.0)", fontsize=9)
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


def plot_histograms(out: Path, figure: Path) -> Path:
    """
    The 11-D task's figure (the paper's Figure 2): per learner, the histogram of returns over the 1,000 test systems,
    pooled over its seeds, with the mean marked.

    :return: the figure's path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_algo = _runs_by_algo(out)
    pooled = {algo: np.concatenate([np.ravel(run["eval"]["returns"]) for run in mine]) for algo, mine in by_algo.items()}
    high = max(values.max() for values in pooled.values())
    bins = np.linspace(min(0.0, min(values.min() for values in pooled.values())), high, 31)
    fig, axes = plt.subplots(len(pooled), 1, figsize=(6, 1.8 * len(pooled)), sharex=True, squeeze=False)
    for index, (ax, (algo, values)) in enumerate(zip(axes[:, 0], pooled.items(), strict=True)):
        ax.hist(values, bins=bins, color=f"C{index}", alpha=0.8)
        ax.axvline(values.mean(), color="k", linewidth=1.0)
        ax.set_title(f"{algo} ({len(by_algo[algo])} seeds x {values.size // len(by_algo[algo])} systems): "
                     f"mean {values.mean():.0f}", fontsize=8)  # fmt: skip
        ax.set_ylabel("systems", fontsize=8)
    axes[-1, 0].set_xlabel("return over one episode (of up to 1000 steps)", fontsize=8)
    fig.suptitle("RobustHopper-v0, 1,000 systems: all 11 parameters within +-50% of nominal", fontsize=9)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


def describe(path: Path, record: dict[str, Any]) -> str:
    """:return: the line printed for a finished run"""
    reused = record.get("reused_from")
    trained = f"reused {reused['task']}/{reused['algo']}" if reused else f"train {record['train_seconds']:.0f} s"
    return (
        f"{path}: {trained}, sweep mean {record['mean']:.0f}, 10%-worst {record['worst10']:.0f}, worst {record['worst']:.0f}"
    )


def _kept_policy(args: argparse.Namespace, algo: str, seed: int) -> str | None:
    """:return: where the run keeps its policy (the Hopper tasks), as a string (a Ray task's argument)"""
    return policy_path(args.out, algo, seed).as_posix() if args.task in KEEPS_POLICIES else None


def main() -> None:
    """Train and evaluate the runs that have no result file yet, or summarise them."""
    from benchmarks.ray_runs import add_ray_address_argument, parse_with_ray_address

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=list(TASKS), default="ip1d")
    parser.add_argument("--algos", nargs="+", help="default: every learner of the task")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, help="default: the task's budget")
    parser.add_argument("--out", type=Path, help="default: the task's results folder")
    parser.add_argument("--summarize", action="store_true")
    add_ray_address_argument(parser)
    args = parse_with_ray_address(parser)
    known = algos_of(args.task)
    args.algos = args.algos or list(known)
    unknown = [algo for algo in args.algos if algo not in known]
    if unknown:
        parser.error(f"--algos {unknown} are not learners of {args.task}; choose from {known}")
    args.out = args.out or TASKS[args.task]["out"]
    args.timesteps = args.timesteps or TASKS[args.task]["timesteps"]
    if args.summarize:
        print(summarize(args.out))
        plot = {"ip1d": plot_sweep, "hopper2d": plot_heatmaps, "hopper11d": plot_histograms}[args.task]
        print(plot(args.out, Path(f"benchmarks/figures/wr2l_{args.task}.png" if args.task != "ip1d" else FIGURE_1D)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.ray_address is not None:
        from benchmarks import ray_runs

        jobs = []
        for seed in args.seeds:  # seed-major submission, as below
            for algo in args.algos:
                path = args.out / f"{algo}_seed{seed}.json"
                if path.exists():
                    print(f"skip {path} (exists)", flush=True)
                    continue
                kwargs = {"task": args.task, "algo": algo, "seed": seed, "timesteps": args.timesteps}
                if args.task in KEEPS_POLICIES:
                    kwargs["keep_policy"] = _kept_policy(args, algo, seed)
                jobs.append((path, "benchmarks.wr2l_reproduction", "run_one", kwargs))
        ray_runs.run_on_ray(jobs, args.ray_address, describe)
        return
    for seed in args.seeds:  # seeds outermost: an interrupted run leaves every algorithm with as many seeds
        for algo in args.algos:
            path = args.out / f"{algo}_seed{seed}.json"
            if path.exists():
                print(f"skip {path} (exists)", flush=True)
                continue
            record = run_one(args.task, algo, seed, args.timesteps, keep_policy=_kept_policy(args, algo, seed))
            path.write_text(json.dumps(record))
            print(describe(path, record), flush=True)


if __name__ == "__main__":
    main()
