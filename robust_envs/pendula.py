"""Parameters shared by the inverted pendula: lengths and sizes rebuilt through MjSpec, masses and densities."""

from __future__ import annotations

from functools import cache
from importlib import resources

import mujoco

from robust_envs.params import GeometryEdit, ParamSpec


@cache
def upstream_body_mass(xml_file: str, body: str) -> float:
    """
    :param xml_file: a file in Gymnasium's MuJoCo assets folder
    :param body: a body name
    :return: the body's mass in the compiled upstream model (kg)
    """
    path = str(resources.files("gymnasium.envs.mujoco") / "assets" / xml_file)
    return float(mujoco.MjModel.from_xml_path(path).body(body).mass[0])


def mass_spec(name: str, bodies: tuple[str, ...], xml_file: str) -> ParamSpec:
    """A mass parameter: the mass of each of ``bodies`` (equal upstream) at nominal geometry and density (kg)."""
    body = " and ".join(bodies)
    return ParamSpec(
        name=name,
        nominal=upstream_body_mass(xml_file, bodies[0]),
        low=1e-4,
        high=1e4,
        unit="kg",
        description=f"mass of the {body} at nominal geometry and density (scales mass and inertia)",
        kind="mass_scale",
        targets=bodies,
    )


def length_spec(name: str, nominal: float, what: str, edit: GeometryEdit, low: float = 0.01, high: float = 10.0) -> ParamSpec:
    """
    A geometric parameter (m): the model is rebuilt with the edit scaled by ``value / nominal``.

    The rebuilt bodies keep their density, or their mass when the env is made with ``keep_mass=True``.
    """
    return ParamSpec(
        name=name, nominal=nominal, low=low, high=high, unit="m", description=what, kind="geometry", geometry=edit
    )


CART_SIZE_DESCRIPTION = (
    "radius and half-length of the cart capsule (mass follows its volume at fixed density, or stays with keep_mass)"
)
