"""Synthetic media says so: the provenance every generated file carries, and how to read it back.

A PNG carries it as text chunks (Pillow's PngInfo), a GIF as its comment (JSON), an ONNX model in
its metadata_props; arrays (.npy / .csv) get a sidecar `FILE.provenance.json`. `ganforge sample`,
`ganforge export` and `ganforge inspect` use this module; the server and the lab's exports can too:
it needs only the facts (a generator's hash, its step, the seeds), not the generator.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import DataError

# IPTC's term for media made by a trained model: what provenance-aware tools look for.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SIDECAR_SUFFIX = ".provenance.json"
GIF_TAG = "ganforge-provenance "  # a GIF comment starting with this is ours (the rest is JSON)


def state_hash(module: torch.nn.Module, length: int = 16) -> str:
    """sha256 of a module's state tensors (names, dtypes, shapes, values), shortened: the same
    weights give the same hash on any device, whatever file they were loaded from."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Provenance:
    """What made a file: a generator (hash, checkpoint, step, EMA or not) under given inputs
    (seeds, classes, truncation, noise). `synthetic` is always true: that is the point."""

    generator: str  # state_hash of the generator
    checkpoint: str = ""  # the checkpoint file it was loaded from
    step: int = 0
    ema: bool = False
    noise: str = "normal"
    seeds: str = ""  # "3", "0-63" or "walk through 0,1,2,3"
    labels: str = ""  # "7", "one row per class", "drawn from the seed" or ""
    truncation: float = 1.0  # 1 = none
    what: str = ""  # "grid of 64", "seed 5", "latent walk, 60 frames", "1000 samples"
    ganforge_version: str = ""
    synthetic: bool = True
    digital_source_type: str = DIGITAL_SOURCE_TYPE

    def __post_init__(self) -> None:
        if not self.ganforge_version:
            from . import __version__

            object.__setattr__(self, "ganforge_version", __version__)

    def fields(self) -> dict[str, str]:
        """Flat text fields (PNG chunks, ONNX metadata): booleans as 'true' / 'false'."""
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in asdict(self).items()}

    def png_info(self) -> Any:
        """Pillow PngInfo with one text chunk per field (plus Software), for Image.save(pnginfo=)."""
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", f"ganforge {self.ganforge_version}")
        for k, v in self.fields().items():
            info.add_text(k, v)
        return info

    def gif_comment(self) -> bytes:
        return (GIF_TAG + json.dumps(self.fields(), sort_keys=True)).encode()


def write_sidecar(path: str | Path, prov: Provenance) -> Path:
    """`FILE.provenance.json` beside an array file, written to a temporary name and renamed."""
    side = Path(f"{path}{SIDECAR_SUFFIX}")
    tmp = side.with_name(f".{side.name}.tmp")
    tmp.write_text(json.dumps(prov.fields(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, side)
    return side


def read(path: str | Path) -> dict[str, str] | None:
    """The provenance a file carries (PNG chunks, GIF comment, ONNX metadata or a sidecar), or
    None when it has none. A missing file is a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    side = Path(f"{path}{SIDECAR_SUFFIX}")
    if side.is_file():
        return {str(k): str(v) for k, v in json.loads(side.read_text()).items()}
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _read_onnx(path)
    if suffix in (".png", ".gif"):
        return _read_image(path)
    return None


def _read_image(path: Path) -> dict[str, str] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format == "PNG":
                text = dict(im.text)
                return {k: str(v) for k, v in text.items()} if text.get("synthetic") else None
            comment = im.info.get("comment", b"")
    except (UnidentifiedImageError, OSError):
        return None
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", "replace")
    if not comment.startswith(GIF_TAG):
        return None
    try:
        return {str(k): str(v) for k, v in json.loads(comment[len(GIF_TAG):]).items()}
    except json.JSONDecodeError:
        return None


def _read_onnx(path: Path) -> dict[str, str] | None:
    try:
        import onnx
    except ImportError:
        return None
    try:  # the graph only: weights stored beside it need not be read to see the metadata
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not an ONNX file: it simply carries no provenance
        return None
    props = {p.key: p.value for p in model.metadata_props}
    return props if props.get("synthetic") else None
