"""Several metrics at once on one set of generated samples, each with what produced it.

Takes tensors, never a trainer or a checkpoint: `ganforge eval` and the training hook generate the
samples and pick the reference, then call `compute`. Features of the reference set are computed
once per (extractor, reference data, n, seed) and cached under $GANFORGE_CACHE/features/.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .features import Extracted, Extractor

METRICS = ("fid", "kid", "pr", "dc", "is", "swd", "modes")
FEATURE_METRICS = {"fid", "kid", "pr", "dc", "is"}
DESCRIPTIONS = {
    "fid": "Frechet distance between Gaussians fitted to the features (Heusel et al. 2017)",
    "kid": "unbiased MMD^2, cubic polynomial kernel, mean/std over subsets (Binkowski et al. 2018)",
    "pr": "k-NN precision and recall, k=3 (Kynkaanniemi et al. 2019)",
    "dc": "density and coverage, k=5 (Naeem et al. 2020)",
    "is": "inception score from class probabilities, 10 splits (Salimans et al. 2016)",
    "swd": "sliced Wasserstein distance (x1e3) on Laplacian-pyramid 7x7 patches (Karras et al. 2018)",
    "modes": "modes captured and KL(p_gen || uniform) in nats (VEEGAN / PacGAN protocol)",
}


def parse_metrics(spec: str | list[str] | None) -> list[str]:
    """'fid,kid' -> ['fid', 'kid']; unknown names fail with the known ones listed."""
    if spec is None:
        return []
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    bad = [n for n in names if n not in METRICS]
    if bad:
        raise ConfigError(f"unknown metric {bad[0]!r} (known: {', '.join(METRICS)})")
    return list(dict.fromkeys(names))


@dataclass
class Reference:
    """Real samples to compare with, and how they were drawn (for the provenance)."""

    samples: torch.Tensor
    split: str  # e.g. "all 10000 images of mnist (...)" or "26000 fresh draws, seed 7"
    fingerprint: str  # content hash: the key of the feature cache


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
    key = hashlib.sha256(json.dumps([extractor.name, extractor.hash, ref.fingerprint]).encode())
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


def _warn_sizes(name: str, n_fake: int, n_ref: int, dim: int, report: Report) -> None:
    n = min(n_fake, n_ref)
    if name == "fid" and n < dim:
        report.warnings.append(f"fid: n={n} < feature dim {dim}: the covariance is singular and FID "
                               f"biased upward; use n >= {10 * dim}")
    elif name == "fid" and n < 2000:
        report.warnings.append(f"fid: n={n} is small; FID is biased upward at small n (compare "
                               "scores only at equal n; 10,000+ is usual)")
    if name == "kid" and n < 100:
        report.warnings.append(f"kid: n={n} < 100: subsets this small make KID very noisy")
    if name in ("pr", "dc") and n < 1000:
        report.warnings.append(f"{name}: n={n} < 1,000: k-NN manifolds this sparse are unreliable")


def compute(metrics: list[str], fake: torch.Tensor, ref: Reference | None,
            extractor: Extractor | None, seed: int,
            modes_fn: Callable[[torch.Tensor], dict[str, Any]] | None = None,
            cache: Path | None = None, progress: bool = False) -> Report:
    """Every metric in `metrics` on `fake` against `ref` (features from `extractor`)."""
    from .frechet import frechet_distance
    from .inception_score import inception_score
    from .kid import kid
    from .modes import sliced_wasserstein
    from .prdc import density_coverage, precision_recall
    from .swd import swd

    report = Report()
    need_feats = FEATURE_METRICS & set(metrics)
    fake_f = real_f = None
    if need_feats:
        if extractor is None:
            raise ConfigError(f"metrics {', '.join(sorted(need_feats))} need a feature extractor")
        fake_f = extractor.extract(fake, progress=progress)
        if need_feats - {"is"}:
            if ref is None:
                raise ConfigError("fid/kid/pr/dc need reference data (--ref)")
            real_f = cached_features(extractor, ref, cache, progress)
    for name in metrics:
        if name == "fid":
            assert fake_f is not None and real_f is not None
            value: dict[str, Any] = {"fid": frechet_distance(fake_f.features, real_f.features)}
        elif name == "kid":
            assert fake_f is not None and real_f is not None
            k = kid(fake_f.features, real_f.features, seed=seed)
            value = {"kid": k["mean"], "kid_std": k["std"], "subsets": k["subsets"],
                     "subset_size": k["subset_size"]}
        elif name == "pr":
            assert fake_f is not None and real_f is not None
            value = {**precision_recall(real_f.features, fake_f.features, k=3), "k": 3}
        elif name == "dc":
            assert fake_f is not None and real_f is not None
            value = {**density_coverage(real_f.features, fake_f.features, k=5), "k": 5}
        elif name == "is":
            assert fake_f is not None and extractor is not None
            if fake_f.probs is None:
                raise ConfigError(f"is needs class probabilities; {extractor.name} has none "
                                  "(use lenet-mnist, lenet-fashion or inception)")
            s = inception_score(fake_f.probs, splits=10)
            value = {"is": s["mean"], "is_std": s["std"], "splits": 10, "classes": fake_f.probs.shape[1]}
        elif name == "swd":
            if ref is None:
                raise ConfigError("swd needs reference data (--ref)")
            if fake.dim() == 4:
                s = swd(ref.samples, fake, seed=seed)
                value = {"swd": s["mean"], "levels": {str(k): v for k, v in s["levels"].items()},
                         "dirs": s["dirs"], "repeats": s["repeats"],
                         "patches_per_image": s["patches_per_image"]}
            else:  # points: no pyramid, the sliced 1-Wasserstein distance of the points themselves
                value = {"swd": sliced_wasserstein(fake.flatten(1), ref.samples.flatten(1), seed=seed),
                         "note": "points: sliced 1-Wasserstein distance of the samples, 256 directions"}
        elif name == "modes":
            if modes_fn is None:
                raise ConfigError("modes needs a data set with known modes (ring8, grid25, ... or "
                                  "stacked-mnist)")
            value = modes_fn(fake)
        else:  # parse_metrics already refused it
            raise ConfigError(f"unknown metric {name!r}")
        if name in FEATURE_METRICS and fake_f is not None:
            _warn_sizes(name, len(fake), len(ref.samples) if ref is not None else len(fake),
                        fake_f.features.shape[1], report)
        prov: dict[str, Any] = {"statistic": DESCRIPTIONS[name], "n_generated": len(fake)}
        if name in FEATURE_METRICS and extractor is not None:
            prov["features"] = extractor.provenance()
        if ref is not None and name not in ("is", "modes"):
            prov["n_reference"] = len(ref.samples)
            prov["reference"] = ref.split
        value["provenance"] = prov
        report.results[name] = value
    return report
