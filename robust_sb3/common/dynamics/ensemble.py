"""
:class:`GaussianEnsemble`: an ensemble of Gaussian MLPs predicting the state change and the reward.

The probabilistic ensemble of PETS (Chua et al., 2018) and MBPO (Janner et al., 2019), which RAMBO (Rigter et
al., 2022) trains and then makes adversarial, and which DDR-MPO (Mankowitz et al., 2020, "learning the
uncertainty set from offline data") uses as learned transition models. Each member maps a normalised
``(observation, action)`` to a diagonal Gaussian over ``[next_obs - obs, reward]``. Defaults are RAMBO's:
7 members, 5 elites, 4 hidden layers of 200 units with swish activations.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.utils import get_device
from torch import nn

from robust_sb3.common.dynamics.data import as_batch, as_transitions, targets_of, to_numpy
from robust_sb3.common.dynamics.losses import squared_error
from robust_sb3.common.dynamics.network import ACTIVATIONS, GaussianEnsembleNetwork
from robust_sb3.common.dynamics.normalizer import StandardNormalizer
from robust_sb3.common.dynamics.termination import ObservationTermination, termination_fn
from robust_sb3.common.dynamics.training import FitResult, fit_ensemble
from robust_sb3.common.validation import check_int, check_number

OWNER = "GaussianEnsemble"
#: the version of the layout :meth:`GaussianEnsemble.save` writes
FORMAT_VERSION = 1


class EnsemblePrediction(NamedTuple):
    """
    Predicted transitions, NumPy arrays. From :meth:`GaussianEnsemble.predict`: one row per input, ``(N, ...)``;
    from :meth:`GaussianEnsemble.predict_all`: one row set per member, ``(E, N, ...)``.

    :param next_observations: ``obs + predicted change``
    :param rewards: predicted rewards (``None`` when the ensemble does not predict them)
    :param terminated: the env's observation-based termination of the next observations (all ``False``
        without an ``env_id``)
    :param members: the member behind each row, ``(N,)``; for ``predict_all``, ``arange(E)``
    """

    next_observations: np.ndarray
    rewards: np.ndarray | None
    terminated: np.ndarray
    members: np.ndarray


def _check_hidden_sizes(hidden_sizes: Any) -> tuple[int, ...]:
    if isinstance(hidden_sizes, int) or not isinstance(hidden_sizes, Sequence):
        raise ValueError(f"{OWNER}: hidden_sizes must be a sequence of layer widths, e.g. (200, 200), got {hidden_sizes!r}")
    return tuple(check_int(OWNER, f"hidden_sizes[{i}]", size, 1) for i, size in enumerate(hidden_sizes))


class GaussianEnsemble(nn.Module):
    """
    An ensemble of ``n_members`` Gaussian MLPs over ``[next_obs - obs, reward]``, all members in one batched call.

    Use: ``ensemble.fit(obs, actions, rewards, next_obs)`` (holdout, early stopping, elites; see
    :mod:`~robust_sb3.common.dynamics.training`), then :meth:`predict` for model rollouts (a random elite per
    row, MBPO's rule) or :meth:`predict_all` for every member at once. :meth:`forward` and :meth:`log_prob` give
    differentiable tensors for adversarial model training (RAMBO).

    :param obs_dim: the observation size
    :param action_dim: the action size
    :param n_members: members trained (RAMBO, MBPO: 7)
    :param n_elites: members used by :meth:`predict` (RAMBO, MBPO: 5)
    :param hidden_sizes: hidden layer widths (RAMBO: four of 200)
    :param activation: ``"silu"`` (= swish, PETS/MBPO/RAMBO), ``"relu"``, ``"tanh"`` or ``"elu"``
    :param predict_reward: also predict the reward (``False``: the state change only, e.g. DDR-MPO keeping the
        observed reward)
    :param max_logvar_init: initial learned upper bound of the log-variance (MBPO: 0.5; RAMBO's code: 1)
    :param min_logvar_init: initial learned lower bound (MBPO: -10; RAMBO's code: -6)
    :param scale_state_targets: the networks predict the state change in units of each observation's standard
        deviation (the input normaliser's, fitted by :meth:`fit`), the reward unscaled; :meth:`forward` and every
        prediction return it in raw units. RAMBO's code trains on a dataset of standardised states, where the
        log-variance bounds (+1 / -6) hold per unit of an observation's spread; on raw Hopper observations a floor of
        ``exp(-3) = 0.05`` would be several times the per-step change of the positions. The NLL differs from the
        standardised one by a constant, so training is the same as on standardised data
    :param env_id: the env whose observation-based termination :meth:`predict` reports
        (:func:`~robust_sb3.common.dynamics.termination.termination_fn`); ``None``: never terminated
    :param env_kwargs: that env's keyword arguments (its healthy ranges), as given to ``gym.make`` (plain
        numbers, strings, tuples, lists and dicts, so that :meth:`save` can store them)
    :param seed: seeds the initial weights, the fit's split and shuffles, and the sampling of :meth:`predict`
        (``None``: drawn from the OS; :attr:`seed` holds the value used)
    :param device: the torch device (``"auto"``: CUDA when available)
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        n_members: int = 7,
        n_elites: int = 5,
        hidden_sizes: Sequence[int] = (200, 200, 200, 200),
        activation: str = "silu",
        predict_reward: bool = True,
        max_logvar_init: float = 0.5,
        min_logvar_init: float = -10.0,
        scale_state_targets: bool = False,
        env_id: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        seed: int | None = None,
        device: th.device | str = "auto",
    ) -> None:
        super().__init__()
        self.obs_dim = check_int(OWNER, "obs_dim", obs_dim, 1)
        self.action_dim = check_int(OWNER, "action_dim", action_dim, 1)
        self.n_members = check_int(OWNER, "n_members", n_members, 1)
        self.n_elites = check_int(OWNER, "n_elites", n_elites, 1)
        if self.n_elites > self.n_members:
            raise ValueError(
                f"{OWNER}: n_elites={n_elites} exceeds n_members={n_members}; choose n_elites in [1, {n_members}]"
            )
        self.hidden_sizes = _check_hidden_sizes(hidden_sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"{OWNER}: unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.activation = activation
        self.predict_reward = bool(predict_reward)
        self.max_logvar_init = check_number(OWNER, "max_logvar_init", max_logvar_init)
        self.min_logvar_init = check_number(
            OWNER, "min_logvar_init", min_logvar_init, high=self.max_logvar_init, high_open=True
        )
        if not isinstance(scale_state_targets, bool | np.bool_):
            raise TypeError(f"{OWNER}: scale_state_targets must be True or False, got {scale_state_targets!r}")
        self.scale_state_targets = bool(scale_state_targets)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.termination: ObservationTermination | None = (
            termination_fn(env_id, **self.env_kwargs) if env_id is not None else None
        )
        if env_id is None and self.env_kwargs:
            raise ValueError(f"{OWNER}: env_kwargs={self.env_kwargs!r} given without env_id; pass the env's id too")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**32)
        self.seed = check_int(OWNER, "seed", seed, 0)
        init_seed, sample_seed, self.fit_seed = (int(s) for s in np.random.SeedSequence(self.seed).generate_state(3))
        self.device = get_device(device)

        self.out_dim = self.obs_dim + int(self.predict_reward)
        self.input_normalizer = StandardNormalizer(self.obs_dim + self.action_dim)
        self.network = GaussianEnsembleNetwork(
            self.n_members,
            self.obs_dim + self.action_dim,
            self.out_dim,
            self.hidden_sizes,
            self.activation,
            self.max_logvar_init,
            self.min_logvar_init,
            generator=th.Generator().manual_seed(init_seed),
        )
        self.register_buffer("_elites", th.arange(self.n_elites))
        #: rows per batched call in :meth:`predict` and :meth:`predict_all` (``None``: all at once). On a CPU,
        #: 512 rows keep every member's activations in cache (7 x 512 x 200 floats, 2.9 MB): a 50 000-row batch
        #: in one call streams 280 MB per layer through memory and runs slower than a loop over members.
        self.predict_chunk_rows: int | None = 512 if self.device.type == "cpu" else None
        self.to(self.device)
        self.eval()
        self.generator = th.Generator(device=self.device).manual_seed(sample_seed)
        #: the record of the latest :meth:`fit` (``None`` before one, and after :meth:`load`)
        self.last_fit: FitResult | None = None

    @classmethod
    def for_env(cls, env: gym.Env, **kwargs: Any) -> GaussianEnsemble:
        """
        An ensemble sized for ``env`` (flat Box observations and actions), with its id and keyword arguments
        for termination when it was made with ``gym.make`` (pass ``env_id=None`` for an env without an
        observation-based termination rule).

        :param env: the environment
        :param kwargs: the other constructor arguments
        :return: the ensemble
        """
        obs_shape, action_shape = env.observation_space.shape, env.action_space.shape
        if obs_shape is None or len(obs_shape) != 1 or action_shape is None or len(action_shape) != 1:
            raise ValueError(
                f"{OWNER}.for_env: needs flat Box observation and action spaces, "
                f"got {env.observation_space} and {env.action_space}"
            )
        spec = env.spec
        if spec is not None and "env_id" not in kwargs:
            kwargs = {"env_id": spec.id, "env_kwargs": dict(spec.kwargs), **kwargs}
        return cls(obs_shape[0], action_shape[0], **kwargs)

    @property
    def constructor_parameters(self) -> dict[str, Any]:
        """Every constructor argument (the seed actually used, the device excluded), as :meth:`save` records them."""
        return {
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "n_members": self.n_members,
            "n_elites": self.n_elites,
            "hidden_sizes": self.hidden_sizes,
            "activation": self.activation,
            "predict_reward": self.predict_reward,
            "max_logvar_init": self.max_logvar_init,
            "min_logvar_init": self.min_logvar_init,
            "scale_state_targets": self.scale_state_targets,
            "env_id": self.env_id,
            "env_kwargs": dict(self.env_kwargs),
            "seed": self.seed,
        }

    # ---------------------------------------------------------------- elites

    @property
    def elites(self) -> np.ndarray:
        """The elite members (best holdout MSE first after :meth:`fit`; ``0 .. n_elites - 1`` before)."""
        return to_numpy(self._elites)

    def set_elites(self, members: Sequence[int] | np.ndarray) -> None:
        """
        :param members: ``n_elites`` distinct member indices
        :raises ValueError: wrong count, duplicates or an index outside ``[0, n_members)``
        """
        values = np.asarray(members)
        if values.shape != (self.n_elites,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{OWNER}: elites must be {self.n_elites} member indices (n_elites), got {members!r}")
        if len(set(values.tolist())) != self.n_elites or values.min() < 0 or values.max() >= self.n_members:
            raise ValueError(f"{OWNER}: elites must be distinct indices in [0, {self.n_members}), got {values.tolist()}")
        self._elites.copy_(th.as_tensor(values, dtype=th.long))

    # ---------------------------------------------------------------- differentiable core

    def forward(self, observations: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        Every member's Gaussian over ``[next_obs - obs, reward]``, in one batched call (differentiable).

        :param observations: ``(N, obs_dim)`` (the same rows for every member) or ``(E, N, obs_dim)``
        :param actions: ``(N, action_dim)`` or ``(E, N, action_dim)``, matching
        :return: mean and log-variance, each ``(E, N, out_dim)``
        """
        x = self.input_normalizer(th.cat((observations, actions), dim=-1))
        if x.ndim == 2:
            x = x.expand(self.n_members, *x.shape)
        return self.network_gaussian(x)

    def network_gaussian(self, inputs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        The members' Gaussians over ``[next_obs - obs, reward]`` in raw units, from already normalised inputs.

        With ``scale_state_targets`` the network's outputs are in units of the observations' standard deviations:
        ``mean * std`` and ``logvar + 2 log std`` (state dimensions; the reward's scale is 1).

        :param inputs: ``(E, N, in_dim)`` normalised inputs
        :return: mean and log-variance, each ``(E, N, out_dim)`` (differentiable)
        """
        mean, logvar = self.network(inputs)
        if not self.scale_state_targets:
            return mean, logvar
        scale = self.input_normalizer.std[: self.obs_dim]
        if self.predict_reward:
            scale = th.cat((scale, scale.new_ones(1)))
        return mean * scale, logvar + 2.0 * th.log(scale)

    def log_prob(
        self,
        observations: th.Tensor,
        actions: th.Tensor,
        next_observations: th.Tensor,
        rewards: th.Tensor | None = None,
    ) -> th.Tensor:
        """
        Each member's log-density of observed transitions (differentiable; RAMBO's adversarial loss mixes the elites').

        :param observations: ``(N, obs_dim)``
        :param actions: ``(N, action_dim)``
        :param next_observations: ``(N, obs_dim)``
        :param rewards: ``(N,)``; required when the ensemble predicts rewards
        :return: ``log N([next_obs - obs, r]; mean_e, var_e)`` summed over dimensions, ``(E, N)``
        """
        if self.predict_reward and rewards is None:
            raise ValueError(f"{OWNER}.log_prob: this ensemble predicts rewards, so pass rewards")
        target = next_observations - observations
        if self.predict_reward:
            target = th.cat((target, rewards.reshape(-1, 1)), dim=-1)  # type: ignore[union-attr]
        mean, logvar = self(observations, actions)
        return -0.5 * ((target - mean).square() * th.exp(-logvar) + logvar + np.log(2.0 * np.pi)).sum(dim=-1)

    def mse_of_normalized(self, inputs: th.Tensor, targets: th.Tensor) -> np.ndarray:
        """
        :param inputs: already normalised inputs, ``(N, in_dim)``
        :param targets: ``(N, out_dim)``
        :return: each member's mean squared error of its mean prediction, ``(E,)``
        """
        with th.no_grad():
            mean, _ = self.network_gaussian(inputs.expand(self.n_members, *inputs.shape))
            return to_numpy(squared_error(mean, targets)).astype(np.float64)

    # ---------------------------------------------------------------- training and evaluation

    def fit(self, observations: Any, actions: Any, rewards: Any, next_observations: Any, **kwargs: Any) -> FitResult:
        """
        Train on transitions by Gaussian NLL with holdout early stopping, and choose the elites.

        :param observations: ``(N, obs_dim)``
        :param actions: ``(N, action_dim)``
        :param rewards: ``(N,)`` (ignored in the targets when ``predict_reward=False``, but checked)
        :param next_observations: ``(N, obs_dim)``
        :param kwargs: training settings of :func:`~robust_sb3.common.dynamics.training.fit_ensemble`
            (``learning_rate``, ``batch_size``, ``holdout_ratio``, ``max_holdout``, ``patience``,
            ``min_improvement``, ``max_epochs``, ``bootstrap``, ``weight_decay``, ``logvar_penalty``, ``seed``)
        :return: the record of the fit (holdout MSE per member, elites, epochs, loss history), also kept as
            :attr:`last_fit` (not saved by :meth:`save`)
        """
        transitions = as_transitions(
            f"{OWNER}.fit", observations, actions, rewards, next_observations, self.obs_dim, self.action_dim, self.device
        )
        self.last_fit = fit_ensemble(self, transitions, **kwargs)
        return self.last_fit

    def holdout_mse(self, observations: Any, actions: Any, rewards: Any, next_observations: Any) -> np.ndarray:
        """:return: each member's mean squared error of its mean prediction on these transitions, ``(E,)``."""
        data = as_transitions(
            f"{OWNER}.holdout_mse",
            observations,
            actions,
            rewards,
            next_observations,
            self.obs_dim,
            self.action_dim,
            self.device,
        )
        inputs = self.input_normalizer(th.cat((data.observations, data.actions), dim=1))
        return self.mse_of_normalized(inputs, targets_of(data, self.predict_reward))

    def select_elites(self, observations: Any, actions: Any, rewards: Any, next_observations: Any) -> np.ndarray:
        """
        Make the ``n_elites`` members with the lowest MSE on these (held-out) transitions the elites.

        :return: the new elites, best first
        """
        mse = self.holdout_mse(observations, actions, rewards, next_observations)
        elites = np.argsort(mse, kind="stable")[: self.n_elites]
        self.set_elites(elites)
        return elites

    # ---------------------------------------------------------------- prediction

    def _checked_inputs(self, owner: str, observations: Any, actions: Any) -> tuple[th.Tensor, th.Tensor]:
        obs = as_batch(owner, "observations", observations, self.obs_dim, self.device)
        return obs, as_batch(owner, "actions", actions, self.action_dim, self.device, obs.shape[0])

    def predict_distribution(self, observations: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        :meth:`forward` without gradients, for large batches: ``predict_chunk_rows`` rows at a time, every member
        in each batched call.

        :param observations: ``(N, obs_dim)`` float32 tensor on the ensemble's device
        :param actions: ``(N, action_dim)``
        :return: mean and log-variance, each ``(E, N, out_dim)``
        """
        n, chunk = observations.shape[0], self.predict_chunk_rows
        with th.no_grad():
            if chunk is None or n <= chunk:
                return self(observations, actions)
            parts = [self(observations[i : i + chunk], actions[i : i + chunk]) for i in range(0, n, chunk)]
        return th.cat([p[0] for p in parts], dim=1), th.cat([p[1] for p in parts], dim=1)

    def _split(self, obs: th.Tensor, outputs: th.Tensor) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """:return: next observations, rewards and terminated flags from (..., out_dim) outputs."""
        next_obs = to_numpy(obs + outputs[..., : self.obs_dim])
        rewards = to_numpy(outputs[..., self.obs_dim]) if self.predict_reward else None
        if self.termination is None:
            terminated = np.zeros(next_obs.shape[:-1], dtype=bool)
        else:
            terminated = self.termination(next_obs)
        return next_obs, rewards, terminated

    def _sample(self, mean: th.Tensor, logvar: th.Tensor, deterministic: bool, generator: th.Generator) -> th.Tensor:
        if deterministic:
            return mean
        noise = th.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + noise * th.exp(0.5 * logvar)

    def predict(
        self,
        observations: Any,
        actions: Any,
        deterministic: bool = False,
        generator: th.Generator | None = None,
    ) -> EnsemblePrediction:
        """
        One model step for a batch: each row uses a uniformly random elite (MBPO's and RAMBO's rollouts).

        All members run in batched calls (:meth:`predict_distribution`); the row's member is then picked, and
        its Gaussian sampled (or its mean taken when ``deterministic``).

        :param observations: ``(N, obs_dim)``
        :param actions: ``(N, action_dim)``
        :param deterministic: return the chosen member's mean instead of a sample
        :param generator: the random source of the member choice and the noise (default: the ensemble's own,
            seeded by ``seed``)
        :return: next observations ``(N, obs_dim)``, rewards ``(N,)``, terminated ``(N,)``, members ``(N,)``
        """
        obs, act = self._checked_inputs(f"{OWNER}.predict", observations, actions)
        generator = self.generator if generator is None else generator
        mean, logvar = self.predict_distribution(obs, act)
        with th.no_grad():
            pick = th.randint(self.n_elites, (obs.shape[0],), generator=generator, device=self.device)
            members = self._elites[pick]
            rows = th.arange(obs.shape[0], device=self.device)
            outputs = self._sample(mean[members, rows], logvar[members, rows], deterministic, generator)
        return EnsemblePrediction(*self._split(obs, outputs), members=to_numpy(members))

    def predict_all(
        self,
        observations: Any,
        actions: Any,
        deterministic: bool = False,
        generator: th.Generator | None = None,
    ) -> EnsemblePrediction:
        """
        Every member's prediction for every row, all members in each batched call (:meth:`predict_distribution`).

        :param observations: ``(N, obs_dim)``
        :param actions: ``(N, action_dim)``
        :param deterministic: return the means instead of samples
        :param generator: the random source of the noise (default: the ensemble's own)
        :return: next observations ``(E, N, obs_dim)``, rewards ``(E, N)``, terminated ``(E, N)``, members ``arange(E)``
        """
        obs, act = self._checked_inputs(f"{OWNER}.predict_all", observations, actions)
        generator = self.generator if generator is None else generator
        mean, logvar = self.predict_distribution(obs, act)
        with th.no_grad():
            outputs = self._sample(mean, logvar, deterministic, generator)
        return EnsemblePrediction(*self._split(obs, outputs), members=np.arange(self.n_members))

    # ---------------------------------------------------------------- persistence

    def save(self, path: str | pathlib.Path) -> None:
        """
        Write the constructor arguments, weights, normaliser, elites, log-variance bounds and the sampling
        generator's state (``torch.save`` of plain data, readable with ``weights_only=True``).

        :param path: the file
        """
        th.save(
            {
                "format": OWNER,
                "format_version": FORMAT_VERSION,
                "constructor": self.constructor_parameters,
                "state_dict": self.state_dict(),
                "generator_state": self.generator.get_state(),
                "generator_device_type": self.device.type,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | pathlib.Path, device: th.device | str = "auto") -> GaussianEnsemble:
        """
        :param path: a file written by :meth:`save`
        :param device: where to put the ensemble
        :return: the ensemble, equal to the saved one; its sampling continues where the saved one's stopped
            when loaded onto the same device type (CPU or CUDA), else it restarts from the seed
        :raises FileNotFoundError: no such file
        :raises ValueError: not a file written by :meth:`save`
        """
        if not pathlib.Path(path).is_file():
            raise FileNotFoundError(f"{OWNER}.load: no file {str(path)!r}; write one with GaussianEnsemble.save()")
        try:
            payload = th.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for foreign or damaged files
            raise ValueError(
                f"{OWNER}.load: {str(path)!r} is not a file written by GaussianEnsemble.save() ({error})"
            ) from error
        if not isinstance(payload, dict) or payload.get("format") != OWNER:
            raise ValueError(f"{OWNER}.load: {str(path)!r} is not a file written by GaussianEnsemble.save()")
        if payload.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{OWNER}.load: {str(path)!r} has format version {payload.get('format_version')!r}; "
                f"this version reads {FORMAT_VERSION}"
            )
        ensemble = cls(**payload["constructor"], device=device)
        ensemble.load_state_dict(payload["state_dict"])
        if payload.get("generator_device_type") == ensemble.device.type:
            # CPU and CUDA generators keep different states: across device types sampling restarts from the seed
            ensemble.generator.set_state(payload["generator_state"])
        return ensemble
