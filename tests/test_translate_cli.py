"""`ganforge translate`: superres at any size with provenance, CycleGAN both ways, inpainting with a mask;
one-line errors for bad inputs."""

import numpy as np
import pytest
from PIL import Image

from ganforge import config, provenance, translate_files
from ganforge.cli import main
from ganforge.runs import train


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sr")
    cfg = config.load("configs/sr-x4.yaml", ["train.steps=1", "g.width=4", "g.depth=1", "d.width=4",
                                             "train.batch_size=2", "train.plot_every=0", "data.size=32",
                                             "task.pretrain_steps=0"])
    train(cfg, root / "run", progress=False)
    return root / "run"


def _png(path, w, h, mode="RGB"):
    arr = np.random.default_rng(0).integers(0, 256, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def test_superres_takes_any_size_and_writes_pngs_with_provenance(sr_run, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    _png(src / "a.png", 37, 23)
    _png(src / "sub" / "b.jpg", 9, 5, mode="L")
    assert main(["translate", str(sr_run), str(src), "-o", str(tmp_path / "out"), "--tile", "16",
                 "--overlap", "4"]) == 0
    assert "wrote 2 image(s)" in capsys.readouterr().out
    with Image.open(tmp_path / "out" / "a.png") as im:
        assert im.size == (148, 92)
    with Image.open(tmp_path / "out" / "sub" / "b.png") as im:
        assert im.size == (36, 20) and im.mode == "RGB"
    prov = provenance.read(tmp_path / "out" / "a.png")
    assert prov is not None and "superres of a.png" in prov["what"]


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def test_one_line_errors(sr_run, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "out")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    assert main(["translate", str(sr_run), str(bad), "-o", out]) == 2
    assert "broken.png: not a readable image" in _err(capsys)
    big = _png(tmp_path / "big.png", 40, 30)
    monkeypatch.setattr(translate_files, "MAX_OUTPUT_PIXELS", 100 * 100)
    assert main(["translate", str(sr_run), str(big), "-o", out]) == 2
    assert "big.png is 40x30: its 160x120 output would pass the limit of 10,000 pixels" in _err(capsys)
    monkeypatch.setattr(translate_files, "MAX_INPUTS", 1)
    assert main(["translate", str(sr_run), str(big), str(big), "-o", out]) == 2
    assert "more than 1 input images" in _err(capsys)
    assert main(["translate", str(sr_run), str(big), "-o", out, "--direction", "AtoB"]) == 2
    assert "--direction is for unpaired (CycleGAN) models; this one is task.kind=superres" in _err(capsys)
    assert main(["translate", str(sr_run), str(big), "-o", out, "--direction", "up"]) == 2
    assert "--direction must be AtoB or BtoA, not 'up'" in _err(capsys)
    assert main(["translate", str(sr_run), str(big), "-o", out, "--mask", str(big)]) == 2
    assert "--mask is for inpainting models; this one is task.kind=superres" in _err(capsys)
    assert main(["translate", str(sr_run), str(tmp_path / "nope.png"), "-o", out]) == 2
    assert "input not found" in _err(capsys)
    assert not (tmp_path / "out").exists()  # nothing written by a refused call


def test_a_paired_model_takes_its_training_size_only(tmp_path, capsys):
    cfg = config.load("configs/pix2pix-glyphs.yaml", ["train.steps=1", "g.width=4", "d.width=4",
                                                       "data.size=16", "d.depth=2", "train.batch_size=2",
                                                       "train.plot_every=0"])
    train(cfg, tmp_path / "p2p", progress=False)
    _png(tmp_path / "x.png", 20, 16, mode="L")
    assert main(["translate", str(tmp_path / "p2p"), str(tmp_path / "x.png"), "-o", str(tmp_path / "o")]) == 2
    assert "x.png is 20x16; this paired model takes 16x16 images (its training size)" in _err(capsys)
    _png(tmp_path / "y.png", 16, 16, mode="L")
    assert main(["translate", str(tmp_path / "p2p"), str(tmp_path / "y.png"), "-o", str(tmp_path / "o")]) == 0
    with Image.open(tmp_path / "o" / "y.png") as im:
        assert im.size == (16, 16)

TINY = ["train.steps=1", "g.width=4", "d.width=4", "data.size=16", "d.depth=2", "train.batch_size=2",
        "train.plot_every=0"]


def test_an_unpaired_model_translates_either_way(tmp_path, capsys):
    cfg = config.load("configs/cyclegan-glyphs.yaml", TINY)
    train(cfg, tmp_path / "cyc", progress=False)
    x = _png(tmp_path / "x.png", 16, 16, mode="L")
    for way in ("AtoB", "BtoA"):
        assert main(["translate", str(tmp_path / "cyc"), str(x), "-o", str(tmp_path / way), "--direction",
                     way]) == 0
        assert f"unpaired of x.png, {way}" in provenance.read(tmp_path / way / "x.png")["what"]
    with Image.open(tmp_path / "AtoB" / "x.png") as a, Image.open(tmp_path / "BtoA" / "x.png") as b:
        assert np.asarray(a).shape == (16, 16) and not np.array_equal(np.asarray(a), np.asarray(b))


def test_an_inpainting_model_fills_the_masks_holes_and_keeps_the_rest(tmp_path, capsys):
    cfg = config.load("configs/inpaint-fashion.yaml", TINY)
    train(cfg, tmp_path / "inp", progress=False)
    run, x = str(tmp_path / "inp"), _png(tmp_path / "x.png", 16, 16, mode="L")
    hole = np.zeros((16, 16), np.uint8)
    hole[4:9, 5:12] = 255
    Image.fromarray(hole).save(tmp_path / "m.png")
    assert main(["translate", run, str(x), "-o", str(tmp_path / "o"), "--mask", str(tmp_path / "m.png")]) == 0
    with Image.open(x) as a, Image.open(tmp_path / "o" / "x.png") as b:
        src, out = np.asarray(a), np.asarray(b)
    keep = hole == 0
    assert np.array_equal(src[keep], out[keep])  # valid pixels come back unchanged
    assert main(["translate", run, str(x), "-o", str(tmp_path / "o2")]) == 2
    assert "inpainting models need --mask MASK.png" in _err(capsys)
    Image.fromarray(hole[:8]).save(tmp_path / "small.png")
    small = str(tmp_path / "small.png")
    assert main(["translate", run, str(x), "-o", str(tmp_path / "o2"), "--mask", small]) == 2
    assert "mask" in (e := _err(capsys)) and "is 16x8; the images are 16x16" in e
    assert not (tmp_path / "o2").exists()


def test_an_unpaired_run_serves_and_exports_one_translator(tmp_path):
    import torch

    from ganforge.export import OnnxGenerator, export_run
    from ganforge.generation import load
    from ganforge.serve.model import load_served

    train(config.load("configs/cyclegan-glyphs.yaml", TINY), tmp_path / "cyc", progress=False)
    g = load(tmp_path / "cyc")
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    served = load_served(tmp_path / "cyc", direction="BtoA")
    assert served.can_translate and served.net is not g.net
    with torch.no_grad():
        want = g.net.ba(None, x)
    assert torch.allclose(torch.from_numpy(served.translate(x, None)), want, atol=1e-5)
    out = export_run(tmp_path / "cyc", tmp_path / "ab.onnx", direction="AtoB")
    onnx = OnnxGenerator(out)
    assert "(AtoB)" in str(onnx.metadata)
    with torch.no_grad():
        want_ab = g.net.ab(None, x)
    got = torch.from_numpy(onnx.translate_image(x[0], None, 128, 32))
    assert torch.allclose(got, want_ab[0], atol=1e-4)
