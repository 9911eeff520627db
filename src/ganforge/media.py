"""The pictures `ganforge sample` writes: a PNG grid, one PNG per seed, a latent walk as a GIF.

Each one carries its provenance (provenance.py): PNG text chunks, or the GIF's comment. Files are
written to a temporary name and renamed, so a failure leaves no half-written picture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataError
from .generation import (
    MAX_FRAMES,
    MAX_GRID,
    MAX_SEEDS,
    LoadedGenerator,
    Truncation,
    as_truncation,
    check_count,
    check_label,
    check_space,
    check_truncation,
)
from .provenance import Provenance
from .viz import image_grid

WALK_CHUNK = 64  # frames generated at once: memory stays bounded whatever --frames is
WALK_SIDE = 128  # small images are enlarged (nearest neighbour) to at least this side in a walk
SEED_CHUNK = 256  # per-seed images generated at once
MAX_FPS = 50


def _need_images(g: LoadedGenerator, what: str) -> None:
    if len(g.data_shape) != 3:
        raise DataError(f"{what} needs an image model; for points write .csv or .npy and plot them")


def save_png(path: str | Path, picture: np.ndarray, prov: Provenance) -> Path:
    """A uint8 (H, W) or (H, W, 3) array -> PNG with provenance text chunks, written atomically."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        Image.fromarray(picture).save(tmp, format="PNG", pnginfo=prov.png_info())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_grid(g: LoadedGenerator, out: str | Path, n: int, seed: int = 0, label: int | None = None,
               truncation: float | Truncation | None = None) -> Path:
    """A PNG grid of n samples. A class-conditional model without `label` gets one row per class,
    n // classes columns (at least 1), each column one noise vector: only the class changes
    along a column."""
    _need_images(g, "a .png grid")
    check_count(n, "-n", MAX_GRID)
    check_label(g, label)
    truncation = as_truncation(truncation)
    check_truncation(g, truncation)
    k = g.num_classes
    if k and label is None:
        if k > MAX_GRID:
            raise DataError(f"{k} classes do not fit one grid (at most {MAX_GRID} images); pass --label")
        cols = max(1, n // k)
        z = g.noise(cols, seed).repeat(k, 1)
        x = g(z, torch.arange(k).repeat_interleave(cols), truncation)
        labels, nrow = f"one row per class (0..{k - 1}), one noise vector per column", cols
    else:
        x = g.sample(n, seed, labels=label, truncation=truncation)
        labels = "" if not k else str(label)
        nrow = max(1, min(16, round(n**0.5)))
    prov = g.provenance(seeds=str(seed), labels=labels, truncation=truncation, what=f"grid of {len(x)}")
    return save_png(out, image_grid(x.cpu(), nrow), prov)


def write_seed_images(g: LoadedGenerator, outdir: str | Path, seeds: Sequence[int],
                      label: int | None = None, truncation: float | Truncation | None = None) -> list[Path]:
    """One PNG per seed, `outdir/seedNNNN.png` at the model's own size: seed k gives the same
    image every time (that of `g.sample(1, seed=k)`), the files FID tools read."""
    _need_images(g, "--seeds with --outdir")
    check_count(len(seeds), "seeds", MAX_SEEDS)
    check_label(g, label)
    truncation = as_truncation(truncation)
    check_truncation(g, truncation)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise DataError(f"--outdir {outdir} is a file, not a folder")
    paths = []
    for start in range(0, len(seeds), SEED_CHUNK):
        part = list(seeds[start:start + SEED_CHUNK])
        z, y = g.seed_inputs(part, label)
        x = g(z, y, truncation).cpu()
        for i, seed in enumerate(part):
            prov = g.provenance(seeds=str(seed), labels="" if y is None else str(int(y[i])),
                                truncation=truncation, what=f"seed {seed}")
            paths.append(save_png(outdir / f"seed{seed:04d}.png", image_grid(x[i:i + 1], 1, pad=0), prov))
    return paths


def write_walk(g: LoadedGenerator, out: str | Path, seeds: Sequence[int], frames: int = 60,
               label: int | None = None, truncation: float | Truncation | None = None, fps: int = 20,
               space: str = "z") -> Path:
    """An endless latent walk through the seeds' latents as an animated GIF (Pillow, loops
    forever), its provenance in the GIF comment. MP4 would need an ffmpeg writer, which ganforge
    does not install. (Pillow stores two identical consecutive frames as one longer frame.)"""
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() != ".gif":
        raise DataError(f"a latent walk is written as .gif (no MP4 writer is installed), got {out.name}")
    _need_images(g, "a latent walk")
    if isinstance(frames, int) and frames < 2:
        raise DataError(f"--frames must be at least 2, got {frames}")
    check_count(frames, "--frames", MAX_FRAMES)
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
        raise DataError(f"fps must be an integer in 1..{MAX_FPS}, got {fps!r}")
    check_label(g, label)
    truncation = as_truncation(truncation)
    check_truncation(g, truncation)
    check_space(space)
    if space == "w":  # straight lines between the seeds' (truncated) ws
        ws = g.walk_ws(seeds, frames, label, truncation)
        cls = label  # without one, each seed keeps its own class (its w holds it)
        frame_fn = lambda a, b: g.synthesize(ws[a:b])  # noqa: E731
    else:
        z, cls = g.walk_latents(seeds, frames, label)
        frame_fn = lambda a, b: g(z[a:b], cls, truncation)  # noqa: E731
    side = max(g.data_shape[1:])
    scale = max(1, WALK_SIDE // side)
    pictures: list[Any] = []
    for start in range(0, frames, WALK_CHUNK):
        x = frame_fn(start, start + WALK_CHUNK).cpu()
        for i in range(len(x)):
            im = Image.fromarray(image_grid(x[i:i + 1], 1, pad=0))
            pictures.append(im.resize((im.width * scale, im.height * scale), Image.NEAREST) if scale > 1
                            else im)
    prov = g.provenance(seeds="walk through " + ",".join(str(s) for s in seeds),
                        labels=str(cls) if cls is not None else ("each seed's own" if g.num_classes else ""),
                        truncation=truncation,
                        what=f"latent walk{' in w' if space == 'w' else ''}, {frames} frames, looping")
    return save_gif(out, pictures, prov, fps)


def save_gif(path: str | Path, pictures: Sequence[Any], prov: Provenance, fps: int = 20) -> Path:
    """Pillow images -> an endlessly looping animated GIF, provenance in its comment, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=list(pictures[1:]),
                         duration=round(1000 / fps), loop=0, comment=prov.gif_comment())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_mix_grid(g: LoadedGenerator, out: str | Path, row_seeds: Sequence[int], col_seeds: Sequence[int],
                   layers: tuple[int, int] | None = None, truncation: float | Truncation | None = None,
                   label: int | None = None) -> Path:
    """A style-mixing grid as a PNG (StyleGAN fig. 3): the first row holds the column seeds' images,
    the first column the row seeds' images (the corner left blank); cell (i, j) has row seed i's
    styles with layers A..B from column seed j (LoadedGenerator.mix)."""
    _need_images(g, "a mixing grid")
    check_label(g, label)
    truncation = as_truncation(truncation)
    rows, cols, mixed = g.mix(row_seeds, col_seeds, layers, truncation, label)
    s = g.style
    a, b = (s.num_ws // 2, s.num_ws - 1) if layers is None else layers
    blank = torch.ones_like(rows[:1])  # white, like the grid's gaps
    cells = [blank, cols.cpu()]
    for i in range(len(rows)):
        cells += [rows[i:i + 1].cpu(), mixed[i].cpu()]
    picture = image_grid(torch.cat(cells), len(cols) + 1)
    r_text = ",".join(str(x) for x in row_seeds)
    c_text = ",".join(str(x) for x in col_seeds)
    prov = g.provenance(seeds=f"rows {r_text}; columns {c_text}", labels="" if label is None else str(label),
                        truncation=truncation,
                        what=f"style-mixing grid: rows' styles, layers {a}-{b} of {s.num_ws} from "
                             "the columns")
    return save_png(out, picture, prov)
