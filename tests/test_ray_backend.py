"""
The parallel back-ends of evaluate_robustness (issue 16): episodes cut into tasks, Ray clusters joined or started.

- the chunking (:func:`plan_chunks`) and its invariance: serial, process and Ray give the same report, bit for bit,
  for every chunk size, and one slow cell runs on both workers;
- ``ray_address``: its checks, and which Ray a call starts, joins or leaves alone (with a stand-in ``ray`` module);
- a multi-node cluster in this process (``ray.cluster_utils.Cluster``: a head and one worker node, one CPU each),
  joined by ``ray_address``, by ``RAY_ADDRESS``, or through a Ray the caller initialised;
- the reproduction scripts' ``--ray-address``: the runs they submit, and the helper that writes their files;
- slow: a real two-node cluster started with ``ray start`` on this machine, and a reproduction run through Ray.

The Ray tests are skipped where ray is not installed (the ``[ray]`` extra).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robust_envs.cli import RandomPolicy, ZeroPolicy
from robust_envs.evaluation import RobustnessReport, evaluate_robustness, parallel, runner
from robust_envs.evaluation.parallel import MAX_TASKS_PER_WORKER, Chunk, plan_chunks

IP = "RobustInvertedPendulum-v0"
HOPPER = "RobustHopper-v0"
#: pole length and cart size are geometry (rewritten in place): a worker's env goes through several of them
IP_GRID = {"pole_length": [0.4, 1.2], "cart_size": [0.05, 0.2]}
HOPPER_GRID = {"torso_density": [500.0, 2000.0], "friction": [0.5, 1.5]}
#: zero action: this cell's episodes last 180-280 steps, the others' 20-35
SLOW_CELL = {"pole_length": 0.3, "density": 100.0}


def _random(dim: int) -> RandomPolicy:
    return RandomPolicy(np.full(dim, -1.0, dtype=np.float32), np.full(dim, 1.0, dtype=np.float32), seed=3)


class SlowRecorder:
    """
    The zero action after a short sleep; an episode that reaches 100 steps (only the slow cell's) is logged with the
    process that runs it. Module level, so worker processes can unpickle it.
    """

    def __init__(self, log: Path, sleep: float) -> None:
        self.log, self.sleep = log, sleep
        self.episode, self.steps = -1, 0

    def seed(self, episode_seed: int) -> None:
        self.episode, self.steps = episode_seed, 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        time.sleep(self.sleep)
        self.steps += 1
        if self.steps == 100:
            with open(self.log, "a") as file:
                file.write(f"{self.episode} {os.getpid()}\n")
        return np.zeros(1, dtype=np.float32)


# ---- the chunks ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cells", "episodes", "workers", "per_task"),
    [(64, 16, 2, None), (64, 16, 16, None), (3, 5, 2, None), (1, 7, 4, None), (5, 10, 3, 4), (2, 3, 8, None), (4, 9, 1, 2)],
)
def test_chunks_cover_every_episode_once_in_order_and_nearly_equal(cells, episodes, workers, per_task):
    chunks = plan_chunks(cells, episodes, workers, per_task)
    for cell in range(cells):
        mine = [c for c in chunks if c.cell == cell]
        assert mine[0].start == 0 and mine[-1].stop == episodes
        assert all(a.stop == b.start for a, b in itertools.pairwise(mine))
        sizes = [c.stop - c.start for c in mine]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
        if per_task is not None:
            assert max(sizes) <= per_task
    assert chunks == sorted(chunks)


def test_every_cell_is_cut_for_every_worker_and_the_tasks_are_capped():
    # 2 workers: each cell in 2 tasks of 8 (128 tasks); 16 workers: one episode per task (1024 tasks)
    assert plan_chunks(64, 16, 2)[:2] == [Chunk(0, 0, 8), Chunk(0, 8, 16)]
    assert len(plan_chunks(64, 16, 2)) == 128
    assert len(plan_chunks(64, 16, 16)) == 1024
    # a large grid: cells cut no further than MAX_TASKS_PER_WORKER tasks per worker (here: not at all)
    assert MAX_TASKS_PER_WORKER == 64
    assert plan_chunks(1000, 16, 2) == [Chunk(c, 0, 16) for c in range(1000)]
    assert len(plan_chunks(64, 16, 2)) == 128 and len(plan_chunks(65, 16, 2)) == 65
    assert len(plan_chunks(200, 16, 8)) == 400  # 2 tasks per cell, not 8: 50 tasks per worker
    # one worker: one task per cell; more workers than episodes: one episode per task
    assert plan_chunks(3, 5, 1) == [Chunk(c, 0, 5) for c in range(3)]
    assert plan_chunks(1, 3, 8) == [Chunk(0, 0, 1), Chunk(0, 1, 2), Chunk(0, 2, 3)]
    # a chunk size above the cell's episodes: the whole cell
    assert plan_chunks(2, 3, 2, episodes_per_task=10) == [Chunk(0, 0, 3), Chunk(1, 0, 3)]


def test_merge_puts_chunks_back_in_episode_order():
    chunks = plan_chunks(2, 5, 2)  # (0,0,2) (0,2,5) (1,0,2) (1,2,5)... as many as planned
    results = [([float(c.cell * 10 + e) for e in range(c.start, c.stop)], list(range(c.start, c.stop))) for c in chunks]
    order = list(reversed(range(len(chunks))))  # finished in any order
    merged = parallel.merge_chunks([chunks[k] for k in order], [results[k] for k in order], 2)
    assert merged == [([0.0, 1.0, 2.0, 3.0, 4.0], [0, 1, 2, 3, 4]), ([10.0, 11.0, 12.0, 13.0, 14.0], [0, 1, 2, 3, 4])]


# ---- the process pool: the same numbers for every chunking; a slow cell split -----------------------------------------
def test_process_pool_gives_the_serial_numbers_for_every_chunk_size(monkeypatch):
    serial = evaluate_robustness(_random(1), IP, IP_GRID, n_episodes=5, seed=4, max_episode_steps=60)
    planned = []
    real_plan = parallel.plan_chunks
    monkeypatch.setattr(parallel, "plan_chunks", lambda *args: planned.append(real_plan(*args)) or planned[-1])
    for per_task in (None, 1, 3):
        report = evaluate_robustness(
            _random(1), IP, IP_GRID, n_episodes=5, seed=4, max_episode_steps=60, n_workers=2, episodes_per_task=per_task
        )
        assert report == serial, per_task
    assert [len(p) for p in planned] == [8, 20, 8]  # automatic: each cell in 2 tasks (3 + 2 episodes)


def test_one_slow_cell_is_split_over_both_workers(tmp_path):
    log = tmp_path / "log"
    grid = [SLOW_CELL, {"pole_length": 1.0}, {"pole_length": 2.0}]
    report = evaluate_robustness(SlowRecorder(log, 0.004), IP, grid, n_episodes=4, max_episode_steps=400, n_workers=2)
    assert report == evaluate_robustness(ZeroPolicy((1,)), IP, grid, n_episodes=4, max_episode_steps=400)
    assert report.lengths[0].min() > 100 and report.lengths[1:].max() < 100
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(episode) for episode, _ in runs) == [0, 1, 2, 3]  # the slow cell's episodes, each once
    assert len({pid for _, pid in runs}) == 2  # ran in both workers at once, not behind each other in one


def test_a_failing_worker_task_raises_in_the_caller():
    # a cell the env accepts but a worker cannot run: a policy whose action has the wrong shape
    with pytest.raises(ValueError, match=r"shape|size|broadcast"):
        evaluate_robustness(ZeroPolicy((5,)), IP, IP_GRID, n_episodes=2, max_episode_steps=5, n_workers=2)


# ---- ray_address: the checks -----------------------------------------------------------------------------------------
class Ran(Exception):
    """Raised by the stand-in runners: the evaluation got as far as running episodes."""


@pytest.fixture
def no_episodes(monkeypatch):
    def ran(*args, **kwargs):
        raise Ran

    for name in ("_run_cell", "_run_processes", "_run_ray"):
        monkeypatch.setattr(runner, name, ran)


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"ray_address": "auto"}, ValueError, ("'auto'", "backend='ray'", "'process'")),
        ({"ray_address": "auto", "n_workers": 2}, ValueError, ("'auto'", "backend='ray'")),
        ({"backend": "ray", "ray_address": 6379}, TypeError, ("6379", "int", "'auto'", "host:port")),
        ({"backend": "ray", "ray_address": b"auto"}, TypeError, ("b'auto'", "bytes")),
        ({"backend": "ray", "ray_address": ""}, ValueError, ("''", "'auto'", "'local'", "host:port", "ray://")),
        ({"backend": "ray", "ray_address": "head-node"}, ValueError, ("'head-node'", "host:port")),
        ({"backend": "ray", "ray_address": "http://head:8265"}, ValueError, ("'http://head:8265'", "ray://host:port")),
        ({"backend": "ray", "ray_address": "Auto"}, ValueError, ("'Auto'", "'auto'")),
        ({"backend": "ray", "ray_address": "head:port"}, ValueError, "'head:port'"),
        ({"episodes_per_task": 0}, ValueError, ("episodes_per_task", "0")),
        ({"episodes_per_task": 2.5, "n_workers": 2}, ValueError, ("episodes_per_task", "2.5")),
        ({"episodes_per_task": True}, ValueError, ("episodes_per_task", "True")),
    ],
)
def test_bad_ray_address_or_chunk_size_is_refused_before_anything_runs(no_episodes, kwargs, error, names):
    args = {"policy": ZeroPolicy((1,)), "env_id": IP, "grid_or_set": {"pole_length": [0.5]}, "max_episode_steps": 5}
    with pytest.raises(error) as caught:
        evaluate_robustness(**{**args, **kwargs})
    assert type(caught.value) is error
    for name in (names,) if isinstance(names, str) else names:
        assert name in str(caught.value), str(caught.value)


def test_a_bad_ray_address_variable_is_refused_when_it_would_be_used(no_episodes, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # not initialised (and not importable)
    monkeypatch.setenv("RAY_ADDRESS", "not an address")
    args = {"policy": ZeroPolicy((1,)), "env_id": IP, "grid_or_set": {"pole_length": [0.5]}, "max_episode_steps": 5}
    with pytest.raises(ValueError, match=r"RAY_ADDRESS.*'not an address'"):
        evaluate_robustness(**args, backend="ray")
    with pytest.raises(Ran):  # the process back-end does not read it, and an explicit address wins
        evaluate_robustness(**args, n_workers=2)
    with pytest.raises(Ran):
        evaluate_robustness(**args, backend="ray", ray_address="local")


@pytest.mark.parametrize(
    "address", ["auto", "local", "10.0.0.1:6379", "head-node.cluster:6379", "ray://head:10001", "[::1]:6379"]
)
def test_good_ray_addresses_reach_the_ray_runner(monkeypatch, address):
    seen = []
    monkeypatch.setattr(runner, "_run_ray", lambda tasks, workers, addr, per_task: seen.append(addr) or [([1.0], [1])])
    evaluate_robustness(ZeroPolicy((1,)), IP, [{"pole_length": 0.5}], n_episodes=1, backend="ray", ray_address=address)
    assert seen == [address]


# ---- which Ray a call starts, joins or leaves alone (a stand-in ray module) -----------------------------------------
class FakeRay:
    """Records ``init`` and ``shutdown``; reports 3 CPUs for a joined cluster."""

    def __init__(self, initialised: bool = False) -> None:
        self.calls: list[Any] = []
        self.initialised = initialised

    def is_initialized(self) -> bool:
        return self.initialised

    def init(self, **kwargs: Any) -> None:
        self.calls.append(("init", kwargs))
        self.initialised = True

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        self.initialised = False

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 3.0}


#: what ray.init gets for a new local instance with 2 CPUs
LOCAL = {"address": "local", "num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


@pytest.mark.parametrize(
    ("address", "env", "initialised", "init", "width"),
    [
        (None, None, False, LOCAL, 2),
        ("local", "10.0.0.1:6379", False, LOCAL, 2),
        (None, "10.0.0.1:6379", False, {"address": "10.0.0.1:6379", "log_to_driver": False}, 3),
        ("auto", None, False, {"address": "auto", "log_to_driver": False}, 3),
        ("head:6379", "10.0.0.1:6379", False, {"address": "head:6379", "log_to_driver": False}, 3),
        ("ray://head:10001", None, False, {"address": "ray://head:10001"}, 3),
        ("head:6379", None, True, None, 3),
    ],
)
def test_ray_session_starts_joins_or_reuses_and_undoes_only_its_own(monkeypatch, address, env, initialised, init, width):
    fake = FakeRay(initialised)
    monkeypatch.setitem(sys.modules, "ray", fake)
    if env is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", env)
    with parallel.ray_session(address, 2) as got:
        assert got == width
    if init is None:  # an initialised Ray: used as it is, left running
        assert fake.calls == [] and fake.initialised
    else:  # started or joined: num_cpus only for a new instance; shut down (a joined cluster: disconnected)
        assert fake.calls == [("init", init), "shutdown"]


# ---- Ray: a local instance and a cluster ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_module():
    """Ray, or the test is skipped; ``RAY_AUTH_MODE``, which a new local instance sets in this process, is restored."""
    ray = pytest.importorskip("ray")
    mode = os.environ.get("RAY_AUTH_MODE")
    yield ray
    if mode is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = mode


@pytest.fixture(scope="module")
def cluster(ray_module):
    """A head and one worker node, one CPU each, in this process (Ray's DeveloperAPI for multi-node tests)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray_module.is_initialized():
            ray_module.shutdown()
        cluster.shutdown()


def test_serial_process_and_a_local_ray_instance_give_identical_reports(ray_module, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    kwargs = {"n_episodes": 3, "seed": 11, "max_episode_steps": 60}
    serial = evaluate_robustness(_random(1), IP, IP_GRID, **kwargs)
    processes = evaluate_robustness(_random(1), IP, IP_GRID, n_workers=2, **kwargs)
    local = evaluate_robustness(_random(1), IP, IP_GRID, n_workers=2, backend="ray", **kwargs)
    assert processes == serial and local == serial
    assert not ray_module.is_initialized()  # the instance it started is shut down


def test_a_cluster_joined_by_address_gives_the_serial_report_and_keeps_running(ray_module, cluster):
    kwargs = {"n_episodes": 2, "seed": 5, "max_episode_steps": 100}
    serial = evaluate_robustness(_random(3), HOPPER, HOPPER_GRID, **kwargs)
    processes = evaluate_robustness(_random(3), HOPPER, HOPPER_GRID, n_workers=2, **kwargs)
    joined = evaluate_robustness(_random(3), HOPPER, HOPPER_GRID, backend="ray", ray_address=cluster.address, **kwargs)
    assert processes == serial and joined == serial
    assert not ray_module.is_initialized()  # disconnected ...
    ray_module.init(address=cluster.address)  # ... from a cluster that still runs, both nodes
    try:
        assert ray_module.cluster_resources()["CPU"] == 2.0
        assert sum(node["Alive"] for node in ray_module.nodes()) == 2
    finally:
        ray_module.shutdown()


def test_ray_address_variable_with_several_workers_joins_the_cluster(ray_module, cluster, monkeypatch):
    # before issue 16: ray.init(num_cpus=...) with RAY_ADDRESS set raised (num_cpus is refused when joining)
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    kwargs = {"n_episodes": 3, "max_episode_steps": 40}
    serial = evaluate_robustness(_random(1), IP, IP_GRID, **kwargs)
    assert evaluate_robustness(_random(1), IP, IP_GRID, backend="ray", n_workers=4, **kwargs) == serial
    assert not ray_module.is_initialized()


def test_a_ray_the_caller_initialised_is_used_and_left_running(ray_module, cluster):
    kwargs = {"n_episodes": 2, "max_episode_steps": 40}
    serial = evaluate_robustness(_random(1), IP, IP_GRID, **kwargs)
    ray_module.init(address=cluster.address)
    try:
        assert evaluate_robustness(_random(1), IP, IP_GRID, backend="ray", episodes_per_task=1, **kwargs) == serial
        assert ray_module.is_initialized()
    finally:
        ray_module.shutdown()


# ---- the reproduction scripts' --ray-address ---------------------------------------------------------------------------
def _submitted(monkeypatch, module: Any, argv: list[str]) -> list[Any]:
    from benchmarks import ray_runs

    jobs: list[Any] = []
    monkeypatch.setattr(ray_runs, "run_on_ray", lambda runs, address, describe: jobs.append((list(runs), address)))
    monkeypatch.setattr(sys, "argv", ["prog", *argv])
    module.main()
    return jobs


def test_wr2l_script_submits_one_task_per_missing_algorithm_and_seed(monkeypatch, tmp_path):
    from benchmarks import wr2l_reproduction

    (tmp_path / "ppo_seed0.json").write_text("{}")  # finished: skipped, as without the flag
    argv = ["--task", "ip1d", "--algos", "ppo", "wr2l", "--seeds", "0", "1", "--out", str(tmp_path), "--ray-address", "auto"]
    [(runs, address)] = _submitted(monkeypatch, wr2l_reproduction, argv)
    assert address == "auto"
    assert [(path.name, module, function) for path, module, function, _ in runs] == [
        ("wr2l_seed0.json", "benchmarks.wr2l_reproduction", "run_one"),
        ("ppo_seed1.json", "benchmarks.wr2l_reproduction", "run_one"),
        ("wr2l_seed1.json", "benchmarks.wr2l_reproduction", "run_one"),
    ]
    assert runs[0][3] == {"task": "ip1d", "algo": "wr2l", "seed": 0, "timesteps": 300_000}


def test_wr2l_script_s_hopper_tasks_keep_each_policy_beside_the_results(monkeypatch, tmp_path):
    from benchmarks import wr2l_reproduction

    argv = ["--task", "hopper2d", "--algos", "ppo", "--seeds", "3", "--out", str(tmp_path), "--ray-address", "auto"]
    [(runs, _)] = _submitted(monkeypatch, wr2l_reproduction, argv)
    [(path, _, _, kwargs)] = runs
    assert path == tmp_path / "ppo_seed3.json"
    assert kwargs["keep_policy"] == (tmp_path / "policies" / "ppo_seed3.zip").as_posix()


def test_mrpo_script_submits_one_task_per_missing_algorithm_and_seed(monkeypatch, tmp_path):
    from benchmarks import mrpo_reproduction

    argv = ["--task", "cartpole", "--algos", "mrpo", "--seeds", "2", "3", "--out", str(tmp_path), "--timesteps", "5000"]
    [(runs, address)] = _submitted(monkeypatch, mrpo_reproduction, [*argv, "--ray-address", "10.0.0.1:6379"])
    assert address == "10.0.0.1:6379"
    assert [path for path, *_ in runs] == [tmp_path / "cartpole_mrpo_seed2.json", tmp_path / "cartpole_mrpo_seed3.json"]
    assert runs[1][1:] == (
        "benchmarks.mrpo_reproduction",
        "run_one",
        {"task": "cartpole", "algo": "mrpo", "seed": 3, "timesteps": 5000, "points": 5, "episodes": 2, "keep_mass": False},
    )


@pytest.mark.parametrize("script", ["wr2l_reproduction", "mrpo_reproduction"])
def test_scripts_refuse_a_bad_ray_address(monkeypatch, capsys, tmp_path, script):
    import importlib

    module = importlib.import_module(f"benchmarks.{script}")
    with pytest.raises(SystemExit):
        _submitted(monkeypatch, module, ["--out", str(tmp_path), "--ray-address", "nowhere"])
    assert "--ray-address 'nowhere' is not a Ray address" in capsys.readouterr().err


def test_run_on_ray_writes_each_record_and_reports_failures(ray_module, cluster, tmp_path, capsys):
    from benchmarks.ray_runs import run_on_ray

    # builtins.dict(**kwargs) is a "run" whose record is its arguments; int(x=...) fails
    jobs = [(tmp_path / f"run{k}.json", "builtins", "dict", {"seed": k}) for k in range(3)]
    jobs.append((tmp_path / "bad.json", "builtins", "int", {"x": 1}))
    with pytest.raises(RuntimeError, match=r"1 of 4 runs failed:\n.*bad.json"):
        run_on_ray(jobs, cluster.address, lambda path, record: f"{path.name} done {record['seed']}")
    assert [json.loads((tmp_path / f"run{k}.json").read_text()) for k in range(3)] == [{"seed": k} for k in range(3)]
    assert not (tmp_path / "bad.json").exists()
    out = capsys.readouterr().out
    assert "run2.json done 2" in out and "bad.json: failed" in out
    assert not ray_module.is_initialized()


# ---- slow: a real two-node cluster on this machine; a reproduction run through Ray ----------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: The driver of the two-node test, in its own process (Ray's token state is per process): it waits for both nodes,
#: then evaluates a Hopper grid through ``ray_address`` and the slow-cell grid through ``RAY_ADDRESS``.
DRIVER = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import ray
import test_ray_backend
from robust_envs.evaluation import evaluate_robustness
from test_ray_backend import HOPPER, HOPPER_GRID, IP, SLOW_CELL, SlowRecorder, _random
ray.cloudpickle.register_pickle_by_value(test_ray_backend)  # Ray's workers cannot import it: send the class itself
address = sys.argv[1]
ray.init(address=address, log_to_driver=False)
deadline = time.monotonic() + 120
while sum(node["Alive"] for node in ray.nodes()) < 2:
    assert time.monotonic() < deadline, ray.nodes()
    time.sleep(0.5)
ray.shutdown()
hopper = evaluate_robustness(_random(3), HOPPER, HOPPER_GRID, backend="ray", ray_address=address, **{hopper_kwargs!r})
assert not ray.is_initialized()
os.environ["RAY_ADDRESS"] = address
recorder = SlowRecorder(Path(sys.argv[2]), 0.005)
slow = evaluate_robustness(recorder, IP, [SLOW_CELL, {{"pole_length": 1.0}}], backend="ray", **{slow_kwargs!r})
print(json.dumps({{"hopper": hopper.to_dict(), "slow": slow.to_dict(), "initialised": ray.is_initialized()}}))
"""


@pytest.fixture
def two_nodes(ray_module, tmp_path):
    """
    A head and a second node started by ``ray start`` (one CPU each, token authentication with a fresh token), stopped
    by signalling those two processes (``ray start --block`` then stops its node's processes).

    ``ray stop`` is not used: it stops every Ray process of the machine, other users' and sessions' included.

    :return: (yields) the head's address and the environment a driver needs (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    started: list[subprocess.Popen] = []

    def ray_start(name: str, *args: str) -> None:
        ray_cli = Path(sys.executable).with_name("ray")  # the venv's, else the one on PATH
        ray_cli = ray_cli if ray_cli.exists() else Path(shutil.which("ray") or "ray")
        options = ["--block", "--disable-usage-stats", "--num-cpus=1", f"--dashboard-agent-listen-port={_free_port()}"]
        with open(tmp_path / f"{name}.log", "w") as log:
            command = [str(ray_cli), "start", *args, *options]
            started.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))

    try:
        ray_start("head", "--head", f"--port={port}", "--include-dashboard=false")
        deadline = time.monotonic() + 120
        while True:  # the head's port answers (a driver would wait long for a head that never comes)
            assert started[0].poll() is None, (tmp_path / "head.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the head did not open its port in 120 s"
                time.sleep(0.5)
        ray_start("worker", f"--address={address}")
        yield address, env
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
        for process in reversed(started):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_a_two_node_cluster_started_with_ray_start(two_nodes, tmp_path):
    address, env = two_nodes
    hopper_kwargs = {"n_episodes": 4, "seed": 2, "max_episode_steps": 100}
    slow_kwargs = {"n_episodes": 4, "max_episode_steps": 400}
    code = DRIVER.format(tests=str(Path(__file__).parent), hopper_kwargs=hopper_kwargs, slow_kwargs=slow_kwargs)
    log = tmp_path / "slow.log"
    root = Path(__file__).resolve().parents[1]
    driver = subprocess.run(
        [sys.executable, "-c", code, address, str(log)], cwd=root, env=env, capture_output=True, text=True, timeout=400
    )
    assert driver.returncode == 0, driver.stderr[-4000:]
    out = json.loads(driver.stdout.strip().splitlines()[-1])
    assert RobustnessReport.from_dict(out["hopper"]) == evaluate_robustness(_random(3), HOPPER, HOPPER_GRID, **hopper_kwargs)
    grid = [SLOW_CELL, {"pole_length": 1.0}]
    assert RobustnessReport.from_dict(out["slow"]) == evaluate_robustness(ZeroPolicy((1,)), IP, grid, **slow_kwargs)
    assert not out["initialised"]  # joined, then left (the cluster is stopped by the fixture)
    # the slow cell's 4 episodes ran in two chunks at once, one on each node's worker
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(episode) for episode, _ in runs) == [0, 1, 2, 3]
    assert len({pid for _, pid in runs}) == 2


@pytest.mark.slow
@pytest.mark.sb3
def test_wr2l_reproduction_through_ray_writes_the_files_of_a_plain_run(tmp_path):
    root = Path(__file__).resolve().parents[1]
    base = [sys.executable, "-m", "benchmarks.wr2l_reproduction", "--task", "ip1d", "--algos", "ppo", "--timesteps", "1"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    plain = subprocess.run([*base, "--seeds", "0", "--out", str(tmp_path / "plain")], cwd=root, env=env, check=True)
    assert plain.returncode == 0
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ppo_seed1.json").write_text("{}")  # resumable: a finished run is skipped
    argv = [*base, "--seeds", "0", "1", "--out", str(tmp_path / "ray"), "--ray-address", "local"]
    through_ray = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    assert through_ray.returncode == 0, through_ray.stderr[-3000:]
    assert "ppo_seed1.json (exists)" in through_ray.stdout and "ppo_seed0.json: train" in through_ray.stdout
    plain_record = json.loads((tmp_path / "plain" / "ppo_seed0.json").read_text())
    ray_record = json.loads((tmp_path / "ray" / "ppo_seed0.json").read_text())
    for record in (plain_record, ray_record):
        record.pop("train_seconds")
    assert ray_record == plain_record
    assert (tmp_path / "ray" / "ppo_seed1.json").read_text() == "{}"
