"""Run directories: evaluating a run (what runs.evaluate loads and writes)."""

from ganforge import data as data_module
from ganforge import evaluation, runs


def test_evaluate_loads_the_data_set_once(tiny_cfg, tmp_path, monkeypatch):
    runs.train(tiny_cfg("train.steps=10", "train.ckpt_every=10"), tmp_path / "run", progress=False,
               plots=False)
    calls = []

    def counting(cfg):
        calls.append(cfg.name)
        return data_module.build_data(cfg)

    for module in (runs, evaluation):  # where the name is looked up
        monkeypatch.setattr(module, "build_data", counting)
    r = runs.evaluate(tmp_path / "run", n=200, metrics="modes,swd,fid")
    assert r["computed"] == ["modes", "swd", "fid"]
    assert calls == ["grid25"]
