"""The unpaired task's entry (CycleGAN): each direction scored on its held-out images apart, beside the
identity (the input taken as the output). With ground truth (glyphs, a paired set seen unpaired): PSNR,
SSIM and L1 to the true counterpart and, when every character is drawn in the target domain, the share
of outputs the glyph classifier reads as the right character (metrics/glyphs.py). Without truth (two
plain folders) only FID to the target domain's held-out images can say anything: name a feature space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..data.images import to_float
from ..errors import DataError
from ..generation import translate
from ..nets.contract import Generator
from ..nets.cycle import CycleGenerator
from ..tasks.unpaired import UnpairedTask
from .base import SCORERS, EvalRequest, Scores, refuse
from .glyph_stat import drawn_classes, glyph_stat
from .heldout import IMAGE_STATS, Baseline, HeldOutScorer, held_out_n

IDENTITY = "identity: each input taken as its output (what doing nothing scores)"


def glyph_templates(data: Any, side: str) -> torch.Tensor | None:
    """Every class drawn in domain `side` ("a" or "b"), in class order, gathered from the images and
    truths of the training and held-out parts; None unless the data is labelled and covers every class."""
    parts = []
    for part in (data, data.test) if data.test is not None else (data,):
        parts += [(part.b, part.labels_b), (part.a_truth, part.labels_a)] if side == "b" else \
            [(part.a, part.labels_a), (part.b_truth, part.labels_b)]
    return drawn_classes(parts, len(data.classes))


class UnpairedScorer:
    """Two HeldOutScorers, one per direction; results are named `AtoB_ssim`, `BtoA_glyph_acc`, ..."""

    def __init__(self, parts: dict[str, HeldOutScorer]) -> None:
        self.parts = parts

    def __call__(self, g: Generator) -> Scores:
        if not isinstance(g, CycleGenerator):
            raise DataError("an unpaired run's scores need its pair of translators")
        merged = Scores({}, {}, {}, {}, {})
        for way, scorer in self.parts.items():
            s = scorer(g)
            for k, v in s.results.items():  # named as eval.json names it; its own direction's provenance
                name = f"{way}_{k}"
                merged.results[name] = {name: v[k], "baseline": {"method": v["baseline"]["method"],
                                                                name: v["baseline"][k]},
                                        "provenance": {**v["provenance"], **s.provenance}}
            merged.scalars.update({f"{way}_{k}": v for k, v in s.scalars.items()})
            merged.headline.update({f"{way}_{k}": v for k, v in s.headline.items()})
            merged.lines.update({f"{way}_{k}": f"{way} {line}" for k, line in s.lines.items()})
            merged.warnings += s.warnings
        return merged


def _one_way(way: str) -> Callable[[Generator, torch.Tensor], torch.Tensor]:
    def run(g: Generator, x: torch.Tensor) -> torch.Tensor:
        return translate(g.direction(way), x)  # type: ignore[operator]

    return run


@SCORERS.register("unpaired")
def unpaired_scorer(task: UnpairedTask, req: EvalRequest) -> UnpairedScorer:
    """Per direction: PSNR, SSIM, L1 to the truth and glyph accuracy (when known) beside the identity."""
    refuse(req, "unpaired", "each direction's PSNR, SSIM, L1 (and glyph accuracy) beside the identity")
    data = task.data.test if task.data.test is not None else task.data
    where = "held-out" if task.data.test is not None else "training (the set holds none out)"
    n = held_out_n(req, task.shape)
    parts = {}
    for way, side, x, truth, labels, other in (
            ("AtoB", "b", data.a, data.a_truth, data.labels_a, data.b),
            ("BtoA", "a", data.b, data.b_truth, data.labels_b, data.a)):
        x = to_float(x[:n])
        identity = Baseline("identity", IDENTITY, x)
        if truth is not None:
            acc = glyph_stat(glyph_templates(task.data, side), None if labels is None else labels[:n])
            stats = IMAGE_STATS + ((acc,) if acc is not None else ())
            targets = to_float(truth[:n])
            about = f"{len(x)} {where} {way[0]} images with their true {way[-1]}"
        elif req.features or req.cfg.eval.features:
            stats, targets = (), to_float(other[:n])
            about = (f"{len(x)} {where} {way[0]} images; FID to {len(targets)} {way[-1]} images (no ground "
                     "truth)")
        else:
            raise DataError(f"{task.data.name} has no ground truth for its unpaired images: name a feature "
                            "space (--features) to score FID to the target domain")
        parts[way] = HeldOutScorer(req, x, targets, _one_way(way), identity, stats,
                                   f"{about} ({task.data.description})")
    return UnpairedScorer(parts)
