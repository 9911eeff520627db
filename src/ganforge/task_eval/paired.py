"""The paired task's entry (pix2pix): G on the held-out pairs (the task's `preview`), beside the
identity (the input taken as the output, what doing nothing scores)."""

from __future__ import annotations

from ..generation import translate
from ..tasks.paired import PairedTask
from .base import SCORERS, EvalRequest, refuse
from .heldout import IMAGE_STATS, Baseline, HeldOutScorer, held_out_n


@SCORERS.register("paired")
def paired_scorer(task: PairedTask, req: EvalRequest) -> HeldOutScorer:
    """PSNR, SSIM, L1 (and FID) of G(a) vs b beside those of a vs b, on the held-out pairs."""
    refuse(req, "paired", "PSNR, SSIM and L1 beside the identity")
    a, b = task.preview(held_out_n(req, task.shape))
    where = "held-out" if task.data.test is not None else "training (the set holds none out)"
    identity = Baseline("identity", "identity: each input taken as its output (what doing nothing scores)", a)
    return HeldOutScorer(req, a, b, translate, identity, IMAGE_STATS,
                         f"the first {len(a)} {where} pairs of {task.data.description}")
