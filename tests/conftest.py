import os
from pathlib import Path

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


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` run where a GPU is and skip elsewhere (CI has none)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "ganforge-cache"


@pytest.fixture(autouse=True, scope="session")
def ganforge_cache():
    """Evaluation classifiers and reference features go to a cache kept beside pytest's own (never
    the user's ~/.cache): the first session trains lenet-mnist once, later sessions reuse it."""
    old = os.environ.get("GANFORGE_CACHE")
    os.environ["GANFORGE_CACHE"] = str(CACHE)
    yield CACHE
    if old is None:
        os.environ.pop("GANFORGE_CACHE", None)
    else:
        os.environ["GANFORGE_CACHE"] = old


@pytest.fixture(scope="session")
def image_run(tmp_path_factory):
    """A class-conditional DCGAN run on 8x8 digits, two steps: a real checkpoint in seconds, for
    sampling, export and provenance tests."""
    import ganforge

    out = tmp_path_factory.mktemp("runs") / "digits-cond"
    ganforge.train(Path(__file__).resolve().parents[1] / "configs" / "digits-tiny.yaml", out=out, plots=False,
                   overrides={"train.steps": 2, "train.batch_size": 16, "train.ckpt_every": 2,
                              "train.conditional": True, "g.width": 8, "d.width": 8, "data.size": 8,
                              "train.augment": "", "train.precision": "fp32",
                              "train.channels_last": False})
    return out
