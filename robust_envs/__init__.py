"""Perturbable Gymnasium environments with named physical parameters, next-state sampling and robustness evaluation."""

from __future__ import annotations

import importlib
from typing import Any

from robust_envs.registration import ENVS, env_class, register_robust_envs
from robust_envs.version import __version__

register_robust_envs()

# Heavier modules (MuJoCo, the envs, evaluation) load on first use, so `import robust_envs` stays cheap.
_LAZY = {
    "ParamSpec": "robust_envs.params",
    "ParamSpace": "robust_envs.params",
    "ParamGroup": "robust_envs.params",
    "GeometryEdit": "robust_envs.params",
    "UncertaintySet": "robust_envs.uncertainty",
    "get_preset": "robust_envs.presets",
    "list_presets": "robust_envs.presets",
    "presets_by_env": "robust_envs.presets",
    "DomainRandomization": "robust_envs.wrappers",
    "PerturbedTransitions": "robust_envs.wrappers",
    "ForceDisturbance": "robust_envs.wrappers",
    "DisturbedByPolicy": "robust_envs.wrappers",
    "DisturberEnv": "robust_envs.wrappers",
    "ProbabilisticActionRobust": "robust_envs.action_robust",
    "ProbabilisticActionAdversary": "robust_envs.action_robust",
    "evaluate_robustness": "robust_envs.evaluation",
    "RobustnessReport": "robust_envs.evaluation",
    "NextStates": "robust_envs.core",
    "PerturbableEnv": "robust_envs.core",
    "RobustMujocoEnv": "robust_envs.mujoco_env",
}

__all__ = ["ENVS", "__version__", "env_class", "register_robust_envs", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'robust_envs' has no attribute {name!r}")
