"""
Robustness evaluation: the returns of one policy over a grid or set of physical parameters.

:func:`evaluate_robustness` runs a fixed policy for ``n_episodes`` seeded episodes in every cell of a
parameter grid (or every member of an uncertainty set) and returns a :class:`RobustnessReport` with the
per-cell statistics, the worst cell and the papers' "10% worst-case return" (:meth:`RobustnessReport.cvar`),
tables, CSV/JSON files and plots.

One module per job:

- :mod:`~robust_envs.evaluation.report`: :class:`RobustnessReport`, its statistics, text table and CSV/JSON;
- :mod:`~robust_envs.evaluation.plots`: the heatmap and the bar chart (matplotlib, imported when drawing);
- :mod:`~robust_envs.evaluation.runner`: :func:`evaluate_robustness`, the cells and their checks, the process and
  Ray runners;
- :mod:`~robust_envs.evaluation.paths`: :func:`check_output_path`, the one check of every output file (before
  anything is written);
- :mod:`~robust_envs.evaluation.policies`: :func:`as_policy` (a callable or an SB3 model as ``obs -> action``)
  and :class:`SavedModel` (an SB3 model shipped to workers as its saved bytes).

Nothing here imports torch or Stable-Baselines3: an SB3 model is recognised by its ``predict`` method.
"""

from __future__ import annotations

from robust_envs.evaluation.paths import check_output_path
from robust_envs.evaluation.policies import Policy, SavedModel, as_policy
from robust_envs.evaluation.report import RobustnessReport
from robust_envs.evaluation.runner import BACKENDS, GridOrSet, check_cells, check_env_id, evaluate_robustness, expand_cells

__all__ = [
    "BACKENDS",
    "GridOrSet",
    "Policy",
    "RobustnessReport",
    "SavedModel",
    "as_policy",
    "check_cells",
    "check_env_id",
    "check_output_path",
    "evaluate_robustness",
    "expand_cells",
]
