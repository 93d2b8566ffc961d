"""
Time of a domain-randomised reset against a plain reset of the same env (ratios per interleaved round).

Cases:

- Hopper, a density/friction box: in-place edits of mass and friction at every reset;
- inverted pendulum, a finite grid of 16 geometries: every model built once, then a lookup;
- the suite's walker-walk, continuous draws of the thigh length within 20% of nominal (``DomainRandomization``, its
  settings computed ahead in batches as the pendulum's): the suite family's in-place lengths;
- inverted pendulum, continuous draws from ``jiang2021/invertedpendulum/train`` (``keep_mass=True``): every reset
  an unseen pole length and cart size, written into a pooled model in place (target: at most 1.5x a plain
  reset); once through :class:`~robust_envs.wrappers.DomainRandomization` (the draws included, and the models of
  its settings, which it draws ``DRAWS_AHEAD`` at a time and the env computes in one batch: ``prepare_episodes``)
  and once with settings drawn beforehand and passed one by one as ``reset(options={"params": ...})`` (the env's
  own cost of a setting it is not told ahead: the scalar writer).

Each round times ``--repeats`` plain resets, then as many randomised ones; the table gives the per-reset
times of the best round and the ratio of the best and of the median round. The default, ``DRAWS_AHEAD`` resets
a round, puts exactly one of DomainRandomization's batches into each round, wherever the batches fall. On a noisy
machine a whole process can run slower (a plain reset here took 14 us in one process and 25 us in the next):
``--processes N`` runs the measurement in N fresh processes, one after the other, and adds for each case the median
over them of each process's median ratio.

Run: ``python -m benchmarks.bench_reset --rounds 7``; ``--profile 20000`` profiles that many resets with an unseen
geometry (the env's own cost) instead, and prints the functions that take the most time. ``--write-floor`` is a
diagnostic, not a result: it replaces the whole model write of a randomised reset (``ModelBuilder.write``) by its
``mj_setConst`` alone, and ``ModelBuilder.prepare`` (the batch computed ahead) by nothing, so the models no longer
match their parameters, and the unseen-geometry rows then give the cost of everything around the write (the draw,
validation, the pool, the episode record): the least any faster write could reach. ``--scalar`` computes nothing
ahead (every new geometry through the scalar writer, as before the batches): the comparison. ``--no-set-const`` is
another diagnostic: the model builders skip every ``mj_setConst`` (wrong constants), the most a faster
``mj_setConst`` (a batch twin of it, say) could save. ``--itemise 20000``
times each part of a randomised reset, 20,000 calls each (with ``--write-floor``: the parts around the write).
``--bare-floor`` is the other bound: a domain-randomised reset of the MuJoCo family with a prepared setting is
cut to its bare work (the next prepared row's values written into the least recently used pooled model,
``mj_setConst``, the prepared episode record, then Gymnasium's reset), with none of the contract's layers (no
options check, no check of ``set_params`` since the draw, no key comparisons, no record of settings seen): the least
any bookkeeping could reach with the write, the constants and the batch computed ahead as they are. Its models hold
their parameters only where the other parameters never change (the pendulum's rows); other rows go their usual way.
``--free-batch`` is a third bound: ``DomainRandomization``'s first batch after a seed holds every setting the run
will use, so the whole batch is computed in the warm-up, before any round is timed: the randomised reset as it would
cost with a free batch, the least any faster batch (native code included) could reach; combined with
``--bare-floor``, the least both could. The draws and their order are those of the usual run.
``--every-geometry`` replaces the cases by one per model with length or size parameters and a batch twin (the
inverted and double pendulums, the suite's cartpole, hopper and walker): ``DomainRandomization`` over every length
within 20% of nominal, against the same env's plain reset (a cheaper plain reset makes the same extra cost a larger
ratio: the inverted pendulum's is the cheapest).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator

import gymnasium as gym
import numpy as np

import robust_envs
from robust_envs.params import ValidatedParams
from robust_envs.presets import get_preset
from robust_envs.uncertainty import UncertaintySet
from robust_envs.wrappers import DRAWS_AHEAD, DomainRandomization


def per_call(fn: Callable[[], object], repeats: int) -> float:
    """:return: the mean time of one call over ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _cases(repeats: int, rounds: int) -> list[tuple[str, gym.Env, Callable[[], object]]]:
    # (label, plain env, randomised reset); every randomised env resets 2 * DRAWS_AHEAD times first (warm)
    hopper = get_preset("jiang2021/hopper/train")
    pendulum = get_preset("jiang2021/invertedpendulum/train")
    grid = UncertaintySet.finite("RobustInvertedPendulum-v0", pendulum.grid(4))
    thigh = robust_envs.env_class("RobustWalkerWalk-v0").param_space["thigh_length"].nominal
    walker = UncertaintySet.box("RobustWalkerWalk-v0", {"thigh_length": (0.8 * thigh, 1.2 * thigh)})
    cases = []
    for label, env_id, uncertainty_set, kwargs in (
        ("Hopper density/friction box", "RobustHopper-v0", hopper, {}),
        ("IP grid of 16 geometries", "RobustInvertedPendulum-v0", grid, {}),
        ("IP unseen geometry (DR)", "RobustInvertedPendulum-v0", pendulum, {"keep_mass": True}),
        ("walker-walk thigh +-20% (DR)", "RobustWalkerWalk-v0", walker, {}),
    ):
        randomised = DomainRandomization(gym.make(env_id, **kwargs), uncertainty_set)
        randomised.reset(seed=0)
        for _ in range(2 * DRAWS_AHEAD):  # past the growing first batches: each round then holds one full batch
            randomised.reset()
        cases.append((label, gym.make(env_id, **kwargs), randomised.reset))
    # the env's own cost of an unseen geometry: settings drawn beforehand (one per reset, never repeated)
    env, draws = _pendulum_with_unseen_settings((repeats + 1) * rounds)
    cases.append(
        (
            "IP unseen geometry (env)",
            gym.make("RobustInvertedPendulum-v0", keep_mass=True),
            lambda: env.reset(options={"params": next(draws)}),
        )
    )
    return cases


#: a model of each env with length or size parameters and a batch twin of its writer (--every-geometry)
GEOMETRY_ENV_IDS = (
    "RobustInvertedPendulum-v0",
    "RobustInvertedDoublePendulum-v0",
    "RobustCartpoleBalance-v0",
    "RobustHopperStand-v0",
    "RobustWalkerWalk-v0",
)


def _geometry_cases(repeats: int) -> list[tuple[str, gym.Env, Callable[[], object]]]:
    """
    :return: for each of :data:`GEOMETRY_ENV_IDS`, ``DomainRandomization`` over every length and size parameter
        within 20% of nominal (the other parameters nominal), against the same env's plain reset
    """
    cases = []
    for env_id in GEOMETRY_ENV_IDS:
        space = robust_envs.env_class(env_id).param_space
        nominal = {space.names[i]: float(space.nominal[i]) for i in space.indices_of_kind("geometry")}
        # sorted: a length may be declared as a signed coordinate (the suite hopper's calf)
        ranges = {name: tuple(sorted((0.8 * value, 1.2 * value))) for name, value in nominal.items()}
        lengths = UncertaintySet.box(env_id, ranges)
        randomised = DomainRandomization(gym.make(env_id), lengths)
        randomised.reset(seed=0)
        for _ in range(2 * repeats):  # past the growing first batches
            randomised.reset()
        cases.append((f"{env_id.removeprefix('Robust')} lengths +-20%", gym.make(env_id), randomised.reset))
    return cases


def _pendulum_with_unseen_settings(settings: int) -> tuple[gym.Env, Iterator[ValidatedParams]]:
    """
    :return: the inverted pendulum (``keep_mass=True``) after 200 resets with new geometries (pools warm), and
        ``settings`` more draws from ``jiang2021/invertedpendulum/train``, each a geometry it has not seen
    """
    env = gym.make("RobustInvertedPendulum-v0", keep_mass=True)
    env.reset(seed=0)
    space = env.unwrapped.param_space
    draw = get_preset("jiang2021/invertedpendulum/train").vector_sampler(space)
    rng = np.random.default_rng(1)
    draws = iter([draw(rng, space.nominal) for _ in range(settings + 200)])
    for _ in range(200):
        env.reset(options={"params": next(draws)})
    return env, draws


def profile(resets: int) -> None:
    """Profile ``resets`` resets of the inverted pendulum, each with a geometry never seen before (drawn beforehand)."""
    env, draws = _pendulum_with_unseen_settings(resets)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [env.reset(options={"params": next(draws)}) for _ in range(resets)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def itemise(calls: int) -> None:
    """
    Time, with ``timeit`` (best of 5), each part of a randomised reset of the inverted pendulum besides the geometry
    write (run with ``--write-floor``: the write is then its ``mj_setConst``), and a plain reset's parts.
    """
    import mujoco

    env, draws = _pendulum_with_unseen_settings(5 * calls)
    unwrapped = env.unwrapped
    settings = list(draws)
    draw = get_preset("jiang2021/invertedpendulum/train").vector_sampler(unwrapped.param_space)
    rng = np.random.default_rng(0)
    base = unwrapped.base_params

    def best(fn: Callable[[], object]) -> float:
        return min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e6

    randomised = DomainRandomization(
        gym.make("RobustInvertedPendulum-v0", keep_mass=True), get_preset("jiang2021/invertedpendulum/train")
    )
    randomised.reset(seed=0)
    parts: dict[str, Callable[[], object]] = {"one draw (vector_sampler)": lambda: draw(rng, base)}
    # a draw ahead, with its share of the batch: the points, the settings, the env's prepare_episodes
    parts["draw ahead, batch share included"] = randomised.get_wrapper_attr("_next_params")
    fresh = iter(settings)
    parts["options checked (_episode_params_from)"] = lambda: unwrapped._episode_params_from({"params": next(fresh)})
    vectors = [setting.vector for setting in settings]
    fresh_vectors = iter(vectors)
    parts["model for the setting (_apply_params)"] = lambda: unwrapped._apply_params(next(fresh_vectors))
    parts["model for a prepared setting"] = _prepared_applies(unwrapped, np.array(vectors))
    recorded = iter(vectors)
    parts["episode record (_begin_episode)"] = lambda: unwrapped._begin_episode(next(recorded))
    parts["mj_setConst"] = lambda: mujoco.mj_setConst(unwrapped.model, unwrapped.data)
    parts["mj_resetData"] = lambda: mujoco.mj_resetData(unwrapped.model, unwrapped.data)
    parts["Gymnasium's reset_model"] = unwrapped.reset_model
    parts["plain reset (unwrapped)"] = unwrapped.reset
    parts["plain reset (as gym.make returns it)"] = env.reset
    for label, fn in parts.items():
        print(f"{label:40s} {best(fn):6.2f} us")


def _prepared_applies(env: gym.Env, vectors: np.ndarray) -> Callable[[], object]:
    """
    :return: ``_apply_params`` of the next of ``vectors``, prepared ahead (``prepare_episodes``) in batches of
        ``DRAWS_AHEAD``: its time is the write of a setting computed ahead, and a ``DRAWS_AHEAD``-th of a batch's
        compile (its share; ``draw ahead, batch share included`` holds it for a DomainRandomization draw)
    """
    position = 0

    def apply() -> None:
        nonlocal position
        if position % DRAWS_AHEAD == 0:
            env.prepare_episodes(vectors[position : position + DRAWS_AHEAD])
        env._apply_params(vectors[position])
        position += 1

    return apply


def _cut_write_to_set_const() -> None:
    # the diagnostic of --write-floor: every in-place write becomes the mj_setConst it ends with
    import mujoco

    from robust_envs.mujoco_model import ModelBuilder

    def set_const_only(
        self: ModelBuilder, model: mujoco.MjModel, vector: np.ndarray, previous: np.ndarray | None, key: bytes | None = None
    ) -> None:
        mujoco.mj_setConst(model, self._scratch_data(model))

    ModelBuilder.write = set_const_only  # type: ignore[method-assign]
    ModelBuilder.prepare = lambda self, vectors: 0  # type: ignore[method-assign]


def _skip_set_const() -> None:
    # the diagnostic of --no-set-const: the builders' mujoco module, with mj_setConst doing nothing
    import mujoco

    from robust_envs import mujoco_model

    class WithoutSetConst:
        def __getattr__(self, name: str) -> object:
            return getattr(mujoco, name)

        @staticmethod
        def mj_setConst(model: mujoco.MjModel, data: mujoco.MjData) -> None:
            return None

    mujoco_model.mujoco = WithoutSetConst()  # type: ignore[assignment]


#: the option that asks the env under --bare-floor for the bare reset with a prepared row (its index)
_BARE_ROW = "bare row (benchmark diagnostic)"


def bare_resets() -> tuple[Callable[..., object], Callable[..., object]]:
    """
    The diagnostic of ``--bare-floor``: :class:`DomainRandomization` hands the env the index of its next prepared
    row, and the env's reset does the work of that row and nothing else.

    :return: the ``reset`` methods of ``DomainRandomization`` and of ``RobustMujocoEnv`` that do so (falling back on
        the usual ones for every other reset)
    """
    import mujoco

    from robust_envs.mujoco_env import RobustMujocoEnv

    usual_wrapper_reset, usual_env_reset = DomainRandomization.reset, RobustMujocoEnv.reset

    def wrapper_reset(self: DomainRandomization, *, seed: int | None = None, options: dict | None = None) -> object:
        base, index = self._base, self._ahead_next
        prepared = base._builder._prepared if isinstance(base, RobustMujocoEnv) else None
        if seed is None and options is None and prepared is not None and index < len(self._ahead.vectors):
            if prepared.ok[index] and base._builder._prepared_next == index:
                self._ahead_next = index + 1
                return self.env.reset(options={_BARE_ROW: index})
        return usual_wrapper_reset(self, seed=seed, options=options)

    def env_reset(self: RobustMujocoEnv, *, seed: int | None = None, options: dict | None = None) -> object:
        if options is None or _BARE_ROW not in options:
            return usual_env_reset(self, seed=seed, options=options)
        i = options[_BARE_ROW]
        builder = self._builder
        prepared = builder._prepared
        builder._prepared_next = i + 1
        key = prepared.keys[i * prepared.width : (i + 1) * prepared.width]
        _, (model, _) = self._pool.popitem(last=False)
        prepared.writer.write_values(model, prepared.values[i], prepared.stat[i])
        mujoco.mj_setConst(model, builder._scratch_data(model))
        self._pool[key] = (model, prepared.vectors[i])
        self.model, self._applied_key = model, key
        self._episode_params, self._episode_params_dict = self._episodes_ahead[key]
        self._episode_key = key
        mujoco.mj_resetData(model, self.data)
        observation = self.reset_model()
        info = self._get_reset_info()
        info["params"] = self.params
        return observation, info

    return wrapper_reset, env_reset


def free_batch(resets: int) -> None:
    """
    The diagnostic of ``--free-batch``: make ``DomainRandomization``'s batches ``resets`` settings long, the first one
    after a seed included, so that the warm-up's seeded reset computes every setting a run of ``resets`` resets uses.

    :param resets: the most resets a randomised env makes after its seeded reset
    """
    import robust_envs.wrappers

    # the seeded reset takes the batch's first setting
    robust_envs.wrappers.FIRST_DRAWS_AHEAD = robust_envs.wrappers.DRAWS_AHEAD = resets + 1


def _over_processes(processes: int, arguments: list[str]) -> None:
    """Run the measurement (``arguments``) in ``processes`` fresh processes; print each, then the medians per case."""
    medians: dict[str, list[float]] = {}
    for _ in range(processes):
        run = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_reset", *arguments], capture_output=True, text=True, check=True
        )
        for line in run.stdout.splitlines():
            print(line)
            found = re.match(r"(.+?)\s+plain .* median\s+([0-9.]+)$", line)
            if found:
                medians.setdefault(found.group(1), []).append(float(found.group(2)))
    for label, ratios in medians.items():
        listed = " / ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{label:40s} median over {len(ratios)} processes {np.median(ratios):5.2f}   ({listed})")


def main() -> None:
    """Print per-reset times and the ratios for each case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # DRAWS_AHEAD resets a round: each round holds one batch that DomainRandomization computes ahead, wherever it falls
    parser.add_argument("--repeats", type=int, default=DRAWS_AHEAD)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N unseen-geometry resets instead")
    parser.add_argument("--itemise", type=int, default=0, metavar="N", help="time each part of a reset, N calls each")
    parser.add_argument(
        "--write-floor", action="store_true", help="diagnostic: the model write cut down to mj_setConst (wrong models)"
    )
    parser.add_argument(
        "--scalar", action="store_true", help="comparison: nothing computed ahead, every new geometry by the scalar writer"
    )
    parser.add_argument(
        "--no-set-const", action="store_true", help="diagnostic: every mj_setConst of the builders skipped (wrong models)"
    )
    parser.add_argument(
        "--bare-floor",
        action="store_true",
        help="diagnostic: a randomised reset with a prepared setting cut to its bare work (no contract's layers)",
    )
    parser.add_argument(
        "--free-batch",
        action="store_true",
        help="diagnostic: every setting of the run computed in the warm-up, before the timing (a free batch)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, metavar="N", help="run in N fresh processes and add the median over them"
    )
    parser.add_argument(
        "--every-geometry",
        action="store_true",
        help="instead of the cases above: every model with lengths and a batch twin, its lengths drawn within 20%%",
    )
    args = parser.parse_args()
    if args.processes > 1:
        if args.profile or args.itemise:
            parser.error("--processes repeats the table of ratios, not --profile or --itemise")
        arguments = ["--repeats", str(args.repeats), "--rounds", str(args.rounds)]
        for flag in ("write_floor", "scalar", "no_set_const", "every_geometry", "bare_floor", "free_batch"):
            if getattr(args, flag):
                arguments.append("--" + flag.replace("_", "-"))
        _over_processes(args.processes, arguments)
        return
    if args.no_set_const:
        _skip_set_const()
    if args.write_floor:
        _cut_write_to_set_const()
    if args.bare_floor:
        from robust_envs.mujoco_env import RobustMujocoEnv

        DomainRandomization.reset, RobustMujocoEnv.reset = bare_resets()  # type: ignore[method-assign]
    if args.free_batch:
        # the warm-up's resets (2 * DRAWS_AHEAD in _cases, 2 * repeats in _geometry_cases), then every round's
        free_batch(2 * max(DRAWS_AHEAD, args.repeats) + args.rounds * args.repeats)
    if args.scalar:
        from robust_envs.mujoco_model import ModelBuilder

        ModelBuilder.prepare = lambda self, vectors: 0  # type: ignore[method-assign]
    if args.profile:
        profile(args.profile)
        return
    if args.itemise:
        itemise(args.itemise)
        return
    cases = _geometry_cases(args.repeats) if args.every_geometry else _cases(args.repeats, args.rounds)
    for label, plain, randomised in cases:
        plain.reset(seed=0)
        plain_times, random_times = [], []
        for _ in range(args.rounds):
            plain_times.append(per_call(plain.reset, args.repeats))
            random_times.append(per_call(randomised, args.repeats))
        ratios = np.array(random_times) / np.array(plain_times)
        print(
            f"{label:40s} plain {min(plain_times) * 1e6:7.1f} us   randomised {min(random_times) * 1e6:7.1f} us   "
            f"ratio best {ratios.min():5.2f}  median {np.median(ratios):5.2f}"
        )


if __name__ == "__main__":
    main()
