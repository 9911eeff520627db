"""train.sampler: the random draws are the old torch.randint stream; epoch draws cover every row once
per epoch, reshuffle, split across ranks without overlap, and resume exactly from a checkpoint."""

from dataclasses import replace

import pytest
import torch

from ganforge import config
from ganforge.data import load_paired
from ganforge.data.draws import EpochDraws, RandomDraws, make_draws
from ganforge.errors import CheckpointError, ConfigError
from ganforge.training import Trainer, fit
from ganforge.training.state import load_checkpoint, restore, save_checkpoint


def test_random_draws_are_the_uniform_stream_with_replacement():
    a = RandomDraws()(10, 7, torch.Generator().manual_seed(3))
    assert torch.equal(a, torch.randint(10, (7,), generator=torch.Generator().manual_seed(3)))


def test_epoch_draws_take_every_row_once_per_epoch_then_reshuffle():
    d, gen = EpochDraws(), torch.Generator().manual_seed(0)
    first = torch.cat([d(10, 4, gen) for _ in range(5)])  # 20 rows: two epochs of 10
    e1, e2 = first[:10], first[10:]
    assert sorted(e1.tolist()) == list(range(10)) == sorted(e2.tolist())
    assert not torch.equal(e1, e2) and d.epochs == 2
    ranks = first[:8].reshape(2, 4)  # a global batch of 8 split over 2 ranks: disjoint rows
    assert not set(ranks[0].tolist()) & set(ranks[1].tolist())


def test_epoch_state_round_trips_and_bad_names_are_one_line_errors():
    d, gen = EpochDraws(), torch.Generator().manual_seed(1)
    d(7, 3, gen)
    e = EpochDraws()
    e.load(d.state())
    g2 = torch.Generator().manual_seed(1)
    g2.set_state(gen.get_state())
    assert torch.equal(d(7, 9, gen), e(7, 9, g2))
    with pytest.raises(ConfigError, match="unknown train.sampler 'shuffle'"):
        make_draws("shuffle")
    with pytest.raises(ConfigError, match="train.sampler' must be random or epoch"):
        config.load(None, ["train.sampler=shuffle"])
    with pytest.raises(ValueError, match="trained with train.sampler=epoch"):
        RandomDraws().load(d.state())


@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_an_epoch_run_sees_every_pair_per_epoch_and_resumes_exactly(kind, tmp_path):
    data = load_paired("glyphs", size=16, charset="abcdefghijklmnopqrst", every=5)
    data = data if kind == "paired" else data.unpaired()
    cfg = config.load(None, [f"task.kind={kind}", "data.name=glyphs", "data.size=16", "g.arch=unet",
                             "g.width=4", "g.dropout=0", "d.arch=patchgan", "d.width=4", "d.depth=2",
                             "train.batch_size=6", "train.sampler=epoch", "health.enabled=false",
                             "train.steps=8"])
    straight = fit(Trainer(cfg, data=data), 5)
    path = save_checkpoint(fit(Trainer(cfg, data=data), 2), tmp_path / "k.safetensors")
    assert any(k.startswith("task.draws0.") for k in load_checkpoint(path).tensors)
    resumed = fit(restore(Trainer(cfg, data=data), load_checkpoint(path)), 5)
    for key, v in straight.g.state_dict().items():
        assert torch.equal(v, resumed.g.state_dict()[key]), key
    assert straight.task.draws(0).pos == resumed.task.draws(0).pos
    random_cfg = replace(cfg, train=replace(cfg.train, sampler="random"))
    with pytest.raises(CheckpointError, match="train.sampler=epoch"):  # a random-sampler run cannot
        restore(Trainer(random_cfg, data=data), load_checkpoint(path))
