"""Evaluation classifiers trained by ganforge itself: no weights are ever downloaded.

A small LeNet-style CNN is trained on the real data with a fixed recipe and seed, and cached under
`$GANFORGE_CACHE/classifiers/` (default `~/.cache/ganforge`) by a hash of the data bytes, the
recipe and this module's version, so every machine that has the same data gets the same network.
Its penultimate layer (128-d) gives features for FID/KID/PRDC; its softmax gives class predictions
(stacked-MNIST mode counting, inception score).

Held-out split: every fifth image (index % 5 == 4) is never trained on; the accuracy on it is
stored beside the weights. On the shared 10,000-image MNIST set that is 8,000 train / 2,000 test.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, ConfigError

VERSION = 1  # bump when the net or the training procedure changes: old caches are then ignored
HELD_OUT = "every fifth image (index % 5 == 4) held out, never trained on"
INPUT_SIZE = 28
FEATURE_DIM = 128


@dataclass(frozen=True)
class Recipe:
    data: str  # a ganforge image set with labels
    steps: int
    batch_size: int = 64
    width: int = 16
    max_lr: float = 3e-3
    shift: int = 2  # random translation of up to this many pixels
    seed: int = 0
    threads: int = 2  # fixed, so that the float results are the same on every machine


RECIPES: dict[str, Recipe] = {
    "lenet-mnist": Recipe(data="mnist", steps=1000),  # 8 epochs of the 8,000-image split
    "lenet-fashion": Recipe(data="fashion-mnist", steps=3000),  # ~3.4 epochs of 56,000
}


class LeNet(nn.Module):
    """Four 3x3 conv layers (BN, ReLU, two max-pools), FC-128, FC-classes: ~99% on MNIST."""

    def __init__(self, width: int = 16, classes: int = 10) -> None:
        super().__init__()

        def block(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        w = width
        self.body = nn.Sequential(*block(1, w), *block(w, w), nn.MaxPool2d(2),
                                  *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(2 * w * 49, FEATURE_DIM), nn.ReLU())
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, classes)
        self.classes = classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (n, 128), logits (n, classes)) of grey 28x28 images in [-1, 1]."""
        f = self.body(x)
        return f, self.head(self.drop(f))


def cache_root() -> Path:
    """$GANFORGE_CACHE, else ~/.cache/ganforge; safe to delete."""
    env = os.environ.get("GANFORGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ganforge"


def _split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.arange(n)
    test = idx % 5 == 4
    return idx[~test], idx[test]


def data_hash(images: torch.Tensor, labels: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(str(tuple(images.shape)).encode())
    h.update(images.contiguous().numpy().tobytes())
    h.update(labels.to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def cache_key(name: str, recipe: Recipe, dhash: str) -> str:
    blob = json.dumps({"name": name, "recipe": asdict(recipe), "data": dhash, "version": VERSION},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load_data(recipe: Recipe, data_path: str | None) -> tuple[torch.Tensor, torch.Tensor, str]:
    from ..data.images import IMAGE_SETS

    data = IMAGE_SETS.get(recipe.data)(path=data_path)
    if data.labels is None:
        raise ConfigError(f"{recipe.data}: the classifier needs labels (the *-labels-idx1 file)")
    if tuple(data.images.shape[1:]) != (1, INPUT_SIZE, INPUT_SIZE):
        raise ConfigError(f"{recipe.data}: the classifier needs 1x28x28 images, got "
                          f"{tuple(data.images.shape[1:])}")
    return data.images, data.labels.to(torch.int64), data.description


def _to_input(u8: torch.Tensor) -> torch.Tensor:
    return u8.float() / 127.5 - 1.0


@torch.no_grad()
def accuracy(net: LeNet, images_u8: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    hits = 0
    for xb, yb in zip(images_u8.split(1000), labels.split(1000), strict=True):
        hits += int((net(_to_input(xb))[1].argmax(1) == yb).sum())
    return hits / len(labels)


def train_classifier(images_u8: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                     progress: bool = False) -> tuple[LeNet, dict[str, Any]]:
    """Train on the non-held-out images with the recipe; return the net and its held-out accuracy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        torch.manual_seed(recipe.seed)
        gen = torch.Generator().manual_seed(recipe.seed)
        tr, te = _split(len(images_u8))
        classes = int(labels.max()) + 1
        net = LeNet(recipe.width, classes)
        opt = torch.optim.Adam(net.parameters(), lr=recipe.max_lr / 25)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.max_lr, total_steps=recipe.steps)
        x_tr, y_tr = images_u8[tr], labels[tr]
        per_epoch = len(tr) // recipe.batch_size
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=recipe.steps, desc="fitting classifier", unit="step", leave=False)
        t0 = time.process_time()
        net.train()
        step = 0
        s = recipe.shift
        while step < recipe.steps:
            perm = torch.randperm(len(tr), generator=gen)
            for i in range(per_epoch):
                if step >= recipe.steps:
                    break
                b = perm[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                xb = F.pad(_to_input(x_tr[b]), (s, s, s, s), value=-1.0)
                dx, dy = torch.randint(0, 2 * s + 1, (2,), generator=gen).tolist()
                xb = xb[:, :, dy:dy + INPUT_SIZE, dx:dx + INPUT_SIZE]
                loss = F.cross_entropy(net(xb)[1], y_tr[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        acc = accuracy(net, images_u8[te], labels[te])
        info = {"held_out_accuracy": acc, "n_train": len(tr), "n_held_out": len(te),
                "split": HELD_OUT, "classes": classes, "train_cpu_s": round(time.process_time() - t0, 1)}
        return net.eval(), info
    finally:
        torch.set_num_threads(threads)


@dataclass
class Classifier:
    """A trained evaluation classifier and where it came from."""

    name: str
    net: LeNet
    path: Path
    info: dict[str, Any]

    @property
    def hash(self) -> str:
        """sha256 of the weights (names, shapes, bytes; not the file, whose metadata records the
        training time): the extractor's identity in every score's provenance."""
        h = hashlib.sha256()
        for k, v in sorted(self.net.state_dict().items()):
            h.update(f"{k}{tuple(v.shape)}{v.dtype}".encode())
            h.update(v.contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def fit_classifier(name: str, data_path: str | None = None, cache: str | Path | None = None,
                   force: bool = False, progress: bool = False) -> Classifier:
    """The cached classifier for `name` on this data, trained first if it is not in the cache."""
    if name not in RECIPES:
        raise ConfigError(f"unknown classifier {name!r} (known: {', '.join(sorted(RECIPES))})")
    recipe = RECIPES[name]
    images, labels, description = _load_data(recipe, data_path)
    dhash = data_hash(images, labels)
    key = cache_key(name, recipe, dhash)
    folder = Path(cache) if cache else cache_root() / "classifiers"
    path = folder / f"{name}-{key}.safetensors"
    if path.exists() and not force:
        try:
            return load_classifier_file(name, path)
        except CheckpointError:
            pass  # a damaged cache entry is retrained and replaced
    net, info = train_classifier(images, labels, recipe, progress=progress)
    info.update({"name": name, "data": description, "data_sha256": dhash[:16], "key": key,
                 "recipe": asdict(recipe), "version": VERSION, "torch_version": torch.__version__})
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(tmp), metadata={"ganforge_classifier": json.dumps(info)})
    tmp.replace(path)
    return Classifier(name, net, path, info)


def load_classifier_file(name: str, path: str | Path) -> Classifier:
    """A cached classifier from its safetensors file (its recipe and accuracy ride in the metadata)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        info = json.loads(meta["ganforge_classifier"])
        state = load_file(str(path))
        net = LeNet(int(info["recipe"]["width"]), int(info["classes"]))
        net.load_state_dict(state)
    except (OSError, KeyError, ValueError, RuntimeError, SafetensorError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a ganforge classifier ({msg}); delete it to retrain") from None
    for p in net.parameters():
        p.requires_grad_(False)
    return Classifier(name, net.eval(), path, info)


def joint_probs(probs: list[torch.Tensor]) -> torch.Tensor:
    """Class probabilities of an image whose channels are classified independently: the outer
    product (stacked MNIST: 3 digits -> 1,000 classes, class 100a + 10b + c)."""
    out = probs[0]
    for p in probs[1:]:
        out = (out.unsqueeze(2) * p.unsqueeze(1)).flatten(1)
    return out


def to_classifier_input(x: torch.Tensor) -> torch.Tensor:
    """(n, c, h, w) images in [-1, 1] -> (n * c, 1, 28, 28): channels become separate grey images."""
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w).float()
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        y = F.interpolate(y, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                          antialias=h > INPUT_SIZE)
    return y
