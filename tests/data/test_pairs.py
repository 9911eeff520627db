from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import PAIRED_SETS, UNPAIRED_SETS, load_paired, load_unpaired
from ganforge.data.images import to_float
from ganforge.data.pairs import (
    PairedData,
    UnpairedData,
    load_ab_folders,
    load_cyclegan_folder,
    load_pairs_folder,
    load_side_by_side,
)
from ganforge.errors import ConfigError, DataError


def _paired(n: int = 20) -> PairedData:
    """B = 255 - A, and every A image is filled with its own index: alignment is checkable."""
    a = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return PairedData("t", "t", a, 255 - a, labels=torch.arange(n), names=[f"p{i}" for i in range(n)])


def test_sample_keeps_pairs_aligned_and_is_reproducible():
    d = _paired()
    a, b = d.sample(64, torch.Generator().manual_seed(3))
    assert a.shape == (64, 1, 4, 4) and a.min() >= -1 and b.max() <= 1
    assert torch.allclose(b, -a)  # 255 - x in uint8 is -x in [-1, 1]
    a2, _ = d.sample(64, torch.Generator().manual_seed(3))
    assert torch.equal(a, a2) and len(set(a[:, 0, 0, 0].tolist())) > 5
    a3, b3, y = d.sample_labeled(16, torch.Generator().manual_seed(1))
    assert torch.equal(a3[:, 0, 0, 0], to_float(y.to(torch.uint8)))


def test_split_holds_out_every_kth_pair_and_unpaired_halves_are_disjoint():
    d = _paired(20).split(5)
    assert d.size == 16 and d.test.size == 4 and d.test.names == ["p4", "p9", "p14", "p19"]
    assert not set(d.names) & set(d.test.names)
    assert d.split(5) is d  # already split: unchanged
    u = d.unpaired()
    assert isinstance(u, UnpairedData) and u.size_a == 8 and u.size_b == 8
    ids_a, ids_b = set(u.a[:, 0, 0, 0].tolist()), set(u.b_truth[:, 0, 0, 0].tolist())
    assert not ids_a & ids_b and not set(u.names_a) & set(u.names_b)
    assert torch.equal(u.a_truth, 255 - u.a) and torch.equal(u.b_truth, 255 - u.b)
    t = u.truth("a")
    assert torch.equal(t.b, 255 - t.a) and t.labels.tolist() == u.labels_a.tolist()
    assert u.test.size_a == 4 and torch.equal(u.test.a_truth, u.test.b)
    r = d.reversed()
    assert torch.equal(r.a, d.b) and torch.equal(r.test.b, d.test.a)


def test_unpaired_sample_draws_each_side_independently():
    a = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    b = torch.arange(7, dtype=torch.uint8).view(7, 1, 1, 1).expand(7, 1, 2, 2).contiguous()
    u = UnpairedData("u", "u", a, b)
    g = torch.Generator().manual_seed(0)
    xa, xb = u.sample(32, g)
    g = torch.Generator().manual_seed(0)
    torch.randint(3, (32,), generator=g)
    ib = torch.randint(7, (32,), generator=g)
    assert xa.shape == (32, 1, 2, 2) and torch.equal(xb, to_float(b[ib]))
    with pytest.raises(DataError, match="no ground truth"):
        u.truth()


def test_mismatched_lengths_are_data_errors():
    with pytest.raises(DataError, match="3 A images for 2 B images"):
        PairedData("x", "x", torch.zeros(3, 1, 2, 2, dtype=torch.uint8),
                   torch.zeros(2, 1, 2, 2, dtype=torch.uint8))
    with pytest.raises(DataError, match="expected uint8"):
        PairedData("x", "x", torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2, dtype=torch.uint8))


def _side_by_side(root: Path, n: int = 4, w: int = 8, h: int = 6) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.zeros((h, 2 * w, 3), dtype=np.uint8)
        arr[:, :w] = (10 * i, 0, 0)  # A: red level i
        arr[:, w:] = (0, 10 * i, 200)  # B: green level i, blue
        Image.fromarray(arr).save(root / f"{i:02d}.png")


def test_side_by_side_split_at_the_middle(tmp_path):
    _side_by_side(tmp_path / "p")
    (tmp_path / "p" / "bad.png").write_bytes(b"\x89PNG nope")
    d = load_side_by_side(tmp_path / "p", max_bad_share=0.5)
    assert d.shape_a == (3, 6, 8) and d.shape_b == (3, 6, 8) and d.size == 4 and d.skipped == 1
    assert d.names == ["00", "01", "02", "03"]
    assert d.a[:, 0, 0, 0].tolist() == [0, 10, 20, 30] and int(d.a[:, 1:].max()) == 0
    assert d.b[:, 1, 3, 7].tolist() == [0, 10, 20, 30] and int(d.b[:, 0].max()) == 0
    assert int(d.b[:, 2].min()) == 200
    e = load_pairs_folder(tmp_path / "p", size=4, max_bad_share=0.5)
    assert e.shape_a == (3, 4, 4) and e.a[2, 0, 2, 2] == 20 and e.b[2, 2, 2, 2] == 200
    with pytest.raises(DataError, match="1 of 5 images .* could not be read"):
        load_side_by_side(tmp_path / "p", max_bad_share=0.1)


def test_side_by_side_odd_width_is_one_line_error(tmp_path):
    _side_by_side(tmp_path / "p", n=1)
    Image.new("RGB", (9, 6)).save(tmp_path / "p" / "odd.png")
    with pytest.raises(DataError, match=r"odd.png: width 9 is odd") as e:
        load_side_by_side(tmp_path / "p")
    assert "\n" not in str(e.value)


def test_side_by_side_train_test_folders_become_the_split(tmp_path):
    _side_by_side(tmp_path / "facades" / "train", n=3)
    _side_by_side(tmp_path / "facades" / "val", n=2)
    d = PAIRED_SETS.get("pairs-folder")(path=str(tmp_path / "facades"))
    assert d.size == 3 and d.test.size == 2 and all(n.startswith("val/") for n in d.test.names)


def _ab(root: Path, a_names: list[str], b_names: list[str]) -> None:
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir(parents=True)
    for n in a_names:
        Image.new("L", (5, 5), 3 * len(n)).save(root / "A" / f"{n}.png")
    for n in b_names:  # B: RGB .bmp with A's grey value in red; matched by stem
        Image.new("RGB", (5, 5), (3 * len(n), 1, 2)).save(root / "B" / f"{n}.bmp")


def test_ab_folders_match_by_stem(tmp_path):
    names = ["a", "bb", "ccc", "dddd"]
    _ab(tmp_path, names, names[::-1])
    (tmp_path / "A" / "eeeee.png").write_bytes(b"corrupt")
    Image.new("RGB", (5, 5)).save(tmp_path / "B" / "eeeee.bmp")
    d = load_ab_folders(tmp_path, max_bad_share=0.3)
    assert d.shape_a == (1, 5, 5) and d.shape_b == (3, 5, 5) and d.skipped == 1
    assert d.names == names
    assert torch.equal(d.a[:, 0, 0, 0], d.b[:, 0, 0, 0]) and d.a[:, 0, 0, 0].tolist() == [3, 6, 9, 12]


def test_ab_folders_unmatched_names_one_line_with_counts(tmp_path):
    _ab(tmp_path, ["x1", "x2", "x3", "x4", "x5", "same"], ["same", "y1"])
    with pytest.raises(DataError) as e:
        load_pairs_folder(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "5 name(s) only in A/ (x1, x2, x3, ...)" in msg and "1 only in B/ (y1)" in msg


def _cyclegan(root: Path, test: bool = True) -> None:
    for s, n, v in (("trainA", 3, 10), ("trainB", 5, 20), ("testA", 2, 30), ("testB", 1, 40)):
        if s.startswith("test") and not test:
            continue
        (root / s).mkdir(parents=True)
        for i in range(n):
            name = f"{i}.jpg" if i else f"{i}.png"
            Image.new("RGB", (6, 6), (v + i, 0, 0)).save(root / s / name)


def test_cyclegan_layout_with_test_split(tmp_path):
    _cyclegan(tmp_path)
    d = UNPAIRED_SETS.get("cyclegan-folder")(path=str(tmp_path), size=4)
    assert d.size_a == 3 and d.size_b == 5 and d.shape_a == (3, 4, 4) and not d.has_truth
    assert d.test.size_a == 2 and d.test.size_b == 1
    assert abs(int(d.test.a[0, 0, 0, 0]) - 30) <= 2 and abs(int(d.b[4, 0, 0, 0]) - 24) <= 2
    assert d.names_a == ["0.png", "1.jpg", "2.jpg"]
    assert load_unpaired("cyclegan-folder", path=str(tmp_path)).test is not None


def test_cyclegan_layout_errors(tmp_path):
    with pytest.raises(DataError, match="no trainA/ or trainB/"):
        load_cyclegan_folder(tmp_path)
    _cyclegan(tmp_path, test=False)
    (tmp_path / "testA").mkdir()
    with pytest.raises(DataError, match="testA/ without its partner"):
        load_cyclegan_folder(tmp_path)


def test_registries_and_lookups():
    assert "pairs-folder" in PAIRED_SETS and "cyclegan-folder" in UNPAIRED_SETS
    with pytest.raises(DataError, match="needs data.path"):
        load_paired("pairs-folder")
    with pytest.raises(ConfigError, match="unknown unpaired data set 'nope'.*cyclegan-folder"):
        load_unpaired("nope")
