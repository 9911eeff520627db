"""ganforge's TabularGAN vs the `ctgan` package (sdv-dev/CTGAN, default settings) at equal epochs, on
scikit-learn's bundled wine and breast-cancer tables and on a larger synthetic mixed-type table:
fit time, sample time, the SDMetrics quality score, detection AUC, ML efficacy and DCR
(metrics/tabular.py). Each table is split once (data/table.py's split_holdout, 20 % held out): both
models fit the same training rows; the held-out rows are the test set of ML efficacy and DCR's
reference. A "real holdout" row scores those real rows the same way: the ceiling a generator can
reach with that many rows.

    pip install 'ganforge[bench,tabular]'
    python benchmarks/tabular.py [--epochs 300] [--large-epochs 30] [--rows 50000] [--fresh]
Writes benchmarks/results/tabular.md; target: ganforge fits >= 3x faster at an equal or better quality
score on every table. Speed is judged on the fit's CPU time (one thread: what the fit costs, which
other work on a shared machine disturbs less than wall time); wall time is shown beside it. One
thread per fit (torch, BLAS and OpenMP), CPU; each finished job is kept
in runs/bench/tabular/ and reused unless --fresh.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import write_results  # noqa: E402

from ganforge.data.table import load_table_set, read_table, split_holdout  # noqa: E402
from ganforge.metrics import tabular  # noqa: E402
from ganforge.tabular import TabularGAN  # noqa: E402

HOLDOUT = 0.2
SEED = 0  # the judges' seed (subsamples, CV folds, ML efficacy's trees): the same for every fit


def mixed_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A deterministic table of the kinds real data mixes: a continuous column with three modes, a
    positive-only skewed one, an integer, a categorical that follows the modes, a boolean that
    follows income, and a positive spend that depends on income and segment."""
    rng = np.random.default_rng(seed)
    mode = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
    score = rng.normal(np.array([-3.0, 0.0, 4.0])[mode], np.array([0.6, 0.4, 1.0])[mode])
    segment_of_mode = np.array([["retail", "retail", "online"], ["online", "wholesale", "online"],
                                ["partner", "wholesale", "partner"]])
    segment = segment_of_mode[mode, rng.integers(0, 3, rows)]
    income = rng.lognormal(10.5, 0.6, rows)
    age = np.clip(np.round(rng.normal(45, 14, rows)), 18, 90).astype(np.int64)
    member = rng.random(rows) < 1 / (1 + np.exp(-(np.log(income) - 10.5) * 3))
    lift = pd.Series(segment).map({"retail": 1.0, "online": 1.5, "wholesale": 4.0, "partner": 2.5}).to_numpy()
    spend = income * 0.02 * lift * rng.lognormal(0, 0.25, rows)
    return pd.DataFrame({"score": score, "income": income, "age": age, "segment": segment,
                         "member": member, "spend": spend})


def tables(rows: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, str], str]]:
    """name -> (training rows, held-out rows, column kinds, ML efficacy's target)."""
    out = {}
    for name in ("wine", "breast_cancer"):
        t = load_table_set(name, holdout=HOLDOUT)
        out[name] = (t.frame, t.holdout, t.kinds, "target")
    t = split_holdout(read_table(mixed_table(rows)), HOLDOUT)
    out[f"mixed-{rows // 1000}k"] = (t.frame, t.holdout, t.kinds, "segment")
    return out


OVERRIDES: dict[str, object] = {}  # --set: ganforge config keys beyond TabularGAN's recipe


def fit_ganforge(train: pd.DataFrame, kinds: dict[str, str], epochs: int, seed: int):
    gan = TabularGAN(epochs=epochs, seed=seed, device="cpu", columns=kinds, progress=False,
                     overrides={"train.threads": 1, **OVERRIDES})
    gan.fit(train)
    return lambda n: gan.sample(n, seed=seed)


def fit_ctgan(train: pd.DataFrame, kinds: dict[str, str], epochs: int, seed: int):
    from ctgan import CTGAN

    model = CTGAN(epochs=epochs, verbose=False, enable_gpu=False)
    model.set_random_state(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train, discrete_columns=[c for c, k in kinds.items() if k in ("categorical", "boolean")])
    return lambda n: model.sample(n)


FITS = {"ganforge": fit_ganforge, "ctgan": fit_ctgan}


def warm_up() -> None:
    """Pay torch's one-time costs (the first optimizer imports torch._dynamo: ~3 s) before any clock
    starts, so the first fit timed is not charged for them."""
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.Adam([p], fused=True)
    (p * p).sum().backward()
    opt.step()


def scores(train: pd.DataFrame, synth: pd.DataFrame, hold: pd.DataFrame, kinds: dict[str, str],
           target: str) -> dict:
    q = tabular.quality(train, synth, kinds, seed=SEED)
    d = tabular.detection(train, synth, kinds, seed=SEED)
    m = tabular.ml_efficacy(train, synth, hold, kinds, target, seed=SEED)
    p = tabular.privacy(train, synth, hold, kinds, seed=SEED)
    return {"quality": q["quality"], "shapes": q["column_shapes"], "pairs": q["column_pair_trends"],
            "detection": d["detection_auc"], "ml": m["synthetic"], "ml_real": m["real"],
            "ml_metric": m["metric"], "dcr": p["synthetic"]["median"], "dcr_holdout": p["holdout"]["median"],
            "copies": p["synthetic"]["exact_copies"]}


def job(name: str, method: str, data: tuple, epochs: int, cache: Path, fresh: bool, seed: int = 0) -> dict:
    train, hold, kinds, target = data
    key = {"table": name, "method": method, "epochs": epochs, "rows": len(train),
           **({"set": OVERRIDES} if method == "ganforge" and OVERRIDES else {})}
    path = cache / f"{name}-{method}{f'-seed{seed}' if seed else ''}.json"
    if path.exists() and not fresh:
        rec = json.loads(path.read_text())
        if rec.get("key") == key:
            return rec
    n = len(train)
    t0, c0 = time.perf_counter(), time.process_time()
    sample = FITS[method](train, kinds, epochs, seed) if method != "holdout" else None
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    synth = sample(n) if sample is not None else hold
    sample_s = time.perf_counter() - t0
    rec = {"key": key, "fit_s": fit_s if sample else None, "fit_cpu": fit_cpu if sample else None,
           "sample_s": sample_s if sample else None,
           "n": len(synth), **scores(train, synth, hold, kinds, target)}
    if sample is None:  # the held-out rows are ML efficacy's test set: no train-on-them score
        rec["ml"] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, indent=1))
    shown = json.dumps({k: v for k, v in rec.items() if k != "key"})
    print(f"  {name} {method} seed {seed}: {shown}", flush=True)
    return rec


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def mean(recs: list[dict]) -> dict:
    """The seeds' mean of every number (None stays None); `quality_range` = (min, max)."""
    out = dict(recs[0])
    for k, v in recs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(np.mean([r[k] for r in recs]))
    q = [r["quality"] for r in recs]
    out["quality_range"] = (min(q), max(q))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=300,
                   help="epochs on wine and breast cancer (CTGAN's default)")
    p.add_argument("--large-epochs", type=int, default=30, help="epochs on the large mixed table")
    p.add_argument("--rows", type=int, default=50_000, help="rows of the mixed table (before the holdout)")
    p.add_argument("--seeds", type=int, default=3, help="fits per method on wine and breast cancer")
    p.add_argument("--large-seeds", type=int, default=1, help="fits per method on the large mixed table")
    p.add_argument("--only", default="", help="comma-separated table names to run (default: all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a ganforge config key beyond TabularGAN's recipe (repeatable)")
    p.add_argument("--fresh", action="store_true", help="refit even where a finished job is kept")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tabular.md"))
    args = p.parse_args()
    t_start = time.time()
    import yaml

    OVERRIDES.update({k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)})
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # BLAS and OpenMP (the mixtures, sklearn's trees): one thread, like torch
    import ctgan
    import sdmetrics

    warm_up()

    cache = ROOT / "runs" / "bench" / "tabular"
    rows, verdicts = [], []
    for name, data in tables(args.rows).items():
        if args.only and name not in args.only.split(","):
            continue
        large = name.startswith("mixed")
        epochs = args.large_epochs if large else args.epochs
        seeds = range(args.large_seeds if large else args.seeds)
        recs = {m: mean([job(name, m, data, epochs, cache, args.fresh, s) for s in seeds])
                for m in ("ganforge", "ctgan")}
        recs["holdout"] = mean([job(name, "holdout", data, epochs, cache, args.fresh)])
        for m, r in recs.items():
            label = "real holdout (reference)" if m == "holdout" else m
            lo, hi = r["quality_range"]
            spread = f" ({lo:.3f}-{hi:.3f})" if len(seeds) > 1 and m != "holdout" else ""
            rows.append(f"| {name} ({len(data[0]):,} train / {len(data[1]):,} held out) | {label} | "
                        f"{epochs if m != 'holdout' else '-'} | {fmt(r['fit_s'], 1)} | "
                        f"{fmt(r['fit_cpu'], 1)} | "
                        f"{fmt(r['sample_s'], 2)} | {fmt(r['quality'])}{spread} | {fmt(r['shapes'])} | "
                        f"{fmt(r['pairs'])} | {fmt(r['detection'])} | "
                        f"{fmt(r['ml'])} / {fmt(r['ml_real'])} {r['ml_metric']} | {fmt(r['dcr'])} |")
        g, c = recs["ganforge"], recs["ctgan"]
        speed, wall = c["fit_cpu"] / g["fit_cpu"], c["fit_s"] / g["fit_s"]
        ok = speed >= 3 and g["quality"] >= c["quality"]
        verdicts.append(f"- {name}: fit {speed:.1f}x less CPU time ({wall:.1f}x wall), quality "
                        f"{g['quality']:.3f} vs {c['quality']:.3f}: {'met' if ok else 'missed'}")
    lines = ["# Tables: ganforge vs CTGAN", "",
             f"Fit on the same training rows (80 %; the rest held out), CPU, one thread per fit; wine and "
             f"breast cancer {args.epochs} epochs (CTGAN's default), the {args.rows:,}-row mixed table "
             f"{args.large_epochs} epochs on both sides; CTGAN's steps per epoch = rows // 500, ganforge "
             "counts the same. Sampling: as many rows as the training set. Scores against the training "
             f"rows (sdmetrics {sdmetrics.__version__} QualityReport; detection: the larger cross-validated "
             "AUC of logistic regression and gradient boosting, 0.5 = indistinguishable); ML efficacy: "
             "gradient boosting trained on synthetic / on real rows, tested on the held-out rows; DCR: "
             "median distance to the closest training row (held-out rows: the reference line). ctgan "
             f"{ctgan.__version__}. Each cell is the mean over fits with seeds 0..{args.seeds - 1} (wine, "
             f"breast cancer; quality's range in brackets) or 0..{args.large_seeds - 1} (mixed); the judges "
             f"use seed {SEED} throughout; torch's one-time start-up costs are paid before the first clock "
             "starts."
             + (f" ganforge with {', '.join(f'{k}={v}' for k, v in OVERRIDES.items())}." * bool(OVERRIDES)),
             "",
             "| table | method | epochs | fit s | fit CPU s | sample s | quality | col shapes | "
             "pair trends | detection AUC | ML efficacy (synthetic / real) | DCR median |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             "Target (>= 3x faster fit at an equal or better quality score on every table):", *verdicts, ""]
    write_results(lines, args.out, t_start)


if __name__ == "__main__":
    main()
