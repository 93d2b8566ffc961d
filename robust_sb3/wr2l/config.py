"""
WR2L's model-phase hyperparameters in one checked record; :class:`~robust_sb3.wr2l.WR2L` builds one from its arguments.

The paper gives none of these numbers (``shared/WAVE2.md`` 0.3 and 1.5: epsilon, sigma, the number of sampled
dynamics, the inner iterations and the step rule are "benchmark-dependent"); the defaults are the choices of
``shared/WAVE2.md`` 1.3, 1.4, 1.7 and 1.8, each marked there as an inference. The policy phase's PPO settings
(2x64 tanh networks, ``n_steps * n_envs`` about 8192) belong to the algorithm class, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from robust_sb3.wr2l.checks import check_int, check_number

__all__ = ["WR2LConfig"]

_CHOICES = {
    "coords": ("relative", "raw"),
    "directions": ("gaussian", "orthogonal"),
    "step_size": ("fw", "armijo"),
    "hessian": ("gauss_newton", "zero_order"),
    "hessian_data_policy": ("random", "current"),
    "state_scale": ("none", "std"),
    "eval_backend": ("batched", "vec"),
}


@dataclass(frozen=True)
class WR2LConfig:
    """
    The model phase of WR2L (Algorithm 1, Phase I) and the one-off estimate of ``H0``.

    :param epsilon: radius of the Wasserstein ball (Eq. 8-9), > 0, in the coordinates of ``coords``; ``None`` to
        calibrate it once ``H0`` is known with :func:`~robust_sb3.wr2l.ellipsoid.epsilon_for`, so that the ball
        reaches ``+-epsilon_fraction`` along parameter ``epsilon_index`` (A7; a proposal, not WAVE2's wording)
    :param epsilon_fraction: the relative deviation used when ``epsilon`` is None
    :param epsilon_index: the parameter it is measured along when ``epsilon`` is None
    :param coords: ``"relative"`` (``u = phi / phi_nominal - 1``, A1) or ``"raw"``
    :param sigma: scale of the perturbations of Proposition 1's gradient (0.05 in relative coordinates, 1.3)
    :param n_directions: antithetic pairs per gradient; ``None`` for ``2 d`` (1.3)
    :param directions: ``"gaussian"`` (Proposition 1) or ``"orthogonal"`` perturbations, see
        :func:`~robust_sb3.wr2l.gradient.zero_order_gradient` (an option beyond the paper)
    :param eval_episodes: episodes per perturbed return estimate (1.3)
    :param eval_horizon: step limit of those episodes; ``None`` for the env's (1.8, a flagged deviation if set)
    :param eval_discount: discount of the perturbed returns; 1.0 for undiscounted, as the paper tests (1.1)
    :param eval_deterministic: evaluate the policy's mean action instead of sampling it (A9 option)
    :param inner_steps: Frank-Wolfe steps per outer iteration (A6: 1)
    :param step_size: ``"fw"`` (``alpha_j = 2 / (j + 2)``) or ``"armijo"`` (backtracking on the return, A6 option)
    :param warm_start: start each Phase I from the last ``phi^[k]`` (A5); ``False`` for the literal ``phi0``
    :param update_every: PPO updates between Phase-I solves (1.8; > 1 is a CPU-cost deviation)
    :param hessian: ``"gauss_newton"`` (default, A4) or ``"zero_order"`` (Proposition 2)
    :param hessian_step: Gauss-Newton's central-difference step ``h`` (1e-2 relative, 1.4)
    :param hessian_sigma: Proposition 2's perturbation scale; ``None`` for ``sigma``
    :param hessian_samples: Proposition 2's perturbations; ``None`` for ``20 d^2`` (1.4)
    :param hessian_data_episodes: rollouts under ``phi0`` that supply the state-action pairs (1.8)
    :param hessian_data_policy: ``"random"`` (uniform actions, Sec. 3.1, A3) or ``"current"``
    :param n_state_action: state-action pairs subsampled from those rollouts (1.8)
    :param state_scale: ``"none"`` (raw observations, A2) or ``"std"`` (divide by the reference next states' std)
    :param min_eigenvalue_fraction: eigenvalue floor of ``H0`` relative to its mean positive eigenvalue (A4)
    :param trust_region: largest relative deviation of any parameter, applied with the ``ParamSpace`` bounds
        (A8: 0.9); ``None`` for the bounds alone
    :param chunk_size: most parameter vectors per ``sample_next_states`` call (1.4: the model cache is bounded)
    :param eval_backend: how the perturbed returns are collected, the policy batched over all rows in both:
        ``"batched"`` (the physics of all rows in one batched call per time step, the env's ``step_batch``;
        :class:`~robust_sb3.wr2l.returns.BatchedReturns`) or ``"vec"`` (a worker env per row stepped with ``step``,
        :class:`~robust_sb3.wr2l.returns.LockstepReturns`; needed when wrappers change the dynamics); WAVE2 1.8's
        ``"process"`` and ``"ray"`` back-ends are not built
    """

    epsilon: float | None = None
    epsilon_fraction: float = 0.1
    epsilon_index: int = 0
    coords: str = "relative"
    sigma: float = 0.05
    n_directions: int | None = None
    directions: str = "gaussian"
    eval_episodes: int = 1
    eval_horizon: int | None = None
    eval_discount: float = 1.0
    eval_deterministic: bool = False
    inner_steps: int = 1
    step_size: str = "fw"
    warm_start: bool = True
    update_every: int = 1
    hessian: str = "gauss_newton"
    hessian_step: float = 1e-2
    hessian_sigma: float | None = None
    hessian_samples: int | None = None
    hessian_data_episodes: int = 20
    hessian_data_policy: str = "random"
    n_state_action: int = 1000
    state_scale: str = "none"
    min_eigenvalue_fraction: float = 1e-6
    trust_region: float | None = 0.9
    chunk_size: int = 64
    eval_backend: str = "batched"

    def __post_init__(self) -> None:
        owner = "WR2LConfig"
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{owner}: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.epsilon is not None:
            check_number(owner, "epsilon", self.epsilon, low=0.0, low_open=True)
        check_number(owner, "epsilon_fraction", self.epsilon_fraction, low=0.0, low_open=True)
        check_int(owner, "epsilon_index", self.epsilon_index, 0)
        for name in ("sigma", "hessian_step", "min_eigenvalue_fraction"):
            check_number(owner, name, getattr(self, name), low=0.0, low_open=True)
        if self.hessian_sigma is not None:
            check_number(owner, "hessian_sigma", self.hessian_sigma, low=0.0, low_open=True)
        check_number(owner, "eval_discount", self.eval_discount, low=0.0, high=1.0, low_open=True)
        if self.trust_region is not None:
            check_number(owner, "trust_region", self.trust_region, low=0.0, low_open=True)
        for name in ("eval_episodes", "inner_steps", "update_every", "hessian_data_episodes", "n_state_action"):
            check_int(owner, name, getattr(self, name), 1)
        check_int(owner, "chunk_size", self.chunk_size, 2)
        for name in ("n_directions", "eval_horizon", "hessian_samples"):
            if getattr(self, name) is not None:
                check_int(owner, name, getattr(self, name), 1)
        for name in ("eval_deterministic", "warm_start"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{owner}: {name} must be a bool, got {getattr(self, name)!r}")

    def n_pairs(self, d: int) -> int:
        """:return: antithetic pairs per gradient for ``d`` parameters (``n_directions``, else ``2 d``)"""
        return self.n_directions if self.n_directions is not None else 2 * check_int("WR2LConfig", "d", d, 1)

    def n_hessian_samples(self, d: int) -> int:
        """:return: Proposition 2's perturbations for ``d`` parameters (``hessian_samples``, else ``20 d^2``)"""
        return self.hessian_samples if self.hessian_samples is not None else 20 * check_int("WR2LConfig", "d", d, 1) ** 2
