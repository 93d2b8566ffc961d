"""Shared fixtures: the registered robust ids, grouped by the machinery they use."""

from __future__ import annotations

import ctypes.util
import os

# Headless rendering (tests/test_render.py): dm_control fixes its OpenGL backend when it is first imported, which the
# imports below do, so the backend is chosen here. EGL works through Mesa's libEGL without a display or GPU; a machine
# with OSMesa instead sets MUJOCO_GL=osmesa itself.
os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"] == "osmesa" and ctypes.util.find_library("OSMesa") is None:
    # without the library `import mujoco` itself fails, deep inside PyOpenGL
    raise RuntimeError("MUJOCO_GL=osmesa but libOSMesa is not installed (Debian: libosmesa6); install it or use MUJOCO_GL=egl")

import gymnasium as gym
import pytest

import robust_envs
from robust_envs.mujoco_env import RobustMujocoEnv

ROBUST_IDS = [entry.env_id for entry in robust_envs.ENVS]
MUJOCO_IDS = [env_id for env_id in ROBUST_IDS if issubclass(robust_envs.env_class(env_id), RobustMujocoEnv)]
#: MuJoCo envs that reproduce a Gymnasium env at nominal parameters (the hand's upstream class does not run)
UPSTREAM_MUJOCO_IDS = [env_id for env_id in MUJOCO_IDS if getattr(robust_envs.env_class(env_id), "upstream_id", None)]


def make_unwrapped(env_id: str, **kwargs):
    """A robust env without Gymnasium's wrappers (for state access)."""
    return gym.make(env_id, **kwargs).unwrapped


@pytest.fixture(autouse=True, scope="session")
def sb3_log_folder(tmp_path_factory):
    """
    SB3 makes a new folder ``SB3-<date>`` in the system's temporary directory at every ``learn()`` without a logger
    (its ``configure``): thousands of training tests would leave thousands of them behind, so they all share one
    folder under pytest's own temporary directory, which pytest cleans up.
    """
    folder = tmp_path_factory.mktemp("sb3-logs")
    previous = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["SB3_LOGDIR"]
    else:
        os.environ["SB3_LOGDIR"] = previous


@pytest.fixture(params=MUJOCO_IDS)
def mujoco_id(request) -> str:
    return request.param
