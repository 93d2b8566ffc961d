"""
Reproduce RAMBO-RL (Rigter, Lacerda and Hawes, NeurIPS 2022) on our D4RL-style Hopper datasets (issue 15).

At this machine's budget: RAMBO against its lambda = 0 ablation and behaviour cloning, scored as D4RL scores offline
policies, with our robustness grid (torso density x friction) on top.

Learners, each at seeds 0, 1, 2 (``--seeds``) on each dataset (``--dataset-ids``, default
``robust/hopper-medium-replay-v0``, made by ``benchmarks/generate_d4rl_datasets.py``):

- ``rambo``: ``robust_sb3.RAMBO`` with ``rambo_preset("rambo/cpu", "rambo/d4rl/<D4RL name>")``, the CPU scale and the
  official code's ``(k, lambda)`` for the D4RL dataset of the same level (``robust/hopper-medium-replay-v0`` ->
  ``hopper-medium-replay-v2``: ``k = 2``, ``lambda = 3e-4``), trained for ``CPU_EPOCHS`` (200) epochs of
  ``epoch_length`` (1000) SAC steps, i.e. ``learn(total_timesteps=200 * 1000)`` as the preset says;
- ``rambo-mle``: the same with ``adversarial_weight=0`` (``lambda = 0``: the adversary is off, MBPO-style SAC on the
  MLE ensemble with the BC warm start; the paper's ablation). Same seed, same MLE ensemble and warm start as
  ``rambo``: the seed's first learner fits the ensemble and keeps it (``mle/mle_seed<S>.pt`` in the results folder,
  committed with the results: about 4 MB, keyed by the seed, the dataset's checksum and the fit settings), the other
  starts from it, perhaps in a later session (a fit on 100-200k transitions takes 30-55 minutes here); lambda reaches
  the policy only through the model data of the epochs after the first adversary phase, so with ``--epochs 1`` the
  two give the same policy;
- ``bc``: behaviour cloning only: the same RAMBO construction, then only :meth:`RAMBO.pretrain_policy`, RAMBO's own
  warm start (``bc_epochs`` 50, Adam 1e-4, batches of 256, ``-log pi(a|s)``, actions clipped to +-0.999), no model
  fit, no SAC; the policy RAMBO's SAC starts from.

**Fixed before results** (each run's JSON and the results folder's ``config.json`` record them):

- the RAMBO settings: the presets above and nothing else (``--preset rambo/smoke`` exists for tests only); every
  learner of a seed gets ``seed=<seed>``; one torch thread (``--threads``), ``--device cpu``;
- the nominal evaluation: ``RobustHopper-v0`` at nominal parameters, **10 episodes** reset with seeds
  **10000-10009**, deterministic actions, the registered 1000-step limit. Reported: the mean raw return, the
  D4RL-normalised score with **D4RL's v2 references** (``robust_envs.datasets.d4rl_normalized_score``: hopper random
  -20.27, expert 3234.3; approximate here, our envs are Gymnasium v5's) and the score normalised with **our own
  references** from the dataset's metadata, ``100 * (R - ref_min_score) / (ref_max_score - ref_min_score)`` (our random
  and expert policies' returns, ``generate_d4rl_datasets``), the one that says where a policy sits between our data's
  random and expert behaviour;
- the robustness grid: ``RobustHopper-v0``, torso_density ``np.linspace(500, 2000, 5)`` x friction
  ``np.linspace(0.5, 1.5, 5)`` (25 cells, the WR2L hopper2d test grid), **2 episodes per cell**, reset seeds 10000 and
  10001, deterministic actions, through ``robust_envs.evaluation.evaluate_robustness``. Reported: the report, its
  mean, the 10%-worst return (``report.cvar(0.1)``: the mean of the 5 worst of the 50 episodes, pooled over cells)
  and the worst cell (the lowest cell mean, and where it is);
- the order: seeds outermost, then datasets, then learners (an interrupted run leaves every learner with as many
  seeds).

**Outputs.** One JSON per (learner, dataset, seed): ``benchmarks/results/rambo_<dataset stem>/<learner>_seed<S>.json``
(e.g. ``benchmarks/results/rambo_hopper-medium-replay/rambo_seed0.json``), written atomically. Keys: ``learner``,
``seed``, ``dataset`` (id, SHA-256 of its arrays as loaded, steps, episodes, the behaviour's mean return, the
reference scores), ``d4rl_dataset``, ``presets``, ``overrides``, ``rollout_length`` (k) and ``adversarial_weight``
(lambda) (``None`` for ``bc``), ``epochs``, ``epoch_length``, ``total_timesteps``, ``rambo_kwargs`` (every constructor
argument the presets give), ``train_seconds`` (pretraining included), ``pretrain_seconds``, ``bc_losses``,
``model_fit`` (the MLE fit: epochs, holdout MSE, elites), ``model_path`` (from the repository root),
``evaluated_from_saved_model``, ``nominal`` (``seeds``, ``returns``, ``lengths``, ``mean``, ``std``, ``d4rl_normalized``,
``normalized``), ``grid`` (``report``, ``mean``, ``worst10``, ``worst``, ``worst_cell``), ``eval_seconds``,
``trained_on`` and ``device`` (of the training and of the evaluation), ``torch_threads``, ``versions``, ``code`` and
``eval_code`` (``git describe`` at training and at evaluation). ``--summarize`` prints a Markdown table per dataset
(learner, seeds, nominal raw return, D4RL-normalised, ours-normalised, grid mean and 10%-worst, each mean +- sd
over seeds) and writes ``summary.json`` beside the results.

**Resumable.** An existing result file is skipped. Each trained policy is saved (``RAMBO.save``: policy, critics,
ensemble) to ``results/rambo/rambo_<dataset stem>/<learner>_seed<S>.zip`` under the repository (git-ignored) with a
``.train.json`` beside it; a run whose result file is missing but whose model was saved with the same settings is
only evaluated again (delete the result file to re-evaluate a policy). A run interrupted during training continues
bit for bit from its last checkpoint (every ``CHECKPOINT_EPOCHS`` = 5 epochs: ``RAMBO.save_checkpoint``, the model,
its pool and the global random states, in ``<learner>_seed<S>.checkpoint/`` beside the policies; the result records
``resumed_at_steps``), and the checkpoint is deleted once the policy is saved. ``config.json`` in a
results folder holds the fixed settings; a rerun with other settings (``--epochs``, another dataset checksum, ...)
stops rather than mixing them.

Run::

    nice -n 10 python -m benchmarks.rambo_reproduction                            # hopper medium-replay, seeds 0 1 2
    nice -n 10 python -m benchmarks.rambo_reproduction --dataset-ids robust/hopper-medium-v0 --seeds 0 1 2
    python -m benchmarks.rambo_reproduction --summarize                          # + benchmarks/figures/rambo_<stem>.png
    python -m benchmarks.rambo_reproduction --device cuda                        # where a GPU is available

The datasets are read from Minari's data path (``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``). One kept in the
repository as its actions (``benchmarks/data/datasets/``, medium-replay among them) is restored there on first use
(``benchmarks/restore_datasets.py``: seconds, checked against its SHA-256); others are made from scratch with
``nice -n 10 python -m benchmarks.generate_d4rl_datasets`` (hours).

**Expected cost** (an estimate, not timed end to end): ``rambo/cpu``'s docstring measured, per epoch on this loaded
2-core machine with one torch thread, SAC 15 s, 250 adversarial steps 12 s, rollouts 0.4 s, so about 1.5 h for 200
epochs, plus up to about 30 minutes of MLE fit and behaviour cloning: **about 2 h per ``rambo`` run**, about 1.2 h per
``rambo-mle`` run (no adversary), a few minutes per ``bc`` run, and 1-3 minutes of evaluation each (60 episodes of up
to 1000 steps): **about 10 h per dataset for 3 seeds**. Smoke test: ``--preset rambo/smoke --epochs 1
--max-episode-steps 40`` on a tiny dataset (``tests/test_rambo_reproduction.py``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.generate_d4rl_datasets import canonical, dataset_summary, git_revision, write_json
from benchmarks.hopper_grid_figure import draw_grid, mean_grid
from benchmarks.seed_tests import mean_sd, sample_sd

ROOT = Path(__file__).resolve().parent
#: The folder holding one ``rambo_<dataset stem>/`` results folder per dataset (committed).
OUT = ROOT / "results"
#: Where the trained policies go (``/results/`` is git-ignored).
WORK = ROOT.parent / "results" / "rambo"
#: Where ``--summarize`` writes each dataset's figure (``rambo_<dataset stem>.png``, committed).
FIGURES = ROOT / "figures"
#: The env every policy is evaluated in (the datasets' env; the grid's parameters are Hopper's).
EVAL_ENV = "RobustHopper-v0"
#: The env part of the dataset ids this script takes (``robust/<env>[-<tag>]-<level>-vN``).
DATASET_ENV = "hopper"
LEARNERS = ("rambo", "rambo-mle", "bc")
DEFAULT_DATASETS = ("robust/hopper-medium-replay-v0",)
#: The training scales (``robust_sb3.rambo.presets``) and their epochs; ``rambo/smoke`` is for tests.
SCALE_PRESETS = {"rambo/cpu": "CPU_EPOCHS", "rambo/smoke": "SMOKE_EPOCHS"}
DEFAULT_SCALE = "rambo/cpu"
#: The per-dataset ``(k, lambda)`` source: the official code's final configs.
K_LAMBDA_PRESET = "rambo/d4rl"
#: The learners' constructor overrides on top of the presets.
OVERRIDES: dict[str, dict[str, Any]] = {"rambo": {}, "rambo-mle": {"adversarial_weight": 0.0}, "bc": {}}
NOMINAL_EPISODES = 10
EVAL_SEED = 10_000
GRID: dict[str, list[float]] = {
    "torso_density": np.linspace(500.0, 2000.0, 5).tolist(),
    "friction": np.linspace(0.5, 1.5, 5).tolist(),
}
GRID_EPISODES = 2
WORST_FRACTION = 0.1
FORMAT_VERSION = 1
#: epochs between the checkpoints of a training run (about 2-3 minutes of a rambo/cpu run here)
CHECKPOINT_EPOCHS = 5
#: the learning curve: at each checkpoint, the nominal return of this many deterministic episodes, reset with seeds
#: from ``CURVE_SEED`` (not the final evaluation's seeds)
CURVE_EPISODES = 5
CURVE_SEED = 20_000
GENERATE = "python -m benchmarks.generate_d4rl_datasets"


# ---------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DatasetTask:
    """
    One dataset and what follows from its id.

    :param dataset_id: the Minari id, e.g. ``robust/hopper-medium-replay-v0``
    :param stem: the id without namespace and version, e.g. ``hopper-medium-replay`` (names the results folder)
    :param level: D4RL's level, e.g. ``medium-replay``
    :param d4rl: the D4RL dataset of the same env and level, e.g. ``hopper-medium-replay-v2`` (gives ``(k, lambda)``)
    """

    dataset_id: str
    stem: str
    level: str
    d4rl: str

    @property
    def k_lambda_preset(self) -> str:
        """The per-dataset preset, e.g. ``rambo/d4rl/hopper-medium-replay-v2``."""
        return f"{K_LAMBDA_PRESET}/{self.d4rl}"

    def results(self, out: Path) -> Path:
        """:return: this dataset's results folder under ``out``."""
        return out / f"rambo_{self.stem}"


def parse_dataset_id(dataset_id: str) -> DatasetTask:
    """
    :param dataset_id: ``(namespace/)<env>[-<tag>]-<level>-vN``
    :return: the task
    :raises SystemExit: a malformed id, another env than Hopper, or a level RAMBO's presets have no ``(k, lambda)`` for
    """
    import robust_envs.datasets as rd
    from robust_sb3.rambo import RAMBO_PRESETS

    name = dataset_id.rpartition("/")[2]
    stem, dash_v, version = name.rpartition("-v")
    if not stem or not dash_v or not version.isdigit():
        raise SystemExit(
            f"Malformed dataset id {dataset_id!r}: expected (namespace/)<env>-<level>-vN, e.g. {DEFAULT_DATASETS[0]!r}"
        )
    env = stem.split("-")[0]
    levels = [level for level in rd.LEVELS if stem.endswith(f"-{level}")]
    if env != DATASET_ENV or not levels:
        raise SystemExit(
            f"Dataset id {dataset_id!r}: this script takes {DATASET_ENV} datasets of a D4RL level "
            f"(robust/{DATASET_ENV}-<level>-vN, levels {', '.join(rd.LEVELS)}), evaluated in {EVAL_ENV}; got env {env!r}"
        )
    level = max(levels, key=len)  # "medium-expert" over "expert"
    d4rl = f"{env}-{level}-v2"
    if f"{K_LAMBDA_PRESET}/{d4rl}" not in RAMBO_PRESETS:
        known = sorted(n.split("/")[-1] for n in RAMBO_PRESETS if n.startswith(f"{K_LAMBDA_PRESET}/{env}-"))
        raise SystemExit(
            f"Dataset id {dataset_id!r}: RAMBO's presets have no (k, lambda) for {d4rl!r} (level {level!r}); the "
            f"official configs cover {known}"
        )
    return DatasetTask(dataset_id, stem, level, d4rl)


def require_installed(dataset_id: str) -> None:
    """
    Make sure the dataset is under Minari's data path: a dataset kept in the repository as its actions
    (``benchmarks/restore_datasets.py``) is restored there, checked against its SHA-256.

    :raises SystemExit: the dataset is neither installed nor kept (naming it, the local ids and how to make it)
    """
    import robust_envs.datasets as rd
    from benchmarks import restore_datasets
    from robust_envs.datasets.storage import dataset_path

    if dataset_path(dataset_id).joinpath("data").is_dir():
        return
    kept = restore_datasets.KEPT / f"{restore_datasets.kept_stem(dataset_id)}.json"
    if kept.is_file():
        print(restore_datasets.restore(kept), flush=True)
        return
    local = sorted(rd.list_datasets())
    raise SystemExit(
        f"Dataset {dataset_id!r} is not installed under {str(rd.datasets_root())!r} ($MINARI_DATASETS_PATH, default "
        f"~/.minari/datasets) nor kept in {str(restore_datasets.KEPT)!r}; local datasets: {local}. Generate the "
        f"D4RL-style Hopper datasets (robust/hopper-<level>-v0) with `{GENERATE}` (see its docstring), or set "
        "MINARI_DATASETS_PATH to where they are"
    )


def dataset_facts(dataset_id: str) -> dict[str, Any]:
    """:return: the dataset's summary (``generate_d4rl_datasets.dataset_summary``: SHA-256 as loaded, steps, returns)
    and its reference scores (``None`` where the metadata has none)"""
    import robust_envs.datasets as rd
    from robust_envs.datasets.storage import METADATA_KEY

    metadata = rd.load(dataset_id).storage.metadata
    generator = (metadata.get(METADATA_KEY) or {}).get("generator")
    return {
        **dataset_summary(dataset_id, EVAL_ENV),
        "ref_min_score": metadata.get("ref_min_score"),
        "ref_max_score": metadata.get("ref_max_score"),
        "generator": generator,
    }


def own_normalized(value: float, facts: dict[str, Any]) -> float | None:
    """:return: ``100 * (value - ref_min) / (ref_max - ref_min)`` with the dataset's references, or ``None`` without."""
    low, high = facts.get("ref_min_score"), facts.get("ref_max_score")
    if low is None or high is None:
        return None
    return 100.0 * (float(value) - low) / (high - low)


# ---------------------------------------------------------------- settings


def scale_epochs(preset: str) -> int:
    """:return: the epochs a training scale is sized for (``CPU_EPOCHS``, ``SMOKE_EPOCHS``)."""
    from robust_sb3.rambo import presets

    return int(getattr(presets, SCALE_PRESETS[preset]))


def learner_kwargs(learner: str, task: DatasetTask, args: argparse.Namespace) -> dict[str, Any]:
    """:return: RAMBO's constructor arguments for ``learner``: the scale and ``(k, lambda)`` presets, the overrides."""
    from robust_sb3.rambo import rambo_preset

    return rambo_preset(args.preset, task.k_lambda_preset, **OVERRIDES[learner])


def evaluation_settings(args: argparse.Namespace) -> dict[str, Any]:
    """:return: the evaluation protocol (fixed before results)."""
    return {
        "env_id": EVAL_ENV,
        "deterministic": True,
        "max_episode_steps": args.max_episode_steps,
        "nominal": {"episodes": NOMINAL_EPISODES, "seeds": [EVAL_SEED + i for i in range(NOMINAL_EPISODES)]},
        "grid": {"cells": GRID, "episodes": GRID_EPISODES, "seed": EVAL_SEED, "worst_fraction": WORST_FRACTION},
        "d4rl_reference": "D4RL v2 references (d4rl/infos.py), approximate for this project's v5-based envs",
    }


def fixed_settings(task: DatasetTask, facts: dict[str, Any], epochs: int, args: argparse.Namespace) -> dict[str, Any]:
    """:return: what every run of one results folder must share (seeds and learners may be added)."""
    return canonical(
        {
            "format_version": FORMAT_VERSION,
            "script": "benchmarks/rambo_reproduction.py",
            "dataset": {
                key: facts[key] for key in ("dataset_id", "sha256", "steps", "episodes", "ref_min_score", "ref_max_score")
            },
            "presets": [args.preset, task.k_lambda_preset],
            "overrides": OVERRIDES,
            "epochs": epochs,
            "evaluation": evaluation_settings(args),
        }
    )


def training_settings(
    learner: str, seed: int, task: DatasetTask, facts: dict[str, Any], epochs: int, args: argparse.Namespace
) -> dict[str, Any]:
    """:return: what a saved policy depends on (a saved one is reused only when these match)."""
    kwargs = learner_kwargs(learner, task, args)
    trains = learner != "bc"
    return canonical(
        {
            "learner": learner,
            "seed": seed,
            "dataset_id": task.dataset_id,
            "dataset_sha256": facts["sha256"],
            "presets": [args.preset, task.k_lambda_preset],
            "overrides": OVERRIDES[learner],
            "rambo_kwargs": kwargs,
            "epochs": epochs if trains else 0,
            "total_timesteps": epochs * kwargs["epoch_length"] if trains else 0,
        }
    )


def versions() -> dict[str, str | None]:
    """:return: the versions of Python and the libraries a result depends on."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("torch", "stable-baselines3", "gymnasium", "mujoco", "minari", "numpy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    from robust_envs.version import __version__

    found["robust-rl"] = __version__
    return found


# ---------------------------------------------------------------- one run


def fit_summary(fit: Any) -> dict[str, Any] | None:
    """:return: what the MLE fit did (epochs, early stop, holdout MSE per member, elites), as JSON; ``None`` without one"""
    if fit is None:
        return None
    return {
        "epochs": int(fit.epochs),
        "stopped_early": bool(fit.stopped_early),
        "n_train": int(fit.n_train),
        "n_holdout": int(fit.n_holdout),
        "holdout_mse": [float(v) for v in fit.holdout_mse],
        "elites": [int(v) for v in fit.elites],
    }


def mle_settings(seed: int, task: DatasetTask, args: argparse.Namespace) -> dict[str, Any]:
    """:return: what the MLE ensemble of a seed depends on (``rambo`` and ``rambo-mle`` share it: same kwargs but lambda)"""
    kwargs = learner_kwargs("rambo", task, args)
    return canonical(
        {
            "seed": seed,
            "dataset_id": task.dataset_id,
            "dataset_sha256": dataset_facts(task.dataset_id)["sha256"],
            "ensemble_kwargs": kwargs.get("ensemble_kwargs"),
            "model_fit_kwargs": kwargs.get("model_fit_kwargs"),
            "device": args.device,
        }
    )


def _mle_paths(seed: int, task: DatasetTask, args: argparse.Namespace) -> tuple[Path, Path]:
    folder = task.results(args.out) / "mle"
    return folder / f"mle_seed{seed}.pt", folder / f"mle_seed{seed}.json"


def shared_mle(seed: int, task: DatasetTask, args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None]:
    """
    The seed's MLE ensemble when an earlier learner fitted it with the same settings (``rambo`` and ``rambo-mle``
    start from the same maximum-likelihood model, as the paper's ablation compares; the fit of 100-200k transitions
    takes about half an hour here), else ``(None, None)``.

    :return: the fitted ensemble and the record of its fit
    """
    from robust_sb3.common.dynamics import GaussianEnsemble

    path, record_path = _mle_paths(seed, task, args)
    if path.exists() and record_path.exists():
        record = json.loads(record_path.read_text())
        if canonical(record.get("settings")) == mle_settings(seed, task, args):
            return GaussianEnsemble.load(path, device=args.device), record["fit"]
    return None, None


def save_shared_mle(model: Any, seed: int, task: DatasetTask, args: argparse.Namespace) -> dict[str, Any] | None:
    """Keep a freshly fitted MLE ensemble (before any adversarial update) for the seed's other learner; :return: its fit"""
    path, record_path = _mle_paths(seed, task, args)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp_" + path.name)
    model.ensemble.save(tmp)
    tmp.replace(path)
    fit = fit_summary(model.fit_result)
    write_json(record_path, {"settings": mle_settings(seed, task, args), "fit": fit})
    return fit


class _RunCheckpoint:
    """
    The checkpoint of one training run (``<learner>_seed<S>.checkpoint/`` in the work folder), with the run's record
    in its metadata (settings, device and torch threads, the pretraining record, the training seconds spent and the
    learning curve up to the checkpoint), so that a run stopped midway (the machine shared, a session's time limit)
    continues bit for bit where its last checkpoint was, every ``CHECKPOINT_EPOCHS`` epochs
    (``RAMBO.load_checkpoint``; tested in ``tests/test_rambo.py``). Checkpoints of the first version kept the record
    in ``<learner>_seed<S>.checkpoint.json`` beside the folder; it is read when the metadata lack it.
    """

    def __init__(self, folder: Path, learner: str, seed: int, settings: dict[str, Any], args: argparse.Namespace) -> None:
        self.path = folder / f"{learner}_seed{seed}.checkpoint"
        self.legacy_record_path = folder / f"{learner}_seed{seed}.checkpoint.json"
        self.settings = settings
        self.machine = {"device": args.device, "torch_threads": args.threads}

    def load(self) -> dict[str, Any] | None:
        """
        :return: the record of a complete checkpoint of these settings, else ``None``
        :raises SystemExit: a checkpoint of these settings taken on another device or with other torch threads
            (continuing it would not be bit for bit; delete it or run as it was started)
        """
        from robust_sb3.rambo.checkpoint import checkpoint_metadata, has_checkpoint

        if not has_checkpoint(self.path):
            return None
        record = checkpoint_metadata(self.path)
        if "settings" not in record and self.legacy_record_path.exists():
            record = {**json.loads(self.legacy_record_path.read_text()), **record}
        if canonical(record.get("settings")) != self.settings:
            return None
        machine = {key: record.get(key, value) for key, value in self.machine.items()}
        if machine != self.machine:
            raise SystemExit(
                f"{self.path} was taken with {machine}, this run has {self.machine}: a continuation would not be bit for "
                "bit; run with those settings or delete the checkpoint"
            )
        return record

    def callback(self, record: dict[str, Any], start: float, max_episode_steps: int | None) -> Any:
        """
        :return: the SB3 callback that, every ``CHECKPOINT_EPOCHS`` epochs, adds a point to the learning curve
            (``record["curve"]``: step and nominal return, :func:`curve_point`), then saves the model with the record.
            The point comes first: a resumed run then continues from the state the straight run continued from.
        """
        from robust_sb3.rambo import EpochCheckpoint

        def metadata(model: Any) -> dict[str, Any]:
            record["curve"].append([model.num_timesteps, curve_point(model, max_episode_steps)])
            spent = record["train_seconds_before"] + time.perf_counter() - start
            return {**record, **self.machine, "step": model.num_timesteps, "seconds": spent}

        return EpochCheckpoint(self.path, every_epochs=CHECKPOINT_EPOCHS, metadata=metadata)

    def remove(self) -> None:
        """Delete the checkpoint (the run finished and its policy is saved)."""
        for path in (
            self.path,
            self.path.with_name(self.path.name + ".old"),
            self.path.with_name(self.path.name + ".partial"),
        ):
            shutil.rmtree(path, ignore_errors=True)
        self.legacy_record_path.unlink(missing_ok=True)


def curve_point(model: Any, max_episode_steps: int | None) -> float:
    """
    :return: the mean nominal return of ``CURVE_EPISODES`` deterministic episodes of ``EVAL_ENV`` (reset seeds from
        ``CURVE_SEED``); deterministic actions draw no random numbers, so the training that follows is unchanged
    """
    from robust_envs.evaluation import evaluate_robustness

    report = evaluate_robustness(
        model,
        EVAL_ENV,
        [{}],
        n_episodes=CURVE_EPISODES,
        deterministic=True,
        seed=CURVE_SEED,
        max_episode_steps=max_episode_steps,
    )
    return float(report.returns[0].mean())


def train(
    learner: str, seed: int, task: DatasetTask, settings: dict[str, Any], args: argparse.Namespace
) -> tuple[Any, dict[str, Any]]:
    """
    Build RAMBO with the learner's settings and train it (``bc``: behaviour cloning only); a run with a checkpoint
    of the same settings continues from it.

    :return: the model and the record of its training
    """
    import gymnasium as gym

    from robust_sb3 import RAMBO

    kwargs = learner_kwargs(learner, task, args)
    start = time.perf_counter()
    checkpoint = _RunCheckpoint(args.work_dir / f"rambo_{task.stem}", learner, seed, settings, args)
    resumed = None if learner == "bc" else checkpoint.load()
    if resumed is not None:
        print(f"{checkpoint.path}: continuing from step {resumed['step']}", flush=True)
        model = RAMBO.load_checkpoint(checkpoint.path, env=gym.make(EVAL_ENV), device=args.device, verbose=args.verbose)
        if model.num_timesteps != resumed["step"]:  # a first-version record written apart from its checkpoint
            raise SystemExit(f"{checkpoint.path}: the model is at step {model.num_timesteps}, its record at {resumed['step']}")
        progress = {key: resumed[key] for key in ("settings", "pretrain_seconds", "bc_losses", "model_fit")}
        progress["train_seconds_before"] = resumed["seconds"]
        progress["resumed_at_steps"] = [*resumed.get("resumed_at_steps", []), resumed["step"]]
        progress["curve"] = resumed.get("curve", [])  # checkpoints of the first version kept no curve
        model.learn(
            settings["total_timesteps"] - model.num_timesteps,
            callback=checkpoint.callback(progress, start, args.max_episode_steps),
            log_interval=args.log_interval,
            reset_num_timesteps=False,
        )
    else:
        fitted, fit = (None, None) if learner == "bc" else shared_mle(seed, task, args)
        model = RAMBO(
            "MlpPolicy",
            gym.make(EVAL_ENV),
            task.dataset_id,
            seed=seed,
            device=args.device,
            verbose=args.verbose,
            ensemble=fitted,
            **kwargs,
        )
        if learner == "bc":
            model.pretrain_policy()  # RAMBO's own warm start, nothing else
        else:
            if fitted is None:  # the first learner of this seed fits the MLE ensemble and keeps it for the other
                model.pretrain_dynamics()
                fit = save_shared_mle(model, seed, task, args)
            model.pretrain()  # behaviour cloning (the MLE fit is done); learn does not repeat either
        progress = {
            "settings": settings,
            "pretrain_seconds": time.perf_counter() - start,
            "bc_losses": [float(v) for v in model.bc_losses],
            "model_fit": fit,
            "train_seconds_before": 0.0,
            "resumed_at_steps": [],
            "curve": [],
        }
        if learner != "bc":
            model.learn(
                settings["total_timesteps"],
                callback=checkpoint.callback(progress, start, args.max_episode_steps),
                log_interval=args.log_interval,
            )
    record = {
        "settings": settings,
        "train_seconds": progress["train_seconds_before"] + time.perf_counter() - start,
        "pretrain_seconds": progress["pretrain_seconds"],
        "bc_losses": progress["bc_losses"],
        "model_fit": progress["model_fit"],
        "resumed_at_steps": progress["resumed_at_steps"],
        "curve": progress["curve"],
        "device": str(model.device),
        "torch_threads": args.threads,
        "versions": versions(),
        "code": git_revision(),
    }
    return model, record


def trained_model(
    learner: str, seed: int, task: DatasetTask, settings: dict[str, Any], args: argparse.Namespace
) -> tuple[Any, dict[str, Any], bool]:
    """
    :return: the model, its training record and whether it was loaded: a policy saved with the same settings, else a
        new one trained now and saved (the zip first, then its ``.train.json``, both atomically)
    """
    from robust_sb3 import RAMBO

    folder = args.work_dir / f"rambo_{task.stem}"
    path, record_path = folder / f"{learner}_seed{seed}.zip", folder / f"{learner}_seed{seed}.train.json"
    if path.exists() and record_path.exists():
        record = json.loads(record_path.read_text())
        if canonical(record.get("settings")) == settings:
            print(f"{path}: saved with these settings, evaluating it again", flush=True)
            _RunCheckpoint(folder, learner, seed, settings, args).remove()  # left if a run stopped right after saving
            return RAMBO.load(path, device=args.device), record, True
    model, record = train(learner, seed, task, settings, args)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"tmp_{path.name}"
    model.save(tmp)
    tmp.replace(path)
    write_json(record_path, record)
    _RunCheckpoint(folder, learner, seed, settings, args).remove()
    return model, record, False


def evaluate(model: Any, facts: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """:return: the nominal evaluation (raw, D4RL-normalised, ours-normalised) and the robustness grid's report."""
    import robust_envs.datasets as rd
    from robust_envs.datasets.d4rl import d4rl_reference_metadata
    from robust_envs.evaluation import evaluate_robustness

    common = {"deterministic": True, "seed": EVAL_SEED, "max_episode_steps": args.max_episode_steps}
    # one cell without parameters: nominal RobustHopper-v0, episode i reset with seed 10000 + i
    nominal = evaluate_robustness(model, EVAL_ENV, [{}], n_episodes=NOMINAL_EPISODES, **common)
    returns = nominal.returns[0]
    mean = float(returns.mean())
    grid = evaluate_robustness(model, EVAL_ENV, GRID, n_episodes=GRID_EPISODES, **common)
    return {
        "nominal": {
            "env_id": EVAL_ENV,
            "seeds": [EVAL_SEED + i for i in range(NOMINAL_EPISODES)],
            "returns": returns.tolist(),
            "lengths": nominal.lengths[0].tolist() if nominal.lengths is not None else None,
            "mean": mean,
            "std": float(returns.std()),
            "d4rl_normalized": float(rd.d4rl_normalized_score(EVAL_ENV, mean)),
            "d4rl_reference": d4rl_reference_metadata(EVAL_ENV),
            "normalized": own_normalized(mean, facts),
            "reference": {"ref_min_score": facts.get("ref_min_score"), "ref_max_score": facts.get("ref_max_score")},
        },
        "grid": {
            "report": grid.to_dict(),
            "mean": float(grid.mean),
            "worst10": float(grid.cvar(WORST_FRACTION)),
            "worst": float(grid.worst),
            "worst_cell": grid.worst_cell,
        },
    }


def repo_relative(path: Path) -> str:
    """:return: ``path`` relative to the repository when inside it (committed results name no home folder)."""
    try:
        return str(path.resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)


def run_one(
    learner: str, seed: int, task: DatasetTask, facts: dict[str, Any], epochs: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Train (or load) one learner, evaluate it; :return: the JSON record."""
    settings = training_settings(learner, seed, task, facts, epochs, args)
    model, training, loaded = trained_model(learner, seed, task, settings, args)
    start = time.perf_counter()
    evaluation = evaluate(model, facts, args)
    kwargs = settings["rambo_kwargs"]
    trains = learner != "bc"
    return {
        "format_version": FORMAT_VERSION,
        "learner": learner,
        "seed": seed,
        "dataset": {key: value for key, value in facts.items() if key != "generator"},
        "d4rl_dataset": task.d4rl,
        "presets": settings["presets"],
        "overrides": settings["overrides"],
        "rollout_length": kwargs["rollout_length"] if trains else None,
        "adversarial_weight": kwargs["adversarial_weight"] if trains else None,
        "epochs": settings["epochs"],
        "epoch_length": kwargs["epoch_length"],
        "total_timesteps": settings["total_timesteps"],
        "rambo_kwargs": kwargs,
        "training": "RAMBO.pretrain_policy only (behaviour cloning)" if learner == "bc" else "RAMBO.pretrain, RAMBO.learn",
        **{key: training[key] for key in ("train_seconds", "pretrain_seconds", "bc_losses", "model_fit", "torch_threads")},
        "resumed_at_steps": training.get("resumed_at_steps", []),
        "curve": training.get("curve", []),
        "trained_on": training["device"],
        "model_path": repo_relative(args.work_dir / f"rambo_{task.stem}" / f"{learner}_seed{seed}.zip"),
        "evaluated_from_saved_model": loaded,
        **evaluation,
        "eval_seconds": time.perf_counter() - start,
        "device": args.device,
        "versions": training["versions"],
        "code": training["code"],
        "eval_code": git_revision(),
    }


# ---------------------------------------------------------------- summary


def _stat(values: Sequence[float | None]) -> dict[str, float | None]:
    known = np.array([v for v in values if v is not None], dtype=np.float64)
    if known.size == 0:
        return {"mean": None, "std": None}
    return {"mean": float(known.mean()), "std": sample_sd(known)}


def _cell(stat: dict[str, float | None], digits: int = 1) -> str:
    if stat["mean"] is None:
        return "-"
    return mean_sd(stat["mean"], stat["std"], digits)


def summarize_dataset(task: DatasetTask, out: Path) -> str:
    """Aggregate one dataset's result files: write ``summary.json``; :return: the Markdown table."""
    folder = task.results(out)
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("*_seed*.json"))]
    if not runs:
        return f"### {task.dataset_id}\n\nno results in {folder}"
    summary: dict[str, Any] = {"dataset": runs[0]["dataset"], "d4rl_dataset": task.d4rl, "learners": {}}
    lines = [
        f"### {task.dataset_id} (D4RL analogue {task.d4rl})",
        "",
        "| learner | seeds | nominal return | D4RL-normalised (D4RL v2 references) | normalised (our references) "
        "| grid mean | grid 10%-worst |",
        "|---|---|---|---|---|---|---|",
    ]
    order = [learner for learner in LEARNERS if any(run["learner"] == learner for run in runs)]
    for learner in order:
        mine = sorted((run for run in runs if run["learner"] == learner), key=lambda run: run["seed"])
        row = {
            "seeds": [run["seed"] for run in mine],
            "nominal_return": _stat([run["nominal"]["mean"] for run in mine]),
            "d4rl_normalized": _stat([run["nominal"]["d4rl_normalized"] for run in mine]),
            "normalized": _stat([run["nominal"]["normalized"] for run in mine]),
            "grid_mean": _stat([run["grid"]["mean"] for run in mine]),
            "grid_worst10": _stat([run["grid"]["worst10"] for run in mine]),
            "grid_worst": _stat([run["grid"]["worst"] for run in mine]),
            "train_seconds": _stat([run["train_seconds"] for run in mine]),
            "per_seed": {
                str(run["seed"]): {
                    "nominal_return": run["nominal"]["mean"],
                    "d4rl_normalized": run["nominal"]["d4rl_normalized"],
                    "normalized": run["nominal"]["normalized"],
                    "grid_mean": run["grid"]["mean"],
                    "grid_worst10": run["grid"]["worst10"],
                }
                for run in mine
            },
        }
        summary["learners"][learner] = row
        lines.append(
            f"| {learner} | {','.join(map(str, row['seeds']))} | {_cell(row['nominal_return'], 0)} | "
            f"{_cell(row['d4rl_normalized'])} | {_cell(row['normalized'])} | {_cell(row['grid_mean'], 0)} | "
            f"{_cell(row['grid_worst10'], 0)} |"
        )
    data = summary["dataset"]
    lines.append(
        f"\nmean +- sd over seeds. Data: {data['episodes']} episodes, {data['steps']} steps, behaviour mean return "
        f"{data['mean_return']:.0f}; our references: random {data['ref_min_score']}, expert {data['ref_max_score']}."
    )
    write_json(folder / "summary.json", summary)
    return "\n".join(lines)


def _mean_grid(runs: list[dict[str, Any]]) -> tuple[list[float], list[float], np.ndarray]:
    """:return: :func:`benchmarks.hopper_grid_figure.mean_grid` of the runs' robustness grids"""
    return mean_grid([(run["grid"]["report"]["cells"], run["grid"]["report"]["returns"]) for run in runs])


def plot_dataset(task: DatasetTask, out: Path, figure: Path) -> Path:
    """
    One dataset's figure: per learner, the robustness grid (each cell's mean return over episodes and seeds, one
    colour scale, values written in), and the learning curves of the learners that train (the nominal return at
    each checkpoint, one line per seed) against behaviour cloning's nominal return (the mean over its seeds).

    :return: the figure's path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = task.results(out)
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("*_seed*.json"))]
    by_learner = {
        learner: sorted((run for run in runs if run["learner"] == learner), key=lambda run: run["seed"])
        for learner in LEARNERS
    }
    by_learner = {learner: mine for learner, mine in by_learner.items() if mine}
    if not by_learner:
        raise SystemExit(f"no results in {folder} to plot")
    grids = {learner: _mean_grid(mine) for learner, mine in by_learner.items()}
    high = max(grid.max() for _, _, grid in grids.values())
    fig, axes = plt.subplots(
        1, len(grids) + 1, figsize=(3.4 * (len(grids) + 1) + 1.0, 3.8), squeeze=False, layout="constrained"
    )
    image = None
    for ax, (learner, (densities, frictions, grid)) in zip(axes[0], grids.items(), strict=False):
        n_seeds = len(by_learner[learner])
        title = f"{learner} ({n_seeds} seed{'s' if n_seeds > 1 else ''}): mean {grid.mean():.0f}"
        image = draw_grid(ax, densities, frictions, grid, high, title)
    axes[0][0].set_ylabel("friction", fontsize=8)
    fig.colorbar(image, ax=axes[0][: len(grids)].tolist(), shrink=0.8, label="return (mean of seeds, episodes)")
    curves = axes[0][-1]
    for index, learner in enumerate(learner for learner in by_learner if learner != "bc"):
        for run in by_learner[learner]:
            steps, returns = zip(*run["curve"], strict=True) if run["curve"] else ((), ())
            label = learner if run is by_learner[learner][0] else None
            thousands = np.asarray(steps, dtype=float) / 1000.0
            curves.plot(thousands, returns, color=f"C{index}", alpha=0.8, linewidth=1.0, label=label)
    if "bc" in by_learner:
        bc = float(np.mean([run["nominal"]["mean"] for run in by_learner["bc"]]))
        curves.axhline(bc, color="k", linestyle="--", linewidth=1.0, label=f"bc (mean of {len(by_learner['bc'])} seeds)")
    curves.set_xlabel("SAC steps (thousands)", fontsize=8)
    curves.set_ylabel("nominal return (5 episodes per point)", fontsize=8)
    curves.set_title("learning curves, one line per seed", fontsize=8)
    curves.tick_params(labelsize=7)
    curves.legend(fontsize=7)
    fig.suptitle(f"{task.dataset_id}: RobustHopper-v0 grid (nominal: 1000, 1.0)", fontsize=9)
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


# ---------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-ids", nargs="+", default=list(DEFAULT_DATASETS), help="Minari ids of Hopper datasets")
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=LEARNERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="RAMBO epochs (default: the training scale's, 200 for rambo/cpu)")
    parser.add_argument(
        "--preset", default=DEFAULT_SCALE, choices=list(SCALE_PRESETS), help="training scale (rambo/smoke: tests)"
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as rambo/cpu was timed)")
    parser.add_argument("--max-episode-steps", type=int, help="evaluation episode limit (default: the env's 1000; tests)")
    parser.add_argument(
        "--verbose", type=int, default=1, help="RAMBO's SB3 verbosity (1: a log table every --log-interval epochs)"
    )
    parser.add_argument("--log-interval", type=int, default=10, help="epochs between RAMBO's log tables")
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"holds the rambo_<dataset stem>/ results folders (default {OUT})"
    )
    parser.add_argument("--work-dir", type=Path, default=WORK, help=f"the trained policies (default {WORK})")
    parser.add_argument("--summarize", action="store_true", help="only aggregate existing results (and plot them)")
    parser.add_argument(
        "--figures", type=Path, default=FIGURES, help=f"where --summarize writes rambo_<dataset stem>.png (default {FIGURES})"
    )
    return parser


def check_args(args: argparse.Namespace) -> None:
    """:raises SystemExit: a count that is not positive, a negative seed, a device torch cannot use."""
    for name in ("epochs", "threads", "max_episode_steps", "log_interval"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive, got {value}")
    if any(seed < 0 for seed in args.seeds):
        raise SystemExit(f"--seeds must be >= 0, got {args.seeds}")
    if args.summarize:
        return
    import torch as th

    try:
        device = th.device(args.device)
    except RuntimeError as error:
        raise SystemExit(f"--device {args.device!r} is no torch device ({error}); use cpu or cuda") from None
    if device.type == "cuda" and not th.cuda.is_available():
        raise SystemExit(f"--device {args.device!r}: torch {th.__version__} sees no CUDA device; use --device cpu")


def prepare(tasks: list[DatasetTask], epochs: int, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Check every dataset and results folder before any training; :return: each dataset's facts by id."""
    for task in tasks:
        require_installed(task.dataset_id)
    facts = {}
    for task in tasks:
        facts[task.dataset_id] = dataset_facts(task.dataset_id)
        settings = fixed_settings(task, facts[task.dataset_id], epochs, args)
        config_path = task.results(args.out) / "config.json"
        if not config_path.exists():
            write_json(config_path, settings)
        elif canonical(json.loads(config_path.read_text())) != settings:
            raise SystemExit(
                f"{config_path.parent} holds runs with other settings ({config_path}: dataset checksum, presets, epochs "
                "or evaluation differ); choose another --out, or move those results away"
            )
    return facts


def main(argv: Sequence[str] | None = None) -> None:
    """Train and evaluate the (seed, dataset, learner) runs that have no result file yet, or summarise them."""
    args = build_parser().parse_args(argv)
    check_args(args)
    tasks = [parse_dataset_id(dataset_id) for dataset_id in dict.fromkeys(args.dataset_ids)]
    if args.summarize:
        print("\n\n".join(summarize_dataset(task, args.out) for task in tasks))
        for task in tasks:
            if any(task.results(args.out).glob("*_seed*.json")):
                print(plot_dataset(task, args.out, args.figures / f"rambo_{task.stem}.png"))
        return
    import gymnasium as gym
    import torch as th

    import robust_envs

    gym.register_envs(robust_envs)
    epochs = args.epochs or scale_epochs(args.preset)
    facts = prepare(tasks, epochs, args)
    th.set_num_threads(args.threads)
    for seed in args.seeds:  # seeds outermost: an interrupted run leaves every learner with as many seeds
        for task in tasks:
            for learner in args.learners:
                path = task.results(args.out) / f"{learner}_seed{seed}.json"
                if path.exists():
                    print(f"skip {path} (exists)", flush=True)
                    continue
                print(f"{task.dataset_id}: {learner}, seed {seed}", flush=True)
                record = run_one(learner, seed, task, facts[task.dataset_id], epochs, args)
                write_json(path, record)
                nominal, grid = record["nominal"], record["grid"]
                ours = "-" if nominal["normalized"] is None else f"{nominal['normalized']:.1f}"
                print(
                    f"{path}: train {record['train_seconds']:.0f} s, nominal return {nominal['mean']:.0f} (D4RL-normalised "
                    f"{nominal['d4rl_normalized']:.1f}, ours {ours}), grid mean {grid['mean']:.0f}, 10%-worst "
                    f"{grid['worst10']:.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
