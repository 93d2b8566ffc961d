"""
Checkpoints that let :meth:`RAMBO.learn <robust_sb3.rambo.rambo.RAMBO.learn>` continue bit for bit after an
interruption.

A RAMBO run at the CPU scale takes hours; a machine shared with other jobs, or a session with a time limit, may stop
it midway. ``RAMBO.save`` keeps the networks, the optimisers, the ensemble with its generator and the model's own
numpy generator; what it does not keep, and a continuation needs, is the model pool (SB3's
``save_replay_buffer``) and the global random states that SAC's updates draw from (torch's for the policy's samples;
numpy's and Python's are saved too, for code that draws from them). :func:`save_checkpoint` writes all of them into
one folder; :func:`load_checkpoint` brings them back, after which ``learn(total - model.num_timesteps,
reset_num_timesteps=False)`` continues the original run exactly (the dataset is given again or reloaded by its
Minari id, as for a saved model).

:class:`EpochCheckpoint` takes a checkpoint every few epochs, at the start of an agent step (after the previous
step's SAC update and, at an epoch's end, its adversary phase: the point at which nothing of the learn loop is
pending).
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import random
import shutil
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

if TYPE_CHECKING:
    from robust_sb3.rambo.rambo import RAMBO

_MODEL, _POOL, _RANDOM, _METADATA = "model.zip", "pool.pkl", "random.pkl", "metadata.json"


def _random_states(device: th.device) -> dict[str, Any]:
    # numpy's legacy global state on purpose: it is what third-party code that calls np.random.* draws from
    numpy_state = np.random.get_state()  # noqa: NPY002
    states: dict[str, Any] = {"torch": th.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    states["device"] = device.type  # CPU and CUDA draw different numbers: a resume on the other is not exact
    if th.cuda.is_available() and th.cuda.is_initialized():
        states["cuda"] = th.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict[str, Any]) -> None:
    th.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002 (see _random_states)
    random.setstate(states["python"])
    if "cuda" in states and th.cuda.is_available():
        th.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(model: RAMBO, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> pathlib.Path:
    """
    Write everything a continuation of ``model.learn`` needs into the folder ``path``: the model (``model.zip``),
    its pool (``pool.pkl``), the global random states (``random.pkl``) and the caller's ``metadata``
    (``metadata.json``). The files are written to ``<path>.partial`` and moved into place; the previous checkpoint
    stays as ``<path>.old`` until the new one is in place, and :func:`checkpoint_folder` finds it if an interruption
    falls between the two renames.

    :param model: the model, between two agent steps of ``learn`` (see :class:`EpochCheckpoint`) or after it
    :param path: the checkpoint folder (replaced)
    :param metadata: JSON-serialisable values saved with the checkpoint, in the same folder (so they can never
        describe another checkpoint than the one beside them); :func:`checkpoint_metadata` reads them
    :return: the folder
    """
    folder = pathlib.Path(path)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save(partial / _MODEL)
    model.save_replay_buffer(partial / _POOL)
    with open(partial / _RANDOM, "wb") as file:
        pickle.dump(_random_states(model.device), file)
    with open(partial / _METADATA, "w") as file:
        json.dump({"num_timesteps": model.num_timesteps, **(metadata or {})}, file)
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def _complete(folder: pathlib.Path) -> bool:
    # metadata.json is not required: the first checkpoints of this module (session 7) had none
    return all((folder / name).is_file() for name in (_MODEL, _POOL, _RANDOM))


def checkpoint_folder(path: str | os.PathLike[str]) -> pathlib.Path | None:
    """
    :return: the complete checkpoint at ``path``, or the previous one (``<path>.old``) where an interruption fell
        between :func:`save_checkpoint`'s two renames, or ``None``
    """
    folder = pathlib.Path(path)
    old = folder.with_name(folder.name + ".old")
    if _complete(folder):
        return folder
    if not folder.exists() and _complete(old):
        return old
    return None


def has_checkpoint(path: str | os.PathLike[str]) -> bool:
    """:return: whether ``path`` holds a complete checkpoint of :func:`save_checkpoint` (see :func:`checkpoint_folder`)."""
    return checkpoint_folder(path) is not None


def checkpoint_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """
    :return: the ``metadata`` saved with the checkpoint at ``path``, with its ``num_timesteps`` (empty for a
        checkpoint written without them)
    :raises FileNotFoundError: ``path`` is not a complete checkpoint
    """
    folder = _require(path)
    if not (folder / _METADATA).is_file():
        return {}
    return json.loads((folder / _METADATA).read_text())


def _require(path: str | os.PathLike[str]) -> pathlib.Path:
    folder = checkpoint_folder(path)
    if folder is None:
        raise FileNotFoundError(f"{path} is not a RAMBO checkpoint: it needs {_MODEL}, {_POOL}, {_RANDOM} and {_METADATA}")
    return folder


def load_checkpoint(
    cls: type[RAMBO], path: str | os.PathLike[str], env: Any = None, dataset: Any = None, **load_kwargs: Any
) -> RAMBO:
    """
    The model of a checkpoint, ready to continue: loaded, given its dataset, its pool restored and the global
    random states set back to the checkpoint's (this changes torch's, numpy's and Python's global generators).

    :param cls: the algorithm class (``RAMBO`` or a subclass)
    :param path: a folder written by :func:`save_checkpoint`
    :param env: as for ``RAMBO.load``
    :param dataset: the dataset, where the model was trained on an in-memory one (a Minari id reloads itself)
    :param load_kwargs: further arguments of ``RAMBO.load`` (``device``, ...)
    :return: the model; continue with ``learn(total - model.num_timesteps, reset_num_timesteps=False)``
    :raises FileNotFoundError: ``path`` is not a complete checkpoint
    """
    folder = _require(path)
    with open(folder / _RANDOM, "rb") as file:
        states = pickle.load(file)
    model = cls.load(folder / _MODEL, env=env, **load_kwargs)
    if states.get("device", model.device.type) != model.device.type:
        warnings.warn(
            f"{path} was saved on {states['device']} and is loaded on {model.device.type}: the run continues, but not "
            "bit for bit (the devices draw different random numbers)",
            stacklevel=2,
        )
    if dataset is not None:
        model.set_dataset(dataset)
    model._require_data()
    model.load_replay_buffer(folder / _POOL)
    _set_random_states(states)
    return model


class EpochCheckpoint(BaseCallback):
    """
    Save a checkpoint (:func:`save_checkpoint`) every ``every_epochs`` epochs of a RAMBO run, so that an
    interrupted run continues from the last one (:func:`load_checkpoint`).

    :param path: the checkpoint folder (each checkpoint replaces the previous one)
    :param every_epochs: epochs between checkpoints
    :param metadata: called with the model just before each checkpoint; what it returns is saved with it
        (:func:`save_checkpoint`'s ``metadata``). It may evaluate the policy (deterministic actions draw no random
        numbers) but must not change the model.
    :param verbose: 1 prints each checkpoint
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        every_epochs: int = 10,
        metadata: Callable[[Any], dict[str, Any]] | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if isinstance(every_epochs, bool) or not isinstance(every_epochs, int) or every_epochs < 1:
            raise ValueError(f"EpochCheckpoint: every_epochs must be an integer >= 1, got {every_epochs!r}")
        self.path = pathlib.Path(path)
        self.every_epochs = every_epochs
        self.metadata = metadata
        self._start_step = 0

    def _on_training_start(self) -> None:
        self._start_step = self.model.num_timesteps
        # the callback runs only at multiples of train_freq: a period between them would never be due
        period, freq = self.every_epochs * self.model.epoch_length, self.model.train_freq.frequency  # type: ignore[attr-defined]
        if period % freq:
            raise ValueError(
                f"EpochCheckpoint: {self.every_epochs} epochs of {self.model.epoch_length} steps ({period}) is not a "  # type: ignore[attr-defined]
                f"multiple of train_freq={freq}, so no checkpoint would ever be taken; choose every_epochs accordingly"
            )

    def due(self) -> bool:
        """
        :return: whether the current step ends an epoch that takes a checkpoint; never at the step ``learn``
            started from (a resumed run's first step is its checkpoint's)
        """
        model = self.model
        steps = self.every_epochs * model.epoch_length  # type: ignore[attr-defined]
        return model.num_timesteps > self._start_step and model.num_timesteps % steps == 0

    def _on_rollout_start(self) -> None:
        # called before each agent step: after the previous step's update and any adversary phase it completed
        if self.due():
            metadata = self.metadata(self.model) if self.metadata is not None else None
            save_checkpoint(self.model, self.path, metadata)  # type: ignore[arg-type]
            if self.verbose:
                print(f"checkpoint at step {self.model.num_timesteps}: {self.path}")

    def _on_step(self) -> bool:
        return True


__all__ = [
    "EpochCheckpoint",
    "checkpoint_folder",
    "checkpoint_metadata",
    "has_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]
