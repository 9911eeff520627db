"""What a task's evaluation entry is: built once from the task and a request, then called with a
generator as often as needed (`ganforge eval` once, train.eval_every at every K steps), so held-out
data, baselines and reference features cost nothing after the first call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ..config import RunConfig
from ..errors import ConfigError
from ..nets.contract import Generator
from ..registry import Registry


@dataclass(frozen=True)
class EvalRequest:
    """What the caller asks. `n`: samples (generate) or held-out images (translation tasks) at most;
    None = the task's default. `metrics`, `features`, `ref`: the CLI's / API's choices (None = the run's
    config). `device`: where G and the feature networks run."""

    cfg: RunConfig
    n: int | None
    seed: int
    metrics: str | list[str] | None = None
    features: str | None = None
    ref: str | None = None
    progress: bool = False
    extractor_options: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


@dataclass
class Scores:
    """One evaluation's outcome. `results`: name -> entry (its numbers, details and a `provenance`
    dict), what eval.json keeps; `scalars`: the headline numbers, flat (metrics.jsonl); `headline`:
    the top level of `eval --json`; `lines`: one line per result for people; `provenance`: what
    every entry's provenance adds (what G was given: noise, or how many held-out images)."""

    results: dict[str, dict[str, Any]]
    scalars: dict[str, float]
    headline: dict[str, Any]
    lines: dict[str, str]
    provenance: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class Scorer(Protocol):
    """Scores one generator (in eval mode on the request's device; outputs come back to the CPU)."""

    def __call__(self, g: Generator) -> Scores: ...


# task.kind -> (task, request) -> Scorer; each entry module registers its own kind
SCORERS: Registry[Callable[[Any, EvalRequest], Scorer]] = Registry("task evaluation")


def refuse(req: EvalRequest, kind: str, scores: str) -> None:
    """A translation task's scores are fixed by the task: --metrics / --ref are one-line errors."""
    for option, given in (("--metrics", req.metrics), ("--ref", req.ref)):
        if given:
            raise ConfigError(f"{option} does not apply to task.kind={kind}: it scores {scores} on its "
                              "own held-out images (name a feature space with --features for FID)")
