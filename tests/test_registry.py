import pytest

from ganforge.errors import ConfigError
from ganforge.losses import LOSSES
from ganforge.penalties import PENALTIES
from ganforge.registry import Registry


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError) as e:
        LOSSES.get("wgan-gpp")
    msg = str(e.value)
    assert "unknown loss 'wgan-gpp'" in msg
    for name in ("hinge", "lsgan", "minimax", "ns", "wasserstein"):
        assert name in msg


def test_required_parts_are_registered():
    assert set(LOSSES.names()) == {"minimax", "ns", "lsgan", "hinge", "wasserstein", "ragan"}
    assert set(PENALTIES.names()) == {"gp", "r1"}


def test_double_registration_is_refused():
    r: Registry = Registry("thing")
    r.register("a")(1)
    with pytest.raises(ValueError):
        r.register("a")(2)


def test_unregister_and_registration_order():
    r: Registry = Registry("thing", ordered=True)
    r.register("b")(1)
    r.register("a")(2)
    assert r.names() == ["b", "a"] and list(r) == ["b", "a"]
    assert r.unregister("b") == 1 and r.names() == ["a"]
    with pytest.raises(ValueError, match="not registered"):
        r.unregister("b")
    s: Registry = Registry("thing")
    s.register("b")(1)
    s.register("a")(2)
    assert s.names() == ["a", "b"]
