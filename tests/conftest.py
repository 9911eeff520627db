import pytest

from ganforge import config


@pytest.fixture
def tiny_cfg():
    """A small, fast config: every step costs milliseconds."""

    def make(*overrides: str) -> config.RunConfig:
        base = [
            "data.name=grid25", "g.width=32", "g.depth=2", "d.width=32", "d.depth=2",
            "train.batch_size=64", "train.steps=20", "train.log_every=5",
            "train.plot_every=0", "train.ckpt_every=10",
        ]
        return config.load(None, base + list(overrides))

    return make
