"""
Deprecated location, kept so that old imports keep working for now: the robust target moved to
:mod:`robust_sb3.common.robust_target` (MPO and RobustSAC share it). Import from there; this thin re-export will be removed.
"""

from robust_sb3.common.robust_target import (
    ROBUSTNESS,
    RobustTarget,
    aggregate_models,
    check_robustness,
    check_target_shapes,
    diagonal_gaussian_kl,
    robust_td_target,
)

__all__ = [
    "ROBUSTNESS",
    "RobustTarget",
    "aggregate_models",
    "check_robustness",
    "check_target_shapes",
    "diagonal_gaussian_kl",
    "robust_td_target",
]
