"""RobustCheetahRun-v0: dm_control's planar cheetah with a perturbable torso length."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import cheetah

from robust_envs.params import FRICTION_SPEC, ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move


class RobustCheetahRunEnv(RobustSuiteEnv):
    """
    ## Description
    dm_control's ``cheetah`` domain, task ``run``: the XML, task code and time limit of the installed
    ``dm_control.suite``. With nominal parameters the env reproduces
    ``dm_control.suite.load("cheetah", "run", task_kwargs={"random": seed})`` exactly.

    ## Action Space
    ``Box(-1, 1, (6,), float32)``: back thigh, shin, foot, then front thigh, shin, foot motors.

    ## Observation Space
    ``Box(-inf, inf, (17,), float64)``, in key order: ``position`` (``qpos`` without the root's x, 8) then
    ``velocity`` (``qvel``, 9).

    ## Rewards, Starting State, Episode End
    As the suite's ``run`` (forward speed up to 10 m/s); never terminates; the registered id truncates after
    1000 steps (10 s at 0.01 s), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``: what a torso length change keeps, the torso's density or its mass (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``torso_length`` | 0.5 | [0.05, 2] | m | torso half-length: geom torso ``fromto`` ends, bthigh/fthigh/head ``pos`` |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |
    | ``bthigh_damping`` | 6.0 | [0, 1e4] | N*m*s/rad | dof_damping (likewise ``bshin`` 4.5, ``bfoot`` 3.0) |
    | ``fthigh_damping`` | 4.5 | [0, 1e4] | N*m*s/rad | dof_damping (likewise ``fshin`` 3.0, ``ffoot`` 1.5) |

    ``torso_length`` is the torso capsule's half-length, as paper 000's Table 3 writes it (0.5 m: a 1 m
    torso). A change ``d`` moves the legs' hips and the head ``d`` outwards along the torso. The XML
    declares ``settotalmass="14"``; a rebuilt model keeps the density that the nominal 14 kg implies
    instead of rescaling every body back to 14 kg, so a longer torso is heavier and the legs are unchanged
    (``keep_mass=False``). With ``keep_mass=True`` every body keeps its nominal mass (14 kg in all): the
    torso body's 6.25 kg spread uniformly over the longer capsule and the head, with the inertia of that shape.
    Presets ``mankowitz2020/cheetah-run/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            ParamSpec(
                "torso_length",
                0.5,
                0.05,
                2.0,
                "m",
                "half-length of the torso capsule (paper 000's convention); hips and head move with its ends",
                kind="geometry",
                geometry=LengthEdit(
                    moves=(
                        Move("geom_fromto_start", "torso", (-1.0, 0.0, 0.0)),
                        Move("geom_fromto_end", "torso", (1.0, 0.0, 0.0)),
                        Move("body_pos", "bthigh", (-1.0, 0.0, 0.0)),
                        Move("body_pos", "fthigh", (1.0, 0.0, 0.0)),
                        Move("geom_pos", "head", (1.0, 0.0, 0.0)),
                    )
                ),
            ),
            FRICTION_SPEC,
            *damping_specs({"bthigh": 6.0, "bshin": 4.5, "bfoot": 3.0, "fthigh": 4.5, "fshin": 3.0, "ffoot": 1.5}),
        ),
        owner="RobustCheetahRun-v0",
    )
    domain: ClassVar[str] = "cheetah"
    task_name: ClassVar[str] = "run"
    xml_file: ClassVar[str] = "cheetah.xml"
    physics_class: ClassVar[type] = cheetah.Physics
    make_task = staticmethod(make_task_factory(cheetah.Cheetah))
