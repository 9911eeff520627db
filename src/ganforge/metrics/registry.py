"""The metric registry: a metric is a name, what it needs, a statistic, its provenance text, and how it
prints. `suite.compute`, `evaluation`, the CLI and config validation read `METRICS`; nothing else lists
metric names.

Adding a metric is one file that builds a `Metric` and passes it to `register` (docs/architecture.md,
"Adding a metric"), imported by metrics/__init__.py so that it registers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .features import Extracted, Extractor

# What a metric may need; suite.compute provides exactly these, refusing in one line when one is missing.
NEEDS = {
    "features": "features of the generated samples from an extractor (with 'reference': of the "
                "reference set too)",
    "probs": "class probabilities of the generated samples (an extractor that classifies)",
    "reference": "real samples to compare with (the run's data or --ref)",
    "modes": "a mode counter: data with known modes (mixtures, stacked MNIST)",
}


@dataclass
class Reference:
    """Real samples to compare with, and how they were drawn (for the provenance)."""

    samples: torch.Tensor
    split: str  # e.g. "all 10000 images of mnist (...)" or "26000 fresh draws, seed 7"
    fingerprint: str  # content hash: the key of the feature cache


ModeCounter = Callable[["torch.Tensor"], dict[str, Any]]


def _have(x: Any, need: str) -> Any:
    if x is None:  # a metric read what it did not declare, so suite.compute did not provide it
        raise RuntimeError(f"a metric reads {need!r} without declaring it in Metric.needs")
    return x


@dataclass(frozen=True)
class MetricInputs:
    """What a statistic reads; suite.compute fills the parts the requested metrics need. The accessors
    return them non-optional, so a statistic never checks for None itself."""

    fake: torch.Tensor
    seed: int = 0
    reference: Reference | None = None
    extractor: Extractor | None = None
    fake_extracted: Extracted | None = None
    real_extracted: Extracted | None = None
    mode_counter: ModeCounter | None = None

    def features(self) -> np.ndarray:
        """The generated samples' features (needs "features")."""
        return _have(self.fake_extracted, "features").features

    def ref_features(self) -> np.ndarray:
        """The reference set's features (needs "features" and "reference")."""
        return _have(self.real_extracted, "features + reference").features

    def probs(self) -> np.ndarray:
        """The generated samples' class probabilities (needs "probs")."""
        return _have(_have(self.fake_extracted, "probs").probs, "probs")

    def real(self) -> torch.Tensor:
        """The reference samples themselves (needs "reference")."""
        return _have(self.reference, "reference").samples

    def count_modes(self) -> dict[str, Any]:
        """The data's mode statistics of the generated samples (needs "modes")."""
        return _have(self.mode_counter, "modes")(self.fake)

    def n(self) -> int:
        """Samples compared: the smaller of the generated and the reference set."""
        return min(len(self.fake), len(self.reference.samples)) if self.reference is not None \
            else len(self.fake)


@dataclass(frozen=True)
class Metric:
    """One metric. `compute` returns its result (JSON-ready numbers and settings); `describe` is the
    provenance's "statistic" text, a function of the inputs where the statistic depends on them;
    `line` prints a result (provenance included) as one line for people; `scalars` are its headline
    numbers, logged over training (metrics.jsonl) and shown at the top of `ganforge eval --json`."""

    name: str
    title: str  # a few words for `ganforge eval --help`
    needs: AbstractSet[str]  # of NEEDS' keys
    compute: Callable[[MetricInputs], dict[str, Any]]
    describe: str | Callable[[MetricInputs], str]
    line: Callable[[dict[str, Any]], str]
    scalars: tuple[str, ...]
    # values that give the scalars their meaning (modes_total): beside them at the top of
    # `eval --json`, but not logged over training, where they would not change
    context: tuple[str, ...] = ()
    warn: Callable[[MetricInputs], list[str]] | None = None  # e.g. "n is too small for this statistic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", frozenset(self.needs))
        unknown = sorted(self.needs - set(NEEDS))
        if unknown:
            raise ValueError(f"metric {self.name!r} needs {unknown}; a metric may need {sorted(NEEDS)}")
        if not self.scalars:
            raise ValueError(f"metric {self.name!r} names no headline scalar")

    def statistic(self, inputs: MetricInputs) -> str:
        return self.describe if isinstance(self.describe, str) else self.describe(inputs)

    def warnings(self, inputs: MetricInputs) -> list[str]:
        return self.warn(inputs) if self.warn is not None else []


METRICS: Registry[Metric] = Registry("metric", ordered=True)  # listed in registration order


def register(metric: Metric) -> Metric:
    """Add a metric. Its scalar names must be new: metrics.jsonl and `eval --json` hold the scalars of
    all metrics side by side."""
    taken = {k: m for m in (METRICS.get(name) for name in METRICS) for k in (*m.scalars, *m.context)}
    clash = [f"{k!r} (of {taken[k].name})" for k in (*metric.scalars, *metric.context) if k in taken]
    if clash:
        raise ValueError(f"metric {metric.name!r}: value names already taken: {', '.join(clash)}")
    return METRICS.register(metric.name)(metric)


def needs_of(names: Iterable[str]) -> frozenset[str]:
    """Everything the named metrics need together (what an Evaluator builds)."""
    return frozenset().union(*(METRICS.get(n).needs for n in names))


# --- helpers for `line` ---------------------------------------------------------------------------


def in_features(v: dict[str, Any]) -> str:
    """' in NAME' when the result was computed in an extractor's features, else ''."""
    p = v.get("provenance", {})
    return f" in {p['features']['name']}" if "features" in p else ""


def sample_counts(v: dict[str, Any]) -> str:
    """'n=N vs M': generated and reference samples of a result."""
    p = v.get("provenance", {})
    return f"n={p.get('n_generated')}" + (f" vs {p['n_reference']}" if "n_reference" in p else "")
