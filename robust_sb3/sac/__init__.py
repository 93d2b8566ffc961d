"""RobustSAC: SAC with the robust and soft-robust critic targets (the RE-SVG and SRE-SVG agents of Mankowitz et al. 2020)."""

from robust_sb3.sac.robust_sac import RobustSAC

__all__ = ["RobustSAC"]
