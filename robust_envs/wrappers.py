"""Wrappers for robust training: domain randomisation, next observations under K models, adversarial forces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_envs.uncertainty import UncertaintySet


def _perturbable(env: gym.Env, wrapper: str) -> Any:
    base = env.unwrapped
    if not hasattr(base, "param_space"):
        raise ValueError(f"{wrapper} needs a perturbable robust_envs env (one with a param_space), got {type(base).__name__}")
    return base


class DomainRandomization(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    Draw the parameters of every episode from an uncertainty set (domain randomisation, PPO-DR, Limited-DR).

    Each ``reset`` (SB3's auto-resets included) samples a setting and passes it as
    ``options={"params": ...}``, so it holds for that episode and ``info["params"]`` reports it. The
    draws come from the wrapper's generator, seeded from the ``seed`` given to ``reset`` through its own
    ``SeedSequence`` branch: reproducible, and independent of the env's reset noise.

    :param env: a robust env
    :param uncertainty_set: where parameters are drawn from (a finite set: one member uniformly; a box: a point)
    """

    def __init__(self, env: gym.Env, uncertainty_set: UncertaintySet) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, uncertainty_set=uncertainty_set)
        super().__init__(env)
        base = _perturbable(env, "DomainRandomization")
        if not isinstance(uncertainty_set, UncertaintySet):
            raise TypeError(f"uncertainty_set must be an UncertaintySet, got {type(uncertainty_set).__name__}")
        self._draw = uncertainty_set.vector_sampler(base.param_space)  # validates the set against the env
        self._base = base
        self.uncertainty_set = uncertainty_set
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset with parameters drawn from the set; an explicit ``options["params"]`` is refused (it would be overridden)."""
        if options and "params" in options:
            raise ValueError("DomainRandomization draws the params itself; do not pass options['params'] (unwrap to set them)")
        if seed is not None:
            self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        # the drawn setting on top of the env's persistent parameters, as a partial mapping would be
        params = self._draw(self._rng, self._base._params)
        return self.env.reset(seed=seed, options={**options, "params": params} if options else {"params": params})


class PerturbedTransitions(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    Return, at every step, the next observation, reward and termination under each of K models.

    This is what robust critics consume (Mankowitz et al. 2020, Eq. 1): ``info["perturbed_next_obs"]``
    (K, obs_dim), ``info["perturbed_rewards"]`` (K,) and ``info["perturbed_terminated"]`` (K,), computed
    with ``sample_next_states`` from the state before the step, so they are right at terminal steps too
    (before any auto-reset replaces the observation).

    :param env: a robust env with ``sample_next_states``
    :param models: the K parameter settings (an :class:`UncertaintySet` with members, or a sequence of mappings)
    """

    def __init__(self, env: gym.Env, models: UncertaintySet | Sequence[Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, models=models)
        super().__init__(env)
        base = _perturbable(env, "PerturbedTransitions")
        if not hasattr(base, "sample_next_states"):
            raise ValueError(f"{type(base).__name__} has no sample_next_states")
        self.param_batch = base.resolve_param_batch(models)
        self.n_models = self.param_batch.shape[0]

    def step(self, action):
        """Step, and add the K models' next observations, rewards and terminations to ``info``."""
        base = self.env.unwrapped
        sampled = base.sample_next_states(None, np.asarray(action)[None], self.param_batch)
        observation, reward, terminated, truncated, info = self.env.step(action)
        info["perturbed_next_obs"] = sampled.observations[0]
        info["perturbed_rewards"] = sampled.rewards[0]
        info["perturbed_terminated"] = sampled.terminated[0]
        return observation, reward, terminated, truncated, info


class ForceDisturbance(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    An adversarial force on named bodies: the second player of RARL (Pinto et al. 2017) and of the H-infinity game.

    The disturbance convention of the project: ``disturbance_space`` (a Box) and ``set_disturbance(w)``,
    which holds ``w`` for every following step until changed (zero after ``reset``); ``info["disturbance"]``
    reports the ``w`` applied. Here ``w`` holds a planar force (x, z) in newtons per body, written to
    ``xfrc_applied`` during the step. Drive it with :class:`DisturbedByPolicy` (protagonist training) or
    :class:`DisturberEnv` (training the adversary with any SB3 algorithm).

    :param env: a robust MuJoCo env
    :param bodies: names of the bodies pushed
    :param max_force: the bound of each force component (N)
    """

    def __init__(self, env: gym.Env, bodies: Sequence[str], max_force: float) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, bodies=bodies, max_force=max_force)
        super().__init__(env)
        base = _perturbable(env, "ForceDisturbance")
        if not hasattr(base, "model"):
            raise ValueError(f"ForceDisturbance needs a MuJoCo env, got {type(base).__name__}")
        if not bodies:
            raise ValueError("ForceDisturbance needs at least one body name")
        names = [base.model.body(i).name for i in range(base.model.nbody)]
        unknown = [b for b in bodies if b not in names]
        if unknown:
            raise ValueError(f"Unknown bodies {unknown} for {type(base).__name__}; valid: {names[1:]}")
        if not (np.isfinite(max_force) and max_force > 0):
            raise ValueError(f"max_force must be positive and finite, got {max_force}")
        self.bodies = tuple(bodies)
        self.max_force = float(max_force)
        self.disturbance_space = spaces.Box(-self.max_force, self.max_force, shape=(2 * len(self.bodies),), dtype=np.float32)
        self._w = np.zeros(self.disturbance_space.shape, dtype=np.float64)

    def set_disturbance(self, w: np.ndarray) -> None:
        """
        :param w: (2 * n_bodies,) forces (x, z per body), clipped to ``max_force``
        :raises ValueError: wrong shape or non-finite values
        """
        w = np.asarray(w, dtype=np.float64)
        if w.shape != self.disturbance_space.shape:
            raise ValueError(
                f"Disturbance of shape {w.shape} does not fit {self.disturbance_space.shape} (x, z per body {self.bodies})"
            )
        if not np.all(np.isfinite(w)):
            raise ValueError(f"Disturbance must be finite, got {w}")
        self._w = np.clip(w, -self.max_force, self.max_force)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset; the disturbance returns to zero."""
        self._w = np.zeros_like(self._w)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        """Step with the held forces applied to the bodies' centres of mass."""
        base = self.env.unwrapped
        # The body ids are looked up per step: a geometry change at reset recompiles the model.
        ids = [base.model.body(b).id for b in self.bodies]
        forces = self._w.reshape(-1, 2)
        base.data.xfrc_applied[ids, 0] = forces[:, 0]
        base.data.xfrc_applied[ids, 2] = forces[:, 1]
        try:
            observation, reward, terminated, truncated, info = self.env.step(action)
        finally:
            base.data.xfrc_applied[ids] = 0.0
        info["disturbance"] = self._w.copy()
        return observation, reward, terminated, truncated, info


def _disturbance_channel(env: gym.Env) -> tuple[spaces.Box, Callable[[np.ndarray], None]]:
    try:
        return env.get_wrapper_attr("disturbance_space"), env.get_wrapper_attr("set_disturbance")
    except AttributeError as error:
        raise ValueError(
            f"{env} has no disturbance channel (disturbance_space and set_disturbance); wrap it in ForceDisturbance first"
        ) from error


def _act(agent: Any, observation: np.ndarray) -> np.ndarray:
    """:return: the agent's action: an SB3 model's deterministic ``predict``, or a plain callable's output."""
    if hasattr(agent, "predict"):
        action, _ = agent.predict(observation, deterministic=True)
        return np.asarray(action)
    return np.asarray(agent(observation))


class _TwoPlayerWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Remembers the last observation, which the fixed player acts on at the next step."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._space, self._set = _disturbance_channel(env)
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset and remember the observation."""
        self._obs, info = self.env.reset(seed=seed, options=options)
        return self._obs, info

    def _last_observation(self) -> np.ndarray:
        if self._obs is None:
            raise RuntimeError("Call reset() before step()")
        return self._obs


class DisturbedByPolicy(_TwoPlayerWrapper):
    """
    Let a fixed adversary set the disturbance before every step, so the protagonist trains with any SB3 algorithm.

    :param env: an env with a disturbance channel (:class:`ForceDisturbance`, RobustPendulum)
    :param adversary: ``obs -> w`` callable, or an SB3 model (its ``predict`` is used, deterministic)
    """

    def __init__(self, env: gym.Env, adversary: Any) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, adversary=adversary)
        super().__init__(env)
        self.adversary = adversary

    def step(self, action):
        """The adversary's disturbance, then the protagonist's action."""
        self._set(_act(self.adversary, self._last_observation()))
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        return self._obs, reward, terminated, truncated, info


class DisturberEnv(_TwoPlayerWrapper):
    """
    The adversary's view: actions are disturbances, the protagonist is fixed, rewards are negated (zero-sum, as in RARL).

    :param env: an env with a disturbance channel
    :param protagonist: ``obs -> action`` callable, or an SB3 model (deterministic ``predict``)
    """

    def __init__(self, env: gym.Env, protagonist: Any) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, protagonist=protagonist)
        super().__init__(env)
        self.action_space = self._space
        self.protagonist = protagonist

    def step(self, action):
        """Apply the disturbance ``action``, let the protagonist act, and return the negated reward."""
        observation = self._last_observation()
        self._set(np.asarray(action))
        self._obs, reward, terminated, truncated, info = self.env.step(_act(self.protagonist, observation))
        return self._obs, -float(reward), terminated, truncated, info
