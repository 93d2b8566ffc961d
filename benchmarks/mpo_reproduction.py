"""
Mankowitz et al. (ICLR 2020), section 4.1 at CPU scale: do RE-MPO and SRE-MPO beat E-MPO on held-out perturbations?

Two modes:

- ``--suite pendulum-swingup`` / ``--suite cartpole-balance``: the paper's protocol on the DeepMind Control Suite
  env of the Table 3 presets ``mankowitz2020/<suite>/uncertainty`` and ``.../holdout``. Every agent acts in the
  first member of the uncertainty set (:func:`robust_envs.suite.presets.training_params`, the paper's nominal
  model); RE-/SRE-MPO's critics also see the next states under the three members (``PerturbedTransitions``).
  Episodes have the suite's 1000 steps. Results go to ``benchmarks/results/mpo_<suite with _>/``, the chart to
  ``benchmarks/figures/mpo_<suite with _>_holdout.png``.
- default (no ``--suite``): the first run, made before the suite envs existed: the Pendulum Swingup numbers of
  Table 3 (uncertainty set 1.0, 1.1, 1.4 kg; hold-out 1.5, 1.6, 1.7 kg) on ``RobustPendulum-v0`` (the
  torque-limited swing-up of Morimoto and Doya, ``mass`` in kg), acting at 1.0 kg. Observations are given to the
  networks as ``(cos theta, sin theta, theta_dot)`` (:class:`AngleFeatures`, applied to the K next observations
  too); the env runs at ``dt = 0.05`` s (Pendulum-v1's step) with 200-step (10 s) episodes. Results in
  ``benchmarks/results/mpo/``, chart ``benchmarks/figures/mpo_pendulum_holdout.png``.

``--agents Limited-DR Full-DR`` adds section 4.2's domain-randomisation baselines: E-MPO with the model of every
episode drawn from the uncertainty set's members (Limited-DR) or from 100 values drawn once, uniformly over the
set's range (Full-DR). ``--agents E-SVG RE-SVG SRE-SVG`` runs section 4.2's SVG comparison with SAC and
:class:`~robust_sb3.RobustSAC`. ``--control-timestep`` sets the suite env's seconds per agent step (dm_control's action
repeat); the episodes keep the suite's duration.

The robust critics use the paper's Eq. 1 target, the reward the agent experienced outside the infimum over the
models; ``--reward-in-inf`` puts each model's own reward inside it instead (the per-model target of the runs made
before this switch existed; see :func:`robust_sb3.mpo.robust_target.robust_td_target`). The choice is recorded in
each result's ``config`` and, when set, the results folder and the charts get the suffix ``_rinf``.

One JSON per (agent, seed) goes to the results folder; existing files are skipped (resumable), unless a robust
agent's file was made with the other target (files without ``reward_in_inf`` in their ``config`` predate the
switch: per-model target), which stops the run rather than mixing the two targets in one folder.
``--plot`` draws the paper's bar chart (mean and spread over seeds per hold-out env and agent).

Run: ``nice -n 10 python -m benchmarks.mpo_reproduction --suite cartpole-balance --seeds 0 1 2`` then the same
with ``--plot``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import robust_envs
from benchmarks.seed_tests import sample_sd
from robust_envs import DomainRandomization, PerturbedTransitions, UncertaintySet, evaluate_robustness, get_preset
from robust_envs.suite.presets import training_params
from robust_envs.wrappers import PERTURBED_NEXT_OBS
from robust_sb3 import MPO, RobustSAC

ROOT = pathlib.Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "mpo"
FIGURE = ROOT / "figures" / "mpo_pendulum_holdout.png"
TRAIN_MASSES = (1.0, 1.1, 1.4)  # Table 3, Pendulum Swingup uncertainty set (kg)
HOLDOUT_MASSES = (1.5, 1.6, 1.7)  # Table 3, hold-out test perturbations (kg)
AGENTS = {
    "E-MPO": dict(robustness="none", entropy_regularized=True),
    "RE-MPO": dict(robustness="robust", entropy_regularized=True),
    "SRE-MPO": dict(robustness="soft", entropy_regularized=True),
}
#: Section 4.2's domain-randomisation baselines: E-MPO acting in a model drawn per episode from the uncertainty
#: set's members (Limited-DR) or from 100 values drawn once, uniformly over the set's range (Full-DR).
DR_AGENTS = {"Limited-DR": "limited", "Full-DR": "full"}
#: The suffix of the results folder and the charts of ``--reward-in-inf`` runs (each model's reward in the infimum).
REWARD_IN_INF_SUFFIX = "_rinf"
#: Section 4.2's stochastic value gradient agents: SAC (entropy-regularised by construction, the paper's E-SVG) and
#: RobustSAC with the robust (RE-SVG) and soft-robust (SRE-SVG) critic target shared with MPO.
SVG_AGENTS = {"E-SVG": "none", "RE-SVG": "robust", "SRE-SVG": "soft"}
FULL_DR_SIZE = 100
FULL_DR_SEED = 2020  # the 100 Full-DR values are the same for every run
EPISODE_STEPS = 200
ENV_KWARGS = {"dt": 0.05}  # 10 s episodes of 200 steps, the time step of Gymnasium's Pendulum-v1
SUITES = ("pendulum-swingup", "cartpole-balance")
UNITS = {"ball_mass": "kg", "pole_length": "m", "mass": "kg"}


@dataclass(frozen=True)
class Protocol:
    """
    One reproduction setting: where the agents act, which models the robust critics see, which they are tested on.

    :param env_id: the robust env
    :param param: the perturbed parameter
    :param train_values: the uncertainty set (the K models of the robust critics); agents act in the first
    :param holdout_values: the held-out test settings
    :param episode_steps: time limit (``None``: the registered one)
    :param env_kwargs: keyword arguments of ``gym.make`` (the training model's ``params`` for the suite)
    :param angle_features: feed ``(cos, sin, velocity)`` to the networks (the legacy pendulum's raw angle)
    :param results: folder of the per-run JSON files
    :param figure: the bar chart
    """

    env_id: str
    param: str
    train_values: tuple[float, ...]
    holdout_values: tuple[float, ...]
    episode_steps: int | None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    angle_features: bool = False
    results: pathlib.Path = RESULTS
    figure: pathlib.Path = FIGURE

    @property
    def unit(self) -> str:
        return UNITS.get(self.param, "")

    @property
    def horizon(self) -> int:
        return self.episode_steps if self.episode_steps is not None else 1000  # the suite's time limit


def with_reward_in_inf(protocol: Protocol) -> Protocol:
    """:return: the protocol with the ``_rinf`` results folder and charts, so per-model-target runs keep apart."""
    figure = protocol.figure.with_name(protocol.figure.stem + REWARD_IN_INF_SUFFIX + protocol.figure.suffix)
    results = protocol.results.with_name(protocol.results.name + REWARD_IN_INF_SUFFIX)
    return Protocol(**{**protocol.__dict__, "results": results, "figure": figure})


def recorded_reward_in_inf(result: dict[str, Any]) -> bool:
    """:return: the target form a result was made with (files from before ``--reward-in-inf`` existed: per-model)."""
    return bool(result["config"].get("reward_in_inf", True))


def is_done(path: pathlib.Path, reward_in_inf: bool) -> bool:
    """
    :return: whether the run of ``path`` exists with the requested target form (or with either, for a non-robust
        agent, whose target the switch does not change)
    :raises SystemExit: the file is a robust agent's with the other target form (neither reused nor overwritten)
    """
    if not path.exists():
        return False
    result = json.loads(path.read_text())
    if result["config"].get("robustness", "none") == "none" or recorded_reward_in_inf(result) == reward_in_inf:
        return True
    made_with = "each model's reward in the infimum" if recorded_reward_in_inf(result) else "Eq. 1 (reward outside)"
    raise SystemExit(
        f"{path} was made with another robust target ({made_with}); move it away or choose --out "
        f"(--reward-in-inf runs go to the folder with the suffix {REWARD_IN_INF_SUFFIX})"
    )


def legacy_protocol(env_id: str, param: str) -> Protocol:
    """:return: the first run's protocol on ``RobustPendulum-v0`` (Table 3's pendulum masses)."""
    return Protocol(env_id, param, TRAIN_MASSES, HOLDOUT_MASSES, EPISODE_STEPS, ENV_KWARGS, angle_features=True)


def suite_protocol(suite: str, control_timestep: float | None = None) -> Protocol:
    """
    :param suite: the Table 3 row ``mankowitz2020/<suite>/...``; agents act in the uncertainty set's first member
    :param control_timestep: seconds per agent step (``None``: the suite's); the time limit keeps the suite's
        episode duration (1000 of its steps), so a 4x longer step gives 250-step episodes
    :return: the protocol
    """
    if suite not in SUITES:
        raise ValueError(f"Unknown suite task {suite!r}; allowed: {SUITES}")
    uncertainty = get_preset(f"mankowitz2020/{suite}/uncertainty")
    holdout = get_preset(f"mankowitz2020/{suite}/holdout")
    (param,) = uncertainty.names
    slug = suite.replace("-", "_")
    env_kwargs: dict[str, Any] = {"params": training_params(uncertainty)}
    episode_steps = None
    if control_timestep is not None:
        suite_dt = gym.make(uncertainty.env_id).unwrapped.dt
        episode_steps = round(1000 * suite_dt / control_timestep)
        env_kwargs["control_timestep"] = control_timestep
        slug += f"_dt{control_timestep:g}"
    return Protocol(
        env_id=uncertainty.env_id,
        param=param,
        train_values=tuple(m[param] for m in uncertainty.members),
        holdout_values=tuple(m[param] for m in holdout.members),
        episode_steps=episode_steps,
        env_kwargs=env_kwargs,
        results=ROOT / "results" / f"mpo_{slug}",
        figure=ROOT / "figures" / f"mpo_{slug}_holdout.png",
    )


class AngleFeatures(gym.Wrapper):
    """Observation ``(theta, theta_dot)`` -> ``(cos theta, sin theta, theta_dot)``, also for ``info[PERTURBED_NEXT_OBS]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64)

    @staticmethod
    def features(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        return np.stack([np.cos(obs[..., 0]), np.sin(obs[..., 0]), obs[..., 1]], axis=-1)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self.features(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if PERTURBED_NEXT_OBS in info:
            info[PERTURBED_NEXT_OBS] = self.features(info[PERTURBED_NEXT_OBS])
        return self.features(obs), reward, terminated, truncated, info


class FeaturePolicy:
    """``obs -> action`` for :func:`robust_envs.evaluate_robustness`: the model acting on :class:`AngleFeatures`."""

    def __init__(self, model: MPO) -> None:
        self.model = model

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(AngleFeatures.features(obs), deterministic=True)[0]


def domain_randomization_set(protocol: Protocol, variant: str) -> UncertaintySet:
    """:return: Limited-DR's set (the uncertainty set's members) or Full-DR's (100 values over their range)."""
    values = protocol.train_values
    if variant == "full":
        values = tuple(np.random.default_rng(FULL_DR_SEED).uniform(min(values), max(values), FULL_DR_SIZE).tolist())
    return UncertaintySet.finite(protocol.env_id, [{protocol.param: v} for v in values])


def make_env(protocol: Protocol, robust: bool, domain_randomization: str | None = None) -> gym.Env:
    env = gym.make(protocol.env_id, max_episode_steps=protocol.episode_steps, **protocol.env_kwargs)
    if domain_randomization is not None:
        env = DomainRandomization(env, domain_randomization_set(protocol, domain_randomization))
    if robust:
        env = PerturbedTransitions(env, [{protocol.param: v} for v in protocol.train_values])
    return AngleFeatures(env) if protocol.angle_features else env


def run(agent: str, seed: int, protocol: Protocol, args: argparse.Namespace) -> dict[str, Any]:
    th.set_num_threads(1)
    variant = DR_AGENTS.get(agent)
    model: MPO | RobustSAC
    if agent in SVG_AGENTS:
        config: dict[str, Any] = {"robustness": SVG_AGENTS[agent], "reward_in_inf": args.reward_in_inf}
        env = make_env(protocol, config["robustness"] != "none")
        # SAC's own hard-coded defaults otherwise; its soft target updates replace MPO's periodic copies
        model = RobustSAC(
            "MlpPolicy",
            env,
            batch_size=args.batch_size,
            learning_starts=args.learning_starts,
            policy_kwargs=dict(net_arch=args.net_arch),
            seed=seed,
            **config,
        )
    else:
        config = {**(AGENTS["E-MPO"] if variant is not None else AGENTS[agent]), "reward_in_inf": args.reward_in_inf}
        env = make_env(protocol, config["robustness"] != "none", variant)
        model = make_mpo(env, config, seed, args)
    start = time.time()
    model.learn(args.timesteps)
    train_time = time.time() - start
    cells, report, eval_time = evaluate(model, protocol, args)
    return result_record(agent, seed, protocol, args, config, model, variant, train_time, cells, report, eval_time)


def evaluate(model: Any, protocol: Any, args: argparse.Namespace) -> tuple[list[dict[str, float]], Any, float]:
    """:return: the cells (every value of both sets), the report (reset seeds 1000.., deterministic) and its seconds"""
    cells = [{protocol.param: v} for v in (*protocol.train_values, *protocol.holdout_values)]
    start = time.time()
    report = evaluate_robustness(
        FeaturePolicy(model) if protocol.angle_features else model,
        protocol.env_id,
        cells,
        n_episodes=args.episodes,
        seed=1000,
        max_episode_steps=protocol.episode_steps,
        env_kwargs=protocol.env_kwargs,
    )
    return cells, report, time.time() - start


def make_mpo(env: Any, config: dict[str, Any], seed: int, args: argparse.Namespace) -> Any:
    """:return: this script's MPO on ``env`` with ``config`` and the command line's settings (shared with DDR-MPO's)"""
    return MPO(
        "MlpPolicy",
        env,
        batch_size=args.batch_size,
        learning_starts=args.learning_starts,
        target_update_interval=args.target_update_interval,
        n_action_samples=args.n_action_samples,
        n_target_action_samples=args.n_target_action_samples,
        policy_kwargs=dict(net_arch=args.net_arch),
        seed=seed,
        **config,
    )


def result_record(
    agent: str,
    seed: int,
    protocol: Any,
    args: argparse.Namespace,
    config: dict[str, Any],
    model: Any,
    variant: str | None,
    train_time: float,
    cells: list[dict[str, float]],
    report: Any,
    eval_time: float,
) -> dict[str, Any]:
    """:return: one run's JSON record (shared with ``benchmarks.ddr_mpo_reproduction``, which adds its own keys)"""
    result = {
        "agent": agent,
        "seed": seed,
        "env_id": protocol.env_id,
        "param": protocol.param,
        "timesteps": args.timesteps,
        "batch_size": args.batch_size,
        "net_arch": args.net_arch,
        "target_update_interval": args.target_update_interval,
        "n_action_samples": args.n_action_samples,
        "n_target_action_samples": args.n_target_action_samples,
        "episode_steps": protocol.horizon,
        "env_kwargs": protocol.env_kwargs,
        "config": config,
        "algorithm": type(model).__name__,
        "domain_randomization": variant,
        "train_time_s": train_time,
        "cells": cells,
        "returns": report.returns.tolist(),
        "cell_means": report.cell_means.tolist(),
    }
    if protocol.angle_features:  # the first run's key names, kept so its files and these read alike
        result.update(train_masses=protocol.train_values, holdout_masses=protocol.holdout_values)
    else:
        result.update(
            train_values=protocol.train_values,
            holdout_values=protocol.holdout_values,
            eval_time_s=eval_time,
            learning_starts=args.learning_starts,
            training_episode_returns=[float(ep["r"]) for ep in model.ep_info_buffer],
        )
    return result


COLOURS = {
    "E-MPO": "tab:red",
    "RE-MPO": "tab:blue",
    "SRE-MPO": "tab:green",
    "Limited-DR": "tab:orange",
    "Full-DR": "tab:purple",
    "E-SVG": "tab:brown",
    "RE-SVG": "tab:cyan",
    "SRE-SVG": "tab:olive",
}


def svg_figure_path(figure: pathlib.Path) -> pathlib.Path:
    """:return: where the SVG agents' chart goes, beside the MPO chart."""
    return figure.with_name(figure.stem + "_svg" + figure.suffix)


def draw_chart(summary: dict[str, Any], protocol: Protocol, run: dict[str, Any], path: pathlib.Path, plt: Any) -> None:
    """The paper's bar chart: per evaluated setting, each agent's mean over seeds with the sample sd over seeds."""
    values = list(protocol.train_values) + list(protocol.holdout_values)
    n_train, unit = len(protocol.train_values), protocol.unit
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(summary)
    x = np.arange(len(values))
    for i, (agent, stats) in enumerate(summary.items()):
        ax.bar(
            x + (i - (len(summary) - 1) / 2) * width,
            stats["mean"],
            width,
            yerr=stats["std"],
            capsize=2,
            color=COLOURS[agent],
            label=f"{agent} ({len(stats['seeds'])} seeds)",
        )
    ax.set_xticks(x, [f"{v:g} {unit}" + ("\n(unc. set)" if i < n_train else "\n(hold-out)") for i, v in enumerate(values)])
    ax.axvline(n_train - 0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylabel(f"return over {protocol.horizon} steps\n(mean over seeds, std bars)")
    ax.set_title(
        f"{run['env_id']} ({protocol.param}): {run['timesteps']} steps per agent, "
        f"acting at {protocol.train_values[0]:g} {unit}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: bars reach the bottom
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot(protocol: Protocol) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_dir, figure, n_train = protocol.results, protocol.figure, len(protocol.train_values)
    runs = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*_seed*.json"))]
    if not runs:
        raise SystemExit(f"No results in {results_dir}")
    summary: dict[str, Any] = {}
    for agent in (*AGENTS, *DR_AGENTS, *SVG_AGENTS):
        per_seed = np.array([r["cell_means"] for r in runs if r["agent"] == agent])
        if per_seed.size:
            summary[agent] = {
                "seeds": sorted(r["seed"] for r in runs if r["agent"] == agent),
                "mean": per_seed.mean(axis=0).tolist(),
                "std": sample_sd(per_seed, axis=0),  # None with one seed: no error bars
                "holdout_mean": float(per_seed[:, n_train:].mean()),
                "per_seed_holdout_mean": per_seed[:, n_train:].mean(axis=1).tolist(),
            }
    # the MPO agents with their domain-randomisation baselines in one chart, the SVG agents in another
    # (the paper's Figures 1 and 3 keep them apart too)
    for agents, path in ((list(AGENTS) + list(DR_AGENTS), figure), (list(SVG_AGENTS), svg_figure_path(figure))):
        present = {agent: summary[agent] for agent in agents if agent in summary}
        if present:
            draw_chart(present, protocol, runs[0], path, plt)
    (results_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def add_training_arguments(parser: argparse.ArgumentParser, timesteps: int) -> None:
    """Add MPO's training and evaluation settings (shared with ``benchmarks.ddr_mpo_reproduction``)."""
    parser.add_argument("--timesteps", type=int, default=timesteps)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--net-arch", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--target-update-interval", type=int, default=100)
    parser.add_argument("--n-action-samples", type=int, default=15)
    parser.add_argument("--n-target-action-samples", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes per mass")
    parser.add_argument("--learning-starts", type=int, default=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=[*AGENTS, *DR_AGENTS, *SVG_AGENTS])
    add_training_arguments(parser, timesteps=8000)
    parser.add_argument("--suite", choices=SUITES, help="the Table 3 row to run on its dm_control suite env")
    parser.add_argument(
        "--control-timestep",
        type=float,
        help="seconds per agent step of the suite env (action repeat; default: the suite's own)",
    )
    parser.add_argument("--env", default="RobustPendulum-v0", help="env of the legacy mode (without --suite)")
    parser.add_argument("--param", default="mass", help="parameter of the legacy mode (without --suite)")
    parser.add_argument(
        "--reward-in-inf",
        action="store_true",
        help="robust targets with each model's own reward inside the infimum (default: Eq. 1, the experienced reward "
        f"outside); results folder and charts get the suffix {REWARD_IN_INF_SUFFIX}",
    )
    parser.add_argument("--out", type=pathlib.Path, help="results folder (default: the protocol's)")
    parser.add_argument("--plot", action="store_true", help="only draw the bar chart from existing results")
    args = parser.parse_args()
    gym.register_envs(robust_envs)
    if args.control_timestep is not None and not args.suite:
        raise SystemExit("--control-timestep applies to the suite envs only: add --suite")
    protocol = suite_protocol(args.suite, args.control_timestep) if args.suite else legacy_protocol(args.env, args.param)
    if args.reward_in_inf:
        protocol = with_reward_in_inf(protocol)
    if args.out is not None:
        protocol = Protocol(**{**protocol.__dict__, "results": args.out})
    if args.plot:
        print(json.dumps(plot(protocol), indent=2))
        return
    args.out = protocol.results
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:  # seeds outermost, so an interrupted run leaves every agent with as many seeds
        for agent in args.agents:
            path = args.out / f"{agent}_seed{seed}.json"
            if is_done(path, args.reward_in_inf):
                continue
            result = run(agent, seed, protocol, args)
            path.write_text(json.dumps(result, indent=2))
            holdout = np.mean(result["cell_means"][len(protocol.train_values) :])
            print(f"{agent} seed {seed}: hold-out mean {holdout:.1f}, {result['train_time_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
