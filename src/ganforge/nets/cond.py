"""Pieces shared by class-conditional nets: conditional batch norm and D's class heads."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .contract import DOut


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017; used by
    SNGAN / BigGAN generators): BN without affine, then gamma_y * x + beta_y."""

    def __init__(self, features: int, num_classes: int, dims: int = 2) -> None:
        super().__init__()
        self.bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(features, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * features)
        with torch.no_grad():
            self.embed.weight[:, :features].fill_(1.0)
            self.embed.weight[:, features:].zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.embed(y).chunk(2, dim=1)
        shape = (-1, x.shape[1]) + (1,) * (x.dim() - 2)
        return self.bn(x) * gamma.view(shape) + beta.view(shape)


class CondHead(nn.Module):
    """How a discriminator uses labels, given its pooled features h and unconditional score:
    `projection` adds <embed(y), h> (Miyato & Koyama 2018); `acgan` appends class logits, the
    logits in the output (Odena et al. 2017); `none` returns the score."""

    def __init__(self, cond: str, num_classes: int, features: int, sn: bool) -> None:
        super().__init__()
        self.cond = cond if num_classes else "none"
        if self.cond == "projection":
            self.embed = _sn(nn.Embedding(num_classes, features), sn)
        elif self.cond == "acgan":
            self.classify = nn.Linear(features, num_classes)
        elif self.cond != "none":
            raise ConfigError(f"unknown d.cond {cond!r} (known: projection, acgan)")

    def forward(self, score: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None) -> DOut:
        if self.cond == "projection":
            if y is None:
                raise ValueError("this discriminator is conditional: pass class labels y")
            return DOut(score + (self.embed(y) * h).sum(1))
        if self.cond == "acgan":
            return DOut(score, self.classify(h))
        return DOut(score)
