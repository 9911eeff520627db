"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

Averaging G over the last few hundred steps cancels much of the oscillation of GAN training:
samples from the average sit far closer to the modes than samples from the last iterate.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(model: nn.Module) -> nn.Module:
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def ema_decay(decay: float, step: int, rampup: float = 0.0) -> float:
    """The decay used at `step` (0-based).

    Without ramp-up: min(decay, (1 + step) / (10 + step)), so the average forgets the random
    initialisation quickly. With ramp-up r > 0 (StyleGAN2-ADA's ema_rampup): the average's half-life,
    in steps, is at most r * (step + 1), i.e. min(decay, 0.5 ** (1 / (r * (step + 1)))). A long fixed
    horizon averages a G that is still moving fast early in training, and its samples trail the live
    G's (measured: benchmarks/results/dcgan_ablation.md); the ramp keeps the horizon a fixed share of
    training so far."""
    if rampup > 0:
        return min(decay, 0.5 ** (1.0 / (rampup * (step + 1))))
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int, rampup: float = 0.0) -> None:
    """ema <- d * ema + (1 - d) * model with d = ema_decay(decay, step, rampup); buffers (BN
    statistics) are copied."""
    d = ema_decay(decay, step, rampup)
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
