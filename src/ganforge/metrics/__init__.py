"""Metrics: features (extractors) and statistics on them. Metrics never import the trainer.

One file per statistic, each registering its metric(s) in `registry.METRICS` at import; the imports
below make them register (in this order: the order `ganforge eval --help` lists them). Import a
statistic from its file (`from ganforge.metrics.kid import kid`).
"""

from . import frechet, kid, prdc, inception_score, swd, modes  # noqa: F401, I001 (they register, in this order)
from .frechet import frechet_distance, frechet_from_stats, gaussian_stats
from .modes import mode_stats, sliced_wasserstein, stacked_mnist_modes
from .prdc import density_coverage, precision_recall
from .registry import METRICS, Metric, MetricInputs, register

__all__ = [
    "METRICS",
    "Metric",
    "MetricInputs",
    "density_coverage",
    "frechet_distance",
    "frechet_from_stats",
    "gaussian_stats",
    "mode_stats",
    "precision_recall",
    "register",
    "sliced_wasserstein",
    "stacked_mnist_modes",
]
