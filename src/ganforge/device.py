"""The device and precision of a run, chosen once and passed down.

`resolve_device("auto")` picks CUDA, else Apple MPS, else the CPU; a device that is not there is a
one-line ConfigError, never a traceback deep inside a forward pass. `Precision` holds what the
device supports: bf16 autocast on CPUs with AVX512-BF16/AMX and on CUDA GPUs that have bf16, fp16
autocast with a GradScaler on older CUDA GPUs, fp32 otherwise.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ConfigError

DEVICE_NAMES = "auto, cpu, cuda, cuda:N, mps"
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_SPEC = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(name: str) -> None:
    """Syntax only (a config is valid on any machine); availability is checked by resolve_device."""
    if not _SPEC.match(name):
        raise ConfigError(f"unknown device {name!r} (known: {DEVICE_NAMES})")


def _mps_available() -> bool:
    return torch.backends.mps.is_available()


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """`auto` = CUDA if available, else MPS, else CPU; anything asked for must exist here."""
    if isinstance(name, torch.device):
        name = str(name)
    name = name.strip().lower()
    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError("device 'mps' is not available here (no Apple GPU or a PyTorch "
                              "without MPS); use --device cpu or auto")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} is not available: this PyTorch ({torch.__version__}) "
                          "sees no CUDA GPU; use --device cpu or auto")
    dev = torch.device(name)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"device {name!r} is not available: {count} CUDA device(s) here "
                          f"(cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix work runs at ~3x the fp32 rate on such CPUs."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _cuda_bf16(device: torch.device) -> bool:
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8  # Ampere and later


@dataclass(frozen=True)
class Precision:
    """How the nets' forward passes run: `dtype` None = fp32; `scaler` for fp16 on CUDA.

    Weights, optimiser state, losses and penalties always stay fp32 (mixed precision, not
    half-precision training)."""

    name: str  # fp32 | bf16 | fp16
    device: torch.device

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def needs_scaler(self) -> bool:
        return self.name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


def resolve_precision(name: str, device: torch.device) -> Precision:
    """`auto`: bf16 on a CPU with AVX512-BF16/AMX, bf16 on CUDA where supported else fp16 (with a
    GradScaler), fp32 elsewhere (MPS, older CPUs). An explicit choice the device cannot do is an
    error."""
    if name not in PRECISIONS:
        raise ConfigError(f"config key 'train.precision' must be one of {', '.join(PRECISIONS)}, "
                          f"got {name!r}")
    kind = device.type
    if name == "auto":
        if kind == "cpu":
            name = "bf16" if cpu_has_bf16() else "fp32"
        elif kind == "cuda":
            name = "bf16" if _cuda_bf16(device) else "fp16"
        else:
            name = "fp32"
    if name == "fp16" and kind != "cuda":
        raise ConfigError(f"train.precision=fp16 needs a CUDA device (this run is on {kind}); "
                          "use bf16, fp32 or auto")
    if name == "bf16" and kind == "mps":
        raise ConfigError("train.precision=bf16 is not supported on mps; use fp32 or auto")
    if name == "bf16" and kind == "cuda" and not _cuda_bf16(device):
        raise ConfigError(f"train.precision=bf16 needs an Ampere or later GPU ({device} is not); "
                          "use fp16 or auto")
    return Precision(name, device)


def make_scaler(precision: Precision) -> torch.amp.GradScaler | None:
    """fp16 gradients underflow without loss scaling; bf16 and fp32 need none."""
    if not precision.needs_scaler:
        return None
    return torch.amp.GradScaler(precision.device.type)


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded torch.Generator on `device` (MPS draws on the CPU: its generators are limited)."""
    where = device if device.type == "cuda" else torch.device("cpu")
    return torch.Generator(device=where).manual_seed(seed)


def draw_normal(shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """N(0, 1) draws from `gen` (on its own device), delivered on `device`."""
    return torch.randn(shape, generator=gen, device=gen.device).to(device)


def draw_uniform(shape: tuple[int, ...], gen: torch.Generator, device: torch.device,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """U(0, 1) draws from `gen`, delivered on `device`."""
    return torch.rand(shape, generator=gen, device=gen.device, dtype=dtype).to(device)


def draw_int(high: int, shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Integers in [0, high) from `gen`, delivered on `device`."""
    return torch.randint(high, shape, generator=gen, device=gen.device).to(device)
