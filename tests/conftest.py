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


# Tiny translation runs: task -> (recipe, its own settings, baseline, the names its eval scores)
TRANSLATION_TINY = ["--set", "train.steps=4", "--set", "train.eval_every=2", "--set", "train.batch_size=4",
        "--set", "g.width=4", "--set", "d.width=4", "--set", "data.size=16", "--set", "train.log_every=2",
        "--set", "train.plot_every=0", "--set", "train.ckpt_every=0", "--set", "eval.n_during=8"]
TRANSLATION_RUNS = {
    "paired": ("configs/pix2pix-glyphs.yaml", [], "identity", ["psnr", "ssim", "l1", "glyph_acc"]),
    "superres": ("configs/sr-x4.yaml", ["--set", "g.depth=1", "--set", "task.pretrain_steps=2"], "bicubic",
                 ["psnr", "ssim", "l1"]),
    "inpaint": ("configs/inpaint-fashion.yaml", [], "biharmonic", ["hole_psnr", "hole_l1", "psnr", "ssim"]),
    "unpaired": ("configs/cyclegan-glyphs.yaml", [], "identity",
                 [f"{way}_{k}" for way in ("AtoB", "BtoA") for k in ("psnr", "ssim", "l1", "glyph_acc")]),
}


@pytest.fixture(scope="session")
def translation_runs(tmp_path_factory):
    """One 4-step run of each translation task (paired, superres, inpaint, unpaired), evaluated every 2 steps
    during training and then by `ganforge eval -n 12`: for the eval and report tests. Returns the
    runs' folder and TRANSLATION_RUNS, TRANSLATION_TINY (test files cannot import conftest)."""
    from ganforge.cli import main

    root = tmp_path_factory.mktemp("task-evals")
    for task, (recipe, extra, _, _) in TRANSLATION_RUNS.items():
        assert main(["train", recipe, "--out", str(root / task), "--quiet", *TRANSLATION_TINY, *extra]) == 0
        assert main(["eval", str(root / task), "-n", "12", "--quiet"]) == 0
    return root, TRANSLATION_RUNS, TRANSLATION_TINY


def all_state_of(t) -> dict:  # noqa: ANN001
    """Every tensor a resumed run must match: nets, EMA, optimiser state, RNG states."""
    out = {}
    for name, mod in (("g", t.g), ("d", t.d), ("ema", t.g_ema)):
        if mod is not None:
            out.update({f"{name}.{k}": v for k, v in mod.state_dict().items()})
    for name, opt in (("opt_g", t.opt_g), ("opt_d", t.opt_d)):
        for idx, st in opt.state_dict()["state"].items():
            out.update({f"{name}.{idx}.{k}": v for k, v in st.items()})
    for role, gen in t.rng.items():
        out[f"rng.{role}"] = gen.get_state()
    return out


@pytest.fixture
def all_state():
    """`all_state(trainer)`: see all_state_of."""
    return all_state_of


STYLE_TINY = {"g.arch": "style", "d.arch": "style", "g.width": 8, "d.width": 8, "g.max_channels": 16,
              "d.max_channels": 16, "g.noise_dim": 16, "g.w_dim": 16, "g.mapping_layers": 2,
              "g.style_mixing": 0.5, "d.mbstd": True, "loss.penalty": "r1", "loss.penalty_every": 2,
              "loss.pl_weight": 2.0, "loss.pl_every": 2, "opt_g.beta1": 0.0, "opt_d.beta1": 0.0,
              "train.steps": 3, "train.batch_size": 8, "train.ckpt_every": 3, "train.ema": 0.9,
              "data.size": 16, "train.augment": "", "train.precision": "fp32", "train.channels_last": False}


@pytest.fixture(scope="session")
def style_run(tmp_path_factory):
    """An unconditional style-G / style-D run on 16x16 digits, three steps (6 style layers, w_avg moved a
    little): a real checkpoint in seconds, for the style controls and projection tests."""
    import ganforge

    out = tmp_path_factory.mktemp("runs") / "digits-style"
    ganforge.train(Path(__file__).resolve().parents[1] / "configs" / "digits-tiny.yaml", out=out, plots=False,
                   overrides=dict(STYLE_TINY))
    return out
