"""Differentiable augmentation for small data (DiffAugment, Zhao et al. 2020, NeurIPS).

D only ever sees augmented images, real and fake alike, and G's gradient flows back through the
same augmentation, so D cannot memorise a small training set and G is not taught to produce the
augmentations. Policies: `color` (brightness, saturation, contrast), `translation` (up to 1/8 of
the side, zero padded) and `cutout` (a square of half the side set to zero). Every random draw
comes from the caller's generator, so training stays reproducible and exactly resumable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .device import draw_int, draw_uniform
from .errors import ConfigError

Aug = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _rand(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return draw_uniform((x.shape[0], 1, 1, 1), gen, x.device).to(x.dtype)


def _shift(lo: int, hi: int, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n integers in [lo, hi), shape (n, 1, 1), from `gen`."""
    return draw_int(hi - lo, (n, 1, 1), gen, device) + lo


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Brightness +U(-0.5, 0.5); saturation x U(0, 2); contrast x U(0.5, 1.5) (per sample)."""
    x = x + (_rand(x, gen) - 0.5)
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (_rand(x, gen) * 2) + mean_c
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, gen) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * side pixels in x and y; vacated pixels become 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _shift(-sh, sh + 1, n, gen, x.device)
    tx = _shift(-sw, sw + 1, n, gen, x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device),
                            indexing="ij")
    yy = (gy.unsqueeze(0) + ty + 1).clamp(0, h + 1)  # index into the zero-padded image
    xx = (gx.unsqueeze(0) + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    flat = padded.flatten(2)  # (n, c, (h+2)(w+2))
    idx = (yy * (w + 2) + xx).flatten(1).unsqueeze(1).expand(-1, x.shape[1], -1)
    return flat.gather(2, idx).view_as(x)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio * side at a random centre (it may hang over the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = _shift(0, h + (1 - ch % 2), n, gen, x.device)
    ox = _shift(0, w + (1 - cw % 2), n, gen, x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device),
                            indexing="ij")
    keep = ~(((gy - oy + ch // 2) >= 0) & ((gy - oy + ch // 2) < ch)
             & ((gx - ox + cw // 2) >= 0) & ((gx - ox + cw // 2) < cw))
    return x * keep.unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Aug] = {"color": color, "translation": translation, "cutout": cutout}


def build_augment(policy: str) -> Aug | None:
    """'color,translation,cutout' -> one function applying them in that order; '' -> None."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    if not names:
        return None
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ConfigError(f"unknown augmentation {unknown[0]!r} in train.augment "
                          f"(known: {', '.join(POLICIES)})")
    fns = [POLICIES[p] for p in names]

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        for fn in fns:
            x = fn(x, gen)
        return x

    return augment
