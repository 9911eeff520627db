"""Style-based models' controls (generation.py, media.py, cli sample): truncation in w with a cutoff,
style-mixing grids, w-space walks, and the one-line errors on other models."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import DataError
from ganforge.generation import Truncation, load
from ganforge.provenance import read


@pytest.fixture(scope="module")
def g(style_run):
    torch.set_num_threads(1)
    return load(style_run, device="cpu")


def test_psi_zero_gives_one_image_for_every_seed(g):
    x = g.sample(6, seed=3, truncation=0.0)
    assert float((x - x[:1]).abs().max()) < 1e-5  # the same image (up to batched float rounding)
    # that image is the mean w's, made by synthesis alone
    w_avg = g.style.w_avg[None, None].expand(1, g.num_ws, -1)
    assert torch.allclose(x[0], g.synthesize(w_avg)[0], atol=1e-4)
    assert not torch.equal(g.sample(6, seed=3)[0], g.sample(6, seed=3)[1])  # untruncated: they differ


def test_psi_one_is_untruncated_and_psi_pulls_w_toward_w_avg(g):
    assert torch.equal(g.sample(5, seed=1, truncation=1.0), g.sample(5, seed=1))
    z = g.noise(5, seed=1)
    full, half = g.ws(z), g.ws(z, truncation=0.5)
    w_avg = g.style.w_avg
    assert torch.allclose(half, w_avg + 0.5 * (full - w_avg), atol=1e-6)  # truncated in w...
    assert not torch.allclose(g(z, truncation=0.5), g(z * 0.5), atol=1e-3)  # ...not in z
    assert torch.allclose(g(z, truncation=0.5), g.synthesize(half), atol=1e-4)


def test_cutoff_truncates_only_the_first_layers(g):
    z = g.noise(4, seed=2)
    full, cut = g.ws(z), g.ws(z, truncation=Truncation(0.0, cutoff=2))
    assert torch.allclose(cut[:, :2], g.style.w_avg.expand(4, 2, -1), atol=1e-6)
    assert torch.equal(cut[:, 2:], full[:, 2:])
    x = g(z, truncation=Truncation(0.0, cutoff=2))
    assert torch.allclose(x, g.synthesize(cut), atol=1e-4)
    with pytest.raises(DataError, match=r"cutoff must be in 1\.\.6"):
        g.sample(2, truncation=Truncation(0.5, cutoff=7))


def test_mixing_grid_sources_match_plain_samples_and_cells_mix_layers(g):
    """Batches of other sizes run other conv kernels: equal to 1e-4, not bit for bit."""
    rows, cols, mixed = g.mix([0, 1, 2], [5, 6], layers=(3, 5))
    assert rows.shape == (3, 1, 16, 16) and cols.shape == (2, 1, 16, 16) and mixed.shape == (3, 2, 1, 16, 16)
    assert torch.allclose(rows, g.sample_seeds([0, 1, 2]), atol=1e-4)
    assert torch.allclose(cols, g.sample_seeds([5, 6]), atol=1e-4)
    rw, cw = g.seed_ws([1]), g.seed_ws([6])
    want = torch.cat([rw[:, :3], cw[:, 3:]], 1)
    assert torch.allclose(mixed[1, 1], g.synthesize(want)[0], atol=1e-4)
    # all layers from the column: the column's own image; none taken would need A > B (refused)
    assert torch.allclose(g.mix([0], [5], layers=(0, 5))[2][0, 0], cols[0], atol=1e-4)
    with pytest.raises(DataError, match="mixing layers"):
        g.mix([0], [5], layers=(4, 6))


def test_w_walk_endpoints_are_the_seeds_images(g):
    x = g.interpolate([3, 8], frames=5, loop=False, space="w")
    ends = g.sample_seeds([3, 8])
    assert x.shape == (5, 1, 16, 16)
    assert torch.allclose(x[0], ends[0], atol=1e-5) and torch.allclose(x[-1], ends[1], atol=1e-5)
    ws = g.walk_ws([3, 8], frames=5, loop=False)
    keys = g.seed_ws([3, 8])
    assert torch.allclose(ws[2], (keys[0] + keys[1]) / 2, atol=1e-6)  # a straight line in w
    with pytest.raises(DataError, match="walk space"):
        g.interpolate([3, 8], space="x")


def test_cli_truncation_mix_and_w_walk_write_files_with_provenance(style_run, tmp_path, capsys):
    run = str(style_run)
    assert main(["sample", run, "-n", "4", "--truncation", "0", "-o", str(tmp_path / "t0.png")]) == 0
    pic = np.asarray(Image.open(tmp_path / "t0.png"))
    a, b = pic[2:18, 2:18].astype(int), pic[2:18, 20:36].astype(int)
    assert np.abs(a - b).max() <= 1 and a.std() > 0  # two cells of the grid: the same image
    assert main(["sample", run, "-n", "4", "--truncation", "0.5", "--truncation-cutoff", "2",
                 "-o", str(tmp_path / "t.png")]) == 0
    prov = read(tmp_path / "t.png")
    assert prov["truncation"] == "0.5" and "first 2 of 6 layers" in prov["what"]
    assert main(["sample", run, "--mix", "0-2:5-8", "--mix-layers", "3-5",
                 "-o", str(tmp_path / "mix.png")]) == 0
    im = Image.open(tmp_path / "mix.png")
    assert im.size == (5 * 18 + 2, 4 * 18 + 2)  # (1 + 4 columns) x (1 + 3 rows) cells of 16 px, 2 px gaps
    assert "layers 3-5" in read(tmp_path / "mix.png")["what"]
    assert main(["sample", run, "--interpolate", "--space", "w", "--seeds", "0-2", "--frames", "6",
                 "-o", str(tmp_path / "walk.gif")]) == 0
    assert Image.open(tmp_path / "walk.gif").n_frames >= 2
    assert "walk in w" in read(tmp_path / "walk.gif")["what"]
    assert "in w" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--truncation-cutoff", "2", "-n", "4", "-o", "a.png"], "--truncation-cutoff K goes with --truncation"),
    (["--mix", "0-2", "-o", "a.png"], "--mix must look like ROWS:COLS"),
    (["--mix", "0:1", "-o", "a.gif"], "--mix writes a .png grid"),
    (["--mix", "0:1", "--mix-layers", "x", "-o", "a.png"], "--mix-layers must look like A-B"),
    (["--mix-layers", "1-2", "-n", "4", "-o", "a.png"], "--mix-layers goes with --mix"),
    (["--space", "w", "-n", "4", "-o", "a.png"], "--space is for --interpolate"),
    (["--truncation", "0.5", "--truncation-cutoff", "9", "-n", "4", "-o", "a.png"], "cutoff must be in 1..6"),
])
def test_cli_errors_on_a_style_run_are_one_line(style_run, tmp_path, capsys, args, message):
    out = [a if not a.startswith("a.") else str(tmp_path / a) for a in args]
    assert main(["sample", str(style_run), *out]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--truncation", "0.5", "--truncation-cutoff", "2", "-n", "4", "-o", "a.png"],
     "--truncation-cutoff is for style-based models"),
    (["--truncation", "0", "-n", "4", "-o", "a.png"], "truncation psi must be in (0, 1] for this model"),
    (["--mix", "0:1", "-o", "a.png"], "needs a style-based model (g.arch=style)"),
    (["--interpolate", "--space", "w", "-o", "a.gif"], "needs a style-based model (g.arch=style)"),
])
def test_style_controls_on_other_models_are_one_line_errors(image_run, tmp_path, capsys, args, message):
    out = [a if not a.startswith("a.") else str(tmp_path / a) for a in args]
    assert main(["sample", str(image_run), *out]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_z_models_keep_truncating_z(image_run):
    lab = load(image_run, device="cpu")
    z = lab.noise(3, seed=0)
    assert torch.allclose(lab(z, 1, truncation=0.5), lab(z * 0.5, 1), atol=1e-6)
