"""Random inpainting masks: shapes, determinism, hole-share bounds, strokes vs boxes, the fallback."""

import pytest
import torch

from ganforge.data import masks as masks_mod
from ganforge.data.masks import boxes, random_masks, strokes
from ganforge.errors import ConfigError


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["mixed", "strokes", "boxes"])
@pytest.mark.parametrize("hw", [(32, 32), (48, 64)])
def test_masks_are_binary_of_the_asked_shape_with_bounded_holes(kind, hw):
    m = random_masks(64, *hw, _gen(0), kind)
    assert m.shape == (64, 1, *hw) and m.dtype == torch.float32
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    share = m.mean((1, 2, 3))
    assert share.min() >= 0.1 and share.max() <= 0.5
    assert len({tuple(x.flatten().tolist()) for x in m}) > 60  # not one mask repeated


def test_the_same_generator_state_gives_the_same_masks():
    a, b = random_masks(16, 32, 32, _gen(7)), random_masks(16, 32, 32, _gen(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, random_masks(16, 32, 32, _gen(8)))
    g = _gen(7)
    first, second = random_masks(16, 32, 32, g), random_masks(16, 32, 32, g)
    assert torch.equal(first, a) and not torch.equal(first, second)  # the generator moves on


def test_other_bounds_hold_too():
    share = random_masks(16, 32, 32, _gen(1), "mixed", 0.3, 0.4).mean((1, 2, 3))
    assert share.min() >= 0.3 and share.max() <= 0.4


def _corners(m: torch.Tensor) -> torch.Tensor:
    """2 x 2 windows with 1 or 3 hole pixels: 4 per rectangle, many along a slanted stroke."""
    s = m[:, 0, 1:, 1:] + m[:, 0, :-1, 1:] + m[:, 0, 1:, :-1] + m[:, 0, :-1, :-1]
    return ((s == 1) | (s == 3)).sum((1, 2)).float()


def test_strokes_and_boxes_differ_in_kind():
    s, b = strokes(32, 48, 48, _gen(2)), boxes(32, 48, 48, _gen(2))
    assert _corners(b).max() <= 4 * masks_mod.MAX_BOXES + 4 * masks_mod.MAX_BOXES  # rectangles (+ overlaps)
    assert _corners(s).mean() > 3 * _corners(b).mean()


def test_out_of_bound_masks_fall_back_to_one_square(monkeypatch):
    monkeypatch.setattr(masks_mod, "ROUNDS", 0)
    m = random_masks(32, 32, 32, _gen(3), "strokes", 0.2, 0.3)
    share = m.mean((1, 2, 3))
    assert share.min() >= 0.2 and share.max() <= 0.3
    assert (_corners(m) <= 4).all()  # one square each (corners on the border are not counted)


def test_bad_requests_are_one_line_errors():
    with pytest.raises(ConfigError, match="task.mask='data' cannot be drawn at random"):
        random_masks(4, 32, 32, _gen(0), "data")
    with pytest.raises(ConfigError, match="task.hole_min < task.hole_max"):
        random_masks(4, 32, 32, _gen(0), "boxes", 0.5, 0.2)
    with pytest.raises(ConfigError, match="sides in 4..1024"):
        random_masks(4, 2, 32, _gen(0))
