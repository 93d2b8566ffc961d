"""
Bad inputs thrown at the evaluation entry points and at the command line.

Covers :func:`robust_envs.evaluation.evaluate_robustness` (every argument), :class:`RobustnessReport` (its
constructor, ``from_dict``, ``from_json``, ``from_csv``, ``cvar``, ``summary`` and the paths of ``to_csv``,
``to_json`` and the two plots), :func:`as_policy` and ``robust-rl`` (``robust_envs.cli.main``, in-process).

Each case asserts the error type and that the message names the bad value (and, where there is a short list, what
is allowed); and that the refused call changed nothing: no episode ran and the policy was never called or seeded,
no file was written or overwritten, nothing was printed on stdout. Plain parametrised pytest, as
``tests/test_fuzz_envs.py`` (hypothesis is not a dependency of the project).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robust_envs.cli import main
from robust_envs.evaluation import RobustnessReport, as_policy, evaluate_robustness
from robust_envs.uncertainty import UncertaintySet

IP = "RobustInvertedPendulum-v0"
NAN, INF = math.nan, math.inf
ALLOWED_BACKENDS = "('process', 'ray')"


class Ran(Exception):
    """Raised by the stand-in runners: the evaluation got as far as running episodes."""


@pytest.fixture
def no_episodes(monkeypatch):
    """Make every runner (and any episode) raise :class:`Ran`, so a case sees whether a refused call ran anything."""
    from robust_envs import evaluation
    from robust_envs.evaluation import runner

    def ran(*args, **kwargs):
        raise Ran

    for name in ("_run_cell", "_run_processes", "_run_ray"):
        monkeypatch.setattr(runner, name, ran)
    monkeypatch.setattr(evaluation, "evaluate_robustness", ran)  # what the CLI calls


class Recorder:
    """A policy with a ``seed`` method that records every call (a refused evaluation must make none)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        self.calls.append("act")
        return np.zeros(1, dtype=np.float32)

    def seed(self, episode_seed: int) -> None:
        self.calls.append(("seed", episode_seed))


def refuses(call: Callable[[], Any], error: type[Exception], names: str | tuple[str, ...]) -> str:
    """``call`` raises exactly ``error`` (not a subclass such as ``JSONDecodeError``) naming every text in ``names``."""
    with pytest.raises(error) as caught:
        call()
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    message = str(caught.value)
    for text in (names,) if isinstance(names, str) else names:
        assert text in message, f"{text!r} not in {message!r}"
    return message


def files_under(folder: Path) -> dict[str, bytes]:
    """:return: every file under ``folder`` with its content (to show a refused call wrote nothing)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- evaluate_robustness ---------------------------------------------------------------------------------------
BOX = UncertaintySet.box(IP, {"pole_length": (0.5, 1.0)})
HOPPER_SET = UncertaintySet.finite("RobustHopper-v0", [{}])
GOOD_ARGS = {"env_id": IP, "grid_or_set": {"pole_length": [0.5]}, "n_episodes": 1, "max_episode_steps": 5}

#: (id, arguments replacing GOOD_ARGS, error, texts the message must contain)
EVALUATE_CASES: list[tuple[str, dict[str, Any], type[Exception], str | tuple[str, ...]]] = [
    # the policy
    ("policy-none", {"policy": None}, TypeError, ("NoneType (None)", "predict()")),
    ("policy-int", {"policy": 42}, TypeError, "int (42)"),
    ("policy-name", {"policy": "zero"}, TypeError, "str ('zero')"),
    ("policy-list", {"policy": [1, 2]}, TypeError, "list ([1, 2])"),
    ("policy-array", {"policy": np.zeros(1)}, TypeError, "ndarray"),
    ("policy-bare-object", {"policy": object()}, TypeError, "got object"),
    (
        "policy-lambda-to-workers",
        {"policy": lambda obs: np.zeros(1), "n_workers": 2, "grid_or_set": [{}, {}]},
        TypeError,
        "n_workers=1",
    ),
    # the env id
    ("env-none", {"env_id": None}, TypeError, ("None", "RobustHopper-v0")),
    ("env-int", {"env_id": 42}, TypeError, "42"),
    ("env-bytes", {"env_id": b"RobustHopper-v0"}, TypeError, "b'RobustHopper-v0'"),
    ("env-list", {"env_id": [IP]}, TypeError, f"[{IP!r}]"),
    ("env-empty", {"env_id": ""}, ValueError, ("''", IP)),
    ("env-case", {"env_id": "robusthopper-v0"}, ValueError, ("'robusthopper-v0'", "Did you mean 'RobustHopper-v0'")),
    ("env-upstream", {"env_id": "Hopper-v5"}, ValueError, ("'Hopper-v5'", "RobustHopper-v0")),
    ("env-no-version", {"env_id": "RobustHopper"}, ValueError, "'RobustHopper'"),
    ("env-wrong-version", {"env_id": "RobustHopper-v9"}, ValueError, "'RobustHopper-v9'"),
    # grid_or_set of every wrong kind
    ("grid-none", {"grid_or_set": None}, TypeError, ("NoneType", "UncertaintySet")),
    ("grid-int", {"grid_or_set": 42}, TypeError, "int"),
    ("grid-float", {"grid_or_set": 3.5}, TypeError, "float"),
    ("grid-bool", {"grid_or_set": True}, TypeError, "bool"),
    ("grid-bytes", {"grid_or_set": b"jiang2021/hopper/train"}, TypeError, "b'jiang2021/hopper/train'"),
    ("grid-set", {"grid_or_set": {0.5, 0.6}}, TypeError, "set"),
    ("grid-array", {"grid_or_set": np.array([0.5])}, TypeError, "ndarray"),
    ("grid-generator", {"grid_or_set": ({} for _ in range(1))}, TypeError, "generator"),
    ("grid-empty-name", {"grid_or_set": ""}, ValueError, ("Unknown preset ''", "jiang2021/invertedpendulum/train")),
    (
        "grid-unknown-preset",
        {"grid_or_set": "jiang2021/invertedpendulum/trian"},
        ValueError,
        "'jiang2021/invertedpendulum/trian'",
    ),
    ("grid-other-env-preset", {"grid_or_set": "jiang2021/hopper/train"}, ValueError, ("RobustHopper-v0", IP)),
    ("grid-other-env-set", {"grid_or_set": HOPPER_SET}, ValueError, ("RobustHopper-v0", IP)),
    ("grid-empty-dict", {"grid_or_set": {}}, ValueError, ("{}", "{param_name: [values, ...]}")),
    ("grid-empty-list", {"grid_or_set": []}, ValueError, "empty"),
    ("grid-empty-axis", {"grid_or_set": {"pole_length": []}}, ValueError, "'pole_length'"),
    ("grid-cells-numbers", {"grid_or_set": [1, 2]}, TypeError, ("Cell 0", "got 1")),
    ("grid-cell-list", {"grid_or_set": [[0.5]]}, TypeError, "[0.5]"),
    ("grid-second-cell-string", {"grid_or_set": [{"pole_length": 0.5}, "x"]}, TypeError, ("Cell 1", "'x'")),
    ("grid-range", {"grid_or_set": range(3)}, TypeError, "got 0"),
    ("grid-value-none", {"grid_or_set": {"pole_length": None}}, ValueError, ("'pole_length'", "None")),
    ("grid-value-string", {"grid_or_set": {"pole_length": "0.5"}}, ValueError, "'0.5'"),
    ("grid-value-bool", {"grid_or_set": {"pole_length": [True]}}, ValueError, "True"),
    ("grid-value-nested", {"grid_or_set": {"pole_length": [[0.5]]}}, ValueError, "[0.5]"),
    ("grid-value-complex", {"grid_or_set": [{"pole_length": 1 + 1j}]}, ValueError, "(1+1j)"),
    ("grid-value-nan", {"grid_or_set": {"pole_length": [NAN]}}, ValueError, ("'pole_length'", "nan")),
    ("grid-value-inf", {"grid_or_set": {"pole_length": [0.5, INF]}}, ValueError, ("Cell 1", "inf")),
    ("grid-value-negative", {"grid_or_set": [{"pole_length": -1.0}]}, ValueError, ("-1.0", "[0.01, 10.0]")),
    ("grid-value-huge", {"grid_or_set": [{"pole_length": 50.0}]}, ValueError, "50.0"),
    ("grid-name-int", {"grid_or_set": {3: [0.5]}}, TypeError, "got 3"),
    ("grid-name-none", {"grid_or_set": [{None: 0.5}]}, TypeError, "got None"),
    ("grid-name-empty", {"grid_or_set": {"": [0.5]}}, ValueError, ("''", "'pole_length'")),
    ("grid-name-typo", {"grid_or_set": {"pole_lenght": [0.5]}}, ValueError, ("'pole_lenght'", "Did you mean 'pole_length'")),
    ("grid-name-other-env", {"grid_or_set": [{"friction": 1.0}]}, ValueError, ("'friction'", "cart_size")),
    # n_episodes
    ("episodes-zero", {"n_episodes": 0}, ValueError, ("n_episodes", ">= 1", "0")),
    ("episodes-negative", {"n_episodes": -1}, ValueError, "-1"),
    ("episodes-float", {"n_episodes": 1.5}, ValueError, "1.5"),
    ("episodes-string", {"n_episodes": "3"}, ValueError, "'3'"),
    ("episodes-none", {"n_episodes": None}, ValueError, "None"),
    ("episodes-bool", {"n_episodes": True}, ValueError, "True"),
    ("episodes-nan", {"n_episodes": NAN}, ValueError, "nan"),
    # seed
    ("seed-negative", {"seed": -1}, ValueError, ("seed", ">= 0", "-1")),
    ("seed-very-negative", {"seed": -(2**40)}, ValueError, str(-(2**40))),
    ("seed-float", {"seed": 1.5}, ValueError, "1.5"),
    ("seed-string", {"seed": "0"}, ValueError, "'0'"),
    ("seed-none", {"seed": None}, ValueError, "None"),
    ("seed-bool", {"seed": True}, ValueError, "True"),
    ("seed-nan", {"seed": NAN}, ValueError, "nan"),
    # points (checked for every kind of grid, not only box sets)
    ("points-zero", {"points": 0}, ValueError, ("points", ">= 1", "0")),
    ("points-negative", {"points": -1}, ValueError, "-1"),
    ("points-float", {"points": 1.5}, TypeError, "1.5"),
    ("points-string", {"points": "3"}, TypeError, "'3'"),
    ("points-none", {"points": None}, TypeError, "None"),
    ("points-bool", {"points": True}, TypeError, "True"),
    ("points-list", {"points": [3]}, TypeError, "[3]"),
    ("points-name-int", {"points": {3: 2}}, TypeError, "3"),
    ("points-per-name-zero", {"points": {"pole_length": 0}, "grid_or_set": BOX}, ValueError, ("'pole_length'", "0")),
    ("points-per-name-float", {"points": {"pole_length": 2.5}, "grid_or_set": BOX}, TypeError, "2.5"),
    ("points-unknown-name", {"points": {"nope": 3}, "grid_or_set": BOX}, ValueError, ("'nope'", "pole_length")),
    ("points-missing-name", {"points": {}, "grid_or_set": BOX}, ValueError, "pole_length"),
    # n_workers
    ("workers-zero", {"n_workers": 0}, ValueError, ("n_workers", ">= 1", "0")),
    ("workers-negative", {"n_workers": -2}, ValueError, "-2"),
    ("workers-float", {"n_workers": 1.5}, ValueError, "1.5"),
    ("workers-string", {"n_workers": "2"}, ValueError, "'2'"),
    ("workers-none", {"n_workers": None}, ValueError, "None"),
    ("workers-bool", {"n_workers": True}, ValueError, "True"),
    # backend
    ("backend-unknown", {"backend": "dask"}, ValueError, ("'dask'", ALLOWED_BACKENDS)),
    ("backend-empty", {"backend": ""}, ValueError, ("''", ALLOWED_BACKENDS)),
    ("backend-none", {"backend": None}, ValueError, ("None", ALLOWED_BACKENDS)),
    ("backend-int", {"backend": 1}, ValueError, ("1", ALLOWED_BACKENDS)),
    ("backend-capital", {"backend": "Process"}, ValueError, "'Process'"),
    ("backend-upper", {"backend": "RAY"}, ValueError, "'RAY'"),
    ("backend-list", {"backend": ["process"]}, ValueError, "['process']"),
    # max_episode_steps
    ("steps-zero", {"max_episode_steps": 0}, ValueError, ("max_episode_steps", "0")),
    ("steps-negative", {"max_episode_steps": -1}, ValueError, "-1"),
    ("steps-float", {"max_episode_steps": 1.5}, ValueError, "1.5"),
    ("steps-string", {"max_episode_steps": "3"}, ValueError, "'3'"),
    ("steps-bool", {"max_episode_steps": True}, ValueError, "True"),
    ("steps-nan", {"max_episode_steps": NAN}, ValueError, "nan"),
    # env_kwargs
    ("kwargs-int", {"env_kwargs": 42}, TypeError, ("env_kwargs", "42")),
    ("kwargs-string", {"env_kwargs": "x"}, TypeError, "'x'"),
    ("kwargs-list", {"env_kwargs": [1]}, TypeError, "[1]"),
    ("kwargs-key-int", {"env_kwargs": {1: 2}}, TypeError, "[1]"),
    ("kwargs-unknown-argument", {"env_kwargs": {"nope": 1}}, TypeError, ("'nope'", IP)),
    ("kwargs-params-unknown", {"env_kwargs": {"params": {"nope": 1.0}}}, ValueError, ("'nope'", "pole_length")),
    ("kwargs-params-int", {"env_kwargs": {"params": 42}}, TypeError, "42"),
    ("kwargs-params-bounds", {"env_kwargs": {"params": {"pole_length": -1.0}}}, ValueError, ("-1.0", "[0.01, 10.0]")),
    ("kwargs-params-length", {"env_kwargs": {"params": [1.0, 2.0]}}, ValueError, "(2,)"),
    ("kwargs-steps-twice", {"env_kwargs": {"max_episode_steps": 3}}, ValueError, "not both"),
    # deterministic
    ("deterministic-none", {"deterministic": None}, TypeError, ("deterministic", "None")),
    ("deterministic-string", {"deterministic": "yes"}, TypeError, "'yes'"),
    ("deterministic-int", {"deterministic": 1}, TypeError, "1"),
    ("deterministic-zero", {"deterministic": 0}, TypeError, "0"),
]


@pytest.mark.parametrize(("changes", "error", "names"), [c[1:] for c in EVALUATE_CASES], ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_robustness_refuses_bad_input_and_runs_nothing(changes, error, names, no_episodes):
    policy = Recorder()
    args = {"policy": policy, **GOOD_ARGS, **changes}
    refuses(lambda: evaluate_robustness(**args), error, names)  # Ran would escape if an episode had started
    assert policy.calls == [], "the refused call acted or seeded the policy"


def test_the_good_arguments_of_the_cases_above_do_reach_the_runner(no_episodes):
    # the counterpart of the cases: without the bad argument the stand-in runner is reached
    for changes in ({}, {"grid_or_set": BOX, "points": {"pole_length": 2}}, {"env_kwargs": {"keep_mass": True}}):
        with pytest.raises(Ran):
            evaluate_robustness(Recorder(), **{**GOOD_ARGS, **changes})


def test_a_refused_evaluation_leaves_a_stochastic_policy_where_it_was(no_episodes):
    from robust_envs.cli import RandomPolicy

    policy = RandomPolicy(np.full(1, -3.0), np.full(1, 3.0), seed=7)
    before = policy.rng.bit_generator.state
    refuses(lambda: evaluate_robustness(policy, IP, {"pole_length": [0.5]}, seed=-3), ValueError, "-3")
    assert policy.rng.bit_generator.state == before


# ---- as_policy -------------------------------------------------------------------------------------------------
class NotCallablePredict:
    """``predict`` is an attribute, not a method."""

    predict = 5

    def __repr__(self) -> str:
        return "NotCallablePredict()"


AS_POLICY_CASES: list[tuple[str, Callable[[], Any], type[Exception], str | tuple[str, ...]]] = [
    ("none", lambda: as_policy(None), TypeError, ("NoneType (None)", "predict()")),
    ("int", lambda: as_policy(42), TypeError, "int (42)"),
    ("string", lambda: as_policy("PPO"), TypeError, "'PPO'"),
    ("dict", lambda: as_policy({"predict": 1}), TypeError, "dict"),
    ("predict-attribute", lambda: as_policy(NotCallablePredict()), TypeError, "NotCallablePredict()"),
    ("deterministic-none", lambda: as_policy(print, None), TypeError, ("deterministic", "None")),
    ("deterministic-string", lambda: as_policy(print, "true"), TypeError, "'true'"),
    ("deterministic-int", lambda: as_policy(print, 1), TypeError, "1"),
]


@pytest.mark.parametrize(("call", "error", "names"), [c[1:] for c in AS_POLICY_CASES], ids=[c[0] for c in AS_POLICY_CASES])
def test_as_policy_refuses_what_is_no_policy(call, error, names):
    refuses(call, error, names)


# ---- RobustnessReport: constructor, cvar, summary, from_dict ------------------------------------------------------
CELLS = [{"pole_length": 0.5}, {"pole_length": 0.8}]
RETURNS = [[1.0, 2.0], [3.0, 4.0]]


def report(**changes) -> RobustnessReport:
    return RobustnessReport(
        **{"env_id": IP, "cells": CELLS, "returns": RETURNS, "lengths": [[1, 2], [3, 4]], "seed": 0, **changes}
    )


REPORT_CASES: list[tuple[str, dict[str, Any], type[Exception], str | tuple[str, ...]]] = [
    ("env-none", {"env_id": None}, TypeError, ("env_id", "None")),
    ("env-int", {"env_id": 42}, TypeError, "42"),
    ("env-empty", {"env_id": " "}, ValueError, "' '"),
    ("cells-none", {"cells": None}, TypeError, ("cells", "None")),
    ("cells-int", {"cells": 42}, TypeError, "42"),
    ("cells-dict", {"cells": {"pole_length": 0.5}}, TypeError, "{'pole_length': 0.5}"),
    ("cells-string", {"cells": "pole_length"}, TypeError, "'pole_length'"),
    ("cells-empty", {"cells": [], "returns": np.zeros((0, 1)), "lengths": None}, ValueError, "[]"),
    ("cell-number", {"cells": [1, {}]}, TypeError, ("cell 0", "1 (int)")),
    ("cell-string", {"cells": [{}, "ab"]}, TypeError, ("cell 1", "'ab'")),
    ("cell-value-string", {"cells": [{"pole_length": "x"}, {}]}, TypeError, ("'pole_length'", "'x'")),
    ("cell-value-none", {"cells": [{}, {"pole_length": None}]}, TypeError, "None"),
    ("cell-value-bool", {"cells": [{"pole_length": True}, {}]}, TypeError, "True"),
    ("cell-value-nan", {"cells": [{"pole_length": NAN}, {}]}, ValueError, "nan"),
    ("cell-value-inf", {"cells": [{}, {"pole_length": -INF}]}, ValueError, "-inf"),
    ("cell-key-int", {"cells": [{3: 0.5}, {}]}, TypeError, "3 (int)"),
    ("returns-none", {"returns": None}, TypeError, ("returns", "None")),
    ("returns-string", {"returns": "x"}, TypeError, "'x'"),
    ("returns-none-entry", {"returns": [[None, 1.0], [1.0, 1.0]]}, TypeError, "None"),
    ("returns-string-entry", {"returns": [["a", 1.0], [1.0, 1.0]]}, TypeError, "'a'"),
    ("returns-complex", {"returns": [[1 + 1j, 1.0], [1.0, 1.0]]}, TypeError, "complex"),
    ("returns-ragged", {"returns": [[1.0, 2.0], [3.0]], "lengths": None}, ValueError, "[3.0]"),
    ("returns-flat", {"returns": [1.0, 2.0], "lengths": None}, ValueError, ("(2,)", "n_cells=2")),
    ("returns-rows", {"returns": [[1.0]], "lengths": None}, ValueError, "(1, 1)"),
    ("returns-no-episodes", {"returns": np.zeros((2, 0)), "lengths": None}, ValueError, "(2, 0)"),
    ("returns-3d", {"returns": np.zeros((2, 2, 1)), "lengths": None}, ValueError, "(2, 2, 1)"),
    ("returns-nan", {"returns": [[1.0, 2.0], [NAN, 4.0]]}, ValueError, ("nan", "(1, 0)")),
    ("returns-inf", {"returns": [[1.0, INF], [3.0, 4.0]]}, ValueError, ("inf", "(0, 1)")),
    ("lengths-fraction", {"lengths": [[1, 2], [3, 4.5]]}, ValueError, ("4.5", "(1, 1)")),
    ("lengths-negative", {"lengths": [[-1, 2], [3, 4]]}, ValueError, ("-1.0", "(0, 0)")),
    ("lengths-nan", {"lengths": [[1, NAN], [3, 4]]}, ValueError, "nan"),
    ("lengths-string", {"lengths": "x"}, TypeError, "'x'"),
    ("lengths-shape", {"lengths": [[1, 2]]}, ValueError, ("(1, 2)", "(2, 2)")),
    ("seed-negative", {"seed": -1}, ValueError, ("seed", "-1")),
    ("seed-float", {"seed": 1.5}, TypeError, "1.5"),
    ("seed-string", {"seed": "0"}, TypeError, "'0'"),
    ("seed-bool", {"seed": True}, TypeError, "True"),
    ("seed-nan", {"seed": NAN}, TypeError, "nan"),
]


@pytest.mark.parametrize(("changes", "error", "names"), [c[1:] for c in REPORT_CASES], ids=[c[0] for c in REPORT_CASES])
def test_report_constructor_refuses_bad_fields(changes, error, names):
    refuses(lambda: report(**changes), error, names)


@pytest.mark.parametrize(("changes", "error", "names"), [c[1:] for c in REPORT_CASES], ids=[c[0] for c in REPORT_CASES])
def test_from_dict_refuses_what_the_constructor_refuses(changes, error, names):
    data = {**report().to_dict(), **changes}
    refuses(lambda: RobustnessReport.from_dict(data), error, names)


GOOD_DICT = report().to_dict()
FROM_DICT_CASES: list[tuple[str, Any, type[Exception], str | tuple[str, ...]]] = [
    ("none", None, TypeError, ("None", "to_dict()")),
    ("int", 42, TypeError, "42"),
    ("string", "report.json", TypeError, "'report.json'"),
    ("list", [GOOD_DICT], TypeError, "list"),
    ("empty", {}, ValueError, ("missing keys ['env_id', 'cells', 'returns']", "['lengths', 'seed']")),
    ("no-returns", {k: v for k, v in GOOD_DICT.items() if k != "returns"}, ValueError, "missing keys ['returns']"),
    ("unknown-key", {**GOOD_DICT, "mean": 2.5}, ValueError, ("unknown keys ['mean']", "'seed'")),
    (
        "typo-key",
        {**{k: v for k, v in GOOD_DICT.items() if k != "cells"}, "cell": CELLS},
        ValueError,
        ("['cells']", "['cell']"),
    ),
]


@pytest.mark.parametrize(("data", "error", "names"), [c[1:] for c in FROM_DICT_CASES], ids=[c[0] for c in FROM_DICT_CASES])
def test_from_dict_refuses_what_to_dict_never_writes(data, error, names):
    refuses(lambda: RobustnessReport.from_dict(data), error, names)


ALPHA_CASES = [
    (0, ValueError, ("alpha", "(0, 1]", "0")),
    (-0.1, ValueError, "-0.1"),
    (1.5, ValueError, "1.5"),
    (NAN, ValueError, "nan"),
    (INF, ValueError, "inf"),
    ("0.1", TypeError, "'0.1'"),
    (None, TypeError, "None"),
    (True, TypeError, "True"),
    ([0.1], TypeError, "[0.1]"),
]


@pytest.mark.parametrize("method", ["cvar", "summary"])
@pytest.mark.parametrize(("alpha", "error", "names"), ALPHA_CASES, ids=[repr(c[0]) for c in ALPHA_CASES])
def test_cvar_and_summary_refuse_bad_fractions(method, alpha, error, names):
    refuses(lambda: getattr(report(), method)(alpha), error, names)


def test_cvar_takes_numpy_fractions():
    # the counterpart: any real number in (0, 1] is a fraction, numpy's included
    assert report().cvar(np.float32(0.25)) == report().cvar(0.25) == 1.0


# ---- RobustnessReport: files --------------------------------------------------------------------------------------
HEADER = "cell,episode,seed,pole_length,length,return"
CSV_CASES: list[tuple[str, str, str | tuple[str, ...]]] = [
    ("empty", "", ("is empty", "cell,episode,seed")),
    ("header-only", HEADER + "\n", "holds no rows"),
    ("no-cell-column", "episode,seed,pole_length,length,return\n0,0,0.5,1,1.0\n", ("lacks the columns ['cell']",)),
    ("twice-a-column", HEADER + ",return\n0,0,0,0.5,1,1.0,1.0\n", "twice"),
    ("return-text", HEADER + "\n0,0,0,0.5,1,abc\n", ("line 2", "'return'", "'abc'")),
    ("cell-text", HEADER + "\n0,0,0,0.5,1,1.0\nx,0,0,0.5,1,1.0\n", ("line 3", "'cell'", "'x'")),
    ("cell-negative", HEADER + "\n-1,0,0,0.5,1,1.0\n", ("'cell'", "'-1'")),
    ("episode-fraction", HEADER + "\n0,0.5,0,0.5,1,1.0\n", ("'episode'", "'0.5'")),
    ("length-fraction", HEADER + "\n0,0,0,0.5,1.5,1.0\n", ("'length'", "'1.5'")),
    ("seed-text", HEADER + "\n0,0,x,0.5,1,1.0\n", ("'seed'", "'x'")),
    ("param-text", HEADER + "\n0,0,0,long,1,1.0\n", ("'pole_length'", "'long'")),
    ("short-row", HEADER + "\n0,0,0\n", ("line 2", "3 fields", "6 columns")),
    ("long-row", HEADER + "\n0,0,0,0.5,1,1.0,7,8\n", ("8 fields", "6 columns")),
    ("repeated-episode", HEADER + "\n0,0,0,0.5,1,1.0\n0,0,0,0.5,1,2.0\n", ("line 3", "cell 0, episode 0 appears twice")),
    ("missing-episode", HEADER + "\n0,0,0,0.5,1,1.0\n0,1,1,0.5,1,1.0\n1,1,1,0.8,1,1.0\n", "cell 1, episode 0 is missing"),
    ("cell-changes", HEADER + "\n0,0,0,0.5,1,1.0\n0,1,1,0.6,1,1.0\n", ("line 3", "{'pole_length': 0.6}")),
    ("seeds-disagree", HEADER + "\n0,0,0,0.5,1,1.0\n0,1,5,0.5,1,1.0\n", "[0, 4]"),
    ("return-nan", HEADER + "\n0,0,0,0.5,1,nan\n", "nan"),
]


@pytest.mark.parametrize(("text", "names"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_from_csv_refuses_files_to_csv_never_writes(text, names, tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(text)
    message = refuses(lambda: RobustnessReport.from_csv(path, env_id=IP), ValueError, names)
    assert str(path) in message


def test_from_csv_refuses_bad_paths_and_ids(tmp_path):
    good = report().to_csv(tmp_path / "good.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    refuses(lambda: RobustnessReport.from_csv(tmp_path / "binary.csv", env_id=IP), ValueError, ("binary.csv", "UTF-8"))
    refuses(lambda: RobustnessReport.from_csv(None, env_id=IP), TypeError, "None")
    refuses(lambda: RobustnessReport.from_csv(42, env_id=IP), TypeError, "42")
    refuses(lambda: RobustnessReport.from_csv(good, env_id=None), TypeError, ("env_id", "None"))
    refuses(lambda: RobustnessReport.from_csv(good, env_id=""), ValueError, "''")
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        RobustnessReport.from_csv(tmp_path / "missing.csv", env_id=IP)
    assert RobustnessReport.from_csv(good, env_id=IP) == report()  # the counterpart: a whole file reads back


JSON_CASES: list[tuple[str, bytes, type[Exception], str | tuple[str, ...]]] = [
    ("not-json", b"{not json", ValueError, "is not a JSON file"),
    ("empty", b"", ValueError, "is not a JSON file"),
    ("binary", b"\xff\xfe\x00", ValueError, "utf-8"),
    ("list", b"[1, 2]", TypeError, "[1, 2]"),
    ("number", b"42", TypeError, "42"),
    ("no-returns", json.dumps({"env_id": IP, "cells": CELLS}).encode(), ValueError, "missing keys ['returns']"),
    ("none-return", json.dumps({**GOOD_DICT, "returns": [[None, 1.0], [1.0, 1.0]]}).encode(), TypeError, "None"),
    ("nan-return", json.dumps({**GOOD_DICT, "returns": [[NAN, 1.0], [1.0, 1.0]]}).encode(), ValueError, "nan"),
    ("string-seed", json.dumps({**GOOD_DICT, "seed": "0"}).encode(), TypeError, "'0'"),
]


@pytest.mark.parametrize(("content", "error", "names"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES])
def test_from_json_refuses_files_to_json_never_writes(content, error, names, tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(content)
    message = refuses(lambda: RobustnessReport.from_json(path), error, names)
    assert str(path) in message


@pytest.mark.parametrize("path", [None, 42, b"report.json"])
def test_from_json_refuses_what_is_no_file_name(path):
    refuses(lambda: RobustnessReport.from_json(path), TypeError, repr(path))


def bad_output_paths(tmp_path: Path) -> list[tuple[str, Any, type[Exception], str | tuple[str, ...]]]:
    """(id, path, error, texts) for every writer: nothing may be written at any of them."""
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "folder").mkdir()
    return [
        ("none", None, TypeError, "None"),
        ("int", 42, TypeError, "42"),
        ("bytes", b"r.out", TypeError, "b'r.out'"),
        ("empty", "", ValueError, ("needs a file name", "''")),
        ("blank", "  ", ValueError, "'  '"),
        ("folder", tmp_path / "folder", ValueError, ("folder", "is a folder")),
        ("missing-folder", tmp_path / "missing" / "r.out", ValueError, ("missing", "does not exist")),
        ("file-as-folder", tmp_path / "a_file" / "r.out", ValueError, ("a_file", "is not a folder")),
    ]


OUTPUT_CASE_IDS = ["none", "int", "bytes", "empty", "blank", "folder", "missing-folder", "file-as-folder"]
WRITERS = {
    "to_csv": lambda r, p: r.to_csv(p),
    "to_json": lambda r, p: r.to_json(p),
    "plot_bars": lambda r, p: r.plot_bars(p),
    "plot_heatmap": lambda r, p: r.plot_heatmap(p),
}


def grid_report() -> RobustnessReport:
    cells = [{"pole_length": p, "cart_size": c} for p in (0.4, 0.8) for c in (0.1, 0.2)]
    return RobustnessReport(env_id=IP, cells=cells, returns=np.arange(4.0)[:, None])


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("case", range(len(OUTPUT_CASE_IDS)), ids=OUTPUT_CASE_IDS)
def test_writers_refuse_bad_paths_and_write_nothing(writer, case, tmp_path, monkeypatch):
    if writer.startswith("plot"):
        pytest.importorskip("matplotlib")
    _, path, error, names = bad_output_paths(tmp_path)[case]
    monkeypatch.chdir(tmp_path)  # an empty name must not write into the working folder either
    before = files_under(tmp_path)
    refuses(lambda: WRITERS[writer](grid_report(), path), error, names)
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("writer", ["plot_bars", "plot_heatmap"])
@pytest.mark.parametrize(("name", "names"), [("plot", "no suffix"), ("plot.txt", "'.txt'"), ("plot.csv", "'.csv'")])
def test_plots_refuse_paths_without_an_image_suffix(writer, name, names, tmp_path):
    # matplotlib would save "plot" as "plot.png" and return a path that does not exist
    pytest.importorskip("matplotlib")
    refuses(lambda: WRITERS[writer](grid_report(), tmp_path / name), ValueError, (names, ".png", str(tmp_path / name)))
    assert files_under(tmp_path) == {}


def test_the_writers_write_where_they_say(tmp_path):
    # the counterpart of the refusals: good paths are written, each where the writer says
    pytest.importorskip("matplotlib")
    for writer, name in (("to_csv", "r.csv"), ("to_json", "r.json"), ("plot_bars", "b.png"), ("plot_heatmap", "h.svg")):
        assert WRITERS[writer](grid_report(), tmp_path / name) == tmp_path / name
    assert sorted(files_under(tmp_path)) == ["b.png", "h.svg", "r.csv", "r.json"]


def test_heatmap_refuses_bad_axes_and_writes_nothing(tmp_path):
    pytest.importorskip("matplotlib")
    grid = grid_report()
    for x, y, names in [("nope", None, "'nope'"), ("pole_length", "pole_length", "twice"), (None, "cart", "'cart'")]:
        refuses(lambda x=x, y=y: grid.plot_heatmap(tmp_path / "h.png", x=x, y=y), ValueError, names)
    refuses(lambda: report().plot_heatmap(tmp_path / "h.png"), ValueError, "two parameters")
    assert files_under(tmp_path) == {}


def test_to_csv_refuses_a_parameter_named_like_a_column_and_writes_nothing(tmp_path):
    clash = RobustnessReport(env_id=IP, cells=[{"seed": 1.0}], returns=[[1.0]])
    refuses(lambda: clash.to_csv(tmp_path / "r.csv"), ValueError, "['seed']")
    assert files_under(tmp_path) == {}


# ---- the command line -------------------------------------------------------------------------------------------
E = ["evaluate", "--env", IP, "--episodes", "1", "--max-episode-steps", "5"]
G = ["--grid", "pole_length=0.4,0.8"]
G2 = ["--grid", "pole_length=0.4,0.8", "--grid", "cart_size=0.1,0.2"]
P = ["--policy", "zero"]


def cli_inputs(folder: Path) -> None:
    """The input files the command-line cases name (in the working folder of each case)."""
    files = {
        "cells_numbers.json": json.dumps([1, 2]),
        "cells_int.json": "42",
        "cells_text.json": '"text"',
        "cells_empty.json": "",
        "cells_broken.json": "{nope",
        "cells_none.json": "[]",
        "cells_no_axes.json": "{}",
        "set_bogus.json": json.dumps({"env_id": IP, "bogus": 1}),
        "set_hopper.json": json.dumps({"env_id": "RobustHopper-v0", "members": [{}]}),
        "set_unknown.json": json.dumps({"env_id": "Nope-v0", "members": [{}]}),
        "cells_nan.json": '[{"pole_length": NaN}]',
        "cells_text_value.json": '{"pole_length": "long"}',
        "cells_typo.json": '[{"pole_lenght": 0.5}]',
        "cells.json": '[{"pole_length": 0.5}]',
        "a_file": "x",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "cells_binary.json").write_bytes(b"\xff\xfe")
    (folder / "model.zip").write_bytes(b"never read: every case is refused before a model is loaded")
    (folder / "adir").mkdir()


#: (id, argv, texts the error message must contain); argparse's own errors exit with SystemExit(2), the commands
#: return 2; either way nothing runs, nothing is written and nothing is printed on stdout
CLI_CASES: list[tuple[str, list[str], str | tuple[str, ...]]] = [
    # subcommands and options argparse refuses
    ("no-command", [], "COMMAND"),
    ("unknown-command", ["nope"], ("'nope'", "'envs', 'evaluate', 'demo'")),
    ("command-case", ["Evaluate"], "'Evaluate'"),
    ("envs-env-without-id", ["envs", "--env"], "--env"),
    ("envs-unknown-option", ["envs", "--bogus"], "--bogus"),
    ("evaluate-nothing", ["evaluate"], ("--env", "--policy")),
    ("evaluate-no-policy", [*E, *G], "--policy"),
    ("evaluate-no-cells", [*E, *P], "--preset --grid --set-json"),
    ("grid-and-preset", [*E, *G, "--preset", "x", *P], "not allowed with argument --grid"),
    ("grid-no-values", [*E, "--grid", "pole_length", *P], "'pole_length'"),
    ("grid-no-name", [*E, "--grid", "=0.4", *P], "'=0.4'"),
    ("grid-blank-name", [*E, "--grid", " =1", *P], "' =1'"),
    ("grid-empty-value", [*E, "--grid", "pole_length=0.4,,0.5", *P], "'0.4,,0.5'"),
    ("grid-double-equals", [*E, "--grid", "pole_length==1", *P], "'=1'"),
    ("grid-text-value", [*E, "--grid", "pole_length=0.4,long", *P], "'0.4,long'"),
    ("grid-semicolons", [*E, "--grid", "pole_length=0.4;0.8", *P], "'0.4;0.8'"),
    ("episodes-zero", [*E, *G, *P, "--episodes", "0"], ("--episodes", ">= 1", "0")),
    ("episodes-text", [*E, *G, *P, "--episodes", "x"], "'x'"),
    ("episodes-fraction", [*E, *G, *P, "--episodes", "1.5"], "'1.5'"),
    ("episodes-empty", [*E, *G, *P, "--episodes", ""], "''"),
    ("seed-negative", [*E, *G, *P, "--seed", "-1"], ("--seed", ">= 0", "-1")),
    ("seed-very-negative", [*E, *G, *P, "--seed", "-30"], "-30"),
    ("seed-text", [*E, *G, *P, "--seed", "x"], "'x'"),
    ("seed-fraction", [*E, *G, *P, "--seed", "1.5"], "'1.5'"),
    ("seed-empty", [*E, *G, *P, "--seed", ""], "''"),
    ("points-zero", [*E, *G, *P, "--points", "0"], ("--points", "0")),
    ("points-negative", [*E, *G, *P, "--points", "-3"], "-3"),
    ("workers-zero", [*E, *G, *P, "--workers", "0"], ("--workers", "0")),
    ("workers-negative", [*E, *G, *P, "--workers", "-2"], "-2"),
    ("workers-text", [*E, *G, *P, "--workers", "two"], "'two'"),
    ("backend-unknown", [*E, *G, *P, "--backend", "dask"], ("'dask'", "'process', 'ray'")),
    ("backend-case", [*E, *G, *P, "--backend", "Ray"], "'Ray'"),
    ("steps-zero", [*E, *G, *P, "--max-episode-steps", "0"], ("--max-episode-steps", "0")),
    ("steps-negative", [*E, *G, *P, "--max-episode-steps", "-5"], "-5"),
    ("stochastic-value", [*E, *G, *P, "--stochastic", "yes"], "yes"),
    ("unknown-option", [*E, *G, *P, "--unknown"], "--unknown"),
    ("demo-negative-timesteps", ["demo", "--timesteps", "-1"], ("--timesteps", "-1")),
    ("demo-text-timesteps", ["demo", "--timesteps", "x"], "'x'"),
    ("demo-text-seed", ["demo", "--seeds", "x"], ("--seeds", "'x'")),
    ("demo-unknown-option", ["demo", "--bogus"], "--bogus"),
    # env ids
    ("envs-unknown-id", ["envs", "--env", "Nope-v0"], ("'Nope-v0'", IP)),
    ("envs-empty-id", ["envs", "--env", ""], "''"),
    ("envs-id-case", ["envs", "--env", "robusthopper-v0"], "Did you mean 'RobustHopper-v0'"),
    ("evaluate-unknown-id", ["evaluate", "--env", "Nope-v0", *G, *P], ("'Nope-v0'", IP)),
    ("evaluate-empty-id", ["evaluate", "--env", "", *G, *P], "''"),
    ("evaluate-upstream-id", ["evaluate", "--env", "InvertedPendulum-v5", *G, *P], "Did you mean 'RobustInvertedPendulum-v0'"),
    # parameters and presets
    ("preset-unknown", [*E, "--preset", "nope", *P], ("'nope'", "jiang2021/invertedpendulum/train")),
    ("preset-empty", [*E, "--preset", "", *P], "''"),
    ("preset-other-env", [*E, "--preset", "jiang2021/hopper/train", *P], ("RobustHopper-v0", IP)),
    ("grid-nan", [*E, "--grid", "pole_length=nan", *P], "nan"),
    ("grid-inf", [*E, "--grid", "pole_length=inf", *P], "inf"),
    ("grid-overflow", [*E, "--grid", "pole_length=1e400", *P], "inf"),
    ("grid-negative", [*E, "--grid", "pole_length=-1", *P], ("-1.0", "[0.01, 10.0]")),
    ("grid-unknown-name", [*E, "--grid", "nope=1", *P], ("'nope'", "pole_length")),
    ("grid-name-typo", [*E, "--grid", "pole_lenght=0.4", *P], ("'pole_lenght'", "Did you mean 'pole_length'")),
    ("grid-name-space", [*E, "--grid", "pole length=1", *P], "'pole length'"),
    ("grid-name-twice", [*E, "--grid", "pole_length=0.4", "--grid", "pole_length=0.8", *P], ("'pole_length'", "twice")),
    ("set-json-missing", [*E, "--set-json", "missing.json", *P], "missing.json"),
    ("set-json-folder", [*E, "--set-json", "adir", *P], ("adir", "Is a directory")),
    ("set-json-numbers", [*E, "--set-json", "cells_numbers.json", *P], ("cells_numbers.json", "got 1")),
    ("set-json-int", [*E, "--set-json", "cells_int.json", *P], ("cells_int.json", "got int")),
    ("set-json-text", [*E, "--set-json", "cells_text.json", *P], ("cells_text.json", "got str")),
    ("set-json-empty", [*E, "--set-json", "cells_empty.json", *P], ("cells_empty.json", "not valid JSON")),
    ("set-json-broken", [*E, "--set-json", "cells_broken.json", *P], ("cells_broken.json", "not valid JSON")),
    ("set-json-binary", [*E, "--set-json", "cells_binary.json", *P], ("cells_binary.json", "not UTF-8")),
    ("set-json-no-cells", [*E, "--set-json", "cells_none.json", *P], ("cells_none.json", "empty")),
    ("set-json-no-axes", [*E, "--set-json", "cells_no_axes.json", *P], ("cells_no_axes.json", "{}")),
    ("set-json-bogus-key", [*E, "--set-json", "set_bogus.json", *P], ("set_bogus.json", "'bogus'")),
    ("set-json-other-env", [*E, "--set-json", "set_hopper.json", *P], ("set_hopper.json", "RobustHopper-v0")),
    ("set-json-unknown-env", [*E, "--set-json", "set_unknown.json", *P], ("set_unknown.json", "'Nope-v0'")),
    ("set-json-nan", [*E, "--set-json", "cells_nan.json", *P], ("cells_nan.json", "nan")),
    ("set-json-text-value", [*E, "--set-json", "cells_text_value.json", *P], ("cells_text_value.json", "'long'")),
    ("set-json-name-typo", [*E, "--set-json", "cells_typo.json", *P], ("cells_typo.json", "'pole_lenght'")),
    # policies and algorithms (refused before a model file is read: no torch)
    ("policy-empty", [*E, *G, "--policy", ""], ("''", "('zero', 'random')")),
    ("policy-case", [*E, *G, "--policy", "Zero"], ("Zero", "does not exist", "('zero', 'random')")),
    ("policy-folder", [*E, *G, "--policy", "adir"], ("adir", "is a folder")),
    ("policy-folder-with-algo", [*E, *G, "--policy", "adir", "--algo", "PPO"], ("adir", "saved by PPO")),
    ("policy-missing-file", [*E, *G, "--policy", "gone.zip", "--algo", "MPO"], ("gone.zip", "does not exist", "MPO")),
    ("policy-file-without-algo", [*E, *G, "--policy", "model.zip"], ("model.zip", "needs --algo")),
    ("algo-with-builtin", [*E, *G, *P, "--algo", "PPO"], ("--algo", "'zero'")),
    ("algo-empty", [*E, *G, "--policy", "model.zip", "--algo", ""], ("unknown --algo ''", "PPO", "MPO")),
    ("algo-unknown", [*E, *G, "--policy", "model.zip", "--algo", "NoSuchAlgo"], ("'NoSuchAlgo'", "EPOpt", "module:Class")),
    ("algo-typo", [*E, *G, "--policy", "model.zip", "--algo", "MOP"], "did you mean MPO?"),
    ("algo-colon", [*E, *G, "--policy", "model.zip", "--algo", ":"], ("':'", "module:Class")),
    ("algo-two-colons", [*E, *G, "--policy", "model.zip", "--algo", "a:b:c"], "'a:b:c'"),
    ("algo-no-class", [*E, *G, "--policy", "model.zip", "--algo", "robust_sb3:"], "module:Class"),
    ("algo-no-module", [*E, *G, "--policy", "model.zip", "--algo", "no_such_module:PPO"], "'no_such_module'"),
    (
        "algo-relative-module",
        [*E, *G, "--policy", "model.zip", "--algo", ".relative:X"],
        ("--algo '.relative:X'", "'.relative'"),
    ),
    ("algo-no-attribute", [*E, *G, "--policy", "model.zip", "--algo", "robust_envs:Nope"], "has no attribute 'Nope'"),
    ("algo-a-module", [*E, *G, "--policy", "model.zip", "--algo", "os:path"], ("'os:path'", "not an algorithm class")),
    ("algo-a-function", [*E, *G, "--policy", "model.zip", "--algo", "json:loads"], "not an algorithm class"),
    ("algo-a-class-without-load", [*E, *G, "--policy", "model.zip", "--algo", "robust_envs.cli:CLIError"], "CLIError"),
    # output paths (checked before any episode)
    ("csv-empty", [*E, *G, *P, "--csv", ""], ("--csv", "''")),
    ("csv-folder", [*E, *G, *P, "--csv", "adir"], ("adir", "is a folder")),
    ("json-missing-folder", [*E, *G, *P, "--json", "nodir/r.json"], ("nodir", "does not exist")),
    ("json-file-as-folder", [*E, *G, *P, "--json", "a_file/r.json"], ("a_file", "is not a folder")),
    ("bars-text-suffix", [*E, *G, *P, "--bars", "b.txt"], ("b.txt", "'.txt', not an image format", ".png")),
    ("bars-no-suffix", [*E, *G, *P, "--bars", "bars"], ("bars", "no suffix")),
    ("heatmap-1d-grid", [*E, *G, *P, "--heatmap", "h.png"], ("h.png", "two parameters")),
    ("heatmap-csv-suffix", [*E, *G2, *P, "--heatmap", "h.csv"], "'.csv'"),
    ("two-outputs-one-file", [*E, *G, *P, "--csv", "r.out", "--json", "./r.out"], ("--csv and --json", "both write")),
    ("output-over-model", [*E, *G, "--policy", "model.zip", "--algo", "PPO", "--json", "model.zip"], "overwrite the --policy"),
    (
        "output-over-model-stem",
        [*E, *G, "--policy", "model", "--algo", "PPO", "--csv", "model.zip"],
        ("model.zip", "overwrite"),
    ),
    ("output-over-cells", [*E, "--set-json", "cells.json", *P, "--csv", "cells.json"], "overwrite the --set-json"),
]


@pytest.mark.parametrize(("argv", "names"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_bad_input_runs_nothing_and_writes_nothing(argv, names, tmp_path, monkeypatch, capsys, no_episodes):
    cli_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == "" and "Traceback" not in captured.err
    for text in (names,) if isinstance(names, str) else names:
        assert text in captured.err, f"{text!r} not in {captured.err!r}"
    assert files_under(tmp_path) == before


def test_cli_good_input_reaches_the_evaluation(tmp_path, monkeypatch, no_episodes):
    # the counterpart of the cases: good input gets past every check to the (stand-in) evaluation
    cli_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    for argv in ([*E, *G, *P, "--csv", "r.csv"], [*E, "--set-json", "cells.json", *P, "--json", "r.json"]):
        with pytest.raises(Ran):
            main(argv)


MAIN_ARGV_CASES = [
    ("envs", "'envs'"),
    (b"envs", "b'envs'"),
    (42, "42"),
    ([42], "[42]"),
    (["envs", None], "[None]"),
    (["envs", "--env", Path("RobustHopper-v0")], "PosixPath" if os.name == "posix" else "Path"),
]


@pytest.mark.parametrize(("argv", "names"), MAIN_ARGV_CASES, ids=[repr(c[0]) for c in MAIN_ARGV_CASES])
def test_main_refuses_argv_that_is_not_a_list_of_strings(argv, names, capsys):
    # a string would be split into one-letter arguments ("invalid choice: 'e'")
    refuses(lambda: main(argv), TypeError, ("argv", names))
    assert capsys.readouterr().out == ""


def test_main_takes_any_iterable_of_strings(capsys):
    # the counterpart: a tuple or an iterator of strings is a command line
    assert main(("envs", "--env", IP)) == 0
    assert main(iter(["envs", "--env", IP])) == 0
    assert capsys.readouterr().out.count("pole_length") >= 2


def test_the_fuzz_suite_throws_at_least_150_bad_inputs():
    cases = (
        len(EVALUATE_CASES)
        + len(AS_POLICY_CASES)
        + 2 * len(REPORT_CASES)
        + len(FROM_DICT_CASES)
        + 2 * len(ALPHA_CASES)
        + len(CSV_CASES)
        + 5
        + len(JSON_CASES)
        + 3
        + len(OUTPUT_CASE_IDS) * len(WRITERS)
        + 6
        + len(CLI_CASES)
        + len(MAIN_ARGV_CASES)
    )
    assert cases >= 150, cases
