"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", StyleGAN2-ADA).

D sees every image, real and fake, through the same random, differentiable transforms, each applied
to a sample with probability p; G's gradient flows back through them. As long as p < ~0.8 the
transforms do not "leak" (G is not taught to produce them), and D cannot memorise a small data set.
p is steered by an overfitting heuristic: r_t = E[sign(D(real))] (the share of reals D calls real,
as a sign, over the last `ada_interval` steps) is pushed towards `ada_target` (0.6): when r_t is
above it, D is too sure of the reals and p grows; below, p shrinks, by (images seen) /
(ada_kimg * 1000) per adjustment, so p can move from 0 to 1 over ada_kimg thousand images.

Pipeline letters (`train.ada_pipeline`), in this order:
  b  blit: x-flip, 90-degree rotations (0/180 only for non-square images), integer translation of up
     to 1/8 of the side (reflect padding)
  g  geometric: isotropic scale (lognormal, std 0.2 in log2), rotation U(-pi, pi), anisotropic scale
     (std 0.2 in log2), fractional translation (std 1/8 of the side); one bilinear `grid_sample`
     with reflection padding (no anti-aliasing filter, unlike the paper: plain PyTorch ops only)
  c  colour: brightness (+N(0, 0.2)), contrast (x 2^N(0, 0.5)), luma flip, hue rotation
     U(-pi, pi) about the grey axis, saturation (x 2^N(0, 1)); one 4x4 colour matrix per sample.
     Grey images take the matrix through the grey axis (luma flip negates, hue and saturation
     leave them as they are), as the paper's code does.

Every random number comes from the caller's generator (the trainer's "augment" role), drawn on its
device; p and the r_t accumulator are plain numbers the checkpoint keeps (`state_tensors`), so a
resumed run continues exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .device import draw_normal, draw_uniform
from .errors import ConfigError

PIPELINE_LETTERS = "bgc"
XINT_MAX = 0.125  # integer translation: at most this share of the side
SCALE_STD = 0.2  # log2 std of the isotropic scale
ANISO_STD = 0.2  # log2 std of the anisotropic scale
XFRAC_STD = 0.125  # fractional translation: std as a share of the side
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # log2 std
SATURATION_STD = 1.0  # log2 std


def check_pipeline(pipeline: str) -> str:
    """The pipeline's letters, checked: a non-empty subset of 'bgc', each at most once."""
    bad = [ch for ch in pipeline if ch not in PIPELINE_LETTERS]
    if not pipeline or bad or len(set(pipeline)) != len(pipeline):
        raise ConfigError(f"config key 'train.ada_pipeline' must be letters of {PIPELINE_LETTERS!r} "
                          f"(b blit, g geometric, c colour), each once, got {pipeline!r}")
    return pipeline


# --- the transforms, as pure functions of their parameters (testable against references) ----------


def xflip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where `flip` (bool, (n,)) is set."""
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def rot90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate sample i by k[i] * 90 degrees counter-clockwise (torch.rot90's sense); odd k needs a
    square image."""
    out = x
    for turns in (1, 2, 3) if x.shape[2] == x.shape[3] else (2,):
        pick = (k == turns).view(-1, 1, 1, 1)
        out = torch.where(pick, torch.rot90(x, turns, dims=(2, 3)), out)
    return out


def int_translate(x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """Move sample i's content by (tx[i], ty[i]) whole pixels (right, down); what comes in is the
    image reflected at its border (F.pad's 'reflect'). |t| must be less than the side."""
    n, c, h, w = x.shape
    pad_y = int(ty.abs().max()) if n else 0
    pad_x = int(tx.abs().max()) if n else 0
    if pad_x == 0 and pad_y == 0:
        return x
    padded = F.pad(x, [pad_x, pad_x, pad_y, pad_y], mode="reflect")
    rows = torch.arange(h, device=x.device).view(1, h, 1) + pad_y - ty.view(-1, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + pad_x - tx.view(-1, 1, 1)
    idx = (rows * (w + 2 * pad_x) + cols).flatten(1).unsqueeze(1).expand(-1, c, -1)
    return padded.flatten(2).gather(2, idx).view(n, c, h, w)


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling of each sample: output pixel at q (in pixel units about the centre)
    reads the input at theta[i] @ (q, 1); outside the image, the image mirrored at its edges."""
    n, _, h, w = x.shape
    # pixel units -> grid_sample's [-1, 1] units (align_corners=False): N^-1 theta N, N = diag(w/2, h/2)
    half = torch.tensor([w / 2, h / 2], device=x.device, dtype=theta.dtype)
    t = theta.clone()
    t[:, :, :2] = theta[:, :, :2] * half.view(1, 1, 2) / half.view(1, 2, 1)
    t[:, :, 2] = theta[:, :, 2] / half.view(1, 2)
    grid = F.affine_grid(t, [n, x.shape[1], h, w], align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def apply_colour(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Apply per-sample 4x4 homogeneous colour matrices m (n, 4, 4) to RGB images; any other
    channel count is treated channel by channel as grey (r = g = b), the output being the mean of
    the matrix's three rows, as StyleGAN2-ADA does for grey images."""
    n, c, h, w = x.shape
    if c == 3:
        flat = x.reshape(n, 3, h * w)
        out = m[:, :3, :3] @ flat + m[:, :3, 3:]
        return out.reshape(n, 3, h, w)
    gain = m[:, :3, :3].sum(2).mean(1).view(n, 1, 1, 1)
    bias = m[:, :3, 3].mean(1).view(n, 1, 1, 1)
    return x * gain + bias


def _eye(n: int, size: int, device: torch.device) -> torch.Tensor:
    return torch.eye(size, device=device).expand(n, size, size).clone()


def brightness_matrix(b: torch.Tensor) -> torch.Tensor:
    """Add b[i] to every colour channel."""
    m = _eye(len(b), 4, b.device)
    m[:, :3, 3] = b.view(-1, 1)
    return m


def scale_matrix(s: torch.Tensor) -> torch.Tensor:
    """Multiply every colour channel by s[i] (contrast about 0, the middle of [-1, 1])."""
    m = _eye(len(s), 4, s.device)
    m[:, :3, :3] = m[:, :3, :3] * s.view(-1, 1, 1)
    return m


_LUMA = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3)  # the grey axis (ADA's luma axis)


def _luma(device: torch.device) -> torch.Tensor:
    return _LUMA.to(device)


def lumaflip_matrix(flip: torch.Tensor) -> torch.Tensor:
    """Mirror colours through the plane orthogonal to the grey axis where flip[i] is 1 (I - 2vv^T)."""
    v = _luma(flip.device)
    m = _eye(len(flip), 4, flip.device)
    m[:, :3, :3] = m[:, :3, :3] - 2 * torch.outer(v, v) * flip.view(-1, 1, 1)
    return m


def hue_matrix(theta: torch.Tensor) -> torch.Tensor:
    """Rotate colours by theta[i] about the grey axis (Rodrigues' formula)."""
    v = _luma(theta.device)
    k = torch.tensor([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]], device=theta.device)
    cos, sin = theta.cos().view(-1, 1, 1), theta.sin().view(-1, 1, 1)
    eye3 = torch.eye(3, device=theta.device)
    m = _eye(len(theta), 4, theta.device)
    m[:, :3, :3] = cos * eye3 + sin * k + (1 - cos) * torch.outer(v, v)
    return m


def saturation_matrix(s: torch.Tensor) -> torch.Tensor:
    """Scale each colour's distance from grey by s[i]: vv^T + (I - vv^T) s."""
    v = _luma(s.device)
    vv = torch.outer(v, v)
    m = _eye(len(s), 4, s.device)
    m[:, :3, :3] = vv + (torch.eye(3, device=s.device) - vv) * s.view(-1, 1, 1)
    return m


def geometric_matrix(scale: torch.Tensor, angle: torch.Tensor, aniso: torch.Tensor,
                     tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """(n, 2, 3) maps from output pixels to input pixels: translate(t) . rotate(angle) .
    scale(scale * aniso, scale / aniso). The distributions drawn are symmetric, so whether this is
    the forward or the inverse map does not change what D sees."""
    cos, sin = angle.cos(), angle.sin()
    sx, sy = scale * aniso, scale / aniso
    row0 = torch.stack([cos * sx, -sin * sy, tx], 1)
    row1 = torch.stack([sin * sx, cos * sy, ty], 1)
    return torch.stack([row0, row1], 1)


# --- the pipeline ---------------------------------------------------------------------------------


class AdaptiveAugment:
    """ADA's augmentation (`__call__(x, gen)`, as DiffAugment's functions) and the controller of its
    probability p (`observe` D's real scores, `end_step` adjusts every `interval` steps)."""

    def __init__(self, pipeline: str = "bgc", target: float = 0.6, interval: int = 4,
                 kimg: float = 100.0, p: float = 0.0) -> None:
        self.pipeline = check_pipeline(pipeline)
        self.target, self.interval, self.kimg = target, interval, kimg
        self.p = float(p)
        self.sum = 0.0  # sum of sign(D(real) - decision line) over the interval
        self.count = 0  # D scores summed
        self.images = 0  # real images D saw in the interval (this process's)
        self.steps = 0  # steps since the last adjustment
        self.rt = math.nan  # r_t of the last finished interval

    @classmethod
    def from_config(cls, train: Any) -> AdaptiveAugment:
        """From `cfg.train` (ada_pipeline, ada_target, ada_interval, ada_kimg)."""
        return cls(train.ada_pipeline, train.ada_target, train.ada_interval, train.ada_kimg)

    def configure(self, train: Any) -> None:
        """Adopt new settings (resume with --set, the lab) and keep p and the accumulator."""
        self.pipeline = check_pipeline(train.ada_pipeline)
        self.target, self.interval, self.kimg = train.ada_target, train.ada_interval, train.ada_kimg

    # --- augmentation ---------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """x (n, c, h, w) with each transform of the pipeline applied to each sample with
        probability p; p = 0 returns x itself (no draws are made)."""
        if self.p <= 0:
            return x
        dtype = x.dtype
        x = x.float()
        for letter in self.pipeline:
            x = {"b": self._blit, "g": self._geometric, "c": self._colour}[letter](x, gen)
        return x.to(dtype)

    def _on(self, u: torch.Tensor) -> torch.Tensor:
        return u < self.p

    def _blit(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        u = draw_uniform((n, 7), gen, x.device)
        flip = self._on(u[:, 0]) & (u[:, 1] < 0.5)
        x = xflip(x, flip)
        turns = 4 if h == w else 2  # a non-square image turns by 0 or 180 degrees only
        k = torch.floor(u[:, 3] * turns).clamp(max=turns - 1).long() * (4 // turns)
        x = rot90(x, torch.where(self._on(u[:, 2]), k, torch.zeros_like(k)))
        on = self._on(u[:, 4])
        tx = torch.where(on, torch.round((u[:, 5] * 2 - 1) * XINT_MAX * w), 0).long()
        ty = torch.where(on, torch.round((u[:, 6] * 2 - 1) * XINT_MAX * h), 0).long()
        return int_translate(x, tx, ty)

    def _geometric(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        u = draw_uniform((n, 5), gen, x.device)
        z = draw_normal((n, 4), gen, x.device)
        one, zero = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
        on_scale, on_rot, on_aniso, frac = (self._on(u[:, i]) for i in (0, 1, 3, 4))
        scale = torch.where(on_scale, torch.exp2(z[:, 0] * SCALE_STD), one)
        angle = torch.where(on_rot, (u[:, 2] * 2 - 1) * math.pi, zero)
        aniso = torch.where(on_aniso, torch.exp2(z[:, 1] * ANISO_STD), one)
        tx = torch.where(frac, z[:, 2] * XFRAC_STD * w, zero)
        ty = torch.where(frac, z[:, 3] * XFRAC_STD * h, zero)
        any_on = on_scale | on_rot | on_aniso | frac
        theta = geometric_matrix(scale, angle, aniso, tx, ty)
        return torch.where(any_on.view(-1, 1, 1, 1), warp(x, theta), x)

    def _colour(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        u = draw_uniform((n, 7), gen, x.device)
        z = draw_normal((n, 3), gen, x.device)
        one, zero = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
        m = brightness_matrix(torch.where(self._on(u[:, 0]), z[:, 0] * BRIGHTNESS_STD, zero))
        m = scale_matrix(torch.where(self._on(u[:, 1]), torch.exp2(z[:, 1] * CONTRAST_STD), one)) @ m
        m = lumaflip_matrix((self._on(u[:, 2]) & (u[:, 3] < 0.5)).float()) @ m
        m = hue_matrix(torch.where(self._on(u[:, 4]), (u[:, 5] * 2 - 1) * math.pi, zero)) @ m
        m = saturation_matrix(torch.where(self._on(u[:, 6]), torch.exp2(z[:, 2] * SATURATION_STD), one)) @ m
        return apply_colour(x, m)

    # --- the controller -------------------------------------------------------------------------
    def observe(self, real_prob: torch.Tensor, images: int) -> None:
        """D's P(real) for a step's real batch (0.5 on the decision line: sign(D(real)) for logit
        losses) and how many real images it held."""
        with torch.no_grad():
            self.sum += float(torch.sign(real_prob.detach().float() - 0.5).sum())
        self.count += real_prob.numel()
        self.images += int(images)

    def end_step(self, world: Any = None) -> dict[str, float]:
        """Count a step; every `interval` steps r_t = sum / count (over every process) and
        p += sign(r_t - target) * images / (kimg * 1000), clamped to [0, 1]. Returns ada_p, ada_rt."""
        self.steps += 1
        if self.steps >= self.interval:
            acc = {"sum": self.sum, "count": float(self.count), "images": float(self.images)}
            size = 1 if world is None else world.size
            if world is not None:
                acc = world.mean(acc)  # means over ranks: the ratio is the job's, images x size
            if acc["count"] > 0:
                self.rt = acc["sum"] / acc["count"]
                step = math.copysign(1.0, self.rt - self.target) if self.rt != self.target else 0.0
                self.p = min(max(self.p + step * acc["images"] * size / (self.kimg * 1000), 0.0), 1.0)
            self.sum, self.count, self.images, self.steps = 0.0, 0, 0, 0
        return {"ada_p": self.p, "ada_rt": self.rt}

    # --- checkpoint -----------------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """p, the r_t accumulator and the step counter, as CPU tensors (checkpoint keys ada.*)."""
        f64, i64 = torch.float64, torch.int64
        return {"p": torch.tensor(self.p, dtype=f64), "sum": torch.tensor(self.sum, dtype=f64),
                "count": torch.tensor(self.count, dtype=i64), "images": torch.tensor(self.images, dtype=i64),
                "steps": torch.tensor(self.steps, dtype=i64), "rt": torch.tensor(self.rt, dtype=f64)}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Put back what `state_tensors` gave; keys missing (a checkpoint of a run without ADA)
        keep their start values."""
        for key, cast in (("p", float), ("sum", float), ("count", int), ("images", int),
                          ("steps", int), ("rt", float)):
            if key in tensors:
                setattr(self, key, cast(tensors[key].item()))
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"ada.p must be in [0, 1], got {self.p}")
