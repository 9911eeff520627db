import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.data.table import TableTransformer, read_table
from ganforge.errors import DataError


def mixed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Every kind, with missing values in a continuous and a categorical column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x": np.r_[rng.normal(0, 1, n // 2), rng.normal(10, 0.5, n - n // 2)],
        "pos": rng.exponential(2.0, n),
        "k": rng.integers(0, 50, n),
        "c": rng.choice(["a", "b", "c"], n),
        "b": rng.random(n) < 0.3,
        "d": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "ds": (pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 90_000, n), unit="s"))
        .strftime("%Y-%m-%d %H:%M:%S"),
    })
    df.loc[::7, "x"] = np.nan
    df.loc[::11, "c"] = None
    return df


def test_kinds_are_inferred_and_overridable():
    df = mixed_frame()
    df["flag"] = np.where(df["b"], "yes", "no")
    t = read_table(df)
    assert t.kinds == {"x": "continuous", "pos": "continuous", "k": "integer", "c": "categorical",
                       "b": "boolean", "d": "datetime", "ds": "datetime", "flag": "boolean"}
    assert read_table(df, types={"k": "categorical"}).kinds["k"] == "categorical"
    with pytest.raises(DataError, match="unknown column types"):
        read_table(df, types={"k": "nominal"})


def test_missing_values_get_an_indicator_and_come_back():
    df = mixed_frame()
    tr = TableTransformer(seed=1).fit(df)
    missing = {s.column for s in tr.output_info if s.role == "missing"}
    assert missing == {"x", "c"}
    back = tr.inverse(tr.transform(df))
    for col in ("x", "c"):
        assert back[col].isna().tolist() == df[col].isna().tolist()


def test_round_trip_is_exact_for_discrete_columns_and_close_for_continuous():
    """Tolerance: continuous values within 1e-5 of the column's range (float32 offsets)."""
    df = mixed_frame()
    tr = TableTransformer(seed=3).fit(df)
    x = tr.transform(df)
    assert x.dtype == torch.float32 and x.shape == (len(df), tr.output_dim)
    back = tr.inverse(x)
    assert list(back.columns) == list(df.columns) and (back.dtypes == df.dtypes).all()
    for col in ("k", "c", "b", "d", "ds"):
        pd.testing.assert_series_equal(back[col], df[col])
    for col in ("x", "pos"):
        span = df[col].max() - df[col].min()
        np.testing.assert_allclose(back[col], df[col], atol=1e-5 * span)


def test_wine_round_trip():
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    df["target"] = df["target"].map({0: "class_0", 1: "class_1", 2: "class_2"})
    t = read_table(df)
    assert t.kinds["target"] == "categorical" and t.kinds["alcohol"] == "continuous"
    assert t.kinds["proline"] == "integer"  # whole numbers stored as floats
    tr = TableTransformer(t.kinds, seed=0).fit(t.frame)
    back = tr.inverse(tr.transform(t.frame))
    assert (back.dtypes == df.dtypes).all()
    pd.testing.assert_series_equal(back["target"], df["target"])
    pd.testing.assert_series_equal(back["proline"], df["proline"])
    for col in df.columns.drop("target"):
        span = df[col].max() - df[col].min()
        np.testing.assert_allclose(back[col], df[col], atol=1e-5 * span, err_msg=col)


def test_random_outputs_decode_inside_the_training_bounds():
    df = mixed_frame()
    tr = TableTransformer(seed=0).fit(df)
    fake = tr.inverse(torch.randn(500, tr.output_dim, generator=torch.Generator().manual_seed(0)) * 3)
    assert (fake["pos"] >= df["pos"].min()).all() and (fake["pos"] <= df["pos"].max()).all()
    assert fake["k"].dtype == np.int64 and fake["k"].between(df["k"].min(), df["k"].max()).all()
    assert set(fake["c"].dropna()) <= set(df["c"].dropna())
    assert fake["b"].dtype == bool
    assert fake["d"].between(df["d"].min(), df["d"].max()).all()
    assert (fake["d"] == fake["d"].dt.normalize()).all()  # a dates-only column stays dates


def test_same_seed_same_transform():
    df = mixed_frame()
    a = TableTransformer(seed=7).fit(df).transform(df)
    b = TableTransformer(seed=7).fit(df).transform(df)
    assert torch.equal(a, b)
    c = TableTransformer(seed=8).fit(df).transform(df)
    assert not torch.equal(a, c)


def test_subsample_bounds_the_mixture_fit_and_progress_shows(capsys):
    df = mixed_frame(n=2000)
    tr = TableTransformer(seed=0, max_fit_rows=200, progress=True).fit(df)
    assert "fit columns" in capsys.readouterr().err
    assert tr.encoders["x"].gmm.n_features_in_ == 1
    back = tr.inverse(tr.transform(df))
    pd.testing.assert_series_equal(back["k"], df["k"])


def test_mode_normalisation_matches_sklearn():
    """An independent fit of BayesianGaussianMixture on the standardised column, same settings."""
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(5)
    x = np.r_[rng.normal(-5, 1, 200), rng.normal(5, 0.3, 200)]
    tr = TableTransformer(seed=2).fit(pd.DataFrame({"x": x}))
    z = (x - x.mean()) / x.std()
    gmm = BayesianGaussianMixture(n_components=10, weight_concentration_prior_type="dirichlet_process",
                                  weight_concentration_prior=0.001, max_iter=100,
                                  random_state=2 * 1_000_003).fit(z.reshape(-1, 1))
    keep = gmm.weights_ > 0.005
    mu, sigma = gmm.means_.ravel()[keep], np.sqrt(gmm.covariances_.ravel()[keep])
    assert sorted(np.round(mu, 1)) == [-1.0, 1.0]
    enc = tr.transform(pd.DataFrame({"x": x})).double().numpy()
    k = enc[:, 1:].argmax(1)
    np.testing.assert_allclose(enc[:, 0], (z - mu[k]) / (4 * sigma[k]), atol=1e-6)
    best = gmm.predict_proba(z.reshape(-1, 1))[:, keep].argmax(1)
    assert (k == best).mean() > 0.99  # drawn from the posterior: well separated modes agree


def bad_csv(tmp_path, text: str):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, types, message", [
    ("", None, "empty file"),
    ("a,b\n", None, "a header but no rows"),
    ("a,b\n1,2\n3,4,5\n6,7\n", None, "line 3 has 3 fields, the header has 2"),
    ("a,b\n1,2\n3\n", None, "line 3 has 1 fields"),
    ("a,b\n1,x\n2,y\n3,oops\n", {"b": "continuous"}, "column 'b' is continuous but row 1 holds 'x'"),
    ("a,b\n1,2\n2020-01-01,3\n", {"a": "datetime"}, "column 'a' is datetime but row 1 holds"),
    ("a,b\n,\n,\n", None, "no usable columns"),
])
def test_bad_csvs_are_one_line_errors(tmp_path, text, types, message):
    with pytest.raises(DataError, match=message) as e:
        read_table(bad_csv(tmp_path, text), types=types)
    assert "\n" not in str(e.value)


def test_missing_file_and_too_many_columns(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    wide = bad_csv(tmp_path, ",".join(f"c{i}" for i in range(20)) + "\n" + ",".join("1" * 20) + "\n")
    with pytest.raises(DataError, match="20 columns, more than the limit of 10"):
        read_table(wide, max_columns=10)


def test_identifier_columns_are_dropped_with_a_reason(tmp_path):
    rows = "\n".join(f"id{i},{i % 3}" for i in range(30))
    t = read_table(bad_csv(tmp_path, "id,v\n" + rows + "\n"))
    assert t.kinds == {"id": "categorical", "v": "integer"}
    from ganforge.data.table import infer_kinds

    kinds, dropped = infer_kinds(t.frame, max_categories=10)
    assert kinds == {"v": "integer"} and "distinct values" in dropped["id"]


def test_csv_read_back_keeps_types(tmp_path):
    df = mixed_frame(n=100)
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    t = read_table(path)
    assert t.kinds["d"] == "datetime" and t.kinds["b"] == "boolean" and t.kinds["k"] == "integer"
    tr = TableTransformer(t.kinds, seed=0).fit(t.frame)
    back = tr.inverse(tr.transform(t.frame))
    assert (back.dtypes == t.frame.dtypes).all()
    pd.testing.assert_series_equal(back["d"], t.frame["d"])


def test_saved_state_round_trips_exactly():
    """Through JSON text: the same encoding (modes drawn from the rebuilt mixtures) and decoding."""
    import json

    from ganforge.data.table import transformer_from_state, transformer_state

    df = mixed_frame()
    tr = TableTransformer(seed=4).fit(df)
    back = transformer_from_state(json.loads(json.dumps(transformer_state(tr))))
    assert back.output_info == tr.output_info
    x = tr.transform(df)
    assert torch.equal(back.transform(df), x)
    pd.testing.assert_frame_equal(back.inverse(x), tr.inverse(x))
    with pytest.raises(DataError, match="not a saved table transformer"):
        transformer_from_state({"version": 99})


def test_holdout_split_is_fixed_disjoint_and_kept_out_of_training():
    from ganforge.data.table import load_table_set, split_holdout

    full = load_table_set("wine")
    a, b = load_table_set("wine", holdout=0.2), load_table_set("wine", holdout=0.2)
    assert len(a.holdout) == round(0.2 * 178) and len(a.frame) + len(a.holdout) == 178
    pd.testing.assert_frame_equal(a.holdout, b.holdout)  # the same rows every time, whatever the run's seed
    rows = lambda f: set(map(tuple, f.round(9).astype(str).to_numpy()))  # noqa: E731
    assert not rows(a.frame) & rows(a.holdout) and rows(a.frame) | rows(a.holdout) == rows(full.frame)
    assert load_table_set("wine").holdout is None
    with pytest.raises(DataError, match="held out"):
        split_holdout(read_table(pd.DataFrame({"x": [1.0, 2.0]})), 0.4)
