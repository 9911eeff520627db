"""media.py and `ganforge sample`'s pictures: grids with class rows, per-seed PNGs, the GIF walk,
each with provenance; one-line errors for what a user can mistype."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import DataError
from ganforge.generation import load
from ganforge.media import write_grid, write_seed_images, write_walk
from ganforge.provenance import read


@pytest.fixture(scope="module")
def g(image_run):
    return load(image_run, device="cpu")


def test_conditional_grid_has_one_row_per_class(g, tmp_path):
    out = write_grid(g, tmp_path / "grid.png", 30, seed=1)  # 10 classes x 3 columns of 8 px, 2 px gaps
    im = Image.open(out)
    assert im.size == (3 * 10 + 2, 10 * 10 + 2)
    assert read(out)["labels"].startswith("one row per class")
    one = write_grid(g, tmp_path / "sevens.png", 4, label=7, truncation=0.5)
    assert read(one)["labels"] == "7" and read(one)["truncation"] == "0.5"


def test_per_seed_pngs_reproduce_across_calls(g, tmp_path):
    a = write_seed_images(g, tmp_path / "a", [0, 1, 2, 40])
    b = write_seed_images(g, tmp_path / "b", [40, 2])
    assert [p.name for p in a] == ["seed0000.png", "seed0001.png", "seed0002.png", "seed0040.png"]
    pix = {p.name: np.asarray(Image.open(p)) for p in a}
    assert all(np.array_equal(pix[p.name], np.asarray(Image.open(p))) for p in b)
    assert pix["seed0000.png"].shape == (8, 8)  # the model's own size
    info = read(a[3])
    assert info["seeds"] == "40" and info["synthetic"] == "true" and info["generator"] == g.fingerprint
    assert info["labels"] == str(int(g.seed_inputs([40])[1][0]))  # the class drawn from the seed


def test_walk_gif_has_its_frames_loops_and_says_synthetic(g, tmp_path):
    out = g.walk_gif(tmp_path / "walk.gif", seeds=[0, 1, 2], frames=12, fps=10)
    with Image.open(out) as im:
        assert im.n_frames == 12 and im.info["loop"] == 0 and im.size == (128, 128)
        assert im.info["duration"] == 100
    info = read(out)
    assert info["seeds"] == "walk through 0,1,2" and info["what"].startswith("latent walk, 12 frames")
    with pytest.raises(DataError, match="as .gif"):
        write_walk(g, tmp_path / "walk.mp4", [0, 1])
    with pytest.raises(DataError, match="at least 2"):
        write_walk(g, tmp_path / "w.gif", [0, 1], frames=1)


def test_sample_cli_seeds_walk_truncation_and_sidecar(image_run, tmp_path, capsys):
    assert main(["sample", str(image_run), "--seeds", "0-2", "--outdir", str(tmp_path / "s"),
                 "--device", "cpu"]) == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["seed0000.png", "seed0001.png",
                                                                   "seed0002.png"]
    assert main(["sample", str(image_run), "--interpolate", "--seeds", "3,4", "--frames", "6",
                 "-o", str(tmp_path / "w.gif"), "--device", "cpu"]) == 0
    assert Image.open(tmp_path / "w.gif").n_frames == 6
    assert main(["sample", str(image_run), "-n", "7", "--truncation", "0.5", "-o", str(tmp_path / "x.npy"),
                 "--device", "cpu"]) == 0
    assert read(tmp_path / "x.npy")["truncation"] == "0.5"
    assert main(["inspect", str(tmp_path / "x.npy")]) == 0
    assert "truncation" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--truncation", "0", "-o", "a.png"], "truncation psi must be in (0, 1]"),
    (["--truncation", "2", "-o", "a.png"], "truncation psi must be in (0, 1]"),
    (["--interpolate", "--frames", "0", "-o", "w.gif"], "--frames must be at least 2"),
    (["--interpolate", "--frames", "100000", "-o", "w.gif"], "--frames must be at most 1,000"),
    (["--interpolate", "--seeds", "0-99", "-o", "w.gif"], "at most 64 seeds"),
    (["--seeds", "1-x", "--outdir", "d"], "seeds must look like"),
    (["--seeds", "0-60000", "--outdir", "d"], "at most 50,000 seeds"),
    (["--outdir", "d"], "--outdir needs --seeds"),
    (["--seeds", "0-3", "-o", "a.png"], "--seeds goes with --outdir"),
    (["-n", "4"], "say where"),
    (["--label", "11", "-o", "a.png"], "--label must be in 0..9"),
])
def test_sample_mistakes_are_one_line(image_run, tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)  # relative outputs would land here
    assert main(["sample", str(image_run), "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_points_refuse_pictures(tmp_path):
    from ganforge.config import GConfig
    from ganforge.generation import LoadedGenerator
    from ganforge.nets import build_g

    pts = LoadedGenerator(build_g(GConfig(width=8, depth=1), (2,)), "normal", torch.device("cpu"))
    with pytest.raises(DataError, match="latent walk needs an image model"):
        pts.walk_gif(tmp_path / "w.gif")
    with pytest.raises(DataError, match="needs an image model"):
        write_seed_images(pts, tmp_path / "d", [0])
