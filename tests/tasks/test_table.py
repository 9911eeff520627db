"""The table task: training-by-sampling, the conditional loss, a few steps on wine, exact resume, the
transformer in the checkpoint, sampling from the checkpoint alone (columns, types, bounds, conditions)."""

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.config import load
from ganforge.data.table import load_table_set, read_table
from ganforge.errors import ConfigError, DataError
from ganforge.tabular import load_table_model
from ganforge.tasks.table import STATE_KEY, TableTask, draw_conditions
from ganforge.training import Trainer, fit
from ganforge.training.state import load_checkpoint, save_checkpoint

SMALL = ["task.kind=table", "data.name=table", "g.noise_dim=8", "g.width=16", "g.depth=1",
         "g.batch_norm=true",
         "d.width=16", "d.depth=1", "d.pack=5", "loss.name=wasserstein", "loss.penalty=gp",
         "train.batch_size=20", "train.steps=6", "train.device=cpu", "train.threads=1"]


def small_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Four kinds, an imbalanced category (90% / 10%), a positive column, an integer one."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(0, 1, n),
        "pos": rng.exponential(2.0, n) + 0.5,
        "k": rng.integers(3, 9, n),
        "c": np.where(np.arange(n) % 10 == 0, "rare", "common"),
        "b": rng.random(n) < 0.4,
    })


@pytest.fixture(scope="module")
def table():
    return read_table(small_frame())


def cfg(*extra):
    return load(None, SMALL + list(extra))


def test_conditions_are_every_category_and_sampling_uses_log_frequency(table):
    task = TableTask(table, cfg(), torch.device("cpu"), progress=False)
    assert task.class_names == ("c=common", "c=rare", "b=False", "b=True")
    gen = torch.Generator().manual_seed(0)
    real, c = task.real(20_000, gen)
    # each real row holds its condition (the condition's one-hot dimension is 1)
    assert bool((real[torch.arange(len(c)), task.cond_dims[c]] == 1).all())
    # a column uniformly, then a category proportional to log(1 + count): 108 vs 12 rows
    share = torch.bincount(c, minlength=4).double() / len(c)
    counts = np.array(task.cond.counts, float)
    logs = np.log1p(counts)
    want = np.r_[logs[:2] / logs[:2].sum(), logs[2:] / logs[2:].sum()] / 2
    np.testing.assert_allclose(share.numpy(), want, atol=0.015)
    assert want[1] > 0.15 > counts[1] / counts[:2].sum() / 2  # the rare category is seen far more often


def test_raw_frequency_conditions_follow_the_data(table):
    task = TableTask(table, cfg(), torch.device("cpu"), progress=False)
    c = draw_conditions(task.cond, task.cond.cumulative(log=False), 20_000, torch.Generator().manual_seed(1),
                        torch.device("cpu"))
    share = torch.bincount(c, minlength=4).double().numpy() / len(c) * 2
    np.testing.assert_allclose(share[:2], [0.9, 0.1], atol=0.02)


def test_conditional_loss_is_the_cross_entropy_of_the_chosen_span(table):
    trainer = Trainer(cfg(), data=table)
    batch = trainer.task.g_batch(20, trainer.rng, trainer.noise)
    fake = trainer.g(batch.z, batch.c_g)
    loss, stats = trainer.task.extra_g_loss(fake, batch, trainer.g)
    # independent: G's raw logits, torch's cross-entropy over the chosen column's span
    h = torch.cat([batch.z[:, :8], torch.nn.functional.one_hot(batch.c_g, 4).float()], 1)
    raw = trainer.g.out(trainer.g.body(h))
    spans = {s.column: s for s in trainer.task.transformer.output_info if s.role == "category"}
    ce = []
    for i, k in enumerate(batch.c_g.tolist()):
        col, _ = trainer.task.class_names[k].split("=")
        s = spans[col]
        target = trainer.task.cond_dims[k] - s.start
        ce.append(torch.nn.functional.cross_entropy(raw[i:i + 1, s.start:s.start + s.size], target[None]))
    torch.testing.assert_close(loss, torch.stack(ce).mean(), atol=2e-4, rtol=2e-4)
    assert stats["cond"] == pytest.approx(loss.item())


def test_a_few_steps_on_wine_log_finite_losses():
    wine = load_table_set("wine")
    trainer = fit(Trainer(cfg("data.name=wine", "train.steps=3"), data=wine), 3)
    stats = trainer.train_step()
    assert trainer.num_classes == 3 and trainer.class_names[0] == "target=class_0"
    assert all(np.isfinite(stats[k]) for k in ("loss_d", "loss_g", "penalty", "cond"))


def test_resume_is_exact_and_the_checkpoint_alone_samples(table, resumes_exactly, tmp_path):
    straight, path = resumes_exactly(cfg(), table, 3, 6)
    ckpt = load_checkpoint(path)
    assert f"task.{STATE_KEY}" in ckpt.tensors and ckpt.class_names == straight.class_names
    out = save_checkpoint(straight, tmp_path / "end.safetensors")
    model = load_table_model(out, device="cpu")
    df = model.sample(500, seed=3)
    src = table.frame
    assert list(df.columns) == list(src.columns) and (df.dtypes == src.dtypes).all()
    assert df["pos"].between(src["pos"].min(), src["pos"].max()).all()
    assert df["k"].between(3, 8).all() and set(df["c"]) <= {"common", "rare"}
    assert model.sample(500, seed=3).equals(df) and not model.sample(500, seed=4).equals(df)


def test_a_changed_transformer_on_resume_is_replaced_by_the_checkpoints(table, tmp_path):
    a = Trainer(cfg(), data=table)
    path = save_checkpoint(a, tmp_path / "a.safetensors")
    b = Trainer(cfg("seed=5"), data=table)  # another seed: other modes drawn, other encoding
    assert not torch.equal(a.task.rows, b.task.rows)
    saved = load_checkpoint(path).tensors
    b.task.load_state_tensors({k[5:]: v for k, v in saved.items() if k.startswith("task.")})
    assert torch.equal(a.task.rows, b.task.rows)


def test_conditional_samples_honour_the_condition_and_bad_ones_are_one_line(table, tmp_path):
    trainer = fit(Trainer(cfg(), data=table), 2)
    model = load_table_model(save_checkpoint(trainer, tmp_path / "m.safetensors"), device="cpu")
    df = model.sample(300, seed=0, conditions={"c": "rare", "b": "true"})
    assert (df["c"] == "rare").all() and (df["b"] == True).all() and df["b"].dtype == bool  # noqa: E712
    for cond, message in (({"nope": "a"}, "unknown column 'nope'"),
                          ({"c": "often"}, "'often' is not a value"),
                          ({"x": 1.0}, "column 'x' is continuous")):
        with pytest.raises(DataError, match=message) as e:
            model.sample(10, conditions=cond)
        assert "\n" not in str(e.value)


def test_config_checks_for_tables():
    with pytest.raises(ConfigError, match="task.kind=table needs data.name"):
        load(None, ["task.kind=table", "data.name=grid25"])
    with pytest.raises(ConfigError, match="unknown kind 'number'"):
        load(None, ["task.kind=table", "data.name=wine", "data.columns=proline:number"])
    from ganforge.training import Trainer as T

    with pytest.raises(ConfigError, match="set task.kind=table"):
        T(load(None, ["data.name=wine"]))


def test_data_columns_override_kinds(tmp_path):
    path = tmp_path / "t.csv"
    small_frame(60).to_csv(path, index=False)
    t = load_table_set("table", str(path), "k:categorical")
    assert t.kinds["k"] == "categorical" and t.kinds["x"] == "continuous"
    task = TableTask(t, cfg(), torch.device("cpu"), progress=False)
    assert any(n.startswith("k=") for n in task.class_names)
