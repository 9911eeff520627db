"""What the server serves: one generator (PyTorch or onnxruntime) behind one small interface.

The server draws each request's inputs itself (`inputs`: the same calls `LoadedGenerator.sample`
makes, from the request's own seed) and hands only the forward pass (`forward`) to the batcher, so
a request's samples do not depend on what it was batched with. The facts /v1/model shows and the
provenance every response carries are read once, at start.
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
from ..generation import LoadedGenerator, Truncation, as_labels, iter_inputs, translate
from ..nets.contract import NetSpec
from ..provenance import Provenance

BACKENDS = ("torch", "onnx")
MAX_EVAL_JSON = 1 << 20  # bytes of eval.json read for /v1/model


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

    @property
    def images(self) -> bool:
        return len(self.spec.data_shape) == 3

    @property
    def can_translate(self) -> bool:
        """Image-to-image models (the paired task's U-Net) take an image, not noise (PyTorch backend:
        ONNX export covers generators of noise so far)."""
        return self.spec.cond == "image" and self.backend == "torch"

    def inputs(self, n: int, seed: int, labels: int | Sequence[int] | None = None,
               truncation: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's inputs for one request on the CPU, drawn exactly as `g.sample(n, seed, ...)` draws them."""
        cpu = torch.device("cpu")
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

    def translate(self, image: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
        """Image -> image (x in [-1, 1], (1, C, H, W); mask (1, 1, H, W) in {0, 1} for inpainting)."""
        if not self.can_translate:
            raise DataError("this model generates from noise; use /v1/samples")
        if mask is not None:
            raise DataError("this model takes no mask (inpainting models do): send the image alone")
        c, h, w = self.spec.cond_shape
        if tuple(image.shape[1:]) != (c, h, w):
            raise DataError(f"this model translates {w}x{h} images with {c} channel(s); got "
                            f"{image.shape[-1]}x{image.shape[-2]} with {image.shape[1]}")
        with torch.inference_mode():
            out = translate(self.net, image.to(self.device))
        return out.float().cpu().numpy()

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


def _info(spec: NetSpec, noise: str, backend: str, fingerprint: str, step: int, ema: bool,
          arch: str, data: str, scores: dict[str, Any]) -> dict[str, Any]:
    images = len(spec.data_shape) == 3
    return {
        "task": "translate" if spec.cond == "image" else "generate",
        "architecture": arch, "data": data, "data_shape": list(spec.data_shape),
        "value_range": [-1, 1] if images else "data units",
        "z_dim": spec.z_dim, "noise": noise, "conditional": spec.cond == "class",
        "num_classes": spec.num_classes,
        # the checkpoint holds no class names (reading the data set for them is not the server's
        # job): the classes are their indices, as /v1/samples takes them
        "classes": list(range(spec.num_classes)),
        "step": step, "ema": ema, "generator": fingerprint, "backend": backend,
        "formats": ["png", "npy", "json"] if images else ["npy", "json"],
        "scores": scores,
    }


def load_served(path: str | Path, backend: str = "torch", device: str = "auto",
                use_ema: bool = True) -> ServedModel:
    """The model of a run directory, a checkpoint file or (backend onnx) an exported .onnx file.
    backend="onnx" with a run or checkpoint exports it to a temporary file first (deleted once
    onnxruntime has read it); onnxruntime runs on the CPU."""
    from ..export import OnnxGenerator, export_onnx
    from ..generation import load
    from ..training.state import run_dir_of

    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        if backend != "onnx":
            raise ConfigError(f"{path} is an ONNX model: serve it with --backend onnx")
        og = OnnxGenerator(path)
        meta = og.metadata
        step = int(meta.get("step", "0") or 0)
        ema = meta.get("ema") == "true"
        info = _info(og.spec, og.noise_kind, "onnx", meta.get("generator", ""), step, ema,
                     "onnx", "", {})
        return ServedModel(og.spec, og.noise_kind, "onnx", meta.get("generator", ""), step,
                           meta.get("checkpoint", str(path)), ema, info, og)
    if backend == "onnx" and device not in ("auto", "cpu"):
        raise ConfigError(f"the onnx backend runs on the CPU; --device {device} is for --backend torch")
    g: LoadedGenerator = load(path, device="cpu" if backend == "onnx" else device, use_ema=use_ema)
    cfg = g.config
    run_dir = path if path.is_dir() else run_dir_of(g.source)
    info = _info(g.net.spec, g.noise_kind, backend, g.fingerprint, g.step, g.ema, cfg.g.arch,
                 cfg.data.name, _scores(run_dir))
    if backend == "torch":
        return ServedModel(g.net.spec, g.noise_kind, "torch", g.fingerprint, g.step, g.source, g.ema,
                           info, g.net, g.device)
    with tempfile.TemporaryDirectory(prefix="ganforge-serve-") as tmp:
        onnx_path = export_onnx(g.net, Path(tmp) / "model.onnx", g.noise_kind,
                                g.provenance(what="served by onnxruntime"))
        og = OnnxGenerator(onnx_path)
    return ServedModel(g.net.spec, g.noise_kind, "onnx", g.fingerprint, g.step, g.source, g.ema, info, og)
