"""The table task's entry: G's rows (what `ganforge sample RUN -n N --seed S` writes: conditions drawn
like the data, decoded by the run's transformer) scored against the training rows by
metrics/tabular.py: the SDMetrics quality report, detection AUC, and, when the run keeps rows out of
training (`data.holdout`), ML efficacy and distance to the closest record against those rows. Every
statistic subsamples to metrics.tabular.MAX_ROWS rows per input (bounded time and memory)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sklearn
import torch

from ..errors import DataError
from ..generation import iter_generate
from ..metrics import tabular
from ..nets.contract import Generator
from ..tasks.table import TableTask, draw_conditions
from .base import SCORERS, EvalRequest, Scores, refuse

SCALARS = {"quality": ("quality", "column_shapes", "column_pair_trends"), "detection": ("detection_auc",)}


class TableScorer:
    """n rows of G (default: as many as the training table, up to MAX_ROWS) vs the real rows."""

    def __init__(self, task: TableTask, req: EvalRequest) -> None:
        self.task, self.req = task, req
        self.train, self.holdout = task.table.frame, task.table.holdout
        self.n = req.n or min(len(self.train), tabular.MAX_ROWS)
        if not 2 <= self.n <= tabular.MAX_ROWS * 10:
            raise DataError(f"-n must be in 2..{tabular.MAX_ROWS * 10:,} rows, got {self.n:,}")
        self.target = tabular.pick_target(task.table.kinds, req.cfg.data.target)

    def sample(self, g: Generator) -> pd.DataFrame:
        """TableModel.sample's rows (the same draws), without touching G's mode or grads for good:
        the training-time eval passes the trainer's own net."""
        from ..tabular import ROWS_PER_CHUNK

        cond, gen = self.task.cond, torch.Generator().manual_seed(self.req.seed)
        device = next(g.parameters()).device
        labels = None
        if cond.num_classes:
            labels = draw_conditions(cond, cond.cumulative(log=False), self.n, gen, torch.device("cpu"))
            labels = labels.to(device)
        with torch.no_grad():
            parts = [self.task.transformer.inverse(p.cpu()) for p in
                     iter_generate(g, self.req.cfg.g.noise, self.n, gen, labels, ROWS_PER_CHUNK)]
        return pd.concat(parts, ignore_index=True)

    def __call__(self, g: Generator) -> Scores:
        synth = self.sample(g)
        kinds, seed, warnings = self.task.table.kinds, self.req.seed, []
        results: dict[str, dict[str, Any]] = {}
        try:
            results["quality"] = tabular.quality(self.train, synth, kinds, seed=seed)
        except DataError as e:  # sdmetrics not installed: the other scores still stand
            warnings.append(f"quality: {e}")
        results["detection"] = tabular.detection(self.train, synth, kinds, seed=seed)
        if self.holdout is not None and len(self.holdout) >= 2:
            results["ml_efficacy"] = tabular.ml_efficacy(self.train, synth, self.holdout, kinds, self.target,
                                                         seed=seed)
            results["privacy"] = tabular.privacy(self.train, synth, self.holdout, kinds, seed=seed)
        else:
            warnings.append("ml_efficacy, privacy: the run keeps no rows out of training (set data.holdout, "
                            "e.g. 0.2, and train again)")
        scalars: dict[str, float] = {}
        for name, keys in SCALARS.items():
            scalars |= {k: results[name][k] for k in keys if name in results and results[name][k] is not None}
        if "ml_efficacy" in results:
            m = results["ml_efficacy"]
            scalars |= {"ml_efficacy": m["synthetic"], "ml_efficacy_real": m["real"]}
        if "privacy" in results:
            p = results["privacy"]
            scalars |= {"dcr_median": p["synthetic"]["median"], "dcr_holdout_median": p["holdout"]["median"],
                        "exact_copies": p["synthetic"]["exact_copies"]}
        for entry in results.values():
            entry["provenance"] = {"statistic": entry.pop("statistic")}
        held = 0 if self.holdout is None else len(self.holdout)
        return Scores(results=results, scalars=scalars, headline=dict(scalars),
                      lines={k: line(k, v) for k, v in results.items()},
                      provenance={"samples": self.n, "sampling": "conditions drawn by category frequency, "
                                  f"seed {seed} (ganforge sample RUN -n {self.n} --seed {seed})",
                                  "reference": f"{len(self.train)} training rows of {self.task.table.source}",
                                  "holdout_rows": held, "max_rows": tabular.MAX_ROWS,
                                  "scikit_learn": sklearn.__version__},
                      warnings=warnings)


def line(name: str, r: dict[str, Any]) -> str:
    """One line per statistic for people."""
    if name == "quality":
        pairs = r["column_pair_trends"]
        return (f"quality {r['quality']:.4f} (column shapes {r['column_shapes']:.4f}, pair trends "
                f"{'none scored' if pairs is None else f'{pairs:.4f}'}; sdmetrics, 1 = same)")
    if name == "detection":
        auc = ", ".join(f"{k} {v:.3f}" for k, v in r["auc"].items())
        return f"detection AUC {r['detection_auc']:.4f} ({auc}; 0.5 = indistinguishable)"
    if name == "ml_efficacy":
        return (f"ML efficacy ({r['metric']} on held-out {r['target']}): train synthetic "
                f"{r['synthetic']:.4f} beside train real {r['real']:.4f}")
    return (f"DCR median {r['synthetic']['median']:.4g} beside holdout {r['holdout']['median']:.4g}, "
            f"exact copies {r['synthetic']['exact_copies']:.2%} (holdout {r['holdout']['exact_copies']:.2%})")


@SCORERS.register("table")
def table_scorer(task: TableTask, req: EvalRequest) -> TableScorer:
    refuse(req, "table", "quality, detection, ML efficacy and DCR against its own rows")
    return TableScorer(task, req)
