"""Building perturbed MuJoCo models from a pristine nominal model: in-place edits and cached MjSpec rebuilds."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Hashable
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


def apply_geometry(spec: mujoco.MjSpec, edit: GeometryEdit, factor: float) -> None:
    """Scale the elements ``edit`` names in ``spec`` by ``factor`` (a geometry parameter's ``value / nominal``)."""
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


class ModelBuilder:
    """
    Produces the :class:`mujoco.MjModel` of any parameter vector of a :class:`ParamSpace`.

    Geometry parameters select a pristine compiled model (cached process-wide, keyed by geometry and
    ``keep_mass``); every other parameter is an in-place edit (:meth:`edit`) of a copy of it, always
    starting again from the pristine values so edits never compound. Mass, inertia and armature edits are
    followed by ``mj_setConst`` on the builder's scratch ``MjData``, so derived constants match a recompiled
    model and no live episode is touched. Built models returned by :meth:`model_for` are cached (LRU) and
    shared: nobody edits them afterwards.

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
        self._geometry_idx = param_space.indices_of_kind("geometry")
        self._const_idx = param_space.indices_of_kind("mass_scale", "dof_armature")
        self._models = LRUCache(cache_size)
        self._plan_cache: dict[str, np.ndarray] | None = None
        self._scratch: mujoco.MjData | None = None
        self._nominal = param_space.nominal

    def geometry_key(self, vector: np.ndarray) -> tuple[tuple[GeometryEdit, float], ...]:
        """:return: the ``(edit, factor)`` pairs of the geometry parameters of ``vector``."""
        specs = self.param_space.specs
        return tuple((specs[i].geometry, float(vector[i] / specs[i].nominal)) for i in self._geometry_idx)  # type: ignore[misc]

    def pristine(self, vector: np.ndarray) -> mujoco.MjModel:
        """:return: the read-only compiled model for the geometry of ``vector``."""
        return compile_pristine(self.xml_path, self.geometry_key(vector), self.prepare_spec, self.keep_mass)

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
        pristine = self.pristine(vector)
        model = copy.copy(pristine)
        self.edit(model, pristine, vector, constants_of=self._nominal)
        return model

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
        plan = self._plan(pristine)
        mass_params, friction_params = plan["mass_params"], plan["friction_params"]
        mass_factor = np.ones(pristine.nbody)
        # a body may be the target of several mass parameters (its density and its mass): factors multiply
        np.multiply.at(mass_factor, plan["mass_bodies"], vector[mass_params] / self._nominal[mass_params])
        friction_factor = float(np.prod(vector[friction_params] / self._nominal[friction_params]))
        model.dof_damping[plan["damping_dofs"]] = vector[plan["damping_params"]]
        model.dof_armature[plan["armature_dofs"]] = vector[plan["armature_params"]]
        # Mass and inertia scale together: a uniformly denser body keeps its shape (Jiang et al.'s density).
        model.body_mass[:] = pristine.body_mass * mass_factor
        model.body_inertia[:] = pristine.body_inertia * mass_factor[:, None]
        model.geom_friction[:, 0] = pristine.geom_friction[:, 0] * friction_factor
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
