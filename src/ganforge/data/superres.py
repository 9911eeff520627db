"""Low-resolution inputs for super-resolution, made from high-resolution photos (data/photos.py).

The task never stores low-resolution copies: each batch's inputs are made from its HR crops by
`degrade`, whose random choices (blur width, noise level, JPEG quality, the noise itself) all come
from the generator it is given (the run's data generator), so a run resumes exactly. Stages, applied
in this order whatever order `task.degrade` lists them in:
  blur     Gaussian blur of the HR image, sigma in [0.2, 0.2 + 0.4 * scale] HR pixels;
  bicubic  bicubic downscaling by `scale` with antialiasing (torch interpolate): always on;
  noise    Gaussian noise, std up to 5 grey levels;
  jpeg     JPEG round trip through Pillow, quality 30..95.
Inputs are rounded to 8 bits, as the PNG files a user later translates are."""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import ConfigError
from .images import to_float, to_uint8
from .photos import PHOTO_SETS, PhotoData

SCALES = (2, 4)
DEGRADATIONS = ("bicubic", "blur", "noise", "jpeg")
NOISE_MAX = 5 / 127.5  # the largest noise std, in [-1, 1] units (5 grey levels)
JPEG_QUALITY = (30, 95)


def check_scale(scale: int) -> int:
    if scale not in SCALES:
        raise ConfigError(f"task.scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
    return scale


def parse_degrade(text: str) -> tuple[str, ...]:
    """"bicubic,blur" -> ("bicubic", "blur"); bicubic is required (it is what makes the input small)."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in names if p not in DEGRADATIONS]
    if unknown or "bicubic" not in names:
        raise ConfigError(f"task.degrade must list bicubic and optionally blur, noise, jpeg "
                          f"(e.g. 'bicubic,blur,noise,jpeg'), got {text!r}")
    return names


def downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic downscaling with antialiasing: (n, C, H, W) -> (n, C, H // scale, W // scale)."""
    h, w = x.shape[-2] // scale, x.shape[-1] // scale
    return F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)


def upscale_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline a super-resolution G must beat: plain bicubic upsampling, clamped to [-1, 1]."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one (1, C, H, W) image, reflected at the border."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    pad = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < r:  # an image smaller than the kernel: shorten the kernel
        k = k[r - pad:r + pad + 1] / k[r - pad:r + pad + 1].sum()
        r = pad
    if r == 0:
        return x
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """One uint8 (C, H, W) image through a JPEG encode / decode at `quality`."""
    from PIL import Image

    arr = x.numpy()
    im = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as back:
        out = np.array(back.convert(im.mode), dtype=np.uint8)
    return torch.from_numpy(out[None] if out.ndim == 2 else np.ascontiguousarray(out.transpose(2, 0, 1)))


def degrade(hr: torch.Tensor, scale: int, stages: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """HR images (n, C, H, W) in [-1, 1] on the CPU -> their low-resolution inputs, in [-1, 1] and on 8-bit
    levels. Three uniforms per image are drawn first (blur, noise, JPEG), whichever stages are on."""
    n = len(hr)
    u = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    x = hr.float()
    if "blur" in stages:
        x = torch.cat([_blur(x[i:i + 1], 0.2 + 0.4 * scale * float(u[i, 0])) for i in range(n)])
    x = downscale(x, scale)
    if "noise" in stages:
        std = (u[:, 1] * NOISE_MAX).to(x.dtype).view(n, 1, 1, 1)
        x = x + std * torch.randn(x.shape, generator=gen)
    q = to_uint8(x)
    if "jpeg" in stages:
        lo, hi = JPEG_QUALITY
        q = torch.stack([_jpeg(q[i], lo + int(u[i, 2] * (hi - lo + 1))) for i in range(n)])
    return to_float(q)


def build_photos(cfg: DataConfig) -> PhotoData:
    """The HR photos of `data.name` (a PHOTO_SETS name) at data.size / data.channels, held-out part
    included: what the superres task crops its targets from."""
    if cfg.name not in PHOTO_SETS:
        raise ConfigError(f"task.kind=superres needs a photo data set, not {cfg.name!r} "
                          f"(known: {', '.join(PHOTO_SETS.names())})")
    data = PHOTO_SETS.get(cfg.name)(path=cfg.path, size=cfg.size, channels=cfg.channels,
                                    max_bad_share=cfg.max_bad_share)
    return data.fit(cfg.size, cfg.channels)
