"""
Deprecated location, kept so that old imports keep working for now: the K-next-state replay buffer moved to
:mod:`robust_sb3.common.buffers`. Import from there; this thin re-export will be removed.
"""

from robust_sb3.common.buffers import (
    PERTURBED_INFO_KEYS,
    PerturbedReplayBuffer,
    PerturbedReplayBufferSamples,
    next_state_batch,
)
from robust_sb3.common.robust_critic import n_models_of

__all__ = ["PERTURBED_INFO_KEYS", "PerturbedReplayBuffer", "PerturbedReplayBufferSamples", "n_models_of", "next_state_batch"]
