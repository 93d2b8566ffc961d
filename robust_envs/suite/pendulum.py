"""RobustPendulumSwingup-v0: dm_control's pendulum swing-up with perturbable ball mass and pole length."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import pendulum

from robust_envs.params import ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move


class RobustPendulumSwingupEnv(RobustSuiteEnv):
    """
    ## Description
    dm_control's ``pendulum`` domain, task ``swingup``: the XML, task code and time limit of the installed
    ``dm_control.suite``. With nominal parameters the env reproduces
    ``dm_control.suite.load("pendulum", "swingup", task_kwargs={"random": seed})`` exactly.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the torque at the hinge (N*m; too weak to lift the 1 kg ball directly).

    ## Observation Space
    ``Box(-inf, inf, (3,), float64)``, in key order: ``orientation`` (the pole's ``zz`` and ``xz`` rotation
    entries, i.e. cosine and sine of the angle from upright, 2) then ``velocity`` (angular velocity, 1).

    ## Rewards, Starting State, Episode End
    As the suite's ``swingup`` (1 when the pole is within 8 degrees of upright); never terminates; the
    registered id truncates after 1000 steps (20 s at 0.02 s), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``; it changes nothing here, since every mass is explicit (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``ball_mass`` | 1.0 | [1e-4, 1e4] | kg | body_mass, body_inertia of body pole (the ball is its only massive geom) |
    | ``pole_length`` | 0.5 | [0.05, 10] | m | hinge-to-ball distance: geom pole ``fromto`` end, geom mass ``pos`` |
    | ``hinge_damping`` | 0.1 | [0, 1e4] | N*m*s/rad | dof_damping of the hinge |

    The pole and the hinge's base geoms have ``mass="0"`` and the ball an explicit 1 kg, so ``ball_mass``
    is the mass of everything that swings, whatever ``pole_length`` and ``keep_mass``. Contacts are disabled,
    so there is no friction parameter. Paper 000 (Table 3) varies ``ball_mass`` and, in its larger test set,
    the pole length in metres
    (1.0-1.5 m, i.e. two to three times this model's 0.5 m pole): presets ``mankowitz2020/pendulum-swingup/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            ParamSpec("ball_mass", 1.0, 1e-4, 1e4, "kg", "mass of the ball at the pole's end", "mass_scale", ("pole",)),
            ParamSpec(
                "pole_length",
                0.5,
                0.05,
                10.0,
                "m",
                "distance from the hinge to the ball's centre (the pole geom has no mass)",
                kind="geometry",
                geometry=LengthEdit(
                    moves=(Move("geom_fromto_end", "pole", (0.0, 0.0, 1.0)), Move("geom_pos", "mass", (0.0, 0.0, 1.0)))
                ),
            ),
            *damping_specs({"hinge": 0.1}),
        ),
        owner="RobustPendulumSwingup-v0",
    )
    domain: ClassVar[str] = "pendulum"
    task_name: ClassVar[str] = "swingup"
    xml_file: ClassVar[str] = "pendulum.xml"
    physics_class: ClassVar[type] = pendulum.Physics
    make_task = staticmethod(make_task_factory(pendulum.SwingUp))
