"""Hole PSNR of a trained inpainting run against scikit-image's biharmonic inpainting, on held-out images.

    PYTHONPATH=src python benchmarks/inpaint_holes.py runs/inpaint-fashion [-n 500] [--seed 1]

The same held-out images (the run's data set, its test part) and the same random masks (the run's
task.mask and hole bounds, drawn from --seed) go to the run's G (generation.inpaint) and to
skimage.restoration.inpaint_biharmonic; a "mean fill" row (each hole filled with the mean of the
image's valid pixels) shows the floor. PSNR (skimage.metrics.peak_signal_noise_ratio, images in
[0, 1], data_range 1) is taken per image over the hole pixels only, then averaged over the images;
the whole-image PSNR (valid pixels are exact in all three, so it is higher) is shown beside it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _runs import write_results  # noqa: E402


def main() -> None:
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.restoration import inpaint_biharmonic

    from ganforge.generation import inpaint
    from ganforge.tasks.inpaint import InpaintTask
    from ganforge.training.state import load_generator

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("-n", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/inpaint_holes.md")
    a = p.parse_args()
    if not 1 <= a.n <= 10000:
        sys.exit("-n must be in 1..10000")
    t0 = time.time()
    ckpt, g = load_generator(a.run)
    cfg = ckpt.config
    task = InpaintTask.from_config(InpaintTask.load_data(cfg.data), cfg, torch.device("cpu"))
    x, m = task.held_out(a.n, a.seed)
    filled = inpaint(g, x, m)
    x01, m01 = ((x + 1) / 2).clamp(0, 1).numpy(), m.numpy()[:, 0].astype(bool)
    ours = ((filled + 1) / 2).clamp(0, 1).numpy()
    t1 = time.time()
    bih = np.stack([np.clip(inpaint_biharmonic(im.transpose(1, 2, 0), hole, channel_axis=-1), 0, 1)
                    .transpose(2, 0, 1) for im, hole in zip(x01, m01, strict=True)])
    t_bih = time.time() - t1
    mean = np.stack([np.where(hole[None], im[:, ~hole].mean(1)[:, None, None], im)
                     for im, hole in zip(x01, m01, strict=True)])
    rows = []
    for name, out in (("ganforge G (" + cfg.g.arch + f", step {ckpt.step})", ours), ("biharmonic", bih),
                      ("mean fill", mean)):
        hole = [psnr(t[:, h], o[:, h], data_range=1.0) for t, o, h in zip(x01, out, m01, strict=True)]
        whole = [psnr(t, o, data_range=1.0) for t, o in zip(x01, out, strict=True)]
        l1 = np.mean([np.abs(t[:, h] - o[:, h]).mean() for t, o, h in zip(x01, out, m01, strict=True)])
        rows.append(f"| {name} | {np.mean(hole):.2f} | {np.mean(whole):.2f} | {l1:.4f} |")
    share = m01.mean()
    lines = [f"# Inpainting: hole PSNR on {len(x)} held-out {cfg.data.name} images "
             f"({tuple(x.shape[1:])}, task.mask={cfg.task.mask}, mean hole share {share:.2f}, seed {a.seed})",
             "", "| method | hole PSNR (dB) | whole-image PSNR (dB) | hole L1 ([0, 1]) |",
             "|---|---|---|---|",
             *rows, "", f"Run: {a.run}; biharmonic took {t_bih:.1f} s for {len(x)} images."]
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
