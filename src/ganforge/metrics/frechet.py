"""Fréchet distance between Gaussians fitted to two feature sets (FID when the features are Inception's).

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium":
d² = ||mu1 - mu2||² + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)), the squared 2-Wasserstein distance between
N(mu1, S1) and N(mu2, S2). Reference implementation: mseitzer/pytorch-fid (scipy.linalg.sqrtm).

The trace term is computed without scipy and without the non-symmetric product S1 S2: for PSD matrices
tr(sqrt(S1 S2)) = tr(sqrt(R S2 R)) with R = sqrt(S1), and R S2 R is symmetric PSD, so two symmetric
eigendecompositions give it. This is stable for rank-deficient covariances (fewer samples than dimensions),
where sqrtm of S1 S2 can return complex or NaN entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_features, as_float64, same_dim
from .registry import Metric, MetricInputs, in_features, register, sample_counts

# Negative results within this fraction of the distance's scale are rounding and become 0.
NEGATIVE_ROUNDING = 1e-10


def gaussian_stats(feats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) (ddof=1) in float64: the statistics FID compares, and the
    ones worth caching for a fixed real set."""
    x = as_features(feats, "feats")
    mu = x.mean(axis=0)
    xc = x - mu
    cov = xc.T @ xc / (x.shape[0] - 1)
    return mu, (cov + cov.T) / 2


def _psd_eigenvalues(w: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric PSD matrix with rounding noise removed: those below the rank tolerance
    numpy uses (max |w| * dim * eps) are zeroed, so that sqrt does not amplify them into a bias."""
    tol = (np.abs(w).max() if w.size else 0.0) * w.size * np.finfo(np.float64).eps
    return np.where(w > tol, w, 0.0)


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr(sqrt(S1 S2)) for symmetric PSD S1, S2, via tr(sqrt(sqrt(S1) S2 sqrt(S1)))."""
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(_psd_eigenvalues(w))) @ v.T
    m = root @ s2 @ root
    m = (m + m.T) / 2
    return float(np.sqrt(_psd_eigenvalues(np.linalg.eigvalsh(m))).sum())


def frechet_from_stats(mu1: Any, s1: Any, mu2: Any, s2: Any) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2), from cached statistics.

    Mathematically >= 0; a negative value within rounding (NEGATIVE_ROUNDING of the scale) returns 0.0,
    a clearly negative one is returned as is because it means s1 or s2 is not a covariance matrix."""
    mu1, mu2 = as_float64(mu1), as_float64(mu2)
    s1, s2 = as_float64(s1), as_float64(s2)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must be 1-D of one length, got shapes {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}) to match the means, got {s1.shape} and {s2.shape}")
    arrays = (mu1, s1, mu2, s2)
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("Gaussian statistics contain NaN or infinite values")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    diff = mu1 - mu2
    mean_term = float(diff @ diff)
    tr1, tr2 = float(np.trace(s1)), float(np.trace(s2))
    value = mean_term + tr1 + tr2 - 2.0 * _trace_sqrt_product(s1, s2)
    scale = mean_term + abs(tr1) + abs(tr2)
    if -NEGATIVE_ROUNDING * max(scale, 1e-300) <= value < 0.0:
        value = 0.0
    return float(value)


def frechet_distance(a: Any, b: Any) -> float:
    """Fréchet distance between Gaussians fitted to the (n, d) feature sets a and b (FID on Inception
    pool features)."""
    fa, fb = as_features(a, "a"), as_features(b, "b")
    same_dim(fa, fb)
    return frechet_from_stats(*gaussian_stats(fa), *gaussian_stats(fb))


# --- the registered metric: one line for people, the headline scalar for logs -------------------


def _fid(inputs: MetricInputs) -> dict[str, Any]:
    return {"fid": frechet_distance(inputs.features(), inputs.ref_features())}


def _fid_sizes(inputs: MetricInputs) -> list[str]:
    n, dim = inputs.n(), inputs.features().shape[1]
    if n < dim:
        return [f"fid: n={n} < feature dim {dim}: the covariance is singular and FID biased upward; "
                f"use n >= {10 * dim}"]
    if n < 2000:
        return [f"fid: n={n} is small; FID is biased upward at small n (compare scores only at equal n; "
                "10,000+ is usual)"]
    return []


register(Metric(
    name="fid", title="Frechet distance of Gaussians fitted to features",
    needs={"features", "reference"}, compute=_fid,
    describe="Frechet distance between Gaussians fitted to the features (Heusel et al. 2017)",
    line=lambda v: f"FID {v['fid']:.4g}{in_features(v)} ({sample_counts(v)})",
    scalars=("fid",), warn=_fid_sizes,
))
