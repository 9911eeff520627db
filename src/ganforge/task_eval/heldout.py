"""What the translation tasks' entries share: G's outputs on fixed held-out inputs, scored beside a
baseline's outputs on the same inputs, statistic by statistic (metrics/translation.py), plus FID
between outputs and targets in a feature space the user names (metrics/features.py). The baseline, the
targets' features and the baseline's scores are computed once, when the scorer is built."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import DataError
from ..metrics import translation
from ..nets.contract import Generator
from .base import EvalRequest, Scores

MAX_HELD_OUT = 10_000  # held-out images one evaluation scores at most (by default: all, up to this)
MAX_BYTES = 2 << 30  # ...and what inputs, targets, baseline and outputs may hold together


@dataclass(frozen=True)
class Baseline:
    """What G is scored beside: a short name (eval.json's `baseline.method`, printed lines), what it is
    (the provenance's `baseline`) and its outputs for the held-out inputs."""

    method: str
    about: str
    outputs: torch.Tensor


@dataclass(frozen=True)
class Stat:
    """One statistic of outputs vs targets: its name (eval.json's key), the provenance's text, the
    unit printed after it, and the function (outputs, targets) -> float."""

    name: str
    statistic: str
    unit: str
    fn: Callable[[torch.Tensor, torch.Tensor], float]


IMAGE_STATS = (
    Stat("psnr", "PSNR (skimage.metrics.peak_signal_noise_ratio on [0, 1], data_range 1), per image, "
         "averaged", " dB", translation.psnr),
    Stat("ssim", "SSIM (skimage.metrics.structural_similarity on [0, 1], 7x7 windows, channels apart), "
         "per image, averaged", "", translation.ssim),
    Stat("l1", "mean |output - target| in [-1, 1] units", "", translation.l1),
)


def held_out_n(req: EvalRequest, shape: tuple[int, ...]) -> int:
    """How many held-out images to score: -n / eval.n_samples, else all of them up to MAX_HELD_OUT
    (and what fits in MAX_BYTES); a count asked for beyond what fits is a one-line error."""
    fits = max(1, MAX_BYTES // (4 * 4 * math.prod(shape)))
    if req.n is None:
        return min(MAX_HELD_OUT, fits)
    if not 1 <= req.n <= min(MAX_HELD_OUT, fits):
        raise DataError(f"-n must be in 1..{min(MAX_HELD_OUT, fits):,} held-out images of shape "
                        f"{tuple(shape)}, got {req.n:,}")
    return req.n


def _extractor(req: EvalRequest, shape: tuple[int, ...]) -> Any:
    """The feature space FID is computed in (--features, else eval.features), or None: no FID."""
    spec = req.features or req.cfg.eval.features
    if not spec:
        return None
    from ..metrics.features import build_extractor

    return build_extractor(spec, shape, req.device, **{"progress": req.progress, **req.extractor_options})


class HeldOutScorer:
    """`run(g, inputs)` (G's outputs) and the baseline's outputs scored by each of `stats` against
    `targets`; `inputs_text` says what the images are, for the provenance."""

    def __init__(self, req: EvalRequest, inputs: torch.Tensor, targets: torch.Tensor,
                 run: Callable[[Generator, torch.Tensor], torch.Tensor], baseline: Baseline,
                 stats: tuple[Stat, ...], inputs_text: str) -> None:
        self.inputs, self.targets, self.run, self.stats = inputs, targets, run, stats
        self.method = baseline.method
        self.provenance = {"inputs": inputs_text, "held_out_images": len(targets), "baseline": baseline.about}
        self.extractor = _extractor(req, tuple(targets.shape[1:]))
        self.warnings: list[str] = []
        self.real = None
        if self.extractor is not None:
            if len(targets) < 2:
                raise DataError(f"FID needs at least 2 held-out images, got {len(targets)} (use a larger -n)")
            self.real = self.extractor.extract(targets, progress=req.progress).features
            if len(targets) < self.extractor.dim:
                self.warnings.append(f"fid: {len(targets)} images < feature dim {self.extractor.dim}: the "
                                     "covariance is singular and FID biased upward")
        self.base = self._values(baseline.outputs)

    def _values(self, out: torch.Tensor) -> dict[str, float]:
        values = {s.name: s.fn(out, self.targets) for s in self.stats}
        if self.extractor is not None:
            from ..metrics.frechet import frechet_distance

            values["fid"] = frechet_distance(self.extractor.extract(out).features, self.real)
        return values

    def _statistic(self, name: str) -> dict[str, Any]:
        if name != "fid":
            return {"statistic": next(s.statistic for s in self.stats if s.name == name)}
        return {"statistic": "Frechet distance between Gaussians fitted to the features of the outputs "
                             "and of their targets (Heusel et al. 2017)",
                "features": self.extractor.provenance()}

    def __call__(self, g: Generator) -> Scores:
        with torch.no_grad():
            ours = self._values(self.run(g, self.inputs))
        results = {k: {k: v, "baseline": {"method": self.method, k: self.base[k]},
                       "provenance": self._statistic(k)} for k, v in ours.items()}
        return Scores(results=results, scalars={k: round(v, 6) for k, v in ours.items()},
                      headline=dict(ours), lines={k: self.line(k, v) for k, v in results.items()},
                      provenance=dict(self.provenance), warnings=list(self.warnings))

    def line(self, name: str, entry: dict[str, Any]) -> str:
        unit = next((s.unit for s in self.stats if s.name == name), "")
        space = f" in {self.extractor.name}" if name == "fid" else ""
        return (f"{name}{space} {entry[name]:.4g}{unit} beside {self.method} {entry['baseline'][name]:.4g}"
                f"{unit} ({len(self.targets)} held-out images)")
