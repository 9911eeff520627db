"""The FID Inception-v3 graph: layout against torchvision's names and counts, the FID pooling
quirks, preprocessing, and strict weight loading with one-line errors. Random weights only: the
real file is never downloaded (a last test uses it when $GANFORGE_INCEPTION_WEIGHTS is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import CheckpointError, ConfigError
from ganforge.metrics import inception as inc


@pytest.fixture(scope="module")
def model() -> Iterator[inc.FIDInceptionV3]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    m = inc.FIDInceptionV3().eval()
    # He-initialised convs so the input still matters after 94 layers (PyTorch's default init
    # shrinks the signal until the BN biases dominate), and non-trivial BN statistics so that a
    # wrong layer or a dropped buffer changes the outputs.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    yield m
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def weights_file(model: inc.FIDInceptionV3, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("inception") / inc.WEIGHTS_FILE
    torch.save(model.state_dict(), path)
    return path


def test_output_shapes_grey_and_rgb(model: inc.FIDInceptionV3) -> None:
    gen = torch.Generator().manual_seed(1)
    grey = torch.rand(2, 1, 28, 28, generator=gen) * 2 - 1
    rgb = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    with torch.no_grad():
        fg, lg = model(grey)
        fr, lr = model(rgb)
        # Grey is exactly the grey image repeated over RGB.
        fg3 = model.features(grey[:1].repeat(1, 3, 1, 1))
    for f, logits in ((fg, lg), (fr, lr)):
        assert f.shape == (2, 2048) and logits.shape == (2, 1008)
        assert torch.isfinite(f).all() and (f >= 0).all()
        assert f.abs().sum() > 0
    torch.testing.assert_close(fg3, fg[:1])
    torch.testing.assert_close(lr, model.fc(fr))
    assert not torch.allclose(fg[0], fg[1])


def test_preprocess_matches_pytorch_fid() -> None:
    """pytorch-fid: [0, 1] image -> bilinear 299 (align_corners=False) -> 2x - 1."""
    gen = torch.Generator().manual_seed(2)
    x01 = torch.rand(2, 3, 28, 28, generator=gen)
    ref = 2 * F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False) - 1
    ours = inc.FIDInceptionV3.preprocess(2 * x01 - 1)
    assert ours.shape == (2, 3, 299, 299)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="shape"):
        inc.FIDInceptionV3.preprocess(torch.zeros(1, 2, 8, 8))


def test_state_dict_layout_matches_torchvision(model: inc.FIDInceptionV3) -> None:
    sd = model.state_dict()
    expected_shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_4a_3x3.bn.running_mean": (192,),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.bn.running_var": (192,),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7b.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in sd)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    # stem 5 + 3 A x 7 + B 4 + 4 C x 10 + D 6 + 2 E x 9
    assert len(convs) == len(bns) == 94
    assert all(c.bias is None for c in convs) and all(b.eps == 1e-3 for b in bns)
    # 94 BasicConv2d x (conv.weight + 4 bn tensors + num_batches_tracked) + fc.weight + fc.bias
    assert len(sd) == 94 * 6 + 2

    # torchvision's inception_v3 meta: 27,161,264 parameters with the aux head and 1000 classes.
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 5 * 5 + 2 * 768) + (768 * 1000 + 1000)
    expected = 27_161_264 - aux + (1008 - 1000) * (2048 + 1)
    assert expected == 23_850_960
    assert sum(p.numel() for p in model.parameters()) == expected


def _pool_input(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the block's pool branch conv sees: captured with a forward pre-hook."""
    seen: list[torch.Tensor] = []
    handle = block.branch_pool.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        block(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize(
    ("name", "channels", "kind"),
    [("Mixed_5b", 192, "avg"), ("Mixed_6b", 768, "avg"), ("Mixed_7b", 1280, "avg"),
     ("Mixed_7c", 2048, "max")],
)
def test_fid_pooling_quirks(model: inc.FIDInceptionV3, name: str, channels: int, kind: str) -> None:
    x = torch.rand(1, channels, 5, 5, generator=torch.Generator().manual_seed(3)) + 1.0
    got = _pool_input(getattr(model, name), x)
    avg_excl = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    avg_incl = F.avg_pool2d(x, 3, stride=1, padding=1)
    maxp = F.max_pool2d(x, 3, stride=1, padding=1)
    if kind == "avg":
        torch.testing.assert_close(got, avg_excl)
        assert not torch.allclose(got, avg_incl)  # torchvision's default would differ at the border
    else:
        torch.testing.assert_close(got, maxp)
        assert not torch.allclose(got, avg_excl)


def test_load_roundtrip(model: inc.FIDInceptionV3, weights_file) -> None:
    loaded = inc.load_inception(str(weights_file))
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        f0, l0 = model(x)
        f1, l1 = loaded(x)
    assert torch.equal(f0, f1) and torch.equal(l0, l1)


def test_load_without_num_batches_tracked(model: inc.FIDInceptionV3, tmp_path) -> None:
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(sd, path)
    loaded = inc.load_inception(path)
    torch.testing.assert_close(loaded.fc.weight, model.fc.weight)


def test_wrong_state_dicts_are_checkpoint_errors(model: inc.FIDInceptionV3, tmp_path) -> None:
    sd = model.state_dict()
    cases = {
        "missing.pth": ({k: v for k, v in sd.items() if k != "Mixed_6c.branch1x1.conv.weight"},
                        "1 missing key(s), first 'Mixed_6c.branch1x1.conv.weight'"),
        "extra.pth": ({**sd, "AuxLogits.fc.weight": torch.zeros(1008, 768)},
                      "1 unexpected key(s), first 'AuxLogits.fc.weight'"),
        "shape.pth": ({**sd, "fc.weight": torch.zeros(1000, 2048)}, "'fc.weight' has shape (1000, 2048)"),
        "list.pth": ([1, 2], "not a state dict"),
    }
    for fname, (obj, msg) in cases.items():
        path = tmp_path / fname
        torch.save(obj, path)
        with pytest.raises(CheckpointError) as err:
            inc.load_inception(path)
        assert msg in str(err.value) and "\n" not in str(err.value), fname
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read") as err:
        inc.load_inception(garbage)
    assert "\n" not in str(err.value)


def test_resolve_weights(monkeypatch: pytest.MonkeyPatch, weights_file, tmp_path) -> None:
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    for path in (None, ""):
        with pytest.raises(ConfigError) as err:
            inc.resolve_weights(path)
        msg = str(err.value)
        assert inc.WEIGHTS_FILE in msg and inc.WEIGHTS_URL in msg and "\n" not in msg
        assert "--inception-weights PATH" in msg and inc.ENV_VAR in msg
    with pytest.raises(ConfigError) as err:
        inc.load_inception(None)
    assert inc.WEIGHTS_URL in str(err.value)

    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError) as err:
        inc.resolve_weights(str(missing))
    msg = str(err.value)
    assert str(missing) in msg and inc.WEIGHTS_FILE in msg and inc.WEIGHTS_URL in msg
    assert "\n" not in msg

    assert inc.resolve_weights(str(weights_file)) == weights_file
    monkeypatch.setenv(inc.ENV_VAR, str(weights_file))
    assert inc.resolve_weights(None) == weights_file
    monkeypatch.setenv(inc.ENV_VAR, str(missing))
    with pytest.raises(ConfigError, match="GANFORGE_INCEPTION_WEIGHTS"):
        inc.resolve_weights(None)


@pytest.mark.skipif(
    not os.environ.get(inc.ENV_VAR) or not os.path.isfile(os.environ.get(inc.ENV_VAR, "")),
    reason=f"set {inc.ENV_VAR} to the real {inc.WEIGHTS_FILE} to check it loads",
)
def test_real_weights_load_strictly() -> None:
    m = inc.load_inception(None)
    x = torch.zeros(1, 3, 299, 299)
    with torch.no_grad():
        f, logits = m(x)
    assert f.shape == (1, 2048) and logits.shape == (1, 1008) and (f >= 0).all()
