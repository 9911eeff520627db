import numpy as np
import pytest
import torch

from ganforge.data import PAIRED_SETS
from ganforge.data.edges import edge_map
from ganforge.data.images import FASHION_DIR
from ganforge.errors import DataError


def _square() -> np.ndarray:
    x = np.zeros((3, 20, 20), dtype=np.uint8)
    x[:, 5:15, 5:15] = 200
    x[2] = 0
    return x


def test_edge_map_equals_direct_skimage_calls():
    from skimage.feature import canny
    from skimage.filters import sobel

    x = _square()
    e = edge_map(x, "canny", sigma=1.0)
    assert np.array_equal(e[0] > 0, canny(x[0] / 255.0, sigma=1.0)) and set(np.unique(e)) == {0, 255}
    assert e[0].sum() > 0 and e[2].sum() == 0 and e[0, 10, 10] == 0  # edges, not the filled inside
    s = edge_map(x, "sobel")
    assert np.array_equal(s[1], np.clip(np.round(sobel(x[1] / 255.0) * 255), 0, 255).astype(np.uint8))
    with pytest.raises(DataError, match="canny or sobel"):
        edge_map(x, "hed")


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_edges2fashion_pairs_edges_with_their_garment():
    d = PAIRED_SETS.get("edges2fashion")(limit=300)
    assert d.size == 300 and d.test.size == 300 and d.shape_a == (1, 28, 28) and d.num_classes == 10
    a, b = d.sample(8, torch.Generator().manual_seed(0))
    idx = torch.randint(300, (8,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(d.a[idx], torch.from_numpy(edge_map(d.b[idx, 0].numpy())).unsqueeze(1))
    assert not torch.equal(d.test.b[:10], d.b[:10])  # the test part is t10k, not train
    big = PAIRED_SETS.get("edges2fashion")(limit=20, size=32)
    assert big.shape_a == (1, 32, 32) and big.test.shape_b == (1, 32, 32)
