"""
WR2L's dynamics vector ``phi`` on an env: which parameters, around which reference, in which coordinates and box.

A :class:`DynamicsCoordinates` ties a parameterisation (a preset such as ``"wr2l/hopper/2d"`` or a list of
parameter names) to an env's ``ParamSpace``: the positions of the varied parameters in the env's full vector,
the reference ``phi0`` (the env's persistent parameters, its ``base_params``: nominal unless the user set others),
the coordinates the model phase works in (relative ``u = phi / phi0 - 1`` or raw, ``shared/WAVE2.md`` 1.7, A1)
and the box WR2L keeps ``phi`` in (the physical bounds of the ``ParamSpace`` intersected with the trust region of
A8). Every other parameter stays at its reference value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robust_envs.params import ParamSpace
from robust_envs.presets import get_parameterisation, list_parameterisations
from robust_sb3.wr2l.coordinates import relative_bounds

__all__ = ["DynamicsCoordinates", "resolve_parameterisation"]

#: the coordinate systems the model phase can work in (``shared/WAVE2.md`` 1.7, A1)
COORDS = ("relative", "raw")


def resolve_parameterisation(parameterisation: Any, param_space: ParamSpace, env_id: str | None = None) -> tuple[str, ...]:
    """
    The names WR2L varies.

    :param parameterisation: a parameterisation preset name (``robust_envs.presets.list_parameterisations()``,
        e.g. ``"wr2l/hopper/2d"``) or a non-empty sequence of the env's parameter names (single parameters,
        not groups: each is one coordinate of ``phi``)
    :param param_space: the env's parameters
    :param env_id: the env's id, to refuse a preset of another env (``None``: not checked)
    :return: the names, in order
    :raises ValueError: an unknown preset or parameter, a group name, a repeated name, a preset of another env
    :raises TypeError: neither a string nor a sequence of strings
    """
    if isinstance(parameterisation, str):
        if parameterisation in param_space.names:
            names: tuple[str, ...] = (parameterisation,)
        else:
            if parameterisation not in list_parameterisations():
                raise ValueError(
                    f"WR2L: parameterisation {parameterisation!r} is neither a parameterisation preset "
                    f"{list_parameterisations()} nor a parameter of the env {param_space.names}"
                )
            preset = get_parameterisation(parameterisation)
            if env_id is not None and preset.env_id != env_id:
                raise ValueError(
                    f"WR2L: parameterisation {parameterisation!r} is for {preset.env_id}, but the env is {env_id}; "
                    "pick a preset of this env or pass its parameter names"
                )
            names = preset.names
    elif isinstance(parameterisation, Sequence) and not isinstance(parameterisation, bytes):
        names = tuple(parameterisation)
        if not names or not all(isinstance(name, str) for name in names):
            raise TypeError(
                f"WR2L: parameterisation must be a preset name or a non-empty list of parameter names: {parameterisation!r}"
            )
    else:
        raise TypeError(
            f"WR2L: parameterisation must be a preset name (e.g. 'wr2l/hopper/2d') or a list of parameter names, "
            f"got {parameterisation!r} ({type(parameterisation).__name__})"
        )
    for name in names:
        if name in param_space.group_names and name not in param_space.names:
            raise ValueError(
                f"WR2L: {name!r} is a parameter group of the env ({param_space.expand(name)}); WR2L varies single "
                "parameters, one coordinate each: list the members you want"
            )
        param_space.index(name)  # ValueError naming the unknown name and the valid ones
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"WR2L: parameterisation names {repeated} more than once; each parameter is one coordinate of phi")
    return names


@dataclass(frozen=True)
class DynamicsCoordinates:
    """
    The model phase's coordinates of ``phi`` on one env.

    :param names: the varied parameters, in the order of ``phi``
    :param indices: (d,) their positions in the env's full parameter vector
    :param reference: (n_params,) the env's full reference vector (``phi0`` and every parameter WR2L leaves alone)
    :param coords: ``"relative"`` (``u = phi / phi0 - 1``, the reference at ``u = 0``) or ``"raw"`` (physical units)
    :param low: (d,) lower end of the allowed box in these coordinates (bounds and trust region)
    :param high: (d,) upper end
    :param physical_low: (d,) lower physical bounds in these coordinates (no trust region): where Proposition 1's
        perturbed points are clipped, since the env refuses parameters beyond them
    :param physical_high: (d,) upper physical bounds
    """

    names: tuple[str, ...]
    indices: np.ndarray
    reference: np.ndarray
    coords: str
    low: np.ndarray
    high: np.ndarray
    physical_low: np.ndarray
    physical_high: np.ndarray

    @classmethod
    def build(
        cls,
        param_space: ParamSpace,
        reference: Any,
        names: Sequence[str],
        coords: str = "relative",
        trust_region: float | None = 0.9,
    ) -> DynamicsCoordinates:
        """
        :param param_space: the env's parameters
        :param reference: (n_params,) the env's full reference vector (its ``base_params``)
        :param names: the varied parameters (:func:`resolve_parameterisation`)
        :param coords: ``"relative"`` or ``"raw"``
        :param trust_region: the largest relative deviation of any varied parameter from its reference (A8), or
            ``None`` for the physical bounds alone
        :return: the coordinates
        :raises ValueError: a reference value of 0 in relative coordinates, a reference outside the bounds
        """
        if coords not in COORDS:
            raise ValueError(f"WR2L: coords must be one of {COORDS}, got {coords!r}")
        reference = param_space.resolve(np.asarray(reference, dtype=np.float64))
        indices = np.array([param_space.index(name) for name in names], dtype=np.intp)
        phi0 = reference[indices]
        physical_low, physical_high = param_space.low[indices], param_space.high[indices]
        low, high = physical_low, physical_high
        if trust_region is not None:
            reach = trust_region * np.abs(phi0)
            low, high = np.maximum(low, phi0 - reach), np.minimum(high, phi0 + reach)
        if coords == "relative":
            zero = [name for name, value in zip(names, phi0, strict=True) if value == 0.0]
            if zero:
                raise ValueError(
                    f"WR2L: the reference values of {zero} are 0, where relative coordinates u = phi / phi0 - 1 are "
                    "undefined; use coords='raw' or leave them out of the parameterisation"
                )
            low, high = relative_bounds(low, high, phi0)
            physical_low, physical_high = relative_bounds(physical_low, physical_high, phi0)
        return cls(tuple(names), indices, reference, coords, low, high, physical_low, physical_high)

    @property
    def dim(self) -> int:
        """``d``, the number of varied parameters."""
        return len(self.names)

    @property
    def phi0(self) -> np.ndarray:
        """(d,) the reference values of the varied parameters, in physical units."""
        return self.reference[self.indices].copy()

    @property
    def origin(self) -> np.ndarray:
        """(d,) the reference in these coordinates (0 in relative ones, ``phi0`` in raw ones)."""
        return np.zeros(self.dim) if self.coords == "relative" else self.phi0

    def to_raw(self, x: Any) -> np.ndarray:
        """
        :param x: (d,) or (K, d) points in these coordinates
        :return: the varied parameters in physical units, same shape
        """
        x = np.asarray(x, dtype=np.float64)
        return self.phi0 * (1.0 + x) if self.coords == "relative" else x.copy()

    def from_raw(self, phi: Any) -> np.ndarray:
        """
        :param phi: (d,) or (K, d) varied parameters in physical units
        :return: the points in these coordinates, same shape
        """
        phi = np.asarray(phi, dtype=np.float64)
        return phi / self.phi0 - 1.0 if self.coords == "relative" else phi.copy()

    def to_full(self, x: Any) -> np.ndarray:
        """
        :param x: (K, d) points in these coordinates
        :return: (K, n_params) the env's full parameter vectors: the reference with the varied entries replaced
        """
        raw = np.atleast_2d(self.to_raw(x))
        full = np.repeat(self.reference[None, :], len(raw), axis=0)
        full[:, self.indices] = raw
        return full

    def to_dict(self, x: Any) -> dict[str, float]:
        """
        :param x: (d,) a point in these coordinates
        :return: ``{name: value in physical units}`` of the varied parameters
        """
        return {name: float(value) for name, value in zip(self.names, self.to_raw(x), strict=True)}
