"""The MPO family of Mankowitz et al. (ICLR 2020): MPO, R-MPO, SR-MPO, E-MPO, RE-MPO, SRE-MPO, and RobustSAC (RE-SVG)."""

from robust_sb3.mpo.buffers import PerturbedReplayBuffer, PerturbedReplayBufferSamples
from robust_sb3.mpo.mpo import MPO
from robust_sb3.mpo.policies import MlpPolicy, MPOPolicy, MultiInputPolicy
from robust_sb3.mpo.robust_sac import RobustSAC
from robust_sb3.mpo.robust_target import RobustTarget, robust_td_target

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
