"""
Offline datasets in Minari's format, collected in the robust envs: every step carries its parameter vector and the
full physics state, so an offline policy can be evaluated, and a learned model checked, against the true dynamics.

One module per job:

- :mod:`~robust_envs.datasets.episodes`: :class:`Episode` / :class:`Episodes`, complete episodes in Minari's layout;
- :mod:`~robust_envs.datasets.recorder`: :class:`EpisodeRecorder`, a wrapper keeping every complete episode an env
  runs (a training run's replay, D4RL's medium-replay);
- :mod:`~robust_envs.datasets.replay`: :func:`save_actions` / :func:`replay_actions`, episodes kept as their starts and
  actions (a fiftieth of the size) and re-created exactly, checked by :func:`episodes_checksum`;
- :mod:`~robust_envs.datasets.collect`: :func:`collect` (a policy under fixed parameters or domain randomisation),
  :func:`reference_return`, :class:`UniformRandomPolicy`;
- :mod:`~robust_envs.datasets.levels`: D4RL's levels (:data:`LEVELS`), :func:`make_level`,
  :func:`select_medium_checkpoint`;
- :mod:`~robust_envs.datasets.storage`: :func:`create_dataset` (``minari.create_dataset_from_buffers``, no JAX),
  :func:`load` (``minari.load_dataset``, no network), :func:`list_datasets`;
- :mod:`~robust_envs.datasets.d4rl`: :func:`d4rl_normalized_score` with D4RL's v2 references, and
  :func:`from_d4rl_hdf5`, a converter from D4RL's HDF5 layout;
- :mod:`~robust_envs.datasets.cli`: ``robust-rl datasets generate | list | show``.

Torch-free (numpy, gymnasium, minari): a policy is any callable ``obs -> action``, or a trained SB3 model, which is
called through its ``predict`` (:func:`robust_envs.evaluation.as_policy`; sampled actions by default, as D4RL's).
Minari (the ``[data]`` extra) is imported only to write and read datasets.

Example::

    import robust_envs.datasets as rd

    episodes = rd.make_level("random", "RobustHopper-v0", n_steps=10_000, seed=0, params={"torso_density": 1250.0})
    rd.create_dataset("robust_rl/hopper-heavy/random-v0", episodes, algorithm_name="uniform random")
    dataset = rd.load("robust_rl/hopper-heavy/random-v0")
"""

from __future__ import annotations

from robust_envs.datasets.collect import UniformRandomPolicy, collect, episode_seed, make_env, reference_return
from robust_envs.datasets.d4rl import D4RL_REFERENCE_SCORES, d4rl_normalized_score, from_d4rl_hdf5, read_d4rl_hdf5
from robust_envs.datasets.episodes import PARAMS_KEY, STATE_KEY, Episode, Episodes, episodes_checksum
from robust_envs.datasets.levels import LEVELS, make_level, select_medium_checkpoint
from robust_envs.datasets.recorder import EpisodeRecorder
from robust_envs.datasets.replay import replay_actions, save_actions
from robust_envs.datasets.storage import METADATA_KEY, create_dataset, datasets_root, list_datasets, load

__all__ = [
    "D4RL_REFERENCE_SCORES",
    "LEVELS",
    "METADATA_KEY",
    "PARAMS_KEY",
    "STATE_KEY",
    "Episode",
    "EpisodeRecorder",
    "Episodes",
    "UniformRandomPolicy",
    "collect",
    "create_dataset",
    "d4rl_normalized_score",
    "datasets_root",
    "episode_seed",
    "episodes_checksum",
    "from_d4rl_hdf5",
    "list_datasets",
    "load",
    "make_env",
    "make_level",
    "read_d4rl_hdf5",
    "reference_return",
    "replay_actions",
    "save_actions",
    "select_medium_checkpoint",
]
