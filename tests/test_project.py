"""projection.py and `ganforge project`: w / w+ found by optimisation from w_avg, the files it writes, and
its one-line errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import DataError
from ganforge.generation import load
from ganforge.projection import feature_net, load_latent, lr_at, project, read_target
from ganforge.provenance import read


@pytest.fixture(scope="module")
def g(style_run):
    torch.set_num_threads(1)
    return load(style_run, device="cpu")


def test_projection_reduces_its_loss_and_finds_a_known_w(g):
    w_true = g.seed_ws([4])[0, :1]  # (1, w_dim): an image G can make exactly
    target = g.synthesize(w_true)[0]
    proj = project(g, target, steps=120, seed=0)
    assert proj.losses[-1] < 0.5 * proj.losses[0]
    assert proj.w.shape == (1, g.style.w_dim) and proj.image.shape == target.shape
    assert proj.features == "" and "pixel loss only" in proj.note  # digits: no ganforge feature network
    noise_img = torch.rand(target.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert proj.pixel_mse < 0.1 * float(((noise_img - target) ** 2).mean())
    # the saved w re-makes the reconstruction
    assert torch.allclose(g.synthesize(proj.ws(g.num_ws)[None])[0], proj.image, atol=1e-5)


def test_wplus_and_a_perceptual_feature_function(g):
    target = g.sample_seeds([7])[0]
    calls = []

    def feats(x):  # any differentiable features: here a fixed random projection of the pixels
        calls.append(len(x))
        return x.reshape(len(x), -1) @ torch.ones(256, 8).mul(0.1)

    proj = project(g, target, steps=20, wplus=True, features=feats)
    assert proj.w.shape == (g.num_ws, g.style.w_dim) and proj.wplus and proj.features == "feats"
    assert len(calls) >= 20 and proj.losses[-1] < proj.losses[0]


def test_feature_net_choice(g):
    assert feature_net(g, "none")[0] is None
    with pytest.raises(DataError, match="lenet-mnist, lenet-fashion"):
        feature_net(g, "pixels")


def test_lr_ramps_up_and_down():
    assert lr_at(0.0, 0.1) == 0 and lr_at(0.5, 0.1) == pytest.approx(0.1)
    assert 0 < lr_at(0.9, 0.1) < 0.1 and lr_at(0.02, 0.1) < lr_at(0.04, 0.1)


def test_read_target_converts_channels_and_size(tmp_path):
    rgb = np.zeros((40, 30, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    grey = read_target(tmp_path / "red.png", (1, 16, 16))
    assert grey.shape == (1, 16, 16) and abs(float(grey.mean()) - (76 / 127.5 - 1)) < 0.02  # luminance of red
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(tmp_path / "white.png")
    col = read_target(tmp_path / "white.png", (3, 16, 16))
    assert col.shape == (3, 16, 16) and torch.allclose(col, torch.ones(3, 16, 16))


def test_cli_writes_the_three_files_with_provenance(style_run, tmp_path, capsys, g):
    target = g.sample_seeds([2])[0]
    png = ((target[0].numpy() + 1) * 127.5).round().astype(np.uint8)
    Image.fromarray(png).resize((32, 32)).convert("RGB").save(tmp_path / "digit.png")  # other size, RGB
    assert main(["project", str(style_run), str(tmp_path / "digit.png"), "-o", str(tmp_path / "proj"),
                 "--steps", "12", "--wplus", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "w+" in out and "note: no ganforge feature network" in out
    side = Image.open(tmp_path / "proj.png")
    assert side.size == (2 * 18 + 2, 20)  # target | reconstruction, 2 px gaps
    assert "projection of digit.png" in read(tmp_path / "proj.png")["what"]
    w, meta = load_latent(tmp_path / "proj.latent.safetensors")
    assert w.shape == (g.num_ws, g.style.w_dim) and meta["latent"] == "w+" and meta["synthetic"] == "true"
    gif = Image.open(tmp_path / "proj.progress.gif")
    assert gif.n_frames >= 2 and read(tmp_path / "proj.progress.gif")["what"].startswith("projection")


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not an image"), "cannot read bad.png as an image"),
    (None, "image not found"),
])
def test_cli_image_errors_are_one_line(style_run, tmp_path, capsys, make, message):
    path = tmp_path / "bad.png"
    if make:
        make(path)
    assert main(["project", str(style_run), str(path), "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "p.png").exists()


def test_cli_refuses_other_models_and_bad_steps(image_run, style_run, tmp_path, capsys):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    assert main(["project", str(image_run), str(tmp_path / "x.png"), "-o", str(tmp_path / "p")]) == 2
    assert "needs a style-based model (g.arch=style)" in capsys.readouterr().err
    assert main(["project", str(style_run), str(tmp_path / "x.png"), "-o", str(tmp_path / "p"),
                 "--steps", "0"]) == 2
    assert "--steps must be an integer in 1..10,000" in capsys.readouterr().err


def test_api_project_takes_a_path(style_run, tmp_path, g):
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "grey.png")
    proj = load(style_run, device="cpu").project(tmp_path / "grey.png", steps=3)
    assert len(proj.losses) == 4 and proj.target.shape == (1, 16, 16)
