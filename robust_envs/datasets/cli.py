"""
The ``robust-rl datasets`` commands (also ``python -m robust_envs.datasets.cli``):

- ``generate ENV_ID LEVEL --steps N --dataset-id ID [--params JSON | --preset NAME] [--seed S]``: collect a level
  and write it as a Minari dataset. Only ``random`` runs from the command line; the other levels need a training
  run's policies, and the error says how to make them;
- ``list``: the local datasets (under ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``);
- ``show ID``: one dataset's env, parameters, provenance, size, returns and reference scores.

To hook it into another parser: :func:`add_datasets_subcommand` adds ``datasets`` to an ``add_subparsers()`` object
and :func:`run_datasets` runs the parsed arguments; :func:`main` is the stand-alone entry point.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from robust_envs.datasets.levels import HOW_TO_TRAIN, LEVELS, check_level

#: What the command line can generate now: the levels that need no trained policy.
CLI_LEVELS = ("random",)


def _build(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = parser.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)
    gen = sub.add_parser(
        "generate",
        help="collect a D4RL-style level in a robust env and write it as a Minari dataset",
        description=(
            "Collect complete episodes (the last may run past --steps to finish) with every step's parameter vector and "
            "physics state, and write them as a Minari dataset. Levels: "
            f"{', '.join(LEVELS)}; from the command line only {', '.join(CLI_LEVELS)} (the others need trained policies)."
        ),
        epilog=(
            "example: robust-rl datasets generate RobustHopper-v0 random --steps 100000 "
            "--dataset-id robust_rl/hopper/random-v0"
        ),
    )
    gen.add_argument("env_id", metavar="ENV_ID", help="a robust env id (see 'robust-rl envs')")
    gen.add_argument("level", metavar="LEVEL", help=f"the D4RL level: {', '.join(LEVELS)}")
    gen.add_argument("--steps", type=int, required=True, metavar="N", help="steps to collect at least (> 0)")
    gen.add_argument("--dataset-id", required=True, metavar="ID", help="the new dataset's id, (namespace/)name-vN")
    setting = gen.add_mutually_exclusive_group()
    setting.add_argument("--params", metavar="JSON", help="fixed parameters, e.g. '{\"torso_density\": 1250}' or a full list")
    setting.add_argument(
        "--preset", metavar="NAME", help="domain randomisation over a preset (see 'robust-rl envs --presets')"
    )
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="the collection's seed (default 0)")
    gen.add_argument(
        "--ref-episodes",
        type=int,
        default=100,
        metavar="M",
        help=(
            "episodes of the uniform random policy whose mean return is recorded as the random reference "
            "(default 100; 0: none)"
        ),
    )
    gen.add_argument("--max-episode-steps", type=int, metavar="T", help="override the env's time limit")
    gen.add_argument("--env-kwargs", metavar="JSON", help="other gym.make arguments, e.g. '{\"keep_mass\": true}'")
    gen.add_argument("--description", help="free text for the dataset's metadata")
    gen.add_argument("--author", help="author name for the metadata")
    gen.add_argument("--code-permalink", metavar="URL", help="the code that generated the data (repo@commit)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bars")

    sub.add_parser("list", help="list the local Minari datasets", description="List the datasets under Minari's data path.")

    show = sub.add_parser(
        "show", help="describe one local dataset", description="Print a dataset's env, provenance and sizes."
    )
    show.add_argument("dataset_id", metavar="ID", help="the dataset id")
    return parser


def add_datasets_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """
    Add ``datasets`` (with ``generate``, ``list``, ``show``) to a command line's subcommands.

    :param subparsers: what ``ArgumentParser.add_subparsers()`` returned
    :return: the ``datasets`` parser; run parsed arguments with :func:`run_datasets`
    """
    parser = subparsers.add_parser(
        "datasets",
        help="generate, list and show offline datasets (Minari format)",
        description="Offline datasets in Minari's format, with every step's parameters and physics state.",
    )
    return _build(parser)


def _json_option(option: str, text: str | None, kinds: tuple[type, ...], expected: str) -> Any:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{option} must be JSON ({expected}), got {text!r}: {error}") from None
    if not isinstance(value, kinds):
        raise ValueError(f"{option} must be {expected}, got {text!r}")
    return value


def _generate(args: argparse.Namespace) -> int:
    from robust_envs.datasets.collect import UniformRandomPolicy, check_seed, make_env, reference_return
    from robust_envs.datasets.levels import make_level
    from robust_envs.datasets.storage import check_dataset_id, create_dataset, require_minari

    require_minari()
    # every check before any work or any write
    check_dataset_id(args.dataset_id)
    level = check_level(args.level)
    if level not in CLI_LEVELS:
        raise ValueError(
            f"Level {level!r} needs policies from a training run, which the command line cannot make yet; "
            f"it generates {', '.join(CLI_LEVELS)}. From Python: {HOW_TO_TRAIN}"
        )
    if args.steps <= 0:
        raise ValueError(f"--steps must be a positive number of steps, got {args.steps}")
    if args.ref_episodes < 0:
        raise ValueError(f"--ref-episodes must be >= 0 (0: no reference), got {args.ref_episodes}")
    check_seed(args.seed)
    params = _json_option("--params", args.params, (dict, list), "a {name: value} object or a list of numbers")
    env_kwargs = _json_option("--env-kwargs", args.env_kwargs, (dict,), "a JSON object of gym.make arguments") or {}
    if args.max_episode_steps is not None:
        if args.max_episode_steps <= 0:
            raise ValueError(f"--max-episode-steps must be positive, got {args.max_episode_steps}")
        env_kwargs["max_episode_steps"] = args.max_episode_steps
    setting = {"params": params, "preset": args.preset, "env_kwargs": env_kwargs or None}
    make_env(args.env_id, **setting).close()  # the env id, params and preset, checked before collecting

    progress = not args.no_progress
    episodes = make_level(level, args.env_id, args.steps, args.seed, progress=progress, **setting)
    extra: dict[str, Any] = {"reference_returns": {"random": None, "expert": None, "episodes": args.ref_episodes}}
    if args.ref_episodes:
        # the same seeded random process as the data, so with >= M episodes it is the mean of the data's first M
        probe = make_env(args.env_id, **setting)
        policy = UniformRandomPolicy(probe.action_space, args.seed)
        probe.close()
        extra["reference_returns"]["random"] = reference_return(
            args.env_id, policy, args.ref_episodes, args.seed, progress=progress, **setting
        )
    dataset = create_dataset(
        args.dataset_id,
        episodes,
        algorithm_name="uniform random",
        author=args.author,
        code_permalink=args.code_permalink,
        description=args.description or f"D4RL-style '{level}' level of {args.env_id}, seed {args.seed}",
        metadata=extra,
    )
    returns = episodes.returns
    print(
        f"wrote {args.dataset_id}: {len(episodes)} episodes, {episodes.total_steps} steps, "
        f"return {returns.mean():.2f} +- {returns.std():.2f} -> {dataset.spec.data_path}"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from robust_envs.datasets.storage import METADATA_KEY, datasets_root, list_datasets

    found = list_datasets()
    if not found:
        print(f"no datasets under {datasets_root()} (set MINARI_DATASETS_PATH to look elsewhere)")
        return 0
    rows = []
    for dataset_id, metadata in found.items():
        ours = metadata.get(METADATA_KEY) or {}
        provenance = ours.get("provenance") or {}
        env = json.loads(metadata["env_spec"])["id"] if metadata.get("env_spec") else "-"
        setting = provenance.get("preset") or (json.dumps(provenance["params"]) if provenance.get("params") else "nominal")
        rows.append(
            (
                dataset_id,
                env,
                str(provenance.get("level", "-")),
                str(metadata.get("total_episodes", "?")),
                str(metadata.get("total_steps", "?")),
                setting if ours else "-",
            )
        )
    print(_table(("id", "env", "level", "episodes", "steps", "params"), rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    from robust_envs.datasets.storage import METADATA_KEY, load

    dataset = load(args.dataset_id)
    metadata = dataset.storage.metadata
    ours = metadata.get(METADATA_KEY) or {}
    returns = np.array([float(np.sum(e.rewards)) for e in dataset.iterate_episodes()])
    spec = dataset.spec.env_spec
    lines = [
        f"dataset      {dataset.spec.dataset_id}",
        f"path         {dataset.spec.data_path}",
        f"env          {spec.id if spec else '-'}" + (f" kwargs {json.dumps(spec.kwargs)}" if spec and spec.kwargs else ""),
    ]
    if spec and spec.additional_wrappers:
        lines.append(f"wrappers     {', '.join(w.name for w in spec.additional_wrappers)}")
    provenance = ours.get("provenance") or {}
    for key in ("level", "policy", "seed", "n_steps", "params", "preset"):
        if provenance.get(key) is not None:
            lines.append(f"{key:<12} {json.dumps(provenance[key])}")
    lines += [
        f"episodes     {dataset.total_episodes}",
        f"steps        {dataset.total_steps}",
        f"return       mean {returns.mean():.3f}, std {returns.std():.3f}, min {returns.min():.3f}, max {returns.max():.3f}",
    ]
    if metadata.get("ref_min_score") is not None:
        lines.append(f"references   ref_min_score {metadata['ref_min_score']}, ref_max_score {metadata['ref_max_score']}")
    references = ours.get("reference_returns")
    if references:
        lines.append(f"our returns  {json.dumps(references)}")
    if ours.get("d4rl_reference"):
        d4rl = ours["d4rl_reference"]
        lines.append(f"D4RL refs    random {d4rl['random']}, expert {d4rl['expert']} ({d4rl['name']}, D4RL's v2 numbers)")
    if ours.get("param_names"):
        lines.append(f"params       {', '.join(ours['param_names'])}")
    if ours.get("state_size"):
        lines.append(f"state size   {ours['state_size']}")
    for key in ("algorithm_name", "description", "code_permalink", "requirements", "minari_version"):
        if metadata.get(key):
            lines.append(f"{key:<12} {metadata[key]}")
    print("\n".join(lines))
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


_COMMANDS = {"generate": _generate, "list": _list, "show": _show}


def run_datasets(args: argparse.Namespace) -> int:
    """
    Run a parsed ``datasets`` command.

    :param args: arguments parsed by a parser set up with :func:`add_datasets_subcommand`
    :return: 0 on success
    :raises ValueError: bad input (unknown env, level or preset, malformed or taken dataset id, steps <= 0, bad
        JSON or parameters), with the bad value and what is allowed; nothing is written then
    :raises ImportError: minari is not installed
    """
    return _COMMANDS[args.datasets_command](args)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run ``robust-rl datasets`` on its own.

    :param argv: the arguments after ``datasets`` (default: ``sys.argv[1:]``)
    :return: the exit code: 0 on success, 2 on a usage or input error (argparse's own errors exit with 2)
    """
    parser = _build(argparse.ArgumentParser(prog="robust-rl datasets", description="Offline datasets in Minari's format."))
    args = parser.parse_args(argv)
    try:
        return run_datasets(args)
    except (ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
        print(f"robust-rl datasets {args.datasets_command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
