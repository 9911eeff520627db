"""Input conversion shared by the metric statistics.

Features arrive from torch (any device, any float dtype, maybe requiring grad) or numpy; the statistics
are computed in float64 numpy so that results do not depend on where the features were produced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_float64(x: Any) -> np.ndarray:
    """A float64 numpy copy (or view) of a tensor, array or nested list.

    Tensors are detached and moved to the CPU first; they are cast in torch so that dtypes numpy does not
    know (bfloat16) convert too."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def as_features(x: Any, name: str, min_rows: int = 2) -> np.ndarray:
    """`x` as a finite float64 (n, d) matrix with n >= min_rows, else a one-line ValueError."""
    a = as_float64(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) array of features, got shape {tuple(a.shape)}")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {a.shape[0]}")
    if a.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimensions (shape {tuple(a.shape)})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def same_dim(a: np.ndarray, b: np.ndarray, names: str = "the two feature sets") -> None:
    """A one-line ValueError when two (n, d) feature matrices have different d."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} have different feature dimensions: {a.shape[1]} vs {b.shape[1]}")
