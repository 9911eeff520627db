"""PatchGAN discriminator (pix2pix: Isola et al. 2017, sec. 3.2.2): a fully convolutional D that scores
every overlapping patch of its input as real or fake, so it judges local texture and sharpness and
leaves the global layout to G's L1 term. pix2pix's 70 x 70 D on 256 px images is `d.depth`=3 strided
convolutions, then a stride-1 convolution and a stride-1 one-channel output; here the strided count is
d.depth, fewer on small images so that at least 2 x 2 patches remain (32 px: 3, giving 2 x 2 patches).

D(x, c): with an input image (cond="image", the paired task) x and c are stacked on the channels, so D
judges x as c's partner; without one (CycleGAN's D) it judges x alone. A smaller input image (the
superres task's low-resolution input, the same aspect) is upsampled bicubically to x's size first, so D
also sees whether x fits its input. DOut.score is (n, patches):
one raw score per patch, which the losses average over every entry, so each patch counts as one
real/fake decision (the paper's per-patch loss, not a loss on the mean score)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DConfig
from ..errors import ConfigError
from .cond import _sn
from .contract import Discriminator, DOut, NetSpec
from .mlp import NETS, activation


def _halve(side: int) -> int:
    return (side + 2 - 4) // 2 + 1  # a 4 x 4 convolution, stride 2, padding 1


def patch_plan(side: int, depth: int) -> tuple[int, int]:
    """(strided convolutions, patches per side): at most `depth` strided ones, leaving >= 2 x 2 patches
    after the two stride-1 convolutions (each takes one off the side)."""
    k, s = 0, side
    while k < depth and _halve(s) - 2 >= 2:
        s = _halve(s)
        k += 1
    if k < 1:
        raise ConfigError(f"d.arch=patchgan needs images of at least 8 px, got {side}")
    return k, s - 2


def _fits(cond_shape: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """The input image is x's size, or k x smaller on both sides (k an integer)."""
    if len(cond_shape) != 3 or cond_shape[1] < 1 or shape[1] % cond_shape[1]:
        return False
    k = shape[1] // cond_shape[1]
    return tuple(shape[1:]) == (cond_shape[1] * k, cond_shape[2] * k)


def _after(side: int, k: int) -> int:
    for _ in range(k):
        side = _halve(side)
    return side - 2


class PatchGANDiscriminator(Discriminator):
    supports_images = True

    def __init__(self, cfg: DConfig, shape: tuple[int, ...], cond_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        if cfg.pack != 1:
            raise ConfigError(f"d.arch=patchgan scores the patches of one image: d.pack must be 1, "
                              f"got {cfg.pack}")
        if cfg.mbstd:
            raise ConfigError("d.arch=patchgan has no minibatch-std layer: set d.mbstd=false")
        if len(shape) != 3 or (cond_shape and not _fits(tuple(cond_shape), tuple(shape))):
            raise ConfigError(f"d.arch=patchgan needs images (C, H, W) and an input image of the same size "
                              f"(or k x smaller), got {shape} and {cond_shape or 'none'}")
        k, _ = patch_plan(min(shape[1], shape[2]), cfg.depth)
        self.spec = NetSpec(tuple(shape), cond="image" if cond_shape else "none",
                            cond_shape=tuple(cond_shape))
        sn = cfg.spectral_norm
        layers: list[nn.Module] = []
        ch_in, ch = shape[0] + (cond_shape[0] if cond_shape else 0), cfg.width
        for i in range(k + 1):  # k strided, then one stride-1, each 4 x 4
            layers.append(_sn(nn.Conv2d(ch_in, ch, 4, 2 if i < k else 1, 1), sn))
            if cfg.batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(activation(cfg.activation))
            ch_in, ch = ch, min(ch * 2, cfg.width * 8)
        layers.append(_sn(nn.Conv2d(ch_in, 1, 4, 1, 1), sn))
        self.net = nn.Sequential(*layers)
        self.patches = _after(shape[1], k) * _after(shape[2], k)  # scores per image

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        self.check_condition(c)
        if c is not None and c.shape[-2:] != x.shape[-2:]:
            c = F.interpolate(c.to(x.dtype), size=x.shape[-2:], mode="bicubic", align_corners=False)
        h = x if c is None else torch.cat([x, c.to(x.dtype)], 1)
        return DOut(self.net(h).flatten(1))


NETS.register("patchgan")((None, PatchGANDiscriminator))
