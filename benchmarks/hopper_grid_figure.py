"""
The torso density x friction grid of ``RobustHopper-v0`` as the reproductions draw it (WR2L's Figure 1 and the
RAMBO robustness grid): each cell's mean return averaged over seeds, values written in, one colour scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_grid(
    evaluations: Sequence[tuple[Sequence[dict[str, float]], Sequence[Sequence[float]]]],
) -> tuple[list[float], list[float], np.ndarray]:
    """
    :param evaluations: one ``(cells, returns)`` per seed: the cells' parameters (``torso_density``, ``friction``) and
        each cell's episode returns
    :return: the grid's densities, frictions, and each cell's return averaged over episodes then seeds (rows: frictions)
    """
    cells = evaluations[0][0]
    densities = sorted({cell["torso_density"] for cell in cells})
    frictions = sorted({cell["friction"] for cell in cells})
    grid = np.zeros((len(frictions), len(densities)))
    for cells, returns in evaluations:
        for cell, episodes in zip(cells, returns, strict=True):
            grid[frictions.index(cell["friction"]), densities.index(cell["torso_density"])] += np.mean(episodes) / len(
                evaluations
            )
    return densities, frictions, grid


def draw_grid(
    ax: Any, densities: Sequence[float], frictions: Sequence[float], grid: np.ndarray, high: float, title: str
) -> Any:
    """
    Draw one grid on a matplotlib axis, coloured from 0 to ``high`` (shared by the panels of one figure).

    :return: the image (for the figure's colour bar)
    """
    image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0.0, vmax=high, aspect="auto")
    for (row, col), value in np.ndenumerate(grid):
        ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=6, color="w" if value < high / 2 else "k")
    ax.set_xticks(range(len(densities)), [f"{d:.0f}" for d in densities], fontsize=7)
    ax.set_yticks(range(len(frictions)), [f"{f:.2f}" for f in frictions], fontsize=7)
    ax.set_xlabel("torso density (kg/m^3)", fontsize=8)
    ax.set_title(title, fontsize=8)
    return image
