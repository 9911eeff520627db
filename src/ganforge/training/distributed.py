"""torch.distributed for ganforge: one job over several processes started by torchrun.

Under `torchrun --nproc-per-node N -m ganforge train ...` every process reads RANK, WORLD_SIZE and
LOCAL_RANK from its environment, joins one process group (gloo on the CPU, nccl on CUDA, chosen
from the run's device; one device per rank: cuda:LOCAL_RANK) and trains its share of the global
batch; G and D are wrapped in DistributedDataParallel by the trainer. Everything here is PyTorch's
own machinery: the launcher is torch.distributed's elastic launch, the collectives are c10d's.

How the data is split, and why it is exact: every rank holds the same seeded generators and draws
the *global* batch (the draws of a one-process run), then keeps its own rows (`World.rows`). So a
run on N processes sees exactly the samples a run on one process sees, split N ways: no two ranks
share a sample, and the generator states in a checkpoint belong to the global draw, so a
checkpoint from N processes resumes exactly on M. Per-sample randomness drawn inside a step (the
gradient penalty's mixing weights, DiffAugment) comes from a per-rank stream forked off the shared
generator each call (`World.fork`): independent across ranks, one checkpointed state.

A process that is not started by torchrun (or a world of one) gets `SOLO`: no process group, and
the trainer's single-process path is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError, GanforgeError


class DistributedError(GanforgeError):
    """Another process of the job crashed, hung past train.dist_timeout, or could not be reached."""


@dataclass(frozen=True)
class World:
    """This process's place in the job: rank (0 writes everything), size, LOCAL_RANK (its GPU)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes config, logs, samples, checkpoints and reports."""
        return self.rank == 0

    def local_batch(self, global_batch: int) -> int:
        """This rank's share of `train.batch_size` (the global batch); refuses an uneven split."""
        if global_batch % self.size:
            raise ConfigError(f"train.batch_size ({global_batch}) must be a multiple of the number "
                              f"of processes ({self.size}): it is the global batch, split evenly")
        return global_batch // self.size

    def rows(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """This rank's rows of a tensor drawn for the global batch (see the module's docstring)."""
        if t is None or self.size == 1:
            return t
        n = len(t) // self.size
        return t[self.rank * n:(self.rank + 1) * n]

    def fork(self, gen: torch.Generator) -> torch.Generator:
        """A per-rank stream for per-sample draws: each call takes `size` seeds from the shared
        generator (so its state stays the same on every rank) and seeds a fresh generator with
        this rank's. One process: `gen` itself (the single-process numbers are unchanged)."""
        if self.size == 1:
            return gen
        seeds = torch.randint(2**62, (self.size,), generator=gen, device=gen.device)
        return torch.Generator(device=gen.device).manual_seed(int(seeds[self.rank]))

    def mean(self, stats: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each statistic (one all-reduce): what is logged and what the
        divergence check sees, so every rank stops on the same step."""
        if self.size == 1:
            return stats
        keys = sorted(stats)
        t = torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64, device=_comm_device())
        _collective(dist.all_reduce, t)
        return {k: float(v) / self.size for k, v in zip(keys, t.tolist(), strict=True)}

    def agree(self, code: int) -> int:
        """The largest of every rank's `code` (0 = go on): one rank's stop (Ctrl-C, a health
        verdict) becomes every rank's at the same step, so no rank waits for a step never taken."""
        if self.size == 1:
            return code
        t = torch.tensor([code], dtype=torch.int64, device=_comm_device())
        _collective(dist.all_reduce, t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def barrier(self) -> None:
        if self.size > 1:
            _collective(dist.barrier)

    def first(self, what: str, fn: Callable[[], object]) -> None:
        """Rank 0 runs `fn` (a side effect: preparing the run directory); its GanforgeError, if
        any, is raised on every rank with the same message, so all ranks stop cleanly together."""
        if self.size == 1:
            fn()
            return
        err = [""]
        if self.main:
            try:
                fn()
            except GanforgeError as e:
                err[0] = str(e) or type(e).__name__
        _collective(dist.broadcast_object_list, err, src=0)
        if err[0]:
            raise GanforgeError(err[0] if self.main else f"{what} failed on rank 0: {err[0]}")


SOLO = World()

_TIMEOUT_S = [600.0]  # the process group's timeout, for messages


def _comm_device() -> torch.device:
    """Where collectives' small tensors live: nccl needs them on the rank's GPU, gloo on the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _collective(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)
    except RuntimeError as e:
        raise lost_contact(e) from None


def lost_contact(e: BaseException) -> DistributedError:
    """The one-line error a rank prints when a collective fails: another rank died or hung."""
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
    return DistributedError(
        f"rank {dist.get_rank() if dist.is_initialized() else '?'}: lost the other processes of the "
        f"job (a rank crashed, or hung longer than train.dist_timeout={_TIMEOUT_S[0]:g}s): {first[:200]}")


def is_comm_failure(e: BaseException) -> bool:
    """Whether an error raised inside training (DDP's gradient all-reduce runs in backward) is a
    failed collective rather than a bug: c10d's error classes, or gloo's / nccl's messages."""
    if isinstance(e, dist.DistError):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and any(
        s in text for s in ("gloo", "Gloo", "NCCL", "Connection closed", "Connection reset",
                            "Timed out", "timed out", "Broken pipe", "ProcessGroup"))


def from_env() -> World:
    """The world torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK; SOLO when not under it."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return SOLO
    try:
        world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                      int(os.environ.get("LOCAL_RANK", "0")))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    return world if world.size > 1 else SOLO


def rank_device(device: torch.device, world: World, asked: str) -> torch.device:
    """One device per rank: CUDA runs use cuda:LOCAL_RANK; the CPU is shared. `asked` is what the
    user named (a fixed index such as cuda:1 cannot hold every rank of a job)."""
    if world.size == 1 or device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ConfigError(f"distributed training runs on the CPU (gloo) or CUDA (nccl), not {device.type}")
    if ":" in asked:
        raise ConfigError(f"--device {asked}: under torchrun each rank uses cuda:LOCAL_RANK; name "
                          "the kind only (cuda) and choose GPUs with CUDA_VISIBLE_DEVICES")
    if world.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"LOCAL_RANK {world.local_rank} has no GPU: {torch.cuda.device_count()} "
                          "here; start at most that many processes per node")
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


@contextmanager
def session(world: World, device: torch.device, timeout_s: float) -> Iterator[World]:
    """Join the job's process group for the body (none for SOLO), then leave it. Backend from the
    device: nccl for CUDA, gloo for the CPU. `timeout_s` bounds every wait on another rank, so a
    crashed or hung rank turns into an error on the others instead of a hang."""
    if world.size == 1:
        yield world
        return
    _TIMEOUT_S[0] = timeout_s
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s),
                                device_id=device if device.type == "cuda" else None)
    except (RuntimeError, ValueError) as e:
        raise DistributedError(f"could not join the job's process group ({backend}): "
                               f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    try:
        yield world
        # leave together: a rank tearing gloo down while another still talks to it (rank 0 writing
        # the last checkpoint) aborted with "terminate called without an active exception"
        world.barrier()
    finally:
        dist.destroy_process_group()


def wrap(module: nn.Module, device: torch.device, world: World, find_unused: bool = False) -> nn.Module:
    """DistributedDataParallel around `module` (gradients averaged over ranks in backward); the
    module itself for one process. Buffers (batch-norm statistics) are broadcast from rank 0 at
    each forward, DDP's default. `find_unused`: some parameters take no part in a forward pass
    (growing nets' later levels), so DDP must not wait for their gradients."""
    if world.size == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def sync_batch_norm(module: nn.Module, device: torch.device, world: World) -> nn.Module:
    """train.sync_bn: batch-norm statistics over the global batch (SyncBatchNorm, CUDA only)."""
    if world.size == 1:
        return module
    if device.type != "cuda":
        raise ConfigError("train.sync_bn needs CUDA (PyTorch's SyncBatchNorm has no CPU kernel)")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
