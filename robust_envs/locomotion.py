"""
Observation, reward and health of Gymnasium's planar walkers (v5), vectorised over a batch of states.

The functions take one state (1-d arrays, as ``step`` passes them) or a batch (2-d, rows of states, as
the sampler passes them). Components are read as ``x.T[i]``, which is a numpy scalar for one state and
a column for a batch: numpy scalars keep ``step`` as fast as Gymnasium's own code.
"""

from __future__ import annotations

import numpy as np


def planar_observation(qpos: np.ndarray, qvel: np.ndarray, exclude_x: bool, velocity_clip: float | None) -> np.ndarray:
    """
    Gymnasium v5's ``_get_obs`` of Hopper, Walker2d and HalfCheetah, for (..., nq) and (..., nv) inputs.

    :param qpos: joint positions, (nq,) or (rows, nq)
    :param qvel: joint velocities, (nv,) or (rows, nv)
    :param exclude_x: drop the root's x position (``exclude_current_positions_from_observation``)
    :param velocity_clip: clip velocities to ``[-c, c]`` (Hopper and Walker2d use 10), or ``None``
    :return: the observations
    """
    position = qpos[..., 1:] if exclude_x else qpos
    velocity = np.clip(qvel, -velocity_clip, velocity_clip) if velocity_clip is not None else qvel
    return np.concatenate((position, velocity), axis=-1)


def in_open_range(value: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """:return: ``low < value < high`` element-wise."""
    low, high = bounds
    return (low < value) & (value < high)


def forward_reward_terms(
    env,
    qpos_before: np.ndarray,
    qpos: np.ndarray,
    action: np.ndarray,
    healthy: np.ndarray | None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """
    The v5 reward: forward velocity, plus a healthy bonus where the task has one, minus the control cost.

    The operations and their order are those of Gymnasium's ``_get_rew``, so a nominal env reproduces
    upstream rewards to the bit.

    :param env: the environment (reads its reward weights and ``dt``)
    :param qpos_before: joint positions before the step
    :param qpos: joint positions after the step
    :param action: the actions
    :param healthy: the health flags after the step, or ``None`` for tasks without a healthy bonus
    :return: reward and the info entries of Gymnasium's env
    """
    x_after = qpos.T[0]
    x_velocity = (x_after - qpos_before.T[0]) / env.dt
    forward_reward = env._forward_reward_weight * x_velocity
    ctrl_cost = env._ctrl_cost_weight * np.sum(np.square(action), axis=-1)
    info = {"x_position": x_after, "x_velocity": x_velocity, "reward_forward": forward_reward}
    if healthy is None:
        reward = forward_reward - ctrl_cost
    else:
        healthy_reward = healthy * env._healthy_reward
        reward = forward_reward + healthy_reward - ctrl_cost
        info["reward_survive"] = healthy_reward
        info["z_distance_from_origin"] = qpos.T[1] - env.init_qpos[1]
    info["reward_ctrl"] = -ctrl_cost
    return reward, info
