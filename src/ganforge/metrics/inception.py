"""The FID Inception-v3 graph, written here so that FID / IS need no torchvision and no download.

This is the network of pytorch-fid (``fid_inception_v3``) and torch-fidelity: torchvision's
Inception-v3 layout and parameter names (so the weights load with ``strict=True``), 1008 classes,
no auxiliary head, and the TensorFlow 2015 graph's pooling quirks:

* the pool branches of Mixed_5b-5d (A), Mixed_6b-6e (C) and Mixed_7b (E, first) average over the
  in-image pixels only (``count_include_pad=False``), as TensorFlow's ``SAME`` average pool does;
* the pool branch of Mixed_7c (E, second) is a 3x3 *max* pool, not an average pool.

The weights (``WEIGHTS_FILE``, a plain state dict) are the TensorFlow ``inception-2015-12-05``
weights ported by pytorch-fid; users download them from ``WEIGHTS_URL`` themselves and pass the
path, or set ``$GANFORGE_INCEPTION_WEIGHTS``. Nothing here ever touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import CheckpointError, ConfigError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILE
ENV_VAR = "GANFORGE_INCEPTION_WEIGHTS"

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008  # the 2015 TF graph: 1000 ImageNet classes + 8 unused/background outputs


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3, as in the TF graph) -> ReLU; keys ``conv.*``, ``bn.*``."""

    def __init__(self, cin: int, cout: int, kernel_size: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: Tensor) -> Tensor:
    # TF's SAME average pool divides by the number of in-image pixels, hence count_include_pad=False.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: Tensor) -> Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b-5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """35 -> 17 reduction (Mixed_6a): stride-2 3x3 | 1x1-3x3-3x3/2 | maxpool/2 -> 480 + cin."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    """17x17 block (Mixed_6b-6e) with factorised 7x7 convolutions of width c7 -> 768 channels."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))  # (kernel, padding) of the 1x7 and 7x1 convs
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = BasicConv2d(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, row[0], padding=row[1])
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                     self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """17 -> 8 reduction (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 -> 512 + cin."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8x8 block (Mixed_7b, Mixed_7c) with split 1x3 / 3x1 outputs -> 2048 channels.

    ``max_pool`` selects the FID graph's quirk: Mixed_7c pools with a 3x3 max pool, Mixed_7b with
    the padding-excluding average pool."""

    def __init__(self, cin: int, max_pool: bool = False) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _max_pool_same(x) if self.max_pool else _avg_pool_same(x)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 as used for FID / IS: images in [-1, 1] -> (2048-d pool features, 1008 logits).

    Preprocessing follows pytorch-fid's ``InceptionV3(resize_input=True, normalize_input=True)``:
    it takes [0, 1] images, resizes them to 299x299 with ``F.interpolate(mode='bilinear',
    align_corners=False)`` and then maps them to [-1, 1]. ganforge images are already in [-1, 1];
    since bilinear weights sum to one, resizing and the affine map commute, so resizing the [-1, 1]
    image gives the same network input (to float rounding). Grey images are repeated to three
    channels, as pytorch-fid's ``PIL.Image.convert('RGB')`` does.

    Differences to be aware of: pytorch-fid reads 8-bit image files, so for exact parity quantise
    samples to 256 levels before calling this (not done here); torch-fidelity resizes with its
    own TF1-style bilinear kernel instead of ``F.interpolate``, which moves scores slightly.
    Logits are ``fc(features)`` with bias and no dropout (the caller puts the model in eval mode;
    ``load_inception`` does).
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    @staticmethod
    def preprocess(x: Tensor) -> Tensor:
        """(n, 1|3, h, w) in [-1, 1] -> (n, 3, 299, 299) in [-1, 1], the network's input."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape (n, 1 or 3, h, w), got {tuple(x.shape)}")
        x = x.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)

    def features(self, x: Tensor) -> Tensor:
        """(n, 2048) average-pooled Mixed_7c activations: the FID / KID feature space."""
        x = self.preprocess(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features (n, 2048), logits (n, 1008)): FID needs the first, Inception Score the second."""
        feats = self.features(x)
        return feats, self.fc(feats)


def resolve_weights(path: str | os.PathLike[str] | None) -> Path:
    """The weights file to use: ``path``, else ``$GANFORGE_INCEPTION_WEIGHTS``.

    Raises a one-line ConfigError saying how to obtain the file, because we never download it."""
    source = "--inception-weights"
    if path is None or str(path) == "":
        path = os.environ.get(ENV_VAR) or None
        source = f"${ENV_VAR}"
    if path is None:
        raise ConfigError(
            f"FID/IS need the Inception weights {WEIGHTS_FILE}: download it from {WEIGHTS_URL} "
            f"and pass --inception-weights PATH or set {ENV_VAR}=PATH"
        )
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(
            f"Inception weights not found at {p} (from {source}): expected the file {WEIGHTS_FILE}, "
            f"downloadable from {WEIGHTS_URL}"
        )
    return p


def _check_state_dict(model: nn.Module, state: dict[str, Tensor], where: Path) -> None:
    """Compare keys and shapes before load_state_dict, so a wrong file is one line, not a traceback."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), first {missing[0]!r}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), first {unexpected[0]!r}")
        raise CheckpointError(
            f"{where} is not the FID Inception-v3 state dict ({WEIGHTS_FILE}): {'; '.join(parts)}"
        )
    for k, v in expected.items():
        got = state[k]
        if not isinstance(got, Tensor) or got.shape != v.shape:
            shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            raise CheckpointError(
                f"{where} is not the FID Inception-v3 state dict ({WEIGHTS_FILE}): "
                f"{k!r} has shape {shape}, expected {tuple(v.shape)}"
            )


def load_inception(path: str | os.PathLike[str] | None = None) -> FIDInceptionV3:
    """Build the graph and load the weights strictly: eval mode, gradients off.

    ``path`` is resolved by ``resolve_weights``. The file is read with ``weights_only=True`` (a
    plain state dict needs no code execution). A file without BatchNorm ``num_batches_tracked``
    buffers (older PyTorch saves) gets them filled with 0; they play no part in eval mode. Any
    other key or shape mismatch, or an unreadable file, raises a one-line CheckpointError."""
    p = resolve_weights(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure to read is the user's file: report it in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"cannot read Inception weights {p}: {type(e).__name__}: {first[:200]}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{p} holds a {type(state).__name__}, not a state dict ({WEIGHTS_FILE})")
    model = FIDInceptionV3()
    state = dict(state)
    for k, v in model.state_dict().items():
        if k.endswith(".num_batches_tracked") and k not in state:
            state[k] = torch.zeros_like(v)
    _check_state_dict(model, state, p)
    model.load_state_dict(state, strict=True)
    model.eval()
    model.requires_grad_(False)
    return model
