"""
Section 4.2 of Morimoto and Doya (2001): robust RL (gamma = 0.22) vs standard RL (gamma = inf) on the pendulum swing-up.

Both controllers are trained identically at m = 1.0 kg, mu = 0.01 (``robust_sb3.rrl.swingup.make_swingup_model``:
value-gradient policy, 31 x 31 NGnet critic, 1000 trials of 20 s) and then evaluated, without disturber, from the
hanging position at (m, mu) = (1.0, 0.01) and (3.0, 0.3) for 60 s (success: |theta| < 0.3 rad during the last 10 s),
plus a catch test from near the top and the actor's feedback gains at the top. One JSON (and the model's zip) per
(controller, seed) goes to ``benchmarks/results/rrl/``; existing files are skipped, so an interrupted run resumes.
The Figure-4-style plot of theta over time goes to ``benchmarks/figures/rrl_swingup.png``.

Run (one training process at a time, about 5-10 minutes per run on a loaded core):
``nice -n 10 python -m benchmarks.rrl_swingup --seeds 0 1 2``
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import numpy as np

import robust_envs  # noqa: F401
from robust_sb3.rrl import RRL, swingup
from robust_sb3.rrl.swingup import HEAVY, NOMINAL, catches, make_swingup_model, swing_up, upright_gains

ROOT = pathlib.Path(__file__).resolve().parent
SETTINGS = {"nominal": NOMINAL, "heavy": HEAVY}
CATCH_ANGLES = (-0.1, -0.05, 0.05, 0.1)


def label(gamma: float) -> str:
    return "standard" if math.isinf(gamma) else f"robust_g{gamma:g}"


def run_one(gamma: float, seed: int, trials: int, max_disturbance: float, out_dir: pathlib.Path) -> str:
    path = out_dir / f"{label(gamma)}_seed{seed}.json"
    if path.exists():
        return f"{path.name} exists, skipped"
    start = time.time()
    model = make_swingup_model(gamma, seed, max_disturbance)
    model.learn(trials * swingup.TRIAL_STEPS)
    train_s = time.time() - start
    model.save(path.with_suffix(".zip"))
    result = {
        "controller": label(gamma),
        "gamma": "inf" if math.isinf(gamma) else gamma,
        "seed": seed,
        "trials": trials,
        "env_steps": model.num_timesteps,
        "max_disturbance": None if math.isinf(gamma) else max_disturbance,
        "train_seconds": round(train_s, 1),
        "final_returns_mean_last50": float(np.mean(model.episode_returns[-50:])),
        "setup": {
            "tau": model.tau,
            "kappa": model.kappa,
            "critic_lr": model.critic_lr,
            "ngnet": f"{swingup.N_CENTERS[0]}x{swingup.N_CENTERS[1]} on [-pi,pi) x [-2pi,2pi]",
        },
    } | evaluate(model)
    path.write_text(json.dumps(result))
    return f"{path.name} ({train_s:.0f} s): " + ", ".join(f"{k} {v['success']}" for k, v in result["evaluation"].items())


def evaluate(model: RRL) -> dict:
    """:return: the Fig. 4 runs, the catch tests and the upright gains of a trained model, with the criterion."""
    evaluation = {}
    for name, params in SETTINGS.items():
        run = swing_up(model, params)
        evaluation[name] = {
            "params": params,
            "success": run.success,
            "held_from_s": run.held_from,
            "catches": {f"{a:+g}": catches(model, params, a) for a in CATCH_ANGLES},
            "theta": run.theta.round(5).tolist(),
            "dt": run.dt,
        }
    k_theta, k_omega = upright_gains(model)
    return {
        "criterion": (
            f"from hanging at rest, |theta| < {swingup.HOLD_ANGLE} rad during the last {swingup.HOLD_SECONDS} s "
            f"of {swingup.EVAL_SECONDS} s; catches: held during the last 5 s of 10 s from theta0 at rest"
        ),
        "upright_gains": {"K_theta": k_theta, "K_omega": k_omega},
        "evaluation": evaluation,
    }


def reevaluate(out_dir: pathlib.Path) -> None:
    """Recompute the evaluation of every saved model (after a change of the criterion), keeping the training record."""
    for path in sorted(out_dir.glob("*_seed*.json")):
        result = json.loads(path.read_text()) | evaluate(RRL.load(path.with_suffix(".zip")))
        path.write_text(json.dumps(result))
        print(f"{path.name}: " + ", ".join(f"{k} {v['success']}" for k, v in result["evaluation"].items()), flush=True)


def cell(e: dict) -> str:
    return f"held from {e['held_from_s']:.1f} s" if e["success"] else "fails"


def summarise(out_dir: pathlib.Path, figure: pathlib.Path) -> str:
    results = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*_seed*.json"))]
    lines = [
        "| controller | seed | trials | m = 1.0, mu = 0.01 | m = 3.0, mu = 0.3 | heavy caught from +-0.05 / +-0.1 rad "
        "| K_theta, K_omega at the top |",
        "|---|---|---|---|---|---|---|",
    ]
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for r in results:
        ev = r["evaluation"]
        caught = sum(ev["heavy"]["catches"].values())
        gains = r["upright_gains"]
        lines.append(
            f"| {r['controller']} | {r['seed']} | {r['trials']} | {cell(ev['nominal'])} | {cell(ev['heavy'])} "
            f"| {caught}/{len(ev['heavy']['catches'])} | {gains['K_theta']:.0f}, {gains['K_omega']:.1f} |"
        )
        for name in SETTINGS:
            ok, n = counts.get((r["controller"], name), (0, 0))
            counts[(r["controller"], name)] = (ok + ev[name]["success"], n + 1)
    (out_dir / "summary.json").write_text(json.dumps({f"{c}/{s}": v for (c, s), v in counts.items()}, indent=1))
    plot(results, figure)
    tally = "\n".join(f"- {c} at {s}: {ok}/{n} seeds swing up and hold" for (c, s), (ok, n) in counts.items())
    return "\n".join(lines) + "\n\n" + tally


def plot(results: list[dict], figure: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, (name, params) in zip(axes, SETTINGS.items(), strict=True):
        for r in results:
            e = r["evaluation"][name]
            t = np.arange(len(e["theta"])) * e["dt"]
            colour = "tab:blue" if r["controller"] == "standard" else "tab:red"
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
    parser.add_argument("--trials", type=int, default=1000, help="20 s training trials per run")
    parser.add_argument("--gamma", type=float, default=swingup.GAMMA, help="robustness level of the robust controller")
    parser.add_argument("--max-disturbance", type=float, default=swingup.MAX_DISTURBANCE, help="bound on |w| (N*m)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "results" / "rrl")
    parser.add_argument("--figure", type=pathlib.Path, default=ROOT / "figures" / "rrl_swingup.png")
    parser.add_argument("--summary-only", action="store_true", help="only tabulate and plot the existing results")
    parser.add_argument("--reevaluate", action="store_true", help="re-run the evaluation of the saved models first")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.reevaluate:
        reevaluate(args.out)
    if not args.summary_only:
        # one training process at a time (the CPU is shared); the seeds run in order, robust then standard
        for seed in args.seeds:
            for gamma in (args.gamma, math.inf):
                print(run_one(gamma, seed, args.trials, args.max_disturbance, args.out), flush=True)
    print(summarise(args.out, args.figure))


if __name__ == "__main__":
    main()
