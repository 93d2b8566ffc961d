"""
The ensemble's networks: every member's layers held in one tensor, so all members run in one batched product.

A layer of ``E`` members with ``n_in`` inputs and ``n_out`` outputs is a weight of shape ``(E, n_in, n_out)``
and a bias of shape ``(E, 1, n_out)``; a batch of inputs ``(E, N, n_in)`` (one row set per member) maps to
``(E, N, n_out)`` with one ``torch.baddbmm``. This is the layout of the ensembles of PETS (Chua et al., 2018),
MBPO (Janner et al., 2019) and RAMBO (Rigter et al., 2022), whose TensorFlow ``FC`` layers hold ``[E, in, out]``
weights for the same reason: one call instead of a Python loop over members.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch as th
from torch import nn

#: activations by name (swish = SiLU is the one PETS, MBPO and RAMBO use)
ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "swish": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


class EnsembleLinear(nn.Module):
    """
    ``E`` independent affine maps applied in one batched product.

    Weights start from a truncated normal with standard deviation ``1 / (2 sqrt(n_in))`` and biases at zero, the
    initialisation of MBPO's ensemble layers (a scale that keeps swish activations away from saturation).

    :param n_members: the number of members ``E``
    :param n_in: inputs per member
    :param n_out: outputs per member
    :param generator: the random generator of the initial weights (for seeded construction)
    """

    def __init__(self, n_members: int, n_in: int, n_out: int, generator: th.Generator | None = None) -> None:
        super().__init__()
        self.n_members, self.n_in, self.n_out = n_members, n_in, n_out
        std = 1.0 / (2.0 * math.sqrt(n_in))
        weight = th.empty(n_members, n_in, n_out)
        nn.init.trunc_normal_(weight, std=std, a=-2.0 * std, b=2.0 * std, generator=generator)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(th.zeros(n_members, 1, n_out))

    def forward(self, x: th.Tensor) -> th.Tensor:
        """
        :param x: inputs, ``(E, N, n_in)``
        :return: ``bias[e] + x[e] @ weight[e]`` for every member ``e``, ``(E, N, n_out)``
        """
        return th.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, n_in={self.n_in}, n_out={self.n_out}"


def soft_clamp(x: th.Tensor, low: th.Tensor, high: th.Tensor) -> th.Tensor:
    """
    Keep ``x`` smoothly inside ``(low, high)``: ``high - softplus(high - x)``, then ``low + softplus(. - low)``.

    The soft bound on the log-variance of PETS (Chua et al., 2018, appendix A.1) and MBPO: gradients still flow
    at the bounds, and ``low``/``high`` are learned.

    :param x: the raw values
    :param low: lower bound, broadcastable to ``x``
    :param high: upper bound, broadcastable to ``x``
    :return: the bounded values, same shape as ``x``
    """
    x = high - nn.functional.softplus(high - x)
    return low + nn.functional.softplus(x - low)


class GaussianEnsembleNetwork(nn.Module):
    """
    ``E`` MLPs mapping normalised inputs to the mean and the soft-bounded log-variance of a diagonal Gaussian.

    The last layer outputs ``2 * n_out`` values per row, the mean and the raw log-variance (MBPO's layout);
    the log-variance is bounded by :func:`soft_clamp` between learned ``min_logvar`` and ``max_logvar``, one
    value per output dimension shared by all members (PETS/MBPO).

    :param n_members: the number of members ``E``
    :param n_in: the input size
    :param n_out: the size of the predicted vector
    :param hidden_sizes: the width of each hidden layer
    :param activation: a key of :data:`ACTIVATIONS`
    :param max_logvar_init: initial upper log-variance bound
    :param min_logvar_init: initial lower log-variance bound
    :param generator: the random generator of the initial weights
    """

    def __init__(
        self,
        n_members: int,
        n_in: int,
        n_out: int,
        hidden_sizes: Sequence[int],
        activation: str,
        max_logvar_init: float,
        min_logvar_init: float,
        generator: th.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_out = n_out
        sizes = [n_in, *hidden_sizes, 2 * n_out]
        self.layers = nn.ModuleList(EnsembleLinear(n_members, a, b, generator) for a, b in itertools.pairwise(sizes))
        self.activation = ACTIVATIONS[activation]()
        self.max_logvar = nn.Parameter(th.full((n_out,), float(max_logvar_init)))
        self.min_logvar = nn.Parameter(th.full((n_out,), float(min_logvar_init)))

    def forward(self, x: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        :param x: normalised inputs, ``(E, N, n_in)``
        :return: mean and log-variance, each ``(E, N, n_out)``
        """
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        out = self.layers[-1](x)
        mean, raw_logvar = out[..., : self.n_out], out[..., self.n_out :]
        return mean, soft_clamp(raw_logvar, self.min_logvar, self.max_logvar)
