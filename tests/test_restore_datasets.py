"""Datasets kept in the repository as their actions (``benchmarks/restore_datasets.py``): save, restore, checks."""

from __future__ import annotations

import shutil

import gymnasium as gym
import pytest

pytest.importorskip("minari")

import robust_envs.datasets as rd
from benchmarks import restore_datasets
from benchmarks.generate_d4rl_datasets import dataset_summary
from robust_envs.datasets.storage import METADATA_KEY, dataset_path

DATASET_ID = "robust/hopper-test-replay-v0"


@pytest.fixture(autouse=True)
def data_path(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


def _make_dataset() -> None:
    """A training-run replay (seeded once, then unseeded resets) written as the generator writes a level."""
    recorder = rd.EpisodeRecorder(gym.make("RobustHopper-v0", max_episode_steps=40))
    recorder.action_space.seed(0)
    recorder.reset(seed=0)
    for _ in range(300):
        _, _, terminated, truncated, _ = recorder.step(recorder.action_space.sample())
        if terminated or truncated:
            recorder.reset()
    episodes = recorder.episodes(provenance={"env_id": "RobustHopper-v0", "policy": "uniform random", "seed": 0})
    rd.create_dataset(
        DATASET_ID,
        episodes,
        algorithm_name="SB3/SAC",
        code_permalink="abc123",
        description="a test level",
        metadata={"generator": {"seed": 0, "sac_steps": 300}, "behaviour": {"until_step": 300}},
        ref_min_score=-10.0,
        ref_max_score=900.0,
    )


def test_a_kept_dataset_is_restored_with_the_same_arrays_and_metadata(tmp_path):
    _make_dataset()
    before = dataset_summary(DATASET_ID, "RobustHopper-v0")
    metadata = dict(rd.load(DATASET_ID).storage.metadata)
    record = restore_datasets.main(["--save", DATASET_ID, "--folder", str(tmp_path / "kept")])
    assert [p.split("/")[-1] for p in record] == ["robust__hopper-test-replay-v0.json"]
    shutil.rmtree(dataset_path(DATASET_ID))

    [line] = restore_datasets.main(["--folder", str(tmp_path / "kept")])
    assert line.startswith(f"{DATASET_ID}: restored, ") and "SHA-256 checked" in line
    assert dataset_summary(DATASET_ID, "RobustHopper-v0") == before
    restored = rd.load(DATASET_ID).storage.metadata
    same = set(metadata) - {"minari_version", "dataset_size", "data_format"}  # Minari's: of the restored files
    assert {"algorithm_name", "code_permalink", "description", "ref_min_score", "requirements", METADATA_KEY} <= same
    for key in same:
        assert restored[key] == metadata[key], key
    seeds = [row.get("seed") for row in rd.load(DATASET_ID).storage.get_episode_metadata(range(3))]
    assert seeds == [0, None, None]

    assert restore_datasets.main([DATASET_ID, "--folder", str(tmp_path / "kept")]) == [f"{DATASET_ID}: present, same data"]


def test_a_dataset_present_with_other_data_or_an_unknown_id_stops(tmp_path, capsys):
    _make_dataset()
    restore_datasets.main(["--save", DATASET_ID, "--folder", str(tmp_path / "kept")])
    record = tmp_path / "kept" / "robust__hopper-test-replay-v0.json"
    record.write_text(record.read_text().replace('"sha256": "', '"sha256": "0'))
    with pytest.raises(SystemExit, match="exists here with other data"):
        restore_datasets.main(["--folder", str(tmp_path / "kept")])
    with pytest.raises(SystemExit):
        restore_datasets.main(["robust/unknown-v0", "--folder", str(tmp_path / "kept")])
    error = capsys.readouterr().err
    assert "not kept in" in error and "robust__unknown-v0" in error and "kept: ['robust__hopper-test-replay-v0']" in error
    with pytest.raises(SystemExit):
        restore_datasets.main(["--save", "--folder", str(tmp_path / "kept")])
    assert "--save needs the ids of the local datasets to keep" in capsys.readouterr().err
    assert restore_datasets.main(["--folder", str(tmp_path / "empty")]) == []
    assert "no kept datasets in" in capsys.readouterr().out


def test_a_restore_that_does_not_match_the_kept_checksum_removes_what_it_wrote(tmp_path):
    _make_dataset()
    restore_datasets.main(["--save", DATASET_ID, "--folder", str(tmp_path / "kept")])
    shutil.rmtree(dataset_path(DATASET_ID))
    record = tmp_path / "kept" / "robust__hopper-test-replay-v0.json"
    record.write_text(record.read_text().replace('"sha256": "', '"sha256": "0'))
    with pytest.raises(SystemExit, match="restored data differ from the kept"):
        restore_datasets.main(["--folder", str(tmp_path / "kept")])
    assert not dataset_path(DATASET_ID).exists()
