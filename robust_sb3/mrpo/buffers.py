"""
Deprecated location, kept so that old imports keep working for now: the env-masked rollout buffers moved to
:mod:`robust_sb3.common.buffers`. Import from there; this thin re-export will be removed.
"""

from robust_sb3.common.buffers import EnvMask, EnvMaskedDictRolloutBuffer, EnvMaskedRolloutBuffer

__all__ = ["EnvMask", "EnvMaskedDictRolloutBuffer", "EnvMaskedRolloutBuffer"]
