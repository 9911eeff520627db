"""ADA (ada.py): each transform against an independent reference (torch.flip, torch.rot90, F.pad,
slicing, colour formulas), the pipeline's probability and draws, the p controller's arithmetic by
hand, the config checks and the trainer's wiring."""

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge import config
from ganforge.ada import (
    AdaptiveAugment,
    apply_colour,
    brightness_matrix,
    geometric_matrix,
    hue_matrix,
    int_translate,
    lumaflip_matrix,
    rot90,
    saturation_matrix,
    scale_matrix,
    warp,
    xflip,
)
from ganforge.errors import ConfigError

torch.set_num_threads(1)


def _x(*shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- blit -------------------------------------------------------------------------------------------


def test_xflip_and_rot90_match_torch_exactly():
    x = _x(4, 3, 6, 6)
    flip = torch.tensor([True, False, True, False])
    y = xflip(x, flip)
    for i in range(4):
        assert torch.equal(y[i], torch.flip(x[i], dims=(2,)) if flip[i] else x[i])
    k = torch.tensor([0, 1, 2, 3])
    y = rot90(x, k)
    for i in range(4):
        assert torch.equal(y[i], torch.rot90(x[i], int(k[i]), dims=(1, 2)))


def test_int_translate_matches_reflect_padding_and_roll():
    x = _x(3, 2, 8, 8)
    tx, ty = torch.tensor([2, -1, 0]), torch.tensor([-3, 1, 0])
    y = int_translate(x, tx, ty)
    p = 3
    ref = F.pad(x, [p, p, p, p], mode="reflect")
    for i in range(3):
        a, b = p - int(ty[i]), p - int(tx[i])
        assert torch.equal(y[i], ref[i, :, a:a + 8, b:b + 8])
    # away from the border it is a plain roll of the content
    rolled = torch.roll(x[0], shifts=(-3, 2), dims=(1, 2))
    assert torch.equal(y[0, :, :5, 2:], rolled[:, :5, 2:])
    assert torch.equal(y[2], x[2])


# --- geometric ----------------------------------------------------------------------------------------


def _geo(n, angle=0.0, scale=1.0, aniso=1.0, tx=0.0, ty=0.0):
    full = lambda v: torch.full((n,), float(v))  # noqa: E731
    return geometric_matrix(full(scale), full(angle), full(aniso), full(tx), full(ty))


def test_warp_quarter_turn_is_rot90_and_identity_is_identity():
    x = _x(2, 3, 6, 6)
    assert torch.allclose(warp(x, _geo(2, math.pi / 2)), torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)
    wide = _x(2, 1, 5, 8)
    assert torch.allclose(warp(wide, _geo(2)), wide, atol=1e-6)
    assert torch.allclose(warp(wide, _geo(2, math.pi)), torch.rot90(wide, 2, dims=(2, 3)), atol=1e-5)


def test_warp_one_pixel_translation_with_mirrored_edge():
    x = _x(2, 1, 5, 7)
    y = warp(x, _geo(2, tx=1.0))  # output pixel c reads input c + 1; past the edge, the edge mirrored
    ref = torch.cat([x[..., 1:], x[..., -1:]], dim=3)
    assert torch.allclose(y, ref, atol=1e-5)
    y = warp(x, _geo(2, ty=-1.0))
    ref = torch.cat([x[..., :1, :], x[..., :-1, :]], dim=2)
    assert torch.allclose(y, ref, atol=1e-5)


def test_warp_scale_two_reads_the_centre_half():
    x = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8).contiguous()
    y = warp(x, _geo(1, scale=0.5))  # output reads input at half the distance from the centre
    # column centres at c - 3.5 read the input at (c - 3.5) / 2 + 3.5: a linear ramp of slope 1/2
    want = (torch.arange(8.0) - 3.5) / 2 + 3.5
    assert torch.allclose(y[0, 0, 3], want, atol=1e-5)


# --- colour -------------------------------------------------------------------------------------------


def test_brightness_and_contrast_match_the_formulas_for_rgb_and_grey():
    for c in (3, 1):
        x = _x(2, c, 4, 4)
        b = torch.tensor([0.3, -0.2])
        assert torch.allclose(apply_colour(x, brightness_matrix(b)), x + b.view(2, 1, 1, 1), atol=1e-6)
        s = torch.tensor([2.0, 0.5])
        assert torch.allclose(apply_colour(x, scale_matrix(s)), x * s.view(2, 1, 1, 1), atol=1e-6)
        both = scale_matrix(s) @ brightness_matrix(b)  # brightness first, then contrast
        assert torch.allclose(apply_colour(x, both), (x + b.view(2, 1, 1, 1)) * s.view(2, 1, 1, 1), atol=1e-6)


def test_luma_flip_hue_and_saturation_match_the_formulas():
    x = _x(2, 3, 4, 4)
    mean = x.mean(1, keepdim=True)
    flip = torch.tensor([1.0, 0.0])
    y = apply_colour(x, lumaflip_matrix(flip))
    assert torch.allclose(y[0], x[0] - 2 * mean[0], atol=1e-6)  # x - 2 (x.v) v, v = (1,1,1)/sqrt 3
    assert torch.allclose(y[1], x[1], atol=1e-6)
    # a third of a turn about the grey axis permutes the channels: r <- b, g <- r, b <- g
    y = apply_colour(x, hue_matrix(torch.full((2,), 2 * math.pi / 3)))
    assert torch.allclose(y, x[:, [2, 0, 1]], atol=1e-5)
    assert torch.allclose(apply_colour(x, hue_matrix(torch.zeros(2))), x, atol=1e-6)
    s = torch.tensor([0.0, 3.0])
    y = apply_colour(x, saturation_matrix(s))
    assert torch.allclose(y, mean + (x - mean) * s.view(2, 1, 1, 1), atol=1e-5)
    grey = _x(2, 1, 4, 4)  # grey images: the flip negates, hue and saturation change nothing
    assert torch.allclose(apply_colour(grey, lumaflip_matrix(torch.ones(2))), -grey, atol=1e-6)
    assert torch.allclose(apply_colour(grey, hue_matrix(torch.full((2,), 1.0))), grey, atol=1e-6)
    assert torch.allclose(apply_colour(grey, saturation_matrix(torch.full((2,), 3.0))), grey, atol=1e-6)


def test_colour_stage_is_one_affine_map_per_sample():
    ada = AdaptiveAugment("c", p=1.0)
    x = _x(6, 1, 5, 5)
    y = ada(x, _gen(3))
    for i in range(6):  # y = a x + b for each grey sample
        a, b = torch.linalg.lstsq(torch.stack([x[i].flatten(), torch.ones(25)], 1), y[i].flatten()).solution
        assert torch.allclose(a * x[i] + b, y[i], atol=1e-5)


# --- the pipeline -------------------------------------------------------------------------------------


def test_p_zero_is_identity_and_draws_nothing():
    ada = AdaptiveAugment("bgc", p=0.0)
    x, gen = _x(4, 3, 8, 8), _gen(1)
    before = gen.get_state()
    assert ada(x, gen) is x
    assert torch.equal(gen.get_state(), before)


@pytest.mark.parametrize("pipeline", ["b", "g", "c", "bgc"])
def test_p_one_changes_images_keeps_shape_and_is_seeded(pipeline):
    ada = AdaptiveAugment(pipeline, p=1.0)
    x = _x(16, 3, 8, 8)
    y = ada(x, _gen(5))
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    changed = (y - x).flatten(1).abs().amax(1) > 1e-4
    assert changed.sum() >= 8  # most samples differ (a blit may draw "no flip, no turn, no shift")
    assert torch.equal(ada(x, _gen(5)), y)  # the same generator state, the same images
    assert not torch.equal(ada(x, _gen(6)), y)


def test_probability_is_per_sample_and_per_transform():
    ada = AdaptiveAugment("c", p=0.3)
    x = _x(2000, 1, 2, 2)
    y = ada(x, _gen(0))
    untouched = ((y - x).flatten(1).abs().amax(1) < 1e-7).float().mean().item()
    # grey: brightness, contrast and the luma flip (a coin) act; untouched = (1 - p)^2 (1 - p / 2)
    assert abs(untouched - 0.7 ** 2 * 0.85) < 0.04


def test_gradients_flow_to_the_input():
    ada = AdaptiveAugment("bgc", p=1.0)
    x = _x(8, 3, 8, 8).requires_grad_(True)
    ada(x, _gen(2)).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_non_square_images_turn_by_half_turns_only():
    ada = AdaptiveAugment("b", p=1.0)
    x = _x(32, 1, 4, 6)
    y = ada(x, _gen(0))
    assert y.shape == x.shape
    assert torch.equal(rot90(x, torch.full((32,), 2)), torch.rot90(x, 2, dims=(2, 3)))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_runs_on_the_generators_device(device):
    ada = AdaptiveAugment("bgc", p=0.8)
    x = _x(8, 3, 8, 8).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    y = ada(x, gen)
    assert y.device == x.device and torch.isfinite(y).all()
    assert torch.equal(ada(x, torch.Generator(device=device).manual_seed(0)), y)


# --- the controller -----------------------------------------------------------------------------------


def test_p_update_arithmetic_by_hand():
    ada = AdaptiveAugment("bgc", target=0.6, interval=2, kimg=0.1)  # 100 images move p from 0 to 1
    ada.observe(torch.tensor([0.9, 0.9, 0.1, 0.9]), 4)  # signs +1 +1 -1 +1
    assert ada.end_step() == {"ada_p": 0.0, "ada_rt": pytest.approx(math.nan, nan_ok=True)}
    ada.observe(torch.tensor([0.1, 0.1, 0.9, 0.5]), 4)  # -1 -1 +1 0
    out = ada.end_step()  # r_t = (2 - 1) / 8 = 0.125 < 0.6: p would fall, clamped at 0
    assert out == {"ada_p": 0.0, "ada_rt": 0.125}
    assert (ada.sum, ada.count, ada.images, ada.steps) == (0, 0, 0, 0)
    for _ in range(2):
        ada.observe(torch.full((6,), 0.8), 6)
        out = ada.end_step()
    assert out["ada_rt"] == 1.0 and out["ada_p"] == pytest.approx(12 / 100)  # + 12 images / 100
    ada.observe(torch.tensor([0.7, 0.2]), 10)  # r_t = 0 < 0.6: down by 20 / 100
    out = ada.end_step()
    ada.observe(torch.tensor([0.7, 0.2]), 10)
    out = ada.end_step()
    assert out["ada_rt"] == 0.0 and out["ada_p"] == 0.0  # 0.12 - 0.2 clamped to 0


def test_p_is_bounded_and_target_equal_holds_still():
    ada = AdaptiveAugment(target=0.5, interval=1, kimg=0.001)
    for _ in range(3):
        ada.observe(torch.ones(4), 4)
        assert 0.0 <= ada.end_step()["ada_p"] <= 1.0
    assert ada.p == 1.0
    ada.observe(torch.tensor([1.0, 1.0, 1.0, 0.0]), 4)  # r_t = 0.5 = target: p stays
    assert ada.end_step() == {"ada_p": 1.0, "ada_rt": 0.5}


def test_r_t_and_images_are_the_jobs_under_torchrun():
    class TwoRanks:  # what World.mean returns when the other rank saw nothing
        size = 2

        def mean(self, stats):
            return {k: v / 2 for k, v in stats.items()}

    ada = AdaptiveAugment(target=0.6, interval=1, kimg=1.0)
    ada.observe(torch.ones(10), 10)
    out = ada.end_step(TwoRanks())
    assert out["ada_rt"] == 1.0 and out["ada_p"] == pytest.approx(10 / 1000)


def test_state_round_trip():
    ada = AdaptiveAugment(interval=3)
    ada.p, ada.rt = 0.37, 0.71
    ada.observe(torch.tensor([0.9, 0.2, 0.8]), 3)
    ada.end_step()
    other = AdaptiveAugment(interval=3)
    other.load_state_tensors(ada.state_tensors())
    assert vars(other) == vars(ada)
    bad = dict(ada.state_tensors(), p=torch.tensor(1.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="ada.p"):
        other.load_state_tensors(bad)


# --- config and trainer ------------------------------------------------------------------------------


def test_config_checks():
    with pytest.raises(ConfigError, match="exclude each other"):
        config.load(None, ["train.ada_target=0.6", "train.augment=color"])
    with pytest.raises(ConfigError, match="ada_pipeline"):
        config.load(None, ["train.ada_pipeline=bx"])
    with pytest.raises(ConfigError, match="ada_pipeline"):
        config.load(None, ["train.ada_pipeline=bb"])
    with pytest.raises(ConfigError, match="train.ada_target does not apply to task.kind=paired"):
        config.load(None, ["task.kind=paired", "train.ada_target=0.6"])
    assert config.load(None, ["train.ada_target=0.6", "train.ada_pipeline=gc"]).train.ada_pipeline == "gc"


def _image_trainer(*extra):
    sys.path.insert(0, str(Path(__file__).parent / "training"))
    from test_trainer import _image_trainer as make

    return make(*extra)


def test_trainer_runs_ada_on_real_and_fake_and_logs_p(tmp_path):
    from ganforge.training import Trainer, fit
    from ganforge.training.callbacks import JsonlLogger

    t = _image_trainer("train.ada_target=0.6", "train.ada_interval=2", "train.ada_kimg=0.05")
    assert t.augment is t.ada and t.stat_names[-2:] == ("ada_p", "ada_rt")
    seen = []
    inner = t.ada.__call__
    t.augment = lambda x, gen: seen.append(x.requires_grad) or inner(x, gen)
    log = tmp_path / "metrics.jsonl"
    fit(t, 4, [JsonlLogger(log, 4)])
    assert seen == [False, False, True] * 4  # D step: real, fake; G step: fake with G's graph
    import json

    rec = json.loads(log.read_text().splitlines()[-1])
    assert 0.0 <= rec["ada_p"] <= 1.0 and -1.0 <= rec["ada_rt"] <= 1.0
    assert t.ada.p > 0 or t.ada.rt <= 0.6  # p moved the way r_t asked
    with pytest.raises(ConfigError, match="needs image data"):
        Trainer(config.load(None, ["train.ada_target=0.6"]))
