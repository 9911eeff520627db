"""The one home of sampling: noise, labels, truncation hook, batching, EMA choice, devices.

`ganforge eval`, `ganforge sample`, the report, the lab, the training callbacks and (later) the
server all draw samples here, so "n samples of this generator with this seed" means the same thing
everywhere. Nothing here imports the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from .device import draw_int, draw_normal, draw_uniform, resolve_device
from .errors import ConfigError, DataError
from .nets.contract import Generator

NOISES = ("normal", "uniform")
CHUNK = 8192  # at most this many samples per forward pass...
CHUNK_VALUES = 1 << 24  # ...and at most this many output values (64 MB of fp32): bounded memory
MAX_SAMPLES = 10_000_000  # the most samples one request may ask for
Truncation = Callable[[torch.Tensor], torch.Tensor]  # z -> z', applied before G (issue: truncation)


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


@torch.no_grad()
def iter_generate(g: Generator, noise: str, n: int, gen: torch.Generator,
                  labels: torch.Tensor | None = None, chunk: int | None = None,
                  truncation: Truncation | None = None) -> Iterator[torch.Tensor]:
    """Samples of G in eval mode, `chunk` at a time, on G's device. A class-conditional G gets
    `labels`, else classes drawn uniformly from `gen`; other conditions must be given."""
    device = next(g.parameters()).device
    spec = g.spec
    if chunk is None:
        chunk = max(1, min(CHUNK, CHUNK_VALUES // max(1, math.prod(spec.data_shape))))
    if spec.cond == "image":
        raise DataError("this generator translates images: give it input images, not a count")
    if spec.cond == "class" and labels is None:
        labels = draw_int(spec.num_classes, (n,), gen, device)
    was_training = g.training
    g.eval()
    try:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            z = make_noise(noise, m, spec.z_dim, gen, device)
            if truncation is not None:
                z = truncation(z)
            c = labels[start:start + m] if labels is not None else None
            yield g(z, c).float()
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


class LoadedGenerator:
    """A trained generator ready to use: `ganforge.load(path)` returns one.

    `sample(n, seed, labels)` gives n samples in data space (points as the data; images as float
    (n, C, H, W) in [-1, 1]); `g(z, labels)` maps explicit noise. Needs no data set and no flags:
    the checkpoint says what the network is."""

    def __init__(self, net: Generator, noise: str, device: torch.device, config: Any = None,
                 step: int = 0, source: str = "", ema: bool = False) -> None:
        self.net = net.to(device).eval()
        self.net.requires_grad_(False)
        self.noise_kind = noise
        self.device = device
        self.config = config
        self.step = step
        self.source = source
        self.ema = ema

    @property
    def z_dim(self) -> int:
        return self.net.spec.z_dim

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.net.spec.data_shape

    @property
    def num_classes(self) -> int:
        return self.net.spec.num_classes

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

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, labels: int | list[int] | torch.Tensor | None = None
                 ) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise DataError(f"z must have shape (n, {self.z_dim}), got {tuple(z.shape)}")
        y = as_labels(labels, len(z), self.num_classes, self.device)
        if self.num_classes and y is None:
            raise DataError(f"this generator is class-conditional: pass labels (0..{self.num_classes - 1})")
        return self.net(z.to(self.device), y).float()

    def sample(self, n: int, seed: int = 0, labels: int | list[int] | torch.Tensor | None = None,
               truncation: Truncation | None = None) -> torch.Tensor:
        """n samples from the training noise (seeded); classes drawn uniformly unless given."""
        check_count(n, "n")
        y = as_labels(labels, n, self.num_classes, self.device)
        return generate(self.net, self.noise_kind, n, self.generator(seed), y, truncation=truncation)

    def iter_samples(self, n: int, seed: int = 0, labels: int | list[int] | torch.Tensor | None = None,
                     chunk: int | None = None) -> Iterator[torch.Tensor]:
        """The same samples as `sample(n, seed)`, `chunk` at a time on the CPU: bounded memory."""
        check_count(n, "n")
        y = as_labels(labels, n, self.num_classes, self.device)
        for part in iter_generate(self.net, self.noise_kind, n, self.generator(seed), y, chunk):
            yield part.cpu()


def load(path: str | Path, device: str | torch.device = "auto", use_ema: bool = True) -> LoadedGenerator:
    """The generator of a run directory (latest checkpoint) or of a checkpoint file, on `device`;
    its EMA copy when it has one (use_ema=False for G itself)."""
    from .training.state import generator_from, load_checkpoint

    dev = resolve_device(device)
    ckpt = load_checkpoint(path)
    ema = use_ema and ckpt.has_ema()
    net = generator_from(ckpt, ema)
    return LoadedGenerator(net, ckpt.config.g.noise, dev, ckpt.config, ckpt.step, str(ckpt.path), ema)


MAX_GRID = 1024  # images in one .png grid
MAX_OUTPUT_BYTES = 16 << 30  # one `ganforge sample` output file


def write_samples(run: str | Path, n: int, seed: int, out: str | Path, use_ema: bool = True,
           label: int | None = None, device: str | None = None, progress: bool = False) -> Path:
    """Write n generated samples to .csv / .npy, or (images) a .png grid; the name picks.

    Samples are generated and written a chunk at a time into a temporary file renamed at the end:
    memory stays bounded whatever n is, and a failure leaves no partial output."""
    import shutil
    import sys

    import numpy as np

    from .training.state import load_generator

    out = Path(out)
    if out.suffix not in (".csv", ".npy", ".png"):
        raise DataError(f"output {out} must end in .csv, .npy or .png")
    check_count(n, "-n", MAX_GRID if out.suffix == ".png" else MAX_SAMPLES)
    ckpt, net = load_generator(run, use_ema=use_ema)
    dev = resolve_device(device or "auto")  # where this machine samples, not where it trained
    g = LoadedGenerator(net, ckpt.config.g.noise, dev, ckpt.config, ckpt.step, str(ckpt.path))
    if label is not None and not g.num_classes:
        raise DataError("--label needs a class-conditional model (train.conditional=true)")
    if label is not None and not 0 <= label < g.num_classes:
        raise DataError(f"--label must be in 0..{g.num_classes - 1}, got {label}")
    width = math.prod(g.data_shape)
    per = 4 * width if out.suffix == ".npy" else 16 * width
    if out.suffix != ".png" and n * per > MAX_OUTPUT_BYTES:
        raise DataError(f"-n {n:,} would write about {n * per / 2**30:.1f} GiB; the limit is "
                        f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB per file (write several, with other --seed)")
    out.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out.parent).free
    if out.suffix != ".png" and n * per > free:
        raise DataError(f"-n {n:,} needs about {n * per / 2**20:,.0f} MiB; {out.parent} has "
                        f"{free / 2**20:,.0f} MiB free")
    if out.suffix == ".png":
        if len(g.data_shape) != 3:
            raise DataError("a .png grid needs an image model; use .csv or .npy for points")
        from .viz import save_image_grid

        x = g.sample(n, seed, labels=label).cpu()
        save_image_grid(out, x, nrow=max(1, min(16, round(n**0.5))))
        return out
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    chunks = g.iter_samples(n, seed, labels=label)
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
    return out
