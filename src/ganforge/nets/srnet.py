"""Super-resolution generator `rrdb`: ESRGAN's residual-in-residual dense blocks (Wang et al. 2018, after
SRGAN: Ledig et al. 2017), in a light form for CPUs.

G(z, c): `c` is the low-resolution image (NetSpec cond="image"), the output is `scale` x larger, where
scale = output side / input side (2 or 4), read from the shapes build_g is given. Layout: a 3 x 3 conv
into `g.width` features; `g.depth` RRDBs (each two dense blocks of three convs with growth width / 2,
every residual scaled by 0.2 as in ESRGAN) and a conv, added to the features they started from; per
factor 2 a conv to 4 x width and a pixel shuffle (Shi et al. 2016); two convs to the image. The result is
added to the bicubic upsampling of `c`, and the last conv starts at zero, so a fresh G *is* bicubic
upsampling and training only has to learn the detail bicubic misses. No batch norm (ESRGAN drops it),
no noise (z_dim 0), fully convolutional: it runs on inputs of any size (generation.translate_tiled)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import GConfig
from ..errors import ConfigError
from .contract import Generator, NetSpec
from .mlp import NETS

RES_SCALE = 0.2  # ESRGAN's residual scaling: keeps a deep stack of blocks stable without batch norm


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class DenseBlock(nn.Module):
    """Three 3 x 3 convs, each seeing the block input and every earlier output; residual x 0.2."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(width, growth, 3, 1, 1)
        self.c2 = nn.Conv2d(width + growth, growth, 3, 1, 1)
        self.c3 = nn.Conv2d(width + 2 * growth, width, 3, 1, 1)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act(self.c1(x))
        b = self.act(self.c2(torch.cat([x, a], 1)))
        return x + RES_SCALE * self.c3(torch.cat([x, a, b], 1))


class RRDB(nn.Module):
    """Residual in residual: two dense blocks, their sum scaled by 0.2 and added to the input."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(DenseBlock(width, growth), DenseBlock(width, growth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RES_SCALE * self.blocks(x)


class RRDBGenerator(Generator):
    supports_images = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], cond_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        if len(cond_shape) != 3 or len(shape) != 3:
            raise ConfigError("g.arch=rrdb upscales images: it needs an input image (task.kind=superres)")
        scale = shape[1] // cond_shape[1]
        if (scale not in (2, 4) or shape[0] != cond_shape[0]
                or tuple(shape[1:]) != (cond_shape[1] * scale, cond_shape[2] * scale)):
            raise ConfigError(f"g.arch=rrdb makes images 2 or 4 x larger with the input's channels, got "
                              f"{cond_shape} -> {shape}")
        self.scale = scale
        w, ch = cfg.width, shape[0]
        self.head = nn.Conv2d(ch, w, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(w, max(1, w // 2)) for _ in range(cfg.depth)])
        self.body_end = nn.Conv2d(w, w, 3, 1, 1)
        ups: list[nn.Module] = []
        for _ in range(scale.bit_length() - 1):  # one x2 stage per factor of 2
            ups += [nn.Conv2d(w, 4 * w, 3, 1, 1), nn.PixelShuffle(2), _act()]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Sequential(nn.Conv2d(w, w, 3, 1, 1), _act(), nn.Conv2d(w, ch, 3, 1, 1))
        last = self.tail[-1]
        assert isinstance(last, nn.Conv2d)
        nn.init.zeros_(last.weight)  # a fresh G is bicubic upsampling
        nn.init.zeros_(last.bias)
        self.spec = NetSpec(tuple(shape), cond="image", cond_shape=tuple(cond_shape))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        assert c is not None
        h = self.head(c)
        h = h + self.body_end(self.body(h))
        base = F.interpolate(c, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.tail(self.up(h))


NETS.register("rrdb")((RRDBGenerator, None))
