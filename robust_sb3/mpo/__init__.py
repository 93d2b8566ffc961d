"""The MPO family of Mankowitz et al. (ICLR 2020): MPO, R-MPO, SR-MPO, E-MPO, RE-MPO, SRE-MPO."""

from __future__ import annotations

import importlib
from typing import Any

from robust_sb3.common.buffers import PerturbedReplayBuffer, PerturbedReplayBufferSamples
from robust_sb3.common.robust_target import RobustTarget, robust_td_target
from robust_sb3.mpo.mpo import MPO
from robust_sb3.mpo.policies import MlpPolicy, MPOPolicy, MultiInputPolicy

# Kept for now so that ``from robust_sb3.mpo import RobustSAC`` keeps working: RobustSAC moved to robust_sb3.sac
# (loaded on first access, so importing MPO does not load SAC). The buffer and the target re-exported above live in
# robust_sb3.common. These re-exports will be removed.
_MOVED = {"RobustSAC": "robust_sb3.sac"}

__all__ = [
    "MPO",
    "MPOPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "PerturbedReplayBuffer",
    "PerturbedReplayBufferSamples",
    "RobustSAC",
    "RobustTarget",
    "robust_td_target",
]


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'robust_sb3.mpo' has no attribute {name!r}")
