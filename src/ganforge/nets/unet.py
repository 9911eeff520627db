"""U-Net generator for image-to-image translation (pix2pix: Isola et al. 2017, after Ronneberger et al.
2015): an encoder of strided convolutions down to the bottleneck, a decoder of transposed ones back up,
each decoder level joined to its encoder twin by a skip connection, so detail that the input and output
share (edges, positions) need not squeeze through the bottleneck.

G(z, c): `c` is the input image (NetSpec cond="image"). pix2pix's only noise is dropout in the decoder;
here the dropout masks come from `z` (keep a unit where z >= the noise's p-quantile), so G has no
hidden randomness: the trainer's noise generator draws z, and runs resume exactly. z=None (or
g.dropout=0, z_dim 0) means no dropout, as nn.Dropout in eval mode.

Depth comes from the image side: halve while it is even (down to 1 x 1 for powers of two, at most
MAX_DEPTH levels), so 16, 32 and 64 px give 4, 5 and 6 levels. `g.width` is the channel count of the
outer level; it doubles inward up to 8 x width. Encoder: LeakyReLU(0.2), decoder: ReLU, output tanh;
`g.batch_norm` adds batch norm inside (not at the outer levels nor the bottleneck)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import GConfig
from ..errors import ConfigError
from .contract import Generator, NetSpec
from .mlp import NETS

MAX_DEPTH = 8
DROPOUT_LEVELS = 3  # decoder levels with dropout, just outside the innermost one (as pix2pix)


def unet_depth(side: int) -> int:
    """Halvings of `side` until it is odd or 1, at most MAX_DEPTH: 32 -> 5, 28 -> 2."""
    depth = 0
    while side % 2 == 0 and side > 1 and depth < MAX_DEPTH:
        side //= 2
        depth += 1
    return depth


def _quantile(noise: str, p: float) -> float:
    """The p-quantile of G's noise distribution: z below it drops a unit (probability p)."""
    if noise == "uniform":
        return 2 * p - 1
    return float(torch.special.ndtri(torch.tensor(p, dtype=torch.float64)))


class UNetGenerator(Generator):
    supports_images = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], cond_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        if not cond_shape:
            raise ConfigError("g.arch=unet translates images: it needs an input image (task.kind=paired)")
        if len(shape) != 3 or shape[1] != shape[2] or tuple(cond_shape[1:]) != tuple(shape[1:]):
            raise ConfigError(f"g.arch=unet needs square inputs and outputs of one size, got {cond_shape} -> "
                              f"{shape}")
        depth = unet_depth(shape[1])
        if depth < 1:
            raise ConfigError(f"g.arch=unet needs an even image side, got {shape[1]}")
        widths = [cfg.width * min(2**i, 8) for i in range(depth)]
        bn = cfg.batch_norm

        def norm(ch: int, on: bool) -> nn.Module:
            return nn.BatchNorm2d(ch) if on else nn.Identity()

        downs: list[nn.Module] = []
        ch = cond_shape[0]
        for i, w in enumerate(widths):
            plain = i in (0, depth - 1)  # no norm at the outer level nor the bottleneck
            downs.append(nn.Sequential(nn.LeakyReLU(0.2) if i else nn.Identity(),
                                       nn.Conv2d(ch, w, 4, 2, 1, bias=plain or not bn),
                                       norm(w, bn and not plain)))
            ch = w
        ups: list[nn.Module] = []
        self.drop_shapes: dict[int, tuple[int, int, int]] = {}
        for j in range(depth):  # j = 0 is the innermost; it ends at encoder level depth - 2 - j
            level = depth - 2 - j
            outer = level < 0
            out = shape[0] if outer else widths[level]
            ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=outer or not bn),
                                     nn.Tanh() if outer else norm(out, bn)))
            if not outer and 1 <= j <= DROPOUT_LEVELS and cfg.dropout > 0:
                side = shape[1] >> (level + 1)
                self.drop_shapes[j] = (out, side, side)
            ch = 2 * out  # joined with the encoder's output at that level
        self.downs = nn.ModuleList(downs)
        self.ups = nn.ModuleList(ups)
        self.keep = 1 - cfg.dropout
        self.threshold = _quantile(cfg.noise, cfg.dropout) if cfg.dropout > 0 else 0.0
        z_dim = sum(math.prod(s) for s in self.drop_shapes.values())
        self.spec = NetSpec(tuple(shape), z_dim=z_dim, cond="image", cond_shape=tuple(cond_shape))

    def _masks(self, z: torch.Tensor | None, dtype: torch.dtype) -> dict[int, torch.Tensor]:
        if z is None or not self.spec.z_dim:
            return {}
        if z.dim() != 2 or z.shape[1] != self.spec.z_dim:
            raise ValueError(f"z must be None or (n, {self.spec.z_dim}), got {tuple(z.shape)}")
        masks, start = {}, 0
        for j, s in self.drop_shapes.items():
            part = z[:, start:start + math.prod(s)].reshape(len(z), *s)
            masks[j] = (part >= self.threshold).to(dtype) / self.keep
            start += math.prod(s)
        return masks

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        skips = []
        h = c
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = skips.pop()
        masks = self._masks(z, h.dtype)
        for j, up in enumerate(self.ups):
            h = up(h)
            if j in masks:
                h = h * masks[j]
            if skips:
                h = torch.cat([h, skips.pop()], 1)
        return h


NETS.register("unet")((UNetGenerator, None))
