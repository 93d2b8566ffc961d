"""What every perturbable env shares, MuJoCo or not: its parameters, how they are set, and what reports them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

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


class PerturbableEnv(gym.Env):
    """
    Mixin for envs with a :class:`~robust_envs.params.ParamSpace`.

    Parameters are set three ways: ``params`` at construction, :meth:`set_params` (persistent: every
    following episode, including SB3's auto-resets) and ``reset(options={"params": ...})`` (that episode
    only, starting from the persistent values). ``info["params"]`` of every reset and step reports the
    parameters the episode runs with. Subclasses call :meth:`_init_params` first in their constructor and
    :meth:`_begin_episode` in ``reset``.

    Every env takes ``keep_mass`` (default ``False``): with ``True`` a length or size change keeps each
    body's mass (see :attr:`keep_mass`); envs without such a parameter refuse ``True`` with a ``ValueError``.
    """

    param_space: ClassVar[ParamSpace]
    _spec: EnvSpec | None = None
    _keep_mass: bool = False

    def _init_params(self, params: ParamsLike | None, keep_mass: bool = False) -> None:
        """Validate the constructor's ``params`` and ``keep_mass``; call before anything builds the simulation."""
        self._keep_mass = check_keep_mass(keep_mass, self.param_space)
        self._params = self.param_space.resolve(params)
        self._episode_params = self._params.copy()
        self._episode_params_dict = self.param_space.to_dict(self._episode_params)

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

        They take effect at the next ``reset()``; the running episode keeps its physics.

        :param params: a mapping (partial: other parameters return to nominal), a full vector, or ``None`` for nominal
        """
        self._params = self.param_space.resolve(params)

    def _episode_params_from(self, options: Mapping[str, Any] | None) -> np.ndarray:
        """:return: the parameters of the episode a ``reset`` with these options starts."""
        if not options:
            return self._params
        if len(options) > 1 or "params" not in options:
            unknown = set(options) - {"params"}
            raise ValueError(f"Unknown reset option(s) {sorted(unknown)} for {type(self).__name__}; allowed: ['params']")
        return self.param_space.resolve(options["params"], base=self._params)

    def _begin_episode(self, vector: np.ndarray) -> None:
        """Record the parameters of the episode that starts now."""
        self._episode_params = vector.copy()
        self._episode_params_dict = self.param_space.to_dict(vector)

    def resolve_param_batch(self, params: Any) -> np.ndarray:
        """
        :param params: ``None`` (the current episode's parameters), one mapping or vector, a sequence of them,
            or an :class:`~robust_envs.uncertainty.UncertaintySet` with finitely many members; partial
            mappings start from nominal
        :return: a (K, n_params) array of validated parameter vectors
        """
        if params is None:
            return self._episode_params[None, :].copy()
        members = getattr(params, "members", None)
        if members is not None:
            if not members:
                raise ValueError(
                    f"A box UncertaintySet ({params.name or params.env_id}) has no finite members; pass set.grid() or samples"
                )
            params = members
        if isinstance(params, Mapping):
            return self.param_space.resolve(params)[None, :]
        if isinstance(params, np.ndarray):
            if params.ndim == 2:
                return np.stack([self.param_space.resolve(p) for p in params])
            return self.param_space.resolve(params)[None, :]
        if isinstance(params, list | tuple) and params:
            if all(isinstance(p, Mapping | list | tuple | np.ndarray) for p in params):
                return np.stack([self.param_space.resolve(p) for p in params])
            return self.param_space.resolve(params)[None, :]
        raise TypeError(
            f"params must be None, a mapping, a vector, a non-empty sequence of those or an UncertaintySet, got {params!r}"
        )
