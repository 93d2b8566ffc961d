"""PR-MDP, probabilistic action robustness (Tessler, Efroni and Mannor, ICML 2019), one of WR2L's baselines."""

from robust_sb3.prmdp.prmdp import PRMDP

__all__ = ["PRMDP"]
