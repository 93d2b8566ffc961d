"""Named physical parameters: declaration, validation and conversion."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

#: How a parameter acts on the simulator.
#:
#: - ``"mass_scale"``: mass and inertia of ``targets`` (bodies) scale by ``value / nominal`` (densities, masses);
#: - ``"friction_scale"``: sliding friction of every geom scales by ``value / nominal``;
#: - ``"dof_damping"`` / ``"dof_armature"``: the value is written to the joints' DoFs;
#: - ``"geometry"``: lengths and sizes: written into the compiled model in place where they edit primitive geoms
#:   and positions, else the model is rebuilt through :class:`mujoco.MjSpec` (``ModelBuilder.geometry_path``);
#: - ``"custom"``: an environment's own equations use the value (classic-control envs).
ParamKind = Literal["mass_scale", "friction_scale", "dof_damping", "dof_armature", "geometry", "custom"]

_MUJOCO_FIELDS: dict[str, str] = {
    "mass_scale": "body_mass, body_inertia",
    "friction_scale": "geom_friction[:, 0]",
    "dof_damping": "dof_damping",
    "dof_armature": "dof_armature",
    "geometry": "MjSpec (recompiled)",
    "custom": "equations of motion",
}


@dataclass(frozen=True)
class GeometryEdit:
    """
    How a length or size parameter edits an :class:`mujoco.MjSpec`.

    Every listed quantity is scaled by ``value / nominal`` about its own origin, so the
    nominal value reproduces the upstream model exactly.

    :param geom_fromto: geoms whose ``fromto`` segment is stretched from its start point
    :param geom_size: geoms whose ``size`` (all components) is scaled
    :param body_pos: bodies whose position in their parent frame is scaled (children hanging below a segment)
    :param site_pos: sites whose position in their body frame is scaled
    """

    geom_fromto: tuple[str, ...] = ()
    geom_size: tuple[str, ...] = ()
    body_pos: tuple[str, ...] = ()
    site_pos: tuple[str, ...] = ()

    def elements(self) -> tuple[tuple[str, str], ...]:
        """:return: the ``(kind, name)`` of every MJCF element the edit changes (kind: geom, body, site, camera)."""
        return (
            *(("geom", g) for g in (*self.geom_fromto, *self.geom_size)),
            *(("body", b) for b in self.body_pos),
            *(("site", s) for s in self.site_pos),
        )

    def describe(self) -> str:
        """:return: a one-line summary of the MjSpec fields this edit touches."""
        parts = [f"geom {g} fromto" for g in self.geom_fromto]
        parts += [f"geom {g} size" for g in self.geom_size]
        parts += [f"body {b} pos" for b in self.body_pos]
        parts += [f"site {s} pos" for s in self.site_pos]
        return "; ".join(parts)


@dataclass(frozen=True)
class ParamSpec:
    """
    One named physical parameter of an environment.

    :param name: parameter name, as users write it (``torso_density``)
    :param nominal: value of the unperturbed (upstream) model
    :param low: smallest physically valid value (inclusive)
    :param high: largest physically valid value (inclusive)
    :param unit: physical unit (``kg/m^3``, ``m``, ``N*s/m``, ``1`` for factors)
    :param description: one-line meaning
    :param kind: how the value acts on the simulator, see :data:`ParamKind`
    :param targets: model elements the parameter edits (bodies for masses, joints for damping and armature)
    :param geometry: the MjSpec edit of a ``"geometry"`` parameter
    """

    name: str
    nominal: float
    low: float
    high: float
    unit: str
    description: str
    kind: ParamKind = "custom"
    targets: tuple[str, ...] = ()
    geometry: GeometryEdit | None = None

    def __post_init__(self) -> None:
        if not self.low <= self.nominal <= self.high:
            raise ValueError(f"Nominal value {self.nominal} of {self.name!r} is outside its bounds [{self.low}, {self.high}]")
        if (self.kind == "geometry") != (self.geometry is not None):
            raise ValueError(f"Parameter {self.name!r}: a GeometryEdit is required for, and only for, kind='geometry'")

    @property
    def mujoco_field(self) -> str:
        """:return: the simulator field(s) the parameter edits, for documentation."""
        if self.geometry is not None:
            return self.geometry.describe()
        fields = _MUJOCO_FIELDS[self.kind]
        return f"{fields} of {', '.join(self.targets)}" if self.targets else fields


@dataclass(frozen=True)
class ParamGroup:
    """
    One name standing for several parameters that are set to one value (the papers' robot-wide ``density``).

    :param name: group name
    :param members: the parameter names it sets
    :param description: one-line meaning
    """

    name: str
    members: tuple[str, ...]
    description: str


class ValidatedParams:
    """
    A full parameter vector already validated against one :class:`ParamSpace`, for settings used many times.

    :meth:`ParamSpace.validated` makes one; :meth:`ParamSpace.resolve` (and so ``params=``, ``set_params``
    and ``reset(options={"params": ...})``) takes it without checking the values again, which is what
    keeps a domain-randomised reset cheap. The vector is read-only, so it stays valid.

    :param space: the parameter space it was validated against
    :param vector: the read-only full vector, in declared order
    """

    __slots__ = ("space", "vector")

    def __init__(self, space: ParamSpace, vector: np.ndarray) -> None:
        self.space = space
        self.vector = vector

    def __repr__(self) -> str:
        return f"ValidatedParams({self.space.to_dict(self.vector)})"


ParamsLike = Mapping[str, float] | Sequence[float] | np.ndarray | ValidatedParams


@dataclass(frozen=True)
class ParamSpace:
    """
    The ordered, named physical parameters of an environment, with their groups.

    Values are validated on the way in, so an environment never runs with a misspelt name, a NaN
    or a value outside the physical bounds.

    :param specs: the parameters, in the order of the flat parameter vector
    :param groups: names that stand for several parameters at once
    :param owner: the environment's name, used in error messages
    """

    specs: tuple[ParamSpec, ...]
    groups: tuple[ParamGroup, ...] = ()
    owner: str = "environment"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _nominal: np.ndarray = field(init=False, repr=False, compare=False)
    _low: np.ndarray = field(init=False, repr=False, compare=False)
    _high: np.ndarray = field(init=False, repr=False, compare=False)
    _groups: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _bounds: tuple[tuple[float, float], ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {spec.name: i for i, spec in enumerate(self.specs)}
        if len(index) != len(self.specs):
            raise ValueError(f"Duplicate parameter names in {self.owner}: {self.names}")
        for group in self.groups:
            if group.name in index:
                raise ValueError(f"Group {group.name!r} of {self.owner} clashes with a parameter of the same name")
            unknown = [m for m in group.members if m not in index]
            if unknown:
                raise ValueError(f"Group {group.name!r} of {self.owner} names unknown parameters {unknown}")
        object.__setattr__(self, "_index", index)
        # cached arrays: resolve() runs at every domain-randomised reset
        object.__setattr__(self, "_nominal", np.array([spec.nominal for spec in self.specs], dtype=np.float64))
        object.__setattr__(self, "_low", np.array([spec.low for spec in self.specs], dtype=np.float64))
        object.__setattr__(self, "_high", np.array([spec.high for spec in self.specs], dtype=np.float64))
        object.__setattr__(self, "_groups", {group.name: group.members for group in self.groups})
        object.__setattr__(self, "_names", tuple(spec.name for spec in self.specs))
        # (low, high) as Python floats for the fast check of full vectors; only where every bound is
        # finite, since the check then also rejects NaN and inf (comparisons with NaN are false)
        finite = all(math.isfinite(spec.low) and math.isfinite(spec.high) for spec in self.specs)
        object.__setattr__(self, "_bounds", tuple((spec.low, spec.high) for spec in self.specs) if finite else None)

    # ---- introspection -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """:return: parameter names in vector order."""
        return self._names

    @property
    def group_names(self) -> tuple[str, ...]:
        """:return: the names of the parameter groups."""
        return tuple(group.name for group in self.groups)

    @property
    def nominal(self) -> np.ndarray:
        """:return: the nominal parameter vector (a new array)."""
        return self._nominal.copy()

    @property
    def low(self) -> np.ndarray:
        """:return: lower physical bounds in vector order."""
        return self._low.copy()

    @property
    def high(self) -> np.ndarray:
        """:return: upper physical bounds in vector order."""
        return self._high.copy()

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self._index or name in self.group_names

    def index(self, name: str) -> int:
        """
        :param name: a parameter name
        :return: its position in the parameter vector
        """
        if name not in self._index:
            self._raise_unknown(name)
        return self._index[name]

    def __getitem__(self, name: str) -> ParamSpec:
        return self.specs[self.index(name)]

    def expand(self, name: str) -> tuple[str, ...]:
        """
        :param name: a parameter or group name
        :return: the parameter names it stands for
        """
        if name in self._index:
            return (name,)
        if name in self._groups:
            return self._groups[name]
        self._raise_unknown(name)
        raise AssertionError("unreachable")

    def indices_of_kind(self, *kinds: str) -> list[int]:
        """:return: positions of the parameters whose kind is one of ``kinds``."""
        return [i for i, spec in enumerate(self.specs) if spec.kind in kinds]

    # ---- conversion ------------------------------------------------------------------------
    def resolve(self, params: ParamsLike | None, base: np.ndarray | None = None) -> np.ndarray:
        """
        Turn user input into a validated full parameter vector.

        :param params: ``None`` (the base values), a mapping from parameter or group names to values
            (partial: the others keep their base value) or a full vector in declared order
        :param base: values for the parameters a partial mapping leaves out (default: nominal)
        :return: a new float64 vector in declared order
        :raises ValueError: unknown name, wrong length, NaN or inf, value outside the physical bounds
        :raises TypeError: input that is neither a mapping nor a sequence of numbers
        """
        if type(params) is ValidatedParams:
            if params.space is not self and params.space != self:  # equal after a pickle round trip
                raise ValueError(
                    f"ValidatedParams of {params.space.owner} given to {self.owner}: validate them with this env's param_space"
                )
            return params.vector.copy()
        if (
            self._bounds is not None
            and type(params) is np.ndarray
            and params.dtype == np.float64
            and params.shape == self._nominal.shape
            # on ten-odd values a Python comparison beats numpy's per-call overhead threefold
            and all(low <= x <= high for (low, high), x in zip(self._bounds, params.tolist(), strict=True))
        ):
            # a valid full float vector, what wrappers and samplers pass at every reset; anything else,
            # invalid vectors included, takes the checks below, which name the bad value
            return params.copy()
        vector = self._nominal.copy() if base is None else np.array(base, dtype=np.float64)
        if params is None:
            return vector
        if isinstance(params, Mapping):
            assigned: dict[str, tuple[str, float]] = {}
            for key, raw in params.items():
                if not isinstance(key, str):
                    raise TypeError(f"Parameter names must be strings, got {key!r} ({type(key).__name__}) for {self.owner}")
                value = self._to_float(key, raw)
                for member in self.expand(key):
                    if member in assigned and assigned[member][1] != value:
                        first = assigned[member][0]
                        raise ValueError(
                            f"Conflicting values for {member!r} of {self.owner}: {first!r} sets {assigned[member][1]}"
                            f" and {key!r} sets {value}. Give each parameter one value."
                        )
                    assigned[member] = (key, value)
                    vector[self._index[member]] = value
        elif isinstance(params, str | bytes):
            raise TypeError(
                f"params must be a mapping of names to numbers or a sequence of {len(self)} numbers, got {params!r}"
            )
        elif isinstance(params, np.ndarray | Sequence):
            values = np.asarray(params)
            if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
                raise TypeError(
                    f"params for {self.owner} must be numbers, got {params!r}; "
                    f"pass a dict like {{{self.names[0]!r}: {self.specs[0].nominal}}} or a vector in the order {self.names}"
                )
            if values.shape != (len(self),):
                raise ValueError(
                    f"Wrong parameter vector shape {values.shape} for {self.owner}: "
                    f"expected ({len(self)},) in the order {self.names}"
                )
            for name, raw in zip(self.names, values, strict=True):
                vector[self._index[name]] = self._to_float(name, raw)
        else:
            raise TypeError(
                f"params must be a mapping of names to numbers or a sequence of {len(self)} numbers, "
                f"got {type(params).__name__}: {params!r}"
            )
        self.check_bounds(vector)
        return vector

    def validated(self, params: ParamsLike | None, base: np.ndarray | None = None) -> ValidatedParams:
        """
        :param params: as for :meth:`resolve`
        :param base: as for :meth:`resolve`
        :return: the resolved vector, wrapped so that :meth:`resolve` takes it again without re-checking
        """
        vector = self.resolve(params, base)
        vector.flags.writeable = False
        return ValidatedParams(self, vector)

    def assignment(self, setting: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """
        Where a partial setting writes into a full vector, for settings applied many times (domain randomisation).

        :param setting: a mapping from parameter or group names to values
        :return: positions and values (validated like :meth:`resolve`): ``vector[positions] = values``
            applies the setting to any valid ``vector``
        """
        vector = self.resolve(setting)
        positions = np.array(sorted({self._index[m] for key in setting for m in self.expand(key)}), dtype=np.intp)
        return positions, vector[positions]

    def resolve_rows(self, rows: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """
        Validate a (K, n_params) array of full parameter vectors, as :meth:`resolve` does row by row.

        Float64 rows that are all within finite bounds are checked in one vectorised comparison (WR2L's
        batched episodes pass the same rows at every time step); anything else takes :meth:`resolve` row by
        row, which names the bad value.

        :param rows: a 2-D array, one parameter vector per row
        :param base: as for :meth:`resolve` (only read on the row-by-row path)
        :return: a new (K, n_params) float64 array
        """
        if (
            self._bounds is not None
            and type(rows) is np.ndarray  # not a subclass: a masked array's .all() skips masked entries
            and rows.dtype == np.float64
            and rows.shape[1:] == self._nominal.shape
            # NaN fails both comparisons, so it takes the row-by-row path and its error
            and bool(((rows >= self._low) & (rows <= self._high)).all())
        ):
            return rows.copy()
        return np.stack([self.resolve(row, base=base) for row in rows])

    def check_bounds(self, vector: np.ndarray) -> None:
        """
        :param vector: a full parameter vector
        :raises ValueError: naming the first value outside its physical bounds
        """
        if ((self._low <= vector) & (vector <= self._high)).all():
            return
        for spec, value in zip(self.specs, vector, strict=True):
            if not spec.low <= value <= spec.high:
                raise ValueError(
                    f"Parameter {spec.name!r} of {self.owner} = {value} is outside its physical bounds "
                    f"[{spec.low}, {spec.high}] {spec.unit}"
                )

    def to_dict(self, vector: np.ndarray) -> dict[str, float]:
        """
        :param vector: a full parameter vector
        :return: a JSON-serialisable ``{name: value}`` mapping of plain floats
        """
        return dict(zip(self._names, np.asarray(vector, dtype=np.float64).tolist(), strict=True))

    def normalize(self, vector: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """
        Scale parameter vectors to ``[0, 1]`` per dimension over a range (used for parameter distances).

        :param vector: parameter vector(s), last axis in declared order
        :param low: lower end of the range
        :param high: upper end of the range; dimensions where ``high == low`` map to 0
        :return: the normalised vector(s)
        """
        width = np.where(high > low, high - low, 1.0)
        return (np.asarray(vector, dtype=np.float64) - low) / width

    # ---- helpers ---------------------------------------------------------------------------
    def _to_float(self, name: str, raw: Any) -> float:
        if isinstance(raw, bool | np.bool_) or not isinstance(raw, int | float | np.integer | np.floating):
            raise TypeError(
                f"Value of parameter {name!r} of {self.owner} must be a number, got {raw!r} ({type(raw).__name__})"
            )
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"Parameter {name!r} of {self.owner} must be finite, got {value}")
        return value

    def _raise_unknown(self, name: str) -> None:
        valid = list(self.names) + list(self.group_names)
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown parameter {name!r} for {self.owner}.{hint} Valid names: {tuple(valid)}")


def density_specs(bodies: Iterable[str], nominal: float = 1000.0) -> tuple[ParamSpec, ...]:
    """
    ``<body>_density`` parameters: mass and inertia of each body scale by ``density / nominal``.

    :param bodies: body names
    :param nominal: the density the XML declares (MuJoCo's default is 1000 kg/m^3)
    :return: one spec per body
    """
    return tuple(
        ParamSpec(
            name=f"{body}_density",
            nominal=nominal,
            low=1e-3,
            high=1e6,
            unit="kg/m^3",
            description=f"density of the {body} (mass and inertia scale with it)",
            kind="mass_scale",
            targets=(body,),
        )
        for body in bodies
    )


def joint_specs(joints: Mapping[str, tuple[float, float]], slide: tuple[str, ...] = ()) -> tuple[ParamSpec, ...]:
    """
    ``<joint>_damping`` and ``<joint>_armature`` parameters of actuated joints.

    :param joints: joint name (as in the XML) -> (nominal damping, nominal armature); the parameter
        name drops a ``_joint`` suffix
    :param slide: the joints that slide (the others hinge), for the units
    :return: the damping specs followed by the armature specs
    """
    damping, armature = [], []
    for joint, (nominal_damping, nominal_armature) in joints.items():
        short = joint.removesuffix("_joint")
        damping_unit, armature_unit = ("N*s/m", "kg") if joint in slide else ("N*m*s/rad", "kg*m^2")
        damping.append(
            ParamSpec(
                name=f"{short}_damping",
                nominal=nominal_damping,
                low=0.0,
                high=1e4,
                unit=damping_unit,
                description=f"viscous damping of joint {joint}",
                kind="dof_damping",
                targets=(joint,),
            )
        )
        armature.append(
            ParamSpec(
                name=f"{short}_armature",
                nominal=nominal_armature,
                low=0.0,
                high=1e3,
                unit=armature_unit,
                description=f"armature (reflected rotor inertia) of joint {joint}",
                kind="dof_armature",
                targets=(joint,),
            )
        )
    return (*damping, *armature)


FRICTION_SPEC = ParamSpec(
    name="friction",
    nominal=1.0,
    low=0.0,
    high=100.0,
    unit="1 (factor)",
    description="factor on the sliding friction of every geom, hence of every contact",
    kind="friction_scale",
)
