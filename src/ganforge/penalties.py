"""Penalties on the discriminator: functions of (D, real, fake, generator) -> scalar tensor.

Gradients are taken per D output: with PacGAN packing, one output scores `pack` samples, so its
gradient is the concatenation of theirs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .registry import Registry

Penalty = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
PENALTIES: Registry[Penalty] = Registry("penalty")


def _grad_sq_norms(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||dD(x)/dx||^2 per D output, with a graph so the penalty can be back-propagated."""
    x = x.detach().requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(out.shape[0], -1).pow(2).sum(1)


@PENALTIES.register("gp")
def gradient_penalty(
    d: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): E[(||grad D(x_hat)|| - 1)^2] with
    x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per D input."""
    pack = getattr(d, "pack", 1)
    eps = torch.rand(real.shape[0] // pack, 1, generator=gen, dtype=real.dtype)
    eps = eps.repeat_interleave(pack, 0).view(-1, *([1] * (real.dim() - 1)))  # points or images
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    norms = (_grad_sq_norms(d, x_hat) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean()


@PENALTIES.register("r1")
def r1_penalty(
    d: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, eq. 9): (1/2) E_real[||grad D(x)||^2]; weight = gamma."""
    return 0.5 * _grad_sq_norms(d, real).mean()
