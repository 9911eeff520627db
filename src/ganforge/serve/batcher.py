"""Micro-batching: requests that arrive together share one forward pass.

Each request brings its own inputs (z and classes drawn from its own seed); the batcher only
concatenates them, runs G once in a worker thread and splits the output back. So a request's
samples are the ones `g.sample(n, seed, ...)` gives alone (G is in eval mode: batch norm reads its
running statistics, no sample sees another). The first request of a batch waits at most
`max_wait` for company; a batch holds at most `max_batch` samples; at most `max_queue` requests
wait, and the next one is refused (`Busy`) rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

Forward = Callable[[torch.Tensor, "torch.Tensor | None"], np.ndarray]


class Busy(Exception):
    """The queue is full: the client should retry later (HTTP 503)."""


@dataclass
class _Job:
    z: torch.Tensor
    y: torch.Tensor | None
    done: asyncio.Future[np.ndarray]


class MicroBatcher:
    """Collects jobs from the event loop and runs them in batches, one forward pass at a time."""

    def __init__(self, forward: Forward, max_batch: int, max_wait_s: float, max_queue: int,
                 on_batch: Callable[[int, int], None] | None = None) -> None:
        self.forward = forward
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-forward")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None

    def _ensure_started(self) -> asyncio.Queue[_Job]:
        """Started on the running loop at first use (and again on a new loop: test clients)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue(self.max_queue)
            self._task = loop.create_task(self._run(self._queue))
        assert self._queue is not None
        return self._queue

    async def submit(self, z: torch.Tensor, y: torch.Tensor | None) -> np.ndarray:
        """G(z, y) for one request, computed in a batch with whatever else is waiting."""
        queue = self._ensure_started()
        job = _Job(z, y, asyncio.get_running_loop().create_future())
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Busy(f"{self.max_queue} requests are waiting already") from None
        return await job.done

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        loop = asyncio.get_running_loop()
        carry: _Job | None = None
        while True:
            first = carry if carry is not None else await queue.get()
            carry = None
            jobs, rows = [first], len(first.z)
            deadline = time.monotonic() + self.max_wait_s
            while rows < self.max_batch:
                try:
                    job = queue.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(queue.get(), left)
                    except asyncio.TimeoutError:
                        break
                if rows + len(job.z) > self.max_batch:
                    carry = job  # the next batch starts with it
                    break
                jobs.append(job)
                rows += len(job.z)
            jobs = [j for j in jobs if not j.done.done()]  # clients that gave up
            if not jobs:
                continue
            z = torch.cat([j.z for j in jobs])
            y = None if jobs[0].y is None else torch.cat([j.y for j in jobs])  # type: ignore[misc]
            try:
                out = await loop.run_in_executor(self.executor, self.forward, z, y)
            except Exception as e:  # handed to each waiting request, which answers for itself
                for j in jobs:
                    if not j.done.done():
                        j.done.set_exception(e)
                continue
            if self.on_batch is not None:
                self.on_batch(rows, len(jobs))
            start = 0
            for j in jobs:
                part = out[start:start + len(j.z)]
                start += len(j.z)
                if not j.done.done():
                    j.done.set_result(part)

    def close(self) -> None:
        """Stop collecting (the server is shutting down); the forward thread is reused if the app
        is served again."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
