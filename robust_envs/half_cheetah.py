"""RobustHalfCheetah-v0: Gymnasium's HalfCheetah-v5 with named, perturbable physical parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import DEFAULT_CAMERA_CONFIG, HalfCheetahEnv

from robust_envs.locomotion import forward_reward_terms, planar_observation
from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.params import FRICTION_SPEC, ParamGroup, ParamSpace, density_specs, joint_specs

BODIES = ("torso", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
JOINT_DAMPING = {"bthigh": 6.0, "bshin": 4.5, "bfoot": 3.0, "fthigh": 4.5, "fshin": 3.0, "ffoot": 1.5}


class RobustHalfCheetahEnv(RobustMujocoEnv, HalfCheetahEnv):
    """
    ## Description
    Gymnasium's ``HalfCheetah-v5`` (same XML, loaded from the installed gymnasium package; same observation,
    reward, reset noise and keyword arguments) with named, perturbable physical parameters. With nominal
    parameters it reproduces ``HalfCheetah-v5`` exactly.

    ## Action Space, Observation Space, Rewards, Starting State, Episode End
    As ``HalfCheetah-v5`` (never terminates); ``info`` also carries ``params``.

    ## Arguments
    ``params``: a mapping from names below (or the group ``density``) to values, or a full vector in this order.

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``<body>_density`` (the 7 bodies) | 1000 | [1e-3, 1e6] | kg/m^3 | body_mass, body_inertia |
    | ``<joint>_damping`` (the 6 joints) | see below | [0, 1e4] | N*m*s/rad | dof_damping |
    | ``<joint>_armature`` (same joints) | 0.1 | [0, 1e3] | kg*m^2 | dof_armature |
    | ``friction`` | 1.0 | [0, 100] | factor | geom_friction[:, 0] of every geom |

    Bodies: torso, bthigh, bshin, bfoot, fthigh, fshin, ffoot. Nominal damping: bthigh 6, bshin 4.5,
    bfoot 3, fthigh 4.5, fshin 3, ffoot 1.5 (the XML's).

    The XML declares the MuJoCo default density 1000 and then rescales all masses to a total of 14 kg
    (``settotalmass``); a density parameter scales the compiled mass and inertia of its body by
    ``density / 1000``, so it is a density relative to the declared one, not the body's effective kg/m^3.

    ## Rendering
    As ``HalfCheetah-v5`` (``render_mode="rgb_array"``: ``(height, width, 3)`` uint8 frames, 480 x 480 by default), but
    the camera looks at the point v5 picks in the initial pose (``(0, 0, 0.38)``) instead of one taken from the first
    rendered state, so a frame depends on the state alone. As in v5 the camera does not follow the cheetah.

    ## Version History
    - v0: first version, on Gymnasium's HalfCheetah-v5.
    """

    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            *density_specs(BODIES),
            *joint_specs({joint: (damping, 0.1) for joint, damping in JOINT_DAMPING.items()}),
            FRICTION_SPEC,
        ),
        groups=(ParamGroup("density", tuple(f"{b}_density" for b in BODIES), "density of every body"),),
        owner="RobustHalfCheetah-v0",
    )
    upstream_id: ClassVar[str] = "HalfCheetah-v5"
    # v5's camera looks at the median of the geoms' positions in the first rendered state: fixed at its initial pose's
    render_camera_config: ClassVar[dict[str, Any] | None] = {**DEFAULT_CAMERA_CONFIG, "lookat": np.array([0.0, 0.0, 0.38])}

    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        observation = planar_observation(qpos, qvel, self._exclude_current_positions_from_observation, None)
        reward, info = forward_reward_terms(self, qpos_before, qpos, action, None)
        # it never terminates; a Python False for one state spares step() a 0-d array
        terminated = False if qpos.ndim == 1 else np.zeros(qpos.shape[0], dtype=bool)
        return observation, reward, terminated, info
