"""
How :func:`~robust_envs.evaluation.runner.evaluate_robustness` spreads its episodes over workers.

The work is cut into tasks of one cell and a range of its episodes (:func:`plan_chunks`), of nearly equal size, so
that no worker idles while another finishes one slow cell. The tasks are handed out as workers free up, by a
process pool (:func:`run_processes`) or by Ray (:func:`run_ray`), and their results are put back in cell and
episode order. Episode ``i`` of a cell is reset with ``seed + i`` whichever task runs it, so every back-end, number
of workers and chunking gives the same report, bit for bit.

A worker keeps the policy and one env between its tasks: the policy is sent to it once per evaluation (a process
pool's initializer, or a Ray object fetched once per worker), and each task resets the env with its episodes'
seeds and cell, which starts every episode from the same state as a fresh env would.

Ray is imported only by :func:`run_ray` (and :func:`check_ray_address` imports nothing).
"""

from __future__ import annotations

import math
import os
import pickle
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from robust_envs.evaluation.policies import as_policy

#: A task: ``(policy, env_id, make_kwargs, cell, n_episodes, seed, deterministic)``; episode ``i`` uses ``seed + i``.
Task = tuple[Any, str, dict[str, Any], dict[str, float], int, int, bool]
#: The returns and lengths of a task's episodes, in order.
Result = tuple[list[float], list[int]]

#: The automatic chunking cuts cells no further than this many tasks per worker (a task never spans two cells).
MAX_TASKS_PER_WORKER = 64

#: ``ray_address`` values besides ``host:port`` and ``ray://host:port``.
RAY_ADDRESS_WORDS = ("auto", "local")
_HOST_PORT = re.compile(r"(ray://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9_.-]*):[0-9]{1,5}")


class Chunk(NamedTuple):
    """Episodes ``start, ..., stop - 1`` of cell ``cell`` (a task of the parallel back-ends)."""

    cell: int
    start: int
    stop: int


def plan_chunks(n_cells: int, n_episodes: int, workers: int, episodes_per_task: int | None = None) -> list[Chunk]:
    """
    Cut ``n_cells`` cells of ``n_episodes`` episodes into tasks of nearly equal size.

    By default every cell is cut into ``workers`` chunks (fewer if it has fewer episodes), so the episodes of one slow
    cell can run on every worker at once; but into fewer where that would make more than :data:`MAX_TASKS_PER_WORKER`
    tasks per worker (a large grid's cells stay whole, a task each). The chunks of a cell differ by at most one
    episode.

    :param n_cells: the number of cells (>= 1)
    :param n_episodes: episodes per cell (>= 1)
    :param workers: the workers the tasks are for (>= 1)
    :param episodes_per_task: the most episodes in one task instead (``None``: automatic)
    :return: the chunks, cell by cell, episodes in order within a cell
    """
    if episodes_per_task is None:
        pieces = max(1, min(n_episodes, workers, (MAX_TASKS_PER_WORKER * workers) // n_cells))
    else:
        pieces = math.ceil(n_episodes / min(episodes_per_task, n_episodes))
    bounds = [n_episodes * k // pieces for k in range(pieces + 1)]
    return [Chunk(cell, bounds[k], bounds[k + 1]) for cell in range(n_cells) for k in range(pieces)]


def merge_chunks(chunks: Sequence[Chunk], results: Sequence[Result], n_cells: int) -> list[Result]:
    """
    :param chunks: what :func:`plan_chunks` returned
    :param results: each chunk's returns and lengths, in the order of ``chunks``
    :param n_cells: the number of cells
    :return: each cell's returns and lengths, episodes in order
    """
    cells: list[Result] = [([], []) for _ in range(n_cells)]
    for chunk, (returns, lengths) in sorted(zip(chunks, results, strict=True), key=lambda pair: pair[0]):
        cells[chunk.cell][0].extend(returns)
        cells[chunk.cell][1].extend(lengths)
    return cells


def run_episodes(env: Any, policy: Any, deterministic: bool, cell: dict[str, float], seed: int, n: int) -> Result:
    """
    Run ``n`` episodes of ``policy`` in ``env``; episode ``i`` is reset with ``seed + i`` and ``options={"params": cell}``.

    A callable policy with a ``seed`` method (not an SB3 model, whose ``seed`` seeds its training) is re-seeded
    with every episode's seed first.

    :param env: a robust env
    :param policy: what :func:`~robust_envs.evaluation.policies.as_policy` takes
    :param deterministic: passed to an SB3 model's ``predict``
    :param cell: the episodes' parameters (partial: completed against the env's base values)
    :param seed: the first episode's seed
    :param n: the number of episodes
    :return: the returns and lengths of the episodes
    """
    act = as_policy(policy, deterministic)
    reseed: Callable[[int], Any] | None = None
    if not hasattr(policy, "predict") and callable(getattr(policy, "seed", None)):
        reseed = policy.seed
    returns, lengths = [], []
    for i in range(n):
        episode_seed = seed + i
        if reseed is not None:
            reseed(episode_seed)
        obs, _ = env.reset(seed=episode_seed, options={"params": cell})
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            steps += 1
            done = bool(terminated or truncated)
        returns.append(total)
        lengths.append(steps)
    return returns, lengths


# ---- the worker side: what a worker keeps between its tasks ---------------------------------------------------------
#: ``policy``, ``policy_token``, ``env``, ``env_token``: this worker's policy and env, and the evaluation they belong to.
_WORKER: dict[str, Any] = {}

#: A task as it is sent to a worker: ``(token, env_id, make_kwargs, cell, n_episodes, seed, deterministic)``.
Payload = tuple[str, str, dict[str, Any], dict[str, float], int, int, bool]


def _payloads(tasks: Sequence[Task], chunks: Sequence[Chunk], token: str) -> list[Payload]:
    out = []
    for chunk in chunks:
        _, env_id, make_kwargs, cell, _, seed, deterministic = tasks[chunk.cell]
        out.append((token, env_id, make_kwargs, cell, chunk.stop - chunk.start, seed + chunk.start, deterministic))
    return out


def _one_thread_per_worker() -> None:
    """Unless the user chose otherwise, one math thread per worker (as Ray does), so workers do not oversubscribe."""
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
        torch = sys.modules.get("torch")  # read at torch's import; already imported by a re-run __main__, say
        if torch is not None:
            torch.set_num_threads(1)


def _init_process(policy_bytes: bytes, token: str) -> None:
    """Process-pool initializer: the evaluation's policy, unpickled once per worker."""
    _one_thread_per_worker()
    _WORKER["policy"] = pickle.loads(policy_bytes)
    _WORKER["policy_token"] = token


def _worker_env(token: str, env_id: str, make_kwargs: dict[str, Any]) -> Any:
    """:return: this worker's env for the evaluation ``token`` (made at its first task, closing an older one)."""
    if _WORKER.get("env_token") != token:
        import gymnasium as gym

        import robust_envs  # noqa: F401  (registers the ids in a fresh process)

        old = _WORKER.pop("env", None)
        _WORKER.pop("env_token", None)
        if old is not None:
            old.close()
        _WORKER["env"] = gym.make(env_id, **make_kwargs)
        _WORKER["env_token"] = token
    return _WORKER["env"]


def _run_chunk(payload: Payload) -> Result:
    """Worker: one task's episodes, with the worker's policy and env (module level, so spawned processes import it)."""
    token, env_id, make_kwargs, cell, n, seed, deterministic = payload
    env = _worker_env(token, env_id, make_kwargs)
    return run_episodes(env, _WORKER["policy"], deterministic, cell, seed, n)


def _run_chunk_ray(policy_box: list[Any], payload: Payload) -> Result:
    """
    Ray task: :func:`_run_chunk`, fetching the policy the first time this worker meets the evaluation.

    The policy's reference comes in a list, so that Ray does not resolve (and unpickle) it for every task.
    """
    if _WORKER.get("policy_token") != payload[0]:
        import ray

        _WORKER["policy"] = ray.get(policy_box[0])
        _WORKER["policy_token"] = payload[0]
    return _run_chunk(payload)


# ---- the process pool -------------------------------------------------------------------------------------------------
def run_processes(
    tasks: Sequence[Task], workers: int, policy_bytes: bytes, episodes_per_task: int | None = None
) -> list[Result]:
    """
    Run the tasks' episodes in a pool of ``workers`` spawned processes, chunked by :func:`plan_chunks`.

    :param tasks: one task per cell, all with the same policy, env, episode count, seed and flag
    :param workers: the number of processes (>= 2)
    :param policy_bytes: the policy, pickled (each worker unpickles it once)
    :param episodes_per_task: the most episodes per task (``None``: automatic)
    :return: each cell's returns and lengths, in the order of ``tasks``
    :raises RuntimeError: a worker process died
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    chunks = plan_chunks(len(tasks), tasks[0][4], workers, episodes_per_task)
    token = uuid.uuid4().hex
    payloads = _payloads(tasks, chunks, token)
    results: list[Any] = [None] * len(chunks)
    # spawn: safe with threads (torch, MuJoCo rollout pools) in the parent; needs the caller's
    # script guarded by `if __name__ == "__main__":`
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_process,
        initargs=(policy_bytes, token),
    )
    try:
        futures = {pool.submit(_run_chunk, payload): k for k, payload in enumerate(payloads)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    except BrokenProcessPool as exc:
        pool.shutdown(cancel_futures=True)
        raise RuntimeError(
            "A worker process died. Workers are spawned: they re-import the calling script, which must be a file "
            "(not piped through stdin) guarded by `if __name__ == '__main__':`; otherwise use n_workers=1."
        ) from exc
    except BaseException:
        pool.shutdown(cancel_futures=True)  # the running tasks finish, the queued ones never start
        raise
    pool.shutdown()
    return merge_chunks(chunks, results, len(tasks))


# ---- Ray --------------------------------------------------------------------------------------------------------------
def check_ray_address(address: Any, name: str = "ray_address") -> None:
    """
    :param address: what a caller gave as the Ray cluster to join
    :param name: how the message names it (``ray_address``, ``RAY_ADDRESS``, ``--ray-address``)
    :raises TypeError: not a string
    :raises ValueError: not ``"auto"``, ``"local"``, ``"host:port"`` or ``"ray://host:port"``
    """
    if not isinstance(address, str):
        raise TypeError(
            f"{name} must be a string such as 'auto' or 'host:port' (or None: a local Ray instance), "
            f"got {address!r} ({type(address).__name__})"
        )
    if address not in RAY_ADDRESS_WORDS and not _HOST_PORT.fullmatch(address):
        raise ValueError(
            f"{name} {address!r} is not a Ray address; allowed: 'auto' (the cluster `ray start` runs on this machine), "
            "'local' (a new local instance), 'host:port' (a cluster's head, e.g. '10.0.0.1:6379') or "
            "'ray://host:port' (Ray Client)"
        )


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs ray: pip install 'robust-rl[ray]'") from exc
    return ray


def _cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@contextmanager
def ray_session(address: str | None, workers: int) -> Iterator[int]:
    """
    Make sure Ray is initialised while the block runs; undo only what this call did.

    - Ray already initialised in this process: used as it is, and left running;
    - ``address`` (or, when it is ``None``, the ``RAY_ADDRESS`` environment variable) names a cluster: joined, and
      left at the end (the cluster keeps running; nothing is passed that only a new instance takes);
    - otherwise, or with ``address="local"``: a new local instance with ``workers`` CPUs, shut down at the end.

    :param address: ``None``, ``"auto"``, ``"local"``, ``"host:port"`` or ``"ray://host:port"``
    :param workers: the CPUs of a new local instance
    :return: (yields) the CPUs the tasks can use: ``workers``, or the cluster's CPUs
    :raises ImportError: ray is not installed
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield _cluster_cpus(ray)
        return
    if address is None:
        address = os.environ.get("RAY_ADDRESS") or None
    if address is None or address == "local":
        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        width = workers
    else:
        # joining: num_cpus (and the other settings of a new instance) are an error; Ray Client takes few options
        ray.init(address=address, **({} if address.startswith("ray://") else {"log_to_driver": False}))
        width = _cluster_cpus(ray)
    try:
        yield width
    finally:
        ray.shutdown()  # after joining, this only disconnects


def run_ray(
    tasks: Sequence[Task], workers: int, address: str | None = None, episodes_per_task: int | None = None
) -> list[Result]:
    """
    Run the tasks' episodes as Ray tasks (one CPU each), chunked by :func:`plan_chunks` for the CPUs there are.

    Ray starts each task when a CPU frees up; the results are collected as they finish (:func:`ray.wait`). After
    an error the tasks that have not started are cancelled.

    :param tasks: one task per cell, all with the same policy, env, episode count, seed and flag
    :param workers: the CPUs of a local instance (see :func:`ray_session`)
    :param address: the cluster to join (see :func:`ray_session`)
    :param episodes_per_task: the most episodes per task (``None``: automatic)
    :return: each cell's returns and lengths, in the order of ``tasks``
    :raises ImportError: ray is not installed
    """
    with ray_session(address, workers) as width:
        import ray

        chunks = plan_chunks(len(tasks), tasks[0][4], width, episodes_per_task)
        payloads = _payloads(tasks, chunks, uuid.uuid4().hex)
        remote = ray.remote(num_cpus=1, max_retries=2)(_run_chunk_ray)
        policy_box = [ray.put(tasks[0][0])]  # stored once; each worker fetches it once
        refs = [remote.remote(policy_box, payload) for payload in payloads]
        position = {ref: k for k, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = refs
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                if pending:  # and whatever else has finished meanwhile
                    more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                    done += more
                for ref, result in zip(done, ray.get(done), strict=True):
                    results[position[ref]] = result
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return merge_chunks(chunks, results, len(tasks))
