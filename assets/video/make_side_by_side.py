"""
Regenerate ``assets/video/side_by_side.gif``: two hand-designed linear controllers on ``RobustInvertedPendulum-v0``
with a held-out 2.5 m pole (``keep_mass=True``, as Jiang et al.'s benchmark), same reset seed.

Nothing is trained. Both controllers are discrete-time LQR gains (``Q = diag(1, 10, 0.1, 0.1)``, ``R = 1``) of the env's
own dynamics, linearised upright by finite differences at one pole length each:

- left ("robust"): designed on a 1.5 m pole; it balances every pole of Jiang et al.'s training range 0.5-2 m and the
  held-out 2.5 m for the full 1000 steps (the table this script prints);
- right ("baseline"): designed on the nominal 0.6 m pole; it balances 0.5-1 m and drops longer poles within seconds.

Run from the repository root: ``python assets/video/make_side_by_side.py`` (``MUJOCO_GL=egl`` is set when there is no
display).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

import robust_envs  # noqa: F401  (registers the ids)
from robust_envs.video import record_side_by_side, use_headless_gl

ENV_ID = "RobustInvertedPendulum-v0"
HELD_OUT = {"pole_length": 2.5}
ENV_KWARGS = {
    "keep_mass": True,
    "width": 240,
    "height": 240,
    # v5's camera (2 m away, at the rail) shows poles up to about 0.8 m: step back to see the 2.5 m pole whole
    "default_camera_config": {"distance": 4.2, "lookat": [0.0, 0.0, 1.15], "elevation": -5.0},
}
OUT = Path(__file__).with_name("side_by_side.gif")


def linearize(pole_length: float, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """
    :param pole_length: the pole length (m) of the model linearised
    :return: ``(A, B)`` of one env step (``frame_skip`` physics steps, control held) about the upright rest state, in
        the observation's order ``(cart position, pole angle, cart velocity, pole angular velocity)``
    """
    env = gym.make(ENV_ID, params={"pole_length": pole_length}, keep_mass=True).unwrapped
    model, data, frame_skip = env.model, mujoco.MjData(env.model), env.frame_skip

    def step(x: np.ndarray, u: float) -> np.ndarray:
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:], data.ctrl[:] = x[:2], x[2:], u
        mujoco.mj_step(model, data, nstep=frame_skip)
        return np.concatenate((data.qpos, data.qvel))

    zero = np.zeros(4)
    a = np.stack([(step(zero + eps * e, 0.0) - step(zero - eps * e, 0.0)) / (2 * eps) for e in np.eye(4)], axis=1)
    b = ((step(zero, eps) - step(zero, -eps)) / (2 * eps))[:, None]
    env.close()
    return a, b


def lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray, iterations: int = 5000) -> np.ndarray:
    """:return: the gain ``K`` of ``u = -K x`` minimising ``sum x'Qx + u'Ru`` (Riccati recursion to convergence)."""
    p = q.copy()
    for _ in range(iterations):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = q + a.T @ p @ (a - b @ k)
    return k


class LinearPolicy:
    """
    ``u = clip(-K obs, -3, 3)``: the env's action range.

    :param gain: the (1, 4) gain ``K``
    """

    def __init__(self, gain: np.ndarray) -> None:
        self.gain = gain

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(-self.gain @ obs, -3.0, 3.0).astype(np.float32)


def episode_return(policy: LinearPolicy, pole_length: float, seed: int) -> float:
    """:return: the return of one 1000-step episode (1 per step the pole stays within 0.2 rad)."""
    env = gym.make(ENV_ID, params={"pole_length": pole_length}, keep_mass=True)
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total, done = total + float(reward), terminated or truncated
    env.close()
    return total


def main() -> None:
    """Design both controllers, print their returns over pole lengths, write the clip."""
    q, r = np.diag([1.0, 10.0, 0.1, 0.1]), np.eye(1)
    robust = LinearPolicy(lqr_gain(*linearize(1.5), q, r))
    baseline = LinearPolicy(lqr_gain(*linearize(0.6), q, r))
    lengths = (0.5, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0)
    print("mean return of 3 episodes (max 1000) by pole length (m):", *lengths, sep="\t")
    for name, policy in (("LQR at 1.5 m", robust), ("LQR at 0.6 m", baseline)):
        means = [np.mean([episode_return(policy, length, seed) for seed in range(3)]) for length in lengths]
        print(name, *(f"{mean:.0f}" for mean in means), sep="\t")
    use_headless_gl()
    path = record_side_by_side(
        robust,
        baseline,
        ENV_ID,
        OUT,
        HELD_OUT,
        seconds=6.0,
        seed=0,
        env_kwargs=ENV_KWARGS,
        labels=("robust: LQR designed at 1.5 m", "baseline: LQR at nominal 0.6 m"),
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
