"""
RAMBO-RL (Rigter, Lacerda and Hawes, 2022): robust adversarial model-based offline RL.

- :mod:`~robust_sb3.rambo.rambo`: :class:`RAMBO`, the algorithm (SB3's SAC on an offline clock);
- :mod:`~robust_sb3.rambo.adversary`: the adversarial model loss ``lambda * mean(A * log p) + MLE`` (Eq. 5-7);
- :mod:`~robust_sb3.rambo.mixture`: the log-density under the mixture of elites (``logsumexp``);
- :mod:`~robust_sb3.rambo.rollouts`: branched ``k``-step model rollouts that stop at terminals;
- :mod:`~robust_sb3.rambo.buffers`: the FIFO model pool sampled with the real data (fraction ``f``);
- :mod:`~robust_sb3.rambo.bc`: the behaviour-cloning warm start;
- :mod:`~robust_sb3.rambo.checkpoint`: checkpoints from which an interrupted ``learn`` continues bit for bit;
- :mod:`~robust_sb3.rambo.data`: datasets (Minari ids, ``Episodes``, dicts of arrays) as transitions;
- :mod:`~robust_sb3.rambo.policies`: SAC's policy reading standardised observations;
- :mod:`~robust_sb3.rambo.presets`: per-dataset ``(k, lambda)`` and CPU/smoke scales.
"""

from robust_sb3.rambo.checkpoint import EpochCheckpoint
from robust_sb3.rambo.policies import MlpPolicy
from robust_sb3.rambo.presets import CPU_EPOCHS, PAPER_EPOCHS, RAMBO_PRESETS, SMOKE_EPOCHS, rambo_preset
from robust_sb3.rambo.rambo import RAMBO

__all__ = [
    "CPU_EPOCHS",
    "PAPER_EPOCHS",
    "RAMBO",
    "RAMBO_PRESETS",
    "SMOKE_EPOCHS",
    "EpochCheckpoint",
    "MlpPolicy",
    "rambo_preset",
]
