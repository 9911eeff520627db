"""generation.translate_tiled: equal to G on the whole image when the overlap covers G's reach; any size."""

import pytest
import torch

from ganforge.config import GConfig
from ganforge.errors import DataError
from ganforge.generation import translate_tiled
from ganforge.nets import build_g


def _g(scale: int) -> torch.nn.Module:
    torch.manual_seed(0)
    g = build_g(GConfig(arch="rrdb", width=8, depth=1), (3, 16 * scale, 16 * scale), 0, (3, 16, 16))
    with torch.no_grad():  # a non-trivial G: the zero-initialised last conv gets weights
        last = g.tail[-1]
        last.weight.normal_(0, 0.2)
        last.bias.normal_(0, 0.1)
    return g.eval()


def test_tiled_equals_untiled_where_both_fit():
    g = _g(2)
    x = torch.rand(3, 80, 72, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        whole = g(None, x[None])[0]
    tiled = translate_tiled(g, x, tile=64, overlap=52, scale=2)  # several tiles on both sides
    assert tiled.shape == whole.shape == (3, 160, 144)
    assert (tiled - whole).abs().max() < 1e-4
    assert (whole - translate_tiled(g, x, tile=128, overlap=0, scale=2)).abs().max() < 1e-5  # one tile


def test_an_odd_sized_image_is_covered():
    g = _g(4)
    x = torch.rand(3, 37, 53) * 2 - 1
    y = translate_tiled(g, x, tile=16, overlap=8, scale=4)
    assert y.shape == (3, 148, 212) and torch.isfinite(y).all()


def test_bad_arguments_are_one_line_errors():
    g = _g(2)
    with pytest.raises(DataError, match="0 <= overlap < tile"):
        translate_tiled(g, torch.zeros(3, 8, 8), tile=8, overlap=8, scale=2)
    with pytest.raises(DataError, match=r"the image must have shape \(3, H, W\)"):
        translate_tiled(g, torch.zeros(1, 8, 8), scale=2)
