"""Data sources. A source has `sample(n, generator)`, a `shape` and describes itself."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import ConfigError, DataError
from .images import IMAGE_SETS, ImageData
from .pairs import PAIRED_SETS, UNPAIRED_SETS, PairedData, UnpairedData, load_paired, load_unpaired
from .toy import TOY_SETS, ToyData, load_toy

DataSource = ToyData | ImageData


def build_data(cfg: DataConfig) -> DataSource:
    """Resolve `data.name` (and `data.path`) to a data source; unknown names list the known ones."""
    if cfg.name in TOY_SETS:
        return load_toy(cfg.name, cfg.path)
    if cfg.name not in IMAGE_SETS:
        known = ", ".join(TOY_SETS.names() + IMAGE_SETS.names())
        raise ConfigError(f"unknown data set {cfg.name!r} (known: {known})")
    data = IMAGE_SETS.get(cfg.name)(path=cfg.path, size=cfg.size, channels=cfg.channels,
                                    max_bad_share=cfg.max_bad_share)
    return fit_images(data, cfg.size, cfg.channels)


def fit_images(data: ImageData, size: int, channels: int) -> ImageData:
    """Bring images to `channels` (1 <-> 3) and `size` (antialiased resize) when asked."""
    x = data.images
    if channels and channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        elif channels == 1 and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise DataError(f"cannot convert {x.shape[1]} channels to {channels}")
    if size and (x.shape[2] != size or x.shape[3] != size):
        if x.shape[2] != x.shape[3]:
            raise DataError(f"images are {x.shape[2]}x{x.shape[3]}; resizing needs square images")
        parts = []
        for chunk in x.split(2048):
            y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)
            parts.append(y.round().clamp(0, 255).to(torch.uint8))
        x = torch.cat(parts)
    if x is not data.images:  # replace() keeps the class (stacked MNIST stays stacked)
        data = dataclasses.replace(data, images=x,
                                   description=data.description + f", as {tuple(x.shape[1:])}")
    return data


__all__ = ["IMAGE_SETS", "PAIRED_SETS", "TOY_SETS", "UNPAIRED_SETS", "DataSource", "ImageData",
           "PairedData", "ToyData", "UnpairedData", "build_data", "load_paired", "load_toy", "load_unpaired"]
