"""What the algorithms with a robust critic share (MPO, RobustSAC): K read from the env, the settings, their buffer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from stable_baselines3.common.buffers import ReplayBuffer

from robust_sb3.common.base import CheckedLoadMixin
from robust_sb3.common.buffers import PerturbedReplayBuffer
from robust_sb3.common.robust_target import check_robustness


def n_models_of(env: Any, robustness: str, owner: str) -> int:
    """
    K, read from the :class:`robust_envs.wrappers.PerturbedTransitions` wrapper of a VecEnv's envs.

    :param env: the algorithm's VecEnv
    :param robustness: ``"none"`` (returns 0: the plain replay buffer suffices), ``"robust"`` or ``"soft"``
    :param owner: the algorithm's name, for the error message
    :return: K (0 for ``"none"``)
    :raises ValueError: a robust setting on an env without the wrapper, or sub-envs with different K
    """
    if robustness == "none":
        return 0
    try:
        counts = set(env.get_attr("n_models"))
    except AttributeError as error:
        raise ValueError(
            f"{owner}(robustness={robustness!r}) needs the next observations under the K models of an uncertainty set: "
            "wrap the env in robust_envs.PerturbedTransitions(env, models) before passing it"
        ) from error
    if len(counts) != 1:
        raise ValueError(f"{owner}: all envs must have the same number of models, got {sorted(counts)}")
    return int(counts.pop())


class RobustCriticMixin(CheckedLoadMixin):
    """
    The robustness settings of an off-policy algorithm whose critic regresses on
    :func:`~robust_sb3.common.robust_target.robust_td_target`, set up by the algorithm itself at construction.

    :meth:`_init_robustness` reads K from the env's :class:`robust_envs.wrappers.PerturbedTransitions`, checks
    the settings and makes the replay buffer a :class:`~robust_sb3.common.buffers.PerturbedReplayBuffer` of K
    models for the robust settings (a user's ``replay_buffer_class`` must be one too). ``set_env`` and ``load``
    refuse an env with another K than the model's, where a K = 3 model would otherwise fail at ``learn``
    when the buffer receives K = 2 next states.
    """

    _identifying_attributes: ClassVar[tuple[str, ...]] = ("robustness", "n_models")

    env: Any
    n_models: int
    robustness: str
    replay_buffer_class: type[ReplayBuffer] | None
    replay_buffer_kwargs: dict[str, Any]

    def _init_robustness(self, robustness: str, model_weights: Sequence[float] | None, reward_in_inf: bool) -> None:
        """
        Set ``robustness``, ``n_models`` (K, 0 for ``"none"``), ``model_weights``, ``reward_in_inf`` and the buffer.

        Call after SB3's ``__init__`` (which sets ``env`` and ``replay_buffer_class``) and before ``_setup_model``.

        :raises ValueError: an unknown ``robustness``, a robust setting on an env without ``PerturbedTransitions``,
            bad ``model_weights``, or a ``replay_buffer_class`` that does not store the K next states
        """
        owner = type(self).__name__
        check_robustness(robustness, 1)  # the name first: an unknown one is not a missing wrapper
        self.robustness = robustness
        self.n_models = n_models_of(self.env, robustness, owner) if self.env is not None else 0
        weights = check_robustness(robustness, max(self.n_models, 1), model_weights)
        self.model_weights = None if weights is None else weights.tolist()
        self.reward_in_inf = bool(reward_in_inf)
        if robustness == "none":
            return
        if self.replay_buffer_class is None:
            self.replay_buffer_class = PerturbedReplayBuffer
        elif not (isinstance(self.replay_buffer_class, type) and issubclass(self.replay_buffer_class, PerturbedReplayBuffer)):
            raise ValueError(
                f"{owner}(robustness={robustness!r}) regresses on the K models' next states, which "
                f"replay_buffer_class={getattr(self.replay_buffer_class, '__name__', self.replay_buffer_class)!r} does not "
                "store; leave it None (PerturbedReplayBuffer) or pass a PerturbedReplayBuffer subclass"
            )
        if self.n_models:
            self.replay_buffer_kwargs = {**self.replay_buffer_kwargs, "n_models": self.n_models}

    def _check_n_models(self, env: Any, source: str) -> None:
        """:raises ValueError: ``env`` gives another number of models than this model was built for."""
        check_n_models(type(self).__name__, self.robustness, self.n_models, env, source)

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        """
        Replace the training env, refusing one with another number of models K than the model's.

        :param env: the new env (same spaces, same K)
        :param force_reset: reset it before training (SB3's default)
        """
        env = self._wrap_env(env, self.verbose)  # type: ignore[attr-defined]
        self._check_n_models(env, f"{type(self).__name__}.set_env")
        super().set_env(env, force_reset)  # type: ignore[misc]

    @classmethod
    def _check_saved_env(cls, data: dict[str, Any], env: Any, name: str) -> None:
        check_n_models(cls.__name__, str(data.get("robustness", "none")), int(data.get("n_models", 0)), env, name)


def check_n_models(owner: str, robustness: str, n_models: int, env: Any, source: str) -> None:
    """
    :param owner: the algorithm's name
    :param robustness: the model's robustness setting
    :param n_models: the model's K
    :param env: a VecEnv
    :param source: what is being done (``"MPO.set_env"``, ``"MPO.load('model.zip')"``), for the message
    :raises ValueError: the env's K differs from ``n_models``
    """
    env_models = n_models_of(env, robustness, owner)
    if env_models != n_models:
        raise ValueError(
            f"{source}: this {owner}(robustness={robustness!r}) was built for K={n_models} models, but the env gives the "
            f"next states of K={env_models}: wrap the env in PerturbedTransitions with the {n_models} models it was "
            "trained with"
        )
