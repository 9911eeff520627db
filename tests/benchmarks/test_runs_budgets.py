"""The benchmarks' CPU-budget runs (benchmarks/_runs.py) and image_quality's extension of a finished
run to a later budget: a run resumed from its last mark must be the run that never stopped."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):  # noqa: ANN202
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def runs():  # noqa: ANN201
    return _load("_runs")


def _cfg():  # noqa: ANN202
    from ganforge import config

    return config.load(ROOT / "configs" / "ring8.yaml",
                       ["train.steps=100000", "train.batch_size=64", "train.plot_every=0",
                        "train.ckpt_every=0", "g.width=16", "d.width=16"])


def test_resumed_budget_run_matches_an_unbroken_one(runs, tmp_path, all_state) -> None:  # noqa: ANN001
    from ganforge.training import Trainer, fit
    from ganforge.training.state import load_checkpoint, restore

    first = runs.train_to_budgets(_cfg(), tmp_path / "a", [0.001])
    mark = first["0.001"]
    assert mark["cpu_s"] >= 0.06 and mark["step"] >= 1
    later = runs.train_to_budgets(_cfg(), tmp_path / "a", [mark["cpu_s"] / 60 + 0.002], resume=mark)
    (end,) = later.values()
    assert end["cpu_s"] >= mark["cpu_s"] + 0.12  # the earlier CPU time counts toward the budget
    assert end["step"] > mark["step"]
    unbroken = fit(Trainer(_cfg()), end["step"])
    resumed = restore(Trainer(_cfg()), load_checkpoint(Path(end["path"])))
    a, b = all_state(unbroken), all_state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _bench(tmp_path: Path, budgets: list[float], marks: dict, **kw) -> dict:  # noqa: ANN003
    job = {"seed": 0, "budgets": budgets, "fresh": False, "extra": [], "data": "mnist", "recipe": "dcgan",
           "dir": str(tmp_path), **kw}
    (tmp_path / "bench.json").write_text(json.dumps({**job, "marks": marks}))
    return job


def test_image_quality_extends_only_a_finished_run_with_earlier_budgets(tmp_path) -> None:  # noqa: ANN001
    iq = _load("image_quality")
    ck = tmp_path / "c.safetensors"
    ck.write_bytes(b"x")
    marks = {"5.0": {"step": 1, "cpu_s": 300.0, "path": str(ck)},
             "10.0": {"step": 2, "cpu_s": 600.0, "path": str(ck)}}
    job = _bench(tmp_path, [5.0, 10.0], marks)
    assert iq._extendable({**job, "budgets": [5.0, 10.0, 20.0]}) == marks
    assert iq._extendable({**job, "budgets": [10.0, 20.0]}) == {"10.0": marks["10.0"]}
    assert iq._extendable({**job, "budgets": [5.0, 10.0]}) is None  # the same job: reused, not extended
    assert iq._extendable({**job, "budgets": [2.0, 5.0, 10.0]}) is None  # a budget before the last mark
    assert iq._extendable({**job, "budgets": [5.0, 10.0, 20.0], "fresh": True}) is None
    assert iq._extendable({**job, "budgets": [5.0, 10.0, 20.0], "extra": ["train.ada_target=0.6"]}) is None
    assert iq._extendable({**job, "budgets": [5.0, 10.0, 20.0], "recipe": "reference"}) is None
    ck.unlink()
    assert iq._extendable({**job, "budgets": [5.0, 10.0, 20.0]}) is None  # its checkpoint is gone
