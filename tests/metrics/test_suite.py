"""Several metrics at once: names, provenance, warnings, and refusals that name what is missing."""

import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.metrics.features import build_extractor
from ganforge.metrics.frechet import frechet_distance
from ganforge.metrics.suite import Reference, cached_features, compute, fingerprint, parse_metrics


def test_parse_metrics():
    assert parse_metrics("fid, KID,pr,fid") == ["fid", "kid", "pr"]
    assert parse_metrics(None) == [] and parse_metrics("") == []
    with pytest.raises(ConfigError, match="unknown metric 'lpips'.*known: fid, is, kid"):
        parse_metrics("fid,lpips")


def _ref(n: int = 600, shift: float = 0.0) -> Reference:
    x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1)) + shift
    return Reference(x, f"{n} test points", fingerprint(x))


def test_feature_metrics_carry_provenance_and_match_the_statistics(tmp_path):
    fake = torch.randn(500, 2, generator=torch.Generator().manual_seed(2)) + 0.5
    ref = _ref()
    ext = build_extractor("identity", (2,))
    rep = compute(["fid", "kid", "pr", "dc", "swd"], fake, ref, ext, seed=0, cache=tmp_path)
    assert list(rep.results) == ["fid", "kid", "pr", "dc", "swd"]
    fid = rep.results["fid"]
    assert fid["fid"] == pytest.approx(frechet_distance(fake, ref.samples), rel=1e-9)
    p = fid["provenance"]
    assert p["features"]["name"] == "identity" and p["n_generated"] == 500 and p["n_reference"] == 600
    assert p["reference"] == "600 test points" and "Heusel" in p["statistic"]
    assert 0 <= rep.results["pr"]["precision"] <= 1 and rep.results["dc"]["coverage"] <= 1
    assert any(w.startswith("pr: n=500") for w in rep.warnings)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1  # the reference features, cached
    again = cached_features(ext, ref, tmp_path)
    assert (again.features == ref.samples.numpy()).all()


def test_refusals_name_what_is_missing():
    fake = torch.randn(50, 2)
    with pytest.raises(ConfigError, match="need a feature extractor"):
        compute(["fid"], fake, _ref(), None, seed=0)
    with pytest.raises(ConfigError, match="need reference data"):
        compute(["kid"], fake, None, build_extractor("identity", (2,)), seed=0)
    with pytest.raises(ConfigError, match="is needs class probabilities; identity has none"):
        compute(["is"], fake, None, build_extractor("identity", (2,)), seed=0)
    with pytest.raises(ConfigError, match="modes needs a data set with known modes"):
        compute(["modes"], fake, None, None, seed=0)


def test_fid_warns_when_n_is_below_the_feature_dimension():
    fake = torch.randn(40, 64)
    ref = Reference(torch.randn(40, 64), "r", "x")
    rep = compute(["fid"], fake, ref, build_extractor("identity", (64,)), seed=0)
    assert any("n=40 < feature dim 64" in w for w in rep.warnings)


def test_swd_provenance_names_the_statistic_computed_on_points_and_on_images():
    pts = compute(["swd"], torch.randn(300, 2), _ref(300), None, seed=0).results["swd"]
    stat = pts["provenance"]["statistic"]
    assert "sliced 1-Wasserstein" in stat and "256 random directions" in stat
    assert "no pyramid" in stat and "Laplacian" not in stat and "7x7" not in stat
    gen = torch.Generator().manual_seed(0)
    imgs = torch.rand(8, 1, 16, 16, generator=gen) * 2 - 1
    ref = Reference(torch.rand(8, 1, 16, 16, generator=gen) * 2 - 1, "8 images", "y")
    stat = compute(["swd"], imgs, ref, None, seed=0).results["swd"]["provenance"]["statistic"]
    assert "Laplacian-pyramid 7x7 patches" in stat
