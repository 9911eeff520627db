"""`glyphs`: the same characters drawn in two fonts, a translation set with ground truth for every pair.

Fonts come from this machine, never a download: matplotlib's bundled DejaVu / STIX files by default,
Debian's CJK fonts (fonts-arphic-ukai, fonts-arphic-uming, fonts-wqy-zenhei; `make fonts`) by name, or
any font file. A character is kept only when BOTH fonts map it (their cmap, read with fontTools, which
matplotlib already needs) and it draws something, so no pair holds a missing-glyph box.

Each glyph is white (255) on black (0), grey-level antialiased, centred by its ink box in a
size x size square; one font size per font, chosen so the widest glyph of the set fits inside the
margin, so glyphs keep their relative sizes. Label = the character's index in `classes` (the list of
characters), so a classifier can score content. Every `every`-th character is held out as `.test`;
the unpaired view (`.unpaired()`) gives A and B disjoint halves of the training characters.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .pairs import PAIRED_SETS, PairedData

DEBIAN_FONTS = Path("/usr/share/fonts")
# name -> (file name, where it lives, the Debian package that installs it)
NAMED_FONTS: dict[str, tuple[str, str, str]] = {
    "sans": ("DejaVuSans.ttf", "matplotlib", ""),
    "serif": ("DejaVuSerif.ttf", "matplotlib", ""),
    "mono": ("DejaVuSansMono.ttf", "matplotlib", ""),
    "stix": ("STIXGeneral.ttf", "matplotlib", ""),
    "kaiti": ("ukai.ttc", "debian", "fonts-arphic-ukai"),
    "ming": ("uming.ttc", "debian", "fonts-arphic-uming"),
    "zenhei": ("wqy-zenhei.ttc", "debian", "fonts-wqy-zenhei"),
}
LATIN_FONTS = ("sans", "serif")
CJK_FONTS = ("kaiti", "ming")


def _matplotlib_fonts() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def font_path(font: str) -> Path:
    """A font name from NAMED_FONTS or a font file path -> the file; a one-line error says how to get it."""
    if font in NAMED_FONTS:
        file, where, package = NAMED_FONTS[font]
        if where == "matplotlib":
            p = _matplotlib_fonts() / file
            if p.is_file():
                return p
            raise DataError(f"font {font!r}: {file} is not in matplotlib's fonts ({p.parent})")
        found = sorted(DEBIAN_FONTS.rglob(file)) if DEBIAN_FONTS.is_dir() else []
        if found:
            return found[0]
        raise DataError(f"font {font!r} not found: install the Debian package {package} (`make fonts`) "
                        "or pass a font file")
    p = Path(font).expanduser()
    if p.is_file():
        return p
    raise DataError(f"font {font!r} is neither a font file nor one of: {', '.join(NAMED_FONTS)}")


def charset(name: str) -> list[str]:
    """The candidate characters, in a fixed order: "ascii" (printable, no space), "latin" (ascii, Latin-1,
    Greek and Cyrillic letters), "cjk" (the 3,755 common hanzi of GB2312 level 1), or the characters of
    any other string given."""
    ascii_ = [c for c in string.printable if not c.isspace()]
    if name == "ascii":
        return ascii_
    if name == "latin":
        extra = [chr(c) for c in range(0xA1, 0x100) if c != 0xAD]  # no soft hyphen
        extra += [chr(c) for c in range(0x391, 0x3CA) if c != 0x3A2]  # Greek (0x3A2 is unassigned)
        extra += [chr(c) for c in range(0x410, 0x450)]  # Russian Cyrillic
        return ascii_ + extra
    if name == "cjk":
        out = []
        for hi in range(0xB0, 0xD8):  # GB2312 rows 16-55: level-1 hanzi, in pinyin order
            for lo in range(0xA1, 0xFF):
                try:
                    out.append(bytes([hi, lo]).decode("gb2312"))
                except UnicodeDecodeError:
                    continue
        return out
    chars = list(dict.fromkeys(c for c in name if not c.isspace()))
    if len(chars) < 2:
        raise DataError(f"charset {name!r}: use ascii, latin, cjk, or a string of at least 2 characters")
    return chars


@lru_cache(maxsize=16)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        return frozenset(font.getBestCmap() or {})
    except Exception as e:  # fontTools raises many kinds for a file that is not a font
        raise DataError(f"{path}: not a readable font ({type(e).__name__})") from None


def _render(path: Path, chars: list[str], size: int, margin: float) -> np.ndarray:
    """len(chars) x size x size uint8, white glyphs on black, centred by their ink box."""
    from PIL import Image, ImageDraw, ImageFont

    ref = 100
    probe = ImageFont.truetype(str(path), ref)
    boxes = [probe.getbbox(c) for c in chars]
    widest = max(max(r - le, b - t) for le, t, r, b in boxes)
    font = ImageFont.truetype(str(path), max(4, int(ref * size * (1 - 2 * margin) / widest)))
    out = np.zeros((len(chars), size, size), dtype=np.uint8)
    for i, c in enumerate(chars):
        le, t, r, b = font.getbbox(c)
        im = Image.new("L", (size, size), 0)
        ImageDraw.Draw(im).text((round((size - (r - le)) / 2 - le), round((size - (b - t)) / 2 - t)), c,
                                fill=255, font=font)
        out[i] = np.asarray(im)
    return out


def _inks(path: Path, chars: list[str]) -> list[bool]:
    from PIL import ImageFont

    font = ImageFont.truetype(str(path), 24)
    return [font.getmask(c).getbbox() is not None for c in chars]


def load_glyphs(fonts: tuple[str, str] = LATIN_FONTS, chars: str = "latin", size: int = 32,
                every: int = 5, limit: int = 0, margin: float = 0.06, channels: int = 1,
                name: str = "glyphs") -> PairedData:
    """Characters both fonts have, font A -> font B. `every`: hold out every every-th character as
    `.test` (0 = none); `limit`: at most that many characters (0 = all)."""
    if len(fonts) != 2:
        raise DataError(f"glyphs need exactly two fonts (A and B), got {len(fonts)}")
    if not 8 <= size <= 512:
        raise DataError(f"glyph size must be 8 to 512 pixels, not {size}")
    if channels not in (0, 1, 3):
        raise DataError(f"glyphs are grey: channels must be 1 or 3, not {channels}")
    paths = [font_path(f) for f in fonts]
    maps = [_cmap(str(p)) for p in paths]
    cand = [c for c in charset(chars) if all(ord(c) in m for m in maps)]
    inked = [_inks(p, cand) for p in paths]
    kept = [c for c, ia, ib in zip(cand, *inked, strict=True) if ia and ib]
    if limit:
        kept = kept[:limit]
    if len(kept) < 2:
        raise DataError(f"fonts {fonts[0]!r} and {fonts[1]!r} share {len(kept)} drawable characters "
                        f"of charset {chars!r}")
    a = torch.from_numpy(_render(paths[0], kept, size, margin)).unsqueeze(1)
    b = torch.from_numpy(_render(paths[1], kept, size, margin)).unsqueeze(1)
    if channels == 3:
        a, b = a.expand(-1, 3, -1, -1).contiguous(), b.expand(-1, 3, -1, -1).contiguous()
    labels = torch.arange(len(kept))
    desc = (f"{len(kept)} characters ({chars if len(chars) < 12 else chars[:12] + '...'}) drawn in "
            f"{paths[0].name} -> {paths[1].name}, {tuple(a.shape[1:])} white on black")
    data = PairedData(name, desc, a, b, labels=labels, classes=kept, names=kept)
    return data.split(every) if every else data


def _fonts_option(path: str | None, fonts: object, default: tuple[str, str]) -> tuple[str, str]:
    """data.path "FONT_A,FONT_B" or fonts=(a, b), else the default pair."""
    if fonts:
        got = tuple(str(f) for f in fonts) if not isinstance(fonts, str) else tuple(fonts.split(","))
    elif path:
        got = tuple(path.split(","))
    else:
        return default
    if len(got) != 2:
        raise DataError(f"glyphs need two fonts 'A,B', got {len(got)}: {','.join(got)}")
    return got[0].strip(), got[1].strip()


@PAIRED_SETS.register("glyphs")
def glyphs(path: str | None = None, size: int = 0, channels: int = 0, fonts: object = None,
           charset: str = "latin", every: int = 5, limit: int = 0, **_: object) -> PairedData:
    """Latin, Greek and Cyrillic characters, DejaVu Sans -> DejaVu Serif (matplotlib's own fonts);
    data.path "FONT_A,FONT_B" picks other fonts (names or files)."""
    return load_glyphs(_fonts_option(path, fonts, LATIN_FONTS), charset, size or 32, every, limit,
                       channels=channels or 1, name="glyphs")


@PAIRED_SETS.register("glyphs-cjk")
def glyphs_cjk(path: str | None = None, size: int = 0, channels: int = 0, fonts: object = None,
               charset: str = "cjk", every: int = 5, limit: int = 0, **_: object) -> PairedData:
    """Common Chinese characters, AR PL UKai (kaiti) -> AR PL UMing (ming): Debian's fonts-arphic-*."""
    return load_glyphs(_fonts_option(path, fonts, CJK_FONTS), charset, size or 32, every, limit,
                       channels=channels or 1, name="glyphs-cjk")
