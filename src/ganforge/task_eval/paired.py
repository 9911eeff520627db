"""The paired task's entry (pix2pix): G on the held-out pairs (the task's `preview`), beside the
identity (the input taken as the output, what doing nothing scores); for glyph sets also the share of
outputs read as the right character (glyph_stat)."""

from __future__ import annotations

from ..generation import translate
from ..tasks.paired import PairedTask
from .base import SCORERS, EvalRequest, refuse
from .glyph_stat import drawn_classes, glyph_stat
from .heldout import IMAGE_STATS, Baseline, HeldOutScorer, held_out_n


@SCORERS.register("paired")
def paired_scorer(task: PairedTask, req: EvalRequest) -> HeldOutScorer:
    """PSNR, SSIM, L1 (and FID) of G(a) vs b beside those of a vs b, on the held-out pairs."""
    refuse(req, "paired", "PSNR, SSIM and L1 beside the identity")
    a, b = task.preview(held_out_n(req, task.shape))
    data, test = task.data, task.data.test
    held = test if test is not None else data
    parts = [(data.b, data.labels)] + ([(test.b, test.labels)] if test is not None else [])
    acc = glyph_stat(drawn_classes(parts, len(data.classes)),
                     None if held.labels is None else held.labels[:len(a)])
    where = "held-out" if task.data.test is not None else "training (the set holds none out)"
    identity = Baseline("identity", "identity: each input taken as its output (what doing nothing scores)", a)
    return HeldOutScorer(req, a, b, translate, identity, IMAGE_STATS + ((acc,) if acc is not None else ()),
                         f"the first {len(a)} {where} pairs of {task.data.description}")
