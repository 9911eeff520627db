"""Synthetic tables: `ganforge.TabularGAN(...).fit(df).sample(n, conditions={...})`, and the sampling
behind `ganforge sample RUN -o out.csv [--condition col=value]`.

    import ganforge
    gan = ganforge.TabularGAN(epochs=300, seed=0).fit("wine.csv")   # or a pandas DataFrame
    df = gan.sample(1000, seed=0)                                   # same columns, types, bounds
    reds = gan.sample(100, conditions={"colour": "red"})            # every row has colour=red
    gan.save("wine.safetensors"); gan = ganforge.TabularGAN.load("wine.safetensors")

`fit` runs the one trainer on the `table` task (tasks/table.py) with the recipe of
configs/tabular-wine.yaml (CTGAN's architecture at half its width, WGAN-GP, PacGAN packs of 10: as
good a quality score in half the time, benchmarks/results/tabular.md); `save` writes an
ordinary checkpoint, so `ganforge sample` reads it too. Rows come back through the fitted
TableTransformer: categories only from the training set, values inside the training range, integers
whole. A condition is honoured always: G is asked for it and the column is set to it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .data.table import BOOL_WORDS, TableTransformer, read_table
from .errors import CheckpointError, ConfigError, DataError
from .generation import LoadedGenerator, check_count, iter_generate
from .tasks.table import STATE_KEY, Conditions, conditions_of, draw_conditions, transformer_of

ROWS_PER_CHUNK = 50_000  # rows decoded (and written) at a time: memory stays bounded
MAX_ROWS = 10_000_000
MAX_OUTPUT_BYTES = 16 << 30

# configs/tabular-wine.yaml's recipe without its data and length (tests keep the two in step)
RECIPE: dict[str, Any] = {
    "task": {"kind": "table"},
    "g": {"width": 128, "depth": 2, "noise_dim": 128, "batch_norm": True},
    "d": {"width": 128, "depth": 2, "pack": 10},
    "loss": {"name": "wasserstein", "penalty": "gp", "penalty_weight": 10.0},
    "opt_g": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.9, "weight_decay": 1e-6},
    "opt_d": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.9, "weight_decay": 1e-6},
    "train": {"batch_size": 500, "log_every": 50, "plot_every": 0, "ckpt_every": 0},
}


class TableModel:
    """A trained table generator and its transformer: `sample(n, seed, conditions)` -> DataFrame."""

    def __init__(self, g: LoadedGenerator, transformer: TableTransformer) -> None:
        self.g = g
        self.transformer = transformer
        self.cond: Conditions = conditions_of(transformer)
        if self.cond.num_classes != g.num_classes:
            raise CheckpointError(f"{g.source}: the generator takes {g.num_classes} conditions, the "
                                  f"stored table has {self.cond.num_classes}")

    @property
    def columns(self) -> list[str]:
        return list(self.transformer.columns)

    def resolve(self, conditions: Mapping[str, Any] | None) -> dict[str, Any]:
        """{column: value} checked against the training table: each column categorical or boolean,
        each value one it held (CLI text matches by its string form). One-line errors otherwise."""
        out: dict[str, Any] = {}
        for col, value in (conditions or {}).items():
            if col not in self.transformer.columns:
                raise DataError(f"unknown column {col!r} in a condition (columns: {', '.join(self.columns)})")
            kind = self.transformer.kinds[col]
            if kind not in ("categorical", "boolean"):
                raise DataError(f"column {col!r} is {kind}: conditions take categorical or boolean columns")
            cats = self.transformer.encoders[col].categories  # type: ignore[union-attr]
            out[col] = _match(col, value, cats)
        return out

    def sample(self, n: int, seed: int = 0, conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """n rows (seeded: the same seed gives the same table on any device)."""
        return pd.concat(list(self.iter_sample(n, seed, conditions)), ignore_index=True)

    def iter_sample(self, n: int, seed: int = 0, conditions: Mapping[str, Any] | None = None,
                    chunk: int = ROWS_PER_CHUNK):
        """The rows of `sample(n, seed, conditions)`, `chunk` at a time (bounded memory)."""
        check_count(n, "n", MAX_ROWS)
        wanted = self.resolve(conditions)
        gen = self.g.generator(seed)
        labels = self.labels(n, gen, wanted)
        parts = iter_generate(self.g.net, self.g.noise_kind, n, gen,
                              None if labels is None else labels.to(self.g.device), chunk)
        for part in parts:
            df = self.transformer.inverse(part.cpu())
            for col, value in wanted.items():  # honoured always, whatever G made of it
                df[col] = pd.Series([value] * len(df), dtype=object).astype(self.transformer.dtypes[col])
            yield df

    def labels(self, n: int, gen: torch.Generator, wanted: Mapping[str, Any]) -> torch.Tensor | None:
        """G's conditions: the first asked (column, value), else drawn like the data (a column
        uniformly, a category by its frequency: CTGAN's sampling)."""
        if not self.cond.num_classes:
            return None
        if wanted:
            col, value = next(iter(wanted.items()))
            k = self.cond.names.index(f"{col}={value}")
            return torch.full((n,), k, dtype=torch.int64)
        return draw_conditions(self.cond, self.cond.cumulative(log=False), n, gen, gen.device)


def _match(col: str, value: Any, categories: list[Any]) -> Any:
    """The training category `value` names: equal (a bool only to a bool), else the same text
    ("7" for 7, "true" / "yes" for True)."""
    for cat in categories:
        if isinstance(cat, bool) == isinstance(value, bool) and value == cat:
            return cat
    for cat in categories:
        if str(cat) == str(value):
            return cat
    word = BOOL_WORDS.get(str(value).strip().lower())
    for cat in categories:
        if word is not None and isinstance(cat, bool) and cat == word:
            return cat
    shown = ", ".join(str(c) for c in categories[:20]) + (" ..." if len(categories) > 20 else "")
    raise DataError(f"{value!r} is not a value of column {col!r} in the training data (values: {shown})")


def is_table_run(path: str | Path) -> bool:
    """Whether a run directory or checkpoint file holds a table model (reads its metadata only)."""
    import yaml
    from safetensors import safe_open

    from .training.state import latest_checkpoint

    try:
        with safe_open(latest_checkpoint(path), framework="pt") as f:
            meta = f.metadata() or {}
        cfg = yaml.safe_load(meta.get("config", "")) or {}
    except Exception:  # noqa: BLE001  (anything unreadable is judged by the full loader later)
        return False
    return isinstance(cfg, dict) and (cfg.get("task") or {}).get("kind") == "table"


def load_table_model(path: str | Path, device: str | torch.device = "auto",
                     use_ema: bool = True) -> TableModel:
    """The table model of a run directory (latest checkpoint) or checkpoint file: nothing else needed."""
    from .device import resolve_device
    from .training.state import generator_from, load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.config.task.kind != "table":
        raise CheckpointError(f"{ckpt.path}: not a table model (task.kind={ckpt.config.task.kind})")
    saved = ckpt.tensors.get(f"task.{STATE_KEY}")
    if saved is None:
        raise CheckpointError(f"{ckpt.path}: a table model without its stored transformer")
    ema = use_ema and ckpt.has_ema()
    g = LoadedGenerator(generator_from(ckpt, ema), ckpt.config.g.noise, resolve_device(device), ckpt.config,
                        ckpt.step, str(ckpt.path), ema, ckpt.class_names)
    return TableModel(g, transformer_of(saved))


def parse_conditions(items: list[str] | None) -> dict[str, str]:
    """--condition col=value (repeatable) -> {col: value}."""
    out: dict[str, str] = {}
    for text in items or []:
        col, sep, value = text.partition("=")
        if not sep or not col.strip():
            raise DataError(f"--condition {text!r} must look like column=value")
        out[col.strip()] = value
    return out


def write_table_samples(run: str | Path, n: int, seed: int, out: str | Path,
                        conditions: Mapping[str, Any] | None = None, use_ema: bool = True,
                        device: str | None = None) -> Path:
    """`ganforge sample RUN -o out.csv`: n rows, written a chunk at a time to a temporary file renamed
    at the end, with a provenance sidecar (synthetic data says so)."""
    from .provenance import write_sidecar

    out = Path(out)
    if out.suffix != ".csv":
        raise DataError(f"a table model writes .csv files, not {out.name}")
    check_count(n, "-n", MAX_ROWS)
    model = load_table_model(run, device or "auto", use_ema)
    wanted = model.resolve(conditions)
    per = 24 * max(1, len(model.columns))
    if n * per > MAX_OUTPUT_BYTES:
        raise DataError(f"-n {n:,} would write about {n * per / 2**30:.1f} GiB; the limit is "
                        f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB per file")
    out.parent.mkdir(parents=True, exist_ok=True)
    if n * per > shutil.disk_usage(out.parent).free:
        raise DataError(f"-n {n:,} needs about {n * per / 2**20:,.0f} MiB; {out.parent} has too little free")
    tmp = out.with_name(f".{out.name}.tmp.csv")
    try:
        with tmp.open("w", newline="") as fh:
            for i, df in enumerate(model.iter_sample(n, seed, wanted)):
                df.to_csv(fh, index=False, header=i == 0)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    labels = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "drawn by frequency"
    write_sidecar(out, model.g.provenance(seeds=str(seed), labels=labels, what=f"{n} table rows"))
    return out


class TabularGAN:
    """A scikit-learn-style tabular GAN (CTGAN's model on ganforge's trainer).

    `epochs`: passes over the table (CTGAN's counting: max(rows // batch_size, 1) steps each), or
    `steps` exactly. `columns`: kinds forced by name ({"zip": "categorical"}). `overrides`: any config
    keys ({"g.width": 128}). The same data and seed give the same model and the same samples."""

    def __init__(self, epochs: int = 300, steps: int | None = None, batch_size: int = 500, pack: int = 10,
                 seed: int = 0, device: str = "auto", columns: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None, progress: bool = True) -> None:
        if epochs < 1 or (steps is not None and steps < 1):
            raise ConfigError("epochs and steps must be >= 1")
        self.epochs, self.steps, self.batch_size, self.pack = epochs, steps, batch_size, pack
        self.seed, self.device, self.progress = seed, device, progress
        self.columns = dict(columns or {})
        self.overrides = dict(overrides or {})
        self.model: TableModel | None = None
        self.trainer: Any = None

    def config(self, rows: int, path: str | None = None) -> Any:
        """The run config `fit` trains with, for a table of `rows` rows."""
        from . import config as _config
        from .api import _overrides

        steps = self.steps or self.epochs * max(rows // self.batch_size, 1)
        data = {k: dict(v) for k, v in RECIPE.items()}
        data["train"].update(steps=steps, batch_size=self.batch_size, device=self.device)
        data["d"]["pack"] = self.pack
        data["seed"] = self.seed
        data["data"] = {"name": "table", "path": path,
                        "columns": ",".join(f"{c}:{k}" for c, k in self.columns.items())}
        return _config.from_dict(_config.apply_overrides(data, _overrides(self.overrides)))

    def fit(self, data: pd.DataFrame | str | Path) -> TabularGAN:
        """Learn the table (a DataFrame or a CSV path); returns self."""
        from .training.callbacks import ProgressBar
        from .training.trainer import Trainer, fit

        table = read_table(data, self.columns or None)
        cfg = self.config(len(table.frame), None if isinstance(data, pd.DataFrame) else str(data))
        trainer = Trainer(cfg, data=table, device=None)
        fit(trainer, cfg.train.steps, [ProgressBar(cfg.train.steps)] if self.progress else [])
        self.trainer = trainer
        use_ema = trainer.g_ema is not None
        net = trainer.sampler(use_ema)
        g = LoadedGenerator(frozen_copy(net), cfg.g.noise, trainer.device, cfg, trainer.step,
                            "TabularGAN.fit", use_ema, trainer.class_names)
        self.model = TableModel(g, trainer.task.transformer)
        return self

    def _fitted(self) -> TableModel:
        if self.model is None:
            raise DataError("this TabularGAN is not fitted: call fit(data) or TabularGAN.load(path)")
        return self.model

    def sample(self, n: int, conditions: Mapping[str, Any] | None = None, seed: int = 0) -> pd.DataFrame:
        """n synthetic rows; `conditions` {"column": value} holds in every row."""
        return self._fitted().sample(n, seed, conditions)

    def evaluate(self, holdout: pd.DataFrame | None = None, train: pd.DataFrame | None = None,
                 n: int | None = None, seed: int = 0, target: str = "") -> dict[str, dict[str, Any]]:
        """metrics/tabular.py's scores of `n` sampled rows (default: as many as `train`, at most
        10,000) against `train` (default: the rows `fit` saw): quality (sdmetrics) and detection;
        with `holdout` (real rows kept out of `fit`) also ML efficacy (predicting `target`) and DCR."""
        from .metrics import tabular

        model = self._fitted()
        if train is None:
            if self.trainer is None:
                raise DataError("a loaded TabularGAN does not hold its training rows: pass train=")
            train = self.trainer.task.table.frame
        kinds = dict(model.transformer.kinds)
        synth = model.sample(n or min(len(train), tabular.MAX_ROWS), seed)
        return tabular.table_report(train, synth, kinds, holdout, target, seed=seed)

    def save(self, path: str | Path) -> Path:
        """One checkpoint file (safetensors, no pickle): `load` and `ganforge sample` read it."""
        from .training.state import save_checkpoint

        if self.trainer is None:
            raise DataError("only a model fitted in this session can be saved (a loaded one is its file)")
        return save_checkpoint(self.trainer, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> TabularGAN:
        """A fitted TabularGAN from a file written by `save` (or a table run's directory)."""
        model = load_table_model(path, device)
        cfg = model.g.config
        gan = cls(steps=cfg.train.steps, batch_size=cfg.train.batch_size, pack=cfg.d.pack, seed=cfg.seed,
                  device=device, progress=False)
        gan.model = model
        return gan


def frozen_copy(net: torch.nn.Module) -> Any:
    import copy

    g = copy.deepcopy(net).eval()
    g.requires_grad_(False)
    return g

