"""Pictures of 2-D training: real and generated points over the discriminator's field; of 1-D
training: the real density, G's density and D(x) on one axis (the GAN paper's Figure 1).

Colours follow GAN Lab: blue where D says "real", red where it says "fake", and a white line
where D is undecided (P(real) = 0.5). Rendering uses matplotlib's non-interactive Agg backend.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .data.toy import kde_1d  # noqa: E402,F401  (re-exported for plots)


def field_grid(
    bounds: tuple[float, float, float, float], resolution: int = 120
) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """A regular grid over the window: (xs, ys, points as an (r*r, 2) tensor)."""
    x0, x1, y0, y1 = bounds
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    return xs, ys, pts


def plot_points(
    path: str | Path,
    real: torch.Tensor,
    fake: torch.Tensor,
    bounds: tuple[float, float, float, float],
    field: np.ndarray | None = None,
    title: str = "",
    modes: torch.Tensor | None = None,
) -> Path:
    """Save a PNG: the field (an (r, r) array of P(real) on `field_grid`) behind the points."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    x0, x1, y0, y1 = bounds
    if field is not None:
        ax.imshow(field, origin="lower", extent=bounds, cmap="RdBu", vmin=0, vmax=1,
                  alpha=0.75, interpolation="bilinear", aspect="auto")
        r = field.shape[0]
        xs, ys = np.linspace(x0, x1, r), np.linspace(y0, y1, r)
        if field.min() < 0.5 < field.max():
            ax.contour(xs, ys, field, levels=[0.5], colors="white", linewidths=1.5)
    ax.scatter(real[:, 0], real[:, 1], s=4, c="#1b7837", alpha=0.6, label="real", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="#762a83", alpha=0.6, label="generated",
               linewidths=0)
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], s=30, marker="+", c="black", linewidths=0.8,
                   label="mode centres")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=3, fontsize=7, frameon=False,
              markerscale=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_density_1d(
    path: str | Path,
    xs: np.ndarray,
    real_density: np.ndarray | None,
    fake: torch.Tensor,
    d_values: np.ndarray | None,
    title: str = "",
    real: torch.Tensor | None = None,
) -> Path:
    """Save a PNG of 1-D training: the real density (the known pdf, or a histogram of `real`), a
    histogram of G's samples, and D(x) = P(real) on a second axis from 0 to 1."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    lo, hi = float(xs[0]), float(xs[-1])
    bins = np.linspace(lo, hi, 61)
    f = fake.detach().float().reshape(-1).numpy()
    ax.hist(f[np.isfinite(f)], bins=bins, density=True, color="#762a83", alpha=0.45,
            label="G's samples")
    if real_density is not None:
        ax.plot(xs, real_density, color="#1b7837", lw=2, label="real density")
    elif real is not None:
        ax.hist(real.reshape(-1).numpy(), bins=bins, density=True, histtype="step", color="#1b7837",
                lw=1.5, label="real samples")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    if d_values is not None:
        ax2 = ax.twinx()
        ax2.plot(xs, d_values, color="#4393c3", lw=1.5, ls="--", label="D(x)")
        ax2.axhline(0.5, color="#999", lw=0.8, ls=":")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x) = P(real)")
        ax2.legend(loc="upper right", fontsize=7, frameon=False)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """(n, C, H, W) floats in [-1, 1] -> one (rows*H, nrow*W, 3|1) uint8 picture, white gaps."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    n, c, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    out = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        out[:, top:top + h, left:left + w] = x[i]
    arr = out.permute(1, 2, 0).numpy()
    return arr[:, :, 0] if c == 1 else arr


def save_image_grid(path: str | Path, images: torch.Tensor, nrow: int = 8) -> Path:
    """Write a PNG grid of images with Pillow (torchvision does not import beside this torch)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, nrow)).save(path)
    return path

