"""`ganforge translate` and the API's `translate`: a trained image-to-image model applied to images,
written as PNGs with provenance.

Paired (pix2pix), unpaired (CycleGAN, one `direction` of its two) and inpainting models take images of
their training size; super-resolution models are fully convolutional and take any size, run in
overlapping tiles (generation.translate_tiled) so memory stays bounded. Inpainting takes a mask (white
= hole) of the image's size. Inputs are bounded in count and pixels, and every refusal is one line
naming the file."""

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
from .generation import TILED_TASKS, LoadedGenerator, load, translate, translate_image
from .nets import Generator
from .nets.cycle import DIRECTIONS, CycleGenerator

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


def translator(g: LoadedGenerator, direction: str | None = None) -> Generator:
    """The net that maps inputs to outputs: a CycleGAN model's `direction` (default AtoB), else G itself
    (a direction given to a one-way model is refused)."""
    if g.net.spec.cond != "image":
        raise DataError(f"{g.source} makes samples from noise (task.kind={g.config.task.kind}); use "
                        "'ganforge sample'")
    return g.one_way(direction).net


def _mask(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, H, W) float: 1 in the holes (pixels brighter than mid-grey), 0 elsewhere."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"mask not found: {p}")
    m = _read(p, 1)
    if tuple(m.shape[1:]) != size:
        raise DataError(f"mask {p} is {m.shape[2]}x{m.shape[1]}; the images are {size[1]}x{size[0]}")
    if not bool((m > 0).any()):
        raise DataError(f"mask {p} has no hole (no pixel brighter than mid-grey): nothing to fill")
    return (m > 0).float()[None]


@torch.no_grad()
def translate_images(g: LoadedGenerator, images: torch.Tensor, direction: str | None = None,
                     masks: torch.Tensor | None = None, tile: int = 128, overlap: int = 32) -> torch.Tensor:
    """Outputs (on the CPU, in [-1, 1]) for images (n, C, H, W) or one (C, H, W) in [-1, 1]:
    `LoadedGenerator.translate`. Inpainting models need `masks` ((n, 1, H, W) or one (1, H, W), > 0.5 =
    hole); super-resolution runs each image in tiles, so any size works."""
    one = images.dim() == 3
    x = images[None] if one else images
    net, kind = translator(g, direction), g.config.task.kind
    if x.dim() != 4 or x.shape[1] != _in_channels(net, kind):
        raise DataError(f"images must be (n, {_in_channels(net, kind)}, H, W), got {tuple(images.shape)}")
    if (masks is not None) != (kind == "inpaint"):
        raise DataError("inpainting models need masks" if kind == "inpaint"
                        else f"masks are for inpainting models; this one is task.kind={kind}")
    if kind in TILED_TASKS or masks is not None:  # image by image, the way the CLI and server run them
        m = None if masks is None else (masks[None] if masks.dim() == 3 else masks).expand(len(x), -1, -1, -1)
        dev = g.device
        y = torch.stack([translate_image(net, kind, x[i].to(dev), None if m is None else m[i].to(dev), tile,
                                         overlap) for i in range(len(x))])
    else:  # a batch of training-size images: chunked
        y = translate(net, x.to(g.device))
    y = y.cpu()
    return y[0] if one else y


def _in_channels(net: Generator, kind: str) -> int:
    """An inpainting G's input is the image plus its mask channel."""
    return net.spec.cond_shape[0] - (1 if kind == "inpaint" else 0)


def translate_files(run: str | Path, inputs: Sequence[str | Path], out_dir: str | Path, tile: int = 128,
                    overlap: int = 32, device: str | None = None, use_ema: bool = True,
                    direction: str | None = None, mask: str | None = None) -> list[Path]:
    """Translate every input image with the run's generator into out_dir/NAME.png; returns the paths.
    All inputs are checked (readable header, size) before any output is written."""
    if direction is not None and direction not in DIRECTIONS:
        raise DataError(f"--direction must be AtoB or BtoA, not {direction!r}")
    g = load(run, device=device or "auto", use_ema=use_ema)
    net, kind = translator(g, direction), g.config.task.kind
    if (mask is not None) != (kind == "inpaint"):
        raise DataError("inpainting models need --mask MASK.png (white = hole)" if kind == "inpaint"
                        else f"--mask is for inpainting models; this one is task.kind={kind}")
    c, h, w = _in_channels(net, kind), *net.spec.cond_shape[1:]
    scale = net.spec.data_shape[1] // h
    holes = _mask(mask, (h, w)) if mask is not None else None
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
        y = translate_images(g, _read(f, c), direction, holes, tile, overlap)
        how = (f", tiles {tile} overlap {overlap}" if kind in TILED_TASKS else
               f", {direction or 'AtoB'}" if isinstance(g.net, CycleGenerator) else
               f", mask {Path(mask).name}" if mask is not None else "")
        written.append(_save(g, y, out / name, f"{kind} of {f.name}{how}"))
    return written


def _save(g: LoadedGenerator, y: torch.Tensor, dest: Path, what: str) -> Path:
    from .media import save_png

    picture = to_uint8(y).permute(1, 2, 0).numpy()
    if picture.shape[2] == 1:
        picture = picture[:, :, 0]
    return save_png(dest, picture, g.provenance(what=what))
