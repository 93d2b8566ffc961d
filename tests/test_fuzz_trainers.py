"""
Bad input to every trainer (MPO, RobustSAC, MRPO, EPOpt): many bad constructor arguments, each refused at construction
with a ValueError that names the argument and the bad value; and load() of truncated, corrupt and other algorithms'
files, refused with a ValueError that names the file and the algorithm expected.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zipfile

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")

from stable_baselines3 import PPO, SAC  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

import robust_envs  # noqa: E402
from robust_envs import PerturbedTransitions, UncertaintySet  # noqa: E402
from robust_sb3 import MPO, MRPO, EPOpt, RobustSAC  # noqa: E402

pytestmark = pytest.mark.sb3

PENDULUM = "RobustPendulum-v0"
MASSES = [{"mass": 1.0}, {"mass": 1.2}, {"mass": 1.4}]
MASS_RANGE = UncertaintySet.box(PENDULUM, {"mass": (1.0, 1.4)})
NAN, INF = float("nan"), float("inf")


def off_policy_small() -> dict:
    """Small everything (construction only, nothing learns here); a new dict each time: SB3 adds to policy_kwargs."""
    return {"buffer_size": 64, "policy_kwargs": {"net_arch": [8]}, "device": "cpu"}


def ppo_small() -> dict:
    """As :func:`off_policy_small`, for PPO."""
    return {"n_steps": 8, "batch_size": 8, "policy_kwargs": {"net_arch": [8]}, "device": "cpu"}


def robust_pendulum(models=MASSES) -> gym.Env:
    return PerturbedTransitions(gym.make(PENDULUM, max_episode_steps=20), models)


def pendulums(n_envs: int = 2):
    return make_vec_env(PENDULUM, n_envs=n_envs, seed=0, env_kwargs={"max_episode_steps": 8})


def names_the_value(name: str, value) -> str:
    """:return: a pattern matching a message that names the argument, then the bad value (as ``repr`` writes it)."""
    return rf"{re.escape(name)}.*{re.escape(repr(value))}"


# ---- bad constructor arguments --------------------------------------------------------------------------------
OFF_POLICY_CASES = [
    ("batch_size", 0),
    ("batch_size", -1),
    ("batch_size", 2.5),
    ("batch_size", True),
    ("batch_size", "64"),
    ("buffer_size", 0),
    ("buffer_size", -10),
    ("buffer_size", 1e6),
    ("learning_starts", -1),
    ("learning_starts", 0.5),
    ("gamma", 0.0),
    ("gamma", 1.5),
    ("gamma", -0.99),
    ("gamma", NAN),
    ("gamma", INF),
    ("gamma", None),
    ("gamma", "0.99"),
    ("train_freq", 0),
    ("train_freq", (0, "step")),
    ("train_freq", (1, "year")),
    ("train_freq", (1, "step", 2)),
    ("train_freq", "1"),
    ("gradient_steps", 0),
    ("gradient_steps", -2),
    ("gradient_steps", 1.5),
    ("learning_rate", 0.0),
    ("learning_rate", -3e-4),
    ("learning_rate", NAN),
    ("learning_rate", "fast"),
    ("robustness", "worst"),
    ("robustness", None),
]
MPO_CASES = [
    ("n_action_samples", 0),
    ("n_action_samples", 2.0),
    ("n_target_action_samples", -1),
    ("target_update_interval", 0),
    ("epsilon", -0.1),
    ("epsilon", NAN),
    ("epsilon_mean", INF),
    ("epsilon_std", -1e-5),
    ("kl_temperature", -1.0),
    ("init_eta", 0.0),
    ("init_alpha_mean", 0.0),
    ("init_alpha_std", -1.0),
    ("dual_learning_rate", NAN),
]
SAC_CASES = [
    ("tau", 1.5),
    ("tau", -0.1),
    ("ent_coef", "automatic"),
    ("ent_coef", "auto_-1"),
    ("ent_coef", -0.1),
    ("ent_coef", 0),
    ("target_update_interval", 0),
]
PPO_CASES = [
    ("gamma", 0.0),
    ("gamma", 1.01),
    ("gamma", NAN),
    ("batch_size", 0),
    ("batch_size", 1),
    ("batch_size", 2.5),
    ("n_steps", 0),
    ("n_steps", -4),
    ("n_epochs", 0),
    ("gae_lambda", 1.5),
    ("gae_lambda", -0.1),
    ("clip_range", 0.0),
    ("clip_range", -0.2),
    ("clip_range_vf", -1.0),
    ("ent_coef", NAN),
    ("vf_coef", -1.0),
    ("max_grad_norm", 0.0),
    ("target_kl", 0.0),
    ("learning_rate", -1.0),
    ("worst_fraction", 0.0),
    ("worst_fraction", 1.5),
    ("worst_fraction", True),
    ("return_estimate", "mean"),
    ("return_estimate", None),
]
MRPO_CASES = [("kappa", -1.0), ("kappa", NAN), ("kappa", INF), ("kappa", "high"), ("kappa", True)]


def case_id(case) -> str:
    return f"{case[0]}={case[1]!r}"


@pytest.mark.parametrize("case", OFF_POLICY_CASES + MPO_CASES, ids=case_id)
def test_mpo_refuses_bad_arguments(case):
    name, value = case
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        MPO("MlpPolicy", robust_pendulum(), **{"robustness": "robust", **off_policy_small(), name: value})


@pytest.mark.parametrize("case", OFF_POLICY_CASES + SAC_CASES, ids=case_id)
def test_robust_sac_refuses_bad_arguments(case):
    name, value = case
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        RobustSAC("MlpPolicy", robust_pendulum(), **{"robustness": "robust", **off_policy_small(), name: value})


@pytest.mark.parametrize("algo", [MRPO, EPOpt])
@pytest.mark.parametrize("case", PPO_CASES, ids=case_id)
def test_sampled_envs_algorithms_refuse_bad_arguments(algo, case):
    name, value = case
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        algo("MlpPolicy", pendulums(), **{"uncertainty_set": MASS_RANGE, **ppo_small(), name: value})


@pytest.mark.parametrize("case", MRPO_CASES, ids=case_id)
def test_mrpo_refuses_bad_kappa(case):
    name, value = case
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        MRPO("MlpPolicy", pendulums(), uncertainty_set=MASS_RANGE, **{**ppo_small(), name: value})


@pytest.mark.parametrize("algo", [MRPO, EPOpt])
def test_sampled_envs_algorithms_refuse_bad_envs_and_sets(algo):
    with pytest.raises(ValueError, match=r"n_envs >= 2; got n_envs=1"):
        algo("MlpPolicy", pendulums(n_envs=1), uncertainty_set=MASS_RANGE, **ppo_small())
    with pytest.raises(TypeError, match=r"uncertainty_set must be an UncertaintySet or a preset name, got 3"):
        algo("MlpPolicy", pendulums(), uncertainty_set=3, **ppo_small())
    with pytest.raises(ValueError, match="Unknown preset"):
        algo("MlpPolicy", pendulums(), uncertainty_set="no/such/preset", **ppo_small())
    randomised = make_vec_env(
        PENDULUM, n_envs=2, wrapper_class=robust_envs.DomainRandomization, wrapper_kwargs={"uncertainty_set": MASS_RANGE}
    )
    with pytest.raises(ValueError, match=r"\[0, 1\] are wrapped in robust_envs\.wrappers\.DomainRandomization"):
        algo("MlpPolicy", randomised, uncertainty_set=MASS_RANGE, **ppo_small())


def test_robust_settings_refuse_bad_models():
    with pytest.raises(ValueError, match=r"wrap the env in robust_envs\.PerturbedTransitions"):
        MPO("MlpPolicy", gym.make(PENDULUM), robustness="robust")
    with pytest.raises(ValueError, match=r"model_weights must have one weight per model \(3,\), got shape \(2,\)"):
        RobustSAC("MlpPolicy", robust_pendulum(), robustness="soft", model_weights=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"non-negative and sum to 1, got \[0\.5, 0\.5, 0\.5\]"):
        MPO("MlpPolicy", robust_pendulum(), robustness="soft", model_weights=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"model_weights .* need robustness='soft', got 'robust'"):
        MPO("MlpPolicy", robust_pendulum(), robustness="robust", model_weights=[0.2, 0.3, 0.5])


def test_random_combinations_of_bad_arguments_name_one_of_them():
    """Several bad arguments at once: the error names one of them, with its value."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        picks = rng.choice(len(MPO_CASES), size=3, replace=False)
        bad = {MPO_CASES[i][0]: MPO_CASES[i][1] for i in picks}
        with pytest.raises(ValueError) as error:
            MPO("MlpPolicy", robust_pendulum(), **{**off_policy_small(), **bad})
        message = str(error.value)
        assert any(re.search(names_the_value(name, value), message) for name, value in bad.items()), message


# ---- load of damaged and foreign files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    """One tiny save file per algorithm (none trained), plus SB3's SAC and PPO."""
    folder = tmp_path_factory.mktemp("saved")
    models = {
        "MPO": MPO("MlpPolicy", robust_pendulum(), robustness="robust", **off_policy_small()),
        "RobustSAC": RobustSAC("MlpPolicy", robust_pendulum(), robustness="soft", **off_policy_small()),
        "MRPO": MRPO("MlpPolicy", pendulums(), uncertainty_set=MASS_RANGE, **ppo_small()),
        "EPOpt": EPOpt("MlpPolicy", pendulums(), uncertainty_set=MASS_RANGE, **ppo_small()),
        "SAC": SAC("MlpPolicy", PENDULUM, **off_policy_small()),
        "PPO": PPO("MlpPolicy", PENDULUM, **ppo_small()),
    }
    files = {}
    for name, model in models.items():
        model.save(folder / name)
        files[name] = folder / f"{name}.zip"
    return files


ALGORITHMS = {"MPO": MPO, "RobustSAC": RobustSAC, "MRPO": MRPO, "EPOpt": EPOpt}


def refused(algorithm, path, what: str = "") -> str:
    """Load and expect a ValueError naming the file and the algorithm expected. :return: the message."""
    with pytest.raises(ValueError) as error:
        algorithm.load(path, device="cpu")
    message = str(error.value)
    shown = str(path) if not isinstance(path, io.IOBase) else "file object"
    assert shown in message and algorithm.__name__ in message, message
    assert what in message, message
    return message


def member_offsets(raw: bytes) -> dict[str, tuple[int, int]]:
    """:return: where each member's stored bytes start in the zip, and how many there are."""
    offsets = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for info in archive.infolist():
            name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            offsets[info.filename] = (info.header_offset + 30 + name_length + extra_length, info.compress_size)
    return offsets


def rewritten(raw: bytes, change) -> bytes:
    """:return: the zip with its ``data`` JSON passed through ``change`` (CRCs recomputed: a consistent but wrong file)."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "data":
                content = change(content)
            target.writestr(info.filename, content)
    return out.getvalue()


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_load_refuses_truncated_files(tmp_path, saved, name):
    raw = saved[name].read_bytes()
    for fraction in (0.0, 0.1, 0.5, 0.9):
        path = tmp_path / f"truncated_{fraction}.zip"
        path.write_bytes(raw[: int(len(raw) * fraction)])
        refused(ALGORITHMS[name], path, "truncated or corrupt")
    path = tmp_path / "one_byte_short.zip"
    path.write_bytes(raw[:-1])
    refused(ALGORITHMS[name], path, "truncated or corrupt")


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_load_refuses_corrupt_members(tmp_path, saved, name):
    raw = saved[name].read_bytes()
    for member, (start, size) in member_offsets(raw).items():
        damaged = bytearray(raw)
        damaged[start + size // 2] ^= 0xFF
        path = tmp_path / f"corrupt_{member.replace('/', '_')}.zip"
        path.write_bytes(bytes(damaged))
        refused(ALGORITHMS[name], path, f"{member!r} fails its CRC check")


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_load_refuses_files_that_are_no_save_files(tmp_path, saved, name):
    algorithm = ALGORITHMS[name]
    cases = {
        "empty.zip": b"",
        "text.zip": b"not a zip file at all\n" * 10,
        "noise.zip": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }
    empty_zip = io.BytesIO()
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("something", b"else")
    cases["other.zip"] = empty_zip.getvalue()
    raw = saved[name].read_bytes()
    cases["not_json.zip"] = rewritten(raw, lambda _: b"{not json")
    cases["json_list.zip"] = rewritten(raw, lambda _: b"[1, 2, 3]")
    for file_name, content in cases.items():
        (tmp_path / file_name).write_bytes(content)
        refused(algorithm, tmp_path / file_name)
    # a consistent file whose data lacks what SB3 needs
    without_spaces = rewritten(raw, lambda content: json.dumps(_without(json.loads(content), "observation_space")).encode())
    (tmp_path / "without_spaces.zip").write_bytes(without_spaces)
    refused(algorithm, tmp_path / "without_spaces.zip", "observation_space")
    # a truncated in-memory file
    refused(algorithm, io.BytesIO(raw[: len(raw) // 3]), "truncated or corrupt")


def _without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize("loader", list(ALGORITHMS))
def test_load_refuses_other_algorithms_files(saved, loader):
    algorithm = ALGORITHMS[loader]
    for saver in ("MPO", "RobustSAC", "MRPO", "EPOpt"):
        if saver != loader:
            refused(algorithm, saved[saver], f"saved by {saver}, not {loader}")
    for foreign in ("SAC", "PPO"):  # SB3's files record no algorithm: they lack the loader's settings
        refused(algorithm, saved[foreign], f"not saved by {loader}")


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MRPO\.load: no file '.*nothing' \(nor '.*nothing\.zip'\)"):
        MRPO.load(tmp_path / "nothing")


def test_files_without_the_recorded_algorithm_are_recognised_by_their_settings(tmp_path, saved):
    """Files saved before the class name was recorded: accepted by their own class, refused by the others."""
    legacy = rewritten(
        saved["MPO"].read_bytes(), lambda content: json.dumps(_without(json.loads(content), "_algorithm_name")).encode()
    )
    (tmp_path / "legacy.zip").write_bytes(legacy)
    assert MPO.load(tmp_path / "legacy.zip", device="cpu").n_models == 3
    refused(RobustSAC, tmp_path / "legacy.zip", "not saved by RobustSAC (it lacks RobustSAC's settings ['ent_coef']")
    refused(MRPO, tmp_path / "legacy.zip", "not saved by MRPO")


def _legacy(raw: bytes) -> bytes:
    """:return: the save file as the earlier format wrote it: the same members, without the recorded class name."""
    return rewritten(raw, lambda content: json.dumps(_without(json.loads(content), "_algorithm_name")).encode())


def test_earlier_format_mrpo_and_epopt_files_are_told_apart(tmp_path, saved):
    """An MRPO file holds every setting EPOpt is recognised by (MRPO adds kappa): EPOpt.load used to take it silently."""
    for name in ("MRPO", "EPOpt"):
        (tmp_path / f"{name}_legacy.zip").write_bytes(_legacy(saved[name].read_bytes()))
    assert type(MRPO.load(tmp_path / "MRPO_legacy.zip", device="cpu")) is MRPO
    assert type(EPOpt.load(tmp_path / "EPOpt_legacy.zip", device="cpu")) is EPOpt
    message = refused(EPOpt, tmp_path / "MRPO_legacy.zip", "not saved by EPOpt: it holds MRPO's settings ['kappa']")
    assert "load it with MRPO.load()" in message
    refused(EPOpt, io.BytesIO(_legacy(saved["MRPO"].read_bytes())), "saved by MRPO")
    refused(MRPO, tmp_path / "EPOpt_legacy.zip", "lacks MRPO's settings ['kappa']")


def test_earlier_format_files_of_the_other_trainers_still_load_with_their_own_class(tmp_path, saved):
    for name, algorithm in ALGORITHMS.items():
        path = tmp_path / f"{name}_legacy.zip"
        path.write_bytes(_legacy(saved[name].read_bytes()))
        assert type(algorithm.load(path, device="cpu")) is algorithm
        for other_name, other in ALGORITHMS.items():
            if other is not algorithm:
                refused(other, path, f"not saved by {other_name}")


def test_a_file_recorded_by_a_base_class_must_hold_the_loaders_settings(tmp_path, saved):
    def recorded_by_base(content: bytes) -> bytes:
        return json.dumps({**json.loads(content), "_algorithm_name": "SampledEnvsPPO"}).encode()

    path = tmp_path / "base.zip"
    path.write_bytes(rewritten(saved["EPOpt"].read_bytes(), recorded_by_base))
    refused(MRPO, path, "the file was saved by SampledEnvsPPO, which lacks MRPO's settings ['kappa']")
    assert type(EPOpt.load(path, device="cpu")) is EPOpt  # it holds every setting of EPOpt's


def test_whole_files_still_load(saved):
    for name, algorithm in ALGORITHMS.items():
        assert type(algorithm.load(saved[name], device="cpu")) is algorithm
    assert math.isfinite(MPO.load(io.BytesIO(saved["MPO"].read_bytes()), device="cpu").gamma)
