"""What every perturbable env shares, MuJoCo or not: its parameters, how they are set, and what reports them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils import EzPickle

from robust_envs.params import ParamsLike, ParamSpace, ValidatedParams


class NextStates(NamedTuple):
    """
    What ``sample_next_states`` returns for N states, N actions and K parameter vectors.

    :param observations: (N, K, obs_dim)
    :param rewards: (N, K)
    :param terminated: (N, K) booleans
    :param states: (N, K, state_dim) states in the layout of the env's ``get_state``
    """

    observations: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    states: np.ndarray


def check_action(action: Any, shape: tuple[int, ...], owner: Any) -> np.ndarray:
    """
    The action check of ``step`` in the MuJoCo and suite families: shape, numbers, finiteness.

    It costs about a microsecond: a sum of the few entries is finite exactly when every entry is, unless it
    overflows (``|a|`` near 1e308), so the exact test runs only then; a Python sum of the entries costs a quarter
    of any numpy call on them.

    :param action: what the caller passed to ``step``
    :param shape: the action space's shape
    :param owner: the env, named in the messages
    :return: the action as an array (no copy when it is one already)
    :raises ValueError: wrong shape, entries that are not numbers, NaN or inf
    """
    action = np.asarray(action)
    if action.shape != shape:
        raise ValueError(
            f"Action dimension mismatch: Action must have shape {shape}, got {action.shape} ({action!r}); "
            f"{type(owner).__name__} takes one value per actuator"
        )
    try:
        finite = math.isfinite(sum(action.tolist()))
    except TypeError:  # strings, None, objects
        raise ValueError(f"Action must be numbers, got {action!r} (dtype {action.dtype}) for {type(owner).__name__}") from None
    if not finite and not np.isfinite(action).all():
        raise ValueError(f"Action must be finite, got {action} for {type(owner).__name__}: {_bad_entries(action)}")
    return action


def _bad_entries(values: np.ndarray, limit: int = 4) -> str:
    """:return: the NaN and inf entries and where they are (``"nan at 3, inf at 5"``; index tuples beyond 1-d)."""
    bad = np.argwhere(~np.isfinite(values))
    parts = [f"{values[tuple(i)]} at {int(i[0]) if values.ndim == 1 else tuple(int(j) for j in i)}" for i in bad[:limit]]
    return ", ".join(parts) + (f" and {len(bad) - limit} more" if len(bad) > limit else "")


def as_number_array(value: Any, what: str) -> np.ndarray:
    """
    :param value: user input that should be an array of real numbers (a state, a batch of states or actions)
    :param what: its name, for the message
    :return: the input as a float64 array
    :raises TypeError: ``None``, strings, objects or complex numbers
    """
    raw = None if value is None else np.asarray(value)
    if raw is None or raw.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be an array of real numbers, got {value!r}")
    return raw.astype(np.float64, copy=False)


def check_keep_mass(keep_mass: Any, space: ParamSpace) -> bool:
    """
    Validate an env's ``keep_mass`` argument.

    :param keep_mass: the constructor's value
    :param space: the env's parameters
    :return: ``keep_mass`` as a Python bool
    :raises ValueError: a value that is not a bool (``"yes"``, ``1.5``, ``None``), or ``True`` for an env
        without a length or size parameter (kind ``"geometry"``), where it could keep nothing
    """
    # 0, 1 and strings are refused too: a typo must not silently pick a variant of the physics
    if not isinstance(keep_mass, bool | np.bool_):
        raise ValueError(f"keep_mass must be True or False, got {keep_mass!r} ({type(keep_mass).__name__})")
    if keep_mass and not space.indices_of_kind("geometry"):
        raise ValueError(
            f"keep_mass=True: {space.owner} has no length or size parameter whose change alters a body's mass "
            f"(its parameters: {', '.join(space.names)}), so there is no mass to keep; omit keep_mass"
        )
    return bool(keep_mass)


#: How many recent settings an env keeps as a vector and a ``{name: value}`` dict (a finite set's members).
_EPISODES = 64


class PerturbableEnv(gym.Env):
    """
    The contract every robust env keeps, whatever simulates it (MuJoCo, dm_control, numpy equations).

    **Parameters.** Three ways to set them: ``params`` at construction, :meth:`set_params` (persistent: every
    following episode, including SB3's auto-resets) and ``reset(options={"params": ...})`` (that episode only).
    The persistent values are :attr:`base_params`; every partial mapping, on every path (``set_params``, reset
    options, :meth:`resolve_param_batch` and so :meth:`sample_next_states` and the wrappers), is completed
    against them. ``info["params"]`` of every reset and step reports the parameters the episode runs with.

    **State.** :meth:`get_state` / :meth:`set_state` save and restore the full state; :meth:`set_state` checks
    shape and finiteness once here, for every family, and a refused state changes nothing.

    **Next states.** :meth:`sample_next_states` is written once here: it validates states, actions and
    parameters, resolves them, and calls the family's :meth:`_step_rows` on the flattened rows.

    **Copies.** ``copy.deepcopy`` and pickling rebuild the env from its constructor arguments (as Gymnasium's
    ``EzPickle`` envs do) and then restore the persistent and episode parameters, the state and the random
    generators, so a copy taken mid-episode continues that episode exactly. (Gymnasium's own MuJoCo envs
    restart from their constructor instead: a copy of them has to be reset.)

    Every env takes ``keep_mass`` (default ``False``): with ``True`` a length or size change keeps each
    body's mass (see :attr:`keep_mass`); envs without such a parameter refuse ``True`` with a ``ValueError``.

    Subclasses call :meth:`_init_params` first in their constructor, :meth:`_episode_params_from` then
    :meth:`_begin_episode` in ``reset``, and implement :meth:`get_state`, :meth:`_restore_state`,
    :meth:`_step_rows` and, where their parameters live outside :attr:`params`, :meth:`_restore_episode_params`.
    """

    param_space: ClassVar[ParamSpace]
    #: Names of the entries of :meth:`get_state`, where the layout is fixed (classic-control envs), for messages.
    state_fields: ClassVar[tuple[str, ...] | None] = None
    _spec: EnvSpec | None = None
    _keep_mass: bool = False

    def _init_params(self, params: ParamsLike | None, keep_mass: bool = False) -> None:
        """Validate the constructor's ``params`` and ``keep_mass``; call before anything builds the simulation."""
        self._keep_mass = check_keep_mass(keep_mass, self.param_space)
        self._params = self.param_space.resolve(params)
        self._episode_key: bytes | None = None  # the episode's parameters as bytes
        # settings met recently, by bytes: (read-only vector, {name: value}); a reset with the parameters of the
        # last episode, or of a member of a finite set, copies no vector and builds no dict
        self._episodes: dict[bytes, tuple[np.ndarray, dict[str, float]]] = {}
        # the same records for the settings of coming episodes (prepare_episodes), made in one batch
        self._episodes_ahead: dict[bytes, tuple[np.ndarray, dict[str, float]]] = {}
        self._begin_episode(self._params)

    # ---- spec: keep params JSON-serialisable --------------------------------------------------
    @property  # type: ignore[override]
    def spec(self) -> EnvSpec | None:
        """The env spec; ``params`` in its kwargs are plain floats and ``keep_mass`` a bool, so ``spec.to_json()`` works."""
        return self._spec

    @spec.setter
    def spec(self, value: EnvSpec | None) -> None:
        if value is not None and isinstance(value.kwargs.get("keep_mass"), np.bool_):
            value.kwargs["keep_mass"] = bool(value.kwargs["keep_mass"])
        if value is not None and value.kwargs.get("params") is not None:
            raw = value.kwargs["params"]
            if isinstance(raw, ValidatedParams):
                raw = raw.vector
            if isinstance(raw, Mapping):
                clean: Any = {str(k): float(v) for k, v in raw.items()}
            else:
                clean = [float(v) for v in np.asarray(raw).ravel()]
            value.kwargs["params"] = clean
        self._spec = value

    # ---- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        """The parameters of the current episode, as a new ``{name: value}`` dict."""
        return dict(self._episode_params_dict)

    @property
    def base_params(self) -> np.ndarray:
        """
        The persistent parameters (constructor, then :meth:`set_params`) as a new vector in declared order.

        Every episode starts from them, and every partial mapping is completed against them.
        """
        return self._params.copy()

    @property
    def keep_mass(self) -> bool:
        """
        Whether length and size parameters keep each body's mass (the constructor's ``keep_mass``).

        ``False`` (default): a rebuilt body keeps its density, so its mass follows its new volume. ``True``: it
        keeps the mass it has at nominal geometry, spread uniformly over its new shape, with the inertia
        (and centre of mass, principal axes) of that shape; mass and density parameters still multiply.
        """
        return self._keep_mass

    @property
    def param_vector(self) -> np.ndarray:
        """The parameters of the current episode, as a new vector in declared order."""
        return self._episode_params.copy()

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names in vector order."""
        return self.param_space.names

    def set_params(self, params: ParamsLike | None) -> None:
        """
        Set the parameters of every following episode (they persist across resets, including SB3's auto-resets).

        They take effect at the next ``reset()``; the running episode keeps its physics. A refused value
        changes nothing.

        :param params: a mapping (partial: the other parameters keep their persistent values, :attr:`base_params`),
            a full vector, or ``None`` to return every parameter to nominal
        """
        self._params = self.param_space.resolve(params, base=None if params is None else self._params)

    def _episode_params_from(self, options: Any, allowed: tuple[str, ...] = ("params",)) -> np.ndarray:
        """
        :param options: ``reset``'s options
        :param allowed: the option names the env takes
        :return: the parameters of the episode a ``reset`` with these options starts (partial mappings
            completed against :attr:`base_params`)
        :raises TypeError: options that are not a mapping
        :raises ValueError: an option the env does not take, or bad parameters
        """
        if options is None:
            return self._params
        if type(options) is dict and len(options) == 1 and "params" in options and "params" in allowed:
            # what DomainRandomization passes at every reset (no other option to check)
            params = options["params"]
            if type(params) is ValidatedParams and params.space is self.param_space:
                return params.vector  # read-only, validated against this space
            return self.param_space.resolve(params, base=self._params)
        if not isinstance(options, Mapping):
            raise TypeError(
                f"reset options must be None or a dict, got {options!r} ({type(options).__name__}); "
                f"allowed keys for {type(self).__name__}: {sorted(allowed)}, e.g. options={{'params': {{...}}}}"
            )
        unknown = [key for key in options if key not in allowed]
        if unknown:
            raise ValueError(
                f"Unknown reset option(s) {sorted(map(str, unknown))} for {type(self).__name__}; allowed: {sorted(allowed)}"
            )
        if "params" not in options:
            return self._params
        return self.param_space.resolve(options["params"], base=self._params)

    def _begin_episode(self, vector: np.ndarray, key: bytes | None = None) -> None:
        """Record the parameters of the episode that starts now (``key``: ``vector.tobytes()``, where the caller has it)."""
        if key is None:
            key = vector.tobytes()
        if key == self._episode_key:
            return
        episodes = self._episodes
        episode = episodes.get(key) or self._episodes_ahead.get(key)
        if episode is None:
            if len(episodes) >= _EPISODES:
                episodes.clear()
            own = vector.copy()
            own.flags.writeable = False
            # ParamSpace.to_dict's mapping, from a validated vector of this space (one value per name)
            episode = episodes[key] = (own, dict(zip(self.param_space.names, own.tolist(), strict=True)))
        # both shared with the cache, so never mutated: param_vector and params return copies
        self._episode_params, self._episode_params_dict = episode
        self._episode_key = key

    def prepare_episodes(self, params: np.ndarray) -> int:
        """
        A hint that coming episodes will run with these settings (a domain randomisation's next draws), so that
        the env may compute what they need ahead, in one batch: their records (the vector and ``{name: value}``
        dict an episode reports) here, their models in the family's :meth:`_prepare_models`. Nothing the env
        reports or simulates changes. A new call replaces the settings prepared before.

        :param params: (B, n_params) validated parameter vectors of this env's space
        :return: how many settings' models were prepared (:meth:`_prepare_models`)
        """
        names = self.param_space.names
        own = np.array(params, dtype=np.float64)  # the records' vectors, never written
        if own.ndim != 2 or own.shape[1] != len(names):
            raise ValueError(
                f"prepare_episodes takes a (B, {len(names)}) array of {type(self).__name__}'s parameter vectors "
                f"({', '.join(names)}), got shape {own.shape}"
            )
        own.flags.writeable = False
        blob, width = own.tobytes(), own.shape[1] * own.itemsize
        keys = [blob[start : start + width] for start in range(0, len(blob), width)]
        # a record is used only for a vector with its bytes, so with its values: one value per name, as in
        # _begin_episode (the width is checked above)
        mappings = [dict(zip(names, values)) for values in own.tolist()]  # noqa: B905
        self._episodes_ahead = dict(zip(keys, zip(own, mappings)))  # noqa: B905
        return self._prepare_models(own)

    def _prepare_models(self, params: np.ndarray) -> int:
        """
        Compute the models of coming episodes' settings ahead (the family's part of :meth:`prepare_episodes`); an
        env with nothing to compute ahead (this default) prepares none.

        :param params: (B, n_params) validated, read-only parameter vectors of this env's space
        :return: how many settings were prepared
        """
        return 0

    def _restore_episode_params(self, vector: np.ndarray) -> None:
        """
        Install the parameters of a running episode without starting a new one (for copies and unpickling).

        Families whose simulation holds the parameters (a MuJoCo model, Gymnasium's attributes) extend it.
        """
        self._begin_episode(vector)

    def check_uncertainty_set(self, uncertainty_set: Any, user: str = "") -> None:
        """
        :param uncertainty_set: an :class:`~robust_envs.uncertainty.UncertaintySet`
        :param user: who asks (a wrapper's name), for the message
        :raises ValueError: the set was made for another env (an id that is neither this env's nor one of its class)
        """
        set_id = uncertainty_set.env_id
        own = self.spec.id if self.spec is not None else type(self).__name__
        # the same id, or an id whose entry point is this env's class (a re-registration with other defaults)
        entry = gym.registry[set_id].entry_point if set_id in gym.registry else None
        if isinstance(entry, str):
            same_class = entry == f"{type(self).__module__}:{type(self).__qualname__}"
        else:
            same_class = entry is type(self)
        matches = set_id == own or same_class
        if not matches:
            name = f" {uncertainty_set.name!r}" if uncertainty_set.name else ""
            fix = (
                f"a set of {own!r} (robust_envs.list_presets({own!r}))" if self.spec is not None else "a set of this env's id"
            )
            raise ValueError(
                f"{user or 'This'} UncertaintySet{name} is for {set_id!r}, not for {own!r}: its parameter names and "
                f"ranges belong to that env. Use {fix}, or dataclasses.replace(the_set, env_id=...) if it is meant "
                "for this env"
            )

    def resolve_param_batch(self, params: Any) -> np.ndarray:
        """
        :param params: ``None`` (the current episode's parameters), one mapping, vector or
            :class:`~robust_envs.params.ValidatedParams`, a non-empty sequence or (K, n_params) array of them,
            or an :class:`~robust_envs.uncertainty.UncertaintySet` of this env with finitely many members;
            partial mappings are completed against :attr:`base_params`
        :return: a (K, n_params) array of validated parameter vectors, K >= 1
        :raises ValueError: no parameter vector at all (K = 0), a box set, a set of another env, bad values
        :raises TypeError: input of another kind
        """
        if params is None:
            return self._episode_params[None, :].copy()
        base = self._params
        space = self.param_space
        members = getattr(params, "members", None)
        if members is not None and hasattr(params, "env_id"):
            self.check_uncertainty_set(params)
            if not members:
                raise ValueError(
                    f"A box UncertaintySet ({params.name or params.env_id}) has no finite members; pass set.grid() or samples"
                )
            params = members
        if isinstance(params, Mapping | ValidatedParams):
            return space.resolve(params, base=base)[None, :]
        if isinstance(params, np.ndarray) and params.ndim == 2:
            if params.shape[0] == 0:
                raise ValueError(self._no_models_message(params))
            return space.resolve_rows(params, base=base)
        if isinstance(params, list | tuple) and all(
            isinstance(p, Mapping | list | tuple | np.ndarray | ValidatedParams) for p in params
        ):
            if not params:
                raise ValueError(self._no_models_message(params))
            return np.stack([space.resolve(p, base=base) for p in params])
        if isinstance(params, np.ndarray | list | tuple):
            return space.resolve(params, base=base)[None, :]
        raise TypeError(
            f"params must be None, a mapping, a vector, a non-empty sequence of those or an UncertaintySet, got {params!r}"
        )

    def _no_models_message(self, params: Any) -> str:
        return (
            f"No parameter vectors (K = 0) in params={params!r}: next states need at least one model; pass None for "
            f"the episode's own parameters, or e.g. [{{}}] for the persistent ones ({type(self).__name__})"
        )

    # ---- state ----------------------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Length of the vector :meth:`get_state` returns."""
        raise NotImplementedError

    def get_state(self) -> np.ndarray:
        """:return: the full state as a new flat array; :meth:`set_state` resumes from it exactly."""
        raise NotImplementedError

    def set_state(self, state: np.ndarray) -> None:
        """
        Resume from a state of :meth:`get_state`.

        :param state: a flat array of :attr:`state_size` finite numbers
        :raises TypeError: ``None`` or something that is not numbers
        :raises ValueError: wrong shape, NaN or inf, or values the family refuses (nothing changes then)
        """
        state = as_number_array(state, "state")
        size = self.state_size
        if state.shape != (size,):
            layout = f", laid out as {self.state_fields}" if self.state_fields else ""
            raise ValueError(
                f"State of shape {state.shape} does not fit {type(self).__name__}: "
                f"expected ({size},) as get_state() returns{layout}"
            )
        if not np.isfinite(state).all():
            raise ValueError(f"State contains NaN or inf: {_bad_entries(state)} (state {state})")
        self._check_state_values(state[None, :])
        self._restore_state(state)

    def _restore_state(self, state: np.ndarray) -> None:
        """Install a checked state (shape (state_size,), finite) into the running episode."""
        raise NotImplementedError

    def _check_state_values(self, states: np.ndarray) -> None:
        """Refuse (N, state_size) finite states the family cannot run from (default: none)."""

    def _state_rows(self, states: Any) -> np.ndarray:
        """:return: checked (N, state_size) states: ``None`` is the current state (N = 1), a flat state is N = 1."""
        if states is None:
            return self.get_state()[None, :]
        rows = np.atleast_2d(as_number_array(states, "states"))
        size = self.state_size
        if rows.ndim != 2 or rows.shape[1] != size:
            layout = f", laid out as {self.state_fields}" if self.state_fields else ""
            raise ValueError(f"states must have shape (N, {size}) as get_state() returns{layout}, got {rows.shape}")
        if not np.isfinite(rows).all():
            raise ValueError(f"states contain NaN or inf: {_bad_entries(rows)} (row, entry)")
        self._check_state_values(rows)
        return rows

    # ---- next-state sampling ------------------------------------------------------------------------
    def sample_next_states(self, states: np.ndarray | None, actions: np.ndarray, params: Any = None) -> NextStates:
        """
        One env step from each of N states under each of K parameter vectors, without touching the episode.

        Written once for every family: it checks the inputs (NaN or inf states or actions are a ``ValueError``
        naming them), resolves the K parameter vectors (partial mappings completed against :attr:`base_params`),
        and passes the N * K rows to the family's :meth:`_step_rows`. With K = 1 and the episode's parameters the
        result equals :meth:`step` bit for bit. N = 0 gives empty results of the right shapes.

        :param states: (N, state_dim) states of :meth:`get_state`, or ``None`` for the current state (N = 1)
        :param actions: N actions, see the family's :meth:`_check_action_rows` (a single action for N = 1)
        :param params: the K parameter vectors, see :meth:`resolve_param_batch`
        :return: :class:`NextStates` with leading axes (N, K)
        """
        states = self._state_rows(states)
        n = states.shape[0]
        actions = self._check_action_rows(actions, n)
        vectors = self.resolve_param_batch(params)
        k = vectors.shape[0]
        if n == 0:
            space = self.observation_space
            return NextStates(
                observations=np.empty((0, k, *space.shape), dtype=space.dtype),
                rewards=np.empty((0, k)),
                terminated=np.empty((0, k), dtype=bool),
                states=np.empty((0, k, states.shape[1])),
            )
        # row n * K + k: state n under parameter vector k
        observations, rewards, terminated, final = self._step_rows(
            np.repeat(states, k, axis=0), np.repeat(actions, k, axis=0), vectors
        )
        return NextStates(
            observations=np.asarray(observations).reshape(n, k, -1),
            rewards=np.asarray(rewards, dtype=np.float64).reshape(n, k),
            terminated=np.asarray(terminated, dtype=bool).reshape(n, k),
            states=final.reshape(n, k, -1),
        )

    def step_batch(self, states: np.ndarray, actions: np.ndarray, params: Any) -> NextStates:
        """
        One env step of each of N rows, row ``n`` from ``states[n]`` with ``actions[n]`` under its own setting
        ``params[n]`` (paired, where :meth:`sample_next_states` crosses every state with every setting); the episode
        is not touched.

        For stepping many perturbed copies of an env together (WR2L's perturbed returns): the physics of all rows
        runs in one batched call of the family's sampler, and chaining the returned states continues each row's
        episode. The MuJoCo family's returned states carry no solver warm start (``mujoco.rollout`` does not return
        it), so a chain of them can drift from :meth:`step`'s trajectory by the solver's tolerance, which contacts
        can amplify over an episode; one step from a state of :meth:`get_state` equals :meth:`step` bit for bit.

        :param states: (N, state_dim) states of :meth:`get_state`
        :param actions: N actions, see the family's :meth:`_check_action_rows`
        :param params: N parameter settings, each as :meth:`resolve_param_batch` takes one (partial mappings
            completed against :attr:`base_params`), or an (N, n_params) array of vectors
        :return: :class:`NextStates` with leading axes (N, 1)
        :raises ValueError: bad states or actions (named), or a number of settings other than N
        """
        states = self._state_rows(states)
        n = states.shape[0]
        actions = self._check_action_rows(actions, n)
        if n == 0:
            return self.sample_next_states(states, actions, None)
        vectors = self.resolve_param_batch(params)
        if vectors.shape[0] != n:
            raise ValueError(f"step_batch: {n} states need {n} parameter settings (one per row), got {vectors.shape[0]}")
        observations, rewards, terminated, final = self._step_rows(states, actions, vectors)
        return NextStates(
            observations=np.asarray(observations).reshape(n, 1, -1),
            rewards=np.asarray(rewards, dtype=np.float64).reshape(n, 1),
            terminated=np.asarray(terminated, dtype=bool).reshape(n, 1),
            states=final.reshape(n, 1, -1),
        )

    def _check_action_rows(self, actions: Any, n: int) -> np.ndarray:
        """
        Check the N actions of :meth:`sample_next_states` (this default serves ``Box`` action spaces).

        :param actions: (N, action_dim), or (action_dim,) with N = 1
        :param n: the number of states
        :return: the actions, one row per state, in the caller's dtype
        """
        raw = np.asarray(actions) if actions is not None else None
        if raw is None or raw.dtype.kind not in "biuf":
            raise ValueError(f"actions must be an array of numbers, got {actions!r}")
        rows = np.atleast_2d(raw)
        shape = self.action_space.shape or ()
        if rows.shape != (n, *shape):
            raise ValueError(
                f"actions must have shape ({n}, {', '.join(map(str, shape))}) to match {n} states, got {raw.shape}"
            )
        if not np.isfinite(rows).all():
            raise ValueError(f"actions contain NaN or inf: {_bad_entries(rows)} (row, entry)")
        return rows

    def _step_rows(self, states: np.ndarray, actions: np.ndarray, vectors: np.ndarray) -> tuple[Any, Any, Any, np.ndarray]:
        """
        One step of each of M = N * K rows; row ``m`` runs under ``vectors[m % K]``.

        :param states: (M, state_dim) checked states
        :param actions: (M, ...) checked actions, as :meth:`_check_action_rows` returned them
        :param vectors: (K, n_params) validated parameter vectors
        :return: observations (M, obs_dim), rewards (M,), terminated (M,) and next states (M, state_dim)
        """
        raise NotImplementedError

    # ---- copies and pickling --------------------------------------------------------------------
    def _has_state(self) -> bool:
        """Whether :meth:`get_state` has a state to return (classic-control envs have none before ``reset``)."""
        return True

    def _extra_snapshot(self) -> Any:
        """What a copy needs beyond parameters, state and ``np_random`` (a family's own generators)."""
        return None

    def _restore_extra(self, extra: Any) -> None:
        """Restore what :meth:`_extra_snapshot` returned."""

    def __getstate__(self) -> dict[str, Any]:
        if not isinstance(self, EzPickle):
            return dict(self.__dict__)
        state = EzPickle.__getstate__(self)
        state["_robust_episode"] = {
            "base": self._params.copy(),
            "episode": self._episode_params.copy(),
            "state": self.get_state() if self._has_state() else None,
            "np_random": self._np_random,
            "np_random_seed": self._np_random_seed,
            "extra": self._extra_snapshot(),
            "spec": self._spec,
        }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_ezpickle_args" not in state:
            self.__dict__.update(state)
            return
        episode = state.pop("_robust_episode", None)
        EzPickle.__setstate__(self, state)  # type: ignore[arg-type]
        if episode is None:
            return
        self._params = episode["base"]
        self._restore_episode_params(episode["episode"])
        self._restore_extra(episode["extra"])
        if episode["state"] is not None:
            self._restore_state(episode["state"])
        self._np_random, self._np_random_seed = episode["np_random"], episode["np_random_seed"]
        self._spec = episode["spec"]
