"""provenance.py: every generated file says it is synthetic, and `ganforge inspect` reads it back."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import GConfig
from ganforge.errors import DataError
from ganforge.generation import LoadedGenerator
from ganforge.nets import build_g
from ganforge.provenance import Provenance, read, state_hash, write_sidecar


def test_state_hash_follows_the_weights_not_the_object():
    torch.manual_seed(0)
    a = build_g(GConfig(width=8, depth=1, noise_dim=2), (2,))
    b = build_g(GConfig(width=8, depth=1, noise_dim=2), (2,))
    b.load_state_dict(a.state_dict())
    assert state_hash(a) == state_hash(b) and len(state_hash(a)) == 16
    with torch.no_grad():
        b.net[0].bias[0] += 1e-3
    assert state_hash(a) != state_hash(b)


def test_png_gif_and_sidecar_round_trip(tmp_path):
    prov = Provenance(generator="abc123", checkpoint="runs/x/step.safetensors", step=42, seeds="0-3",
                      truncation=0.7, what="test")
    png = tmp_path / "a.png"
    Image.new("L", (4, 4)).save(png, pnginfo=prov.png_info())
    got = read(png)
    assert got["synthetic"] == "true" and got["generator"] == "abc123" and got["step"] == "42"
    assert got["truncation"] == "0.7" and got["seeds"] == "0-3" and got["ganforge_version"]
    assert got["digital_source_type"].endswith("trainedAlgorithmicMedia")
    gif = tmp_path / "a.gif"
    frames = [Image.new("L", (4, 4), c) for c in (0, 255)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], comment=prov.gif_comment(), loop=0)
    assert read(gif) == prov.fields()
    arr = tmp_path / "x.npy"
    np.save(arr, np.zeros(3))
    side = write_sidecar(arr, prov)
    assert side.name == "x.npy.provenance.json" and json.loads(side.read_text())["synthetic"] == "true"
    assert read(arr) == prov.fields()


def test_files_without_provenance_say_so(tmp_path, capsys):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    (tmp_path / "notes.txt").write_text("hi")
    assert read(plain) is None and read(tmp_path / "notes.txt") is None
    assert main(["inspect", str(plain)]) == 1
    assert "no ganforge provenance" in capsys.readouterr().out
    with pytest.raises(DataError, match="no such file"):
        read(tmp_path / "missing.png")
    assert main(["inspect", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: no such file") and err.count("\n") == 1


def test_inspect_prints_what_sample_stamped(tmp_path, capsys):
    lab = LoadedGenerator(build_g(GConfig(width=8, depth=1, noise_dim=2), (2,)), "normal",
                          torch.device("cpu"), step=9, source="ckpt")
    png = tmp_path / "p.png"
    Image.new("L", (2, 2)).save(png, pnginfo=lab.provenance(seeds="5", truncation=0.5).png_info())
    assert main(["inspect", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"generator            {lab.fingerprint}" in out and "synthetic" in out and "0.5" in out
