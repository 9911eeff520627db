"""The `table` task: CTGAN (Xu et al. 2019) on the trainer everyone else uses.

Rows are encoded by data/table.py's TableTransformer (fitted once, with a progress bar, and kept in
the checkpoint as JSON so `ganforge sample` and resume need nothing else). G's condition is one
(column, category) pair of the table's categorical and boolean columns, as a class index over all of
them ("colour=red"). Training-by-sampling: each condition picks a discrete column uniformly, then a
category with probability proportional to the log of its frequency (rare categories are seen), then
a real row holding it; D judges each row with its condition, `d.pack` rows at a time (PacGAN); G also
pays the cross-entropy of its chosen span against the condition (`cond` in the logs). Draw order: the
data generator gives the real batch's conditions then its rows; the noise generator gives the fakes'
conditions then z (latent and Gumbel sources). A table without categorical columns trains
unconditionally, its rows drawn by `train.sampler`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import DataConfig, RunConfig
from ..data.table import (
    TableData,
    TableTransformer,
    load_table_set,
    transformer_from_state,
    transformer_state,
)
from ..device import draw_int, draw_uniform
from ..errors import CheckpointError, ConfigError, DataError
from ..nets.tabular import TabularCritic, TabularGenerator, segment_log_softmax, span_layout
from .base import TASKS, Batch, FromNoise, TaskDefaults

DISCRETE = ("categorical", "boolean")
STATE_KEY = "table.transformer"  # the task state tensor holding the transformer's JSON (utf-8 bytes)


@dataclass(frozen=True)
class Conditions:
    """The conditional vector's layout: class k is (column, category) `names[k]`, its one-hot output
    dimension `dims[k]`; per discrete column its first class and count; each class's frequency."""

    names: tuple[str, ...]
    columns: tuple[str, ...]
    first: tuple[int, ...]
    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def cumulative(self, log: bool) -> torch.Tensor:
        """(columns, max categories) cumulative category probabilities per column (log-frequency
        for training-by-sampling, raw frequency for sampling like the data)."""
        out = torch.ones(len(self.columns), max(self.sizes, default=1), dtype=torch.float64)
        for j, (a, n) in enumerate(zip(self.first, self.sizes, strict=True)):
            f = np.asarray(self.counts[a:a + n], dtype=np.float64)
            f = np.log1p(f) if log else f
            out[j, :n] = torch.from_numpy(np.cumsum(f / f.sum()))
        return out.float()


def conditions_of(tr: TableTransformer) -> Conditions:
    """Every category of every discrete column, in the transformer's column order."""
    names, columns, first, sizes, dims, counts = [], [], [], [], [], []
    for span in tr.output_info:
        if span.role != "category" or tr.kinds[span.column] not in DISCRETE:
            continue
        enc: Any = tr.encoders[span.column]
        columns.append(span.column)
        first.append(len(names))
        sizes.append(span.size)
        for i, cat in enumerate(enc.categories):
            names.append(f"{span.column}={cat}")
            dims.append(span.start + i)
        counts += list(enc.counts)
    return Conditions(tuple(names), tuple(columns), tuple(first), tuple(sizes), tuple(dims), tuple(counts))


def draw_conditions(cond: Conditions, cum: torch.Tensor, n: int, gen: torch.Generator,
                    device: torch.device) -> torch.Tensor:
    """n classes: a discrete column uniformly, then a category by `cum` (from `gen`, on `device`)."""
    col = draw_int(len(cond.columns), (n,), gen, device)
    u = draw_uniform((n, 1), gen, device)
    cum = cum.to(device)
    sizes = torch.tensor(cond.sizes, device=device)[col]
    k = torch.minimum((cum[col] < u).sum(1), sizes - 1)
    return torch.tensor(cond.first, device=device)[col] + k


@TASKS.register("table")
class TableTask(FromNoise, TaskDefaults):
    name = "table"
    from_noise = False  # samples need the transformer to mean anything: no image / point checks
    cond_shape: tuple[int, ...] = ()
    stat_names: tuple[str, ...] = ("cond",)

    def __init__(self, table: TableData, cfg: RunConfig, device: torch.device,
                 transformer: TableTransformer | None = None, progress: bool = True) -> None:
        self.table = table
        self.data = table
        self.cfg = cfg
        self.device = device
        self.transformer = transformer or TableTransformer(
            table.kinds, seed=cfg.seed, progress=progress).fit(table.frame)
        self._encode()

    def _encode(self) -> None:
        """The encoded rows (CPU), the conditions and their row index, G's layout."""
        tr = self.transformer
        self.rows = tr.transform(self.table.frame)
        self.shape = (tr.output_dim,)
        self.cond = conditions_of(tr)
        self.num_classes = self.cond.num_classes
        self.class_names = self.cond.names
        self.spans = [(s.start, s.size, s.activation) for s in tr.output_info]
        # the trainer builds G through the task: this table's G gets its span layout
        self.build_g = functools.partial(TableTask.build_g, spans=self.spans)  # type: ignore[method-assign]
        self.segment, _ = span_layout(self.spans, tr.output_dim)
        self.segment = self.segment.to(self.device)
        self.cond_dims = torch.tensor(self.cond.dims, device=self.device, dtype=torch.long)
        self.cum_log = self.cond.cumulative(log=True)
        self.cum_log_dev = self.cum_log.to(self.device)
        if self.num_classes:  # each class's real rows, for training-by-sampling
            hot = self.rows[:, list(self.cond.dims)] > 0.5  # (rows, classes)
            per = [torch.nonzero(hot[:, k]).flatten() for k in range(self.num_classes)]
            self.class_rows = torch.cat(per)
            self.class_start = torch.tensor([0] + [len(p) for p in per]).cumsum(0)[:-1]
            self.class_count = torch.tensor([len(p) for p in per])

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> TableTask:
        if not isinstance(data, TableData):
            raise ConfigError(f"task.kind=table needs a table (data.name=table with data.path, wine or "
                              f"breast_cancer), not data.name={cfg.data.name}")
        return cls(data, cfg, device)

    @staticmethod
    def load_data(cfg: DataConfig) -> TableData:
        return load_table_set(cfg.name, cfg.path, cfg.columns, cfg.holdout)

    # --- nets: G carries the span layout in its buffers (a checkpoint rebuilds it) --------------
    @staticmethod
    def build_g(cfg: RunConfig, shape: tuple[int, ...], num_classes: int, cond_shape: tuple[int, ...],
                spans: list[tuple[int, int, str]] | None = None) -> TabularGenerator:
        return TabularGenerator(shape[0], cfg.g.noise_dim, num_classes, cfg.g.width, cfg.g.depth,
                                cfg.g.batch_norm, cfg.g.noise, spans or ())

    @staticmethod
    def build_d(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> TabularCritic:
        return TabularCritic(shape[0], num_classes, cfg.d.width, cfg.d.depth, cfg.d.pack)

    # --- batches --------------------------------------------------------------------------------
    def real(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n real rows and their conditions: training-by-sampling (uniform rows without conditions)."""
        if not self.num_classes:
            idx = self.draws()(len(self.rows), n, gen)
            return self.rows[idx].to(self.device), None
        c = draw_conditions(self.cond, self.cum_log, n, gen, gen.device)
        pick = (draw_uniform((n,), gen, gen.device, torch.float64) * self.class_count[c]).long()
        idx = self.class_rows[self.class_start[c] + torch.minimum(pick, self.class_count[c] - 1)]
        return self.rows[idx].to(self.device), c.to(self.device)

    def condition(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return draw_conditions(self.cond, self.cum_log_dev, n, gen, self.device)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch,
                     g: Any) -> tuple[torch.Tensor | float, dict[str, float]]:
        """CTGAN's conditional loss: the cross-entropy of G's chosen column's span vs the condition."""
        if not self.num_classes or batch.c_g is None or batch.z is None:
            return 0.0, {"cond": 0.0}
        logits = g.span_logits(fake, batch.z)
        logp = segment_log_softmax(logits, self.segment)
        loss = -logp.gather(1, self.cond_dims[batch.c_g][:, None]).mean()
        return loss, {"cond": loss.item()}

    # --- state: the sampler's position and the fitted transformer --------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = super().state_tensors()
        text = json.dumps(transformer_state(self.transformer), sort_keys=True).encode()
        out[STATE_KEY] = torch.frombuffer(bytearray(text), dtype=torch.uint8)
        return out

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        saved = tensors.get(STATE_KEY)
        super().load_state_tensors({k: v for k, v in tensors.items() if k != STATE_KEY})
        if saved is None:
            return
        tr = transformer_of(saved)
        if json.dumps(transformer_state(tr), sort_keys=True) != json.dumps(
                transformer_state(self.transformer), sort_keys=True):
            self.transformer = tr  # the checkpoint's encoding wins: the data are encoded as before
            self._encode()


def transformer_of(saved: torch.Tensor) -> TableTransformer:
    """The TableTransformer stored in a checkpoint's task state."""
    try:
        state = json.loads(bytes(saved.to(torch.uint8).numpy().tobytes()).decode())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"task state {STATE_KEY!r} is not valid JSON") from None
    try:
        return transformer_from_state(state)
    except DataError as e:
        raise CheckpointError(f"task state {STATE_KEY!r}: {e}") from None
