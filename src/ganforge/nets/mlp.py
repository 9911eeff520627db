"""MLP generator and discriminator for low-dimensional data."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..config import DConfig, GConfig
from ..errors import ConfigError
from ..registry import Registry
from .contract import Discriminator, DOut, Generator, NetSpec

NETS: Registry = Registry("network architecture")

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
    "gelu": lambda: nn.GELU(),
    "silu": lambda: nn.SiLU(),
}


def activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        known = ", ".join(sorted(_ACTIVATIONS))
        raise ConfigError(f"unknown activation {name!r} (known: {known})") from None


def mlp(
    in_dim: int, out_dim: int, width: int, depth: int, act: str, batch_norm: bool,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """`depth` hidden layers of `width` units, each Linear [-> BatchNorm] -> activation."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(depth):
        layers.append(_linear(dim, width, spectral_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(act))
        dim = width
    layers.append(_linear(dim, out_dim, spectral_norm))
    return nn.Sequential(*layers)


def _linear(i: int, o: int, sn: bool) -> nn.Module:
    layer = nn.Linear(i, o)
    return nn.utils.parametrizations.spectral_norm(layer) if sn else layer


class MLPGenerator(Generator):
    """Noise -> a sample of `shape` (flattened through the MLP, reshaped at the end)."""

    def __init__(self, cfg: GConfig, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.spec = NetSpec(tuple(shape), z_dim=cfg.noise_dim)
        self.net = mlp(cfg.noise_dim, math.prod(shape), cfg.width, cfg.depth, cfg.activation,
                       cfg.batch_norm)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).reshape(z.shape[0], *self.spec.data_shape)


class MLPDiscriminator(Discriminator):
    """One raw score (logit) per input; with `pack` = k it scores k samples jointly."""

    def __init__(self, cfg: DConfig, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.spec = NetSpec(tuple(shape), pack=cfg.pack)
        self.net = mlp(math.prod(shape) * cfg.pack, 1, cfg.width, cfg.depth, cfg.activation,
                       cfg.batch_norm, cfg.spectral_norm)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        """x: (n * pack, dim) samples, consecutive groups of `pack` form one packed input."""
        return DOut(self.net(x.reshape(x.shape[0] // self.spec.pack, -1)).squeeze(1))


NETS.register("mlp")((MLPGenerator, MLPDiscriminator))


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def build_g(cfg: GConfig, shape: int | tuple[int, ...], num_classes: int = 0,
            cond_shape: tuple[int, ...] = ()) -> Generator:
    """The generator named by `g.arch` for samples of `shape` ((2,) points, (C, H, W) images);
    `num_classes` > 0 makes it class-conditional; `cond_shape` (C, H, W) makes it translate input
    images of that shape."""
    return _build(NETS.get(cfg.arch)[0], cfg, _shape(shape), num_classes, "g", tuple(cond_shape))


def build_d(cfg: DConfig, shape: int | tuple[int, ...], num_classes: int = 0,
            cond_shape: tuple[int, ...] = ()) -> Discriminator:
    """The discriminator named by `d.arch`; `cond_shape` makes it judge (sample, input image) pairs."""
    return _build(NETS.get(cfg.arch)[1], cfg, _shape(shape), num_classes, "d", tuple(cond_shape))


def _build(cls: Any, cfg: GConfig | DConfig, shape: tuple[int, ...], num_classes: int,
           which: str, cond_shape: tuple[int, ...] = ()) -> Any:
    if cls is None:  # a name registered for one side only (unet: G, patchgan: D)
        other = "d" if which == "g" else "g"
        what = "generator" if which == "g" else "discriminator"
        raise ConfigError(f"{which}.arch={cfg.arch} is not a {what}; use it as {other}.arch")
    if cond_shape:
        if not cls.supports_images:
            pick = "g.arch=unet" if which == "g" else "d.arch=patchgan"
            raise ConfigError(f"{which}.arch={cfg.arch} takes no input image; image-to-image tasks "
                              f"need e.g. {pick}")
        return cls(cfg, shape, cond_shape=cond_shape)
    if not num_classes:
        return cls(cfg, shape)
    if not cls.supports_classes:
        raise ConfigError(f"{which}.arch={cfg.arch} has no class-conditional form")
    return cls(cfg, shape, num_classes)
