"""
Length and size edits written into a compiled MuJoCo model as MuJoCo's compiler would compute them, without compiling.

:class:`InPlaceGeometry` redoes, for primitive geoms, what the compiler derives from the edited MjSpec values (geom
sizes and frames, bounding boxes, the reshaped bodies' masses, inertias and inertial frames, bounding volume
hierarchies, the model statistics), in Python floats in the compiler's order of operations (``user_objects.cc``,
``user_util.cc``, ``engine_setconst.c``'s ``setStat`` of MuJoCo 3.x): IEEE doubles give the same results. It is
fast enough to run at every reset (a randomised reset with an unseen geometry): everything a model does not need
recomputed is resolved once, when the writer is created, and the values of a new geometry reach the model in
one numpy assignment (:class:`_FlatLayout`).
"""

from __future__ import annotations

import copy
import ctypes
import functools
import math
import struct
import weakref
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import mujoco
import numpy as np

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


# mjCGeom::ComputeAABB and GetRBound (the centred box: centre 0, half sizes), GetVolume and SetInertia of each
# solid primitive. The box's centre (max + min) / 2 and half size (max - min) / 2 of -half..half are 0 and half
# exactly (h + -h is 0 and h - -h is 2h without rounding).


def _sphere_box(size: list[float]) -> tuple[list[float], float]:
    return [0.0, 0.0, 0.0, size[0], size[0], size[0]], size[0]


def _sphere_volume(size: list[float]) -> float:
    return 4 * math.pi * size[0] * size[0] * size[0] / 3


def _sphere_inertia(size: list[float], mass: float) -> list[float]:
    value = 2 * mass * size[0] * size[0] / 5
    return [value, value, value]


def _capsule_box(size: list[float]) -> tuple[list[float], float]:
    return [0.0, 0.0, 0.0, size[0], size[0], size[0] + size[1]], size[0] + size[1]


def _capsule_volume(size: list[float]) -> float:
    height, radius = 2 * size[1], size[0]
    return math.pi * (radius * radius * height + 4 * radius * radius * radius / 3)


def _capsule_inertia(size: list[float], mass: float) -> list[float]:
    height, radius = 2 * size[1], size[0]
    sphere_mass = mass * 4 * radius / (4 * radius + 3 * height)
    cylinder_mass = mass - sphere_mass
    ixy = cylinder_mass * (3 * radius * radius + height * height) / 12
    iz = cylinder_mass * radius * radius / 2
    sphere_inertia = 2 * sphere_mass * radius * radius / 5
    ixy += sphere_inertia + sphere_mass * height * (3 * radius + 2 * height) / 8  # C's +=: the sum first
    return [ixy, ixy, iz + sphere_inertia]


def _cylinder_box(size: list[float]) -> tuple[list[float], float]:
    return [0.0, 0.0, 0.0, size[0], size[0], size[1]], math.sqrt(size[0] * size[0] + size[1] * size[1])


def _cylinder_volume(size: list[float]) -> float:
    return math.pi * size[0] * size[0] * (2 * size[1])


def _cylinder_inertia(size: list[float], mass: float) -> list[float]:
    height, radius = 2 * size[1], size[0]
    ixy = mass * (3 * radius * radius + height * height) / 12
    return [ixy, ixy, mass * radius * radius / 2]


def _ellipsoid_box(size: list[float]) -> tuple[list[float], float]:
    return [0.0, 0.0, 0.0, *size], max(max(size[0], size[1]), size[2])


def _ellipsoid_volume(size: list[float]) -> float:
    return 4 * math.pi * size[0] * size[1] * size[2] / 3


def _ellipsoid_inertia(size: list[float], mass: float) -> list[float]:
    s00, s11, s22 = size[0] * size[0], size[1] * size[1], size[2] * size[2]
    return [mass * (s11 + s22) / 5, mass * (s00 + s22) / 5, mass * (s00 + s11) / 5]


def _box_box(size: list[float]) -> tuple[list[float], float]:
    return [0.0, 0.0, 0.0, *size], math.sqrt(size[0] * size[0] + size[1] * size[1] + size[2] * size[2])


def _box_volume(size: list[float]) -> float:
    return size[0] * size[1] * size[2] * 8


def _box_inertia(size: list[float], mass: float) -> list[float]:
    s00, s11, s22 = size[0] * size[0], size[1] * size[1], size[2] * size[2]
    return [mass * (s11 + s22) / 3, mass * (s00 + s22) / 3, mass * (s00 + s11) / 3]


class _Shape(NamedTuple):
    box: Callable[[list[float]], tuple[list[float], float]]
    volume: Callable[[list[float]], float]
    inertia: Callable[[list[float], float], list[float]]
    used: int  # how many size components the shape reads (each must be positive)


_SHAPES = {
    _SPHERE: _Shape(_sphere_box, _sphere_volume, _sphere_inertia, 1),
    _CAPSULE: _Shape(_capsule_box, _capsule_volume, _capsule_inertia, 2),
    _CYLINDER: _Shape(_cylinder_box, _cylinder_volume, _cylinder_inertia, 2),
    _ELLIPSOID: _Shape(_ellipsoid_box, _ellipsoid_volume, _ellipsoid_inertia, 3),
    _BOX: _Shape(_box_box, _box_volume, _box_inertia, 3),
}


#: The MjSpec fields of each kind of element that geometry edits read and write, with where each starts in the
#: element's flat values (:meth:`SpecValues.flat`), and how many values the element has.
_SPEC_FIELDS = {
    "geom": ({"fromto": 0, "size": 6, "pos": 9}, 12),
    "body": ({"pos": 0}, 3),
    "site": ({"pos": 0}, 3),
    "camera": ({"pos": 0}, 3),
}
_FROMTO, _SIZE, _POS = (_SPEC_FIELDS["geom"][0][field] for field in ("fromto", "size", "pos"))


class SpecValues:
    """
    The MjSpec values geometry edits read and write, for the elements they touch: a stand-in for :class:`mujoco.MjSpec`.

    ``values.geom(name)`` has ``fromto``, ``size`` and ``pos``; ``body``, ``site`` and ``camera`` have ``pos``
    (numpy arrays, as MjSpec returns them), so :func:`~robust_envs.mujoco_model.apply_geometry` and the suite's
    ``LengthEdit.apply`` run on it unchanged, with the arithmetic of the MjSpec rebuild.

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

    def slots(self) -> dict[tuple[str, str], int]:
        """:return: where each element's values start in :meth:`flat` (its fields in the order of ``_SPEC_FIELDS``)."""
        slots, start = {}, 0
        for key in self._elements:
            slots[key] = start
            start += _SPEC_FIELDS[key[0]][1]
        return slots

    def flat(self) -> list[float]:
        """:return: every value, element after element (see :meth:`slots`), as Python floats."""
        values: list[float] = []
        for (kind, _), element in self._elements.items():
            for field in _SPEC_FIELDS[kind][0]:
                values += getattr(element, field).tolist()
        return values


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


_PACKERS: dict[int, struct.Struct] = {}


def _doubles(values: list[float]) -> np.ndarray:
    # values as a read-only float64 array: struct packs a list of floats in a fraction of the time numpy takes
    packer = _PACKERS.get(len(values))
    if packer is None:
        packer = _PACKERS[len(values)] = struct.Struct(f"={len(values)}d")
    return np.frombuffer(packer.pack(*values), dtype=np.float64)


class _FlatLayout:
    """
    Where chosen float arrays of an ``MjModel`` (or ``MjData``) lie in the one buffer MuJoCo allocates for all of them.

    :meth:`view` is a flat float64 array over that stretch of an object's buffer, so one numpy assignment writes
    (or one index reads) values of several fields at once: a dozen row writes through the bindings cost several
    microseconds, one scatter a fraction of one. Copies of a model, and the data of models of one structure, share
    the layout; :meth:`view` checks it.

    :param obj: a model (or data) of the structure
    :param names: the fields (float64 arrays)
    :raises NotInPlace: a field that is not a contiguous float64 array aligned in the buffer
    """

    def __init__(self, obj: Any, names: Iterable[str]) -> None:
        arrays = {name: getattr(obj, name) for name in dict.fromkeys(names)}
        arrays = {name: array for name, array in arrays.items() if array.size}
        start = min(array.ctypes.data for array in arrays.values())
        end = max(array.ctypes.data + array.nbytes for array in arrays.values())
        self._first = next(name for name, array in arrays.items() if array.ctypes.data == start)
        self._length = (end - start) // 8
        self._offsets: dict[str, int] = {}
        self._widths: dict[str, int] = {}
        for name, array in arrays.items():
            delta = array.ctypes.data - start
            if array.dtype != np.float64 or delta % 8 or not array.flags.c_contiguous:
                raise NotInPlace(f"{name} is not a float array aligned in the model's buffer")
            self._offsets[name] = delta // 8
            self._widths[name] = array.shape[1] if array.ndim == 2 else 1
        # views by object, dropped with it: a view holds no reference to its object's memory. The last object
        # asked for, weakly: a reset rewrites the same model with the same scratch data, and the dictionary's
        # lookup (Python code) costs several times the check
        self._views: weakref.WeakKeyDictionary[Any, np.ndarray] = weakref.WeakKeyDictionary()
        self._last: tuple[weakref.ref[Any], np.ndarray] | None = None

    def indices(self, name: str, rows: Iterable[int]) -> list[int]:
        """:return: the positions in :meth:`view` of ``rows`` of field ``name``, row by row (every column)."""
        rows = list(rows)
        if not rows:  # the field may be empty (no sites), and then has no place in the layout
            return []
        offset, width = self._offsets[name], self._widths[name]
        return [offset + row * width + col for row in rows for col in range(width)]

    def view(self, obj: Any) -> np.ndarray:
        """:return: the flat view of ``obj``'s buffer (cached while ``obj`` lives; use it only with ``obj`` at hand)."""
        last = self._last
        if last is not None and last[0]() is obj:
            return last[1]
        view = self._views.get(obj)
        if view is None:
            start = getattr(obj, self._first).ctypes.data
            for name, offset in self._offsets.items():
                if getattr(obj, name).ctypes.data != start + 8 * offset:
                    raise NotInPlace(f"{name} lies elsewhere in this model's buffer")
            view = np.ctypeslib.as_array((ctypes.c_double * self._length).from_address(start))
            self._views[obj] = view
        self._last = (weakref.ref(obj), view)
        return view

    def __getstate__(self) -> dict[str, Any]:
        # the views point into particular objects' memory: a copy (or unpickled layout) starts without any
        return {**self.__dict__, "_views": None, "_last": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views = weakref.WeakKeyDictionary()


class _StatView:
    """
    ``model.stat`` as one float64 array: mjStatistic's meaninertia, meanmass, meansize, extent and center, seven
    doubles in a row inside mjModel (checked on a copy of the first model), written in one assignment.

    :param model: a model of MuJoCo's layout
    :raises NotInPlace: a layout of another MuJoCo version
    """

    NAMES = ("meaninertia", "meanmass", "meansize", "extent")

    def __init__(self, model: mujoco.MjModel) -> None:
        probe = copy.copy(model)
        view = self._make(probe)
        view[:] = np.arange(1.0, 8.0)
        stat = probe.stat
        if [getattr(stat, name) for name in self.NAMES] + stat.center.tolist() != view.tolist():
            raise NotInPlace("model.stat is laid out otherwise than mjStatistic of MuJoCo 3")
        # as _FlatLayout's views
        self._views: weakref.WeakKeyDictionary[mujoco.MjModel, np.ndarray] = weakref.WeakKeyDictionary()
        self._last: tuple[weakref.ref[mujoco.MjModel], np.ndarray] | None = None

    @staticmethod
    def _make(model: mujoco.MjModel) -> np.ndarray:
        start = model.stat.center.ctypes.data - 4 * 8
        return np.ctypeslib.as_array((ctypes.c_double * 7).from_address(start))

    def view(self, model: mujoco.MjModel) -> np.ndarray:
        """:return: the statistics of ``model`` (cached while ``model`` lives; use it only with ``model`` at hand)."""
        last = self._last
        if last is not None and last[0]() is model:
            return last[1]
        view = self._views.get(model)
        if view is None:
            view = self._views[model] = self._make(model)
        self._last = (weakref.ref(model), view)
        return view

    def __getstate__(self) -> dict[str, Any]:
        # as _FlatLayout's: no view survives a copy
        return {**self.__dict__, "_views": None, "_last": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views = weakref.WeakKeyDictionary()


class Compiled(NamedTuple):
    """
    What :meth:`InPlaceGeometry.compile` computes for one geometry.

    :param values: the model values to write, in the order of the writer's layout
    :param masses: the mass and principal inertias the compiler infers for each body of
        :attr:`InPlaceGeometry.body_rows`, one after the other (before any ``settotalmass`` scale)
    :param radii: the bounding radii of the writer's geoms
    :param topology: ``(first node, child, nodeid, depth)`` of the bounding volume trees of several nodes
    """

    values: list[float]
    masses: list[float]
    radii: list[float]
    topology: list[tuple[int, list[tuple[int, int]], list[int], list[int]]]


class Swap(NamedTuple):
    """
    Model values besides the reshaped bodies' that differ between the compiler's model and the final one.

    :param first_index: where :meth:`InPlaceGeometry.commit` writes the geometry, the compiler's masses and ``raw``
    :param final_index: where it writes the final masses and ``final``
    :param raw: the compiler's values (masses of other bodies inferred at nominal geometry, the nominal armature)
    :param final: the final values
    """

    first_index: np.ndarray
    final_index: np.ndarray
    raw: list[float]
    final: list[float]


class Resolved(NamedTuple):
    """
    What an :class:`InPlaceGeometry` resolved once for its model structure (:meth:`InPlaceGeometry.resolved`).

    :param nominal: the compiled nominal model
    :param bodies: the reshaped bodies, in the order of :attr:`Compiled.values`
    :param slots: where each touched element's spec values start in the flat spec values
    :param positions: ``(kind, id, slot)`` of each moved body, site and camera, in the order of :attr:`Compiled.values`
    :param bounds: the compiler's ``boundmass``, ``boundinertia`` and ``balanceinertia``
    :param raw_masses: every body's mass as the compiler infers it at nominal geometry (before the scale)
    :param raw_inertias: likewise, the principal inertias
    :param armature: the nominal armature of every dof
    :param stat_fixed: which statistics the MJCF sets (``extent``, ``meaninertia``, ``meanmass``, ``meansize``, ``center``)
    :param simple_dofs: whether the model has "simple" dofs (their diagonal comes from ``mj_setConst``)
    :param data_layout: where the gathered fields of ``MjData`` lie in its buffer
    :param gather: the positions in ``data_layout``'s view that the statistics read (the inertia matrix aside), points first
    :param points_end: where the points that bound the model end in ``gather``
    :param moving_geoms: ``(offset, k, radius)`` of each geom centre that can move: its offset in the gathered
        values, the index of its radius among the reshaped geoms' (``-1``: ``radius``, its nominal one)
    :param static_box: the low and high corner of the points no geometry moves
    :param sizes: every body's size where no geometry changes it (0 where one does)
    :param joint_pairs: ``(body, offset of its centre of mass, offset of a joint anchor)`` for the bodies whose size changes
    :param geom_pairs: ``(body, k, radius, offset of its centre of mass, offset of a geom centre)`` likewise
    """

    nominal: mujoco.MjModel
    bodies: tuple[_BodyInfo, ...]
    slots: dict[tuple[str, str], int]
    positions: tuple[tuple[str, int, int], ...]
    bounds: tuple[float, float, bool]
    raw_masses: np.ndarray
    raw_inertias: np.ndarray
    armature: np.ndarray
    stat_fixed: tuple[bool, bool, bool, bool, bool]
    simple_dofs: bool
    data_layout: _FlatLayout
    gather: np.ndarray
    points_end: int
    moving_geoms: tuple[tuple[int, int, float], ...]
    static_box: tuple[float, ...]
    sizes: tuple[float, ...]
    joint_pairs: tuple[tuple[int, int, int], ...]
    geom_pairs: tuple[tuple[int, int, float, int, int], ...]


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


#: What one geom compiles to: size, pos, quat, aabb, rbound, mass, inertia.
_GeomValues = tuple[list[float], list[float], list[float], list[float], float, float, list[float]]


def _geom_compiler(g: _GeomInfo, slot: int) -> Callable[[list[float]], _GeomValues]:
    """
    mjCGeom::Compile for one primitive geom, from its flat spec values at ``slot``: a function of the spec values.

    Everything that does not depend on them (its shape's formulas, whether and how its mass is inferred) is
    decided here, once; the orientation of a ``fromto`` segment is computed once per direction (a stretched
    segment keeps its direction).
    """
    shape = _SHAPES[g.kind]
    box, volume_of, inertia_of, used = shape
    swap_axes = g.kind in (_ELLIPSOID, _BOX)
    explicit = g.infer and not math.isnan(g.mass) and g.mass != 0
    from_density = g.infer and math.isnan(g.mass) and g.density != 0
    mass_value, density = g.mass, g.density
    fixed_quat = g.quat
    quats: dict[tuple[float, float, float], list[float]] = {}

    fromto, size_at, pos_at = slot + _FROMTO, slot + _SIZE, slot + _POS

    def compile_geom(scalars: list[float]) -> _GeomValues:
        size = scalars[size_at : size_at + 3]
        if g.fromto:
            f0, f1, f2, f3, f4, f5 = scalars[fromto : fromto + 6]
            vec = [f0 - f3, f1 - f4, f2 - f5]
            size[1] = _normvec(vec) / 2
            if size[1] < _EPS:
                raise NotInPlace("fromto points too close")
            if swap_axes:
                size[2] = size[1]
                size[1] = size[0]
            pos = [(f0 + f3) / 2, (f1 + f4) / 2, (f2 + f5) / 2]
            direction = (vec[0], vec[1], vec[2])
            quat = quats.get(direction)
            if quat is None:
                if len(quats) > 64:  # directions that change (segments moved end by end): keep a few
                    quats.clear()
                quat = quats[direction] = _z2quat(vec)
        else:
            pos = scalars[pos_at : pos_at + 3]
            quat = fixed_quat
        if not (size[0] if used == 1 else min(size[0], size[1]) if used == 2 else min(size)) > 0:
            raise NotInPlace("a size that is not positive (the compiler refuses it)")
        aabb, rbound = box(size)
        if from_density:
            mass = density * volume_of(size)
            return size, pos, quat, aabb, rbound, mass, inertia_of(size, mass)
        if explicit:
            if volume_of(size) <= _EPS:
                raise NotInPlace("explicit mass on a vanishing volume")
            return size, pos, quat, aabb, rbound, mass_value, inertia_of(size, mass_value)
        return size, pos, quat, aabb, rbound, 0.0, [0.0, 0.0, 0.0]

    return compile_geom


def _bounded(mass: float, inertia: list[float], bounds: tuple[float, float, bool]) -> tuple[float, list[float]]:
    # the compiler's boundmass, boundinertia and balanceinertia on a body's mass and principal inertia
    boundmass, boundinertia, balance = bounds
    if boundmass or boundinertia:  # zero bounds change nothing here: masses are positive, inertias not negative
        mass = max(mass, boundmass)
        inertia = [max(i, boundinertia) for i in inertia]
    if inertia[0] + inertia[1] < inertia[2] or inertia[0] + inertia[2] < inertia[1] or inertia[1] + inertia[2] < inertia[0]:
        if not balance:
            raise NotInPlace("inertia violates A + B >= C (the compiler refuses it)")
        inertia = [(inertia[0] + inertia[1] + inertia[2]) / 3.0] * 3
    return mass, inertia


class InPlaceGeometry:
    """
    Writes length and size edits of primitive geoms, body, site and camera positions into a model, as MuJoCo's compiler would.

    From the spec values of the touched elements (after the edits; :meth:`compile` takes them flat, as
    :meth:`SpecValues.flat` gives them) it computes what compiling them gives: ``geom_size``, ``geom_pos`` /
    ``geom_quat`` (``fromto`` geoms), ``geom_aabb``, ``geom_rbound``; for every body holding a touched geom, its
    mass and inertia from its geoms (at their densities or explicit masses) and its inertial frame ``body_ipos`` /
    ``body_iquat``, and the bounding volumes of its geoms (``bvh_aabb`` and the tree); ``body_pos``, ``site_pos``,
    ``cam_pos``. :meth:`commit` writes them with the masses the caller chooses, and the model statistics the
    compiler computes (``mj_setConst`` leaves them alone); the other derived constants are the caller's
    ``mj_setConst``. :meth:`create` returns the reason instead of a writer for models it cannot reproduce: meshes,
    shell inertia, fluid coefficients, frames, flexes, free-joint alignment, a moved body with a free joint,
    ``settotalmass`` without a fixed scale, and anything whose nominal values it does not reproduce to 1e-12
    (checked on the nominal model). A shape the compiler would refuse or treat specially at run time (a fromto of
    zero length, a geom too light to count) raises :class:`NotInPlace`, and the caller compiles it.

    Per model structure it resolves once where every value lands in the model's buffer (:class:`_FlatLayout`) and
    what the statistics read (which points bound the model, which distances size each body), so a new geometry
    costs the compiler's arithmetic for the touched geoms, two numpy assignments and three MuJoCo calls.

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
        self.values = values
        #: the nominal spec values, flat (:meth:`SpecValues.flat`)
        self.scalars = values.flat()
        self._slots = values.slots()
        self._stat_fixed = stat_fixed
        self._bodies = bodies
        #: the factor on masses inferred from geometry (``settotalmass`` models), else 1
        self.mass_scale = mass_scale
        self._bounds = bounds
        self._group_range = group_range
        self._geom_rows = [g.id for g in geoms]
        self._body_rows = [b.id for b in bodies if b.infer]
        self._position_slots = [self._slots[(kind, name)] for kind, name, _ in positions]
        self._positions = positions
        self._armature = nominal.dof_armature.copy()
        # the masses of the bodies the geometry does not reshape (the world's is 0): as the compiler infers them,
        # and as the nominal model has them (after the settotalmass scale)
        others = [b for b in range(1, nominal.nbody) if b not in self._body_rows]
        self._raw_other_masses = self.raw_nominal()[0][others].tolist()
        self._nominal_other_masses = nominal.body_mass[others].tolist()
        #: the nominal masses of :attr:`body_rows` (what ``keep_mass`` keeps; do not modify)
        self.kept_masses = nominal.body_mass[self._body_rows].tolist()
        self._body_compilers = [self._body_compiler(b) for b in bodies]
        self._setup_layout(nominal, positions)
        self._setup_statistics(nominal, positions)

    def __getstate__(self) -> dict[str, Any]:
        # the compile functions are closures (not picklable): a copy makes its own
        return {key: value for key, value in self.__dict__.items() if key != "_body_compilers"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._body_compilers = [self._body_compiler(b) for b in self._bodies]

    def _setup_layout(self, nominal: mujoco.MjModel, positions: tuple[tuple[str, str, int], ...]) -> None:
        # where the values of compile() and the masses land in the model: the order of Compiled.values
        fields = ("geom_size", "geom_pos", "geom_quat", "geom_aabb", "geom_rbound", "body_ipos", "body_iquat", "bvh_aabb")
        fields += ("body_pos", "site_pos", "cam_pos", "body_mass", "body_inertia", "dof_armature")
        layout = self._layout = _FlatLayout(nominal, fields)
        # body after body (see _body_compiler): its geoms, its inertial frame, its bounding volumes; then positions
        index: list[int] = []
        for b in self._bodies:
            for g in b.geoms:
                for name in fields[:5]:
                    index += layout.indices(name, [g.id])
            if b.infer:
                index += layout.indices("body_ipos", [b.id]) + layout.indices("body_iquat", [b.id])
            if b.bvh >= 0:
                index += layout.indices("bvh_aabb", range(b.bvh, b.bvh + int(nominal.body_bvhnum[b.id])))
        field = {"body": "body_pos", "site": "site_pos", "camera": "cam_pos"}
        for kind, _, element_id in positions:
            index += layout.indices(field[kind], [element_id])
        self._mass_index = [
            i for b in self._body_rows for i in (*layout.indices("body_mass", [b]), *layout.indices("body_inertia", [b]))
        ]
        self._index = index
        # commit's two assignments without a Swap: geometry and the compiler's masses, then the final masses
        self._first = np.array(index + self._mass_index, dtype=np.intp)
        self._final = np.array(self._mass_index, dtype=np.intp)
        # write_values's one assignment: geometry and the final masses
        self._values_index = self._first[: len(index) + len(self._mass_index)]
        self._stat = _StatView(nominal)

    def _setup_statistics(self, nominal: mujoco.MjModel, positions: tuple[tuple[str, str, int], ...]) -> None:
        # What setStat reads, split into what no geometry of this writer changes (computed here once, from the
        # nominal model at qpos0) and what :meth:`_set_statistics` gathers from MjData in one index: the points that
        # bound the model (bodies' frames and centres of mass, joint anchors, sites) and the geoms' centres (bounded
        # with their radii) that can move, what the sizes of the bodies that can change read, then the diagonal of
        # the inertia matrix (compressed rows, the diagonal last in each).
        nbody, njnt = nominal.nbody, nominal.njnt
        parent = nominal.body_parentid.tolist()
        moved = [False] * nbody  # bodies whose frame moves: a moved body and everything below it
        moved_bodies = {element_id for kind, _, element_id in positions if kind == "body"}
        for body in range(1, nbody):  # parents come before their children
            moved[body] = moved[parent[body]] or body in moved_bodies
        moved_sites = {element_id for kind, _, element_id in positions if kind == "site"}
        reshaped_geoms = set(self._geom_rows)
        joint_body = nominal.jnt_bodyid.tolist()
        site_body, geom_body = nominal.site_bodyid.tolist(), nominal.geom_bodyid.tolist()
        moving = {
            "xpos": [b for b in range(1, nbody) if moved[b]],
            "xipos": [b for b in range(1, nbody) if moved[b] or b in self._body_rows],
            "xanchor": [j for j in range(njnt) if moved[joint_body[j]]],
            "site_xpos": [i for i in range(nominal.nsite) if moved[site_body[i]] or i in moved_sites],
            "geom_xpos": [g for g in range(nominal.ngeom) if moved[geom_body[g]] or g in reshaped_geoms],
        }
        # the radius setStat bounds each geom's centre with: its rbound, or a tenth of a plane's size
        radius = nominal.geom_rbound.tolist()
        planes = np.flatnonzero((nominal.geom_rbound <= 0) & (nominal.geom_type == int(mujoco.mjtGeom.mjGEOM_PLANE)))
        for plane in planes.tolist():
            plane_size = max(float(nominal.geom_size[plane, 0]), float(nominal.geom_size[plane, 1]))
            radius[plane] = plane_size * 0.1 if plane_size > 0 else 0.01
        self._radius = radius
        data = mujoco.MjData(nominal)
        mujoco.mj_kinematics(nominal, data)
        self._static_box = self._static_bounds(nominal, data, moving)
        layout = self._data_layout = _FlatLayout(data, ("xpos", "xipos", "xanchor", "site_xpos", "geom_xpos", "M"))
        gather: list[int] = []
        where: dict[tuple[str, int], int] = {}

        def at(field: str, row: int) -> int:
            # the offset of a point in the gathered values, gathering it once
            if (field, row) not in where:
                where[(field, row)] = len(gather)
                gather.extend(layout.indices(field, [row]))
            return where[(field, row)]

        for field in ("xpos", "xipos", "xanchor", "site_xpos"):
            for row in moving[field]:
                at(field, row)
        self._points_end = len(gather)
        # a reshaped geom's radius is the k-th of Compiled.radii, another's its nominal one (k = -1)
        source = {g: k for k, g in enumerate(self._geom_rows)}
        self._moving_geoms = [(at("geom_xpos", g), source.get(g, -1), radius[g]) for g in moving["geom_xpos"]]
        self._set_sizes(nominal, data, moving, at, source)
        # rows of "simple" dofs (a free body's) are copied by mj_crb from dof_M0, a constant of mj_setConst: models
        # with such dofs take the diagonal from mj_setConst instead (the caller's own mj_setConst then replaces the
        # constants it computes)
        self._simple_dofs = bool(nominal.dof_simplenum.any())
        self._diagonal_start = len(gather)
        if not self._simple_dofs:
            gather += layout.indices("M", (nominal.M_rowadr + nominal.M_rownnz - 1).tolist())
        self._gather = np.array(gather, dtype=np.intp)
        self._qpos0 = nominal.qpos0.copy()
        self._nbody, self._nv = nominal.nbody, nominal.nv
        # the builder's mj_setConst leaves its data at qpos_spring: equal to qpos0 unless the MJCF sets springref
        self._reset_qpos = not np.array_equal(nominal.qpos_spring, nominal.qpos0)

    def _static_bounds(self, nominal: mujoco.MjModel, data: mujoco.MjData, moving: dict[str, list[int]]) -> list[float]:
        # low and high corner of the points that no geometry of this writer moves (inf where there are none)
        low, high = [math.inf] * 3, [-math.inf] * 3
        fields = {"xpos": range(1, nominal.nbody), "xipos": range(1, nominal.nbody)}
        fields.update(xanchor=range(nominal.njnt), site_xpos=range(nominal.nsite), geom_xpos=range(nominal.ngeom))
        for field, rows in fields.items():
            values = getattr(data, field)
            for row in sorted(set(rows) - set(moving[field])):
                r = self._radius[row] if field == "geom_xpos" else 0.0
                for axis in range(3):
                    low[axis] = min(low[axis], float(values[row, axis]) - r)
                    high[axis] = max(high[axis], float(values[row, axis]) + r)
        return low + high

    def _set_sizes(
        self,
        nominal: mujoco.MjModel,
        data: mujoco.MjData,
        moving: dict[str, list[int]],
        at: Callable[[str, int], int],
        source: dict[int, int],
    ) -> None:
        # each body's size: the largest distance from its centre of mass to its and its children's joints, and to
        # the far side of its geoms (the world's size is never used). Bodies none of whose points move keep their
        # nominal size; the others get (body, offset of its centre of mass, offset of the joint anchor) for its
        # joints and (body, k, radius, offset of its centre of mass, offset of the geom) for its geoms, offsets into
        # the gathered values, k and radius as in _moving_geoms.
        joint_body = nominal.jnt_bodyid.tolist()
        parents = nominal.body_parentid[nominal.jnt_bodyid].tolist()
        joints = [(body, j) for j, body in (*enumerate(joint_body), *enumerate(parents)) if body > 0]
        geoms = [(int(nominal.geom_bodyid[g]), g) for g in np.flatnonzero(nominal.geom_rbound > 0).tolist()]
        geoms = [(body, g) for body, g in geoms if body > 0]
        xipos, anchor, gxpos = (set(moving[field]) for field in ("xipos", "xanchor", "geom_xpos"))
        changing = {b for b, j in joints if b in xipos or j in anchor} | {b for b, g in geoms if b in xipos or g in gxpos}
        size = [0.0] * nominal.nbody
        for body, j in joints:
            size[body] = max(size[body], math.dist(data.xipos[body].tolist(), data.xanchor[j].tolist()))
        for body, g in geoms:
            size[body] = max(size[body], self._radius[g] + math.dist(data.xipos[body].tolist(), data.geom_xpos[g].tolist()))
        for body in changing:
            size[body] = 0.0
        self._sizes = size
        self._joint_pairs = [(body, at("xipos", body), at("xanchor", j)) for body, j in joints if body in changing]
        self._geom_pairs = [
            (body, source.get(g, -1), self._radius[g], at("xipos", body), at("geom_xpos", g))
            for body, g in geoms
            if body in changing
        ]

    def resolved(self) -> Resolved:
        """:return: what the writer resolved once for its model structure, for its vectorised twin (``batch_geometry``)."""
        raw_masses, raw_inertias = self.raw_nominal()
        return Resolved(
            nominal=self.nominal,
            bodies=self._bodies,
            slots=self._slots,
            positions=tuple((kind, element_id, self._slots[(kind, name)]) for kind, name, element_id in self._positions),
            bounds=self._bounds,
            raw_masses=raw_masses,
            raw_inertias=raw_inertias,
            armature=self._armature.copy(),
            stat_fixed=self._stat_fixed,
            simple_dofs=self._simple_dofs,
            data_layout=self._data_layout,
            gather=self._gather[: self._diagonal_start],
            points_end=self._points_end,
            moving_geoms=tuple(self._moving_geoms),
            static_box=tuple(self._static_box),
            sizes=tuple(self._sizes),
            joint_pairs=tuple(self._joint_pairs),
            geom_pairs=tuple(self._geom_pairs),
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
                if kind == "body" and any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in element.joints):
                    # its position is also its free joint's qpos0, which the writer does not set
                    raise NotInPlace(f"body {name!r} has a free joint")
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
        geometry = self.compile(self.scalars)
        final = self.scaled(geometry.masses)
        # the compiler computes the statistics after its settotalmass scale (a rebuild with edits compiles unscaled)
        self.commit(model, mujoco.MjData(model), geometry, final, scale_statistics=True)
        for name in self._STATS:
            if not np.allclose(getattr(model.stat, name), getattr(self.nominal.stat, name), rtol=1e-12, atol=1e-12):
                raise NotInPlace(f"stat.{name} at nominal geometry differs from the compiled model")
        for name in (*self._FIELDS, "body_mass", "body_inertia"):
            if not np.allclose(getattr(model, name), getattr(self.nominal, name), rtol=0, atol=1e-12):
                raise NotInPlace(f"{name} at nominal geometry differs from the compiled model")

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
        Copy the nominal values of every field :meth:`commit` writes, but the masses, back into ``model``.

        :return: the nominal body masses and inertias (new arrays)
        """
        nominal = self.nominal
        for name in self._FIELDS:
            getattr(model, name)[:] = getattr(nominal, name)
        for name in self._STATS[:4]:
            setattr(model.stat, name, getattr(nominal.stat, name))
        model.stat.center[:] = nominal.stat.center
        return nominal.body_mass.copy(), nominal.body_inertia.copy()

    def slot(self, kind: str, name: str, field: str) -> int:
        """:return: where the spec value ``field`` of element ``name`` of ``kind`` starts in :attr:`scalars`."""
        return self._slots[(kind, name)] + _SPEC_FIELDS[kind][0][field]

    @property
    def body_rows(self) -> list[int]:
        """The bodies whose mass and inertia follow the geometry, in the order of :meth:`compile` (do not modify it)."""
        return self._body_rows

    def compile(self, scalars: list[float]) -> Compiled:
        """
        The compiled geometry of spec values, without writing it.

        :param scalars: the spec values of the touched elements after the edits, flat (as :attr:`scalars`)
        :return: the model values, and the masses and inertias the compiler infers for :attr:`body_rows`
        :raises NotInPlace: a degenerate shape the compiler would treat otherwise (a geom too light to count)
        """
        compiled = Compiled([], [], [], [])
        for compile_body in self._body_compilers:
            compile_body(scalars, compiled)
        values = compiled.values
        for slot in self._position_slots:
            values += scalars[slot : slot + 3]
        return compiled

    def _body_compiler(self, b: _BodyInfo) -> Callable[[list[float], Compiled], None]:
        """
        What compiling one reshaped body gives (its geoms, its mass, inertia and inertial frame, its bounding
        volumes), appended to a :class:`Compiled` in the order of the writer's layout: a function of the spec values.
        """
        geoms = [(g.id, _geom_compiler(g, self._slots[g.key])) for g in b.geoms]
        bounds = self._bounds
        framed = b.bvh < 0 or (b.geoms[0].collides and int(self.nominal.body_bvhnum[b.id]) == 1)
        if len(b.geoms) == 1 and b.infer and b.geoms[0].infer and framed:
            # one geom, which defines the body's inertia: the body's inertial frame is the geom's, and so is its
            # bounding volume if it collides (as _body_inertia and _bvh find, without their general machinery)
            compile_geom = geoms[0][1]
            has_node = b.bvh >= 0

            def compile_single(scalars: list[float], out: Compiled) -> None:
                size, pos, quat, aabb, rbound, mass, inertia = compile_geom(scalars)
                if not mass > _EPS:
                    raise NotInPlace("no geom heavy enough to define the body's inertia")
                values = out.values
                values += size
                values += pos
                values += quat
                values += aabb
                values.append(rbound)
                out.radii.append(rbound)
                mass, inertia = _bounded(mass, inertia, bounds)
                out.masses.append(mass)
                out.masses.extend(inertia)
                values += pos
                values += quat
                if has_node:  # its box, inflated along sides thinner than mjEPS
                    if min(aabb[3], aabb[4], aabb[5]) * 2 >= _EPS:
                        values += aabb
                    else:
                        values += [*aabb[:3], *(h if h + h >= _EPS else h + _EPS for h in aabb[3:])]

            return compile_single

        def compile_body(scalars: list[float], out: Compiled) -> None:
            compiled = {}
            values = out.values
            for gid, compile_geom in geoms:
                size, pos, quat, aabb, rbound, mass, inertia = compile_geom(scalars)
                compiled[gid] = (pos, quat, aabb, inertia, mass, size)
                values += size
                values += pos
                values += quat
                values += aabb
                values.append(rbound)
                out.radii.append(rbound)
            if b.infer:
                mass, inertia, ipos, iquat = self._body_inertia(b, compiled)
                out.masses.append(mass)
                out.masses.extend(inertia)
                values += ipos
                values += iquat
            else:
                ipos, iquat = b.ipos, b.iquat
            if b.bvh >= 0:
                nodes, child, nodeid, depth = self._bvh(b, compiled, ipos, iquat)
                for node in nodes:
                    values += node
                if len(nodes) > 1:
                    out.topology.append((b.bvh, child, nodeid, depth))

        return compile_body

    def commit(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        geometry: Compiled,
        final: list[float],
        others: Swap | None = None,
        scale_statistics: bool = False,
    ) -> None:
        """
        Write ``geometry`` into ``model``, the statistics the compiler computes for it, and the reshaped bodies' masses.

        While the statistics are computed the model holds the compiler's masses (those of ``geometry`` and
        ``others.raw``); then the final ones (``final``, ``others.final``). The caller runs ``mj_setConst`` next.

        :param model: a model of the nominal one's structure, written before by this writer or a copy of the nominal
        :param data: scratch data of that structure, at ``qpos0`` or as ``mj_setConst`` left it (its state is
            overwritten)
        :param geometry: what :meth:`compile` returned
        :param final: the final mass and principal inertias of each body of :attr:`body_rows`, one after the other
        :param others: values besides the reshaped bodies' in which the compiler's model differs from the final one
            (:meth:`swap`), or ``None`` where they are equal
        :param scale_statistics: compute the statistics with the ``settotalmass`` scale (the nominal model's)
        """
        view = self._layout.view(model)
        raw = self.scaled(geometry.masses) if scale_statistics else geometry.masses
        first_index, final_index = self._first, self._final
        values = geometry.values + raw
        final_values = final
        if others is not None:
            first_index, final_index = others.first_index, others.final_index
            values += others.raw
            final_values = final + others.final
        view[first_index] = _doubles(values)
        for start, child, nodeid, depth in geometry.topology:
            end = start + len(child)
            model.bvh_child[start:end] = child
            model.bvh_nodeid[start:end] = nodeid
            model.bvh_depth[start:end] = depth
        # fsum rounds the exact sum: the order of the bodies does not matter
        others_masses = self._nominal_other_masses if scale_statistics else self._raw_other_masses
        self._set_statistics(model, data, geometry.radii, math.fsum(others_masses + raw[0::4]))
        if final_values != values[len(geometry.values) :]:  # keep_mass, parameter edits: the final masses differ
            view[final_index] = _doubles(final_values)

    def write_values(self, model: mujoco.MjModel, values: np.ndarray, stat: np.ndarray, geometry_only: bool = False) -> None:
        """
        Write a geometry computed ahead (:class:`~robust_envs.batch_geometry.BatchGeometry`) into ``model``.

        :param model: a model that holds every other value of its final state (the other parameters' edits), or
            whose masses the caller edits next (``geometry_only``)
        :param values: :attr:`Compiled.values`, then the final mass and principal inertias of each body of
            :attr:`body_rows`, one after the other
        :param stat: ``model.stat`` (meaninertia, meanmass, meansize, extent, center)
        :param geometry_only: write :attr:`Compiled.values` only, not the masses
        """
        if geometry_only:
            index = self._values_index[: len(self._index)]
            self._layout.view(model)[index] = values[: len(index)]
        else:
            self._layout.view(model)[self._values_index] = values
        self._stat.view(model)[:] = stat

    def swap(self, masses: np.ndarray, inertias: np.ndarray, armature: np.ndarray) -> Swap | None:
        """
        What :meth:`commit` swaps besides the reshaped bodies, for a final model with these masses and armatures.

        :param masses: every body's final mass (those of :attr:`body_rows` are not read)
        :param inertias: every body's final inertia
        :param armature: every dof's final armature
        :return: where the compiler's model (other bodies at their masses inferred at nominal geometry, the nominal
            armature) differs from the final one, or ``None``
        """
        layout = self._layout
        raw_masses, raw_inertias = self.raw_nominal()
        reshaped = set(self._body_rows)
        index: list[int] = []
        raw: list[float] = []
        final: list[float] = []
        for body in range(self.nominal.nbody):
            if body in reshaped or (masses[body] == raw_masses[body] and np.array_equal(inertias[body], raw_inertias[body])):
                continue
            index += layout.indices("body_mass", [body]) + layout.indices("body_inertia", [body])
            raw += [float(raw_masses[body]), *raw_inertias[body].tolist()]
            final += [float(masses[body]), *inertias[body].tolist()]
        dofs = np.flatnonzero(armature != self._armature).tolist()
        if dofs:
            index += layout.indices("dof_armature", dofs)
            raw += self._armature[dofs].tolist()
            final += armature[dofs].tolist()
        if not index:
            return None
        return Swap(
            np.array(self._index + self._mass_index + index, dtype=np.intp),
            np.array(self._mass_index + index, dtype=np.intp),
            raw,
            final,
        )

    def scaled(self, masses: list[float]) -> list[float]:
        """:return: inferred masses and inertias (as :attr:`Compiled.masses`) with the ``settotalmass`` scale of a rebuild."""
        scale = self.mass_scale
        if scale == 1.0:
            return masses
        return [value * scale for value in masses]

    def raw_nominal(self) -> tuple[np.ndarray, np.ndarray]:
        """:return: new arrays of the nominal body masses and inertias before the ``settotalmass`` scale."""
        scale = self.mass_scale
        if scale == 1.0:
            return self.nominal.body_mass.copy(), self.nominal.body_inertia.copy()
        return self.nominal.body_mass / scale, self.nominal.body_inertia / scale

    def _set_statistics(self, model: mujoco.MjModel, data: mujoco.MjData, radii: list[float], total_mass: float) -> None:
        """
        Set ``model.stat`` as the compiler computes it (``setStat`` of MuJoCo 3's ``engine_setconst.c``).

        The compiler computes the statistics once, from the masses it infers and the nominal armature; ``mj_setConst``
        leaves them alone, so later mass edits do not change them (as in a model compiled through MjSpec and
        edited). Values the MJCF's ``<statistic>`` sets stay. Overwrites ``data``.

        :param model: a model holding the compiler's geometry, masses and armature
        :param data: scratch data of that model, at ``qpos0`` or as ``mj_setConst`` left it
        :param radii: the bounding radii of the reshaped bodies' geoms (:attr:`Compiled.radii`)
        :param total_mass: the total mass in the compiler's model
        """
        if self._simple_dofs:
            mujoco.mj_setConst(model, data)
            diagonal = model.dof_M0.tolist()
        if self._reset_qpos:  # mj_setConst leaves data at qpos_spring, here not qpos0
            data.qpos[:] = self._qpos0
        mujoco.mj_kinematics(model, data)
        if not self._simple_dofs:
            mujoco.mj_comPos(model, data)
            mujoco.mj_crb(model, data)
        # plain Python on lists from one gather: these models are small, and numpy's per-call cost would dominate
        values = self._data_layout.view(data)[self._gather].tolist()
        if not self._simple_dofs:
            diagonal = values[self._diagonal_start :]
        lx, ly, lz, hx, hy, hz = self._bounding_box(values, radii)
        stat = self._stat.view(model)
        new = stat.tolist()  # meaninertia, meanmass, meansize, extent, center
        fixed = self._stat_fixed
        if not fixed[4]:
            new[4:] = [(lx + hx) * 0.5, (ly + hy) * 0.5, (lz + hz) * 0.5]
        extent = new[3]
        if hx > lx:
            extent = max(1e-5, max(hx - lx, max(hy - ly, hz - lz)))
        nbody, nv = self._nbody, self._nv  # the model's, read once (a property of the bindings each time)
        meansize = new[2]
        if nbody > 1:
            meansize = 0.0
            for body_size in self._body_sizes(values, radii)[1:]:
                meansize += max(body_size, 1e-5) / (nbody - 1)
            if not fixed[3]:
                new[2] = meansize
        if not fixed[0]:
            new[3] = max(extent, 2 * meansize)
        if nbody > 1 and not fixed[2]:
            new[1] = total_mass / (nbody - 1)
        if nv and not fixed[1]:
            new[0] = math.fsum(diagonal) / nv
        stat[:] = new

    def _bounding_box(self, values: list[float], radii: list[float]) -> tuple[float, float, float, float, float, float]:
        # low and high corner of the points (and geoms, with their radii) that bound the model: the unmoving ones'
        # from the nominal model, with the gathered ones'; comparisons written out, a fraction of min() over lists
        points = values[: self._points_end]
        for i, k, r in self._moving_geoms:  # a geom's box corners
            if k >= 0:
                r = radii[k]
            x, y, z = values[i : i + 3]
            points += (x - r, y - r, z - r, x + r, y + r, z + r)
        lx, ly, lz, hx, hy, hz = self._static_box
        for i in range(0, len(points), 3):
            x, y, z = points[i : i + 3]
            if x < lx:
                lx = x
            if x > hx:
                hx = x
            if y < ly:
                ly = y
            if y > hy:
                hy = y
            if z < lz:
                lz = z
            if z > hz:
                hz = z
        return lx, ly, lz, hx, hy, hz

    def _body_sizes(self, values: list[float], radii: list[float]) -> list[float]:
        # every body's size (see _set_sizes): the unchanging ones nominal, the others from the gathered points
        size = self._sizes.copy()
        dist = math.dist
        for body, a, b in self._joint_pairs:
            distance = dist(values[a : a + 3], values[b : b + 3])
            if distance > size[body]:
                size[body] = distance
        for body, k, r, a, b in self._geom_pairs:
            distance = (radii[k] if k >= 0 else r) + dist(values[a : a + 3], values[b : b + 3])
            if distance > size[body]:
                size[body] = distance
        return size

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
        mass, inertia = _bounded(mass, inertia, self._bounds)
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
