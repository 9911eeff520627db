"""What the server serves: one generator (PyTorch or onnxruntime) behind one small interface.

The server draws each request's inputs itself (`inputs`: the same calls `LoadedGenerator.sample`
makes, from the request's own seed) and hands only the forward pass (`forward`) to the batcher, so
a request's samples do not depend on what it was batched with. Image-to-image models translate one
upload at a time, the way their task runs (generation.translate_image: paired whole, superres in
tiles, inpaint with its mask), on either backend. The facts /v1/model shows and the provenance every
response carries are read once, at start.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..generation import (
    MASK_TASKS,
    TILED_TASKS,
    LoadedGenerator,
    Truncation,
    as_labels,
    iter_inputs,
    scale_of,
    translate_image,
)
from ..nets.contract import NetSpec
from ..provenance import Provenance

BACKENDS = ("torch", "onnx")
MAX_EVAL_JSON = 1 << 20  # bytes of eval.json read for /v1/model
TILE, OVERLAP = 128, 32  # super-resolution tiles: one tile's activations in memory, whatever the upload


TRUNCATION_IN_W = ("this is a style-based model: its truncation pulls w toward the mean w, which the "
                   "server does not apply (it never truncates z instead); sample with `ganforge sample "
                   "RUN --truncation PSI` or ganforge.load(RUN).sample(n, truncation=PSI)")


class Refused(DataError):
    """An upload this model cannot translate: the field at fault and a one-line reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class ServedModel:
    """A generator, its facts and its forward pass. Build one with `load_served`."""

    spec: NetSpec
    noise: str
    backend: str
    fingerprint: str
    step: int = 0
    checkpoint: str = ""
    ema: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # what /v1/model shows
    net: Any = None  # torch Generator or OnnxGenerator
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    task: str = "generate"  # the run's task.kind: how an image-to-image G is run
    class_names: tuple[str, ...] = ()
    truncates_in_w: bool = False  # a style-based G: truncation belongs in w, which the server does not apply

    @property
    def images(self) -> bool:
        return len(self.spec.data_shape) == 3

    @property
    def can_translate(self) -> bool:
        """Image-to-image models (paired, superres, inpaint) take an image, not noise."""
        return self.spec.cond == "image"

    @property
    def image_channels(self) -> int:
        """Channels of the uploaded image (an inpainting G's input adds the mask's)."""
        if self.task in MASK_TASKS or not self.can_translate:
            return self.spec.data_shape[0]
        return self.spec.cond_shape[0]

    @property
    def scale(self) -> int:
        return scale_of(self.spec)

    def inputs(self, n: int, seed: int, labels: int | Sequence[int] | None = None,
               truncation: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's inputs for one request on the CPU, drawn exactly as `g.sample(n, seed, ...)` draws them."""
        cpu = torch.device("cpu")
        if truncation is not None and truncation != 1 and self.truncates_in_w:
            raise DataError(TRUNCATION_IN_W)
        y = as_labels(labels, n, self.spec.num_classes, cpu)
        gen = torch.Generator().manual_seed(seed)
        trunc = Truncation(truncation) if truncation is not None else None
        zs, ys = [], []
        for z, c in iter_inputs(self.spec, self.noise, n, gen, cpu, y, truncation=trunc):
            zs.append(z)
            if c is not None:
                ys.append(c.cpu())
        return torch.cat(zs), (torch.cat(ys) if ys else None)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> np.ndarray:
        """One forward pass of G on a (possibly batched) input: float32 samples on the CPU."""
        if self.backend == "onnx":
            return self.net.forward(z, y)
        with torch.inference_mode():
            out = self.net(z.to(self.device), None if y is None else y.to(self.device))
        return out.float().cpu().numpy()

    def check_upload(self, image: torch.Tensor, mask: torch.Tensor | None) -> None:
        """Refused (field, one line) when this model cannot take the upload: the same for both backends."""
        if not self.can_translate:
            raise Refused("image", "this model generates from noise; use /v1/samples")
        if self.task in MASK_TASKS and mask is None:
            raise Refused("mask", "this inpainting model needs a mask: a file field 'mask' of the image's "
                          "size, white = the hole to fill")
        if self.task not in MASK_TASKS and mask is not None:
            raise Refused("mask", "this model takes no mask (inpainting models do): send the image alone")
        c, h, w = self.image_channels, *self.spec.cond_shape[1:]
        if self.task not in TILED_TASKS and tuple(image.shape[1:]) != (c, h, w):
            got = f"{image.shape[-1]}x{image.shape[-2]} with {image.shape[1]}"
            raise Refused("image", f"this {self.task} model translates {w}x{h} images with {c} channel(s) "
                          f"(its training size); got {got}")

    def translate(self, image: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
        """One upload -> G's output (1, C, H', W'): image (1, C, H, W) in [-1, 1], mask (1, 1, H, W) in
        {0, 1} (inpainting). Super-resolution runs in tiles, so memory stays bounded at any size."""
        self.check_upload(image, mask)
        m = None if mask is None else mask[0]
        if self.backend == "onnx":
            return self.net.translate_image(image[0], m, TILE, OVERLAP)[None]
        with torch.inference_mode():
            out = translate_image(self.net, self.task, image[0].to(self.device),
                                  None if m is None else m.to(self.device), TILE, OVERLAP)
        return out[None].float().cpu().numpy()

    def provenance(self, seed: int, labels: str, truncation: float | None, what: str) -> Provenance:
        return Provenance(generator=self.fingerprint, checkpoint=Path(self.checkpoint).name if
                          self.checkpoint else "", step=self.step, ema=self.ema, noise=self.noise,
                          seeds=str(seed), labels=labels,
                          truncation=1.0 if truncation is None else float(truncation), what=what)


def _scores(run_dir: Path | None) -> dict[str, Any]:
    """The scalar scores of RUN/eval.json (each metric's numbers and the step they were measured
    at); {} when there is none or it is unreadable."""
    if run_dir is None:
        return {}
    path = run_dir / "eval.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_EVAL_JSON:
            return {}
        metrics = json.loads(path.read_text()).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return {}
    out: dict[str, Any] = {}
    for name, entry in (metrics.items() if isinstance(metrics, dict) else ()):
        if not isinstance(entry, dict):
            continue
        vals = {k: v for k, v in entry.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                and (not isinstance(v, float) or math.isfinite(v))}
        prov = entry.get("provenance") if isinstance(entry.get("provenance"), dict) else {}
        if "checkpoint_step" in prov:
            vals["step"] = prov["checkpoint_step"]
        out[str(name)] = vals
    return out


def _info(m: ServedModel, arch: str, data: str, scores: dict[str, Any]) -> dict[str, Any]:
    """What /v1/model shows: enough to call the model right without the run's files."""
    spec = m.spec
    info = {
        "task": m.task, "architecture": arch, "data": data, "data_shape": list(spec.data_shape),
        "value_range": [-1, 1] if m.images else "data units",
        "z_dim": 0 if m.can_translate else spec.z_dim, "noise": m.noise, "conditional": spec.cond == "class",
        "num_classes": spec.num_classes,
        "classes": list(range(spec.num_classes)),  # what /v1/samples' labels take
        "class_names": list(m.class_names) or None,  # the data's names, when the run recorded them
        "step": m.step, "ema": m.ema, "generator": m.fingerprint, "backend": m.backend,
        "formats": ["png"] if m.can_translate else ["png", "npy", "json"] if m.images else ["npy", "json"],
        "scores": scores,
    }
    if m.truncates_in_w:
        info["truncation"] = "not served: a style-based model truncates w (use ganforge sample)"
    if m.can_translate:
        any_size = m.task in TILED_TASKS
        c, h, w = m.image_channels, *spec.cond_shape[1:]
        info |= {"input_shape": [c, None, None] if any_size else [c, h, w],
                 "output_shape": [spec.data_shape[0], None, None] if any_size else list(spec.data_shape),
                 "scale": m.scale, "any_size": any_size, "mask": m.task in MASK_TASKS,
                 "trained_on": {"input_shape": [c, h, w], "output_shape": list(spec.data_shape)}}
    return info


def load_served(path: str | Path, backend: str = "torch", device: str = "auto",
                use_ema: bool = True, direction: str | None = None) -> ServedModel:
    """The model of a run directory, a checkpoint file or (backend onnx) an exported .onnx file.
    backend="onnx" with a run or checkpoint exports it to a temporary file first (deleted once
    onnxruntime has read it); onnxruntime runs on the CPU. A CycleGAN run serves one translator,
    `direction` (AtoB by default)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        if backend != "onnx":
            raise ConfigError(f"{path} is an ONNX model: serve it with --backend onnx")
        if direction is not None:
            raise ConfigError(f"{path} holds one translator already; --direction picks one of a run's two")
        return _from_onnx_file(path)
    if backend == "onnx" and device not in ("auto", "cpu"):
        raise ConfigError(f"the onnx backend runs on the CPU; --device {device} is for --backend torch")
    return _from_checkpoint(path, backend, device, use_ema, direction)


def _from_onnx_file(path: Path) -> ServedModel:
    from ..export import OnnxGenerator

    og = OnnxGenerator(path)
    meta = og.metadata
    step = int(meta.get("step", "0") or 0)
    m = ServedModel(og.spec, og.noise_kind, "onnx", meta.get("generator", ""), step,
                    meta.get("checkpoint", str(path)), meta.get("ema") == "true", net=og, task=og.task,
                    class_names=og.class_names, truncates_in_w=og.truncates_in_w)
    m.info = _info(m, "onnx", "", {})
    return m


def _from_checkpoint(path: Path, backend: str, device: str, use_ema: bool,
                     direction: str | None = None) -> ServedModel:
    from ..export import OnnxGenerator, export_onnx
    from ..generation import load
    from ..training.state import run_dir_of

    g: LoadedGenerator = load(path, device="cpu" if backend == "onnx" else device, use_ema=use_ema)
    g = g.one_way(direction)  # a CycleGAN run: one of its translators
    task = g.config.task.kind
    net: Any = g.net
    if backend == "onnx":
        with tempfile.TemporaryDirectory(prefix="ganforge-serve-") as tmp:
            onnx_path = export_onnx(g.net, Path(tmp) / "model.onnx", g.noise_kind,
                                    g.provenance(what="served by onnxruntime"), task, g.class_names)
            net = OnnxGenerator(onnx_path)
    m = ServedModel(g.net.spec, g.noise_kind, backend, g.fingerprint, g.step, g.source, g.ema, net=net,
                    device=g.device, task=task, class_names=g.class_names, truncates_in_w=g.is_style)
    run_dir = path if path.is_dir() else run_dir_of(g.source)
    m.info = _info(m, g.config.g.arch, g.config.data.name, _scores(run_dir))
    return m
