"""`ganforge train ... --nproc N`: torchrun for a user who does not know it.

The processes are started, watched and stopped by PyTorch's elastic launcher (the engine behind
torchrun), never by a process manager of ours: each runs `python -m ganforge train ...` (the same
command without --nproc) with RANK / WORLD_SIZE / LOCAL_RANK set, rendezvous on 127.0.0.1 at a
free port. One process failing stops the others; the job's exit status is non-zero.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid

from .errors import ConfigError

MAX_NPROC = 256


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now (the rendezvous binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(nproc: int, argv: list[str], host: str = "127.0.0.1") -> int:
    """Run `ganforge <argv>` as one job of `nproc` processes on this machine; the exit status.
    With several processes on CPUs each gets cores / nproc threads unless OMP_NUM_THREADS is set."""
    if not 1 <= nproc <= MAX_NPROC:
        raise ConfigError(f"--nproc must be in 1..{MAX_NPROC}, got {nproc}")
    if "RANK" in os.environ:
        raise ConfigError("--nproc starts its own processes; under torchrun leave it out")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                       rdzv_backend="c10d", rdzv_endpoint=f"{host}:{free_port(host)}",
                       max_restarts=0, monitor_interval=0.5)
    try:
        elastic_launch(cfg, entrypoint=sys.executable)("-m", "ganforge", *argv)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        print(f"ganforge: error: the {nproc}-process job stopped: rank {rank} exited with status "
              f"{failure.exitcode} (its message is above)", file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 1
    return 0
