"""
The ``robust-rl`` command line (also ``python -m robust_envs``).

- ``robust-rl envs [--env ID] [--presets]``: the parameters, groups and presets of the robust envs;
- ``robust-rl evaluate --env ID (--preset NAME | --grid name=v1,v2 ... | --set-json FILE) --policy ...``:
  the returns of a fixed policy over a parameter grid (:func:`robust_envs.evaluation.evaluate_robustness`). The policy
  is ``zero``, ``random`` or a model file with ``--algo NAME``: an SB3, sb3-contrib or ``robust_sb3`` algorithm
  (case-insensitive) or ``module:Class``; torch and SB3 are imported only to load such a file. The cells and the
  output paths are checked before a model file is loaded or an episode runs, and no output may overwrite the model
  file or the ``--set-json`` file;
- ``robust-rl demo [--timesteps N] [--seeds S ...]``: the main job, a robust policy against its non-robust twin on
  held-out pole lengths (:mod:`robust_sb3.demo`; needs the ``[sb3,plots]`` extras).
"""

from __future__ import annotations

import argparse
import base64
import difflib
import importlib
import inspect
import json
import pickle
import sys
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robust_envs.registration import ENVS, env_class

BUILTIN_POLICIES = ("zero", "random")

#: The algorithm classes of Stable-Baselines3 and sb3-contrib that ``--algo`` accepts by name, with the package that
#: holds each (imported only when a model is loaded). The project's own trainers are read from ``robust_sb3.__all__``.
SB3_ALGORITHMS: dict[str, str] = {
    **dict.fromkeys(("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3"), "stable_baselines3"),
    **dict.fromkeys(("ARS", "CrossQ", "MaskablePPO", "QRDQN", "RecurrentPPO", "TQC", "TRPO"), "sb3_contrib"),
}

#: Output options of ``evaluate``, and whether each writes an image.
OUTPUT_OPTIONS = {"--csv": False, "--json": False, "--heatmap": True, "--bars": True}


class CLIError(Exception):
    """A user error: printed as ``robust-rl: error: ...`` with exit code 2."""


# ---- built-in policies (module level, so they pickle into worker processes) -----------------------------
class ZeroPolicy:
    """
    The zero action in every state (for Box action spaces).

    :param shape: the action shape
    :param dtype: the action dtype
    """

    def __init__(self, shape: Sequence[int], dtype: Any = np.float32) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """:return: zeros of the action shape."""
        return np.zeros(self.shape, dtype=self.dtype)


class RandomPolicy:
    """
    Uniform random actions in a box, from a seeded generator.

    :func:`~robust_envs.evaluation.evaluate_robustness` calls :meth:`seed` with every episode's seed, so
    the actions of an episode depend only on ``seed`` and the episode seed, not on worker scheduling.

    :param low: lower action bounds
    :param high: upper action bounds
    :param seed: base seed of the generator
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int = 0) -> None:
        self.low = np.asarray(low)
        self.high = np.asarray(high)
        self.base_seed = int(seed)
        self.rng = np.random.default_rng(self.base_seed)

    def seed(self, episode_seed: int) -> None:
        """Restart the generator for an episode.

        :param episode_seed: the episode's reset seed
        """
        self.rng = np.random.default_rng([self.base_seed, int(episode_seed)])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """:return: a uniform random action in ``[low, high]``."""
        return self.rng.uniform(self.low, self.high).astype(self.low.dtype)


# ---- argument parsing ---------------------------------------------------------------------------------
def _grid_axis(text: str) -> tuple[str, list[float]]:
    """Parse ``name=v1,v2,...`` (argparse type)."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise argparse.ArgumentTypeError(f"expected name=v1,v2,... (e.g. pole_length=0.4,0.8), got {text!r}")
    try:
        numbers = [float(v) for v in values.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"values of {name!r} must be comma-separated numbers, got {values!r}") from None
    return name, numbers


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (episode seeds are seed, seed+1, ...), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """:return: the ``robust-rl`` argument parser with its subcommands."""
    ids = [entry.env_id for entry in ENVS]
    parser = argparse.ArgumentParser(
        prog="robust-rl", description="Perturbable MuJoCo environments: inspect parameters and evaluate robustness."
    )
    from robust_envs.version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    envs = sub.add_parser(
        "envs",
        help="list the robust envs, their physical parameters and presets",
        description="Print each robust env's parameters (name, nominal, bounds, unit, meaning), groups and presets.",
    )
    envs.add_argument("--env", metavar="ID", help=f"only this env (one of {', '.join(ids)})")
    envs.add_argument("--presets", action="store_true", help="also print each preset's ranges and source")

    ev = sub.add_parser(
        "evaluate",
        help="evaluate a fixed policy over a parameter grid or uncertainty set",
        description=(
            "Run a policy for N seeded episodes in every cell of a parameter grid and print the mean, std and min return "
            "per cell, the worst cell and the 10%-worst return."
        ),
        epilog="example: robust-rl evaluate --env RobustInvertedPendulum-v0 --grid pole_length=0.4,0.8 --policy zero",
    )
    ev.add_argument("--env", required=True, metavar="ID", help="the env id")
    cells = ev.add_mutually_exclusive_group(required=True)
    cells.add_argument("--preset", metavar="NAME", help="a named uncertainty set (see 'robust-rl envs --presets')")
    cells.add_argument(
        "--grid",
        action="append",
        type=_grid_axis,
        metavar="NAME=V1,V2,...",
        help="one grid axis; repeat for a Cartesian product (e.g. --grid pole_length=0.4,0.8 --grid cart_size=0.1,0.2)",
    )
    cells.add_argument(
        "--set-json",
        metavar="FILE",
        help="a JSON file: an UncertaintySet.to_dict() object, a list of {param: value} objects, or {param: [values]}",
    )
    ev.add_argument(
        "--policy",
        required=True,
        metavar="POLICY",
        help="'zero' (zero action), 'random' (seeded uniform actions) or an SB3 model file (with --algo)",
    )
    ev.add_argument(
        "--algo",
        metavar="NAME",
        help=(
            "the algorithm class that saved the model file, case-insensitive: an SB3 or sb3-contrib algorithm (PPO, SAC, "
            "TQC, ...), one of this project's trainers (MPO, RobustSAC, MRPO, EPOpt, RRL), or module:Class"
        ),
    )
    ev.add_argument("--stochastic", action="store_true", help="sample actions from an SB3 model instead of its mode")
    ev.add_argument("--episodes", type=_positive_int, default=5, metavar="N", help="episodes per cell (default 5)")
    ev.add_argument("--seed", type=_non_negative_int, default=0, metavar="S", help="episode i uses seed S+i (default 0)")
    ev.add_argument("--points", type=_positive_int, default=5, metavar="P", help="grid points per box dimension (default 5)")
    ev.add_argument("--workers", type=_positive_int, default=1, metavar="W", help="parallel worker processes (default 1)")
    ev.add_argument("--backend", choices=("process", "ray"), default="process", help="parallel back-end (default process)")
    ev.add_argument("--max-episode-steps", type=_positive_int, metavar="T", help="override the time limit (default 1000)")
    ev.add_argument("--csv", metavar="FILE", help="write one row per episode as CSV")
    ev.add_argument("--json", metavar="FILE", help="write the report as JSON")
    ev.add_argument("--heatmap", metavar="FILE", help="save a heatmap of the mean returns (2-d grids only)")
    ev.add_argument("--bars", metavar="FILE", help="save a bar chart of the mean returns with std error bars")

    demo = sub.add_parser(
        "demo",
        help="train MRPO and its non-robust twin (PPO) and compare them on held-out pole lengths",
        description=(
            "The main job: MRPO on Jiang et al.'s training range and PPO on the nominal RobustInvertedPendulum-v0 "
            "(keep_mass=True), same budget and seeds, evaluated on WR2L's pole-length test range 0.3-3 m; "
            "writes demo.png and summary.json. Needs the [sb3,plots] extras."
        ),
    )
    try:
        from robust_sb3.demo import build_parser as build_demo_parser
    except ImportError:  # without the [sb3] extra the command exists and says what is missing when run
        demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    else:
        build_demo_parser(demo)
    # imports no minari until a datasets command runs, so the parser builds without the [data] extra
    from robust_envs.datasets.cli import add_datasets_subcommand
    from robust_envs.video import add_video_subcommand

    add_datasets_subcommand(sub)
    add_video_subcommand(sub)
    return parser


# ---- commands -----------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _cmd_envs(args: argparse.Namespace) -> int:
    from robust_envs.presets import get_parameterisation, get_preset, list_parameterisations, list_presets

    ids = [entry.env_id for entry in ENVS]
    if args.env is not None:
        env_class(args.env)  # unknown id: ValueError with the registered ids
        ids = [args.env]
    blocks = []
    for env_id in ids:
        cls = env_class(env_id)
        space = cls.param_space
        rows = [[s.name, f"{s.nominal:.6g}", f"{s.low:.6g}", f"{s.high:.6g}", s.unit, s.description] for s in space.specs]
        upstream = getattr(cls, "upstream_id", None)
        origin = f" (upstream {upstream})" if upstream else ""
        lines = [f"{env_id}{origin}: {len(space)} parameters", ""]
        lines.append(_table(["name", "nominal", "low", "high", "unit", "meaning"], rows))
        if space.groups:
            lines += ["", "groups:"]
            lines += [f"  {g.name} = {', '.join(g.members)}: {g.description}" for g in space.groups]
        presets = list_presets(env_id)
        lines += ["", "presets:" if presets else "presets: (none)"]
        for name in presets:
            preset = get_preset(name)
            lines.append(f"  {name}: {preset.describe()}")
            if args.presets:
                lines.append(f"      source: {preset.source}")
        if args.presets:
            for name in list_parameterisations(env_id):
                p = get_parameterisation(name)
                lines.append(f"  {name} (parameterisation): varies {', '.join(p.names)}")
                lines.append(f"      source: {p.source}")
        blocks.append("\n".join(lines))
    print(("\n\n" + "=" * 100 + "\n\n").join(blocks))
    return 0


def _load_cells(args: argparse.Namespace) -> Any:
    if args.preset is not None:
        return args.preset
    if args.grid is not None:
        grid: dict[str, list[float]] = {}
        for name, values in args.grid:
            if name in grid:
                raise CLIError(f"--grid names {name!r} twice; give each parameter one --grid")
            grid[name] = values
        return grid
    path = Path(args.set_json)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CLIError(f"cannot read --set-json {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"--set-json {path} is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CLIError(f"--set-json {path} is not valid JSON (not UTF-8 text: {exc})") from None
    if isinstance(data, dict) and "env_id" in data:
        from robust_envs.uncertainty import UncertaintySet

        try:
            return UncertaintySet.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise CLIError(f"--set-json {path}: {exc}") from None
    if isinstance(data, dict | list):
        return data
    raise CLIError(f"--set-json {path} must hold an object or a list, got {type(data).__name__}")


def _check_cells(args: argparse.Namespace, grid_or_set: Any) -> None:
    """Check the cells against the env's parameters before a model is loaded or an episode runs."""
    from robust_envs.evaluation import check_cells, expand_cells

    try:
        check_cells(args.env, expand_cells(args.env, grid_or_set, args.points))
    except (ValueError, TypeError) as exc:
        if args.set_json is None:
            raise
        raise CLIError(f"--set-json {args.set_json}: {exc}") from None


def _check_output(option: str, text: str) -> None:
    """Fail early, before any episode runs, on an output path that cannot be written or has a wrong suffix."""
    from robust_envs.evaluation.paths import check_output_path

    try:
        check_output_path(text, option, image=OUTPUT_OPTIONS[option])
    except ImportError as exc:
        raise CLIError(f"{option} {text}: {exc}") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _check_outputs(args: argparse.Namespace, grid_or_set: Any) -> None:
    """Check every output path (and that a heatmap has a 2-d grid to draw) before the evaluation runs."""
    given = {option: getattr(args, option[2:]) for option in OUTPUT_OPTIONS if getattr(args, option[2:]) is not None}
    for option, text in given.items():
        _check_output(option, text)
    seen: dict[Path, str] = {}
    for option, text in given.items():
        key = Path(text).resolve()
        if key in seen:
            raise CLIError(f"{seen[key]} and {option} both write {text}; give each output its own file")
        seen[key] = option
    # an output must not overwrite an input: the model file (SB3's load also finds it without .zip) or --set-json
    inputs = {"--set-json": [args.set_json]} if args.set_json is not None else {}
    if args.policy not in BUILTIN_POLICIES:
        inputs["--policy"] = [args.policy, f"{args.policy}.zip"]
    for source, names in inputs.items():
        for name in names:
            clash = seen.get(Path(name).resolve())
            if clash is not None and Path(name).exists():
                raise CLIError(
                    f"{clash} {given[clash]} would overwrite the {source} file {name}; write the output to another file"
                )
    if args.heatmap is not None:
        from robust_envs.evaluation import RobustnessReport, expand_cells

        cells = expand_cells(args.env, grid_or_set, args.points)
        try:
            RobustnessReport(env_id=args.env, cells=cells, returns=np.zeros((len(cells), 1))).grid_axes()
        except ValueError as exc:
            raise CLIError(f"--heatmap {args.heatmap}: {exc} (--bars draws any set of cells)") from None


def _algorithm_names() -> dict[str, str]:
    """:return: every name ``--algo`` accepts, with the package that holds it."""
    names = dict(SB3_ALGORITHMS)
    try:
        import robust_sb3  # cheap: its trainers are lazy exports
    except ImportError:  # pragma: no cover - robust_sb3 ships in the same distribution
        return names
    names.update(dict.fromkeys((name for name in robust_sb3.__all__ if not name.startswith("_")), "robust_sb3"))
    return names


def resolve_algorithm(name: str) -> type:
    """
    The algorithm class of ``--algo``: an SB3, sb3-contrib or ``robust_sb3`` algorithm name (case-insensitive),
    or ``module:Class``. Imports the class's package (and with it torch), so call it only to load a model.

    :param name: the ``--algo`` value
    :return: the class (anything with a ``load`` class method)
    :raises CLIError: an unknown name (the message lists the allowed ones), a package or class that cannot be imported
    """
    if ":" in name:
        module_name, _, class_name = (part.strip() for part in name.partition(":"))
        if not module_name or not class_name or ":" in class_name:
            raise CLIError(f"--algo {name!r} is not of the form module:Class (e.g. robust_sb3.mpo:MPO)")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, a relative name (TypeError), or whatever the module raises on import
            raise CLIError(f"--algo {name!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})") from None
        algo = getattr(module, class_name, None)
        if algo is None:
            raise CLIError(f"--algo {name!r}: module {module_name!r} has no attribute {class_name!r}")
    else:
        names = _algorithm_names()
        by_lower = {known.lower(): known for known in names}
        canonical = by_lower.get(name.strip().lower())
        if canonical is None:
            close = difflib.get_close_matches(name.strip().lower(), by_lower, n=1)
            hint = f"did you mean {by_lower[close[0]]}? " if close else ""
            allowed = ", ".join(sorted(names, key=str.lower))
            raise CLIError(f"unknown --algo {name!r}; {hint}allowed (case-insensitive): {allowed}, or module:Class")
        package = names[canonical]
        try:
            algo = getattr(importlib.import_module(package), canonical)
        except ImportError as exc:
            raise CLIError(
                f"--algo {canonical} needs {package.replace('_', '-')} and torch: pip install 'robust-rl[sb3]' ({exc})"
            ) from None
    if not (isinstance(algo, type) and callable(getattr(algo, "load", None))):
        raise CLIError(f"--algo {name!r} gives {algo!r}, not an algorithm class with a load() method (such as PPO)")
    return algo


def _saved_policy_class(path: Path, algo_name: str) -> type | None:
    """
    Read the policy class recorded in an SB3 model file, without loading the model.

    :return: the class, or ``None`` if the file does not say (SB3's ``load`` then decides)
    :raises CLIError: the file is not a readable SB3 zip archive (truncated, corrupt, another format)
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.namelist()
            data = json.loads(archive.read("data"))
    except KeyError:
        # a truncated SB3 file can still open as a zip: the one inside it (policy.pth is a zip of its own)
        raise CLIError(
            f"cannot load --policy {path} as {algo_name}: the zip archive holds no 'data' entry (it holds "
            f"{', '.join(entries[:4])}{', ...' if len(entries) > 4 else ''}), so it is not a complete file written by "
            f"{algo_name}.save(): truncated or corrupt, or saved by another algorithm?"
        ) from None
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError) as exc:
        raise CLIError(
            f"cannot load --policy {path} as {algo_name}: it is not a readable model file written by {algo_name}.save() "
            f"(a zip archive); is it truncated or corrupt? ({type(exc).__name__}: {exc})"
        ) from None
    entry = data.get("policy_class") if isinstance(data, dict) else None
    serialized = entry.get(":serialized:") if isinstance(entry, dict) else None
    if not isinstance(serialized, str):
        return None
    try:  # the same entry SB3's load unpickles: a reference to the policy class
        policy_class = pickle.loads(base64.b64decode(serialized.encode()))
    except Exception:
        return None
    return policy_class if isinstance(policy_class, type) else None


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_model(path: Path, algo: type, env_id: str) -> Any:
    """Load ``path`` with ``algo``; a file of another algorithm, a corrupt file or a model of other spaces is a CLIError."""
    name = algo.__name__
    aliases = getattr(algo, "policy_aliases", None)
    if isinstance(aliases, dict):  # an SB3 algorithm: its file format is SB3's zip, which records the policy class
        saved = _saved_policy_class(path, name)
        expected = tuple(dict.fromkeys(p for p in aliases.values() if isinstance(p, type)))
        if saved is not None and expected and not issubclass(saved, expected):
            raise CLIError(
                f"--policy {path} is not a {name} model: it holds a {_qualified(saved)} policy, and {name} expects "
                f"{' or '.join(p.__qualname__ for p in expected)}; pass the --algo of the algorithm that saved it"
            )
    try:
        parameters = inspect.signature(algo.load).parameters
    except (TypeError, ValueError):  # no signature to read: try SB3's
        takes_device = True
    else:
        takes_device = "device" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    try:
        model = algo.load(str(path), device="cpu") if takes_device else algo.load(str(path))
    except Exception as exc:
        raise CLIError(f"cannot load --policy {path} as {name}: {type(exc).__name__}: {exc}") from None
    import gymnasium as gym

    env = gym.make(env_id)
    spaces = env.observation_space, env.action_space
    env.close()
    model_spaces = getattr(model, "observation_space", None), getattr(model, "action_space", None)
    if None not in model_spaces and [s.shape for s in model_spaces] != [s.shape for s in spaces]:
        raise CLIError(
            f"--policy {path} ({name}) takes observations of shape {model_spaces[0].shape} and gives actions of shape "
            f"{model_spaces[1].shape}; {env_id} has {spaces[0].shape} and {spaces[1].shape}: it was trained on another env"
        )
    return model


def _make_policy(args: argparse.Namespace) -> Any:
    if args.policy in BUILTIN_POLICIES:
        if args.algo is not None:
            raise CLIError(f"--algo applies to a model file, not to the built-in policy {args.policy!r}")
        import gymnasium as gym

        env = gym.make(args.env)
        space = env.action_space
        env.close()
        if not isinstance(space, gym.spaces.Box):
            raise CLIError(f"the built-in policies need a Box action space; {args.env} has {space}")
        if args.policy == "zero":
            return ZeroPolicy(space.shape, space.dtype)
        return RandomPolicy(space.low, space.high, seed=args.seed)
    if not args.policy.strip():
        raise CLIError(f"--policy needs one of {BUILTIN_POLICIES} or a model file, got {args.policy!r}")
    path = Path(args.policy)
    if not path.exists() and Path(f"{path}.zip").is_file():  # SB3's save adds .zip, and its load accepts the stem
        path = Path(f"{path}.zip")
    expected = f"a model file saved by {args.algo}" if args.algo else "an SB3 model file (with --algo)"
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise CLIError(f"--policy {path} {what}; expected one of {BUILTIN_POLICIES} or {expected}")
    if args.algo is None:
        raise CLIError(f"--policy {path} needs --algo, the algorithm that saved it (e.g. --algo PPO or --algo MPO)")
    return _load_model(path, resolve_algorithm(args.algo), args.env)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from robust_envs import evaluation

    env_class(args.env)  # unknown id: ValueError before anything is built
    grid_or_set = _load_cells(args)
    _check_cells(args, grid_or_set)  # before a model file is loaded
    _check_outputs(args, grid_or_set)  # before the (possibly long) evaluation, not after it
    policy = _make_policy(args)
    report = evaluation.evaluate_robustness(
        policy,
        args.env,
        grid_or_set,
        n_episodes=args.episodes,
        seed=args.seed,
        deterministic=not args.stochastic,
        points=args.points,
        n_workers=args.workers,
        backend=args.backend,
        max_episode_steps=args.max_episode_steps,
    )
    print(report.summary())
    written = []
    if args.csv:
        written.append(report.to_csv(args.csv))
    if args.json:
        written.append(report.to_json(args.json))
    if args.bars:
        written.append(report.plot_bars(args.bars))
    if args.heatmap:
        written.append(report.plot_heatmap(args.heatmap))
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    try:
        from robust_sb3.demo import run_demo
    except ImportError as error:
        raise CLIError(
            f"the demo trains with stable-baselines3 and torch: pip install 'robust-rl[sb3,plots]' ({error})"
        ) from error
    run_demo(args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``robust-rl`` command line.

    :param argv: the arguments, a list of strings (default: ``sys.argv[1:]``)
    :return: the exit code: 0 on success, 2 on a usage or input error (argparse's own errors exit with 2)
    :raises TypeError: ``argv`` is a single string (argparse would split it into one-letter arguments), or not an
        iterable of strings
    """
    if argv is not None:
        if isinstance(argv, str | bytes) or not isinstance(argv, Iterable):
            raise TypeError(
                f"argv must be a list of strings such as ['envs', '--env', 'RobustHopper-v0'], got {argv!r} "
                f"({type(argv).__name__})"
            )
        argv = list(argv)
        odd = [arg for arg in argv if not isinstance(arg, str)]
        if odd:
            raise TypeError(f"argv must hold only strings, got {odd} in {argv!r}")
    parser = build_parser()
    args = parser.parse_args(argv)
    from robust_envs.datasets.cli import run_datasets
    from robust_envs.video import run_video

    commands = {"envs": _cmd_envs, "evaluate": _cmd_evaluate, "demo": _cmd_demo, "datasets": run_datasets, "video": run_video}
    command = commands[args.command]
    try:
        return command(args)
    except (CLIError, ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
        print(f"robust-rl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
