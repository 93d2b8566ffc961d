"""
What the evaluation runs: :func:`as_policy` turns a callable ``obs -> action`` or an SB3-style model into one
callable ``obs -> action``, and :class:`SavedModel` carries an SB3 model to worker processes as its saved bytes.

Torch-free: an SB3 model is recognised by its ``predict`` method, and :class:`SavedModel` only calls the model's
own ``save`` and its class's ``load``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

#: A policy as :func:`as_policy` returns it: observation in, action (an array) out.
Policy = Callable[[Any], np.ndarray]


class _PredictPolicy:
    """``obs -> model.predict(obs, deterministic=...)[0]`` as an array (picklable when the model is)."""

    def __init__(self, model: Any, deterministic: bool) -> None:
        self.model = model
        self.deterministic = deterministic

    def __call__(self, obs: Any) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return np.asarray(action)

    def __repr__(self) -> str:
        return f"as_policy({self.model!r}, deterministic={self.deterministic})"


class _CallablePolicy:
    """``obs -> function(obs)`` as an array (picklable when the function is)."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __call__(self, obs: Any) -> np.ndarray:
        return np.asarray(self.function(obs))

    def __repr__(self) -> str:
        return f"as_policy({self.function!r})"


def as_policy(obj: Any, deterministic: bool = True) -> Policy:
    """
    Turn what a user passes as a policy into a callable ``obs -> action`` that returns a numpy array.

    An object with a callable ``predict`` (an SB3 model, or anything with SB3's
    ``predict(obs, deterministic=...) -> (action, state)``) is called through ``predict``, even if it is also callable;
    any other callable is called as ``obj(obs)``. A callable made by this function is returned as it is.

    :param obj: an SB3 model (or any object with SB3's ``predict``) or a callable ``obs -> action``
    :param deterministic: passed to ``predict`` (ignored for a plain callable)
    :return: the policy; it pickles when ``obj`` does
    :raises TypeError: ``obj`` is neither callable nor has ``predict``, or ``deterministic`` is not a bool
    """
    if not isinstance(deterministic, bool | np.bool_):
        raise TypeError(f"deterministic must be a bool, got {deterministic!r}")
    if isinstance(obj, _PredictPolicy | _CallablePolicy):
        return obj
    if callable(getattr(obj, "predict", None)):
        return _PredictPolicy(obj, bool(deterministic))
    if callable(obj):
        return _CallablePolicy(obj)
    raise TypeError(
        f"policy must be callable (obs -> action) or have a predict() method, got {type(obj).__name__} ({obj!r:.60}); "
        "pass a function of the observation or a loaded SB3 model such as PPO.load(path)"
    )


class SavedModel:
    """
    A model with SB3's ``save``/``load`` carried to worker processes as the bytes its ``save`` writes.

    Process pools pickle with torch's reducers, which refuse a non-leaf tensor that requires grad ("Cowardly
    refusing to serialize"), and a trained model can hold one; SB3's own save format always round-trips.
    Each worker loads the model once, on the CPU.

    :param model: an object with ``save(file)`` and a class method ``load(file, device=...)``
    """

    def __init__(self, model: Any) -> None:
        buffer = io.BytesIO()
        model.save(buffer)
        self.model_class = type(model)
        self.data = buffer.getvalue()
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model_class": self.model_class, "data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model_class, self.data, self._model = state["model_class"], state["data"], None

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False):
        """:return: the loaded model's ``predict`` (loaded on first use)."""
        if self._model is None:
            self._model = self.model_class.load(io.BytesIO(self.data), device="cpu")
        return self._model.predict(observation, state, episode_start, deterministic)


def shippable(policy: Any) -> Any:
    """
    :param policy: a policy to send to worker processes
    :return: a :class:`SavedModel` of a model with ``predict``, ``save`` and ``load``; any other policy as it is
    """
    if hasattr(policy, "predict") and hasattr(policy, "save") and callable(getattr(type(policy), "load", None)):
        return SavedModel(policy)
    return policy
