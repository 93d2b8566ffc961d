"""
D4RL-style offline datasets for the robust locomotion envs (issue 14), generated the way D4RL made its own.

D4RL (Fu et al. 2020; ``scripts/generation/mujoco/collect_data.py``) trained rlkit SAC on each env, took the final
policy as the expert and the first checkpoint at about a third of its return as the medium policy, kept the replay of
the training run up to that checkpoint, and sampled (stochastic) actions from the policies. This script does the same
with SB3's SAC on ``RobustHopper-v0`` (``--env RobustWalker2d-v0`` / ``RobustHalfCheetah-v0``), at nominal parameters,
under fixed ones (``--params JSON``) or under domain randomisation over a preset (``--preset NAME``).

**Fixed before results** (the defaults; every value is recorded in the summary and in each dataset's metadata):

- **SAC**: SB3 ``SAC`` with the settings of :data:`SAC_KWARGS` (SB3's defaults written out: MLP 256-256, learning
  rate 3e-4, batch 256, buffer 1M, tau 0.005, gamma 0.99, one gradient step per env step, automatic entropy
  coefficient; rlkit's SAC examples use the same 256-256 networks, batch and rates, D4RL's exact run settings were
  not checked here), ``learning_starts`` 10 000
  (rl-zoo's MuJoCo setting; a tenth of ``--sac-steps`` when that is smaller), one env, ``--seed`` 0, one torch thread.
- **Budget**: ``--sac-steps`` **300 000** env steps. D4RL trained its SAC to about 1M steps (its experts: hopper
  3234, walker2d 4592, halfcheetah 12135); on one free CPU core SB3's SAC runs at roughly 75 steps/s (36 steps/s
  measured on this 2-core machine shared by seven processes, where MPO ran at half its usual speed), so 1M steps
  take about 4 h and 300k steps about 70 min. Our expert is therefore weaker than D4RL's (most of all on HalfCheetah and
  Walker2d), and the levels are defined relative to *our* expert: compare returns through the references in each
  dataset's metadata, not through D4RL's normalised scores alone. ``--sac-steps 1000000`` gives D4RL's scale.
- **Checkpoints** every ``--checkpoint-every`` 10 000 steps and at the last step: the policy (SB3 zip), its
  evaluation return (mean over ``--eval-episodes`` 10 episodes with **sampled** actions, the behaviour the datasets
  record, reset with the same seeds at every checkpoint) and the number of complete training episodes so far.
- **Levels** (:func:`robust_envs.datasets.make_level`), ``--level-steps`` **1 000 000** steps per collected policy
  (D4RL's size; the last episode runs to its end), stochastic actions, complete episodes only:

  - ``random``: uniform random actions;
  - ``expert``: the final policy;
  - ``medium``: the first checkpoint whose evaluation return reaches a third of the final policy's
    (:func:`~robust_envs.datasets.select_medium_checkpoint`, D4RL's rule: ``fraction=1/3`` of the expert return,
    from 0);
  - ``medium-replay``: every training episode that ended by that checkpoint's step (the recorded replay);
  - ``medium-expert``: medium then expert, ``--level-steps`` each (D4RL's 2M-step concatenation).
- **Reference returns** (``ref_min_score`` / ``ref_max_score`` of each dataset): the mean return of
  ``--ref-episodes`` 100 episodes of the uniform random policy (with the random level's seed, so the mean of that
  data's first 100 episodes) and of the expert (sampled actions); D4RL's v2 references go beside them
  (:func:`~robust_envs.datasets.d4rl_normalized_score`, labelled as D4RL's).
- **Seeds**: everything follows from ``--seed``: SAC's, the checkpoints' evaluation resets, and each level's
  collection seed (a ``SeedSequence`` branch per level; torch's generator, which the policies sample from, is
  re-seeded before every collection). Same seed, same machine: the same arrays, hence the same checksums.

**Resumable.** The SAC run writes its checkpoints, the replay (``replay.pkl``) and ``training.json`` to the work
folder (``results/d4rl/<name>_seed<S>/`` under the repository, not committed); once ``training.json`` exists the run
is not repeated. An interrupted SAC run restarts from step 0: resuming from a checkpoint would lose the env's and the
generators' states and break determinism. References are cached in ``references.json``; a level whose dataset exists
is loaded and summarised, not regenerated, after checking that its metadata records the same generator settings
(otherwise the script stops: use ``--dataset-version`` or delete the dataset).

**Outputs.** Datasets under Minari's data path (``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``), ids
``robust/<env>[-<tag>]-<level>-v0`` (e.g. ``robust/hopper-medium-v0``; ``<tag>`` names a ``--params`` or ``--preset``
setting). A JSON summary (config, checkpoints, references, and per level: dataset id, steps, episodes, mean return,
SHA-256 of the arrays as loaded back) goes to ``benchmarks/results/datasets/<env>[-<tag>]_seed<S>.json``: commit it,
not the data.

Run::

    nice -n 10 python -m benchmarks.generate_d4rl_datasets                                  # hopper, nominal
    nice -n 10 python -m benchmarks.generate_d4rl_datasets --env RobustWalker2d-v0
    nice -n 10 python -m benchmarks.generate_d4rl_datasets --preset jiang2021/hopper/train  # domain randomisation
    nice -n 10 python -m benchmarks.generate_d4rl_datasets --params '{"torso_density": 1250}' --tag heavy

Smoke test: ``MINARI_DATASETS_PATH=/tmp/m python -m benchmarks.generate_d4rl_datasets --sac-steps 3000
--checkpoint-every 1000 --level-steps 500 --eval-episodes 2 --ref-episodes 2 --work-dir /tmp/w --out /tmp/o``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import robust_envs
import robust_envs.datasets as rd
from robust_envs.datasets.d4rl import d4rl_name, d4rl_reference_metadata
from robust_envs.datasets.episodes import episodes_checksum
from robust_envs.datasets.storage import METADATA_KEY, dataset_path

ROOT = Path(__file__).resolve().parent
#: Where the summaries go (committed).
OUT = ROOT / "results" / "datasets"
#: Where the SAC runs keep their checkpoints and replay (``/results/`` is git-ignored).
WORK = ROOT.parent / "results" / "d4rl"
#: The envs with D4RL levels, by the short name used in dataset ids.
ENVS = {"RobustHopper-v0": "hopper", "RobustWalker2d-v0": "walker2d", "RobustHalfCheetah-v0": "halfcheetah"}
LEVELS = rd.LEVELS
#: SB3 SAC's settings, written out so that a change of SB3's defaults cannot change the data silently.
SAC_KWARGS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "buffer_size": 1_000_000,
    "batch_size": 256,
    "tau": 0.005,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "ent_coef": "auto",
    "policy_kwargs": {"net_arch": [256, 256]},
}
#: rl-zoo's MuJoCo ``learning_starts`` (capped at a tenth of a smaller budget, see :func:`learning_starts`).
LEARNING_STARTS = 10_000
#: D4RL's medium rule: a third of the expert's return.
MEDIUM_FRACTION = 1 / 3
#: ``SeedSequence`` branches of ``--seed`` (levels use their index in :data:`LEVELS`).
EVAL_STREAM, EXPERT_REFERENCE_STREAM = 100, 101
#: The layout version of the summary and of the ``generator`` metadata.
FORMAT_VERSION = 1


def derived_seed(seed: int, stream: int) -> int:
    """:return: a seed in ``[0, 2**32)`` for one use (``stream``) of the run's ``seed``, independent of the others."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint32)[0])


def level_seed(seed: int, level: str) -> int:
    """:return: the collection seed of a level (its index in :data:`LEVELS` as the stream)."""
    return derived_seed(seed, LEVELS.index(level))


def learning_starts(sac_steps: int, requested: int | None) -> int:
    """:return: ``requested``, or rl-zoo's 10 000 capped at a tenth of ``sac_steps`` (so a tiny run still learns)."""
    return requested if requested is not None else min(LEARNING_STARTS, max(1, sac_steps // 10))


def git_revision() -> str | None:
    """:return: the repository's commit (``-dirty`` with local changes), for ``code_permalink``; ``None`` outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_json(path: Path, value: Any) -> None:
    """Write JSON through a temporary file, so an interrupted run never leaves half a file that counts as done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def canonical(value: Any) -> Any:
    """:return: ``value`` as JSON reads it back (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------- the setting: env, params or preset


@dataclass(frozen=True)
class Setting:
    """
    Where the data comes from.

    :param env_id: one of :data:`ENVS`
    :param params: fixed parameters (a ``{name: value}`` mapping or a full list), or ``None``
    :param preset: a preset name for domain randomisation, or ``None``
    :param tag: the name of the setting in ids and file names (empty: nominal)
    """

    env_id: str
    params: Any
    preset: str | None
    tag: str

    @property
    def name(self) -> str:
        """``hopper`` or ``hopper-<tag>``: the stem of dataset ids and file names."""
        return ENVS[self.env_id] + (f"-{self.tag}" if self.tag else "")

    def dataset_id(self, level: str, namespace: str, version: int) -> str:
        """:return: the Minari id of a level, e.g. ``robust/hopper-medium-v0``."""
        return f"{namespace}/{self.name}-{level}-v{version}"

    def make_env(self) -> gym.Env:
        """:return: the env the data is collected in (the one :func:`robust_envs.datasets.collect` makes)."""
        return rd.make_env(self.env_id, params=self.params, preset=self.preset)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The ``params`` / ``preset`` keyword arguments of ``make_level`` and ``reference_return``."""
        return {"params": self.params, "preset": self.preset}


def default_tag(params: Any, preset: str | None) -> str:
    """:return: the tag of a setting: empty at nominal, the preset's name, or a short hash of the parameters."""
    if preset is not None:
        return preset.replace("/", "_")
    if params is not None:
        return "params" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return ""


def parse_params(text: str | None) -> Any:
    """:return: ``--params`` as a mapping or a list; :raises SystemExit: not JSON of that kind."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--params must be JSON, e.g. '{{\"torso_density\": 1250}}', got {text!r}: {error}") from None
    if not isinstance(value, dict | list):
        raise SystemExit(f"--params must be a JSON object {{name: value}} or a list of numbers, got {text!r}")
    return value


# ---------------------------------------------------------------- checksums and dataset summaries


def dataset_summary(dataset_id: str, env_id: str) -> dict[str, Any]:
    """
    :param dataset_id: a local dataset
    :param env_id: its env, for D4RL's normalised score
    :return: steps, episodes, return statistics and the checksum of the dataset **as loaded back** from disk
    """
    dataset = rd.load(dataset_id)
    returns = np.array([float(np.sum(e.rewards)) for e in dataset.iterate_episodes()])
    metadata = dataset.storage.metadata
    summary: dict[str, Any] = {
        "dataset_id": dataset_id,
        "steps": int(dataset.total_steps),
        "episodes": int(dataset.total_episodes),
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "sha256": episodes_checksum(dataset.iterate_episodes()),
    }
    if metadata.get("ref_min_score") is not None:
        low, high = metadata["ref_min_score"], metadata["ref_max_score"]
        summary["normalized_mean_return"] = 100.0 * (summary["mean_return"] - low) / (high - low)
    if d4rl_name(env_id) is not None:
        summary["d4rl_normalized_mean_return"] = rd.d4rl_normalized_score(env_id, summary["mean_return"])
    return summary


# ---------------------------------------------------------------- the SAC run


def _checkpoint_callback(
    setting: Setting, recorder: rd.EpisodeRecorder, folder: Path, every: int, total: int, eval_episodes: int, seed: int
) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class Checkpoints(BaseCallback):
        """Every ``every`` steps and at the last: save the policy, evaluate it, note the episodes recorded so far."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict[str, Any]] = []

        def _on_step(self) -> bool:
            step = self.num_timesteps
            if step % every and step != total:
                return True
            path = folder / f"sac_{step}.zip"
            self.model.save(path)
            # sampled actions: the behaviour a level records; the same reset seeds at every checkpoint
            value = rd.reference_return(
                setting.env_id, self.model, eval_episodes, seed=seed, deterministic=False, **setting.kwargs
            )
            self.rows.append({"step": step, "path": path.name, "eval_return": value, "episodes": recorder.n_episodes})
            print(f"  checkpoint {step}: eval return {value:.1f}, {recorder.n_episodes} episodes recorded", flush=True)
            return True

    return Checkpoints()


def train_sac(setting: Setting, args: argparse.Namespace, work: Path, generator: dict[str, Any]) -> dict[str, Any]:
    """
    Train SAC in an :class:`~robust_envs.datasets.EpisodeRecorder`-wrapped env, checkpointing; or load a finished run.

    :return: the run's record (``training.json``): checkpoints with their evaluation returns and episode counts
    """
    record_path = work / "training.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        print(f"SAC run done before: {record_path} ({len(record['checkpoints'])} checkpoints)", flush=True)
        return record
    import torch as th
    from stable_baselines3 import SAC

    th.set_num_threads(1)
    folder = work / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    recorder = rd.EpisodeRecorder(setting.make_env())
    model = SAC(
        "MlpPolicy",
        recorder,
        learning_starts=generator["learning_starts"],
        seed=args.seed,
        device="cpu",
        verbose=0,
        **copy.deepcopy(SAC_KWARGS),  # SB3 adds keys to policy_kwargs in place; the recorded settings must not change
    )
    callback = _checkpoint_callback(
        setting,
        recorder,
        folder,
        args.checkpoint_every,
        args.sac_steps,
        args.eval_episodes,
        derived_seed(args.seed, EVAL_STREAM),
    )
    print(f"SAC on {setting.name}: {args.sac_steps} steps, checkpoints every {args.checkpoint_every}", flush=True)
    start = time.time()
    model.learn(args.sac_steps, callback=callback, progress_bar=args.progress)
    seconds = time.time() - start
    replay = recorder.episodes(
        provenance={
            "env_id": setting.env_id,
            "params": setting.params,
            "preset": setting.preset,
            "seed": args.seed,
            "param_names": list(recorder.unwrapped.param_names),  # type: ignore[attr-defined]
            "policy": "the SB3 SAC training run's own actions (uniform random before learning_starts)",
        }
    )
    # the replay first, the record last: training.json is the mark of a finished run
    tmp = work / "replay.pkl.tmp"
    with tmp.open("wb") as file:
        pickle.dump(replay, file, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(work / "replay.pkl")
    record = {"train_time_s": seconds, "recorded_episodes": len(replay), "checkpoints": callback.rows}
    write_json(record_path, record)
    recorder.close()
    return record


def load_replay(work: Path) -> rd.Episodes:
    """:return: the SAC run's recorded episodes (written by :func:`train_sac` in this work folder)."""
    with (work / "replay.pkl").open("rb") as file:
        return pickle.load(file)  # our own cache, written by train_sac


# ---------------------------------------------------------------- references and levels


def reference_returns(setting: Setting, args: argparse.Namespace, work: Path, expert: Any) -> dict[str, Any]:
    """
    :return: our random and expert mean returns over ``--ref-episodes`` episodes (cached in ``references.json``)
    """
    path = work / "references.json"
    if path.exists():
        return json.loads(path.read_text())
    from stable_baselines3.common.utils import set_random_seed

    env = setting.make_env()
    seed = level_seed(args.seed, "random")
    random_policy = rd.UniformRandomPolicy(env.action_space, seed)
    env.close()
    random_return = rd.reference_return(setting.env_id, random_policy, args.ref_episodes, seed=seed, **setting.kwargs)
    seed = derived_seed(args.seed, EXPERT_REFERENCE_STREAM)
    set_random_seed(seed)  # the expert samples its actions from torch's generator
    expert_return = rd.reference_return(
        setting.env_id, expert, args.ref_episodes, seed=seed, deterministic=False, **setting.kwargs
    )
    references = {
        "random": random_return,
        "expert": expert_return,
        "episodes": args.ref_episodes,
        "expert_actions": "sampled",
        "d4rl": d4rl_reference_metadata(setting.env_id),
    }
    write_json(path, references)
    return references


def check_existing(dataset_id: str, generator: dict[str, Any]) -> bool:
    """
    :return: whether the dataset exists (made with the same generator settings)
    :raises SystemExit: it exists with other settings
    """
    if not dataset_path(dataset_id).joinpath("data").is_dir():
        return False
    recorded = (rd.load(dataset_id).storage.metadata.get(METADATA_KEY) or {}).get("generator")
    if canonical(recorded) != canonical(generator):
        raise SystemExit(
            f"Dataset {dataset_id!r} exists but was made with other settings ({recorded}); pass --dataset-version "
            f"N for new ids, or delete it (minari.delete_dataset({dataset_id!r}))"
        )
    return True


def make_dataset(
    level: str,
    setting: Setting,
    args: argparse.Namespace,
    generator: dict[str, Any],
    references: dict[str, Any],
    policies: dict[str, Any],
) -> dict[str, Any]:
    """Collect one level and write it (or find it written); :return: its summary."""
    from stable_baselines3.common.utils import set_random_seed

    dataset_id = setting.dataset_id(level, args.namespace, args.dataset_version)
    if check_existing(dataset_id, generator):
        print(f"{dataset_id}: exists, summarising", flush=True)
        return dataset_summary(dataset_id, setting.env_id)
    if level == "medium-replay" and policies["replay"] is None:
        raise SystemExit(
            f"No training episode had ended by the medium checkpoint (step {policies['facts']['medium']['checkpoint_step']}): "
            "checkpoint later or more often (--checkpoint-every)"
        )
    seed = level_seed(args.seed, level)
    set_random_seed(seed)  # the policies sample from torch's generator
    start = time.time()
    episodes = rd.make_level(
        level,
        setting.env_id,
        args.level_steps,
        seed,
        medium=policies["medium"],
        expert=policies["expert"],
        replay=policies["replay"],
        progress=args.progress,
        **setting.kwargs,
    )
    seconds = time.time() - start
    scores: dict[str, float] = {}
    if references["expert"] > references["random"]:
        scores = {"ref_min_score": references["random"], "ref_max_score": references["expert"]}
    else:  # a tiny smoke run's expert can be no better than random; Minari's normalisation would then be meaningless
        print(f"  warning: expert reference {references['expert']:.1f} <= random {references['random']:.1f}: no ref scores")
    rd.create_dataset(
        dataset_id,
        episodes,
        algorithm_name="uniform random" if level == "random" else "SB3/SAC",
        code_permalink=git_revision(),  # recorded, not compared: a later commit may finish an earlier run
        description=(
            f"D4RL-style '{level}' level of {setting.env_id} ({describe(setting)}), made by "
            f"benchmarks/generate_d4rl_datasets.py with seed {args.seed}: SB3 SAC for {args.sac_steps} steps; expert = "
            "the final policy, medium = the first checkpoint at a third of its return, sampled actions"
        ),
        metadata={
            "generator": generator,
            "level_seed": seed,
            "behaviour": policies["facts"].get(level),
            "reference_returns": references,
        },
        **scores,
    )
    summary = dataset_summary(dataset_id, setting.env_id)
    summary["collect_time_s"] = seconds
    print(
        f"{dataset_id}: {summary['episodes']} episodes, {summary['steps']} steps, mean return "
        f"{summary['mean_return']:.1f} ({seconds:.0f} s)",
        flush=True,
    )
    return summary


def describe(setting: Setting) -> str:
    """:return: the setting in words."""
    if setting.preset is not None:
        return f"domain randomisation over the preset {setting.preset}"
    if setting.params is not None:
        return f"fixed parameters {json.dumps(setting.params)}"
    return "nominal parameters"


# ---------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="RobustHopper-v0", choices=list(ENVS), help="the env (default RobustHopper-v0)")
    setting = parser.add_mutually_exclusive_group()
    setting.add_argument("--params", help="fixed parameters, JSON: '{\"torso_density\": 1250}' or a full list")
    setting.add_argument("--preset", help="domain randomisation over a preset of the env (robust-rl envs --presets)")
    parser.add_argument("--tag", help="name of the --params/--preset setting in ids and files (default: derived)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sac-steps", type=int, default=300_000, help="SAC env steps (D4RL: about 1M)")
    parser.add_argument("--learning-starts", type=int, help=f"SAC's random steps (default {LEARNING_STARTS}, capped at 10%%)")
    parser.add_argument("--checkpoint-every", type=int, default=10_000, help="steps between checkpoints")
    parser.add_argument("--eval-episodes", type=int, default=10, help="evaluation episodes per checkpoint")
    parser.add_argument("--level-steps", type=int, default=1_000_000, help="steps per collected policy (D4RL: 1M)")
    parser.add_argument("--ref-episodes", type=int, default=100, help="episodes of the random and expert references")
    parser.add_argument("--levels", nargs="+", default=list(LEVELS), choices=list(LEVELS))
    parser.add_argument("--namespace", default="robust", help="the datasets' Minari namespace")
    parser.add_argument("--dataset-version", type=int, default=0, help="the -vN of the dataset ids")
    parser.add_argument("--work-dir", type=Path, help=f"the SAC run's folder (default {WORK}/<name>_seed<S>)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the summary's folder (default {OUT})")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    return parser


def check_args(args: argparse.Namespace) -> None:
    """:raises SystemExit: a count that is not positive."""
    for name in ("sac_steps", "checkpoint_every", "eval_episodes", "level_steps", "ref_episodes"):
        if getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.seed < 0:
        raise SystemExit(f"--seed must be >= 0, got {args.seed}")
    if args.learning_starts is not None and not 0 <= args.learning_starts < args.sac_steps:
        raise SystemExit(f"--learning-starts must be in [0, --sac-steps), got {args.learning_starts}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """
    Train (or find) the SAC run, then write (or find) every requested level; write and print the summary.

    :param argv: the arguments (default ``sys.argv[1:]``)
    :return: the summary
    """
    args = build_parser().parse_args(argv)
    check_args(args)
    gym.register_envs(robust_envs)
    params = parse_params(args.params)
    tag = args.tag if args.tag is not None else default_tag(params, args.preset)
    setting = Setting(args.env, params, args.preset, tag)
    setting.make_env().close()  # bad params or preset: stop before any work
    generator = {
        "format_version": FORMAT_VERSION,
        "script": "benchmarks/generate_d4rl_datasets.py",
        "env_id": setting.env_id,
        "params": params,
        "preset": args.preset,
        "seed": args.seed,
        "sac": SAC_KWARGS,
        "sac_steps": args.sac_steps,
        "learning_starts": learning_starts(args.sac_steps, args.learning_starts),
        "checkpoint_every": args.checkpoint_every,
        "eval_episodes": args.eval_episodes,
        "eval_actions": "sampled",
        "medium_fraction": MEDIUM_FRACTION,
        "level_steps": args.level_steps,
        "ref_episodes": args.ref_episodes,
    }
    work = args.work_dir or WORK / f"{setting.name}_seed{args.seed}"
    config_path = work / "config.json"
    if not config_path.exists():
        write_json(config_path, generator)
    elif canonical(json.loads(config_path.read_text())) != canonical(generator):
        raise SystemExit(f"{work} holds a run with other settings ({config_path}); choose another --work-dir")

    training = train_sac(setting, args, work, generator)
    from stable_baselines3 import SAC

    checkpoints = training["checkpoints"]
    final = checkpoints[-1]
    expert = SAC.load(work / "checkpoints" / final["path"], device="cpu")
    references = reference_returns(setting, args, work, expert)
    returns = [row["eval_return"] for row in checkpoints]
    try:
        index = rd.select_medium_checkpoint(returns, final["eval_return"], fraction=MEDIUM_FRACTION)
    except ValueError as error:
        raise SystemExit(f"No medium policy in this run: {error}") from None
    medium_row = checkpoints[index]
    medium = SAC.load(work / "checkpoints" / medium_row["path"], device="cpu")
    replay_all = load_replay(work)
    replay = rd.Episodes(
        replay_all.env_spec,
        replay_all.episodes[: medium_row["episodes"]],
        {**replay_all.provenance, "until_step": medium_row["step"]},
    )
    facts = {
        "expert": {"checkpoint_step": final["step"], "eval_return": final["eval_return"]},
        "medium": {"checkpoint_step": medium_row["step"], "eval_return": medium_row["eval_return"]},
        "medium-replay": {"until_step": medium_row["step"], "episodes": medium_row["episodes"]},
        "medium-expert": {"medium_step": medium_row["step"], "expert_step": final["step"]},
        "random": {"policy": "uniform random"},
    }
    policies = {"medium": medium, "expert": expert, "replay": replay if len(replay) else None, "facts": facts}
    levels = {level: make_dataset(level, setting, args, generator, references, policies) for level in args.levels}
    summary = {
        "format_version": FORMAT_VERSION,
        "code": git_revision(),
        "setting": {"env_id": setting.env_id, "params": params, "preset": args.preset, "tag": tag},
        "generator": generator,
        "training": {
            **training,
            "expert": facts["expert"],
            "medium": {**facts["medium"], "checkpoint_index": index, "threshold": MEDIUM_FRACTION * final["eval_return"]},
        },
        "references": references,
        "levels": levels,
    }
    path = args.out / f"{setting.name}_seed{args.seed}.json"
    write_json(path, summary)
    print(table(summary))
    print(f"summary: {path}")
    return summary


def table(summary: dict[str, Any]) -> str:
    """:return: the levels as a markdown table."""
    lines = ["| level | dataset | episodes | steps | mean return | sha256 |", "|---|---|---|---|---|---|"]
    for level, row in summary["levels"].items():
        lines.append(
            f"| {level} | {row['dataset_id']} | {row['episodes']} | {row['steps']} "
            f"| {row['mean_return']:.1f} +- {row['std_return']:.1f} | {row['sha256'][:16]} |"
        )
    refs = summary["references"]
    lines.append(f"\nreferences ({refs['episodes']} episodes): random {refs['random']:.1f}, expert {refs['expert']:.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
