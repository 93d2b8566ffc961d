"""MRPO, EPOpt (PW-DR) and the PPO-DR recipe of Jiang et al. (ICML 2021)."""

from robust_sb3.common.buffers import EnvMaskedDictRolloutBuffer, EnvMaskedRolloutBuffer
from robust_sb3.common.sampled_envs import SampledEnvsPPO, Selection
from robust_sb3.mrpo.domain_randomization import make_domain_randomized_env
from robust_sb3.mrpo.epopt import EPOpt
from robust_sb3.mrpo.mrpo import MRPO, KappaRamp

# The buffers and SampledEnvsPPO live in robust_sb3.common (MRPO and EPOpt share them); re-exported here as before.
__all__ = [
    "MRPO",
    "EPOpt",
    "EnvMaskedDictRolloutBuffer",
    "EnvMaskedRolloutBuffer",
    "KappaRamp",
    "SampledEnvsPPO",
    "Selection",
    "make_domain_randomized_env",
]
