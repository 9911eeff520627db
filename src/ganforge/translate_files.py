"""`ganforge translate`: a trained image-to-image model applied to image files, written as PNGs with
provenance.

Paired (pix2pix) models take images of their training size only; super-resolution models are fully
convolutional and take any size, run in overlapping tiles (generation.translate_tiled) so memory
stays bounded. Inputs are bounded in count and pixels, and every refusal is one line naming the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .data.images import (
    BAD_IMAGE_ERRORS,
    IMAGE_SUFFIXES,
    _fit_image,
    _open_image,
    image_files,
    to_float,
    to_uint8,
)
from .errors import DataError
from .generation import TILED_TASKS, LoadedGenerator, load, translate, translate_tiled

MAX_INPUTS = 1000  # images in one call
MAX_OUTPUT_PIXELS = 1 << 25  # per output image (~5,800 x 5,800): the float canvas stays under 0.5 GB


def collect_inputs(inputs: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """(file, output name) for every file given and every image below every folder given, in order."""
    found: list[tuple[Path, Path]] = []
    for given in inputs:
        p = Path(given)
        if p.is_dir():
            found += [(f, f.relative_to(p).with_suffix(".png")) for f in image_files(p)]
        elif p.is_file():
            found.append((p, Path(p.name).with_suffix(".png")))
        else:
            raise DataError(f"input not found: {p}")
        if len(found) > MAX_INPUTS:
            raise DataError(f"more than {MAX_INPUTS} input images; translate them in several calls")
    if not found:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {', '.join(map(str, inputs))}")
    seen: dict[Path, Path] = {}
    for f, name in found:
        if name in seen:
            raise DataError(f"{seen[name]} and {f} would both be written as {name}")
        seen[name] = f
    return found


def _size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header, without decoding its pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except BAD_IMAGE_ERRORS as e:
        raise DataError(f"{path}: not a readable image ({type(e).__name__})") from None


def _read(path: Path, channels: int) -> torch.Tensor:
    try:
        arr = _fit_image(_open_image(path, channels), 0)
    except BAD_IMAGE_ERRORS as e:
        raise DataError(f"{path}: not a readable image ({type(e).__name__})") from None
    return to_float(torch.from_numpy(arr.copy()))


def translate_files(run: str | Path, inputs: Sequence[str | Path], out_dir: str | Path, tile: int = 128,
                    overlap: int = 32, device: str | None = None, use_ema: bool = True,
                    direction: str | None = None, mask: str | None = None) -> list[Path]:
    """Translate every input image with the run's generator into out_dir/NAME.png; returns the paths.
    All inputs are checked (readable header, size) before any output is written."""
    if direction is not None:
        raise DataError("--direction is for unpaired (CycleGAN) models: not for this model")
    if mask is not None:
        raise DataError("--mask is for inpainting models: not for this model")
    g = load(run, device=device or "auto", use_ema=use_ema)
    spec, kind = g.net.spec, g.config.task.kind
    if spec.cond != "image":
        raise DataError(f"{run} makes samples from noise (task.kind={kind}); use 'ganforge sample'")
    c, h, w = spec.cond_shape
    scale = spec.data_shape[1] // h
    files = collect_inputs(inputs)
    for f, _ in files:
        fw, fh = _size(f)
        if kind not in TILED_TASKS and (fw, fh) != (w, h):
            raise DataError(f"{f} is {fw}x{fh}; this {kind} model takes {w}x{h} images (its training size)")
        if fw * fh * scale * scale > MAX_OUTPUT_PIXELS:
            raise DataError(f"{f} is {fw}x{fh}: its {fw * scale}x{fh * scale} output would pass the limit of "
                            f"{MAX_OUTPUT_PIXELS:,} pixels")
    out = Path(out_dir)
    written = []
    for f, name in files:
        written.append(_one(g, f, out / name, kind, c, scale, tile, overlap))
    return written


def _one(g: LoadedGenerator, f: Path, dest: Path, kind: str, channels: int, scale: int, tile: int,
         overlap: int) -> Path:
    from .media import save_png

    x = _read(f, channels)
    if kind in TILED_TASKS:
        y = translate_tiled(g.net, x, tile, overlap, scale)
    else:
        y = translate(g.net, x[None])[0]
    picture = to_uint8(y).permute(1, 2, 0).numpy()
    if picture.shape[2] == 1:
        picture = picture[:, :, 0]
    prov = g.provenance(what=f"{kind} of {f.name}" + (f", tiles {tile} overlap {overlap}"
                                                      if kind in TILED_TASKS else ""))
    return save_png(dest, picture, prov)
