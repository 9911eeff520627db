"""The nearest-template glyph classifier: against a plain loop over shifts and templates (a second
implementation), on true renders, shifted renders, homoglyphs, noise; one-line errors."""

import numpy as np
import pytest
import torch

from ganforge.data import load_paired
from ganforge.data.images import to_float
from ganforge.errors import DataError
from ganforge.metrics.glyphs import GlyphClassifier


@pytest.fixture(scope="module")
def fonts():
    """Latin and Greek capitals in Sans (A) and Serif (B): A, B, E, ... have Greek twins drawn alike."""
    chars = "ABEHKMNOPTXZabcdefgh" + "ΑΒΕΗΚΜΝΟΡΤΧΖ" + "ΓΔΘΛΞΠΣΦΨΩ"
    d = load_paired("glyphs", size=24, charset=chars, every=0)
    return d, to_float(d.a), to_float(d.b)


def _by_loops(templates: np.ndarray, x: np.ndarray, shift: int) -> np.ndarray:
    """argmax over templates of the best Pearson correlation over every shift, one pair at a time."""
    k, h, w = templates.shape[0], *templates.shape[-2:]
    out = []
    for img in x:
        pad = np.pad(img[0], shift, constant_values=-1.0)
        best = np.full(k, -np.inf)
        for dy in range(2 * shift + 1):
            for dx in range(2 * shift + 1):
                v = pad[dy:dy + h, dx:dx + w].ravel()
                for j in range(k):
                    t = templates[j, 0].ravel()
                    r = np.corrcoef(v, t)[0, 1] if v.std() > 0 else 0.0
                    best[j] = max(best[j], r)
        out.append(int(best.argmax()))
    return np.array(out)


def test_matches_a_loop_over_shifts_and_templates(fonts):
    d, a, b = fonts
    clf = GlyphClassifier(b, shift=1)
    x = torch.cat([a[:6], torch.roll(b[6:10], 1, -2)])
    got = clf.classify(x).numpy()
    want = _by_loops(b.numpy().astype(np.float64), x.numpy().astype(np.float64), 1)
    same = clf.same.numpy()
    assert all(same[g, w] for g, w in zip(got, want, strict=True))  # equal up to picture-identical twins


def test_true_and_shifted_renders_are_right_noise_is_not(fonts):
    d, a, b = fonts
    clf = GlyphClassifier(b)
    assert clf.accuracy(b, d.labels) == 1.0
    assert clf.accuracy(torch.roll(b, (2, -1), (-2, -1)), d.labels) == 1.0
    noise = torch.rand_like(b, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert clf.accuracy(noise, d.labels) < 0.2


def test_picture_identical_twins_count_as_one_character(fonts):
    d, a, b = fonts
    clf = GlyphClassifier(b)
    i, j = d.classes.index("A"), d.classes.index("Α")  # Latin A, Greek Alpha
    assert clf.same[i, j] and not clf.same[i, d.classes.index("B")]
    assert clf.accuracy(b[j:j + 1], torch.tensor([i])) == 1.0  # Alpha's picture read as A is right
    assert clf.accuracy(b[i:i + 1], torch.tensor([d.classes.index("Δ")])) == 0.0


def test_one_line_errors(fonts):
    d, a, b = fonts
    with pytest.raises(DataError, match="needs >= 2 templates"):
        GlyphClassifier(b[:1])
    with pytest.raises(DataError, match="glyphs must have shape"):
        GlyphClassifier(b).classify(b[:, :, :10])
    with pytest.raises(DataError, match="2 glyphs for 3 labels"):
        GlyphClassifier(b).accuracy(b[:2], d.labels[:3])
