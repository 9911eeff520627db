"""What a score needs besides the generated samples: the reference set, the feature extractor, the
mode counter (what the chosen metrics declare they need), the default metrics and sample counts of
each protocol. Built once (`Evaluator`) and used by `ganforge eval` and by the training-time eval
(train.eval_every).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import RunConfig
from .data import build_data
from .data.images import StackedData
from .errors import DataError
from .metrics.classifier import cache_root
from .metrics.features import build_extractor, default_extractor
from .metrics.modes import COVERED_RULE, STACKED_N, mode_stats, stacked_mnist_modes
from .metrics.registry import METRICS, needs_of
from .metrics.suite import Reference, Report, compute, fingerprint


def versions() -> dict[str, str]:
    return {"ganforge": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


PROTOCOL_N = {"points": 2500, "stacked-mnist": STACKED_N, "images": 10_000}
# What `ganforge eval` measures when not told, per kind of data: mode coverage where the modes are
# known, FID / precision-recall / SWD on other points, FID/KID/PR/DC on other images.
DEFAULT_METRICS = {"mixtures": ("modes", "swd"), "points": ("fid", "pr", "swd"),
                   "stacked-mnist": ("modes",), "images": ("fid", "kid", "pr", "dc")}


def data_kind(data: Any) -> str:
    """The key of DEFAULT_METRICS for a data source."""
    if data.kind != "images":
        return "mixtures" if data.modes is not None else "points"
    return "stacked-mnist" if isinstance(data, StackedData) else "images"


def default_metrics(data: Any) -> list[str]:
    return list(DEFAULT_METRICS[data_kind(data)])


def protocol_n(data: Any, metrics: list[str]) -> int:
    if data.kind != "images":
        return PROTOCOL_N["points"]
    if isinstance(data, StackedData) and "modes" in needs_of(metrics):
        return PROTOCOL_N["stacked-mnist"]
    return PROTOCOL_N["images"]


def load_reference(ref: str | None, cfg: RunConfig, n: int, seed: int,
                   shape: tuple[int, ...], data: Any = None) -> tuple[Any, Reference]:
    """The real data to compare with: the run's own data set (`data`, when the caller has built it,
    is not loaded again), another named set, or a path (an IDX folder, a folder of images, a .npz
    file), brought to the run's image size and channels."""
    from dataclasses import replace

    from .data import fit_images

    if ref is None:
        dcfg = cfg.data
    elif Path(ref).exists():
        p = Path(ref)
        kind = "npz" if p.suffix == ".npz" else "idx" if any(p.glob("*idx3-ubyte*")) else "folder"
        dcfg = replace(cfg.data, name=kind, path=str(p))
    else:
        dcfg = replace(cfg.data, name=ref, path=cfg.data.path if ref == cfg.data.name else None)
    if ref is not None or data is None:
        try:
            data = build_data(dcfg)
        except DataError as e:
            what = "the run's data" if ref is None else f"--ref {ref}"
            raise DataError(f"cannot evaluate: {what} is unavailable ({e})") from None
    if data.kind == "images" and len(shape) == 3 and tuple(data.shape) != tuple(shape):
        data = fit_images(data, shape[-1], shape[0])
    gen = torch.Generator().manual_seed(seed + 1)
    if data.kind == "images" and not isinstance(data, StackedData):
        total = len(data.images)
        if n >= total:
            x = data.images
            split = f"all {total} images of {data.description}"
        else:
            idx = torch.randperm(total, generator=gen)[:n].sort().values
            x = data.images[idx]
            split = f"{n} of the {total} images of {data.description}, drawn without replacement " \
                    f"(seed {seed + 1})"
        from .data.images import to_float

        samples = to_float(x)
    else:
        samples = data.sample(n, gen)
        split = f"{n} fresh draws from {data.description} (seed {seed + 1})"
    return data, Reference(samples, split, fingerprint(samples))


def _modes_fn(data: Any, extractor_options: dict[str, Any], device: torch.device) -> Any:
    if data.kind != "images" and data.modes is not None:
        def toy(x: torch.Tensor) -> dict[str, Any]:
            st = mode_stats(x, data.modes, data.std)
            return {"modes": st["modes"], "modes_total": st["modes_total"], "hq": st["hq"],
                    "reverse_kl": st["reverse_kl"], "mode_counts": st["counts"],
                    "protocol": f"VEEGAN/PacGAN: high quality = within {st['threshold_std']:g} std "
                                f"({data.std:g}) of the nearest mode; {COVERED_RULE}"}
        return toy
    if isinstance(data, StackedData):
        clf = build_extractor("lenet-mnist", (3, 28, 28), device, **extractor_options)

        def stacked(x: torch.Tensor) -> dict[str, Any]:
            r = stacked_mnist_modes(clf.classify_channels(x))
            r["classifier"] = clf.provenance()
            r["protocol"] = ("VEEGAN/PacGAN stacked MNIST: each channel classified by lenet-mnist; "
                             "mode = 100a + 10b + c")
            return r
        return stacked
    return None


class Evaluator:
    """Everything a score needs except the generated samples, built once (extractor, reference set
    and its features, mode counter: what the metrics declare they need) so that training-time evals
    cost only the samples' features. `data`: the run's data set when the caller has it already (a
    large image set is then loaded once). `device`: where the feature networks run (the samples'
    device is theirs: they are scored on the CPU, features computed on `device`)."""

    def __init__(self, cfg: RunConfig, metrics: list[str], n: int, seed: int,
                 features: str | None = None, ref: str | None = None, progress: bool = False,
                 extractor_options: dict[str, Any] | None = None, data: Any = None,
                 device: torch.device | str = "cpu") -> None:
        self.metrics, self.seed, self.progress = metrics, seed, progress
        self.data = data if data is not None else build_data(cfg.data)
        shape = tuple(self.data.shape)
        same = cfg.data.name in ("mnist", "stacked-mnist", "fashion-mnist")  # the classifier's data
        opts = {"data_path": cfg.data.path if same else None, "progress": progress}
        opts |= extractor_options or {}
        needs = needs_of(metrics)
        self.reference = None
        if "reference" in needs:
            _, self.reference = load_reference(ref, cfg, n, seed, shape, data=self.data)
        self.extractor = None
        if needs & {"features", "probs"}:
            spec = features or cfg.eval.features or default_extractor(cfg.data.name, shape)
            self.extractor = build_extractor(spec, shape, device, **opts)
        self.modes_fn = _modes_fn(self.data, opts, torch.device(device)) if "modes" in needs else None

    def __call__(self, x: torch.Tensor) -> Report:
        x = x.detach().cpu()  # statistics on the CPU; the extractor moves its batches to its device
        return compute(self.metrics, x, self.reference, self.extractor, self.seed,
                       modes_fn=self.modes_fn, cache=cache_root(), progress=self.progress)


def flat_scores(report: Report) -> dict[str, float]:
    """The headline numbers of a report, one level deep (for metrics.jsonl): each metric's scalars."""
    out: dict[str, float] = {}
    for name, v in report.results.items():
        for k in METRICS.get(name).scalars:
            if isinstance(v.get(k), (int, float)):
                out[k] = round(float(v[k]), 6)
    return out


def headline(results: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """What `ganforge eval --json` shows at its top level, beside the detail: the named metrics'
    scalars and their context (mixtures: modes, modes_total, hq, reverse_kl) as computed."""
    out: dict[str, Any] = {}
    for name in names:
        m = METRICS.get(name)
        out |= {k: results[name][k] for k in (*m.scalars, *m.context) if k in results[name]}
    return out


def load_task(cfg: RunConfig) -> Any:
    """The run's task with its data, on the CPU (scorers move what they need); data that is gone is a
    one-line DataError."""
    from .tasks import TASKS

    cls = TASKS.get(cfg.task.kind)
    try:
        data = cls.load_data(cfg.data)
    except DataError as e:
        raise DataError(f"cannot evaluate: the run's data is unavailable ({e})") from None
    return cls.from_config(data, cfg, torch.device("cpu"))


def evaluate_run(run: str | Path, n: int | None = None, seed: int | None = None,
             use_ema: bool | None = None, write: bool = True, metrics: str | list[str] | None = None,
             features: str | None = None, ref: str | None = None, progress: bool = False,
             inception_weights: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Score a run's latest checkpoint (or a checkpoint file) with its task's entry (task_eval.SCORERS:
    samples from noise, or held-out images beside a baseline); merges the scores into RUN/eval.json,
    each with provenance. Reads the checkpoint; never imports the training loop."""
    from .device import resolve_device
    from .task_eval import SCORERS, EvalRequest
    from .training.state import generator_from, load_checkpoint, run_dir_of

    run = Path(run)
    ckpt = load_checkpoint(run)
    cfg = ckpt.config
    seed = cfg.eval.seed if seed is None else seed
    use = (cfg.eval.use_ema if use_ema is None else use_ema) and ckpt.has_ema()
    dev = resolve_device(device or "auto")  # where this machine evaluates, not where it trained
    opts = {"inception_weights": inception_weights} if inception_weights else {}
    req = EvalRequest(cfg, n or cfg.eval.n_samples or None, seed, metrics, features, ref, progress, opts, dev)
    scorer = SCORERS.get(cfg.task.kind)(load_task(cfg), req)
    scores = scorer(generator_from(ckpt, use).to(dev))
    common = {"checkpoint": str(ckpt.path), "checkpoint_step": ckpt.step, "seed": seed,
              "generator": "ema" if use else "g", **scores.provenance, "versions": versions(),
              "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    for entry in scores.results.values():
        entry["provenance"] = {**entry.pop("provenance", {}), **common}
    owner = run if run.is_dir() else run_dir_of(ckpt.path)
    path = owner / "eval.json" if owner is not None and write else None  # nothing written outside a run
    result = {"data": cfg.data.name, "task": cfg.task.kind, "run": str(run),
              "eval_json": str(path) if path else None, "checkpoint_step": ckpt.step,
              "metrics": {**_old_metrics(path), **scores.results}, "warnings": scores.warnings,
              "computed": list(scores.results)}
    if path is not None:
        tmp = path.with_name(".eval.json.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(path)
    return {**result, "headline": scores.headline, "lines": scores.lines}


def _old_metrics(path: Path | None) -> dict[str, Any]:
    """The scores an earlier eval wrote (later evals merge into them); {} when none are readable."""
    if path is None or not path.exists():
        return {}
    try:
        old = json.loads(path.read_text()).get("metrics", {})
    except (ValueError, AttributeError):
        return {}
    return old if isinstance(old, dict) else {}


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    """What `ganforge eval --json` prints and `ganforge.evaluate` returns: the headline values at the
    top level, then the detail (eval.json's fields)."""
    rest = {k: v for k, v in result.items() if k not in ("headline", "lines")}
    return {**result["headline"], **rest}
