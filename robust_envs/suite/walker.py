"""RobustWalkerWalk-v0 and RobustWalkerRun-v0: dm_control's planar walker with perturbable thighs."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import walker

from robust_envs.params import FRICTION_SPEC, ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move

_DOCS = """
    ## Description
    dm_control's ``walker`` domain, task ``{task}``: the XML, task code, action repeat (10 physics steps of
    2.5 ms per agent step) and time limit of the installed ``dm_control.suite``. With nominal parameters
    the env reproduces ``dm_control.suite.load("walker", "{task}", task_kwargs={{"random": seed}})`` exactly.

    ## Action Space
    ``Box(-1, 1, (6,), float32)``: right hip, knee, ankle, then left hip, knee, ankle motors.

    ## Observation Space
    ``Box(-inf, inf, (24,), float64)``, in key order: ``orientations`` (``xx`` and ``xz`` rotation entries of
    the 7 bodies, 14), ``height`` (torso height, 1), ``velocity`` (``qvel``, 9).

    ## Rewards, Starting State, Episode End
    As the suite's ``{task}`` (move speed {speed} m/s); never terminates; the registered id truncates after
    1000 steps (25 s at 0.025 s), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``: what a thigh length change keeps, the thighs' density or their mass (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``thigh_length`` | 0.225 | [0.02, 1] | m | both thighs: geom ``size[1]`` and ``pos`` of *_thigh, ``pos`` of *_leg |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |
    | ``right_hip_damping`` ... ``left_ankle_damping`` (6) | 0.1 | [0, 1e4] | N*m*s/rad | dof_damping |

    ``thigh_length`` is the thighs' MJCF half-length, as paper 000's Table 3 writes it (0.225 m: 0.45 m
    thighs). A change ``d`` lengthens each thigh by ``2 d`` and moves the knee, leg and foot down by ``2 d``;
    the thighs' mass and inertia follow the new capsules at the XML's density (``keep_mass=False``), or
    the thighs keep their nominal mass with the inertia of the new capsules (``keep_mass=True``). Presets
    ``mankowitz2020/walker-{task}/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
"""

_THIGH_MOVES = tuple(
    move
    for side in ("right", "left")
    for move in (
        Move("geom_half_length", f"{side}_thigh", (1.0, 0.0, 0.0)),
        Move("geom_pos", f"{side}_thigh", (0.0, 0.0, -1.0)),
        Move("body_pos", f"{side}_leg", (0.0, 0.0, -2.0)),
    )
)

PARAM_SPACE = ParamSpace(
    specs=(
        ParamSpec(
            "thigh_length",
            0.225,
            0.02,
            1.0,
            "m",
            "half-length of both thigh capsules (paper 000's convention); the legs hang at the new knees",
            kind="geometry",
            geometry=LengthEdit(moves=_THIGH_MOVES),
        ),
        FRICTION_SPEC,
        *damping_specs({f"{side}_{joint}": 0.1 for side in ("right", "left") for joint in ("hip", "knee", "ankle")}),
    ),
    owner="RobustWalkerWalk-v0 and RobustWalkerRun-v0",
)


class _RobustSuiteWalkerEnv(RobustSuiteEnv):
    param_space: ClassVar[ParamSpace] = PARAM_SPACE
    domain: ClassVar[str] = "walker"
    xml_file: ClassVar[str] = "walker.xml"
    physics_class: ClassVar[type] = walker.Physics
    control_timestep: ClassVar[float | None] = 0.025  # dm_control.suite.walker._CONTROL_TIMESTEP


class RobustWalkerWalkEnv(_RobustSuiteWalkerEnv):
    """dm_control's walker ``walk`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="walk", speed=1)
    task_name: ClassVar[str] = "walk"
    make_task = staticmethod(make_task_factory(walker.PlanarWalker, move_speed=1))  # walker._WALK_SPEED


class RobustWalkerRunEnv(_RobustSuiteWalkerEnv):
    """dm_control's walker ``run`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="run", speed=8)
    task_name: ClassVar[str] = "run"
    make_task = staticmethod(make_task_factory(walker.PlanarWalker, move_speed=8))  # walker._RUN_SPEED
