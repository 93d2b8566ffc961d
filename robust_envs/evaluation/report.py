"""
The result of a robustness evaluation: :class:`RobustnessReport`, its statistics, text table and CSV/JSON files.

Plots of a report live in :mod:`robust_envs.evaluation.plots` (matplotlib, imported when a plot is drawn);
the report's :meth:`~RobustnessReport.plot_heatmap` and :meth:`~RobustnessReport.plot_bars` call them.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robust_envs.evaluation.paths import check_output_path

_CSV_FIXED = ("cell", "episode", "seed", "length", "return")
#: the keys of :meth:`RobustnessReport.to_dict`
_DICT_REQUIRED = ("env_id", "cells", "returns")
_DICT_OPTIONAL = ("lengths", "seed")


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
        # every field is checked here, so a report made by hand, from_dict, from_csv or from_json is refused with
        # a message naming the bad value instead of failing (or silently turning None into NaN) later
        if not isinstance(self.env_id, str):
            raise TypeError(f"env_id must be an env id string, got {self.env_id!r} ({type(self.env_id).__name__})")
        if not self.env_id.strip():
            raise ValueError(f"env_id must name the evaluated env, got {self.env_id!r}")
        self.cells = _check_cells(self.cells)
        self.returns = _number_array(self.returns, "returns")
        if self.returns.ndim != 2 or self.returns.shape[0] != len(self.cells) or self.returns.shape[1] < 1:
            raise ValueError(f"returns must have shape (n_cells={len(self.cells)}, n_episodes>=1), got {self.returns.shape}")
        if not np.isfinite(self.returns).all():
            raise ValueError(f"returns must be finite (sums of rewards), got {_first_bad(self.returns)}")
        if self.lengths is not None:
            lengths = _number_array(self.lengths, "lengths")
            if lengths.shape != self.returns.shape:
                raise ValueError(f"lengths must have the shape of returns {self.returns.shape}, got {lengths.shape}")
            bad = ~np.isfinite(lengths) | (lengths < 0) | (lengths != np.round(lengths))
            if bad.any():
                raise ValueError(f"lengths must be whole numbers of steps >= 0, got {_first_bad(lengths, bad)}")
            self.lengths = lengths.astype(np.int64)
        if self.seed is not None:
            if isinstance(self.seed, bool | np.bool_) or not isinstance(self.seed, int | np.integer):
                raise TypeError(f"seed must be an int >= 0 or None, got {self.seed!r} ({type(self.seed).__name__})")
            if self.seed < 0:
                raise ValueError(f"seed must be >= 0 (episode seeds are seed, seed+1, ...), got {self.seed}")
            self.seed = int(self.seed)

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
        :raises TypeError: ``alpha`` is not a number
        :raises ValueError: ``alpha`` is outside ``(0, 1]`` (or NaN)
        """
        alpha = _check_alpha(alpha)
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
        :raises TypeError: ``path`` is not a file name
        :raises ValueError: a path that cannot be written (see :func:`~robust_envs.evaluation.paths.check_output_path`),
            or a parameter named like one of the CSV's own columns; nothing is written then
        """
        path = check_output_path(path, "to_csv path")
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
        :raises TypeError: ``path`` is not a file name, or ``env_id`` not a string
        :raises FileNotFoundError: no such file
        :raises ValueError: a file that is not a report written by :meth:`to_csv` (missing columns, a row of the
            wrong length, a field that is not a number, a repeated or missing ``(cell, episode)``); the message names
            the file and, where it can, the line
        """
        path = _input_path(path, "RobustnessReport.from_csv")
        if not isinstance(env_id, str):
            raise TypeError(f"env_id must be an env id string, got {env_id!r} ({type(env_id).__name__})")
        header, lines = _read_csv(path)
        names = [c for c in header if c not in _CSV_FIXED]
        episodes: dict[tuple[int, int], tuple[float, int | None]] = {}
        cells: dict[int, dict[str, float]] = {}
        seeds: set[int] = set()
        for line, fields in lines:
            where = f"{path}, line {line}"
            if len(fields) != len(header):
                raise ValueError(f"{where}: {len(fields)} fields, but the header has {len(header)} columns {header}")
            row = dict(zip(header, fields, strict=True))
            c, e = _csv_int(row["cell"], where, "cell"), _csv_int(row["episode"], where, "episode")
            if (c, e) in episodes:
                raise ValueError(f"{where}: cell {c}, episode {e} appears twice")
            length = None if row["length"] == "" else _csv_int(row["length"], where, "length")
            episodes[c, e] = (_csv_float(row["return"], where, "return"), length)
            if row["seed"] != "":
                seeds.add(_csv_int(row["seed"], where, "seed") - e)
            cell = {name: _csv_float(row[name], where, name) for name in names if row[name] != ""}
            if cells.setdefault(c, cell) != cell:
                raise ValueError(f"{where}: cell {c} has parameters {cell}, but {cells[c]} on an earlier line")
        n_cells = max(c for c, _ in episodes) + 1
        n_episodes = max(e for _, e in episodes) + 1
        if len(episodes) != n_cells * n_episodes:
            absent = next((c, e) for c in range(n_cells) for e in range(n_episodes) if (c, e) not in episodes)
            raise ValueError(
                f"{path}: expected {n_cells} x {n_episodes} rows (cells x episodes), found {len(episodes)}; "
                f"cell {absent[0]}, episode {absent[1]} is missing"
            )
        if len(seeds) > 1:
            raise ValueError(f"{path}: the seeds do not follow seed + episode from one seed (they imply {sorted(seeds)})")
        returns = np.array([[episodes[c, e][0] for e in range(n_episodes)] for c in range(n_cells)])
        lengths = [[episodes[c, e][1] for e in range(n_episodes)] for c in range(n_cells)]
        has_lengths = all(n is not None for row in lengths for n in row)
        try:
            return cls(
                env_id=env_id,
                cells=[cells[c] for c in range(n_cells)],
                returns=returns,
                lengths=np.array(lengths, dtype=np.int64) if has_lengths else None,
                seed=seeds.pop() if seeds else None,
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{path}: {exc}") from exc

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
        """
        :param data: what :meth:`to_dict` returned (``env_id``, ``cells`` and ``returns`` required; ``lengths`` and
            ``seed`` optional)
        :return: the report :meth:`to_dict` described
        :raises TypeError: ``data`` is not a mapping, or a field has the wrong type
        :raises ValueError: a required key is missing, a key is unknown, or a field has a bad value
        """
        if not isinstance(data, Mapping):
            raise TypeError(
                f"RobustnessReport.from_dict takes the mapping to_dict() returns, got {data!r:.200} ({type(data).__name__})"
            )
        missing = [key for key in _DICT_REQUIRED if key not in data]
        unknown = [key for key in data if key not in _DICT_REQUIRED + _DICT_OPTIONAL]
        if missing or unknown:
            problems = [f"missing keys {missing}"] * bool(missing) + [f"unknown keys {unknown}"] * bool(unknown)
            raise ValueError(
                f"RobustnessReport.from_dict: {'; '.join(problems)}; a report holds {list(_DICT_REQUIRED)} and optionally "
                f"{list(_DICT_OPTIONAL)} (as to_dict() writes them)"
            )
        return cls(
            env_id=data["env_id"],
            cells=data["cells"],
            returns=data["returns"],
            lengths=data.get("lengths"),
            seed=data.get("seed"),
        )

    def to_json(self, path: str | Path) -> Path:
        """
        Write the report as JSON; :meth:`from_json` reads it back exactly (floats are written with ``repr``).

        :param path: the file to write
        :return: the path written
        :raises TypeError: ``path`` is not a file name
        :raises ValueError: a path that cannot be written (see :func:`~robust_envs.evaluation.paths.check_output_path`);
            nothing is written then
        """
        path = check_output_path(path, "to_json path")
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> RobustnessReport:
        """
        :param path: a file written by :meth:`to_json`
        :return: the report
        :raises TypeError: ``path`` is not a file name, or the file holds a field of the wrong type
        :raises FileNotFoundError: no such file
        :raises ValueError: the file is not JSON, or not a report's :meth:`to_dict`; the message names the file
        """
        path = _input_path(path, "RobustnessReport.from_json")
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a JSON file written by RobustnessReport.to_json ({exc})") from None
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{path}: {exc}") from exc

    def summary(self, alpha: float = 0.1) -> str:
        """
        A plain-text table: one row per cell (its parameters, mean, std and min return), then the overall
        mean, the worst cell and the ``alpha`` worst-case return (:meth:`cvar`).

        :param alpha: the fraction for the worst-case line (the papers' 10%)
        :return: the table
        :raises TypeError: ``alpha`` is not a number
        :raises ValueError: ``alpha`` is outside ``(0, 1]``
        """
        alpha = _check_alpha(alpha)
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
        :raises TypeError: ``path`` is not a file name
        :raises ValueError: the cells do not form a 2-d grid (see :meth:`grid_axes`), or ``path`` cannot be written or
            has no image suffix (see :func:`~robust_envs.evaluation.paths.check_output_path`); nothing is written then
        :raises ImportError: matplotlib is missing
        """
        from robust_envs.evaluation.plots import plot_heatmap

        return plot_heatmap(self, path, x=x, y=y)

    def plot_bars(self, path: str | Path) -> Path:
        """
        Save a bar chart: one bar per cell at its mean return, error bars one standard deviation.

        :param path: the image file to write (format from the suffix, e.g. ``.png``)
        :return: the path written
        :raises TypeError: ``path`` is not a file name
        :raises ValueError: ``path`` cannot be written or has no image suffix; nothing is written then
        :raises ImportError: matplotlib is missing
        """
        from robust_envs.evaluation.plots import plot_bars

        return plot_bars(self, path)


def _check_cells(cells: Any) -> list[dict[str, float]]:
    """:return: ``cells`` as new ``{str: float}`` dicts, checked (a list of mappings of names to finite numbers)."""
    if isinstance(cells, str | bytes | Mapping) or not isinstance(cells, Sequence):
        raise TypeError(f"cells must be a list of {{param: value}} mappings, got {cells!r} ({type(cells).__name__})")
    if len(cells) == 0:
        raise ValueError("cells must hold at least one {param: value} mapping (one per evaluated setting), got []")
    out = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, Mapping):
            raise TypeError(f"cell {i} must be a {{param: value}} mapping, got {cell!r} ({type(cell).__name__})")
        checked = {}
        for key, value in cell.items():
            if not isinstance(key, str):
                raise TypeError(f"cell {i}: parameter names must be strings, got {key!r} ({type(key).__name__})")
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
                raise TypeError(f"cell {i}: value of {key!r} must be a number, got {value!r} ({type(value).__name__})")
            if not math.isfinite(value):
                raise ValueError(f"cell {i}: value of {key!r} must be finite, got {value!r}")
            checked[key] = float(value)
        out.append(checked)
    return out


def _number_array(values: Any, name: str) -> np.ndarray:
    """:return: ``values`` as a float64 array; a ``TypeError`` naming ``values`` if they are not all real numbers."""
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers, got {values!r:.200} ({exc})") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got {values!r:.200} (dtype {array.dtype})")
    return array.astype(np.float64)


def _first_bad(values: np.ndarray, bad: np.ndarray | None = None) -> str:
    """:return: the first entry of ``values`` that is not finite (or flagged by ``bad``), and its index."""
    flags = ~np.isfinite(values) if bad is None else bad
    index = tuple(int(i) for i in np.argwhere(flags)[0])
    return f"{float(values[index])!r} at {index}"


def _check_alpha(alpha: Any) -> float:
    """:return: ``alpha`` as a float, checked to be a number in ``(0, 1]``."""
    if isinstance(alpha, bool | np.bool_) or not isinstance(alpha, int | float | np.integer | np.floating):
        raise TypeError(f"alpha must be a number in (0, 1], got {alpha!r} ({type(alpha).__name__})")
    if not 0.0 < alpha <= 1.0:  # NaN fails this too
        raise ValueError(f"alpha must be a fraction in (0, 1], got {alpha!r}")
    return float(alpha)


def _input_path(path: Any, reader: str) -> Path:
    """:return: ``path`` as a ``Path``; a ``TypeError`` naming it if it is not a file name."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"{reader} takes a file name (a str or a pathlib.Path), got {path!r} ({type(path).__name__})")
    return Path(path)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """:return: the header of a CSV written by :meth:`RobustnessReport.to_csv`, checked, and its rows with line numbers."""
    try:
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            lines = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a CSV file written by RobustnessReport.to_csv (not UTF-8 text: {exc})") from None
    except csv.Error as exc:
        raise ValueError(f"{path} is not a CSV file written by RobustnessReport.to_csv ({exc})") from None
    if header is None:
        raise ValueError(f"{path} is empty; expected the header {','.join(_CSV_FIXED[:3])},<params>,length,return")
    missing = [column for column in _CSV_FIXED if column not in header]
    if missing:
        raise ValueError(f"{path} is not a report written by to_csv: its header {header} lacks the columns {missing}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: the header {header} names a column twice")
    if not lines:
        raise ValueError(f"{path} holds no rows")
    return header, lines


def _csv_int(text: str, where: str, column: str) -> int:
    """:return: a CSV field as an int >= 0; a ``ValueError`` naming the file, line, column and text otherwise."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: column {column!r} must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{where}: column {column!r} must be a whole number >= 0, got {text!r}")
    return value


def _csv_float(text: str, where: str, column: str) -> float:
    """:return: a CSV field as a float; a ``ValueError`` naming the file, line, column and text otherwise."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: column {column!r} must be a number, got {text!r}") from None


def format_param(value: float | None) -> str:
    """:return: a parameter value as the tables print it (``-`` where a cell does not set it)."""
    return "-" if value is None else f"{value:.6g}"


def format_cell(cell: Mapping[str, float], sep: str = ", ") -> str:
    """:return: a cell as ``name=value`` pairs joined by ``sep`` (``(base parameters)`` for an empty cell)."""
    return sep.join(f"{k}={v:.4g}" for k, v in cell.items()) or "(base parameters)"
