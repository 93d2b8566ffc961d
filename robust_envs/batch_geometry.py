"""
Many geometries compiled at once: the vectorised twin of :class:`~robust_envs.inplace_geometry.InPlaceGeometry`.

Domain randomisation draws its settings ahead of the resets that use them (a batch at a time, from the same stream),
so the model values of a whole batch of geometries can be computed in numpy, one array operation per formula for
all of them, instead of one Python float at a time per reset. A reset then writes precomputed values: one numpy
assignment, the statistics, ``mj_setConst``.

:class:`BatchGeometry` covers the common case, each reshaped body one primitive geom that defines its inertia
(capsule, box, sphere, cylinder, ellipsoid), hinge and slide joints only: it computes what
:meth:`InPlaceGeometry.compile` and :meth:`InPlaceGeometry.commit`'s statistics compute, for each row of a matrix of
spec values, with the same formulas (the compiler's, ``user_objects.cc``; the statistics of ``setStat``, the points
from a walk of the kinematic tree at ``qpos0`` and the inertia matrix's trace from each body's mass, centre and
inertia about each joint axis, the sum of ``mj_crb``'s diagonal). The geometry's values come out as the scalar
writer's (the same operations in the same order); the statistics may differ in the last bits (numpy sums in another
order). The tests hold both paths to the MjSpec rebuild at 1e-12, and to each other. Rows the scalar writer would
refuse or treat otherwise (a degenerate shape) come out marked, and go the scalar way. Other models get no twin
(:meth:`create` says why).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import mujoco
import numpy as np

from robust_envs.inplace_geometry import (
    _BOX,
    _CYLINDER,
    _ELLIPSOID,
    _EPS,
    _FROMTO,
    _POS,
    _SHAPES,
    _SIZE,
    InPlaceGeometry,
    Resolved,
)

_HINGE, _SLIDE = int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)


class BatchCompiled(NamedTuple):
    """
    What :meth:`BatchGeometry.compile` computes for a batch of geometries, a row each.

    :param values: the model values of each geometry, as :attr:`~robust_envs.inplace_geometry.Compiled.values`
    :param masses: the compiler's masses and principal inertias of the reshaped bodies, as
        :attr:`~robust_envs.inplace_geometry.Compiled.masses` (before any ``settotalmass`` scale)
    :param stat: ``model.stat`` of each geometry (meaninertia, meanmass, meansize, extent, center)
    :param ok: the rows computed here; the others are shapes the scalar writer handles (or refuses)
    """

    values: np.ndarray
    masses: np.ndarray
    stat: np.ndarray
    ok: np.ndarray


# ---- vectorised mjuu_* helpers: each argument an (..., k) array --------------------------------------------------
def _quat2mat(quat: np.ndarray) -> np.ndarray:
    # mju_quat2Mat on rows: (..., 3, 3), the columns the rotated axes
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    rows = (
        (w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z),
    )
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def _normalised(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # mjuu_normvec on rows: (the vectors, normalised unless within mjEPS of unit length; their norms, 0 when tiny)
    squared = vec[:, 0] * vec[:, 0] + vec[:, 1] * vec[:, 1] + vec[:, 2] * vec[:, 2]
    norm = np.where(squared < _EPS, 0.0, np.sqrt(squared))
    scale = (squared >= _EPS) & (np.abs(norm - 1) > _EPS)
    return np.where(scale[:, None], vec / np.where(scale, norm, 1.0)[:, None], vec), norm


def _z2quat(vec: np.ndarray) -> np.ndarray:
    # mjuu_z2quat on rows: the rotation taking the z axis to each vector. Its trigonometry as the compiler's (the
    # half-angle formulas would save a little time, but move the orientation by an ulp, which 100 steps of an
    # unstable pendulum grow past 1e-12)
    axis = np.stack(
        (0.0 * vec[:, 2] - 1.0 * vec[:, 1], 1.0 * vec[:, 0] - 0.0 * vec[:, 2], 0.0 * vec[:, 1] - 0.0 * vec[:, 0]), 1
    )
    axis, s = _normalised(axis)
    axis = np.where((s < 1e-10)[:, None], np.array([1.0, 0.0, 0.0]), axis)
    angle = np.arctan2(s, vec[:, 2])
    sin = np.sin(angle / 2)
    return np.column_stack((np.cos(angle / 2), axis * sin[:, None]))


def _box(kind: int, size: list[np.ndarray]) -> tuple[list[np.ndarray | float], np.ndarray]:
    # the centred box and bounding radius of each shape (the scalar writer's _SHAPES, with numpy's sqrt and max)
    if kind == _CYLINDER:
        return [0.0, 0.0, 0.0, size[0], size[0], size[1]], np.sqrt(size[0] * size[0] + size[1] * size[1])
    if kind == _ELLIPSOID:
        return [0.0, 0.0, 0.0, *size], np.maximum(np.maximum(size[0], size[1]), size[2])
    if kind == _BOX:
        return [0.0, 0.0, 0.0, *size], np.sqrt(size[0] * size[0] + size[1] * size[1] + size[2] * size[2])
    return _SHAPES[kind].box(size)  # type: ignore[arg-type,return-value]  # sphere, capsule: arithmetic only


class BatchGeometry:
    """
    Compiles many geometries of one :class:`~robust_envs.inplace_geometry.InPlaceGeometry` at once (see the module).

    :param resolved: what the writer resolved for its model structure
    """

    def __init__(self, resolved: Resolved) -> None:
        self._r = resolved
        nominal = resolved.nominal
        nbody = self._nbody = nominal.nbody
        self._nv = nominal.nv
        parent = nominal.body_parentid.tolist()
        # The kinematic tree at qpos0, where every joint is at its reference: each frame is its parent's times its
        # own. Geometry edits move frames but never turn one, so every orientation is the nominal model's, and a
        # moved point is a constant rotation of an offset away from its body's origin.
        data = mujoco.MjData(nominal)
        mujoco.mj_kinematics(nominal, data)
        self._xpos0 = data.xpos.copy()
        self._xmat = data.xmat.reshape(nbody, 3, 3).copy()
        moved = {element_id: slot for kind, element_id, slot in resolved.positions if kind == "body"}
        frames_move = [False] * nbody
        self._walk: list[tuple[int, int, int | None]] = []  # (body, parent, slot of its moved position)
        for body in range(1, nbody):  # parents come before their children
            if frames_move[parent[body]] or body in moved:
                frames_move[body] = True
                self._walk.append((body, parent[body], moved.get(body)))
        self._body_pos = nominal.body_pos.copy()
        # offsets from each body's origin, in the world's axes: centres of mass, joint anchors, geom and site centres
        rotate = self._xmat
        self._ipos_offset = np.einsum("bij,bj->bi", rotate, nominal.body_ipos)
        self._anchor_offset = data.xanchor - data.xpos[nominal.jnt_bodyid]
        self._geom_body = nominal.geom_bodyid.copy()
        self._geom_offset = data.geom_xpos - data.xpos[self._geom_body]
        self._site_body = nominal.site_bodyid.copy()
        self._site_offset = data.site_xpos - data.xpos[self._site_body]
        self._moved_sites = [(element_id, slot) for kind, element_id, slot in resolved.positions if kind == "site"]
        # the gathered points of the statistics: where each position of resolved.gather lies in _points' columns
        layout = resolved.data_layout
        counts = {"xpos": nbody, "xipos": nbody, "xanchor": nominal.njnt}
        counts.update(site_xpos=nominal.nsite, geom_xpos=nominal.ngeom)
        where: dict[int, int] = {}
        start = 0
        for field, count in counts.items():
            for flat, position in enumerate(layout.indices(field, range(count))):
                where[position] = start + flat
            start += 3 * count
        self._gathered = np.array([where[p] for p in resolved.gather.tolist()], dtype=np.intp)
        # the inertia matrix's diagonal summed over dofs (only its trace enters the statistics): one term per pair
        # of a dof and a body of the joint's subtree; each body's inertia about its centre, in the world's axes
        subtree: list[list[int]] = [[b] for b in range(nbody)]
        for body in range(nbody - 1, 0, -1):  # children come after their parents
            subtree[parent[body]] += subtree[body]
        pair_body, pair_joint, hinge = [], [], []
        for dof in range(nominal.nv):
            joint = int(nominal.dof_jntid[dof])
            for body in subtree[int(nominal.jnt_bodyid[joint])]:
                if body > 0:
                    pair_body.append(body)
                    pair_joint.append(joint)
                    hinge.append(int(nominal.jnt_type[joint]) == _HINGE)
        self._pair_body = np.array(pair_body, dtype=np.intp)
        self._pair_joint = np.array(pair_joint, dtype=np.intp)
        self._pair_hinge = np.array(hinge, dtype=bool)
        axes = np.einsum("jik,jk->ji", rotate[nominal.jnt_bodyid], nominal.jnt_axis)
        self._pair_axis = axes[self._pair_joint] * self._pair_hinge[:, None]  # 0 for a slide: no rotational term
        principal = np.einsum("bij,bjk->bik", rotate, _quat2mat(nominal.body_iquat))
        world_inertia = np.einsum("bij,bj,bkj->bik", principal, resolved.raw_inertias, principal)
        self._armature_sum = float(resolved.armature.sum())
        # the distances that size a body, grouped by body: (from, to) columns and radii (0 for a joint anchor)
        pairs = sorted(
            [(body, a, b, (-1, 0.0)) for body, a, b in resolved.joint_pairs]
            + [(body, a, b, (k, radius)) for body, k, radius, a, b in resolved.geom_pairs],
            key=lambda pair: pair[0],
        )
        self._size_from = np.array([[a, a + 1, a + 2] for _, a, _, _ in pairs], dtype=np.intp).reshape(-1, 3)
        self._size_to = np.array([[b, b + 1, b + 2] for _, _, b, _ in pairs], dtype=np.intp).reshape(-1, 3)
        self._size_radius = [radius for _, _, _, radius in pairs]
        owners = [body for body, _, _, _ in pairs]
        self._size_groups = np.array([i for i in range(len(owners)) if i == 0 or owners[i] != owners[i - 1]], dtype=np.intp)
        self._size_owners = np.array([owners[i] for i in self._size_groups.tolist()], dtype=np.intp)
        # the principal axes, in the world's, of reshaped bodies whose geom keeps its orientation
        self._fixed_axes = {
            b.id: rotate[b.id] @ _quat2mat(np.array(b.geoms[0].quat)) for b in resolved.bodies if not b.geoms[0].fromto
        }
        # a' I a of each pair of a hinge and a body no geometry reshapes (constant); the others' pairs (hinge,
        # reshaped body) are computed for each row
        reshaped = {b.id for b in resolved.bodies}
        turning = np.einsum("pij,pi,pj->p", world_inertia[self._pair_body], self._pair_axis, self._pair_axis)
        varying = np.array([b in reshaped for b in pair_body], dtype=bool) & self._pair_hinge
        self._pair_turning = np.where(varying, 0.0, turning)
        axis = self._pair_axis
        self._varying = [(pair_body[p], axis[p, :, None] * axis[p, None, :]) for p in np.flatnonzero(varying).tolist()]
        # the columns of Compiled.values: per body its geom (size, pos, quat, aabb, rbound), its inertial frame and
        # its bounding box (with a bounding volume), then the moved positions
        self._width = sum(24 + (6 if b.bvh >= 0 else 0) for b in resolved.bodies) + 3 * len(resolved.positions)

    @classmethod
    def create(cls, writer: InPlaceGeometry) -> BatchGeometry | str:
        """:return: the writer's vectorised twin, or why its models need the scalar writer."""
        resolved = writer.resolved()
        nominal = resolved.nominal
        if resolved.simple_dofs:
            return "simple dofs (their inertia comes from mj_setConst)"
        kinds = set(nominal.jnt_type.tolist())
        if not kinds <= {_HINGE, _SLIDE}:
            return "joints other than hinges and slides"
        for b in resolved.bodies:
            geom = b.geoms[0]
            framed = b.bvh < 0 or (geom.collides and int(nominal.body_bvhnum[b.id]) == 1)
            if len(b.geoms) != 1 or not b.infer or not geom.infer or not framed:
                return f"body {b.id} is not one geom that defines its inertia"
        return cls(resolved)

    # ---- compiling ------------------------------------------------------------------------------------------
    def compile(self, scalars: np.ndarray) -> BatchCompiled:
        """
        :param scalars: (B, S) flat spec values, a row per geometry (as :attr:`InPlaceGeometry.scalars`)
        :return: the model values, masses and statistics of each row
        """
        r = self._r
        batch = scalars.shape[0]
        ok = np.ones(batch, dtype=bool)
        values = np.empty((batch, self._width))
        masses = np.empty((batch, 4 * len(r.bodies)))
        radii: list[np.ndarray] = []
        frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # body -> (ipos, mass, world inertia)
        col = 0
        for k, b in enumerate(r.bodies):
            size, pos, quat, box, rbound, mass, inertia, unit = self._compile_geom(b.geoms[0], scalars, ok)
            mass, inertia = self._bounded(mass, inertia, ok)
            # the layout of Compiled.values: size, pos, quat, aabb, rbound, then the inertial frame (the geom's)
            for part in (size, pos, quat, box, rbound[:, None], pos, quat):
                width = part.shape[1]
                values[:, col : col + width] = part
                col += width
            if b.bvh >= 0:  # its box, inflated along sides thinner than mjEPS
                half = box[:, 3:]
                values[:, col : col + 3] = box[:, :3]
                values[:, col + 3 : col + 6] = np.where(half + half >= _EPS, half, half + _EPS)
                col += 6
            radii.append(rbound)
            masses[:, 4 * k] = mass
            masses[:, 4 * k + 1 : 4 * k + 4] = inertia
            frames[b.id] = (pos, mass, self._inertia_in_world(b, quat, unit, inertia))
        for _, _, slot in r.positions:
            values[:, col : col + 3] = scalars[:, slot : slot + 3]
            col += 3
        stat = self._statistics(scalars, frames, radii)
        return BatchCompiled(values, masses, stat, ok & np.isfinite(stat).all(axis=1))

    def _inertia_in_world(self, b, quat: np.ndarray, unit: np.ndarray | None, inertia: np.ndarray) -> np.ndarray:
        """:return: the body's inertia about its centre of mass in the world's axes at qpos0, (B, 3, 3)."""
        rotate = self._xmat[b.id]
        kind = b.geoms[0].kind
        if unit is None:  # the geom keeps its orientation: its principal axes are the nominal model's
            axes = self._fixed_axes[b.id]
            # sum_k I_k e_k e_k' as one matrix product: (B * 3, 3) rows e_i' diag(I), times the axes' transpose
            return ((axes[None] * inertia[:, None, :]).reshape(-1, 3) @ axes.T).reshape(-1, 3, 3)
        if kind not in (_ELLIPSOID, _BOX):
            # a solid of revolution about the segment (inertias equal across it): I = Ixy Id + (Iz - Ixy) d d'
            along = unit @ rotate.T
            across = inertia[:, 0]
            return (
                across[:, None, None] * np.eye(3) + ((inertia[:, 2] - across)[:, None] * along)[:, :, None] * along[:, None, :]
            )
        axes = rotate @ _quat2mat(quat)  # (B, 3, 3): columns the principal axes
        weighted = axes * inertia[:, None, :]
        # sum_k I_k e_k e_k' written out: numpy's matmul of many 3x3 matrices is a loop of small products
        return (weighted[:, :, None, :] * axes[:, None, :, :]).sum(axis=3)

    def _compile_geom(
        self, g, scalars: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """
        ``mjCGeom::Compile`` of one primitive geom on every row (as the scalar writer's ``_geom_compiler``); rows the
        compiler would refuse or treat otherwise are cleared in ``ok``.

        :return: size, pos, quat, aabb, rbound, mass, inertia, and the unit direction of a ``fromto`` segment
        """
        batch = scalars.shape[0]
        slot = self._r.slots[g.key]
        kind = g.kind
        _, volume_of, inertia_of, used = _SHAPES[kind]
        size = scalars[:, slot + _SIZE : slot + _SIZE + 3].copy()
        unit = None
        if g.fromto:
            ends = scalars[:, slot + _FROMTO : slot + _FROMTO + 6]
            segment = ends[:, :3] - ends[:, 3:]
            direction, norm = _normalised(segment)
            unit = segment / np.where(norm > 0, norm, 1.0)[:, None]
            size[:, 1] = norm / 2
            ok &= size[:, 1] >= _EPS
            if kind in (_ELLIPSOID, _BOX):
                size[:, 2] = size[:, 1]
                size[:, 1] = size[:, 0]
            pos = (ends[:, :3] + ends[:, 3:]) / 2
            quat = _z2quat(direction)
        else:
            pos = scalars[:, slot + _POS : slot + _POS + 3]
            quat = np.repeat(np.array([g.quat]), batch, axis=0)
        for k in range(used):
            ok &= size[:, k] > 0
        parts = [size[:, 0], size[:, 1], size[:, 2]]
        half, rbound = _box(kind, parts)
        box = np.zeros((batch, 6))
        box[:, 3], box[:, 4], box[:, 5] = half[3], half[4], half[5]  # centred: the centre is 0
        if math.isnan(g.mass):  # from its density
            mass = g.density * volume_of(parts)
        elif g.mass != 0:  # an explicit mass
            mass = np.full(batch, g.mass)
            ok &= volume_of(parts) > _EPS
        else:  # mass="0": the geom adds nothing (and its body's inertia is undefined: the scalar writer refuses it)
            mass = np.zeros(batch)
        ok &= mass > _EPS
        inertia = np.empty((batch, 3))
        inertia[:, 0], inertia[:, 1], inertia[:, 2] = inertia_of(parts, mass)
        return size, pos, quat, box, np.asarray(rbound, dtype=np.float64), mass, inertia, unit

    def _bounded(self, mass: np.ndarray, inertia: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the compiler's boundmass, boundinertia and balanceinertia (the scalar writer's _bounded), on rows
        boundmass, boundinertia, balance = self._r.bounds
        if boundmass or boundinertia:
            mass = np.maximum(mass, boundmass)
            inertia = np.maximum(inertia, boundinertia)
        a, b, c = inertia[:, 0], inertia[:, 1], inertia[:, 2]
        bad = (a + b < c) | (a + c < b) | (b + c < a)
        if bad.any():
            if not balance:
                ok &= ~bad
            else:
                mean = (a + b + c) / 3.0
                inertia = np.where(bad[:, None], mean[:, None], inertia)
        return mass, inertia

    # ---- statistics -------------------------------------------------------------------------------------------
    def _statistics(
        self,
        scalars: np.ndarray,
        frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
        radii: list[np.ndarray],
    ) -> np.ndarray:
        """``setStat`` of ``engine_setconst.c`` on every row (the scalar writer's ``_set_statistics``): (B, 7)."""
        r = self._r
        nominal = r.nominal
        batch = scalars.shape[0]
        nbody = self._nbody
        rotate = self._xmat
        xpos = np.repeat(self._xpos0[None], batch, axis=0)
        for body, parent, slot in self._walk:
            pos = scalars[:, slot : slot + 3] if slot is not None else self._body_pos[body]
            xpos[:, body] = xpos[:, parent] + pos @ rotate[parent].T
        ipos_offset = np.repeat(self._ipos_offset[None], batch, axis=0)
        geom_offset = np.repeat(self._geom_offset[None], batch, axis=0)
        mass = np.repeat(r.raw_masses[None], batch, axis=0)
        for b in r.bodies:
            pos, mass[:, b.id], _ = frames[b.id]
            ipos_offset[:, b.id] = geom_offset[:, b.geoms[0].id] = pos @ rotate[b.id].T
        site_offset = np.repeat(self._site_offset[None], batch, axis=0)
        for site, slot in self._moved_sites:
            site_offset[:, site] = scalars[:, slot : slot + 3] @ rotate[self._site_body[site]].T
        xipos = xpos + ipos_offset
        xanchor = xpos[:, nominal.jnt_bodyid] + self._anchor_offset
        points = np.concatenate(
            (
                xpos.reshape(batch, -1),
                xipos.reshape(batch, -1),
                xanchor.reshape(batch, -1),
                (xpos[:, self._site_body] + site_offset).reshape(batch, -1),
                (xpos[:, self._geom_body] + geom_offset).reshape(batch, -1),
            ),
            axis=1,
        )
        values = points[:, self._gathered]
        # the bounding box of the points, and of the geoms that can move with their radii
        low = np.repeat(np.array([r.static_box[:3]]), batch, axis=0)
        high = np.repeat(np.array([r.static_box[3:]]), batch, axis=0)
        for offset in range(0, r.points_end, 3):
            point = values[:, offset : offset + 3]
            low, high = np.minimum(low, point), np.maximum(high, point)
        # the geoms that can move, bounded with their radii (one by one: numpy reduces a short middle axis slowly)
        for offset, k, radius in r.moving_geoms:
            centre = values[:, offset : offset + 3]
            reach = radii[k][:, None] if k >= 0 else radius
            low, high = np.minimum(low, centre - reach), np.maximum(high, centre + reach)
        # each body's size, where the geometry changes it: the largest of its distances (a geom's plus its radius)
        sizes = np.repeat(np.array([r.sizes]), batch, axis=0)
        if self._size_groups.size:
            gap = values[:, self._size_from] - values[:, self._size_to]
            distance = np.sqrt((gap * gap).sum(axis=2)) + self._reach(radii, self._size_radius)
            sizes[:, self._size_owners] = np.maximum(
                sizes[:, self._size_owners], np.maximum.reduceat(distance, self._size_groups, axis=1)
            )
        stat = np.empty((batch, 7))
        nominal_stat = nominal.stat
        stat[:] = [
            nominal_stat.meaninertia,
            nominal_stat.meanmass,
            nominal_stat.meansize,
            nominal_stat.extent,
            *nominal_stat.center.tolist(),
        ]
        fixed_extent, fixed_inertia, fixed_mass, fixed_size, fixed_center = r.stat_fixed
        if not fixed_center:
            stat[:, 4:] = (low + high) * 0.5
        # a box without extent keeps the model's extent in the scalar writer: such rows go its way (not finite)
        extent = np.where(high[:, 0] > low[:, 0], np.maximum(1e-5, (high - low).max(axis=1)), np.nan)
        meansize = stat[:, 2]
        if nbody > 1:
            meansize = (np.maximum(sizes[:, 1:], 1e-5) / (nbody - 1)).sum(axis=1)
            if not fixed_size:
                stat[:, 2] = meansize
        if not fixed_extent:
            stat[:, 3] = np.maximum(extent, 2 * meansize)
        if nbody > 1 and not fixed_mass:
            stat[:, 1] = mass[:, 1:].sum(axis=1) / (nbody - 1)
        if self._nv and not fixed_inertia:
            stat[:, 0] = self._trace(xipos, xanchor, mass, frames) / self._nv
        return stat

    @staticmethod
    def _reach(radii: list[np.ndarray], sources: list[tuple[int, float]]) -> np.ndarray:
        """:return: (B, len(sources)) radii: the ``k``-th reshaped geom's where ``k >= 0``, else the constant."""
        reach = np.empty((len(radii[0]) if radii else 0, len(sources)))
        for column, (k, radius) in enumerate(sources):
            reach[:, column] = radii[k] if k >= 0 else radius
        return reach

    def _trace(
        self,
        xipos: np.ndarray,
        xanchor: np.ndarray,
        mass: np.ndarray,
        frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> np.ndarray:
        """
        The trace of the inertia matrix at ``qpos0`` (``mj_crb``'s diagonal, armature included): a slide's entry is
        the mass of the joint's subtree; a hinge's about the unit axis ``a`` through ``p`` sums over the subtree's
        bodies ``m |a x (c - p)|^2 + a' I a`` (``c`` a body's centre of mass, ``I`` its inertia about it).
        """
        bodies = self._pair_body
        axis = self._pair_axis
        arm = xipos[:, bodies] - xanchor[:, self._pair_joint]
        a0, a1, a2 = axis[:, 0], axis[:, 1], axis[:, 2]
        d0, d1, d2 = arm[..., 0], arm[..., 1], arm[..., 2]
        c0, c1, c2 = a1 * d2 - a2 * d1, a2 * d0 - a0 * d2, a0 * d1 - a1 * d0
        lever = np.where(self._pair_hinge, c0 * c0 + c1 * c1 + c2 * c2, 1.0)
        total = (mass[:, bodies] * lever).sum(axis=1) + (self._pair_turning.sum() + self._armature_sum)
        for body, outer in self._varying:  # a' I a of a reshaped body about a hinge above it
            total += (frames[body][2] * outer).sum(axis=(1, 2))
        return total
