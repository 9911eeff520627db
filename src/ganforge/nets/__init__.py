"""Networks: nn.Modules only, no training logic. `build_g` / `build_d` resolve `arch` names."""

from . import dcgan  # noqa: F401  (registers "dcgan")
from .mlp import NETS, build_d, build_g

__all__ = ["NETS", "build_d", "build_g"]
