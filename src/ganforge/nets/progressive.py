"""Progressive growing (Karras et al. 2018, ProGAN) for the DCGAN nets.

Training starts at the smallest side of the DCGAN plan (4 or 7) and adds one doubling per phase of
`train.progressive` steps. A new resolution fades in over the first half of its phase: G blends
the upsampled RGB output of the level below with the new block's RGB output, D blends the
downsampled input seen through the old fromRGB with the new block's features, each as
(1 - alpha) * old + alpha * new; then the phase stabilises at alpha = 1. Real images are
averaged down to the current side and faded the same way (`fade_real`).

So that every consumer sees a normal image net, G always returns full-size images (its current
output upsampled, nearest) and D takes full-size images (average-pooled to its current side);
the nets' `stage` / `alpha` are plain attributes set by the trainer from the step (`phase`), never
state of their own. A built net is fully grown, which is what sampling a finished run needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DConfig, GConfig
from ..errors import ConfigError
from .cond import CondHead, _sn
from .contract import Discriminator, DOut, Generator, NetSpec
from .dcgan import _norm, _run, layout
from .layers import MinibatchStd
from .mlp import activation


def phase(step: int, steps_per_phase: int, levels: int) -> tuple[int, float]:
    """(stage, alpha) for the step about to be taken: stage 0 trains `steps_per_phase` steps at the
    lowest side; each later stage fades in over the first half of its phase (alpha 0 -> 1), then
    stabilises; after the last phase the nets stay fully grown. A pure function of the step, so a
    resumed run recomputes it exactly."""
    if steps_per_phase < 1:
        raise ValueError(f"steps_per_phase must be >= 1, got {steps_per_phase}")
    stage = step // steps_per_phase
    if stage >= levels:
        return levels - 1, 1.0
    if stage == 0:
        return 0, 1.0
    into = step - stage * steps_per_phase
    return stage, min(1.0, 2.0 * into / steps_per_phase)


def phase_batch(sizes: tuple[int, ...], stage: int, default: int) -> int:
    """The global batch size of a phase: train.progressive_batch's entry (the last repeats), else
    train.batch_size."""
    return sizes[min(stage, len(sizes) - 1)] if sizes else default


def samples_drawn(step: int, steps_per_phase: int, levels: int, sizes: tuple[int, ...], default: int) -> int:
    """Samples drawn per D step over the first `step` steps, each phase at its own batch size
    (what an epoch count needs when train.progressive_batch varies it)."""
    total, done = 0, 0
    for stage in range(levels):
        n = step - done if stage == levels - 1 else min(steps_per_phase, step - done)
        total += max(n, 0) * phase_batch(sizes, stage, default)
        done += max(n, 0)
    return total


def resize(x: torch.Tensor, side: int) -> torch.Tensor:
    """Images brought to `side`: average pooling down, nearest neighbours up (the two ProGAN uses),
    x itself when it already has that side."""
    have = x.shape[-1]
    if have == side:
        return x
    if have > side:
        if have % side:
            raise ValueError(f"cannot pool a side of {have} down to {side}")
        return F.avg_pool2d(x, have // side)
    if side % have:
        raise ValueError(f"cannot upsample a side of {have} to {side}")
    return F.interpolate(x, scale_factor=side // have, mode="nearest")


def fade_real(x: torch.Tensor, side: int, fading: bool, alpha: float) -> torch.Tensor:
    """Real images as D sees them at `side` (ProGAN): averaged down to it and, during a fade,
    blended with the half-side version, (1 - alpha) * up(down(x)) + alpha * x; returned at x's full
    side (nearest), which D pools back, as G's output is."""
    full = x.shape[-1]
    cur = resize(x, side)
    if fading:
        old = resize(resize(cur, side // 2), side)
        cur = (1 - alpha) * old + alpha * cur
    return resize(cur, full)


class Growing:
    """What a growing net adds: `levels` sides (s0 * 2^j, j = 0 .. levels - 1), the current
    `stage` and fade `alpha`. Set by the trainer from the step (`phase`); a new net is fully grown."""

    levels: int = 1
    side0: int = 1
    stage: int = 0
    alpha: float = 1.0

    def _init_growth(self, side0: int, levels: int) -> None:
        self.side0, self.levels = side0, levels
        self.stage, self.alpha = levels - 1, 1.0

    def set_growth(self, stage: int, alpha: float) -> None:
        if not 0 <= stage < self.levels:
            raise ValueError(f"stage must be in [0, {self.levels - 1}], got {stage}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.stage, self.alpha = int(stage), float(alpha)

    def grow_to(self, step: int, steps_per_phase: int) -> None:
        """The stage and fade of `step` under train.progressive = steps_per_phase."""
        self.set_growth(*phase(step, steps_per_phase, self.levels))

    @property
    def side(self) -> int:
        """The side the net works at now."""
        return self.side0 * 2 ** self.stage

    @property
    def fading(self) -> bool:
        return self.stage > 0 and self.alpha < 1.0


def _channels(width: int, k: int) -> list[int]:
    """Features per level, as the DCGAN nets have them: width * 2^(k-1) at s0, halving per doubling,
    so width / 2 at the full side (where the plain nets hold the image itself: this extra level of
    features is what toRGB / fromRGB cost)."""
    return [max(1, (width << (k - 1)) >> j) for j in range(k + 1)]


class ProgressiveDCGANGenerator(Growing, Generator):
    """DCGAN's G grown level by level: project -> (C0, s0, s0), a transposed-convolution block per
    doubling, and a 1x1 toRGB per level (tanh after the fade). Returns full-size images."""

    supports_classes = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        c, s0, k = layout(shape, "g")
        if num_classes and not cfg.batch_norm:
            raise ConfigError("a conditional DCGAN generator needs g.batch_norm=true "
                              "(classes enter through conditional batch norm)")
        self.spec = NetSpec(tuple(shape), z_dim=cfg.noise_dim, cond="class" if num_classes else "none",
                            num_classes=num_classes)
        ch = _channels(cfg.width, k)
        self.start = (ch[0], s0, s0)
        self.project = nn.Sequential(
            nn.Linear(cfg.noise_dim, ch[0] * s0 * s0, bias=not cfg.batch_norm),
            _norm(ch[0] * s0 * s0, cfg.batch_norm, num_classes, dims=1),
            activation(cfg.activation),
        )
        # blocks[j - 1] doubles the side from level j - 1 to level j
        self.blocks = nn.ModuleList(nn.Sequential(
            nn.ConvTranspose2d(ch[j - 1], ch[j], 4, 2, 1, bias=not cfg.batch_norm),
            _norm(ch[j], cfg.batch_norm, num_classes),
            activation(cfg.activation),
        ) for j in range(1, k + 1))
        self.to_rgb = nn.ModuleList(nn.Conv2d(ch[j], c, 1) for j in range(k + 1))
        self._init_growth(s0, k + 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        h = _run(self.project, z, c).view(z.shape[0], *self.start)
        prev = h
        for block in self.blocks[:self.stage]:
            prev, h = h, _run(block, h, c)
        rgb = self.to_rgb[self.stage](h)
        if self.fading:
            old = resize(self.to_rgb[self.stage - 1](prev), rgb.shape[-1])
            rgb = (1 - self.alpha) * old + self.alpha * rgb
        return resize(torch.tanh(rgb), self.spec.data_shape[-1])


class ProgressiveDCGANDiscriminator(Growing, Discriminator):
    """DCGAN's D grown level by level: a 1x1 fromRGB per level, a strided-convolution block per
    halving, then (minibatch std) and the linear score (+ projection / ACGAN head with classes).
    Takes full-size images (any side that pools down to its current one)."""

    supports_classes = True

    def __init__(self, cfg: DConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        c, s0, k = layout(shape, "d")
        if num_classes and cfg.pack > 1:
            raise ConfigError("conditional discriminators do not take d.pack > 1")
        self.spec = NetSpec(tuple(shape), cond="class" if num_classes else "none",
                            num_classes=num_classes, pack=cfg.pack)
        ch = _channels(cfg.width, k)
        self.from_rgb = nn.ModuleList(nn.Sequential(
            _sn(nn.Conv2d(c * cfg.pack, ch[j], 1), cfg.spectral_norm), activation(cfg.activation),
        ) for j in range(k + 1))
        # blocks[j - 1] halves the side from level j to level j - 1 (batch norm as DCGAN's D: not
        # on the layer next to the image)
        self.blocks = nn.ModuleList(nn.Sequential(
            _sn(nn.Conv2d(ch[j], ch[j - 1], 4, 2, 1), cfg.spectral_norm),
            nn.BatchNorm2d(ch[j - 1]) if cfg.batch_norm and j < k else nn.Identity(),
            activation(cfg.activation),
        ) for j in range(1, k + 1))
        self.tail = MinibatchStd() if cfg.mbstd else nn.Identity()
        feat = (ch[0] + (1 if cfg.mbstd else 0)) * s0 * s0
        self.head = _sn(nn.Linear(feat, 1), cfg.spectral_norm)
        self.cond_head = CondHead(cfg.cond, num_classes, feat, cfg.spectral_norm)
        self._init_growth(s0, k + 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        self.check_condition(c)
        n = x.shape[0] // self.spec.pack
        x = resize(x.reshape(n, -1, *x.shape[2:]), self.side)
        h = self.from_rgb[self.stage](x)
        if self.stage > 0:
            h = self.blocks[self.stage - 1](h)
            if self.fading:
                old = self.from_rgb[self.stage - 1](resize(x, self.side // 2))
                h = (1 - self.alpha) * old + self.alpha * h
        for j in range(self.stage - 1, 0, -1):
            h = self.blocks[j - 1](h)
        h = self.tail(h).flatten(1)
        return self.cond_head(self.head(h).squeeze(1), h, c)
