"""Checkpoints: self-describing, safe to load, written atomically, resumable exactly.

One checkpoint is one safetensors file: every tensor of the run (G, D, EMA of G, optimiser state,
RNG states) plus string metadata (format, schema version, ganforge and torch versions, the full
config as YAML, the step, optimiser settings as JSON). Loading never unpickles anything.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .. import __version__
from ..config import RunConfig, from_dict
from ..errors import CheckpointError, ConfigError
from .trainer import RNG_ROLES, Trainer

FORMAT = "ganforge-checkpoint"
SCHEMA_VERSION = 1
_NAME = re.compile(r"^step_(\d+)\.safetensors$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step_{step:07d}.safetensors"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path:
    run = Path(run_dir)
    if not run.exists():
        raise CheckpointError(f"run directory not found: {run}")
    if run.is_file():
        return run  # a checkpoint file given directly
    found = list_checkpoints(run)
    if not found:
        raise CheckpointError(f"no checkpoint in {run / 'checkpoints'}; is {run} a ganforge run?")
    return found[-1][1]


# --- flattening -----------------------------------------------------------------------------


def _opt_flat(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor]) -> str:
    sd = opt.state_dict()
    scalars: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{key}"] = val.detach().clone().contiguous()
            else:
                scalars[f"{idx}.{key}"] = val
    return json.dumps({"param_groups": sd["param_groups"], "scalars": scalars})


def _opt_unflat(prefix: str, tensors: dict[str, torch.Tensor], meta: str) -> dict[str, Any]:
    info = json.loads(meta)
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, val in tensors.items():
        if name.startswith(head):
            idx, key = name[len(head):].split(".", 1)
            state.setdefault(int(idx), {})[key] = val
    for name, val in info["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": info["param_groups"]}


def _module_tensors(prefix: str, module: torch.nn.Module, out: dict[str, torch.Tensor]) -> None:
    for k, v in module.state_dict().items():
        out[f"{prefix}.{k}"] = v.detach().clone().contiguous()


def _module_state(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    head = prefix + "."
    return {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}


# --- save / load ----------------------------------------------------------------------------


def save_checkpoint(trainer: Trainer, path: str | Path, cfg: RunConfig | None = None) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, then rename over.
    `cfg` replaces the stored config (the lab exports its settings as a runnable config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    _module_tensors("g", trainer.g, tensors)
    _module_tensors("d", trainer.d, tensors)
    if trainer.g_ema is not None:
        _module_tensors("g_ema", trainer.g_ema, tensors)
    for role in RNG_ROLES:
        tensors[f"rng.{role}"] = trainer.rng[role].get_state()
    meta = {
        "format": FORMAT,
        "schema_version": str(SCHEMA_VERSION),
        "ganforge_version": __version__,
        "torch_version": torch.__version__,
        "config": (cfg or trainer.cfg).to_yaml(),
        "step": str(trainer.step),
        "data_shape": json.dumps(list(trainer.data.shape)),
        "num_classes": str(trainer.num_classes),
        "opt_g": _opt_flat(trainer.opt_g, "opt_g", tensors),
        "opt_d": _opt_flat(trainer.opt_d, "opt_d", tensors),
    }
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class Checkpoint:
    """A loaded checkpoint: its config, step, metadata and tensors."""

    def __init__(self, path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]):
        self.path = path
        self.tensors = tensors
        self.meta = meta
        try:
            self.config: RunConfig = from_dict(yaml.safe_load(meta["config"]))
        except ConfigError as e:
            raise CheckpointError(f"{path}: stored config is invalid: {e}") from None
        self.step = int(meta["step"])

    def has_ema(self) -> bool:
        return any(k.startswith("g_ema.") for k in self.tensors)


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = latest_checkpoint(path)
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ganforge checkpoint")
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path}: schema version {version} is newer than this ganforge understands "
            f"({SCHEMA_VERSION}); upgrade ganforge"
        )
    return Checkpoint(path, tensors, meta)


def restore(trainer: Trainer, ckpt: Checkpoint) -> Trainer:
    """Put every tensor, optimiser state, RNG state and the step back into a fresh trainer."""
    try:
        trainer.g.load_state_dict(_module_state("g", ckpt.tensors))
        trainer.d.load_state_dict(_module_state("d", ckpt.tensors))
        if trainer.g_ema is not None:
            src = "g_ema" if ckpt.has_ema() else "g"
            trainer.g_ema.load_state_dict(_module_state(src, ckpt.tensors))
        trainer.opt_g.load_state_dict(_opt_unflat("opt_g", ckpt.tensors, ckpt.meta["opt_g"]))
        trainer.opt_d.load_state_dict(_opt_unflat("opt_d", ckpt.tensors, ckpt.meta["opt_d"]))
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"{ckpt.path}: does not fit the configured networks ({first}); "
            "architecture keys cannot change on resume"
        ) from None
    _match_layouts(trainer.opt_g)
    _match_layouts(trainer.opt_d)
    for role in RNG_ROLES:
        if f"rng.{role}" in ckpt.tensors:  # a role added later keeps its seeded start
            trainer.rng[role].set_state(ckpt.tensors[f"rng.{role}"])
    trainer.step = ckpt.step
    trainer.update_config(trainer.cfg)  # config wins for lr / betas (e.g. --set on resume)
    return trainer


def _match_layouts(opt: torch.optim.Optimizer) -> None:
    """Give restored optimiser state its parameter's memory layout (channels_last weights):
    the fused Adam kernel walks parameter and state memory together."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(v)


def generator_from(ckpt: Checkpoint, use_ema: bool = True) -> torch.nn.Module:
    """The checkpoint's generator (its EMA copy when asked and present), in eval mode."""
    from ..nets import build_g

    g = build_g(ckpt.config.g, tuple(json.loads(ckpt.meta.get("data_shape", "[2]"))),
                int(ckpt.meta.get("num_classes", "0")))
    src = "g_ema" if (use_ema and ckpt.has_ema()) else "g"
    try:
        g.load_state_dict(_module_state(src, ckpt.tensors))
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt.path}: generator weights do not fit ({e})") from None
    g.eval()
    g.requires_grad_(False)
    return g


def load_generator(run: str | Path, use_ema: bool = True) -> tuple[Checkpoint, torch.nn.Module]:
    """The generator of a run's latest checkpoint (its EMA copy when there is one), in eval mode."""
    ckpt = load_checkpoint(run)
    return ckpt, generator_from(ckpt, use_ema)


def prune(run_dir: str | Path, keep_last: int) -> None:
    for _, p in list_checkpoints(run_dir)[:-keep_last]:
        p.unlink(missing_ok=True)
