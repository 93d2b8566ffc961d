"""RobustCartpoleBalance-v0 and RobustCartpoleSwingup-v0: dm_control's cart-pole with perturbable pole and masses."""

from __future__ import annotations

from typing import ClassVar

from dm_control.suite import cartpole

from robust_envs.params import ParamSpace, ParamSpec
from robust_envs.suite.base import RobustSuiteEnv, damping_specs, make_task_factory
from robust_envs.suite.geometry import LengthEdit, Move

_DOCS = """
    ## Description
    dm_control's ``cartpole`` domain, task ``{task}``: the XML, the task code (initial states, observation,
    reward) and the time limit of the installed ``dm_control.suite``. With nominal parameters the env
    reproduces ``dm_control.suite.load("cartpole", "{task}", task_kwargs={{"random": seed}})`` exactly.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the force on the cart, times the actuator gear 10 (N).

    ## Observation Space
    ``Box(-inf, inf, (5,), float64)``, the suite's ``OrderedDict`` in key order: ``position`` (cart
    position (m), cosine and sine of the pole angle from upright, 3) then ``velocity`` (cart velocity,
    pole angular velocity, 2).

    ## Rewards, Starting State, Episode End
    As the suite's ``{task}`` (smooth reward in [0, 1]); never terminates; the registered id truncates after
    1000 steps (10 s at the 0.01 s control step), the suite's time limit.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``; it changes nothing here, since the pole's mass is explicit (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``pole_length`` | 1.0 | [0.05, 10] | m | length of the pole: geom pole_1 ``fromto`` end (MjSpec rebuild) |
    | ``pole_mass`` | 0.1 | [1e-4, 1e4] | kg | body_mass, body_inertia of pole_1 |
    | ``cart_mass`` | 1.0 | [1e-4, 1e4] | kg | body_mass, body_inertia of cart |
    | ``slider_damping`` | 5e-4 | [0, 1e4] | N*s/m | dof_damping of the slider |
    | ``hinge_1_damping`` | 2e-6 | [0, 1e4] | N*m*s/rad | dof_damping of the pole's hinge |

    The pole's mass is explicit in the MJCF, so a longer pole keeps its 0.1 kg and gets the inertia of
    the longer capsule, with ``keep_mass`` or without. Contacts are disabled in the model, so there is no
    friction parameter. Paper 000 (Table 3) varies ``pole_length``: presets ``mankowitz2020/{short}/...``.

    ## Version History
    - v0: first version, on dm_control 1.0.50.
"""

PARAM_SPACE = ParamSpace(
    specs=(
        ParamSpec(
            "pole_length",
            1.0,
            0.05,
            10.0,
            "m",
            "length of the pole (its mass stays 0.1 kg; inertia follows the new capsule)",
            kind="geometry",
            geometry=LengthEdit(moves=(Move("geom_fromto_end", "pole_1", (0.0, 0.0, 1.0)),)),
        ),
        ParamSpec("pole_mass", 0.1, 1e-4, 1e4, "kg", "mass of the pole (scales mass and inertia)", "mass_scale", ("pole_1",)),
        ParamSpec("cart_mass", 1.0, 1e-4, 1e4, "kg", "mass of the cart (scales mass and inertia)", "mass_scale", ("cart",)),
        *damping_specs({"slider": 5e-4, "hinge_1": 2e-6}, slide=("slider",)),
    ),
    owner="RobustCartpoleBalance-v0 and RobustCartpoleSwingup-v0",
)


class _RobustCartpoleEnv(RobustSuiteEnv):
    param_space: ClassVar[ParamSpace] = PARAM_SPACE
    domain: ClassVar[str] = "cartpole"
    xml_file: ClassVar[str] = "cartpole.xml"
    physics_class: ClassVar[type] = cartpole.Physics


class RobustCartpoleBalanceEnv(_RobustCartpoleEnv):
    """dm_control's cartpole ``balance`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="balance", short="cartpole-balance")
    task_name: ClassVar[str] = "balance"
    make_task = staticmethod(make_task_factory(cartpole.Balance, swing_up=False, sparse=False))


class RobustCartpoleSwingupEnv(_RobustCartpoleEnv):
    """dm_control's cartpole ``swingup`` (the full docstring is the shared template below)."""

    __doc__ = _DOCS.format(task="swingup", short="cartpole-swingup")
    task_name: ClassVar[str] = "swingup"
    make_task = staticmethod(make_task_factory(cartpole.Balance, swing_up=True, sparse=False))
