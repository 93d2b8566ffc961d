"""RobustInvertedDoublePendulum-v0: Gymnasium's InvertedDoublePendulum-v5 with perturbable pole lengths, cart and masses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.inverted_double_pendulum_v5 import InvertedDoublePendulumEnv

from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.params import GeometryEdit, ParamGroup, ParamSpace, density_specs, joint_specs
from robust_envs.pendula import CART_SIZE_DESCRIPTION, length_spec, mass_spec

XML = "inverted_double_pendulum.xml"


class RobustInvertedDoublePendulumEnv(RobustMujocoEnv, InvertedDoublePendulumEnv):
    """
    ## Description
    Gymnasium's ``InvertedDoublePendulum-v5`` (same XML, loaded from the installed gymnasium package; same
    observation, reward, termination and reset noise) with named, perturbable physical parameters. With
    nominal parameters it reproduces ``InvertedDoublePendulum-v5`` exactly.

    ## Action Space, Observation Space, Rewards, Starting State, Episode End
    As ``InvertedDoublePendulum-v5``; ``info`` also carries ``params``. The episode ends when the tip
    of the second pole is at or below 1 m, whatever the pole lengths.

    ## Arguments
    ``params``: a mapping from names below (or the group ``density``) to values, or a full vector in this order.
    ``keep_mass``: ``False`` (default) or ``True``: what a length or size change keeps, each body's density or
    its mass.

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``pole1_length`` | 0.6 | [0.01, 10] | m | geom cpole fromto, body pole2 pos (in place; mass: see ``keep_mass``) |
    | ``pole2_length`` | 0.6 | [0.01, 10] | m | geom cpole2 fromto, site tip pos (in place; mass: see ``keep_mass``) |
    | ``cart_size`` | 0.1 | [0.005, 1] | m | geom cart size (in place; mass: see ``keep_mass``) |
    | ``pole_mass`` | 4.1987 | [1e-4, 1e4] | kg | body_mass, body_inertia of pole and pole2 |
    | ``cart_mass`` | 10.472 | [1e-4, 1e4] | kg | body_mass, body_inertia of cart |
    | ``cart_density``, ``pole_density``, ``pole2_density`` | 1000 | [1e-3, 1e6] | kg/m^3 | body_mass, body_inertia |
    | ``slider_damping`` | 0.05 | [0, 1e4] | N*s/m | dof_damping |
    | ``slider_armature`` | 0.0 | [0, 1e3] | kg | dof_armature |

    ``pole_mass`` is the mass of each pole at nominal geometry and density (both poles are equal);
    see :class:`~robust_envs.inverted_pendulum.RobustInvertedPendulumEnv` for how masses, densities and
    lengths combine, and how lengths are written into the compiled model in place (no recompile). With
    ``keep_mass=False`` (default) a longer pole is heavier (its density stays); with
    ``keep_mass=True`` every body keeps its nominal mass and gets the inertia of its new shape, the variant
    of Roboschool's benchmark that Jiang et al. (2021), Table 1, use (presets
    ``jiang2021/inverteddoublependulum/...``). No body has contacts, so there is no friction parameter.

    ## Rendering
    As ``InvertedDoublePendulum-v5`` (``render_mode="rgb_array"``: ``(height, width, 3)`` uint8 frames, 480 x 480 by
    default; the camera's distance is the model's extent), but the camera looks at the rail's centre instead of the
    first rendered state, so a frame depends on the state and the geometry alone.

    ## Version History
    - v0: first version, on Gymnasium's InvertedDoublePendulum-v5.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            length_spec(
                "pole1_length", 0.6, "length of the lower pole", GeometryEdit(geom_fromto=("cpole",), body_pos=("pole2",))
            ),
            length_spec(
                "pole2_length", 0.6, "length of the upper pole", GeometryEdit(geom_fromto=("cpole2",), site_pos=("tip",))
            ),
            length_spec("cart_size", 0.1, CART_SIZE_DESCRIPTION, GeometryEdit(geom_size=("cart",)), low=0.005, high=1.0),
            mass_spec("pole_mass", ("pole", "pole2"), XML),
            mass_spec("cart_mass", ("cart",), XML),
            *density_specs(("cart", "pole", "pole2")),
            *joint_specs({"slider": (0.05, 0.0)}, slide=("slider",)),
        ),
        groups=(ParamGroup("density", ("cart_density", "pole_density", "pole2_density"), "density of every body"),),
        owner="RobustInvertedDoublePendulum-v0",
    )
    upstream_id: ClassVar[str] = "InvertedDoublePendulum-v5"
    # v5's camera looks at the median of the geoms' positions in the first rendered state: fixed at the rail's centre
    render_camera_config: ClassVar[dict[str, Any] | None] = {"lookat": np.zeros(3)}
    derived_fields: ClassVar[tuple[str, ...]] = ("site_xpos", "qfrc_constraint")
    reads_qpos_before: ClassVar[bool] = False

    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        tip = derived["site_xpos"][..., 0, :]
        x, y = tip.T[0], tip.T[2]
        observation = np.concatenate(
            (
                qpos[..., :1],
                np.sin(qpos[..., 1:]),
                np.cos(qpos[..., 1:]),
                np.clip(qvel, -10, 10),
                np.clip(derived["qfrc_constraint"], -10, 10)[..., :1],
            ),
            axis=-1,
        )
        terminated = y <= 1
        # Gymnasium v5's _get_rew, in its order of operations
        v1, v2 = qvel.T[1], qvel.T[2]
        dist_penalty = 0.01 * x**2 + (y - 2) ** 2
        vel_penalty = 1e-3 * v1**2 + 5e-3 * v2**2
        alive_bonus = self._healthy_reward * ~terminated
        reward = alive_bonus - dist_penalty - vel_penalty
        info = {"reward_survive": alive_bonus, "distance_penalty": -dist_penalty, "velocity_penalty": -vel_penalty}
        return observation, reward, terminated, info
