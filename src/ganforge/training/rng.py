"""One seeded torch.Generator per role: a run is reproducible from its seed and resumes exactly.

Kept apart from the trainer so that checkpoints (state.py) can be read without importing the
training loop."""

from __future__ import annotations

import torch

from ..device import generator as device_generator

# "g": draws a generator makes itself in training (StyleGAN's per-pixel noise, style mixing)
RNG_ROLES = ("data", "noise", "penalty", "augment", "g")
_ROLE_OFFSET = {"init": 0, "data": 1, "noise": 2, "penalty": 3, "eval": 4, "augment": 5, "g": 6}


def role_seed(seed: int, role: str) -> int:
    """Distinct, stable seeds per role derived from the run seed."""
    return (seed * 1_000_003 + _ROLE_OFFSET[role]) % (2**63)


def role_generators(seed: int, device: torch.device) -> dict[str, torch.Generator]:
    """One generator per role; `data` on the CPU (the data set is there), the rest on `device`."""
    cpu = torch.device("cpu")
    return {r: device_generator(cpu if r == "data" else device, role_seed(seed, r)) for r in RNG_ROLES}
