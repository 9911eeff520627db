"""The generate task's entry: the registered metrics (metrics/registry.py) on samples drawn from the
training noise with a seeded CPU generator (the same noise on any device), against the run's data or
--ref: what `ganforge eval` always did for noise-to-sample runs."""

from __future__ import annotations

import math

import torch

from ..data.images import StackedData
from ..errors import DataError
from ..evaluation import Evaluator, default_metrics, flat_scores, headline, protocol_n
from ..metrics.modes import STACKED_N
from ..metrics.registry import METRICS
from ..metrics.suite import parse_metrics
from ..nets.contract import Generator
from ..tasks.generate import GenerateTask
from .base import SCORERS, EvalRequest, Scores

MAX_EVAL = 1_000_000  # samples one evaluation may ask for
MAX_EVAL_BYTES = 4 << 30  # ...and what they may hold in memory (the statistics need them all)


def check_n(n: int, shape: tuple[int, ...]) -> None:
    """A count a user typed: bounded, and its samples must fit in memory."""
    from ..generation import check_count

    check_count(n, "-n", MAX_EVAL)
    if n < 2:
        raise DataError(f"-n must be >= 2, got {n}")
    if n * math.prod(shape) * 4 > MAX_EVAL_BYTES:
        raise DataError(f"-n {n:,} samples of shape {tuple(shape)} would hold "
                        f"{n * math.prod(shape) * 4 / 2**30:.1f} GiB in memory; the limit is "
                        f"{MAX_EVAL_BYTES / 2**30:.0f} GiB (use a smaller -n)")


class NoiseScorer:
    """eval.metrics (else the data's defaults) on n samples of G from fixed noise."""

    def __init__(self, task: GenerateTask, req: EvalRequest) -> None:
        cfg, data = req.cfg, task.data
        self.names = parse_metrics(req.metrics) or parse_metrics(cfg.eval.metrics) or default_metrics(data)
        self.n = req.n or protocol_n(data, self.names)
        check_n(self.n, tuple(data.shape))
        self.noise, self.seed = cfg.g.noise, req.seed
        self.evaluator = Evaluator(cfg, self.names, self.n, req.seed, req.features, req.ref, req.progress,
                                   req.extractor_options, data=data, device=req.device)
        self.stacked = "modes" in self.names and isinstance(data, StackedData)

    def __call__(self, g: Generator) -> Scores:
        from ..generation import generate

        report = self.evaluator(generate(g, self.noise, self.n, torch.Generator().manual_seed(self.seed)))
        if self.stacked and self.n != STACKED_N:
            report.warnings.append(f"modes: the stacked-MNIST protocol uses {STACKED_N:,} samples, this is "
                                   f"{self.n:,}; modes and KL are not comparable with published rows")
        return Scores(results=report.results, scalars=flat_scores(report),
                      headline=headline(report.results, list(report.results)),
                      lines={k: METRICS.get(k).line(v) for k, v in report.results.items()},
                      provenance={"noise": "training distribution; no truncation, no rejection"},
                      warnings=report.warnings)


SCORERS.register("generate")(NoiseScorer)
