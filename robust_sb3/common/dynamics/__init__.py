"""
The dynamics ensemble RAMBO (Rigter et al., 2022) and DDR-MPO (Mankowitz et al., 2020) stand on.

- :mod:`~robust_sb3.common.dynamics.ensemble`: :class:`GaussianEnsemble`, prediction, save/load;
- :mod:`~robust_sb3.common.dynamics.network`: the members' layers as stacked tensors (one batched call);
- :mod:`~robust_sb3.common.dynamics.normalizer`: input standardisation;
- :mod:`~robust_sb3.common.dynamics.losses`: Gaussian NLL, log-variance bound penalty, weight decay;
- :mod:`~robust_sb3.common.dynamics.training`: holdout, bootstrap, early stopping, elites;
- :mod:`~robust_sb3.common.dynamics.termination`: the envs' termination rules on observations;
- :mod:`~robust_sb3.common.dynamics.data`: checking transition arrays.
"""

from robust_sb3.common.dynamics.ensemble import EnsemblePrediction, GaussianEnsemble
from robust_sb3.common.dynamics.termination import HealthyRange, ObservationTermination, termination_fn
from robust_sb3.common.dynamics.training import FitResult

__all__ = [
    "EnsemblePrediction",
    "FitResult",
    "GaussianEnsemble",
    "HealthyRange",
    "ObservationTermination",
    "termination_fn",
]
