"""RobustShadowHandCube-v0: the Shadow hand of gymnasium-robotics turning a cube of perturbable size to a goal orientation."""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco import MujocoEnv
from gymnasium.utils import EzPickle

from robust_envs.mujoco_env import RobustMujocoEnv
from robust_envs.mujoco_model import ModelBuilder
from robust_envs.params import FRICTION_SPEC, GeometryEdit, ParamSpace, ParamSpec

#: The cube's geoms: the collision box, its textured visual box (mass 0) and the goal's display box.
CUBE_GEOMS = ("object", "object_hidden", "target")
#: Density of the cube in the MJCF (kg/m^3); its mass is inferred from its volume.
CUBE_DENSITY = 567.0
#: Number of actuated hand DoFs and of hand joints (the distal joints J0 of four fingers are coupled by tendons).
N_ACTUATORS = 20
N_HAND_JOINTS = 24
#: MuJoCo substeps per env step (gymnasium-robotics' ``n_substeps``): 20 x 0.002 s = 0.04 s.
N_SUBSTEPS = 20
#: How far the goal's display box sits from the cube's start (m, +x), as gymnasium-robotics draws an ignored position.
TARGET_DISPLAY_OFFSET = 0.15
#: Orientation error below which ``info["is_success"]`` is true (rad; gymnasium-robotics' ``rotation_threshold``).
SUCCESS_ANGLE = 0.1
#: Cube centre height above which a settled cube counts as resting on the palm (m; gymnasium-robotics' test).
ON_PALM_HEIGHT = 0.04
#: Env steps with the hand at the centre of its ranges that let the dropped cube settle at reset (as gymnasium-robotics).
SETTLE_STEPS = 10
MAX_RESET_ATTEMPTS = 100

#: Observation layout: (name, size) in order.
OBSERVATION_FIELDS: tuple[tuple[str, int], ...] = (
    ("hand_qpos", N_HAND_JOINTS),
    ("hand_qvel", N_HAND_JOINTS),
    ("cube_position", 3),
    ("cube_quaternion", 4),
    ("cube_velocity", 6),
    ("goal_quaternion", 4),
)
OBS_DIM = sum(size for _, size in OBSERVATION_FIELDS)


def hand_xml_path() -> str:
    """
    :return: the absolute path of ``manipulate_block.xml`` inside the installed gymnasium-robotics package
        (found without importing the package, which registers its envs and prints deprecation notes)
    :raises ImportError: gymnasium-robotics is not installed
    """
    found = importlib.util.find_spec("gymnasium_robotics")
    if found is None or not found.submodule_search_locations:
        raise ImportError(
            "RobustShadowHandCube-v0 loads the Shadow hand MJCF from gymnasium-robotics: "
            "pip install 'gymnasium-robotics>=1.4,<1.5'"
        )
    return os.path.join(found.submodule_search_locations[0], "envs", "assets", "hand", "manipulate_block.xml")


def prepare_hand_spec(spec: mujoco.MjSpec) -> None:
    """
    The two structural edits that turn gymnasium-robotics' block MJCF into this task's model (applied in place).

    1. The position actuators take normalised targets: ``ctrl`` in ``[-1, 1]`` maps to the centre of the joint's
       control range plus ``ctrl`` times its half-range, the mapping of gymnasium-robotics' absolute control
       (``relative_control=False``). Gain and bias absorb it: ``kp (c + a h - q) = (kp h) a + kp c - kp q``.
    2. The goal body's free joint becomes a ball joint at its centre of mass, shown beside the cube: its
       quaternion is the goal, so the goal is part of MuJoCo's physics state (``get_state``, ``set_state``
       and ``mujoco.rollout`` carry it) and stays exactly constant (no velocity, no force, no contact).

    :param spec: the parsed ``manipulate_block.xml``
    """
    for actuator in spec.actuators:
        low, high = (float(v) for v in actuator.ctrlrange)
        kp = float(actuator.gainprm[0])
        centre, half = (high + low) / 2.0, (high - low) / 2.0
        gain = np.array(actuator.gainprm, dtype=np.float64)
        bias = np.array(actuator.biasprm, dtype=np.float64)
        gain[0] = kp * half
        bias[0], bias[1] = kp * centre, -kp
        actuator.gainprm, actuator.biasprm = gain, bias
        actuator.ctrlrange = np.array([-1.0, 1.0])
    target = spec.body("target")
    target.pos = np.array(target.pos, dtype=np.float64) + np.array([TARGET_DISPLAY_OFFSET, 0.0, 0.0])
    spec.joint("target:joint").type = mujoco.mjtJoint.mjJNT_BALL


def quaternion_about_z(angle: float) -> np.ndarray:
    """:return: the unit quaternion (w, x, y, z) of a rotation by ``angle`` about the z axis."""
    return np.array([math.cos(angle / 2.0), 0.0, 0.0, math.sin(angle / 2.0)])


def orientation_error(quat_a: np.ndarray, quat_b: np.ndarray) -> np.ndarray:
    """
    The angle of the rotation between two orientations, ``2 arccos(|<q_a, q_b>|)``, in ``[0, pi]``.

    ``<q_a, q_b>`` is the scalar part of ``q_a q_b^*``; its absolute value makes ``q`` and ``-q`` (the same
    orientation) equal.

    :param quat_a: unit quaternions (w, x, y, z), (..., 4)
    :param quat_b: unit quaternions, (..., 4)
    :return: the angles in radians, (...)
    """
    dot = np.abs(np.sum(quat_a * quat_b, axis=-1))
    return 2.0 * np.arccos(np.minimum(dot, 1.0))


class RobustShadowHandCubeEnv(RobustMujocoEnv, MujocoEnv, EzPickle):
    r"""
    ## Description
    The dexterous in-hand manipulation task of Mankowitz et al., "Robust Reinforcement Learning for Continuous
    Control with Model Misspecification" (ICLR 2020), section 4.1: a Shadow hand must turn a cube, which
    lies on its palm, to a goal orientation. The model is ``hand/manipulate_block.xml`` of the installed
    gymnasium-robotics wheel (loaded from the package, not copied); the env code is ours because
    gymnasium-robotics' ``HandManipulateBlock`` classes fail on mujoco >= 3.12. Two structural edits
    (:func:`prepare_hand_spec`) normalise the actuators and put the goal into the physics state.

    The goal is a **rotation about the vertical (z) axis**, ``U[-pi, pi)``, and the cube starts rotated
    about z by another ``U[-pi, pi)``: gymnasium-robotics' ``HandManipulateBlockRotateZ`` distribution.
    The paper says only that the cube is rotated "into a pre-defined orientation"; the z-rotation variant
    is the one of that family that agents learn within the paper's budget (6k episodes of 200 steps),
    and the full ``xyz`` variant needs the cube to be flipped, which changes what the cube size tests.

    ## Action Space
    ``Box(-1, 1, (20,), float32)``: position targets of the 20 actuators, normalised: ``a`` maps to the
    centre of the actuator's control range plus ``a`` times its half-range (gymnasium-robotics' absolute
    control). The paper's hand takes "desired angular velocities" instead; position targets are what
    this MJCF's actuators are.

    ## Observation Space
    ``Box(-inf, inf, (65,), float64)``, in this order: the 24 hand joint angles (rad), their 24 velocities
    (rad/s), the cube's position (3, m, world frame), its orientation quaternion (4, w x y z), its linear
    and angular velocity (6, as MuJoCo's free-joint ``qvel``: world-frame linear, body-frame angular), and
    the goal orientation quaternion (4). The paper's 79-d state comes from another simulation of the hand.

    ## Rewards
    ``r = -theta``, with ``theta = 2 arccos(|<q_cube, q_goal>|)`` in ``[0, pi]`` the angle of the rotation that
    takes the cube to the goal (:func:`orientation_error`): gymnasium-robotics' dense reward with the target
    position ignored, written so that ``q`` and ``-q`` count as the same orientation. ``info`` carries
    ``orientation_error`` and ``is_success`` (``theta < 0.1`` rad, gymnasium-robotics' threshold).

    ## Starting State
    The hand at its MJCF pose with every actuator at the centre of its range; the cube dropped from the
    MJCF's start (1, 0.87, 0.2) m with ``N(0, 0.005^2)`` noise per axis and its z rotation, then left to
    settle for 10 env steps (0.4 s) as gymnasium-robotics does; a reset in which the cube does not come to
    rest on the palm (centre above 0.04 m) is redrawn. Then the goal is drawn. ``np_random`` draws, in order:
    cube angle, cube position noise (3), [redraws], goal angle.

    ## Episode End
    The task never terminates (a dropped cube keeps paying its orientation error); the registered id
    truncates after 200 steps (8 s), the paper's episode length.

    ## Arguments
    ``params``: a mapping from the names below to values, or a full vector in this order. ``keep_mass``:
    ``False`` (default) or ``True``: what a size change keeps, the cube's density or its mass (below).

    | parameter | nominal | bounds | unit | edits |
    |---|---|---|---|---|
    | ``cube_half_width`` | 0.025 | [0.005, 0.1] | m | sizes of geoms object, object_hidden, target (in place; mass: below) |
    | ``cube_density`` | 567 | [1, 1e5] | kg/m^3 | body_mass, body_inertia of object |
    | ``friction`` | 1.0 | [0, 100] | 1 (factor) | geom_friction[:, 0] of every geom |

    ``cube_half_width`` is the paper's "half-cube width" (Table 3: uncertainty set 0.025, 0.022, 0.02 m,
    hold-out 0.021, 0.018, 0.015 m; presets ``mankowitz2020/shadowhand/uncertainty`` and ``.../holdout``).
    The cube's collision box, its visual box and the goal's display box scale together, written into the
    compiled model in place (sizes, bounding boxes, the cube's mass and inertia, the statistics; equal to an
    MjSpec rebuild within 1e-12, ``ModelBuilder.geometry_path`` is ``"in place"``): no recompile. The MJCF gives the
    collision box ``density="567"`` and the visual box ``mass="0"``, so the cube's mass is inferred from its
    volume: with ``keep_mass=False`` (default) it is that of the new volume at the MJCF's density,
    ``567 (2 w)^3`` kg; with ``keep_mass=True`` it stays at the nominal cube's ``567 (0.05)^3 = 0.0709`` kg.
    Either way the inertia is that of the new box, ``m (2 w)^2 / 6``. ``cube_density`` then scales mass and
    inertia: with ``keep_mass=True`` it is the density of the nominal-size cube, ``m = cube_density (0.05)^3``.

    Other keyword arguments: ``render_mode`` (``"human"``, ``"rgb_array"``, ``"depth_array"``), ``width``, ``height``.

    ## Version History
    - v0: first version, on gymnasium-robotics 1.4's ``manipulate_block.xml``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 25}
    param_space: ClassVar[ParamSpace] = ParamSpace(
        specs=(
            ParamSpec(
                "cube_half_width",
                0.025,
                0.005,
                0.1,
                "m",
                "half the cube's edge: collision and visual boxes, mass (fixed density, or kept with keep_mass) and inertia",
                kind="geometry",
                geometry=GeometryEdit(geom_size=CUBE_GEOMS),
            ),
            ParamSpec(
                "cube_density",
                CUBE_DENSITY,
                1.0,
                1e5,
                "kg/m^3",
                "density of the cube (mass and inertia scale with it)",
                kind="mass_scale",
                targets=("object",),
            ),
            FRICTION_SPEC,
        ),
        owner="RobustShadowHandCube-v0",
    )
    #: No working upstream env: gymnasium-robotics' own class fails on mujoco >= 3.12 (see the module docstring).
    upstream_id: ClassVar[str | None] = None  # type: ignore[assignment]
    reads_qpos_before: ClassVar[bool] = False

    def __init__(
        self,
        params: Any = None,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        keep_mass: bool = False,
    ) -> None:
        self._init_robust(params, keep_mass)
        MujocoEnv.__init__(
            self,
            model_path=hand_xml_path(),
            frame_skip=N_SUBSTEPS,
            observation_space=spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float64),
            render_mode=render_mode,
            width=width,
            height=height,
            default_camera_config={"distance": 0.5, "azimuth": 55.0, "elevation": -25.0, "lookat": np.array([1, 0.96, 0.14])},
        )
        EzPickle.__init__(self, params=params, render_mode=render_mode, width=width, height=height, keep_mass=keep_mass)
        model = self.model
        hand = range(N_HAND_JOINTS)
        self._hand_qpos = np.array([model.jnt_qposadr[j] for j in hand])
        self._hand_qvel = np.array([model.jnt_dofadr[j] for j in hand])
        cube, goal = model.joint("object:joint"), model.joint("target:joint")
        self._cube_qpos = int(model.jnt_qposadr[cube.id])
        self._cube_qvel = int(model.jnt_dofadr[cube.id])
        self._goal_qpos = int(model.jnt_qposadr[goal.id])
        self._centre_ctrl = np.zeros(model.nu)

    def _make_builder(self) -> ModelBuilder:
        """:return: the model builder, whose compiled models carry :func:`prepare_hand_spec`'s structural edits."""
        # the cube's geometry scales with its size; its mass follows from the new volume at the MJCF's density
        # (567 kg/m^3), or stays at the nominal cube's with keep_mass, and the inertia is that of the new box
        return ModelBuilder(self.fullpath, self.param_space, prepare_spec=prepare_hand_spec, keep_mass=self._keep_mass)

    # ---- task, as functions of the state -----------------------------------------------------------
    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        observation = self._observation(qpos, qvel)
        cube_quat = qpos[..., self._cube_qpos + 3 : self._cube_qpos + 7]
        goal_quat = qpos[..., self._goal_qpos : self._goal_qpos + 4]
        error = orientation_error(cube_quat, goal_quat)
        terminated = np.zeros(error.shape, dtype=bool)
        return observation, -error, terminated, {"orientation_error": error, "is_success": error < SUCCESS_ANGLE}

    def _observation(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        c, v, g = self._cube_qpos, self._cube_qvel, self._goal_qpos
        return np.concatenate(
            (
                qpos[..., self._hand_qpos],
                qvel[..., self._hand_qvel],
                qpos[..., c : c + 7],
                qvel[..., v : v + 6],
                qpos[..., g : g + 4],
            ),
            axis=-1,
        )

    # ---- reset ---------------------------------------------------------------------------------------
    def reset_model(self) -> np.ndarray:
        """
        Drop the cube on the palm (redrawn until it rests there), then draw the goal; see the class docstring.

        :return: the first observation
        :raises RuntimeError: the cube did not come to rest on the palm in :data:`MAX_RESET_ATTEMPTS` draws
        """
        model, data = self.model, self.data
        c = self._cube_qpos
        for _ in range(MAX_RESET_ATTEMPTS):
            mujoco.mj_resetData(model, data)
            angle = self.np_random.uniform(-np.pi, np.pi)
            data.qpos[c + 3 : c + 7] = quaternion_about_z(angle)
            data.qpos[c : c + 3] += self.np_random.normal(size=3, scale=0.005)
            data.ctrl[:] = self._centre_ctrl
            mujoco.mj_step(model, data, nstep=SETTLE_STEPS * self.frame_skip)
            if data.qpos[c + 2] > ON_PALM_HEIGHT and np.all(np.isfinite(data.qpos)):
                break
        else:
            raise RuntimeError(
                f"The cube (half width {self.params['cube_half_width']} m) did not come to rest on the palm in "
                f"{MAX_RESET_ATTEMPTS} draws; use a size the hand can hold"
            )
        data.qpos[self._goal_qpos : self._goal_qpos + 4] = quaternion_about_z(self.np_random.uniform(-np.pi, np.pi))
        mujoco.mj_forward(model, data)
        return self._observation(data.qpos, data.qvel)

    def _get_reset_info(self) -> dict[str, Any]:
        data = self.data
        c, g = self._cube_qpos, self._goal_qpos
        error = float(orientation_error(data.qpos[c + 3 : c + 7], data.qpos[g : g + 4]))
        return {"orientation_error": error, "is_success": error < SUCCESS_ANGLE}

    @property
    def goal(self) -> np.ndarray:
        """The goal orientation quaternion (w, x, y, z), a new array."""
        return self.data.qpos[self._goal_qpos : self._goal_qpos + 4].copy()
