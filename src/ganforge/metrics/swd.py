"""Sliced Wasserstein distance between Laplacian-pyramid patch distributions, the ProGAN image metric.

Karras et al. 2018, "Progressive Growing of GANs", appendix D (code: tkarras/progressive_growing_of_gans
metrics/sliced_wasserstein.py). Unlike FID it needs no pretrained network, and it reports per resolution
whether the coarse structure (low levels) or the fine detail (high levels) of the samples is off. Steps:

1. Laplacian pyramid with the 5-tap binomial filter (1, 4, 6, 4, 1) / 16 (as cv2.pyrDown/pyrUp, mirror
   borders), from full resolution down while a level is >= min_res; images smaller than min_res use one
   level. The last level is the low-pass residual.
2. Per level, `patches_per_image` random patch_size x patch_size patches per image as descriptors,
   normalised per channel by the mean and std of that set's descriptors at that level (as ProGAN does, so
   the metric compares local structure, not global brightness or contrast).
3. SWD = mean over `repeats` of the mean over `dirs` random unit directions of the mean |difference| of
   the sorted projections (the 1-D Wasserstein-1 distance), reported x 1e3 as ProGAN does.

Choices beyond ProGAN: patch positions are drawn once per level and shared by both sets (a paired design:
each set's descriptors keep their distribution, swd(x, x) is exactly 0, and the comparison is less
noisy); `dirs` counts directions per repeat (ProGAN's code used 128 per repeat, 4 repeats); when the sets
differ in size, the first min(n_real, n_fake) images of each are used. All randomness comes from one
numpy Generator seeded with `seed`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._arrays import as_float64
from .registry import Metric, MetricInputs, register, sample_counts

BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)  # / 16: the 5-tap Gaussian of Burt & Adelson and cv2.pyrDown
IMAGE_BATCH = 256  # images per pyramid pass: bounds memory for large image sets
DIR_CHUNK = 128  # directions projected and sorted at once


def _blur(x: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Separable 5x5 binomial blur of (..., h, w) with mirror borders (reflect, edge not repeated, as
    scipy.ndimage "mirror" and cv2's default), times gain. Weighted sums of shifted slices: exact, and
    fast in numpy."""
    h, w = x.shape[-2:]
    pad = [(0, 0)] * (x.ndim - 2) + [(2, 2), (2, 2)]
    y = np.pad(x, pad, mode="reflect")
    taps = [t * math.sqrt(gain) / 16.0 for t in BINOMIAL_5]
    rows = taps[0] * y[..., 0:h, :]
    for i in range(1, 5):
        rows += taps[i] * y[..., i : i + h, :]
    out = taps[0] * rows[..., 0:w]
    for i in range(1, 5):
        out += taps[i] * rows[..., i : i + w]
    return out


def pyr_down(x: np.ndarray) -> np.ndarray:
    """Blur and keep every other row and column: (h, w) -> (ceil(h/2), ceil(w/2)), like cv2.pyrDown."""
    return _blur(x)[..., ::2, ::2]


def pyr_up(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Zero-interleave, blur with gain 4 (the zeros carry no energy), crop to `size`, like cv2.pyrUp."""
    h, w = x.shape[-2:]
    z = np.zeros(x.shape[:-2] + (2 * h, 2 * w), dtype=x.dtype)
    z[..., ::2, ::2] = x
    return _blur(z, 4.0)[..., : size[0], : size[1]]


def laplacian_pyramid(x: Any, levels: int) -> list[np.ndarray]:
    """Band-pass levels (float64) of images x (n, c, h, w), numpy or torch, finest first; the last entry
    is the low-pass residual, so `reconstruct_laplacian_pyramid` inverts it exactly (up to rounding)."""
    g = as_float64(x)
    if g.ndim != 4:
        raise ValueError(f"images must be 4-D (n, c, h, w), got shape {tuple(g.shape)}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    gauss = [g]
    for _ in range(levels - 1):
        if min(gauss[-1].shape[-2:]) < 3:
            raise ValueError(f"{levels} pyramid levels need larger images than {tuple(g.shape[-2:])}")
        gauss.append(pyr_down(gauss[-1]))
    bands = [a - pyr_up(b, a.shape[-2:]) for a, b in zip(gauss[:-1], gauss[1:], strict=True)]
    return bands + [gauss[-1]]


def reconstruct_laplacian_pyramid(pyramid: list[np.ndarray]) -> np.ndarray:
    """The images a Laplacian pyramid came from: upsample the residual and add the bands back."""
    x = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        x = pyr_up(x, band.shape[-2:]) + band
    return x


def level_sizes(h: int, w: int, min_res: int = 16, patch_size: int = 7) -> list[tuple[int, int]]:
    """(height, width) of each pyramid level SWD uses: full resolution, then halvings while a level is at
    least min_res (and holds a patch); always at least the full-resolution level."""
    sizes = [(h, w)]
    floor = max(min_res, patch_size, 3)
    while True:
        nh, nw = math.ceil(sizes[-1][0] / 2), math.ceil(sizes[-1][1] / 2)
        if min(nh, nw) < floor:
            return sizes
        sizes.append((nh, nw))


def _sliced(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Mean over the unit columns of `directions` (D, K) of the 1-D Wasserstein-1 distance between the
    projections of the equal-size descriptor sets a, b (N, D): mean |sorted difference|.

    Projections are laid out (directions, N) so that numpy sorts contiguous rows (much faster than
    torch.sort on the CPU)."""
    total = 0.0
    for j in range(0, directions.shape[1], DIR_CHUNK):
        dirs_t = np.ascontiguousarray(directions[:, j : j + DIR_CHUNK].T)
        pa = np.sort(dirs_t @ a.T, axis=1)
        pb = np.sort(dirs_t @ b.T, axis=1)
        total += float(np.abs(pa - pb).sum(dtype=np.float64))
    return total / (a.shape[0] * directions.shape[1])


def _descriptors(
    images: Any, n: int, sizes: list[tuple[int, int]], picks: list[tuple[np.ndarray, ...]], patch: int
) -> list[np.ndarray]:
    """Normalised float32 patch descriptors (n * patches_per_image, c * patch²) per level of the first n
    images, building the pyramid IMAGE_BATCH images at a time. float32 storage (as ProGAN) halves the
    memory; the normalising statistics are accumulated in float64."""
    per_image = len(picks[0][0]) // n
    offs = np.arange(patch)
    chunks: list[list[np.ndarray]] = [[] for _ in sizes]
    for i in range(0, n, IMAGE_BATCH):
        batch = as_float64(images[i : min(i + IMAGE_BATCH, n)])
        rows = slice(i * per_image, (i + len(batch)) * per_image)
        chan = np.arange(batch.shape[1])[None, :, None, None]
        for lev, band in enumerate(laplacian_pyramid(batch, len(sizes))):
            img, ys, xs = (p[rows] for p in picks[lev])
            ry = (ys[:, None] + offs)[:, None, :, None]
            rx = (xs[:, None] + offs)[:, None, None, :]
            chunks[lev].append(band[(img - i)[:, None, None, None], chan, ry, rx].astype(np.float32))
    out = []
    for parts in chunks:
        d = np.concatenate(parts)  # (N, c, p, p)
        for ch in range(d.shape[1]):
            x = d[:, ch].astype(np.float64)
            x -= x.mean()
            std = x.std()
            d[:, ch] = x / std if std > 0 else x  # a constant channel stays centred at 0
        out.append(d.reshape(len(d), -1))
    return out


def swd(
    real_images: Any,
    fake_images: Any,
    patches_per_image: int = 128,
    patch_size: int = 7,
    min_res: int = 16,
    dirs: int = 512,
    repeats: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """ProGAN's multi-scale SWD (x 1e3) between image sets (n, c, h, w) in [-1, 1], numpy or torch.

    Returns {"levels": {level height: swd}, "mean": mean over levels, ...the configuration, "images": n}.
    Deterministic given seed."""
    shapes = [tuple(x.shape) for x in (real_images, fake_images)]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f"images must be 4-D (n, c, h, w), got shapes {shapes[0]} and {shapes[1]}")
    if shapes[0][1:] != shapes[1][1:]:
        raise ValueError(f"real and fake images differ in (c, h, w): {shapes[0][1:]} vs {shapes[1][1:]}")
    n = min(shapes[0][0], shapes[1][0])
    h, w = shapes[0][2:]
    if n < 1:
        raise ValueError("swd needs at least one image in each set")
    if patch_size < 1 or min(h, w) < patch_size:
        raise ValueError(f"patch_size {patch_size} does not fit in images of size {h}x{w}")
    if patches_per_image < 1 or dirs < 1 or repeats < 1:
        raise ValueError("patches_per_image, dirs and repeats must be >= 1")
    if n * patches_per_image < 2:
        raise ValueError("swd needs at least 2 patches per set")

    sizes = level_sizes(h, w, min_res, patch_size)
    rng = np.random.default_rng(seed)
    img = np.repeat(np.arange(n), patches_per_image)
    picks = [
        (
            img,
            rng.integers(0, lh - patch_size + 1, size=len(img)),
            rng.integers(0, lw - patch_size + 1, size=len(img)),
        )
        for lh, lw in sizes
    ]
    real = _descriptors(real_images, n, sizes, picks, patch_size)
    fake = _descriptors(fake_images, n, sizes, picks, patch_size)
    levels: dict[int, float] = {}
    for (lh, _), dr, df in zip(sizes, real, fake, strict=True):
        values = []
        for _ in range(repeats):
            d = rng.standard_normal((dr.shape[1], dirs))
            d /= np.linalg.norm(d, axis=0, keepdims=True)
            values.append(_sliced(dr, df, d.astype(np.float32)))
        levels[int(lh)] = float(np.mean(values) * 1e3)
    return {
        "levels": levels,
        "mean": float(np.mean(list(levels.values()))),
        "patches_per_image": patches_per_image,
        "patch_size": patch_size,
        "min_res": min_res,
        "dirs": dirs,
        "repeats": repeats,
        "seed": seed,
        "images": n,
    }


# --- the registered metric: one line for people, the headline scalar for logs -------------------


def _swd(inputs: MetricInputs) -> dict[str, Any]:
    real, fake = inputs.real(), inputs.fake
    if fake.dim() == 4:
        s = swd(real, fake, seed=inputs.seed)
        return {"swd": s["mean"], "levels": {str(k): v for k, v in s["levels"].items()}, "dirs": s["dirs"],
                "repeats": s["repeats"], "patches_per_image": s["patches_per_image"]}
    from .modes import sliced_wasserstein

    # points: no pyramid, the sliced 1-Wasserstein distance of the points themselves
    return {"swd": sliced_wasserstein(fake.flatten(1), real.flatten(1), n_proj=POINT_DIRS, seed=inputs.seed),
            "note": f"points: sliced 1-Wasserstein distance of the samples, {POINT_DIRS} directions"}


POINT_DIRS = 256  # random directions of the points' sliced distance


def _statistic(inputs: MetricInputs) -> str:
    """The provenance names what was computed: the pyramid statistic on images only."""
    if inputs.fake.dim() == 4:
        return "sliced Wasserstein distance (x1e3) on Laplacian-pyramid 7x7 patches (Karras et al. 2018)"
    return (f"sliced 1-Wasserstein distance of the samples themselves, mean over {POINT_DIRS} random "
            "directions of the 1-D optimal-transport cost (points: no pyramid)")


register(Metric(
    name="swd", title="sliced Wasserstein distance (pyramid patches; points as they are)",
    needs={"reference"}, compute=_swd, describe=_statistic,
    line=lambda v: f"SWD {v['swd']:.4g} ({sample_counts(v)})",
    scalars=("swd",),
))
