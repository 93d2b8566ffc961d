"""
Mankowitz et al. (ICLR 2020), DDR-MPO at CPU scale: R-MPO's uncertainty set learned from offline data.

The paper (section "What about learning the uncertainty set from offline data?", Fig. 5) collects a dataset under each
perturbation of the pendulum swing-up (ball mass), trains a transition model on each, and gives the K models to
R-MPO in place of the simulator's K perturbed models, training on the nominal simulator. Its findings: small
datasets give inaccurate models and poor performance; larger ones make DDR-MPO match or beat R-MPO; very large ones
converge to R-MPO. This script runs that comparison at two or three dataset sizes.

**Fixed before results** (the defaults; each run's JSON records them):

- **Protocol**: ``benchmarks.mpo_reproduction``'s suite mode, ``--suite pendulum-swingup --control-timestep 0.08``:
  ``RobustPendulumSwingup-v0`` with 0.08 s agent steps (dm_control's action repeat; 250-step, 20 s episodes), every
  agent acting at 1.0 kg. The K = 3 models are Table 3's **offline** row, ball mass **1.0, 1.1, 1.2 kg**
  (``mankowitz2020/pendulum-swingup/offline-uncertainty``), the hold-out masses **1.5, 1.6, 1.7 kg**
  (``.../offline-holdout``); note 1.2 kg where the main row has 1.4 kg.
- **Agents** (the constructor call of ``mpo_reproduction.run``, its hyper-parameters: 60 000 agent steps, batch 128,
  64-64 networks, target update every 100 steps, 15 / 2 action samples, learning starts 1000; Eq. 1's robust target,
  the experienced reward outside the infimum):

  - ``E-MPO``: no perturbation (``mpo_reproduction.run``, unchanged);
  - ``RE-MPO``: the simulator's next states under 1.0 / 1.1 / 1.2 kg (``PerturbedTransitions``;
    ``mpo_reproduction.run``, unchanged);
  - ``DDR-MPO``: RE-MPO's settings (``MPO(robustness="robust", entropy_regularized=True)``) with the next states of
    the K learned models (``LearnedPerturbedTransitions``: the mean over the ensemble's members, the observed
    reward for every model, never terminated, as the suite task).
- **Data** (WAVE2.md section 4.2; the paper does not say how it collected): per mass, one collection of
  ``--collect-steps`` **50 000** transitions, half in episodes of uniform random actions, half in episodes of a
  behaviour policy with its own sampled actions, the two kinds alternating episode by episode. The behaviour policy
  is an E-MPO agent trained at 1.0 kg with seed **100** (not an evaluation seed) for the agents' 60 000 steps: random
  episodes cover the bottom of the swing, behaviour episodes the swing-up and the top. Each is a Minari dataset
  (``robust/pendulum-swingup-dt0_08-ddr-ball_mass1_1-v0``, ...) with every step's parameters and physics state.
- **Sizes**: ``--sizes`` **500, 5 000, 50 000** transitions per mass (2, 20, 200 episodes), the first N transitions of
  each collection (nested datasets, always half random, half behaviour). Log-spaced at the low end of the paper's
  100 to 1M because this task's dynamics are easy to learn: in a probe (10 000 random transitions at 1.2 kg) the
  fitted ensemble's one-step error (7e-7) was 400 times below the true effect of 1.0 vs 1.2 kg on the next state
  (3e-4), so the sizes where models are *inaccurate* lie below 10 000 here.
- **Models**: one ``GaussianEnsemble`` per mass (``fit_perturbation_models``): **5 members, all elites, 3 x 200
  swish** (WAVE2.md 4.2), state change only; fitted with the class's defaults (Adam 1e-3, batch 256, 20 %
  holdout up to 1000, stop after 5 epochs without a 1 % gain) and at most ``--max-fit-steps`` **10 000** gradient
  steps (batches) per fit, whatever the size: the epoch cap is ``ceil(10 000 / batches per epoch)`` (53
  epochs at 50 000 transitions, 625 at 5 000, 5 000 at 500). The data come from a deterministic simulator, so the holdout MSE
  keeps falling by more than 1 % now and then and the early stop alone may not end a fit (a probe at 5 000
  transitions was still improving after 45 epochs, its holdout MSE already 40 times below the perturbation's
  effect); a cap in epochs would give the large datasets far more steps than the small ones and about 1.5 h per
  50 000-transition fit on this machine. Seeded with the agent's seed (so model error varies across seeds too). Each
  run records every fit's epochs, whether it stopped early and its holdout MSE per member.
- **Validation**: per mass ``--validation-steps`` 5 000 transitions collected the same way with other seeds. Each
  run records, per model, the one-step MSE of its prediction (as ``LearnedPerturbedTransitions`` makes it) and,
  for scale, the MSE between the true next states at that mass and at 1.0 kg from the same states (how far the
  perturbation moves the next state).
- **Seeds** 0, 1, 2 (``--seeds``); each agent's seed is MPO's seed (and DDR-MPO's model seed); data seeds are
  fixed (``--data-seed`` 0). **Evaluation**: ``mpo_reproduction.run``'s: 10 episodes per mass at 1.0 / 1.1 / 1.2
  and 1.5 / 1.6 / 1.7 kg, reset seeds 1000-1009, deterministic policy.

**Outputs.** One JSON per run in ``benchmarks/results/ddr_mpo_pendulum_swingup_dt0.08/``: ``E-MPO_seed<S>.json``,
``RE-MPO_seed<S>.json`` (no data: one run per seed serves every size) and ``DDR-MPO_n<N>_seed<S>.json``, with the
keys of ``mpo_reproduction``'s results plus ``dataset_size``, the datasets' checksums, the models' fit and
validation errors. ``datasets.json`` there records the datasets (ids, SHA-256, returns). Existing run files are
skipped (resumable; seeds outermost); the datasets, the behaviour policy and the fitted models are kept (Minari's
data path; ``results/ddr_mpo/`` under the repository, not committed) and reused. ``config.json`` holds the fixed
settings; a rerun with other settings stops rather than mixing them. ``--summarize`` prints the table, writes
``summary.json`` and the chart ``benchmarks/figures/ddr_mpo_pendulum_swingup_dt0.08.png`` (hold-out return against
dataset size, E-MPO and RE-MPO as bands).

Run::

    nice -n 10 python -m benchmarks.ddr_mpo_reproduction --seeds 0 1 2
    python -m benchmarks.ddr_mpo_reproduction --summarize
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import robust_envs
import robust_envs.datasets as rd
from benchmarks.generate_d4rl_datasets import canonical, derived_seed, episodes_checksum, git_revision, write_json
from benchmarks.mpo_reproduction import (
    AGENTS,
    Protocol,
    add_training_arguments,
    evaluate,
    make_env,
    make_mpo,
    result_record,
    suite_protocol,
)
from benchmarks.mpo_reproduction import run as run_simulator_agent
from benchmarks.seed_tests import mean_sd, sample_sd
from robust_envs import get_preset
from robust_envs.datasets.episodes import STATE_KEY
from robust_envs.datasets.storage import METADATA_KEY, dataset_path
from robust_envs.suite.presets import training_params
from robust_sb3 import MPO
from robust_sb3.common.dynamics import GaussianEnsemble
from robust_sb3.common.learned_transitions import LearnedPerturbedTransitions, fit_perturbation_models

ROOT = Path(__file__).resolve().parent
WORK = ROOT.parent / "results" / "ddr_mpo"  # git-ignored: behaviour policy and fitted models
SUITE = "pendulum-swingup"
UNCERTAINTY = f"mankowitz2020/{SUITE}/offline-uncertainty"
HOLDOUT = f"mankowitz2020/{SUITE}/offline-holdout"
AGENT_NAMES = ("E-MPO", "RE-MPO", "DDR-MPO")
SIZES = (500, 5_000, 50_000)
#: DDR-MPO's agent: RE-MPO's settings, Eq. 1's target (the experienced reward outside the infimum).
DDR_CONFIG = {**AGENTS["RE-MPO"], "reward_in_inf": False}
#: The K ensembles (WAVE2.md 4.2): 5 members, all elites (the mean over members), 3 x 200 swish, state change only.
ENSEMBLE_KWARGS: dict[str, Any] = {
    "n_members": 5,
    "n_elites": 5,
    "hidden_sizes": (200, 200, 200),
    "activation": "silu",
    "predict_reward": False,
    "device": "cpu",
}
#: The seed of the behaviour policy's E-MPO run (not one of the agents' seeds).
BEHAVIOUR_SEED = 100
#: the MPO arguments (of ``add_training_arguments``) an agent and the behaviour policy are trained with
MPO_SETTINGS = (
    "batch_size",
    "net_arch",
    "target_update_interval",
    "n_action_samples",
    "n_target_action_samples",
    "learning_starts",
)
#: How the collections alternate, for the metadata.
COMPOSITION = "episodes alternate: uniform random actions, then the behaviour policy's sampled actions (first: random)"
FORMAT_VERSION = 1


# ---------------------------------------------------------------- protocol


def ddr_protocol(control_timestep: float, out: Path | None = None) -> Protocol:
    """
    :param control_timestep: seconds per agent step
    :param out: the results folder, and the chart's (default ``benchmarks/results/ddr_mpo_<suite>_dt<dt>`` and
        ``benchmarks/figures``)
    :return: ``mpo_reproduction``'s suite protocol with Table 3's offline-data row as uncertainty and hold-out sets
    """
    base = suite_protocol(SUITE, control_timestep)
    uncertainty, holdout = get_preset(UNCERTAINTY), get_preset(HOLDOUT)
    (param,) = uncertainty.names
    # both rows train on 1.0 kg, so the suite protocol's training env is this row's first member too
    assert param == base.param and training_params(uncertainty) == base.env_kwargs["params"], (param, base)
    slug = "ddr_" + base.results.name
    return Protocol(
        **{
            **base.__dict__,
            "train_values": tuple(m[param] for m in uncertainty.members),
            "holdout_values": tuple(m[param] for m in holdout.members),
            "results": out if out is not None else ROOT / "results" / slug,
            # with --out the chart stays beside the results: a trial run must not overwrite the committed chart
            "figure": (out if out is not None else ROOT / "figures") / f"{slug}.png",
        }
    )


def collection_kwargs(protocol: Protocol, value: float) -> dict[str, Any]:
    """:return: ``collect``'s ``params`` and ``env_kwargs`` for the training env with the parameter at ``value``."""
    env_kwargs = {key: item for key, item in protocol.env_kwargs.items() if key != "params"}
    env_kwargs["max_episode_steps"] = protocol.horizon
    return {"params": {protocol.param: value}, "env_kwargs": env_kwargs}


def policy_checksum(model: MPO) -> str:
    """:return: SHA-256 of the policy's parameters (a zip's own bytes carry timestamps)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.policy.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- data


def behaviour_settings(protocol: Protocol, args: argparse.Namespace) -> dict[str, Any]:
    """:return: what the behaviour policy depends on (its file name carries a digest of it)"""
    return canonical(
        {
            "agent": "E-MPO",
            "seed": BEHAVIOUR_SEED,
            "timesteps": args.behaviour_timesteps,
            "env_kwargs": collection_kwargs(protocol, protocol.train_values[0])["env_kwargs"],
            "mpo": {name: getattr(args, name) for name in MPO_SETTINGS},
        }
    )


def behaviour_path(protocol: Protocol, args: argparse.Namespace, work: Path) -> Path:
    """:return: the behaviour policy's file: seed, steps and a digest of :func:`behaviour_settings`"""
    digest = hashlib.sha256(json.dumps(behaviour_settings(protocol, args), sort_keys=True).encode()).hexdigest()[:10]
    return work / f"behaviour_E-MPO_seed{BEHAVIOUR_SEED}_{args.behaviour_timesteps}_{digest}.zip"


def behaviour_policy(protocol: Protocol, args: argparse.Namespace, work: Path) -> MPO:
    """:return: the behaviour policy (E-MPO at the training mass), trained once and kept in ``work``."""
    path = behaviour_path(protocol, args, work)
    if not path.exists():
        th.set_num_threads(1)
        print(f"behaviour policy: E-MPO, seed {BEHAVIOUR_SEED}, {args.behaviour_timesteps} steps", flush=True)
        model = make_mpo(make_env(protocol, robust=False), {**AGENTS["E-MPO"], "reward_in_inf": False}, BEHAVIOUR_SEED, args)
        model.learn(args.behaviour_timesteps)
        work.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("tmp_" + path.name)
        model.save(tmp)
        tmp.replace(path)
    # always the loaded copy, so a fresh and a resumed run collect with the same object
    return MPO.load(path, device="cpu")


def dataset_id(protocol: Protocol, args: argparse.Namespace, value: float, validation: bool) -> str:
    """:return: e.g. ``robust/pendulum-swingup-dt0_08-ddr-ball_mass1_1-v0`` (Minari ids take no dots)."""
    dt = protocol.env_kwargs.get("control_timestep")
    stem = f"{SUITE}{f'-dt{dt:g}' if dt else ''}-ddr-{protocol.param}{value:g}".replace(".", "_")
    return f"{args.namespace}/{stem}{'-validation' if validation else ''}-v{args.dataset_version}"


def collect_mixed(
    protocol: Protocol, value: float, n_steps: int, seeds: tuple[int, int], behaviour: MPO, facts: dict[str, Any]
) -> rd.Episodes:
    """
    :return: at least ``n_steps`` transitions at ``value``: half random, half behaviour episodes, alternating
    """
    from stable_baselines3.common.utils import set_random_seed

    kwargs = collection_kwargs(protocol, value)
    probe = rd.make_env(protocol.env_id, **kwargs)
    space = probe.action_space
    probe.close()
    half = math.ceil(n_steps / 2)
    uniform = rd.collect(protocol.env_id, rd.UniformRandomPolicy(space, seeds[0]), half, seed=seeds[0], **kwargs)
    set_random_seed(seeds[1])  # the behaviour policy samples from torch's generator
    sampled = rd.collect(protocol.env_id, behaviour, half, seed=seeds[1], **kwargs)
    order = [e for pair in itertools.zip_longest(uniform.episodes, sampled.episodes) for e in pair if e is not None]
    provenance = {
        **facts,
        "param_names": uniform.provenance["param_names"],
        "random_episodes": len(uniform),
        "behaviour_episodes": len(sampled),
        "random_mean_return": float(uniform.returns.mean()),
        "behaviour_mean_return": float(sampled.returns.mean()),
    }
    return rd.Episodes(uniform.env_spec, tuple(order), provenance)


def transitions_of(dataset: Any) -> dict[str, np.ndarray]:
    """:return: a Minari dataset's steps as arrays: observations, actions, rewards, next_observations, states."""
    parts = [
        (e.observations[:-1], e.actions, e.rewards, e.observations[1:], e.infos[STATE_KEY][:-1])
        for e in dataset.iterate_episodes()
    ]
    names = ("observations", "actions", "rewards", "next_observations", "states")
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}


def prepare_dataset(
    protocol: Protocol, args: argparse.Namespace, k: int, validation: bool, behaviour: Any, generator: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """
    Collect and write the dataset of model ``k`` (or its validation set), or load it when it exists.

    :param behaviour: a callable returning the behaviour policy (trained only if some dataset is missing)
    :return: its transitions and a record (id, checksum, sizes, returns)
    :raises SystemExit: the dataset exists with other settings
    """
    value = protocol.train_values[k]
    identifier = dataset_id(protocol, args, value, validation)
    stream = 4 * k + (2 if validation else 0)
    seeds = (derived_seed(args.data_seed, stream), derived_seed(args.data_seed, stream + 1))
    steps = args.validation_steps if validation else args.collect_steps
    facts = {**generator, "value": value, "steps": steps, "seeds": list(seeds), "validation": validation}
    if dataset_path(identifier).joinpath("data").is_dir():
        recorded = (rd.load(identifier).storage.metadata.get(METADATA_KEY) or {}).get("ddr")
        if canonical(recorded) != canonical(facts):
            raise SystemExit(
                f"Dataset {identifier!r} exists with other settings ({recorded}); pass --dataset-version N, or delete it"
            )
    else:
        episodes = collect_mixed(protocol, value, steps, seeds, behaviour(), facts)
        rd.create_dataset(
            identifier,
            episodes,
            algorithm_name="uniform random + E-MPO (sampled actions)",
            code_permalink=git_revision(),
            description=(
                f"DDR-MPO data of {protocol.env_id} at {protocol.param} = {value:g}"
                f"{' (validation)' if validation else ''}: {COMPOSITION}; benchmarks/ddr_mpo_reproduction.py"
            ),
            metadata={"ddr": facts},
        )
    dataset = rd.load(identifier)
    provenance = (dataset.storage.metadata.get(METADATA_KEY) or {}).get("provenance") or {}
    record = {
        "dataset_id": identifier,
        "value": value,
        "steps": int(dataset.total_steps),
        "episodes": int(dataset.total_episodes),
        "sha256": episodes_checksum(dataset.iterate_episodes()),
        **{key: provenance.get(key) for key in ("random_mean_return", "behaviour_mean_return")},
    }
    return transitions_of(dataset), record


def prepare_data(protocol: Protocol, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """:return: per model ``k``: training transitions, validation transitions and dataset records."""
    cache: dict[str, MPO] = {}

    def behaviour() -> MPO:
        if "policy" not in cache:
            cache["policy"] = behaviour_policy(protocol, args, work)
        return cache["policy"]

    generator = {
        "format_version": FORMAT_VERSION,
        "env_id": protocol.env_id,
        "param": protocol.param,
        "env_kwargs": collection_kwargs(protocol, protocol.train_values[0])["env_kwargs"],
        "behaviour": behaviour_settings(protocol, args),
        "composition": COMPOSITION,
        "data_seed": args.data_seed,
    }
    data: dict[str, Any] = {"train": [], "validation": [], "records": []}
    for k in range(len(protocol.train_values)):
        train, train_record = prepare_dataset(protocol, args, k, False, behaviour, generator)
        valid, valid_record = prepare_dataset(protocol, args, k, True, behaviour, generator)
        data["train"].append(train)
        data["validation"].append(valid)
        data["records"].append({"train": train_record, "validation": valid_record})
    policy_file = behaviour_path(protocol, args, work)
    data["behaviour_sha256"] = policy_checksum(MPO.load(policy_file, device="cpu")) if policy_file.exists() else None
    return data


def prefix(transitions: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """:return: the first ``size`` transitions (``fit_perturbation_models``' four arrays)."""
    available = transitions["rewards"].shape[0]
    if size > available:
        raise SystemExit(f"Dataset size {size} exceeds the {available} transitions collected; raise --collect-steps")
    return {name: transitions[name][:size] for name in ("observations", "actions", "rewards", "next_observations")}


# ---------------------------------------------------------------- models


def max_epochs_for(size: int, max_fit_steps: int) -> int:
    """
    :return: the epoch cap that gives a fit on ``size`` transitions at most ``max_fit_steps`` batches, with
        ``GaussianEnsemble.fit``'s defaults (holdout ``min(20 %, 1000)``, batches of 256)
    """
    n_train = size - min(int(size * 0.2), 1000)
    return max(1, math.ceil(max_fit_steps / math.ceil(n_train / 256)))


def fit_summary(fit: Any) -> dict[str, Any]:
    """:return: what a fit did (epochs, early stop, holdout MSE per member, elites), as JSON"""
    return {
        "epochs": fit.epochs,
        "stopped_early": bool(fit.stopped_early),
        "n_train": fit.n_train,
        "n_holdout": fit.n_holdout,
        "holdout_mse": [float(v) for v in fit.holdout_mse],
        "best_epochs": [int(v) for v in fit.best_epochs],
        "elites": [int(v) for v in fit.elites],
    }


def perturbation_models(
    size: int, seed: int, data: dict[str, Any], args: argparse.Namespace, work: Path
) -> tuple[list[GaussianEnsemble], dict[str, Any]]:
    """
    Fit the K ensembles on the first ``size`` transitions of each dataset, or load them when fitted before with the
    same data and settings.

    :return: the ensembles and a record (settings, fit time)
    """
    folder = work / "models"
    stem = f"n{size}_seed{seed}"
    fit_kwargs = {"max_epochs": max_epochs_for(size, args.max_fit_steps)}
    settings = {
        "ensemble_kwargs": ENSEMBLE_KWARGS,
        "fit_kwargs": fit_kwargs,
        "seed": seed,
        "size": size,
        "datasets": [record["train"]["sha256"] for record in data["records"]],
    }
    record_path = folder / f"{stem}.json"
    paths = [folder / f"{stem}_k{k}.pt" for k in range(len(data["train"]))]
    if record_path.exists() and all(p.exists() for p in paths):
        record = json.loads(record_path.read_text())
        if canonical(record["settings"]) == canonical(settings):
            return [GaussianEnsemble.load(p, device="cpu") for p in paths], record
    start = time.time()
    models = fit_perturbation_models(
        [prefix(train, size) for train in data["train"]],
        env=None,  # the suite task never terminates: no termination rule
        seed=seed,
        ensemble_kwargs=dict(ENSEMBLE_KWARGS),
        fit_kwargs=fit_kwargs,
    )
    record = {"settings": settings, "fit_time_s": time.time() - start, "fits": [fit_summary(m.last_fit) for m in models]}
    folder.mkdir(parents=True, exist_ok=True)
    for model, path in zip(models, paths, strict=True):
        model.save(path)
    write_json(record_path, record)  # last: the mark of a complete set
    return models, record


def model_errors(models: list[GaussianEnsemble], protocol: Protocol, data: dict[str, Any]) -> dict[str, Any]:
    """
    :return: per model ``k`` on its validation set: the one-step MSE of the next observation predicted as
        ``LearnedPerturbedTransitions`` predicts it, and the MSE between the true next observations at that mass and
        at the training mass from the same states (the size of the perturbation)
    """
    env = make_env(protocol, robust=False)
    wrapper = LearnedPerturbedTransitions(env, models)
    nominal = [{protocol.param: protocol.train_values[0]}]
    model_mse, gap_mse, model_mse_per_dim = [], [], []
    for k, valid in enumerate(data["validation"]):
        predicted = wrapper.predict(valid["observations"], valid["actions"])[k].next_observations
        truth = valid["next_observations"]
        at_nominal = env.unwrapped.sample_next_states(valid["states"], valid["actions"], nominal).observations[:, 0]
        model_mse.append(float(np.mean((predicted - truth) ** 2)))
        model_mse_per_dim.append(np.mean((predicted - truth) ** 2, axis=0).tolist())
        gap_mse.append(float(np.mean((at_nominal - truth) ** 2)))
    env.close()
    return {"model_mse": model_mse, "model_mse_per_dim": model_mse_per_dim, "perturbation_mse": gap_mse}


# ---------------------------------------------------------------- runs


def run_ddr(
    size: int, seed: int, protocol: Protocol, args: argparse.Namespace, data: dict[str, Any], work: Path
) -> dict[str, Any]:
    """Fit (or load) the K models on ``size`` transitions each, train DDR-MPO on them, evaluate; :return: the record."""
    th.set_num_threads(1)
    models, fit = perturbation_models(size, seed, data, args, work)
    errors = model_errors(models, protocol, data)
    env = LearnedPerturbedTransitions(make_env(protocol, robust=False), models)
    model = make_mpo(env, DDR_CONFIG, seed, args)
    start = time.time()
    model.learn(args.timesteps)
    train_time = time.time() - start
    cells, report, eval_time = evaluate(model, protocol, args)
    # the keys of mpo_reproduction.run's suite results, then DDR-MPO's own
    shared = result_record("DDR-MPO", seed, protocol, args, DDR_CONFIG, model, None, train_time, cells, report, eval_time)
    return {
        **shared,
        "dataset_size": size,
        "datasets": [record["train"]["dataset_id"] for record in data["records"]],
        "datasets_sha256": [record["train"]["sha256"] for record in data["records"]],
        "models": {
            **fit["settings"],
            "fit_time_s": fit["fit_time_s"],
            "fits": fit["fits"],
            "prediction": "mean over members",
        },
        "model_validation": errors,
    }


# ---------------------------------------------------------------- summary


def group_runs(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """:return: the runs by row label: ``E-MPO``, ``RE-MPO``, ``DDR-MPO n=<N>`` (sizes ascending)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for agent in AGENT_NAMES:
        mine = [r for r in runs if r["agent"] == agent]
        for size in sorted({r.get("dataset_size") or 0 for r in mine}):
            label = agent if agent != "DDR-MPO" else f"DDR-MPO n={size}"
            groups[label] = sorted((r for r in mine if (r.get("dataset_size") or 0) == size), key=lambda r: r["seed"])
    return groups


def summarize(protocol: Protocol) -> str:
    """Aggregate the run files: a markdown table, ``summary.json`` and the chart. :return: the table"""
    runs = [json.loads(p.read_text()) for p in sorted(protocol.results.glob("*_seed*.json"))]
    if not runs:
        raise SystemExit(f"No results in {protocol.results}")
    n_train = len(protocol.train_values)
    values = (*protocol.train_values, *protocol.holdout_values)
    summary: dict[str, Any] = {}
    unit = protocol.unit
    header = " | ".join(f"{v:g} {unit}" for v in values)
    lines = [
        f"| agent | seeds | {header} | hold-out mean | model MSE (mean over K) | perturbation MSE (models 1..K-1) |",
        "|---|---|" + "---|" * len(values) + "---|---|---|",
    ]
    for label, mine in group_runs(runs).items():
        means = np.array([r["cell_means"] for r in mine])
        holdout = means[:, n_train:].mean(axis=1)
        row = {
            "seeds": [r["seed"] for r in mine],
            "dataset_size": mine[0].get("dataset_size"),
            "mean": means.mean(axis=0).tolist(),
            "std": sample_sd(means, axis=0),  # None with one seed, as holdout_std
            "holdout_mean": float(holdout.mean()),
            "holdout_std": sample_sd(holdout),
            "per_seed_holdout_mean": holdout.tolist(),
        }
        model_cell = gap_cell = "-"
        if mine[0].get("model_validation"):
            row["model_mse"] = float(np.mean([r["model_validation"]["model_mse"] for r in mine]))
            # over the perturbed models only: model 0's data come from the training mass (a gap of 0 by construction)
            row["perturbation_mse"] = float(np.mean([r["model_validation"]["perturbation_mse"][1:] for r in mine]))
            model_cell, gap_cell = f"{row['model_mse']:.2e}", f"{row['perturbation_mse']:.2e}"
        summary[label] = row
        cells = " | ".join(mean_sd(m, s) for m, s in zip(row["mean"], row["std"] or [None] * len(values), strict=True))
        lines.append(
            f"| {label} | {','.join(map(str, row['seeds']))} | {cells} | {mean_sd(row['holdout_mean'], row['holdout_std'])} "
            f"| {model_cell} | {gap_cell} |"
        )
    write_json(protocol.results / "summary.json", summary)
    draw_chart(summary, protocol)
    return "\n".join(lines)


def draw_chart(summary: dict[str, Any], protocol: Protocol) -> None:
    """Fig. 5's analogue: per hold-out mass (and their mean), return against dataset size; E-MPO, RE-MPO as bands."""
    ddr = sorted((row["dataset_size"], row) for label, row in summary.items() if label.startswith("DDR-MPO"))
    if not ddr:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_train, unit = len(protocol.train_values), protocol.unit
    panels = [(f"{v:g} {unit}", n_train + i) for i, v in enumerate(protocol.holdout_values)] + [("hold-out mean", None)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), sharey=True)
    sizes = [size for size, _ in ddr]

    def value(row: dict[str, Any], column: int | None) -> tuple[float, float]:
        """:return: the mean and sd over seeds (NaN for a single seed: no band, no error bar)"""
        if column is None:
            mean, sd = row["holdout_mean"], row["holdout_std"]
        else:
            mean, sd = row["mean"][column], None if row["std"] is None else row["std"][column]
        return mean, np.nan if sd is None else sd

    for ax, (title, column) in zip(np.atleast_1d(axes), panels, strict=True):
        for label, colour in (("E-MPO", "tab:red"), ("RE-MPO", "tab:blue")):
            if label in summary:
                mean, std = value(summary[label], column)
                ax.axhline(mean, color=colour, label=f"{label} ({len(summary[label]['seeds'])} seeds)")
                if not np.isnan(std):
                    ax.axhspan(mean - std, mean + std, color=colour, alpha=0.15)
        points = [value(row, column) for _, row in ddr]
        ax.errorbar(sizes, [p[0] for p in points], yerr=[p[1] for p in points], color="tab:green", marker="o", capsize=3)
        ax.set_xscale("log")
        ax.set_xlabel("transitions per mass")
        ax.set_title(title, fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel(f"return over {protocol.horizon} steps")
    np.atleast_1d(axes)[0].plot([], [], color="tab:green", marker="o", label="DDR-MPO")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.suptitle(f"DDR-MPO on {protocol.env_id}: hold-out returns against data size (mean, std over seeds)", fontsize=9)
    fig.tight_layout()
    protocol.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(protocol.figure, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--agents", nargs="+", default=list(AGENT_NAMES), choices=AGENT_NAMES)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="transitions per mass for DDR-MPO")
    parser.add_argument("--collect-steps", type=int, default=max(SIZES), help="transitions collected per mass")
    parser.add_argument("--validation-steps", type=int, default=5_000, help="validation transitions per mass")
    parser.add_argument("--behaviour-timesteps", type=int, help="the behaviour E-MPO's steps (default --timesteps)")
    parser.add_argument("--data-seed", type=int, default=0, help="the seed of the data collections")
    parser.add_argument("--max-fit-steps", type=int, default=10_000, help="gradient steps (batches) per model fit, at most")
    parser.add_argument("--control-timestep", type=float, default=0.08, help="seconds per agent step")
    # mpo_reproduction's training and evaluation settings, with the budget of its pendulum swing-up runs
    add_training_arguments(parser, timesteps=60_000)
    parser.add_argument("--namespace", default="robust", help="the datasets' Minari namespace")
    parser.add_argument("--dataset-version", type=int, default=0, help="the -vN of the dataset ids")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results/ddr_mpo_<suite>_dt<dt>)")
    parser.add_argument("--work-dir", type=Path, default=WORK, help=f"behaviour policy and models (default {WORK})")
    parser.add_argument("--summarize", action="store_true", help="only aggregate existing results")
    return parser


def fixed_settings(protocol: Protocol, args: argparse.Namespace) -> dict[str, Any]:
    """:return: what every run of one results folder must share (seeds, sizes and agents may be added)."""
    return canonical(
        {
            "format_version": FORMAT_VERSION,
            "env_id": protocol.env_id,
            "param": protocol.param,
            "train_values": protocol.train_values,
            "holdout_values": protocol.holdout_values,
            "episode_steps": protocol.horizon,
            "env_kwargs": protocol.env_kwargs,
            "mpo": {name: getattr(args, name) for name in ("timesteps", *MPO_SETTINGS, "episodes")},
            "data": {
                name: getattr(args, name)
                for name in ("collect_steps", "validation_steps", "behaviour_timesteps", "data_seed", "dataset_version")
            },
            "models": {"ensemble_kwargs": ENSEMBLE_KWARGS, "max_fit_steps": args.max_fit_steps},
        }
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing (agent, size, seed) combinations, seeds outermost, or summarise."""
    args = build_parser().parse_args(argv)
    gym.register_envs(robust_envs)
    args.behaviour_timesteps = args.behaviour_timesteps or args.timesteps
    args.reward_in_inf = False  # mpo_reproduction.run reads it: Eq. 1's target for RE-MPO
    protocol = ddr_protocol(args.control_timestep, args.out)
    if args.summarize:
        print(summarize(protocol))
        return
    if any(size <= 0 for size in args.sizes) or max(args.sizes) > args.collect_steps:
        raise SystemExit(f"--sizes must lie in [1, --collect-steps={args.collect_steps}], got {args.sizes}")
    out = protocol.results
    settings = fixed_settings(protocol, args)
    config_path = out / "config.json"
    if not config_path.exists():
        write_json(config_path, settings)
    elif json.loads(config_path.read_text()) != settings:
        raise SystemExit(f"{out} holds runs with other settings ({config_path}); choose --out")
    data = None
    if "DDR-MPO" in args.agents:
        data = prepare_data(protocol, args, args.work_dir)
        write_json(
            out / "datasets.json",
            {"records": data["records"], "behaviour_sha256": data["behaviour_sha256"], "composition": COMPOSITION},
        )
    for seed in args.seeds:  # seeds outermost: an interrupted run leaves every agent with as many seeds
        for agent in args.agents:
            for size in sorted(args.sizes) if agent == "DDR-MPO" else [None]:
                path = out / (f"{agent}_seed{seed}.json" if size is None else f"{agent}_n{size}_seed{seed}.json")
                if path.exists():
                    continue
                if size is None:
                    result = {**run_simulator_agent(agent, seed, protocol, args), "dataset_size": None}
                else:
                    result = run_ddr(size, seed, protocol, args, data, args.work_dir)
                write_json(path, result)
                holdout = np.mean(result["cell_means"][len(protocol.train_values) :])
                print(f"{path.name}: hold-out mean {holdout:.1f}, {result['train_time_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
