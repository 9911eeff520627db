"""Feature extractors: samples -> vectors (and, for classifiers, class probabilities).

A metric is two steps, as in torch-fidelity: an extractor from this registry, then a statistic on
the vectors (frechet, kid, prdc, inception_score). Any extractor works with any statistic. Each
extractor has a `hash` that identifies its weights, written into the provenance of every score.

    identity       2-D points (or any flat vectors) as they are
    pixels[:S]     images flattened, optionally resized to SxS first (antialiased)
    lenet-mnist    ganforge's own MNIST classifier (trained on first use, cached): 128-d per channel
    lenet-fashion  the same on Fashion-MNIST
    inception      the FID Inception-v3 graph, weights from a local file only (2048-d)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import Registry

FEATURES: Registry = Registry("feature extractor")


@dataclass
class Extracted:
    features: np.ndarray  # (n, d) float32
    probs: np.ndarray | None = None  # (n, classes) class probabilities, classifiers only


@dataclass
class Extractor:
    """Base: subclasses implement `_batch`. `dim` is the feature size, `classes` 0 if none."""

    name: str
    hash: str
    dim: int
    classes: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 500
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def to(self, device: torch.device) -> Extractor:
        """Run on `device` (its network too): batches move there, features come back to the CPU."""
        self.device = device
        return self

    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def extract(self, x: torch.Tensor, progress: bool = False) -> Extracted:
        """Features (and probabilities) of samples, in batches; `x` as the generator makes it."""
        feats, probs = [], []
        chunks = x.split(self.batch_size)
        if progress and len(chunks) > 4:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc=f"features ({self.name})", unit="batch", leave=False)
        with _exact_convolutions(self.device):
            for chunk in chunks:
                f, p = self._batch(chunk.to(self.device))
                feats.append(f.float().cpu().numpy())
                if p is not None:
                    probs.append(p.double().cpu().numpy())
        out_f = np.concatenate(feats) if feats else np.zeros((0, self.dim), np.float32)
        return Extracted(out_f, np.concatenate(probs) if probs else None)

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "hash": self.hash, "dim": self.dim, "device": self.device.type,
                **self.details}


def _exact_convolutions(device: torch.device) -> Any:
    """cuDNN runs fp32 convolutions in TF32 by default (10-bit mantissa): features, and so FID,
    would then depend on the GPU. Scores are computed in full fp32."""
    import contextlib

    if device.type != "cuda":
        return contextlib.nullcontext()
    return torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False,
                                      allow_tf32=False)


class _Identity(Extractor):
    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x.reshape(len(x), -1), None


@FEATURES.register("identity")
def identity(dim: int = 2, **_: Any) -> Extractor:
    """Points as they are: FID / PRDC on the raw 2-D mixtures."""
    return _Identity("identity", "identity", dim)


class _Pixels(Extractor):
    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        s = self.details["size"]
        if s and x.dim() == 4 and x.shape[-1] != s:
            x = F.interpolate(x.float(), size=(s, s), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > s)
        return x.reshape(len(x), -1), None


@FEATURES.register("pixels")
def pixels(arg: str | None = None, shape: tuple[int, ...] = (), **_: Any) -> Extractor:
    """Raw pixels (optionally resized to SxS): needs no network, sees no semantics."""
    try:
        size = int(arg) if arg else 0
    except ValueError:
        raise ConfigError(f"pixels:S needs an integer size S, got {arg!r}") from None
    if size < 0:
        raise ConfigError(f"pixels:S needs S >= 1, got {size}")
    c, h, w = shape if len(shape) == 3 else (1, 0, 0)
    dim = c * size * size if size else c * h * w
    return _Pixels(f"pixels:{size}" if size else "pixels", f"pixels-{size or 'native'}", dim,
                   details={"size": size})


class _LeNet(Extractor):
    """Each channel is classified as a grey digit; features concatenate, probabilities multiply
    (3 channels of stacked MNIST -> 1,000 classes, class 100a + 10b + c)."""

    def __init__(self, clf: Any, channels: int) -> None:
        from .classifier import FEATURE_DIM

        k = clf.net.classes
        super().__init__(clf.name, clf.hash, FEATURE_DIM * channels, k ** channels if channels <= 3 else 0,
                         details={"held_out_accuracy": clf.info["held_out_accuracy"],
                                  "n_held_out": clf.info["n_held_out"],
                                  "held_out": clf.info["split"], "trained_on": clf.info["data"],
                                  "weights": str(clf.path)})
        self.clf = clf
        self.channels = channels

    def to(self, device: torch.device) -> Extractor:
        self.clf.net.to(device)
        return super().to(device)

    def _logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from .classifier import to_classifier_input

        f, logits = self.clf.net(to_classifier_input(x))
        return f.reshape(len(x), -1), logits.reshape(len(x), x.shape[1], -1)

    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        from .classifier import joint_probs

        f, logits = self._logits(x)
        if not self.classes:
            return f, None
        p = logits.double().softmax(-1)
        return f, joint_probs([p[:, i] for i in range(p.shape[1])])

    @torch.no_grad()
    def classify_channels(self, x: torch.Tensor) -> torch.Tensor:
        """(n, c) predicted class of every channel of every image."""
        return torch.cat([self._logits(chunk.to(self.device))[1].argmax(-1).cpu()
                          for chunk in x.split(self.batch_size)])


def _lenet(name: str, shape: tuple[int, ...], data_path: str | None, cache: str | None,
           progress: bool) -> Extractor:
    from .classifier import fit_classifier

    if len(shape) not in (0, 3):
        raise ConfigError(f"{name} needs images (c, h, w), got samples of shape {shape}")
    clf = fit_classifier(name, data_path=data_path, cache=cache, progress=progress)
    return _LeNet(clf, shape[0] if shape else 3)


@FEATURES.register("lenet-mnist")
def lenet_mnist(shape: tuple[int, ...] = (), data_path: str | None = None, cache: str | None = None,
                progress: bool = False, **_: Any) -> Extractor:
    return _lenet("lenet-mnist", shape, data_path, cache, progress)


@FEATURES.register("lenet-fashion")
def lenet_fashion(shape: tuple[int, ...] = (), data_path: str | None = None, cache: str | None = None,
                  progress: bool = False, **_: Any) -> Extractor:
    return _lenet("lenet-fashion", shape, data_path, cache, progress)


class _Inception(Extractor):
    def __init__(self, model: torch.nn.Module, path: str, digest: str) -> None:
        super().__init__("inception", digest, 2048, 1008, details={"weights": path}, batch_size=50)
        self.model = model

    def to(self, device: torch.device) -> Extractor:
        self.model.to(device)
        return super().to(device)

    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, logits = self.model(x.float())
        return f, logits.double().softmax(-1)


@FEATURES.register("inception")
def inception(inception_weights: str | None = None, **_: Any) -> Extractor:
    """The FID Inception-v3 (pytorch-fid's graph); weights only from a local file."""
    from .inception import load_inception, resolve_weights

    path = resolve_weights(inception_weights)
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return _Inception(load_inception(str(path)), str(path), h.hexdigest()[:16])


def build_extractor(spec: str, shape: tuple[int, ...] = (), device: torch.device | str = "cpu",
                    **options: Any) -> Extractor:
    """`spec` is NAME or NAME:ARG (pixels:16); `shape` is one sample's shape; `device` where its
    network runs; options go to the factory (data_path, cache, inception_weights, progress)."""
    name, _, arg = spec.partition(":")
    factory = FEATURES.get(name)
    if arg:
        options["arg"] = arg
    elif name == "identity" and shape:
        options["dim"] = int(np.prod(shape))
    return factory(shape=tuple(shape), **options).to(torch.device(device))


def default_extractor(data_name: str, shape: tuple[int, ...]) -> str:
    """The natural feature space of a data set: points as they are, MNIST-like images in ganforge's
    own classifier, anything else in pixels (inception needs a weights file the user gives)."""
    if len(shape) < 3:
        return "identity"
    if shape[0] in (1, 3) and data_name in ("mnist", "stacked-mnist", "idx"):
        return "lenet-mnist"
    if shape[0] == 1 and data_name == "fashion-mnist":
        return "lenet-fashion"
    return "pixels"
