"""The metric registry: registering a metric in one place is all it takes for config validation,
suite.compute, evaluation (what to build, metrics.jsonl scalars) and the CLI (help, one-line output)."""

import numpy as np
import pytest
import torch

from ganforge import config
from ganforge.cli import eval_help, fmt_metric
from ganforge.errors import ConfigError
from ganforge.evaluation import DEFAULT_METRICS, Evaluator, flat_scores, headline
from ganforge.metrics.features import build_extractor
from ganforge.metrics.registry import METRICS, NEEDS, Metric, in_features, register, sample_counts
from ganforge.metrics.suite import Reference, compute, fingerprint, parse_metrics


def _mean_norm(inputs):
    return {"mean_norm": float(np.linalg.norm(inputs.features(), axis=1).mean())}


@pytest.fixture
def mean_norm():
    """A toy metric, registered here and nowhere else; the registry is restored afterwards."""
    m = register(Metric(
        name="mean_norm", title="mean norm of the features", needs={"features"}, compute=_mean_norm,
        describe="mean Euclidean norm of the generated samples' features",
        line=lambda v: f"mean norm {v['mean_norm']:.3f}{in_features(v)} ({sample_counts(v)})",
        scalars=("mean_norm",),
    ))
    yield m
    METRICS.unregister("mean_norm")
    assert "mean_norm" not in METRICS


def test_a_metric_registered_in_one_place_is_known_everywhere(mean_norm, tmp_path):
    assert parse_metrics("fid,MEAN_NORM") == ["fid", "mean_norm"]
    assert config.load(None, ["eval.metrics=mean_norm"]).eval.metrics == "mean_norm"
    assert "mean_norm" in eval_help() and "mean norm of the features [needs features]" in eval_help()

    fake = torch.randn(300, 2, generator=torch.Generator().manual_seed(0)) * 3
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    ref = Reference(x, "300 test points", fingerprint(x))
    rep = compute(["mean_norm", "fid"], fake, ref, build_extractor("identity", (2,)), seed=0, cache=tmp_path)
    assert list(rep.results) == ["mean_norm", "fid"]
    v = rep.results["mean_norm"]
    assert v["mean_norm"] == pytest.approx(float(fake.norm(dim=1).mean()), rel=1e-6)
    p = v["provenance"]
    assert p["statistic"] == "mean Euclidean norm of the generated samples' features"
    assert p["features"]["name"] == "identity" and p["n_generated"] == 300
    assert "n_reference" not in p  # it did not ask for reference data
    assert flat_scores(rep) == {"mean_norm": round(v["mean_norm"], 6),
                                "fid": round(rep.results["fid"]["fid"], 6)}
    assert headline(rep.results, ["mean_norm"]) == {"mean_norm": v["mean_norm"]}  # eval --json's top
    assert fmt_metric("mean_norm", v) == f"mean norm {v['mean_norm']:.3f} in identity (n=300)"

    # what it needs is what an Evaluator builds: an extractor, no reference set, no mode counter
    ev = Evaluator(config.load(None, ["data.name=ring8"]), ["mean_norm"], 300, 0)
    assert ev.extractor is not None and ev.reference is None and ev.modes_fn is None
    assert ev(fake).results["mean_norm"]["mean_norm"] == pytest.approx(v["mean_norm"])


def test_unknown_names_list_the_registered_ones_in_order():
    known = r"\(known: fid, is, kid, modes, pr, dc, swd\)"  # the metric files in name order
    with pytest.raises(ConfigError, match=r"unknown metric 'mean_norm' " + known):
        parse_metrics("mean_norm")
    with pytest.raises(ConfigError, match="unknown metric 'lpips'"):
        config.load(None, ["eval.metrics=fid,lpips"])


def test_every_default_is_registered_and_every_metric_declares_known_needs():
    for names in DEFAULT_METRICS.values():
        assert parse_metrics(list(names)) == list(names)
    for name in METRICS:
        m = METRICS.get(name)
        assert m.name == name and m.needs <= set(NEEDS) and m.scalars and m.title


def test_registration_refuses_unknown_needs_taken_names_and_clashing_scalars(mean_norm):
    def toy(**kw):
        base = {"name": "toy", "title": "t", "needs": {"features"}, "compute": _mean_norm,
                "describe": "d", "line": str, "scalars": ("toy",)}
        return Metric(**(base | kw))

    with pytest.raises(ValueError, match="needs \\['labels'\\]"):
        toy(needs={"labels"})
    with pytest.raises(ValueError, match="no headline scalar"):
        toy(scalars=())
    with pytest.raises(ValueError, match="registered twice"):
        register(toy(name="mean_norm"))
    with pytest.raises(ValueError, match="'fid' \\(of fid\\)"):
        register(toy(scalars=("fid",)))
    assert "toy" not in METRICS


def test_a_metric_reading_what_it_did_not_declare_is_a_clear_error():
    register(Metric(name="sneaky", title="t", needs=set(), compute=lambda i: {"x": float(i.real().mean())},
                    describe="d", line=str, scalars=("sneaky_x",)))
    try:
        with pytest.raises(RuntimeError, match="reads 'reference' without declaring it"):
            compute(["sneaky"], torch.zeros(4, 2), None, None, seed=0)
    finally:
        METRICS.unregister("sneaky")


def test_every_metric_file_is_imported_by_the_package():
    """A new metric is one file: importing ganforge.metrics imports every module of the package, so
    the file's registration runs with no other edit."""
    import pkgutil
    import subprocess
    import sys

    import ganforge.metrics as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    code = ("import sys, ganforge.metrics; "
            f"print(all('ganforge.metrics.' + n in sys.modules for n in {names!r}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "True", r.stderr
    assert {"frechet", "kid", "modes", "prdc", "swd", "inception_score"} <= set(names)
