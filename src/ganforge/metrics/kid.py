"""Kernel Inception Distance: an unbiased MMD² between feature sets, averaged over random subsets.

Bińkowski et al. 2018, "Demystifying MMD GANs": unlike FID, the estimator is unbiased, so its value does
not depend on the number of samples and small sets can be compared. Kernel k(x, y) = (x·y / d + 1)³.
The per-subset estimator matches torch-fidelity's `mmd2(..., mmd_est="unbiased")` (itself from the
authors' MMD-GAN code): within-set kernel sums exclude the diagonal, the cross term keeps all m² pairs.
The spread is reported as np.std over subsets (ddof=0), as torch-fidelity does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_features, same_dim
from .registry import Metric, MetricInputs, in_features, register, sample_counts

DEGREE = 3
COEF0 = 1.0


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The KID kernel matrix (x·y / d + 1)³ between the rows of x (m, d) and y (n, d)."""
    return (x @ y.T / x.shape[1] + COEF0) ** DEGREE


def mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD² estimate between samples x (m, d) and y (n, d) under the KID kernel.

    sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 sum_{i,j} k(x_i, y_j) / (mn);
    for m == n this is torch-fidelity's "unbiased" estimator. Can be negative: it is unbiased for a
    quantity that is 0 when the distributions agree."""
    fx, fy = as_features(x, "x"), as_features(y, "y")
    same_dim(fx, fy)
    m, n = len(fx), len(fy)
    kxx, kyy, kxy = polynomial_kernel(fx, fx), polynomial_kernel(fy, fy), polynomial_kernel(fx, fy)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.sum() / (m * n))


def subset_indices(
    n_a: int, n_b: int, subsets: int, subset_size: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (rows of a, rows of b) that `kid` uses for each subset: without replacement within a subset,
    independently across subsets, from numpy's default Generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    return [
        (rng.choice(n_a, subset_size, replace=False), rng.choice(n_b, subset_size, replace=False))
        for _ in range(subsets)
    ]


def kid(a: Any, b: Any, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """KID between feature sets a (n_a, d) and b (n_b, d): mean and std of `mmd2_unbiased` over `subsets`
    random subsets of `subset_size` rows from each set.

    subset_size is clipped to min(n_a, n_b) and the clipped value is reported, so small sets still give a
    (noisier) estimate instead of an error."""
    fa, fb = as_features(a, "a"), as_features(b, "b")
    same_dim(fa, fb)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    size = min(subset_size, len(fa), len(fb))
    values = np.array(
        [mmd2_unbiased(fa[ia], fb[ib]) for ia, ib in subset_indices(len(fa), len(fb), subsets, size, seed)]
    )
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "subsets": int(subsets),
        "subset_size": int(size),
    }


# --- the registered metric: one line for people, the headline scalar for logs -------------------


def _kid(inputs: MetricInputs) -> dict[str, Any]:
    k = kid(inputs.features(), inputs.ref_features(), seed=inputs.seed)
    return {"kid": k["mean"], "kid_std": k["std"], "subsets": k["subsets"], "subset_size": k["subset_size"]}


def _kid_sizes(inputs: MetricInputs) -> list[str]:
    n = inputs.n()
    return [f"kid: n={n} < 100: subsets this small make KID very noisy"] if n < 100 else []


register(Metric(
    name="kid", title="kernel distance: unbiased MMD^2 of features",
    needs={"features", "reference"}, compute=_kid,
    describe="unbiased MMD^2, cubic polynomial kernel, mean/std over subsets (Binkowski et al. 2018)",
    line=lambda v: (f"KID {v['kid']:.4g} ± {v['kid_std']:.2g}{in_features(v)} ({sample_counts(v)}, "
                    f"{v['subsets']} subsets of {v['subset_size']})"),
    scalars=("kid",), warn=_kid_sizes,
))
