"""Wrappers for robust training: domain randomisation, next observations under K models, adversarial forces."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robust_envs.core import NextStates, PerturbableEnv, as_number_array
from robust_envs.disturbance import DISTURBANCE_KEY, check_disturbance, find_disturbance_channel
from robust_envs.evaluation.policies import as_policy
from robust_envs.params import ValidatedParams
from robust_envs.uncertainty import UncertaintySet

#: The ``info`` keys :class:`PerturbedTransitions` writes at every step (one definition for every consumer).
PERTURBED_NEXT_OBS = "perturbed_next_obs"
PERTURBED_REWARDS = "perturbed_rewards"
PERTURBED_TERMINATED = "perturbed_terminated"
PERTURBED_INFO_KEYS = (PERTURBED_NEXT_OBS, PERTURBED_REWARDS, PERTURBED_TERMINATED)


def _perturbable(env: gym.Env, wrapper: str) -> PerturbableEnv:
    if not isinstance(env, gym.Env):
        raise TypeError(f"{wrapper} wraps a Gymnasium env, got {env!r} ({type(env).__name__})")
    base = env.unwrapped
    if not isinstance(base, PerturbableEnv):
        raise ValueError(
            f"{wrapper} needs a perturbable robust_envs env (a PerturbableEnv, with a param_space), got {type(base).__name__}"
        )
    return base


def _as_uncertainty_set(value: Any, wrapper: str) -> UncertaintySet:
    """:return: an :class:`UncertaintySet` from one, its :meth:`~UncertaintySet.to_dict` (EnvSpec JSON) or a preset name."""
    if isinstance(value, UncertaintySet):
        return value
    if isinstance(value, Mapping):
        return UncertaintySet.from_dict(value)
    if isinstance(value, str):
        from robust_envs.presets import get_preset

        return get_preset(value)
    raise TypeError(
        f"{wrapper} takes an UncertaintySet (or its to_dict(), or a preset name), got {value!r} ({type(value).__name__})"
    )


def _json_models(models: Any) -> Any:
    """:return: ``models`` in a JSON-serialisable form that :class:`PerturbedTransitions` accepts again (EnvSpec JSON)."""
    if isinstance(models, UncertaintySet):
        return models.to_dict()
    if isinstance(models, np.ndarray):
        return models.tolist()
    if isinstance(models, Mapping):
        return {str(k): float(v) for k, v in models.items()}
    if isinstance(models, list | tuple):
        return [_json_models(m) for m in models]
    vector = getattr(models, "vector", None)  # ValidatedParams
    if vector is not None:
        return vector.tolist()
    return float(models)


class DomainRandomization(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    Draw the parameters of every episode from an uncertainty set (domain randomisation, PPO-DR, Limited-DR).

    Each ``reset`` (SB3's auto-resets included) samples a setting and passes it as
    ``options={"params": ...}``, so it holds for that episode and ``info["params"]`` reports it. The
    draws come from the wrapper's generator, seeded from the ``seed`` given to ``reset`` through its own
    ``SeedSequence`` branch: reproducible, and independent of the env's reset noise. A box's points are drawn ahead,
    :data:`FIRST_DRAWS_AHEAD` after a seed, each batch twice the one before up to :data:`DRAWS_AHEAD` (the same
    draws, in the same order, as one at a time; a :meth:`~PerturbableEnv.set_params` since is honoured), and the env is
    told them (:meth:`~PerturbableEnv.prepare_episodes`), so that it may compute their models in one batch.

    The set must be one of this env's (its ``env_id``); a set of another env is refused. The wrapper records the
    set as its :meth:`~robust_envs.uncertainty.UncertaintySet.to_dict`, so the wrapped env's ``spec.to_json()``
    and ``gym.make(spec)`` round-trip.

    :param env: a robust env
    :param uncertainty_set: where parameters are drawn from (a finite set: one member uniformly; a box: a point),
        as an :class:`UncertaintySet`, its ``to_dict()`` or a preset name
    """

    def __init__(self, env: gym.Env, uncertainty_set: UncertaintySet | Mapping[str, Any] | str) -> None:
        base = _perturbable(env, "DomainRandomization")
        uncertainty_set = _as_uncertainty_set(uncertainty_set, "DomainRandomization")
        base.check_uncertainty_set(uncertainty_set, "DomainRandomization's")
        # a box is drawn a batch of points at a time (the same values, in the same order, as one at a time), and
        # the env is told the settings ahead (PerturbableEnv.prepare_episodes): a MuJoCo env computes their
        # models in one batch. A finite set's members are a lookup in the env's model pool already. Either way the
        # set is validated against the env here.
        box = None if uncertainty_set.members else uncertainty_set.box_draws(base.param_space)
        # a finite set's member draw (a box is drawn by _next_params, from its batches)
        draw = uncertainty_set.vector_sampler(base.param_space) if box is None else None
        # the set as a dict, so that the wrapped env's EnvSpec (spec.to_json, gym.make(spec)) re-creates it
        gym.utils.RecordConstructorArgs.__init__(self, uncertainty_set=uncertainty_set.to_dict())
        super().__init__(env)
        self._draw = draw
        self._box = box
        self._ahead = _NOTHING_AHEAD
        self._ahead_next = 0  # the next of them to use
        self._ahead_size = FIRST_DRAWS_AHEAD  # the size of the next batch
        self._base = base
        self._space = base.param_space
        self.uncertainty_set = uncertainty_set
        self._rng = np.random.default_rng()

    def _next_params(self) -> Any:
        """:return: the next setting drawn (on the env's persistent parameters as they are now)."""
        box = self._box
        if box is None:
            return self._draw(self._rng, self._base.base_params)  # type: ignore[misc]
        ahead, index = self._ahead, self._ahead_next
        base = self._base.base_params
        key = base.tobytes()
        if index >= len(ahead.vectors):
            # batches grow to DRAWS_AHEAD: a short run computes few settings it never uses, a long one large batches
            points = box.points(self._rng, self._ahead_size)
            self._ahead_size = min(2 * self._ahead_size, DRAWS_AHEAD)
            ahead, index = _DrawsAhead(box.vectors_on(base, points), points, key), 0
            self._base.prepare_episodes(ahead.vectors)
            self._ahead = ahead
        elif ahead.base != key:  # set_params since the draw: the points stay, on the new persistent parameters
            ahead = self._ahead = _DrawsAhead(box.vectors_on(base, ahead.points), ahead.points, key)
        self._ahead_next = index + 1
        # made one at a time: a setting costs what a row of a batch of them would
        return ValidatedParams(self._space, ahead.vectors[index])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """
        Reset with parameters drawn from the set (on top of the env's persistent :attr:`~PerturbableEnv.base_params`).

        An explicit ``options["params"]`` is refused (it would be overridden). A refused reset draws nothing: the
        wrapper's generator is as it was.
        """
        if options is None and seed is None:
            # auto-resets: nothing to check, and nothing to restore (a refusal could only come from other options);
            # a finite set's draw inline (its resets are the cheapest, a call a sizeable share)
            if self._box is None:
                return self.env.reset(options={"params": self._draw(self._rng, self._base.base_params)})  # type: ignore[misc]
            return self.env.reset(options={"params": self._next_params()})
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"reset options must be None or a dict, got {options!r} ({type(options).__name__})")
        if options and "params" in options:
            raise ValueError("DomainRandomization draws the params itself; do not pass options['params'] (unwrap to set them)")
        previous, ahead = self._rng, (self._ahead, self._ahead_next, self._ahead_size)
        # only other options can make the env refuse the reset; without them (auto-resets) nothing is saved
        saved = previous.bit_generator.state if options and seed is None else None
        if seed is not None:
            self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            self._ahead, self._ahead_next, self._ahead_size = _NOTHING_AHEAD, 0, FIRST_DRAWS_AHEAD  # a new stream
        try:
            params = self._next_params()
            return self.env.reset(seed=seed, options={**options, "params": params} if options else {"params": params})
        except BaseException:
            if saved is not None:
                previous.bit_generator.state = saved
            self._rng, (self._ahead, self._ahead_next, self._ahead_size) = previous, ahead
            raise


#: the most points of a box :class:`DomainRandomization` draws at a time (a MuJoCo env computes their models in one
#: batch: a millisecond or two, a microsecond or two per setting; the share of numpy's per-call cost falls as it grows)
DRAWS_AHEAD = 1024
#: the points of the first batch after a seed; each batch doubles the one before, up to :data:`DRAWS_AHEAD`
FIRST_DRAWS_AHEAD = 64


class _DrawsAhead(NamedTuple):
    # the settings DomainRandomization drew ahead (read-only vectors, validated), their points, and the persistent
    # parameters they were written on
    vectors: np.ndarray
    points: np.ndarray
    base: bytes


_NOTHING_AHEAD = _DrawsAhead(np.empty((0, 0)), np.empty((0, 0)), b"")


def _next_state_sampler(env: gym.Env, base: PerturbableEnv) -> Any:
    """
    The layer :class:`PerturbedTransitions` samples through: the outermost layer of ``env`` (``env`` itself, then what
    each wrapper wraps) with its own ``sample_next_states`` and ``get_state``, else the unwrapped env.

    A wrapper that changes the dynamics offers them (:class:`ForceDisturbance`: its held force is part of its state);
    ``env.unwrapped`` knows nothing of such a wrapper, so sampling through it would ignore the force.

    :raises ValueError: a two-player wrapper (:class:`DisturbedByPolicy`, :class:`DisturberEnv`) lies in between: it
        changes the disturbance or the action inside ``step``, after the next states were sampled
    """
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, _TwoPlayerWrapper):
            name = type(layer).__name__
            raise ValueError(
                f"PerturbedTransitions cannot wrap {name}: {name} sets the disturbance (or the action) inside step, after "
                f"the perturbed next states are sampled, so they would not be the step's. Wrap the other way round: "
                f"{name}(PerturbedTransitions(ForceDisturbance(env, ...), models), ...)"
            )
        if callable(getattr(layer, "sample_next_states", None)) and callable(getattr(layer, "get_state", None)):
            return layer
        layer = layer.env
    return base


class PerturbedTransitions(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    Return, at every step, the next observation, reward and termination under each of K models.

    This is what robust critics consume (Mankowitz et al. 2020, Eq. 1): ``info["perturbed_next_obs"]``
    (K, obs_dim), ``info["perturbed_rewards"]`` (K,) and ``info["perturbed_terminated"]`` (K,), computed
    with ``sample_next_states`` from the state before the step, so they are right at terminal steps too
    (before any auto-reset replaces the observation).

    The K models are resolved as :meth:`~robust_envs.core.PerturbableEnv.resolve_param_batch` resolves them:
    partial mappings are completed against the env's persistent parameters, so ``{}`` (or ``{"friction": 1.0}``
    on an env made with ``friction=1.0``) is the env's own model and its entry equals the real transition.

    The next states are sampled through the outermost wrapper inside this one that has its own
    ``sample_next_states`` and ``get_state`` (a :class:`ForceDisturbance`: each model then runs under the force it
    holds, as ``step`` does), else through ``env.unwrapped``. Wrap a force inside this wrapper, not outside it
    (:class:`ForceDisturbance` refuses to wrap it), and a :class:`DisturbedByPolicy` or :class:`DisturberEnv` outside it.

    :param env: a robust env
    :param models: the K parameter settings (an :class:`UncertaintySet` of this env with members, or a non-empty
        sequence of mappings or vectors)
    :raises ValueError: bad models, or a :class:`DisturbedByPolicy`/:class:`DisturberEnv` inside this wrapper
    """

    def __init__(self, env: gym.Env, models: UncertaintySet | Sequence[Any] | Mapping[str, Any]) -> None:
        base = _perturbable(env, "PerturbedTransitions")
        sampler = _next_state_sampler(env, base)
        if isinstance(models, Mapping) and "env_id" in models:  # an UncertaintySet's to_dict(), from an EnvSpec
            models = UncertaintySet.from_dict(models)
        batch = base.resolve_param_batch(models)  # validates the models (and a set's env id) against the env
        gym.utils.RecordConstructorArgs.__init__(self, models=_json_models(models))
        super().__init__(env)
        self._base = base
        self._sampler = sampler
        self.models = models
        self._batch_of = base.base_params.tobytes()
        self._param_batch = batch
        self.n_models = batch.shape[0]

    @property
    def param_batch(self) -> np.ndarray:
        """
        The K models as a (K, n_params) array: partial mappings completed against the env's persistent
        parameters as they are now (re-resolved after a ``set_params``).
        """
        key = self._base.base_params.tobytes()
        if key != self._batch_of:
            self._param_batch = self._base.resolve_param_batch(self.models)
            self._batch_of = key
        return self._param_batch

    def step(self, action):
        """Step, and add the K models' next observations, rewards and terminations to ``info``."""
        sampled = self._sampler.sample_next_states(None, np.asarray(action)[None], self.param_batch)
        observation, reward, terminated, truncated, info = self.env.step(action)
        info[PERTURBED_NEXT_OBS] = sampled.observations[0]
        info[PERTURBED_REWARDS] = sampled.rewards[0]
        info[PERTURBED_TERMINATED] = sampled.terminated[0]
        return observation, reward, terminated, truncated, info


@contextmanager
def _forces_on(base: Any, bodies: Sequence[str], w: np.ndarray) -> Iterator[None]:
    """Hold the planar forces ``w`` (x, z per body) in ``xfrc_applied`` of ``base`` for the duration, then zero them."""
    # The body ids are looked up each time: a geometry change at reset may install another model.
    ids = [base.model.body(b).id for b in bodies]
    forces = w.reshape(-1, 2)
    base.data.xfrc_applied[ids, 0] = forces[:, 0]
    base.data.xfrc_applied[ids, 2] = forces[:, 1]
    try:
        yield
    finally:
        base.data.xfrc_applied[ids] = 0.0


class ForceDisturbance(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """
    An adversarial force on named bodies: the second player of RARL (Pinto et al. 2017) and of the H-infinity game.

    A :class:`~robust_envs.disturbance.DisturbanceChannel` (its rules: validation, clipping, state):
    ``disturbance_space`` (a Box), ``set_disturbance(w)``, which holds ``w`` for every following step until changed
    (zero after ``reset``), and :attr:`disturbance`; ``info["disturbance"]`` reports the ``w`` applied. Here ``w``
    holds a planar force (x, z) in newtons per body, written to ``xfrc_applied`` during the step. Drive it with
    :class:`DisturbedByPolicy` (protagonist training), :class:`DisturberEnv` (training the adversary with any SB3
    algorithm) or ``robust_sb3.rrl.RRL``; each finds it through any wrappers around it
    (:func:`~robust_envs.disturbance.find_disturbance_channel`).

    **State and next-state sampling.** :meth:`get_state` is the wrapped env's state followed by the held forces
    (:attr:`state_size` = the env's + ``2 * n_bodies``); :meth:`set_state` restores both. :meth:`sample_next_states`
    takes states of that layout and steps each under the forces it holds, exactly as :meth:`step` does: sample
    under a disturbance by putting it in the states (``set_disturbance(w)`` then ``get_state()``, or write the last
    ``2 * n_bodies`` entries). Rows without force use the env's batched sampler; rows with a force are stepped one
    by one on a private copy of the env (its ``reset`` with the row's parameters, ``set_state``, the force, ``step``).
    The ``env.unwrapped`` methods of the same names know nothing of the force; :class:`PerturbedTransitions` around
    this wrapper samples through it (this wrapper refuses to wrap a :class:`PerturbedTransitions`).

    :param env: a robust MuJoCo env
    :param bodies: names of the bodies pushed (one name may be given as a plain string)
    :param max_force: the bound of each force component (N)
    """

    def __init__(self, env: gym.Env, bodies: Sequence[str] | str, max_force: float) -> None:
        base: Any = _perturbable(env, "ForceDisturbance")
        if not hasattr(base, "model"):
            raise ValueError(f"ForceDisturbance needs a MuJoCo env, got {type(base).__name__}")
        inner: Any = env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, PerturbedTransitions):  # its next states, sampled inside the force, would ignore it
                raise ValueError(
                    "ForceDisturbance cannot wrap PerturbedTransitions: the perturbed next states would ignore the force. "
                    "Wrap the other way round: PerturbedTransitions(ForceDisturbance(env, bodies, max_force), models)"
                )
            inner = inner.env
        names = [base.model.body(i).name for i in range(base.model.nbody)]
        if isinstance(bodies, str):
            bodies = (bodies,)
        if not isinstance(bodies, Sequence) or not all(isinstance(b, str) for b in bodies):
            raise TypeError(f"bodies must be body names (strings), got {bodies!r}; valid: {names[1:]}")
        if not bodies:
            raise ValueError(f"ForceDisturbance needs at least one body name; valid: {names[1:]}")
        unknown = [b for b in bodies if b not in names]
        if unknown:
            raise ValueError(f"Unknown bodies {unknown} for {type(base).__name__}; valid: {names[1:]}")
        if isinstance(max_force, bool | np.bool_) or not isinstance(max_force, int | float | np.integer | np.floating):
            raise TypeError(f"max_force must be a number of newtons > 0, got {max_force!r} ({type(max_force).__name__})")
        if not (np.isfinite(max_force) and max_force > 0):
            raise ValueError(f"max_force must be positive and finite, got {max_force}")
        gym.utils.RecordConstructorArgs.__init__(self, bodies=list(bodies), max_force=float(max_force))
        super().__init__(env)
        self._base = base
        self.bodies = tuple(bodies)
        self.max_force = float(max_force)
        self.disturbance_space = spaces.Box(-self.max_force, self.max_force, shape=(2 * len(self.bodies),), dtype=np.float32)
        self._w = np.zeros(self.disturbance_space.shape, dtype=np.float64)
        self._scratch: Any = None  # the private copy of the env that steps sampled rows under a force

    def _owner(self) -> str:
        return f"ForceDisturbance on {self.bodies} (x, z per body, |f| <= {self.max_force} N)"

    # ---- the disturbance channel ---------------------------------------------------------------------
    @property
    def disturbance(self) -> np.ndarray:
        """The held forces (x, z per body, N), a new array of ``disturbance_space.shape``."""
        return self._w.copy()

    def set_disturbance(self, w: Any) -> None:
        """
        :param w: (2 * n_bodies,) forces (x, z per body), clipped to ``max_force``
        :raises ValueError: not numbers, wrong shape or non-finite values (the held forces are unchanged)
        """
        self._w = check_disturbance(w, self.disturbance_space, self._owner())

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Length of :meth:`get_state`: the wrapped env's state and ``2 * n_bodies`` forces."""
        return int(self._base.state_size) + self._w.size

    def get_state(self) -> np.ndarray:
        """:return: the wrapped env's ``get_state()`` followed by the held forces, as a new flat array."""
        return np.concatenate((self._base.get_state(), self._w))

    def set_state(self, state: np.ndarray) -> None:
        """
        Resume from a state of :meth:`get_state`: the env's state and the held forces (clipped to ``max_force``).

        :raises TypeError: ``None`` or something that is not numbers
        :raises ValueError: wrong shape, NaN or inf, or a state the env refuses (nothing changes then)
        """
        state = as_number_array(state, "state")
        if state.shape != (self.state_size,):
            raise ValueError(
                f"State of shape {state.shape} does not fit {self._owner()}: expected ({self.state_size},) as get_state() "
                f"returns, the env's {self.state_size - self._w.size} entries then the {self._w.size} forces"
            )
        w = check_disturbance(state[-self._w.size :], self.disturbance_space, f"the state's last entries, {self._owner()}")
        self._base.set_state(state[: -self._w.size])
        self._w = w

    def sample_next_states(self, states: np.ndarray | None, actions: np.ndarray, params: Any = None) -> NextStates:
        """
        One step from each of N states (of :meth:`get_state`, forces included) under each of K parameter vectors,
        each under the forces its state holds, without touching the episode; equal to :meth:`step` from that state.

        :param states: (N, state_size) states of :meth:`get_state`, or ``None`` for the current state (N = 1)
        :param actions: N actions, as the env's ``sample_next_states`` takes them
        :param params: the K parameter vectors, as the env's ``sample_next_states`` takes them
        :return: :class:`~robust_envs.core.NextStates` with leading axes (N, K); next states in the layout of
            :meth:`get_state`, holding the same forces
        """
        size, d = self.state_size, self._w.size
        rows = self.get_state()[None, :] if states is None else np.atleast_2d(as_number_array(states, "states"))
        if rows.ndim != 2 or rows.shape[1] != size:
            raise ValueError(
                f"states must have shape (N, {size}) as get_state() returns (the env's {size - d} entries then the "
                f"{d} forces of {self._owner()}), got {rows.shape}"
            )
        forces = np.array([check_disturbance(w, self.disturbance_space, self._owner()) for w in rows[:, -d:]])
        physics = rows[:, :-d]
        vectors = self._base.resolve_param_batch(params)
        # the env's batched sampler checks the states and actions, and is the answer for rows without force
        result = self._base.sample_next_states(physics, actions, vectors)
        n, k = result.rewards.shape
        observations, rewards, terminated, final = (np.array(a) for a in result)
        pushed = np.flatnonzero(forces.reshape(n, d).any(axis=1))
        if pushed.size:
            action_rows = np.asarray(actions).reshape(n, *self.action_space.shape)
            scratch = self._scratch_env()
            for j, vector in enumerate(vectors):
                scratch.reset(options={"params": vector})
                for i in pushed:
                    scratch.set_state(physics[i])
                    with _forces_on(scratch, self.bodies, forces[i]):
                        observations[i, j], rewards[i, j], terminated[i, j], _, _ = scratch.step(action_rows[i])
                    final[i, j] = scratch.get_state()
        held = np.broadcast_to(forces.reshape(n, 1, d), (n, k, d))
        return NextStates(observations, rewards, terminated, np.concatenate((final, held), axis=2))

    def _scratch_env(self) -> Any:
        if self._scratch is None:
            self._scratch = copy.deepcopy(self._base)
        return self._scratch

    # ---- Gymnasium API ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset; the disturbance returns to zero."""
        self._w = np.zeros_like(self._w)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        """Step with the held forces applied to the bodies' centres of mass."""
        with _forces_on(self._base, self.bodies, self._w):
            observation, reward, terminated, truncated, info = self.env.step(action)
        info[DISTURBANCE_KEY] = self._w.copy()
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        """Close the env and the private copy that samples under a force."""
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        super().close()


class _TwoPlayerWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Remembers the last observation, which the fixed player acts on at the next step."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        #: the disturbance channel this wrapper drives (:func:`~robust_envs.disturbance.find_disturbance_channel`)
        self.channel = find_disturbance_channel(env)
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

    :param env: an env with a disturbance channel anywhere in its wrapper chain (:class:`ForceDisturbance`,
        RobustPendulum; see :func:`~robust_envs.disturbance.find_disturbance_channel`)
    :param adversary: ``obs -> w`` callable, or an SB3 model (its ``predict`` is used, deterministic), as
        :func:`~robust_envs.evaluation.policies.as_policy` takes it
    :raises ValueError: the env has no disturbance channel
    :raises TypeError: the adversary is neither callable nor has ``predict``
    """

    def __init__(self, env: gym.Env, adversary: Any) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, adversary=adversary)
        super().__init__(env)
        self.adversary = adversary
        self._adversary = as_policy(adversary)

    def step(self, action):
        """The adversary's disturbance, then the protagonist's action."""
        self.channel.set_disturbance(self._adversary(self._last_observation()))
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        return self._obs, reward, terminated, truncated, info


class DisturberEnv(_TwoPlayerWrapper):
    """
    The adversary's view: actions are disturbances, the protagonist is fixed, rewards are negated (zero-sum, as in RARL).

    :param env: an env with a disturbance channel anywhere in its wrapper chain
    :param protagonist: ``obs -> action`` callable, or an SB3 model (deterministic ``predict``), as
        :func:`~robust_envs.evaluation.policies.as_policy` takes it
    :raises ValueError: the env has no disturbance channel
    :raises TypeError: the protagonist is neither callable nor has ``predict``
    """

    def __init__(self, env: gym.Env, protagonist: Any) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, protagonist=protagonist)
        super().__init__(env)
        self.action_space = self.channel.disturbance_space
        self.protagonist = protagonist
        self._protagonist = as_policy(protagonist)

    def step(self, action):
        """Apply the disturbance ``action``, let the protagonist act, and return the negated reward."""
        observation = self._last_observation()
        self.channel.set_disturbance(action)
        self._obs, reward, terminated, truncated, info = self.env.step(self._protagonist(observation))
        return self._obs, -float(reward), terminated, truncated, info
