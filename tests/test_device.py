"""Devices: chosen once, checked up front, one-line errors for a device that is not here; CUDA tests
run where a GPU is (they skip elsewhere)."""

import pytest
import torch

from ganforge import config
from ganforge.cli import main
from ganforge.device import check_device_name, make_scaler, resolve_device, resolve_precision
from ganforge.errors import ConfigError
from ganforge.training import Trainer, fit

CUDA = pytest.mark.cuda  # skipped without a GPU (tests/conftest.py)
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")


def test_cpu_and_auto_resolve_here():
    assert resolve_device("cpu") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == want
    assert resolve_device(torch.device("cpu")).type == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu", "cuda:0:1", ""])
def test_unknown_device_names_are_config_errors(bad):
    with pytest.raises(ConfigError, match="unknown device"):
        check_device_name(bad)
    with pytest.raises(ConfigError, match="train.device|unknown device"):
        config.load(None, [f"train.device={bad}" if bad else "train.device=''"])


@NO_CUDA
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_one_line(name):
    with pytest.raises(ConfigError, match="not available.*--device cpu or auto"):
        resolve_device(name)


@NO_CUDA
def test_cli_device_cuda_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    for argv in (["train", "configs/grid25.yaml", "--out", str(tmp_path / "r"), "--device", "cuda"],
                 ["lab", "--device", "cuda", "--no-browser"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ganforge: error: device 'cuda' is not available")
    assert not (tmp_path / "r").exists()  # nothing written


def test_precision_follows_the_device():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu).dtype is None
    assert resolve_precision("bf16", cpu).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)
    assert make_scaler(resolve_precision("bf16", cpu)) is None  # bf16 needs no loss scaling


def test_everything_the_trainer_owns_is_on_its_device(tiny_cfg):
    t = fit(Trainer(tiny_cfg("train.ema=0.9", "loss.penalty=gp"), device="cpu"), 2)
    assert t.device.type == "cpu"
    tensors = [*t.g.parameters(), *t.d.parameters(), *t.g_ema.parameters()]
    tensors += [v for st in t.opt_d.state.values() for v in st.values() if isinstance(v, torch.Tensor)]
    assert all(x.device == t.device for x in tensors)
    assert all(g.device.type == "cpu" for g in t.rng.values())


@CUDA
def test_cuda_training_checkpoint_loads_on_cpu(tmp_path, tiny_cfg):
    from ganforge.generation import load
    from ganforge.training.state import load_checkpoint, restore, save_checkpoint

    cfg = tiny_cfg("train.ema=0.9", "loss.penalty=r1")
    t = fit(Trainer(cfg, device="cuda"), 5)
    assert next(t.g.parameters()).is_cuda and t.rng["noise"].device.type == "cuda"
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    on_cpu = restore(Trainer(cfg, device="cpu"), load_checkpoint(path))
    for a, b in zip(t.g.state_dict().values(), on_cpu.g.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b)
    fit(on_cpu, 8)  # and it trains on from there (RNGs re-seeded: another device type)
    g = load(path, device="cpu")
    assert g.sample(10, seed=0).device.type == "cpu"


@CUDA
def test_cuda_resume_continues_and_fp16_scaler_state_is_kept(tmp_path, tiny_cfg):
    from ganforge.training.state import load_checkpoint, restore, save_checkpoint

    cfg = tiny_cfg("train.precision=fp16")
    a = fit(Trainer(cfg, device="cuda"), 4)
    assert a.scaler_g is not None and a.precision.name == "fp16"
    path = save_checkpoint(a, tmp_path / "c.safetensors")
    b = restore(Trainer(cfg, device="cuda"), load_checkpoint(path))
    assert b.scaler_d.get_scale() == a.scaler_d.get_scale()
    assert b.rng["noise"].get_state().equal(a.rng["noise"].get_state())
    fit(a, 8)
    fit(b, 8)
    # CUDA kernels may be non-deterministic (atomics in backward): same run, close numbers
    for x, y in zip(a.g.parameters(), b.g.parameters(), strict=True):
        assert torch.allclose(x, y, atol=1e-3)


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_cli_device_cpu_and_auto_train_eval_and_sample(tmp_path, capsys, monkeypatch, device):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    run = tmp_path / "r"
    fast = ["--set", "g.width=16", "--set", "d.width=16", "--set", "train.batch_size=32", "--set",
            "train.steps=6", "--set", "train.plot_every=0", "--set", "data.name=ring8"]
    argv = ["train", "configs/grid25.yaml", "--out", str(run), "--quiet", "--device", device, *fast]
    assert main(argv) == 0
    assert main(["eval", str(run), "-n", "200", "--device", device, "--json"]) == 0
    assert main(["sample", str(run), "-n", "20", "-o", str(tmp_path / "s.csv"), "--device", device]) == 0
    out = capsys.readouterr().out
    assert "trained" in out and '"modes"' in out and "wrote 20 samples" in out
