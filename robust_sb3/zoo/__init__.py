"""
The robust trainers through rl-zoo3's experiment manager (``pip install 'robust-rl[zoo]'``).

``python -m robust_sb3.zoo train --algo ALGO --env ENV_ID [rl-zoo3 arguments]`` registers the trainers in rl-zoo3's
``ALGOS`` table (and their Optuna search spaces), imports :mod:`robust_envs` (its env ids), gives rl-zoo3 the
hyperparameter file shipped for ``ALGO`` (``robust_sb3/zoo_hyperparams/<algo>.yml``, unless ``--conf-file`` names
another) and runs rl-zoo3's own ``train`` with the remaining arguments: its YAML hyperparameters (with
``env_wrapper``, ``env_kwargs``, ``callback``, ``--hyperparams`` overrides), evaluation callback (``--eval-freq``),
saving (``logs/<algo>/<env>_<n>/<env>.zip``, a file of the trainer's own class: ``MRPO.load(path)``), ``--save-freq``
checkpoints, ``--trained-agent`` and Optuna (``-optimize``). ``enjoy`` runs rl-zoo3's ``enjoy`` (``--folder``
defaults to ``logs``, where ``train`` writes); ``list`` prints the trainers and the envs of their shipped files::

    python -m robust_sb3.zoo list
    python -m robust_sb3.zoo train --algo robust_mpo --env RobustCartpoleBalance-v0
    python -m robust_sb3.zoo train --algo mrpo --env RobustHopper-v0 -n 200000 --hyperparams n_envs:8
    python -m robust_sb3.zoo enjoy --algo mrpo --env RobustHopper-v0 --no-render -n 2000
    python -m robust_sb3.zoo train --algo rrl --env RobustPendulum-v0 -optimize --n-trials 20 -n 100000

===================  ====================================  ========================================================
``--algo``           trainer                               shipped for
===================  ====================================  ========================================================
``mpo``              ``MPO(robustness="none")``            ``RobustCartpoleBalance-v0`` (E-MPO)
``robust_mpo``       ``MPO(robustness="robust")``          ``RobustCartpoleBalance-v0`` (RE-MPO)
``soft_mpo``         ``MPO(robustness="soft")``            ``RobustCartpoleBalance-v0`` (SRE-MPO)
``robust_sac``       ``RobustSAC(robustness="robust")``    ``RobustCartpoleBalance-v0`` (RE-SVG)
``soft_robust_sac``  ``RobustSAC(robustness="soft")``      ``RobustCartpoleBalance-v0`` (SRE-SVG)
``mrpo``, ``epopt``  ``MRPO``, ``EPOpt``                   ``RobustInvertedPendulum-v0``, ``RobustHopper-v0``
``wr2l``             ``WR2L``                              ``RobustInvertedPendulum-v0``, ``RobustHopper-v0``
``wr2l_trpo``        ``WR2LTRPO``                          ``RobustInvertedPendulum-v0``, ``RobustHopper-v0``
``rarl``, ``prmdp``  ``RARL``, ``PRMDP``                   ``RobustInvertedPendulum-v0``
``rrl``              ``RRL``                               ``RobustPendulum-v0`` (the swing-up of section 4.2)
===================  ====================================  ========================================================

rl-zoo3's own algorithms (``ppo``, ``sac``, ...) pass through unchanged, with the robust env ids registered.

**The names fix the robustness mode**: ``robust_mpo`` is ``MPO(robustness="robust")``, and hyperparameters that set
another mode are refused (``use --algo mpo``). The robust critics need the K models' next states, declared in the YAML
as ``env_wrapper: [robust_envs.wrappers.PerturbedTransitions: {models: [{pole_length: 0.5}, ...]}]``
(``PerturbedTransitions`` takes a list of parameter mappings, not a preset name; the shipped lists are the members
of ``mankowitz2020/cartpole-balance/uncertainty``). MRPO and EPOpt take ``uncertainty_set`` and WR2L
``parameterisation`` as preset names; ``n_envs`` is MRPO's M.

**RARL and PRMDP** make their two players' envs themselves (each sub-env carries the other player's policy). Through
rl-zoo3 they make them again from the spec of the training VecEnv rl-zoo3 built (the env id, ``env_kwargs`` and the
``env_wrapper`` wrappers, which must record their constructor arguments, as those of :mod:`robust_envs.wrappers` do),
``n_envs`` per player, and close that VecEnv: rl-zoo3's ``normalize``, ``frame_stack`` and ``vec_env_wrapper`` would
not apply to their training and are refused, ``--vec-env subproc`` does not apply, and the training episodes are in
their logger (``rollout/ep_rew_mean``), not in rl-zoo3's ``monitor.csv`` (so ``plot_train`` has no curve for them).
The evaluation callback, saving, ``--trained-agent``, ``enjoy`` and Optuna (PPO's space as ``protagonist_kwargs``,
which replaces the file's) work as for the others, with the protagonist acting in the undisturbed env.

**RRL** learns on-line from one env (``n_envs: 1``) whose reward rate must stay in float64: ``robust_sb3.zoo`` makes
rl-zoo3 build a :class:`~robust_sb3.rrl.rrl.Float64RewardDummyVecEnv` (also in ``enjoy``). Its ``gamma`` is the
H-infinity robustness level, not a discount.

``--trained-agent`` continues a saved model with its own settings: rl-zoo3 passes the file's hyperparameters to
``load``, which sets them on the model (preset names and WR2LTRPO's ``config`` dict are converted first), so those that
are only constructor arguments, such as WR2L's model-phase settings, do not change it. On a CPU, ``--num-threads 1``
avoids torch's thread contention (MPO's small networks train several times faster).

Optuna (``-optimize``) needs pandas (in the ``zoo`` extra): MPO searches the discount, learning rate, batch size, KL
bounds, target period and networks; RobustSAC, WR2L and WR2LTRPO rl-zoo3's SAC, PPO and TRPO spaces; MRPO and EPOpt
PPO's without ``n_steps`` (kept at the time limit); RRL ``tau``, ``kappa`` and ``critic_lr``.
"""

from robust_sb3.zoo.algorithms import ALGORITHMS, ZooAlgorithm, ZooEntry, env_factory_from_vec_env
from robust_sb3.zoo.cli import main
from robust_sb3.zoo.registry import hyperparams_path, register_algorithms, shipped_hyperparams

__all__ = [
    "ALGORITHMS",
    "ZooAlgorithm",
    "ZooEntry",
    "env_factory_from_vec_env",
    "hyperparams_path",
    "main",
    "register_algorithms",
    "shipped_hyperparams",
]
