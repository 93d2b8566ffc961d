"""
The ensemble's training objective: Gaussian negative log-likelihood, the log-variance bound penalty, weight decay.

As in PETS (Chua et al., 2018, Eq. 3 and appendix A.1) and MBPO (Janner et al., 2019), whose model code RAMBO
(Rigter et al., 2022) reuses: per member, the mean over rows and output dimensions of
``(mu - y)^2 exp(-logvar) + logvar`` (the NLL of a diagonal Gaussian up to a constant and a factor 2), summed
over members, plus ``coef * (sum(max_logvar) - sum(min_logvar))``, which keeps the learned bounds tight, plus
per-layer L2 weight decay ``decay_l * ||W_l||^2 / 2`` (TensorFlow's ``l2_loss``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch as th

#: MBPO's and RAMBO's per-layer weight decays for 4 hidden layers and the output layer
MBPO_WEIGHT_DECAYS: tuple[float, ...] = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)


def gaussian_nll(mean: th.Tensor, logvar: th.Tensor, target: th.Tensor) -> th.Tensor:
    """
    :param mean: predicted means, ``(E, N, D)``
    :param logvar: predicted log-variances, ``(E, N, D)``
    :param target: targets, ``(E, N, D)`` or ``(N, D)`` (the same rows for every member)
    :return: per member, the mean over rows and dimensions of ``(mean - target)^2 exp(-logvar) + logvar``, ``(E,)``
    """
    return ((mean - target).square() * th.exp(-logvar) + logvar).mean(dim=(1, 2))


def squared_error(mean: th.Tensor, target: th.Tensor) -> th.Tensor:
    """
    :param mean: predicted means, ``(E, N, D)``
    :param target: targets, ``(E, N, D)`` or ``(N, D)``
    :return: per member, the mean squared error over rows and dimensions, ``(E,)`` (MBPO's holdout metric)
    """
    return (mean - target).square().mean(dim=(1, 2))


def logvar_bound_penalty(max_logvar: th.Tensor, min_logvar: th.Tensor) -> th.Tensor:
    """:return: ``sum(max_logvar) - sum(min_logvar)``, the width of the learned log-variance bounds."""
    return max_logvar.sum() - min_logvar.sum()


def layer_weight_decays(n_layers: int, decay: float | Sequence[float] | None) -> tuple[float, ...]:
    """
    The decay coefficient of each weight layer.

    :param n_layers: the number of weight layers (hidden layers + 1)
    :param decay: ``None`` for MBPO's schedule (exact for 5 layers; for other depths the same range,
        2.5e-5 to 1e-4, interpolated linearly over the layers), a float for every layer, or one value per layer
    :return: one coefficient per layer
    :raises ValueError: a sequence of the wrong length or a negative or non-finite coefficient
    """
    if decay is None:
        positions = np.linspace(0.0, len(MBPO_WEIGHT_DECAYS) - 1.0, n_layers)
        return tuple(float(v) for v in np.interp(positions, np.arange(len(MBPO_WEIGHT_DECAYS)), MBPO_WEIGHT_DECAYS))
    values = (decay,) * n_layers if isinstance(decay, int | float) else tuple(decay)
    if len(values) != n_layers:
        raise ValueError(
            f"weight_decay must hold one value per weight layer ({n_layers}: the hidden layers and the output layer), "
            f"got {len(values)}: {values!r}"
        )
    if not all(isinstance(v, int | float) and np.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"weight_decay values must be finite and >= 0, got {values!r}")
    return tuple(float(v) for v in values)


def weight_decay_penalty(weights: Sequence[th.Tensor], decays: Sequence[float]) -> th.Tensor:
    """
    :param weights: the weight tensors, one per layer (all members stacked)
    :param decays: one coefficient per layer
    :return: ``sum_l decays[l] * ||weights[l]||^2 / 2``
    """
    return th.stack([0.5 * d * w.square().sum() for w, d in zip(weights, decays, strict=True)]).sum()
