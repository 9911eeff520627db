"""nets/tabular.py: span heads (tanh, Gumbel-softmax) checked against torch's own softmax, the layout
carried by G's state dict, the logits recovered for the conditional loss, the packed critic."""

import math

import pytest
import torch

from ganforge.nets.tabular import (
    TAU,
    TabularCritic,
    TabularGenerator,
    gumbel_of,
    segment_log_softmax,
    span_layout,
)

SPANS = [(0, 1, "tanh"), (1, 3, "softmax"), (4, 1, "tanh"), (5, 2, "softmax")]
DIM = 7


def test_segment_log_softmax_matches_torch_per_span():
    torch.manual_seed(0)
    v = torch.randn(5, DIM) * 4
    segment, soft = span_layout(SPANS, DIM)
    out = segment_log_softmax(v, segment)
    for start, size, act in SPANS:
        if act == "softmax":
            ref = torch.log_softmax(v[:, start:start + size], 1)
            torch.testing.assert_close(out[:, start:start + size], ref)
    assert soft.tolist() == [False, True, True, True, False, True, True]


def test_head_is_tanh_and_gumbel_softmax_with_the_noise_in_z():
    torch.manual_seed(1)
    g = TabularGenerator(DIM, latent=4, num_classes=0, width=8, depth=2, spans=SPANS).eval()
    z = torch.randn(6, g.spec.z_dim)
    assert g.spec.z_dim == 4 + DIM
    x = g(z)
    raw = g.out(g.body(z[:, :4]))
    noise = gumbel_of(z[:, 4:], "normal")
    torch.testing.assert_close(x[:, [0, 4]], torch.tanh(raw[:, [0, 4]]))
    for start, size in ((1, 3), (5, 2)):
        ref = torch.softmax((raw[:, start:start + size] + noise[:, start:start + size]) / TAU, 1)
        torch.testing.assert_close(x[:, start:start + size], ref)
    assert torch.equal(g(z), x)  # nothing drawn inside G


def test_gumbel_noise_from_normal_and_uniform_sources_is_standard_gumbel():
    """Mean Euler-Mascheroni gamma, std pi / sqrt(6) (200k draws: tolerances ~5 standard errors)."""
    gen = torch.Generator().manual_seed(0)
    for kind, z in (("normal", torch.randn(200_000, generator=gen, dtype=torch.float64)),
                    ("uniform", torch.rand(200_000, generator=gen, dtype=torch.float64) * 2 - 1)):
        g = gumbel_of(z, kind)
        assert abs(g.mean().item() - 0.5772157) < 0.015, kind
        assert abs(g.std().item() - math.pi / math.sqrt(6)) < 0.015, kind


def test_span_logits_recover_gs_logits_up_to_a_constant():
    torch.manual_seed(2)
    g = TabularGenerator(DIM, latent=3, num_classes=2, width=8, depth=1, spans=SPANS).eval()
    z, c = torch.randn(5, g.spec.z_dim), torch.tensor([0, 1, 1, 0, 1])
    x = g(z, c)
    h = torch.cat([z[:, :3], torch.nn.functional.one_hot(c, 2).float()], 1)
    raw = g.out(g.body(h))
    segment, _ = span_layout(SPANS, DIM)
    got = segment_log_softmax(g.span_logits(x, z), segment)
    want = segment_log_softmax(raw, segment)
    torch.testing.assert_close(got[:, 1:4], want[:, 1:4], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got[:, 5:7], want[:, 5:7], atol=1e-4, rtol=1e-4)


def test_the_layout_travels_in_the_state_dict():
    torch.manual_seed(3)
    g = TabularGenerator(DIM, latent=3, num_classes=0, width=8, depth=1, spans=SPANS).eval()
    bare = TabularGenerator(DIM, latent=3, num_classes=0, width=8, depth=1).eval()  # no layout: all tanh
    z = torch.randn(4, g.spec.z_dim)
    assert not torch.allclose(bare(z), g(z))
    bare.load_state_dict(g.state_dict())
    assert torch.equal(bare(z), g(z))


def test_packed_critic_judges_packs_and_refuses_a_partial_one():
    torch.manual_seed(4)
    d = TabularCritic(DIM, num_classes=3, width=8, depth=2, pack=4)
    x, c = torch.randn(8, DIM), torch.arange(8) % 3
    out = d(x, c)
    assert out.score.shape == (2,) and d.spec.pack == 4 and d.spec.num_classes == 3
    swapped = x.clone()
    swapped[[0, 4]] = x[[4, 0]]  # a row moves to the other pack
    assert not torch.allclose(d(swapped, c).score, out.score)
    with pytest.raises(ValueError, match="packs of 4"):
        d(x[:6], c[:6])
    with pytest.raises(ValueError, match="conditional"):
        d(x, None)
