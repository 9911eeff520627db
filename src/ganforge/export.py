"""ONNX: export a generator (`ganforge export RUN --format onnx -o model.onnx`) and run one with
onnxruntime (`ganforge.load("model.onnx")`).

A generator of noise takes `z` (float32 [N, z_dim]) and, when class-conditional, `labels` (int64
[N]), with a dynamic batch N, and returns `x`, samples in the data's range ([-1, 1] images, data
units for points). An image-to-image generator takes `image` (float32 [N, C, H, W] in [-1, 1]; H and
W dynamic for super-resolution, whose net is fully convolutional) and, for inpainting, `mask`
(float32 [N, 1, H, W], > 0.5 = hole; the graph zeroes the holes, runs G and composites, as
generation.inpaint does); no noise (deterministic, as generation.translate). What a user of the file
needs to know (task, data and input shapes, scale, value range, classes and their names, noise,
z_dim, ganforge version) and its provenance (synthetic, generator hash, checkpoint, step) are stored
in the model's metadata_props, so the file alone is enough: `OnnxGenerator` reads them back.

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
    MASK_TASKS,
    TILED_TASKS,
    LoadedGenerator,
    Truncation,
    as_labels,
    as_truncation,
    check_count,
    chunk_size,
    iter_inputs,
    make_noise,
    run_tiled,
    scale_of,
    style_of,
    translate,
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


class _TranslatorGraph(nn.Module):
    """G(None, image): an image-to-image G without noise (U-Net dropout off), as translate runs it."""

    def __init__(self, net: Generator) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(None, image).float()


class _InpaintGraph(nn.Module):
    """(image, mask) -> the filled image, as generation.inpaint makes it: the file needs no ganforge."""

    def __init__(self, net: Generator) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = (mask > 0.5).float()
        filled = self.net(None, torch.cat([image * (1 - m), m], 1)).float()
        return m * filled + (1 - m) * image


def input_names(spec: NetSpec, task: str) -> list[str]:
    """The exported model's inputs, in order."""
    if spec.cond == "image":
        return ["image", "mask"] if task in MASK_TASKS else ["image"]
    return ["z", "labels"] if spec.cond == "class" else ["z"]


def model_metadata(spec: NetSpec, noise: str, prov: Provenance, task: str = "generate",
                   class_names: Sequence[str] = ()) -> dict[str, str]:
    """The metadata_props of an exported generator: what it is, then where it came from."""
    images = len(spec.data_shape) == 3
    translates = spec.cond == "image"
    meta = {
        "task": task,
        "data_shape": json.dumps(list(spec.data_shape)),
        "value_range": "[-1, 1]" if images else "data units",
        "cond": spec.cond,
        "num_classes": str(spec.num_classes),
        "class_names": json.dumps(list(class_names)),
        "noise": noise,
        "z_dim": "0" if translates else str(spec.z_dim),  # translation graphs take no noise
        "inputs": ",".join(input_names(spec, task)),
        "output": "x",
    }
    if translates:
        meta |= {"cond_shape": json.dumps(list(spec.cond_shape)), "scale": str(scale_of(spec)),
                 "any_size": "true" if task in TILED_TASKS else "false"}
    return {**meta, **prov.fields()}


def export_metadata(net: Generator, noise: str, prov: Provenance, task: str = "generate",
                    class_names: Sequence[str] = ()) -> dict[str, str]:
    """model_metadata plus what the net itself implies: a style-based G's graph maps z alone, so its
    truncation (in w) is not in it: `truncation_space: w` tells OnnxGenerator and the server to refuse one."""
    meta = model_metadata(net.spec, noise, prov, task, class_names)
    if style_of(net) is not None:
        meta["truncation_space"] = "w"
    return meta


def _example(net: Generator, noise: str, task: str) -> tuple[nn.Module, tuple[torch.Tensor, ...], dict]:
    """What the exporter traces: the graph module (a CPU copy in eval mode, so batch norm reads its
    running statistics; the caller's net is untouched), example inputs, their dynamic dimensions."""
    spec, cpu = net.spec, torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    copied = copy.deepcopy(net).cpu().eval()
    if spec.cond == "image":
        c, h, w = spec.cond_shape
        dims: dict[int, Any] = {0: batch}
        if task in TILED_TASKS:  # fully convolutional: any height and width
            dims |= {2: torch.export.Dim("height", min=1, max=1 << 14),
                     3: torch.export.Dim("width", min=1, max=1 << 14)}
        if task in MASK_TASKS:
            image = torch.rand(EXPORT_BATCH, spec.data_shape[0], h, w, generator=gen) * 2 - 1
            mask = (torch.rand(EXPORT_BATCH, 1, h, w, generator=gen) > 0.5).float()
            return _InpaintGraph(copied), (image, mask), {"image": dims, "mask": dims}
        image = torch.rand(EXPORT_BATCH, c, h, w, generator=gen) * 2 - 1
        return _TranslatorGraph(copied), (image,), {"image": dims}
    z = make_noise(noise, EXPORT_BATCH, spec.z_dim, gen, cpu)
    if spec.cond == "class":
        labels = torch.arange(EXPORT_BATCH) % spec.num_classes
        return _GeneratorGraph(copied), (z, labels), {"z": {0: batch}, "labels": {0: batch}}
    return _GeneratorGraph(copied), (z,), {"z": {0: batch}}


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


def export_onnx(net: Generator, out: str | Path, noise: str, prov: Provenance, task: str = "generate",
                class_names: Sequence[str] = ()) -> Path:
    """Write `net` (any Generator; its spec says its inputs, `task` how an image-to-image one is run)
    as one ONNX file with a dynamic batch and its metadata."""
    spec = net.spec
    if spec.cond == "image" and task == "generate":
        raise ExportError("this generator translates images: give its task (paired, superres, inpaint)")
    if spec.cond != "image" and spec.z_dim < 1:
        raise ExportError("this generator takes no noise: nothing to export as z -> x")
    try:
        import onnxscript  # noqa: F401  (the exporter needs it; say so in one line if missing)
    except ImportError:
        raise ExportError(f"ONNX export needs onnx and onnxscript: {INSTALL_HINT}") from None
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ExportError(f"the output must end in .onnx, got {out.name}")
    graph, args, shapes = _example(net, noise, task)
    graph.eval()
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(graph, args, dynamo=True, verbose=False, optimize=True,
                                        input_names=input_names(spec, task),
                                        output_names=["x"], dynamic_shapes=shapes)
    except Exception as e:  # the exporter's own errors have no common base class
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"cannot export this generator to ONNX: {first[:300]}") from None
    program.model.metadata_props.update(export_metadata(net, noise, prov, task, class_names))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        program.save(tmp, external_data=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def export_run(run: str | Path, out: str | Path, fmt: str = "onnx", use_ema: bool = True,
               direction: str | None = None) -> Path:
    """`ganforge export`: a run's (or a checkpoint's) generator, its EMA copy when it has one; a CycleGAN
    run's translator for `direction` (AtoB by default)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    whole = _load_torch(run, use_ema)
    g = whole.one_way(direction)
    way = f" ({direction or 'AtoB'})" if g is not whole else ""
    prov = g.provenance(what=f"generator exported to ONNX{way}")
    return export_onnx(g.net, out, g.noise_kind, prov, g.config.task.kind, g.class_names)


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
        self.task = self.metadata.get("task", "generate")  # files exported before tasks: generate
        self.class_names = _names_of(self.metadata, self.spec.num_classes)

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

    @property
    def truncates_in_w(self) -> bool:
        """An export of a style-based G: its truncation belongs in w, which the graph does not expose."""
        return self.metadata.get("truncation_space") == "w"

    def _check_truncation(self, truncation: float | Truncation | None) -> None:
        trunc = as_truncation(truncation)
        if trunc is not None and trunc.psi != 1 and self.truncates_in_w:
            raise DataError("this ONNX export of a style-based model maps z to images: its truncation "
                            "pulls w toward the mean w, which is not in the graph (and truncating z instead "
                            "would be wrong); sample the run with PyTorch: "
                            "ganforge.load(RUN).sample(n, truncation=PSI)")

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
        self._check_truncation(truncation)
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
        self._check_truncation(truncation)
        y = as_labels(labels, n, self.num_classes, torch.device("cpu"))
        gen = torch.Generator().manual_seed(seed)
        parts = [self.forward(z, c) for z, c in iter_inputs(self.spec, self.noise_kind, n, gen,
                                                         torch.device("cpu"), y,
                                                         truncation=as_truncation(truncation))]
        return np.concatenate(parts)

    def translate_image(self, image: torch.Tensor, mask: torch.Tensor | None = None, tile: int = 128,
                        overlap: int = 32) -> np.ndarray:
        """One image (C, H, W) in [-1, 1] (and its mask (1, H, W), inpainting) -> the output, run the
        way generation.translate_image runs a PyTorch G: super-resolution in tiles (any size, bounded
        memory), the others whole at their training size."""
        self._check_image(image, mask)
        if self.task in TILED_TASKS:
            out = run_tiled(self._tile, image.float(), self.data_shape[0], tile, overlap, scale_of(self.spec))
            return out.numpy()
        return self.forward_images(image[None], None if mask is None else mask[None])[0]

    def _tile(self, part: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.forward_images(part))

    def _check_image(self, image: torch.Tensor, mask: torch.Tensor | None) -> None:
        """One-line DataErrors for what onnxruntime would refuse with a page of text."""
        if self.spec.cond != "image":
            raise DataError("this model generates from noise; it translates no images")
        if (mask is None) == (self.task in MASK_TASKS):
            raise DataError("this inpainting model needs a mask (white = the hole to fill)" if mask is None
                            else "this model takes no mask (inpainting models do): send the image alone")
        c = self.data_shape[0] if self.task in MASK_TASKS else self.spec.cond_shape[0]
        h, w = self.spec.cond_shape[1:]
        any_size = self.task in TILED_TASKS
        if image.dim() != 3 or image.shape[0] != c or (not any_size and tuple(image.shape[1:]) != (h, w)):
            want = f"({c}, H, W)" if any_size else f"({c}, {h}, {w})"
            raise DataError(f"the image must have shape {want}, got {tuple(image.shape)}")
        if mask is not None and tuple(mask.shape) != (1, *image.shape[1:]):
            raise DataError(f"the mask must have shape (1, {h}, {w}), got {tuple(mask.shape)}")

    def forward_images(self, images: torch.Tensor, masks: torch.Tensor | None = None) -> np.ndarray:
        """One onnxruntime pass of an image-to-image model on (n, C, H, W) images (and masks)."""
        feeds = {"image": images.float().numpy()}
        if masks is not None:
            feeds["mask"] = masks.float().numpy()
        return self.session.run(["x"], feeds)[0]

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
        cond_shape = tuple(int(v) for v in json.loads(meta.get("cond_shape", "[]")))
        spec = NetSpec(shape, z_dim=int(meta["z_dim"]), cond=meta["cond"],
                       num_classes=int(meta["num_classes"]), cond_shape=cond_shape)
        noise = meta["noise"]
    except (KeyError, ValueError, TypeError) as e:
        raise ExportError(f"{path} is not a ganforge generator (metadata {e} missing or malformed); "
                          "make one with 'ganforge export RUN -o model.onnx'") from None
    if math.prod(shape) < 1:
        raise ExportError(f"{path}: this kind of generator is not supported by the onnx backend yet")
    return spec, noise


def _names_of(meta: dict[str, str], num_classes: int) -> tuple[str, ...]:
    """The class names an export stored (files without them, or with a malformed list: none)."""
    try:
        names = json.loads(meta.get("class_names", "[]"))
    except ValueError:
        return ()
    ok = isinstance(names, list) and len(names) == num_classes and all(isinstance(v, str) for v in names)
    return tuple(names) if ok else ()


def translation_inputs(spec: NetSpec, task: str, n: int, seed: int = 0
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n seeded test inputs of an image-to-image G at its training size: images in [-1, 1] and, for
    inpainting, masks of random holes (a parity check's inputs)."""
    gen = torch.Generator().manual_seed(seed)
    c, h, w = (spec.data_shape[0], *spec.cond_shape[1:]) if task in MASK_TASKS else spec.cond_shape
    images = torch.rand(n, c, h, w, generator=gen) * 2 - 1
    masks = (torch.rand(n, 1, h, w, generator=gen) > 0.5).float() if task in MASK_TASKS else None
    return images, masks


def _torch_translation(g: LoadedGenerator, images: torch.Tensor, masks: torch.Tensor | None) -> np.ndarray:
    from .generation import inpaint

    out = translate(g.net, images.to(g.device)) if masks is None else inpaint(
        g.net, images.to(g.device), masks.to(g.device))
    return out.cpu().numpy()


def check_onnx(path: str | Path, g: LoadedGenerator, n: int = 5, seed: int = 0) -> float:
    """Max |onnxruntime - PyTorch| on the same n inputs (another batch size than the export's):
    seeded samples, or seeded input images for an image-to-image G; an ExportError above PARITY_TOL."""
    onnx_g = OnnxGenerator(path)
    if g.net.spec.cond == "image":
        images, masks = translation_inputs(g.net.spec, onnx_g.task, n, seed)
        got, ref = onnx_g.forward_images(images, masks), _torch_translation(g, images, masks)
    else:
        got, ref = onnx_g.sample(n, seed), g.sample(n, seed).cpu().numpy()
    diff = float(np.abs(got - ref).max())
    if not diff <= PARITY_TOL:
        raise ExportError(f"{path}: onnxruntime differs from PyTorch by {diff:.2e} (> {PARITY_TOL:g})")
    return diff
