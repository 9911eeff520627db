"""DiffAugment against straightforward re-implementations using the same random draws."""

import pytest
import torch

from ganforge.augment import build_augment, color, cutout, translation
from ganforge.errors import ConfigError


def test_translation_matches_a_loop_implementation():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) + 1
    y = translation(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    ty = torch.randint(-1, 2, (2, 1, 1), generator=g)
    tx = torch.randint(-1, 2, (2, 1, 1), generator=g)
    for i in range(2):
        for r in range(8):
            for c in range(8):
                sr, sc = r + int(ty[i]), c + int(tx[i])
                want = x[i, 0, sr, sc] if 0 <= sr < 8 and 0 <= sc < 8 else 0.0
                assert y[i, 0, r, c] == want


def test_cutout_zeroes_one_square_and_keeps_the_rest():
    x = torch.ones(16, 3, 8, 8)
    y = cutout(x, torch.Generator().manual_seed(0))
    for i in range(16):
        zero = y[i, 0] == 0
        assert torch.equal(zero, (y[i] == 0).all(0))  # same square in every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert len(rows) <= 4 and len(cols) <= 4 and zero.sum() == len(rows) * len(cols)
    assert (y == 0).any()


def test_color_matches_the_formula():
    x = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = color(x, torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(9)
    r = [torch.rand(4, 1, 1, 1, generator=g) for _ in range(3)]
    z = x + (r[0] - 0.5)
    m = z.mean(1, keepdim=True)
    z = (z - m) * (r[1] * 2) + m
    m = z.mean((1, 2, 3), keepdim=True)
    z = (z - m) * (r[2] + 0.5) + m
    assert torch.allclose(y, z, atol=1e-6)


def test_policy_is_differentiable_and_validated():
    aug = build_augment("color, translation,cutout")
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    aug(x, torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert build_augment("") is None
    with pytest.raises(ConfigError, match="unknown augmentation 'flip'"):
        build_augment("color,flip")


def test_trainer_augments_real_and_fake_alike():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "training"))
    from test_trainer import _image_trainer

    t = _image_trainer("train.augment=translation,cutout")
    seen = []
    inner = t.augment
    t.augment = lambda x, gen: seen.append((x.shape, x.requires_grad)) or inner(x, gen)
    t.train_step()
    # D step: real, then fake (detached); G step: fake with G's graph attached
    assert [s for s, _ in seen] == [torch.Size([8, 1, 28, 28])] * 3
    assert [rg for _, rg in seen] == [False, False, True]
    with pytest.raises(ConfigError, match="needs image data"):
        from ganforge import config
        from ganforge.training import Trainer

        Trainer(config.load(None, ["train.augment=color"]))
