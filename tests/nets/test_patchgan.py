import pytest
import torch

from ganforge.config import DConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_d
from ganforge.nets.patchgan import patch_plan


@pytest.mark.parametrize(("side", "strided", "patches"), [(16, 2, 4), (32, 3, 4), (64, 3, 36), (28, 2, 25)])
def test_patch_count_and_score_shape(side, strided, patches):
    assert patch_plan(side, 3) == (strided, int(patches**0.5))
    d = build_d(DConfig(arch="patchgan", width=4, depth=3), (1, side, side), cond_shape=(2, side, side))
    out = d(torch.randn(5, 1, side, side), torch.randn(5, 2, side, side))
    assert d.patches == patches and out.score.shape == (5, patches) and out.logits is None


def test_the_condition_enters_and_an_unconditional_form_exists():
    d = build_d(DConfig(arch="patchgan", width=4), (1, 32, 32), cond_shape=(1, 32, 32))
    x = torch.randn(2, 1, 32, 32)
    assert not torch.equal(d(x, torch.zeros_like(x)).score, d(x, torch.ones_like(x)).score)
    with pytest.raises(ValueError, match="pass the input images as c"):
        d(x)
    plain = build_d(DConfig(arch="patchgan", width=4), (3, 32, 32))
    assert plain.spec.cond == "none" and plain(torch.randn(2, 3, 32, 32)).score.shape == (2, 4)


def test_spectral_norm_and_batch_norm():
    d = build_d(DConfig(arch="patchgan", width=4, spectral_norm=True, batch_norm=True), (1, 32, 32),
                cond_shape=(1, 32, 32))
    assert any("parametrizations" in k for k in d.state_dict())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())


def test_one_line_errors():
    with pytest.raises(ConfigError, match="d.pack must be 1, got 2"):
        build_d(DConfig(arch="patchgan", pack=2), (1, 32, 32), cond_shape=(1, 32, 32))
    with pytest.raises(ConfigError, match="is not a generator"):
        from ganforge.config import GConfig
        from ganforge.nets import build_g

        build_g(GConfig(arch="patchgan"), (1, 32, 32), cond_shape=(1, 32, 32))
    with pytest.raises(ConfigError, match="at least 8 px"):
        build_d(DConfig(arch="patchgan"), (1, 4, 4))
