"""
Deprecated location, kept so that old imports keep working for now: the sampled-environments machinery moved to
:mod:`robust_sb3.common.sampled_envs`. Import from there; this thin re-export will be removed.
"""

from robust_sb3.common.sampled_envs import (
    REPORTED_WORST_FRACTION,
    RETURN_ESTIMATES,
    SampledEnvsPPO,
    Selection,
    episode_time_limit,
    persistent_params,
    resolve_uncertainty_set,
)

__all__ = [
    "REPORTED_WORST_FRACTION",
    "RETURN_ESTIMATES",
    "SampledEnvsPPO",
    "Selection",
    "episode_time_limit",
    "persistent_params",
    "resolve_uncertainty_set",
]
