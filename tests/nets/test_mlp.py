import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_d, build_g


@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("bn", [False, True])
def test_generator_shapes_and_layers(depth, bn):
    g = build_g(GConfig(width=16, depth=depth, batch_norm=bn, noise_dim=5), (2,))
    assert g(torch.randn(7, 5)).shape == (7, 2)
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 1
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == (bn and depth > 0)


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_packed_discriminator_scores_groups(pack):
    d = build_d(DConfig(width=16, depth=2, pack=pack), (2,))
    x = torch.randn(8 * pack, 2)
    out = d(x).score
    assert out.shape == (8,)
    # The first output depends only on the first `pack` samples.
    y = x.clone()
    y[pack:] += 10
    assert torch.allclose(d(y).score[0], out[0])
    assert not torch.allclose(d(y).score[1:], out[1:])


def test_spectral_norm_bounds_each_layer():
    d = build_d(DConfig(width=32, depth=2, spectral_norm=True, activation="relu"), (2,))
    d.train()
    for _ in range(30):  # power iterations converge during forward passes
        d(torch.randn(16, 2))
    d.eval()
    for m in d.modules():
        if isinstance(m, torch.nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_unknown_activation_and_arch():
    with pytest.raises(ConfigError, match="unknown activation 'swish2'"):
        build_g(GConfig(activation="swish2"), 2)
    with pytest.raises(ConfigError, match="unknown network architecture 'cnn9'"):
        build_d(DConfig(arch="cnn9"), 2)
