"""Mode coverage on Gaussian mixtures, the VEEGAN / PacGAN protocol.

Srivastava et al. 2017 (VEEGAN, section 5.1) and Lin et al. 2018 (PacGAN, section 4.1):
draw 2,500 samples from G with the training noise; a sample is *high quality* if it lies within
3 standard deviations of its nearest mode; a mode is *captured* if it is the nearest mode of at
least one high-quality sample; *reverse KL* is KL(p || uniform) in nats, where p is the histogram
of high-quality samples over the modes.

`covered_modes` is ganforge's one definition of a covered mode: eval's `modes` metric, the health
monitors' quality check and the lab's quality line all count with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .registry import Metric, register, sample_counts

COVERED_RULE = "a mode is captured when it is the nearest mode of at least one high-quality sample"


def covered_modes(counts: Sequence[int]) -> int:
    """Modes captured, from the high-quality samples' histogram over the modes: the published
    VEEGAN / PacGAN rule (COVERED_RULE), so that ganforge's counts compare with the papers' rows."""
    return sum(1 for c in counts if c > 0)


def reverse_kl(counts: torch.Tensor, k: int) -> float | None:
    """KL(p || uniform over k) in nats of a histogram of counts; None for an empty histogram."""
    total = float(counts.sum())
    if total <= 0:
        return None
    p = counts.double() / total
    nz = p > 0
    return float((p[nz] * (p[nz] * k).log()).sum())


def mode_stats(
    samples: torch.Tensor, modes: torch.Tensor, std: float, threshold: float = 3.0
) -> dict[str, Any]:
    """Modes captured, high-quality share (0-1), reverse KL, and the per-mode counts.

    reverse_kl is None when no sample is high quality (the histogram is then undefined)."""
    x = samples.detach().double()
    m = modes.double()
    dist = torch.cdist(x, m)  # (n, k)
    nearest_d, nearest = dist.min(1)
    hq = nearest_d <= threshold * std
    counts = torch.bincount(nearest[hq], minlength=len(m))
    n_hq = int(hq.sum())
    k = len(m)
    kl = reverse_kl(counts, k)
    return {
        "modes": covered_modes(counts.tolist()),
        "modes_total": k,
        "hq": n_hq / len(x) if len(x) else 0.0,
        "reverse_kl": kl,
        "counts": counts.tolist(),
        "n_samples": len(x),
        "threshold_std": threshold,
    }


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, n_proj: int = 256, seed: int = 0
) -> float:
    """Sliced 1-Wasserstein distance between two equal-size point sets: the mean over random
    directions of the 1-D optimal-transport cost (sorted projections). For sets without modes."""
    if len(a) != len(b):
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
    gen = torch.Generator().manual_seed(seed)
    dirs = torch.randn(a.shape[1], n_proj, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (a.double() @ dirs).sort(0).values
    pb = (b.double() @ dirs).sort(0).values
    return float((pa - pb).abs().mean())


def uniform_kl_floor(n_hq: int, k: int) -> float:
    """Expected reverse KL of a perfectly uniform G from sampling noise alone: ~(k-1)/(2n)."""
    return (k - 1) / (2 * n_hq) if n_hq else math.inf


def knn_class_stats(fake: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor,
                    num_classes: int, k: int = 5) -> dict[str, Any]:
    """Classes of a labelled image set that G's samples cover, by their k nearest real images in
    pixel space (scikit-learn's NearestNeighbors): quick enough to run live and needs no trained
    classifier. A sample is *high quality* when its k neighbours agree on one class; classes are
    counted and reverse KL taken over high-quality samples, as for mixtures (COVERED_RULE)."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(real.flatten(1).double().numpy())
    idx = torch.from_numpy(nn.kneighbors(fake.flatten(1).double().numpy(), return_distance=False))
    votes = real_labels[idx]  # (n, k)
    hq = (votes == votes[:, :1]).all(1)
    counts = torch.bincount(votes[hq, 0], minlength=num_classes)
    n_hq = int(hq.sum())
    kl = reverse_kl(counts, num_classes)
    return {"modes": covered_modes(counts.tolist()), "modes_total": num_classes,
            "hq": n_hq / len(fake) if len(fake) else 0.0, "reverse_kl": kl, "counts": counts.tolist(),
            "n_samples": len(fake), "k": k}


STACKED_MODES = 1000
STACKED_N = 26_000  # VEEGAN / PacGAN: 26,000 generated samples


def stacked_mnist_modes(digits: torch.Tensor) -> dict[str, Any]:
    """Stacked-MNIST mode counting (VEEGAN section 5.2, PacGAN section 4.2): `digits` (n, 3) are the
    classes predicted for the R, G, B channels; mode = 100a + 10b + c; a mode is captured if at least
    one sample falls in it; reverse KL = KL(p_gen || uniform over 1,000) in nats."""
    if digits.dim() != 2 or digits.shape[1] != 3:
        raise ValueError(f"stacked MNIST needs (n, 3) predicted digits, got {tuple(digits.shape)}")
    d = digits.to(torch.int64)
    mode = d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]
    counts = torch.bincount(mode, minlength=STACKED_MODES).double()
    return {
        "modes": covered_modes(counts.tolist()),
        "modes_total": STACKED_MODES,
        "reverse_kl": reverse_kl(counts, STACKED_MODES),
        "n_samples": len(d),
        "max_mode_share": float(counts.max() / counts.sum()),
        "counts": counts.to(torch.int64).tolist(),
    }


# --- the registered metric: one line for people, the headline scalars for logs ------------------


def _line(v: dict[str, Any]) -> str:
    kl = "n/a (no high-quality sample)" if v["reverse_kl"] is None else f"{v['reverse_kl']:.4f}"
    hq = f", high quality {100 * v['hq']:.1f}%" if "hq" in v else ""
    return f"modes {v['modes']}/{v['modes_total']}{hq}, reverse KL {kl} ({sample_counts(v)})"


register(Metric(
    name="modes", title="modes captured, high-quality share, reverse KL",
    needs={"modes"}, compute=lambda inputs: inputs.count_modes(),
    describe="modes captured and KL(p_gen || uniform) in nats (VEEGAN / PacGAN protocol)",
    line=_line, scalars=("modes", "hq", "reverse_kl"), context=("modes_total",),
))
