"""ganforge.TabularGAN: fit / sample / save / load, seeds that reproduce, and `ganforge sample` of a
table model (-o out.csv, --condition)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import ganforge
from ganforge.cli import main
from ganforge.tabular import RECIPE

FAST = {"g.width": 16, "g.depth": 1, "g.noise_dim": 8, "d.width": 16, "d.depth": 1, "train.threads": 1}


def frame(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.lognormal(10, 0.5, n),
                         "colour": rng.choice(["red", "green", "blue"], n), "member": rng.random(n) < 0.5})


def gan(seed: int = 0) -> "ganforge.TabularGAN":
    return ganforge.TabularGAN(steps=4, batch_size=20, pack=5, seed=seed, device="cpu", overrides=FAST,
                               progress=False)


@pytest.fixture(scope="module")
def fitted():
    return gan().fit(frame())


def test_fit_sample_save_load_round_trip(fitted, tmp_path):
    df = fitted.sample(200, seed=1)
    src = frame()
    assert list(df.columns) == list(src.columns) and (df.dtypes == src.dtypes).all()
    assert df["age"].between(18, 89).all() and (df["income"] > 0).all()
    assert set(df["colour"]) <= {"red", "green", "blue"}
    path = fitted.save(tmp_path / "m.safetensors")
    back = ganforge.TabularGAN.load(path, device="cpu")
    pd.testing.assert_frame_equal(back.sample(200, seed=1), df)
    reds = back.sample(50, conditions={"colour": "red"})
    assert (reds["colour"] == "red").all()


def test_same_seed_same_table(fitted):
    again = gan().fit(frame())
    pd.testing.assert_frame_equal(again.sample(100, seed=0), fitted.sample(100, seed=0))
    assert not fitted.sample(100, seed=0).equals(fitted.sample(100, seed=1))
    other = gan(seed=1).fit(frame())
    assert not other.sample(100, seed=0).equals(fitted.sample(100, seed=0))


def test_unfitted_and_csv_input(tmp_path):
    with pytest.raises(ganforge.DataError, match="not fitted"):
        ganforge.TabularGAN().sample(5)
    path = tmp_path / "t.csv"
    frame(60).to_csv(path, index=False)
    g = gan().fit(path)
    assert g.trainer.cfg.data.path == str(path) and len(g.sample(7)) == 7


def test_cli_sample_writes_a_csv_with_the_condition(fitted, tmp_path, capsys):
    ckpt = fitted.save(tmp_path / "m.safetensors")
    out = tmp_path / "out.csv"
    assert main(["sample", str(ckpt), "-n", "120", "-o", str(out), "--condition", "member=true",
                 "--device", "cpu"]) == 0
    df = pd.read_csv(out)
    assert len(df) == 120 and list(df.columns) == list(frame().columns) and df["member"].all()
    side = json.loads((tmp_path / "out.csv.provenance.json").read_text())
    assert "member=True" in json.dumps(side)
    assert main(["sample", str(ckpt), "-n", "5", "-o", str(out), "--condition", "colour=pink"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'pink' is not a value of column 'colour'" in err and "\n" not in err
    assert main(["sample", str(ckpt), "-n", "5", "-o", str(tmp_path / "x.png")]) == 2
    assert "writes .csv files" in capsys.readouterr().err
    for flags in (["--truncation", "0"], ["--mix", "0-1:2-3"]):  # image-only flags: one line, naming the flag
        assert main(["sample", str(ckpt), "-n", "5", "-o", str(out), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{flags[0]} is for image and point models" in err and "\n" not in err


def test_recipe_matches_the_wine_config():
    wine = yaml.safe_load(open("configs/tabular-wine.yaml"))
    for section, keys in RECIPE.items():
        for key, value in keys.items():
            if section == "train" and key != "batch_size":
                continue
            assert wine[section][key] == value, f"{section}.{key}"


def test_evaluate_scores_the_fitted_model(fitted):
    from threadpoolctl import threadpool_limits

    pytest.importorskip("sdmetrics")
    with threadpool_limits(1):
        r = fitted.evaluate(holdout=frame(40).assign(age=lambda f: f["age"] + 1), target="colour", n=80)
    assert set(r) == {"quality", "detection", "ml_efficacy", "privacy"}
    assert 0 <= r["quality"]["quality"] <= 1 and r["detection"]["rows_each"] == 80
    assert r["ml_efficacy"]["target"] == "colour" and r["privacy"]["holdout"]["rows"] == 40
    with pytest.raises(ganforge.DataError, match="not fitted"):
        ganforge.TabularGAN().evaluate()
