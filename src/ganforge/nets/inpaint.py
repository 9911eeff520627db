"""Gated-convolution encoder-decoder for inpainting (after DeepFill v2, Yu et al. 2019: "Free-Form Image
Inpainting with Gated Convolution"; dilated middle layers after Iizuka et al. 2017).

A plain convolution treats hole pixels (zeros) as real input; a gated one learns per pixel and channel
how much of each feature to let through: out = act(conv_f(x)) * sigmoid(conv_g(x)), so the net can
learn where the valid context is, which matters for free-form holes. The encoder halves twice, a few
dilated gated convolutions (dilation 2, 4, 8, ... capped by the feature side) widen the receptive
field to the whole image, and the decoder doubles back with nearest upsampling + gated convolutions.

G(z, c): `c` is the masked image and its mask stacked on the channels (C + 1, H, W), mask 1 = hole;
z is unused (z_dim 0: pass None). The output is composited here, out = m * G + (1 - m) * image, so
the valid pixels come back exactly and everything downstream of G (D, the task's L1, EMA copies,
generation, export) sees the finished image without knowing the task. `g.width`: channels of the
outer level (x2, x4 inward); `g.depth`: dilated layers in the middle."""

from __future__ import annotations

import torch
from torch import nn

from ..config import GConfig
from ..errors import ConfigError
from .contract import Generator, NetSpec
from .mlp import NETS


class GatedConv(nn.Module):
    """act(features) * sigmoid(gate), both from one convolution with twice the channels."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, kernel, stride, dilation * (kernel - 1) // 2, dilation)
        self.act = nn.ELU()

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate alone, in [0, 1] (for inspection and tests)."""
        return torch.sigmoid(self.conv(x).chunk(2, 1)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, g = self.conv(x).chunk(2, 1)
        return self.act(f) * torch.sigmoid(g)


class GatedGenerator(Generator):
    supports_images = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], cond_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        if len(shape) != 3 or tuple(cond_shape) != (shape[0] + 1, *shape[1:]):
            raise ConfigError(f"g.arch=gated fills holes: it takes an image and its mask stacked (C + 1 "
                              f"channels, task.kind=inpaint), got {cond_shape or 'none'} -> {shape}")
        if shape[1] % 4 or shape[2] % 4 or min(shape[1:]) < 8:
            raise ConfigError(f"g.arch=gated needs image sides divisible by 4 and >= 8, got {shape[1:]}")
        if not 1 <= cfg.width <= 512 or not 0 <= cfg.depth <= 8:
            raise ConfigError(f"g.arch=gated needs 1 <= g.width <= 512 and 0 <= g.depth <= 8, got "
                              f"{cfg.width} and {cfg.depth}")
        w, c = cfg.width, shape[0]
        inner = min(shape[1:]) // 4
        dilations = [min(2 ** (i + 1), max(1, inner // 2)) for i in range(cfg.depth)]
        self.encoder = nn.Sequential(GatedConv(c + 1, w, 5), GatedConv(w, 2 * w, 3, 2),
                                     GatedConv(2 * w, 2 * w), GatedConv(2 * w, 4 * w, 3, 2))
        self.middle = nn.Sequential(*[GatedConv(4 * w, 4 * w, 3, 1, d) for d in dilations],
                                    GatedConv(4 * w, 4 * w))
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), GatedConv(4 * w, 2 * w),
                                     nn.Upsample(scale_factor=2), GatedConv(2 * w, w),
                                     nn.Conv2d(w, c, 3, 1, 1), nn.Tanh())
        self.channels = c
        self.spec = NetSpec(tuple(shape), z_dim=0, cond="image", cond_shape=tuple(cond_shape))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        assert c is not None
        if z is not None and z.numel():
            raise ValueError("g.arch=gated takes no noise: pass z=None")
        raw = self.decoder(self.middle(self.encoder(c)))
        image, m = c[:, :self.channels], c[:, self.channels:]
        return m * raw + (1 - m) * image  # the valid pixels exactly as given


NETS.register("gated")((GatedGenerator, None))
