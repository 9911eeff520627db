"""ResNet generator and discriminator of SNGAN (Miyato et al. 2018, appendix B.4, CIFAR-10, 32 px).

G: z -> linear to (width, 4, 4) -> three up-sampling residual blocks -> BN, ReLU, 3x3 conv, tanh.
D: an "optimised" first down block, a down block, two plain blocks, ReLU, global sum pooling and a
linear score; spectral norm on every layer when d.spectral_norm is set (the SNGAN setting).
Class-conditional forms: conditional batch norm in G, a projection term in D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DConfig, GConfig
from ..errors import ConfigError
from .cond import CondHead, ConditionalBatchNorm, _sn
from .contract import Discriminator, DOut, Generator, NetSpec
from .layers import MinibatchStd
from .mlp import NETS


def _bn(ch: int, num_classes: int) -> nn.Module:
    return ConditionalBatchNorm(ch, num_classes) if num_classes else nn.BatchNorm2d(ch)


def _apply(bn: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return bn(x, y) if isinstance(bn, ConditionalBatchNorm) else bn(x)


class GBlock(nn.Module):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an up-sampled 1x1-conv shortcut."""

    def __init__(self, cin: int, cout: int, num_classes: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = _bn(cin, num_classes), _bn(cout, num_classes)
        self.c1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(_apply(self.bn1, x, y)), scale_factor=2)
        h = self.c2(F.relu(_apply(self.bn2, self.c1(h), y)))
        return h + self.sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """ReLU-conv-ReLU-conv [-avgpool], plus a 1x1-conv [-avgpool] shortcut; `first` is SNGAN's
    optimised block (no ReLU on the raw image, pooling before the shortcut's conv)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool, sn: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.c1 = _sn(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.c2 = _sn(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.sc = _sn(nn.Conv2d(cin, cout, 1), sn) if (cin != cout or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.sc is not None:
            s = self.sc(F.avg_pool2d(s, 2) if self.first else s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


def _check(shape: tuple[int, ...], which: str) -> None:
    if len(shape) != 3 or shape[1] != 32 or shape[2] != 32:
        raise ConfigError(f"{which}.arch=resnet is the SNGAN 32x32 model; got data of shape "
                          f"{shape} (set data.size=32)")


class ResNetGenerator(Generator):
    supports_classes = True

    def __init__(self, cfg: GConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        _check(shape, "g")
        w = cfg.width
        self.spec = NetSpec(tuple(shape), z_dim=cfg.noise_dim, cond="class" if num_classes else "none",
                            num_classes=num_classes)
        self.width = w
        self.fc = nn.Linear(cfg.noise_dim, 4 * 4 * w)
        self.blocks = nn.ModuleList([GBlock(w, w, num_classes) for _ in range(3)])
        self.bn = nn.BatchNorm2d(w)
        self.out = nn.Conv2d(w, shape[0], 3, 1, 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        h = self.fc(z).view(z.shape[0], self.width, 4, 4)
        for b in self.blocks:
            h = b(h, c)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator(Discriminator):
    supports_classes = True

    def __init__(self, cfg: DConfig, shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        _check(shape, "d")
        if cfg.pack > 1 and num_classes:
            raise ConfigError("conditional discriminators do not take d.pack > 1")
        w, sn = cfg.width, cfg.spectral_norm
        self.spec = NetSpec(tuple(shape), cond="class" if num_classes else "none",
                            num_classes=num_classes, pack=cfg.pack)
        self.blocks = nn.Sequential(
            DBlock(shape[0] * cfg.pack, w, down=True, first=True, sn=sn),
            DBlock(w, w, down=True, first=False, sn=sn),
            DBlock(w, w, down=False, first=False, sn=sn),
            DBlock(w, w, down=False, first=False, sn=sn),
        )
        self.mbstd = MinibatchStd() if cfg.mbstd else None
        feat = w + 1 if cfg.mbstd else w
        self.head = _sn(nn.Linear(feat, 1), sn)
        self.cond_head = CondHead(cfg.cond, num_classes, feat, sn)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        n = x.shape[0] // self.spec.pack
        h = self.blocks(x.reshape(n, -1, *x.shape[2:]))
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = F.relu(h).sum((2, 3))
        return self.cond_head(self.head(h).squeeze(1), h, c)


NETS.register("resnet")((ResNetGenerator, ResNetDiscriminator))
