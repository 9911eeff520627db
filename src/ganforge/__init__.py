"""ganforge: train GANs that work, see why they fail, measure them honestly.

    import ganforge
    run = ganforge.train("configs/grid25.yaml", out="runs/grid25", overrides={"train.steps": 500})
    g = ganforge.load("runs/grid25", device="cpu")
    x = g.sample(1000, seed=0)
    scores = ganforge.evaluate("runs/grid25", metrics=["modes"])
    table = ganforge.TabularGAN(epochs=300).fit("data.csv").sample(1000, conditions={"colour": "red"})

The names below are imported on first use, so `import ganforge` (and the CLI) stay quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "train": "api", "resume": "api", "load": "api", "evaluate": "api", "Run": "api",
    "Callback": "training.callbacks", "LoadedGenerator": "generation", "Truncation": "generation",
    "OnnxGenerator": "export", "RunConfig": "config", "TabularGAN": "tabular",
    "GanforgeError": "errors", "ConfigError": "errors", "DataError": "errors",
    "CheckpointError": "errors", "ExportError": "errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ganforge' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
