"""Nets for tables (CTGAN, Xu et al. 2019): a residual MLP generator with one head per output span,
and a packed MLP critic (PacGAN, Lin et al. 2018).

G's output is the encoded row of data/table.py's TableTransformer: tanh for a mode's offset, a
Gumbel-softmax for each one-hot span (a mode, a category, a missing flag). Which dimension belongs to
which span is held in two buffers (`segment`, `soft`), so the layout travels inside G's state dict and a
checkpoint alone rebuilds G; a net built without a layout (every dimension tanh) takes it on load.

The Gumbel noise is no hidden draw: G's `z` is (latent | one uniform source per output dimension),
all drawn from the caller's noise generator, so G is a deterministic function of (z, c) and a resumed
run draws exactly what the uninterrupted one would. The class condition `c` is CTGAN's conditional
vector as an index: one (column, category) pair of all the table's categorical columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .contract import Discriminator, DOut, Generator, NetSpec

TAU = 0.2  # Gumbel-softmax temperature (CTGAN's)


def span_layout(spans: Sequence[tuple[int, int, str]], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(start, size, activation) spans -> (segment id per dimension, softmax or not per dimension)."""
    segment = torch.arange(dim)
    soft = torch.zeros(dim, dtype=torch.bool)
    for start, size, act in spans:
        if act == "softmax":
            segment[start:start + size] = start
            soft[start:start + size] = True
    return segment, soft


def segment_log_softmax(v: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
    """log-softmax of each row of `v` within each segment (dimensions sharing a segment id)."""
    idx = segment.expand_as(v)
    with torch.no_grad():
        top = torch.full_like(v, -torch.inf).scatter_reduce(1, idx, v, "amax", include_self=True)
    shifted = v - top.gather(1, idx)
    total = torch.zeros_like(v).scatter_add(1, idx, shifted.exp())
    return shifted - total.gather(1, idx).log()


def uniform_of(z: torch.Tensor, noise: str) -> torch.Tensor:
    """The noise's uniform (0, 1) value: the normal CDF for normal noise, a shift for U(-1, 1)."""
    u = 0.5 * torch.erfc(-z / math.sqrt(2)) if noise == "normal" else (z + 1) / 2
    return u.clamp(1e-10, 1 - 1e-7)


def gumbel_of(z: torch.Tensor, noise: str) -> torch.Tensor:
    """Standard Gumbel noise from G's noise source (inverse CDF of a uniform)."""
    return -torch.log(-torch.log(uniform_of(z, noise)))


class _Residual(nn.Module):
    """CTGAN's block: Linear -> BatchNorm -> ReLU, its output concatenated to its input."""

    def __init__(self, i: int, o: int, batch_norm: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], 1)


class TabularGenerator(Generator):
    """(latent | Gumbel sources, condition) -> an encoded row; `depth` residual blocks of `width`."""

    supports_classes = True

    def __init__(self, dim: int, latent: int, num_classes: int, width: int, depth: int,
                 batch_norm: bool = True, noise: str = "normal",
                 spans: Sequence[tuple[int, int, str]] = ()) -> None:
        super().__init__()
        self.latent, self.noise = latent, noise
        self.spec = NetSpec((dim,), z_dim=latent + dim, cond="class" if num_classes else "none",
                            num_classes=num_classes)
        blocks, i = [], latent + num_classes
        for _ in range(depth):
            blocks.append(_Residual(i, width, batch_norm))
            i += width
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(i, dim)
        segment, soft = span_layout(spans, dim)
        self.register_buffer("segment", segment)
        self.register_buffer("soft", soft)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        latent, source = z[:, :self.latent], z[:, self.latent:]
        if c is not None:
            latent = torch.cat([latent, F.one_hot(c, self.spec.num_classes).to(latent.dtype)], 1)
        h = latent
        raw = self.out(self.body(h))
        return self.head(raw, source)

    def head(self, raw: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """tanh on value dimensions, Gumbel-softmax (temperature TAU) within each one-hot span."""
        raw = raw.float()
        logp = segment_log_softmax((raw + gumbel_of(source.float(), self.noise)) / TAU, self.segment)
        return torch.where(self.soft, logp.exp(), torch.tanh(raw))

    def span_logits(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """G's pre-noise logits of its one-hot spans (up to a constant per span), recovered from its
        output and the Gumbel noise in z: TAU * log p - g. The conditional loss is a cross-entropy
        on them, so G need not be run twice."""
        g = gumbel_of(z[:, self.latent:].float(), self.noise)
        return TAU * x.float().clamp_min(1e-30).log() - g


class TabularCritic(Discriminator):
    """The packed critic: `pack` encoded rows (each with its one-hot condition) side by side, through
    `depth` Linear -> LeakyReLU(0.2) layers of `width`, to one score per pack. No dropout: nothing is
    drawn inside D, so a step is a function of its inputs alone."""

    supports_classes = True

    def __init__(self, dim: int, num_classes: int, width: int, depth: int, pack: int) -> None:
        super().__init__()
        self.spec = NetSpec((dim,), cond="class" if num_classes else "none", num_classes=num_classes,
                            pack=pack)
        layers: list[nn.Module] = []
        i = (dim + num_classes) * pack
        for _ in range(depth):
            layers += [nn.Linear(i, width), nn.LeakyReLU(0.2)]
            i = width
        layers.append(nn.Linear(i, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        self.check_condition(c)
        if c is not None:
            x = torch.cat([x, F.one_hot(c, self.spec.num_classes).to(x.dtype)], 1)
        pack = self.spec.pack
        if x.shape[0] % pack:
            raise ValueError(f"the critic judges packs of {pack} rows; got {x.shape[0]} rows")
        return DOut(self.net(x.reshape(x.shape[0] // pack, -1)).squeeze(1))
