"""Metrics: features (extractors) and statistics on them. Metrics never import the trainer.

One file per statistic; import from the file (`from ganforge.metrics.kid import kid`), so that the
module names `kid`, `swd` and `inception_score` are never shadowed by their functions.
"""

from .frechet import frechet_distance, frechet_from_stats, gaussian_stats
from .modes import mode_stats, sliced_wasserstein, stacked_mnist_modes
from .prdc import density_coverage, precision_recall

__all__ = [
    "density_coverage",
    "frechet_distance",
    "frechet_from_stats",
    "gaussian_stats",
    "mode_stats",
    "precision_recall",
    "sliced_wasserstein",
    "stacked_mnist_modes",
]
