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


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: GConfig, shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ConfigError(f"g.arch=dcgan needs square images (C, H, W), got {shape}")
        c, side = shape[0], shape[1]
        s0, k = plan(side)
        ch = cfg.width * 2 ** (k - 1)
        self.noise_dim = cfg.noise_dim
        self.start = (ch, s0, s0)
        self.project = nn.Sequential(
            nn.Linear(cfg.noise_dim, ch * s0 * s0, bias=not cfg.batch_norm),
            nn.BatchNorm1d(ch * s0 * s0) if cfg.batch_norm else nn.Identity(),
            activation(cfg.activation),
        )
        blocks: list[nn.Module] = []
        for i in range(k):
            last = i == k - 1
            out = c if last else ch // 2
            blocks.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last or not cfg.batch_norm))
            if not last:
                if cfg.batch_norm:
                    blocks.append(nn.BatchNorm2d(out))
                blocks.append(activation(cfg.activation))
            ch = out
        blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(z.shape[0], *self.start))


class DCGANDiscriminator(nn.Module):
    """Strided convolutions to (C_k, s0, s0), then one linear score. With `pack` = k, k images
    are stacked along the channels and judged jointly (PacGAN)."""

    def __init__(self, cfg: DConfig, shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ConfigError(f"d.arch=dcgan needs square images (C, H, W), got {shape}")
        c, side = shape[0], shape[1]
        s0, k = plan(side)
        self.pack = cfg.pack
        layers: list[nn.Module] = []
        ch_in, ch = c * cfg.pack, cfg.width
        for i in range(k):
            layers.append(_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), cfg.spectral_norm))
            if cfg.batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(activation(cfg.activation))
            ch_in, ch = ch, ch * 2
        self.net = nn.Sequential(*layers)
        self.head = _sn(nn.Linear(ch_in * s0 * s0, 1), cfg.spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0] // self.pack
        x = x.reshape(n, -1, *x.shape[2:])
        return self.head(self.net(x).flatten(1)).squeeze(1)


NETS.register("dcgan")((DCGANGenerator, DCGANDiscriminator))
