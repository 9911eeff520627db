"""ONNX: export a generator (`ganforge export RUN --format onnx -o model.onnx`) and run one with
onnxruntime (`ganforge.load("model.onnx")`).

The model takes `z` (float32 [N, z_dim]) and, when class-conditional, `labels` (int64 [N]), with a
dynamic batch N, and returns `x`, samples in the data's range ([-1, 1] images, data units for
points). What a user of the file needs to know (data shape, value range, classes, noise, z_dim,
ganforge version) and its provenance (synthetic, generator hash, checkpoint, step) are stored in
the model's metadata_props, so the file alone is enough: `OnnxGenerator` reads them back.

Export uses PyTorch's torch.export-based exporter (`dynamo=True`, needs onnxscript): the
maintained one since PyTorch 2.9; the TorchScript exporter is deprecated.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError, ConfigError, DataError, ExportError
from .generation import (
    LoadedGenerator,
    Truncation,
    as_labels,
    as_truncation,
    check_count,
    chunk_size,
    iter_inputs,
    make_noise,
)
from .nets.contract import Generator, NetSpec
from .provenance import Provenance

FORMATS = ("onnx",)
INSTALL_HINT = "pip install 'ganforge[onnx]'"
EXPORT_BATCH = 2  # the example batch traced; the batch dimension stays dynamic
PARITY_TOL = 1e-4  # max |onnxruntime - PyTorch| accepted by check_onnx


class _GeneratorGraph(nn.Module):
    """G(z, labels) as a module with tensor-only inputs, what the exporter traces."""

    def __init__(self, net: Generator) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z, labels).float()


def model_metadata(spec: NetSpec, noise: str, prov: Provenance) -> dict[str, str]:
    """The metadata_props of an exported generator: what it is, then where it came from."""
    images = len(spec.data_shape) == 3
    meta = {
        "data_shape": json.dumps(list(spec.data_shape)),
        "value_range": "[-1, 1]" if images else "data units",
        "cond": spec.cond,
        "num_classes": str(spec.num_classes),
        "noise": noise,
        "z_dim": str(spec.z_dim),
        "inputs": "z,labels" if spec.cond == "class" else "z",
        "output": "x",
    }
    return {**meta, **prov.fields()}


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs a warning per optional torchvision op it skips and warns about its own
    internals (axis names, pytree specs): nothing a user can act on."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*axis name.*")
            yield
    finally:
        log.setLevel(level)


def export_onnx(net: Generator, out: str | Path, noise: str, prov: Provenance) -> Path:
    """Write `net` (any Generator; its spec says its inputs) as one ONNX file with a dynamic batch
    and its metadata. Image-to-image generators are refused for now (the translate task's)."""
    spec = net.spec
    if spec.cond == "image":
        raise ExportError("exporting image-to-image generators is not supported yet")
    if spec.z_dim < 1:
        raise ExportError("this generator takes no noise: nothing to export as z -> x")
    try:
        import onnxscript  # noqa: F401  (the exporter needs it; say so in one line if missing)
    except ImportError:
        raise ExportError(f"ONNX export needs onnx and onnxscript: {INSTALL_HINT}") from None
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ExportError(f"the output must end in .onnx, got {out.name}")
    gen = torch.Generator().manual_seed(0)
    z = make_noise(noise, EXPORT_BATCH, spec.z_dim, gen, torch.device("cpu"))
    conditional = spec.cond == "class"
    labels = torch.arange(EXPORT_BATCH) % max(1, spec.num_classes)
    args: tuple[torch.Tensor, ...] = (z, labels) if conditional else (z,)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    shapes = {"z": {0: batch}, "labels": {0: batch}} if conditional else {"z": {0: batch}}
    # a CPU copy in eval mode (batch norm reads its running statistics); the caller's net is untouched
    graph = _GeneratorGraph(copy.deepcopy(net)).cpu().eval()
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(graph, args, dynamo=True, verbose=False, optimize=True,
                                        input_names=["z", "labels"] if conditional else ["z"],
                                        output_names=["x"], dynamic_shapes=shapes)
    except Exception as e:  # the exporter's own errors have no common base class
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"cannot export this generator to ONNX: {first[:300]}") from None
    program.model.metadata_props.update(model_metadata(spec, noise, prov))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        program.save(tmp, external_data=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def export_run(run: str | Path, out: str | Path, fmt: str = "onnx", use_ema: bool = True) -> Path:
    """`ganforge export`: a run's (or a checkpoint's) generator, its EMA copy when it has one."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    g = _load_torch(run, use_ema)
    prov = g.provenance(what="generator exported to ONNX")
    return export_onnx(g.net, out, g.noise_kind, prov)


def _load_torch(run: str | Path, use_ema: bool) -> LoadedGenerator:
    from .generation import load

    return load(run, device="cpu", use_ema=use_ema)


class OnnxGenerator:
    """An exported generator run by onnxruntime, with LoadedGenerator's `sample`, `__call__` and
    `noise`; arrays in, numpy float32 arrays out. Noise and classes come from the same seeded
    CPU generator as PyTorch's, so `sample(n, seed)` matches `LoadedGenerator.sample(n, seed)`."""

    def __init__(self, path: str | Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportError(f"the onnx backend needs onnxruntime: {INSTALL_HINT}") from None
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX model not found: {path}")
        try:
            self.session = ort.InferenceSession(str(path), providers=list(providers))
        except Exception as e:  # onnxruntime's errors are not one class either
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ExportError(f"{path} is not a readable ONNX model: {first}") from None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.path = path
        self.spec, self.noise_kind = _spec_of(self.metadata, path)

    @property
    def z_dim(self) -> int:
        return self.spec.z_dim

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.spec.data_shape

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    def __repr__(self) -> str:
        cls = f", {self.num_classes} classes" if self.num_classes else ""
        return f"OnnxGenerator(z_dim={self.z_dim}, data_shape={self.data_shape}{cls}, path='{self.path}')"

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """The training noise, n vectors (the same as LoadedGenerator.noise(n, seed))."""
        check_count(n, "n")
        return make_noise(self.noise_kind, n, self.z_dim, torch.Generator().manual_seed(seed),
                          torch.device("cpu")).numpy()

    def __call__(self, z: np.ndarray | torch.Tensor, labels: Any = None,
                 truncation: float | Truncation | None = None) -> np.ndarray:
        """G(z', labels) by onnxruntime, chunked; z' = z truncated when asked."""
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32))
        if zt.dim() != 2 or zt.shape[1] != self.z_dim:
            raise DataError(f"z must have shape (n, {self.z_dim}), got {tuple(zt.shape)}")
        y = as_labels(labels, len(zt), self.num_classes, torch.device("cpu"))
        if self.num_classes and y is None:
            raise DataError(f"this generator is class-conditional: pass labels (0..{self.num_classes - 1})")
        trunc = as_truncation(truncation)
        if trunc is not None:
            zt = trunc(zt)
        step = chunk_size(self.data_shape)
        parts = [self.forward(zt[i:i + step], None if y is None else y[i:i + step])
                 for i in range(0, len(zt), step)]
        return np.concatenate(parts) if parts else np.zeros((0, *self.data_shape), np.float32)

    def sample(self, n: int, seed: int = 0, labels: Any = None,
               truncation: float | Truncation | None = None) -> np.ndarray:
        """n samples from the training noise (seeded); classes drawn uniformly unless given."""
        check_count(n, "n")
        y = as_labels(labels, n, self.num_classes, torch.device("cpu"))
        gen = torch.Generator().manual_seed(seed)
        parts = [self.forward(z, c) for z, c in iter_inputs(self.spec, self.noise_kind, n, gen,
                                                         torch.device("cpu"), y,
                                                         truncation=as_truncation(truncation))]
        return np.concatenate(parts)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
        """One onnxruntime pass on prepared inputs (z, labels on the CPU): what the server batches."""
        feeds = {"z": z.numpy().astype(np.float32, copy=False)}
        if labels is not None:
            feeds["labels"] = labels.numpy().astype(np.int64, copy=False)
        return self.session.run(["x"], feeds)[0]


def _spec_of(meta: dict[str, str], path: Path) -> tuple[NetSpec, str]:
    """NetSpec and noise kind from an exported model's metadata; one line when they are not there."""
    try:
        shape = tuple(int(v) for v in json.loads(meta["data_shape"]))
        spec = NetSpec(shape, z_dim=int(meta["z_dim"]), cond=meta["cond"],
                       num_classes=int(meta["num_classes"]))
        noise = meta["noise"]
    except (KeyError, ValueError, TypeError) as e:
        raise ExportError(f"{path} is not a ganforge generator (metadata {e} missing or malformed); "
                          "make one with 'ganforge export RUN -o model.onnx'") from None
    if spec.cond == "image" or math.prod(shape) < 1:
        raise ExportError(f"{path}: this kind of generator is not supported by the onnx backend yet")
    return spec, noise


def check_onnx(path: str | Path, g: LoadedGenerator, n: int = 5, seed: int = 0) -> float:
    """Max |onnxruntime - PyTorch| on the same n inputs (another batch size than the export's);
    an ExportError above PARITY_TOL."""
    onnx_g = OnnxGenerator(path)
    ref = g.sample(n, seed).cpu().numpy()
    diff = float(np.abs(onnx_g.sample(n, seed) - ref).max())
    if not diff <= PARITY_TOL:
        raise ExportError(f"{path}: onnxruntime differs from PyTorch by {diff:.2e} (> {PARITY_TOL:g})")
    return diff
