"""Inception Score from a classifier's class probabilities.

Salimans et al. 2016, "Improved Techniques for Training GANs": IS = exp(E_x KL(p(y|x) || p(y))), high when
each sample is classified confidently (low-entropy p(y|x)) and the classes are diverse (high-entropy
p(y)). It lies in [1, number of classes]. As in the authors' code and torch-fidelity, the rows are cut into
`splits` consecutive parts (boundaries i * n // splits), p(y) is the mean within each part, and the
mean and std (ddof=0) over the parts are reported. Rows are used in the order given (no shuffle).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_float64
from .registry import Metric, MetricInputs, in_features, register, sample_counts

ROW_SUM_TOL = 1e-3  # float16/float32 softmax outputs sum to 1 within this


def _check_probs(probs: Any) -> np.ndarray:
    p = as_float64(probs)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs must be a 2-D (n, classes) array, got shape {tuple(p.shape)}")
    if not np.isfinite(p).all():
        raise ValueError("probs contains NaN or infinite values")
    bad = (p.min(axis=1) < 0) | (np.abs(p.sum(axis=1) - 1.0) > ROW_SUM_TOL)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"probs row {i} is not a probability vector (sum {p[i].sum():.6g}, min {p[i].min():.6g}); "
            "pass softmax outputs, not logits"
        )
    return p


def inception_score(probs: Any, splits: int = 10) -> dict[str, float]:
    """Mean and std over `splits` parts of exp(mean_x KL(p(y|x) || p(y))), from probs (n, classes)."""
    p = _check_probs(probs)
    n = len(p)
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be between 1 and the number of rows ({n}), got {splits}")
    scores = []
    for s in range(splits):
        part = p[s * n // splits : (s + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        # 0 log 0 = 0; where part > 0 the marginal py > 0 too.
        ratio = np.divide(part, py, out=np.ones_like(part), where=part > 0)
        kl = (part * np.log(ratio)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores))}


# --- the registered metric: one line for people, the headline scalar for logs -------------------


def _is(inputs: MetricInputs) -> dict[str, Any]:
    probs = inputs.probs()
    s = inception_score(probs, splits=10)
    return {"is": s["mean"], "is_std": s["std"], "splits": 10, "classes": probs.shape[1]}


register(Metric(
    name="is", title="inception score of class probabilities", needs={"probs"}, compute=_is,
    describe="inception score from class probabilities, 10 splits (Salimans et al. 2016)",
    line=lambda v: (f"IS {v['is']:.4g} ± {v['is_std']:.2g}{in_features(v)} ({v['classes']} classes, "
                    f"{sample_counts(v)})"),
    scalars=("is",),
))
