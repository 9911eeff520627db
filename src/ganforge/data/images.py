"""Image data: MNIST-format IDX files, image folders, .npz arrays.

Images are held in memory as a uint8 tensor (N, C, H, W) and normalised to [-1, 1] on the fly when
a batch is drawn (`sample(n, generator)`), so a large set costs a quarter of its float size and
batches are reproducible from the generator's state, exactly like the toy sets.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..registry import Registry
from .draws import Draws, random_draws

IMAGE_SETS: Registry = Registry("image data set")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# The folder tests and benchmarks use when no path is given (see ../shared/data/README.md).
SHARED_MNIST = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "mnist"


@dataclass
class ImageData:
    """Images (uint8, N x C x H x W) and optional integer labels; batches come out in [-1, 1]."""

    name: str
    description: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    skipped: int = 0  # unreadable files left out
    classes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # folders: each image's path below the folder
    modes: None = None
    std: None = None
    points: None = None
    kind: str = "images"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))

    @property
    def size(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels is not None else 0

    def sample(self, n: int, generator: torch.Generator, draws: Draws = random_draws) -> torch.Tensor:
        """n images in [-1, 1]; `draws` picks the rows (data/draws.py: train.sampler)."""
        idx = draws(len(self.images), n, generator)
        return to_float(self.images[idx])

    def sample_labeled(self, n: int, generator: torch.Generator,
                       draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        if self.labels is None:
            raise DataError(f"{self.name} has no labels")
        idx = draws(len(self.images), n, generator)
        return to_float(self.images[idx]), self.labels[idx]


def fit_tensor(x: torch.Tensor, size: int = 0, channels: int = 0) -> torch.Tensor:
    """uint8 N x C x H x W to `channels` (1 <-> 3) and `size` (antialiased resize of square images);
    the same tensor when nothing is asked."""
    import torch.nn.functional as F

    if channels and channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        elif channels == 1 and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise DataError(f"cannot convert {x.shape[1]} channels to {channels}")
    if size and (x.shape[2] != size or x.shape[3] != size):
        if x.shape[2] != x.shape[3]:
            raise DataError(f"images are {x.shape[2]}x{x.shape[3]}; resizing needs square images")
        parts = []
        for chunk in x.split(2048):
            y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)
            parts.append(y.round().clamp(0, 255).to(torch.uint8))
        x = torch.cat(parts)
    return x


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clamped and rounded."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# --- IDX (the MNIST file format) -------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (gzipped or raw): magic 0x0000TTDD, DD big-endian uint32 sizes, data."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"IDX file not found: {p}")
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"{p}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{p}: not an IDX file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype not in _IDX_TYPES or ndim == 0:
        raise DataError(f"{p}: unsupported IDX type 0x{dtype:02x} with {ndim} dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{p}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    dt = np.dtype(_IDX_TYPES[dtype])
    need = int(np.prod(dims)) * dt.itemsize
    if len(raw) - head != need:
        raise DataError(f"{p}: IDX header says {need} data bytes for shape {dims}, "
                        f"file has {len(raw) - head}")
    return np.frombuffer(raw, dtype=dt, offset=head).reshape(dims)


def _find(folder: Path, stems: list[str]) -> Path | None:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = folder / f"{stem}{suffix}"
            if p.is_file():
                return p
    return None


def _read_split(d: Path, split: str) -> tuple[np.ndarray, np.ndarray | None, Path] | None:
    img = _find(d, [f"{split}-images-idx3-ubyte", f"{split}-images.idx3-ubyte"])
    if img is None:
        return None
    images = read_idx(img)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{img}: expected uint8 images of shape (N, H, W), got {images.shape}")
    lab = _find(d, [f"{split}-labels-idx1-ubyte", f"{split}-labels.idx1-ubyte"])
    labels = None
    if lab is not None:
        labels = read_idx(lab)
        if labels.shape != (len(images),):
            raise DataError(f"{lab}: {len(labels)} labels for {len(images)} images")
    return images, labels, img


def load_idx_folder(folder: str | Path, name: str = "mnist") -> ImageData:
    """An MNIST-format folder: every split present (train-*, t10k-*), in that order, with labels
    when every split has them."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"{name}: folder not found: {d} (set data.path or $GANFORGE_DATA)")
    parts = [p for p in (_read_split(d, s) for s in ("train", "t10k")) if p is not None]
    if not parts:
        raise DataError(f"{name}: no *-images-idx3-ubyte[.gz] file in {d}")
    if len({p[0].shape[1:] for p in parts}) > 1:
        raise DataError(f"{name}: the splits in {d} have different image sizes")
    x = torch.from_numpy(np.concatenate([p[0] for p in parts])).unsqueeze(1)
    labels = None
    if all(p[1] is not None for p in parts):
        labels = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.int64))
    files = ", ".join(p[2].name for p in parts)
    return ImageData(name, f"{len(x)} images {tuple(x.shape[1:])} from {d} ({files})", x, labels)


# --- image folders ----------------------------------------------------------------------------


def _open_image(path: Path, channels: int):  # -> PIL.Image.Image, decoded and in "L" or "RGB"
    """Read a file into Pillow: EXIF rotation applied, transparency over white, 1 or 3 channels."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("P", "LA", "RGBA", "PA") or "transparency" in im.info:
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))  # transparent -> white
            im = Image.alpha_composite(bg, im)
        return im.convert("L" if channels == 1 else "RGB")  # CMYK, I;16, ... all end here


def _fit_image(im, size: int) -> np.ndarray:
    """A Pillow image -> uint8 C x H x W; with `size`, resized (short side) and centre-cropped."""
    from PIL import Image

    if size:
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _load_image(path: Path, size: int, channels: int) -> np.ndarray:
    return _fit_image(_open_image(path, channels), size)


def _guess_channels(files: list[Path]) -> int:
    """1 when the first 64 readable files are all grey, else 3 (what `channels=0` means)."""
    from PIL import Image, UnidentifiedImageError

    for p in files[:64]:
        try:
            with Image.open(p) as im:
                if im.mode not in ("L", "1", "I", "I;16", "LA"):
                    return 3
        except (OSError, UnidentifiedImageError):
            continue
    return 1


# What a broken or truncated image file raises inside Pillow.
BAD_IMAGE_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, SyntaxError)


def image_files(folder: Path, skip_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Image files below `folder` (recursive, sorted), leaving out first-level folders `skip_dirs`."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and p.relative_to(folder).parts[0] not in skip_dirs)


def load_image_folder(folder: str | Path, size: int = 0, channels: int = 0,
                      max_bad_share: float = 0.1, skip_dirs: tuple[str, ...] = ()) -> ImageData:
    """Every image below `folder` (recursive); first-level sub-folders are the classes.

    Unreadable files are skipped and counted; more than `max_bad_share` of them is an error.
    Without `size`, every image must already have the same size; `channels` 0 = RGB unless all
    images are grey. `skip_dirs`: first-level folders that hold something else (inpainting masks)."""
    from PIL import UnidentifiedImageError

    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"image folder not found: {d}")
    files = image_files(d, skip_dirs)
    if not files:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {d}")
    subdirs = sorted({p.relative_to(d).parts[0] for p in files if len(p.relative_to(d).parts) > 1})
    classes = subdirs if subdirs and all(len(p.relative_to(d).parts) > 1 for p in files) else []
    channels = channels or _guess_channels(files)
    arrays, labels, names, bad = [], [], [], 0
    for p in files:
        try:
            arrays.append(_load_image(p, size, channels))
        except (UnidentifiedImageError, *BAD_IMAGE_ERRORS):
            bad += 1
            continue
        names.append(p.relative_to(d).as_posix())
        if classes:
            labels.append(classes.index(p.relative_to(d).parts[0]))
    if bad > max_bad_share * len(files) or not arrays:
        raise DataError(f"{bad} of {len(files)} images in {d} could not be read "
                        f"(more than data.max_bad_share={max_bad_share:g})")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"images in {d} have different sizes {sorted(shapes)[:3]}...; "
                        "set data.size to resize and centre-crop them")
    x = torch.from_numpy(np.stack(arrays))
    y = torch.tensor(labels, dtype=torch.int64) if classes else None
    desc = f"{len(x)} images {tuple(x.shape[1:])} from {d}"  # `skipped` says how many were left out
    return ImageData("folder", desc, x, y, skipped=bad, classes=classes, names=names)


# --- .npz arrays ------------------------------------------------------------------------------


def load_npz(path: str | Path) -> ImageData:
    """Arrays `x` or `images` (N,H,W), (N,H,W,C) or (N,C,H,W), uint8 or float in [0,1] or [-1,1];
    optional `y` or `labels`."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"npz file not found: {p}")
    try:
        z = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{p}: not a readable .npz file ({e})") from None
    key = next((k for k in ("x", "images") if k in z.files), None)
    if key is None:
        raise DataError(f"{p}: needs an array named 'x' or 'images' (has {', '.join(z.files)})")
    a = z[key]
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4 and a.shape[-1] in (1, 3, 4) and a.shape[1] not in (1, 3, 4):
        a = a.transpose(0, 3, 1, 2)
    elif a.ndim != 4:
        raise DataError(f"{p}: '{key}' must be (N,H,W), (N,H,W,C) or (N,C,H,W), got {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo = a.min()
        a = (a + 1) * 127.5 if lo < 0 else a * 255.0
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    lab = next((k for k in ("y", "labels") if k in z.files), None)
    y = torch.from_numpy(z[lab].astype(np.int64).reshape(-1)) if lab else None
    if y is not None and len(y) != len(a):
        raise DataError(f"{p}: {len(y)} labels for {len(a)} images")
    x = torch.from_numpy(np.ascontiguousarray(a))
    return ImageData("npz", f"{len(x)} images {tuple(x.shape[1:])} from {p}", x, y)


# --- named sets -----------------------------------------------------------------------------


def mnist_folder(path: str | None) -> Path:
    """data.path, else $GANFORGE_DATA/mnist or $GANFORGE_DATA, else ../shared/data/mnist."""
    if path:
        return Path(path)
    env = os.environ.get("GANFORGE_DATA")
    if env:
        p = Path(env)
        return p / "mnist" if (p / "mnist").is_dir() else p
    return SHARED_MNIST.resolve()


DIGIT_CLASSES = [str(k) for k in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot"]  # Xiao et al. 2017, the labels' order in the IDX files


@IMAGE_SETS.register("mnist")
def mnist(path: str | None = None, **_: object) -> ImageData:
    """MNIST from IDX files (train-* if present, else the 10,000-image t10k-* test set)."""
    data = load_idx_folder(mnist_folder(path), "mnist")
    data.classes = DIGIT_CLASSES if data.labels is not None else []
    return data


@IMAGE_SETS.register("idx")
def idx(path: str | None = None, **_: object) -> ImageData:
    """Any folder of MNIST-format IDX files (data.path)."""
    if not path:
        raise DataError("data.name=idx needs data.path=FOLDER with *-images-idx3-ubyte[.gz]")
    return load_idx_folder(path, "idx")


@IMAGE_SETS.register("folder")
def folder(path: str | None = None, size: int = 0, channels: int = 0,
           max_bad_share: float = 0.1, **_: object) -> ImageData:
    """A folder of images (data.path); class sub-folders become labels."""
    if not path:
        raise DataError("data.name=folder needs data.path=FOLDER of images")
    return load_image_folder(path, size, channels, max_bad_share)


@IMAGE_SETS.register("npz")
def npz(path: str | None = None, **_: object) -> ImageData:
    """Arrays in a .npz file (data.path)."""
    if not path:
        raise DataError("data.name=npz needs data.path=FILE.npz")
    return load_npz(path)


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist


@IMAGE_SETS.register("fashion-mnist")
def fashion_mnist(path: str | None = None, **_: object) -> ImageData:
    """Fashion-MNIST, all 70,000 images (train + t10k): data.path, else $GANFORGE_DATA/fashion-mnist,
    else the Debian package's folder (`apt-get install dataset-fashion-mnist`; make installs it)."""
    data = load_idx_folder(fashion_folder(path), "fashion-mnist")
    data.classes = FASHION_CLASSES if data.labels is not None else []
    return data


def fashion_folder(path: str | None = None) -> Path:
    """data.path, else $GANFORGE_DATA/fashion-mnist, else the Debian package's folder."""
    if path:
        d = Path(path)
    elif os.environ.get("GANFORGE_DATA") and (Path(os.environ["GANFORGE_DATA"]) / "fashion-mnist").is_dir():
        d = Path(os.environ["GANFORGE_DATA"]) / "fashion-mnist"
    else:
        d = FASHION_DIR
    if not d.is_dir():
        raise DataError(f"fashion-mnist: {d} not found; install the Debian package "
                        "dataset-fashion-mnist or set data.path")
    return d


def fashion_splits(path: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Fashion-MNIST's own splits, {"train": (images N x 28 x 28, labels), "t10k": ...}, for sets that
    hold out the published test images."""
    d = fashion_folder(path)
    parts = {s: _read_split(d, s) for s in ("train", "t10k")}
    if parts["train"] is None:
        raise DataError(f"fashion-mnist: no train-images-idx3-ubyte[.gz] in {d}")
    return {s: (p[0], p[1]) for s, p in parts.items() if p is not None}


@IMAGE_SETS.register("digits")
def digits(path: str | None = None, **_: object) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; values 0-16 scaled to 0-255)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("data.name=digits needs scikit-learn (pip install scikit-learn)") from None
    b = load_digits()
    x = torch.from_numpy(np.round(b.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    return ImageData("digits", "scikit-learn digits, 1797 images (1, 8, 8)", x,
                     torch.from_numpy(b.target.astype(np.int64)), classes=DIGIT_CLASSES)


class StackedData(ImageData):
    """Stacked MNIST (VEEGAN / PacGAN): three independent random digits as the R, G, B channels;
    label 100a + 10b + c, so 1,000 modes. Drawn afresh for every batch from the base set."""

    def _draw(self, n: int, generator: torch.Generator,
              draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        idx = draws(len(self.images), 3 * n, generator).reshape(n, 3)
        x = self.images[idx.reshape(-1), 0].reshape(n, 3, *self.images.shape[2:])
        assert self.labels is not None
        lab = self.labels[idx]
        return x, lab[:, 0] * 100 + lab[:, 1] * 10 + lab[:, 2]

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, *self.images.shape[2:])

    @property
    def num_classes(self) -> int:
        return 1000

    def sample(self, n: int, generator: torch.Generator, draws: Draws = random_draws) -> torch.Tensor:
        return to_float(self._draw(n, generator, draws)[0])

    def sample_labeled(self, n: int, generator: torch.Generator,
                       draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._draw(n, generator, draws)
        return to_float(x), y


@IMAGE_SETS.register("stacked-mnist")
def stacked_mnist(path: str | None = None, **_: object) -> StackedData:
    """Stacked MNIST built from the `mnist` set (same data.path rules)."""
    base = mnist(path)
    if base.labels is None:
        raise DataError("stacked-mnist needs MNIST labels (t10k-labels-idx1-ubyte)")
    return StackedData("stacked-mnist", f"stacked MNIST (3 channels) from {base.description}",
                       base.images, base.labels)

