"""How a two-player trainer shares SB3's logger and callbacks between its players' PPO loops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger


class AdversaryLogger(Logger):
    """
    The adversary's logger: what its PPO ``train()`` records goes to the trainer's logger, renamed.

    PPO records ``train/loss``, ``train/entropy_loss``, ... for whichever player trains; both writing the same keys
    into one logger would overwrite each other, so the adversary's keys lose ``train/`` and gain ``prefix``
    (``train/loss`` -> ``rarl/adversary/loss``), and the protagonist's keep SB3's names.

    :param target: the trainer's logger
    :param prefix: put before each key (``"rarl/adversary/"``)
    """

    def __init__(self, target: Logger, prefix: str) -> None:
        super().__init__(folder=None, output_formats=[])
        self.target = target
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return self.prefix + key.removeprefix("train/")

    def record(self, key: str, value: Any, exclude: str | tuple[str, ...] | None = None) -> None:
        """Record ``value`` in the trainer's logger under the renamed key."""
        self.target.record(self._key(key), value, exclude)

    def record_mean(self, key: str, value: float | None, exclude: str | tuple[str, ...] | None = None) -> None:
        """Record ``value`` (averaged) in the trainer's logger under the renamed key."""
        self.target.record_mean(self._key(key), value, exclude)


class ProtagonistRollout(BaseCallback):
    """
    The user's callback, driven by the protagonist's rollouts (PPO's ``collect_rollouts``).

    Before the user's ``on_step`` runs, ``before_step(locals)`` brings the trainer's counters up to date, so the
    callback (and SB3's progress bar) reads the protagonist's step count from the trainer.

    :param callback: the user's callback, already initialised with the trainer
    :param before_step: called with ``collect_rollouts``' locals at every step, before the callback
    """

    def __init__(self, callback: BaseCallback, before_step: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.callback = callback
        self.before_step = before_step

    def _on_rollout_start(self) -> None:
        self.callback.on_rollout_start()

    def _on_step(self) -> bool:
        self.before_step(self.locals)
        return self.callback.on_step()

    def _on_rollout_end(self) -> None:
        self.callback.on_rollout_end()

    def update_child_locals(self, locals_: dict[str, Any]) -> None:
        """Pass the rollout's locals on to the user's callback."""
        self.callback.update_locals(locals_)
