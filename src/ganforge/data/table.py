"""Tables: a CSV or a pandas DataFrame, its column types, and a reversible encoding for a tabular GAN.

`read_table` turns a file or a frame into a `TableData` (the frame plus one kind per column); every
malformed input is a one-line `DataError`, never a traceback. `TableTransformer` encodes rows into the
float vector a generator learns and decodes its outputs back to a frame with the same columns, order
and dtypes. Continuous columns get CTGAN's mode-specific normalisation (Xu et al. 2019, "Modeling
Tabular Data using Conditional GAN"): a variational Gaussian mixture per column, each value written as
(mode one-hot, offset within the mode), because a single min-max scale squeezes multi-modal columns
into a few tanh values. Unlike CTGAN, the mixture is fit on a bounded subsample (time and memory stay
bounded on any table), every random choice comes from the caller's seed, and decoding keeps each
column inside the values it had in training (positive stays positive, integers stay integers,
categories only from the training set).
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import DataError

KINDS = ("continuous", "integer", "categorical", "boolean", "datetime")
NUMERIC_KINDS = ("continuous", "integer", "datetime")
MAX_COLUMNS = 1000  # wider tables are almost always a mistake (a transposed file, a wrong delimiter)
MAX_CATEGORIES = 1000  # an inferred text column with more distinct values looks like an identifier
BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "t": True, "f": False}
# datetime resolutions tried, coarsest first: decoding rounds to the column's own resolution
DATETIME_STEPS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)


@dataclass
class TableData:
    """A table ready for a GAN: the frame as read, one kind per kept column, and why others went."""

    frame: pd.DataFrame
    kinds: dict[str, str]
    source: str = "DataFrame"
    dropped: dict[str, str] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None  # rows kept out of training (`split_holdout`), for evaluation

    kind = "table"  # what the trainer's callbacks read of a data source

    @property
    def size(self) -> int:
        """Rows: epochs in metrics.jsonl count passes over them."""
        return len(self.frame)

    def describe(self) -> str:
        """One line for logs and reports: size and how many columns of each kind."""
        counts = {k: sum(v == k for v in self.kinds.values()) for k in KINDS}
        kinds = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        return f"{self.source}: {len(self.frame)} rows, {kinds}"


def read_table(source: str | Path | pd.DataFrame, types: dict[str, str] | None = None,
               max_columns: int = MAX_COLUMNS) -> TableData:
    """Read a CSV file or take a DataFrame; infer column kinds, `types` overriding them by name."""
    if isinstance(source, pd.DataFrame):
        frame, name = source.reset_index(drop=True), "DataFrame"
    else:
        frame, name = read_csv(source, max_columns), str(source)
    if frame.shape[1] > max_columns:
        raise DataError(f"{name}: {frame.shape[1]} columns, more than the limit of {max_columns}")
    if len(frame) == 0 or frame.shape[1] == 0:
        raise DataError(f"{name}: the table has no rows or no columns")
    kinds, dropped = infer_kinds(frame, types)
    if not kinds:
        why = "; ".join(f"{c}: {r}" for c, r in dropped.items())
        raise DataError(f"{name}: no usable columns ({why})")
    for col, kind in kinds.items():
        check_column(frame[col], kind)
    return TableData(frame[list(kinds)], kinds, name, dropped)


def read_csv(path: str | Path, max_columns: int = MAX_COLUMNS) -> pd.DataFrame:
    """Read a CSV after a streaming check of its shape, so ragged rows name their line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        _check_rows(path, max_columns)
        return pd.read_csv(path, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except (csv.Error, pd.errors.ParserError) as e:
        raise DataError(f"{path}: malformed CSV ({str(e).splitlines()[0]})") from None


def _check_rows(path: Path, max_columns: int) -> None:
    """Every non-blank row must have the header's number of fields (pandas pads short rows)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next((r for r in reader if r), None)
        if header is None:
            raise DataError(f"{path}: empty file")
        if len(header) > max_columns:
            raise DataError(f"{path}: {len(header)} columns, more than the limit of {max_columns}")
        rows = 0
        for row in reader:
            if row and len(row) != len(header):
                raise DataError(f"{path}: line {reader.line_num} has {len(row)} fields, "
                                f"the header has {len(header)}")
            rows += bool(row)
    if rows == 0:
        raise DataError(f"{path}: a header but no rows")


def infer_kinds(frame: pd.DataFrame, types: dict[str, str] | None = None,
                max_categories: int = MAX_CATEGORIES) -> tuple[dict[str, str], dict[str, str]]:
    """Each column's kind (`types` wins); columns that cannot be modelled go to `dropped` with why."""
    types = dict(types or {})
    unknown = [c for c in types if c not in frame.columns]
    if unknown:
        raise DataError(f"types name unknown columns {unknown} (columns: {list(frame.columns)})")
    bad = {c: k for c, k in types.items() if k not in KINDS}
    if bad:
        raise DataError(f"unknown column types {bad} (known: {', '.join(KINDS)})")
    kinds, dropped = {}, {}
    for col in frame.columns:
        kind = types.get(col) or infer_kind(frame[col], max_categories)
        if frame[col].isna().all():
            dropped[str(col)] = "every value is missing"
        elif kind is None:
            dropped[str(col)] = f"text with more than {max_categories} distinct values"
        else:
            kinds[col] = kind
    return kinds, dropped


def infer_kind(s: pd.Series, max_categories: int = MAX_CATEGORIES) -> str | None:
    """The kind a column's values suggest; None for free text or identifiers (too many values)."""
    v = s.dropna()
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        return "integer" if bool((v == np.round(v)).all()) else "continuous"
    values = v.unique()
    if len(values) <= 2 and all(_as_bool(x) is not None for x in values):
        return "boolean"
    if _parse_datetimes(v).notna().all() and len(v):
        return "datetime"
    return "categorical" if len(values) <= max_categories else None


def _as_bool(x: object) -> bool | None:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    return BOOL_WORDS.get(str(x).strip().lower())


def _parse_datetimes(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(s.astype(str), errors="coerce", format="ISO8601", utc=False)


def check_column(s: pd.Series, kind: str) -> None:
    """Refuse values that do not fit a forced kind, naming the first one and its row."""
    v = s.dropna()
    if kind in ("continuous", "integer"):
        ok = pd.to_numeric(v, errors="coerce").notna() if not pd.api.types.is_numeric_dtype(v) else None
    elif kind == "datetime":
        ok = _parse_datetimes(v).notna()
    elif kind == "boolean":
        ok = v.map(lambda x: _as_bool(x) is not None)
        if v.nunique() > 2:
            raise DataError(f"column {s.name!r} is boolean but has {v.nunique()} distinct values")
    else:
        ok = None
    if ok is not None and not ok.all():
        row = ok.index[~ok.to_numpy(bool)][0]
        raise DataError(f"column {s.name!r} is {kind} but row {row + 1} holds {v[row]!r}")


@dataclass(frozen=True)
class OutputSpan:
    """A slice of the encoded vector and the activation a generator head should give it."""

    column: str
    role: str  # value (a mode's offset), mode, category, missing
    activation: str  # tanh | softmax
    start: int
    size: int


class _NumericColumn:
    """Continuous, integer and datetime columns: standardise, then a Gaussian mixture's modes."""

    def __init__(self, kind: str, max_modes: int, threshold: float, max_rows: int, seed: int):
        self.kind, self.max_modes, self.threshold = kind, max_modes, threshold
        self.max_rows, self.seed = max_rows, seed

    def to_float(self, s: pd.Series) -> np.ndarray:
        """Values as float64 (datetimes in units of the column's resolution), NaN where missing."""
        if self.kind != "datetime":
            return pd.to_numeric(s, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        t = _parse_datetimes(s)
        out = np.full(len(s), np.nan)
        ok = t.notna().to_numpy()
        if t.dt.tz is not None:
            t = t.dt.tz_convert(None)
        ns = t[ok].astype("datetime64[ns]").astype("int64").to_numpy()
        out[ok] = (ns - self.origin) // self.step  # from the earliest value: float64 stays exact
        return out

    def fit(self, s: pd.Series) -> None:
        from sklearn.mixture import BayesianGaussianMixture

        if self.kind == "datetime":
            self._fit_datetime(s)
        x = self.to_float(s)
        x = x[~np.isnan(x)]
        self.lo, self.hi, self.fill = float(x.min()), float(x.max()), float(np.median(x))
        self.mean, self.std = float(x.mean()), float(x.std()) or 1.0
        rng = np.random.default_rng(self.seed)
        sub = x if len(x) <= self.max_rows else rng.choice(x, self.max_rows, replace=False)
        z = ((sub - self.mean) / self.std).reshape(-1, 1)
        # covariance_type "diag": on one column the same mixture as "full" (equal to 1e-12), without
        # a Cholesky per mode and iteration: about 20 % less time per column
        self.gmm = BayesianGaussianMixture(
            n_components=min(self.max_modes, len(np.unique(z))), weight_concentration_prior_type=
            "dirichlet_process", weight_concentration_prior=0.001, max_iter=100, n_init=1,
            covariance_type="diag", random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the modes are still usable
            self.gmm.fit(z)
        self.modes = np.flatnonzero(self.gmm.weights_ > self.threshold)
        self.mu = self.gmm.means_.ravel()[self.modes]
        self.sigma = np.sqrt(self.gmm.covariances_.ravel()[self.modes])

    def _fit_datetime(self, s: pd.Series) -> None:
        """Keep the original dtype's form and the coarsest unit every value is a whole multiple of."""
        t = _parse_datetimes(s).dropna()
        self.tz = t.dt.tz
        ns = (t.dt.tz_convert(None) if self.tz is not None else t).astype("datetime64[ns]")
        ns = ns.astype("int64").to_numpy()
        self.step = next(d for d in DATETIME_STEPS_NS if (ns % d == 0).all())
        self.origin = int(ns.min())
        self.text = None if pd.api.types.is_datetime64_any_dtype(s) else (
            "%Y-%m-%d" if self.step >= DATETIME_STEPS_NS[0] else "%Y-%m-%d %H:%M:%S")

    @property
    def width(self) -> int:
        return 1 + len(self.modes)

    def spans(self, name: str, start: int) -> list[OutputSpan]:
        return [OutputSpan(name, "value", "tanh", start, 1),
                OutputSpan(name, "mode", "softmax", start + 1, len(self.modes))]

    def encode(self, s: pd.Series, rng: np.random.Generator) -> np.ndarray:
        """A mode drawn from each value's posterior (CTGAN's choice), then the offset in that mode."""
        x = self.to_float(s)
        x = np.where(np.isnan(x), self.fill, x)
        z = (x - self.mean) / self.std
        post = self.gmm.predict_proba(z.reshape(-1, 1))[:, self.modes]
        post = post + 1e-12
        cum = np.cumsum(post / post.sum(1, keepdims=True), axis=1)
        k = np.minimum((cum < rng.random((len(z), 1))).sum(1), len(self.modes) - 1)
        out = np.zeros((len(z), self.width))
        out[:, 0] = (z - self.mu[k]) / (4 * self.sigma[k])
        out[np.arange(len(z)), 1 + k] = 1.0
        return out

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Back to the column's units, inside the training range, whole where the kind wants it."""
        k = block[:, 1:].argmax(1)
        z = block[:, 0] * 4 * self.sigma[k] + self.mu[k]
        x = np.clip(z * self.std + self.mean, self.lo, self.hi)
        return np.round(x) if self.kind in ("integer", "datetime") else x

    def to_values(self, x: np.ndarray, missing: np.ndarray) -> pd.Series:
        """Floats in the column's units to values of the column's own form (datetimes, text)."""
        if self.kind != "datetime":
            return pd.Series(np.where(missing, np.nan, x))
        ns = pd.Series(np.where(missing, 0, x).astype("int64") * self.step + self.origin)
        t = pd.to_datetime(ns, unit="ns").where(~missing)
        if self.tz is not None:
            t = t.dt.tz_localize("UTC").dt.tz_convert(self.tz)
        return t if self.text is None else t.dt.strftime(self.text).where(~missing)


class _CategoryColumn:
    """Categorical and boolean columns: a one-hot over the values seen in training."""

    def __init__(self, kind: str):
        self.kind = kind

    def fit(self, s: pd.Series) -> None:
        v = s.dropna()
        self.categories = sorted(v.unique().tolist(), key=lambda c: (str(type(c)), str(c)))
        self.index = {c: i for i, c in enumerate(self.categories)}
        self.fill = self.index[v.mode(dropna=True).iloc[0]]
        counts = v.value_counts()
        self.counts = [int(counts[c]) for c in self.categories]  # training-by-sampling's frequencies

    @property
    def width(self) -> int:
        return len(self.categories)

    def spans(self, name: str, start: int) -> list[OutputSpan]:
        return [OutputSpan(name, "category", "softmax", start, self.width)]

    def encode(self, s: pd.Series, rng: np.random.Generator) -> np.ndarray:
        idx = s.map(lambda c: self.index.get(c, -1) if pd.notna(c) else self.fill).to_numpy(int)
        if (idx < 0).any():
            bad = s[idx < 0].iloc[0]
            raise DataError(f"column {s.name!r}: {bad!r} was not in the training data")
        out = np.zeros((len(s), self.width))
        out[np.arange(len(s)), idx] = 1.0
        return out

    def decode(self, block: np.ndarray) -> np.ndarray:
        return block.argmax(1)

    def to_values(self, idx: np.ndarray, missing: np.ndarray) -> pd.Series:
        values = np.array(self.categories + [None], dtype=object)
        return pd.Series(values[np.where(missing, len(self.categories), idx)])


class TableTransformer:
    """Rows <-> the float32 vectors a tabular GAN learns; `output_info` lays out G's heads."""

    def __init__(self, kinds: dict[str, str] | None = None, *, max_modes: int = 10,
                 weight_threshold: float = 0.005, max_fit_rows: int = 10_000, seed: int = 0,
                 progress: bool = False):
        self.kinds = dict(kinds) if kinds else None
        self.max_modes, self.weight_threshold = max_modes, weight_threshold
        self.max_fit_rows, self.seed, self.progress = max_fit_rows, seed, progress

    def fit(self, df: pd.DataFrame) -> TableTransformer:
        """Learn each column's encoding; the mixtures see at most `max_fit_rows` rows per column."""
        if self.kinds is None:
            self.kinds = read_table(df).kinds
        self.columns = list(self.kinds)
        self.dtypes = {c: df[c].dtype for c in self.columns}
        self.encoders: dict[str, _NumericColumn | _CategoryColumn] = {}
        self.has_missing = {c: bool(df[c].isna().any()) for c in self.columns}
        for i, col in enumerate(self._columns_bar()):
            enc = self._encoder(self.kinds[col], i)
            enc.fit(df[col])
            self.encoders[col] = enc
        self.output_info = self._layout()
        self.output_dim = sum(s.size for s in self.output_info)
        return self

    def _columns_bar(self) -> list[str]:
        if not self.progress:
            return self.columns
        from tqdm import tqdm

        return tqdm(self.columns, desc="fit columns", unit="col")

    def _encoder(self, kind: str, i: int) -> _NumericColumn | _CategoryColumn:
        if kind in NUMERIC_KINDS:
            return _NumericColumn(kind, self.max_modes, self.weight_threshold, self.max_fit_rows,
                                  self.seed * 1_000_003 + i)
        return _CategoryColumn(kind)

    def _layout(self) -> list[OutputSpan]:
        spans, start = [], 0
        for col in self.columns:
            for s in self.encoders[col].spans(col, start):
                spans.append(s)
                start += s.size
            if self.has_missing[col]:
                spans.append(OutputSpan(col, "missing", "softmax", start, 2))
                start += 2
        return spans

    def transform(self, df: pd.DataFrame) -> torch.Tensor:
        """Encode rows: the same frame and seed always give the same tensor (modes are drawn)."""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise DataError(f"the table lacks columns {missing} the transformer was fit on")
        blocks = []
        for i, col in enumerate(self.columns):
            rng = np.random.default_rng([self.seed, i])
            blocks.append(self.encoders[col].encode(df[col], rng))
            if self.has_missing[col]:
                na = df[col].isna().to_numpy()
                blocks.append(np.stack([~na, na], 1).astype(np.float64))
        return torch.from_numpy(np.concatenate(blocks, 1).astype(np.float32))

    def inverse(self, x: torch.Tensor) -> pd.DataFrame:
        """Decode G's outputs (any real values): softmax spans by argmax, the rest clipped to range."""
        a = x.detach().cpu().double().numpy()
        if a.ndim != 2 or a.shape[1] != self.output_dim:
            raise DataError(f"expected rows of width {self.output_dim}, got shape {tuple(a.shape)}")
        out, start = {}, 0
        for col in self.columns:
            enc = self.encoders[col]
            values = enc.decode(a[:, start:start + enc.width])
            start += enc.width
            missing = np.zeros(len(a), bool)
            if self.has_missing[col]:
                missing = a[:, start + 1] > a[:, start]
                start += 2
            out[col] = _restore_dtype(enc.to_values(values, missing), self.dtypes[col])
        return pd.DataFrame(out, columns=self.columns)


def _restore_dtype(s: pd.Series, dtype: object) -> pd.Series:
    """The training column's dtype where the values allow it (NaN in an int column cannot)."""
    try:
        return s.astype(dtype)
    except (TypeError, ValueError):
        return s


# --- the fitted state as plain JSON: checkpoints hold it (no pickle), `sample` needs nothing else ---

STATE_VERSION = 1


def _plain(v: object) -> object:
    """numpy scalars and arrays as JSON values (float64 -> repr, so the round trip is exact)."""
    if isinstance(v, np.ndarray):
        return {"array": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, tuple):
        return {"tuple": [_plain(x) for x in v]}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _unplain(v: object) -> object:
    if isinstance(v, dict) and "array" in v:
        return np.asarray(v["array"], dtype=v["dtype"])
    if isinstance(v, dict) and "tuple" in v:
        return tuple(_unplain(x) for x in v["tuple"])
    return v


def _gmm_state(gmm: object) -> dict[str, object]:
    fitted = {k: _plain(v) for k, v in vars(gmm).items() if k.endswith("_") and not k.startswith("_")}
    return {"params": gmm.get_params(), "fitted": fitted}  # type: ignore[attr-defined]


def _gmm_from(state: dict[str, object]) -> object:
    """The fitted mixture back, so `encode` (its posterior) gives the same modes as before saving."""
    from sklearn.mixture import BayesianGaussianMixture

    gmm = BayesianGaussianMixture(**state["params"])  # type: ignore[arg-type]
    for k, v in state["fitted"].items():  # type: ignore[attr-defined]
        setattr(gmm, k, _unplain(v))
    return gmm


_NUMERIC_FIELDS = ("kind", "max_modes", "threshold", "max_rows", "seed", "lo", "hi", "fill", "mean", "std")


def _encoder_state(enc: _NumericColumn | _CategoryColumn) -> dict[str, object]:
    if isinstance(enc, _CategoryColumn):
        return {"kind": enc.kind, "categories": [_plain(c) for c in enc.categories], "fill": enc.fill,
                "counts": enc.counts}
    out: dict[str, object] = {k: getattr(enc, k) for k in _NUMERIC_FIELDS}
    out.update(modes=enc.modes.tolist(), mu=enc.mu.tolist(), sigma=enc.sigma.tolist(),
               gmm=_gmm_state(enc.gmm))
    if enc.kind == "datetime":
        out.update(step=enc.step, origin=enc.origin, text=enc.text,
                   tz=None if enc.tz is None else str(enc.tz))
    return out


def _encoder_from(state: dict[str, object]) -> _NumericColumn | _CategoryColumn:
    kind = str(state["kind"])
    if kind not in NUMERIC_KINDS:
        enc = _CategoryColumn(kind)
        enc.categories = list(state["categories"])  # type: ignore[call-overload]
        enc.index = {c: i for i, c in enumerate(enc.categories)}
        enc.fill, enc.counts = int(state["fill"]), list(state["counts"])  # type: ignore[call-overload]
        return enc
    num = _NumericColumn(kind, int(state["max_modes"]), float(state["threshold"]),  # type: ignore[arg-type]
                         int(state["max_rows"]), int(state["seed"]))  # type: ignore[call-overload]
    for k in ("lo", "hi", "fill", "mean", "std"):
        setattr(num, k, float(state[k]))  # type: ignore[arg-type]
    num.modes = np.asarray(state["modes"], dtype=np.int64)
    num.mu, num.sigma = np.asarray(state["mu"]), np.asarray(state["sigma"])
    num.gmm = _gmm_from(state["gmm"])  # type: ignore[arg-type]
    if kind == "datetime":
        num.step, num.origin, num.text = int(state["step"]), int(state["origin"]), state["text"]  # type: ignore
        num.tz = state["tz"]
    return num


def transformer_state(tr: TableTransformer) -> dict[str, object]:
    """Everything a fitted TableTransformer knows, as JSON-ready values."""
    return {"version": STATE_VERSION, "kinds": tr.kinds, "columns": [str(c) for c in tr.columns],
            "dtypes": {c: str(d) for c, d in tr.dtypes.items()}, "has_missing": tr.has_missing,
            "settings": {"max_modes": tr.max_modes, "weight_threshold": tr.weight_threshold,
                         "max_fit_rows": tr.max_fit_rows, "seed": tr.seed},
            "encoders": {c: _encoder_state(e) for c, e in tr.encoders.items()}}


def transformer_from_state(state: dict[str, object]) -> TableTransformer:
    """The transformer `transformer_state` described: same encoding, same decoding, no refit."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise DataError("not a saved table transformer (or one from a newer ganforge)")
    try:
        tr = TableTransformer(dict(state["kinds"]), **state["settings"])  # type: ignore[arg-type]
        tr.columns = list(state["columns"])  # type: ignore[call-overload]
        tr.dtypes = dict(state["dtypes"])  # type: ignore[call-overload]
        tr.has_missing = {c: bool(v) for c, v in state["has_missing"].items()}  # type: ignore[attr-defined]
        tr.encoders = {c: _encoder_from(e) for c, e in state["encoders"].items()}  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"a saved table transformer is incomplete ({type(e).__name__}: {e})") from None
    tr.output_info = tr._layout()
    tr.output_dim = sum(s.size for s in tr.output_info)
    return tr


# --- named tables: a CSV, or scikit-learn's bundled sets (no download) ----------------------------

TABLE_SETS = ("table", "wine", "breast_cancer")


def parse_columns(text: str) -> dict[str, str]:
    """`data.columns`: "col:kind,col2:kind" -> {col: kind}; one-line errors for a bad entry."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        col, sep, kind = part.rpartition(":")
        col, kind = col.strip(), kind.strip()
        if not sep or not col:
            raise DataError(f"data.columns entry {part!r} must look like column:kind "
                            f"(kinds: {', '.join(KINDS)})")
        if kind not in KINDS:
            raise DataError(f"data.columns: unknown kind {kind!r} for {col!r} (known: {', '.join(KINDS)})")
        out[col] = kind
    return out


HOLDOUT_SEED = 20_160  # the split's own seed: every run (any `seed`) of a table holds out the same rows


def split_holdout(table: TableData, share: float) -> TableData:
    """Keep round(share * rows) rows out of training, chosen by a fixed seed from the row count alone,
    so eval (and every run of the same table, whatever its seed) sees the same held-out rows. The
    split happens before the transformer is fitted: held-out rows shape nothing the GAN learns."""
    if share <= 0:
        return table
    n = len(table.frame)
    k = int(round(share * n))
    if k < 1 or n - k < 2:
        raise DataError(f"data.holdout={share:g} of {n} rows leaves {k} held out and {n - k} to train on "
                        "(need at least 1 and 2)")
    perm = np.random.default_rng([HOLDOUT_SEED, n]).permutation(n)
    held, kept = np.sort(perm[:k]), np.sort(perm[k:])
    frame = table.frame.iloc[kept].reset_index(drop=True)
    return TableData(frame, table.kinds, f"{table.source} ({n - k} of {n} rows; {k} held out)",
                     table.dropped, table.frame.iloc[held].reset_index(drop=True))


def load_table_set(name: str, path: str | None = None, columns: str = "", holdout: float = 0.0) -> TableData:
    """`data.name`: table (a CSV at `path`), wine or breast_cancer (scikit-learn's bundled copies,
    their target as a named categorical column); `columns` overrides inferred kinds; `holdout`: the
    share of rows kept out (`split_holdout`)."""
    types = parse_columns(columns)
    if name == "table":
        if not path:
            raise DataError("data.name=table needs data.path=FILE.csv")
        return split_holdout(read_table(path, types), holdout)
    if name not in TABLE_SETS:
        raise DataError(f"unknown table {name!r} (known: {', '.join(TABLE_SETS)})")
    from sklearn import datasets

    load = datasets.load_wine if name == "wine" else datasets.load_breast_cancer
    bunch = load(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = pd.Series(np.asarray(bunch.target_names)[bunch.target.to_numpy()], dtype=object)
    table = read_table(frame, types)
    table.source = name
    return split_holdout(table, holdout)
