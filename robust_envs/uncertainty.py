"""Uncertainty sets over physical parameters: finite lists of models, or boxes to sample from and grid over."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from robust_envs.params import ParamSpace

Distribution = Literal["uniform", "log-uniform"]


@dataclass(frozen=True)
class UncertaintySet:
    """
    A set of parameter settings of one environment.

    Either a **finite** list of settings (``members``: the K models of a robust critic, a paper's hold-out
    set) or a **box** of ranges (``low``/``high`` per parameter) sampled uniformly or log-uniformly.
    Settings are partial mappings: parameters a set does not name keep their nominal value (or, for an
    env's own resets, the value the env was made with). Parameter and group names are checked against
    the env's :class:`~robust_envs.params.ParamSpace` by :meth:`validate`.

    Build one with :meth:`finite` or :meth:`box`; named paper presets come from
    :func:`robust_envs.presets.get_preset`.

    :param env_id: the environment the set belongs to
    :param members: the settings of a finite set (empty for a box)
    :param low: lower ends of a box, by parameter name
    :param high: upper ends of a box, by parameter name
    :param distribution: how a box is sampled
    :param name: a short name (presets use ``paper/env/role``)
    :param source: where the numbers come from (paper, table, page)
    """

    env_id: str
    members: tuple[Mapping[str, float], ...] = ()
    low: Mapping[str, float] = field(default_factory=dict)
    high: Mapping[str, float] = field(default_factory=dict)
    distribution: Distribution = "uniform"
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if bool(self.members) == bool(self.low or self.high):
            raise ValueError("An UncertaintySet is either finite (members) or a box (low and high), not both and not neither")
        if self.members:
            object.__setattr__(self, "members", tuple({str(k): float(v) for k, v in m.items()} for m in self.members))
            return
        if set(self.low) != set(self.high):
            raise ValueError(f"Box ends name different parameters: low has {sorted(self.low)}, high has {sorted(self.high)}")
        for key in self.low:
            lo, hi = float(self.low[key]), float(self.high[key])
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"Box range of {key!r} must be finite with low <= high, got [{lo}, {hi}]")
            if self.distribution == "log-uniform" and lo <= 0:
                raise ValueError(f"A log-uniform box needs positive ranges; {key!r} has low={lo}")
        if self.distribution not in ("uniform", "log-uniform"):
            raise ValueError(f"Unknown distribution {self.distribution!r}; allowed: 'uniform', 'log-uniform'")
        object.__setattr__(self, "low", {str(k): float(v) for k, v in self.low.items()})
        object.__setattr__(self, "high", {str(k): float(self.high[k]) for k in self.low})

    # ---- constructors --------------------------------------------------------------------------
    @classmethod
    def finite(cls, env_id: str, members: Sequence[Mapping[str, float]], name: str = "", source: str = "") -> UncertaintySet:
        """
        :param env_id: the environment
        :param members: one partial parameter mapping per model
        :param name: a short name
        :param source: where the numbers come from
        :return: a finite set
        """
        if not members:
            raise ValueError("A finite UncertaintySet needs at least one member")
        return cls(env_id=env_id, members=tuple(members), name=name, source=source)

    @classmethod
    def box(
        cls,
        env_id: str,
        ranges: Mapping[str, tuple[float, float]],
        distribution: Distribution = "uniform",
        name: str = "",
        source: str = "",
    ) -> UncertaintySet:
        """
        :param env_id: the environment
        :param ranges: ``{name: (low, high)}`` per varied parameter (or group)
        :param distribution: ``"uniform"`` or ``"log-uniform"``
        :param name: a short name
        :param source: where the numbers come from
        :return: a box set
        """
        if not ranges:
            raise ValueError("A box UncertaintySet needs at least one parameter range")
        low = {k: v[0] for k, v in ranges.items()}
        high = {k: v[1] for k, v in ranges.items()}
        return cls(env_id=env_id, low=low, high=high, distribution=distribution, name=name, source=source)

    # ---- properties ----------------------------------------------------------------------------
    @property
    def is_finite(self) -> bool:
        """Whether the set is a finite list of settings."""
        return bool(self.members)

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter (or group) names the set varies."""
        if self.members:
            seen: dict[str, None] = {}
            for member in self.members:
                seen.update(dict.fromkeys(member))
            return tuple(seen)
        return tuple(self.low)

    def __len__(self) -> int:
        if not self.members:
            raise TypeError(f"A box UncertaintySet ({self.name or self.env_id}) has no length; use grid() or sample()")
        return len(self.members)

    def validate(self, param_space: ParamSpace) -> None:
        """
        Check every name and value against an env's parameters.

        :raises ValueError: an unknown name or a value outside the physical bounds
        """
        settings = list(self.members) if self.members else [dict(self.low), dict(self.high)]
        for setting in settings:
            param_space.resolve(setting)

    # ---- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, float]:
        """
        Draw one setting: a uniformly chosen member of a finite set, or a point of the box.

        :param rng: the random generator (an env's ``np_random``)
        :return: a partial parameter mapping
        """
        if self.members:
            return dict(self.members[int(rng.integers(len(self.members)))])
        out = {}
        for key in self.low:
            lo, hi = self.low[key], self.high[key]
            if self.distribution == "log-uniform":
                out[key] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                out[key] = float(rng.uniform(lo, hi))
        return out

    def sample_many(self, rng: np.random.Generator, n: int) -> list[dict[str, float]]:
        """:return: ``n`` settings drawn with :meth:`sample`."""
        return [self.sample(rng) for _ in range(n)]

    def grid(self, points: int | Mapping[str, int] = 5) -> list[dict[str, float]]:
        """
        The settings of a finite set, or an evenly spaced grid over a box, endpoints included.

        :param points: points per dimension (one number for all, or per name); ignored for finite sets
        :return: partial parameter mappings, the last name varying fastest
        """
        if self.members:
            return [dict(m) for m in self.members]
        axes = []
        for key in self.low:
            count = points[key] if isinstance(points, Mapping) else points
            if count < 1:
                raise ValueError(f"A grid needs at least one point per dimension, got {count} for {key!r}")
            lo, hi = self.low[key], self.high[key]
            if count == 1:
                values = np.array([(lo + hi) / 2.0])
            elif self.distribution == "log-uniform":
                values = np.geomspace(lo, hi, count)
            else:
                values = np.linspace(lo, hi, count)
            axes.append([float(v) for v in values])
        keys = list(self.low)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]

    # ---- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """:return: a JSON-serialisable description that :meth:`from_dict` reads back."""
        return {
            "env_id": self.env_id,
            "members": [dict(m) for m in self.members],
            "low": dict(self.low),
            "high": dict(self.high),
            "distribution": self.distribution,
            "name": self.name,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UncertaintySet:
        """:return: the set :meth:`to_dict` described."""
        return cls(
            env_id=data["env_id"],
            members=tuple(data.get("members", ())),
            low=dict(data.get("low", {})),
            high=dict(data.get("high", {})),
            distribution=data.get("distribution", "uniform"),
            name=data.get("name", ""),
            source=data.get("source", ""),
        )

    def to_json(self) -> str:
        """:return: the set as a JSON string."""
        return json.dumps(self.to_dict())

    def describe(self) -> str:
        """:return: a one-line human-readable summary."""
        if self.members:
            body = "; ".join(", ".join(f"{k}={v:g}" for k, v in m.items()) for m in self.members)
            return f"{len(self.members)} models: {body}"
        body = ", ".join(f"{k} in [{self.low[k]:g}, {self.high[k]:g}]" for k in self.low)
        return f"{self.distribution} box: {body}"
