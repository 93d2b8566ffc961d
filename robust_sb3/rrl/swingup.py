"""
The nonlinear swing-up of Morimoto and Doya (2001), section 4.2: the training setup and the Fig. 4 evaluation.

Both controllers, robust (``gamma = 0.22``) and standard (``gamma = inf``), are trained identically at the nominal
pendulum (m = 1.0 kg, mu = 0.01) and evaluated, without disturber, from the hanging position at the nominal and at
the heavy pendulum (m = 3.0 kg, mu = 0.3). The benchmark ``benchmarks/rrl_swingup.py`` and the slow test of
``tests/test_rrl.py`` share these definitions.

Choices the paper leaves open (see ``benchmarks/RESULTS.md``, issue 6): the torque limit (5 N*m, Doya 2000), the
disturber's bound (``|w| <= 4 N*m``), the NGnet layout (31 x 31 centres on ``[-pi, pi) x [-2 pi, 2 pi]``: with
Doya's 15 x 15 the value is too smooth near the top for the steep robust policy), ``tau = 1``, ``kappa = 0.1``,
``eta = 1`` (Doya 2000) and the evaluation length (60 s; the paper's Fig. 4(b) shows 20 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from robust_sb3.rrl.rrl import RRL

#: Section 4.2: the training (nominal) and the changed (heavy) pendulum of Fig. 4.
NOMINAL = {"mass": 1.0, "friction": 0.01}
HEAVY = {"mass": 3.0, "friction": 0.3}
#: The robustness level of section 4.2.
GAMMA = 0.22
#: Bound on the disturber's torque (N*m); the paper states none (the env's channel allows 5 N*m, the torque limit,
#: with which the disturber can cancel every saturated torque).
MAX_DISTURBANCE = 4.0
#: NGnet centres per dimension (theta, theta_dot) and the range of theta_dot (rad/s).
N_CENTERS = (31, 31)
OMEGA_RANGE = 2.0 * math.pi
#: Length of a training trial (the registered env's truncation): 1000 steps of 0.02 s.
TRIAL_STEPS = 1000
#: Evaluation: a run from hanging down lasts EVAL_SECONDS; it succeeds when |theta| < HOLD_ANGLE for the last
#: HOLD_SECONDS. The paper's Fig. 4(b) shows 20 s; here the robust controller needs about 30 s to swing the heavy
#: pendulum up, so the runs last 60 s.
EVAL_SECONDS = 60.0
HOLD_SECONDS = 10.0
HOLD_ANGLE = 0.3


def make_swingup_model(
    gamma: float = GAMMA,
    seed: int | None = 0,
    max_disturbance: float = MAX_DISTURBANCE,
    n_centers: tuple[int, int] = N_CENTERS,
) -> RRL:
    """
    The learner of section 4.2: value-gradient policy (Eq. 11) with the known input gains, NGnet critic trained by
    continuous-time TD(lambda), on ``RobustPendulum-v0`` at nominal parameters with random initial angles.

    :param gamma: robustness level; ``math.inf`` for the standard controller (no disturber)
    :param seed: seed of the learner and the env
    :param max_disturbance: bound on ``|w|`` (N*m) of the disturber (unused for ``gamma = inf``)
    :param n_centers: NGnet centres per dimension
    :return: the untrained model; train it with ``model.learn(trials * TRIAL_STEPS)``
    """
    kwargs = {} if math.isinf(gamma) else {"max_disturbance": max_disturbance}
    return RRL(
        gym.make("RobustPendulum-v0"),
        gamma=gamma,
        policy="value_gradient",
        approximator="ngnet",
        tau=1.0,
        kappa=0.1,
        critic_lr=1.0,
        input_gain="known",
        approximator_kwargs={"low": [-math.pi, -OMEGA_RANGE], "high": [math.pi, OMEGA_RANGE], "n_centers": n_centers},
        seed=seed,
        **kwargs,
    )


@dataclass
class SwingUpRun:
    """One evaluation run: the unwrapped angle over time and whether (and from when) the pendulum is held upright."""

    theta: np.ndarray
    dt: float
    success: bool
    #: time (s) after which ``|theta| < HOLD_ANGLE`` until the end, for a successful run; ``None`` otherwise
    held_from: float | None


def _run(model: RRL, params: dict[str, float], theta0: float, seconds: float) -> tuple[np.ndarray, float]:
    """:return: the unwrapped angle of a run of the actor alone (no disturber) from ``(theta0, 0)`` and the time step."""
    env = gym.make("RobustPendulum-v0", params=params).unwrapped
    env.reset(seed=0)
    env.set_state(np.array([theta0, 0.0, 0.0, 0.0]))
    obs = np.array([(theta0 + math.pi) % (2.0 * math.pi) - math.pi, 0.0])
    thetas = [theta0]
    for _ in range(round(seconds / env.dt)):
        action, _ = model.predict(obs, deterministic=True)
        obs, *_ = env.step(action)
        thetas.append(float(env.get_state()[0]))
    return np.array(thetas), env.dt


def held_upright(theta: np.ndarray, dt: float, hold_seconds: float) -> tuple[bool, float | None]:
    """
    :param theta: angles (rad, 0 = upright, unwrapped) sampled every ``dt`` seconds
    :param dt: sampling interval (s)
    :param hold_seconds: the final stretch that must stay near the top
    :return: whether ``|theta| < HOLD_ANGLE`` (wrapped) during the last ``hold_seconds``, and if so the time from
        which it stays there (the first sample after the last one outside)
    """
    distance = np.abs((theta + math.pi) % (2.0 * math.pi) - math.pi)
    hold = round(hold_seconds / dt)
    success = bool(np.all(distance[-hold:] < HOLD_ANGLE))
    if not success:
        return False, None
    outside = np.nonzero(distance >= HOLD_ANGLE)[0]
    return True, float((outside[-1] + 1) * dt) if outside.size else 0.0


def swing_up(
    model: RRL, params: dict[str, float], seconds: float = EVAL_SECONDS, hold_seconds: float = HOLD_SECONDS
) -> SwingUpRun:
    """
    Fig. 4: the actor alone from hanging down (``theta = pi``, at rest).

    :param model: a trained model
    :param params: pendulum parameters (:data:`NOMINAL` or :data:`HEAVY`)
    :param seconds: length of the run
    :param hold_seconds: success means ``|theta| < HOLD_ANGLE`` (wrapped) during the last ``hold_seconds``
    :return: the run
    """
    theta, dt = _run(model, params, math.pi, seconds)
    success, held_from = held_upright(theta, dt, hold_seconds)
    return SwingUpRun(theta, dt, success, held_from)


def catches(model: RRL, params: dict[str, float], theta0: float, seconds: float = 10.0) -> bool:
    """
    :return: whether the actor, started at rest at ``theta0`` near the top, keeps ``|theta| < HOLD_ANGLE`` during the
        last half of a run of ``seconds`` (the holding part of the task, without the swing-up)
    """
    theta, dt = _run(model, params, theta0, seconds)
    return held_upright(theta, dt, seconds / 2.0)[0]


def upright_gains(model: RRL, delta: float = 0.05) -> tuple[float, float]:
    """
    The feedback gains of the actor at the upright position, as secants over ``+-delta``: ``T ~ -K_theta theta -
    K_omega theta_dot`` (N*m per rad and per rad/s). Holding the heavy pendulum needs ``K_theta > m g l = 29.4``;
    the game Riccati solution of the linearised problem (Eq. 12, ``tau = 1``) has about 95, the LQR about 17.

    :param model: a trained model on ``RobustPendulum-v0`` (actions are fractions of ``max_torque``)
    :param delta: half-width of the secant (rad, rad/s)
    :return: ``(K_theta, K_omega)``
    """
    max_torque = gym.make("RobustPendulum-v0").unwrapped.max_torque

    def torque(theta: float, omega: float) -> float:
        return float(model.predict(np.array([theta, omega]), deterministic=True)[0][0]) * max_torque

    k_theta = -(torque(delta, 0.0) - torque(-delta, 0.0)) / (2.0 * delta)
    k_omega = -(torque(0.0, delta) - torque(0.0, -delta)) / (2.0 * delta)
    return k_theta, k_omega
