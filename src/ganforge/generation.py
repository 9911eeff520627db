"""The one home of sampling: noise, labels, truncation hook, batching, EMA choice, devices.

`ganforge eval`, `ganforge sample`, the report, the lab, the training callbacks and (later) the
server all draw samples here, so "n samples of this generator with this seed" means the same thing
everywhere. Nothing here imports the trainer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .device import draw_int, draw_normal, draw_uniform, resolve_device
from .errors import ConfigError, DataError
from .nets.contract import Generator, NetSpec

if TYPE_CHECKING:
    from .provenance import Provenance

NOISES = ("normal", "uniform")
CHUNK = 8192  # at most this many samples per forward pass...
CHUNK_VALUES = 1 << 24  # ...and at most this many output values (64 MB of fp32): bounded memory
MAX_SAMPLES = 10_000_000  # the most samples one request may ask for
MAX_SEEDS = 50_000  # per-seed files in one request (the FID protocol's 50k)
MAX_FRAMES = 1000  # frames of one latent walk
MAX_KEYS = 64  # latents one walk passes through
MAX_MIX = 32  # row (or column) seeds of one style-mixing grid
SPACES = ("z", "w")  # where a walk runs: the noise, or a style-based model's w


@dataclass(frozen=True)
class Truncation:
    """The truncation trick: z' = center + psi (z - center), psi in (0, 1] (1 = off).

    Pulls samples toward the typical one, trading variety for fidelity (Brock et al. 2019,
    BigGAN; Karras et al. 2019, StyleGAN). `center` is the mean latent: None means 0, the mean of
    both of ganforge's noises (N(0, I) and U(-1, 1)). Style-based nets (g.arch=style) are truncated
    in w instead, toward their own `w_avg` (see `forward`): there psi may be 0 (every seed gives the
    mean w's image) and `cutoff` truncates only the first `cutoff` layers' w (the coarse styles)."""

    psi: float
    center: torch.Tensor | None = None
    cutoff: int | None = None

    def __post_init__(self) -> None:
        check_psi(self.psi, allow_zero=True)
        if self.cutoff is not None and (isinstance(self.cutoff, bool) or not isinstance(self.cutoff, int)
                                        or self.cutoff < 1):
            raise DataError(f"truncation cutoff must be a layer count >= 1, got {self.cutoff!r}")

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """Truncate z (nets without a mapping network)."""
        if self.cutoff is not None:
            raise DataError("--truncation-cutoff is for style-based models (g.arch=style), which truncate w "
                            "per layer; this model truncates z as a whole")
        if self.psi == 0:
            raise DataError("truncation psi must be in (0, 1] for this model (psi 0, the mean w's image, "
                            "is for style-based models)")
        if self.psi == 1:
            return z
        if self.center is None:
            return z * self.psi
        c = self.center.to(z.device, z.dtype)
        return c + self.psi * (z - c)


def check_psi(psi: float, allow_zero: bool = False) -> float:
    """psi must be a number in (0, 1] ([0, 1] for style-based models): one line otherwise."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi):
        raise DataError(f"truncation psi must be a number in (0, 1], got {psi!r}")
    if not (0 <= psi <= 1 if allow_zero else 0 < psi <= 1):
        raise DataError(f"truncation psi must be in (0, 1] (1 = off; 0 only for style-based models), "
                        f"got {psi}")
    return float(psi)


def style_of(net: Generator) -> Any:
    """The net as a StyleGenerator (mapping + synthesis, w_avg), or None for other nets."""
    from .nets.style import StyleGenerator

    return net if isinstance(net, StyleGenerator) else None


def check_cutoff(net: Any, cutoff: int | None) -> None:
    """A cutoff counts a style net's layers: 1..num_ws."""
    if cutoff is not None and not 1 <= cutoff <= net.num_ws:
        raise DataError(f"truncation cutoff must be in 1..{net.num_ws} (this model's style layers), "
                        f"got {cutoff}")


def forward(g: Generator, z: torch.Tensor, c: torch.Tensor | None,
            truncation: Truncation | None = None) -> torch.Tensor:
    """G(z, c) truncated where the net truncates: in w toward `w_avg` for style-based nets (the first
    `cutoff` layers, noise inputs fixed as in eval mode), in z for the others. The one place that
    chooses, so grids, walks, metrics and the API agree."""
    s = style_of(g)
    if s is not None and truncation is not None:
        check_cutoff(s, truncation.cutoff)
        ws = s.mapping(z, c, psi=truncation.psi, cutoff=truncation.cutoff)
        return s.synthesis(ws, noise="const").clamp(-1, 1)
    if truncation is not None:
        z = truncation(z)
    return g(z, c)


def as_truncation(t: float | Truncation | None) -> Truncation | None:
    """A psi (float), a Truncation or None (off) -> a Truncation or None."""
    if t is None or isinstance(t, Truncation):
        return t
    return Truncation(t)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight lines a -> b (t of shape (m, 1)): uniform noise stays in its box [-1, 1]^d."""
    return a + t * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation for Gaussian noise (White 2016): the direction moves along the great
    circle from a's to b's and the length goes linearly from |a| to |b|. A straight line would cut
    through the low-norm middle that N(0, I) in many dimensions almost never draws."""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    theta = torch.arccos((ua * ub).sum().clamp(-1, 1))
    if float(torch.sin(theta)) < 1e-6:  # (anti)parallel: any path is as good; take the line
        u = lerp(ua, ub, t)
        u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    else:
        u = (torch.sin((1 - t) * theta) * ua + torch.sin(t * theta) * ub) / torch.sin(theta)
    return u * lerp(na, nb, t)


def latent_path(noise: str, keys: torch.Tensor, frames: int, loop: bool = True) -> torch.Tensor:
    """`frames` latents through the rows of `keys` (k, d), evenly spaced per segment: slerp for
    normal noise, straight lines for uniform. loop=True returns to the first key (an endless
    walk, the first frame not repeated); loop=False ends on the last key."""
    check_noise(noise)
    check_count(frames, "frames", MAX_FRAMES)
    if keys.dim() != 2 or not 2 <= len(keys) <= MAX_KEYS:
        raise DataError(f"a walk needs 2 to {MAX_KEYS} latents as a (k, z_dim) tensor, "
                        f"got shape {tuple(keys.shape)}")
    k = len(keys)
    segments = k if loop else k - 1
    if loop:
        pos = torch.arange(frames, dtype=torch.float64) * segments / frames
    else:
        pos = torch.linspace(0, segments, frames, dtype=torch.float64) if frames > 1 else torch.zeros(1)
    seg = pos.floor().long().clamp(max=segments - 1)
    frac = (pos - seg).to(keys.dtype)
    path = lerp if noise == "uniform" else slerp
    out = torch.empty(frames, keys.shape[1], dtype=keys.dtype, device=keys.device)
    for s in range(segments):
        rows = (seg == s).nonzero().reshape(-1)
        if len(rows):
            out[rows] = path(keys[s], keys[(s + 1) % k], frac[rows, None].to(keys.device))
    return out


_SEEDS = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def parse_seeds(text: str, limit: int = MAX_SEEDS) -> list[int]:
    """'0-63', '5' or '0-9,20,30-31' -> the seeds, in order; at most `limit` of them."""
    spec = text.replace(" ", "")
    if not _SEEDS.fullmatch(spec):
        raise DataError(f"seeds must look like 0-63 or 1,5,9 or 0-9,20-29, got {text!r}")
    seeds: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if b < a:
            raise DataError(f"seed range {part} runs backwards (write {b}-{a})")
        if len(seeds) + b - a + 1 > limit:
            raise DataError(f"at most {limit:,} seeds at once, got more in {text!r}")
        seeds.extend(range(a, b + 1))
    if max(seeds) >= 2**63:
        raise DataError(f"seeds must be below 2**63, got {max(seeds)}")
    return seeds


def check_space(space: str) -> None:
    if space not in SPACES:
        raise DataError(f"unknown walk space {space!r} (known: {', '.join(SPACES)})")


def check_noise(kind: str) -> None:
    if kind not in NOISES:
        raise ConfigError(f"unknown noise distribution {kind!r} (known: {', '.join(NOISES)})")


def make_noise(kind: str, n: int, dim: int, gen: torch.Generator,
               device: torch.device | None = None) -> torch.Tensor:
    """n noise vectors: `normal` N(0, I) or `uniform` U(-1, 1)^dim, drawn from `gen`."""
    check_noise(kind)
    where = device if device is not None else gen.device
    if kind == "normal":
        return draw_normal((n, dim), gen, where)
    return draw_uniform((n, dim), gen, where) * 2 - 1


def check_count(n: int, what: str = "-n", limit: int = MAX_SAMPLES) -> int:
    """Every sample count a user can type is bounded: a one-line error instead of hours and GBs."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise DataError(f"{what} must be an integer, got {n!r}")
    if n < 1:
        raise DataError(f"{what} must be >= 1, got {n}")
    if n > limit:
        raise DataError(f"{what} must be at most {limit:,}, got {n:,}")
    return n


def as_labels(labels: int | list[int] | torch.Tensor | None, n: int, num_classes: int,
              device: torch.device) -> torch.Tensor | None:
    """One class for all (int), one per sample (list / tensor), or None; checked against the model."""
    if labels is None:
        return None
    if not num_classes:
        raise DataError("labels need a class-conditional model (train.conditional=true)")
    if isinstance(labels, int) and not isinstance(labels, bool):
        t = torch.full((n,), labels, dtype=torch.int64)
    else:
        t = torch.as_tensor(labels).to(torch.int64).reshape(-1).cpu()
        if len(t) != n:
            raise DataError(f"{len(t)} labels for {n} samples")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise DataError(f"labels must be in 0..{num_classes - 1}")
    return t.to(device)


def chunk_size(data_shape: tuple[int, ...]) -> int:
    """Samples per forward pass: at most CHUNK, and at most CHUNK_VALUES output values."""
    return max(1, min(CHUNK, CHUNK_VALUES // max(1, math.prod(data_shape))))


def iter_inputs(spec: NetSpec, noise: str, n: int, gen: torch.Generator, device: torch.device,
                labels: torch.Tensor | None = None, chunk: int | None = None,
                truncation: Truncation | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """G's inputs (z, classes or None), `chunk` at a time: classes (when G takes them and none are
    given) drawn uniformly from `gen` first, then the noise. Any backend fed these (PyTorch,
    onnxruntime) gives the same samples for the same seed."""
    if spec.cond == "image":
        raise DataError("this generator translates images: give it input images, not a count")
    chunk = chunk or chunk_size(spec.data_shape)
    if spec.cond == "class" and labels is None:
        labels = draw_int(spec.num_classes, (n,), gen, device)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = make_noise(noise, m, spec.z_dim, gen, device)
        if truncation is not None:
            z = truncation(z)
        yield z, (labels[start:start + m] if labels is not None else None)


@torch.no_grad()
def iter_generate(g: Generator, noise: str, n: int, gen: torch.Generator,
                  labels: torch.Tensor | None = None, chunk: int | None = None,
                  truncation: Truncation | None = None) -> Iterator[torch.Tensor]:
    """Samples of G in eval mode, `chunk` at a time, on G's device. A class-conditional G gets
    `labels`, else classes drawn uniformly from `gen`; other conditions must be given."""
    device = next(g.parameters()).device
    was_training = g.training
    g.eval()
    try:
        in_w = style_of(g) is not None  # truncated in w by `forward`, not in z
        for z, c in iter_inputs(g.spec, noise, n, gen, device, labels, chunk, None if in_w else truncation):
            yield (forward(g, z, c, truncation) if in_w else g(z, c)).float()
    finally:
        g.train(was_training)


def generate(g: Generator, noise: str, n: int, gen: torch.Generator,
             labels: torch.Tensor | None = None, chunk: int | None = None,
             truncation: Truncation | None = None) -> torch.Tensor:
    """All n samples at once (on G's device): what metrics and plots need."""
    return torch.cat(list(iter_generate(g, noise, n, gen, labels, chunk, truncation)))


@torch.no_grad()
def iter_translate(g: Generator, inputs: torch.Tensor, chunk: int | None = None) -> Iterator[torch.Tensor]:
    """G's outputs for `inputs` (n, C, H, W) in [-1, 1], `chunk` at a time, in eval mode and without
    dropout noise (z=None: one deterministic output per input), each chunk on the inputs' device."""
    spec = g.spec
    if spec.cond != "image":
        raise DataError("this generator makes samples from noise, not from input images; ask for a count")
    if inputs.dim() != 4 or tuple(inputs.shape[1:]) != spec.cond_shape:
        raise DataError(f"inputs must have shape (n, {', '.join(map(str, spec.cond_shape))}), "
                        f"got {tuple(inputs.shape)}")
    device = next(g.parameters()).device
    if chunk is None:
        chunk = max(1, min(CHUNK, CHUNK_VALUES // max(1, math.prod(spec.data_shape))))
    was_training = g.training
    g.eval()
    try:
        for start in range(0, len(inputs), chunk):
            c = inputs[start:start + chunk].to(device, torch.float32)
            yield g(None, c).float().to(inputs.device)
    finally:
        g.train(was_training)


def translate(g: Generator, inputs: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """All outputs at once (on the inputs' device): memory is the inputs' and the outputs', plus one
    chunk's activations on G's device."""
    if not len(inputs):
        raise DataError("no input images to translate")
    return torch.cat(list(iter_translate(g, inputs, chunk)))


MAX_TILE = 1024  # LR pixels per tile side: one tile's activations stay in memory, not the image's


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one side: `tile - overlap` apart, the last one flush with the end."""
    if size <= tile:
        return [0]
    return [*range(0, size - tile, tile - overlap), size - tile]


def _ramp(length: int, first: bool, last: bool, blend: int) -> torch.Tensor:
    """One side's blending weights over a tile's output of `length` pixels: zero on the outer quarter of
    the overlap at an edge shared with another tile (where the zero padding at the tile's edge changes
    G's output), rising linearly to one across the overlap's middle half; a side on the image's border
    keeps weight one. Two neighbours' weights add up to one across their overlap."""
    w = torch.ones(length)
    if blend == 0:
        return w
    d = torch.arange(length, dtype=torch.float32) + 0.5
    ramp = lambda dist: ((dist - blend / 4) / (blend / 2)).clamp(0, 1)  # noqa: E731
    if not first:
        w = torch.minimum(w, ramp(d))
    if not last:
        w = torch.minimum(w, ramp(length - d))
    return w


TileFn = Callable[[torch.Tensor], torch.Tensor]  # a batch of one tile (1, C, h, w) -> G's output for it


def run_tiled(fn: TileFn, image: torch.Tensor, out_channels: int, tile: int = 128, overlap: int = 32,
              scale: int = 1) -> torch.Tensor:
    """The tiling of `translate_tiled` around any forward pass `fn` (a PyTorch G, onnxruntime), so
    every backend blends tiles the same way. Output on the image's device."""
    if not 1 <= tile <= MAX_TILE or not 0 <= overlap < tile or scale < 1:
        raise DataError(f"need 1 <= tile <= {MAX_TILE}, 0 <= overlap < tile and scale >= 1 "
                        f"(got tile {tile}, overlap {overlap}, scale {scale})")
    _, h, w = image.shape
    out = torch.zeros(out_channels, h * scale, w * scale, device=image.device)
    total = torch.zeros(1, h * scale, w * scale, device=image.device)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    for i, y in enumerate(ys):
        wy = _ramp(th * scale, i == 0, i == len(ys) - 1, overlap * scale)
        for j, x in enumerate(xs):
            wx = _ramp(tw * scale, j == 0, j == len(xs) - 1, overlap * scale)
            res = fn(image[:, y:y + th, x:x + tw][None].float())[0].float().to(image.device)
            wt = (wy[:, None] * wx[None, :]).to(image.device)
            sy, sx = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[:, sy, sx] += res * wt
            total[:, sy, sx] += wt
    return out / total


@torch.no_grad()
def translate_tiled(g: Generator, image: torch.Tensor, tile: int = 128, overlap: int = 32,
                    scale: int = 1) -> torch.Tensor:
    """G's output for one image (C, H, W) in [-1, 1] of any size, made `tile` x `tile` input pixels at a
    time (overlapping by at least `overlap`, blended; see _ramp), so memory holds the image, its output
    and one tile's activations, whatever the image's size. `scale`: output side / input side. The
    result equals G on the whole image (up to float rounding) when G's receptive field reaches no
    further than overlap / 4 input pixels; else seams are softened by the blending. Output on the
    image's device, not clamped (to_uint8 clamps)."""
    spec = g.spec
    if spec.cond != "image":
        raise DataError("this generator makes samples from noise, not from input images")
    if image.dim() != 3 or image.shape[0] != spec.cond_shape[0]:
        raise DataError(f"the image must have shape ({spec.cond_shape[0]}, H, W), got {tuple(image.shape)}")
    device = next(g.parameters()).device
    was_training = g.training
    g.eval()
    try:
        return run_tiled(lambda part: g(None, part.to(device)), image, spec.data_shape[0], tile, overlap,
                         scale)
    finally:
        g.train(was_training)


def inpaint(g: Generator, images: torch.Tensor, masks: torch.Tensor,
            chunk: int | None = None) -> torch.Tensor:
    """`images` (n, C, H, W) in [-1, 1] with their holes (`masks` (n, 1, H, W), > 0.5 = hole) filled by
    an inpainting G (its input: the holed image and the mask); valid pixels come back unchanged whatever
    G does with them. Chunked and in eval mode, like `translate`; the result on the images' device."""
    c, h, w = images.shape[1:] if images.dim() == 4 else (0, 0, 0)
    if images.dim() != 4 or tuple(masks.shape) != (len(images), 1, h, w):
        raise DataError(f"inpaint needs images (n, C, H, W) and masks (n, 1, H, W), got "
                        f"{tuple(images.shape)} and {tuple(masks.shape)}")
    if g.spec.cond_shape != (c + 1, h, w):
        raise DataError(f"this generator fills images of shape {g.spec.data_shape} with a mask "
                        f"(input {g.spec.cond_shape}), got images {tuple(images.shape[1:])}")
    if not len(images):
        raise DataError("no images to inpaint")
    chunk = chunk or chunk_size(g.spec.cond_shape)
    out = []
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].float()
        m = (masks[start:start + chunk] > 0.5).float()
        filled = translate(g, torch.cat([x * (1 - m), m], 1), chunk)
        out.append(m * filled + (1 - m) * x)
    return torch.cat(out)


TILED_TASKS = ("superres",)  # fully convolutional models: any input size, run in tiles
MASK_TASKS = ("inpaint",)  # G takes the image and a mask of its holes


def scale_of(spec: NetSpec) -> int:
    """Output side / input side of an image-to-image G (1 but for super-resolution)."""
    return spec.data_shape[1] // spec.cond_shape[1] if spec.cond == "image" else 1


def translate_image(g: Generator, task: str, image: torch.Tensor, mask: torch.Tensor | None = None,
                    tile: int = 128, overlap: int = 32) -> torch.Tensor:
    """One image (C, H, W) in [-1, 1] (and, for inpainting, its mask (1, H, W)) -> G's output, run the
    way its task runs: in tiles (any size), filled and composited (inpaint), or whole. One place picks
    the path, so the CLI and the server agree."""
    if task in MASK_TASKS:
        if mask is None:
            raise DataError("this inpainting model needs a mask (white = the hole to fill)")
        return inpaint(g, image[None], mask[None])[0]
    if mask is not None:
        raise DataError("this model takes no mask (inpainting models do): send the image alone")
    if task in TILED_TASKS:
        return translate_tiled(g, image, tile, overlap, scale_of(g.spec))
    return translate(g, image[None])[0]


Labels = int | Sequence[int] | torch.Tensor | None


class LoadedGenerator:
    """A trained generator ready to use: `ganforge.load(path)` returns one.

    `sample(n, seed, labels, truncation)` gives n samples in data space (points as the data;
    images as float (n, C, H, W) in [-1, 1]); `g(z, labels)` maps explicit noise;
    `sample_seeds(seeds)` gives one sample per seed; `interpolate(seeds, frames)` a walk through
    their latents; `walk_gif(path)` writes one. Needs no data set and no flags: the checkpoint
    says what the network is."""

    def __init__(self, net: Generator, noise: str, device: torch.device, config: Any = None,
                 step: int = 0, source: str = "", ema: bool = False,
                 class_names: Sequence[str] = ()) -> None:
        self.net = net.to(device).eval()
        self.net.requires_grad_(False)
        self.noise_kind = noise
        self.device = device
        self.config = config
        self.step = step
        self.source = source
        self.ema = ema
        self.class_names = tuple(class_names)  # the data's names of the classes, () when unknown
        self._fingerprint: str | None = None

    @property
    def z_dim(self) -> int:
        return self.net.spec.z_dim

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.net.spec.data_shape

    @property
    def num_classes(self) -> int:
        return self.net.spec.num_classes

    @property
    def fingerprint(self) -> str:
        """Short sha256 of the generator's state tensors: which weights made a file."""
        if self._fingerprint is None:
            from .provenance import state_hash

            self._fingerprint = state_hash(self.net)
        return self._fingerprint

    def __repr__(self) -> str:
        cls = f", {self.num_classes} classes" if self.num_classes else ""
        return (f"LoadedGenerator(z_dim={self.z_dim}, data_shape={self.data_shape}{cls}, "
                f"step={self.step}, device={self.device}, source={self.source!r})")

    def noise(self, n: int, seed: int = 0) -> torch.Tensor:
        """The training noise distribution, n vectors, on the model's device."""
        check_count(n, "n")
        return make_noise(self.noise_kind, n, self.z_dim, self.generator(seed), self.device)

    def generator(self, seed: int) -> torch.Generator:
        """A CPU generator: the same seed gives the same noise (and samples) on every device."""
        return torch.Generator().manual_seed(seed)

    def _labels_for(self, z: torch.Tensor, labels: Labels) -> torch.Tensor | None:
        """Check z's shape; the labels as a tensor on the device (None for an unconditional G)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise DataError(f"z must have shape (n, {self.z_dim}), got {tuple(z.shape)}")
        y = as_labels(labels, len(z), self.num_classes, self.device)
        if self.num_classes and y is None:
            raise DataError(f"this generator is class-conditional: pass labels (0..{self.num_classes - 1})")
        return y

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, labels: Labels = None,
                 truncation: float | Truncation | None = None) -> torch.Tensor:
        """G(z', labels) with z' = z truncated (when asked), in chunks of bounded memory."""
        y = self._labels_for(z, labels)
        trunc = as_truncation(truncation)
        z = z.to(self.device)
        step = chunk_size(self.data_shape)
        parts = [forward(self.net, z[i:i + step], None if y is None else y[i:i + step], trunc).float()
                 for i in range(0, len(z), step)]
        return torch.cat(parts) if parts else forward(self.net, z, y, trunc).float()

    def sample(self, n: int, seed: int = 0, labels: Labels = None,
               truncation: float | Truncation | None = None) -> torch.Tensor:
        """n samples from the training noise (seeded); classes drawn uniformly unless given;
        `truncation` a psi in (0, 1] (or a Truncation) pulls z toward the mean latent; for style-based
        models it pulls w toward w_avg (psi in [0, 1], Truncation(psi, cutoff=K): first K layers)."""
        check_count(n, "n")
        y = as_labels(labels, n, self.num_classes, self.device)
        return generate(self.net, self.noise_kind, n, self.generator(seed), y,
                        truncation=as_truncation(truncation))

    def iter_samples(self, n: int, seed: int = 0, labels: Labels = None, chunk: int | None = None,
                     truncation: float | Truncation | None = None) -> Iterator[torch.Tensor]:
        """The same samples as `sample(n, seed)`, `chunk` at a time on the CPU: bounded memory."""
        check_count(n, "n")
        y = as_labels(labels, n, self.num_classes, self.device)
        for part in iter_generate(self.net, self.noise_kind, n, self.generator(seed), y, chunk,
                                  as_truncation(truncation)):
            yield part.cpu()

    def seed_inputs(self, seeds: Sequence[int], labels: Labels = None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One (z, class) per seed, drawn as `sample(1, seed)` draws them (class first, when the
        model takes one and none is given, then z): seed k is the same sample every time."""
        check_count(len(seeds), "seeds", MAX_SEEDS)
        given = as_labels(labels, len(seeds), self.num_classes, torch.device("cpu"))
        zs, ys = [], []
        for i, seed in enumerate(seeds):
            gen = self.generator(int(seed))
            if self.num_classes:
                drawn = draw_int(self.num_classes, (1,), gen, torch.device("cpu"))
                ys.append(drawn if given is None else given[i:i + 1])
            zs.append(make_noise(self.noise_kind, 1, self.z_dim, gen, torch.device("cpu")))
        y = torch.cat(ys).to(self.device) if ys else None
        return torch.cat(zs).to(self.device), y

    def sample_seeds(self, seeds: Sequence[int], labels: Labels = None,
                     truncation: float | Truncation | None = None) -> torch.Tensor:
        """One sample per seed (what per-seed image files and FID tools read)."""
        z, y = self.seed_inputs(seeds, labels)
        return self(z, y, truncation)

    def walk_latents(self, keys: Sequence[int] | torch.Tensor, frames: int = 60, label: int | None = None,
                     loop: bool = True) -> tuple[torch.Tensor, int | None]:
        """The latents of a walk and the class it holds (see `interpolate`)."""
        if isinstance(keys, torch.Tensor):
            z_keys, y0 = keys.to(self.device, torch.float32), None
        else:
            if not 2 <= len(keys) <= MAX_KEYS:
                raise DataError(f"a walk needs 2 to {MAX_KEYS} seeds, got {len(keys)}")
            z_keys, y_keys = self.seed_inputs(keys)
            y0 = None if y_keys is None else int(y_keys[0])
        if z_keys.dim() != 2 or z_keys.shape[1] != self.z_dim:
            raise DataError(f"walk latents must have shape (k, {self.z_dim}), got {tuple(z_keys.shape)}")
        cls = label if label is not None else y0
        if self.num_classes and cls is None:
            raise DataError(f"this generator is class-conditional: pass label (0..{self.num_classes - 1})")
        return latent_path(self.noise_kind, z_keys, frames, loop), cls

    def interpolate(self, keys: Sequence[int] | torch.Tensor, frames: int = 60, label: int | None = None,
                    truncation: float | Truncation | None = None, loop: bool = True,
                    space: str = "z") -> torch.Tensor:
        """Samples along a walk through latents: `keys` are seeds (their latents) or a (k, z_dim)
        tensor (e.g. torch.stack([z_a, z_b]) with loop=False). Gaussian noise walks by slerp,
        uniform noise in straight lines. A class-conditional walk holds one class: `label`, else
        the first seed's. loop=True comes back round to the first key. space="w" (style-based
        models) walks in straight lines between the keys' (truncated) ws instead: w space is
        where a style net's images change most evenly (StyleGAN sec. 4)."""
        check_space(space)
        if space == "w":
            ws = self.walk_ws(keys, frames, label, truncation, loop)
            return self.synthesize(ws)
        z, cls = self.walk_latents(keys, frames, label, loop)
        return self(z, cls, truncation)

    def walk_gif(self, path: str | Path, seeds: Sequence[int] = (0, 1, 2, 3), frames: int = 60,
                 label: int | None = None, truncation: float | Truncation | None = None, fps: int = 20,
                 space: str = "z") -> Path:
        """Write an endless latent walk through `seeds` as an animated GIF (image models), its
        provenance in the GIF's comment; space="w" for a walk in a style-based model's w space."""
        from .media import write_walk

        return write_walk(self, path, seeds, frames, label=label, truncation=truncation, fps=fps,
                          space=space)

    # --- style-based models (g.arch=style): w space ---------------------------------------------
    @property
    def is_style(self) -> bool:
        """Whether G is style-based (a mapping network to w, then synthesis): w-space controls work."""
        return style_of(self.net) is not None

    @property
    def style(self) -> Any:
        """G as a StyleGenerator; a one-line DataError for other nets."""
        return self.require_style()

    def require_style(self) -> Any:
        """G as a StyleGenerator, or a one-line DataError naming this run's G."""
        s = style_of(self.net)
        if s is None:
            arch = self.config.g.arch if self.config is not None else type(self.net).__name__
            raise DataError(f"this needs a style-based model (g.arch=style); this run's G is g.arch={arch}")
        return s

    @property
    def num_ws(self) -> int:
        return self.style.num_ws

    @torch.no_grad()
    def ws(self, z: torch.Tensor, labels: Labels = None,
           truncation: float | Truncation | None = None) -> torch.Tensor:
        """A style model's per-layer styles (n, num_ws, w_dim) for z, truncated in w when asked."""
        s = self.style
        y = self._labels_for(z, labels)
        trunc = as_truncation(truncation)
        psi, cutoff = (1.0, None) if trunc is None else (trunc.psi, trunc.cutoff)
        check_cutoff(s, cutoff)
        return s.mapping(z.to(self.device), y, psi=psi, cutoff=cutoff).float()

    def seed_ws(self, seeds: Sequence[int], labels: Labels = None,
                truncation: float | Truncation | None = None) -> torch.Tensor:
        """One (num_ws, w_dim) style stack per seed: the ws of `sample_seeds(seeds)`'s images."""
        z, y = self.seed_inputs(seeds, labels)
        return self.ws(z, y, truncation)

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor) -> torch.Tensor:
        """Images for ws (n, num_ws, w_dim) (or (n, w_dim): one w for every layer), chunked, with the
        fixed noise inputs of eval mode: the same images `sample` gives for the same ws."""
        s = self.style
        if ws.dim() == 2:
            ws = ws[:, None].expand(-1, s.num_ws, -1)
        if ws.dim() != 3 or tuple(ws.shape[1:]) != (s.num_ws, s.w_dim):
            raise DataError(f"ws must have shape (n, {s.num_ws}, {s.w_dim}) or (n, {s.w_dim}), "
                            f"got {tuple(ws.shape)}")
        ws = ws.to(self.device, torch.float32)
        step = chunk_size(self.data_shape)
        return torch.cat([s.synthesis(ws[i:i + step], noise="const").clamp(-1, 1).float()
                          for i in range(0, len(ws), step)])

    def walk_ws(self, keys: Sequence[int] | torch.Tensor, frames: int = 60, label: int | None = None,
                truncation: float | Truncation | None = None, loop: bool = True) -> torch.Tensor:
        """The ws (frames, num_ws, w_dim) of a straight-line walk in w through the keys: seeds (their
        ws, truncated when asked) or a (k, num_ws, w_dim) tensor of ws."""
        s = self.style
        if isinstance(keys, torch.Tensor):
            key_ws = keys.to(self.device, torch.float32)
            if key_ws.dim() != 3 or tuple(key_ws.shape[1:]) != (s.num_ws, s.w_dim):
                raise DataError(f"walk ws must have shape (k, {s.num_ws}, {s.w_dim}), "
                                f"got {tuple(key_ws.shape)}")
        else:
            if not 2 <= len(keys) <= MAX_KEYS:
                raise DataError(f"a walk needs 2 to {MAX_KEYS} seeds, got {len(keys)}")
            z, y = self.seed_inputs(keys)
            if label is not None:
                y = as_labels(label, len(keys), self.num_classes, self.device)
            key_ws = self.ws(z, y, truncation)
        flat = latent_path("uniform", key_ws.reshape(len(key_ws), -1), frames, loop)  # straight lines
        return flat.reshape(frames, s.num_ws, s.w_dim)

    def mix(self, row_seeds: Sequence[int], col_seeds: Sequence[int], layers: tuple[int, int] | None = None,
            truncation: float | Truncation | None = None, labels: Labels = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Style mixing (StyleGAN fig. 3): (rows (R, C, H, W), cols (K, C, H, W), mixed (R, K, C, H, W)).
        mixed[i, j] has row seed i's styles except layers A..B (`layers`, inclusive; default the
        finer half, num_ws // 2 .. num_ws - 1), which come from column seed j. Rows and cols are
        the seeds' own images (what `sample_seeds` gives)."""
        s = self.style
        for what, seeds in (("row", row_seeds), ("column", col_seeds)):
            if not 1 <= len(seeds) <= MAX_MIX:
                raise DataError(f"a mixing grid takes 1 to {MAX_MIX} {what} seeds, got {len(seeds)}")
        a, b = (s.num_ws // 2, s.num_ws - 1) if layers is None else layers
        if not 0 <= a <= b < s.num_ws:
            raise DataError(f"mixing layers must satisfy 0 <= A <= B <= {s.num_ws - 1} (this model has "
                            f"{s.num_ws} style layers), got {a}-{b}")
        rw = self.seed_ws(row_seeds, labels, truncation)
        cw = self.seed_ws(col_seeds, labels, truncation)
        mixed = rw[:, None].repeat(1, len(cw), 1, 1)
        mixed[:, :, a:b + 1] = cw[None, :, a:b + 1]
        x = self.synthesize(mixed.reshape(-1, s.num_ws, s.w_dim))
        return self.synthesize(rw), self.synthesize(cw), x.reshape(len(rw), len(cw), *x.shape[1:])

    def project(self, image: Any, steps: int = 300, wplus: bool = False, seed: int = 0,
                progress: bool = False, **options: Any) -> Any:
        """Find the w (or w+, one w per layer) whose image is closest to `image` (a file path, or a
        tensor (C, H, W) in [-1, 1]): see projection.project. Returns a projection.Projection."""
        from .projection import project, read_target

        target = read_target(image, self.data_shape) if not isinstance(image, torch.Tensor) else image
        return project(self, target, steps=steps, wplus=wplus, seed=seed, progress=progress, **options)

    def one_way(self, direction: str | None = None) -> LoadedGenerator:
        """A CycleGAN model as one of its translators (`direction` AtoB, the default, or BtoA): what serving
        and export take. Any other model as it is; a direction given to it is refused."""
        from .nets.cycle import CycleGenerator

        if not isinstance(self.net, CycleGenerator):
            if direction is not None:
                raise DataError(f"--direction is for unpaired (CycleGAN) models; this one is task.kind="
                                f"{self.config.task.kind if self.config is not None else 'generate'}")
            return self
        net = self.net.direction(direction or "AtoB")
        return LoadedGenerator(net, self.noise_kind, self.device, self.config, self.step, self.source,
                               self.ema, self.class_names)

    def translate(self, images: torch.Tensor, direction: str | None = None,
                  masks: torch.Tensor | None = None) -> torch.Tensor:
        """Image-to-image models: outputs (CPU, [-1, 1]) for images (n, C, H, W) or (C, H, W) in [-1, 1];
        `direction` AtoB | BtoA for CycleGAN models, `masks` (1 = hole) for inpainting ones."""
        from .translate_files import translate_images

        return translate_images(self, images, direction, masks)

    def provenance(self, seeds: str = "", labels: str = "", truncation: float | Truncation | None = None,
                   what: str = "") -> Provenance:
        """What this generator stamps on a file it made with these inputs (a style model's
        truncation is said to be in w, with its cutoff)."""
        from .provenance import Provenance

        trunc = as_truncation(truncation)
        if trunc is not None and trunc.psi != 1 and self.is_style:
            cut = f", first {trunc.cutoff} of {self.num_ws} layers" if trunc.cutoff is not None else ""
            note = f"truncated in w toward w_avg{cut}"
            what = f"{what}; {note}" if what else note
        return Provenance(generator=self.fingerprint, checkpoint=self.source, step=self.step,
                          ema=self.ema, noise=self.noise_kind, seeds=seeds, labels=labels,
                          truncation=1.0 if trunc is None else float(trunc.psi), what=what)


def load(path: str | Path, device: str | torch.device = "auto", use_ema: bool = True) -> LoadedGenerator:
    """The generator of a run directory (latest checkpoint) or of a checkpoint file, on `device`;
    its EMA copy when it has one (use_ema=False for G itself)."""
    from .training.state import generator_from, load_checkpoint

    dev = resolve_device(device)
    ckpt = load_checkpoint(path)
    ema = use_ema and ckpt.has_ema()
    net = generator_from(ckpt, ema)
    return LoadedGenerator(net, ckpt.config.g.noise, dev, ckpt.config, ckpt.step, str(ckpt.path), ema,
                           ckpt.class_names)


MAX_GRID = 1024  # images in one .png grid
MAX_OUTPUT_BYTES = 16 << 30  # one `ganforge sample` output file


def check_label(g: LoadedGenerator, label: int | None) -> None:
    """--label: only for class-conditional models, and one of their classes."""
    if label is not None and not g.num_classes:
        raise DataError("--label needs a class-conditional model (train.conditional=true)")
    if label is not None and not 0 <= label < g.num_classes:
        raise DataError(f"--label must be in 0..{g.num_classes - 1}, got {label}")


def check_truncation(g: LoadedGenerator, truncation: Truncation | None) -> None:
    """Refuse, before any work, a truncation this model cannot apply (psi 0 or a cutoff on a z-truncated
    model, a cutoff beyond a style model's layers)."""
    if truncation is None:
        return
    if g.is_style:
        check_cutoff(g.style, truncation.cutoff)
    else:
        truncation(torch.zeros(1, max(1, g.z_dim)))


def write_samples(run: str | Path, n: int, seed: int, out: str | Path, use_ema: bool = True,
                  label: int | None = None, device: str | None = None, progress: bool = False,
                  truncation: float | Truncation | None = None) -> Path:
    """Write n generated samples to .csv / .npy, or (images) a .png grid; the name picks.

    Samples are generated and written a chunk at a time into a temporary file renamed at the end:
    memory stays bounded whatever n is, and a failure leaves no partial output. Every file says
    it is synthetic: the grid in its PNG text chunks, arrays in a FILE.provenance.json sidecar."""
    import shutil
    import sys

    import numpy as np

    from .provenance import write_sidecar

    out = Path(out)
    if out.suffix not in (".csv", ".npy", ".png"):
        raise DataError(f"output {out} must end in .csv, .npy or .png")
    check_count(n, "-n", MAX_GRID if out.suffix == ".png" else MAX_SAMPLES)
    truncation = as_truncation(truncation)
    g = load(run, device=device or "auto", use_ema=use_ema)  # where this machine samples fastest
    check_label(g, label)
    check_truncation(g, truncation)
    if out.suffix == ".png":
        from .media import write_grid

        return write_grid(g, out, n, seed, label=label, truncation=truncation)
    width = math.prod(g.data_shape)
    per = 4 * width if out.suffix == ".npy" else 16 * width
    if n * per > MAX_OUTPUT_BYTES:
        raise DataError(f"-n {n:,} would write about {n * per / 2**30:.1f} GiB; the limit is "
                        f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB per file (write several, with other --seed)")
    out.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out.parent).free
    if n * per > free:
        raise DataError(f"-n {n:,} needs about {n * per / 2**20:,.0f} MiB; {out.parent} has "
                        f"{free / 2**20:,.0f} MiB free")
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    chunks = g.iter_samples(n, seed, labels=label, truncation=truncation)
    if progress and n * width > 1 << 24:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="sample", unit="chunk", file=sys.stderr, leave=False)
    try:
        if out.suffix == ".npy":
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *g.data_shape))
            i = 0
            for part in chunks:
                arr[i:i + len(part)] = part.numpy()
                i += len(part)
            arr.flush()
            del arr
        else:
            with tmp.open("w") as fh:
                cols = width
                fh.write((",".join(f"x{i}" for i in range(cols)) if cols != 2 else "x,y") + "\n")
                for part in chunks:
                    np.savetxt(fh, part.reshape(len(part), -1).numpy(), delimiter=",", fmt="%.7g")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    labels = "" if not g.num_classes else (str(label) if label is not None else "drawn uniformly")
    write_sidecar(out, g.provenance(seeds=str(seed), labels=labels, truncation=truncation,
                                    what=f"{n} samples"))
    return out
