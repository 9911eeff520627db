"""Data sources. A source has `sample(n, generator)` and describes itself (dimension, modes)."""

from __future__ import annotations

from ..config import DataConfig
from .toy import TOY_SETS, ToyData, load_toy


def build_data(cfg: DataConfig) -> ToyData:
    """Resolve `data.name` (and `data.path`) to a data source; unknown names list the known ones."""
    return load_toy(cfg.name, cfg.path)


__all__ = ["TOY_SETS", "ToyData", "build_data", "load_toy"]
