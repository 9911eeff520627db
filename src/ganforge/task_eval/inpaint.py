"""The inpaint task's entry: G fills the holes of the held-out images (the task's `held_out`: the
set's own masks, else random ones of the task's kind from the eval seed), beside scikit-image's
biharmonic inpainting of the same holes. Hole PSNR first: the valid pixels are exact in both, so a
whole-image score mostly measures how much of the image is hole."""

from __future__ import annotations

import torch

from ..generation import inpaint
from ..metrics import translation
from ..metrics.baselines import biharmonic
from ..nets.contract import Generator
from ..tasks.inpaint import InpaintTask
from .base import SCORERS, EvalRequest, refuse
from .heldout import IMAGE_STATS, Baseline, HeldOutScorer, Stat, held_out_n


def hole_stats(masks: torch.Tensor) -> tuple[Stat, ...]:
    """Hole PSNR and hole L1 on these masks, then whole-image PSNR and SSIM."""
    return (Stat("hole_psnr", "PSNR over the hole pixels of all images together (pooled MSE, [0, 1], "
                 "data_range 1)", " dB", lambda out, t: translation.hole_psnr(out, t, masks)),
            Stat("hole_l1", "mean |output - target| over the hole pixels, in [-1, 1] units", "",
                 lambda out, t: translation.hole_l1(out, t, masks)),
            *(s for s in IMAGE_STATS if s.name != "l1"))


@SCORERS.register("inpaint")
def inpaint_scorer(task: InpaintTask, req: EvalRequest) -> HeldOutScorer:
    """Hole PSNR, hole L1, PSNR, SSIM (and FID) of G's fill beside the biharmonic fill."""
    refuse(req, "inpaint", "hole PSNR, hole L1, PSNR and SSIM beside biharmonic inpainting")
    x, m = task.held_out(held_out_n(req, task.shape), req.seed)
    where = "held-out" if task.held_out_set() is not task.data else "training (the set holds none out)"
    masks = "the set's own masks" if task.mask == "data" else \
        f"{task.mask} masks, {task.hole_min:g}-{task.hole_max:g} of each image (seed {req.seed})"
    bih = Baseline("biharmonic", "skimage.restoration.inpaint_biharmonic of each image's holes, on [0, 1], "
                   "clipped", biharmonic(x, m))
    return HeldOutScorer(req, torch.cat([x, m], 1), x, _fill, bih, hole_stats(m),
                         f"the first {len(x)} {where} images of {task.data.description}; {masks}")


def _fill(g: Generator, xm: torch.Tensor) -> torch.Tensor:
    """G's composite for images and masks stacked on the channels (the scorer's one input tensor)."""
    return inpaint(g, xm[:, :-1], xm[:, -1:])
