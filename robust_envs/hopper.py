"""RobustHopper-v0: Gymnasium's Hopper-v5 with named, perturbable physical parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

from robust_envs.locomotion import forward_reward_terms, in_open_range, planar_observation
from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.params import FRICTION_SPEC, ParamGroup, ParamSpace, density_specs, joint_specs

BODIES = ("torso", "thigh", "leg", "foot")


class RobustHopperEnv(RobustMujocoEnv, HopperEnv):
    """
    ## Description
    Gymnasium's ``Hopper-v5`` (same XML, loaded from the installed gymnasium package; same observation,
    reward, termination, reset noise and keyword arguments) whose physics can be perturbed through named
    parameters. With nominal parameters it reproduces ``Hopper-v5`` exactly.

    ## Action Space, Observation Space, Rewards, Starting State, Episode End
    As ``Hopper-v5``; ``info`` also carries ``params``.

    ## Arguments
    ``params``: a mapping from names below (or the group ``density``) to values, or a full vector in this order.
    All other keyword arguments are those of ``Hopper-v5``.

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``<body>_density`` (torso, thigh, leg, foot) | 1000 | [1e-3, 1e6] | kg/m^3 | body_mass, body_inertia |
    | ``<joint>_damping`` (thigh, leg, foot) | 1.0 | [0, 1e4] | N*m*s/rad | dof_damping |
    | ``<joint>_armature`` (thigh, leg, foot) | 1.0 | [0, 1e3] | kg*m^2 | dof_armature |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |

    The 11 parameters are the WR2L parameterisation of the Hopper (densities of the four links, damping
    and armature of the three joints, friction). MuJoCo uses the larger friction of the two geoms in
    contact (the foot has 2.0, the floor 1.0), which is why ``friction`` scales every geom.

    ## Version History
    - v0: first version, on Gymnasium's Hopper-v5.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            *density_specs(BODIES),
            *joint_specs({f"{j}_joint": (1.0, 1.0) for j in ("thigh", "leg", "foot")}),
            FRICTION_SPEC,
        ),
        groups=(ParamGroup("density", tuple(f"{b}_density" for b in BODIES), "density of every body"),),
        owner="RobustHopper-v0",
    )
    upstream_id: ClassVar[str] = "Hopper-v5"

    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        state = np.concatenate((qpos, qvel), axis=-1)[..., 2:]
        healthy = (
            np.all(in_open_range(state, self._healthy_state_range), axis=-1)
            & in_open_range(qpos.T[1], self._healthy_z_range)
            & in_open_range(qpos.T[2], self._healthy_angle_range)
        )
        observation = planar_observation(qpos, qvel, self._exclude_current_positions_from_observation, 10.0)
        reward, info = forward_reward_terms(self, qpos_before, qpos, action, healthy)
        terminated = ~healthy & self._terminate_when_unhealthy
        return observation, reward, terminated, info
