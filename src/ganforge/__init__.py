"""ganforge: train GANs that work, see why they fail, measure them honestly."""

__version__ = "0.1.0"
