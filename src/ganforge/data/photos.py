"""Photos for super-resolution and inpainting: one domain of images with a held-out part; the task makes
the degraded input (downscaled copy, masked copy) itself.

Sources, in PHOTO_SETS:
  photos          scikit-image's bundled sample photos (files inside the package, no pooch download),
                  cut into a grid of size x size crops; whole photos are held out, so no test crop
                  shares pixels with a training crop;
  photos-folder   any image folder: train/ + test/ sub-folders, else every `every`-th image held out;
                  optional masks/ (same names, same sizes; white = the hole to fill) for inpainting;
  photos-fashion  Fashion-MNIST, its t10k images held out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..registry import Registry
from .draws import Draws, random_draws
from .images import (
    BAD_IMAGE_ERRORS,
    ImageData,
    _fit_image,
    _open_image,
    fashion_splits,
    fit_tensor,
    image_files,
    load_image_folder,
    to_float,
)

PHOTO_SETS: Registry = Registry("photo data set")
# skimage.data functions whose files ship inside the package (checked offline with scikit-image 0.26);
# all RGB. The last one is held out by default.
SKIMAGE_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
                  "chelsea")
MAX_CROPS = 20000  # a bound on what size/stride can ask for


@dataclass
class PhotoData(ImageData):
    """ImageData with a held-out part (`test`) and, for inpainting, `masks` (uint8 N x 1 x H x W,
    255 = hole) aligned with `images`."""

    test: ImageData | None = None
    masks: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.masks is not None and self.masks.shape != (len(self.images), 1, *self.images.shape[2:]):
            raise DataError(f"{self.name}: masks {tuple(self.masks.shape)} do not fit images "
                            f"{tuple(self.images.shape)}")

    def sample_masked(self, n: int, generator: torch.Generator,
                      draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        """n images in [-1, 1] and their masks as float {0, 1} (1 = hole), from one index draw."""
        if self.masks is None:
            raise DataError(f"{self.name} has no masks (put them in a masks/ folder beside the images)")
        idx = draws(len(self.images), n, generator)
        return to_float(self.images[idx]), (self.masks[idx] > 127).float()

    def fit(self, size: int = 0, channels: int = 0) -> PhotoData:
        """Images, masks and the test part to `size` / `channels` (masks stay binary)."""
        x = fit_tensor(self.images, size, channels)
        if x is self.images:
            return self
        m = None if self.masks is None else (fit_tensor(self.masks, size) > 127).to(torch.uint8) * 255
        t = None if self.test is None else dataclasses.replace(
            self.test, images=fit_tensor(self.test.images, size, channels))
        return dataclasses.replace(self, images=x, masks=m, test=t,
                                   description=f"{self.description}, as {tuple(x.shape[1:])}")


def grid_crops(img: np.ndarray, size: int, stride: int) -> np.ndarray:
    """C x H x W -> K x C x size x size, a grid of crops `stride` apart (none when the image is smaller)."""
    _, h, w = img.shape
    tops, lefts = range(0, h - size + 1, stride), range(0, w - size + 1, stride)
    return np.stack([img[:, t:t + size, le:le + size] for t in tops for le in lefts]) if tops and lefts \
        else np.zeros((0, img.shape[0], size, size), dtype=img.dtype)


def load_skimage_photos(size: int = 64, stride: int = 0, held_out: tuple[str, ...] = ("chelsea",),
                        photos: tuple[str, ...] = SKIMAGE_PHOTOS, scale: float = 1.0,
                        channels: int = 3) -> PhotoData:
    """Grid crops of scikit-image's sample photos; the `held_out` photos make the test part. `scale`
    shrinks each photo first (0.5: crops see twice as much of the scene)."""
    import skimage.data
    from PIL import Image

    if not 8 <= size <= 1024 or stride < 0 or not 0 < scale <= 1:
        raise DataError(f"photos: need 8 <= size <= 1024, stride >= 0, 0 < scale <= 1 "
                        f"(got {size}, {stride}, {scale:g})")
    unknown = [p for p in (*photos, *held_out) if p not in SKIMAGE_PHOTOS]
    if unknown:
        raise DataError(f"unknown photo(s) {', '.join(unknown)} (known: {', '.join(SKIMAGE_PHOTOS)})")
    stride = stride or size
    crops: dict[bool, list[np.ndarray]] = {False: [], True: []}
    names: dict[bool, list[str]] = {False: [], True: []}
    for name in dict.fromkeys((*photos, *held_out)):
        im = Image.fromarray(getattr(skimage.data, name)()).convert("L" if channels == 1 else "RGB")
        if scale != 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
        k = grid_crops(_fit_image(im, 0), size, stride)
        crops[name in held_out].append(k)
        names[name in held_out] += [f"{name}/{i}" for i in range(len(k))]
        if sum(map(len, crops[False] + crops[True])) > MAX_CROPS:
            raise DataError(f"photos: more than {MAX_CROPS} crops; use a larger size or stride")
    if not names[False]:
        raise DataError(f"photos: no training crops of {size}px (photos {', '.join(photos)}, "
                        f"held out {', '.join(held_out)})")
    x = torch.from_numpy(np.concatenate(crops[False]))
    test = None
    if names[True]:
        t = torch.from_numpy(np.concatenate(crops[True]))
        test = ImageData("photos", f"{len(t)} crops {tuple(t.shape[1:])} of {', '.join(held_out)}", t,
                         names=names[True])
    train = [p for p in photos if p not in held_out]
    return PhotoData("photos", f"{len(x)} crops {tuple(x.shape[1:])} of scikit-image photos "
                     f"({', '.join(train)}; held out: {', '.join(held_out) or 'none'})", x,
                     names=names[False], test=test)


def _load_masks(root: Path, data: ImageData, size: int) -> torch.Tensor:
    """masks/NAME.* for every image (by path without extension); a missing mask or one whose size differs
    from its image's is a one-line error naming the file and both sizes."""
    md = root / "masks"
    by_key = {p.relative_to(md).with_suffix("").as_posix(): p for p in image_files(md)}
    keys = [str(Path(n).with_suffix("").as_posix()) for n in data.names]
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise DataError(f"{md}: no mask for {len(missing)} of {len(keys)} images "
                        f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    out = []
    for k, n in zip(keys, data.names, strict=True):
        p = by_key[k]
        try:
            want = _open_image(root / n, 1).size  # as read: EXIF rotation applied, like the image
            mask = _open_image(p, 1)
        except BAD_IMAGE_ERRORS as e:
            raise DataError(f"{p}: unreadable mask ({type(e).__name__})") from None
        if mask.size != want:
            raise DataError(f"mask {p} is {mask.size[0]}x{mask.size[1]}, its image {n} is "
                            f"{want[0]}x{want[1]}")
        out.append((_fit_image(mask, size) > 127).astype(np.uint8) * 255)
    return torch.from_numpy(np.stack(out))


def load_photo_folder(folder: str | Path, size: int = 0, channels: int = 0, max_bad_share: float = 0.1,
                      every: int = 10) -> PhotoData:
    """Any image folder: train/ and test/ sub-folders when both exist, else every `every`-th image (in
    name order) held out (0 = none); an optional masks/ folder gives each image its inpainting mask."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"image folder not found: {d}")
    if (d / "train").is_dir() and (d / "test").is_dir():
        train = load_image_folder(d / "train", size, channels, max_bad_share)
        test = load_image_folder(d / "test", size, train.shape[0], max_bad_share)
        if test.shape != train.shape:
            raise DataError(f"test/ images are {test.shape}, train/ images {train.shape} in {d}")
        roots = (d / "train", d / "test")
    else:
        every_ = every if every >= 2 else 0
        full = load_image_folder(d, size, channels, max_bad_share, skip_dirs=("masks",))
        held = torch.zeros(full.size, dtype=torch.bool)
        if every_:
            held[every_ - 1::every_] = True

        def pick(m: torch.Tensor) -> ImageData:
            return dataclasses.replace(
                full, images=full.images[m], labels=None if full.labels is None else full.labels[m],
                names=[n for n, h in zip(full.names, m.tolist(), strict=True) if h])

        train, test = pick(~held), (pick(held) if held.any() else None)
        roots = (d, d)
    masks = None
    if (roots[0] / "masks").is_dir():
        masks = _load_masks(roots[0], train, size)
    if test is not None and (roots[1] / "masks").is_dir():
        test = _as_photo(test, masks=_load_masks(roots[1], test, size))
    held_desc = f"{test.size} held out" if test is not None else "none held out"
    skipped = train.skipped + (test.skipped if test is not None and roots[0] != roots[1] else 0)
    return _as_photo(train, name="photos-folder", skipped=skipped, test=test, masks=masks,
                     description=f"{train.size} images {train.shape} from {d} ({held_desc}"
                     f"{', with masks' if masks is not None else ''})")


def _as_photo(data: ImageData, **changes: object) -> PhotoData:
    fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(ImageData)}
    return PhotoData(**{**fields, **changes})  # type: ignore[arg-type]


@PHOTO_SETS.register("photos")
def photos(path: str | None = None, size: int = 0, channels: int = 0, stride: int = 0,
           held_out: object = ("chelsea",), scale: float = 1.0, **_: object) -> PhotoData:
    """scikit-image's sample photos in size x size crops (default 64), chelsea held out."""
    ho = tuple(held_out.split(",")) if isinstance(held_out, str) else tuple(held_out)  # type: ignore[arg-type]
    return load_skimage_photos(size or 64, stride, ho, scale=scale, channels=channels or 3)


@PHOTO_SETS.register("photos-folder")
def photos_folder(path: str | None = None, size: int = 0, channels: int = 0, max_bad_share: float = 0.1,
                  every: int = 10, **_: object) -> PhotoData:
    """Any image folder (data.path), optional masks/ for inpainting."""
    if not path:
        raise DataError("data.name=photos-folder needs data.path=FOLDER of images")
    return load_photo_folder(path, size, channels, max_bad_share, every)


@PHOTO_SETS.register("photos-fashion")
def photos_fashion(path: str | None = None, size: int = 0, channels: int = 0, limit: int = 0,
                   **_: object) -> PhotoData:
    """Fashion-MNIST as photos: train images, t10k held out (`limit`: first `limit` of each)."""
    parts = fashion_splits(path)
    cut = (lambda a: a[:limit]) if limit else (lambda a: a)
    x = torch.from_numpy(np.array(cut(parts["train"][0]))).unsqueeze(1)
    test = None
    if "t10k" in parts:
        t = torch.from_numpy(np.array(cut(parts["t10k"][0]))).unsqueeze(1)
        test = ImageData("photos-fashion", f"{len(t)} Fashion-MNIST t10k images", t)
    data = PhotoData("photos-fashion", f"{len(x)} Fashion-MNIST train images (1, 28, 28)", x, test=test)
    return data.fit(size, channels)
