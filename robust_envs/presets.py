"""
Named uncertainty sets and parameterisations from the seed papers, each citing its table.

Preset names read ``paper/env/role``. The presets are data, keyed by env id: this module imports no env
module (it needs neither MuJoCo nor dm_control), and the parameter names it uses are checked against the
envs by the tests. Friction numbers in the papers are absolute coefficients of
their simulators; ours is a factor on every geom's sliding friction (see ``friction`` in the env
docstrings). They are converted by dividing by the floor's friction in Gymnasium's XML (Hopper 1.0,
Walker2d 0.7, HalfCheetah 0.4): the floor then has the paper's coefficient, and every other geom keeps
its ratio to the floor.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from robust_envs.uncertainty import UncertaintySet

JIANG = "Jiang et al., Monotonic Robust Policy Optimization with Model Discrepancy, ICML 2021, Table 1"
#: Appended to the sources of Jiang et al.'s length and size presets: which variant of the env is the paper's.
#: The values are the paper's either way; only the masses of the rebuilt bodies differ between the variants.
JIANG_KEEP_MASS = (
    JIANG + "; the paper ran Roboschool's generalisation benchmark, where a length or size change keeps each body's "
    "mass: make the env with keep_mass=True to reproduce it (the default keep_mass=False keeps densities instead)"
)
WR2L = "Abdullah et al., Wasserstein Robust Reinforcement Learning, appendix B, Table 1"

#: Floor friction of Gymnasium's v5 XML, by env id: the divisor that turns a paper's coefficient into our factor.
FLOOR_FRICTION = {"RobustHopper-v0": 1.0, "RobustWalker2d-v0": 0.7, "RobustHalfCheetah-v0": 0.4}


def friction_factor(env_id: str, coefficient: float) -> float:
    """
    :param env_id: a locomotion env id
    :param coefficient: an absolute friction coefficient from a paper
    :return: the ``friction`` factor that gives the floor this coefficient
    """
    if env_id not in FLOOR_FRICTION:
        raise ValueError(f"No friction conversion for {env_id!r}; known: {sorted(FLOOR_FRICTION)}")
    return coefficient / FLOOR_FRICTION[env_id]


@dataclass(frozen=True)
class Parameterisation:
    """
    Which parameters a paper lets vary (WR2L's dynamics vector phi), without ranges.

    :param name: preset name
    :param env_id: the environment
    :param names: the varied parameters, in the paper's order
    :param source: citation
    """

    name: str
    env_id: str
    names: tuple[str, ...]
    source: str


def _jiang_locomotion(env_id: str, short: str, train_friction: tuple[float, float], test_friction: tuple[float, float]):
    def convert(pair: tuple[float, float]) -> tuple[float, float]:
        return friction_factor(env_id, pair[0]), friction_factor(env_id, pair[1])

    note = f"{JIANG}; friction coefficients divided by the floor friction {FLOOR_FRICTION[env_id]}"
    train = UncertaintySet.box(
        env_id, {"density": (750.0, 1250.0), "friction": convert(train_friction)}, name=f"jiang2021/{short}/train", source=note
    )
    test = UncertaintySet.box(
        env_id, {"density": (1.0, 750.0), "friction": convert(test_friction)}, name=f"jiang2021/{short}/test", source=note
    )
    return train, test


def _suite_presets() -> list[UncertaintySet]:
    # imported here: the suite presets module is cheap, but keep dm_control-side modules out of `import robust_envs`
    from robust_envs.suite.presets import suite_presets

    return suite_presets()


def _build_presets() -> dict[str, tuple[UncertaintySet, ...]]:
    sets: list[UncertaintySet] = []
    sets += _jiang_locomotion("RobustWalker2d-v0", "walker2d", (0.2, 2.5), (0.05, 0.2))
    sets += _jiang_locomotion("RobustHopper-v0", "hopper", (0.5, 1.1), (0.2, 0.5))
    sets += _jiang_locomotion("RobustHalfCheetah-v0", "halfcheetah", (0.2, 2.25), (0.05, 0.2))
    # Jiang et al.'s pendulum presets vary lengths and sizes: their sources say which variant reproduces the paper.
    ip = "RobustInvertedPendulum-v0"
    sets.append(
        UncertaintySet.box(
            ip,
            {"pole_length": (0.5, 2.0), "cart_size": (0.05, 0.25)},
            name="jiang2021/invertedpendulum/train",
            source=JIANG_KEEP_MASS,
        )
    )
    sets.append(
        UncertaintySet.box(
            ip,
            {"pole_length": (0.25, 0.5), "cart_size": (0.025, 0.05)},
            name="jiang2021/invertedpendulum/test",
            source=JIANG_KEEP_MASS,
        )
    )
    idp = "RobustInvertedDoublePendulum-v0"
    sets.append(
        UncertaintySet.box(
            idp,
            {"pole1_length": (0.5, 1.0), "pole2_length": (0.5, 1.0)},
            name="jiang2021/inverteddoublependulum/train",
            source=JIANG_KEEP_MASS,
        )
    )
    sets.append(
        UncertaintySet.box(
            idp,
            {"pole1_length": (1.0, 1.1), "pole2_length": (1.0, 1.1)},
            name="jiang2021/inverteddoublependulum/test",
            source=JIANG_KEEP_MASS,
        )
    )
    # The two numeric test ranges WR2L's text gives (appendix B): Walker2d's torso density, and the pole length of
    # the 1-D InvertedPendulum experiment (Figures 3-4; the text calls the env CartPole, its Table 1 InvertedPendulum).
    sets.append(
        UncertaintySet.box(
            "RobustWalker2d-v0", {"torso_density": (500.0, 3000.0)}, name="wr2l/walker2d/test-torso-density", source=WR2L
        )
    )
    sets.append(
        UncertaintySet.box(ip, {"pole_length": (0.3, 3.0)}, name="wr2l/invertedpendulum/test-pole-length", source=WR2L)
    )
    # -- classic CartPole and Shadow-hand cube presets --
    # Jiang et al. Table 1, CP: training force 1-20, pole length 0.05-1, pole mass 0.01-1; testing force 10,
    # length 1-6, mass 1-6. pole_length is Gymnasium's `length` (pivot to centre of mass), see RobustCartPole-v0.
    cp = "RobustCartPole-v0"
    sets.append(
        UncertaintySet.box(
            cp,
            {"force_mag": (1.0, 20.0), "pole_length": (0.05, 1.0), "pole_mass": (0.01, 1.0)},
            name="jiang2021/cartpole/train",
            source=JIANG,
        )
    )
    sets.append(
        UncertaintySet.box(
            cp,
            {"force_mag": (10.0, 10.0), "pole_length": (1.0, 6.0), "pole_mass": (1.0, 6.0)},
            name="jiang2021/cartpole/test",
            source=JIANG,
        )
    )
    # Mankowitz et al. Table 3 (appendix H.3), Shadow hand: half-cube width in metres; the nominal
    # (training) model is the first member of the uncertainty set.
    hand_source = (
        "Mankowitz et al., Robust Reinforcement Learning for Continuous Control with Model Misspecification, "
        "ICLR 2020, Table 3 (Shadow hand, half-cube width)"
    )
    hand = "RobustShadowHandCube-v0"
    sets.append(
        UncertaintySet.finite(
            hand,
            [{"cube_half_width": w} for w in (0.025, 0.022, 0.02)],
            name="mankowitz2020/shadowhand/uncertainty",
            source=hand_source,
        )
    )
    sets.append(
        UncertaintySet.finite(
            hand,
            [{"cube_half_width": w} for w in (0.021, 0.018, 0.015)],
            name="mankowitz2020/shadowhand/holdout",
            source=hand_source,
        )
    )
    # -- DeepMind Control Suite presets --
    sets += _suite_presets()
    by_env: dict[str, tuple[UncertaintySet, ...]] = {}
    for preset in sets:
        by_env[preset.env_id] = (*by_env.get(preset.env_id, ()), preset)
    return by_env


def _wr2l_names(bodies: tuple[str, ...], joints: tuple[str, ...]) -> tuple[str, ...]:
    """WR2L's full dynamics vector (appendix B): link densities, damping and armature of actuated joints, friction."""
    return (
        *(f"{b}_density" for b in bodies),
        *(f"{j}_damping" for j in joints),
        *(f"{j}_armature" for j in joints),
        "friction",
    )


_HOPPER_LINKS = ("torso", "thigh", "leg", "foot")
_WALKER_LINKS = ("torso", "thigh", "leg", "foot", "thigh_left", "leg_left", "foot_left")
_CHEETAH_LINKS = ("torso", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
#: The names of the envs' parameters that WR2L's "full" parameterisation varies, in the envs' declared order.
WR2L_FULL_NAMES: dict[str, tuple[str, ...]] = {
    "RobustHopper-v0": _wr2l_names(_HOPPER_LINKS, _HOPPER_LINKS[1:]),
    "RobustWalker2d-v0": _wr2l_names(_WALKER_LINKS, _WALKER_LINKS[1:]),
    "RobustHalfCheetah-v0": _wr2l_names(_CHEETAH_LINKS, _CHEETAH_LINKS[1:]),
}


def _build_parameterisations() -> dict[str, Parameterisation]:
    out = []
    for env_id, short in (
        ("RobustHopper-v0", "hopper"),
        ("RobustWalker2d-v0", "walker2d"),
        ("RobustHalfCheetah-v0", "halfcheetah"),
    ):
        # HalfCheetah: the text says "21 dimensions, with 7 representing densities", but its own recipe
        # (7 densities, 6 dampings, 6 armatures, friction) counts 20 and the appendix table lists none; the
        # 21st is not named anywhere, so the parameterisation is the 20 the recipe defines.
        source = WR2L if short != "halfcheetah" else WR2L + " (20 of the text's 21 dimensions: the 21st is never named)"
        out.append(Parameterisation(f"wr2l/{short}/full", env_id, WR2L_FULL_NAMES[env_id], source))
    out.append(Parameterisation("wr2l/invertedpendulum/1d", "RobustInvertedPendulum-v0", ("pole_length",), WR2L))
    out.append(Parameterisation("wr2l/hopper/1d", "RobustHopper-v0", ("torso_density",), WR2L))
    out.append(Parameterisation("wr2l/hopper/2d", "RobustHopper-v0", ("torso_density", "friction"), WR2L))
    out.append(Parameterisation("wr2l/walker2d/1d", "RobustWalker2d-v0", ("torso_density",), WR2L))
    out.append(Parameterisation("wr2l/walker2d/2d", "RobustWalker2d-v0", ("torso_density", "friction"), WR2L))
    out.append(Parameterisation("wr2l/halfcheetah/1d", "RobustHalfCheetah-v0", ("friction",), WR2L))
    out.append(Parameterisation("wr2l/halfcheetah/2d", "RobustHalfCheetah-v0", ("torso_density", "friction"), WR2L))
    return {p.name: p for p in out}


_PRESETS: dict[str, tuple[UncertaintySet, ...]] | None = None
_PARAMETERISATIONS: dict[str, Parameterisation] | None = None


def presets_by_env() -> dict[str, tuple[UncertaintySet, ...]]:
    """:return: every uncertainty-set preset, keyed by env id (a new dict; the sets are immutable)."""
    global _PRESETS
    if _PRESETS is None:
        _PRESETS = _build_presets()
    return dict(_PRESETS)


def _presets() -> dict[str, UncertaintySet]:
    return {preset.name: preset for sets in presets_by_env().values() for preset in sets}


def _parameterisations() -> dict[str, Parameterisation]:
    global _PARAMETERISATIONS
    if _PARAMETERISATIONS is None:
        _PARAMETERISATIONS = _build_parameterisations()
    return _PARAMETERISATIONS


def _check_env_id(env_id: Any) -> None:
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be None or an env id string such as 'RobustHopper-v0', got {env_id!r}")
    if env_id not in gym.registry:
        from robust_envs.registration import ENVS

        robust = [entry.env_id for entry in ENVS]
        close = difflib.get_close_matches(env_id, robust, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown env id {env_id!r}.{hint} Robust ids: {robust}")


def _unknown_name(kind: str, name: Any, known: list[str]) -> Exception:
    if not isinstance(name, str):
        return TypeError(f"A {kind} name must be a string, got {name!r}. Available: {known}")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown {kind} {name!r}.{hint} Available: {known}")


def list_presets(env_id: str | None = None) -> list[str]:
    """
    :param env_id: only the presets of this env (all when ``None``); an env without presets gives ``[]``
    :return: names of the uncertainty-set presets
    :raises ValueError: an env id Gymnasium does not know
    """
    if env_id is None:
        return sorted(_presets())
    _check_env_id(env_id)
    return sorted(preset.name for preset in presets_by_env().get(env_id, ()))


def get_preset(name: str) -> UncertaintySet:
    """
    :param name: a preset name from :func:`list_presets`
    :return: the uncertainty set
    :raises ValueError: an unknown name (with the closest match); ``TypeError`` for a non-string
    """
    presets = _presets()
    if not isinstance(name, str) or name not in presets:
        raise _unknown_name("preset", name, sorted(presets))
    return presets[name]


def list_parameterisations(env_id: str | None = None) -> list[str]:
    """:return: names of the parameterisation presets (WR2L's varied dimensions), of one env or all."""
    if env_id is not None:
        _check_env_id(env_id)
    return sorted(name for name, p in _parameterisations().items() if env_id is None or p.env_id == env_id)


def get_parameterisation(name: str) -> Parameterisation:
    """
    :param name: a name from :func:`list_parameterisations`
    :return: the parameterisation
    """
    table = _parameterisations()
    if not isinstance(name, str) or name not in table:
        raise _unknown_name("parameterisation", name, sorted(table))
    return table[name]
