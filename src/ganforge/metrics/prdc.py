"""Precision/recall (fidelity vs diversity) and density/coverage from k-nearest-neighbour balls.

Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative Models": a set's
manifold is the union of balls around its points, each with radius the distance to the point's k-th
nearest neighbour in the same set (the point itself excluded). Precision = share of fake samples inside
the real manifold, recall = share of real samples inside the fake manifold. Membership is `distance <=
radius`, as in NVlabs/stylegan2-ada-pytorch metrics/precision_recall.py.

Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models": density counts how
many real balls contain each fake sample (divided by k, so ~1 when fakes match reals), coverage is the
share of real balls that contain at least one fake sample; both only use real balls, which makes them
robust to fake outliers. Membership is `distance < radius`, as in clovaai/generative-evaluation-prdc.

Radius convention of both references: the (k+1)-th smallest distance from a point to its own set, self
(distance 0) included; exact duplicates of a point therefore count as neighbours at distance 0.

Distances are computed in CHUNK x CHUNK tiles, so memory stays bounded for 20k x 2048-d features.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._arrays import as_features, same_dim
from .registry import Metric, MetricInputs, in_features, register, sample_counts

CHUNK = 1024  # rows and columns per distance tile: 1024² float64 = 8 MiB


def _tiles(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """(row slice of x, row slice of y, Euclidean distances between those rows) over all tiles.

    |a|² + |b|² - 2 a·b with one matrix product per tile; the same inputs in the same tile positions give
    bitwise the same distances, so a point and its copy are treated alike."""
    chunk = max(1, int(CHUNK))
    x2, y2 = (x * x).sum(1), (y * y).sum(1)
    for i in range(0, len(x), chunk):
        rows = slice(i, i + chunk)
        for j in range(0, len(y), chunk):
            cols = slice(j, j + chunk)
            d2 = x2[rows, None] + y2[None, cols] - 2.0 * (x[rows] @ y[cols].T)
            yield rows, cols, np.sqrt(np.maximum(d2, 0.0))


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row (the (k+1)-th smallest distance to x,
    self included), keeping only the k+1 smallest distances per row while scanning the tiles."""
    best = np.full((len(x), k + 1), np.inf)
    for rows, _, d in _tiles(x, x):
        merged = np.concatenate([best[rows], d], axis=1)
        best[rows] = np.partition(merged, k, axis=1)[:, : k + 1]
    return best.max(axis=1)


def _check(real: Any, fake: Any, k: int, need_fake_k: bool) -> tuple[np.ndarray, np.ndarray]:
    r, f = as_features(real, "real"), as_features(fake, "fake")
    same_dim(r, f, "real and fake")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k >= len(r):
        raise ValueError(f"k={k} needs more than k real samples, got {len(r)}")
    if need_fake_k and k >= len(f):
        raise ValueError(f"k={k} needs more than k fake samples, got {len(f)}")
    return r, f


def precision_recall(real: Any, fake: Any, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of fake (n_f, d) against real (n_r, d)
    features with k-NN balls; k=3 is the paper's default."""
    r, f = _check(real, fake, k, need_fake_k=True)
    r_rad, f_rad = knn_radii(r, k), knn_radii(f, k)
    fake_in = np.zeros(len(f), dtype=bool)  # inside some real ball: precision
    real_in = np.zeros(len(r), dtype=bool)  # inside some fake ball: recall
    for rows, cols, d in _tiles(r, f):
        fake_in[cols] |= (d <= r_rad[rows, None]).any(axis=0)
        real_in[rows] |= (d <= f_rad[None, cols]).any(axis=1)
    return {"precision": float(fake_in.mean()), "recall": float(real_in.mean())}


def density_coverage(real: Any, fake: Any, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of fake (n_f, d) against real (n_r, d) features, from
    k-NN balls around the real samples only; k=5 is the paper's default."""
    r, f = _check(real, fake, k, need_fake_k=False)
    r_rad = knn_radii(r, k)
    balls_per_fake = np.zeros(len(f), dtype=np.int64)
    covered = np.zeros(len(r), dtype=bool)
    for rows, cols, d in _tiles(r, f):
        inside = d < r_rad[rows, None]
        balls_per_fake[cols] += inside.sum(axis=0)
        covered[rows] |= inside.any(axis=1)
    return {"density": float(balls_per_fake.mean() / k), "coverage": float(covered.mean())}


# --- the registered metrics (pr, dc): one line for people, the headline scalars for logs -----------


def _knn_sizes(name: str) -> Callable[[MetricInputs], list[str]]:
    def warn(inputs: MetricInputs) -> list[str]:
        n = inputs.n()
        return [f"{name}: n={n} < 1,000: k-NN manifolds this sparse are unreliable"] if n < 1000 else []
    return warn


register(Metric(
    name="pr", title="k-NN precision and recall",
    needs={"features", "reference"},
    compute=lambda i: {**precision_recall(i.ref_features(), i.features(), k=3), "k": 3},
    describe="k-NN precision and recall, k=3 (Kynkaanniemi et al. 2019)",
    line=lambda v: (f"precision {v['precision']:.3f}, recall {v['recall']:.3f}{in_features(v)} "
                    f"(k={v['k']}, {sample_counts(v)})"),
    scalars=("precision", "recall"), warn=_knn_sizes("pr"),
))

register(Metric(
    name="dc", title="k-NN density and coverage",
    needs={"features", "reference"},
    compute=lambda i: {**density_coverage(i.ref_features(), i.features(), k=5), "k": 5},
    describe="density and coverage, k=5 (Naeem et al. 2020)",
    line=lambda v: (f"density {v['density']:.3f}, coverage {v['coverage']:.3f}{in_features(v)} "
                    f"(k={v['k']}, {sample_counts(v)})"),
    scalars=("density", "coverage"), warn=_knn_sizes("dc"),
))
