"""The README's pictures of a style-based run's controls: a truncation sweep, a style-mixing grid and
a projection of an MNIST digit (the first of the shared 10,000-image set, which style-mnist also trains on).

    python scripts/style_images.py runs/style-mnist docs/

Writes OUT/style-samples.png (64 samples of seeds 0-63, EMA G, no truncation),
OUT/style-truncation.png (rows: psi 1, 0.7, 0.5, 0.3, 0; columns: seeds 0-7),
OUT/style-mixing.png (`ganforge sample --mix 0-4:10-15`), OUT/style-projection.png (+ its latent and
progress GIF; the target is the set's first digit, read from ../shared/data/mnist).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import torch

import ganforge
from ganforge.media import save_png, write_mix_grid
from ganforge.projection import project, write_projection
from ganforge.viz import image_grid

PSIS = (1.0, 0.7, 0.5, 0.3, 0.0)


def main(run: str, out: str) -> None:
    torch.set_num_threads(1)
    outdir = Path(out)
    g = ganforge.load(run, device="cpu")
    every = list(range(64))
    prov = g.provenance(seeds="0-63", what="samples, no truncation")
    print(save_png(outdir / "style-samples.png", image_grid(g.sample_seeds(every), 8), prov))
    seeds = list(range(8))
    rows = [g.sample_seeds(seeds, truncation=psi) for psi in PSIS]
    prov = g.provenance(seeds="0-7", what="truncation sweep in w: rows psi " + ", ".join(map(str, PSIS)))
    print(save_png(outdir / "style-truncation.png", image_grid(torch.cat(rows), len(seeds)), prov))
    print(write_mix_grid(g, outdir / "style-mixing.png", list(range(5)), list(range(10, 16))))
    mnist = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = gzip.open(mnist).read()
    digit = np.frombuffer(raw[16:16 + 784], np.uint8).reshape(1, 28, 28)
    target = torch.tensor(digit).float() / 127.5 - 1
    proj = project(g, target, steps=300, progress=True)
    print(f"projection: loss {proj.losses[0]:.4f} -> {proj.losses[-1]:.4f}, pixel MSE {proj.pixel_mse:.4f}, "
          f"features {proj.features or 'none'}")
    for p in write_projection(g, proj, outdir / "style-projection", source="MNIST test digit 0"):
        print(p)


if __name__ == "__main__":
    main(*sys.argv[1:3])
