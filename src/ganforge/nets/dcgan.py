"""DCGAN generator and discriminator (Radford et al. 2016) for square images of any channel count.

The image side must be 4 * 2^k or 7 * 2^k (28, 32, 56, 64, 128 ...): G maps noise through a linear
layer to a (C0, s0, s0) tensor, then k strided transposed convolutions double the side and halve
the channels; D mirrors it with strided convolutions. `width` is the channel count next to the
image; it doubles at each step away from it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import DConfig, GConfig
from ..errors import ConfigError
from .cond import CondHead, ConditionalBatchNorm, _sn
from .contract import Discriminator, DOut, Generator, NetSpec
from .layers import MinibatchStd
from .mlp import NETS, activation


def plan(side: int) -> tuple[int, int]:
    """(s0, k): the side at the start of G and the number of doublings."""
    for s0 in (4, 7):
        k, s = 0, side
        while s > s0 and s % 2 == 0:
            s //= 2
            k += 1
        if s == s0 and k >= 1:
            return s0, k
    raise ConfigError(f"DCGAN needs an image side of 4*2^k or 7*2^k (28, 32, 64 ...), got {side}")


def layout(shape: tuple[int, ...], which: str) -> tuple[int, int, int]:
    """(channels, s0, k) for square images of `shape`; a one-line error for anything else."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"{which}.arch=dcgan needs square images (C, H, W), got {shape}")
    return (shape[0], *plan(shape[1]))


def _norm(features: int, on: bool, num_classes: int, dims: int = 2) -> nn.Module:
    if not on:
        return nn.Identity()
    if num_classes:
        return ConditionalBatchNorm(features, num_classes, dims)
    return nn.BatchNorm2d(features) if dims == 2 else nn.BatchNorm1d(features)


def _run(layers: nn.Sequential, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    for m in layers:
        x = m(x, y) if isinstance(m, ConditionalBatchNorm) else m(x)
    return x


class DCGANGenerator(Generator):
    """With `num_classes`, G(z, y) uses conditional batch norm (needs g.batch_norm)."""

    supports_classes = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        c, s0, k = layout(shape, "g")
        ch = cfg.width * 2 ** (k - 1)
        if num_classes and not cfg.batch_norm:
            raise ConfigError("a conditional DCGAN generator needs g.batch_norm=true "
                              "(classes enter through conditional batch norm)")
        self.spec = NetSpec(tuple(shape), z_dim=cfg.noise_dim, cond="class" if num_classes else "none",
                            num_classes=num_classes)
        self.start = (ch, s0, s0)
        self.project = nn.Sequential(
            nn.Linear(cfg.noise_dim, ch * s0 * s0, bias=not cfg.batch_norm),
            _norm(ch * s0 * s0, cfg.batch_norm, num_classes, dims=1),
            activation(cfg.activation),
        )
        blocks: list[nn.Module] = []
        for i in range(k):
            last = i == k - 1
            out = c if last else ch // 2
            blocks.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last or not cfg.batch_norm))
            if not last:
                if cfg.batch_norm:
                    blocks.append(_norm(out, True, num_classes))
                blocks.append(activation(cfg.activation))
            ch = out
        blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        h = _run(self.project, z, c).view(z.shape[0], *self.start)
        return _run(self.net, h, c)


class DCGANDiscriminator(Discriminator):
    """Strided convolutions to (C_k, s0, s0), then one linear score. With `pack` = k, k images
    are stacked along the channels and judged jointly (PacGAN).

    With `num_classes`: `d.cond=projection` adds <embed(y), features> to the score (Miyato &
    Koyama 2018); `d.cond=acgan` adds a class head whose logits come with the score (Odena et al.
    2017)."""

    supports_classes = True

    def __init__(self, cfg: DConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        c, s0, k = layout(shape, "d")
        self.spec = NetSpec(tuple(shape), cond="class" if num_classes else "none",
                            num_classes=num_classes, pack=cfg.pack)
        layers: list[nn.Module] = []
        ch_in, ch = c * cfg.pack, cfg.width
        for i in range(k):
            layers.append(_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), cfg.spectral_norm))
            if cfg.batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(activation(cfg.activation))
            ch_in, ch = ch, ch * 2
        if cfg.mbstd:
            layers.append(MinibatchStd())
            ch_in += 1
        self.net = nn.Sequential(*layers)
        feat = ch_in * s0 * s0
        self.head = _sn(nn.Linear(feat, 1), cfg.spectral_norm)
        if num_classes and cfg.pack > 1:
            raise ConfigError("conditional discriminators do not take d.pack > 1")
        self.cond_head = CondHead(cfg.cond, num_classes, feat, cfg.spectral_norm)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        n = x.shape[0] // self.spec.pack
        x = x.reshape(n, -1, *x.shape[2:])
        h = self.net(x).flatten(1)
        return self.cond_head(self.head(h).squeeze(1), h, c)


NETS.register("dcgan")((DCGANGenerator, DCGANDiscriminator))
