"""
Behaviour-cloning warm start of the policy: maximise ``log pi(a | s)`` of the dataset's actions.

Not in the paper's v1 (Rigter et al., 2022, section 7 names it future work); the official code added it later
("add behaviour cloning initialisation") and runs it by default: 50 epochs, Adam at 1e-4, batches of 256, loss
``-mean(log pi(a | s))`` of the squashed Gaussian. (OfflineRL-Kit regresses a reparameterised sample on the action
with MSE instead.)
"""

from __future__ import annotations

import numpy as np
import torch as th
from stable_baselines3.sac.policies import Actor

#: Cloned actions are clipped to this magnitude. SB3's ``TanhBijector`` maps an action of exactly +-1 to about
#: +-8.3 before the tanh, where such rows dominate the likelihood and push the actor into saturation (vanishing
#: tanh gradients for SAC afterwards); ``atanh(0.999)`` is 3.8. The official code skips every batch holding an
#: action at the bound instead, which would drop most batches of data with many saturated actions.
BC_ACTION_LIMIT = 0.999


def behaviour_log_prob(actor: Actor, observations: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """
    :param actor: SAC's actor
    :param observations: ``(N, obs_dim)``
    :param actions: ``(N, action_dim)`` scaled to ``[-1, 1]`` (SB3's ``TanhBijector`` clips to just inside the bounds)
    :return: ``log pi(a | s)`` of the squashed Gaussian, ``(N,)``
    """
    mean_actions, log_std, kwargs = actor.get_action_dist_params(observations)
    distribution = actor.action_dist.proba_distribution(mean_actions, log_std, **kwargs)
    return distribution.log_prob(actions)


def behaviour_cloning(
    actor: Actor,
    observations: th.Tensor,
    actions: th.Tensor,
    n_epochs: int,
    learning_rate: float,
    batch_size: int,
    rng: np.random.Generator,
) -> list[float]:
    """
    Train the actor by maximum likelihood on the dataset's actions, with its own Adam optimiser (the actor's own
    optimiser state is left untouched for SAC).

    :param actor: SAC's actor (trained in place)
    :param observations: ``(N, obs_dim)`` on the actor's device
    :param actions: ``(N, action_dim)`` scaled to ``[-1, 1]`` (cloned clipped to :data:`BC_ACTION_LIMIT`)
    :param n_epochs: passes over the data (official: 50)
    :param learning_rate: Adam's step size (official: 1e-4)
    :param batch_size: rows per step (official: 256)
    :param rng: the generator of each epoch's shuffle
    :return: the mean loss ``-log pi(a | s)`` of each epoch
    """
    optimizer = th.optim.Adam(actor.parameters(), lr=learning_rate)
    actions = actions.clamp(-BC_ACTION_LIMIT, BC_ACTION_LIMIT)
    n = observations.shape[0]
    n_batches = max(n // batch_size, 1)  # as the official loop: whole batches only (one short batch for tiny data)
    losses: list[float] = []
    actor.set_training_mode(True)
    for _ in range(n_epochs):
        order = th.as_tensor(rng.permutation(n), device=observations.device)
        total = th.zeros((), device=observations.device)
        for b in range(n_batches):
            index = order[b * batch_size : (b + 1) * batch_size]
            loss = -behaviour_log_prob(actor, observations[index], actions[index]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach()
        losses.append(total.item() / n_batches)
    actor.set_training_mode(False)
    return losses
