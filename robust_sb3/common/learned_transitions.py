"""
DDR-MPO's learned uncertainty set: the K next states of the robust target predicted by K learned transition models.

Mankowitz et al. (2020), "Robust Reinforcement Learning for Continuous Control with Model Misspecification",
section "What about learning the uncertainty set from offline data?": a dataset is collected under each perturbation
(one per pole length, one per ball mass, Table 3's offline rows), a transition model is trained on each, and the K
models replace the simulator's K perturbed models in R-MPO's target (Eq. 1). The paper calls the result DDR-MPO.

- :class:`LearnedPerturbedTransitions`: a Gymnasium wrapper writing the same ``info`` keys as
  :class:`robust_envs.wrappers.PerturbedTransitions`, predicted by the K models from the step's observation and
  action, so :class:`~robust_sb3.MPO` and :class:`~robust_sb3.RobustSAC` train on it unchanged. The models are
  frozen while the policy learns, so predicting at collection time gives the same target as predicting at
  sampling time.
- :func:`fit_perturbation_models`: one :class:`~robust_sb3.common.dynamics.GaussianEnsemble` fitted on each of the
  K datasets, seeded.

The paper does not give the models' architecture, whether they are probabilistic, or whether reward and termination
are learned; the choices here follow ``WAVE2.md`` section 4.2 and are documented on each argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces

# robust_envs owns the info keys; they are imported, never retyped (one definition for every consumer)
from robust_envs.wrappers import PERTURBED_NEXT_OBS, PERTURBED_REWARDS, PERTURBED_TERMINATED
from robust_sb3.common.dynamics import GaussianEnsemble
from robust_sb3.common.validation import check_int

OWNER = "LearnedPerturbedTransitions"
#: What the wrapper does with the models' rewards (see :class:`LearnedPerturbedTransitions`).
REWARD_MODES = ("observed", "model")
#: The spawn key of the wrapper's branch of the reset seed's ``SeedSequence``: another branch than
#: :class:`robust_envs.wrappers.DomainRandomization`'s (spawn key 0), so that the models' noise is independent
#: of the parameter draws and of the env's reset noise under one seed.
SEED_BRANCH = 0x444452  # "DDR"

#: A transition model as a plain function: ``(observations (N, *obs_shape), actions (N, *action_shape))`` to
#: ``(next_observations (N, *obs_shape), rewards (N,) or None, terminated (N,) or None)``.
TransitionFunction = Callable[[np.ndarray, np.ndarray], Any]


class ModelPrediction(NamedTuple):
    """
    One model's checked prediction for N rows.

    :param next_observations: ``(N, *obs_shape)`` in the observation space's dtype
    :param rewards: ``(N,)`` float64, or ``None`` when the model predicts no reward
    :param terminated: ``(N,)`` bool (all ``False`` when the model reports no termination)
    """

    next_observations: np.ndarray
    rewards: np.ndarray | None
    terminated: np.ndarray


def _model_name(model: Any) -> str:
    return getattr(model, "__name__", type(model).__name__)


def _ensemble_mean(ensemble: GaussianEnsemble, observations: np.ndarray, actions: np.ndarray) -> tuple:
    """
    The mean over the elites of each elite's mean prediction (WAVE2 section 4.2): an estimate of the expected
    next state, the quantity Eq. 1's ``E_{s' ~ p_k}`` needs, with the model error of single members averaged out.

    :return: next observations ``(N, obs_dim)``, rewards ``(N,)`` or ``None``, terminated ``(N,)``
    """
    prediction = ensemble.predict_all(observations, actions, deterministic=True)  # draws no noise
    elites = ensemble.elites
    # averaged in float64: the members' outputs are float32, the mean of a few of them should not lose more
    next_observations = prediction.next_observations[elites].astype(np.float64).mean(axis=0)
    rewards = None if prediction.rewards is None else prediction.rewards[elites].astype(np.float64).mean(axis=0)
    # termination of the mean next state by the env's own rule (the members' flags are of their own next states)
    if ensemble.termination is None:
        terminated = np.zeros(next_observations.shape[0], dtype=bool)
    else:
        terminated = ensemble.termination(next_observations)
    return next_observations, rewards, terminated


def _ensemble_sample(
    ensemble: GaussianEnsemble, observations: np.ndarray, actions: np.ndarray, rng: np.random.Generator
) -> tuple:
    """
    A sample of the ensemble's model (MBPO's rule, :meth:`GaussianEnsemble.predict`: a random elite per row, then
    its Gaussian), drawn with a torch generator seeded from the wrapper's NumPy generator: the wrapper then holds
    only picklable NumPy state, and the ensemble's own generator is left untouched.
    """
    generator = th.Generator(device=ensemble.device).manual_seed(int(rng.integers(2**63)))
    prediction = ensemble.predict(observations, actions, deterministic=False, generator=generator)
    return prediction.next_observations, prediction.rewards, prediction.terminated


def _unpack(output: Any) -> tuple[Any, Any, Any]:
    """:return: ``(next_observations, rewards, terminated)`` of a 3-tuple or of an object with those attributes."""
    if hasattr(output, "next_observations"):  # EnsemblePrediction and look-alikes
        return output.next_observations, getattr(output, "rewards", None), getattr(output, "terminated", None)
    if isinstance(output, tuple | list) and len(output) == 3:
        return output[0], output[1], output[2]
    raise TypeError(
        f"returned {type(output).__name__}; a model returns (next_observations, rewards, terminated) (rewards and "
        "terminated may be None) or an object with those attributes (an EnsemblePrediction)"
    )


def _bad_entries(values: np.ndarray, limit: int = 3) -> str:
    bad = np.argwhere(~np.isfinite(values))
    return ", ".join(f"{values[tuple(i)]} at {tuple(int(j) for j in i)}" for i in bad[:limit])


def _seeded_generators(seed: int | None, n_models: int) -> list[np.random.Generator]:
    """
    :param seed: the reset seed (``None``: fresh OS entropy, not reproducible)
    :param n_models: K
    :return: one generator per model, from the wrapper's branch of ``SeedSequence(seed)`` (:data:`SEED_BRANCH`)
    """
    root = np.random.SeedSequence() if seed is None else np.random.SeedSequence(seed, spawn_key=(SEED_BRANCH,))
    return [np.random.default_rng(child) for child in root.spawn(n_models)]


class LearnedPerturbedTransitions(gym.Wrapper):
    """
    Return, at every step, the next observation, reward and termination predicted by each of K learned models.

    DDR-MPO (Mankowitz et al. 2020): a data-driven twin of :class:`robust_envs.wrappers.PerturbedTransitions` that
    writes the same keys, ``info["perturbed_next_obs"]`` ``(K, *obs_shape)`` in the observation space's dtype,
    ``info["perturbed_rewards"]`` ``(K,)`` float64 and ``info["perturbed_terminated"]`` ``(K,)`` bool, so
    ``MPO(robustness="robust" | "soft")`` and ``RobustSAC`` train on it unchanged (they read K from
    :attr:`n_models`). The models see what the agent sees: the observation before the step and the action of the
    step (not the simulator state), so the next states are right at terminal steps too, before any auto-reset.

    **Models.** Each of the K models (model ``k`` trained on perturbation ``k``'s data) is one of:

    - a :class:`~robust_sb3.common.dynamics.GaussianEnsemble` (used directly, see ``sample``);
    - an object with ``predict(observations, actions, deterministic=...)``;
    - a plain callable ``model(observations, actions)`` (for example the simulator itself, a "perfect" model).

    Observations come as ``(N, *obs_shape)`` and actions as ``(N, *action_shape)`` arrays (N = 1 here), and the
    model returns ``(next_observations (N, *obs_shape), rewards (N,) or None, terminated (N,) or None)``, or an
    object with those attributes (an :class:`~robust_sb3.common.dynamics.EnsemblePrediction`). ``terminated=None``
    means the model's task never terminates (the DeepMind control suite tasks); ``rewards=None`` means it predicts
    none (allowed with ``reward="observed"`` only). Every step checks each output's shape against the observation
    space and refuses non-finite values, naming the model's index.

    **Mean or sample.** By default (``sample=False``) a :class:`GaussianEnsemble` gives the mean over its elites of
    each elite's mean prediction, and its termination rule is applied to that mean next state; other models are
    asked for ``deterministic=True``. Eq. 1's robust target takes the expectation ``E_{s' ~ p_k} V(s')`` under each
    model, and the simulators the paper learns are deterministic MuJoCo, so any predicted variance is model error,
    which averaging reduces (``WAVE2.md`` section 4.2). ``sample=True`` draws instead: an ensemble samples as
    :meth:`GaussianEnsemble.predict` does (a random elite per step, then its Gaussian), other models get
    ``deterministic=False``. A plain callable is called the same way in both modes.

    **Seeding.** The ensembles' draws come from one NumPy generator per model, seeded by ``reset(seed=s)`` through
    the wrapper's own branch of ``SeedSequence(s)`` (:data:`SEED_BRANCH`): the same seed gives the same predictions,
    independently of the env's reset noise and of a :class:`~robust_envs.wrappers.DomainRandomization` under the
    same seed; resets without a seed (SB3's auto-resets) continue the generators. Before a seeded reset they start
    from OS entropy. A model with its own ``predict`` or a plain callable draws from its own sources, which the
    wrapper cannot seed. Without ``sample`` nothing is drawn.

    **Rewards.** ``reward="observed"`` (default) gives every model the reward of the transition the agent
    experienced: Eq. 1 keeps ``r(s, a)`` outside the infimum, so the models need not learn it (``WAVE2.md`` 4.2).
    ``reward="model"`` gives each model's predicted reward (needed for ``MPO(reward_in_inf=True)`` to differ
    from the default, and for rewards of the next state). MPO's default target (``reward_in_inf=False``) reads
    only the experienced reward, so the two settings train the same critic there.

    Unlike :class:`~robust_envs.wrappers.PerturbedTransitions`, the wrapper does not record its models in the
    env's spec (learned models are not JSON): ``gym.make(env.spec)`` does not re-create it.

    :param env: the env trained on (any Gymnasium env with a ``Box`` observation space; the nominal simulator in
        the paper)
    :param models: the K >= 1 models, as a sequence
    :param sample: draw from the models instead of taking their mean (see above)
    :param reward: ``"observed"`` or ``"model"`` (see above)
    :raises TypeError: ``env`` is not a Gymnasium env, ``models`` is not a sequence, or an entry is not a model
    :raises ValueError: no models, a ``Box``-less observation space, an ensemble sized for other spaces, a bad
        ``sample`` or ``reward``, or ``reward="model"`` with an ensemble that predicts no rewards
    """

    def __init__(
        self,
        env: gym.Env,
        models: Sequence[GaussianEnsemble | TransitionFunction | Any],
        sample: bool = False,
        reward: str = "observed",
    ) -> None:
        if not isinstance(env, gym.Env):
            raise TypeError(f"{OWNER} wraps a Gymnasium env, got {env!r} ({type(env).__name__})")
        if not isinstance(env.observation_space, spaces.Box):
            raise ValueError(
                f"{OWNER} needs a Box observation space (the models predict arrays), got {env.observation_space}; "
                "flatten Dict observations first (gymnasium.wrappers.FlattenObservation)"
            )
        if isinstance(models, GaussianEnsemble) or not isinstance(models, Sequence) or isinstance(models, str):
            raise TypeError(
                f"{OWNER}: models must be a sequence of K models (one per perturbation), got {type(models).__name__}; "
                "for one model pass [model]"
            )
        if len(models) == 0:
            raise ValueError(f"{OWNER}: models is empty (K = 0); pass at least one model, one per perturbation")
        if not isinstance(sample, bool | np.bool_):
            raise ValueError(f"{OWNER}: sample must be True or False, got {sample!r}")
        if reward not in REWARD_MODES:
            raise ValueError(f"{OWNER}: reward must be one of {REWARD_MODES}, got {reward!r}")
        for k, model in enumerate(models):
            self._check_model(k, model, env)
            if reward == "model" and isinstance(model, GaussianEnsemble) and not model.predict_reward:
                raise ValueError(
                    f"{OWNER}: models[{k}] is a GaussianEnsemble(predict_reward=False), but reward='model'; use "
                    "reward='observed' (the experienced reward for every model, Eq. 1) or an ensemble predicting rewards"
                )
        super().__init__(env)
        self.models = tuple(models)
        self.n_models = len(self.models)
        self.sample = bool(sample)
        self.reward = reward
        self._generators = _seeded_generators(None, self.n_models)
        self._last_observation: np.ndarray | None = None

    @staticmethod
    def _check_model(k: int, model: Any, env: gym.Env) -> None:
        """:raises TypeError, ValueError: model ``k`` is not a model, or an ensemble sized for other spaces."""
        if isinstance(model, GaussianEnsemble):
            obs_shape, action_space = env.observation_space.shape, env.action_space
            if obs_shape != (model.obs_dim,) or not (
                isinstance(action_space, spaces.Box) and action_space.shape == (model.action_dim,)
            ):
                raise ValueError(
                    f"{OWNER}: models[{k}] is a GaussianEnsemble for observations ({model.obs_dim},) and actions "
                    f"({model.action_dim},), but the env has {env.observation_space} and {action_space}; fit it on "
                    "this env's transitions (GaussianEnsemble.for_env)"
                )
        elif not (callable(getattr(model, "predict", None)) or callable(model)):
            raise TypeError(
                f"{OWNER}: models[{k}] is {type(model).__name__}, not a model: pass a GaussianEnsemble, an object with "
                "predict(observations, actions, deterministic=...) or a callable (observations, actions) -> "
                "(next_observations, rewards, terminated)"
            )

    # ---------------------------------------------------------------- Gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """
        Reset the env; a ``seed`` also re-seeds the models' generators (see the class docstring).

        :return: observation and info
        """
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:  # after the env accepted the reset: a refused one changes nothing here
            self._generators = _seeded_generators(seed, self.n_models)
        self._last_observation = np.array(observation)
        return observation, info

    def step(self, action):
        """Step, and add the K models' next observations, rewards and terminations to ``info``."""
        if self._last_observation is None:
            raise RuntimeError(f"{OWNER}: call reset() before step(): the models need the observation the step starts from")
        # predicted before the env steps: a model that fails leaves the episode untouched
        predictions = self.predict(self._last_observation[None], np.asarray(action)[None])
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._last_observation = np.array(observation)
        info[PERTURBED_NEXT_OBS] = np.stack([p.next_observations[0] for p in predictions])
        if self.reward == "observed":
            info[PERTURBED_REWARDS] = np.full(self.n_models, float(reward))
        else:
            info[PERTURBED_REWARDS] = np.array([p.rewards[0] for p in predictions], dtype=np.float64)  # type: ignore[index]
        info[PERTURBED_TERMINATED] = np.array([p.terminated[0] for p in predictions], dtype=bool)
        return observation, reward, terminated, truncated, info

    # ---------------------------------------------------------------- prediction

    def predict(self, observations: np.ndarray, actions: np.ndarray) -> list[ModelPrediction]:
        """
        Every model's checked prediction for N rows (what :meth:`step` writes, N = 1); ensembles draw from the
        wrapper's generators when ``sample``.

        :param observations: ``(N, *obs_shape)``
        :param actions: ``(N, *action_shape)``
        :return: K :class:`ModelPrediction`, one per model
        :raises ValueError: a model's output of the wrong shape, with non-finite values, or without rewards under
            ``reward="model"``; the message names the model's index
        :raises TypeError: a model's output is not ``(next_observations, rewards, terminated)``
        """
        rows = np.shape(observations)[0]
        return [self._checked(k, self._raw(k, observations, actions), rows) for k in range(self.n_models)]

    def _raw(self, k: int, observations: np.ndarray, actions: np.ndarray) -> Any:
        model = self.models[k]
        if isinstance(model, GaussianEnsemble):
            if self.sample:
                return _ensemble_sample(model, observations, actions, self._generators[k])
            return _ensemble_mean(model, observations, actions)
        if callable(getattr(model, "predict", None)):
            return model.predict(observations, actions, deterministic=not self.sample)
        return model(observations, actions)

    def _checked(self, k: int, output: Any, rows: int) -> ModelPrediction:
        """:return: model ``k``'s output checked against the observation space and the number of rows."""
        where = f"{OWNER}: models[{k}] ({_model_name(self.models[k])})"
        try:
            raw_next, raw_rewards, raw_terminated = _unpack(output)
        except TypeError as error:
            raise TypeError(f"{where} {error}") from None
        space = self.observation_space
        expected = (rows, *space.shape)  # type: ignore[misc]
        next_observations = np.asarray(raw_next)
        if next_observations.shape != expected:
            raise ValueError(
                f"{where} returned next observations of shape {next_observations.shape}; expected {expected} "
                f"(one row per input, shaped as the observation space {space})"
            )
        if not np.issubdtype(next_observations.dtype, np.number):
            raise ValueError(f"{where} returned next observations of dtype {next_observations.dtype}; expected numbers")
        if not np.isfinite(next_observations).all():
            raise ValueError(
                f"{where} predicted non-finite next observations ({_bad_entries(next_observations)}); "
                "a diverging model, or inputs far outside its training data"
            )
        rewards = None if raw_rewards is None else self._checked_vector(where, "rewards", raw_rewards, rows)
        if rewards is not None and not np.isfinite(rewards).all():
            raise ValueError(f"{where} predicted non-finite rewards ({_bad_entries(rewards)})")
        if rewards is None and self.reward == "model":
            raise ValueError(
                f"{where} predicts no rewards, but reward='model'; use reward='observed' (the experienced reward for "
                "every model, Eq. 1) or a model that predicts them (GaussianEnsemble(predict_reward=True))"
            )
        if raw_terminated is None:
            terminated = np.zeros(rows, dtype=bool)
        else:
            flags = self._checked_vector(where, "terminated", raw_terminated, rows)
            if flags.dtype != bool and not np.isin(flags, (0, 1)).all():
                raise ValueError(f"{where} returned terminated flags {flags.tolist()}; expected booleans (or 0 and 1)")
            terminated = flags.astype(bool)
        return ModelPrediction(next_observations.astype(space.dtype, copy=False), rewards, terminated)

    @staticmethod
    def _checked_vector(where: str, name: str, value: Any, rows: int) -> np.ndarray:
        """:return: ``value`` as an ``(N,)`` array (``(N, 1)`` accepted); rewards as float64."""
        array = np.asarray(value)
        if array.shape == (rows, 1):
            array = array[:, 0]
        if array.shape != (rows,):
            raise ValueError(f"{where} returned {name} of shape {array.shape}; expected ({rows},), one per input row")
        return array.astype(np.float64) if name == "rewards" else array


# ---------------------------------------------------------------- fitting the K models


def _episodes_transitions(episodes: Any) -> tuple[np.ndarray, ...]:
    """
    :param episodes: :class:`robust_envs.datasets.Episodes` (or a sequence of ``Episode``)
    :return: ``(observations, actions, rewards, next_observations)`` over all their steps (Minari's layout: step
        ``t`` goes from observation ``t`` to ``t + 1``, the last one being the real final observation)
    """
    parts = [(e.observations[:-1], e.actions, e.rewards, e.observations[1:]) for e in episodes]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def _transitions_of(k: int, dataset: Any) -> tuple[np.ndarray, ...]:
    """:return: dataset ``k`` as four arrays; :raises TypeError: a dataset of another kind."""
    from robust_envs.datasets import Episode, Episodes

    if isinstance(dataset, Episodes) or (
        isinstance(dataset, Sequence) and len(dataset) > 0 and all(isinstance(e, Episode) for e in dataset)
    ):
        return _episodes_transitions(dataset)
    if isinstance(dataset, Mapping):
        names = ("observations", "actions", "rewards", "next_observations")
        missing = [name for name in names if name not in dataset]
        if missing:
            raise ValueError(f"fit_perturbation_models: datasets[{k}] lacks {missing}; a mapping needs the keys {names}")
        return tuple(np.asarray(dataset[name]) for name in names)
    if isinstance(dataset, Sequence) and not isinstance(dataset, str) and len(dataset) == 4:
        return tuple(np.asarray(array) for array in dataset)
    raise TypeError(
        f"fit_perturbation_models: datasets[{k}] is {type(dataset).__name__}; pass (observations, actions, rewards, "
        "next_observations) arrays, a mapping with those keys, or robust_envs.datasets.Episodes"
    )


def fit_perturbation_models(
    datasets: Sequence[Any],
    env: gym.Env | None = None,
    seed: int = 0,
    ensemble_kwargs: Mapping[str, Any] | None = None,
    fit_kwargs: Mapping[str, Any] | None = None,
) -> list[GaussianEnsemble]:
    """
    Fit one :class:`~robust_sb3.common.dynamics.GaussianEnsemble` per perturbation, each on its own dataset:
    DDR-MPO's learned uncertainty set (Mankowitz et al. 2020), for :class:`LearnedPerturbedTransitions`.

    The ensembles have the class's defaults (RAMBO's: 7 members, 5 elites, 4 x 200 swish, state change and reward)
    unless ``ensemble_kwargs`` says otherwise, and are trained by :meth:`GaussianEnsemble.fit` (holdout, early
    stopping, elites). Ensemble ``k`` gets seed ``SeedSequence(seed).generate_state(K)[k]``, which fixes its weights,
    its fit's split and shuffles, and its own sampling: the same datasets and seed give the same models.

    :param datasets: K >= 1 datasets, model ``k`` trained on dataset ``k``; each is ``(observations (N, obs_dim),
        actions (N, action_dim), rewards (N,), next_observations (N, obs_dim))``, a mapping with those keys, or
        :class:`robust_envs.datasets.Episodes` (all their steps)
    :param env: the env the models are for: sizes the ensembles and gives them its id and keyword arguments, so
        they report its observation-based termination (:meth:`GaussianEnsemble.for_env`); ``None``: sized from the
        data, never terminated
    :param seed: the seed of all K fits (>= 0)
    :param ensemble_kwargs: other :class:`GaussianEnsemble` arguments (``n_members``, ``hidden_sizes``,
        ``predict_reward``, ``device``, ...; not ``seed``)
    :param fit_kwargs: arguments of :meth:`GaussianEnsemble.fit` (``max_epochs``, ``batch_size``, ...)
    :return: the K fitted ensembles, in the order of ``datasets``
    :raises ValueError: no datasets, a bad seed, ``seed`` in ``ensemble_kwargs``, datasets of different sizes of
        observations or actions, or bad arrays (named by :meth:`GaussianEnsemble.fit`)
    :raises TypeError: a dataset of an unknown kind
    """
    owner = "fit_perturbation_models"
    if isinstance(datasets, Mapping) or not isinstance(datasets, Sequence) or isinstance(datasets, str):
        raise TypeError(f"{owner}: datasets must be a sequence of K datasets (one per perturbation), got {type(datasets)}")
    if len(datasets) == 0:
        raise ValueError(f"{owner}: datasets is empty (K = 0); pass one dataset per perturbation")
    seed = check_int(owner, "seed", seed, 0)
    ensemble_kwargs = dict(ensemble_kwargs or {})
    if "seed" in ensemble_kwargs:
        raise ValueError(f"{owner}: pass the seed as seed=..., not in ensemble_kwargs (got {ensemble_kwargs['seed']!r})")
    data = [_transitions_of(k, dataset) for k, dataset in enumerate(datasets)]
    seeds = np.random.SeedSequence(seed).generate_state(len(data))
    ensembles = []
    for k, (observations, actions, rewards, next_observations) in enumerate(data):
        if env is not None:
            ensemble = GaussianEnsemble.for_env(env, seed=int(seeds[k]), **ensemble_kwargs)
        else:
            if observations.ndim != 2 or actions.ndim != 2:
                raise ValueError(
                    f"{owner}: datasets[{k}] has observations {observations.shape} and actions {actions.shape}; "
                    "expected (N, obs_dim) and (N, action_dim)"
                )
            ensemble = GaussianEnsemble(observations.shape[1], actions.shape[1], seed=int(seeds[k]), **ensemble_kwargs)
        first = ensembles[0] if ensembles else ensemble
        if (ensemble.obs_dim, ensemble.action_dim) != (first.obs_dim, first.action_dim):
            raise ValueError(
                f"{owner}: datasets[{k}] has observations of size {ensemble.obs_dim} and actions of size "
                f"{ensemble.action_dim}, datasets[0] {first.obs_dim} and {first.action_dim}; all K must come from one env"
            )
        try:
            ensemble.fit(observations, actions, rewards, next_observations, **dict(fit_kwargs or {}))
        except ValueError as error:
            raise ValueError(f"{owner}: datasets[{k}]: {error}") from error
        ensembles.append(ensemble)
    return ensembles
