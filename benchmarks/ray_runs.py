"""
``--ray-address`` of the reproduction scripts: one Ray task per (algorithm, seed) run, each result file written by
this process as its run finishes (so an interrupted session keeps what finished, and the scripts stay resumable).

Every node must have this checkout (at the path the driver runs from, or installed) and its dependencies: a task
imports the script's module by name and calls its ``run_one``. Each run takes one CPU (the scripts train with one
torch thread and evaluate in the task's own process).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: A run: the result file, the module and function that compute its record, and the function's keyword arguments.
Job = tuple[Path, str, str, dict[str, Any]]


def add_ray_address_argument(parser: Any) -> None:
    """Add ``--ray-address`` (shared by the reproduction scripts) to an ``argparse`` parser."""
    parser.add_argument(
        "--ray-address",
        help="run each (algorithm, seed) as a Ray task on this cluster: 'auto', 'host:port', 'ray://host:port', or "
        "'local' (a new Ray instance on this machine); default: one run after another in this process",
    )


def parse_with_ray_address(parser: Any) -> Any:
    """:return: the parsed arguments, ``--ray-address`` checked (a bad one is the parser's error)"""
    args = parser.parse_args()
    if args.ray_address is not None:
        from robust_envs.evaluation.parallel import check_ray_address

        try:
            check_ray_address(args.ray_address, "--ray-address")
        except ValueError as exc:
            parser.error(str(exc))
    return args


def call(module: str, function: str, kwargs: dict[str, Any]) -> Any:
    """
    Ray task: ``module.function(**kwargs)``, the module imported by name in the worker.

    :param module: an importable module, such as ``"benchmarks.wr2l_reproduction"``
    :param function: the name of a function in it
    :param kwargs: its keyword arguments
    :return: what it returns
    """
    return getattr(importlib.import_module(module), function)(**kwargs)


def run_on_ray(jobs: Sequence[Job], address: str, describe: Callable[[Path, dict[str, Any]], str]) -> None:
    """
    Run every job as a Ray task (one CPU each) and write each record, as JSON, to its file as soon as it arrives.

    A failed run is reported and the others go on; the error is raised at the end.

    :param jobs: the runs whose result files are missing
    :param address: the cluster (``"auto"``, ``"host:port"``, ``"ray://host:port"``), or ``"local"``: a new Ray
        instance with every CPU of this machine (see :func:`robust_envs.evaluation.parallel.ray_session`)
    :param describe: the line printed for a finished run, from its path and record
    :raises RuntimeError: some runs failed (the message lists them)
    """
    from robust_envs.evaluation.parallel import ray_session

    if not jobs:
        return
    with ray_session(address, os.cpu_count() or 1):
        import ray

        remote = ray.remote(num_cpus=1)(call)
        paths = {remote.remote(module, function, kwargs): path for path, module, function, kwargs in jobs}
        pending, failures = list(paths), []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            path = paths[done[0]]
            try:
                record = ray.get(done[0])
            except Exception as exc:  # one failed run does not stop the others
                failures.append(f"{path}: {exc}")
                print(f"{path}: failed: {exc}", flush=True)
                continue
            path.write_text(json.dumps(record))
            print(describe(path, record), flush=True)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(jobs)} runs failed:\n" + "\n".join(failures))
