"""The generate task: real batches with their condition, conditions for fakes."""

import pytest
import torch

from ganforge.data.images import ImageData
from ganforge.data.toy import load_toy
from ganforge.errors import ConfigError
from ganforge.tasks import TASKS, GenerateTask


def _labelled():
    x = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    return ImageData("t", "ten", x, torch.arange(10) % 3)


def test_unconditional_task_gives_no_condition():
    task = TASKS.get("generate")(load_toy("ring8"), False, torch.device("cpu"))
    x, c = task.real(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 2) and c is None and task.condition(16, torch.Generator()) is None


def test_conditional_task_draws_real_labels_and_uniform_fake_ones():
    task = GenerateTask(_labelled(), True, torch.device("cpu"))
    assert task.num_classes == 3
    x, c = task.real(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 4, 4) and float(x.min()) == -1 and c.dtype == torch.int64
    fake = task.condition(3000, torch.Generator().manual_seed(1))
    counts = torch.bincount(fake, minlength=3)
    assert counts.min() > 900  # uniform over the classes


def test_conditional_needs_labels():
    with pytest.raises(ConfigError, match="needs labelled data"):
        GenerateTask(load_toy("ring8"), True, torch.device("cpu"))


def test_class_names_come_from_the_data_when_it_names_every_class():
    from ganforge.data.images import FASHION_CLASSES

    x = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    fashion = ImageData("fashion-mnist", "ten", x, torch.arange(10), classes=FASHION_CLASSES)
    assert GenerateTask(fashion, True, torch.device("cpu")).class_names == tuple(FASHION_CLASSES)
    assert GenerateTask(fashion, False, torch.device("cpu")).class_names == ()  # unconditional
    assert GenerateTask(_labelled(), True, torch.device("cpu")).class_names == ()  # unnamed classes
