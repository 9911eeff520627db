"""2-D and 1-D toy distributions, the testbed of mode-collapse research.

Each set is an infinite sampler: a batch is drawn fresh from the distribution with the caller's
`torch.Generator`, so training is reproducible and exactly resumable from the generator's state.
Mixtures carry their mode centres and standard deviation, which the mode metrics need, and their
density (`density`), which the lab's 1-D view draws (the GAN paper's Figure 1).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError
from ..registry import Registry
from .draws import Draws, random_draws

TOY_SETS: Registry = Registry("toy data set")


@dataclass
class ToyData:
    """A 2-D (or 1-D) distribution: `sample(n, generator)` plus what metrics and plots need."""

    name: str
    description: str
    modes: torch.Tensor | None = None  # (k, dim) centres of a Gaussian mixture
    std: float | None = None  # per-axis std of each mixture component
    points: torch.Tensor | None = None  # a finite point set (user data): sampled with replacement
    kind: str = "mixture"  # mixture | curve | points
    dim: int = 2
    weights: torch.Tensor | None = None  # (k,) mixture weights summing to 1; None = equal

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def num_classes(self) -> int:
        return 0

    @property
    def size(self) -> int | None:
        """Number of distinct training points, or None for a distribution sampled afresh."""
        return None if self.points is None else len(self.points)

    def sample(self, n: int, generator: torch.Generator, draws: Draws = random_draws) -> torch.Tensor:
        """n points: a mixture is sampled afresh (it has no rows); a point set's rows come from `draws`."""
        if self.kind == "points":
            return _sample_points(self, n, generator, draws)
        return _SAMPLERS[self.kind](self, n, generator)

    def density(self, x: torch.Tensor) -> torch.Tensor:
        """The mixture's probability density at points x of shape (n, dim): sum_k w_k N(x; mu_k,
        std^2 I). Only for mixtures (the sets with known modes)."""
        if self.kind != "mixture" or self.modes is None or self.std is None:
            raise DataError(f"{self.name}: a density is known only for Gaussian mixtures")
        k = len(self.modes)
        w = self.weights if self.weights is not None else torch.full((k,), 1.0 / k)
        x = x.double().reshape(len(x), self.dim)
        sq = torch.cdist(x, self.modes.double()) ** 2  # (n, k)
        norm = (2 * math.pi * self.std**2) ** (self.dim / 2)
        return (torch.exp(-sq / (2 * self.std**2)) / norm) @ w.double()

    def bounds(self, margin: float = 0.15) -> tuple[float, float, float, float]:
        """A square plotting window (xmin, xmax, ymin, ymax) around the data. In 1-D the window is
        (xmin, xmax, xmin, xmax): the y pair repeats the x pair, so 4-tuple callers still work."""
        if self.points is not None:
            ref = self.points
        elif self.modes is not None:
            ref = self.modes
        else:
            ref = self.sample(4096, torch.Generator().manual_seed(0))
        lo, hi = ref.min(0).values, ref.max(0).values
        spread = float((hi - lo).max())
        pad = max(spread * margin, 3 * (self.std or 0.0), 0.5)
        centre = ((lo + hi) / 2).tolist()
        cx, cy = centre if len(centre) == 2 else (centre[0], centre[0])
        half = spread / 2 + pad
        return cx - half, cx + half, cy - half, cy + half


def _sample_mixture(data: ToyData, n: int, gen: torch.Generator) -> torch.Tensor:
    assert data.modes is not None and data.std is not None
    if data.weights is None:
        idx = torch.randint(len(data.modes), (n,), generator=gen)
    else:
        idx = torch.multinomial(data.weights, n, replacement=True, generator=gen)
    return data.modes[idx] + data.std * torch.randn(n, data.dim, generator=gen)


def _sample_points(data: ToyData, n: int, gen: torch.Generator, draws: Draws = random_draws) -> torch.Tensor:
    assert data.points is not None
    return data.points[draws(len(data.points), n, gen)]


def _sample_spiral(data: ToyData, n: int, gen: torch.Generator) -> torch.Tensor:
    # Archimedean spiral r = t / (3 pi) for t in [pi/2, 3.5 pi) (two turns), plus N(0, 0.04^2) noise.
    t = math.pi / 2 + 3 * math.pi * torch.rand(n, generator=gen)
    r = t / (3 * math.pi)
    pts = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
    return pts + 0.04 * torch.randn(n, 2, generator=gen)


def _sample_moons(data: ToyData, n: int, gen: torch.Generator) -> torch.Tensor:
    # Two interleaved half circles of radius 1: the upper one centred at (0, 0), the lower one at
    # (1, 0.5) and flipped; a fair coin picks the moon; N(0, 0.05^2) noise; shifted to centre 0.
    theta = math.pi * torch.rand(n, generator=gen)
    lower = torch.rand(n, generator=gen) < 0.5
    x = torch.where(lower, 1 - torch.cos(theta), torch.cos(theta))
    y = torch.where(lower, 0.5 - torch.sin(theta), torch.sin(theta))
    pts = torch.stack([x - 0.5, y - 0.25], 1)
    return pts + 0.05 * torch.randn(n, 2, generator=gen)


_SAMPLERS = {
    "mixture": _sample_mixture,
    "points": _sample_points,
    "spiral": _sample_spiral,
    "moons": _sample_moons,
}


@TOY_SETS.register("single")
def single(path: str | None = None) -> ToyData:
    """One Gaussian: centre (1, 1), std 0.2 per axis. The easy case: G only has to move there."""
    return ToyData("single", "one Gaussian at (1, 1), std 0.2", torch.tensor([[1.0, 1.0]]), 0.2)


@TOY_SETS.register("two")
def two(path: str | None = None) -> ToyData:
    """Two equal Gaussians at (-1, -1) and (1, 1), std 0.2: the smallest case of mode collapse."""
    modes = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    return ToyData("two", "two Gaussians at (-1,-1) and (1,1), std 0.2", modes, 0.2)


@TOY_SETS.register("ring8")
def ring8(path: str | None = None) -> ToyData:
    """PacGAN ring: 8 equal Gaussians with centres at angles 2*pi*k/8 on radius 1, std 0.01."""
    k = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    modes = torch.stack([torch.cos(k), torch.sin(k)], 1).float()
    return ToyData("ring8", "8 Gaussians on a circle of radius 1, std 0.01", modes, 0.01)


@TOY_SETS.register("grid25")
def grid25(path: str | None = None) -> ToyData:
    """PacGAN grid: 25 equal Gaussians with centres at {-4,-2,0,2,4}^2, std 0.05."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    modes = torch.cartesian_prod(axis, axis)
    return ToyData("grid25", "25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05", modes, 0.05)


@TOY_SETS.register("spiral")
def spiral(path: str | None = None) -> ToyData:
    """Two turns of the spiral r = t/(3 pi), t in [pi/2, 3.5 pi), with N(0, 0.04^2) noise."""
    return ToyData("spiral", "a two-turn Archimedean spiral, noise std 0.04", kind="spiral")


@TOY_SETS.register("moons")
def moons(path: str | None = None) -> ToyData:
    """Two interleaved half circles of radius 1 (as scikit-learn's make_moons), noise std 0.05."""
    return ToyData("moons", "two interleaved half circles, noise std 0.05", kind="moons")


# --- 1-D sets: the GAN paper's Figure 1 (real density, G's density and D(x) on one line) ---------


@TOY_SETS.register("gauss1d")
def gauss1d(path: str | None = None) -> ToyData:
    """1-D: one Gaussian N(1, 0.25^2). The GAN paper's Figure 1 case: G only has to move there."""
    return ToyData("gauss1d", "1-D: one Gaussian at 1, std 0.25", torch.tensor([[1.0]]), 0.25, dim=1)


@TOY_SETS.register("two1d")
def two1d(path: str | None = None) -> ToyData:
    """1-D: two equal Gaussians at -1.5 and 1.5, std 0.2; a small G piles onto one bump."""
    modes = torch.tensor([[-1.5], [1.5]])
    return ToyData("two1d", "1-D: two Gaussians at -1.5 and 1.5, std 0.2", modes, 0.2, dim=1)


@TOY_SETS.register("bimodal1d")
def bimodal1d(path: str | None = None) -> ToyData:
    """1-D: an uneven mix, 0.7 N(-1, 0.3^2) + 0.3 N(1.5, 0.3^2): the small bump is easy to drop."""
    modes = torch.tensor([[-1.0], [1.5]])
    return ToyData("bimodal1d", "1-D: 0.7 N(-1, 0.3^2) + 0.3 N(1.5, 0.3^2)", modes, 0.3, dim=1,
                   weights=torch.tensor([0.7, 0.3]))


@TOY_SETS.register("csv")
def csv_points(path: str | None = None) -> ToyData:
    """User points: a CSV file of x,y rows (an optional header row is skipped); sampled uniformly."""
    return ToyData(
        "csv", f"points from {path}", points=read_points_csv(path), kind="points"
    )


def read_points_csv(path: str | Path | None) -> torch.Tensor:
    """Read x,y rows; the first row may be a header. Errors name the file and the line."""
    if not path:
        raise DataError("data.name=csv needs data.path=FILE.csv (x,y rows)")
    p = Path(path)
    if not p.is_file():
        raise DataError(f"points file not found: {p}")
    rows: list[tuple[float, float]] = []
    with p.open(newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            if len(cells) < 2:
                raise DataError(f"{p}:{lineno}: expected two columns x,y, got {len(cells)}")
            try:
                x, y = float(cells[0]), float(cells[1])
            except ValueError:
                if lineno == 1 and not rows:
                    continue  # header
                raise DataError(f"{p}:{lineno}: not a number in {row!r}") from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise DataError(f"{p}:{lineno}: non-finite value in {row!r}")
            rows.append((x, y))
    if len(rows) < 2:
        raise DataError(f"{p}: needs at least 2 points, found {len(rows)}")
    return torch.tensor(rows, dtype=torch.float32)


def kde_1d(samples: torch.Tensor, xs: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Gaussian kernel density estimate of 1-D samples (n,) or (n, 1) at the points xs (m,)."""
    x = samples.detach().double().reshape(-1)
    x = x[torch.isfinite(x)]
    if not len(x):
        return torch.zeros(len(xs), dtype=torch.float64)
    u = (xs.double()[:, None] - x[None, :]) / bandwidth
    return torch.exp(-0.5 * u * u).sum(1) / (len(x) * bandwidth * math.sqrt(2 * math.pi))


def load_toy(name: str, path: str | None = None) -> ToyData:
    return TOY_SETS.get(name)(path)
