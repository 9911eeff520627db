"""The public Python API: `ganforge.train`, `ganforge.load`, `ganforge.evaluate`.

Thin over the same functions the CLI calls (runs.py, evaluation.py, generation.py), so a script and
the command line produce the same run directories, checkpoints and scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import config as _config
from .config import RunConfig
from .errors import ConfigError
from .generation import LoadedGenerator
from .generation import load as _load

if TYPE_CHECKING:
    from .export import OnnxGenerator


@dataclass
class Run:
    """A trained run: where it is, how far it got and how healthy it ended."""

    dir: Path
    step: int
    state: str | None = None  # health state at the end (Running, Converged, Collapsed ...)
    events: list[str] = field(default_factory=list)  # health events, one line each
    last_log: dict[str, Any] = field(default_factory=dict)  # the last metrics.jsonl record
    retries: int = 0  # rollbacks after divergence

    def generator(self, device: str | torch.device = "auto", use_ema: bool = True) -> LoadedGenerator:
        """The trained generator (its EMA copy when there is one)."""
        return _load(self.dir, device=device, use_ema=use_ema)

    def evaluate(self, metrics: Iterable[str] | str | None = None, **kw: Any) -> dict[str, Any]:
        """Scores of the latest checkpoint (see `ganforge.evaluate`)."""
        return evaluate(self.dir, metrics=metrics, **kw)


def _overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    """{"train.steps": 3000} or ["train.steps=3000"] -> ["train.steps=3000"]."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        import yaml

        out = []
        for k, v in overrides.items():
            text = yaml.safe_dump(v, default_flow_style=True).strip()
            out.append(f"{k}={text.removesuffix('...').strip()}")
        return out
    if isinstance(overrides, str):
        raise ConfigError("overrides must be a dict or a list of 'key=value' strings, not one string")
    return list(overrides)


def _resolve_config(config: RunConfig | str | Path | Mapping[str, Any] | None,
                    overrides: list[str]) -> tuple[RunConfig, str]:
    if config is None:
        return _config.load(None, overrides), "run"
    if isinstance(config, RunConfig):
        return _config.from_dict(_config.apply_overrides(config.to_dict(), overrides)), "run"
    if isinstance(config, Mapping):
        return _config.from_dict(_config.apply_overrides(dict(config), overrides)), "run"
    return _config.load(config, overrides), Path(config).stem


def train(config: RunConfig | str | Path | Mapping[str, Any] | None = None, out: str | Path | None = None,
          overrides: Mapping[str, Any] | Iterable[str] | None = None, *, device: str | None = None,
          callbacks: Iterable[Any] = (), force: bool = False, progress: bool = False,
          plots: bool = True, until: int | None = None) -> Run:
    """Train a GAN and return its Run.

    `config`: a YAML path, a RunConfig, a dict of config keys, or None for the defaults.
    `out`: the run directory (default runs/<config name>). `overrides`: {"train.steps": 3000}.
    `device`: overrides train.device. `callbacks`: objects subclassing `ganforge.Callback`,
    called after the built-in ones (e.g. to log to TensorBoard or W&B)."""
    from .runs import train as _train

    cfg, name = _resolve_config(config, _overrides(overrides))
    target = Path(out) if out is not None else Path("runs") / name
    _, info = _train(cfg, target, force=force, progress=progress, plots=plots, until=until,
                     device=device, callbacks=list(callbacks))
    return _run(info)


def resume(run: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None, *,
           device: str | None = None, callbacks: Iterable[Any] = (), out: str | Path | None = None,
           force: bool = False, progress: bool = False, plots: bool = True,
           until: int | None = None) -> Run:
    """Continue a run (directory or checkpoint file) exactly where it stopped; `out` continues it
    in a new run directory (needed for a checkpoint that is not its run's latest)."""
    from .runs import resume as _resume

    _, info = _resume(run, overrides=_overrides(overrides), progress=progress, plots=plots,
                      until=until, device=device, callbacks=list(callbacks), out=out, force=force)
    return _run(info)


def _run(info: dict[str, Any]) -> Run:
    return Run(Path(info["run"]), info["step"], info.get("state"), list(info.get("events", [])),
               dict(info.get("last_log") or {}), int(info.get("retries", 0)))


BACKENDS = ("auto", "torch", "onnx")


def load(path: str | Path, device: str | torch.device = "auto", use_ema: bool = True,
         backend: str = "auto") -> LoadedGenerator | OnnxGenerator:
    """A trained generator from a run directory (latest checkpoint), a checkpoint file, or an
    exported .onnx file (`backend="auto"` picks by the name; "torch" or "onnx" to insist).

    `g.sample(n, seed=0, labels=None, truncation=None)` gives n samples in data space; `g(z,
    labels)` maps explicit noise; `g.z_dim`, `g.data_shape`, `g.num_classes`. PyTorch: tensors on
    `g.device`, plus `sample_seeds`, `interpolate`, `walk_gif`; style-based runs (g.arch=style)
    also `ws`, `synthesize`, `mix`, `interpolate(..., space="w")` and `project(image)`, and truncate
    in w. ONNX (onnxruntime, CPU): numpy arrays, the same samples for the same seed. No data set
    or flags needed."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    is_onnx = Path(path).suffix.lower() == ".onnx"
    if backend == "onnx" and not is_onnx:
        raise ConfigError(f"backend='onnx' needs a .onnx file, got {path} "
                          "(make one with 'ganforge export RUN -o model.onnx')")
    if backend == "torch" and is_onnx:
        raise ConfigError(f"{path} is an ONNX model: load it with backend='onnx' (or 'auto')")
    if is_onnx:
        from .export import OnnxGenerator

        return OnnxGenerator(path)
    return _load(path, device=device, use_ema=use_ema)


def evaluate(path: str | Path, metrics: Iterable[str] | str | None = None, *, n: int | None = None,
             seed: int | None = None, features: str | None = None, ref: str | None = None,
             device: str | None = None, use_ema: bool | None = None, write: bool = True,
             progress: bool = False) -> dict[str, Any]:
    """Scores of a run's latest checkpoint (or a checkpoint file), each with its provenance;
    merged into RUN/eval.json unless write=False. `metrics`: e.g. ["fid", "kid"]; None = the
    data's defaults. The headline values (e.g. modes, hq, fid) sit at the top level, the detail
    under "metrics", as in `ganforge eval --json`."""
    from .evaluation import as_json
    from .evaluation import evaluate_run as _evaluate

    names = metrics if metrics is None or isinstance(metrics, str) else list(metrics)
    r = _evaluate(path, n=n, seed=seed, use_ema=use_ema, write=write, metrics=names,
                  features=features, ref=ref, progress=progress, device=device)
    return as_json(r)  # as `ganforge eval --json` prints it
