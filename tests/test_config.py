import pytest

from ganforge import config
from ganforge.errors import ConfigError


def test_defaults_and_overrides_are_typed():
    cfg = config.load(None, ["train.steps=3000", "seed=1", "opt_g.lr=3e-4", "d.spectral_norm=true"])
    assert cfg.train.steps == 3000 and isinstance(cfg.train.steps, int)
    assert cfg.seed == 1
    assert cfg.opt_g.lr == pytest.approx(3e-4) and isinstance(cfg.opt_g.lr, float)
    assert cfg.d.spectral_norm is True


def test_yaml_recipe_with_pyyaml_style_exponent(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("data: {name: ring8}\nopt_d:\n  lr: 1e-3\ntrain: {steps: 10}\n")
    cfg = config.load(p, ["train.steps=20"])
    assert cfg.data.name == "ring8"
    assert cfg.opt_d.lr == pytest.approx(1e-3)
    assert cfg.train.steps == 20  # overrides win over the file


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.stepz=3", "unknown config key 'train.stepz'"),
        ("nosuch=1", "unknown config key 'nosuch'"),
        ("train.steps=many", "'train.steps' must be an integer"),
        ("train.steps=0", "'train.steps' must be >= 1"),
        ("d.spectral_norm=maybe", "'d.spectral_norm' must be true or false"),
        ("opt_g.lr=-1", "'opt_g.lr' must be > 0"),
        ("train.ema=1.5", "'train.ema' must be in [0, 1)"),
        ("train.steps", "must look like key=value"),
        ("seed.x=1", "'seed' is not a section"),
    ],
)
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError) as e:
        config.load(None, [override])
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_batch_must_divide_into_packs():
    with pytest.raises(ConfigError, match="multiple of d.pack"):
        config.load(None, ["d.pack=3", "train.batch_size=64"])


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  steps: [1, 2\nseed: 0\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*bad.yaml \(line \d+"):
        config.load(p)


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        config.load(p)


def test_round_trip_through_yaml(tmp_path):
    cfg = config.load(None, ["g.width=77", "loss.name=hinge", "train.lr_end=0.5"])
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    assert config.load(p) == cfg


def test_repo_recipes_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    recipes = sorted(root.glob("*.yaml"))
    assert {p.name for p in recipes} >= {"grid25.yaml", "ring8.yaml"}
    for p in recipes:
        config.load(p)


def test_every_recipe_builds_its_trainer():
    """Recipes name real parts and shapes that fit: a trainer builds and takes one step."""
    import os
    from pathlib import Path

    from ganforge.errors import DataError
    from ganforge.training import Trainer

    root = Path(__file__).resolve().parents[1] / "configs"
    for p in sorted(root.glob("*.yaml")):
        pack = config.load(p).d.pack  # a table recipe packs 10 rows per judgement
        cfg = config.load(p, [f"train.batch_size={4 if pack == 1 else 2 * pack}", "g.width=8", "d.width=8",
                              "train.d_steps=1", "train.precision=fp32"])
        try:
            t = Trainer(cfg)
        except DataError:
            if os.environ.get("CI"):
                raise
            continue  # local machine without that data set
        t.train_step()
        assert t.step == 1, p.name


def test_style_nets_need_images_and_path_length_needs_a_style_g():
    with pytest.raises(ConfigError, match="g.arch=style needs image data"):
        config.load(None, ["g.arch=style", "data.name=grid25"])
    with pytest.raises(ConfigError, match="d.arch=style needs image data"):
        config.load(None, ["d.arch=style", "data.name=ring8"])
    with pytest.raises(ConfigError, match="loss.pl_weight > 0 .* needs g.arch=style"):
        config.load(None, ["data.name=mnist", "g.arch=dcgan", "loss.pl_weight=2"])
    cfg = config.load(None, ["data.name=mnist", "g.arch=style", "d.arch=style", "loss.pl_weight=2"])
    assert cfg.loss.pl_weight == 2


def test_table_holdout_share_is_checked():
    assert config.load(None, ["task.kind=table", "data.name=wine", "data.holdout=0.2"]).data.holdout == 0.2
    with pytest.raises(ConfigError, match="data.holdout"):
        config.load(None, ["task.kind=table", "data.name=wine", "data.holdout=1.0"])
    with pytest.raises(ConfigError, match="apply to task.kind=table"):
        config.load(None, ["data.holdout=0.2"])
