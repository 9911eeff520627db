"""Metrics: statistics on samples. Metrics never import the trainer."""

from .modes import mode_stats, sliced_wasserstein

__all__ = ["mode_stats", "sliced_wasserstein"]
