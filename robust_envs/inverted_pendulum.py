"""RobustInvertedPendulum-v0: Gymnasium's InvertedPendulum-v5 with perturbable pole length, cart size and masses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.inverted_pendulum_v5 import DEFAULT_CAMERA_CONFIG, InvertedPendulumEnv

from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.params import GeometryEdit, ParamGroup, ParamSpace, density_specs, joint_specs
from robust_envs.pendula import CART_SIZE_DESCRIPTION, length_spec, mass_spec

XML = "inverted_pendulum.xml"


class RobustInvertedPendulumEnv(RobustMujocoEnv, InvertedPendulumEnv):
    """
    ## Description
    Gymnasium's ``InvertedPendulum-v5`` (same XML, loaded from the installed gymnasium package; same
    observation, reward, termination and reset noise) with named, perturbable physical parameters. With
    nominal parameters it reproduces ``InvertedPendulum-v5`` exactly.

    ## Action Space, Observation Space, Rewards, Starting State, Episode End
    As ``InvertedPendulum-v5`` (reward 1.0 per step as a float); ``info`` also carries ``params``.

    ## Arguments
    ``params``: a mapping from names below (or the group ``density``) to values, or a full vector in this order.
    ``keep_mass``: ``False`` (default) or ``True``: what a length or size change keeps, each body's density or
    its mass (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``pole_length`` | 0.6 | [0.01, 10] | m | geom cpole fromto (in place; mass: see ``keep_mass``) |
    | ``cart_size`` | 0.1 | [0.005, 1] | m | geom cart size: radius and half-length (in place; mass: ``keep_mass``) |
    | ``pole_mass`` | 5.0186 | [1e-4, 1e4] | kg | body_mass, body_inertia of pole |
    | ``cart_mass`` | 10.472 | [1e-4, 1e4] | kg | body_mass, body_inertia of cart |
    | ``cart_density``, ``pole_density`` | 1000 | [1e-3, 1e6] | kg/m^3 | body_mass, body_inertia |
    | ``slider_damping`` | 1.0 | [0, 1e4] | N*s/m | dof_damping |
    | ``slider_armature`` | 0.0 | [0, 1e3] | kg | dof_armature |

    Lengths and sizes are written into the compiled model in place, as MuJoCo's compiler would compute them
    (sizes, frames, bounding boxes, masses, inertias, statistics; equal to an MjSpec rebuild within 1e-12, see
    ``ModelBuilder.geometry_path``), so a new length costs no recompile. With ``keep_mass=False`` (default)
    each body keeps its density, so its mass and inertia follow the new volume: a longer pole is heavier, and
    the cart of Jiang et al.'s testing range (``cart_size`` 0.025-0.05 m) weighs 0.16-1.3 kg instead of
    10.47 kg against the same 100 N/unit motor. With ``keep_mass=True`` each body keeps its nominal mass and
    gets the inertia (and centre of mass) of its new shape: the variant that reproduces Roboschool's
    generalisation benchmark (geometry changes, masses stay), which Jiang et al. (2021), Table 1, used (presets
    ``jiang2021/invertedpendulum/...``). A ``_mass`` parameter is the body's mass at nominal geometry and
    density; mass parameters, densities and (with ``keep_mass=False``) geometry multiply, so ``pole_mass=m``
    alone gives a pole of exactly ``m`` kg, and with ``keep_mass=True`` at any length. The bodies never touch
    anything (``contype=0``), so the env has no friction parameter.

    ## Rendering
    As ``InvertedPendulum-v5`` (``render_mode="rgb_array"``: ``(height, width, 3)`` uint8 frames, 480 x 480 by
    default), but the camera looks at the rail's centre instead of the first rendered state, so a frame depends on
    the state alone. Poles longer than about 0.8 m leave the frame at the top: pass a farther camera, e.g.
    ``default_camera_config={"distance": 4.2, "lookat": [0, 0, 1.15]}`` for a 2.5 m pole.

    ## Version History
    - v0: first version, on Gymnasium's InvertedPendulum-v5.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            length_spec("pole_length", 0.6, "length of the pole", GeometryEdit(geom_fromto=("cpole",))),
            length_spec("cart_size", 0.1, CART_SIZE_DESCRIPTION, GeometryEdit(geom_size=("cart",)), low=0.005, high=1.0),
            mass_spec("pole_mass", ("pole",), XML),
            mass_spec("cart_mass", ("cart",), XML),
            *density_specs(("cart", "pole")),
            *joint_specs({"slider": (1.0, 0.0)}, slide=("slider",)),
        ),
        groups=(ParamGroup("density", ("cart_density", "pole_density"), "density of every body"),),
        owner="RobustInvertedPendulum-v0",
    )
    upstream_id: ClassVar[str] = "InvertedPendulum-v5"
    reads_qpos_before: ClassVar[bool] = False
    # v5's camera looks at the median of the geoms' positions in the first rendered state: fixed at the rail's centre
    render_camera_config: ClassVar[dict[str, Any] | None] = {**DEFAULT_CAMERA_CONFIG, "lookat": np.zeros(3)}

    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        observation = np.concatenate((qpos, qvel), axis=-1)
        if observation.ndim == 1:
            # one state (step): Python bools, as Gymnasium's code, because numpy's per-call overhead on
            # 0-d values would be a sizeable share of this cheap env's step
            terminated = not np.isfinite(observation).all() or abs(observation[1]) > 0.2
            reward = 0.0 if terminated else 1.0
        else:
            terminated = ~np.all(np.isfinite(observation), axis=-1) | (np.abs(observation[:, 1]) > 0.2)
            reward = 1.0 - terminated
        return observation, reward, terminated, {"reward_survive": reward}
