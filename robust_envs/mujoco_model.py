"""Building perturbed MuJoCo models from a pristine nominal model: in-place edits and cached MjSpec rebuilds."""

from __future__ import annotations

import copy
import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple, TypeVar

import mujoco
import numpy as np

from robust_envs.params import GeometryEdit, ParamSpace


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


# ---- geometry in place ---------------------------------------------------------------------------------
# MuJoCo's compiler, for the fields a length or size edit changes, redone in Python floats in the compiler's
# order of operations (user_objects.cc, user_util.cc of MuJoCo 3.x): IEEE doubles give the same results.

_EPS = 1e-6  # mjEPS
_PRIMITIVES = frozenset(
    int(t)
    for t in (
        mujoco.mjtGeom.mjGEOM_SPHERE,
        mujoco.mjtGeom.mjGEOM_CAPSULE,
        mujoco.mjtGeom.mjGEOM_CYLINDER,
        mujoco.mjtGeom.mjGEOM_ELLIPSOID,
        mujoco.mjtGeom.mjGEOM_BOX,
    )
)
_SPHERE, _CAPSULE, _CYLINDER, _ELLIPSOID, _BOX = (
    int(mujoco.mjtGeom.mjGEOM_SPHERE),
    int(mujoco.mjtGeom.mjGEOM_CAPSULE),
    int(mujoco.mjtGeom.mjGEOM_CYLINDER),
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
    int(mujoco.mjtGeom.mjGEOM_BOX),
)


class NotInPlace(Exception):
    """A geometry the in-place path cannot reproduce exactly: the caller compiles it through MjSpec instead."""


def _normvec(vec: list[float]) -> float:
    # mjuu_normvec: normalise in place unless within mjEPS of unit length; 0 for a near-zero vector
    nrm = 0.0
    for x in vec:
        nrm += x * x
    if nrm < _EPS:
        return 0.0
    nrm = math.sqrt(nrm)
    if abs(nrm - 1) > _EPS:
        for i in range(len(vec)):
            vec[i] /= nrm
    return nrm


def _z2quat(vec: list[float]) -> list[float]:
    # mjuu_z2quat: the rotation taking the z axis to vec
    axis = [0.0 * vec[2] - 1.0 * vec[1], 1.0 * vec[0] - 0.0 * vec[2], 0.0 * vec[1] - 0.0 * vec[0]]
    s = _normvec(axis)
    if s < 1e-10:
        axis = [1.0, 0.0, 0.0]
    ang = math.atan2(s, vec[2])
    sin = math.sin(ang / 2)
    return [math.cos(ang / 2), axis[0] * sin, axis[1] * sin, axis[2] * sin]


def _rot(vec: list[float], quat: list[float]) -> list[float]:
    # mjuu_rotVecQuat
    if vec[0] == 0 and vec[1] == 0 and vec[2] == 0:
        return [0.0, 0.0, 0.0]
    if quat[0] == 1 and quat[1] == 0 and quat[2] == 0 and quat[3] == 0:
        return list(vec)
    t0 = quat[0] * vec[0] + quat[2] * vec[2] - quat[3] * vec[1]
    t1 = quat[0] * vec[1] + quat[3] * vec[0] - quat[1] * vec[2]
    t2 = quat[0] * vec[2] + quat[1] * vec[1] - quat[2] * vec[0]
    return [
        vec[0] + 2 * (quat[2] * t2 - quat[3] * t1),
        vec[1] + 2 * (quat[3] * t0 - quat[1] * t2),
        vec[2] + 2 * (quat[1] * t1 - quat[2] * t0),
    ]


def _quat2mat(quat: list[float]) -> list[float]:
    # mjuu_quat2mat
    if quat[0] == 1 and quat[1] == 0 and quat[2] == 0 and quat[3] == 0:
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    q00, q01, q02, q03 = quat[0] * quat[0], quat[0] * quat[1], quat[0] * quat[2], quat[0] * quat[3]
    q11, q12, q13 = quat[1] * quat[1], quat[1] * quat[2], quat[1] * quat[3]
    q22, q23, q33 = quat[2] * quat[2], quat[2] * quat[3], quat[3] * quat[3]
    return [
        q00 + q11 - q22 - q33,
        2 * (q12 - q03),
        2 * (q13 + q02),
        2 * (q12 + q03),
        q00 - q11 + q22 - q33,
        2 * (q23 - q01),
        2 * (q13 - q02),
        2 * (q23 + q01),
        q00 - q11 - q22 + q33,
    ]


def _global_inertia(local: list[float], quat: list[float]) -> list[float]:
    # mjuu_globalinertia: R diag(local) R' as (xx, yy, zz, xy, xz, yz)
    m = _quat2mat(quat)
    t = [
        m[0] * local[0],
        m[3] * local[0],
        m[6] * local[0],
        m[1] * local[1],
        m[4] * local[1],
        m[7] * local[1],
        m[2] * local[2],
        m[5] * local[2],
        m[8] * local[2],
    ]
    return [
        m[0] * t[0] + m[1] * t[3] + m[2] * t[6],
        m[3] * t[1] + m[4] * t[4] + m[5] * t[7],
        m[6] * t[2] + m[7] * t[5] + m[8] * t[8],
        m[0] * t[1] + m[1] * t[4] + m[2] * t[7],
        m[0] * t[2] + m[1] * t[5] + m[2] * t[8],
        m[3] * t[2] + m[4] * t[5] + m[5] * t[8],
    ]


def _volume(kind: int, size: list[float]) -> float:
    # mjCGeom::GetVolume, solid primitives
    if kind == _SPHERE:
        return 4 * math.pi * size[0] * size[0] * size[0] / 3
    if kind == _CAPSULE:
        height, radius = 2 * size[1], size[0]
        return math.pi * (radius * radius * height + 4 * radius * radius * radius / 3)
    if kind == _CYLINDER:
        return math.pi * size[0] * size[0] * (2 * size[1])
    if kind == _ELLIPSOID:
        return 4 * math.pi * size[0] * size[1] * size[2] / 3
    return size[0] * size[1] * size[2] * 8  # box


def _geom_inertia(kind: int, size: list[float], mass: float) -> list[float]:
    # mjCGeom::SetInertia, solid primitives
    if kind == _SPHERE:
        value = 2 * mass * size[0] * size[0] / 5
        return [value, value, value]
    if kind == _CAPSULE:
        height, radius = 2 * size[1], size[0]
        sphere_mass = mass * 4 * radius / (4 * radius + 3 * height)
        cylinder_mass = mass - sphere_mass
        ixy = cylinder_mass * (3 * radius * radius + height * height) / 12
        iz = cylinder_mass * radius * radius / 2
        sphere_inertia = 2 * sphere_mass * radius * radius / 5
        ixy += sphere_inertia + sphere_mass * height * (3 * radius + 2 * height) / 8  # C's +=: the sum first
        return [ixy, ixy, iz + sphere_inertia]
    if kind == _CYLINDER:
        height, radius = 2 * size[1], size[0]
        ixy = mass * (3 * radius * radius + height * height) / 12
        return [ixy, ixy, mass * radius * radius / 2]
    s00, s11, s22 = size[0] * size[0], size[1] * size[1], size[2] * size[2]
    div = 5 if kind == _ELLIPSOID else 3
    return [mass * (s11 + s22) / div, mass * (s00 + s22) / div, mass * (s00 + s11) / div]


def _aabb_rbound(kind: int, size: list[float]) -> tuple[list[float], float]:
    # mjCGeom::ComputeAABB (centre, half sizes) and GetRBound, primitives (centred boxes)
    if kind == _SPHERE:
        half, rbound = [size[0], size[0], size[0]], size[0]
    elif kind == _CAPSULE:
        half, rbound = [size[0], size[0], size[0] + size[1]], size[0] + size[1]
    elif kind == _CYLINDER:
        half, rbound = [size[0], size[0], size[1]], math.sqrt(size[0] * size[0] + size[1] * size[1])
    elif kind == _ELLIPSOID:
        half, rbound = list(size), max(max(size[0], size[1]), size[2])
    else:
        half = list(size)
        rbound = math.sqrt(size[0] * size[0] + size[1] * size[1] + size[2] * size[2])
    # (max - min) / 2 and (max + min) / 2 of the symmetric box
    return [(h + -h) / 2 for h in half] + [(h - -h) / 2 for h in half], rbound


class SpecValues:
    """
    The MjSpec values geometry edits read and write, for the elements they touch: a stand-in for :class:`mujoco.MjSpec`.

    ``values.geom(name)`` has ``fromto``, ``size`` and ``pos``; ``body``, ``site`` and ``camera`` have ``pos``
    (numpy arrays, as MjSpec returns them), so :func:`apply_geometry` and the suite's ``LengthEdit.apply`` run on
    it unchanged, with the arithmetic of the MjSpec rebuild.

    :param elements: ``(kind, name) -> {field: array}``
    """

    def __init__(self, elements: dict[tuple[str, str], dict[str, np.ndarray]]) -> None:
        self._elements = {key: _Element(fields) for key, fields in elements.items()}

    def copy(self) -> SpecValues:
        """:return: an independent copy."""
        return SpecValues({key: dict(element.__dict__) for key, element in self._elements.items()})

    def get(self, kind: str, name: str) -> _Element:
        """:return: the element ``name`` of ``kind``."""
        return self._elements[(kind, name)]

    def geom(self, name: str) -> _Element:
        """:return: the geom ``name``."""
        return self._elements[("geom", name)]

    def body(self, name: str) -> _Element:
        """:return: the body ``name``."""
        return self._elements[("body", name)]

    def site(self, name: str) -> _Element:
        """:return: the site ``name``."""
        return self._elements[("site", name)]

    def camera(self, name: str) -> _Element:
        """:return: the camera ``name``."""
        return self._elements[("camera", name)]


class _Element:
    def __init__(self, fields: dict[str, np.ndarray]) -> None:
        self.__dict__.update(fields)


class _GeomInfo(NamedTuple):
    # what the compiler reads of one geom besides the edited values
    id: int
    key: tuple[str, str]
    kind: int
    fromto: bool
    quat: list[float]  # compiled orientation (unchanged unless the geom is given by fromto)
    infer: bool  # its mass and inertia enter its body's
    mass: float  # explicit mass (nan: from density)
    density: float
    collides: bool


class _BodyInfo(NamedTuple):
    id: int
    geoms: tuple[_GeomInfo, ...]
    infer: bool  # inertia from geoms
    ipos: list[float]  # nominal inertial frame (used when the inertia is explicit)
    iquat: list[float]
    bvh: int  # first BVH node, -1 without one


def _index(ids: list[int]) -> slice | np.ndarray:
    # a slice for consecutive ids, else an index array
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return slice(ids[0], ids[0] + len(ids))
    return np.array(ids, dtype=np.intp)


def _size(index: slice | np.ndarray) -> int:
    return index.stop - index.start if isinstance(index, slice) else len(index)


def _put(array: np.ndarray, rows: list[int], values: list[Any]) -> None:
    # array[rows] = values, row by row: for the few rows of a reshaped body this costs half of numpy's fancy
    # assignment, which converts the nested list to an array first
    for row, value in zip(rows, values, strict=True):
        array[row] = value


class _BVElement(NamedTuple):
    order: int  # position among the body's colliding geoms (the compiler's tie-break)
    id: int
    lpos: list[float]  # centre in the inertial frame
    corners: list[list[float]]  # the corners of its box in the inertial frame


class _BVTree:
    # mjCBoundingVolumeHierarchy::MakeBVH: nodes in depth-first order, split at the median along the longest axis

    def __init__(self) -> None:
        self.nodes: list[list[float]] = []
        self.child: list[list[int]] = []
        self.nodeid: list[int] = []
        self.depth: list[int] = []

    def make(self, items: list[_BVElement], level: int) -> int:
        lo = [min(c[i] for e in items for c in e.corners) for i in range(3)]
        hi = [max(c[i] for e in items for c in e.corners) for i in range(3)]
        for i in range(3):
            if abs(lo[i] - hi[i]) < _EPS:  # inflate flat boxes
                lo[i] -= _EPS
                hi[i] += _EPS
        index = len(self.nodes)
        self.nodes.append([(hi[i] + lo[i]) / 2 for i in range(3)] + [(hi[i] - lo[i]) / 2 for i in range(3)])
        self.child.append([-1, -1])
        self.nodeid.append(-1)
        self.depth.append(level)
        if len(items) == 1:
            self.nodeid[index] = items[0].id
            return index
        edges = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]]
        axis = 0
        if edges[1] >= edges[0] + _EPS:
            axis = 1
        if edges[2] >= edges[axis] + _EPS:
            axis = 2

        def compare(e1: _BVElement, e2: _BVElement) -> int:
            if abs(e1.lpos[axis] - e2.lpos[axis]) > _EPS:
                return -1 if e1.lpos[axis] < e2.lpos[axis] else 1
            return (e1.order > e2.order) - (e1.order < e2.order)

        # nth_element's partition into the m first and the rest: the subtrees depend on these sets only
        ordered = sorted(items, key=functools.cmp_to_key(compare))
        m = len(items) // 2
        if m > 0:
            self.child[index][0] = self.make(ordered[:m], level + 1)
        self.child[index][1] = self.make(ordered[m:], level + 1)
        return index


class InPlaceGeometry:
    """
    Writes length and size edits of primitive geoms, body, site and camera positions into a model, as MuJoCo's compiler would.

    From the spec values of the touched elements (after the edits) it computes what compiling them gives:
    ``geom_size``, ``geom_pos`` / ``geom_quat`` (``fromto`` geoms), ``geom_aabb``, ``geom_rbound``; for every body
    holding a touched geom, its mass and inertia from its geoms (at their densities or explicit masses) and its
    inertial frame ``body_ipos`` / ``body_iquat``, and the bounding volumes of its geoms (``bvh_aabb`` and the
    tree); ``body_pos``, ``site_pos``, ``cam_pos``; the model statistics (:meth:`set_stat`, which the compiler
    computes and ``mj_setConst`` does not). The other derived constants are the caller's ``mj_setConst``.
    :meth:`create` returns the reason instead of a writer for models it cannot reproduce: meshes, shell inertia,
    fluid coefficients, frames, flexes, free-joint alignment, ``settotalmass`` without a fixed scale, and
    anything whose nominal values it does not reproduce to 1e-12 (checked on the nominal model). A shape the
    compiler would refuse or treat specially at run time (a fromto of zero length, a geom too light to count)
    raises :class:`NotInPlace`, and the caller compiles it.

    :param nominal: the compiled nominal model
    :param values: the nominal spec values of the touched elements and of every geom of their bodies
    :param geoms: the geoms of the reshaped bodies
    :param bodies: the bodies holding a touched geom
    :param positions: ``(kind, name, id)`` of the touched bodies, sites and cameras
    :param mass_scale: factor on masses inferred from geometry (``settotalmass`` models), else 1
    :param bounds: the compiler's ``boundmass``, ``boundinertia`` and ``balanceinertia``
    :param group_range: the compiler's ``inertiagrouprange``
    :param stat_fixed: which of :attr:`_STATS` the MJCF's ``<statistic>`` sets
    """

    def __init__(
        self,
        nominal: mujoco.MjModel,
        values: SpecValues,
        geoms: tuple[_GeomInfo, ...],
        bodies: tuple[_BodyInfo, ...],
        positions: tuple[tuple[str, str, int], ...],
        mass_scale: float,
        bounds: tuple[float, float, bool],
        group_range: tuple[int, int],
        stat_fixed: tuple[bool, bool, bool, bool, bool],
    ) -> None:
        self.nominal = nominal
        self._stat_fixed = stat_fixed
        self.values = values
        self._geoms = geoms
        self._bodies = bodies
        self._positions = positions
        self._mass_scale = mass_scale
        self._bounds = bounds
        self._group_range = group_range
        # the rows write() fills, as lists (_put writes row by row); body_ids as an index array or a slice
        self._geom_rows = [g.id for g in geoms]
        self._body_rows = [b.id for b in bodies if b.infer]
        self._body_ids = _index(self._body_rows)
        self._bvh_rows = [i for b in bodies if b.bvh >= 0 for i in range(b.bvh, b.bvh + int(nominal.body_bvhnum[b.id]))]
        # what setStat reads besides the positions: (joint, body) for each joint's body and its parent (the world's
        # size is never used), (geom, body) for geoms with a radius outside the world, the radii of planes
        joints = nominal.jnt_bodyid.tolist()
        parents = nominal.body_parentid[nominal.jnt_bodyid].tolist()
        joint_rows = [(j, b) for j, b in enumerate(joints)] + [(j, b) for j, b in enumerate(parents)]
        geoms = np.flatnonzero((nominal.geom_rbound > 0) & (nominal.geom_bodyid > 0)).tolist()
        self._stat_index = (joint_rows, [(g, int(nominal.geom_bodyid[g])) for g in geoms])
        planes = np.flatnonzero((nominal.geom_rbound <= 0) & (nominal.geom_type == int(mujoco.mjtGeom.mjGEOM_PLANE)))
        plane_size = np.maximum(nominal.geom_size[planes, 0], nominal.geom_size[planes, 1])
        self._planes = list(zip(planes.tolist(), np.where(plane_size > 0, plane_size * 0.1, 0.01).tolist(), strict=True))
        self._armature = nominal.dof_armature.copy()
        # where the diagonal of the inertia matrix lies in MjData.M (compressed rows, the diagonal last in each)
        self._diagonal = (nominal.M_rowadr + nominal.M_rownnz - 1).tolist()
        self._armature_list = self._armature.tolist()
        self._simple_dofs = bool(nominal.dof_simplenum.any())
        self._pos_rows = tuple(
            (field, [i for k, _, i in positions if k == kind], [(k, name) for k, name, _ in positions if k == kind])
            for kind, field in (("body", "body_pos"), ("site", "site_pos"), ("camera", "cam_pos"))
            if any(k == kind for k, _, _ in positions)
        )

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls, nominal: mujoco.MjModel, spec: mujoco.MjSpec, elements: Iterable[tuple[str, str]], mass_scale: float | None
    ) -> InPlaceGeometry | str:
        """
        :param nominal: the compiled nominal model (of ``spec``)
        :param spec: the nominal spec (after the env's structural edits)
        :param elements: ``(kind, name)`` of every element the geometry parameters touch
        :param mass_scale: the factor on inferred masses (``None``: masses the compiler rescales, not reproducible)
        :return: the writer, or the reason why these edits need a recompile
        """
        try:
            writer = cls._create(nominal, spec, tuple(dict.fromkeys(elements)), mass_scale)
            writer.check()
        except NotInPlace as error:
            return str(error)
        return writer

    @classmethod
    def _create(
        cls, nominal: mujoco.MjModel, spec: mujoco.MjSpec, elements: tuple[tuple[str, str], ...], mass_scale: float | None
    ) -> InPlaceGeometry:
        if mass_scale is None:
            raise NotInPlace("settotalmass rescales every body")
        compiler = spec.compiler
        group_range = (int(compiler.inertiagrouprange[0]), int(compiler.inertiagrouprange[1]))
        spec_geoms = list(spec.geoms)
        spec_bodies = list(spec.bodies)
        if len(spec_geoms) != nominal.ngeom or len(spec_bodies) != nominal.nbody:
            raise NotInPlace("spec and compiled model differ in their elements")
        if any(frame is not None for frame in (spec.frames if hasattr(spec, "frames") else ())):
            raise NotInPlace("the model has frames")
        values: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        body_ids: list[int] = []
        positions = []
        for kind, name in elements:
            if kind == "geom":
                gid = nominal.geom(name).id
                body_ids.append(int(nominal.geom_bodyid[gid]))
            elif kind in ("body", "site", "camera"):
                element = getattr(spec, kind)(name)
                values[(kind, name)] = {"pos": np.array(element.pos, dtype=np.float64)}
                obj = getattr(nominal, "camera" if kind == "camera" else kind)(name)
                positions.append((kind, name, obj.id))
            else:
                raise NotInPlace(f"unknown element kind {kind!r}")
        bodies = []
        geoms: list[_GeomInfo] = []
        for bid in dict.fromkeys(body_ids):
            body = cls._body_info(nominal, spec, spec_bodies[bid], spec_geoms, bid, values)
            bodies.append(body)
            geoms.extend(body.geoms)
        for kind, name in elements:
            if kind == "geom" and ("geom", name) not in values:
                raise NotInPlace(f"geom {name!r} not found")
        bounds = (float(compiler.boundmass), float(compiler.boundinertia), bool(compiler.balanceinertia))
        if nominal.nflex:
            raise NotInPlace("the model has flexes")
        stat = spec.stat
        fixed = tuple(not math.isnan(float(np.asarray(getattr(stat, name)).ravel()[0])) for name in cls._STATS)
        return cls(
            nominal, SpecValues(values), tuple(geoms), tuple(bodies), tuple(positions), mass_scale, bounds, group_range, fixed
        )

    @staticmethod
    def _body_info(
        nominal: mujoco.MjModel,
        spec: mujoco.MjSpec,
        sbody: mujoco.MjsBody,
        spec_geoms: list[mujoco.MjsGeom],
        bid: int,
        values: dict[tuple[str, str], dict[str, np.ndarray]],
    ) -> _BodyInfo:
        # what the compiler reads of a reshaped body and its geoms; their nominal spec values go into `values`
        compiler = spec.compiler
        if bid == 0:
            raise NotInPlace("geoms of the world body")
        if sbody.name != nominal.body(bid).name:
            raise NotInPlace(f"body {bid} is named differently in spec and model")
        from_geoms = compiler.inertiafromgeom
        infer = from_geoms == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE or (
            from_geoms == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_AUTO and not sbody.explicitinertial
        )
        for joint in sbody.joints:
            if joint.type == mujoco.mjtJoint.mjJNT_FREE and (compiler.alignfree or int(joint.align) == 1):
                raise NotInPlace(f"free joint alignment of body {sbody.name!r}")
        group_range = (int(compiler.inertiagrouprange[0]), int(compiler.inertiagrouprange[1]))
        body_geoms = []
        start, count = int(nominal.body_geomadr[bid]), int(nominal.body_geomnum[bid])
        for gid in range(start, start + count):
            sgeom = spec_geoms[gid]
            kind = int(nominal.geom_type[gid])
            label = sgeom.name or f"#{gid}"
            if sgeom.name != nominal.geom(gid).name:
                raise NotInPlace(f"geom {gid} is named differently in spec and model")
            if kind not in _PRIMITIVES:
                raise NotInPlace(f"geom {label!r} is not a primitive")
            if sgeom.typeinertia != mujoco.mjtGeomInertia.mjINERTIA_VOLUME:
                raise NotInPlace(f"geom {label!r} has shell inertia")
            if nominal.geom_fluid[gid, 0] != 0:
                raise NotInPlace(f"geom {label!r} has fluid coefficients")
            fromto = np.array(sgeom.fromto, dtype=np.float64)
            key = ("geom", label)
            values[key] = {
                "fromto": fromto,
                "size": np.array(sgeom.size, dtype=np.float64),
                "pos": np.array(sgeom.pos, dtype=np.float64),
            }
            body_geoms.append(
                _GeomInfo(
                    id=gid,
                    key=key,
                    kind=kind,
                    fromto=not math.isnan(fromto[0]),
                    quat=nominal.geom_quat[gid].tolist(),
                    infer=infer and group_range[0] <= int(sgeom.group) <= group_range[1],
                    mass=float(sgeom.mass),
                    density=float(sgeom.density),
                    collides=bool(nominal.geom_contype[gid] or nominal.geom_conaffinity[gid]),
                )
            )
        return _BodyInfo(
            id=bid,
            geoms=tuple(body_geoms),
            infer=infer,
            ipos=nominal.body_ipos[bid].tolist(),
            iquat=nominal.body_iquat[bid].tolist(),
            bvh=int(nominal.body_bvhadr[bid]),
        )

    def check(self) -> None:
        """Compute the nominal values and compare them with the compiled nominal model (``NotInPlace`` if they differ)."""
        model = copy.copy(self.nominal)
        masses, inertias = self.scaled(*self.write(model, self.values))
        mass, inertia = self.nominal.body_mass.copy(), self.nominal.body_inertia.copy()
        if _size(self._body_ids):
            mass[self._body_ids] = masses
            inertia[self._body_ids] = inertias
        # the compiler computes the statistics after its settotalmass scale (a rebuild with edits compiles unscaled)
        self.set_stat(model, mujoco.MjData(model), mass, inertia)
        for name in self._STATS:
            if not np.allclose(getattr(model.stat, name), getattr(self.nominal.stat, name), rtol=1e-12, atol=1e-12):
                raise NotInPlace(f"stat.{name} at nominal geometry differs from the compiled model")
        for name in self._FIELDS:
            if not np.allclose(getattr(model, name), getattr(self.nominal, name), rtol=0, atol=1e-12):
                raise NotInPlace(f"{name} at nominal geometry differs from the compiled model")
        if not (
            np.allclose(mass, self.nominal.body_mass, rtol=0, atol=1e-12)
            and np.allclose(inertia, self.nominal.body_inertia, rtol=0, atol=1e-12)
        ):
            raise NotInPlace("masses at nominal geometry differ from the compiled model")

    # ---- computing and writing ------------------------------------------------------------------------
    _FIELDS = (
        "geom_size",
        "geom_pos",
        "geom_quat",
        "geom_aabb",
        "geom_rbound",
        "body_ipos",
        "body_iquat",
        "body_pos",
        "site_pos",
        "cam_pos",
        "bvh_aabb",
        "bvh_child",
        "bvh_nodeid",
        "bvh_depth",
    )

    _STATS = ("extent", "meaninertia", "meanmass", "meansize", "center")

    def restore(self, model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
        """
        Copy the nominal values of every field :meth:`write` and :meth:`set_stat` write back into ``model``.

        :return: the nominal body masses and inertias (new arrays)
        """
        nominal = self.nominal
        for name in self._FIELDS:
            getattr(model, name)[:] = getattr(nominal, name)
        for name in self._STATS[:4]:
            setattr(model.stat, name, getattr(nominal.stat, name))
        model.stat.center[:] = nominal.stat.center
        return nominal.body_mass.copy(), nominal.body_inertia.copy()

    @property
    def body_ids(self) -> slice | np.ndarray:
        """The bodies whose mass and inertia follow the geometry, in the order :meth:`write` returns them."""
        return self._body_ids

    @property
    def body_rows(self) -> list[int]:
        """:attr:`body_ids` as a list (do not modify it)."""
        return self._body_rows

    def write(self, model: mujoco.MjModel, values: SpecValues) -> tuple[list[float], list[list[float]]]:
        """
        Write the compiled geometry of ``values`` into ``model`` (a copy of the nominal model, perhaps edited before).

        :param model: the model to write
        :param values: the spec values of the touched elements after the edits
        :return: the masses and inertias the compiler infers for the bodies of :attr:`body_ids` (before any
            ``settotalmass`` scale); the caller writes them (after its own scaling) and runs ``mj_setConst``
        :raises NotInPlace: a degenerate shape the compiler would treat otherwise (a geom too light to count)
        """
        sizes, poses, quats, aabbs, rbounds = [], [], [], [], []
        compiled: dict[int, tuple[list[float], list[float], list[float], list[float], float, list[float]]] = {}
        for g in self._geoms:
            size, pos, quat, aabb, rbound, mass, inertia = self._compile_geom(g, values.get(*g.key))
            compiled[g.id] = (pos, quat, aabb, inertia, mass, size)
            sizes.append(size)
            poses.append(pos)
            quats.append(quat)
            aabbs.append(aabb)
            rbounds.append(rbound)
        rows = self._geom_rows
        _put(model.geom_size, rows, sizes)
        _put(model.geom_pos, rows, poses)
        _put(model.geom_quat, rows, quats)
        _put(model.geom_aabb, rows, aabbs)
        _put(model.geom_rbound, rows, rbounds)
        masses: list[float] = []
        inertias: list[list[float]] = []
        iposes, iquats, nodes = [], [], []
        topology: list[tuple[int, list[tuple[int, int]], list[int], list[int]]] = []
        for b in self._bodies:
            if b.infer:
                mass, inertia, ipos, iquat = self._body_inertia(b, compiled)
                masses.append(mass)
                inertias.append(inertia)
                iposes.append(ipos)
                iquats.append(iquat)
            else:
                ipos, iquat = b.ipos, b.iquat
            if b.bvh >= 0:
                aabb, child, nodeid, depth = self._bvh(b, compiled, ipos, iquat)
                nodes.extend(aabb)
                if len(aabb) > 1:
                    topology.append((b.bvh, child, nodeid, depth))
        _put(model.body_ipos, self._body_rows, iposes)
        _put(model.body_iquat, self._body_rows, iquats)
        _put(model.bvh_aabb, self._bvh_rows, nodes)
        for start, child, nodeid, depth in topology:
            end = start + len(child)
            model.bvh_child[start:end] = child
            model.bvh_nodeid[start:end] = nodeid
            model.bvh_depth[start:end] = depth
        for field, rows, keys in self._pos_rows:
            _put(getattr(model, field), rows, [values.get(*key).pos for key in keys])
        return masses, inertias

    def scaled(self, masses: list[float], inertias: list[list[float]]) -> tuple[list[float], list[list[float]]]:
        """:return: inferred masses and inertias with the ``settotalmass`` scale (as a rebuild scales its compiled model)."""
        scale = self._mass_scale
        if scale == 1.0:
            return masses, inertias
        return [m * scale for m in masses], [[i * scale for i in inertia] for inertia in inertias]

    def raw_nominal(self) -> tuple[np.ndarray, np.ndarray]:
        """:return: new arrays of the nominal body masses and inertias before the ``settotalmass`` scale."""
        scale = self._mass_scale
        if scale == 1.0:
            return self.nominal.body_mass.copy(), self.nominal.body_inertia.copy()
        return self.nominal.body_mass / scale, self.nominal.body_inertia / scale

    def set_stat(self, model: mujoco.MjModel, data: mujoco.MjData, raw_mass: np.ndarray, raw_inertia: np.ndarray) -> None:
        """
        Set ``model.stat`` as the compiler computes it (``setStat`` of MuJoCo 3's ``engine_setconst.c``).

        The compiler computes the statistics once, from the masses it infers and the nominal armature; ``mj_setConst``
        leaves them alone, so later mass edits do not change them (as in a model compiled through MjSpec and
        edited). Values the MJCF's ``<statistic>`` sets stay. Overwrites ``model``'s masses and inertias (the
        caller writes its own next) and ``data``; leaves its armatures as they are (and, without "simple" dofs,
        its derived constants: see :meth:`_inertia_diagonal`).

        :param model: a model whose geometry :meth:`write` wrote
        :param data: scratch data of that model
        :param raw_mass: the body masses the compiler infers (:meth:`write`)
        :param raw_inertia: their inertias
        """
        model.body_mass[:] = raw_mass
        model.body_inertia[:] = raw_inertia
        diagonal = self._inertia_diagonal(model, data)
        # plain Python on lists: these models are small, and numpy's per-call cost would dominate
        xipos, gxpos, anchors = data.xipos.tolist(), data.geom_xpos.tolist(), data.xanchor.tolist()
        radius = model.geom_rbound.tolist()
        for plane, plane_radius in self._planes:
            radius[plane] = plane_radius
        points = data.xpos.tolist()[1:] + xipos[1:] + anchors + data.site_xpos.tolist()
        points += [[p[0] - r, p[1] - r, p[2] - r] for p, r in zip(gxpos, radius, strict=True)]
        points += [[p[0] + r, p[1] + r, p[2] + r] for p, r in zip(gxpos, radius, strict=True)]
        xs, ys, zs = zip(*points, strict=True)
        xmin, xmax = [min(xs), min(ys), min(zs)], [max(xs), max(ys), max(zs)]
        stat = model.stat
        fixed = self._stat_fixed
        if not fixed[4]:
            stat.center[:] = [(xmin[0] + xmax[0]) * 0.5, (xmin[1] + xmax[1]) * 0.5, (xmin[2] + xmax[2]) * 0.5]
        extent = float(stat.extent)
        if xmax[0] > xmin[0]:
            extent = max(1e-5, max(xmax[0] - xmin[0], max(xmax[1] - xmin[1], xmax[2] - xmin[2])))
        # each body's size: the largest distance from its centre of mass to its and its children's joints,
        # and to the far side of its geoms
        joint_rows, geom_rows = self._stat_index
        nbody = model.nbody
        size = [0.0] * nbody
        for joint, body in joint_rows:
            size[body] = max(size[body], math.dist(xipos[body], anchors[joint]))
        for geom, body in geom_rows:
            size[body] = max(size[body], radius[geom] + math.dist(xipos[body], gxpos[geom]))
        meansize = float(stat.meansize)
        if nbody > 1:
            meansize = 0.0
            for body_size in size[1:]:
                meansize += max(body_size, 1e-5) / (nbody - 1)
            if not fixed[3]:
                stat.meansize = meansize
        if not fixed[0]:
            stat.extent = max(extent, 2 * meansize)
        if nbody > 1 and not fixed[2]:
            stat.meanmass = math.fsum(raw_mass[1:].tolist()) / (nbody - 1)
        if model.nv and not fixed[1]:
            stat.meaninertia = math.fsum(diagonal) / model.nv

    def _inertia_diagonal(self, model: mujoco.MjModel, data: mujoco.MjData) -> list[float]:
        """
        The compiler's ``dof_M0``: the diagonal of the inertia matrix at ``qpos0`` with the model's masses and the
        nominal armature. Leaves ``data`` at the kinematics of ``qpos0``, and the model's armatures as they are.

        mj_crb computes that matrix at a fraction of what mj_setConst costs, but it copies the rows of "simple" dofs
        (a free body's) from ``dof_M0``, a constant of mj_setConst: models with such dofs run mj_setConst (the
        caller's own mj_setConst then replaces the constants it computes).
        """
        armature = model.dof_armature
        edited = armature.tolist() != self._armature_list
        if edited:
            armature = armature.copy()
            model.dof_armature[:] = self._armature
        if self._simple_dofs:
            mujoco.mj_setConst(model, data)
            diagonal = model.dof_M0.tolist()
        data.qpos[:] = model.qpos0
        mujoco.mj_kinematics(model, data)
        if not self._simple_dofs:
            mujoco.mj_comPos(model, data)
            mujoco.mj_crb(model, data)
            inertia_matrix = data.M.tolist()
            diagonal = [inertia_matrix[i] for i in self._diagonal]
        if edited:
            model.dof_armature[:] = armature
        return diagonal

    def _compile_geom(
        self, g: _GeomInfo, element: _Element
    ) -> tuple[list[float], list[float], list[float], list[float], float, float, list[float]]:
        # mjCGeom::Compile for a primitive
        size = element.size.tolist()
        if g.fromto:
            ft = element.fromto.tolist()
            vec = [ft[0] - ft[3], ft[1] - ft[4], ft[2] - ft[5]]
            size[1] = _normvec(vec) / 2
            if size[1] < _EPS:
                raise NotInPlace("fromto points too close")
            if g.kind in (_ELLIPSOID, _BOX):
                size[2] = size[1]
                size[1] = size[0]
            pos = [(ft[0] + ft[3]) / 2, (ft[1] + ft[4]) / 2, (ft[2] + ft[5]) / 2]
            quat = _z2quat(vec)
        else:
            pos = element.pos.tolist()
            quat = g.quat
        used = 1 if g.kind == _SPHERE else 2 if g.kind in (_CAPSULE, _CYLINDER) else 3
        if not min(size[:used]) > 0:
            raise NotInPlace("a size that is not positive (the compiler refuses it)")
        aabb, rbound = _aabb_rbound(g.kind, size)
        mass, inertia = 0.0, [0.0, 0.0, 0.0]
        if g.infer:
            if not math.isnan(g.mass):
                if g.mass != 0:
                    volume = _volume(g.kind, size)
                    if volume <= _EPS:
                        raise NotInPlace("explicit mass on a vanishing volume")
                    mass = g.mass
                    inertia = _geom_inertia(g.kind, size, mass)
            elif g.density != 0:
                mass = g.density * _volume(g.kind, size)
                inertia = _geom_inertia(g.kind, size, mass)
        return size, pos, quat, aabb, rbound, mass, inertia

    def _body_inertia(
        self, b: _BodyInfo, compiled: dict[int, tuple[list[float], list[float], list[float], list[float], float, list[float]]]
    ) -> tuple[float, list[float], list[float], list[float]]:
        # mjCBody::InertiaFromGeom, then the compiler's bounds and balance, then the settotalmass scale
        sel = [compiled[g.id] for g in b.geoms if g.infer and compiled[g.id][4] > _EPS]
        if not sel:
            raise NotInPlace("no geom heavy enough to define the body's inertia")
        if len(sel) == 1:
            pos, quat, _, inertia, mass, _ = sel[0]
            ipos, iquat, inertia = list(pos), list(quat), list(inertia)
        else:
            mass = 0.0
            com = [0.0, 0.0, 0.0]
            for pos, _, _, _, m, _ in sel:
                mass += m
                com[0] += m * pos[0]
                com[1] += m * pos[1]
                com[2] += m * pos[2]
            ipos = [com[0] / mass, com[1] / mass, com[2] / mass]
            toti = [0.0] * 6
            for pos, quat, _, local, m, _ in sel:
                d = [pos[0] - ipos[0], pos[1] - ipos[1], pos[2] - ipos[2]]
                inert0 = _global_inertia(local, quat)
                inert1 = [
                    m * (d[1] * d[1] + d[2] * d[2]),
                    m * (d[0] * d[0] + d[2] * d[2]),
                    m * (d[0] * d[0] + d[1] * d[1]),
                    -m * d[0] * d[1],
                    -m * d[0] * d[2],
                    -m * d[1] * d[2],
                ]
                for j in range(6):
                    toti[j] = toti[j] + inert0[j] + inert1[j]
            full = np.array([toti[0], toti[3], toti[4], toti[3], toti[1], toti[5], toti[4], toti[5], toti[2]])
            eigval, eigvec, quat_out = np.empty(3), np.empty(9), np.empty(4)
            mujoco.mju_eig3(eigval, eigvec, quat_out, full)
            if eigval[2] < _EPS:
                raise NotInPlace("inertia without positive eigenvalues")
            iquat, inertia = quat_out.tolist(), eigval.tolist()
        boundmass, boundinertia, balance = self._bounds
        mass = max(mass, boundmass)
        inertia = [max(i, boundinertia) for i in inertia]
        if (
            inertia[0] + inertia[1] < inertia[2]
            or inertia[0] + inertia[2] < inertia[1]
            or inertia[1] + inertia[2] < inertia[0]
        ):
            if not balance:
                raise NotInPlace("inertia violates A + B >= C (the compiler refuses it)")
            inertia = [(inertia[0] + inertia[1] + inertia[2]) / 3.0] * 3
        return mass, inertia, ipos, iquat

    def _bvh(
        self,
        b: _BodyInfo,
        compiled: dict[int, tuple[list[float], list[float], list[float], list[float], float, list[float]]],
        ipos: list[float],
        iquat: list[float],
    ) -> tuple[list[list[float]], list[tuple[int, int]], list[int], list[int]]:
        # mjCBoundingVolumeHierarchy::Make / MakeBVH over the body's colliding geoms, in its inertial frame
        colliding = [g for g in b.geoms if g.collides]
        if len(colliding) == 1:
            pos, quat, aabb, _, _, _ = compiled[colliding[0].id]
            if pos == ipos and quat == iquat:
                # a geom framing its body's inertia: its own box (the compiler's round trip through the two
                # rotations returns it to within a few ulps)
                half = [h if h + h >= _EPS else h + _EPS for h in aabb[3:]]
                return [aabb[:3] + half], [(-1, -1)], [colliding[0].id], [0]
        qinv = [iquat[0], -iquat[1], -iquat[2], -iquat[3]]
        elements = []
        for order, g in enumerate(colliding):
            pos, quat, aabb, _, _, _ = compiled[g.id]
            offset = [pos[0] - ipos[0], pos[1] - ipos[1], pos[2] - ipos[2]]
            lo = [aabb[0] - aabb[3], aabb[1] - aabb[4], aabb[2] - aabb[5]]
            hi = [aabb[0] + aabb[3], aabb[1] + aabb[4], aabb[2] + aabb[5]]
            corners = []
            for v in range(8):
                box = _rot([hi[0] if v & 1 else lo[0], hi[1] if v & 2 else lo[1], hi[2] if v & 4 else lo[2]], quat)
                corners.append(_rot([box[0] + offset[0], box[1] + offset[1], box[2] + offset[2]], qinv))
            elements.append(_BVElement(order, g.id, _rot(offset, qinv), corners))
        tree = _BVTree()
        if elements:
            tree.make(elements, 0)
        if len(tree.nodes) != int(self.nominal.body_bvhnum[b.id]):
            raise NotInPlace("bounding volume hierarchy of another size")
        return tree.nodes, [(c[0], c[1]) for c in tree.child], tree.nodeid, tree.depth


# In-place writers (or the reason why there is none), by builder class, XML, structural edits and touched elements.
_IN_PLACE: dict[Hashable, InPlaceGeometry | str] = {}

#: A pool of an env's own models: parameter vector (bytes) -> (model, the vector it was built for).
ModelPool = OrderedDict[bytes, tuple[mujoco.MjModel, np.ndarray]]
T = TypeVar("T")


def _identity(model: mujoco.MjModel) -> mujoco.MjModel:
    return model


class ModelBuilder:
    """
    Produces the :class:`mujoco.MjModel` of any parameter vector of a :class:`ParamSpace`.

    **Geometry.** Where every length and size parameter edits primitive geoms (sizes, ``fromto`` segments,
    positions) and body, site or camera positions, the builder writes the compiled result into a copy of the
    nominal model (:class:`InPlaceGeometry`: geom sizes, frames, bounding boxes, the reshaped bodies' masses,
    inertias and inertial frames, the statistics, then ``mj_setConst``), equal to an MjSpec rebuild to 1e-12
    without compiling. Otherwise (meshes, shell inertia, ``settotalmass`` outside the suite, a shape the
    compiler would treat specially) the geometry selects a pristine model compiled through MjSpec (cached
    process-wide, keyed by geometry and ``keep_mass``). :attr:`geometry_path` says which path an env takes.

    **Everything else** is an in-place edit (:meth:`edit`) always starting again from the values of the model's
    geometry, so edits never compound. Mass, inertia and armature edits are followed by ``mj_setConst`` on the
    builder's scratch ``MjData``, so derived constants match a recompiled model and no live episode is touched.
    Built models returned by :meth:`model_for` are cached (LRU) and shared: nobody edits them afterwards. An
    env's own models come from :meth:`pooled_model` / :meth:`pooled`, which rewrite them in place.

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
        # settings met recently by pooled_model (a setting met twice earns a model of its own)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._const_idx = param_space.indices_of_kind("mass_scale", "dof_armature")
        self._models = LRUCache(cache_size)
        self._plan_cache: dict[str, np.ndarray] | None = None
        self._scratch: mujoco.MjData | None = None
        self._nominal = param_space.nominal
        self._writer: InPlaceGeometry | str | None = None
        self._nominal_model: mujoco.MjModel | None = None
        # masses and inertias of the last geometry written in place: (geometry bytes, body_mass, body_inertia)
        self._base: tuple[bytes, np.ndarray, np.ndarray] | None = None
        # body masses and inertias as the compiler infers them, and as the model has them (before parameter edits);
        # the nominal masses of the reshaped bodies
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[float]] | None = None

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
        return vector[self._geometry_idx].tobytes()

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
    def rewritable(self) -> bool:
        """Whether :meth:`write` can turn any model of this builder into that of any vector (geometry in place, or none)."""
        return self.in_place is not None or not len(self._geometry_idx)

    @property
    def geometry_path(self) -> str:
        """``"in place"``, or ``"MjSpec: <why>"`` for geometry parameters rebuilt through MjSpec."""
        return "in place" if self.in_place is not None else f"MjSpec: {self._writer}"

    def _write_geometry(self, model: mujoco.MjModel, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the geometry of `vector` written into `model`; its body masses and inertias (keep_mass applied)
        writer = self.in_place
        edits = self.geometry_edits(vector)
        if writer is None:  # no geometry parameters: the model has the nominal geometry
            nominal = self.nominal_model()
            return nominal.body_mass.copy(), nominal.body_inertia.copy()
        if not edits:
            return writer.restore(model)
        values = writer.values.copy()
        for edit, amount in edits:
            self.edit_values(values, edit, amount)
        raw_masses, raw_inertias = writer.write(model, values)
        rows = writer.body_rows
        if self._arrays is None:
            self._arrays = (
                *writer.raw_nominal(),
                writer.nominal.body_mass.copy(),
                writer.nominal.body_inertia.copy(),
                writer.nominal.body_mass[rows].tolist(),
            )
        raw_mass, raw_inertia, mass, inertia, nominal = self._arrays
        _put(raw_mass, rows, raw_masses)
        _put(raw_inertia, rows, raw_inertias)
        if self._scratch is None:
            self._scratch = mujoco.MjData(model)
        writer.set_stat(model, self._scratch, raw_mass, raw_inertia)
        masses, inertias = writer.scaled(raw_masses, raw_inertias)
        if self.keep_mass:
            # keep_body_masses on the reshaped bodies (every other body has the factor 1 exactly)
            inertias = [
                [i * (n / m) for i in inertia] if m > 0 else inertia
                for n, m, inertia in zip(nominal, masses, inertias, strict=True)
            ]
            masses = nominal
        _put(mass, rows, masses)
        _put(inertia, rows, inertias)
        return mass, inertia

    def write(self, model: mujoco.MjModel, vector: np.ndarray, previous: np.ndarray | None) -> None:
        """
        Make ``model`` the model of ``vector``, in place (:attr:`rewritable` builders only).

        :param model: a copy of :meth:`nominal_model`, perhaps written before by this builder
        :param vector: a validated parameter vector
        :param previous: the vector ``model`` was last written for (``None``: ``model`` is a fresh copy of the nominal model)
        :raises NotInPlace: a geometry the in-place path cannot reproduce (``model`` is then unusable)
        """
        geometry = self.geometry_bytes(vector)
        # a fresh copy of the nominal model has the nominal parameters' geometry and constants
        held = self._nominal if previous is None else previous
        reshaped = self.geometry_bytes(held) != geometry
        base = self._base
        written = reshaped or base is None or base[0] != geometry
        if written:
            mass, inertia = self._write_geometry(model, vector)
            base = self._base = (geometry, mass, inertia)
        others = vector[self._other_idx].tobytes()
        # the other parameters as the model has them already: only masses and inertias follow the new geometry
        same = previous is not None and previous[self._other_idx].tobytes() == others
        friction = self.nominal_model().geom_friction
        # after a geometry write the derived constants are recomputed (set_stat may have replaced them)
        self._edit_params(model, base[1], base[2], friction, vector, None if written else held, others if same else None)

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

    def pooled_model(
        self,
        pool: ModelPool,
        vector: np.ndarray,
        size: int,
        on_new: Callable[[mujoco.MjModel], None],
        key: bytes | None = None,
    ) -> mujoco.MjModel:
        """
        An env's own model for ``vector``, from its pool of up to ``size`` models (see :meth:`pooled`).

        :param pool: the env's pool, updated
        :param vector: a validated parameter vector
        :param size: the most models the pool holds
        :param on_new: called with each new copy (the env's own settings, such as the offscreen buffer size)
        :param key: ``vector.tobytes()``, where the caller has it already
        :return: the env's model for ``vector`` (perhaps the one the env runs now, rewritten: call it at reset)
        """
        if key is None:
            key = vector.tobytes()
        entry = pool.get(key)
        if entry is not None:  # a setting in the pool (a finite set's member): a lookup, as in pooled
            pool.move_to_end(key)
            return entry[0]

        def wrap(model: mujoco.MjModel) -> mujoco.MjModel:
            on_new(model)
            return model

        return self.pooled(pool, vector, size, wrap, _identity)

    def pooled(
        self,
        pool: OrderedDict[bytes, tuple[T, np.ndarray]],
        vector: np.ndarray,
        size: int,
        wrap: Callable[[mujoco.MjModel], T],
        unwrap: Callable[[T], mujoco.MjModel],
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
        :return: the holder of the model of ``vector``
        """
        key = vector.tobytes()
        entry = pool.get(key)
        if entry is not None:
            pool.move_to_end(key)
            return entry[0]
        seen = self._seen
        repeat = key in seen
        seen[key] = None
        seen.move_to_end(key)
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
                self.write(unwrap(holder), vector, previous)
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
            mass_params, friction_params = plan["mass_params"], plan["friction_params"]
            mass_factor = np.ones(len(body_mass))
            # a body may be the target of several mass parameters (its density and its mass): factors multiply
            np.multiply.at(mass_factor, plan["mass_bodies"], vector[mass_params] / self._nominal[mass_params])
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
            if self._scratch is None:
                self._scratch = mujoco.MjData(model)
            mujoco.mj_setConst(model, self._scratch)

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
