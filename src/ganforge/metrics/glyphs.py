"""Which character is this glyph? A nearest-template classifier over one font's renders of every character.

Scores whether a translation kept the content (the issue's "classified as the right character"): a
translated glyph is compared with the target font's render of EVERY character of the set (train and
held-out), by normalised cross-correlation under small shifts (up to `shift` pixels each way, so a
glyph drawn a pixel off still matches), and takes the best match. Characters whose renders in that font
are the same picture (Latin A, Greek Alpha and Cyrillic A in DejaVu) cannot be told apart by any
classifier: a match counts as right when the matched template equals the true one (correlation >=
`SAME`). Written by hand because it is 30 lines on top of a matrix product and no library classifies
rendered glyphs; a trained CNN would add training time and a cache for no gain on clean renders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import DataError

SAME = 0.99  # templates this correlated are one picture (homoglyphs)


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Rows of x made zero-mean and unit-norm (a blank row stays zero)."""
    x = x.flatten(1).float()
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)


class GlyphClassifier:
    """Templates (K, C, H, W) in [-1, 1], one per character; `classify` gives template indices."""

    def __init__(self, templates: torch.Tensor, shift: int = 2) -> None:
        if templates.dim() != 4 or len(templates) < 2:
            raise DataError(f"a glyph classifier needs >= 2 templates (K, C, H, W), got "
                            f"{tuple(templates.shape)}")
        if not 0 <= shift < min(templates.shape[-2:]) // 2:
            raise DataError(f"shift must be 0 to a quarter of the glyph side, got {shift}")
        self.shape = tuple(templates.shape[1:])
        self.shift = shift
        self.t = _unit(templates)  # (K, D)
        self.same = (self.t @ self.t.T) >= SAME  # (K, K): homoglyph pairs

    def _shifted(self, x: torch.Tensor) -> torch.Tensor:
        """(n, S, D): every image moved by each (dy, dx) in [-shift, shift]^2, background filled in."""
        s = self.shift
        pad = F.pad(x.float(), (s, s, s, s), value=-1.0)  # glyph sets are white on black (-1)
        h, w = x.shape[-2:]
        views = [pad[:, :, dy:dy + h, dx:dx + w] for dy in range(2 * s + 1) for dx in range(2 * s + 1)]
        return torch.stack([_unit(v) for v in views], 1)

    @torch.no_grad()
    def scores(self, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """(n, K) the best correlation of each image with each template over the shifts."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.shape:
            want = ", ".join(map(str, self.shape))
            raise DataError(f"glyphs must have shape (n, {want}), got {tuple(x.shape)}")
        out = [(self._shifted(x[i:i + chunk]) @ self.t.T).amax(1) for i in range(0, len(x), chunk)]
        return torch.cat(out) if out else torch.zeros(0, len(self.t))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(x).argmax(1)

    def accuracy(self, x: torch.Tensor, labels: torch.Tensor) -> float:
        """Share of images whose best template is their character's (or a picture-identical one)."""
        if len(x) != len(labels) or not len(x):
            raise DataError(f"{len(x)} glyphs for {len(labels)} labels")
        pred = self.classify(x)
        return float(self.same[pred, labels.long()].float().mean())
