"""The one model contract: every generator is `G(z, c)`, every discriminator `D(x, c)`.

`c` is the condition: None, class labels (int64, shape (n,)), or (translation tasks) an input image.
Each net declares what it takes in one typed place, its `spec`, so that the trainer, penalties,
generation, health and the lab read facts instead of probing attributes. D returns a `DOut`: the
score (one raw logit / critic value per D input) and, for auxiliary-classifier D's, class logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import nn

CONDITIONS = ("none", "class", "image")
_WHAT = {"class": "class labels", "image": "the input images"}


@dataclass(frozen=True)
class NetSpec:
    """What a net takes. `z_dim`: G's noise size (0 for D). `cond`: none | class | image.
    `num_classes` > 0 with cond=class. `pack`: D judges this many samples jointly (PacGAN).
    `data_shape`: one sample's shape, (2,) for points, (C, H, W) for images. `cond_shape`: the input
    image's (C, H, W) with cond=image, and only then."""

    data_shape: tuple[int, ...]
    z_dim: int = 0
    cond: str = "none"
    num_classes: int = 0
    pack: int = 1
    cond_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.cond not in CONDITIONS:
            raise ValueError(f"cond must be one of {CONDITIONS}, got {self.cond!r}")
        if (self.cond == "class") != (self.num_classes > 0):
            raise ValueError("cond='class' goes with num_classes > 0, and only with it")
        if (self.cond == "image") != (len(self.cond_shape) == 3):
            raise ValueError("cond='image' goes with a (C, H, W) cond_shape, and only with it")


class DOut(NamedTuple):
    """D's output: `score` (n // pack,) raw logits or critic values, or (n, P) for a patch D (one per
    patch; losses average over every entry); `logits` (n, K) class logits of an auxiliary classifier
    (ACGAN), else None."""

    score: torch.Tensor
    logits: torch.Tensor | None = None


class Generator(nn.Module):
    """Base of every generator: forward(z, c=None) -> samples in data space ([-1, 1] for images)."""

    supports_classes: ClassVar[bool] = False  # build_g may ask for a class-conditional form
    supports_images: ClassVar[bool] = False  # build_g may give it an input image (cond_shape=...)
    spec: NetSpec

    def check_condition(self, c: torch.Tensor | None) -> None:
        if self.spec.cond != "none" and c is None:
            raise ValueError(f"this generator is conditional: pass {_WHAT[self.spec.cond]} as c")

    def bind_rng(self, gen: torch.Generator | None) -> None:
        """Give G a generator for the random draws it makes itself in training (StyleGAN's per-pixel
        noise and style mixing), so a run resumes exactly; G's without such draws ignore it."""


class Discriminator(nn.Module):
    """Base of every discriminator: forward(x, c=None) -> DOut."""

    supports_classes: ClassVar[bool] = False
    supports_images: ClassVar[bool] = False
    spec: NetSpec

    def check_condition(self, c: torch.Tensor | None) -> None:
        if self.spec.cond != "none" and c is None:
            raise ValueError(f"this discriminator is conditional: pass {_WHAT[self.spec.cond]} as c")
