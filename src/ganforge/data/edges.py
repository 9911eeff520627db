"""`edges2fashion`: Fashion-MNIST garments with their edge maps (A = edges, B = garment), pix2pix's
edges2shoes in miniature and with no download (Debian's dataset-fashion-mnist).

Edges are computed with scikit-image, one image at a time inside chunks of `CHUNK` images, so memory
stays at the uint8 set plus one float chunk: Canny (default; binary, 255 = edge) or Sobel (gradient
magnitude, scaled by 255 and clipped). Edges are white on black, like the garments. Fashion-MNIST's own
t10k images are the held-out `.test` part; labels are the garment classes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError
from .images import fashion_splits
from .pairs import PAIRED_SETS, PairedData

FASHION_CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                   "bag", "ankle boot"]
CHUNK = 4096


def edge_map(images: np.ndarray, method: str = "canny", sigma: float = 1.0) -> np.ndarray:
    """uint8 N x H x W images -> uint8 N x H x W edge maps (skimage.feature.canny on the image scaled to
    [0, 1], or skimage.filters.sobel), white edges on black."""
    from skimage.feature import canny
    from skimage.filters import sobel

    if method not in ("canny", "sobel"):
        raise DataError(f"edge method must be canny or sobel, not {method!r}")
    out = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK].astype(np.float64) / 255.0
        for i, img in enumerate(chunk):
            if method == "canny":
                e = canny(img, sigma=sigma).astype(np.float64)
            else:
                e = sobel(img)
            out[start + i] = np.clip(np.round(e * 255.0), 0, 255).astype(np.uint8)
    return out


def load_edges2fashion(path: str | None = None, method: str = "canny", sigma: float = 1.0,
                       limit: int = 0) -> PairedData:
    """Pairs (edge map, garment); `limit` keeps the first `limit` images of each split (0 = all 70,000,
    about 15 s of Canny)."""
    if limit < 0:
        raise DataError(f"edges2fashion: limit must be >= 0, not {limit}")
    parts = {}
    for split, (images, labels) in fashion_splits(path).items():
        if limit:
            images, labels = images[:limit], None if labels is None else labels[:limit]
        b = torch.from_numpy(np.array(images)).unsqueeze(1)  # a copy: IDX arrays are read-only
        a = torch.from_numpy(edge_map(images, method, sigma)).unsqueeze(1)
        y = None if labels is None else torch.from_numpy(labels.astype(np.int64))
        parts[split] = PairedData("edges2fashion", f"{len(a)} Fashion-MNIST {split} garments with their "
                                  f"{method} edges (1, 28, 28)", a, b, labels=y,
                                  classes=FASHION_CLASSES if y is not None else [])
    data = parts["train"]
    data.test = parts.get("t10k")
    return data


@PAIRED_SETS.register("edges2fashion")
def edges2fashion(path: str | None = None, size: int = 0, channels: int = 0, method: str = "canny",
                  sigma: float = 1.0, limit: int = 0, **_: object) -> PairedData:
    """Fashion-MNIST edges -> garments (data.path: a Fashion-MNIST IDX folder, else the Debian one);
    edges are found at 28 x 28, then both sides are resized to `size` if asked."""
    return load_edges2fashion(path, method, sigma, limit).fit(size, channels)
