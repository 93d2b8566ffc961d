"""Uncertainty sets over physical parameters: finite lists of models, or boxes to sample from and grid over."""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from robust_envs.params import ParamSpace, ValidatedParams

Distribution = Literal["uniform", "log-uniform"]


def _check_env_id(env_id: Any) -> None:
    """:raises ValueError: an id Gymnasium does not know (robust ids register on ``import robust_envs``)."""
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a registered env id (a string such as 'RobustHopper-v0'), got {env_id!r}")
    if env_id not in gym.registry:
        from robust_envs.registration import ENVS

        robust = [entry.env_id for entry in ENVS]
        close = difflib.get_close_matches(env_id, robust + list(gym.registry), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown env id {env_id!r} for an UncertaintySet.{hint} Robust ids: {robust} "
            "(any id registered with Gymnasium is accepted)"
        )


def _number(value: Any, what: str) -> float:
    """:return: ``value`` as a finite float; :raises TypeError: not a number; :raises ValueError: NaN or inf."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{what} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


def _setting(member: Any, what: str) -> dict[str, float]:
    """:return: a partial parameter mapping ``{name: finite float}``, checked."""
    if not isinstance(member, Mapping):
        raise TypeError(
            f"{what} must be a mapping of parameter names to numbers such as {{'friction': 0.5}}, "
            f"got {member!r} ({type(member).__name__})"
        )
    out = {}
    for key, value in member.items():
        if not isinstance(key, str):
            raise TypeError(f"Parameter names in {what} must be strings, got {key!r} ({type(key).__name__})")
        out[key] = _number(value, f"{what}[{key!r}]")
    return out


def _uniform_index(rng: np.random.Generator, n: int) -> int:
    """:return: an index drawn uniformly from ``range(n)`` (``rng.random`` costs a third of ``rng.integers``)."""
    return min(int(rng.random() * n), n - 1)


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
        _check_env_id(self.env_id)
        for name in ("name", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"UncertaintySet {name} must be a string, got {getattr(self, name)!r}")
        if isinstance(self.members, Mapping | str) or not isinstance(self.members, Sequence):
            raise TypeError(
                f"members must be a sequence of parameter mappings such as [{{'friction': 0.5}}], got {self.members!r}"
            )
        for end in ("low", "high"):
            if not isinstance(getattr(self, end), Mapping):
                raise TypeError(f"Box end {end} must be a mapping of parameter names to numbers, got {getattr(self, end)!r}")
        if bool(self.members) == bool(self.low or self.high):
            raise ValueError("An UncertaintySet is either finite (members) or a box (low and high), not both and not neither")
        if self.members:
            members = tuple(_setting(m, f"member {i}") for i, m in enumerate(self.members))
            object.__setattr__(self, "members", members)
            return
        object.__setattr__(self, "members", ())
        if self.distribution not in ("uniform", "log-uniform"):
            raise ValueError(f"Unknown distribution {self.distribution!r}; allowed: 'uniform', 'log-uniform'")
        if set(self.low) != set(self.high):
            raise ValueError(f"Box ends name different parameters: low has {sorted(self.low)}, high has {sorted(self.high)}")
        low, high = _setting(self.low, "low"), _setting(self.high, "high")
        for key in low:
            lo, hi = low[key], high[key]
            if lo > hi:
                raise ValueError(f"Box range of {key!r} must be finite with low <= high, got [{lo}, {hi}]")
            if self.distribution == "log-uniform" and lo <= 0:
                raise ValueError(f"A log-uniform box needs positive ranges; {key!r} has low={lo}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", {k: high[k] for k in low})

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
        if isinstance(members, Mapping | str) or not isinstance(members, Sequence):
            raise TypeError(f"members must be a sequence of parameter mappings such as [{{'friction': 0.5}}], got {members!r}")
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
        if not isinstance(ranges, Mapping):
            raise TypeError(f"ranges must be a mapping {{name: (low, high)}}, got {ranges!r} ({type(ranges).__name__})")
        if not ranges:
            raise ValueError("A box UncertaintySet needs at least one parameter range")
        for key, pair in ranges.items():
            if isinstance(pair, str | bytes | Mapping) or not isinstance(pair, Sequence | np.ndarray):
                raise TypeError(
                    f"The range of {key!r} must be a (low, high) pair, got {pair!r}; "
                    f"for a fixed value write ({pair!r}, {pair!r}) or leave the parameter out"
                )
            if len(pair) != 2:
                raise ValueError(f"The range of {key!r} must be a (low, high) pair, got {len(pair)} values: {pair!r}")
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

        :param rng: the random generator (an env's ``np_random``, ``np.random.default_rng(seed)``)
        :return: a partial parameter mapping
        :raises TypeError: ``rng`` is not a ``numpy.random.Generator``
        """
        _check_rng(rng)
        if self.members:
            return dict(self.members[_uniform_index(rng, len(self.members))])
        out = {}
        for key in self.low:
            lo, hi = self.low[key], self.high[key]
            if self.distribution == "log-uniform":
                out[key] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                out[key] = float(rng.uniform(lo, hi))
        return out

    def vector_sampler(self, param_space: ParamSpace) -> Callable[[np.random.Generator, np.ndarray], ValidatedParams]:
        """
        A fast equivalent of :meth:`sample` for one env's parameters, for draws at every reset.

        Names, groups and values are resolved once here, so a draw is an index (or a vector of uniforms)
        and one assignment: it draws what :meth:`sample` draws from the same generator state, and needs
        no validation at reset time.

        :param param_space: the env's parameters
        :return: ``draw(rng, base) -> params``: ``base`` (a valid full vector) with the drawn setting written in,
            as a :class:`~robust_envs.params.ValidatedParams` (a finite set's members are validated once, here; a
            box lies within the parameters' bounds, and every point drawn in it too, below)
        """
        self.validate(param_space)
        if self.members:
            assignments = [param_space.assignment(m) for m in self.members]
            n = len(assignments)
            # the members as full vectors on the last base seen (the env's persistent parameters rarely change)
            cached_base: bytes | None = None
            cached: list[ValidatedParams] = []

            def draw_member(rng: np.random.Generator, base: np.ndarray) -> ValidatedParams:
                nonlocal cached_base, cached
                key = base.tobytes()
                if key != cached_base:
                    vectors = []
                    for positions, values in assignments:
                        vector = base.copy()
                        vector[positions] = values
                        vectors.append(ValidatedParams(param_space, vector))
                    for validated in vectors:
                        validated.vector.flags.writeable = False
                    cached_base, cached = key, vectors
                # _uniform_index, inlined (a call is a sizeable share of a draw)
                index = int(rng.random() * n)
                return cached[index if index < n else n - 1]

            return draw_member
        return BoxDraws(self, param_space).one  # validated above

    def box_draws(self, param_space: ParamSpace) -> BoxDraws:
        """
        Draws of a box set for one env's parameters, one or many at a time (what :meth:`vector_sampler` draws).

        :param param_space: the env's parameters
        :return: the box's draws
        :raises ValueError: a finite set (draw its members with :meth:`vector_sampler`), or a set the env refuses
        """
        if self.members:
            raise ValueError(f"UncertaintySet {self.name or self.env_id!r} is a finite set; box_draws needs a box")
        self.validate(param_space)
        return BoxDraws(self, param_space)

    def sample_many(self, rng: np.random.Generator, n: int) -> list[dict[str, float]]:
        """:return: ``n`` settings drawn with :meth:`sample`."""
        _check_rng(rng)
        if isinstance(n, bool | np.bool_) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a whole number >= 0, got {n!r}")
        return [self.sample(rng) for _ in range(n)]

    def grid(self, points: int | Mapping[str, int] = 5) -> list[dict[str, float]]:
        """
        The settings of a finite set, or an evenly spaced grid over a box, endpoints included.

        :param points: points per dimension (one number for all, or per name; a dimension whose range
            is a single value gets one point); a finite set returns its members, whatever ``points`` says
        :return: partial parameter mappings, the last name varying fastest
        """
        counts = self._grid_counts(points)
        if self.members:
            return [dict(m) for m in self.members]
        axes = []
        for key in self.low:
            count = counts[key]
            lo, hi = self.low[key], self.high[key]
            if count == 1 or lo == hi:  # a fixed value (a range of one value) is one point, not `count` copies
                values = np.array([(lo + hi) / 2.0])
            elif self.distribution == "log-uniform":
                values = np.geomspace(lo, hi, count)
            else:
                values = np.linspace(lo, hi, count)
            axes.append([float(v) for v in values])
        keys = list(self.low)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]

    def _grid_counts(self, points: Any) -> dict[str, int]:
        """:return: points per varied name, checked (whole numbers >= 1, known names, every name counted)."""

        def count(value: Any, key: str) -> int:
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
                raise TypeError(
                    f"A grid's points must be whole numbers >= 1, got {value!r} ({type(value).__name__}) for {key!r}"
                )
            if value < 1:
                raise ValueError(f"A grid needs at least one point per dimension, got {value} for {key!r}")
            return int(value)

        names = self.names
        if not isinstance(points, Mapping):
            return {key: count(points, key) for key in names}
        unknown = [key for key in points if key not in names]
        if unknown and not self.members:
            raise ValueError(f"grid points name {unknown}, which the set does not vary; its names: {list(names)}")
        missing = [key for key in names if key not in points]
        if missing and not self.members:
            raise ValueError(f"grid points give no count for {missing}; give one per name of {list(names)}, or one number")
        return {key: count(value, key) for key, value in points.items()}

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
        """
        :param data: what :meth:`to_dict` returned (``env_id`` and either ``members`` or ``low`` and ``high``)
        :return: the set it describes
        :raises ValueError: no ``env_id``, or keys :meth:`to_dict` never writes
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"UncertaintySet.from_dict takes a mapping (what to_dict() returns), got {data!r}")
        allowed = [f.name for f in fields(cls)]
        unknown = [key for key in data if key not in allowed]
        if unknown or "env_id" not in data:
            problem = f"unknown keys {unknown}" if unknown else "no 'env_id'"
            raise ValueError(f"UncertaintySet.from_dict({data!r}): {problem}; keys: {allowed} (env_id required)")
        return cls(
            env_id=data["env_id"],
            members=data.get("members", ()),
            low=data.get("low", {}),
            high=data.get("high", {}),
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


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed), or an env's np_random), got {rng!r}"
        )


class BoxDraws:
    """
    Points of a box :class:`UncertaintySet` written into one env's parameter vectors (:meth:`UncertaintySet.box_draws`).

    One uniform per key, in key order, per draw: the stream :meth:`UncertaintySet.sample` consumes, so
    ``points(rng, n)`` draws what ``n`` calls of :meth:`one` draw, in one call of the generator. Draws lie within
    the box, and so within the parameters' bounds: they come out as
    :class:`~robust_envs.params.ValidatedParams` (read-only vectors) that need no check at reset.

    :param uncertainty_set: a box set, validated against ``param_space``
    :param param_space: the env's parameters
    """

    def __init__(self, uncertainty_set: UncertaintySet, param_space: ParamSpace) -> None:
        keys = list(uncertainty_set.low)
        self._space = param_space
        self._keys = len(keys)
        low = np.array([uncertainty_set.low[k] for k in keys], dtype=np.float64)
        high = np.array([uncertainty_set.high[k] for k in keys], dtype=np.float64)
        self._log = uncertainty_set.distribution == "log-uniform"
        self._bounds = (low, high)
        if self._log:
            low, high = np.log(low), np.log(high)
        self._low, self._width = low, high - low
        # a group key writes its drawn value into each of its members
        self._key_of = np.concatenate([np.full(len(param_space.expand(k)), i) for i, k in enumerate(keys)])
        self._positions = np.array([param_space.names.index(m) for k in keys for m in param_space.expand(k)], dtype=np.intp)
        # low + width * u is monotone in u (every rounding is), and u < 1: a point past the box's upper end is
        # possible only where the largest u reaches it (width rounded up), so the cheap draw needs no clip elsewhere
        self._overshoot = self._log or bool((low + self._width * np.nextafter(1.0, 0.0) > high).any())

    def points(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """:return: ``n`` points of the box, (n, keys): the values ``n`` draws of :meth:`one` write."""
        # rng.uniform(low, high) computes low + (high - low) * random() for each key too (the same bits), at
        # several times the cost
        point = self._low + self._width * rng.random((n, self._keys))
        if self._overshoot:
            # exp(log(x)) can overshoot x by an ulp (and so can a rounded width); the set's ends are valid values,
            # so stay inside them
            point = np.clip(np.exp(point) if self._log else point, *self._bounds)
        return point

    def on(self, base: np.ndarray, points: np.ndarray) -> list[ValidatedParams]:
        """:return: ``base`` (a valid full vector) with each point written in, as validated settings."""
        space = self._space
        return [ValidatedParams(space, vector) for vector in self.vectors_on(base, points)]

    def vectors_on(self, base: np.ndarray, points: np.ndarray) -> np.ndarray:
        """
        :return: the read-only (n, n_params) vectors of :meth:`on`: row ``i`` is ``base`` with point ``i`` written in;
            ``ValidatedParams(param_space, row)`` is its setting
        """
        vectors = np.repeat(base[None, :], len(points), axis=0)
        vectors[:, self._positions] = points[:, self._key_of]
        # within the set, so within the parameters' bounds: validated without checking each draw again
        vectors.flags.writeable = False
        return vectors

    def one(self, rng: np.random.Generator, base: np.ndarray) -> ValidatedParams:
        """:return: one draw written into ``base`` (what :meth:`UncertaintySet.vector_sampler` draws)."""
        vector = base.copy()
        vector[self._positions] = self.points(rng, 1)[0, self._key_of]
        vector.flags.writeable = False
        return ValidatedParams(self._space, vector)
