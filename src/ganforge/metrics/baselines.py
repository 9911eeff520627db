"""What a trained image-to-image G is scored beside: the method a user would otherwise pick.

identity (a paired input taken as its output), bicubic upsampling (data.superres.upscale_bicubic),
scikit-image's biharmonic inpainting, and a mean fill (each hole filled with the mean of its image's
valid pixels: the floor). Plain functions of tensors in [-1, 1] returning tensors in [-1, 1], so the
same statistics (metrics/translation.py) score them and G alike; nothing here is registered."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError


def _check(images: torch.Tensor, masks: torch.Tensor) -> None:
    if images.dim() != 4 or tuple(masks.shape) != (len(images), 1, *images.shape[2:]):
        raise DataError(f"baselines need images (n, C, H, W) and masks (n, 1, H, W), got "
                        f"{tuple(images.shape)} and {tuple(masks.shape)}")


def biharmonic(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """skimage.restoration.inpaint_biharmonic on each image (on [0, 1], clipped), holes = masks > 0.5."""
    from skimage.restoration import inpaint_biharmonic

    _check(images, masks)
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy().astype(np.float64)
    holes = (masks.detach().cpu()[:, 0] > 0.5).numpy()
    out = [np.clip(inpaint_biharmonic(im.transpose(1, 2, 0), h, channel_axis=-1), 0, 1).transpose(2, 0, 1)
           if h.any() else im for im, h in zip(x, holes, strict=True)]
    return torch.from_numpy(np.stack(out)).float() * 2 - 1


def mean_fill(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Each hole filled with its image's mean valid pixel (per channel): what knowing nothing gives."""
    _check(images, masks)
    x = images.detach().float().cpu()
    keep = (masks.detach().cpu() <= 0.5).float()
    mean = (x * keep).sum((2, 3), keepdim=True) / keep.sum((2, 3), keepdim=True).clamp_min(1)
    return keep * x + (1 - keep) * mean
