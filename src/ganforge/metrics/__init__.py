"""Metrics: features (extractors) and statistics on them. Metrics never import the trainer.

One file per statistic, each registering its metric(s) in `registry.METRICS` at import. Every
module of this package is imported here (in name order, the order `ganforge eval --help` lists
them), so a new metric is one new file: nothing else lists metric names. Import a statistic from its
file (`from ganforge.metrics.kid import kid`).
"""

import pkgutil
from importlib import import_module

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        import_module(f".{_m.name}", __name__)  # a metric file registers itself on import

from .frechet import frechet_distance, frechet_from_stats, gaussian_stats  # noqa: E402
from .modes import mode_stats, sliced_wasserstein, stacked_mnist_modes  # noqa: E402
from .prdc import density_coverage, precision_recall  # noqa: E402
from .registry import METRICS, Metric, MetricInputs, register  # noqa: E402

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
