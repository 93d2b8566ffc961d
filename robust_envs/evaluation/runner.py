"""
Running a robustness evaluation: :func:`evaluate_robustness`, the expansion of a grid or uncertainty set into
cells, the checks of its arguments, and the serial runner (the parallel ones are in
:mod:`robust_envs.evaluation.parallel`).

Episode ``i`` of every cell is reset with ``seed + i``, whichever worker runs it, so the numbers do not depend on the
number of workers, the back-end or how the episodes are cut into tasks. Never imports torch or Stable-Baselines3 (see
:mod:`robust_envs.evaluation.policies`), nor Ray unless ``backend="ray"``.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from robust_envs.evaluation import parallel
from robust_envs.evaluation.parallel import check_ray_address, run_episodes
from robust_envs.evaluation.policies import as_policy, shippable
from robust_envs.evaluation.report import RobustnessReport
from robust_envs.params import ParamSpace
from robust_envs.registration import ENVS, env_class
from robust_envs.uncertainty import UncertaintySet

#: Parallel back-ends of :func:`evaluate_robustness`.
BACKENDS = ("process", "ray")

#: ``{param_name: [values]}`` (a Cartesian grid), a list of partial settings, a preset name or a set.
GridOrSet = UncertaintySet | str | Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]]


def evaluate_robustness(
    policy: Callable[[np.ndarray], Any] | Any,
    env_id: str,
    grid_or_set: GridOrSet,
    n_episodes: int = 5,
    seed: int = 0,
    deterministic: bool = True,
    points: int | Mapping[str, int] = 5,
    n_workers: int = 1,
    backend: str = "process",
    max_episode_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    ray_address: str | None = None,
    episodes_per_task: int | None = None,
) -> RobustnessReport:
    """
    Run a fixed policy in every cell of a parameter grid or uncertainty set.

    Episode ``i`` of every cell is reset with ``seed + i`` and ``options={"params": cell}`` in a
    ``gym.make(env_id, **env_kwargs)`` (one in this process, or one per worker, each running many cells: a reset
    starts from the same state as in a fresh env), so the numbers do not depend on ``n_workers``, the back-end or
    the chunking.
    A stochastic policy stays reproducible if it has a ``seed(episode_seed)`` method: it is called before
    every episode (the CLI's random policy does this). A stochastic SB3 model (``deterministic=False``)
    draws from torch's global generator, so its numbers are not reproducible across processes.

    :param policy: an SB3 model (anything with ``predict(obs, deterministic=...) -> (action, state)``) or a
        callable ``obs -> action``; with ``n_workers > 1`` it must be picklable
    :param env_id: a robust env id (``RobustHopper-v0``, ...)
    :param grid_or_set: the cells: an :class:`~robust_envs.uncertainty.UncertaintySet` (a finite set's
        members, or a box's :meth:`~robust_envs.uncertainty.UncertaintySet.grid`), a preset name, a list of
        partial ``{param: value}`` mappings, or ``{param: [values]}`` meaning the Cartesian product
        (the last name varies fastest)
    :param n_episodes: episodes per cell (>= 1)
    :param seed: episode ``i`` uses seed ``seed + i``
    :param deterministic: passed to an SB3 model's ``predict``
    :param points: grid points per dimension of a box set (endpoints included); an int or ``{name: int}``
    :param n_workers: parallel workers (1: in this process, unless ``backend="ray"``); with ``backend="ray"``, the
        CPUs of the local Ray instance it starts. A cluster it joins, or a Ray already initialised in this process,
        runs as many tasks at once as it has CPUs, whatever ``n_workers`` is
    :param backend: ``"process"`` (:class:`concurrent.futures.ProcessPoolExecutor`, spawn start method) or
        ``"ray"`` (Ray tasks; needs ``pip install 'robust-rl[ray]'``). Both cut the cells into tasks of nearly equal
        size (a cell and a range of its episodes, see :func:`~robust_envs.evaluation.parallel.plan_chunks`), start
        each when a worker frees up, and put the results back in order
    :param max_episode_steps: override of the registered time limit (1000)
    :param env_kwargs: keyword arguments of ``gym.make``; ``params`` there sets the base values that the
        cells' partial mappings start from
    :param ray_address: with ``backend="ray"`` only: the cluster to join, ``"auto"`` (the one ``ray start`` runs on
        this machine), ``"host:port"`` (its head) or ``"ray://host:port"`` (Ray Client); ``"local"``: a new local
        instance even if ``RAY_ADDRESS`` is set. ``None``: join the cluster ``RAY_ADDRESS`` names, if set, else start
        a local instance with ``n_workers`` CPUs. A local instance is shut down at the end; a joined cluster keeps
        running, and so does a Ray already initialised in this process (used as it is, whatever ``ray_address``
        is). Every node needs this package and the env's dependencies installed
    :param episodes_per_task: the most episodes in one task of a parallel back-end (``None``: every cell cut into
        up to as many tasks as there are workers; see :func:`~robust_envs.evaluation.parallel.plan_chunks`); the
        results do not depend on it
    :return: the report, cells in the given order
    :raises ValueError: unknown env id, bad cell (unknown name, out-of-bounds value), bad counts, a negative seed,
        an unknown back-end, a ``ray_address`` (or ``RAY_ADDRESS``) that is no Ray address, a ``ray_address``
        without ``backend="ray"``
    :raises TypeError: an env id, ``grid_or_set``, ``points``, ``env_kwargs``, ``deterministic`` or ``ray_address``
        of the wrong type, an object that is no policy, an unpicklable policy with ``n_workers > 1`` or
        ``backend="ray"``, an ``env_kwargs`` key the env does not take
    :raises ImportError: ``backend="ray"`` without ray
    :raises RuntimeError: a worker process died (e.g. the caller's script is not importable by spawned workers)

    Every argument is checked before the first episode: a refused call runs nothing and calls neither the policy
    nor its ``seed``.
    """
    check_env_id(env_id)
    _check_count("n_episodes", n_episodes)
    _check_count("n_workers", n_workers)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; allowed: {BACKENDS}")
    _check_ray_address(ray_address, backend)
    if episodes_per_task is not None:
        _check_count("episodes_per_task", episodes_per_task)
    if max_episode_steps is not None:
        _check_count("max_episode_steps", max_episode_steps)
    if not (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if seed < 0:
        # Gymnasium refuses negative seeds, but only at the first reset (in a worker, after the pool started)
        raise ValueError(f"seed must be >= 0 (episode i is reset with seed + i), got {seed}")
    _check_points(points)
    if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
        raise TypeError(f"env_kwargs must be a dict of gym.make keyword arguments or None, got {env_kwargs!r}")
    make_kwargs = dict(env_kwargs or {})
    odd_keys = [key for key in make_kwargs if not isinstance(key, str)]
    if odd_keys:
        raise TypeError(f"env_kwargs keys must be argument names (strings), got {odd_keys}")
    if "max_episode_steps" in make_kwargs and max_episode_steps is not None:
        raise ValueError("Give max_episode_steps either as an argument or in env_kwargs, not both")
    if max_episode_steps is not None:
        make_kwargs["max_episode_steps"] = int(max_episode_steps)
    as_policy(policy, deterministic)  # a TypeError for what is neither callable nor has predict(), or a non-bool flag

    cells = expand_cells(env_id, grid_or_set, points)
    check_cells(env_id, cells, make_kwargs.get("params"))
    if set(make_kwargs) - {"params", "max_episode_steps"}:
        _check_make_kwargs(env_id, make_kwargs)

    workers = min(int(n_workers), len(cells) * int(n_episodes))
    chunk = None if episodes_per_task is None else int(episodes_per_task)
    policy_bytes = b""
    if backend == "ray" or workers > 1:
        policy = shippable(policy)
        policy_bytes = _check_picklable(policy)  # before a pool or a Ray cluster starts
    tasks = [(policy, env_id, make_kwargs, cell, int(n_episodes), int(seed), bool(deterministic)) for cell in cells]
    if backend == "ray":
        results = _run_ray(tasks, workers, ray_address, chunk)
    elif workers == 1:
        results = _run_serial(tasks)
    else:
        results = _run_processes(tasks, workers, policy_bytes, chunk)
    returns = np.array([r[0] for r in results], dtype=np.float64)
    lengths = np.array([r[1] for r in results], dtype=np.int64)
    return RobustnessReport(env_id=env_id, cells=cells, returns=returns, lengths=lengths, seed=int(seed))


def _check_ray_address(ray_address: Any, backend: str) -> None:
    """``ray_address`` is ``None`` or a Ray address, and only given with ``backend="ray"``; so is ``RAY_ADDRESS``, if used."""
    if ray_address is not None:
        if backend != "ray":
            raise ValueError(
                f"ray_address={ray_address!r} is only used by backend='ray', got backend={backend!r}; "
                "pass backend='ray' or leave ray_address out"
            )
        check_ray_address(ray_address)
        return
    ray = sys.modules.get("ray")
    from_env = os.environ.get("RAY_ADDRESS")
    if backend == "ray" and from_env and not (ray is not None and ray.is_initialized()):
        check_ray_address(from_env, "The RAY_ADDRESS environment variable")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_env_id(env_id: Any) -> None:
    """
    :param env_id: what a caller passed as a robust env id
    :raises TypeError: ``env_id`` is not a string
    :raises ValueError: it is not a registered robust id (the message suggests a close one and lists them all)
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a robust env id string such as 'RobustHopper-v0', got {env_id!r}")
    if env_id not in [entry.env_id for entry in ENVS]:
        env_class(env_id)  # raises the ValueError with a suggestion and the registered ids


def _check_points(points: Any) -> None:
    """``points`` is an int >= 1 or a ``{name: int >= 1}`` mapping (its names are checked against a box set later)."""
    counts = points.items() if isinstance(points, Mapping) else [(None, points)]
    for key, value in counts:
        if key is not None and not isinstance(key, str):
            raise TypeError(f"points names parameters by strings, got the key {key!r} in {points!r}")
        label = "points" if key is None else f"points[{key!r}]"
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise TypeError(
                f"{label} must be a whole number >= 1 (points may also be {{name: whole number >= 1}}), "
                f"got {value!r} ({type(value).__name__})"
            )
        if value < 1:
            raise ValueError(f"{label} must be >= 1 (a grid needs at least one point per dimension), got {value}")


def check_cells(env_id: str, cells: Sequence[Mapping[str, float]], params: Any = None) -> None:
    """
    Check every cell against the env's parameters, as :func:`evaluate_robustness` runs it.

    :param env_id: a robust env id
    :param cells: partial parameter mappings, as :func:`expand_cells` returns them
    :param params: the base values the cells' mappings complete (``gym.make``'s ``params``; ``None``: nominal)
    :raises ValueError: a bad ``params``, or a cell with an unknown name or an out-of-bounds value (the message names
        the cell)
    :raises TypeError: a value of the wrong type
    """
    param_space: ParamSpace = env_class(env_id).param_space
    base = param_space.resolve(params)
    for i, cell in enumerate(cells):
        try:
            param_space.resolve(cell, base=base)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"Cell {i} {cell}: {exc}") from exc


def _check_make_kwargs(env_id: str, make_kwargs: dict[str, Any]) -> None:
    """Make (and close) one env with ``make_kwargs``, so that an argument the env does not take fails before any episode."""
    import gymnasium as gym

    try:
        gym.make(env_id, **make_kwargs).close()
    except TypeError as exc:
        raise TypeError(f"env_kwargs {make_kwargs!r} do not fit {env_id}: {exc}") from exc


def expand_cells(env_id: str, grid_or_set: GridOrSet, points: int | Mapping[str, int]) -> list[dict[str, float]]:
    """
    Turn the accepted forms of ``grid_or_set`` into a list of partial parameter mappings (see :func:`evaluate_robustness`).

    The values are checked to be numbers here; their names and bounds are checked against the env by
    :func:`evaluate_robustness`.

    :param env_id: the env the cells are for (an uncertainty set must belong to it)
    :param grid_or_set: an uncertainty set, a preset name, a list of ``{param: value}`` or ``{param: [values]}``
    :param points: grid points per dimension of a box set (an int or ``{name: int}``)
    :return: one ``{name: float}`` per cell, in order
    :raises ValueError: an unknown preset, a set of another env, an empty grid or list, a value that is not a number
    :raises TypeError: ``grid_or_set``, a cell or a parameter name of the wrong type
    """
    if isinstance(grid_or_set, bytes | bytearray):
        raise TypeError(f"grid_or_set must be a preset name as a str, not bytes: got {grid_or_set!r}")
    if isinstance(grid_or_set, str):
        from robust_envs.presets import get_preset

        grid_or_set = get_preset(grid_or_set)
    if isinstance(grid_or_set, UncertaintySet):
        if grid_or_set.env_id != env_id:
            raise ValueError(
                f"Uncertainty set {grid_or_set.name or grid_or_set.describe()!r} belongs to {grid_or_set.env_id}, not {env_id}"
            )
        raw: list[Mapping[str, Any]] = grid_or_set.grid(points)
    elif isinstance(grid_or_set, Mapping):
        raw = _product(grid_or_set)
    elif isinstance(grid_or_set, Sequence):
        raw = list(grid_or_set)
        if not raw:
            raise ValueError("The list of cells is empty")
        for i, cell in enumerate(raw):
            if not isinstance(cell, Mapping):
                raise TypeError(f"Cell {i} must be a mapping of parameter names to values, got {cell!r}")
    else:
        raise TypeError(
            "grid_or_set must be an UncertaintySet, a preset name, a list of {param: value} mappings or "
            f"{{param: [values]}}, got {type(grid_or_set).__name__}"
        )
    cells = []
    for i, cell in enumerate(raw):
        out = {}
        for key, value in cell.items():
            if not isinstance(key, str):
                raise TypeError(f"Cell {i}: parameter names must be strings, got {key!r} ({type(key).__name__})")
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
                raise ValueError(f"Cell {i}: value of {key!r} must be a number, got {value!r}")
            out[str(key)] = float(value)
        cells.append(out)
    return cells


def _product(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Cartesian product of ``{name: [values]}`` (a scalar is a one-value axis), the last name varying fastest."""
    if not grid:
        raise ValueError("An empty grid {} has no cells; give {param_name: [values, ...]}")
    axes = []
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            values = [values]
        if len(values) == 0:
            raise ValueError(f"Grid axis {name!r} has no values")
        axes.append(list(values))
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*axes)]


def _run_serial(tasks: list[tuple]) -> list[tuple[list[float], list[int]]]:
    """The serial runner: every cell's episodes in one env, in this process."""
    import gymnasium as gym

    import robust_envs  # noqa: F401  (registers the ids)

    env = gym.make(tasks[0][1], **tasks[0][2])
    try:
        return [_run_cell(task, env) for task in tasks]
    finally:
        env.close()


def _run_cell(task: tuple, env: Any) -> tuple[list[float], list[int]]:
    """The returns and lengths of one cell's episodes, in ``env`` (made with the task's env id and arguments)."""
    policy, _, _, cell, n_episodes, seed, deterministic = task
    return run_episodes(env, policy, deterministic, cell, seed, n_episodes)


def _check_picklable(policy: Any) -> bytes:
    """:return: the policy, pickled (what the process pool's workers unpickle)."""
    try:
        return pickle.dumps(policy)
    except Exception as exc:
        raise TypeError(
            f"The policy ({type(policy).__name__}) cannot be pickled for worker processes ({exc}). "
            "Use n_workers=1, or a policy defined at module level (not a lambda or a local function)."
        ) from exc


def _run_processes(
    tasks: list[tuple], workers: int, policy_bytes: bytes, episodes_per_task: int | None
) -> list[tuple[list[float], list[int]]]:
    return parallel.run_processes(tasks, workers, policy_bytes, episodes_per_task)


def _run_ray(
    tasks: list[tuple], workers: int, ray_address: str | None, episodes_per_task: int | None
) -> list[tuple[list[float], list[int]]]:
    return parallel.run_ray(tasks, workers, ray_address, episodes_per_task)
