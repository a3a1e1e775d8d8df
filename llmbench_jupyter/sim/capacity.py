"""The simulated server's capacity: a fixed number of decode slots per model, FIFO beyond them.

A real inference server batches a bounded number of sequences; a request that finds every
slot busy waits in the scheduler's queue, and that wait is part of its TTFT. A scenario
with ``slots=N`` (``sim:slots=16,ttft=50,itl=10,out=16``) behaves so: a request holds one
of its model's N slots from the moment it is admitted until its last byte is written, and
requests that find none free wait in arrival order. TTFT and every chunk count from
admission (the scenario's timings are service times), while the send log keeps the
request's true arrival and true send times, so the ground truth includes the queueing.

With every slot held for ``service_ms`` (:func:`service_ms`: TTFT + prefill + one ITL per
chunk after the first), the server completes at most ``slots / service_ms`` requests per
millisecond: :func:`capacity_rps` is that knee. Below it the queue stays short (waits of
an M/D/c queue); above it the backlog, and so TTFT, grows for as long as the load lasts.
Nothing here is random: with ``jitter=0`` the service time is exact, and with jitter the
per-request seeded RNG of the server decides it, so a run is reproducible from its seed.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from llmbench_jupyter.sim.scenarios import Scenario


class SlotPool:
    """``slots`` permits handed out strictly first come, first served."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted as the client left: hand the slot on
            else:
                self._waiters.remove(fut)
            raise

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes straight to the next in line
                return
        self.free += 1


def chunks(scenario: Scenario, max_tokens: int | None = None) -> int:
    """Content chunks of a plain (rule-free) response: reasoning then answer tokens."""
    budget = max_tokens if max_tokens is not None else math.inf
    reasoning = min(scenario.reasoning_tokens, budget)
    answer = min(scenario.output_tokens, budget - reasoning)
    tpc = scenario.tokens_per_chunk
    return int(math.ceil(reasoning / tpc) + math.ceil(answer / tpc))


def service_ms(scenario: Scenario, max_tokens: int | None = None, prompt_tokens: int = 0) -> float:
    """How long one request holds its slot: TTFT + prefill + ITL per chunk after the first."""
    n = chunks(scenario, max_tokens)
    prefill = scenario.prefill_ms_per_1k_tokens * prompt_tokens / 1000
    return scenario.ttft_ms + prefill + max(n - 1, 0) * scenario.itl_ms


def capacity_rps(
    scenario: Scenario, max_tokens: int | None = None, prompt_tokens: int = 0
) -> float | None:
    """The knee: the highest request rate the model sustains (None: no slot limit)."""
    if not scenario.slots:
        return None
    service = service_ms(scenario, max_tokens, prompt_tokens)
    return math.inf if service <= 0 else scenario.slots * 1000.0 / service
