"""Scoring a run's generator, one entry per task kind (`SCORERS`, keyed by task.kind).

`ganforge eval` (evaluation.evaluate_run) and the training-time eval (runs.py, train.eval_every) look
the run's task up here and never ask which kind it is. generate: the registered metrics on samples
drawn from noise; paired, superres, inpaint, unpaired (each direction): PSNR / SSIM / L1 (and FID in a
named feature space) of G on the task's held-out images, each beside a baseline's on the same images. A
new task adds one module that registers its entry and one import line below."""

from . import generate, inpaint, paired, superres, table, unpaired  # noqa: F401  (each registers its task kind)
from .base import SCORERS, EvalRequest, Scorer, Scores

__all__ = ["SCORERS", "EvalRequest", "Scorer", "Scores"]
