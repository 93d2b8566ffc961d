"""
The result of a robustness evaluation: :class:`RobustnessReport`, its statistics, text table and CSV/JSON files.

Plots of a report live in :mod:`robust_envs.evaluation.plots` (matplotlib, imported when a plot is drawn);
the report's :meth:`~RobustnessReport.plot_heatmap` and :meth:`~RobustnessReport.plot_bars` call them.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_CSV_FIXED = ("cell", "episode", "seed", "length", "return")


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
            [*(format_param(cell.get(name)) for name in names), f"{m:.2f}", f"{s:.2f}", f"{lo:.2f}"]
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
            f"worst cell: mean {self.worst:.2f} at {format_cell(self.worst_cell)}",
            f"{alpha:.0%}-worst return (mean of the worst {k} of {self.returns.size} episodes): {self.cvar(alpha):.2f}",
        ]
        return "\n".join(lines)

    # ---- grids and plots ------------------------------------------------------------------------
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
        from robust_envs.evaluation.plots import plot_heatmap

        return plot_heatmap(self, path, x=x, y=y)

    def plot_bars(self, path: str | Path) -> Path:
        """
        Save a bar chart: one bar per cell at its mean return, error bars one standard deviation.

        :param path: the image file to write (format from the suffix, e.g. ``.png``)
        :return: the path written
        :raises ImportError: matplotlib is missing
        """
        from robust_envs.evaluation.plots import plot_bars

        return plot_bars(self, path)


def format_param(value: float | None) -> str:
    """:return: a parameter value as the tables print it (``-`` where a cell does not set it)."""
    return "-" if value is None else f"{value:.6g}"


def format_cell(cell: Mapping[str, float], sep: str = ", ") -> str:
    """:return: a cell as ``name=value`` pairs joined by ``sep`` (``(base parameters)`` for an empty cell)."""
    return sep.join(f"{k}={v:.4g}" for k, v in cell.items()) or "(base parameters)"
