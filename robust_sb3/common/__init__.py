"""
What several robust algorithms share, laid out as sb3-contrib's ``common/``.

- :mod:`~robust_sb3.common.buffers`: the K-next-state replay buffer (MPO, RobustSAC) and the env-masked rollout
  buffers (MRPO, EPOpt);
- :mod:`~robust_sb3.common.robust_target`: the robust and soft-robust TD targets (Eq. 1 and Eq. 4 of Mankowitz et al.);
- :mod:`~robust_sb3.common.robust_critic`: reading K from the env and the replay-buffer set-up of robust critics;
- :mod:`~robust_sb3.common.sampled_envs` and :mod:`~robust_sb3.common.selection`: PPO over sampled environments;
- :mod:`~robust_sb3.common.base`: checked ``load`` for every trainer;
- :mod:`~robust_sb3.common.validation`: constructor-argument checks with errors that name the bad value.

Modules are imported explicitly (nothing is imported here), so a trainer loads only what it uses.
"""
