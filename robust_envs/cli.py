"""
The ``robust-rl`` command line (also ``python -m robust_envs``).

- ``robust-rl envs [--env ID] [--presets]``: the parameters, groups and presets of the robust envs;
- ``robust-rl evaluate --env ID (--preset NAME | --grid name=v1,v2 ... | --set-json FILE) --policy ...``:
  the returns of a fixed policy over a parameter grid (:func:`robust_envs.evaluation.evaluate_robustness`);
- ``robust-rl demo [--timesteps N] [--seeds S ...]``: the main job, a robust policy against its non-robust twin on
  held-out pole lengths (:mod:`robust_sb3.demo`; needs the ``[sb3,plots]`` extras).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robust_envs.registration import ENVS, env_class

BUILTIN_POLICIES = ("zero", "random")


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
            "per cell, the worst cell and the 10%%-worst return."
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
    ev.add_argument("--algo", metavar="NAME", help="SB3 algorithm class of a model file (PPO, SAC, TD3, ...)")
    ev.add_argument("--stochastic", action="store_true", help="sample actions from an SB3 model instead of its mode")
    ev.add_argument("--episodes", type=_positive_int, default=5, metavar="N", help="episodes per cell (default 5)")
    ev.add_argument("--seed", type=int, default=0, metavar="S", help="episode i uses seed S+i (default 0)")
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
    if isinstance(data, dict) and "env_id" in data:
        from robust_envs.uncertainty import UncertaintySet

        return UncertaintySet.from_dict(data)
    if isinstance(data, dict | list):
        return data
    raise CLIError(f"--set-json {path} must hold an object or a list, got {type(data).__name__}")


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
    path = Path(args.policy)
    if not path.is_file():
        raise CLIError(f"--policy must be one of {BUILTIN_POLICIES} or an existing SB3 model file; {path} does not exist")
    if args.algo is None:
        raise CLIError("a model file needs --algo, the SB3 algorithm that saved it (e.g. --algo PPO)")
    try:
        import stable_baselines3
    except ImportError:
        raise CLIError("loading a model needs Stable-Baselines3: pip install 'robust-rl[sb3]'") from None
    algo = getattr(stable_baselines3, args.algo, None)
    if algo is None:
        try:
            import sb3_contrib

            algo = getattr(sb3_contrib, args.algo, None)
        except ImportError:
            pass
    if algo is None or not hasattr(algo, "load"):
        raise CLIError(f"unknown --algo {args.algo!r}; use an SB3 (or sb3-contrib) algorithm class name such as PPO or SAC")
    try:
        return algo.load(str(path), device="cpu")
    except Exception as exc:
        raise CLIError(f"cannot load {path} as {args.algo}: {exc}") from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from robust_envs.evaluation import evaluate_robustness

    env_class(args.env)  # unknown id: ValueError before anything is built
    grid_or_set = _load_cells(args)
    policy = _make_policy(args)
    report = evaluate_robustness(
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

    :param argv: the arguments (default: ``sys.argv[1:]``)
    :return: the exit code: 0 on success, 2 on a usage or input error (argparse's own errors exit with 2)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    command = {"envs": _cmd_envs, "evaluate": _cmd_evaluate, "demo": _cmd_demo}[args.command]
    try:
        return command(args)
    except (CLIError, ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
        print(f"robust-rl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
