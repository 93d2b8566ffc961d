"""RobustAcrobotSwingup-v0: dm_control's acrobot swing-up with a perturbable upper arm."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import acrobot

from robust_envs.params import ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move


class RobustAcrobotSwingupEnv(RobustSuiteEnv):
    """
    ## Description
    dm_control's ``acrobot`` domain, task ``swingup``: the XML, task code and time limit of the installed
    ``dm_control.suite``. With nominal parameters the env reproduces
    ``dm_control.suite.load("acrobot", "swingup", task_kwargs={"random": seed})`` exactly.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the elbow torque, times the actuator gear 2 (N*m).

    ## Observation Space
    ``Box(-inf, inf, (6,), float64)``, in key order: ``orientations`` (``xz`` then ``zz`` rotation entries of
    the upper and lower arm, 4) then ``velocity`` (shoulder and elbow angular velocities, 2).

    ## Rewards, Starting State, Episode End
    As the suite's ``swingup`` (smooth reward of the tip's distance to the target at 4 m height); never
    terminates; the registered id truncates after 1000 steps (10 s at 0.01 s), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``; it changes nothing here, since the arms' masses are explicit (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``upper_arm_length`` | 1.0 | [0.05, 10] | m | geom upper_arm ``fromto`` end and body lower_arm ``pos`` (MjSpec rebuild) |
    | ``shoulder_damping`` | 0.05 | [0, 1e4] | N*m*s/rad | dof_damping of the shoulder |
    | ``elbow_damping`` | 0.05 | [0, 1e4] | N*m*s/rad | dof_damping of the elbow |

    The arms' masses are explicit (1 kg each), so a longer upper arm keeps its mass and gets the inertia
    of the longer capsule, with ``keep_mass`` or without; the lower arm moves with the elbow. The target
    stays at 4 m. Constraints are disabled, so there is no friction parameter. Paper 000 (Table 3) varies
    ``upper_arm_length`` ("first pole length"): presets ``mankowitz2020/acrobot-swingup/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            ParamSpec(
                "upper_arm_length",
                1.0,
                0.05,
                10.0,
                "m",
                "length of the upper arm (shoulder to elbow); its mass stays 1 kg",
                kind="geometry",
                geometry=LengthEdit(
                    moves=(
                        Move("geom_fromto_end", "upper_arm", (0.0, 0.0, 1.0)),
                        Move("body_pos", "lower_arm", (0.0, 0.0, 1.0)),
                    )
                ),
            ),
            *damping_specs({"shoulder": 0.05, "elbow": 0.05}),
        ),
        owner="RobustAcrobotSwingup-v0",
    )
    domain: ClassVar[str] = "acrobot"
    task_name: ClassVar[str] = "swingup"
    xml_file: ClassVar[str] = "acrobot.xml"
    physics_class: ClassVar[type] = acrobot.Physics
    make_task = staticmethod(make_task_factory(acrobot.Balance, sparse=False))
