"""What every task's tests share."""

import pytest
import torch

from ganforge.training import Trainer, fit
from ganforge.training.state import load_checkpoint, restore, save_checkpoint


@pytest.fixture
def resumes_exactly(tmp_path):
    """check(cfg, data, k, n): a run stopped at step k and resumed to n equals one run straight to n
    (G's and D's weights and buffers, every RNG state); returns (the straight trainer, the step-k
    checkpoint's path) for the test's own further checks."""

    def check(cfg, data, k, n):
        straight = fit(Trainer(cfg, data=data), n)
        path = save_checkpoint(fit(Trainer(cfg, data=data), k), tmp_path / "k.safetensors")
        resumed = fit(restore(Trainer(cfg, data=data), load_checkpoint(path)), n)
        for name, a, b in (("g", straight.g, resumed.g), ("d", straight.d, resumed.d)):
            sa, sb = a.state_dict(), b.state_dict()
            for key in sa:
                assert torch.equal(sa[key], sb[key]), f"{name}.{key}"
        for role in straight.rng:
            assert torch.equal(straight.rng[role].get_state(), resumed.rng[role].get_state()), role
        return straight, path

    return check
