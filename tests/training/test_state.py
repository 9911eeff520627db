import json

import pytest
import torch
from safetensors import safe_open

from ganforge import __version__
from ganforge.errors import CheckpointError
from ganforge.training import Trainer, fit
from ganforge.training.callbacks import Checkpointer
from ganforge.training.state import (
    SCHEMA_VERSION,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_generator,
    restore,
    save_checkpoint,
)


def test_checkpoint_is_self_describing(tiny_cfg, tmp_path):
    t = fit(Trainer(tiny_cfg("train.ema=0.9")), 3)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "ganforge-checkpoint"
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["ganforge_version"] == __version__
    assert "torch_version" in meta and meta["step"] == "3"
    ck = load_checkpoint(path)
    assert ck.config == t.cfg and ck.step == 3 and ck.has_ema()
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left


def test_round_trip_restores_every_tensor(tiny_cfg, tmp_path, all_state):
    cfg = tiny_cfg("train.ema=0.9", "loss.penalty=gp", "d.spectral_norm=true", "g.batch_norm=true")
    t = fit(Trainer(cfg), 4)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    u = restore(Trainer(cfg), load_checkpoint(path))
    a, b = all_state(t), all_state(u)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert u.step == 4


@pytest.mark.parametrize(
    "extra",
    [
        ("loss.penalty=gp", "d.pack=2", "g.batch_norm=true", "train.d_steps=2", "train.lr_end=0.2"),
        ("loss.penalty=r1", "train.ema=0.95", "d.spectral_norm=true", "opt_d.name=rmsprop",
         "g.noise=uniform", "data.name=ring8"),
        ("loss.name=wasserstein", "loss.clip=0.05", "opt_g.name=sgd", "opt_d.name=sgd",
         "opt_g.beta1=0.9", "opt_g.lr=1e-3", "opt_d.lr=1e-3"),
    ],
)
def test_resume_continues_exactly(tiny_cfg, tmp_path, extra, all_state):
    """Stopped at k and resumed to n == uninterrupted to n: weights, optimiser, EMA, RNGs."""
    cfg = tiny_cfg("train.steps=24", *extra)
    straight = fit(Trainer(cfg), 24)

    first = fit(Trainer(cfg), 9)
    path = save_checkpoint(first, tmp_path / "k.safetensors")
    del first
    resumed = fit(restore(Trainer(cfg), load_checkpoint(path)), 24)

    a, b = all_state(straight), all_state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_keep_last_and_latest(tiny_cfg, tmp_path):
    t = Trainer(tiny_cfg())
    fit(t, 20, [Checkpointer(tmp_path, every=4, keep_last=2)])
    assert [s for s, _ in list_checkpoints(tmp_path)] == [16, 20]
    assert latest_checkpoint(tmp_path).name == "step_0000020.safetensors"
    ck, g = load_generator(tmp_path)
    assert ck.step == 20 and not g.training
    assert g(torch.randn(5, 2)).shape == (5, 2)


def test_bad_checkpoints_are_clear_errors(tiny_cfg, tmp_path):
    with pytest.raises(CheckpointError, match="run directory not found"):
        latest_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        latest_checkpoint(tmp_path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, other, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        load_checkpoint(other)


def test_newer_schema_and_wrong_architecture_are_refused(tiny_cfg, tmp_path):
    t = fit(Trainer(tiny_cfg()), 2)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    ck = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="cannot change on resume"):
        restore(Trainer(tiny_cfg("g.width=48")), ck)

    from safetensors.torch import load_file, save_file

    meta = dict(ck.meta, schema_version=str(SCHEMA_VERSION + 1))
    save_file(load_file(path), tmp_path / "new.safetensors", metadata=meta)
    with pytest.raises(CheckpointError, match="newer than this ganforge understands"):
        load_checkpoint(tmp_path / "new.safetensors")


def test_optimizer_settings_are_json(tiny_cfg, tmp_path):
    t = fit(Trainer(tiny_cfg()), 1)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    info = json.loads(load_checkpoint(path).meta["opt_g"])
    assert info["param_groups"][0]["lr"] == t.cfg.opt_g.lr


def test_a_checkpoint_from_another_device_kind_loads_and_trains_on(tiny_cfg, tmp_path):
    """A CUDA checkpoint on a CPU machine: the tensors load (they are stored on the CPU); a CUDA
    generator's state (16 bytes of Philox) cannot enter a CPU generator, so that role is re-seeded
    from the seed and the step, the same way every time."""
    from safetensors.torch import load_file, save_file

    t = fit(Trainer(tiny_cfg()), 4)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(path)
    tensors["rng.noise"] = torch.arange(16, dtype=torch.uint8)  # what a CUDA generator stores
    meta["rng_devices"] = json.dumps({"data": "cpu", "noise": "cuda", "penalty": "cuda", "augment": "cuda"})
    meta["device"] = "cuda:0"
    save_file(tensors, tmp_path / "gpu.safetensors", metadata=meta)
    a = restore(Trainer(tiny_cfg()), load_checkpoint(tmp_path / "gpu.safetensors"))
    b = restore(Trainer(tiny_cfg()), load_checkpoint(tmp_path / "gpu.safetensors"))
    assert a.step == 4 and torch.equal(a.rng["data"].get_state(), t.rng["data"].get_state())
    assert torch.equal(a.rng["noise"].get_state(), b.rng["noise"].get_state())  # reproducible
    assert not torch.equal(a.rng["noise"].get_state(), t.rng["noise"].get_state())
    for x, y in zip(a.g.parameters(), t.g.parameters(), strict=True):
        assert torch.equal(x, y)
    fit(a, 8)
    fit(b, 8)
    assert all(torch.equal(x, y) for x, y in zip(a.g.parameters(), b.g.parameters(), strict=True))
