"""Rollout buffers whose minibatches come only from selected sub-env columns, so PPO's ``train()`` runs unchanged."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples


class _EnvMask:
    """The mask over sub-env columns shared by both buffers (column ``i`` holds sampled environment ``i``)."""

    n_envs: int
    buffer_size: int

    def _reset_mask(self) -> None:
        self.env_mask = np.ones(self.n_envs, dtype=bool)

    def set_env_mask(self, mask: np.ndarray) -> None:
        """
        Choose the columns the next :meth:`get` draws minibatches from (until the next ``reset``).

        :param mask: (n_envs,) booleans, at least one True
        :raises ValueError: wrong shape or no column selected
        """
        mask = np.asarray(mask)
        if mask.shape != (self.n_envs,) or mask.dtype != np.bool_:
            raise ValueError(f"env mask must be a boolean array of shape ({self.n_envs},), got {mask.dtype} {mask.shape}")
        if not mask.any():
            raise ValueError("env mask selects no column; PPO would have nothing to train on")
        self.env_mask = mask.copy()

    def selected_rows(self) -> np.ndarray:
        """
        :return: the flat row indices of the selected columns; after ``swap_and_flatten`` the row of
            ``(step, env)`` is ``env * buffer_size + step``
        """
        columns = np.flatnonzero(self.env_mask)
        return (columns[:, None] * self.buffer_size + np.arange(self.buffer_size)[None, :]).ravel()

    def _minibatch_indices(self, batch_size: int | None) -> Generator[np.ndarray, None, None]:
        # SB3 permutes with the global generator (seeded by set_random_seed); do the same for determinism.
        rows = np.random.permutation(self.selected_rows())  # noqa: NPY002
        batch_size = rows.size if batch_size is None else batch_size
        for start in range(0, rows.size, batch_size):
            yield rows[start : start + batch_size]


class EnvMaskedRolloutBuffer(_EnvMask, RolloutBuffer):
    """
    A :class:`~stable_baselines3.common.buffers.RolloutBuffer` that yields only the rows of selected sub-envs.

    Returns and advantages are computed over every column (GAE never crosses columns), then
    :meth:`set_env_mask` picks the columns PPO trains on. The mask returns to "all columns" at every ``reset``.
    """

    def reset(self) -> None:
        """Clear the buffer and select every column."""
        super().reset()
        self._reset_mask()

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        """
        Like ``RolloutBuffer.get`` (same flattening, same minibatch size, the last one possibly smaller), over
        the selected columns' rows only.

        :param batch_size: minibatch size (``None``: one batch of every selected row)
        :return: a generator of minibatches
        """
        assert self.full, "the rollout buffer must be full before get()"
        if not self.generator_ready:
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        for indices in self._minibatch_indices(batch_size):
            yield self._get_samples(indices)


class EnvMaskedDictRolloutBuffer(_EnvMask, DictRolloutBuffer):
    """The Dict-observation variant of :class:`EnvMaskedRolloutBuffer`."""

    def reset(self) -> None:
        """Clear the buffer and select every column."""
        super().reset()
        self._reset_mask()

    def get(self, batch_size: int | None = None) -> Generator[DictRolloutBufferSamples, None, None]:  # type: ignore[override]
        """
        Like ``DictRolloutBuffer.get``, over the selected columns' rows only.

        :param batch_size: minibatch size (``None``: one batch of every selected row)
        :return: a generator of minibatches
        """
        assert self.full, "the rollout buffer must be full before get()"
        if not self.generator_ready:
            for key, obs in self.observations.items():
                self.observations[key] = self.swap_and_flatten(obs)
            for name in ("actions", "values", "log_probs", "advantages", "returns"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        for indices in self._minibatch_indices(batch_size):
            yield self._get_samples(indices)
