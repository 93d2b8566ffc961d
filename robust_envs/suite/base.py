"""The perturbable DeepMind Control Suite env base: dm_control's physics and task code behind the Gymnasium API."""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from dm_control import suite as dm_suite
from dm_control.mujoco import engine
from dm_control.mujoco.wrapper import MjModel as WrappedModel
from dm_control.rl import control
from dm_control.suite import base as suite_base
from gymnasium import spaces
from gymnasium.utils import EzPickle

from robust_envs.core import PerturbableEnv, check_action
from robust_envs.mujoco_env import STATE_SPEC
from robust_envs.params import ParamsLike, ParamSpace, ParamSpec, joint_specs
from robust_envs.suite.geometry import SuiteModelBuilder

#: Seeds that ``numpy.random.RandomState`` accepts as they are.
_RANDOM_STATE_SEEDS = 2**32


def suite_xml_path(xml_file: str) -> str:
    """:return: the absolute path of an XML file of the installed ``dm_control.suite`` package."""
    return os.path.join(os.path.dirname(dm_suite.__file__), xml_file)


def flatten_observation(observation: Mapping[str, Any]) -> np.ndarray:
    """
    :param observation: a suite task's ``OrderedDict`` of arrays and scalars
    :return: one float64 vector: the entries raveled and concatenated in the dict's key order
        (what ``dm_control.rl.control.flatten_observation`` puts under ``observations``)
    """
    # axis=None ravels every entry (scalars included) inside one C call
    return np.concatenate(tuple(observation.values()), axis=None)


class RobustSuiteEnv(PerturbableEnv, EzPickle):
    """
    A DeepMind Control Suite task as a perturbable Gymnasium env.

    The model is the suite's XML, loaded from the installed ``dm_control`` package and edited through
    :class:`~robust_envs.suite.geometry.SuiteModelBuilder`; physics, task (initial states, observation,
    reward, termination) and action repeat are dm_control's own classes, run the way
    ``dm_control.rl.control.Environment`` runs them. At nominal parameters the env therefore reproduces
    ``dm_control.suite.load(domain, task, task_kwargs={"random": seed})`` exactly.

    - **Seeding.** ``reset(seed=s)`` seeds ``np_random`` as every Gymnasium env does and gives the task
      ``numpy.random.RandomState(s)`` (for ``0 <= s < 2**32``; larger seeds go through ``np_random``), the
      generator dm_control draws initial states from. Later unseeded resets continue its stream, as
      consecutive resets of a dm_control env do. Without any seed, the task's generator is seeded from
      ``np_random``.
    - **Observations** are the task's ``OrderedDict`` raveled and concatenated in key order (see each
      env's docstring for the order), as ``float64``.
    - **Episode end.** dm_env's discount maps to ``terminated`` (discount 0) and ``truncated`` (an episode
      end with a non-zero discount). The time limit, 1000 control steps for every registered task as in
      the suite, is Gymnasium's ``TimeLimit`` wrapper's job.
    - **Parameters** (``params`` at construction, :meth:`set_params`, ``reset(options={"params": ...})``)
      select a model per setting; each setting keeps its own dm_control ``Physics`` (up to
      :attr:`physics_pool_size`), so returning to a setting costs a lookup.
    - **Masses under length changes.** Masses MuJoCo infers from geometry are recomputed at the nominal
      density (``keep_mass=False``, default), or stay at their nominal values with the inertia of the new
      shape (``keep_mass=True``); explicit MJCF masses stay fixed either way.
    - :meth:`get_state` / :meth:`set_state` and :meth:`sample_next_states` work on the full MuJoCo state.
    - ``copy.deepcopy`` and pickling continue the running episode exactly (physics, parameters, the task's
      ``RandomState``), where a dm_control env cannot be copied at all.

    Subclasses set :attr:`param_space`, :attr:`domain`, :attr:`task_name`, :attr:`xml_file`,
    :attr:`physics_class`, :attr:`control_timestep` and :meth:`make_task`.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 100}
    param_space: ClassVar[ParamSpace]
    #: The suite's domain and task names, as ``dm_control.suite.load`` takes them.
    domain: ClassVar[str]
    task_name: ClassVar[str]
    #: The domain's XML file inside ``dm_control/suite``.
    xml_file: ClassVar[str]
    #: The domain's ``Physics`` subclass (the accessors its task reads).
    physics_class: ClassVar[type[engine.Physics]]
    #: Seconds per agent step, as the suite's task factory passes it (``None``: one physics step).
    control_timestep: ClassVar[float | None] = None
    #: How many parameter settings keep a ``Physics`` of their own.
    physics_pool_size: ClassVar[int] = 32

    @staticmethod
    def make_task(random: np.random.RandomState) -> suite_base.Task:
        """:return: the dm_control task object, built as the suite's factory builds it."""
        raise NotImplementedError

    def __init__(
        self,
        params: ParamsLike | None = None,
        render_mode: str | None = None,
        width: int = 320,
        height: int = 240,
        camera_id: int | str = 0,
        control_timestep: float | None = None,
        keep_mass: bool = False,
    ) -> None:
        """
        :param params: the physical parameters: a mapping (partial: the others are nominal) or a full vector
        :param keep_mass: ``True``: a length change keeps the masses MuJoCo infers from geometry at their
            nominal values (inertia of the new shape); ``False``: it keeps their density, so they follow the new
            volume. Explicit MJCF masses stay fixed either way.
        :param control_timestep: seconds per agent step, a whole multiple of the physics time step (dm_control's
            ``environment_kwargs={"control_timestep": ...}``); ``None``: the suite's own (:attr:`dt` tells it).
            The registered time limit counts agent steps, so a longer step needs
            ``max_episode_steps = 1000 * suite_dt / control_timestep`` to keep the suite's episode duration.
            The reward is the task's reward after the last physics step of an agent step, as in dm_control.
        :param render_mode: ``None`` or ``"rgb_array"`` (needs an OpenGL backend, e.g. ``MUJOCO_GL=egl``)
        :param width: image width of ``render``
        :param height: image height of ``render``
        :param camera_id: the camera ``render`` uses (index or name in the suite's XML)
        """
        self._init_params(params, keep_mass)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        EzPickle.__init__(
            self,
            params=params,
            render_mode=render_mode,
            width=width,
            height=height,
            camera_id=camera_id,
            control_timestep=control_timestep,
            keep_mass=keep_mass,
        )
        self.render_mode = render_mode
        self.width, self.height, self.camera_id = width, height, camera_id
        self._builder = SuiteModelBuilder(suite_xml_path(self.xml_file), self.param_space, keep_mass=self._keep_mass)
        self._live_pool: OrderedDict[bytes, tuple[engine.Physics, np.ndarray]] = OrderedDict()
        self._sampler_pool: OrderedDict[bytes, engine.Physics] = OrderedDict()
        self._physics = self._physics_for(self._params, self._live_pool)
        self._task: suite_base.Task | None = None
        self._n_sub_steps = self._sub_steps_for(
            self.control_timestep if control_timestep is None else control_timestep, self._physics.timestep()
        )
        self.dt = self._physics.timestep() * self._n_sub_steps
        self.metadata = {**type(self).metadata, "render_fps": round(1.0 / self.dt)}
        probe_task = self.make_task(np.random.RandomState(0))
        action_spec = probe_task.action_spec(self._physics)
        self.action_space = spaces.Box(
            low=action_spec.minimum.astype(np.float32), high=action_spec.maximum.astype(np.float32), dtype=np.float32
        )
        self._action_shape = self.action_space.shape
        obs_dim = flatten_observation(probe_task.get_observation(self._physics)).shape[0]
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)

    @staticmethod
    def _sub_steps_for(control_timestep: float | None, physics_timestep: float) -> int:
        """:return: physics steps per agent step (``None``: one), or a ``ValueError`` naming what is allowed."""
        if control_timestep is None:
            return 1
        is_number = isinstance(control_timestep, (int, float)) and not isinstance(control_timestep, bool)
        if not (is_number and math.isfinite(control_timestep) and control_timestep > 0):
            raise ValueError(f"control_timestep must be a positive number of seconds or None, got {control_timestep!r}")
        try:
            return int(control.compute_n_steps(control_timestep, physics_timestep))
        except ValueError:
            raise ValueError(
                f"control_timestep={control_timestep!r} is not a whole multiple of the physics time step "
                f"{physics_timestep!r} s"
            ) from None

    # ---- models and physics ---------------------------------------------------------------------
    def _physics_for(self, vector: np.ndarray, pool: OrderedDict[bytes, Any]) -> engine.Physics:
        """The ``Physics`` of a parameter setting from ``pool`` (one ``MjData`` each; the sampler's models are shared)."""
        if pool is self._live_pool:  # the episode's: its own models, rewritten in place (ModelBuilder.pooled)
            new = lambda model: self.physics_class.from_model(WrappedModel(model))  # noqa: E731
            return self._builder.pooled(pool, vector, self.physics_pool_size, new, lambda physics: physics.model.ptr)
        key = vector.tobytes()
        physics = pool.get(key)
        if physics is not None:
            pool.move_to_end(key)
            return physics
        physics = self.physics_class.from_model(WrappedModel(self._builder.model_for(vector)))
        pool[key] = physics
        while len(pool) > self.physics_pool_size:
            pool.popitem(last=False)
        return physics

    def _prepare_models(self, params: np.ndarray) -> int:
        """
        Compute the models of coming episodes' settings ahead, in one batch (:meth:`ModelBuilder.prepare`): a reset
        with one of them, its lengths unseen, then writes precomputed values instead of compiling them.

        :param params: (B, n_params) validated parameter vectors of this env's space
        :return: how many settings were prepared (those with lengths other than the nominal ones, where the
            builder has a batch twin of its writer: :attr:`ModelBuilder.batch`)
        """
        return self._builder.prepare(params)

    @property
    def physics(self) -> engine.Physics:
        """The dm_control ``Physics`` of the running episode (its model is shared: do not edit it)."""
        return self._physics

    @property
    def model(self) -> mujoco.MjModel:
        """The running episode's ``mujoco.MjModel`` (shared between envs: do not edit it)."""
        return self._physics.model.ptr

    @property
    def data(self) -> mujoco.MjData:
        """The running episode's ``mujoco.MjData`` (what :class:`~robust_envs.wrappers.ForceDisturbance` writes to)."""
        return self._physics.data.ptr

    @property
    def task(self) -> suite_base.Task:
        """The dm_control task object."""
        if self._task is None:
            self._task = self.make_task(self._new_random_state(None))
        return self._task

    def _new_random_state(self, seed: int | None) -> np.random.RandomState:
        if seed is not None and 0 <= seed < _RANDOM_STATE_SEEDS:
            return np.random.RandomState(seed)
        return np.random.RandomState(int(self.np_random.integers(_RANDOM_STATE_SEEDS)))

    # ---- Gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        """
        Start an episode: dm_control's ``initialize_episode`` inside ``Physics.reset_context``.

        :param seed: seeds ``np_random`` and the task's ``RandomState`` (see the class docstring)
        :param options: ``{"params": ...}`` runs this episode (only) with these parameters; a partial
            mapping starts from the persistent parameters. No other option is accepted.
        :return: observation and info; ``info["params"]`` holds the episode's parameters
        """
        episode_params = self._episode_params_from(options)
        super().reset(seed=seed)
        if seed is not None or self._task is None:
            self._task = self.make_task(self._new_random_state(seed))
        physics = self._physics = self._physics_for(episode_params, self._live_pool)
        self._begin_episode(episode_params)
        with physics.reset_context():
            self._task.initialize_episode(physics)  # type: ignore[union-attr]
        return flatten_observation(self._task.get_observation(physics)), {"params": self.params}  # type: ignore[union-attr]

    def step(self, action):  # type: ignore[override]
        """
        One agent step: the task sets the controls, the physics runs the suite's action repeat.

        :param action: shape ``action_space.shape``; MuJoCo clamps it to the actuators' control range
        :raises ValueError: wrong shape, not numbers, NaN or inf (the episode is unchanged)
        :return: observation, reward, terminated (dm_env discount 0), truncated (episode end with a
            non-zero discount), info with ``params``
        """
        action = check_action(action, self._action_shape, self)
        task, physics = self._task, self._physics
        if task is None:
            raise gym.error.ResetNeeded("Call reset() before step()")
        task.before_step(action, physics)
        physics.step(self._n_sub_steps)
        task.after_step(physics)
        reward = task.get_reward(physics)
        observation = flatten_observation(task.get_observation(physics))
        discount = task.get_termination(physics)
        ended = discount is not None
        terminated = ended and discount == 0.0
        return observation, float(reward), terminated, ended and not terminated, {"params": self.params}

    def render(self) -> np.ndarray | None:
        """:return: an RGB image of the running episode from :attr:`camera_id`, for ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn(f"render() of {type(self).__name__} without a render_mode: pass render_mode='rgb_array'")
            return None
        return self._physics.render(height=self.height, width=self.width, camera_id=self.camera_id)

    # ---- state ------------------------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Length of the vector :meth:`get_state` returns."""
        return int(mujoco.mj_stateSize(self._physics.model.ptr, STATE_SPEC))

    def get_state(self) -> np.ndarray:
        """
        :return: the full physics state (``mjSTATE_FULLPHYSICS`` and the solver warm-start, as
            :meth:`robust_envs.mujoco_env.RobustMujocoEnv.get_state`) as a new flat array; the suite's tasks
            keep no other per-episode state, so :meth:`set_state` resumes from it exactly
        """
        return self._physics.get_state(sig=STATE_SPEC)

    def _restore_state(self, state: np.ndarray) -> None:
        _restore(self._physics, state)

    def _restore_episode_params(self, vector: np.ndarray) -> None:
        """Install the ``Physics`` of a running episode's parameters (copies and unpickling)."""
        self._physics = self._physics_for(vector, self._live_pool)
        self._begin_episode(vector)

    def _extra_snapshot(self) -> Any:
        # the task's generator: unseeded resets continue its stream
        return None if self._task is None else self._task.random.get_state()

    def _restore_extra(self, extra: Any) -> None:
        if extra is not None:
            random = np.random.RandomState()
            random.set_state(extra)
            self._task = self.make_task(random)

    # ---- next-state sampling ----------------------------------------------------------------------
    def _step_rows(self, states: np.ndarray, actions: np.ndarray, vectors: np.ndarray) -> tuple[Any, Any, Any, np.ndarray]:
        """
        The rows of :meth:`sample_next_states`: each restores its state into a private dm_control ``Physics`` of
        its parameter setting and runs the same task code as :meth:`step` (observations such as the hopper's
        touch sensors read the last substep's forward pass, so they are not a function of the final state alone).
        """
        physics_k = [self._physics_for(v, self._sampler_pool) for v in vectors]
        k = len(physics_k)
        task = self.task
        rows = states.shape[0]
        observations = np.empty((rows, self.observation_space.shape[0]))
        rewards = np.empty(rows)
        terminated = np.zeros(rows, dtype=bool)
        final = np.empty(states.shape)
        for row in range(rows):
            physics = physics_k[row % k]
            _restore(physics, states[row])
            task.before_step(actions[row], physics)
            physics.step(self._n_sub_steps)
            task.after_step(physics)
            rewards[row] = task.get_reward(physics)
            observations[row] = flatten_observation(task.get_observation(physics))
            discount = task.get_termination(physics)
            terminated[row] = discount is not None and discount == 0.0
            final[row] = physics.get_state(sig=STATE_SPEC)
        return observations, rewards, terminated, final


def _restore(physics: engine.Physics, state: np.ndarray) -> None:
    # dm_control's legacy step finishes a step with mj_step2 and expects mj_step1's quantities to be current;
    # mj_forward recomputes them from the restored state (it leaves the warm-start untouched).
    physics.set_state(state, sig=STATE_SPEC)
    physics.forward()


def make_task_factory(task_class: type[suite_base.Task], **kwargs: Any) -> Callable[[np.random.RandomState], suite_base.Task]:
    """
    :param task_class: a suite task class (``cartpole.Balance``)
    :param kwargs: the arguments the suite's factory function passes it (``swing_up=False, sparse=False``)
    :return: a function of the ``RandomState`` that builds the task
    """

    def make(random: np.random.RandomState) -> suite_base.Task:
        return task_class(random=random, **kwargs)

    return make


def damping_specs(joints: Mapping[str, float], slide: tuple[str, ...] = ()) -> tuple[ParamSpec, ...]:
    """
    ``<joint>_damping`` parameters (the suite's per-joint viscous damping, written to ``dof_damping``).

    :param joints: joint name -> the damping the suite's XML gives it
    :param slide: the joints that slide (the others hinge), for the units
    :return: one spec per joint
    """
    return joint_specs({name: (value, 0.0) for name, value in joints.items()}, slide=slide)[: len(joints)]


__all__ = ["RobustSuiteEnv", "damping_specs", "flatten_observation", "make_task_factory", "suite_xml_path"]
