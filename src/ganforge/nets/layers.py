"""Small layers shared by the image discriminators."""

from __future__ import annotations

import torch
from torch import nn


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation of the features over groups of `group`
    samples, averaged (Karras et al. 2018, ProGAN, section 3). A collapsed G makes batches with
    little variation, which D then sees directly."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = self.group if n % self.group == 0 else n
        y = x.float().view(g, n // g, c, h, w)
        std = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean((1, 2, 3))  # (n // g,)
        s = std.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w).to(x.dtype)
        return torch.cat([x, s], 1)
