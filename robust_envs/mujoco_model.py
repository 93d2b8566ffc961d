"""
Building perturbed MuJoCo models from a pristine nominal model: in-place edits and cached MjSpec rebuilds.

Lengths and sizes are written in place by :mod:`robust_envs.inplace_geometry` (whose :class:`InPlaceGeometry`,
:class:`NotInPlace` and :class:`SpecValues` this module re-exports).
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, TypeVar

import mujoco
import numpy as np

from robust_envs.batch_geometry import BatchGeometry
from robust_envs.inplace_geometry import Compiled, InPlaceGeometry, NotInPlace, SpecValues, Swap
from robust_envs.params import GeometryEdit, ParamSpace

__all__ = [
    "InPlaceGeometry",
    "LRUCache",
    "ModelBuilder",
    "ModelPool",
    "NotInPlace",
    "SpecValues",
    "apply_geometry",
    "compile_pristine",
    "keep_body_masses",
]


class LRUCache:
    """
    A small least-recently-used cache.

    :param maxsize: how many entries to keep
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        """:return: the cached value or ``None``."""
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value``, evicting the least recently used entry when full."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# Compiled pristine models shared by every env in the process, keyed by XML path and geometry.
_PRISTINE_CACHE = LRUCache(maxsize=128)


def apply_geometry(spec: mujoco.MjSpec, edit: GeometryEdit, factor: float) -> None:
    """Scale the elements ``edit`` names in ``spec`` by ``factor`` (a geometry parameter's ``value / nominal``)."""
    for name in edit.geom_fromto:
        geom = spec.geom(name)
        # start + (end - start) * factor per coordinate, in Python floats (numpy's arithmetic, bit for bit)
        s0, s1, s2, e0, e1, e2 = np.asarray(geom.fromto, dtype=np.float64).tolist()
        geom.fromto = np.array([s0, s1, s2, s0 + (e0 - s0) * factor, s1 + (e1 - s1) * factor, s2 + (e2 - s2) * factor])
    for name in edit.geom_size:
        geom = spec.geom(name)
        geom.size = np.array(geom.size, dtype=np.float64) * factor
    for name in edit.body_pos:
        body = spec.body(name)
        body.pos = np.array(body.pos, dtype=np.float64) * factor
    for name in edit.site_pos:
        site = spec.site(name)
        site.pos = np.array(site.pos, dtype=np.float64) * factor


def keep_body_masses(model: mujoco.MjModel, nominal: mujoco.MjModel) -> None:
    """
    Give every body of ``model`` its mass in ``nominal``, spread uniformly over its shape in ``model`` (in place).

    A body's mass and inertia scale by ``m_nominal / m_model``: the inertia of its new shape at the kept
    mass. A uniform density change moves neither the centre of mass nor the principal axes, so
    ``body_ipos`` and ``body_iquat`` stay those the compiler computed for the new shape. A body whose mass
    is explicit in the MJCF weighs the same in both models, so its factor is 1. (A body mixing explicit
    masses with masses inferred from geometry would have all its geoms scaled alike; no body that a
    length or size parameter of this package reshapes does.) Derived constants are recomputed.

    :param model: a compiled model with edited geometry (same bodies as ``nominal``)
    :param nominal: the model of nominal geometry
    """
    factor = np.ones(model.nbody)
    massive = model.body_mass > 0
    factor[massive] = nominal.body_mass[massive] / model.body_mass[massive]
    # the kept masses are copied, not multiplied back, so they equal the nominal masses to the bit
    model.body_mass[:] = nominal.body_mass
    model.body_inertia[:] *= factor[:, None]
    mujoco.mj_setConst(model, mujoco.MjData(model))


def compile_pristine(
    xml_path: str,
    geometry: tuple[tuple[GeometryEdit, float], ...],
    prepare: Callable[[mujoco.MjSpec], None] | None = None,
    keep_mass: bool = False,
) -> mujoco.MjModel:
    """
    Compile the model of ``xml_path`` with geometry edits, from a cache when it was built before.

    With no edit (or only unit factors) and no ``prepare`` this is the upstream model exactly, whatever
    ``keep_mass``.

    :param xml_path: absolute path of the MJCF file
    :param geometry: ``(edit, factor)`` pairs, ``factor = value / nominal``
    :param prepare: structural edits of the env applied to the spec before the geometry edits (a
        module-level function: it is part of the cache key)
    :param keep_mass: ``False``: each body keeps its density, so its mass follows its new volume; ``True``:
        each body keeps its mass at nominal geometry, with the inertia of its new shape (:func:`keep_body_masses`)
    :return: the compiled model; treat it as read-only (copy before editing)
    """
    edits = tuple((edit, factor) for edit, factor in geometry if factor != 1.0)
    # keep_mass is part of the key only where it makes a difference: the nominal model is shared
    key = (xml_path, prepare, edits, keep_mass and bool(edits))
    model = _PRISTINE_CACHE.get(key)
    if model is None:
        if key[3]:
            model = copy.copy(compile_pristine(xml_path, edits, prepare))
            keep_body_masses(model, compile_pristine(xml_path, (), prepare))
        elif edits or prepare is not None:
            spec = mujoco.MjSpec.from_file(xml_path)
            if prepare is not None:
                prepare(spec)
            for edit, factor in edits:
                apply_geometry(spec, edit, factor)
            model = spec.compile()
        else:
            model = mujoco.MjModel.from_xml_path(xml_path)
        _PRISTINE_CACHE.put(key, model)
    return model


class _Prepared(NamedTuple):
    # what ModelBuilder.prepare computed: the vectors' bytes (row after row, each `width` bytes), the bytes of the
    # first row's other parameters, the writer, the values it writes (InPlaceGeometry.write_values; the final
    # masses for the first row's other parameters) and the statistics, the vectors and the compiler's masses of the
    # reshaped bodies (a Compiled's, row by row), which rows hold a setting to write, and which have the first row's
    # other parameters
    keys: bytes
    width: int
    others: bytes
    writer: InPlaceGeometry
    values: np.ndarray
    stat: np.ndarray
    vectors: np.ndarray
    masses: np.ndarray
    ok: list[bool]
    first: list[bool]


# In-place writers (or the reason why there is none), by builder class, XML, structural edits and touched elements.
_IN_PLACE: dict[Hashable, InPlaceGeometry | str] = {}
# the vectorised twin of each writer (or why there is none)
_BATCH: weakref.WeakKeyDictionary[InPlaceGeometry, BatchGeometry | str] = weakref.WeakKeyDictionary()

#: A pool of an env's own models: parameter vector (bytes) -> (model, the vector it was built for).
ModelPool = OrderedDict[bytes, tuple[mujoco.MjModel, np.ndarray]]
T = TypeVar("T")


def _selector(ids: list[int]) -> slice | np.ndarray:
    # a slice for consecutive ids, else an index array
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return slice(ids[0], ids[0] + len(ids))
    return np.array(ids, dtype=np.intp)


class ModelBuilder:
    """
    Produces the :class:`mujoco.MjModel` of any parameter vector of a :class:`ParamSpace`.

    **Geometry.** Where every length and size parameter edits primitive geoms (sizes, ``fromto`` segments,
    positions) and body, site or camera positions, the builder writes the compiled result into a copy of the
    nominal model (:class:`~robust_envs.inplace_geometry.InPlaceGeometry`: geom sizes, frames, bounding boxes,
    the reshaped bodies' masses, inertias and inertial frames, the statistics, then ``mj_setConst``), equal to an
    MjSpec rebuild to 1e-12 without compiling. A pooled model that keeps its other parameters (a domain-randomised
    reset with an unseen geometry) gets only that: the geometry, the reshaped bodies' masses, ``mj_setConst``.
    Otherwise (meshes, shell inertia, ``settotalmass`` outside the suite, a shape the compiler would treat
    specially) the geometry selects a pristine model compiled through MjSpec (cached process-wide, keyed by
    geometry and ``keep_mass``). :attr:`geometry_path` says which path an env takes.

    **Everything else** is an in-place edit (:meth:`edit`) always starting again from the values of the model's
    geometry, so edits never compound. Mass, inertia and armature edits are followed by ``mj_setConst`` on the
    builder's scratch ``MjData``, so derived constants match a recompiled model and no live episode is touched.
    Built models returned by :meth:`model_for` are cached (LRU) and shared: nobody edits them afterwards. An
    env's own models come from :meth:`pooled`, which rewrites them in place.

    :param xml_path: absolute path of the MJCF file
    :param param_space: the parameters
    :param cache_size: how many fully built models :meth:`model_for` keeps
    :param prepare_spec: the env's structural edits of the MJCF, applied before the geometry edits
    :param keep_mass: geometry parameters keep each body's mass instead of its density (see
        :func:`compile_pristine`); builders of either kind never share a model
    """

    def __init__(
        self,
        xml_path: str,
        param_space: ParamSpace,
        cache_size: int = 256,
        prepare_spec: Callable[[mujoco.MjSpec], None] | None = None,
        keep_mass: bool = False,
    ) -> None:
        self.xml_path = xml_path
        self.prepare_spec = prepare_spec
        self.keep_mass = keep_mass
        self.param_space = param_space
        self._geometry_idx = np.array(param_space.indices_of_kind("geometry"), dtype=np.intp)
        self._geometry_edits = tuple(param_space.specs[i].geometry for i in self._geometry_idx)
        # (edit, position, nominal value) of each geometry parameter
        self._geometry_nominal = tuple(
            (param_space.specs[i].geometry, int(i), float(param_space.nominal[i])) for i in self._geometry_idx
        )
        self._other_idx = np.setdiff1d(np.arange(len(param_space.specs)), self._geometry_idx)
        # the mass factors of the last non-geometry parameters edited: (their bytes, factor per body)
        self._factors: tuple[bytes, np.ndarray] | None = None
        # settings met recently by pooled (a setting met twice earns a model of its own)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._const_idx = param_space.indices_of_kind("mass_scale", "dof_armature")
        self._models = LRUCache(cache_size)
        self._plan_cache: dict[str, np.ndarray] | None = None
        self._scratch: mujoco.MjData | None = None
        self._nominal = param_space.nominal
        self._writer: InPlaceGeometry | str | None = None
        self._nominal_model: mujoco.MjModel | None = None
        # the last geometry written: its bytes, what it compiled to (None: the nominal geometry) and, once asked
        # for, every body's mass and inertia in it before the other parameters' factors
        self._base: tuple[bytes, Compiled | None, tuple[np.ndarray, np.ndarray] | None] | None = None
        # or, in its stead, the prepared setting written last (its batch and row): made a _base when asked for
        self._base_ahead: tuple[_Prepared, int] | None = None
        # for the non-geometry parameters of the last edit (their bytes): the mass factors of the reshaped bodies,
        # and what the writer swaps besides them while it computes the statistics (see _write_reshaped)
        self._reshape_plan: tuple[bytes, list[float], Swap | None] | None = None
        # slices where the parameters are consecutive: indexing with them costs a fraction of an index array's
        self._geometry_sel = _selector(self._geometry_idx.tolist())
        self._other_sel = _selector(self._other_idx.tolist())
        self._batch: BatchGeometry | str | None = None
        # the settings computed ahead by prepare(), and the next of them to come
        self._prepared: _Prepared | None = None
        self._prepared_next = 0

    # ---- geometry --------------------------------------------------------------------------------------
    def geometry_key(self, vector: np.ndarray) -> tuple[tuple[GeometryEdit, float], ...]:
        """:return: the ``(edit, factor)`` pairs of the geometry parameters of ``vector``."""
        # Python floats: the quotients numpy computes, without its per-call cost
        values = vector.tolist()
        return tuple((edit, values[i] / nominal) for edit, i, nominal in self._geometry_nominal)

    def geometry_edits(self, vector: np.ndarray) -> tuple[tuple[GeometryEdit, float], ...]:
        """:return: the edits :meth:`pristine` applies for ``vector``, with their amounts (identities left out)."""
        return tuple((edit, factor) for edit, factor in self.geometry_key(vector) if factor != 1.0)

    def edit_values(self, values: SpecValues, edit: GeometryEdit, amount: float) -> None:
        """Apply one geometry edit to spec values, as :meth:`pristine` applies it to the MjSpec."""
        apply_geometry(values, edit, amount)  # type: ignore[arg-type]

    def geometry_bytes(self, vector: np.ndarray) -> bytes:
        """:return: the geometry parameters of ``vector`` as bytes: equal exactly when the geometries are."""
        return vector[self._geometry_sel].tobytes()

    def pristine(self, vector: np.ndarray) -> mujoco.MjModel:
        """:return: the read-only model compiled through MjSpec for the geometry of ``vector`` (other parameters nominal)."""
        return compile_pristine(self.xml_path, self.geometry_key(vector), self.prepare_spec, self.keep_mass)

    def nominal_model(self) -> mujoco.MjModel:
        """:return: the read-only compiled model of nominal geometry (density and mass alike)."""
        if self._nominal_model is None:
            self._nominal_model = self._compile_nominal()
        return self._nominal_model

    def _compile_nominal(self) -> mujoco.MjModel:
        return compile_pristine(self.xml_path, (), self.prepare_spec)

    def nominal_spec(self) -> mujoco.MjSpec:
        """:return: a new MjSpec of the nominal model, with the env's structural edits."""
        spec = mujoco.MjSpec.from_file(self.xml_path)
        if self.prepare_spec is not None:
            self.prepare_spec(spec)
        return spec

    def inferred_mass_scale(self, spec: mujoco.MjSpec) -> float | None:
        """:return: the factor a geometry rebuild puts on masses inferred from geometry (``None``: not a constant)."""
        # compile_pristine lets settotalmass rescale every body to the total: not a fixed factor
        return None if spec.compiler.settotalmass > 0 else 1.0

    @property
    def in_place(self) -> InPlaceGeometry | None:
        """The writer of geometry edits into compiled models, or ``None`` when geometry goes through MjSpec."""
        writer = self._writer
        if writer is None:
            specs = self.param_space.specs
            elements = tuple(e for i in self._geometry_idx for e in specs[i].geometry.elements())  # type: ignore[union-attr]
            key = (type(self), self.xml_path, self.prepare_spec, elements)
            writer = _IN_PLACE.get(key)
            if writer is None:
                if not elements:
                    writer = "no geometry parameters"
                else:
                    spec = self.nominal_spec()
                    writer = InPlaceGeometry.create(self.nominal_model(), spec, elements, self.inferred_mass_scale(spec))
                _IN_PLACE[key] = writer
            self._writer = writer
        return writer if isinstance(writer, InPlaceGeometry) else None

    @property
    def batch(self) -> BatchGeometry | None:
        """The vectorised twin of :attr:`in_place` that :meth:`prepare` runs, or ``None`` where there is none."""
        batch = self._batch
        if batch is None:
            writer = self.in_place
            if writer is None or not self.vectorised_edits:
                batch = "no in-place writer, or geometry edits without a vectorised form (batch_spec_values)"
            else:  # one per writer (writers are shared by the builders of a model structure)
                batch = _BATCH.get(writer)
                if batch is None:
                    batch = _BATCH[writer] = BatchGeometry.create(writer)
            self._batch = batch
        return batch if isinstance(batch, BatchGeometry) else None

    def prepare(self, vectors: np.ndarray) -> int:
        """
        Compute ahead, in one batch, the models of the settings that the next episodes will run, in this order
        (domain randomisation's next draws): :meth:`write` of the next of them is then one assignment and
        ``mj_setConst``.

        Prepared are the settings with a geometry other than the nominal one, where :attr:`batch` exists; every other
        setting, and a setting that comes out of order, takes the usual path. A setting with the other parameters of
        the first row, written into a model that holds them, costs the assignment and ``mj_setConst``; any other
        gets the other parameters' edits too. A new call replaces the settings prepared before. Nothing else changes.

        :param vectors: (B, n_params) validated parameter vectors
        :return: how many settings were prepared
        """
        batch = self.batch
        self._prepared, self._prepared_next = None, 0
        if batch is None or not len(vectors):
            return 0
        writer = self.in_place
        assert writer is not None
        vectors = np.array(vectors, dtype=np.float64)  # its own copy: rows are read after the call (_current_base)
        others = vectors[:, self._other_sel]
        scalars, changed = self.batch_spec_values(writer, vectors)
        compiled = batch.compile(scalars)
        ok = changed & compiled.ok
        if not ok.any():
            return 0
        # the final masses, for the rows with the first row's other parameters (their mass factors)
        values = np.concatenate((compiled.values, self._final_masses(writer, compiled.masses, vectors[0])), axis=1)
        self._prepared = _Prepared(
            vectors.tobytes(),
            vectors.shape[1] * 8,
            others[0].tobytes(),
            writer,
            values,
            compiled.stat,
            vectors,
            compiled.masses,
            ok.tolist(),
            (others == others[0]).all(axis=1).tolist(),
        )
        return int(ok.sum())

    @property
    def vectorised_edits(self) -> bool:
        """Whether :meth:`batch_spec_values` computes this builder's geometry edits (:func:`apply_geometry`'s scaling)."""
        return self._scaling_rules is not None

    def batch_spec_values(self, writer: InPlaceGeometry, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        :param writer: the builder's in-place writer
        :param vectors: (B, n_params) validated parameter vectors
        :return: the writer's flat spec values for the geometry of each row (B, S), as :meth:`_spec_scalars` computes
            them one at a time, and which rows have a geometry other than the nominal one
        """
        scalars = np.repeat(np.array([writer.scalars]), len(vectors), axis=0)
        changed = np.zeros(len(vectors), dtype=bool)
        for position, nominal, fromto, scaled in self._scaling_rules or ():
            factor = vectors[:, position] / nominal
            moved = factor != 1.0
            changed |= moved
            for start in fromto:  # identities left out, as _spec_scalars leaves them
                near, far = scalars[:, start : start + 3], scalars[:, start + 3 : start + 6]
                scalars[:, start + 3 : start + 6] = np.where(moved[:, None], near + (far - near) * factor[:, None], far)
            if scaled:
                scalars[:, list(scaled)] *= factor[:, None]
        return scalars, changed

    def _final_masses(self, writer: InPlaceGeometry, masses: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """:return: the final masses of :meth:`_write_reshaped` (``_base_values`` times the mass factors) of each row."""
        scale = writer.mass_scale
        base = masses * scale if scale != 1.0 else masses.copy()
        if self.keep_mass:  # the nominal mass spread over the new shape
            kept = np.array(writer.kept_masses)
            mass = base[:, 0::4]
            ratio = np.where(mass > 0, kept / np.where(mass > 0, mass, 1.0), 1.0)
            base[:, 0::4] = kept
            for k in (1, 2, 3):
                base[:, k::4] *= ratio
        return base * np.repeat(self._mass_factor(vector)[writer.body_rows], 4)

    @property
    def rewritable(self) -> bool:
        """Whether :meth:`write` can turn any model of this builder into that of any vector (geometry in place, or none)."""
        writer = self._writer if self._writer is not None else self.in_place  # the writer, once resolved
        return isinstance(writer, InPlaceGeometry) or not len(self._geometry_idx)

    @property
    def geometry_path(self) -> str:
        """``"in place"``, or ``"MjSpec: <why>"`` for geometry parameters rebuilt through MjSpec."""
        return "in place" if self.in_place is not None else f"MjSpec: {self._writer}"

    @functools.cached_property
    def _scaling_rules(self) -> tuple[tuple[int, float, tuple[int, ...], tuple[int, ...]], ...] | None:
        """
        :func:`apply_geometry` resolved once on the writer's flat spec values: per geometry parameter, its position,
        nominal value, the first slots of the ``fromto`` segments it stretches and the slots it scales. ``None`` for
        a subclass with edits of its own (:meth:`edit_values`), which go through :class:`SpecValues`.
        """
        writer = self.in_place
        own = ModelBuilder
        cls = type(self)
        if writer is None or (cls.edit_values, cls.geometry_edits, cls.geometry_key) != (
            own.edit_values,
            own.geometry_edits,
            own.geometry_key,
        ):
            return None
        rules = []
        for edit, position, nominal in self._geometry_nominal:
            fromto = tuple(writer.slot("geom", name, "fromto") for name in edit.geom_fromto)  # type: ignore[union-attr]
            scaled = [writer.slot("geom", name, "size") for name in edit.geom_size]  # type: ignore[union-attr]
            scaled += [writer.slot("body", name, "pos") for name in edit.body_pos]  # type: ignore[union-attr]
            scaled += [writer.slot("site", name, "pos") for name in edit.site_pos]  # type: ignore[union-attr]
            rules.append((position, nominal, fromto, tuple(k for start in scaled for k in range(start, start + 3))))
        return tuple(rules)

    def _spec_scalars(self, writer: InPlaceGeometry, vector: np.ndarray) -> list[float] | None:
        """:return: the writer's spec values (flat) for the geometry of ``vector``, or ``None`` for the nominal geometry."""
        rules = self._scaling_rules
        if rules is None:
            edits = self.geometry_edits(vector)
            if not edits:
                return None
            values = writer.values.copy()
            for edit, amount in edits:
                self.edit_values(values, edit, amount)
            return values.flat()
        # apply_geometry's arithmetic on Python floats, edit after edit, identities left out as geometry_edits does
        # (a fromto end "stretched" by 1.0 can move by a rounding)
        scalars = None
        values = vector.tolist()
        for position, nominal, fromto, scaled in rules:
            factor = values[position] / nominal
            if factor == 1.0:
                continue
            if scalars is None:
                scalars = writer.scalars.copy()
            for start in fromto:
                for k in range(start, start + 3):
                    scalars[k + 3] = scalars[k] + (scalars[k + 3] - scalars[k]) * factor
            for k in scaled:
                scalars[k] *= factor
        return scalars

    def _base_values(self, writer: InPlaceGeometry, geometry: Compiled) -> list[float]:
        """
        :return: mass and principal inertias of each reshaped body (:attr:`InPlaceGeometry.body_rows`), one after
            the other, in a model of this geometry before the other parameters' factors: the compiler's, with its
            ``settotalmass`` scale (:meth:`InPlaceGeometry.scaled`), and with ``keep_mass`` the nominal mass spread
            over the new shape (:func:`keep_body_masses`; every other body has the factor 1 exactly)
        """
        values = writer.scaled(geometry.masses)
        if not self.keep_mass:
            return values
        kept = writer.kept_masses
        flat: list[float] = []
        for k in range(len(kept)):
            mass, inertia = values[4 * k], values[4 * k + 1 : 4 * k + 4]
            # the kept masses are copied, not multiplied back, so they equal the nominal masses to the bit
            if mass > 0:
                ratio = kept[k] / mass
                inertia = [i * ratio for i in inertia]
            flat.append(kept[k])
            flat += inertia
        return flat

    def _base_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """:return: every body's mass and inertia for the geometry written last, before the other parameters' factors."""
        base = self._current_base()
        assert base is not None
        key, geometry, arrays = base
        if arrays is None:  # once per geometry: resets that keep it (a density box) reuse them
            nominal = self.nominal_model()
            mass, inertia = nominal.body_mass.copy(), nominal.body_inertia.copy()
            writer = self.in_place
            if geometry is not None and writer is not None:
                values = self._base_values(writer, geometry)
                rows = writer.body_rows
                mass[rows] = values[0::4]
                inertia[rows] = [values[k + 1 : k + 4] for k in range(0, len(values), 4)]
            arrays = (mass, inertia)
            self._base = (key, geometry, arrays)
        return arrays

    def _current_base(self) -> tuple[bytes, Compiled | None, tuple[np.ndarray, np.ndarray] | None] | None:
        """:return: the last geometry written (``_base``), made from its prepared row where that was written last."""
        ahead = self._base_ahead
        if ahead is not None:
            prepared, i = ahead
            vector = prepared.vectors[i]
            self._base = (vector[self._geometry_sel].tobytes(), Compiled([], prepared.masses[i], [], []), None)
            self._base_ahead = None
        return self._base

    def _scratch_data(self, model: mujoco.MjModel) -> mujoco.MjData:
        # the builder's own MjData for mj_setConst and the statistics (both overwrite its state)
        if self._scratch is None:
            self._scratch = mujoco.MjData(model)
        return self._scratch

    def _write_geometry(self, model: mujoco.MjModel, vector: np.ndarray) -> Compiled | None:
        """
        Write the geometry of ``vector`` into ``model``, the reshaped bodies with their masses before the other
        parameters' factors (:meth:`_base_values`); every other value stays as the model has it.

        :return: the compiled geometry, ``None`` for the nominal geometry
        """
        writer = self.in_place
        if writer is None:  # no geometry parameters: the model has the nominal geometry
            return None
        scalars = self._spec_scalars(writer, vector)
        if scalars is None:
            writer.restore(model)
            return None
        geometry = writer.compile(scalars)
        others = writer.swap(model.body_mass, model.body_inertia, model.dof_armature)
        writer.commit(model, self._scratch_data(model), geometry, self._base_values(writer, geometry), others)
        return geometry

    def _write_reshaped(self, model: mujoco.MjModel, vector: np.ndarray, geometry: bytes, others: bytes) -> bool:
        """
        Write a new geometry into a model that holds the other parameters of ``vector`` already, masses included.

        The path of a domain-randomised reset with an unseen geometry: only the reshaped bodies' masses change, so
        the writer writes them with the geometry, then ``mj_setConst``. Needs the mass factors of these other
        parameters (:meth:`_edit_params` computes them); otherwise, and for the nominal geometry, it does nothing.

        :return: whether the model was written
        """
        writer = self.in_place
        factors = self._factors
        if writer is None or factors is None or factors[0] != others:
            return False
        scalars = self._spec_scalars(writer, vector)
        if scalars is None:  # the nominal geometry, which restore() copies to the bit
            return False
        plan = self._reshape_plan
        if plan is None or plan[0] != others:
            # the final masses of the other bodies (nominal times their factors, as _edit_params writes them) and
            # armatures, where they differ from the compiler's; the reshaped bodies' factors, once per value
            nominal, mass_factor = writer.nominal, factors[1]
            armature = nominal.dof_armature.copy()
            edits = self._plan(nominal)
            armature[edits["armature_dofs"]] = vector[edits["armature_params"]]
            swap = writer.swap(nominal.body_mass * mass_factor, nominal.body_inertia * mass_factor[:, None], armature)
            plan = self._reshape_plan = (others, np.repeat(mass_factor[writer.body_rows], 4).tolist(), swap)
        compiled = writer.compile(scalars)
        self._base, self._base_ahead = (geometry, compiled, None), None
        _, value_factors, swap = plan
        # the products _edit_params computes (body_mass * mass_factor, body_inertia * mass_factor)
        final = [value * f for value, f in zip(self._base_values(writer, compiled), value_factors, strict=True)]
        scratch = self._scratch_data(model)
        writer.commit(model, scratch, compiled, final, swap)
        mujoco.mj_setConst(model, scratch)
        return True

    def write(self, model: mujoco.MjModel, vector: np.ndarray, previous: np.ndarray | None, key: bytes | None = None) -> None:
        """
        Make ``model`` the model of ``vector``, in place (:attr:`rewritable` builders only).

        :param model: a copy of :meth:`nominal_model`, perhaps written before by this builder
        :param vector: a validated parameter vector
        :param previous: the vector ``model`` was last written for (``None``: ``model`` is a fresh copy of the nominal model)
        :param key: ``vector.tobytes()``, where the caller has it already
        :raises NotInPlace: a geometry the in-place path cannot reproduce (``model`` is then unusable)
        """
        ahead = self._prepared
        if ahead is not None:
            i = self._prepared_next
            start = i * ahead.width
            if key is None:
                key = vector.tobytes()
            # the next setting computed ahead (prepare)
            if ahead.keys[start : start + ahead.width] == key:
                self._prepared_next = i + 1
                if ahead.ok[i]:
                    # the geometry's bytes and the compiler's masses, made a _base only when asked for (_current_base)
                    self._base_ahead = (ahead, i)
                    if ahead.first[i] and previous is not None and previous[self._other_sel].tobytes() == ahead.others:
                        # a model that holds these other parameters already: the geometry and the final masses
                        ahead.writer.write_values(model, ahead.values[i], ahead.stat[i])
                        mujoco.mj_setConst(model, self._scratch_data(model))
                    else:  # the geometry, then every other parameter's edit on its masses (mj_setConst included)
                        ahead.writer.write_values(model, ahead.values[i], ahead.stat[i], geometry_only=True)
                        mass, inertia = self._base_arrays()
                        self._edit_params(model, mass, inertia, self.nominal_model().geom_friction, vector, None)
                    return
        geometry = vector[self._geometry_sel].tobytes()
        # a fresh copy of the nominal model has the nominal parameters' geometry and constants
        held = self._nominal if previous is None else previous
        base = self._current_base()
        written = held[self._geometry_sel].tobytes() != geometry or base is None or base[0] != geometry
        others = vector[self._other_sel].tobytes()
        # the other parameters as the model has them already: only masses and inertias follow the new geometry
        same = previous is not None and previous[self._other_sel].tobytes() == others
        if written and same and self._write_reshaped(model, vector, geometry, others):
            return
        if written:
            self._base, self._base_ahead = (geometry, self._write_geometry(model, vector), None), None
        mass, inertia = self._base_arrays()
        friction = self.nominal_model().geom_friction
        # after a geometry write the derived constants are recomputed (the statistics may have replaced them)
        self._edit_params(model, mass, inertia, friction, vector, None if written else held, others if same else None)

    # ---- models -----------------------------------------------------------------------------------------
    def model_for(self, vector: np.ndarray) -> mujoco.MjModel:
        """
        :param vector: a validated parameter vector
        :return: the model for ``vector``, from the cache when it was built before (shared: do not edit it)
        """
        key = vector.tobytes()
        model = self._models.get(key)
        if model is None:
            model = self.build(vector)
            self._models.put(key, model)
        return model

    def build(self, vector: np.ndarray) -> mujoco.MjModel:
        """
        :param vector: a validated parameter vector
        :return: a new model the caller owns
        """
        if self.rewritable:
            model = copy.copy(self.nominal_model())
            try:
                self.write(model, vector, None)
                return model
            except NotInPlace:
                pass
        pristine = self.pristine(vector)
        model = copy.copy(pristine)
        self.edit(model, pristine, vector, constants_of=self._nominal)
        return model

    def pooled(
        self,
        pool: OrderedDict[bytes, tuple[T, np.ndarray]],
        vector: np.ndarray,
        size: int,
        wrap: Callable[[mujoco.MjModel], T],
        unwrap: Callable[[T], mujoco.MjModel],
        key: bytes | None = None,
    ) -> T:
        """
        The holder (a model, or an object running one, such as a dm_control ``Physics``) of ``vector`` from a pool.

        A setting in the pool is a lookup. Where models are :attr:`rewritable`, a setting met for the first time
        rewrites the least recently used holder's model in place (geometry included), and a new holder joins
        the pool only for a setting met before (up to ``size``): continuous domain randomisation never copies
        a model, a finite set fills the pool on second sight. Otherwise (geometry through MjSpec) a copy is
        made until the pool is full, then the least recently used model of the same geometry (compared by
        bytes) is edited in place, and a new geometry costs a compile (cached) and a copy. Nothing compiles
        to find a model to reuse. Holders handed out earlier may be rewritten: use one at a time (the episode's).

        :param pool: parameter vector (bytes) -> (holder, the vector its model holds), updated
        :param vector: a validated parameter vector
        :param size: the most holders the pool keeps
        :param wrap: makes a holder of a new model the pool owns
        :param unwrap: the model of a holder
        :param key: ``vector.tobytes()``, where the caller has it already
        :return: the holder of the model of ``vector``
        """
        if key is None:
            key = vector.tobytes()
        entry = pool.get(key)
        if entry is not None:
            pool.move_to_end(key)
            return entry[0]
        seen = self._seen
        repeat = key in seen
        if repeat:
            seen.move_to_end(key)
        else:
            seen[key] = None
            while len(seen) > 4 * size:
                seen.popitem(last=False)
        holder: T | None = None
        previous: np.ndarray | None = None
        rewritable = self.rewritable
        if rewritable:
            if pool and (len(pool) >= size or not repeat):
                _, (holder, previous) = pool.popitem(last=False)
        elif len(pool) >= size:
            geometry = self.geometry_bytes(vector)
            for old_key, (old_holder, old_vector) in pool.items():
                if self.geometry_bytes(old_vector) == geometry:
                    holder, previous = old_holder, old_vector
                    del pool[old_key]
                    break
            else:
                pool.popitem(last=False)
        if rewritable:
            if holder is None:
                holder = wrap(copy.copy(self.nominal_model()))
            try:
                self.write(unwrap(holder), vector, previous, key)
            except NotInPlace:
                holder = None  # a shape only the compiler handles: compile it below
        if holder is None or not rewritable:
            pristine = self.pristine(vector)
            if holder is None:
                holder, previous = wrap(copy.copy(pristine)), self._nominal
            self.edit(unwrap(holder), pristine, vector, constants_of=previous)
        pool[key] = (holder, vector.copy())
        return holder

    def edit(
        self, model: mujoco.MjModel, pristine: mujoco.MjModel, vector: np.ndarray, constants_of: np.ndarray | None
    ) -> None:
        """
        Overwrite the parameter-dependent fields of ``model`` (same geometry as ``pristine``) in place.

        :param model: the model to edit
        :param pristine: the unedited compiled model of that geometry
        :param vector: a validated parameter vector
        :param constants_of: the parameter vector ``model``'s derived constants were computed for (``None``:
            unknown); ``mj_setConst`` runs only when masses or armatures differ from it
        """
        self._edit_params(model, pristine.body_mass, pristine.body_inertia, pristine.geom_friction, vector, constants_of)

    def _edit_params(
        self,
        model: mujoco.MjModel,
        body_mass: np.ndarray,
        body_inertia: np.ndarray,
        geom_friction: np.ndarray,
        vector: np.ndarray,
        constants_of: np.ndarray | None,
        same_others: bytes | None = None,
    ) -> None:
        # the non-geometry parameters, from the masses, inertias and friction of the model's geometry;
        # same_others: the model holds these non-geometry parameters (as bytes) already, only masses change
        cached = self._factors
        if same_others is not None and cached is not None and cached[0] == same_others:
            mass_factor = cached[1]
        else:
            plan = self._plan(self.nominal_model())
            friction_params = plan["friction_params"]
            mass_factor = self._mass_factor(vector)
            friction_factor = float(np.prod(vector[friction_params] / self._nominal[friction_params]))
            model.dof_damping[plan["damping_dofs"]] = vector[plan["damping_params"]]
            model.dof_armature[plan["armature_dofs"]] = vector[plan["armature_params"]]
            model.geom_friction[:, 0] = geom_friction[:, 0] * friction_factor
            self._factors = (vector[self._other_idx].tobytes(), mass_factor)
        # Mass and inertia scale together: a uniformly denser body keeps its shape (Jiang et al.'s density).
        model.body_mass[:] = body_mass * mass_factor
        model.body_inertia[:] = body_inertia * mass_factor[:, None]
        if constants_of is None or any(vector[i] != constants_of[i] for i in self._const_idx):
            # Derived constants (subtree masses, inverse weights, actuator_acc0) go stale otherwise;
            # mj_setConst overwrites the state of its MjData, so it gets the builder's scratch one.
            mujoco.mj_setConst(model, self._scratch_data(model))

    def _mass_factor(self, vector: np.ndarray) -> np.ndarray:
        """:return: every body's factor on its mass and inertia from the mass parameters of ``vector``."""
        plan = self._plan(self.nominal_model())
        mass_params = plan["mass_params"]
        mass_factor = np.ones(self.nominal_model().nbody)
        # a body may be the target of several mass parameters (its density and its mass): factors multiply
        np.multiply.at(mass_factor, plan["mass_bodies"], vector[mass_params] / self._nominal[mass_params])
        return mass_factor

    def _plan(self, pristine: mujoco.MjModel) -> dict[str, np.ndarray]:
        # Index arrays for vectorised edits. Geometry edits never add or remove elements, so one plan
        # serves every geometry.
        plan = self._plan_cache
        if plan is None:
            lists: dict[str, list[int]] = {
                key: []
                for key in (
                    "mass_params",
                    "mass_bodies",
                    "friction_params",
                    "damping_params",
                    "damping_dofs",
                    "armature_params",
                    "armature_dofs",
                )
            }
            for i, spec in enumerate(self.param_space.specs):
                if spec.kind == "mass_scale":
                    for target in spec.targets:
                        lists["mass_params"].append(i)
                        lists["mass_bodies"].append(pristine.body(target).id)
                elif spec.kind == "friction_scale":
                    lists["friction_params"].append(i)
                elif spec.kind in ("dof_damping", "dof_armature"):
                    prefix = "damping" if spec.kind == "dof_damping" else "armature"
                    for target in spec.targets:
                        lists[f"{prefix}_params"].append(i)
                        lists[f"{prefix}_dofs"].append(int(pristine.jnt_dofadr[pristine.joint(target).id]))
            plan = {key: np.array(values, dtype=np.int64) for key, values in lists.items()}
            self._plan_cache = plan
        return plan
