"""The glyph-accuracy statistic shared by the paired and unpaired entries: when a set's images are
labelled by the character they show (glyphs) and every character appears in the target domain, a
nearest-template classifier over those renders (metrics/glyphs.py) says whether an output kept its
character."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..data.images import to_float
from ..metrics.glyphs import GlyphClassifier
from .heldout import Stat


def drawn_classes(parts: Iterable[tuple[torch.Tensor | None, torch.Tensor | None]],
                  k: int) -> torch.Tensor | None:
    """One image per class 0..k-1 (in class order, [-1, 1]) gathered from (images, labels) parts of one
    domain; None when a part lacks labels or some class is never drawn."""
    found: dict[int, torch.Tensor] = {}
    for images, labels in parts:
        if images is None or labels is None:
            return None
        for img, y in zip(images, labels.tolist(), strict=True):
            found.setdefault(int(y), img)
    if k < 2 or set(found) != set(range(k)):
        return None
    return to_float(torch.stack([found[i] for i in range(k)]))


def glyph_stat(templates: torch.Tensor | None, labels: torch.Tensor | None) -> Stat | None:
    """`glyph_acc` of outputs whose true characters are `labels`, or None when it cannot be scored."""
    if templates is None or labels is None:
        return None
    clf = GlyphClassifier(templates)
    return Stat("glyph_acc", f"share of outputs the nearest-template glyph classifier reads as the right "
                f"character (normalised cross-correlation, shifts <= {clf.shift} px, over the target "
                f"domain's {len(templates)} characters; picture-identical renders count as one)", "",
                lambda out, _targets: clf.accuracy(out, labels))
