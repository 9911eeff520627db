"""Projection (GAN inversion) for style-based models: the w (or w+) whose image is closest to a given one.

`ganforge project RUN IMAGE -o OUT` and `ganforge.load(RUN).project(image)`. The recipe follows the
projector of StyleGAN2 (Karras et al. 2020, sec. 5), with ganforge's pieces:
- start from G's mean w (`w_avg`), optimise one w shared by every layer, or one per layer (w+, more
  freedom: closer reconstructions that may leave G's usual range);
- loss = perceptual distance + pixel MSE. The perceptual part compares features of the data set's own
  ganforge feature network (metrics/features.py: lenet-mnist, lenet-fashion; the extractor eval
  uses), as a squared distance relative to the target's feature norm. Data without such a network
  get the pixel loss alone, and the result says so (`note`);
- G's noise inputs are fixed (noise="const", as in sampling), so there are no noise maps to optimise
  or regularise: the image is a function of w alone and can be re-made from the saved latent;
- Adam; the learning rate ramps up over the first 5 % of the steps and down (cosine) over the last
  25 %; Gaussian noise added to w, from w's own spread in G and fading to zero by 75 % of the
  steps, helps it out of the first basin it lands in. Every draw comes from one seeded generator.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .errors import DataError, GanforgeError

if TYPE_CHECKING:
    from .generation import LoadedGenerator

MAX_STEPS = 10_000
MAX_FRAMES = 60  # frames kept for the progress GIF
MAX_PIXELS = 64 << 20  # an image file's pixels, checked from its header before decoding
W_SAMPLES = 1000  # ws drawn to measure w's spread (for the noise added to w)
LR_RAMP_UP, LR_RAMP_DOWN, NOISE_RAMP, NOISE_START = 0.05, 0.25, 0.75, 0.05

FeatureFn = Callable[[torch.Tensor], torch.Tensor]  # images (n, C, H, W) in [-1, 1] -> (n, d), differentiable


@dataclass
class Projection:
    """What `project` found: `w` (1, w_dim), or (num_ws, w_dim) with wplus; `image` its reconstruction
    and `target` (C, H, W) in [-1, 1] on the CPU; `losses` per step; `frames` the reconstruction during
    optimisation (for the GIF); `features` the perceptual network used ("" = pixel loss only) and a
    `note` when it fell back."""

    w: torch.Tensor
    image: torch.Tensor
    target: torch.Tensor
    losses: list[float]
    frames: list[torch.Tensor] = field(default_factory=list)
    features: str = ""
    note: str = ""
    wplus: bool = False
    pixel_mse: float = 0.0

    def ws(self, num_ws: int) -> torch.Tensor:
        """(num_ws, w_dim): the per-layer styles `synthesize` takes."""
        return self.w if self.wplus else self.w.expand(num_ws, -1)


def read_target(image: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """An image file (path) or PIL image -> (C, H, W) float in [-1, 1] at the model's size: grey or RGB
    converted to the model's channels (RGB -> grey by luminance; alpha dropped), resized (Lanczos) to
    its side when the sizes differ. One-line DataErrors for what cannot be read."""
    from PIL import Image, UnidentifiedImageError

    c, h, w = shape
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise DataError(f"image not found: {path}")
        try:
            im = Image.open(path)
            if im.width * im.height > MAX_PIXELS:
                raise DataError(f"{path.name} is {im.width}x{im.height}: more than {MAX_PIXELS:,} pixels")
            im.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise DataError(f"cannot read {path.name} as an image: {first}") from None
    elif isinstance(image, Image.Image):
        im = image
    else:
        raise DataError(f"project takes an image file, a PIL image or a (C, H, W) tensor, "
                        f"got {type(image).__name__}")
    im = im.convert("L" if c == 1 else "RGB")
    if im.size != (w, h):
        im = im.resize((w, h), Image.LANCZOS)
    x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).reshape(h, w, -1).permute(2, 0, 1)
    return x.float() / 127.5 - 1


def check_target(target: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor target: (C, H, W) (or (1, C, H, W)) of the model's shape, finite."""
    t = target.detach().float().cpu()
    if t.dim() == 4 and len(t) == 1:
        t = t[0]
    if tuple(t.shape) != tuple(shape):
        raise DataError(f"the target must have the model's shape {tuple(shape)}, got {tuple(target.shape)}")
    if not torch.isfinite(t).all():
        raise DataError("the target image has NaN or infinite values")
    return t.clamp(-1, 1)


def feature_net(g: LoadedGenerator, features: str | FeatureFn | None = "auto"
                ) -> tuple[FeatureFn | None, str, str]:
    """(features function or None, its name, a note): "auto" = the run's data set's own feature
    network (the one `ganforge eval` uses) when it is a ganforge classifier, else pixel loss only
    (with a note); a registered extractor name; None / "none" for pixels only; or a callable."""
    if callable(features):
        return features, getattr(features, "__name__", "custom"), ""
    if features is None or features == "none":
        return None, "", "pixel loss only (asked for)"
    from .metrics.features import default_extractor

    data = g.config.data.name if g.config is not None else ""
    name = default_extractor(data, g.data_shape) if features == "auto" else features
    if not name.startswith("lenet"):
        if features != "auto":
            raise DataError(f"projection's perceptual loss takes a ganforge classifier's features "
                            f"(lenet-mnist, lenet-fashion), got {name!r}")
        return None, "", f"no ganforge feature network for data {data!r}: pixel loss only"
    from .metrics.classifier import to_classifier_input
    from .metrics.features import build_extractor

    try:
        ext: Any = build_extractor(name, g.data_shape, device=g.device,
                                   data_path=g.config.data.path if g.config is not None else None)
    except GanforgeError as e:
        return None, "", f"{name} is not available ({e}): pixel loss only"
    net = ext.clf.net.eval()
    net.requires_grad_(False)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return net(to_classifier_input(x))[0].reshape(len(x), -1)

    return fn, name, ""


def lr_at(t: float, lr: float) -> float:
    """The learning rate at progress t in [0, 1): linear ramp up, cosine ramp down."""
    down = min(1.0, (1.0 - t) / LR_RAMP_DOWN)
    return lr * (0.5 - 0.5 * math.cos(math.pi * down)) * min(1.0, t / LR_RAMP_UP)


def project(g: LoadedGenerator, target: torch.Tensor, steps: int = 300, wplus: bool = False,
            seed: int = 0, progress: bool = False, lr: float = 0.1,
            features: str | FeatureFn | None = "auto", pixel_weight: float = 1.0,
            feature_weight: float = 1.0, frames: int = MAX_FRAMES) -> Projection:
    """Optimise w (or w+) from `w_avg` so that G's image matches `target` (C, H, W) in [-1, 1]:
    see the module docstring. Deterministic for a seed on one device."""
    s = g.style
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise DataError(f"--steps must be an integer in 1..{MAX_STEPS:,}, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise DataError(f"lr must be a positive number, got {lr!r}")
    if g.num_classes:
        raise DataError("projection of class-conditional style models is not supported "
                        "(w depends on the class)")
    t_cpu = check_target(target, g.data_shape)
    t = t_cpu[None].to(g.device)
    feat, feat_name, note = feature_net(g, features)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = g.noise(W_SAMPLES, seed)
        w_samples = s.mapping(z)[:, 0].float()
        w_avg = s.w_avg.float().clone()
        w_std = float(((w_samples - w_avg) ** 2).sum(1).mean().sqrt())
        t_feat = feat(t).detach() if feat is not None else None
    init = w_avg[None, None].repeat(1, s.num_ws if wplus else 1, 1)
    w = torch.nn.Parameter(init)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    losses: list[float] = []
    kept: list[torch.Tensor] = []
    every = max(1, steps // max(1, frames))
    bar: Any = range(steps)
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(bar, desc="project", unit="step", file=sys.stderr, leave=False)

    def loss_of(x: torch.Tensor) -> torch.Tensor:
        loss = pixel_weight * F.mse_loss(x, t)
        if feat is not None and t_feat is not None:
            d = (feat(x) - t_feat).square().sum(1) / t_feat.square().sum(1).clamp_min(1e-8)
            loss = loss + feature_weight * d.mean()
        return loss

    with torch.enable_grad():
        for i in bar:
            frac = i / steps
            for group in opt.param_groups:
                group["lr"] = lr_at(frac, lr)
            noise_scale = w_std * NOISE_START * max(0.0, 1.0 - frac / NOISE_RAMP) ** 2
            w_noise = torch.randn(w.shape, generator=gen).to(g.device) * noise_scale
            ws = (w + w_noise).expand(1, s.num_ws, -1)
            x = s.synthesis(ws, noise="const")
            loss = loss_of(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if progress:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if i % every == 0:
                kept.append(x.detach()[0].clamp(-1, 1).cpu())
    with torch.no_grad():
        best = w.detach()[0]
        image = s.synthesis(best[None].expand(1, s.num_ws, -1), noise="const").clamp(-1, 1)[0].float().cpu()
        losses.append(float(loss_of(image[None].to(g.device))))  # the result itself, without w noise
    kept.append(image)
    return Projection(best.cpu(), image, t_cpu, losses, kept, feat_name, note, wplus,
                      float(F.mse_loss(image, t_cpu)))


def output_stem(out: str | Path) -> Path:
    """-o OUT or OUT.png -> OUT (the three files are OUT.png, OUT.latent.safetensors, OUT.progress.gif)."""
    out = Path(out)
    return out.with_suffix("") if out.suffix.lower() == ".png" else out


def write_projection(g: LoadedGenerator, proj: Projection, out: str | Path, source: str = "") -> list[Path]:
    """OUT.png (target | reconstruction), OUT.latent.safetensors (w or w+, with the facts as metadata)
    and OUT.progress.gif (target | reconstruction during optimisation), each with its provenance."""
    from PIL import Image
    from safetensors.torch import save_file

    from .media import WALK_SIDE, save_gif, save_png
    from .viz import image_grid

    stem = output_stem(out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    kind = "w+" if proj.wplus else "w"
    how = proj.features + " features + pixels" if proj.features else "pixels only"
    what = (f"projection{' of ' + source if source else ''}: target | reconstruction, {kind}, "
            f"{len(proj.losses) - 1} steps, loss {how}")
    prov = g.provenance(what=what)
    png = save_png(stem.with_name(stem.name + ".png"),
                   image_grid(torch.stack([proj.target, proj.image]), 2), prov)
    latent = stem.with_name(stem.name + ".latent.safetensors")
    tmp = latent.with_name(f".{latent.name}.tmp")
    meta = {k: str(v) for k, v in prov.fields().items()}
    meta |= {"latent": kind, "num_ws": str(g.num_ws), "w_dim": str(g.style.w_dim),
             "final_loss": f"{proj.losses[-1]:.6g}", "pixel_mse": f"{proj.pixel_mse:.6g}",
             "features": proj.features or "none", "note": proj.note}
    try:
        save_file({"w": proj.w.contiguous().float()}, str(tmp), metadata=meta)
        os.replace(tmp, latent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    side = max(g.data_shape[1:])
    scale = max(1, WALK_SIDE // side)
    pictures = []
    for f in proj.frames:
        im = Image.fromarray(image_grid(torch.stack([proj.target, f]), 2))
        pictures.append(im.resize((im.width * scale, im.height * scale), Image.NEAREST) if scale > 1 else im)
    gif = save_gif(stem.with_name(stem.name + ".progress.gif"), pictures,
                   g.provenance(what=what + f", {len(pictures)} frames during optimisation"), fps=10)
    return [png, latent, gif]


def load_latent(path: str | Path) -> tuple[torch.Tensor, dict[str, str]]:
    """A written latent and its metadata (w: (1, w_dim) or w+: (num_ws, w_dim))."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.get_tensor("w"), dict(f.metadata() or {})
