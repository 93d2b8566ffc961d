"""Networks of MPO: a diagonal-Gaussian actor, a Q network, and the policy that holds them with their target copies."""

from __future__ import annotations

import itertools
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel, BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn
from torch.nn import functional as F

#: A floor on the policy's standard deviation that only keeps the log-densities finite (the paper's min variance is zero).
MIN_STD = 1e-6


def layer_norm_mlp(input_dim: int, net_arch: list[int], activation_fn: type[nn.Module], layer_norm: bool) -> nn.Sequential:
    """
    The torso of the paper's networks (Table 2): a first linear layer followed by layer norm and tanh, then
    ``activation_fn`` after every further layer.

    :param input_dim: input size
    :param net_arch: hidden layer sizes (at least one)
    :param activation_fn: activation after the hidden layers other than the first
    :param layer_norm: layer norm + tanh on the first layer (``False``: ``activation_fn`` there too, like SB3's ``create_mlp``)
    :return: the network, without an output layer
    """
    if not net_arch:
        raise ValueError("net_arch needs at least one hidden layer")
    layers: list[nn.Module] = [nn.Linear(input_dim, net_arch[0])]
    layers += [nn.LayerNorm(net_arch[0]), nn.Tanh()] if layer_norm else [activation_fn()]
    for size_in, size_out in itertools.pairwise(net_arch):
        layers += [nn.Linear(size_in, size_out), activation_fn()]
    return nn.Sequential(*layers)


class GaussianActor(BasePolicy):
    """
    The Gaussian policy with diagonal covariance of the paper (appendix H.2): mean ``mu(s)`` and standard deviation
    ``softplus(A(s))``, in normalised action units (the action space scaled to [-1, 1]). Sampled actions are
    clipped to [-1, 1] before they reach the env (which clips them anyway); densities use the unclipped samples.

    :param observation_space: observation space
    :param action_space: a Box action space
    :param net_arch: hidden layer sizes
    :param features_extractor: the features extractor
    :param features_dim: its output size
    :param activation_fn: activation function
    :param layer_norm: layer norm + tanh on the first layer (Table 2)
    :param normalize_images: normalise image observations
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ELU,
        layer_norm: bool = True,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
            squash_output=True,
        )
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.layer_norm = layer_norm
        action_dim = get_action_dim(action_space)
        self.latent = layer_norm_mlp(features_dim, net_arch, activation_fn, layer_norm)
        self.mean_head = nn.Linear(net_arch[-1], action_dim)
        self.std_head = nn.Linear(net_arch[-1], action_dim)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                features_dim=self.features_dim,
                activation_fn=self.activation_fn,
                layer_norm=self.layer_norm,
                features_extractor=self.features_extractor,
            )
        )
        return data

    def distribution(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        """:return: mean and standard deviation, each (batch, action_dim)."""
        latent = self.latent(self.extract_features(obs, self.features_extractor))
        return self.mean_head(latent), F.softplus(self.std_head(latent)) + MIN_STD

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """:return: actions in [-1, 1]: the mean (``deterministic``) or a sample, clipped."""
        mean, std = self.distribution(obs)
        action = mean if deterministic else mean + std * th.randn_like(mean)
        return action.clamp(-1.0, 1.0)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)


class QNetwork(BaseModel):
    """
    The action-value network ``Q(s, a)`` of the paper (Table 2 layout), one head.

    :param observation_space: observation space
    :param action_space: a Box action space
    :param net_arch: hidden layer sizes
    :param features_extractor: the features extractor
    :param features_dim: its output size
    :param activation_fn: activation function
    :param layer_norm: layer norm + tanh on the first layer
    :param normalize_images: normalise image observations
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ELU,
        layer_norm: bool = True,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.layer_norm = layer_norm
        self.q_net = nn.Sequential(
            layer_norm_mlp(features_dim + get_action_dim(action_space), net_arch, activation_fn, layer_norm),
            nn.Linear(net_arch[-1], 1),
        )

    def forward(self, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
        """:return: Q values (batch, 1) of normalised actions."""
        features = self.extract_features(obs, self.features_extractor)
        return self.q_net(th.cat([features, actions], dim=1))


class MPOPolicy(BasePolicy):
    """
    The policy of :class:`~robust_sb3.mpo.MPO`: the actor, its target copy (the policy ``pi_k`` being evaluated
    and improved), the reference policy of the entropy-regularised target (``pi_{k-1}``, Eq. 4), the critic
    and its target copy. Every network has its own features extractor; actor and critic their own optimizer.

    :param observation_space: observation space
    :param action_space: a Box action space
    :param lr_schedule: learning-rate schedule
    :param net_arch: hidden sizes, a list for both or ``dict(pi=[...], qf=[...])``. Default ``[256, 256]`` for both:
        smaller than the paper's 200-200-200 policy and 500-500-500 Q network (Table 2) so CPU training is quick
    :param activation_fn: activation function (the paper's ``elu``)
    :param layer_norm: layer norm + tanh on the first layer (Table 2: yes)
    :param features_extractor_class: features extractor class
    :param features_extractor_kwargs: its keyword arguments
    :param normalize_images: normalise image observations
    :param optimizer_class: optimizer class (Adam)
    :param optimizer_kwargs: its keyword arguments
    """

    actor: GaussianActor
    actor_target: GaussianActor
    actor_reference: GaussianActor
    critic: QNetwork
    critic_target: QNetwork

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ELU,
        layer_norm: bool = True,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            squash_output=True,
            normalize_images=normalize_images,
        )
        if net_arch is None:
            net_arch = [256, 256]
        if isinstance(net_arch, dict):
            unknown = set(net_arch) - {"pi", "qf"}
            if unknown or not {"pi", "qf"} <= set(net_arch):
                raise ValueError(f"net_arch as a dict needs exactly the keys 'pi' and 'qf', got {sorted(net_arch)}")
            actor_arch, critic_arch = list(net_arch["pi"]), list(net_arch["qf"])
        else:
            actor_arch, critic_arch = list(net_arch), list(net_arch)
        self.net_arch = net_arch
        self.actor_arch = actor_arch
        self.critic_arch = critic_arch
        self.activation_fn = activation_fn
        self.layer_norm = layer_norm
        self._build(lr_schedule)

    def _network_kwargs(self, net_arch: list[int]) -> dict[str, Any]:
        features_extractor = self.make_features_extractor()
        return dict(
            observation_space=self.observation_space,
            action_space=self.action_space,
            net_arch=net_arch,
            features_extractor=features_extractor,
            features_dim=features_extractor.features_dim,
            activation_fn=self.activation_fn,
            layer_norm=self.layer_norm,
            normalize_images=self.normalize_images,
        )

    def make_actor(self) -> GaussianActor:
        """:return: a new actor on the policy's device."""
        return GaussianActor(**self._network_kwargs(self.actor_arch)).to(self.device)  # type: ignore[arg-type]

    def make_critic(self) -> QNetwork:
        """:return: a new Q network on the policy's device."""
        return QNetwork(**self._network_kwargs(self.critic_arch)).to(self.device)  # type: ignore[arg-type]

    def _build(self, lr_schedule: Schedule) -> None:
        self.actor = self.make_actor()
        self.actor.optimizer = self.optimizer_class(self.actor.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
        self.critic = self.make_critic()
        self.critic.optimizer = self.optimizer_class(self.critic.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
        self.actor_target = self.make_actor()
        self.actor_reference = self.make_actor()
        self.critic_target = self.make_critic()
        for target, source in (
            (self.actor_target, self.actor),
            (self.actor_reference, self.actor),
            (self.critic_target, self.critic),
        ):
            target.load_state_dict(source.state_dict())
            target.set_training_mode(False)
            target.requires_grad_(False)

    def update_targets(self) -> None:
        """The paper's periodic target update: ``pi_{k-1} <- pi_k``, ``pi_k <- actor``, critic target ``<- critic``."""
        self.actor_reference.load_state_dict(self.actor_target.state_dict())
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                activation_fn=self.activation_fn,
                layer_norm=self.layer_norm,
                lr_schedule=self._dummy_schedule,
                optimizer_class=self.optimizer_class,
                optimizer_kwargs=self.optimizer_kwargs,
                features_extractor_class=self.features_extractor_class,
                features_extractor_kwargs=self.features_extractor_kwargs,
            )
        )
        return data

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """:return: the actor's actions in [-1, 1]."""
        return self._predict(obs, deterministic=deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self.actor(observation, deterministic)

    def set_training_mode(self, mode: bool) -> None:
        """Put the actor and the critic (not the target copies) in training or evaluation mode."""
        self.actor.set_training_mode(mode)
        self.critic.set_training_mode(mode)
        self.training = mode


MlpPolicy = MPOPolicy


class MultiInputPolicy(MPOPolicy):
    """:class:`MPOPolicy` with SB3's ``CombinedExtractor`` for Dict observations (non-robust training only)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)
