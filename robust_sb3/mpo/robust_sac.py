"""
Deprecated location, kept so that old imports keep working for now: RobustSAC moved to :mod:`robust_sb3.sac`.
Import ``from robust_sb3.sac import RobustSAC`` (or ``from robust_sb3 import RobustSAC``); this re-export will be removed.
"""

from robust_sb3.sac.robust_sac import RobustSAC

__all__ = ["RobustSAC"]
