"""One job over several processes (training/distributed.py): 2 CPU processes (gloo, 127.0.0.1)
against one, resume across process counts, and a crashed or hung rank stopping the job.

The multi-process tests start real processes (`ganforge train --nproc 2`, i.e. PyTorch's elastic
launcher, or two plain processes with torchrun's environment variables) on a tiny MLP GAN."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge import config
from ganforge.cli import _without_nproc
from ganforge.errors import ConfigError
from ganforge.launch import free_port
from ganforge.tasks import Batch
from ganforge.training import Trainer, fit
from ganforge.training.distributed import SOLO, World, from_env, is_comm_failure
from ganforge.training.state import load_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src"
# float32 sums reduced in another order (DDP averages two half-batch gradients): a few ulps per step
TOL = 1e-6
TINY = """seed: 0
data: {name: grid25}
g: {width: 16, depth: 2}
d: {width: 16, depth: 2}
loss: {name: ns, penalty: r1, penalty_weight: 0.1}
train: {batch_size: 32, steps: 12, log_every: 3, plot_every: 0, ckpt_every: 6, threads: 1, ema: 0.9}
health: {enabled: false}
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", **extra)
    return env


def _ganforge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ganforge", *args], env=_env(), text=True,
                          capture_output=True, timeout=timeout)


def _max_diff(trainer: Trainer, run: Path) -> float:
    ck = load_checkpoint(run)
    worst = 0.0
    for prefix, net in (("g", trainer.g), ("d", trainer.d), ("g_ema", trainer.g_ema)):
        for k, v in net.state_dict().items():
            worst = max(worst, (v - ck.tensors[f"{prefix}.{k}"]).abs().max().item())
    return worst


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_two_processes_train_as_one_and_resume_on_one(tiny, tmp_path):
    """The same global batch and seed: 2 processes end where 1 does (the R1 penalty included,
    computed outside DDP in the same backward), rank 0 alone writes, and the 2-process checkpoint
    of step 6 resumes on 1 process to the same weights."""
    run = tmp_path / "two"
    r = _ganforge("train", str(tiny), "--out", str(run), "--quiet", "--no-plots", "--nproc", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("trained ") == 1  # rank 0 speaks for the job
    one = fit(Trainer(config.load(tiny)), 12)
    assert _max_diff(one, run) < TOL
    ck = load_checkpoint(run)
    assert ck.meta["world_size"] == "2" and ck.world_size == 2
    lines = [ln for ln in (run / "metrics.jsonl").read_text().splitlines() if ln]
    assert len(lines) == 4 and all('"world_size": 2' in ln for ln in lines)  # one writer

    from ganforge import runs

    resumed, _ = runs.resume(run / "checkpoints" / "step_0000006.safetensors", out=tmp_path / "on-one",
                             progress=False, plots=False)
    assert resumed.world.size == 1 and _max_diff(resumed, run) < TOL


def test_one_process_checkpoint_resumes_on_two(tiny, tmp_path):
    from ganforge import runs

    run = tmp_path / "one"
    runs.train(config.load(tiny), run, progress=False, plots=False, until=6)
    r = _ganforge("train", "--resume", str(run), "--quiet", "--no-plots", "--nproc", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert load_checkpoint(run).world_size == 2
    assert _max_diff(fit(Trainer(config.load(tiny)), 12), run) < TOL


def _two_ranks(tiny: Path, run: Path, timeout_s: int) -> list[subprocess.Popen[str]]:
    """Two processes of one job started with torchrun's variables (no agent to stop them)."""
    port = str(free_port())
    args = [sys.executable, "-m", "ganforge", "train", str(tiny), "--out", str(run), "--quiet",
            "--no-plots", "--set", "train.steps=1000000", "--set", "train.ckpt_every=5",
            "--set", f"train.dist_timeout={timeout_s}"]
    return [subprocess.Popen(args, env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2",
                                            MASTER_ADDR="127.0.0.1", MASTER_PORT=port),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for r in (0, 1)]


def _wait_for_checkpoint(run: Path, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 30
    while not list((run / "checkpoints").glob("step_*.safetensors")):
        assert all(p.poll() is None for p in procs), procs[0].communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint after 30 s"
        time.sleep(0.1)


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_a_crashed_or_hung_rank_stops_the_job_in_bounded_time(tiny, tmp_path, fault):
    """kill -9 of rank 1 (a crash), or SIGSTOP (a hang): rank 0 exits non-zero within
    train.dist_timeout (5 s, + slack) with one line saying so; the last checkpoint still loads."""
    run = tmp_path / "job"
    procs = _two_ranks(tiny, run, timeout_s=5)
    try:
        _wait_for_checkpoint(run, procs)
        os.kill(procs[1].pid, signal.SIGKILL if fault == "crash" else signal.SIGSTOP)
        t0 = time.monotonic()
        _, err = procs[0].communicate(timeout=15)
        took = time.monotonic() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert procs[0].returncode != 0 and took < 5 + 7, (took, err[-2000:])
    last = err.strip().splitlines()[-1]
    assert last.startswith("ganforge: error: rank 0: lost the other processes of the job"), err[-2000:]
    assert "train.dist_timeout=5s" in last
    assert load_checkpoint(run).step > 0


def test_malformed_torchrun_variables_get_one_line(tiny, tmp_path):
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", str(tiny), "--out", str(tmp_path / "r"),
                        "--quiet", "--no-plots"], env=_env(RANK="0", WORLD_SIZE="two"), text=True,
                       capture_output=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip() == ("ganforge: error: RANK, WORLD_SIZE and LOCAL_RANK must be integers "
                                "(set by torchrun)")


# --- in one process ------------------------------------------------------------------------------


def test_world_from_torchrun_variables(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert from_env() is SOLO
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert from_env() == World(3, 4, 1)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert from_env() is SOLO


def test_each_rank_keeps_its_rows_of_the_global_draw():
    x = torch.arange(12.0)
    parts = [World(r, 3).rows(x) for r in range(3)]
    assert torch.equal(torch.cat(parts), x)  # disjoint, and together the one-process batch
    assert World(1, 3).rows(None) is None and SOLO.rows(x) is x
    with pytest.raises(ConfigError, match="multiple of the number of processes"):
        World(0, 3).local_batch(32)


def test_forked_streams_differ_per_rank_and_keep_the_shared_state():
    gens = [torch.Generator().manual_seed(7) for _ in range(2)]
    draws = [torch.rand(1, generator=World(r, 2).fork(g)).item() for r, g in enumerate(gens)]
    assert draws[0] != draws[1]
    assert torch.equal(gens[0].get_state(), gens[1].get_state())
    g = torch.Generator()
    assert SOLO.fork(g) is g


def test_one_process_batches_are_untouched(tiny_cfg):
    t = Trainer(tiny_cfg())
    b = Batch(torch.zeros(4), None, torch.ones(4), None, None)
    assert t._rows(b) is b and t.local_batch == 64


def test_nproc_is_left_out_of_each_process_command():
    argv = ["train", "c.yaml", "--nproc", "2", "--out", "r", "--nproc=3"]
    assert _without_nproc(argv) == ["train", "c.yaml", "--out", "r"]


def test_failed_collectives_are_told_apart_from_bugs():
    assert is_comm_failure(RuntimeError("[gloo/transport/tcp/pair.cc:537] Connection reset by peer"))
    assert not is_comm_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


PROGRESSIVE = """seed: 0
data: {name: npz, path: PATH}
g: {arch: dcgan, width: 8, noise_dim: 8, batch_norm: false}
d: {arch: dcgan, width: 8}
loss: {name: ns}
train: {batch_size: 8, steps: 9, progressive: 3, progressive_batch: "16,8", log_every: 3, plot_every: 0,
        ckpt_every: 0, threads: 1, precision: fp32, ema: 0.9}
health: {enabled: false}
"""


def test_growing_nets_train_on_two_processes_as_on_one(tmp_path):
    """Levels not yet grown take no part in a forward pass: DDP runs with find_unused_parameters,
    and 2 processes (through a fade, with a batch per phase) end where 1 does."""
    import numpy as np

    images = tmp_path / "images.npz"
    np.savez(images, x=np.random.default_rng(0).integers(0, 256, (64, 16, 16), dtype=np.uint8))
    path = tmp_path / "prog.yaml"
    path.write_text(PROGRESSIVE.replace("PATH", str(images)))
    run = tmp_path / "two"
    r = _ganforge("train", str(path), "--out", str(run), "--quiet", "--no-plots", "--nproc", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    one = fit(Trainer(config.load(path)), 9)
    assert one.g.stage == 2 and _max_diff(one, run) < TOL
