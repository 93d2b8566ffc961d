"""Input standardisation fitted on the training split, kept as buffers so it saves and loads with the weights."""

from __future__ import annotations

import torch as th
from torch import nn

#: a feature whose standard deviation is below this is constant in the data: it is centred but not scaled
#: (MBPO's ``StandardScaler`` sets such standard deviations to 1 rather than dividing by ~0)
MIN_STD = 1e-12


class StandardNormalizer(nn.Module):
    """
    ``(x - mean) / std`` per feature, with statistics fitted on data (identity until :meth:`fit`).

    :param size: the number of features
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.register_buffer("mean", th.zeros(size))
        self.register_buffer("std", th.ones(size))
        self.register_buffer("fitted", th.tensor(False))

    def fit(self, x: th.Tensor) -> None:
        """
        :param x: the training rows, ``(N, size)``; the mean and the population standard deviation of each column
        """
        std = x.std(dim=0, unbiased=False)
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(th.where(std < MIN_STD, th.ones_like(std), std))
        self.fitted.fill_(True)

    def forward(self, x: th.Tensor) -> th.Tensor:
        """:return: the standardised ``x`` (any leading axes, features last)."""
        return (x - self.mean) / self.std
