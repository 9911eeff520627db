"""Hole PSNR of a trained inpainting run against scikit-image's biharmonic inpainting, on held-out images.

    PYTHONPATH=src python benchmarks/inpaint_holes.py runs/inpaint [-n 1000] [--features lenet-fashion]

The same held-out images (the run's data set, its test part) and the same random masks (the run's
task.mask and hole bounds, drawn from --seed) go to the run's G (generation.inpaint) and to
skimage.restoration.inpaint_biharmonic (ganforge.metrics.baselines, as `ganforge eval` uses it; the
statistics are ganforge.metrics.translation's); a "mean fill" row (each hole filled with the mean of the
image's valid pixels) shows the floor. PSNR (skimage.metrics.peak_signal_noise_ratio, images in
[0, 1], data_range 1) is taken over the hole pixels of all images together (their pooled MSE), with the
median of the per-image hole PSNRs (a hole in Fashion-MNIST's black background can be filled exactly:
inf, so no mean) and the whole-image PSNR (valid pixels are exact in all three) beside it; hole L1 is
the mean absolute error on [0, 1] over the hole pixels. With --features, FID between the filled images
and the same images unmasked (a shift away from the real images' statistics; same n for all rows)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _runs import write_results  # noqa: E402


def _row(name: str, out: torch.Tensor, x: torch.Tensor, m: torch.Tensor, ext: Any, real: Any) -> str:
    """One method's row: the package's hole statistics (ganforge.metrics.translation) of its fill."""
    from ganforge.metrics.frechet import frechet_distance
    from ganforge.metrics.translation import hole_l1, hole_psnr, hole_psnr_median

    whole = hole_psnr(out, x, torch.ones_like(m))  # all pixels pooled
    fid = f" {frechet_distance(ext.extract(out).features, real):.3f} |" if ext is not None else ""
    return (f"| {name} | {hole_psnr(out, x, m):.2f} | {hole_psnr_median(out, x, m):.2f} | {whole:.2f} | "
            f"{hole_l1(out, x, m) / 2:.4f} |{fid}")  # hole L1 on [0, 1], as this table always had it


def main() -> None:
    from ganforge.generation import inpaint
    from ganforge.metrics.baselines import biharmonic, mean_fill
    from ganforge.tasks.inpaint import InpaintTask
    from ganforge.training.state import load_generator

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("-n", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/inpaint_holes.md")
    p.add_argument("--features", default="", help="also FID to the originals in these features, e.g. "
                   "lenet-fashion (ganforge's classifier, trained on first use and cached)")
    a = p.parse_args()
    if not 1 <= a.n <= 10000:
        sys.exit("-n must be in 1..10000")
    t0 = time.time()
    ckpt, g = load_generator(a.run)
    cfg = ckpt.config
    task = InpaintTask.from_config(InpaintTask.load_data(cfg.data), cfg, torch.device("cpu"))
    x, m = task.held_out(a.n, a.seed)
    t1 = time.time()
    bih = biharmonic(x, m)
    t_bih = time.time() - t1
    ext, real = None, None
    if a.features:
        from ganforge.metrics.features import build_extractor

        ext = build_extractor(a.features, tuple(x.shape[1:]), progress=True)
        real = ext.extract(x).features
    rows = [_row(name, out, x, m, ext, real) for name, out in (
        ("ganforge G (" + cfg.g.arch + f", step {ckpt.step})", inpaint(g, x, m)), ("biharmonic", bih),
        ("mean fill", mean_fill(x, m)))]
    share = float(m.mean())
    lines = [f"# Inpainting: hole PSNR on {len(x)} held-out {cfg.data.name} images "
             f"({tuple(x.shape[1:])}, task.mask={cfg.task.mask}, mean hole share {share:.2f}, seed {a.seed})",
             "", "| method | hole PSNR (dB) | median per-image hole PSNR | whole-image PSNR | hole L1 |"
             + (f" FID to the originals ({a.features}) |" if ext else ""),
             "|---|---|---|---|---|" + ("---|" if ext else ""),
             *rows, "", f"Run: {a.run} (g.width {cfg.g.width}, g.depth {cfg.g.depth}, d.width {cfg.d.width}; "
             f"{ckpt.step} steps of batch {cfg.train.batch_size}); biharmonic took {t_bih:.1f} s for "
             f"{len(x)} images."]
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
