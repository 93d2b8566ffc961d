"""RobustWalker2d-v0: Gymnasium's Walker2d-v5 with named, perturbable physical parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

from robust_envs.locomotion import forward_reward_terms, in_open_range, planar_observation
from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.params import FRICTION_SPEC, ParamGroup, ParamSpace, density_specs, joint_specs

BODIES = ("torso", "thigh", "leg", "foot", "thigh_left", "leg_left", "foot_left")
JOINTS = ("thigh", "leg", "foot", "thigh_left", "leg_left", "foot_left")


class RobustWalker2dEnv(RobustMujocoEnv, Walker2dEnv):
    """
    ## Description
    Gymnasium's ``Walker2d-v5`` (its ``walker2d_v5.xml``, loaded from the installed gymnasium package;
    same observation, reward, termination, reset noise and keyword arguments) with named, perturbable
    physical parameters. With nominal parameters it reproduces ``Walker2d-v5`` exactly.

    ## Action Space, Observation Space, Rewards, Starting State, Episode End
    As ``Walker2d-v5``; ``info`` also carries ``params``.

    ## Arguments
    ``params``: a mapping from names below (or the group ``density``) to values, or a full vector in this order.

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``<body>_density`` (the 7 bodies) | 1000 | [1e-3, 1e6] | kg/m^3 | body_mass, body_inertia |
    | ``<joint>_damping`` (thigh, leg, foot, thigh_left, leg_left, foot_left) | 0.1 | [0, 1e4] | N*m*s/rad | dof_damping |
    | ``<joint>_armature`` (same joints) | 0.01 | [0, 1e3] | kg*m^2 | dof_armature |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |

    Bodies: torso, thigh, leg, foot, thigh_left, leg_left, foot_left.

    The 20 parameters are the WR2L parameterisation of Walker2d (7 densities, 6 dampings, 6 armatures,
    friction). Contacts use the larger friction of the two geoms (floor 0.7, feet 0.9 and 1.9).

    ## Version History
    - v0: first version, on Gymnasium's Walker2d-v5.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            *density_specs(BODIES),
            *joint_specs({f"{j}_joint": (0.1, 0.01) for j in JOINTS}),
            FRICTION_SPEC,
        ),
        groups=(ParamGroup("density", tuple(f"{b}_density" for b in BODIES), "density of every body"),),
        owner="RobustWalker2d-v0",
    )
    upstream_id: ClassVar[str] = "Walker2d-v5"

    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        healthy = in_open_range(qpos.T[1], self._healthy_z_range) & in_open_range(qpos.T[2], self._healthy_angle_range)
        observation = planar_observation(qpos, qvel, self._exclude_current_positions_from_observation, 10.0)
        reward, info = forward_reward_terms(self, qpos_before, qpos, action, healthy)
        terminated = ~healthy & self._terminate_when_unhealthy
        return observation, reward, terminated, info
