"""The lab's image view: digits, MNIST and Fashion-MNIST with small DCGAN nets, live.

What a frame carries for images (no 2-D field, no points): a grid of G's samples from fixed noise
(a row per class when class-conditional), D's verdict on each of them and on real images (the
page frames each tile blue for "real", red for "fake"), G along a loop through noise space (the
page's slider walks it), and from the last quality check a histogram of D's outputs on its real
and fake batches and the classes G's samples fall in. The check's batches are the biggest work of
the view, so they are shared with the histogram, and checks of images are spaced out (CHECK_S).
Images go out as base64 uint8 bytes, (n, H, W, C) row-major: a canvas draws them as they come.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..data.images import ImageData, to_uint8
from ..errors import ConfigError
from ..generation import make_noise
from ..metrics.modes import knn_class_stats
from ..training.health import Health, measure_quality
from ..training.trainer import Trainer
from .page import Limits, num_json, values_json

CHECK_S = 1.5  # seconds between two quality checks of images, at least
N_KNN_REAL = 2000  # labelled real images the live class count compares against
MAX_ROWS = 10  # class-conditional grid: a row per class, at most this many


def encode(x: torch.Tensor) -> str:
    """Images in [-1, 1] (n, C, H, W) as base64 uint8 bytes in (n, H, W, C) order."""
    u8 = to_uint8(x.detach().cpu()).permute(0, 2, 3, 1).contiguous()
    return base64.b64encode(u8.numpy().tobytes()).decode("ascii")


def loop_noise(noise: str, n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    """n noise vectors round a closed loop through two random ones, a and b: cos(t) a + sin(t) b
    keeps a normal vector's typical length all the way round (a straight line would not); uniform
    noise is clamped back into its box."""
    a, b = make_noise(noise, 2, dim, gen)
    t = torch.linspace(0, 2 * math.pi, n + 1)[:-1, None]
    z = torch.cos(t) * a + torch.sin(t) * b
    return z.clamp(-1, 1) if noise == "uniform" else z


@dataclass
class ImageBatches:
    """The fixed inputs behind every image frame of one session (made at each reset)."""

    z_grid: torch.Tensor
    c_grid: torch.Tensor | None
    rows: list[str] | None  # the grid's row labels (class-conditional)
    real_show: torch.Tensor
    c_real_show: torch.Tensor | None
    z_walk: torch.Tensor
    real_eval: torch.Tensor  # the live quality check's real batch (and the histogram's)
    c_real_eval: torch.Tensor | None
    real_diversity: float
    knn_real: torch.Tensor | None  # labelled real images for the live class count
    knn_labels: torch.Tensor | None
    classes: list[str]


def image_batches(trainer: Trainer, data: ImageData, limits: Limits, gen: torch.Generator) -> ImageBatches:
    """Draw a session's fixed batches from `gen` (seeded from the run's seed)."""
    from ..training.health import diversity

    cfg = trainer.cfg
    noise, dim = cfg.g.noise, cfg.g.noise_dim
    k = trainer.num_classes
    classes = data.classes or [str(i) for i in range(data.num_classes)]
    cols = limits.grid_cols
    if k:  # a row per class, the same noise in every row: a column keeps its "style"
        rows = min(k, MAX_ROWS)
        z_grid = make_noise(noise, cols, dim, gen).repeat(rows, 1)
        c_grid: torch.Tensor | None = torch.arange(rows).repeat_interleave(cols)
        row_names: list[str] | None = classes[:rows]
    else:
        z_grid, c_grid, row_names = make_noise(noise, cols * cols, dim, gen), None, None

    def real(n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if k:
            return data.sample_labeled(n, gen)
        return data.sample(n, gen), None

    real_show, c_real_show = real(limits.n_real_show)
    z_walk = loop_noise(noise, limits.walk_points, dim, gen)
    real_eval, c_real_eval = real(limits.n_eval_images)
    knn_real = knn_labels = None
    if data.labels is not None:
        idx = torch.randperm(data.size, generator=gen)[:N_KNN_REAL]
        knn_real = data.images[idx].float().div(127.5).sub(1.0)
        knn_labels = data.labels[idx]
    return ImageBatches(z_grid, c_grid, row_names, real_show, c_real_show, z_walk, real_eval, c_real_eval,
                        diversity(real_eval), knn_real, knn_labels, classes)


class ImageView:
    """LabSession's image methods (a mixin: they use its trainer, data, limits and health)."""

    trainer: Trainer
    data: Any
    limits: Limits
    health: Health
    mode_info: dict[str, Any]
    batches: ImageBatches | None
    walk_class: int
    class_counts: list[int] | None
    hist: dict[str, Any] | None
    checked_at: float  # time.monotonic() of the last image check

    def set_walk_class(self, k: int) -> None:
        """The class the noise walk holds fixed (class-conditional runs)."""
        n = self.trainer.num_classes
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < max(n, 1):
            raise ConfigError(f"walk class must be an integer 0-{max(n, 1) - 1}, got {k!r}")
        self.walk_class = k

    def image_frame(self, g: torch.nn.Module) -> dict[str, Any]:
        """The image view of a frame (G in eval mode, as the caller left it)."""
        t, b, lim = self.trainer, self.batches, self.limits
        assert b is not None
        dev = t.device

        def run(z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
            return g(z.to(dev), None if c is None else c.to(dev)).float().cpu()

        c_walk = torch.full((len(b.z_walk),), self.walk_class) if t.num_classes else None
        with torch.no_grad():
            grid, walk = run(b.z_grid, b.c_grid), run(b.z_walk, c_walk)
        c, h, w = grid.shape[1:]
        return {
            "shape": [c, h, w],
            "grid": {"cols": lim.grid_cols, "n": len(grid), "data": encode(grid),
                     "verdict": values_json(t.d_prob(grid, b.c_grid)), "rows": b.rows},
            "real": {"n": len(b.real_show), "data": encode(b.real_show),
                     "verdict": values_json(t.d_prob(b.real_show, b.c_real_show))},
            "hist": self.hist,
            "walk": {"n": len(walk), "data": encode(walk),
                     "label": b.classes[self.walk_class] if t.num_classes else None},
            "classes": b.classes,
            "class_counts": self.class_counts,
        }

    def image_check(self, force: bool = True) -> None:
        """Live quality of images: diversity against real data's (the health monitors' collapse
        signal), with labels the classes covered by G's samples (nearest real neighbours), and the
        histogram of D's outputs on the same batches. Unless forced, at most every CHECK_S."""
        if not force and time.monotonic() - self.checked_at < CHECK_S:
            return
        self.checked_at = time.monotonic()
        t, b, lim = self.trainer, self.batches, self.limits
        assert b is not None
        gen = torch.Generator().manual_seed(1)
        c = torch.randint(t.num_classes, (lim.n_eval_images,), generator=gen) if t.num_classes else None
        x = t.generate(lim.n_eval_images, gen, labels=c).cpu()
        p_real, p_fake = t.d_prob(b.real_eval, b.c_real_eval), t.d_prob(x, c)
        bins = lim.hist_bins
        self.hist = {"bins": bins, "real": torch.histc(p_real, bins, 0, 1).int().tolist(),
                     "fake": torch.histc(p_fake, bins, 0, 1).int().tolist(),
                     "mean_real": num_json(float(p_real.mean())), "mean_fake": num_json(float(p_fake.mean())),
                     "step": t.step}
        q = measure_quality(x, b.real_eval, self.data, self.health.cfg, real_diversity=b.real_diversity)
        if q.finite and b.knn_real is not None and b.knn_labels is not None:
            r = knn_class_stats(x, b.knn_real, b.knn_labels, len(b.classes))
            q = dataclasses.replace(q, modes=r["modes"], modes_total=r["modes_total"], hq=r["hq"],
                                    counts=r["counts"], mode_stats=r)
            self.class_counts = r["counts"]
        self.health.observe_quality(q)
        if not q.finite:
            return
        self.mode_info = {"diversity": q.diversity, "distance": q.distance}
        if q.modes is not None:
            self.mode_info.update(modes=q.modes, modes_total=q.modes_total, hq=q.hq,
                                  reverse_kl=(q.mode_stats or {}).get("reverse_kl"))
