"""
WR2L, Wasserstein Robust Reinforcement Learning (seed 002; specification: ``shared/WAVE2.md`` section 1).

The model phase's numerical pieces, as pure numpy functions with tests of their own:

- :mod:`~robust_sb3.wr2l.ellipsoid`: the closed-form step on the Wasserstein ellipsoid (Eq. 9-10) as a
  Frank-Wolfe step, the ball value and ``epsilon_for``;
- :mod:`~robust_sb3.wr2l.hessian`: ``H0`` by Gauss-Newton or Proposition 2, and its projection to positive definite;
- :mod:`~robust_sb3.wr2l.gradient`: Proposition 1 with antithetic pairs and common random numbers;
- :mod:`~robust_sb3.wr2l.coordinates` and :mod:`~robust_sb3.wr2l.bounds`: relative coordinates and the ``ParamSpace`` box;
- :mod:`~robust_sb3.wr2l.config`: ``WR2LConfig``, the model phase's hyperparameters.

On an env: :mod:`~robust_sb3.wr2l.parameterisation` (``phi``'s coordinates on an env's ``ParamSpace``),
:mod:`~robust_sb3.wr2l.reference` (``H0`` from reference rollouts), :mod:`~robust_sb3.wr2l.returns` (perturbed
returns in lock-step worker envs) and :mod:`~robust_sb3.wr2l.ball` ("PPO mean", uniform in the ball); the
algorithm is :class:`~robust_sb3.wr2l.wr2l.WR2L`, a subclass of SB3's PPO (:class:`~robust_sb3.wr2l.wr2l.WR2LTRPO` on
sb3-contrib's TRPO).
"""

from robust_sb3.wr2l.ball import sample_in_ellipsoid, wasserstein_ball_set
from robust_sb3.wr2l.bounds import ClippedParams, clip_to_bounds
from robust_sb3.wr2l.config import WR2LConfig
from robust_sb3.wr2l.coordinates import (
    from_relative,
    in_relative_coordinates,
    relative_bounds,
    relative_hessian,
    to_relative,
)
from robust_sb3.wr2l.ellipsoid import ball_value, ellipsoid_step, epsilon_for, frank_wolfe_gap, frank_wolfe_step_size
from robust_sb3.wr2l.gradient import GradientEstimate, zero_order_gradient
from robust_sb3.wr2l.hessian import HessianEstimate, gauss_newton_hessian, project_positive_definite, zero_order_hessian
from robust_sb3.wr2l.parameterisation import DynamicsCoordinates, resolve_parameterisation
from robust_sb3.wr2l.reference import ReferenceHessian, collect_state_action_pairs, estimate_reference_hessian
from robust_sb3.wr2l.returns import BatchedReturns, LockstepReturns, PolicyActor
from robust_sb3.wr2l.wr2l import WR2L, WR2LTRPO, WorstCaseDynamics

__all__ = [
    "WR2L",
    "WR2LTRPO",
    "BatchedReturns",
    "ClippedParams",
    "DynamicsCoordinates",
    "GradientEstimate",
    "HessianEstimate",
    "LockstepReturns",
    "PolicyActor",
    "ReferenceHessian",
    "WR2LConfig",
    "WorstCaseDynamics",
    "ball_value",
    "clip_to_bounds",
    "collect_state_action_pairs",
    "ellipsoid_step",
    "epsilon_for",
    "estimate_reference_hessian",
    "frank_wolfe_gap",
    "frank_wolfe_step_size",
    "from_relative",
    "gauss_newton_hessian",
    "in_relative_coordinates",
    "project_positive_definite",
    "relative_bounds",
    "relative_hessian",
    "resolve_parameterisation",
    "sample_in_ellipsoid",
    "to_relative",
    "wasserstein_ball_set",
    "zero_order_gradient",
    "zero_order_hessian",
]
