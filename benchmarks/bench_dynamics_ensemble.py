"""
One model-rollout step of the dynamics ensemble: all members in one batched call vs a Python loop over members.

The ensemble is RAMBO's (7 members, 4 hidden layers of 200 units, swish) sized for Hopper (11-d observations,
3-d actions), its input normaliser fitted on random data. Two sides, on the same inputs and weights:

- **batched**: :meth:`GaussianEnsemble.forward` on all rows, every member in one ``torch.baddbmm`` per layer;
- **batched_chunks**: :meth:`GaussianEnsemble.predict_distribution`, the path of ``predict``: the same batched
  call on 512 rows at a time, so that all members' activations stay in cache on a CPU;
- **loop**: the same members run one after another on all rows, each a chain of ``torch.addmm`` on its slice of
  the weights (what an ensemble of separate ``nn.Sequential`` networks does), outputs stacked.

Each side's figure is its best round of CPU time (``time.process_time``: other jobs on the machine steal wall
time, not CPU time); the sides alternate (batched, loop, batched, ...) in the same process. The full
:meth:`GaussianEnsemble.predict` step (checks, forward, random elite per row, Gaussian sample, NumPy output) is
timed too. ``--rows`` takes several sizes: 50 000 is RAMBO's rollout batch, 256 its adversarial batch.

Run: ``python -m benchmarks.bench_dynamics_ensemble --rounds 5``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch as th

from robust_sb3.common.dynamics import GaussianEnsemble
from robust_sb3.common.dynamics.network import soft_clamp


def loop_forward(ensemble: GaussianEnsemble, obs: th.Tensor, act: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """Every member on its own, in a Python loop: the baseline the batched layout replaces."""
    net = ensemble.network
    x = ensemble.input_normalizer(th.cat((obs, act), dim=1))
    means, logvars = [], []
    for e in range(ensemble.n_members):
        h = x
        for layer in net.layers[:-1]:
            h = net.activation(th.addmm(layer.bias[e], h, layer.weight[e]))
        out = th.addmm(net.layers[-1].bias[e], h, net.layers[-1].weight[e])
        means.append(out[:, : ensemble.out_dim])
        logvars.append(soft_clamp(out[:, ensemble.out_dim :], net.min_logvar, net.max_logvar))
    return th.stack(means), th.stack(logvars)


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats


def measure(ensemble: GaussianEnsemble, rows: int, rounds: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    obs_np = rng.normal(size=(rows, ensemble.obs_dim)).astype(np.float32)
    act_np = rng.uniform(-1.0, 1.0, size=(rows, ensemble.action_dim)).astype(np.float32)
    obs, act = th.as_tensor(obs_np), th.as_tensor(act_np)
    repeats = max(1, 20_000 // rows)  # small batches: average several calls per round
    with th.no_grad():
        batched_mean, _ = ensemble(obs, act)
        assert th.equal(batched_mean, loop_forward(ensemble, obs, act)[0]), "the sides must compute the same means"
        assert th.equal(batched_mean, ensemble.predict_distribution(obs, act)[0]), "the sides must compute the same means"
        sides: dict[str, Callable[[], object]] = {
            "batched": lambda: ensemble(obs, act),
            "batched_chunks": lambda: ensemble.predict_distribution(obs, act),
            "loop": lambda: loop_forward(ensemble, obs, act),
            "predict": lambda: ensemble.predict(obs_np, act_np),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, fn in sides.items():
                times[name].append(cpu_seconds(fn, repeats))
    best = {name: min(values) for name, values in times.items()}
    return {
        "rows": rows,
        "batched_ms": 1000 * best["batched"],
        "batched_chunks_ms": 1000 * best["batched_chunks"],
        "loop_ms": 1000 * best["loop"],
        "loop_over_batched": best["loop"] / best["batched"],
        "loop_over_batched_chunks": best["loop"] / best["batched_chunks"],
        "median_loop_over_batched": float(np.median(times["loop"]) / np.median(times["batched"])),
        "median_loop_over_batched_chunks": float(np.median(times["loop"]) / np.median(times["batched_chunks"])),
        "predict_ms": 1000 * best["predict"],
        "predict_states_per_s": rows / best["predict"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 256])
    parser.add_argument("--members", type=int, default=7)
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200, 200, 200])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: on a shared machine more threads only spin)")
    args = parser.parse_args()
    th.set_num_threads(args.threads)
    ensemble = GaussianEnsemble(
        11, 3, n_members=args.members, n_elites=min(5, args.members), hidden_sizes=args.hidden, seed=0, device="cpu"
    )
    ensemble.input_normalizer.fit(th.randn(1000, 14, generator=th.Generator().manual_seed(0)))
    results = [measure(ensemble, rows, args.rounds, seed=i) for i, rows in enumerate(args.rows)]
    print(json.dumps({"settings": vars(args), "torch": th.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
