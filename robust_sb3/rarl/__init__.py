"""
RARL, Robust Adversarial Reinforcement Learning (Pinto et al., ICML 2017), one of WR2L's baselines.

:class:`~robust_sb3.common.two_player.TwoPlayerPPO` is the alternating two-player PPO loop (Algorithm 1) that RARL and
:class:`robust_sb3.prmdp.PRMDP` share.
"""

from robust_sb3.common.two_player import DEFAULT_POLICY_KWARGS, TwoPlayerPPO
from robust_sb3.rarl.rarl import PINTO2017_BODIES, RARL

__all__ = ["DEFAULT_POLICY_KWARGS", "PINTO2017_BODIES", "RARL", "TwoPlayerPPO"]
