"""Random hole masks for inpainting: free-form strokes and boxes (1 = hole, 0 = valid).

Free-form strokes follow the idea of DeepFill v2's training masks (Yu et al. 2019): a few random walks
of thick line segments, since users erase along brush strokes more often than in rectangles; boxes
cover the classic rectangular holes. Everything is drawn from one torch.Generator (the run's `data`
generator), batch-wide on tensors, so a batch of 64 masks at 64 px costs a few milliseconds and a run
resumes exactly. A mask whose hole share falls outside [lo, hi] is drawn again (a few rounds), then
replaced by one square box whose share lies in the bounds, so every mask obeys them."""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError

MASK_KINDS = ("mixed", "strokes", "boxes", "data")  # "data": the set's own masks (the task reads them)
MAX_STROKES = 4  # strokes per mask: 1..MAX_STROKES
MAX_VERTICES = 6  # vertices per stroke: 3..MAX_VERTICES (so 2..5 segments)
MAX_BOXES = 3  # boxes per mask: 1..MAX_BOXES
ROUNDS = 8  # redraws of masks whose hole share is out of bounds, before the box fallback


def check_bounds(lo: float, hi: float) -> None:
    """Hole shares are fractions of the image with room between them."""
    if not 0 < lo < hi < 1:
        raise ConfigError(f"hole share bounds must satisfy 0 < task.hole_min < task.hole_max < 1, "
                          f"got {lo:g} and {hi:g}")


def _uniform(n: tuple[int, ...], lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=gen.device)


def _int(n: tuple[int, ...], lo: int, hi: int, gen: torch.Generator) -> torch.Tensor:
    """Integers in [lo, hi] (both ends included)."""
    return torch.randint(lo, hi + 1, n, generator=gen, device=gen.device)


def strokes(n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """n free-form masks (n, 1, h, w): 1..MAX_STROKES random walks whose segments are `width` thick
    (a pixel is a hole when its centre lies within width / 2 of a segment)."""
    side = min(h, w)
    dev = gen.device
    count = _int((n,), 1, MAX_STROKES, gen)
    verts = _int((n, MAX_STROKES), 3, MAX_VERTICES, gen)
    start = torch.stack([_uniform((n, MAX_STROKES), 0, w, gen), _uniform((n, MAX_STROKES), 0, h, gen)], -1)
    heading = _uniform((n, MAX_STROKES), 0, 2 * math.pi, gen)
    turns = _uniform((n, MAX_STROKES, MAX_VERTICES - 1), -math.pi / 2, math.pi / 2, gen)
    lengths = _uniform((n, MAX_STROKES, MAX_VERTICES - 1), side / 8, side / 3, gen)
    width = _uniform((n, MAX_STROKES), max(1.5, side / 12), max(2.0, side / 5), gen)
    ys = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5)[None, :, None]  # pixel centres
    xs = (torch.arange(w, device=dev, dtype=torch.float32) + 0.5)[None, None, :]
    lim = torch.tensor([w, h], device=dev, dtype=torch.float32)
    mask = torch.zeros(n, h, w, dtype=torch.bool, device=dev)
    for s in range(MAX_STROKES):
        p0, angle = start[:, s], heading[:, s]
        r2 = (width[:, s] / 2).square()[:, None, None]
        for v in range(MAX_VERTICES - 1):
            angle = angle + turns[:, s, v]
            step = torch.stack([torch.cos(angle), torch.sin(angle)], -1) * lengths[:, s, v, None]
            p1 = torch.minimum(torch.maximum(p0 + step, torch.zeros_like(lim)), lim)
            dx, dy = (p1 - p0).unbind(-1)
            rx, ry = xs - p0[:, 0, None, None], ys - p0[:, 1, None, None]  # (n, 1, w), (n, h, 1)
            inv = 1 / (dx.square() + dy.square()).clamp_min(1e-6)
            t = (rx * (dx * inv)[:, None, None] + ry * (dy * inv)[:, None, None]).clamp_(0, 1)  # (n, h, w)
            near = (rx - t * dx[:, None, None]).square_() + (ry - t * dy[:, None, None]).square_() <= r2
            on = (s < count) & (v + 1 < verts[:, s])  # this stroke exists and reaches this segment
            mask |= near & on[:, None, None]
            p0 = p1
    return mask[:, None].float()


def boxes(n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """n masks (n, 1, h, w) of 1..MAX_BOXES axis-aligned boxes, each side 1/8 to 1/2 of the image's."""
    dev = gen.device
    count = _int((n,), 1, MAX_BOXES, gen)
    bh = _int((n, MAX_BOXES), max(1, h // 8), max(1, h // 2), gen)
    bw = _int((n, MAX_BOXES), max(1, w // 8), max(1, w // 2), gen)
    top = (_uniform((n, MAX_BOXES), 0, 1, gen) * (h - bh + 1)).long()
    left = (_uniform((n, MAX_BOXES), 0, 1, gen) * (w - bw + 1)).long()
    ys = torch.arange(h, device=dev)[None, None, :, None]
    xs = torch.arange(w, device=dev)[None, None, None, :]
    inside = ((ys >= top[..., None, None]) & (ys < (top + bh)[..., None, None])
              & (xs >= left[..., None, None]) & (xs < (left + bw)[..., None, None]))  # (n, K, h, w)
    on = torch.arange(MAX_BOXES, device=dev)[None] < count[:, None]
    return (inside & on[..., None, None]).any(1, keepdim=True).float()


def _draw(kind: str, n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    if kind == "strokes":
        return strokes(n, h, w, gen)
    if kind == "boxes":
        return boxes(n, h, w, gen)
    pick = _int((n,), 0, 2, gen)[:, None, None, None]  # mixed: strokes, boxes, or both, a third each
    s, b = strokes(n, h, w, gen), boxes(n, h, w, gen)
    return torch.where(pick == 0, s, torch.where(pick == 1, b, torch.maximum(s, b)))


def _square_boxes(n: int, h: int, w: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    """The fallback: one square box per mask whose share is in [lo, hi] (when such a square fits)."""
    area = h * w
    smin = min(h, w, math.ceil(math.sqrt(lo * area)))
    smax = max(smin, min(h, w, math.floor(math.sqrt(hi * area))))
    side = _int((n,), smin, smax, gen)
    top = (_uniform((n,), 0, 1, gen) * (h - side + 1)).long()
    left = (_uniform((n,), 0, 1, gen) * (w - side + 1)).long()
    ys = torch.arange(h, device=gen.device)[None, :, None]
    xs = torch.arange(w, device=gen.device)[None, None, :]
    t, le, s = top[:, None, None], left[:, None, None], side[:, None, None]
    return ((ys >= t) & (ys < t + s) & (xs >= le) & (xs < le + s))[:, None].float()


def random_masks(n: int, h: int, w: int, gen: torch.Generator, kind: str = "mixed", lo: float = 0.1,
                 hi: float = 0.5) -> torch.Tensor:
    """n masks (n, 1, h, w) float {0, 1} on the generator's device, each with a hole share in [lo, hi];
    `kind`: mixed | strokes | boxes. The same generator state gives the same masks."""
    if kind not in MASK_KINDS or kind == "data":
        raise ConfigError(f"task.mask={kind!r} cannot be drawn at random (use mixed, strokes or boxes)")
    check_bounds(lo, hi)
    if not 1 <= n <= 1 << 16 or not 4 <= min(h, w) <= max(h, w) <= 1024:
        raise ConfigError(f"masks: need 1 <= n <= 65536 and sides in 4..1024, got {n} x {h} x {w}")
    out = torch.zeros(n, 1, h, w, device=gen.device)
    todo = torch.arange(n, device=gen.device)
    for _ in range(ROUNDS):
        m = _draw(kind, len(todo), h, w, gen)
        share = m.mean((1, 2, 3))
        ok = (share >= lo) & (share <= hi)
        out[todo[ok]] = m[ok]
        todo = todo[~ok]
        if not len(todo):
            return out
    out[todo] = _square_boxes(len(todo), h, w, lo, hi, gen)
    return out
