"""
Probabilistic action robustness (Tessler, Efroni and Mannor, "Action Robust Reinforcement Learning", ICML 2019).

In the probabilistic action robust MDP (PR-MDP, section 3 of the paper) the action executed at every step is
the agent's with probability ``1 - alpha`` and an adversary's with probability ``alpha``: the agent acts through
the mixture ``pi_mix(u | s) = (1 - alpha) pi(u | s) + alpha pi_bar(u | s)``, and the adversary ``pi_bar``
minimises the return the agent maximises (zero-sum). Two wrappers give the two players' views of one env:

- :class:`ProbabilisticActionRobust`: the agent's (protagonist's) view; a fixed adversary's action replaces the
  agent's with probability ``alpha``;
- :class:`ProbabilisticActionAdversary`: the adversary's view; its action is executed with probability ``alpha``,
  a fixed agent's otherwise, and the reward is negated.

Both draw "does the adversary act?" with one rule (:meth:`ActionMixture.draw`): one uniform number per step from
the wrapper's own generator, seeded from the ``seed`` given to ``reset`` (its own branch of a ``SeedSequence``,
independent of the env's reset noise and of :class:`~robust_envs.wrappers.DomainRandomization`'s draws), so a
seeded episode repeats exactly. ``info`` reports the draw (:data:`ADVERSARY_ACTED`) and the action executed
(:data:`EXECUTED_ACTION`).

Torch-free (numpy and gymnasium only): the fixed player is any callable ``obs -> action`` or an SB3 model, taken by
:func:`~robust_envs.evaluation.policies.as_policy` (a model is held by reference, so its later updates are used).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_envs.evaluation.policies import as_policy

#: ``info`` key: whether the adversary's action was executed at this step (a bool).
ADVERSARY_ACTED = "adversary_acted"
#: ``info`` key: the action the env executed at this step (a new array).
EXECUTED_ACTION = "executed_action"
#: The ``SeedSequence`` spawn key of the mixture's draws: a branch of the reset seed no other wrapper uses.
_DRAW_STREAM = 0x50524D44  # "PRMD"


def check_alpha(alpha: Any, owner: str) -> float:
    """
    :param alpha: the probability that the adversary's action is executed
    :param owner: who checks (a wrapper's or trainer's name), for the message
    :return: ``alpha`` as a float
    :raises TypeError: not a real number (bools and strings refused)
    :raises ValueError: NaN or outside [0, 1]
    """
    if isinstance(alpha, bool | np.bool_) or not isinstance(alpha, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: alpha must be a probability, a number in [0, 1], got {alpha!r} ({type(alpha).__name__})")
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(
            f"{owner}: alpha must be a probability in [0, 1] (Tessler et al. use 0.1), got {alpha!r}; "
            "0 never executes the adversary's action, 1 always does"
        )
    return float(alpha)


class ActionMixture(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    What both views of the PR-MDP share: the fixed player, ``alpha``, the seeded draw and the last observation.

    :param env: the env the two players act on
    :param fixed_player: the player that is not learning in this view: a callable ``obs -> action`` or an SB3 model
        (its deterministic ``predict``), as :func:`~robust_envs.evaluation.policies.as_policy` takes it
    :param alpha: the probability that the adversary's action is executed
    :param role: the constructor argument naming the fixed player (``"adversary"`` or ``"protagonist"``)
    """

    def __init__(self, env: gym.Env, fixed_player: Any, alpha: float, role: str) -> None:
        owner = type(self).__name__
        if not isinstance(env, gym.Env):
            raise TypeError(f"{owner} wraps a Gymnasium env, got {env!r} ({type(env).__name__})")
        alpha = check_alpha(alpha, owner)
        policy = as_policy(fixed_player)
        gym.utils.RecordConstructorArgs.__init__(self, **{role: fixed_player, "alpha": alpha})
        super().__init__(env)
        #: the probability that the adversary's action is executed
        self.alpha = alpha
        self._fixed = policy
        # unseeded until the first reset with a seed, as a Gymnasium env's np_random
        self._rng = np.random.default_rng()
        self._obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """
        Reset the env; a ``seed`` also re-seeds the draws (a reset without one continues their stream).

        The draws are re-seeded only once the env accepted the reset, so a refused reset changes nothing.
        """
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_DRAW_STREAM,)))
        self._obs = observation
        return observation, info

    def draw(self) -> bool:
        """:return: whether the adversary's action is executed at this step (probability :attr:`alpha`)."""
        # one uniform number per step whatever alpha is, so the stream does not depend on alpha's value;
        # ``random() < alpha`` is never true for alpha = 0 and always for alpha = 1 (random() is in [0, 1))
        return bool(self._rng.random() < self.alpha)

    def _fixed_action(self) -> np.ndarray:
        """:return: the fixed player's action on the last observation, checked against the action space."""
        if self._obs is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        action = np.asarray(self._fixed(self._obs))
        if isinstance(self.action_space, spaces.Box) and action.shape != self.action_space.shape:
            raise ValueError(
                f"{type(self).__name__}: the fixed player returned an action of shape {action.shape} for the action "
                f"space {self.action_space}; it must return actions of shape {self.action_space.shape}"
            )
        return action

    def _step_with(self, executed: Any, adversary_acted: bool):
        """Step the env with the executed action and report it in ``info``."""
        self._obs, reward, terminated, truncated, info = self.env.step(executed)
        info[ADVERSARY_ACTED] = adversary_acted
        info[EXECUTED_ACTION] = np.array(executed, copy=True)
        return self._obs, reward, terminated, truncated, info


class ProbabilisticActionRobust(ActionMixture):
    """
    The agent's view of the PR-MDP: with probability ``alpha`` a fixed adversary's action is executed instead.

    ``step(action)`` executes the adversary's action on the last observation with probability ``alpha`` (drawn by
    :meth:`~ActionMixture.draw`), ``action`` otherwise; the reward is the env's. ``info["adversary_acted"]`` and
    ``info["executed_action"]`` report what happened. The adversary acts in the env's action space and is only
    asked for an action when it is executed.

    :param env: the env
    :param adversary: ``obs -> action`` callable, or an SB3 model (its deterministic ``predict``; pass
        ``as_policy(model, deterministic=False)`` to sample), as :func:`~robust_envs.evaluation.policies.as_policy`
        takes it; a model is used by reference (its later updates apply)
    :param alpha: the probability that the adversary's action is executed (Tessler et al. 2019 use 0.1)
    :raises TypeError: ``env`` is not a Gymnasium env, ``adversary`` is neither callable nor has ``predict``, or
        ``alpha`` is not a number
    :raises ValueError: ``alpha`` outside [0, 1]
    """

    def __init__(self, env: gym.Env, adversary: Any, alpha: float = 0.1) -> None:
        super().__init__(env, adversary, alpha, role="adversary")
        self.adversary = adversary

    def step(self, action):
        """The adversary's action with probability ``alpha``, else ``action``; the env's reward."""
        acted = self.draw()
        return self._step_with(self._fixed_action() if acted else action, acted)


class ProbabilisticActionAdversary(ActionMixture):
    """
    The adversary's view of the PR-MDP: its action is executed with probability ``alpha``, a fixed agent's otherwise,
    and the reward is negated (zero-sum).

    The adversary acts in the env's action space. When its action is not executed it has no effect on the step; a
    policy-gradient learner still sees the step (its expected gradient is unchanged, its variance grows as ``alpha``
    shrinks).

    :param env: the env
    :param protagonist: ``obs -> action`` callable, or an SB3 model (deterministic ``predict`` unless wrapped by
        ``as_policy(model, deterministic=False)``); a model is used by reference
    :param alpha: the probability that the adversary's (this view's learner's) action is executed
    :raises TypeError: ``env`` is not a Gymnasium env, ``protagonist`` is neither callable nor has ``predict``, or
        ``alpha`` is not a number
    :raises ValueError: ``alpha`` outside [0, 1]
    """

    def __init__(self, env: gym.Env, protagonist: Any, alpha: float = 0.1) -> None:
        super().__init__(env, protagonist, alpha, role="protagonist")
        self.protagonist = protagonist

    def step(self, action):
        """``action`` with probability ``alpha``, else the protagonist's; the negated reward."""
        acted = self.draw()
        observation, reward, terminated, truncated, info = self._step_with(action if acted else self._fixed_action(), acted)
        return observation, -float(reward), terminated, truncated, info
