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


# --- inpainting: scores over the hole pixels only (the valid pixels are copied, so exact) ----------


def _holes(out: torch.Tensor, target: torch.Tensor,
           masks: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image, (output, target) values in [0, 1] at the hole pixels of every channel."""
    _check(out, target)
    if masks.dim() != 4 or tuple(masks.shape) != (len(out), 1, *out.shape[2:]):
        raise DataError(f"masks must be (n, 1, H, W) for outputs {tuple(out.shape)}, "
                        f"got {tuple(masks.shape)}")
    holes = (masks.detach().cpu()[:, 0] > 0.5).numpy()
    a, b = _unit(out), _unit(target)  # (n, H, W, C): a boolean (H, W) index keeps every channel
    return [(o[h].ravel(), t[h].ravel()) for o, t, h in zip(a, b, holes, strict=True)]


def hole_psnr(out: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> float:
    """PSNR over the hole pixels of all images together (their pooled MSE, data_range 1): one hole in a
    plain background filled exactly would make a per-image mean infinite. All-ones masks give the
    whole-image PSNR of the batch."""
    from skimage.metrics import peak_signal_noise_ratio

    pairs = _holes(out, target, masks)
    o = np.concatenate([p[0] for p in pairs])
    t = np.concatenate([p[1] for p in pairs])
    if not len(o):
        raise DataError("the masks hold no hole pixels")
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(t, o, data_range=1.0))


def hole_psnr_median(out: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> float:
    """Median of the per-image hole PSNRs (images without holes left out; an exact fill counts as inf)."""
    from skimage.metrics import peak_signal_noise_ratio

    with np.errstate(divide="ignore"):
        per = [peak_signal_noise_ratio(t, o, data_range=1.0) for o, t in _holes(out, target, masks) if len(o)]
    return float(np.median(per)) if per else float("nan")


def hole_l1(out: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean |out - target| over the hole pixels, in [-1, 1] units (the task's `l1_hole`)."""
    pairs = _holes(out, target, masks)
    diff = np.concatenate([np.abs(o - t) for o, t in pairs])
    if not len(diff):
        raise DataError("the masks hold no hole pixels")
    return float(2 * diff.mean())  # [0, 1] -> [-1, 1] units
