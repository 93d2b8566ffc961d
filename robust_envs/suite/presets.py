"""
The uncertainty and hold-out sets of Mankowitz et al. (2020), Table 3, for the DeepMind Control Suite envs.

Preset names read ``mankowitz2020/<domain>-<task>/<role>``. Roles: ``uncertainty`` (the K = 3 models of
the robust critic) and ``holdout`` (the unseen test models); ``larger-uncertainty`` / ``larger-test``
(the larger test sets of cartpole balance and pendulum swing-up); ``offline-uncertainty`` /
``offline-holdout`` (the offline-dataset rows). The agent trains on the **first** member of each
uncertainty set (the paper's nominal model, section 5 setup): :func:`training_params` returns it.
The numbers are the table's, in its order and units; see :data:`NOTES` for where the paper disagrees
with itself.
"""

from __future__ import annotations

from robust_envs.uncertainty import UncertaintySet

MANKOWITZ = (
    "Mankowitz et al., Robust Reinforcement Learning for Continuous Control with Model Misspecification, "
    "ICLR 2020, appendix H.3, Table 3"
)

#: Where the paper's text and Table 3 differ; the presets follow the table.
NOTES = {
    "cartpole-balance": "appendix H.5 gives the uncertainty set as 0.5, 1.4, 2.1 m; Table 3 (followed) 0.5, 1.9, 2.1 m",
    "pendulum-swingup": (
        "Table 3's larger-test-set row varies the pole length (1.0, 1.1, 1.4 m; test 1.0-1.5 m) where its main row "
        "varies the ball mass (1.0, 1.1, 1.4 kg); the values are lengths in metres as written, i.e. two to three "
        "times dm_control's 0.5 m pendulum"
    ),
    "hopper": "the calf is written as the MJCF fromto z coordinate: -0.32 is the nominal 0.32 m calf",
}

# (env id, short name, parameter, uncertainty set, hold-out set, role suffix) per row of Table 3
_ROWS: tuple[tuple[str, str, str, tuple[float, ...], tuple[float, ...], str], ...] = (
    ("RobustAcrobotSwingup-v0", "acrobot-swingup", "upper_arm_length", (1.0, 1.025, 1.05), (1.15, 1.2, 1.25), ""),
    ("RobustCartpoleBalance-v0", "cartpole-balance", "pole_length", (0.5, 1.9, 2.1), (2.0, 2.2, 2.3), ""),
    ("RobustCartpoleSwingup-v0", "cartpole-swingup", "pole_length", (1.0, 1.4, 1.7), (1.2, 1.5, 1.8), ""),
    ("RobustCheetahRun-v0", "cheetah-run", "torso_length", (0.4, 0.45, 0.5), (0.3, 0.325, 0.35), ""),
    ("RobustHopperHop-v0", "hopper-hop", "calf_length", (-0.32, -0.33, -0.34), (-0.4, -0.45, -0.5), ""),
    ("RobustHopperStand-v0", "hopper-stand", "calf_length", (-0.32, -0.33, -0.34), (-0.4, -0.475, -0.5), ""),
    ("RobustPendulumSwingup-v0", "pendulum-swingup", "ball_mass", (1.0, 1.1, 1.4), (1.5, 1.6, 1.7), ""),
    ("RobustWalkerRun-v0", "walker-run", "thigh_length", (0.225, 0.2375, 0.25), (0.35, 0.375, 0.4), ""),
    ("RobustWalkerWalk-v0", "walker-walk", "thigh_length", (0.225, 0.2375, 0.25), (0.35, 0.375, 0.4), ""),
    (
        "RobustCartpoleBalance-v0",
        "cartpole-balance",
        "pole_length",
        (0.5, 1.9, 2.1),
        (0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9),
        "larger",
    ),
    (
        "RobustPendulumSwingup-v0",
        "pendulum-swingup",
        "pole_length",
        (1.0, 1.1, 1.4),
        (1.0, 1.1, 1.2, 1.3, 1.4, 1.5),
        "larger",
    ),
    ("RobustPendulumSwingup-v0", "pendulum-swingup", "ball_mass", (1.0, 1.1, 1.2), (1.5, 1.6, 1.7), "offline"),
    ("RobustCartpoleSwingup-v0", "cartpole-swingup", "pole_length", (1.0, 1.4, 1.7), (1.2, 1.5, 1.8), "offline"),
)


def _source(short: str, parameter: str) -> str:
    note = next((text for key, text in NOTES.items() if short.startswith(key)), "")
    first = f"{MANKOWITZ}; {parameter}; the first member of the uncertainty set is the training (nominal) model"
    return f"{first}; {note}" if note else first


def suite_presets() -> list[UncertaintySet]:
    """:return: every row of Table 3 for the suite envs, as finite uncertainty sets."""
    sets = []
    for env_id, short, parameter, train, test, row in _ROWS:
        prefix = f"{row}-" if row else ""
        test_role = "test" if row == "larger" else "holdout"
        source = _source(short, parameter)
        sets.append(
            UncertaintySet.finite(
                env_id, [{parameter: v} for v in train], name=f"mankowitz2020/{short}/{prefix}uncertainty", source=source
            )
        )
        sets.append(
            UncertaintySet.finite(
                env_id, [{parameter: v} for v in test], name=f"mankowitz2020/{short}/{prefix}{test_role}", source=source
            )
        )
    return sets


def training_params(uncertainty_set: UncertaintySet) -> dict[str, float]:
    """
    :param uncertainty_set: a ``mankowitz2020/.../*uncertainty`` preset (or any finite set)
    :return: its first member, the model paper 000 trains (acts) in
    """
    if not uncertainty_set.is_finite:
        raise ValueError(f"A box set ({uncertainty_set.name!r}) has no first member; pass a finite uncertainty set")
    return dict(uncertainty_set.members[0])
