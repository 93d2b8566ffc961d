"""
RAMBO's hyperparameter presets: per-dataset ``(k, lambda)`` and training scales, as constructor keyword arguments.

``RAMBO("MlpPolicy", env, dataset, **rambo_preset("rambo/cpu", "rambo/d4rl/hopper-medium-replay-v2"))`` merges
presets left to right. The constructor's defaults are the paper's Table 2 (Rigter et al., 2022, appendix B) with
the official code's schedule (``examples/config/rambo/base.py``); only ``(k, lambda)`` vary between datasets there.

Per-dataset ``(rollout_length, adversarial_weight)`` for D4RL's v2 Gym-MuJoCo datasets, three sources
(shared/WAVE2.md section 2.3):

- ``rambo/d4rl/<dataset>``: the official repository's final configs (``examples/config/rambo/mujoco/*.py``);
- ``rambo/d4rl-seed-v1/<dataset>``: the best of the four configurations the paper's v1 tuned over (Table 3);
- ``rambo/d4rl-offlinerl-kit/<dataset>``: OfflineRL-Kit's suggestions (medium, medium-replay, medium-expert only).

Training scales:

- ``rambo/cpu``: sized to finish in **about 2 hours on 2 CPU cores** (an estimate, not yet timed end to end):
  :data:`CPU_EPOCHS` = 200 epochs of 1000 SAC steps and **250** adversarial steps (the official code's
  ``update_adv_ratio`` of 0.25), rollouts from 5000 start states per epoch, the paper's networks, an MLE fit capped
  at 100 epochs; meant for datasets of 100k-200k transitions. Learn with ``total_timesteps=CPU_EPOCHS * 1000``.
  ``benchmarks/bench_rambo.py`` (RobustHopper-v0, one torch thread, CPU time on a loaded 2-core machine) measured
  per epoch: SAC 15 s (as SB3's SAC), one adversarial step 48 ms (3.2 SAC steps: 7 members x 512 rows forward and
  backward), rollouts 0.4 s; so 1000 adversarial steps per epoch would take about 3.5 hours, 250 take 1.5 hours,
  plus up to about 30 minutes of MLE fit and behaviour cloning.
- ``rambo/smoke``: a seconds-long run for tests and examples (small networks and ensemble, short epochs).
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

#: the D4RL v2 Gym-MuJoCo datasets, as D4RL names them
D4RL_DATASETS = tuple(
    f"{env}-{level}-v2"
    for env in ("halfcheetah", "hopper", "walker2d")
    for level in ("random", "medium", "medium-replay", "medium-expert")
)

#: (k, lambda) of the official code's per-dataset configs
OFFICIAL_K_LAMBDA: dict[str, tuple[int, float]] = {
    "halfcheetah-random-v2": (5, 0.0),
    "hopper-random-v2": (2, 3e-4),
    "walker2d-random-v2": (5, 0.0),
    "halfcheetah-medium-v2": (5, 3e-4),
    "hopper-medium-v2": (5, 3e-4),
    "walker2d-medium-v2": (5, 0.0),
    "halfcheetah-medium-replay-v2": (5, 3e-4),
    "hopper-medium-replay-v2": (2, 3e-4),
    "walker2d-medium-replay-v2": (5, 0.0),
    "halfcheetah-medium-expert-v2": (5, 3e-4),
    "hopper-medium-expert-v2": (5, 3e-4),
    "walker2d-medium-expert-v2": (2, 3e-4),
}
#: (k, lambda) of the best configuration in the paper's v1 (Tables 1 and 3)
SEED_V1_K_LAMBDA: dict[str, tuple[int, float]] = {
    "halfcheetah-random-v2": (5, 0.0),
    "hopper-random-v2": (1, 3e-4),
    "walker2d-random-v2": (5, 3e-4),
    "halfcheetah-medium-v2": (5, 3e-4),
    "hopper-medium-v2": (5, 3e-4),
    "walker2d-medium-v2": (5, 0.0),
    "halfcheetah-medium-replay-v2": (5, 3e-4),
    "hopper-medium-replay-v2": (5, 3e-4),
    "walker2d-medium-replay-v2": (5, 0.0),
    "halfcheetah-medium-expert-v2": (2, 3e-4),
    "hopper-medium-expert-v2": (5, 0.0),
    "walker2d-medium-expert-v2": (2, 3e-4),
}
#: (k, lambda) OfflineRL-Kit suggests (``run_example/run_rambo.py``); it lists no random datasets
OFFLINERL_KIT_K_LAMBDA: dict[str, tuple[int, float]] = {
    "halfcheetah-medium-v2": (5, 3e-4),
    "hopper-medium-v2": (5, 3e-4),
    "walker2d-medium-v2": (5, 0.0),
    "halfcheetah-medium-replay-v2": (5, 3e-4),
    "hopper-medium-replay-v2": (5, 3e-4),
    "walker2d-medium-replay-v2": (5, 0.0),
    "halfcheetah-medium-expert-v2": (5, 0.0),
    "hopper-medium-expert-v2": (5, 0.0),
    "walker2d-medium-expert-v2": (2, 3e-4),
}

#: the paper's number of epochs (n_iter, Table 2), each of 1000 agent and 1000 adversarial steps
PAPER_EPOCHS = 2000
#: the epochs of ``rambo/cpu``
CPU_EPOCHS = 200
#: the epochs of ``rambo/smoke``
SMOKE_EPOCHS = 2


def _k_lambda(table: dict[str, tuple[int, float]]) -> dict[str, dict[str, Any]]:
    return {name: {"rollout_length": k, "adversarial_weight": weight} for name, (k, weight) in table.items()}


#: every preset by name (module docstring); values are constructor keyword arguments
RAMBO_PRESETS: dict[str, dict[str, Any]] = {
    **{f"rambo/d4rl/{name}": kwargs for name, kwargs in _k_lambda(OFFICIAL_K_LAMBDA).items()},
    **{f"rambo/d4rl-seed-v1/{name}": kwargs for name, kwargs in _k_lambda(SEED_V1_K_LAMBDA).items()},
    **{f"rambo/d4rl-offlinerl-kit/{name}": kwargs for name, kwargs in _k_lambda(OFFLINERL_KIT_K_LAMBDA).items()},
    "rambo/cpu": {
        "rollout_batch_size": 5_000,
        "rollout_freq": 1000,
        "epoch_length": 1000,
        "model_retain_epochs": 5,
        "adversary_steps": 250,
        "model_fit_kwargs": {"max_epochs": 100},
    },
    "rambo/smoke": {
        "rollout_batch_size": 64,
        "rollout_freq": 50,
        "epoch_length": 50,
        "model_retain_epochs": 2,
        "adversary_steps": 10,
        "adversary_batch_size": 32,
        "model_batch_size": 32,
        "batch_size": 32,
        "bc_epochs": 2,
        "bc_batch_size": 32,
        "ensemble_kwargs": {"n_members": 3, "n_elites": 2, "hidden_sizes": (32, 32)},
        "model_fit_kwargs": {"max_epochs": 5, "batch_size": 64},
        "policy_kwargs": {"net_arch": [32, 32]},
    },
}


def rambo_preset(*names: str, **overrides: Any) -> dict[str, Any]:
    """
    :param names: preset names, merged left to right (a later one's keys win; ``ensemble_kwargs``,
        ``model_fit_kwargs`` and ``policy_kwargs`` are merged key by key)
    :param overrides: keyword arguments applied last
    :return: RAMBO constructor keyword arguments
    :raises ValueError: an unknown name (with the closest names)
    """
    merged: dict[str, Any] = {}
    for name in names:
        if name not in RAMBO_PRESETS:
            close = difflib.get_close_matches(str(name), list(RAMBO_PRESETS), n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(
                f"Unknown RAMBO preset {name!r}.{hint} Presets: 'rambo/cpu', 'rambo/smoke' and "
                f"'rambo/d4rl[-seed-v1|-offlinerl-kit]/<dataset>' for the datasets {list(D4RL_DATASETS)}"
            )
        merged = _merge(merged, RAMBO_PRESETS[name])
    return copy.deepcopy(_merge(merged, overrides))  # callers may change what they get; the presets stay as they are


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
