"""
``python -m robust_sb3.zoo {train,enjoy,list} ...``: check the algorithm, register the trainers with rl-zoo3, point it
at the shipped hyperparameters and hand the remaining arguments to rl-zoo3's own ``train`` or ``enjoy``.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from robust_sb3.zoo.algorithms import ALGORITHMS, import_object
from robust_sb3.zoo.registry import hyperparams_path, import_rl_zoo3, register_algorithms, shipped_hyperparams

PROG = "python -m robust_sb3.zoo"
COMMANDS = ("train", "enjoy", "list")
#: where ``train`` writes by default (rl-zoo3's ``--log-folder``), and so where ``enjoy`` looks by default
DEFAULT_LOG_FOLDER = "logs"
USAGE = f"""usage: {PROG} {{train,enjoy,list}} [rl-zoo3 arguments]

  {PROG} train --algo ALGO --env ENV_ID [rl-zoo3 train arguments]
  {PROG} enjoy --algo ALGO --env ENV_ID [rl-zoo3 enjoy arguments, e.g. --no-render -n 1000]
  {PROG} list

ALGO is one of {", ".join(ALGORITHMS)} (or one of rl-zoo3's own, passed through).
'{PROG} train --algo ALGO -h' shows rl-zoo3's arguments."""


class ZooError(ValueError):
    """A usage error of ``python -m robust_sb3.zoo``: printed as ``... error: <message>`` with exit code 2."""


def _front_parser() -> argparse.ArgumentParser:
    """The few rl-zoo3 options the front end reads; everything else passes through untouched."""
    parser = argparse.ArgumentParser(prog=PROG, add_help=False, allow_abbrev=False)
    parser.add_argument("--algo")
    parser.add_argument("--env")
    parser.add_argument("-conf", "--conf-file")
    parser.add_argument("-f", "--folder", "--log-folder", dest="folder")
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def _check_algo(algo: str | None, zoo_algos: Iterable[str]) -> bool:
    """
    :param algo: the ``--algo`` value (``None``: not given)
    :param zoo_algos: rl-zoo3's own algorithm names
    :return: whether ``algo`` is one of ours (``False``: one of rl-zoo3's own, passed through)
    :raises ZooError: no ``--algo``, or an unknown one
    """
    ours = ", ".join(ALGORITHMS)
    if algo is None:
        raise ZooError(f"--algo is required: one of {ours} (or one of rl-zoo3's own: {', '.join(sorted(zoo_algos))})")
    if algo in ALGORITHMS:
        return True
    if algo in zoo_algos:
        return False
    close = difflib.get_close_matches(algo, [*ALGORITHMS, *zoo_algos], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ZooError(
        f"unknown --algo {algo!r}; {hint}the robust trainers are {ours}; rl-zoo3's own are {', '.join(sorted(zoo_algos))}"
    )


def _check_shipped_env(algo: str, env_id: str | None) -> None:
    """:raises ZooError: no ``--env``, or no shipped hyperparameters of ``algo`` for it (with those that exist)."""
    shipped = shipped_hyperparams(algo)
    if env_id is None:
        raise ZooError(f"--env is required with --algo {algo}; its shipped hyperparameters are for {sorted(shipped)}")
    if env_id not in shipped and "default" not in shipped:
        raise ZooError(
            f"--algo {algo} has no shipped hyperparameters for --env {env_id!r}; they are for {sorted(shipped)} "
            f"({hyperparams_path(algo)}). Pass --conf-file with your own (rl-zoo3's YAML format, keyed by env id)"
        )


def prepare(command: str, args: Sequence[str]) -> tuple[list[str], str | None]:
    """
    Check the arguments of ``train`` or ``enjoy``, register the trainers and complete the arguments for rl-zoo3.

    ``train`` with one of our trainers and no ``--conf-file`` gets the shipped hyperparameter file; ``enjoy`` without
    ``--folder`` looks in ``logs`` (where ``train`` writes), not rl-zoo3's ``rl-trained-agents``.

    :param command: ``"train"`` or ``"enjoy"``
    :param args: the arguments after the command
    :return: the arguments for rl-zoo3, and the VecEnv class rl-zoo3 must build (``"module:Class"``) or ``None``
    :raises ZooError: no or an unknown ``--algo``; no shipped hyperparameters for ``--env``
    :raises ImportError: rl-zoo3 is not installed
    """
    args = list(args)
    import_rl_zoo3()
    register_algorithms()
    known, _ = _front_parser().parse_known_args(args)
    if known.help:
        return args, None
    from rl_zoo3.utils import ALGOS

    ours = _check_algo(known.algo, [name for name in ALGOS if name not in ALGORITHMS])
    if not ours:
        return args, None
    algorithm = ALGORITHMS[known.algo]
    if command == "train" and known.conf_file is None:
        _check_shipped_env(algorithm.name, known.env)
        args += ["--conf-file", str(hyperparams_path(algorithm.name))]
    if command == "enjoy":
        if known.folder is None:
            args += ["--folder", DEFAULT_LOG_FOLDER]
        runs = Path(known.folder or DEFAULT_LOG_FOLDER) / algorithm.name
        if not runs.is_dir():
            raise ZooError(
                f"no {runs} folder to enjoy a trained {algorithm.name} from: train one first ({PROG} train --algo "
                f"{algorithm.name} --env ENV_ID -f {known.folder or DEFAULT_LOG_FOLDER}) or pass the --folder train wrote to"
            )
    return args, algorithm.vec_env_class


def run_rl_zoo3(command: str, args: Sequence[str], vec_env_class: str | None = None) -> None:
    """
    Run rl-zoo3's ``train`` or ``enjoy`` on ``args`` (as its command line would), in this process.

    :param command: ``"train"`` or ``"enjoy"``
    :param args: rl-zoo3's arguments
    :param vec_env_class: the VecEnv class its experiment manager must build (``"module:Class"``), or ``None``
    """
    from rl_zoo3.enjoy import enjoy
    from rl_zoo3.exp_manager import ExperimentManager
    from rl_zoo3.train import train

    function: Callable[[], Any] = {"train": train, "enjoy": enjoy}[command]
    saved_argv, saved_vec_env = sys.argv, ExperimentManager.default_vec_env_cls
    sys.argv = [f"{PROG} {command}", *args]
    if vec_env_class is not None:
        ExperimentManager.default_vec_env_cls = import_object(vec_env_class)
    try:
        function()
    finally:
        sys.argv = saved_argv
        ExperimentManager.default_vec_env_cls = saved_vec_env


def list_text() -> str:
    """:return: the trainers, their classes and fixed settings, and the envs of their shipped hyperparameters."""
    lines = []
    for algorithm in ALGORITHMS.values():
        settings = ", ".join(f"{key}={value!r}" for key, value in algorithm.settings.items())
        target = algorithm.target.split(":")[1] + (f"({settings})" if settings else "")
        envs = ", ".join(shipped_hyperparams(algorithm.name))
        lines.append(f"{algorithm.name:<16} {target:<32} {algorithm.summary}\n{'':<16} shipped: {envs}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run ``python -m robust_sb3.zoo``.

    :param argv: the arguments (default: ``sys.argv[1:]``): a command, ``train``, ``enjoy`` or ``list``, and rl-zoo3's
        arguments of that command
    :return: the exit code: 0 on success, 2 on a usage error (rl-zoo3's own argument errors exit with 2 as well)
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    try:
        if command not in COMMANDS:
            raise ZooError(f"unknown command {command!r}; allowed: {', '.join(COMMANDS)}")
        if command == "list":
            import_rl_zoo3()  # the shipped files are read with its PyYAML
            print(list_text())
            return 0
        zoo_args, vec_env_class = prepare(command, args)
    except (ZooError, ImportError) as error:
        print(f"{PROG} {command}: error: {error}", file=sys.stderr)
        return 2
    run_rl_zoo3(command, zoo_args, vec_env_class)
    return 0
