"""How good a synthetic table is, four ways, each a plain function of DataFrames and column kinds.

- `quality`: the SDMetrics quality report (column shapes: KS complement / total-variation complement
  per column; column pair trends: correlation / contingency similarity per pair), computed by the
  `sdmetrics` package, an independent judge (`pip install ganforge[tabular]`).
- `detection`: how well classifiers tell real rows from synthetic ones: cross-validated ROC AUC of a
  logistic regression and of gradient-boosted trees (0.5 = indistinguishable, 1 = always told apart).
- `ml_efficacy`: a model trained on synthetic rows and tested on real held-out rows, beside the same
  model trained on the real training rows (macro F1 for a categorical target, R2 for a numeric one).
- `privacy`: distance to the closest training record (DCR) of synthetic rows, beside the DCR of real
  held-out rows (what new real data looks like), and the share of exact copies.

Bounded on any table: each function subsamples every input to at most `max_rows` rows (10,000 by
default, seeded), so time and memory do not grow with the table; the results say how many rows each
used. Features for the classifiers and distances: numbers (datetimes as int64 nanoseconds) scaled by
the real training rows (z-score for classifiers, min-max for distances), missing values as a 0/1
indicator column plus the median, categories one-hot over the union of values seen.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

MAX_ROWS = 10_000  # rows per input a statistic uses at most (seeded subsample)
NUMERIC = ("continuous", "integer", "datetime")
SDTYPES = {"continuous": "numerical", "integer": "numerical", "datetime": "datetime",
           "categorical": "categorical", "boolean": "boolean"}


def subsample(df: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most `max_rows` rows of `df`, drawn without replacement (seeded), index reset."""
    if len(df) <= max_rows:
        return df.reset_index(drop=True)
    idx = np.sort(np.random.default_rng(seed).choice(len(df), max_rows, replace=False))
    return df.iloc[idx].reset_index(drop=True)


def _numbers(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        t = pd.to_datetime(s, errors="coerce", utc=True)
        out = np.full(len(s), np.nan)
        ok = t.notna().to_numpy()
        out[ok] = t[ok].astype("int64").to_numpy(np.float64)
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(np.float64, na_value=np.nan)


class Encoder:
    """Rows -> a float matrix, fitted on the real training rows: numeric columns centred and scaled
    (`scale` "z": z-score, "range": min-max to [0, 1]), a missing indicator where a column has gaps,
    categorical / boolean columns one-hot over every value the fitted frames hold (scaled by
    1/sqrt(2), so a mismatch adds 1 to a squared distance, like a full-range numeric difference)."""

    def __init__(self, kinds: dict[str, str], scale: str = "z") -> None:
        self.kinds, self.scale = dict(kinds), scale

    def fit(self, real: pd.DataFrame, *others: pd.DataFrame) -> Encoder:
        self.stats: dict[str, tuple[float, float, float]] = {}
        self.categories: dict[str, list[str]] = {}
        self.missing = {c: any(f[c].isna().any() for f in (real, *others)) for c in self.kinds}
        for col, kind in self.kinds.items():
            if kind in NUMERIC:
                x = _numbers(real[col], kind)
                x = x[~np.isnan(x)]
                if not len(x):
                    x = np.zeros(1)
                if self.scale == "z":
                    centre, width = float(x.mean()), float(x.std())
                else:
                    centre, width = float(x.min()), float(x.max() - x.min())
                self.stats[col] = (centre, width or 1.0, float(np.median(x)))
            else:
                values = pd.concat([f[col] for f in (real, *others)]).dropna().astype(str)
                self.categories[col] = sorted(values.unique().tolist())
        return self

    def __call__(self, df: pd.DataFrame) -> np.ndarray:
        blocks = []
        for col, kind in self.kinds.items():
            na = df[col].isna().to_numpy()
            if kind in NUMERIC:
                centre, width, fill = self.stats[col]
                x = _numbers(df[col], kind)
                na = np.isnan(x)
                blocks.append(((np.where(na, fill, x) - centre) / width)[:, None])
            else:
                cats = self.categories[col]
                index = {c: i for i, c in enumerate(cats)}
                idx = df[col].astype(str).map(index).to_numpy()
                hot = np.zeros((len(df), len(cats)))
                ok = ~na & ~pd.isna(idx)
                hot[np.flatnonzero(ok), idx[ok].astype(int)] = 1.0
                blocks.append(hot / np.sqrt(2.0))
            if self.missing[col]:
                blocks.append(na[:, None].astype(np.float64))
        return np.concatenate(blocks, 1) if blocks else np.zeros((len(df), 0))


def _check(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> None:
    from ..errors import DataError

    for name, df in (("real", real), ("synthetic", synth)):
        lost = [c for c in kinds if c not in df.columns]
        if lost:
            raise DataError(f"the {name} table lacks columns {lost}")
        if len(df) < 2:
            raise DataError(f"the {name} table needs at least 2 rows, got {len(df)}")


# --- (a) the SDMetrics quality report ---------------------------------------------------------------

def sdmetrics_metadata(kinds: dict[str, str]) -> dict[str, Any]:
    """SDMetrics' single-table metadata for ganforge's column kinds."""
    return {"columns": {str(c): {"sdtype": SDTYPES[k]} for c, k in kinds.items()}}


def quality(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], max_rows: int = MAX_ROWS,
            seed: int = 0) -> dict[str, Any]:
    """SDMetrics' QualityReport: `quality` (the mean of its two properties), `column_shapes`,
    `column_pair_trends` (each in [0, 1], 1 = the same; None where SDMetrics scores no pair), and the
    per-column shape scores."""
    try:
        import sdmetrics

        with warnings.catch_warnings():  # 0.2x-0.3x: "use the unified report" (multi-table metadata)
            warnings.simplefilter("ignore", FutureWarning)
            from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        from ..errors import DataError

        raise DataError("the table quality score needs sdmetrics: pip install 'ganforge[tabular]'") from None
    _check(real, synth, kinds)
    cols = list(kinds)
    r, s = subsample(real[cols], max_rows, seed), subsample(synth[cols], max_rows, seed + 1)
    if any(k == "datetime" for k in kinds.values()):  # SDMetrics reads datetimes as datetime64
        for col in (c for c, k in kinds.items() if k == "datetime"):
            r[col] = pd.to_datetime(r[col], errors="coerce")
            s[col] = pd.to_datetime(s[col], errors="coerce")
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(r, s, sdmetrics_metadata(kinds), verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    per_column = {str(row["Column"]): _num(row["Score"]) for _, row in shapes.iterrows()}
    return {"quality": _num(report.get_score()), "column_shapes": _num(props.get("Column Shapes")),
            "column_pair_trends": _num(props.get("Column Pair Trends")), "column_shape_scores": per_column,
            "rows": {"real": len(r), "synthetic": len(s)},
            "statistic": f"sdmetrics {sdmetrics.__version__} QualityReport (single table): mean of Column "
                         "Shapes (KSComplement / TVComplement) and Column Pair Trends (CorrelationSimilarity "
                         "/ ContingencySimilarity)"}


def _num(v: Any) -> float | None:
    """None where SDMetrics gives no score (Column Pair Trends skips a pair whose real columns show
    no association above its threshold; with no pair left the property has none)."""
    return None if v is None or pd.isna(v) else round(float(v), 6)


# --- (b) detection ------------------------------------------------------------------------------------

def detection(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], max_rows: int = MAX_ROWS,
              seed: int = 0, folds: int = 3) -> dict[str, Any]:
    """Cross-validated ROC AUC of classifiers telling real from synthetic rows (equal counts of each,
    `folds` stratified folds): `detection_auc` is the larger of logistic regression's and gradient-
    boosted trees' (the stronger judge); 0.5 = indistinguishable."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    _check(real, synth, kinds)
    m = min(len(real), len(synth), max_rows)
    r, s = subsample(real, m, seed), subsample(synth, m, seed + 1)
    enc = Encoder(kinds, "z").fit(r, s)
    x = np.concatenate([enc(r), enc(s)])
    y = np.r_[np.zeros(m), np.ones(m)]
    cv = StratifiedKFold(n_splits=min(folds, m), shuffle=True, random_state=seed)
    models = {"logistic": LogisticRegression(max_iter=1000),
              "boosting": HistGradientBoostingClassifier(max_iter=100, random_state=seed)}
    aucs = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
        aucs[name] = round(float(roc_auc_score(y, p)), 6)
    return {"detection_auc": max(aucs.values()), "auc": aucs, "rows_each": m, "folds": cv.n_splits,
            "statistic": f"ROC AUC of out-of-fold probabilities ({cv.n_splits}-fold stratified CV, seed "
                         f"{seed}) of scikit-learn LogisticRegression and HistGradientBoostingClassifier "
                         "telling real (0) from synthetic (1) rows; the larger is the score"}


# --- (c) machine-learning efficacy --------------------------------------------------------------------

def pick_target(kinds: dict[str, str], target: str = "") -> str:
    """The column ML efficacy predicts: `target` if given, else a column named `target`, else the last."""
    from ..errors import DataError

    if target:
        if target not in kinds:
            raise DataError(f"target column {target!r} is not in the table (columns: {', '.join(kinds)})")
        return target
    return "target" if "target" in kinds else list(kinds)[-1]


def ml_efficacy(train: pd.DataFrame, synth: pd.DataFrame, test: pd.DataFrame, kinds: dict[str, str],
                target: str = "", max_rows: int = MAX_ROWS, seed: int = 0) -> dict[str, Any]:
    """Train on synthetic, test on the real held-out rows (`synthetic`), beside train on real, test on
    the same rows (`real`); `ratio` = synthetic / real. Gradient-boosted trees; macro F1 for a
    categorical or boolean target, R2 for a numeric one (rows with a missing target are dropped)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    col = pick_target(kinds, target)
    _check(train, synth, kinds)
    features = {c: k for c, k in kinds.items() if c != col}
    numeric = kinds[col] in NUMERIC
    frames = [subsample(f[f[col].notna()], max_rows, seed + i) for i, f in enumerate((train, synth, test))]
    tr, sy, te = frames
    enc = Encoder(features, "z").fit(tr, sy, te)

    def y(df: pd.DataFrame) -> np.ndarray:
        return _numbers(df[col], kinds[col]) if numeric else df[col].astype(str).to_numpy()

    def score(fit_on: pd.DataFrame) -> float:
        if numeric:
            model = HistGradientBoostingRegressor(max_iter=100, random_state=seed)
            return float(r2_score(y(te), model.fit(enc(fit_on), y(fit_on)).predict(enc(te))))
        labels = y(fit_on)
        if len(np.unique(labels)) < 2:  # a generator that emits one class: that class, always
            pred = np.full(len(te), labels[0], dtype=object)
        else:
            model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
            pred = model.fit(enc(fit_on), labels).predict(enc(te))
        return float(f1_score(y(te), pred, average="macro"))

    real, syn = score(tr), score(sy)
    metric = "r2" if numeric else "f1_macro"
    return {"synthetic": round(syn, 6), "real": round(real, 6),
            "ratio": round(syn / real, 6) if real > 0 else float("nan"), "target": str(col), "metric": metric,
            "rows": {"train": len(tr), "synthetic": len(sy), "test": len(te)},
            "statistic": f"{metric} on real held-out rows of scikit-learn HistGradientBoosting"
                         f"{'Regressor' if numeric else 'Classifier'} (100 iterations, seed {seed}) trained "
                         "on synthetic rows (synthetic) vs on the real training rows (real)"}


# --- (d) privacy: distance to the closest record -------------------------------------------------------

def _nearest(ref: np.ndarray, query: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (bounded memory)."""
    out = np.empty(len(query))
    rr = (ref * ref).sum(1)
    for i in range(0, len(query), chunk):
        q = query[i:i + chunk]
        d2 = (q * q).sum(1)[:, None] + rr[None, :] - 2.0 * q @ ref.T
        out[i:i + chunk] = np.sqrt(np.maximum(d2.min(1), 0.0))
    return out


def dcr(train: pd.DataFrame, query: pd.DataFrame, kinds: dict[str, str], max_rows: int = MAX_ROWS,
        seed: int = 0) -> np.ndarray:
    """Each query row's distance to its closest training row (min-max scaled numbers, one-hot
    categories at 1/sqrt(2): a differing category counts like a full-range difference); exact copies
    give 0 (up to float rounding, < 1e-6)."""
    tr, q = subsample(train, max_rows, seed), subsample(query, max_rows, seed + 1)
    enc = Encoder(kinds, "range").fit(tr, q)
    d = _nearest(enc(tr), enc(q))
    d[d < 1e-6] = 0.0  # the squared-distance expansion leaves rounding on identical rows
    return d


def privacy(train: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame, kinds: dict[str, str],
            max_rows: int = MAX_ROWS, seed: int = 0) -> dict[str, Any]:
    """DCR of synthetic rows and of real held-out rows to the training rows: median, 5th percentile,
    share of exact copies. Synthetic rows much closer than held-out rows (`median_ratio` < 1) copy."""
    _check(train, synth, kinds)
    out: dict[str, Any] = {}
    for name, df in (("synthetic", synth), ("holdout", holdout)):
        d = dcr(train, df, kinds, max_rows, seed)
        out[name] = {"median": round(float(np.median(d)), 6), "p5": round(float(np.percentile(d, 5)), 6),
                     "exact_copies": round(float((d == 0).mean()), 6), "rows": len(d)}
    h = out["holdout"]["median"]
    out["median_ratio"] = round(out["synthetic"]["median"] / h, 6) if h > 0 else float("nan")
    out["reference_rows"] = min(len(train), max_rows)
    out["statistic"] = ("Euclidean distance to the closest training row (numbers min-max scaled by the "
                        "training rows, categories one-hot / sqrt(2), missing as an indicator); exact copy "
                        "= distance 0; median_ratio = synthetic median / holdout median")
    return out


def table_report(train: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str],
                 holdout: pd.DataFrame | None = None, target: str = "", max_rows: int = MAX_ROWS,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Every statistic that applies: quality and detection always, ML efficacy and privacy when
    there are held-out rows. Name -> result dict (what eval.json keeps)."""
    out = {"quality": quality(train, synth, kinds, max_rows, seed),
           "detection": detection(train, synth, kinds, max_rows, seed)}
    if holdout is not None and len(holdout) >= 2:
        out["ml_efficacy"] = ml_efficacy(train, synth, holdout, kinds, target, max_rows, seed)
        out["privacy"] = privacy(train, synth, holdout, kinds, max_rows, seed)
    return out
