"""
Parallel efficiency of :func:`~robust_envs.evaluation.evaluate_robustness` on each back-end (issue 16).

A 1024-episode Hopper grid: ``RobustHopper-v0``, 8 torso densities x 8 frictions = 64 cells, 16 episodes each, a
fixed policy (``zero``, default: episodes of about 150 steps until the hopper falls; or ``random``, seeded per
episode: about 20 steps). For each back-end and number of workers ``n`` the wall time ``t_n`` of the call is
measured; efficiency = ``t_1 / (n t_n)`` with ``t_1`` the same back-end's time on one worker (target: at least 0.9
on 2 workers, 0.75 on 16).

- ``process``: ``n_workers=1`` runs in this process (what a one-worker call does); ``n > 1`` spawns the pool inside
  the timed call (its start-up is part of ``t_n``);
- ``ray``: a Ray instance with ``n`` CPUs is started first, the way a cluster is up before its jobs, and warmed up
  with one small evaluation (its workers import the package); the timed call joins it. The start-up (``ray.init``
  and the warm-up) is reported on its own.

Rounds interleave the configurations, so that load from other jobs hits all alike; the table gives the medians (and
the best rounds). Every report is checked to be identical, bit for bit, to the first serial one.

On a machine shared with other jobs the wall times measure the share of the cores the workers got as much as the
back-end, so the CPU time of the call is measured too: this process's and its children's (the pool's workers, or the
Ray instance's processes: its workers, raylet and GCS). ``CPU efficiency = cpu_1 / cpu_n`` is the part of the
parallel run's CPU time that is the serial work (1: no overhead), an upper bound on the wall-time efficiency that
a quiet machine would show.

Run: ``python -m benchmarks.bench_ray_scaling --rounds 3 --workers 1 2``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "RobustHopper-v0"
GRID = {"torso_density": list(np.linspace(500.0, 2000.0, 8)), "friction": list(np.linspace(0.5, 1.5, 8))}


def _policy(name: str) -> Any:
    from robust_envs.cli import RandomPolicy, ZeroPolicy

    if name == "zero":
        return ZeroPolicy((3,))
    return RandomPolicy(np.full(3, -1.0, dtype=np.float32), np.full(3, 1.0, dtype=np.float32), seed=0)


def _cpu_seconds() -> dict[int, float]:
    """
    :return: user + system CPU seconds of this process, of its reaped children (key 0), and of each live descendant
        (read from ``/proc``: Linux)
    """
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    parents, seconds = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])  # state, ppid, ...; utime and stime are fields 14 and 15
            seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    mine, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in mine]
        mine.update(children)
        frontier += children
    out = {pid: seconds[pid] for pid in mine if pid in seconds}
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    out[0] = reaped.ru_utime + reaped.ru_stime
    return out


def _cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def _evaluate(policy: str, episodes: int, workers: int, backend: str) -> tuple[Any, float, float]:
    """:return: the report, the wall time of the call and the CPU time it took (this process and its children)"""
    from robust_envs.evaluation import evaluate_robustness

    before = _cpu_seconds()
    start = time.perf_counter()
    report = evaluate_robustness(_policy(policy), ENV_ID, GRID, n_episodes=episodes, n_workers=workers, backend=backend)
    seconds = time.perf_counter() - start
    return report, seconds, _cpu_between(before, _cpu_seconds())


def _ray_run(policy: str, episodes: int, workers: int) -> tuple[Any, float, float, float]:
    """:return: the report, the wall and CPU time of the call, and the start-up (``ray.init`` and a warm-up) before it"""
    import ray

    from robust_envs.evaluation import evaluate_robustness

    start = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        # every worker imports the package and makes its env (one episode per task, one task per CPU)
        evaluate_robustness(
            _policy(policy), ENV_ID, {"friction": [1.0]}, n_episodes=workers, backend="ray", episodes_per_task=1
        )
        startup = time.perf_counter() - start
        report, seconds, cpu = _evaluate(policy, episodes, workers, "ray")
    finally:
        ray.shutdown()
    return report, seconds, cpu, startup


def main() -> None:
    """Time every (back-end, workers) configuration per round; print the rounds and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", choices=("process", "ray"), default=["process", "ray"])
    parser.add_argument("--episodes", type=int, default=16, help="episodes per cell (64 cells)")
    parser.add_argument("--policy", choices=("zero", "random"), default="zero")
    args = parser.parse_args()
    if 1 not in args.workers:
        parser.error("--workers must include 1 (the efficiency is relative to one worker)")
    times: dict[tuple[str, int], list[float]] = {(b, n): [] for b in args.backends for n in args.workers}
    cpus: dict[tuple[str, int], list[float]] = {key: [] for key in times}
    startups: dict[int, list[float]] = {n: [] for n in args.workers}
    reference = None
    steps = 0
    for round_ in range(args.rounds):
        for backend, workers in times:
            if backend == "ray":
                report, seconds, cpu, startup = _ray_run(args.policy, args.episodes, workers)
                startups[workers].append(startup)
            else:
                report, seconds, cpu = _evaluate(args.policy, args.episodes, workers, backend)
            if reference is None:
                reference, steps = report, int(report.lengths.sum())
            assert report == reference, f"{backend} with {workers} workers: a different report"
            times[backend, workers].append(seconds)
            cpus[backend, workers].append(cpu)
            extra = f"  (Ray start-up {startup:.1f} s, not timed)" if backend == "ray" else ""
            line = f"round {round_}  {backend:7s}  {workers:2d} workers  {seconds:7.2f} s wall  {cpu:7.2f} s CPU{extra}"
            print(line, flush=True)
    assert reference is not None
    print(
        f"\n{ENV_ID}, 64 cells x {args.episodes} episodes = {reference.returns.size} episodes, {steps} env steps, "
        f"policy {args.policy}; every report identical to the first\n"
    )
    print(
        "| back-end | workers | wall time, median (best) | speed-up | efficiency t1 / (n tn), median (best) "
        "| CPU time, median | CPU efficiency cpu1 / cpun |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends:
        one, one_cpu = np.array(times[backend, 1]), np.median(cpus[backend, 1])
        for workers in args.workers:
            mine, cpu = np.array(times[backend, workers]), np.median(cpus[backend, workers])
            median = float(np.median(one) / np.median(mine))
            best = float(one.min() / mine.min())
            print(
                f"| {backend} | {workers} | {np.median(mine):.1f} s ({mine.min():.1f} s) | {median:.2f}x "
                f"| {median / workers:.2f} ({best / workers:.2f}) | {cpu:.1f} s | {one_cpu / cpu:.2f} |"
            )
    if "ray" in args.backends:
        ups = ", ".join(f"{n} CPUs {np.median(s):.1f} s" for n, s in startups.items())
        print(f"\nRay start-up (ray.init and a warm-up evaluation), median: {ups}")


if __name__ == "__main__":
    main()
