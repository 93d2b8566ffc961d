"""Building perturbed MuJoCo models from a pristine nominal model: in-place edits and cached MjSpec rebuilds."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

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


def _apply_geometry(spec: mujoco.MjSpec, edit: GeometryEdit, factor: float) -> None:
    for name in edit.geom_fromto:
        geom = spec.geom(name)
        fromto = np.array(geom.fromto, dtype=np.float64)
        start, end = fromto[:3], fromto[3:]
        geom.fromto = np.concatenate([start, start + (end - start) * factor])
    for name in edit.geom_size:
        geom = spec.geom(name)
        geom.size = np.array(geom.size, dtype=np.float64) * factor
    for name in edit.body_pos:
        body = spec.body(name)
        body.pos = np.array(body.pos, dtype=np.float64) * factor
    for name in edit.site_pos:
        site = spec.site(name)
        site.pos = np.array(site.pos, dtype=np.float64) * factor


def compile_pristine(xml_path: str, geometry: tuple[tuple[GeometryEdit, float], ...]) -> mujoco.MjModel:
    """
    Compile the model of ``xml_path`` with geometry edits, from a cache when it was built before.

    With no edit (or only unit factors) this is the upstream model exactly.

    :param xml_path: absolute path of the MJCF file
    :param geometry: ``(edit, factor)`` pairs, ``factor = value / nominal``
    :return: the compiled model; treat it as read-only (copy before editing)
    """
    key = (xml_path, tuple((edit, factor) for edit, factor in geometry if factor != 1.0))
    model = _PRISTINE_CACHE.get(key)
    if model is None:
        if key[1]:
            spec = mujoco.MjSpec.from_file(xml_path)
            for edit, factor in key[1]:
                _apply_geometry(spec, edit, factor)
            model = spec.compile()
        else:
            model = mujoco.MjModel.from_xml_path(xml_path)
        _PRISTINE_CACHE.put(key, model)
    return model


class ModelBuilder:
    """
    Produces the :class:`mujoco.MjModel` of any parameter vector of a :class:`ParamSpace`.

    Geometry parameters select a pristine compiled model (cached); every other parameter is an
    in-place edit of a copy of it, always starting again from the pristine values so edits never
    compound. Mass, inertia and armature edits are followed by ``mj_setConst`` on a scratch
    ``MjData``, so the derived constants match a recompiled model and no live episode is touched.

    :param xml_path: absolute path of the MJCF file
    :param param_space: the parameters
    :param cache_size: how many fully built models :meth:`model_for` keeps
    """

    def __init__(self, xml_path: str, param_space: ParamSpace, cache_size: int = 64) -> None:
        self.xml_path = xml_path
        self.param_space = param_space
        self._geometry_idx = param_space.indices_of_kind("geometry")
        self._const_idx = param_space.indices_of_kind("mass_scale", "dof_armature")
        self._models = LRUCache(cache_size)
        self._plan_cache: dict[str, np.ndarray] | None = None
        self._nominal = param_space.nominal

    # ---- keys ------------------------------------------------------------------------------
    def geometry_key(self, vector: np.ndarray) -> tuple[tuple[GeometryEdit, float], ...]:
        """:return: the ``(edit, factor)`` pairs of the geometry parameters of ``vector``."""
        specs = self.param_space.specs
        return tuple(
            (specs[i].geometry, float(vector[i] / specs[i].nominal)) for i in self._geometry_idx  # type: ignore[misc]
        )

    def const_key(self, vector: np.ndarray) -> tuple[float, ...]:
        """:return: the values that need ``mj_setConst`` when they change (masses, armatures)."""
        return tuple(float(vector[i]) for i in self._const_idx)

    # ---- building --------------------------------------------------------------------------
    def pristine(self, vector: np.ndarray) -> mujoco.MjModel:
        """:return: the read-only compiled model for the geometry of ``vector``."""
        return compile_pristine(self.xml_path, self.geometry_key(vector))

    def build(self, vector: np.ndarray) -> mujoco.MjModel:
        """
        :param vector: a validated parameter vector
        :return: a new model the caller owns
        """
        pristine = self.pristine(vector)
        model = copy.copy(pristine)
        self.apply(model, pristine, vector, constants_valid_for=self.const_key(self._nominal))
        return model

    def model_for(self, vector: np.ndarray) -> mujoco.MjModel:
        """
        :param vector: a validated parameter vector
        :return: a cached model for ``vector`` (shared: do not edit it)
        """
        key = tuple(float(v) for v in vector)
        model = self._models.get(key)
        if model is None:
            model = self.build(vector)
            self._models.put(key, model)
        return model

    def apply(
        self,
        model: mujoco.MjModel,
        pristine: mujoco.MjModel,
        vector: np.ndarray,
        constants_valid_for: tuple[float, ...] | None,
    ) -> None:
        """
        Overwrite the parameter-dependent fields of ``model`` from ``pristine`` and ``vector``.

        :param model: a model with the same geometry as ``pristine``, edited in place
        :param pristine: the unedited compiled model
        :param vector: a validated parameter vector
        :param constants_valid_for: the :meth:`const_key` that ``model``'s derived constants were computed
            for (``None`` if unknown); ``mj_setConst`` runs only when it differs from ``vector``'s
        """
        plan = self._plan(pristine)
        nominal = self._nominal
        mass_factor = np.ones(pristine.nbody)
        friction_factor = 1.0
        for i, spec in enumerate(self.param_space.specs):
            if spec.kind == "mass_scale":
                mass_factor[plan[spec.name]] *= vector[i] / nominal[i]
            elif spec.kind == "friction_scale":
                friction_factor *= vector[i] / nominal[i]
            elif spec.kind == "dof_damping":
                model.dof_damping[plan[spec.name]] = vector[i]
            elif spec.kind == "dof_armature":
                model.dof_armature[plan[spec.name]] = vector[i]
        # Mass and inertia scale together: a uniformly denser body keeps its shape (Jiang et al.'s density).
        model.body_mass[:] = pristine.body_mass * mass_factor
        model.body_inertia[:] = pristine.body_inertia * mass_factor[:, None]
        model.geom_friction[:, 0] = pristine.geom_friction[:, 0] * friction_factor
        if constants_valid_for != self.const_key(vector):
            # Derived constants (subtree masses, inverse weights, actuator_acc0) go stale otherwise;
            # mj_setConst overwrites the state in its MjData, so it gets a scratch one.
            mujoco.mj_setConst(model, mujoco.MjData(model))

    def _plan(self, pristine: mujoco.MjModel) -> dict[str, np.ndarray]:
        # Geometry edits never add or remove elements, so one index plan serves every geometry.
        plan = self._plan_cache
        if plan is None:
            plan = {}
            for spec in self.param_space.specs:
                if spec.kind == "mass_scale":
                    plan[spec.name] = np.array([pristine.body(t).id for t in spec.targets], dtype=np.int64)
                elif spec.kind in ("dof_damping", "dof_armature"):
                    plan[spec.name] = np.array([pristine.jnt_dofadr[pristine.joint(t).id] for t in spec.targets])
            self._plan_cache = plan
        return plan
