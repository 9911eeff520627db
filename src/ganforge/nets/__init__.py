"""Networks: nn.Modules only, no training logic. `build_g` / `build_d` resolve `arch` names.

Every generator is `G(z, c)` and every discriminator `D(x, c) -> DOut` (nets/contract.py)."""

from . import dcgan, inpaint, patchgan, resnet, srnet, style, unet  # noqa: F401  (register the nets)
from .contract import Discriminator, DOut, Generator, NetSpec
from .mlp import NETS, build_d, build_g

__all__ = ["NETS", "DOut", "Discriminator", "Generator", "NetSpec", "build_d", "build_g"]
