"""
Plots of a :class:`~robust_envs.evaluation.report.RobustnessReport`: a heatmap of a 2-d grid and a bar chart.

matplotlib (the ``[plots]`` extra) is imported when a plot is drawn, never when this module is imported. Figures are
made with ``matplotlib.figure.Figure``, without pyplot: they render headless (Agg for raster files) and leave
pyplot's global backend and figure list untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robust_envs.evaluation.paths import check_output_path
from robust_envs.evaluation.report import format_cell

if TYPE_CHECKING:
    from robust_envs.evaluation.report import RobustnessReport

PLOTS_HINT = "pip install 'robust-rl[plots]'"


def figure_class() -> type:
    """
    :return: matplotlib's ``Figure``
    :raises ImportError: matplotlib is missing (the message says how to install it)
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"Plotting needs matplotlib: {PLOTS_HINT}") from exc
    return Figure


def image_formats() -> dict[str, str]:
    """
    :return: the file suffixes (without the dot, e.g. ``"png"``) that matplotlib can save to, with their descriptions
    :raises ImportError: matplotlib is missing
    """
    figure_class()  # the ImportError with the install hint
    from matplotlib.backend_bases import FigureCanvasBase

    return dict(FigureCanvasBase.get_supported_filetypes())


def plot_heatmap(report: RobustnessReport, path: str | Path, x: str | None = None, y: str | None = None) -> Path:
    """
    Save a heatmap of the mean return per cell of a 2-d grid, each cell annotated with its value.

    :param report: the report to plot
    :param path: the image file to write (format from the suffix, e.g. ``.png``)
    :param x: the parameter on the horizontal axis (default: the first varied parameter)
    :param y: the parameter on the vertical axis (default: the second varied parameter)
    :return: the path written
    :raises TypeError: ``path`` is not a file name
    :raises ValueError: the cells do not form a 2-d grid (see :meth:`RobustnessReport.grid_axes`), or ``path`` cannot
        be written or has no image suffix (see :func:`~robust_envs.evaluation.paths.check_output_path`); nothing is
        written then
    :raises ImportError: matplotlib is missing
    """
    path = check_output_path(path, "heatmap path", image=True)
    x, y, xs, ys, means = report.grid_axes(x, y)
    figure_cls = figure_class()
    fig = figure_cls(figsize=(max(4.5, 1.8 + 0.9 * len(xs)), max(3.5, 1.5 + 0.6 * len(ys))), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(means, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="mean return")
    ax.set_xticks(range(len(xs)), [f"{v:.4g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:.4g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{report.env_id}\nmean return over {report.n_episodes} episode(s) per cell", fontsize=10)
    middle = (np.nanmin(means) + np.nanmax(means)) / 2.0
    for i in range(len(ys)):
        for j in range(len(xs)):
            colour = "black" if means[i, j] > middle else "white"
            ax.text(j, i, f"{means[i, j]:.4g}", ha="center", va="center", color=colour, fontsize=8)
    fig.savefig(path, dpi=100)
    return path


def plot_bars(report: RobustnessReport, path: str | Path) -> Path:
    """
    Save a bar chart: one bar per cell at its mean return, error bars one standard deviation.

    :param report: the report to plot
    :param path: the image file to write (format from the suffix, e.g. ``.png``)
    :return: the path written
    :raises TypeError: ``path`` is not a file name
    :raises ValueError: ``path`` cannot be written or has no image suffix (see
        :func:`~robust_envs.evaluation.paths.check_output_path`); nothing is written then
    :raises ImportError: matplotlib is missing
    """
    path = check_output_path(path, "bar chart path", image=True)
    figure_cls = figure_class()
    fig = figure_cls(figsize=(max(5.0, 0.9 * report.n_cells + 1.5), 4.5), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(report.n_cells)
    ax.bar(positions, report.cell_means, yerr=report.cell_stds, capsize=3, color="tab:blue")
    labels = [format_cell(cell, sep="\n") for cell in report.cells]
    ax.set_xticks(positions, labels, fontsize=7, rotation=90 if report.n_cells > 8 else 0)
    ax.set_ylabel("mean return (± std)")
    ax.set_title(f"{report.env_id}\nmean return over {report.n_episodes} episode(s) per cell", fontsize=10)
    fig.savefig(path, dpi=100)
    return path
