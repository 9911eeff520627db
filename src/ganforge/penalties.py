"""Penalties on the discriminator: functions of (critic, real, fake, generator, pack) -> scalar.

`critic(x)` is D's score with its condition bound (the trainer passes `lambda x: D(x, c).score`),
so a penalty never needs to know whether D is conditional. Gradients are taken per D output: with
PacGAN packing (`pack` > 1), one output scores `pack` samples, so its gradient is the concatenation
of theirs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .device import draw_uniform
from .registry import Registry

Critic = Callable[[torch.Tensor], torch.Tensor]
Penalty = Callable[[Critic, torch.Tensor, torch.Tensor, torch.Generator, int], torch.Tensor]
PENALTIES: Registry[Penalty] = Registry("penalty")


def _grad_sq_norms(critic: Critic, x: torch.Tensor) -> torch.Tensor:
    """||dD(x)/dx||^2 per D output, with a graph so the penalty can be back-propagated."""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(out.shape[0], -1).pow(2).sum(1)


@PENALTIES.register("gp")
def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator,
                     pack: int = 1) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): E[(||grad D(x_hat)|| - 1)^2] with
    x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per D input."""
    eps = draw_uniform((real.shape[0] // pack, 1), gen, real.device, real.dtype)
    eps = eps.repeat_interleave(pack, 0).view(-1, *([1] * (real.dim() - 1)))  # points or images
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    norms = (_grad_sq_norms(critic, x_hat) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean()


@PENALTIES.register("r1")
def r1_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator,
               pack: int = 1) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, eq. 9): (1/2) E_real[||grad D(x)||^2]; weight = gamma."""
    return 0.5 * _grad_sq_norms(critic, real).mean()
