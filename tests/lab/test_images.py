"""The lab's image view (lab/images.py) through a LabSession: digits with small DCGAN nets."""

import base64
import math
import time

import pytest
import torch

from ganforge import config
from ganforge.data.images import to_float
from ganforge.errors import ConfigError
from ganforge.lab.images import CHECK_S, encode, loop_noise
from ganforge.lab.page import DEFAULTS, IMAGE_DEFAULTS
from ganforge.lab.session import LabSession, Limits
from ganforge.lab.slow_motion import IMAGE_PHASES


def _images(b64: str, shape: list[int]) -> torch.Tensor:
    """The page's view of an image payload: (n, C, H, W) in [-1, 1]."""
    c, h, w = shape
    u8 = torch.frombuffer(bytearray(base64.b64decode(b64)), dtype=torch.uint8)
    return to_float(u8.reshape(-1, h, w, c).permute(0, 3, 1, 2))


@pytest.fixture(scope="module")
def digits():
    return LabSession(settings={"dataset": "digits"})


def test_an_image_set_starts_from_the_image_recipe_and_points_from_theirs():
    s = LabSession()
    assert s.apply({"dataset": "digits"}) is True
    assert s.settings == dict(IMAGE_DEFAULTS, dataset="digits")
    cfg = s.trainer.cfg
    assert (cfg.g.arch, cfg.d.arch, cfg.g.batch_norm, cfg.data.size) == ("dcgan", "dcgan", True, 16)
    assert s.trainer.g.spec.data_shape == (1, 16, 16)
    s.apply({"lr_g": 1e-3})  # within images: the other settings stay
    assert s.settings["lr_g"] == 1e-3 and s.settings["noise_dim"] == 32 and s.trainer.step == 0
    s.apply({"dataset": "mnist", "g_width": 16})  # another image set keeps them too
    assert s.settings["lr_g"] == 1e-3 and s.trainer.cfg.data.size == 28 and s.trainer.cfg.g.width == 16
    s.apply({"dataset": "ring8"})  # back to points: the points' defaults (lr 0.03, 2 noise dims)
    assert s.settings == dict(DEFAULTS, dataset="ring8") and s.trainer.cfg.g.arch == "mlp"
    s.set_points([[0.0, 0.0], [1.0, 1.0]])
    assert s.settings["dataset"] == "draw"


@pytest.mark.parametrize("changes, fragment", [
    ({"dataset": "digits", "g_width": 65}, "g_width must be a number <= 64"),
    ({"noise_dim": 17}, "noise_dim must be a number <= 16"),
    ({"conditional": True}, "class-conditional training needs an image set"),
    ({"dataset": "cifar10"}, "unknown dataset 'cifar10'"),
    ({"dataset": ["digits"]}, "unknown dataset"),
])
def test_image_bounds_and_conditional_points_are_refused(changes, fragment):
    s = LabSession()
    before = dict(s.settings)
    with pytest.raises(ConfigError, match=fragment):
        s.apply(changes)
    assert s.settings == before
    s.apply({"dataset": "digits", "noise_dim": 100})  # image noise may be wider than points'
    assert s.trainer.cfg.g.noise_dim == 100


def test_a_frame_shows_g_on_fixed_noise_with_d_verdicts(digits):
    s = digits
    s.reset()
    f = s.frame()
    im = f["images"]
    assert "field" not in f and f["real"] == [] and im["shape"] == [1, 16, 16]
    grid = _images(im["grid"]["data"], im["shape"])
    assert grid.shape == (64, 1, 16, 16) and im["grid"]["cols"] == 8 and im["grid"]["rows"] is None
    # the grid is G (eval mode) on the session's fixed noise, and each verdict is D's P(real) of it
    t = s.trainer
    g = t.sampler()
    g.eval()
    with torch.no_grad():
        want = g(s.batches.z_grid)
        p = torch.sigmoid(t.d(want).score.float())  # ns loss: P(real) = sigmoid(score)
    g.train()
    assert (grid - want.clamp(-1, 1)).abs().max() <= 1 / 127.5 + 1e-6  # uint8 rounding
    assert im["grid"]["verdict"] == pytest.approx(p.tolist(), abs=1e-4)
    real = _images(im["real"]["data"], im["shape"])
    assert len(real) == len(im["real"]["verdict"]) == s.limits.n_real_show
    assert torch.allclose(real, s.batches.real_show, atol=1e-6)
    for _ in range(3):
        s.step()
    f2 = s.frame()
    assert f2["images"]["grid"]["data"] != im["grid"]["data"]  # G changed
    assert f2["images"]["real"]["data"] == im["real"]["data"]  # the real images did not
    walk = _images(f2["images"]["walk"]["data"], im["shape"])
    assert len(walk) == s.limits.walk_points and f2["images"]["walk"]["label"] is None


def test_the_quality_check_counts_classes_and_fills_the_histogram(digits):
    s = digits
    s.reset()
    assert s.frame()["images"]["hist"] is None  # nothing before the first check
    s.check()
    im = s.frame()["images"]
    h = im["hist"]
    n = s.limits.n_eval_images
    assert sum(h["real"]) == n and sum(h["fake"]) == n and len(h["real"]) == h["bins"] == 20
    p_real = s.trainer.d_prob(s.batches.real_eval)
    assert h["mean_real"] == pytest.approx(float(p_real.mean()), abs=1e-4)
    q = s.mode_info
    assert q["modes_total"] == 10 and 0 <= q["modes"] <= 10 and 0 < q["diversity"]
    assert len(im["class_counts"]) == 10 and sum(im["class_counts"]) == round(q["hq"] * n)
    assert im["classes"] == [str(k) for k in range(10)]
    # while playing, checks of images are spaced out: one due within CHECK_S of the last is skipped
    s.step()
    s.checked_at = time.monotonic()
    s.tick(0, 1.0, check=True)
    assert s.hist["step"] == 0 and CHECK_S > 0.5
    s.checked_at = time.monotonic() - CHECK_S - 0.1  # ...and one after it runs
    s.tick(0, 1.0, check=True)
    assert s.hist["step"] == 1


def test_class_conditional_rows_share_their_noise_and_the_walk_takes_a_class():
    s = LabSession(settings={"dataset": "digits", "conditional": True})
    assert s.trainer.num_classes == 10
    im = s.frame()["images"]
    g = im["grid"]
    assert g["n"] == 80 and g["rows"] == [str(k) for k in range(10)]
    z = s.batches.z_grid.reshape(10, 8, -1)
    assert torch.equal(z[0], z[7])  # a column keeps its noise, a row its class
    assert torch.equal(s.batches.c_grid.reshape(10, 8)[:, 0], torch.arange(10))
    s.set_walk_class(3)
    assert s.frame()["images"]["walk"]["label"] == "3"
    for bad in (10, -1, "3", True):
        with pytest.raises(ConfigError, match="walk class must be an integer 0-9"):
            s.set_walk_class(bad)
    s.check()
    assert s.mode_info["modes_total"] == 10
    for k in range(6):  # slow motion with labels on both sides
        r = s.slow_step(k)
        assert r["phase"] == k and "real" in r["slow"]
    assert s.trainer.step == 1 and len(r["slow"]["p_after"]) == r["slow"]["n"] == 8


def test_slow_motion_shows_the_batch_as_images(digits):
    s = digits
    s.reset()
    seen = []
    for k in range(6):
        r = s.slow_step(k)
        seen.append(set(r["slow"]))
        assert r["phase_text"] == IMAGE_PHASES[k]  # told for images: no field, no arrows
    assert seen[0] == {"n", "real"} and {"fake", "p_real", "p_fake"} <= seen[2]
    assert {"fake_after", "p_after"} <= seen[5] and s.trainer.step == 1
    real = _images(r["slow"]["real"], [1, 16, 16])
    assert real.shape == (8, 1, 16, 16)


def test_an_image_session_exports_a_run_that_trains_and_reopens(digits, tmp_path):
    s = digits
    s.reset()
    for _ in range(2):
        s.step()
    p = tmp_path / "lab.yaml"
    p.write_text(s.config_yaml())
    cfg = config.load(p)
    got = (cfg.data.name, cfg.data.size, cfg.g.arch, cfg.g.noise_dim, cfg.train.steps)
    assert got == ("digits", 16, "dcgan", 32, 2)
    with pytest.raises(ConfigError, match="no points"):
        s.points_csv()
    s.export_checkpoint(str(tmp_path / "lab.safetensors"))
    r = LabSession.from_checkpoint(tmp_path / "lab.safetensors")
    assert r.trainer.step == 2 and r.settings == s.settings and "images" in r.frame()
    for a, b in zip(r.trainer.g.parameters(), s.trainer.g.parameters(), strict=True):
        assert torch.equal(a, b)


def test_loop_noise_is_a_closed_loop_of_even_steps():
    z = loop_noise("normal", 24, 8, torch.Generator().manual_seed(0))
    steps = (torch.roll(z, -1, 0) - z).norm(dim=1)  # includes the step from the last back to the first
    assert z.shape == (24, 8) and steps.max() / steps.min() < 3
    assert len({tuple(v) for v in z.tolist()}) == 24
    u = loop_noise("uniform", 24, 8, torch.Generator().manual_seed(0))
    assert u.abs().max() <= 1


def test_encode_is_n_h_w_c_bytes():
    x = torch.linspace(-1, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    raw = base64.b64decode(encode(x))
    assert len(raw) == x.numel()
    u8 = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(2, 4, 5, 3)
    assert u8[1, 2, 3, 0] == round((float(x[1, 0, 2, 3]) + 1) * 127.5)
    assert u8[0, 0, 0, 2] == round((float(x[0, 2, 0, 0]) + 1) * 127.5)


def test_image_limits_bound_the_frame():
    s = LabSession(Limits(grid_cols=4, walk_points=6, n_real_show=3), settings={"dataset": "digits"})
    im = s.frame()["images"]
    assert im["grid"]["n"] == 16 and im["walk"]["n"] == 6 and im["real"]["n"] == 3
    assert math.isfinite(sum(im["grid"]["verdict"]))
