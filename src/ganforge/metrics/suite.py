"""Several metrics at once on one set of generated samples, each with what produced it.

Takes tensors, never a trainer or a checkpoint: `ganforge eval` and the training hook generate the
samples and pick the reference, then call `compute`, which runs the registered metrics
(registry.METRICS) on what they declare they need. Features of the reference set are computed
once per (extractor, reference data, n, seed) and cached under $GANFORGE_CACHE/features/.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .features import Extracted, Extractor
from .registry import METRICS, MetricInputs, ModeCounter, Reference

__all__ = ["Reference", "Report", "cached_features", "compute", "fingerprint", "parse_metrics"]


def parse_metrics(spec: str | list[str] | None) -> list[str]:
    """'fid,kid' -> ['fid', 'kid']; unknown names fail with the registered ones listed."""
    if spec is None:
        return []
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    for n in names:
        METRICS.get(n)  # the one-line error listing the known names
    return list(dict.fromkeys(names))


@dataclass
class Report:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def fingerprint(x: torch.Tensor) -> str:
    h = hashlib.sha256(str(tuple(x.shape)).encode())
    h.update(x.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def cached_features(extractor: Extractor, ref: Reference, cache: Path | None,
                    progress: bool = False) -> Extracted:
    """The reference set's features, from the cache when this extractor has seen this data."""
    if cache is None:
        return extractor.extract(ref.samples, progress=progress)
    key = hashlib.sha256(json.dumps([extractor.name, extractor.hash, ref.fingerprint,
                                     extractor.device.type]).encode())  # CPU and GPU kernels differ
    path = cache / "features" / f"{extractor.name.replace(':', '-')}-{key.hexdigest()[:16]}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return Extracted(z["features"], z["probs"] if "probs" in z.files else None)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is recomputed
    out = extractor.extract(ref.samples, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays = {"features": out.features} | ({"probs": out.probs} if out.probs is not None else {})
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return out


def compute(metrics: list[str], fake: torch.Tensor, ref: Reference | None,
            extractor: Extractor | None, seed: int, modes_fn: ModeCounter | None = None,
            cache: Path | None = None, progress: bool = False) -> Report:
    """Every metric in `metrics` on `fake` against `ref` (features from `extractor`): what they need is
    checked first (one line naming what is missing), features are extracted once for all of them."""
    chosen = [METRICS.get(n) for n in metrics]

    def wanting(*needs: str) -> list[str]:
        return [m.name for m in chosen if m.needs >= set(needs)]

    if (feats := wanting("features") + wanting("probs")) and extractor is None:
        raise ConfigError(f"metrics {', '.join(sorted(feats))} need a feature extractor")
    if (refs := wanting("reference")) and ref is None:
        raise ConfigError(f"{'/'.join(refs)} need reference data (--ref)")
    if (counted := wanting("modes")) and modes_fn is None:
        raise ConfigError(f"{counted[0]} needs a data set with known modes (ring8, grid25, ... or "
                          "stacked-mnist)")
    fake_x = real_x = None
    if extractor is not None and feats:
        fake_x = extractor.extract(fake, progress=progress)
        if (classed := wanting("probs")) and fake_x.probs is None:
            raise ConfigError(f"{classed[0]} needs class probabilities; {extractor.name} has none "
                              "(use lenet-mnist, lenet-fashion or inception)")
        if ref is not None and wanting("features", "reference"):
            real_x = cached_features(extractor, ref, cache, progress)
    inputs = MetricInputs(fake, seed, ref, extractor, fake_x, real_x, modes_fn)
    report = Report()
    for m in chosen:
        value = m.compute(inputs)
        report.warnings += m.warnings(inputs)
        prov: dict[str, Any] = {"statistic": m.statistic(inputs), "n_generated": len(fake)}
        if extractor is not None and m.needs & {"features", "probs"}:
            prov["features"] = extractor.provenance()
        if ref is not None and "reference" in m.needs:
            prov["n_reference"] = len(ref.samples)
            prov["reference"] = ref.split
        value["provenance"] = prov
        report.results[m.name] = value
    return report
