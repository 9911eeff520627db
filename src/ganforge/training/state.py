"""Checkpoints: self-describing, safe to load, written atomically, resumable exactly.

One checkpoint is one safetensors file: every tensor of the run (G, D, EMA of G, optimiser state,
RNG states) plus string metadata (format, schema version, ganforge and torch versions, the full
config as YAML, the step, optimiser settings and fp16 loss-scaler state as JSON). Loading never
unpickles anything, and a checkpoint written on one device loads on any other: tensors are stored
on the CPU and moved to the nets' device on restore.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .. import __version__
from ..config import RunConfig, from_dict
from ..errors import CheckpointError, ConfigError
from ..nets import Generator
from ..nets.progressive import Growing
from .rng import RNG_ROLES, role_seed

if TYPE_CHECKING:
    from .trainer import Trainer

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


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run directory a checkpoint file belongs to (RUN/checkpoints/step_*.safetensors), if any."""
    parent = Path(ckpt_path).resolve().parent
    if parent.name == "checkpoints" and (parent.parent / "config.yaml").exists():
        return parent.parent
    return None


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
                tensors[f"{prefix}.state.{idx}.{key}"] = _cpu(val)
            else:
                scalars[f"{idx}.{key}"] = val
    return json.dumps({"param_groups": sd["param_groups"], "scalars": scalars})


def _opt_unflat(prefix: str, tensors: dict[str, torch.Tensor], meta: str | None,
                path: Path | str = "") -> dict[str, Any]:
    bad = CheckpointError(f"{path}: metadata {prefix!r} must be a JSON object with 'param_groups' (a "
                          "list) and 'scalars' (an object)")
    try:
        info = json.loads(meta) if meta is not None else None
    except ValueError:
        raise bad from None
    if not (isinstance(info, dict) and isinstance(info.get("param_groups"), list)
            and isinstance(info.get("scalars"), dict)):
        raise bad
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, val in tensors.items():
        if name.startswith(head):
            idx, key = name[len(head):].split(".", 1)
            state.setdefault(int(idx), {})[key] = val
    for name, val in info["scalars"].items():
        idx, _, key = name.partition(".")
        if not idx.isdigit() or not key:
            raise bad
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": info["param_groups"]}


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True).contiguous()


def _module_tensors(prefix: str, module: torch.nn.Module, out: dict[str, torch.Tensor]) -> None:
    for k, v in module.state_dict().items():
        out[f"{prefix}.{k}"] = _cpu(v)


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
    for key, val in trainer.task.state_tensors().items():  # e.g. CycleGAN's history of fakes
        tensors[f"task.{key}"] = _cpu(val)
    if trainer.ada is not None:  # ADA's p, r_t accumulator, step counter: resume continues exactly
        tensors.update({f"ada.{k}": v for k, v in trainer.ada.state_tensors().items()})
    for key, val in trainer.state_tensors().items():  # e.g. the running mean path length
        tensors[f"trainer.{key}"] = _cpu(val)
    scalers = {k: sc.state_dict() for k, sc in (("g", trainer.scaler_g), ("d", trainer.scaler_d))
               if sc is not None}
    meta = {
        "format": FORMAT,
        "schema_version": str(SCHEMA_VERSION),
        "ganforge_version": __version__,
        "torch_version": torch.__version__,
        "config": (cfg or trainer.cfg).to_yaml(),
        "step": str(trainer.step),
        "data_shape": json.dumps(list(trainer.task.shape)),
        "cond_shape": json.dumps(list(trainer.task.cond_shape)),
        "num_classes": str(trainer.num_classes),
        "class_names": json.dumps(list(trainer.class_names)),
        "opt_g": _opt_flat(trainer.opt_g, "opt_g", tensors),
        "opt_d": _opt_flat(trainer.opt_d, "opt_d", tensors),
        "device": str(trainer.device),
        "rng_devices": json.dumps({r: trainer.rng[r].device.type for r in RNG_ROLES}),
        "scalers": json.dumps(scalers),
        "world_size": str(trainer.world.size),  # processes that trained it (any number resumes it)
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
    """A loaded checkpoint: its config, step, metadata and tensors (on the CPU)."""

    def __init__(self, path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]):
        self.path = path
        self.tensors = tensors
        self.meta = meta
        text = meta.get("config")
        if not text:
            raise CheckpointError(f"{path}: a ganforge checkpoint without its config; it cannot be used")
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError:
            raise CheckpointError(f"{path}: its stored config is not valid YAML") from None
        if not isinstance(raw, dict):
            raise CheckpointError(f"{path}: its stored config is not a mapping of keys")
        try:
            self.config: RunConfig = from_dict(raw)
        except ConfigError as e:
            raise CheckpointError(f"{path}: stored config is invalid: {e}") from None
        self.step = _meta_int(path, meta, "step")
        self.data_shape = _meta_json(path, meta, "data_shape", [2])
        if not (isinstance(self.data_shape, list) and self.data_shape
                and all(isinstance(v, int) and v > 0 for v in self.data_shape)):
            raise CheckpointError(f"{path}: metadata 'data_shape' must be a list of positive integers")
        self.num_classes = _meta_int(path, meta, "num_classes", 0)
        cond = _meta_json(path, meta, "cond_shape", [])  # written since the paired task; none before
        if not (isinstance(cond, list) and len(cond) in (0, 3)
                and all(isinstance(v, int) and v > 0 for v in cond)):
            raise CheckpointError(f"{path}: metadata 'cond_shape' must be [] or [C, H, W]")
        self.cond_shape: tuple[int, ...] = tuple(cond)
        names = _meta_json(path, meta, "class_names", [])  # written since serve showed names; none before
        if not (isinstance(names, list) and all(isinstance(v, str) for v in names)
                and len(names) in (0, self.num_classes)):
            raise CheckpointError(f"{path}: metadata 'class_names' must be [] or one name per class")
        self.class_names: tuple[str, ...] = tuple(names)
        self.world_size = _meta_int(path, meta, "world_size", 1)  # written since torchrun; 1 before

    def has_ema(self) -> bool:
        return any(k.startswith("g_ema.") for k in self.tensors)


def _meta_int(path: Path, meta: dict[str, str], key: str, default: int | None = None) -> int:
    raw = meta.get(key)
    if raw is None and default is not None:
        return default
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: metadata {key!r} must be a non-negative integer, "
                              f"got {raw!r}") from None
    if value < 0:
        raise CheckpointError(f"{path}: metadata {key!r} must be a non-negative integer, got {value}")
    return value


def _meta_json(path: Path, meta: dict[str, str], key: str, default: Any) -> Any:
    raw = meta.get(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise CheckpointError(f"{path}: metadata {key!r} is not valid JSON") from None


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
    version = _meta_int(path, meta, "schema_version", 0)
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"{path}: schema version {version} is newer than this ganforge understands "
            f"({SCHEMA_VERSION}); upgrade ganforge"
        )
    return Checkpoint(path, tensors, meta)


def first_mismatch(module: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str = "") -> str | None:
    """The first tensor that keeps `state` from loading into `module`, named as stored in the file
    (`prefix.key`); None if everything fits."""
    want = module.state_dict()
    head = f"{prefix}." if prefix else ""
    for k, v in want.items():
        if k not in state:
            return f"tensor '{head}{k}' is missing"
        if tuple(state[k].shape) != tuple(v.shape):
            return (f"tensor '{head}{k}' has shape {tuple(state[k].shape)}, the configured network "
                    f"needs {tuple(v.shape)}")
    extra = next((k for k in state if k not in want), None)
    return f"unexpected tensor '{head}{extra}'" if extra else None


def _load_module(module: torch.nn.Module, prefix: str, ckpt: Checkpoint, what: str) -> None:
    state = _module_state(prefix, ckpt.tensors)
    bad = first_mismatch(module, state, prefix)
    if bad:
        raise CheckpointError(f"{ckpt.path}: the {what} weights do not fit the config stored with "
                              f"them: {bad}")
    module.load_state_dict(state)


def restore(trainer: Trainer, ckpt: Checkpoint) -> Trainer:
    """Put every tensor, optimiser state, RNG state and the step back into a fresh trainer (on
    any device: tensors move to the trainer's)."""
    for module, prefix in ((trainer.g, "g"), (trainer.d, "d")):
        bad = first_mismatch(module, _module_state(prefix, ckpt.tensors), prefix)
        if bad:
            raise CheckpointError(f"{ckpt.path}: does not fit the configured networks ({bad}); "
                                  "architecture keys cannot change on resume")
    # an optimiser whose name changed on resume (--set opt_d.name=sgd) starts with fresh state:
    # Adam's moments mean nothing to SGD, and its param groups lack SGD's keys
    stored = ckpt.config
    opts = [(opt, key) for opt, key, old, new in (
        (trainer.opt_g, "opt_g", stored.opt_g.name, trainer.cfg.opt_g.name),
        (trainer.opt_d, "opt_d", stored.opt_d.name, trainer.cfg.opt_d.name)) if old == new]
    states = [(opt, _opt_unflat(key, ckpt.tensors, ckpt.meta.get(key), ckpt.path)) for opt, key in opts]
    try:
        trainer.g.load_state_dict(_module_state("g", ckpt.tensors))
        trainer.d.load_state_dict(_module_state("d", ckpt.tensors))
        if trainer.g_ema is not None:
            src = "g_ema" if ckpt.has_ema() else "g"
            trainer.g_ema.load_state_dict(_module_state(src, ckpt.tensors))
        for opt, state in states:
            opt.load_state_dict(state)
        trainer.task.load_state_tensors(_module_state("task", ckpt.tensors))
        trainer.load_state_tensors(_module_state("trainer", ckpt.tensors))
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{ckpt.path}: does not fit the configured networks ({first}); "
            "architecture keys cannot change on resume"
        ) from None
    if trainer.ada is not None:
        try:
            trainer.ada.load_state_tensors(_module_state("ada", ckpt.tensors))
        except (RuntimeError, ValueError) as e:
            raise CheckpointError(f"{ckpt.path}: bad ADA state ({e})") from None
    _match_layouts(trainer.opt_g)
    _match_layouts(trainer.opt_d)
    _restore_rngs(trainer, ckpt)
    scalers = _meta_json(ckpt.path, ckpt.meta, "scalers", {})
    if not isinstance(scalers, dict) or not all(isinstance(v, dict) for v in scalers.values()):
        raise CheckpointError(f"{ckpt.path}: metadata 'scalers' must map g / d to GradScaler states")
    for key, sc in (("g", trainer.scaler_g), ("d", trainer.scaler_d)):
        if sc is not None and key in scalers:
            try:
                sc.load_state_dict(scalers[key])
            except (RuntimeError, KeyError, TypeError, ValueError):
                raise CheckpointError(f"{ckpt.path}: metadata 'scalers' holds no valid GradScaler "
                                      f"state for {key}") from None
    trainer.step = ckpt.step
    trainer.update_config(trainer.cfg)  # config wins for lr / betas (e.g. --set on resume)
    return trainer


def _restore_rngs(trainer: Trainer, ckpt: Checkpoint) -> None:
    """Same device type: the exact generator state (exact resume). Another device type (a CPU
    checkpoint resumed on CUDA, say) cannot take the other's state: that role is re-seeded from
    the run seed and the step, so the run goes on reproducibly but not bit-identically."""
    stored = _meta_json(ckpt.path, ckpt.meta, "rng_devices", {})
    for role in RNG_ROLES:
        gen = trainer.rng[role]
        state = ckpt.tensors.get(f"rng.{role}")
        if state is None:  # a role added later keeps its seeded start
            continue
        kind = stored.get(role, "cpu") if isinstance(stored, dict) else "cpu"
        if kind == gen.device.type:
            try:
                gen.set_state(state)
                continue
            except RuntimeError:
                pass
        gen.manual_seed((role_seed(trainer.cfg.seed, role) + 7919 * ckpt.step) % (2**63))


def _match_layouts(opt: torch.optim.Optimizer) -> None:
    """Give restored optimiser state its parameter's memory layout (channels_last weights):
    the fused Adam kernel walks parameter and state memory together."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(v)


def generator_from(ckpt: Checkpoint, use_ema: bool = True) -> Generator:
    """The checkpoint's generator (its EMA copy when asked and present), in eval mode, on the CPU:
    callers move it to their device."""
    from ..tasks import TASKS

    kind = TASKS.get(ckpt.config.task.kind)  # the task knows its nets (CycleGAN: two translators)
    g = kind.build_g(ckpt.config, tuple(ckpt.data_shape), ckpt.num_classes, tuple(ckpt.cond_shape))
    _load_module(g, "g_ema" if (use_ema and ckpt.has_ema()) else "g", ckpt, "generator")
    if isinstance(g, Growing) and ckpt.config.train.progressive:  # taken mid-growth: that level
        g.grow_to(ckpt.step, ckpt.config.train.progressive)
    g.eval()
    g.requires_grad_(False)
    return g


def load_generator(run: str | Path, use_ema: bool = True) -> tuple[Checkpoint, Generator]:
    """The generator of a run's latest checkpoint (its EMA copy when there is one), in eval mode."""
    ckpt = load_checkpoint(run)
    return ckpt, generator_from(ckpt, use_ema)


def prune(run_dir: str | Path, keep_last: int) -> None:
    for _, p in list_checkpoints(run_dir)[:-keep_last]:
        p.unlink(missing_ok=True)
