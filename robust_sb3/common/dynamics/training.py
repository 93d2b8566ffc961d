"""
Maximum-likelihood training of the ensemble, with a holdout split, early stopping and elite selection.

The procedure of MBPO's ``BNN.train`` (Janner et al., 2019), which RAMBO (Rigter et al., 2022) runs for its
model pre-training:

1. **Holdout**: a random ``min(holdout_ratio * N, max_holdout)`` transitions are held out (MBPO/RAMBO: 10%,
   OfflineRL-Kit: 20%, both capped at 1000); the input normaliser is fitted on the rest.
2. **Per-member data**: with ``bootstrap=True`` each member draws its own bootstrap resample (``N_train``
   indices with replacement, drawn once, as MBPO); with ``bootstrap=False`` each member sees every training
   transition. Either way each member's rows are shuffled independently every epoch, so members see different
   minibatches.
3. **Epochs** of minibatch Adam steps on :mod:`~robust_sb3.common.dynamics.losses`' objective, all members in
   one batched forward per step.
4. **Early stopping**: after every epoch each member's holdout MSE (of the mean prediction, over all outputs)
   is compared with its best so far; a member whose MSE fell by more than ``min_improvement`` (relative, 1%)
   keeps these weights as its best. Training stops once no member has improved for more than ``patience``
   consecutive epochs (MBPO's ``max_epochs_since_update``: 5; RAMBO's configs use 10), or at ``max_epochs``.
5. Every member gets back its best weights (the shared log-variance bounds keep their last values, as in
   MBPO, whose snapshots hold the layers only), and the ``n_elites`` members with the lowest holdout MSE become
   the elites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch as th

from robust_sb3.common.dynamics.data import Transitions, targets_of
from robust_sb3.common.dynamics.losses import (
    gaussian_nll,
    layer_weight_decays,
    logvar_bound_penalty,
    weight_decay_penalty,
)
from robust_sb3.common.validation import check_int, check_number

if TYPE_CHECKING:
    from robust_sb3.common.dynamics.ensemble import GaussianEnsemble

OWNER = "GaussianEnsemble.fit"


@dataclass
class FitResult:
    """
    What one call of :meth:`GaussianEnsemble.fit` did.

    :param epochs: epochs run
    :param stopped_early: stopped by the holdout rule (``False``: ``max_epochs`` reached)
    :param n_train: training transitions
    :param n_holdout: holdout transitions
    :param holdout_mse: each member's holdout MSE with its kept weights, ``(E,)``
    :param best_epochs: the epoch (from 0) each member's kept weights come from, ``(E,)``
    :param elites: the elite members, best first
    :param train_loss: the mean training objective of each epoch
    :param holdout_mse_history: each epoch's holdout MSE per member, ``(epochs, E)``
    """

    epochs: int
    stopped_early: bool
    n_train: int
    n_holdout: int
    holdout_mse: np.ndarray
    best_epochs: np.ndarray
    elites: np.ndarray
    train_loss: list[float] = field(default_factory=list)
    holdout_mse_history: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))


class BestWeights:
    """
    Each member's best weights so far by holdout MSE, and the count of epochs without an improvement.

    :param layers: the ensemble layers (weights ``(E, in, out)``, biases ``(E, 1, out)``)
    :param min_improvement: the relative fall of the MSE that counts as an improvement
    """

    def __init__(self, layers: Sequence[th.nn.Module], min_improvement: float) -> None:
        self.tensors = [t for layer in layers for t in (layer.weight, layer.bias)]
        self.saved = [t.detach().clone() for t in self.tensors]
        n_members = self.tensors[0].shape[0]
        self.best = np.full(n_members, np.inf)
        self.best_epoch = np.full(n_members, -1)
        self.min_improvement = min_improvement
        self.epochs_since_update = 0

    def update(self, epoch: int, mse: np.ndarray) -> None:
        """Keep the weights of the members whose MSE fell by more than the threshold (any finite MSE, the first time)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            improved = np.where(np.isinf(self.best), np.isfinite(mse), (self.best - mse) / self.best > self.min_improvement)
        if improved.any():
            mask = th.as_tensor(improved, device=self.saved[0].device)
            for saved, tensor in zip(self.saved, self.tensors, strict=True):
                saved[mask] = tensor.detach()[mask]
            self.best[improved] = mse[improved]
            self.best_epoch[improved] = epoch
            self.epochs_since_update = 0
        else:
            self.epochs_since_update += 1

    def restore(self) -> None:
        """Put every member's best weights back (a member that never had a finite MSE keeps its last ones)."""
        kept = th.as_tensor(self.best_epoch >= 0, device=self.saved[0].device)
        with th.no_grad():
            for saved, tensor in zip(self.saved, self.tensors, strict=True):
                tensor[kept] = saved[kept]


def split_holdout(n: int, holdout_ratio: float, max_holdout: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """
    :param n: the number of transitions
    :param holdout_ratio: the share held out
    :param max_holdout: the cap on the holdout size
    :param rng: the random generator of the split
    :return: training and holdout row indices
    :raises ValueError: too few transitions for a non-empty training set and holdout set
    """
    n_holdout = min(int(n * holdout_ratio), max_holdout)
    if n_holdout < 1 or n - n_holdout < 1:
        raise ValueError(
            f"{OWNER}: {n} transitions leave {n_holdout} for the holdout (holdout_ratio={holdout_ratio}, "
            f"max_holdout={max_holdout}) and {n - n_holdout} for training; both need at least 1: pass more data "
            "or a larger holdout_ratio"
        )
    order = rng.permutation(n)
    return order[n_holdout:], order[:n_holdout]


def member_rows(n_members: int, n_train: int, bootstrap: bool, rng: np.random.Generator) -> np.ndarray:
    """:return: each member's training rows ``(E, n_train)``: a bootstrap resample, or every row."""
    if bootstrap:
        return rng.integers(0, n_train, size=(n_members, n_train))
    return np.tile(np.arange(n_train), (n_members, 1))


def _check_arguments(
    learning_rate: float,
    batch_size: int,
    holdout_ratio: float,
    max_holdout: int,
    patience: int,
    min_improvement: float,
    max_epochs: int | None,
    logvar_penalty: float,
) -> None:
    check_number(OWNER, "learning_rate", learning_rate, 0.0, low_open=True)
    check_int(OWNER, "batch_size", batch_size, 1)
    check_number(OWNER, "holdout_ratio", holdout_ratio, 0.0, 1.0, low_open=True, high_open=True)
    check_int(OWNER, "max_holdout", max_holdout, 1)
    check_int(OWNER, "patience", patience, 0)
    check_number(OWNER, "min_improvement", min_improvement, 0.0)
    if max_epochs is not None:
        check_int(OWNER, "max_epochs", max_epochs, 1)
    check_number(OWNER, "logvar_penalty", logvar_penalty, 0.0)


def fit_ensemble(
    ensemble: GaussianEnsemble,
    transitions: Transitions,
    learning_rate: float = 1e-3,
    batch_size: int = 256,
    holdout_ratio: float = 0.2,
    max_holdout: int = 1000,
    patience: int = 5,
    min_improvement: float = 0.01,
    max_epochs: int | None = None,
    bootstrap: bool = True,
    weight_decay: float | Sequence[float] | None = None,
    logvar_penalty: float = 0.01,
    seed: int | None = None,
) -> FitResult:
    """
    Train all members by Gaussian NLL until the holdout MSE stops improving; set the elites (module docstring).

    :param ensemble: the ensemble (trained in place)
    :param transitions: the checked training data
    :param learning_rate: Adam's step size (MBPO: 1e-3; RAMBO: 3e-4)
    :param batch_size: rows per member per step
    :param holdout_ratio: the share of transitions held out
    :param max_holdout: the cap on the holdout size
    :param patience: stop after more than this many epochs without any member improving
    :param min_improvement: the relative fall of a member's holdout MSE that counts as an improvement
    :param max_epochs: stop after this many epochs at the latest (``None``: only the holdout rule)
    :param bootstrap: each member trains on its own bootstrap resample (else on all training rows)
    :param weight_decay: per-layer L2 coefficients (see :func:`~robust_sb3.common.dynamics.losses.layer_weight_decays`)
    :param logvar_penalty: the weight of the log-variance bound penalty (MBPO, OfflineRL-Kit: 0.01; RAMBO: 0.001)
    :param seed: the seed of the split, resamples and shuffles (``None``: derived from the ensemble's seed)
    :return: the record of the fit
    """
    _check_arguments(
        learning_rate, batch_size, holdout_ratio, max_holdout, patience, min_improvement, max_epochs, logvar_penalty
    )
    network = ensemble.network
    decays = layer_weight_decays(len(network.layers), weight_decay)
    rng = np.random.default_rng(ensemble.fit_seed if seed is None else seed)
    n = transitions.observations.shape[0]
    train_rows, holdout_rows = split_holdout(n, holdout_ratio, max_holdout, rng)
    raw_inputs = th.cat((transitions.observations, transitions.actions), dim=1)
    targets = targets_of(transitions, ensemble.predict_reward)
    ensemble.input_normalizer.fit(raw_inputs[train_rows])
    inputs = ensemble.input_normalizer(raw_inputs)
    train_x, train_y = inputs[train_rows], targets[train_rows]
    holdout_x, holdout_y = inputs[holdout_rows], targets[holdout_rows]

    rows = member_rows(ensemble.n_members, len(train_rows), bootstrap, rng)
    optimizer = th.optim.Adam(network.parameters(), lr=learning_rate)
    best = BestWeights(network.layers, min_improvement)
    weights = [layer.weight for layer in network.layers]
    train_loss: list[float] = []
    history: list[np.ndarray] = []
    epoch, stopped_early = 0, False
    n_batches = math.ceil(rows.shape[1] / batch_size)
    while max_epochs is None or epoch < max_epochs:
        network.train()
        rows = rng.permuted(rows, axis=1)
        batch_index = th.as_tensor(rows, device=inputs.device)
        total = th.zeros((), device=inputs.device)  # summed on the device: no host sync per step
        for b in range(n_batches):
            index = batch_index[:, b * batch_size : (b + 1) * batch_size]
            mean, logvar = ensemble.network_gaussian(train_x[index])
            loss = (
                gaussian_nll(mean, logvar, train_y[index]).sum()
                + logvar_penalty * logvar_bound_penalty(network.max_logvar, network.min_logvar)
                + weight_decay_penalty(weights, decays)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach()
        train_loss.append(total.item() / n_batches)
        mse = ensemble.mse_of_normalized(holdout_x, holdout_y)
        history.append(mse)
        best.update(epoch, mse)
        epoch += 1
        if best.epochs_since_update > patience:
            stopped_early = True
            break
    best.restore()
    network.eval()
    final_mse = ensemble.mse_of_normalized(holdout_x, holdout_y)
    elites = np.argsort(final_mse, kind="stable")[: ensemble.n_elites]
    ensemble.set_elites(elites)
    return FitResult(
        epochs=epoch,
        stopped_early=stopped_early,
        n_train=len(train_rows),
        n_holdout=len(holdout_rows),
        holdout_mse=final_mse,
        best_epochs=best.best_epoch.copy(),
        elites=elites,
        train_loss=train_loss,
        holdout_mse_history=np.stack(history),
    )
