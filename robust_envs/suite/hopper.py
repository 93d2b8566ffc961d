"""RobustHopperHop-v0 and RobustHopperStand-v0: dm_control's planar hopper with a perturbable calf."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import hopper

from robust_envs.params import FRICTION_SPEC, ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move

_DOCS = """
    ## Description
    dm_control's ``hopper`` domain, task ``{task}``: the XML, task code, action repeat (4 physics steps of
    5 ms per agent step) and time limit of the installed ``dm_control.suite``. With nominal parameters the
    env reproduces ``dm_control.suite.load("hopper", "{task}", task_kwargs={{"random": seed}})`` exactly.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: waist, hip, knee and ankle motors (gears 30, 40, 30, 10).

    ## Observation Space
    ``Box(-inf, inf, (15,), float64)``, in key order: ``position`` (``qpos`` without the root's x, 6),
    ``velocity`` (``qvel``, 7), ``touch`` (``log1p`` of the toe and heel touch sensors, 2).

    ## Rewards, Starting State, Episode End
    As the suite's ``{task}``; never terminates; the registered id truncates after 1000 steps (20 s at
    0.02 s), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``: what a calf length change keeps, the calf's density or its mass (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``calf_length`` | -0.32 | [-1.5, -0.05] | m | z of geom calf's ``fromto`` end and of body foot's ``pos`` (rebuild) |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |
    | ``waist_damping``, ``hip_damping``, ``knee_damping``, ``ankle_damping`` | 0.05 | [0, 1e4] | N*m*s/rad | dof_damping |

    ``calf_length`` follows paper 000's Table 3, which writes the calf as the MJCF ``fromto`` z coordinate:
    -0.32 is the nominal 0.32 m calf, -0.4 a 0.4 m calf. The foot (with its touch sites) moves with the
    calf's end; the calf's mass and inertia follow the new capsule at the XML's density (``keep_mass=False``),
    or the calf keeps its nominal mass with the inertia of the new capsule (``keep_mass=True``). Presets
    ``mankowitz2020/hopper-{task}/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
"""

PARAM_SPACE = ParamSpace(
    specs=(
        ParamSpec(
            "calf_length",
            -0.32,
            -1.5,
            -0.05,
            "m",
            "z coordinate of the calf's lower end in the calf frame (paper 000's convention: -0.32 is a 0.32 m calf)",
            kind="geometry",
            geometry=LengthEdit(
                moves=(Move("geom_fromto_end", "calf", (0.0, 0.0, 1.0)), Move("body_pos", "foot", (0.0, 0.0, 1.0)))
            ),
        ),
        FRICTION_SPEC,
        *damping_specs({"waist": 0.05, "hip": 0.05, "knee": 0.05, "ankle": 0.05}),
    ),
    owner="RobustHopperHop-v0 and RobustHopperStand-v0",
)


class _RobustSuiteHopperEnv(RobustSuiteEnv):
    param_space: ClassVar[ParamSpace] = PARAM_SPACE
    domain: ClassVar[str] = "hopper"
    xml_file: ClassVar[str] = "hopper.xml"
    physics_class: ClassVar[type] = hopper.Physics
    control_timestep: ClassVar[float | None] = 0.02  # dm_control.suite.hopper._CONTROL_TIMESTEP


class RobustHopperHopEnv(_RobustSuiteHopperEnv):
    """dm_control's hopper ``hop`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="hop")
    task_name: ClassVar[str] = "hop"
    make_task = staticmethod(make_task_factory(hopper.Hopper, hopping=True))


class RobustHopperStandEnv(_RobustSuiteHopperEnv):
    """dm_control's hopper ``stand`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="stand")
    task_name: ClassVar[str] = "stand"
    make_task = staticmethod(make_task_factory(hopper.Hopper, hopping=False))
