"""Scores of image-to-image outputs against their targets: PSNR, SSIM (scikit-image's) and L1.

Unlike the generation metrics in the registry (a set of samples against a reference distribution),
these compare each output with its own target, so they are plain functions of two aligned batches;
they do not register in METRICS. Images are (n, C, H, W) in [-1, 1], as inside the library; PSNR and
SSIM are computed on [0, 1] (data_range 1) per image and averaged over images."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError


def _unit(x: torch.Tensor) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> float64 (n, H, W, C) in [0, 1], clamped (what a saved image holds)."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy().astype(np.float64)


def _check(out: torch.Tensor, target: torch.Tensor) -> None:
    if out.shape != target.shape or out.dim() != 4 or not len(out):
        raise DataError(f"outputs {tuple(out.shape)} and targets {tuple(target.shape)} must be the same "
                        "non-empty (n, C, H, W)")


def psnr(out: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) on [0, 1] (skimage.metrics.peak_signal_noise_ratio)."""
    from skimage.metrics import peak_signal_noise_ratio

    _check(out, target)
    a, b = _unit(out), _unit(target)
    return float(np.mean([peak_signal_noise_ratio(t, o, data_range=1.0) for o, t in zip(a, b, strict=True)]))


def ssim(out: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over images of skimage.metrics.structural_similarity (7 x 7 windows, or the image's odd side
    when smaller; channels scored apart and averaged)."""
    from skimage.metrics import structural_similarity

    _check(out, target)
    a, b = _unit(out), _unit(target)
    win = min(7, *a.shape[1:3])
    win -= 1 - win % 2  # odd
    return float(np.mean([structural_similarity(t, o, data_range=1.0, channel_axis=-1, win_size=win)
                          for o, t in zip(a, b, strict=True)]))


def l1(out: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute difference in [-1, 1] units (the task's content loss)."""
    _check(out, target)
    return float((out.detach().float().cpu() - target.detach().float().cpu()).abs().mean())


def scores(out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """All three, by name."""
    return {"psnr": psnr(out, target), "ssim": ssim(out, target), "l1": l1(out, target)}
