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
MIN_HELD_OUT = 10  # a paired set this small or larger without a test part gets every 5th pair held out


def build_data(cfg: DataConfig) -> DataSource:
    """Resolve `data.name` (and `data.path`) to a data source; unknown names list the known ones."""
    if cfg.name in PAIRED_SETS or cfg.name in UNPAIRED_SETS:
        kind = "paired" if cfg.name in PAIRED_SETS else "unpaired"
        raise ConfigError(f"data.name={cfg.name} is an image-to-image set: set task.kind={kind}")
    if cfg.name in ("table", "wine", "breast_cancer"):
        raise ConfigError(f"data.name={cfg.name} is a table: set task.kind=table")
    if cfg.name in TOY_SETS:
        return load_toy(cfg.name, cfg.path)
    if cfg.name not in IMAGE_SETS:
        known = ", ".join(TOY_SETS.names() + IMAGE_SETS.names())
        raise ConfigError(f"unknown data set {cfg.name!r} (known: {known})")
    data = IMAGE_SETS.get(cfg.name)(path=cfg.path, size=cfg.size, channels=cfg.channels,
                                    max_bad_share=cfg.max_bad_share)
    return fit_images(data, cfg.size, cfg.channels)


def build_paired(cfg: DataConfig) -> PairedData:
    """The paired set `data.name` at data.size / data.channels, with held-out pairs as `.test`
    (its own test part, else every 5th pair): what the paired task trains and shows samples on."""
    if cfg.name not in PAIRED_SETS:
        raise ConfigError(f"task.kind=paired needs a paired data set, not {cfg.name!r} "
                          f"(known: {', '.join(PAIRED_SETS.names())})")
    data = load_paired(cfg.name, path=cfg.path, size=cfg.size, channels=cfg.channels,
                       max_bad_share=cfg.max_bad_share).fit(cfg.size, cfg.channels)
    return data.split() if data.test is None and data.size >= MIN_HELD_OUT else data


def build_unpaired(cfg: DataConfig) -> UnpairedData:
    """Two domains for the unpaired task: a registered unpaired set (its testA/testB as `.test`), or a
    paired set seen unpaired (disjoint halves of its training pairs; held-out pairs kept whole, so
    translations can be scored against the truth)."""
    if cfg.name in PAIRED_SETS:
        return build_paired(cfg).unpaired()
    if cfg.name not in UNPAIRED_SETS:
        known = ", ".join(sorted(UNPAIRED_SETS.names() + PAIRED_SETS.names()))
        raise ConfigError(f"task.kind=unpaired needs an image-to-image data set, not {cfg.name!r} "
                          f"(known: {known})")
    return load_unpaired(cfg.name, path=cfg.path, size=cfg.size, channels=cfg.channels,
                         max_bad_share=cfg.max_bad_share)


def fit_images(data: ImageData, size: int, channels: int) -> ImageData:
    """Bring images to `channels` (1 <-> 3) and `size` (antialiased resize) when asked."""
    x = fit_tensor(data.images, size, channels)
    if x is not data.images:  # replace() keeps the class (stacked MNIST stays stacked)
        data = dataclasses.replace(data, images=x,
                                   description=data.description + f", as {tuple(x.shape[1:])}")
    return data


__all__ = ["IMAGE_SETS", "PAIRED_SETS", "PHOTO_SETS", "TOY_SETS", "UNPAIRED_SETS", "DataSource", "ImageData",
           "PairedData", "PhotoData", "ToyData", "UnpairedData", "build_data", "build_paired",
           "build_unpaired", "fit_images", "load_paired", "load_toy", "load_unpaired"]
