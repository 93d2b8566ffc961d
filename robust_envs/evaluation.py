"""
Robustness evaluation: the returns of one policy over a grid or set of physical parameters.

:func:`evaluate_robustness` runs a fixed policy for ``n_episodes`` seeded episodes in every cell of a
parameter grid (or every member of an uncertainty set) and returns a :class:`RobustnessReport` with the
per-cell statistics, the worst cell and the papers' "10% worst-case return" (:meth:`RobustnessReport.cvar`),
tables, CSV/JSON files and plots.

This module never imports torch or Stable-Baselines3: an SB3 model is recognised by its ``predict``
method, anything else is called as ``policy(obs) -> action``.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robust_envs.params import ParamSpace
from robust_envs.registration import ENVS, env_class
from robust_envs.uncertainty import UncertaintySet

#: Parallel back-ends of :func:`evaluate_robustness`.
BACKENDS = ("process", "ray")

#: ``{param_name: [values]}`` (a Cartesian grid), a list of partial settings, a preset name or a set.
GridOrSet = UncertaintySet | str | Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]]

_CSV_FIXED = ("cell", "episode", "seed", "length", "return")
_PLOTS_HINT = "pip install 'robust-rl[plots]'"


# ---- the report ------------------------------------------------------------------------------------
@dataclass(eq=False)
class RobustnessReport:
    """
    Episode returns of one policy in every cell of a parameter grid or uncertainty set.

    Returns are undiscounted sums of rewards over an episode (ended by termination or the time limit).
    Standard deviations are population standard deviations (``ddof=0``) over a cell's episodes.

    :param env_id: the evaluated environment
    :param cells: one partial parameter mapping per cell (parameters not named keep their base value)
    :param returns: episode returns, shape ``(n_cells, n_episodes)``
    :param lengths: episode lengths in steps, shape ``(n_cells, n_episodes)``, or ``None`` if unknown
    :param seed: episode ``i`` of every cell was reset with seed ``seed + i`` (``None`` if unknown)
    """

    env_id: str
    cells: list[dict[str, float]]
    returns: np.ndarray
    lengths: np.ndarray | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self.cells = [{str(k): float(v) for k, v in cell.items()} for cell in self.cells]
        self.returns = np.asarray(self.returns, dtype=np.float64)
        if self.returns.ndim != 2 or self.returns.shape[0] != len(self.cells) or self.returns.shape[1] < 1:
            raise ValueError(f"returns must have shape (n_cells={len(self.cells)}, n_episodes>=1), got {self.returns.shape}")
        if self.lengths is not None:
            self.lengths = np.asarray(self.lengths, dtype=np.int64)
            if self.lengths.shape != self.returns.shape:
                raise ValueError(f"lengths must have the shape of returns {self.returns.shape}, got {self.lengths.shape}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RobustnessReport):
            return NotImplemented
        same_lengths = (self.lengths is None and other.lengths is None) or (
            self.lengths is not None and other.lengths is not None and np.array_equal(self.lengths, other.lengths)
        )
        return (
            self.env_id == other.env_id
            and self.cells == other.cells
            and self.returns.shape == other.returns.shape
            and np.array_equal(self.returns, other.returns)
            and same_lengths
            and self.seed == other.seed
        )

    __hash__ = None  # type: ignore[assignment]

    # ---- statistics ----------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        """Number of cells (parameter settings)."""
        return self.returns.shape[0]

    @property
    def n_episodes(self) -> int:
        """Episodes per cell."""
        return self.returns.shape[1]

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameter (or group) names the cells set, in order of first appearance."""
        seen: dict[str, None] = {}
        for cell in self.cells:
            seen.update(dict.fromkeys(cell))
        return tuple(seen)

    @property
    def cell_means(self) -> np.ndarray:
        """Mean return of each cell, shape ``(n_cells,)``."""
        return self.returns.mean(axis=1)

    @property
    def cell_stds(self) -> np.ndarray:
        """Population standard deviation (``ddof=0``) of each cell's returns, shape ``(n_cells,)``."""
        return self.returns.std(axis=1)

    @property
    def cell_mins(self) -> np.ndarray:
        """Lowest episode return of each cell, shape ``(n_cells,)``."""
        return self.returns.min(axis=1)

    @property
    def mean(self) -> float:
        """Mean return over every episode of every cell."""
        return float(self.returns.mean())

    @property
    def worst(self) -> float:
        """The lowest cell mean (the worst-case model's expected return)."""
        return float(self.cell_means.min())

    @property
    def worst_index(self) -> int:
        """Index of the cell with the lowest mean (the first one on ties)."""
        return int(np.argmin(self.cell_means))

    @property
    def worst_cell(self) -> dict[str, float]:
        """The parameter setting of the cell with the lowest mean (a new dict)."""
        return dict(self.cells[self.worst_index])

    def cvar(self, alpha: float = 0.1) -> float:
        """
        The ``alpha`` worst-case return (conditional value at risk of the episode returns).

        The mean of the worst ``k = ceil(alpha * n)`` episode returns among all ``n = n_cells * n_episodes``
        episodes pooled over every cell (``k >= 1``; ``alpha * n`` is rounded to 9 decimals first so that,
        e.g., ``0.1 * 30`` gives 3, not 4). ``cvar(0.1)`` is the "10% worst-case return" of Jiang et al.
        (2021); ``cvar(1.0)`` is :attr:`mean`.

        :param alpha: the fraction of worst episodes, in ``(0, 1]``
        :return: the mean of the worst ``k`` returns
        """
        if not (isinstance(alpha, int | float) and 0.0 < alpha <= 1.0):
            raise ValueError(f"alpha must be a fraction in (0, 1], got {alpha!r}")
        flat = np.sort(self.returns, axis=None)
        k = max(1, math.ceil(round(alpha * flat.size, 9)))
        return float(flat[:k].mean())

    # ---- tables and files ----------------------------------------------------------------------
    def to_rows(self) -> list[dict[str, Any]]:
        """
        One row per episode: ``cell`` (index), ``episode`` (index), ``seed`` (``None`` if unknown), the
        cell's parameters (``None`` where a cell does not set one), ``length`` (``None`` if unknown) and ``return``.

        :return: the rows, cell by cell, episode by episode
        """
        rows, names = [], self.param_names
        for c, cell in enumerate(self.cells):
            for e in range(self.n_episodes):
                row: dict[str, Any] = {"cell": c, "episode": e, "seed": None if self.seed is None else self.seed + e}
                row.update({name: cell.get(name) for name in names})
                row["length"] = None if self.lengths is None else int(self.lengths[c, e])
                row["return"] = float(self.returns[c, e])
                rows.append(row)
        return rows

    def to_csv(self, path: str | Path) -> Path:
        """
        Write :meth:`to_rows` as CSV (empty fields for ``None``); :meth:`from_csv` reads it back exactly.

        :param path: the file to write
        :return: the path written
        """
        path = Path(path)
        clash = set(self.param_names) & set(_CSV_FIXED)
        if clash:
            raise ValueError(f"Parameter names {sorted(clash)} clash with the CSV's own columns {_CSV_FIXED}")
        columns = ["cell", "episode", "seed", *self.param_names, "length", "return"]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in self.to_rows():
                # repr() of a Python float round-trips exactly
                writer.writerow({k: "" if v is None else repr(v) for k, v in row.items()})
        return path

    @classmethod
    def from_csv(cls, path: str | Path, env_id: str) -> RobustnessReport:
        """
        Read a file written by :meth:`to_csv` (the CSV does not hold the env id).

        :param path: the CSV file
        :param env_id: the environment the report belongs to
        :return: the report
        """
        with Path(path).open(newline="") as f:
            reader = csv.DictReader(f)
            names = [c for c in reader.fieldnames or () if c not in _CSV_FIXED]
            rows = list(reader)
        if not rows:
            raise ValueError(f"{path} holds no rows")
        n_cells = max(int(r["cell"]) for r in rows) + 1
        n_episodes = max(int(r["episode"]) for r in rows) + 1
        if len(rows) != n_cells * n_episodes:
            raise ValueError(f"{path}: expected {n_cells} x {n_episodes} rows, found {len(rows)}")
        returns = np.empty((n_cells, n_episodes))
        lengths = np.zeros((n_cells, n_episodes), dtype=np.int64)
        has_lengths = all(r["length"] != "" for r in rows)
        cells: list[dict[str, float]] = [{} for _ in range(n_cells)]
        seed = None
        for r in rows:
            c, e = int(r["cell"]), int(r["episode"])
            returns[c, e] = float(r["return"])
            if has_lengths:
                lengths[c, e] = int(r["length"])
            if e == 0:
                cells[c] = {name: float(r[name]) for name in names if r[name] != ""}
                if r["seed"] != "":
                    seed = int(r["seed"])
        return cls(env_id=env_id, cells=cells, returns=returns, lengths=lengths if has_lengths else None, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """:return: a JSON-serialisable description that :meth:`from_dict` reads back exactly."""
        return {
            "env_id": self.env_id,
            "seed": self.seed,
            "cells": [dict(cell) for cell in self.cells],
            "returns": self.returns.tolist(),
            "lengths": None if self.lengths is None else self.lengths.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RobustnessReport:
        """:return: the report :meth:`to_dict` described."""
        lengths = data.get("lengths")
        return cls(
            env_id=data["env_id"],
            cells=[dict(cell) for cell in data["cells"]],
            returns=np.array(data["returns"], dtype=np.float64),
            lengths=None if lengths is None else np.array(lengths, dtype=np.int64),
            seed=data.get("seed"),
        )

    def to_json(self, path: str | Path) -> Path:
        """
        Write the report as JSON; :meth:`from_json` reads it back exactly (floats are written with ``repr``).

        :param path: the file to write
        :return: the path written
        """
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> RobustnessReport:
        """
        :param path: a file written by :meth:`to_json`
        :return: the report
        """
        return cls.from_dict(json.loads(Path(path).read_text()))

    def summary(self, alpha: float = 0.1) -> str:
        """
        A plain-text table: one row per cell (its parameters, mean, std and min return), then the overall
        mean, the worst cell and the ``alpha`` worst-case return (:meth:`cvar`).

        :param alpha: the fraction for the worst-case line (the papers' 10%)
        :return: the table
        """
        names = self.param_names
        header = [*names, "mean", "std", "min"]
        body = [
            [*(_fmt_param(cell.get(name)) for name in names), f"{m:.2f}", f"{s:.2f}", f"{lo:.2f}"]
            for cell, m, s, lo in zip(self.cells, self.cell_means, self.cell_stds, self.cell_mins, strict=True)
        ]
        widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]
        n_params = len(names)

        def line(cols: Sequence[str]) -> str:
            parts = [c.ljust(w) if i < n_params else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths, strict=True))]
            return "  ".join(parts).rstrip()

        seeds = "" if self.seed is None else f", seeds {self.seed}..{self.seed + self.n_episodes - 1}"
        k = max(1, math.ceil(round(alpha * self.returns.size, 9)))
        lines = [
            f"{self.env_id}: {self.n_cells} cell(s) x {self.n_episodes} episode(s){seeds}",
            line(header),
            line(["-" * w for w in widths]),
            *(line(row) for row in body),
            "",
            f"overall mean return: {self.mean:.2f}",
            f"worst cell: mean {self.worst:.2f} at {_fmt_cell(self.worst_cell)}",
            f"{alpha:.0%}-worst return (mean of the worst {k} of {self.returns.size} episodes): {self.cvar(alpha):.2f}",
        ]
        return "\n".join(lines)

    # ---- plots -----------------------------------------------------------------------------------
    def grid_axes(self, x: str | None = None, y: str | None = None) -> tuple[str, str, list[float], list[float], np.ndarray]:
        """
        Arrange the cell means on a 2-d grid.

        :param x: the parameter on the horizontal axis (default: the first of the two varied parameters)
        :param y: the parameter on the vertical axis (default: the other varied parameter)
        :return: ``x``, ``y``, the sorted x values, the sorted y values and the means, shape ``(len(ys), len(xs))``
        :raises ValueError: the cells do not form a complete 2-d grid over ``x`` and ``y``
        """
        varied = [n for n in self.param_names if len({cell.get(n) for cell in self.cells}) > 1]
        if x is None or y is None:
            rest = [n for n in varied if n not in (x, y)]
            if x is None:
                x, rest = (rest[0], rest[1:]) if rest else (None, rest)
            if y is None:
                y = rest[0] if rest else None
            if x is None or y is None:
                raise ValueError(
                    f"A heatmap needs cells varying two parameters; these cells vary {varied}. Pass x= and y= to choose."
                )
        if x == y:
            raise ValueError(f"x and y must be different parameters, got {x!r} twice")
        for name in (x, y):
            if any(name not in cell for cell in self.cells):
                raise ValueError(f"Not every cell sets {name!r}; the cells do not form a 2-d grid over ({x!r}, {y!r})")
        others = [n for n in varied if n not in (x, y)]
        if others:
            raise ValueError(f"The cells also vary {others}, not only ({x!r}, {y!r}); they do not form a 2-d grid")
        xs = sorted({cell[x] for cell in self.cells})
        ys = sorted({cell[y] for cell in self.cells})
        positions = {(cell[x], cell[y]) for cell in self.cells}
        if len(positions) != self.n_cells or self.n_cells != len(xs) * len(ys):
            raise ValueError(
                f"The {self.n_cells} cells do not form a complete 2-d grid over ({x!r}, {y!r}): "
                f"{len(xs)} x {len(ys)} values would need {len(xs) * len(ys)} distinct cells, found {len(positions)} distinct"
            )
        means = np.empty((len(ys), len(xs)))
        for cell, m in zip(self.cells, self.cell_means, strict=True):
            means[ys.index(cell[y]), xs.index(cell[x])] = m
        return x, y, xs, ys, means

    def plot_heatmap(self, path: str | Path, x: str | None = None, y: str | None = None) -> Path:
        """
        Save a heatmap of the mean return per cell of a 2-d grid, each cell annotated with its value.

        :param path: the image file to write (format from the suffix, e.g. ``.png``)
        :param x: the parameter on the horizontal axis (default: the first varied parameter)
        :param y: the parameter on the vertical axis (default: the second varied parameter)
        :return: the path written
        :raises ValueError: the cells do not form a 2-d grid (see :meth:`grid_axes`)
        :raises ImportError: matplotlib is missing
        """
        x, y, xs, ys, means = self.grid_axes(x, y)
        figure_cls = _figure_class()
        fig = figure_cls(figsize=(max(4.5, 1.8 + 0.9 * len(xs)), max(3.5, 1.5 + 0.6 * len(ys))), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(means, origin="lower", aspect="auto", cmap="viridis")
        fig.colorbar(image, ax=ax, label="mean return")
        ax.set_xticks(range(len(xs)), [f"{v:.4g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:.4g}" for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{self.env_id}\nmean return over {self.n_episodes} episode(s) per cell", fontsize=10)
        middle = (np.nanmin(means) + np.nanmax(means)) / 2.0
        for i in range(len(ys)):
            for j in range(len(xs)):
                colour = "black" if means[i, j] > middle else "white"
                ax.text(j, i, f"{means[i, j]:.4g}", ha="center", va="center", color=colour, fontsize=8)
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path

    def plot_bars(self, path: str | Path) -> Path:
        """
        Save a bar chart: one bar per cell at its mean return, error bars one standard deviation.

        :param path: the image file to write (format from the suffix, e.g. ``.png``)
        :return: the path written
        :raises ImportError: matplotlib is missing
        """
        figure_cls = _figure_class()
        fig = figure_cls(figsize=(max(5.0, 0.9 * self.n_cells + 1.5), 4.5), layout="constrained")
        ax = fig.add_subplot()
        positions = np.arange(self.n_cells)
        ax.bar(positions, self.cell_means, yerr=self.cell_stds, capsize=3, color="tab:blue")
        labels = [_fmt_cell(cell, sep="\n") for cell in self.cells]
        ax.set_xticks(positions, labels, fontsize=7, rotation=90 if self.n_cells > 8 else 0)
        ax.set_ylabel("mean return (± std)")
        ax.set_title(f"{self.env_id}\nmean return over {self.n_episodes} episode(s) per cell", fontsize=10)
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path


def _fmt_param(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _fmt_cell(cell: Mapping[str, float], sep: str = ", ") -> str:
    return sep.join(f"{k}={v:.4g}" for k, v in cell.items()) or "(base parameters)"


def _figure_class() -> type:
    """
    :return: matplotlib's ``Figure``, used without pyplot: it renders headless (Agg for raster files)
        and leaves pyplot's global backend and figure list untouched
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"Plotting needs matplotlib: {_PLOTS_HINT}") from exc
    return Figure


# ---- evaluation ------------------------------------------------------------------------------------
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
) -> RobustnessReport:
    """
    Run a fixed policy in every cell of a parameter grid or uncertainty set.

    Episode ``i`` of every cell is reset with ``seed + i`` and ``options={"params": cell}`` in a fresh
    ``gym.make(env_id, **env_kwargs)``, so the numbers do not depend on ``n_workers`` or the back-end.
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
    :param n_workers: parallel workers (1: in this process)
    :param backend: ``"process"`` (:class:`concurrent.futures.ProcessPoolExecutor`, spawn start method) or
        ``"ray"`` (one task per cell; needs ``pip install 'robust-rl[ray]'``)
    :param max_episode_steps: override of the registered time limit (1000)
    :param env_kwargs: keyword arguments of ``gym.make``; ``params`` there sets the base values that the
        cells' partial mappings start from
    :return: the report, cells in the given order
    :raises ValueError: unknown env id, bad cell (unknown name, out-of-bounds value), bad counts or back-end
    :raises TypeError: an unpicklable policy with ``n_workers > 1``
    :raises ImportError: ``backend="ray"`` without ray
    :raises RuntimeError: a worker process died (e.g. the caller's script is not importable by spawned workers)
    """
    ids = [entry.env_id for entry in ENVS]
    if env_id not in ids:
        env_class(env_id)  # raises the ValueError with a suggestion and the registered ids
    _check_count("n_episodes", n_episodes)
    _check_count("n_workers", n_workers)
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; allowed: {BACKENDS}")
    if max_episode_steps is not None:
        _check_count("max_episode_steps", max_episode_steps)
    if not (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    make_kwargs = dict(env_kwargs or {})
    if "max_episode_steps" in make_kwargs and max_episode_steps is not None:
        raise ValueError("Give max_episode_steps either as an argument or in env_kwargs, not both")
    if max_episode_steps is not None:
        make_kwargs["max_episode_steps"] = int(max_episode_steps)
    if not callable(policy) and not hasattr(policy, "predict"):
        raise TypeError(f"policy must be callable (obs -> action) or have a predict() method, got {type(policy).__name__}")

    param_space: ParamSpace = env_class(env_id).param_space
    cells = _cells(env_id, grid_or_set, points)
    base = param_space.resolve(make_kwargs.get("params"))
    for i, cell in enumerate(cells):
        try:
            param_space.resolve(cell, base=base)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"Cell {i} {cell}: {exc}") from exc

    workers = min(int(n_workers), len(cells))
    if backend == "ray" or workers > 1:
        policy = _shippable(policy)
    tasks = [(policy, env_id, make_kwargs, cell, int(n_episodes), int(seed), bool(deterministic)) for cell in cells]
    if backend == "ray":
        results = _run_ray(tasks, workers)
    elif workers == 1:
        results = [_run_cell(task) for task in tasks]
    else:
        results = _run_processes(tasks, workers)
    returns = np.array([r[0] for r in results], dtype=np.float64)
    lengths = np.array([r[1] for r in results], dtype=np.int64)
    return RobustnessReport(env_id=env_id, cells=cells, returns=returns, lengths=lengths, seed=int(seed))


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _cells(env_id: str, grid_or_set: GridOrSet, points: int | Mapping[str, int]) -> list[dict[str, float]]:
    """Turn the accepted forms of ``grid_or_set`` into a list of partial parameter mappings."""
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


def _act(policy: Any, obs: np.ndarray, deterministic: bool) -> np.ndarray:
    if hasattr(policy, "predict"):
        action, _ = policy.predict(obs, deterministic=deterministic)
    else:
        action = policy(obs)
    return np.asarray(action)


def _run_cell(task: tuple) -> tuple[list[float], list[int]]:
    """Worker: the returns and lengths of one cell's episodes (module level, so spawned processes can import it)."""
    import gymnasium as gym

    import robust_envs  # noqa: F401  (registers the ids in a fresh process)

    policy, env_id, make_kwargs, cell, n_episodes, seed, deterministic = task
    env = gym.make(env_id, **make_kwargs)
    returns, lengths = [], []
    try:
        for i in range(n_episodes):
            episode_seed = seed + i
            if hasattr(policy, "seed") and callable(policy.seed) and not hasattr(policy, "predict"):
                policy.seed(episode_seed)
            obs, _ = env.reset(seed=episode_seed, options={"params": cell})
            total, steps, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(_act(policy, obs, deterministic))
                total += float(reward)
                steps += 1
                done = bool(terminated or truncated)
            returns.append(total)
            lengths.append(steps)
    finally:
        env.close()
    return returns, lengths


def _run_cell_ray(policy: Any, rest: tuple) -> tuple[list[float], list[int]]:
    """Ray task: :func:`_run_cell` with the policy passed separately (as a shared object)."""
    return _run_cell((policy, *rest))


class SavedModel:
    """
    A model with SB3's ``save``/``load`` carried to worker processes as the bytes its ``save`` writes.

    Process pools pickle with torch's reducers, which refuse a non-leaf tensor that requires grad ("Cowardly
    refusing to serialize"), and a trained model can hold one; SB3's own save format always round-trips.
    Each worker loads the model once, on the CPU.

    :param model: an object with ``save(file)`` and a class method ``load(file, device=...)``
    """

    def __init__(self, model: Any) -> None:
        import io

        buffer = io.BytesIO()
        model.save(buffer)
        self.model_class = type(model)
        self.data = buffer.getvalue()
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model_class": self.model_class, "data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model_class, self.data, self._model = state["model_class"], state["data"], None

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False):
        """:return: the loaded model's ``predict`` (loaded on first use)."""
        if self._model is None:
            import io

            self._model = self.model_class.load(io.BytesIO(self.data), device="cpu")
        return self._model.predict(observation, state, episode_start, deterministic)


def _shippable(policy: Any) -> Any:
    """:return: a :class:`SavedModel` of a model with ``predict``, ``save`` and ``load``; any other policy as it is."""
    if hasattr(policy, "predict") and hasattr(policy, "save") and callable(getattr(type(policy), "load", None)):
        return SavedModel(policy)
    return policy


def _check_picklable(policy: Any) -> None:
    try:
        pickle.dumps(policy)
    except Exception as exc:
        raise TypeError(
            f"The policy ({type(policy).__name__}) cannot be pickled for worker processes ({exc}). "
            "Use n_workers=1, or a policy defined at module level (not a lambda or a local function)."
        ) from exc


def _run_processes(tasks: list[tuple], workers: int) -> list[tuple[list[float], list[int]]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    _check_picklable(tasks[0][0])
    # spawn: safe with threads (torch, MuJoCo rollout pools) in the parent; needs the caller's
    # script guarded by `if __name__ == "__main__":`
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return list(pool.map(_run_cell, tasks))
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "A worker process died. Workers are spawned: they re-import the calling script, which must be a file "
                "(not piped through stdin) guarded by `if __name__ == '__main__':`; otherwise use n_workers=1."
            ) from exc


def _run_ray(tasks: list[tuple], workers: int) -> list[tuple[list[float], list[int]]]:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs ray: pip install 'robust-rl[ray]'") from exc
    _check_picklable(tasks[0][0])
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_run_cell_ray)
        # top-level ObjectRef arguments are resolved by ray before the call; the policy is stored once
        policy_ref = ray.put(tasks[0][0])
        futures = [remote.remote(policy_ref, task[1:]) for task in tasks]
        return list(ray.get(futures))
    finally:
        if started:
            ray.shutdown()
