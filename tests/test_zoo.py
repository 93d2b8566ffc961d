"""
The rl-zoo3 route (``python -m robust_sb3.zoo``): every trainer trains 1000 steps through rl-zoo3's experiment manager
(shipped YAML, ``--hyperparams`` overrides, evaluation callback, saving), the file loads with the trainer's own
class and ``enjoy`` runs it; the shipped files and Optuna spaces fit the constructors; usage errors are clear.

rl-zoo3 is the ``zoo`` extra, which CI installs: without it these tests fail, they do not skip. The route runs in this
process (rl-zoo3's ``train`` and ``enjoy`` read ``sys.argv``, which the route sets and restores); importing rl-zoo3
patches Gymnasium's ``TimeLimit``, so a module fixture restores it for the other test modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import warnings
from contextlib import nullcontext
from pathlib import Path

import gymnasium
import pytest

from robust_sb3.zoo import ALGORITHMS, hyperparams_path, main, shipped_hyperparams
from robust_sb3.zoo.algorithms import MONITOR_ENTRY_POINT, env_factory_from_vec_env
from robust_sb3.zoo.cli import prepare

pytestmark = pytest.mark.sb3

#: where rl-zoo3 (``rl_zoo3.gym_patches``) replaces Gymnasium's TimeLimit on import
TIME_LIMIT_PATCHES = (("gymnasium.wrappers", "TimeLimit"), ("gymnasium.wrappers.common", "TimeLimit"))
TIME_LIMIT_PATCHES += (("gymnasium.envs.registration", "TimeLimit"),)

CARTPOLE, PENDULUM, INVERTED = "RobustCartpoleBalance-v0", "RobustPendulum-v0", "RobustInvertedPendulum-v0"
#: short cart-pole evaluation episodes (the balance task never terminates; 1000 steps each otherwise)
SHORT_EVAL = ["--eval-env-kwargs", "max_episode_steps:100"]
_MPO = ["learning_starts:900", "batch_size:32", "n_action_samples:4", "target_update_interval:50"]
_SAC = ["learning_starts:900", "batch_size:32"]
_PPO = ["n_envs:2", "n_steps:250", "batch_size:100", "n_epochs:1"]
_SMALL_NET = ["policy_kwargs:dict(net_arch=[16])"]
_WR2L_PHASE = ["hessian_data_episodes:2", "n_state_action:50", "n_directions:1", "eval_horizon:50"]
_TWO_PLAYER = ["n_envs:1", "protagonist_kwargs:dict(n_steps=250, batch_size=125, n_epochs=1)"]
#: per trainer: the env, tiny overrides (``--hyperparams``) and extra rl-zoo3 arguments for a 1000-step run
RUNS: dict[str, tuple[str, list[str], list[str]]] = {
    "mpo": (CARTPOLE, _MPO + _SMALL_NET, SHORT_EVAL),
    "robust_mpo": (CARTPOLE, _MPO + _SMALL_NET, SHORT_EVAL),
    "soft_mpo": (CARTPOLE, _MPO + _SMALL_NET, SHORT_EVAL),
    "robust_sac": (CARTPOLE, _SAC + _SMALL_NET, SHORT_EVAL),
    "soft_robust_sac": (CARTPOLE, _SAC + _SMALL_NET, SHORT_EVAL),
    "mrpo": (INVERTED, _PPO + _SMALL_NET, []),
    "epopt": (INVERTED, _PPO + _SMALL_NET, []),
    "wr2l": (INVERTED, _PPO + _SMALL_NET + _WR2L_PHASE, []),
    # WR2LTRPO takes the model phase's settings as one config dict; TRPO has no n_epochs
    "wr2l_trpo": (INVERTED, _PPO[:3] + _SMALL_NET + [f"config:dict({', '.join(_WR2L_PHASE).replace(':', '=')})"], []),
    "rarl": (INVERTED, _TWO_PLAYER, []),
    "prmdp": (INVERTED, _TWO_PLAYER, []),
    "rrl": (PENDULUM, ["approximator_kwargs:dict(low=[-3.2, -6.3], high=[3.2, 6.3], n_centers=(7, 7))"], []),
}
#: MRPO and EPOpt warn that 250 steps per sub-env is below the time limit (unfinished episodes are estimated)
SHORT_ROLLOUT_WARNING = "is below the sub-envs' time limit"

#: hyperparameters rl-zoo3 itself consumes (the rest goes to the constructor)
ZOO_KEYS = {"n_timesteps", "n_envs", "env_kwargs", "env_wrapper", "vec_env_wrapper", "callback", "normalize", "frame_stack"}


@pytest.fixture(scope="module", autouse=True)
def rl_zoo3_in_this_process():
    """Fail without rl-zoo3; keep its TimeLimit patch and torch's thread count to this module."""
    if importlib.util.find_spec("rl_zoo3") is None:
        pytest.fail("rl_zoo3 is not installed: pip install -e '.[zoo]' (CI installs the zoo extra)")
    import torch as th

    modules = {name: importlib.import_module(name) for name, _ in TIME_LIMIT_PATCHES}
    missing = object()  # rl-zoo3 also sets gymnasium.envs.registration.TimeLimit, which Gymnasium 1.x does not have
    originals = {(name, attribute): getattr(modules[name], attribute, missing) for name, attribute in TIME_LIMIT_PATCHES}
    threads = th.get_num_threads()
    from rl_zoo3.gym_patches import PatchedTimeLimit

    for name, attribute in TIME_LIMIT_PATCHES:  # again, after another module's tests ran in between
        setattr(modules[name], attribute, PatchedTimeLimit)
    yield
    for (name, attribute), value in originals.items():
        if value is missing:
            delattr(modules[name], attribute)
        else:
            setattr(modules[name], attribute, value)
    th.set_num_threads(threads)


def constructor_arguments(algorithm_class: type) -> set[str]:
    """:return: the keyword arguments ``algorithm_class`` takes, those it passes on to SB3's class included."""
    from sb3_contrib import TRPO
    from stable_baselines3 import PPO, SAC

    names = set(inspect.signature(algorithm_class.__init__).parameters) - {"self", "kwargs"}
    for base in (SAC, PPO, TRPO):
        if issubclass(algorithm_class, base) and algorithm_class is not base:
            names |= set(inspect.signature(base.__init__).parameters) - {"self"}
            break
    return names


@pytest.mark.parametrize("algo", list(RUNS))
def test_train_load_enjoy(algo: str, tmp_path: Path) -> None:
    env_id, overrides, extra = RUNS[algo]
    folder = str(tmp_path)
    args = ["--algo", algo, "--env", env_id, "-f", folder, "--seed", "0", "--num-threads", "1", "--verbose", "0"]
    train = ["train", *args, "-n", "1000", "--eval-freq", "500", "--eval-episodes", "1", *extra, "--hyperparams", *overrides]
    expected = pytest.warns(UserWarning, match=SHORT_ROLLOUT_WARNING) if algo in ("mrpo", "epopt") else nullcontext()
    with expected:
        assert main(train) == 0
    run = tmp_path / algo / f"{env_id}_1"
    assert (run / "evaluations.npz").is_file()  # rl-zoo3's evaluation callback ran
    assert (run / env_id / "config.yml").is_file()
    algorithm = ALGORITHMS[algo]
    model = algorithm.algorithm_class.load(run / f"{env_id}.zip")
    assert type(model) is algorithm.algorithm_class
    assert model.num_timesteps >= 1000
    for key, value in algorithm.settings.items():
        assert getattr(model, key) == value
    assert main(["enjoy", *args, "-n", "20", "--no-render"]) == 0


@pytest.mark.parametrize("algo", ["epopt", "wr2l_trpo", "rarl"])
def test_continue_training(algo: str, tmp_path: Path) -> None:
    """``--trained-agent``: rl-zoo3 passes the file's hyperparameters to ``load`` (preset names, config dicts, a VecEnv)."""
    env_id, overrides, _ = RUNS[algo]
    train = ["train", "--algo", algo, "--env", env_id, "-f", str(tmp_path), "-n", "500", "--eval-freq", "-1", "--verbose", "0"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", f".*{SHORT_ROLLOUT_WARNING}")
        # SB3's load builds the class with PPO's default batch size (64) before it applies the saved one
        warnings.filterwarnings("ignore", "You have specified a mini-batch size of 64")
        assert main([*train, "--hyperparams", *overrides]) == 0
        first = tmp_path / algo / f"{env_id}_1" / f"{env_id}.zip"
        assert main([*train, "--trained-agent", str(first), "--hyperparams", *overrides]) == 0
    model = ALGORITHMS[algo].algorithm_class.load(tmp_path / algo / f"{env_id}_2" / f"{env_id}.zip")
    assert model.num_timesteps >= 500  # rl-zoo3 counts the continued run from 0


def test_unknown_algorithm_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--algo", "mrpoo", "--env", INVERTED]) == 2
    error = capsys.readouterr().err
    assert "unknown --algo 'mrpoo'" in error and "did you mean 'mrpo'" in error
    assert "robust_mpo" in error and "ppo" in error  # ours and rl-zoo3's own
    assert main(["train", "--env", INVERTED]) == 2
    assert "--algo is required" in capsys.readouterr().err
    assert main(["fit", "--algo", "mrpo"]) == 2
    assert "unknown command 'fit'" in capsys.readouterr().err


def test_env_without_shipped_hyperparameters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "--algo", "mrpo", "--env", "RobustWalker2d-v0"]) == 2
    error = capsys.readouterr().err
    assert "'RobustWalker2d-v0'" in error and "RobustHopper-v0" in error and "--conf-file" in error
    assert main(["enjoy", "--algo", "mrpo", "--env", INVERTED, "-f", str(tmp_path)]) == 2
    assert "train one first" in capsys.readouterr().err


def test_prepare_completes_the_arguments(tmp_path: Path) -> None:
    args, vec_env_class = prepare("train", ["--algo", "rrl", "--env", PENDULUM])
    assert args[-2:] == ["--conf-file", str(hyperparams_path("rrl"))]
    assert vec_env_class == "robust_sb3.rrl.rrl:Float64RewardDummyVecEnv"
    own = tmp_path / "mine.yml"
    assert prepare("train", ["--algo", "mrpo", "--env", "X-v0", "--conf-file", str(own)]) == (
        ["--algo", "mrpo", "--env", "X-v0", "--conf-file", str(own)],
        None,
    )
    (tmp_path / "mrpo").mkdir()
    assert prepare("enjoy", ["--algo", "mrpo", "--env", INVERTED, "-f", str(tmp_path)])[0][-1] == str(tmp_path)
    # rl-zoo3's own algorithms pass through unchanged
    assert prepare("train", ["--algo", "ppo", "--env", INVERTED]) == (["--algo", "ppo", "--env", INVERTED], None)


def test_name_fixes_the_robustness_mode(tmp_path: Path) -> None:
    train = ["train", "--algo", "robust_mpo", "--env", CARTPOLE, "-n", "10", "-f", str(tmp_path), "--verbose", "0"]
    with pytest.raises(ValueError, match=r"robustness='robust'.*robustness='none'; use --algo mpo"):
        main([*train, "--hyperparams", "robustness:'none'"])


def test_two_player_trainers_refuse_rl_zoo3_vec_env_wrappers(tmp_path: Path) -> None:
    train = ["train", "--algo", "rarl", "--env", INVERTED, "-n", "10", "-f", str(tmp_path), "--verbose", "0"]
    with pytest.raises(ValueError, match=r"VecNormalize .*normalize, frame_stack or vec_env_wrapper"):
        main([*train, "--hyperparams", "normalize:True", "n_envs:1"])


class PlainWrapper(gymnasium.Wrapper):
    """A wrapper that does not record its constructor arguments (not a ``RecordConstructorArgs``)."""


def test_env_factory_from_vec_env_keeps_the_recorded_wrappers() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    import robust_envs  # noqa: F401
    from robust_envs.wrappers import ForceDisturbance

    def wrap(env: gymnasium.Env) -> gymnasium.Env:
        return ForceDisturbance(env, ["pole"], 2.0)

    vec_env = make_vec_env(INVERTED, n_envs=3, env_kwargs={"keep_mass": True}, wrapper_class=wrap)
    factory, n_envs = env_factory_from_vec_env(vec_env, "RARL")
    env = factory()
    assert n_envs == 3
    assert env.spec.kwargs["keep_mass"] is True
    assert [wrapper.name for wrapper in env.spec.additional_wrappers] == ["ForceDisturbance"]
    assert MONITOR_ENTRY_POINT not in [wrapper.entry_point for wrapper in env.spec.additional_wrappers]
    env.close()
    unrecorded = make_vec_env(INVERTED, n_envs=1, wrapper_class=PlainWrapper)
    with pytest.raises(ValueError, match="PlainWrapper records no constructor arguments"):
        env_factory_from_vec_env(unrecorded, "RARL")


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_shipped_hyperparameters_fit_the_trainers(algo: str) -> None:
    from robust_envs.presets import get_parameterisation, get_preset
    from robust_sb3.zoo.algorithms import import_object

    algorithm = ALGORITHMS[algo]
    accepted = constructor_arguments(algorithm.algorithm_class)
    shipped = shipped_hyperparams(algo)
    assert shipped
    for env_id, hyperparams in shipped.items():
        assert set(hyperparams) - ZOO_KEYS <= accepted, f"{algo} on {env_id}"
        for key, value in algorithm.settings.items():
            assert hyperparams.get(key, value) == value
        if "uncertainty_set" in hyperparams:
            assert get_preset(hyperparams["uncertainty_set"]).env_id == env_id
        if "parameterisation" in hyperparams:
            assert get_parameterisation(hyperparams["parameterisation"]).env_id == env_id
        for wrapper in hyperparams.get("env_wrapper", []):
            ((name, kwargs),) = wrapper.items()
            import_object(name.rsplit(".", 1)[0] + ":" + name.rsplit(".", 1)[1])
            if name.endswith("PerturbedTransitions"):
                members = get_preset("mankowitz2020/cartpole-balance/uncertainty").members
                assert env_id == CARTPOLE and kwargs["models"] == [dict(member) for member in members]
    assert sorted(path.stem for path in hyperparams_path(algo).parent.glob("*.yml")) == sorted(ALGORITHMS)


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_optuna_spaces_give_constructor_arguments(algo: str) -> None:
    import optuna
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER
    from stable_baselines3 import PPO

    from robust_sb3.zoo import register_algorithms

    register_algorithms()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    sampled = HYPERPARAMS_SAMPLER[algo](trial, 1, 2, {"using_her_replay_buffer": False, "her_kwargs": {}})
    assert HYPERPARAMS_CONVERTER[algo](trial.params) == sampled  # what --trial-id loads is what the trial ran
    assert set(sampled) <= constructor_arguments(ALGORITHMS[algo].algorithm_class)
    if "protagonist_kwargs" in sampled:
        assert set(sampled["protagonist_kwargs"]) <= constructor_arguments(PPO)


def test_optuna_optimisation_runs(tmp_path: Path) -> None:
    hyperparams = ["approximator_kwargs:dict(low=[-3.2, -6.3], high=[3.2, 6.3], n_centers=(7, 7))"]
    train = ["train", "--algo", "rrl", "--env", PENDULUM, "-n", "1000", "-f", str(tmp_path), "--seed", "0", "--verbose", "0"]
    optimize = ["-optimize", "--n-trials", "2", "--n-startup-trials", "1", "--n-evaluations", "1", "--eval-episodes", "1"]
    assert main([*train, *optimize, "--no-optim-plots", "--hyperparams", *hyperparams]) == 0
    (report,) = (tmp_path / "rrl").glob("report_*.csv")
    assert {"params_tau", "params_kappa", "params_critic_lr"} <= set(report.read_text().splitlines()[0].split(","))
