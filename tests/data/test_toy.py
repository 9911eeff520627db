import math

import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import build_data
from ganforge.data.toy import TOY_SETS, load_toy, read_points_csv
from ganforge.errors import ConfigError, DataError


def test_ring8_follows_pacgan():
    d = load_toy("ring8")
    assert d.std == 0.01 and d.modes.shape == (8, 2)
    for k, (x, y) in enumerate(d.modes.tolist()):
        assert math.hypot(x, y) == pytest.approx(1.0, abs=1e-6)
        assert math.atan2(y, x) % (2 * math.pi) == pytest.approx(2 * math.pi * k / 8, abs=1e-6)


def test_grid25_follows_pacgan():
    d = load_toy("grid25")
    assert d.std == 0.05
    assert {tuple(m) for m in d.modes.tolist()} == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }


@pytest.mark.parametrize("name", ["single", "two", "ring8", "grid25"])
def test_mixture_samples_have_the_stated_spread(name):
    d = load_toy(name)
    x = d.sample(20000, torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, d.modes).argmin(1)
    resid = x - d.modes[nearest]
    assert resid.std(0).tolist() == pytest.approx([d.std, d.std], rel=0.05)
    share = torch.bincount(nearest, minlength=len(d.modes)).float() / len(x)
    assert share.tolist() == pytest.approx([1 / len(d.modes)] * len(d.modes), abs=0.02)


@pytest.mark.parametrize("name", sorted(TOY_SETS.names()) + [])
def test_every_set_samples_reproducibly(name, tmp_path):
    path = None
    if name == "csv":
        path = tmp_path / "p.csv"
        path.write_text("x,y\n0,0\n1,1\n2,0.5\n")
    d = load_toy(name, str(path) if path else None)
    a = d.sample(64, torch.Generator().manual_seed(3))
    b = d.sample(64, torch.Generator().manual_seed(3))
    assert a.shape == (64, d.dim) and torch.equal(a, b) and torch.isfinite(a).all()
    x0, x1, y0, y1 = d.bounds()
    assert x0 < a[:, 0].min() and a[:, 0].max() < x1
    assert y0 < a[:, -1].min() and a[:, -1].max() < y1  # 1-D: the y pair repeats the x pair


ONE_D = {  # name: (centres, std, weights) as the docstrings state them
    "gauss1d": ([1.0], 0.25, [1.0]),
    "two1d": ([-1.5, 1.5], 0.2, [0.5, 0.5]),
    "bimodal1d": ([-1.0, 1.5], 0.3, [0.7, 0.3]),
}


@pytest.mark.parametrize("name", sorted(ONE_D))
def test_1d_sets_are_the_stated_mixtures(name):
    centres, std, weights = ONE_D[name]
    d = load_toy(name)
    assert d.dim == 1 and d.shape == (1,) and d.std == std
    assert d.modes.shape == (len(centres), 1) and d.modes[:, 0].tolist() == centres
    x = d.sample(40000, torch.Generator().manual_seed(0))
    assert x.shape == (40000, 1)
    # sampler vs the formula: mean, variance and the share of each component
    w, mu = torch.tensor(weights), torch.tensor(centres)
    mean = float((w * mu).sum())
    var = float((w * (std**2 + mu**2)).sum()) - mean**2
    assert float(x.mean()) == pytest.approx(mean, abs=0.02)
    assert float(x.var()) == pytest.approx(var, rel=0.03)
    nearest = torch.cdist(x, d.modes).argmin(1)
    share = torch.bincount(nearest, minlength=len(centres)).float() / len(x)
    assert share.tolist() == pytest.approx(weights, abs=0.01)
    assert float((x - d.modes[nearest]).std()) == pytest.approx(std, rel=0.05)


@pytest.mark.parametrize("name", sorted(ONE_D))
def test_1d_density_is_the_mixture_pdf_and_integrates_to_one(name):
    centres, std, weights = ONE_D[name]
    d = load_toy(name)
    x0, x1, _, _ = d.bounds()
    xs = torch.linspace(x0, x1, 2001)
    p = d.density(xs[:, None])
    assert float(torch.trapezoid(p, xs.double())) == pytest.approx(1.0, abs=0.01)
    at = torch.tensor([[centres[0]]])
    want = sum(wk / (std * math.sqrt(2 * math.pi)) * math.exp(-((centres[0] - c) ** 2) / (2 * std**2))
               for c, wk in zip(centres, weights, strict=True))
    assert float(d.density(at)[0]) == pytest.approx(want, rel=1e-6)


def test_mode_stats_count_1d_modes():
    from ganforge.metrics.modes import mode_stats

    d = load_toy("two1d")
    noise = torch.randn(100, 1, generator=torch.Generator().manual_seed(0))
    one_bump = 1.5 + 0.1 * noise
    both = d.sample(1000, torch.Generator().manual_seed(1))
    assert mode_stats(one_bump, d.modes, d.std)["modes"] == 1
    r = mode_stats(both, d.modes, d.std)
    assert r["modes"] == 2 and r["hq"] > 0.95


def test_spiral_and_moons_shapes():
    s = load_toy("spiral").sample(5000, torch.Generator().manual_seed(0))
    r = s.norm(dim=1)
    assert 0.05 < r.min() < 0.3 and 1.0 < r.max() < 1.3  # r = t / (3 pi), t in [pi/2, 3.5 pi)
    m = load_toy("moons").sample(5000, torch.Generator().manual_seed(0))
    assert m[:, 0].min() == pytest.approx(-1.5, abs=0.2) and m[:, 0].max() == pytest.approx(
        1.5, abs=0.2)


def test_csv_points_with_and_without_header(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("x,y\n1,2\n3.5,-4\n\n")
    assert read_points_csv(p).tolist() == [[1.0, 2.0], [3.5, -4.0]]
    q = tmp_path / "b.csv"
    q.write_text("1,2\n3,4\n")
    assert read_points_csv(q).tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    "text, fragment",
    [("x,y\n1,2\nfoo,3\n", ":3: not a number"), ("1\n2\n", "expected two columns"),
     ("x,y\n1,2\n", "at least 2 points"), ("1,2\n3,nan\n", "non-finite")],
)
def test_bad_csv_is_a_one_line_error(tmp_path, text, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=fragment):
        read_points_csv(p)


def test_missing_csv_and_unknown_set():
    with pytest.raises(DataError, match="needs data.path"):
        build_data(DataConfig(name="csv"))
    with pytest.raises(DataError, match="not found"):
        build_data(DataConfig(name="csv", path="/nonexistent/points.csv"))
    with pytest.raises(ConfigError, match="unknown data set 'rings'"):
        build_data(DataConfig(name="rings"))
