"""The superres task's entry: G on the held-out crops degraded with a fixed seed (the task's
`preview`, the same inputs in every run), beside bicubic upsampling of the same inputs."""

from __future__ import annotations

from ..data.superres import upscale_bicubic
from ..generation import translate
from ..tasks.superres import PREVIEW_SEED, SuperResTask
from .base import SCORERS, EvalRequest, refuse
from .heldout import IMAGE_STATS, Baseline, HeldOutScorer, held_out_n


@SCORERS.register("superres")
def superres_scorer(task: SuperResTask, req: EvalRequest) -> HeldOutScorer:
    """PSNR, SSIM, L1 (and FID) of G(lr) vs hr beside those of bicubic(lr) vs hr."""
    refuse(req, "superres", "PSNR, SSIM and L1 beside bicubic upsampling")
    lr, hr = task.preview(held_out_n(req, task.shape))
    where = "held-out" if task.data.test is not None else "training (the set holds none out)"
    text = (f"the first {len(hr)} {where} crops of {task.data.description}, made x{task.scale} smaller by "
            f"{'+'.join(task.stages)} (seed {PREVIEW_SEED})")
    bicubic = Baseline("bicubic", f"bicubic upsampling x{task.scale} of the same inputs, clamped to [-1, 1]",
                       upscale_bicubic(lr, task.scale).clamp(-1, 1))
    return HeldOutScorer(req, lr, hr, translate, bicubic, IMAGE_STATS, text)
