"""Issue 14's experiment scripts at their smallest: benchmarks/generate_d4rl_datasets.py and ddr_mpo_reproduction.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

th = pytest.importorskip("torch")
pytest.importorskip("minari")

import robust_envs.datasets as rd  # noqa: E402
from benchmarks import ddr_mpo_reproduction, generate_d4rl_datasets  # noqa: E402
from robust_envs.datasets.storage import METADATA_KEY  # noqa: E402

pytestmark = pytest.mark.sb3

RUN_KEYS = {"agent", "seed", "cells", "returns", "cell_means", "train_values", "holdout_values", "config", "dataset_size"}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Datasets under the test's own Minari path; one torch thread (the scripts set it), restored afterwards."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    threads = th.get_num_threads()
    yield
    th.set_num_threads(threads)


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_generate_d4rl_datasets_smallest(tmp_path):
    argv = [
        "--sac-steps", "400", "--learning-starts", "100", "--checkpoint-every", "200", "--eval-episodes", "1",
        "--level-steps", "100", "--ref-episodes", "2", "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    generate_d4rl_datasets.main(argv)
    summary = json.loads((tmp_path / "out" / "hopper_seed0.json").read_text())
    assert {"setting", "generator", "training", "references", "levels"} <= set(summary)
    assert [c["step"] for c in summary["training"]["checkpoints"]] == [200, 400]
    assert set(summary["levels"]) == set(rd.LEVELS)
    for level, row in summary["levels"].items():
        assert row["dataset_id"] == f"robust/hopper-{level}-v0"
        assert {"steps", "episodes", "mean_return", "sha256", "d4rl_normalized_mean_return"} <= set(row)
        dataset = rd.load(row["dataset_id"])
        assert dataset.total_steps == row["steps"]
        assert dataset.storage.metadata[METADATA_KEY]["generator"]["sac_steps"] == 400
    medium = summary["training"]["medium"]["checkpoint_step"]
    assert summary["levels"]["medium-replay"]["episodes"] == next(
        c["episodes"] for c in summary["training"]["checkpoints"] if c["step"] == medium
    )
    for name in ("training.json", "replay.pkl", "references.json", "checkpoints/sac_400.zip"):
        assert (tmp_path / "work" / name).is_file()

    # a rerun trains and collects nothing: the datasets are found, checked and summarised alike
    before = _mtimes(tmp_path / "minari")
    again = generate_d4rl_datasets.main(argv)
    assert _mtimes(tmp_path / "minari") == before
    assert {k: r["sha256"] for k, r in again["levels"].items()} == {k: r["sha256"] for k, r in summary["levels"].items()}
    with pytest.raises(SystemExit, match="other settings"):  # the same work folder with another budget
        generate_d4rl_datasets.main([*argv[:1], "500", *argv[2:]])


def test_ddr_mpo_reproduction_smallest(tmp_path):
    out = tmp_path / "out"
    argv = [
        "--timesteps", "300", "--learning-starts", "100", "--sizes", "500", "--collect-steps", "500",
        "--validation-steps", "250", "--episodes", "1", "--seeds", "0", "--max-fit-steps", "2",
        "--out", str(out), "--work-dir", str(tmp_path / "work"),
    ]  # fmt: skip
    ddr_mpo_reproduction.main(argv)
    for name in ("E-MPO_seed0.json", "RE-MPO_seed0.json", "DDR-MPO_n500_seed0.json"):
        run = json.loads((out / name).read_text())
        assert RUN_KEYS <= set(run)
        assert run["train_values"] == [1.0, 1.1, 1.2] and run["holdout_values"] == [1.5, 1.6, 1.7]
        assert len(run["cell_means"]) == 6
    ddr = json.loads((out / "DDR-MPO_n500_seed0.json").read_text())
    assert ddr["dataset_size"] == 500 and ddr["config"]["robustness"] == "robust"
    assert len(ddr["model_validation"]["model_mse"]) == 3 and ddr["model_validation"]["perturbation_mse"][0] == 0.0
    # 500 transitions keep 400 for training: 2 batches of 256 per epoch, so 2 steps are 1 epoch, recorded per model
    fits = ddr["models"]["fits"]
    assert [f["epochs"] for f in fits] == [1, 1, 1] and not any(f["stopped_early"] for f in fits)
    assert all(len(f["holdout_mse"]) == 5 and f["n_train"] == 400 for f in fits)
    records = json.loads((out / "datasets.json").read_text())["records"]
    assert [r["train"]["steps"] for r in records] == [500, 500, 500]

    # resumable: a rerun runs nothing; then the summary and its chart, beside the results
    before, datasets = _mtimes(out), (out / "datasets.json").read_text()
    ddr_mpo_reproduction.main(argv)
    assert {k: v for k, v in _mtimes(out).items() if k.endswith("_seed0.json")} == {
        k: v for k, v in before.items() if k.endswith("_seed0.json")
    }
    assert (out / "datasets.json").read_text() == datasets  # rewritten from the datasets found, unchanged
    ddr_mpo_reproduction.main([*argv, "--summarize"])
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"E-MPO", "RE-MPO", "DDR-MPO n=500"}
    assert (out / "ddr_mpo_pendulum_swingup_dt0.08.png").is_file()


def test_ddr_mpo_fit_cap_is_a_budget_of_gradient_steps():
    # hand-computed: n_train = size - min(20 %, 1000); batches = ceil(n_train / 256); cap = ceil(steps / batches)
    assert ddr_mpo_reproduction.max_epochs_for(50_000, 10_000) == 53  # 49 000 rows, 192 batches
    assert ddr_mpo_reproduction.max_epochs_for(5_000, 10_000) == 625  # 4 000 rows, 16 batches
    assert ddr_mpo_reproduction.max_epochs_for(500, 10_000) == 5_000  # 400 rows, 2 batches
    assert ddr_mpo_reproduction.max_epochs_for(500, 1) == 1


def test_ddr_mpo_summary_reports_the_sample_sd_and_no_spread_for_one_seed(tmp_path):
    # hand-computed: two seeds 2 apart have the sample sd 2 / sqrt(2) = 1.414 (numpy's default ddof=0 gives 1.0)
    runs = {
        "E-MPO_seed0.json": ("E-MPO", 0, None, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]),
        "E-MPO_seed1.json": ("E-MPO", 1, None, [12.0, 22.0, 32.0, 42.0, 52.0, 62.0]),
        "DDR-MPO_n500_seed0.json": ("DDR-MPO", 0, 500, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    }
    for name, (agent, seed, size, cell_means) in runs.items():
        run = {"agent": agent, "seed": seed, "dataset_size": size, "cell_means": cell_means}
        (tmp_path / name).write_text(json.dumps(run))
    table = ddr_mpo_reproduction.summarize(ddr_mpo_reproduction.ddr_protocol(0.08, tmp_path))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["E-MPO"]["std"] == pytest.approx([2**0.5] * 6) and summary["E-MPO"]["holdout_std"] == pytest.approx(2**0.5)
    assert summary["DDR-MPO n=500"]["std"] is None and summary["DDR-MPO n=500"]["holdout_std"] is None
    lines = table.splitlines()
    cells = " | ".join(f"{mean:.1f} +- 1.4" for mean in (11, 21, 31, 41, 51, 61))
    assert lines[2] == f"| E-MPO | 0,1 | {cells} | 51.0 +- 1.4 | - | - |"
    assert lines[3] == "| DDR-MPO n=500 | 0 | 1.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 5.0 | - | - |"
    assert "+- 0.0" not in table
    assert (tmp_path / "ddr_mpo_pendulum_swingup_dt0.08.png").is_file()  # one seed: a point without an error bar
