"""
Length parameters of the DeepMind Control Suite models: MjSpec edits that stretch a segment and move what hangs below it.

The shared :class:`~robust_envs.mujoco_model.ModelBuilder` scales geometry about its origin, which suits
Gymnasium's XMLs. In the suite's XMLs the parameters of paper 000 are absolute lengths (a pole's length,
a capsule's half-length, a ``fromto`` end point), and the bodies below a segment sit at offsets that are
not proportional to it (the walker's leg hangs 0.7 m below its 0.45 m thigh, with the knee joint 0.25 m
up inside the leg). A :class:`LengthEdit` therefore *translates*: every listed element moves by the change
of the parameter times a fixed vector, so the joint at the end of a segment stays at its end.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal, NamedTuple

import mujoco
import numpy as np

from robust_envs.mujoco_model import InPlaceGeometry, LRUCache, ModelBuilder, SpecValues, keep_body_masses
from robust_envs.params import GeometryEdit, ParamSpace

#: Which MjSpec field a :class:`Move` shifts:
#:
#: - ``geom_fromto_start`` / ``geom_fromto_end``: one end point of a geom's ``fromto`` segment;
#: - ``geom_pos``, ``body_pos``, ``site_pos``, ``camera_pos``: the element's position in its parent frame;
#: - ``geom_half_length``: ``size[1]`` of a capsule or cylinder given by ``pos`` and ``size`` (first component
#:   of the vector used).
MoveTarget = Literal[
    "geom_fromto_start", "geom_fromto_end", "geom_pos", "geom_half_length", "body_pos", "site_pos", "camera_pos"
]


class Move(NamedTuple):
    """
    One element a length parameter moves: ``field += (value - nominal) * per_unit``.

    :param target: the field, see :data:`MoveTarget`
    :param name: the element's name in the MJCF
    :param per_unit: displacement per metre of parameter change, in the parent frame
    """

    target: MoveTarget
    name: str
    per_unit: tuple[float, float, float]


@dataclass(frozen=True)
class LengthEdit(GeometryEdit):
    """
    A length parameter of a suite model: a list of :class:`Move` applied to the MjSpec.

    The inherited scaling fields of :class:`~robust_envs.params.GeometryEdit` stay empty.

    :param moves: the elements that move with the parameter
    """

    moves: tuple[Move, ...] = ()

    def elements(self) -> tuple[tuple[str, str], ...]:
        """:return: the ``(kind, name)`` of every MJCF element the moves change (kind: geom, body, site, camera)."""
        return tuple((m.target.split("_")[0], m.name) for m in self.moves)

    def describe(self) -> str:
        """:return: a one-line summary of the MjSpec fields this edit touches."""
        return "; ".join(f"{m.target.replace('_', ' ', 1)} {m.name} += d*{tuple(m.per_unit)}" for m in self.moves)

    def apply(self, spec: mujoco.MjSpec, change: float) -> None:
        """
        Shift every listed element of ``spec`` by ``change * per_unit``.

        :param spec: the editable model
        :param change: parameter value minus its nominal value (m)
        """
        for move in self.moves:
            shift = change * np.asarray(move.per_unit, dtype=np.float64)
            if move.target in ("geom_fromto_start", "geom_fromto_end"):
                geom = spec.geom(move.name)
                fromto = np.array(geom.fromto, dtype=np.float64)
                part = slice(0, 3) if move.target == "geom_fromto_start" else slice(3, 6)
                fromto[part] += shift
                geom.fromto = fromto
            elif move.target == "geom_half_length":
                geom = spec.geom(move.name)
                size = np.array(geom.size, dtype=np.float64)
                size[1] += shift[0]
                geom.size = size
            else:
                kind = move.target.removesuffix("_pos")
                element = getattr(spec, kind)(move.name)
                element.pos = np.array(element.pos, dtype=np.float64) + shift


# Compiled pristine models keyed by XML path and geometry changes, shared by every suite env of the process.
_SUITE_PRISTINE = LRUCache(maxsize=128)


def _reuse_nominal_textures(spec: mujoco.MjSpec, nominal: mujoco.MjModel) -> None:
    # The suite's builtin textures (an 800 x 800 x 6 gradient skybox, a checker grid) take most of a
    # compile; geometry never changes them, so the perturbed model gets the nominal model's pixels as data.
    for texture in spec.textures:
        index = nominal.texture(texture.name).id
        width, height = int(nominal.tex_width[index]), int(nominal.tex_height[index])
        channels = int(nominal.tex_nchannel[index])
        start = int(nominal.tex_adr[index])
        texture.builtin = mujoco.mjtBuiltin.mjBUILTIN_NONE
        texture.file = ""
        texture.width, texture.height, texture.nchannel = width, height, channels
        texture.data = bytes(nominal.tex_data[start : start + width * height * channels])


def _compile_at_nominal_density(spec: mujoco.MjSpec, nominal_spec_total: float, total: float) -> mujoco.MjModel:
    # settotalmass would rescale a longer body back to the declared total, making every other body lighter.
    # Keep the density the nominal model implies instead: compile unscaled, then scale by the nominal factor.
    spec.compiler.settotalmass = -1.0
    model = spec.compile()
    factor = total / nominal_spec_total
    model.body_mass[:] *= factor
    model.body_inertia[:] *= factor
    mujoco.mj_setConst(model, mujoco.MjData(model))
    return model


def compile_suite_model(
    xml_path: str, changes: tuple[tuple[LengthEdit, float], ...], keep_mass: bool = False
) -> mujoco.MjModel:
    """
    Compile a suite XML with length edits, from a cache when it was built before.

    With no change this is ``MjModel.from_xml_path`` of the upstream file, identical to the model
    ``dm_control.suite.load`` compiles, whatever ``keep_mass``. Masses MuJoCo infers from geometry follow
    the new shapes at the nominal density (for ``settotalmass`` models, the density that the nominal total
    implies), or with ``keep_mass`` stay at their nominal values, spread uniformly over each body's new shape
    (:func:`~robust_envs.mujoco_model.keep_body_masses`); explicit MJCF masses stay as they are. Either way the
    inertia is that of the new shape.

    :param xml_path: absolute path of the suite's MJCF file
    :param changes: ``(edit, value - nominal)`` pairs
    :param keep_mass: keep each body's nominal mass instead of its density
    :return: the compiled model; read-only (copy before editing)
    """
    edits = tuple((edit, change) for edit, change in changes if change != 0.0)
    # keep_mass is part of the key only where it makes a difference: the nominal model is shared
    key = (xml_path, edits, keep_mass and bool(edits))
    model = _SUITE_PRISTINE.get(key)
    if model is not None:
        return model
    if not edits:
        model = mujoco.MjModel.from_xml_path(xml_path)
    elif key[2]:
        model = copy.copy(compile_suite_model(xml_path, edits))
        keep_body_masses(model, compile_suite_model(xml_path, ()))
    else:
        model = _compile_edited(xml_path, edits)
    _SUITE_PRISTINE.put(key, model)
    return model


def _compile_edited(xml_path: str, edits: tuple[tuple[LengthEdit, float], ...]) -> mujoco.MjModel:
    # the XML with the edits applied, every body at its nominal density
    nominal = compile_suite_model(xml_path, ())
    spec = mujoco.MjSpec.from_file(xml_path)
    _reuse_nominal_textures(spec, nominal)
    total = float(spec.compiler.settotalmass)
    if total > 0:
        unscaled = spec.copy()
        unscaled.compiler.settotalmass = -1.0
        nominal_raw_total = float(unscaled.compile().body_mass.sum())
    for edit, change in edits:
        edit.apply(spec, change)
    return _compile_at_nominal_density(spec, nominal_raw_total, total) if total > 0 else spec.compile()


class SuiteModelBuilder(ModelBuilder):
    """
    :class:`~robust_envs.mujoco_model.ModelBuilder` whose geometry parameters are :class:`LengthEdit` translations.

    Only the geometry differs: a parameter's amount is ``value - nominal``, its edit the :class:`LengthEdit`'s
    moves, its MjSpec rebuild :func:`compile_suite_model`. Every registered suite parameter is written in place
    (:class:`~robust_envs.mujoco_model.InPlaceGeometry`, with the ``settotalmass`` density of the nominal model);
    masses, friction and damping are the shared in-place edits.

    :param xml_path: absolute path of the suite's MJCF file
    :param param_space: the parameters
    :param cache_size: how many fully built models :meth:`model_for` keeps
    :param keep_mass: length parameters keep each body's mass instead of its density
    """

    def __init__(self, xml_path: str, param_space: ParamSpace, cache_size: int = 256, keep_mass: bool = False) -> None:
        super().__init__(xml_path, param_space, cache_size, keep_mass=keep_mass)
        for i in self._geometry_idx:
            if not isinstance(param_space.specs[i].geometry, LengthEdit):
                raise TypeError(f"Geometry parameter {param_space.specs[i].name!r} of a suite env needs a LengthEdit")

    def changes(self, vector: np.ndarray) -> tuple[tuple[LengthEdit, float], ...]:
        """:return: the ``(edit, value - nominal)`` pairs of the geometry parameters of ``vector``."""
        specs = self.param_space.specs
        return tuple((specs[i].geometry, float(vector[i] - specs[i].nominal)) for i in self._geometry_idx)  # type: ignore[misc]

    def geometry_edits(self, vector: np.ndarray) -> tuple[tuple[GeometryEdit, float], ...]:
        """:return: the edits :meth:`pristine` applies for ``vector``, with their changes (zeros left out)."""
        return tuple((edit, change) for edit, change in self.changes(vector) if change != 0.0)

    def edit_values(self, values: SpecValues, edit: GeometryEdit, amount: float) -> None:
        """Apply one length edit to spec values, as :meth:`pristine` applies it to the MjSpec."""
        edit.apply(values, amount)  # type: ignore[attr-defined]

    @property
    def vectorised_edits(self) -> bool:
        """:meth:`batch_spec_values` computes the moves of every length parameter."""
        return True

    def batch_spec_values(self, writer: InPlaceGeometry, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        :param writer: the builder's in-place writer
        :param vectors: (B, n_params) validated parameter vectors
        :return: the writer's flat spec values for the geometry of each row (B, S), each parameter's moves applied in
            :meth:`LengthEdit.apply`'s order and arithmetic (a zero change adds zero), and which rows have a geometry
            other than the nominal one
        """
        scalars = np.repeat(np.array([writer.scalars]), len(vectors), axis=0)
        changed = np.zeros(len(vectors), dtype=bool)
        specs = self.param_space.specs
        for i in self._geometry_idx.tolist():
            change = vectors[:, i] - specs[i].nominal
            changed |= change != 0.0
            for move in specs[i].geometry.moves:  # type: ignore[union-attr]
                shift = change[:, None] * np.asarray(move.per_unit, dtype=np.float64)
                if move.target in ("geom_fromto_start", "geom_fromto_end"):
                    start = writer.slot("geom", move.name, "fromto") + (0 if move.target == "geom_fromto_start" else 3)
                    scalars[:, start : start + 3] += shift
                elif move.target == "geom_half_length":
                    scalars[:, writer.slot("geom", move.name, "size") + 1] += shift[:, 0]
                else:
                    start = writer.slot(move.target.removesuffix("_pos"), move.name, "pos")
                    scalars[:, start : start + 3] += shift
        return scalars, changed

    def pristine(self, vector: np.ndarray) -> mujoco.MjModel:
        """:return: the read-only model compiled through MjSpec for the geometry of ``vector``."""
        return compile_suite_model(self.xml_path, self.changes(vector), self.keep_mass)

    def _compile_nominal(self) -> mujoco.MjModel:
        return compile_suite_model(self.xml_path, ())

    def inferred_mass_scale(self, spec: mujoco.MjSpec) -> float | None:
        """:return: the factor :func:`compile_suite_model` puts on masses inferred from geometry (``settotalmass``)."""
        total = float(spec.compiler.settotalmass)
        if total <= 0:
            return 1.0
        unscaled = spec.copy()
        unscaled.compiler.settotalmass = -1.0
        return total / float(unscaled.compile().body_mass.sum())
