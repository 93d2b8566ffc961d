"""
Keep generated datasets in the repository as their actions, and restore them on a new machine in seconds.

``benchmarks/generate_d4rl_datasets.py`` spends hours of SAC to make a level (about 1.5 h on this 2-core machine for
Hopper's medium-replay), and the datasets themselves are too large to commit (86 MB for medium-replay's
169,850 steps, with the parameters and physics state of every step). A session's machine starts empty, so the offline
reproductions would otherwise begin every session by regenerating their data. Instead, once a level is made,
``--save`` writes it with :func:`robust_envs.datasets.save_actions` (each episode's start and actions: 2.1 MB for
medium-replay) to ``benchmarks/data/datasets/<namespace>__<name>.npz``, with a JSON of everything ``create_dataset`` was given
(description, references, requirements, metadata), this project's metadata section as written (versions included)
and the SHA-256 of the arrays as loaded back (the figure the generator's summary records). Restoring re-creates the
episodes by stepping the env again (:func:`robust_envs.datasets.replay_actions`), writes the Minari dataset with
that metadata (Minari's own fields, such as ``minari_version`` and ``dataset_size``, describe the restored files),
loads it back and checks the SHA-256; a mismatch (a MuJoCo build that rounds differently) deletes what was written
and stops.

Run::

    MINARI_DATASETS_PATH=<data> python -m benchmarks.restore_datasets                  # every kept dataset missing here
    MINARI_DATASETS_PATH=<data> python -m benchmarks.restore_datasets robust/hopper-medium-replay-v0
    MINARI_DATASETS_PATH=<data> python -m benchmarks.restore_datasets --save robust/hopper-medium-replay-v0
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

import robust_envs
import robust_envs.datasets as rd
from robust_envs.datasets.episodes import Episode, Episodes, episodes_checksum
from robust_envs.datasets.storage import METADATA_KEY, dataset_path

#: Where the kept datasets go (committed).
KEPT = Path(__file__).resolve().parent / "data" / "datasets"
#: The keys of the project's metadata section that ``create_dataset`` computes (the rest was its ``metadata``).
COMPUTED_SECTION_KEYS = (
    "metadata_version", "robust_rl_version", "provenance", "infos", "param_names", "state_size", "d4rl_reference",
)  # fmt: skip
#: Minari's metadata fields that ``create_dataset`` takes as arguments.
CREATE_FIELDS = ("algorithm_name", "author", "author_email", "code_permalink", "description", "ref_min_score",
                 "ref_max_score", "requirements")  # fmt: skip


def kept_stem(dataset_id: str) -> str:
    """:return: the file stem of a kept dataset (``robust/hopper-medium-replay-v0`` -> ``robust__hopper-medium-replay-v0``)"""
    return dataset_id.replace("/", "__")


def episodes_of(dataset_id: str) -> tuple[Episodes, dict[str, Any], dict[str, Any]]:
    """
    :return: a local dataset's episodes as loaded back (with their reset seeds and the env spec), the arguments
        ``create_dataset`` was given, and the project's metadata section as written
    """
    dataset = rd.load(dataset_id)
    metadata = dataset.storage.metadata
    section = metadata[METADATA_KEY]
    seeds = [row.get("seed") for row in dataset.storage.get_episode_metadata(range(dataset.total_episodes))]
    episodes = tuple(
        Episode(e.observations, e.actions, e.rewards, e.terminations, e.truncations, e.infos, seed=seed)
        for e, seed in zip(dataset.iterate_episodes(), seeds, strict=True)
    )
    create = {key: metadata[key] for key in CREATE_FIELDS if metadata.get(key) is not None}
    create["metadata"] = {key: value for key, value in section.items() if key not in COMPUTED_SECTION_KEYS}
    return Episodes(dataset.env_spec, episodes, section["provenance"]), create, section


def save(dataset_id: str, folder: Path = KEPT) -> Path:
    """Keep a local dataset as its actions: :return: the JSON written beside the ``.npz``."""
    episodes, create, section = episodes_of(dataset_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kept_stem(dataset_id)}.json"
    record = {
        "dataset_id": dataset_id,
        # over the arrays exactly as Minari loads them, as the generator's summary takes it
        "sha256": episodes_checksum(rd.load(dataset_id).iterate_episodes()),
        "steps": episodes.total_steps,
        "episodes": len(episodes),
        "actions_file": f"{kept_stem(dataset_id)}.npz",
        "create_dataset": create,
        "metadata_section": section,
    }
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    actions = rd.save_actions(episodes, folder / record["actions_file"])  # re-created once before it is kept
    temporary.replace(path)
    print(f"{dataset_id}: kept as {actions} ({actions.stat().st_size / 1e6:.1f} MB) and {path.name}", flush=True)
    return path


def restore(record_path: Path) -> str:
    """
    Re-create one kept dataset under Minari's data path (skipped when it is there with the same arrays).

    :return: what was done, in words
    :raises SystemExit: the dataset exists with other arrays, or the re-created one does not match (removed again)
    """
    record = json.loads(record_path.read_text())
    dataset_id = record["dataset_id"]
    if dataset_path(dataset_id).joinpath("data").is_dir():
        found = episodes_checksum(rd.load(dataset_id).iterate_episodes())
        if found != record["sha256"]:
            raise SystemExit(f"{dataset_id} exists here with other data (SHA-256 {found}, kept {record['sha256']})")
        return f"{dataset_id}: present, same data"
    start = time.perf_counter()
    episodes = rd.replay_actions(record_path.with_name(record["actions_file"]))
    dataset = rd.create_dataset(dataset_id, episodes, **record["create_dataset"])
    dataset.storage.update_metadata({METADATA_KEY: record["metadata_section"]})  # as written, versions included
    found = episodes_checksum(rd.load(dataset_id).iterate_episodes())
    if found != record["sha256"]:
        shutil.rmtree(dataset_path(dataset_id), ignore_errors=True)
        raise SystemExit(f"{dataset_id}: restored data differ from the kept (SHA-256 {found} vs {record['sha256']})")
    return f"{dataset_id}: restored, {record['steps']} steps, SHA-256 checked ({time.perf_counter() - start:.0f} s)"


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Restore the kept datasets (all, or those named), or ``--save`` local ones; :return: the lines printed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("dataset_ids", nargs="*", help="default: every kept dataset (restore)")
    parser.add_argument("--save", action="store_true", help="keep these local datasets as their actions")
    parser.add_argument("--folder", type=Path, default=KEPT, help=f"the kept datasets' folder (default {KEPT})")
    args = parser.parse_args(argv)
    gym.register_envs(robust_envs)
    if args.save:
        if not args.dataset_ids:
            parser.error("--save needs the ids of the local datasets to keep")
        return [str(save(dataset_id, args.folder)) for dataset_id in args.dataset_ids]
    records = sorted(args.folder.glob("*.json"))
    if args.dataset_ids:
        wanted = {kept_stem(dataset_id) for dataset_id in args.dataset_ids}
        missing = wanted - {path.stem for path in records}
        if missing:
            parser.error(f"not kept in {args.folder}: {sorted(missing)}; kept: {[path.stem for path in records]}")
        records = [path for path in records if path.stem in wanted]
    if not records:
        print(f"no kept datasets in {args.folder}", flush=True)
    lines = []
    for path in records:
        lines.append(restore(path))
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
