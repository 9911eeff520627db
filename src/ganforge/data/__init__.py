"""Data sources. A source has `sample(n, generator)`, a `shape` and describes itself."""

from __future__ import annotations

import dataclasses

from ..config import DataConfig
from ..errors import ConfigError
from . import edges, glyphs  # noqa: F401  (importing them fills PAIRED_SETS)
from .images import IMAGE_SETS, ImageData, fit_tensor
from .pairs import PAIRED_SETS, UNPAIRED_SETS, PairedData, UnpairedData, load_paired, load_unpaired
from .photos import PHOTO_SETS, PhotoData
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
    x = fit_tensor(data.images, size, channels)
    if x is not data.images:  # replace() keeps the class (stacked MNIST stays stacked)
        data = dataclasses.replace(data, images=x,
                                   description=data.description + f", as {tuple(x.shape[1:])}")
    return data


__all__ = ["IMAGE_SETS", "PAIRED_SETS", "PHOTO_SETS", "TOY_SETS", "UNPAIRED_SETS", "DataSource", "ImageData",
           "PairedData", "PhotoData", "ToyData", "UnpairedData", "build_data", "fit_images", "load_paired",
           "load_toy", "load_unpaired"]
