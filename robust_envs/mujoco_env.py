"""The perturbable MuJoCo environment base: parameters, full state and next-state sampling."""

from __future__ import annotations

import functools
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import mujoco.rollout
import numpy as np
from gymnasium.envs.mujoco import MujocoEnv
from gymnasium.utils import EzPickle

from robust_envs.core import PerturbableEnv, check_action
from robust_envs.mujoco_model import ModelBuilder
from robust_envs.params import ParamsLike, ParamSpace

#: The state :meth:`RobustMujocoEnv.get_state` returns: ``mjSTATE_FULLPHYSICS`` (time, qpos, qvel, act,
#: history, plugin state) plus the constraint solver's warm-start, without which a resumed step differs
#: from the original in the last bits whenever a contact or joint limit is active.
STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS | mujoco.mjtState.mjSTATE_WARMSTART
_PHYSICS_BEFORE_WARMSTART = mujoco.mjtState.mjSTATE_TIME | mujoco.mjtState.mjSTATE_PHYSICS

_NO_DERIVED: dict[str, np.ndarray] = {}
# what step passes as qpos_before to a _transition that does not read it (reads_qpos_before): empty, so a read fails
_NOT_READ = np.empty(0)
_NOT_READ.flags.writeable = False

#: the least simulation time (seconds) worth a thread of its own in a batched step: handing one call to the pool's
#: threads costs about 0.1 ms (measured on 2 cores with one chunk per thread: 8 Hopper rows of 4 substeps 0.50 ->
#: 0.33 ms on two threads, 44 rows 2.67 -> 1.41 ms), so a batch gets a thread per this much of its estimated work
_MIN_THREAD_WORK_S = 2e-4
#: the cores the sampler may use: those this process may run on (``taskset`` limits them), read once (the call
#: costs more than a small batch step)
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _the_model(model: mujoco.MjModel) -> mujoco.MjModel:
    # the model of a pooled holder: the holders of this family's pool are models
    return model


class RobustMujocoEnv(PerturbableEnv):
    """
    Mixin that makes a Gymnasium MuJoCo env perturbable. It goes first in the bases, before the upstream env class.

    Subclasses declare :attr:`param_space` and implement :meth:`_transition`, the observation, reward and
    termination as vectorised functions of the simulator state, which :meth:`step` and
    :meth:`sample_next_states` both call.

    - ``params`` (constructor), :meth:`set_params` (persistent, from the next reset) and
      ``reset(options={"params": ...})`` (this episode only) set the physical parameters;
      ``info["params"]`` reports those the episode runs with.
    - ``keep_mass`` (constructor) chooses what a length or size change keeps: each body's density
      (``False``, default) or its mass (``True``); every model the env builds, sampled ones included, follows it.
    - :meth:`get_state` / :meth:`set_state` save and restore the full physics state.
    - :meth:`sample_next_states` simulates one step from N states under K parameter vectors with
      ``mujoco.rollout``, on private ``MjData``, leaving the episode untouched.
    - ``step`` refuses NaN, inf and non-numeric actions with a ``ValueError`` (MuJoCo would integrate them).
    - ``copy.deepcopy`` and pickling continue the running episode exactly, with its parameters and
      ``set_params`` (Gymnasium's own MuJoCo envs restart from their constructor arguments instead).
    """

    param_space: ClassVar[ParamSpace]
    #: The Gymnasium id whose XML and task this env reproduces at nominal parameters.
    upstream_id: ClassVar[str]
    #: MjData fields besides qpos/qvel that :meth:`_transition` reads (computed during the last substep).
    derived_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether :meth:`_transition` reads ``qpos_before`` (the locomotion rewards' displacement). Where it does not,
    #: ``step`` passes an empty array instead of copying ``qpos`` (a copy is a few percent of a pendulum's step).
    reads_qpos_before: ClassVar[bool] = True
    #: How many parameter settings keep a model of their own (see :meth:`_editable_model`).
    model_pool_size: ClassVar[int] = 32
    #: Replaces the upstream env's camera settings where those leave the look-at point to the first rendered state
    #: (``None``: keep them); a ``default_camera_config`` keyword argument overrides it.
    render_camera_config: ClassVar[dict[str, Any] | None] = None

    # attributes set by the upstream MujocoEnv
    model: mujoco.MjModel
    data: mujoco.MjData
    frame_skip: int
    init_qpos: np.ndarray
    init_qvel: np.ndarray

    # ---- construction ----------------------------------------------------------------------
    def __init__(self, params: ParamsLike | None = None, keep_mass: bool = False, **kwargs: Any) -> None:
        """
        :param params: the physical parameters: a mapping (partial: the others are nominal) or a full vector
        :param keep_mass: ``True``: length and size parameters keep each body's mass (the inertia follows the
            new shape); ``False``: they keep its density. ``True`` is refused by envs without such parameters.
        :param kwargs: the upstream Gymnasium env's keyword arguments
        """
        self._init_robust(params, keep_mass)
        upstream_kwargs = kwargs
        if self.render_camera_config is not None and "default_camera_config" not in kwargs:
            upstream_kwargs = {**kwargs, "default_camera_config": self.render_camera_config}
        # the upstream env class follows this mixin in the MRO: it loads the XML through _initialize_simulation
        super().__init__(**upstream_kwargs)
        # EzPickle replays constructor arguments on unpickling: record ours, not the upstream env's
        EzPickle.__init__(self, params=params, keep_mass=keep_mass, **kwargs)

    def _init_robust(self, params: ParamsLike | None, keep_mass: bool = False) -> None:
        """Validate ``params`` and ``keep_mass`` before the upstream constructor builds the simulation."""
        self._init_params(params, keep_mass)
        self._applied_key: bytes | None = None  # the parameter vector (as bytes) the installed model has
        # the env's own models, by parameter vector: (model, parameter vector its constants were computed for)
        self._pool: OrderedDict[bytes, tuple[mujoco.MjModel, np.ndarray]] = OrderedDict()
        self._rollout_pools: dict[int, mujoco.rollout.Rollout] = {}  # by thread count
        self._scratch: list[mujoco.MjData] = []
        # seconds per row and substep, the least seen in a single-thread batched step (the call's overhead
        # included, so an upper bound); None until the first one
        self._substep_seconds: float | None = None

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """Build the model of the constructor's parameters (replaces ``MujocoEnv``'s plain XML load)."""
        self._builder = self._make_builder()
        model = self._editable_model(self._params)
        self._applied_key = self._params.tobytes()
        return model, mujoco.MjData(model)

    def _make_builder(self) -> ModelBuilder:
        """:return: the builder of this env's models (override to add structural edits of the MJCF)."""
        return ModelBuilder(self.fullpath, self.param_space, keep_mass=self._keep_mass)  # type: ignore[attr-defined]

    def _editable_model(self, vector: np.ndarray, key: bytes | None = None) -> mujoco.MjModel:
        """
        The env's own model for ``vector``, from a pool of up to :attr:`model_pool_size` models.

        A setting seen recently (a finite uncertainty set, a grid) is a lookup; a new one rewrites the least
        recently used model in place, geometry included (:meth:`ModelBuilder.pooled`).
        """
        return self._builder.pooled(self._pool, vector, self.model_pool_size, self._own_model, _the_model, key)

    def _own_model(self, model: mujoco.MjModel) -> mujoco.MjModel:
        """:return: ``model``, a new copy for this env's pool, with the offscreen buffer size set as ``MujocoEnv`` sets it."""
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)  # type: ignore[attr-defined]
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)  # type: ignore[attr-defined]
        return model

    # ---- parameters -----------------------------------------------------------------------------
    def _apply_params(self, vector: np.ndarray, key: bytes | None = None) -> None:
        # byte comparison: the cheapest exact test, and resets with unchanged parameters are the common case
        if key is None:
            key = vector.tobytes()
        if key == self._applied_key:
            return
        # In-place edits cost microseconds (mj_setConst included); a geometry seen before is a lookup,
        # a new one a recompile (about 1 ms). Either way no model is copied per reset.
        model = self._editable_model(vector, key)
        if model is not self.model:
            self._install_model(model)
        self._applied_key = key

    def _prepare_models(self, params: np.ndarray) -> int:
        """
        Compute the models of coming episodes' settings ahead, in one batch (:meth:`ModelBuilder.prepare`): a reset
        with one of them, its geometry unseen, then writes precomputed values instead of compiling them.

        :param params: (B, n_params) validated parameter vectors of this env's space
        :return: how many settings were prepared (those with a geometry other than the nominal one, where the
            builder has a batch twin of its writer: :attr:`ModelBuilder.batch`)
        """
        return self._builder.prepare(params)

    def _restore_episode_params(self, vector: np.ndarray) -> None:
        """Install the model of a running episode's parameters (copies and unpickling)."""
        self._apply_params(vector)
        self._begin_episode(vector)

    def _install_model(self, model: mujoco.MjModel) -> None:
        # Perturbed models have the sizes of the nominal one (geometry edits add no element), so the
        # MjData stays; reset re-initialises it from the new model.
        self.model = model
        renderer = getattr(self, "mujoco_renderer", None)
        if renderer is not None and renderer.model is not model:
            if renderer._viewers or renderer.viewer is not None:
                renderer.close()
                # MujocoRenderer keeps a viewer per render mode, each holding the old model's GL context.
                renderer._viewers = {}
                renderer.viewer = None
            renderer.model = model

    # ---- Gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """
        Reset the episode.

        :param seed: seeds ``np_random`` as in every Gymnasium env
        :param options: ``{"params": ...}`` runs this episode (only) with these parameters; a partial
            mapping starts from the persistent parameters. No other option is accepted.
        :return: observation and info; ``info["params"]`` holds the episode's parameters
        """
        episode_params = self._episode_params_from(options)
        gym.Env.reset(self, seed=seed)
        key = episode_params.tobytes()
        self._apply_params(episode_params, key)
        self._begin_episode(episode_params, key)
        mujoco.mj_resetData(self.model, self.data)
        observation = self.reset_model()  # type: ignore[attr-defined]
        info = self._get_reset_info()  # type: ignore[attr-defined]
        info["params"] = self.params
        if self.render_mode == "human":
            self.render()
        return observation, info

    def step(self, action):  # type: ignore[override]
        """
        Advance ``frame_skip`` substeps; observation, reward and termination come from :meth:`_transition`.

        :raises ValueError: an action of the wrong shape, not numbers, NaN or inf (the episode is unchanged)
        """
        action = check_action(action, self.action_space.shape, self)
        data = self.data
        qpos_before = data.qpos.copy() if self.reads_qpos_before else _NOT_READ
        # check_action has checked the shape (the action space's, (nu,)): Gymnasium's do_simulation would copy the
        # action only to check it again, a sizeable share of a cheap env's step
        self._step_mujoco_simulation(action, self.frame_skip)  # type: ignore[attr-defined]
        derived = {name: getattr(data, name) for name in self.derived_fields} if self.derived_fields else _NO_DERIVED
        observation, reward, terminated, info = self._transition(qpos_before, action, data.qpos, data.qvel, derived)
        info["params"] = self.params
        if self.render_mode == "human":
            self.render()
        # truncation is the TimeLimit wrapper's job, as in Gymnasium's MuJoCo envs
        return observation, float(reward), bool(terminated), False, info

    def close(self) -> None:
        """Release the rendering contexts and the sampler's thread pool."""
        for pool in self._rollout_pools.values():
            pool.close()
        self._rollout_pools.clear()
        super().close()

    # ---- task, as functions of the state -----------------------------------------------------------
    def _transition(
        self,
        qpos_before: np.ndarray,
        action: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        derived: Mapping[str, np.ndarray],
    ) -> tuple[np.ndarray, Any, Any, dict[str, Any]]:
        """
        Observation, reward, termination and info of a transition, vectorised over leading axes.

        :param qpos_before: joint positions before the step, (..., nq)
        :param action: the action, (..., nu)
        :param qpos: joint positions after the step, (..., nq)
        :param qvel: joint velocities after the step, (..., nv)
        :param derived: the :attr:`derived_fields` after the step, (..., field shape)
        :return: observation (..., obs_dim), reward (...), terminated (...), info (reward terms)
        """
        raise NotImplementedError

    # ---- state ------------------------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Length of the vector :meth:`get_state` returns."""
        return int(mujoco.mj_stateSize(self.model, STATE_SPEC))

    def get_state(self) -> np.ndarray:
        """
        :return: the full physics state (``mjSTATE_FULLPHYSICS``: time, qpos, qvel, act, history, plugin
            state, then the solver warm-start ``qacc_warmstart`` between history and plugin state, in
            MuJoCo's order) as a new flat array; :meth:`set_state` resumes from it exactly
        """
        state = np.empty(self.state_size)
        mujoco.mj_getState(self.model, self.data, state, STATE_SPEC)
        return state

    def set_state(self, state: np.ndarray, qvel: np.ndarray | None = None) -> None:  # type: ignore[override]
        """
        Restore a state of :meth:`get_state` (checked as :meth:`PerturbableEnv.set_state` checks every family's).

        ``set_state(qpos, qvel)`` keeps the meaning it has in Gymnasium's ``MujocoEnv`` (used by ``reset_model``).

        :param state: a full state vector, or ``qpos`` when ``qvel`` is given
        :param qvel: joint velocities, for the two-argument form only
        """
        if qvel is not None:
            MujocoEnv.set_state(self, state, qvel)  # type: ignore[arg-type]
            return
        super().set_state(state)

    def _restore_state(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, state, STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)

    def _state_slices(self) -> tuple[slice, slice]:
        model = self.model
        start = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
        nq, nv = model.nq, model.nv
        return slice(start, start + nq), slice(start + nq, start + nq + nv)

    def _split_state(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:return: the ``mjSTATE_FULLPHYSICS`` part and the warm-start part of (N, state_dim) states."""
        before = mujoco.mj_stateSize(self.model, _PHYSICS_BEFORE_WARMSTART)
        warm_end = before + self.model.nv
        return np.concatenate((states[:, :before], states[:, warm_end:]), axis=1), states[:, before:warm_end]

    def _join_state(self, physics: np.ndarray, warmstart: np.ndarray) -> np.ndarray:
        before = mujoco.mj_stateSize(self.model, _PHYSICS_BEFORE_WARMSTART)
        return np.concatenate((physics[:, :before], warmstart, physics[:, before:]), axis=1)

    # ---- next-state sampling ------------------------------------------------------------------------
    def _step_rows(self, states: np.ndarray, actions: np.ndarray, vectors: np.ndarray) -> tuple[Any, Any, Any, np.ndarray]:
        """
        The rows of :meth:`sample_next_states`: the physics in ``mujoco.rollout`` (C; threads for batches whose
        estimated work is worth them, see ``_MIN_THREAD_WORK_S``) on private ``MjData``; observation, reward and
        termination from the same :meth:`_transition` that :meth:`step` uses. The actions keep the caller's dtype
        for the reward (a float32 action's control cost is computed in float32 by ``step`` too).
        """
        k = vectors.shape[0]
        n = states.shape[0] // k
        models = [self._builder.model_for(v) for v in vectors]
        controls = actions.astype(np.float64)
        if self.derived_fields:
            final, derived = self._step_rows_python(models, states, controls)
        else:
            physics, warmstart = self._split_state(states)
            final_physics = self._step_rows_rollout(models * n, physics, warmstart, controls)
            final = self._join_state(final_physics, np.zeros_like(warmstart))
            derived = {}
        qpos_sl, qvel_sl = self._state_slices()
        observation, reward, terminated, _ = self._transition(
            states[:, qpos_sl], actions, final[:, qpos_sl], final[:, qvel_sl], derived
        )
        return observation, reward, terminated, final

    def _step_rows_rollout(
        self, models: list[mujoco.MjModel], initial: np.ndarray, warmstart: np.ndarray, controls: np.ndarray
    ) -> np.ndarray:
        rows = initial.shape[0]
        substeps = rows * self.frame_skip
        # threads by the batch's estimated work, from this model's measured cost (a Hopper row of 4 substeps
        # costs ~40x a pendulum's one); every row is independent, so the thread count never changes a result
        cost = self._substep_seconds
        nthread = 1 if cost is None else min(_CPUS, max(1, int(substeps * cost / _MIN_THREAD_WORK_S)))
        nthread = 1 << (nthread.bit_length() - 1)  # a power of two: a few pools serve every batch size
        while len(self._scratch) < nthread:
            self._scratch.append(mujoco.MjData(self.model))
        if nthread > 1:
            if nthread not in self._rollout_pools:
                self._rollout_pools[nthread] = mujoco.rollout.Rollout(nthread=nthread)
            runner = functools.partial(self._rollout_pools[nthread].rollout, chunk_size=-(-rows // nthread))
        else:
            runner = mujoco.rollout.rollout
        start = time.perf_counter()
        state, _ = runner(
            models,
            self._scratch[:nthread],
            initial,
            controls[:, None, :],
            nstep=self.frame_skip,
            initial_warmstart=warmstart,
        )
        if nthread == 1:
            measured = (time.perf_counter() - start) / substeps
            if cost is None or measured < cost:
                self._substep_seconds = measured
        return state[:, -1, :]

    def _step_rows_python(
        self, models: list[mujoco.MjModel], initial: np.ndarray, controls: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        # Observations that read quantities of the last substep's forward pass (site positions,
        # constraint forces) need a real MjData per row, stepped exactly as do_simulation does.
        k = len(models)
        rows = initial.shape[0]
        size = self.state_size
        final = np.empty((rows, size))
        derived: dict[str, np.ndarray] = {}
        datas = [mujoco.MjData(m) for m in models]
        for row in range(rows):
            model, data = models[row % k], datas[row % k]
            mujoco.mj_setState(model, data, initial[row], STATE_SPEC)
            data.ctrl[:] = controls[row]
            mujoco.mj_step(model, data, nstep=self.frame_skip)
            mujoco.mj_rnePostConstraint(model, data)
            mujoco.mj_getState(model, data, final[row], STATE_SPEC)
            for name in self.derived_fields:
                value = getattr(data, name)
                if name not in derived:
                    derived[name] = np.empty((rows, *value.shape))
                derived[name][row] = value
        return final, derived
