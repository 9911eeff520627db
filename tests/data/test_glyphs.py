import pytest
import torch

from ganforge.data import PAIRED_SETS, load_unpaired
from ganforge.data.glyphs import NAMED_FONTS, charset, font_path, load_glyphs
from ganforge.errors import DataError


@pytest.fixture(scope="module")
def latin():
    return PAIRED_SETS.get("glyphs")()


def test_glyph_pairs_are_the_same_character_in_two_fonts(latin):
    assert latin.shape_a == (1, 32, 32) == latin.shape_b and latin.size + latin.test.size > 250
    assert latin.names == [latin.classes[i] for i in latin.labels.tolist()]
    assert "A" in latin.classes and "ж" in latin.classes and "λ" in latin.classes
    letter = next(c for c in latin.names if c.isupper() and c != "O")
    i = latin.names.index(letter)
    a, b = latin.a[i, 0].float(), latin.b[i, 0].float()
    assert int(latin.a[:, :, 0].max()) == 0 and int(latin.a.max()) == 255  # white on black, margin kept
    # the same letter in sans and serif overlaps far more than two different letters do
    other = latin.b[latin.names.index(next(c for c in latin.names if c.islower() and c != letter.lower())),
                    0].float()
    assert (a * b).sum() > 1.5 * (a * other).sum()
    assert not torch.equal(latin.a, latin.b)


def test_train_and_test_characters_are_disjoint(latin):
    assert not set(latin.names) & set(latin.test.names)
    every_fifth = latin.test.labels.tolist()
    assert every_fifth == list(range(4, latin.size + latin.test.size, 5))


def test_unpaired_view_uses_disjoint_halves_with_ground_truth(latin):
    u = latin.unpaired()
    assert not set(u.names_a) & set(u.names_b) and u.size_a + u.size_b == latin.size
    assert set(u.names_a) | set(u.names_b) == set(latin.names)
    t = u.truth("a")
    for j in (0, 7, len(t.names) - 1):
        k = latin.names.index(t.names[j])
        assert torch.equal(t.a[j], latin.a[k]) and torch.equal(t.b[j], latin.b[k])
    assert u.test.has_truth and torch.equal(u.test.a_truth, latin.test.b)
    v = load_unpaired("glyphs", limit=20, every=0)
    assert v.size_a == 10 and v.test is None


def test_options_and_errors(tmp_path):
    d = load_glyphs(("mono", "stix"), "ascii", size=16, every=0, channels=3)
    assert d.shape_a == (3, 16, 16) and d.test is None and d.size <= 94
    assert charset("abca") == ["a", "b", "c"] and len(charset("cjk")) == 3755
    with pytest.raises(DataError, match="neither a font file"):
        font_path("no-such-font")
    (tmp_path / "x.ttf").write_bytes(b"not a font")
    with pytest.raises(DataError, match="not a readable font"):
        load_glyphs((str(tmp_path / "x.ttf"), "serif"))
    with pytest.raises(DataError, match="two fonts"):
        PAIRED_SETS.get("glyphs")(path="sans")


def _cjk_installed() -> bool:
    try:
        font_path("kaiti"), font_path("ming")
    except DataError:
        return False
    return True


@pytest.mark.skipif(not _cjk_installed(), reason="fonts-arphic-ukai / uming not installed (make fonts)")
def test_cjk_glyphs():
    d = PAIRED_SETS.get("glyphs-cjk")(limit=300)
    assert d.size + d.test.size == 300 and all("\u4e00" <= c <= "\u9fff" for c in d.names)
    assert not torch.equal(d.a, d.b) and int(d.a.max()) == 255


@pytest.mark.skipif(_cjk_installed(), reason="the CJK fonts are installed")
def test_cjk_fonts_missing_is_one_line_error():
    with pytest.raises(DataError, match=r"install the Debian package fonts-arphic-ukai \(`make fonts`\)"):
        PAIRED_SETS.get("glyphs-cjk")()
    assert NAMED_FONTS["ming"][2] == "fonts-arphic-uming"
