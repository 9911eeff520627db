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


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """ema <- d * ema + (1 - d) * model, with d warmed up as min(decay, (1 + step) / (10 + step))
    so the average forgets the random initialisation quickly; buffers (BN statistics) are copied."""
    d = min(decay, (1 + step) / (10 + step))
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
