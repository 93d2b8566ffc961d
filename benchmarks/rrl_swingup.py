"""
Section 4.2 of Morimoto and Doya (2001): robust RL (gamma = 0.22) vs standard RL (gamma = inf) on the pendulum swing-up.

Both controllers are trained identically at m = 1.0 kg, mu = 0.01 (value-gradient policy, NGnet critic) and then
evaluated, without disturber, from the hanging position at (m, mu) = (1.0, 0.01) and (3.0, 0.3). One JSON per
(controller, seed) goes to ``benchmarks/results/rrl/``; existing files are skipped, so an interrupted run resumes.
The Figure-4-style plot of theta over time goes to ``benchmarks/figures/rrl_swingup.png``.

Run: ``python benchmarks/rrl_swingup.py --seeds 0 1 2 --trials 400 --jobs 2``
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import numpy as np

import robust_envs  # noqa: F401
from robust_sb3.rrl import RRL

ROOT = pathlib.Path(__file__).resolve().parent
SETTINGS = {"nominal": {"mass": 1.0, "friction": 0.01}, "heavy": {"mass": 3.0, "friction": 0.3}}
EVAL_STEPS = 1000  # 20 s at dt = 0.02, as Fig. 4(b)
HOLD_SECONDS = 5.0
HOLD_ANGLE = 0.3  # rad


def label(gamma: float) -> str:
    return "standard" if math.isinf(gamma) else f"robust_g{gamma:g}"


def make_model(gamma: float, seed: int, max_disturbance: float) -> RRL:
    env = gym.make("RobustPendulum-v0")
    return RRL(
        env,
        gamma=gamma,
        policy="value_gradient",
        approximator="ngnet",
        tau=1.0,
        kappa=0.1,
        critic_lr=1.0,
        max_disturbance=max_disturbance,
        approximator_kwargs={"low": [-math.pi, -2 * math.pi], "high": [math.pi, 2 * math.pi], "n_centers": (15, 15)},
        input_gain="known",
        seed=seed,
    )


def swing(model: RRL, params: dict[str, float]) -> dict[str, object]:
    """Run the actor from the hanging position for 20 s; the criterion is |theta| < HOLD_ANGLE for the last 5 s."""
    env = gym.make("RobustPendulum-v0", params=params).unwrapped
    env.reset(seed=0)
    env.set_state(np.array([math.pi, 0.0, 0.0, 0.0]))
    obs = np.array([-math.pi, 0.0])
    thetas = [math.pi]
    for _ in range(EVAL_STEPS):
        action, _ = model.predict(obs, deterministic=True)
        obs, *_ = env.step(action)
        thetas.append(float(env.get_state()[0]))
    theta = np.array(thetas)
    wrapped = np.abs((theta + math.pi) % (2 * math.pi) - math.pi)
    hold = int(HOLD_SECONDS / env.dt)
    success = bool(np.all(wrapped[-hold:] < HOLD_ANGLE))
    outside = np.nonzero(wrapped >= HOLD_ANGLE)[0]
    settle = float((outside[-1] + 1) * env.dt) if success and outside.size else (0.0 if success else None)
    return {"success": success, "swing_up_time_s": settle, "theta": theta.round(5).tolist(), "dt": env.dt}


def run_one(gamma: float, seed: int, trials: int, max_disturbance: float, out_dir: str) -> str:
    path = pathlib.Path(out_dir) / f"{label(gamma)}_seed{seed}.json"
    if path.exists():
        return f"{path.name} exists, skipped"
    start = time.time()
    model = make_model(gamma, seed, max_disturbance)
    model.learn(trials * 1000)
    train_s = time.time() - start
    model.save(path.with_suffix(".zip"))
    result = {
        "controller": label(gamma),
        "gamma": "inf" if math.isinf(gamma) else gamma,
        "seed": seed,
        "trials": trials,
        "env_steps": model.num_timesteps,
        "max_disturbance": max_disturbance,
        "train_seconds": round(train_s, 1),
        "final_returns_mean_last20": float(np.mean(model.episode_returns[-20:])),
        "hyperparameters": {"tau": 1.0, "kappa": 0.1, "critic_lr": 1.0, "ngnet": "15x15 on [-pi,pi) x [-2pi,2pi]"},
        "criterion": f"|theta| < {HOLD_ANGLE} rad during the last {HOLD_SECONDS} s of a 20 s trial from hanging down",
        "evaluation": {name: swing(model, params) | {"params": params} for name, params in SETTINGS.items()},
    }
    path.write_text(json.dumps(result))
    return f"{path.name}: " + ", ".join(f"{k} {v['success']}" for k, v in result["evaluation"].items())


def summarise(out_dir: pathlib.Path, figure: pathlib.Path) -> str:
    results = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json")) if p.name != "summary.json"]
    lines = ["| controller | seed | trials | nominal (1.0, 0.01) | heavy (3.0, 0.3) |", "|---|---|---|---|---|"]
    for r in results:
        cells = []
        for name in SETTINGS:
            e = r["evaluation"][name]
            cells.append(f"held from {e['swing_up_time_s']:.2f} s" if e["success"] else "fails")
        lines.append(f"| {r['controller']} | {r['seed']} | {r['trials']} | {cells[0]} | {cells[1]} |")
    table = "\n".join(lines)
    counts = {}
    for r in results:
        for name in SETTINGS:
            key = (r["controller"], name)
            ok, n = counts.get(key, (0, 0))
            counts[key] = (ok + r["evaluation"][name]["success"], n + 1)
    (out_dir / "summary.json").write_text(json.dumps({f"{c}/{s}": v for (c, s), v in counts.items()}, indent=1))
    plot(results, figure)
    return table + "\n\n" + "\n".join(f"- {c} at {s}: {ok}/{n} seeds swing up and hold" for (c, s), (ok, n) in counts.items())


def plot(results: list[dict], figure: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"standard": "tab:blue"}
    for ax, (name, params) in zip(axes, SETTINGS.items(), strict=True):
        for r in results:
            e = r["evaluation"][name]
            t = np.arange(len(e["theta"])) * e["dt"]
            colour = colours.get(r["controller"], "tab:red")
            first = r["seed"] == min(x["seed"] for x in results if x["controller"] == r["controller"])
            ax.plot(
                t,
                np.degrees(e["theta"]),
                color=colour,
                lw=1.6 if first else 0.7,
                alpha=1 if first else 0.5,
                label=f"{r['controller']} (seed {r['seed']})" if first else None,
            )
        lo, hi = ax.get_ylim()
        for k in range(math.floor(lo / 360), math.ceil(hi / 360) + 1):
            ax.axhline(360 * k, ls="-.", color="grey", lw=0.8)
        ax.set_title(f"m = {params['mass']}, mu = {params['friction']}")
        ax.set_xlabel("time [s]")
        ax.set_ylabel("theta [deg] (0 = upright)")
        ax.legend(fontsize=8)
    fig.suptitle("Swing-up from hanging down: robust RL (red, gamma=0.22) vs standard RL (blue); thin lines: other seeds")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=400, help="20 s training trials per run")
    parser.add_argument("--gamma", type=float, default=0.22, help="robustness level of the robust controller")
    parser.add_argument("--max-disturbance", type=float, default=1.0, help="bound on |w| (N*m) of the disturber")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "results" / "rrl")
    parser.add_argument("--figure", type=pathlib.Path, default=ROOT / "figures" / "rrl_swingup.png")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [(g, s) for s in args.seeds for g in (args.gamma, math.inf)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, g, s, args.trials, args.max_disturbance, str(args.out)) for g, s in runs]
        for future in futures:
            print(future.result(), flush=True)
    print(summarise(args.out, args.figure))


if __name__ == "__main__":
    main()
