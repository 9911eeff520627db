"""Networks: nn.Modules only, no training logic. `build_g` / `build_d` resolve `arch` names."""

from . import dcgan, resnet  # noqa: F401  (register "dcgan", "resnet")
from .mlp import NETS, build_d, build_g

__all__ = ["NETS", "build_d", "build_g"]
