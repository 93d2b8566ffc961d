"""Robust reinforcement-learning trainers in Stable-Baselines3 style.

Classes are imported on first access, so ``import robust_sb3`` stays cheap and one trainer's
dependencies never load with another's.
"""

from __future__ import annotations

import importlib
from typing import Any

from robust_envs.version import __version__

_EXPORTS = {
    "RRL": "robust_sb3.rrl",
    "MPO": "robust_sb3.mpo",
    "RobustSAC": "robust_sb3.sac",
    "MRPO": "robust_sb3.mrpo",
    "EPOpt": "robust_sb3.mrpo",
    "RARL": "robust_sb3.rarl",
    "PRMDP": "robust_sb3.prmdp",
    "WR2L": "robust_sb3.wr2l",
    "RAMBO": "robust_sb3.rambo",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robust_sb3' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
