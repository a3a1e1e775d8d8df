"""``batch=N`` scenarios: chunks already due are written together, N per write.

A throughput benchmark must measure the client, so the server has to cost far less per
chunk than any client. One write per N chunks saves the syscalls; rendering an OpenAI
chunk once per response (filler words repeat) and, when every chunk is due at once
(``itl=0``), handling a whole batch in a few list operations saves the Python.

Each chunk is still logged, with the stamp of the write that carried it, taken just
before that write, so the send log stays the ground truth a timing test compares with.
"""

from __future__ import annotations

import asyncio
from array import array
from itertools import islice
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.sim.anthropic_wire import AnthropicStream
from llmbench_jupyter.sim.openai_wire import OpenAIStream, content_delta
from llmbench_jupyter.sim.plan import Plan, Schedule
from llmbench_jupyter.sim.scenarios import Fault, Scenario
from llmbench_jupyter.sim.sendlog import KIND_CODE, LogEntry

LOG_KIND = {
    "reasoning": KIND_CODE["reasoning"],
    "answer": KIND_CODE["answer"],
    "tool_start": KIND_CODE["tool"],
    "tool_args": KIND_CODE["tool"],
}
_LEAD_NS = 500_000  # as sim.engine: the loop's timer wakes up to 1 ms late


class Batch:
    """Chunks gathered for one write (any schedule, any wire)."""

    __slots__ = ("cache", "count", "entry", "parts", "write")

    def __init__(self, entry: LogEntry, write: Any) -> None:
        self.entry = entry
        self.write = write
        self.parts: list[bytes] = []
        self.count = 0
        self.cache: dict[Any, bytes] = {}  # OpenAI chunk bytes by piece, for this response

    def add(self, fmt: AnthropicStream | OpenAIStream, piece: Any, planned_ns: int) -> None:
        data = self.cache.get(piece)
        if data is None:
            cacheable = isinstance(fmt, OpenAIStream) and not fmt.pending_role
            pre, data = fmt.piece(piece)
            if pre:
                self.parts.extend(pre)
            elif cacheable:
                self.cache[piece] = data
        self.parts.append(data)
        entry = self.entry
        entry.kinds.append(LOG_KIND[piece[0]])
        entry.tokens.append(piece[1])
        entry.sent.append(0)  # the write's stamp, set by flush
        entry.planned.append(planned_ns)
        self.count += 1

    async def flush(self) -> None:
        if not self.parts:
            return
        sent = self.entry.sent
        now = perf_counter_ns()
        for i in range(len(sent) - self.count, len(sent)):
            sent[i] = now
        data = b"".join(self.parts)
        self.parts.clear()
        self.count = 0
        await self.write(data)
        await asyncio.sleep(0)  # let other streams run between batches


def can_burst(scenario: Scenario, fault: Fault | None) -> bool:
    """Every chunk due at once (no gap, no fault): :func:`burst` (OpenAI wire only)."""
    return scenario.itl_ms == 0 and fault is None


async def burst(
    plan: Plan, fmt: OpenAIStream, entry: LogEntry, sched: Schedule, write: Any, limit: int
) -> None:
    """Send every content chunk at the first one's time, ``limit`` chunks per write."""
    first = sched.target(0)  # with itl=0 every target is the first one's
    delay = first - perf_counter_ns() - _LEAD_NS
    if delay > 0:
        await asyncio.sleep(delay / 1e9)
    planned = first - sched.arrived_ns
    if plan.filler_only and not fmt.pending_role:
        await _burst_filler(plan, fmt, entry, planned, write, limit)
        return
    pieces = plan.pieces()
    cache: dict[Any, bytes] = {}
    get = cache.get
    if fmt.pending_role:  # the first chunk carries the role: render it alone
        head = next(pieces, None)
        if head is None:
            return
        _, data = fmt.piece(head)
        entry.add(LOG_KIND[head[0]], head[1], perf_counter_ns(), planned)
        await write(data)
    while True:
        group = list(islice(pieces, limit))
        if not group:
            return
        parts: list[bytes] = []
        for piece in group:
            cached = get(piece)
            if cached is None:
                cached = cache[piece] = fmt.piece(piece)[1]
            parts.append(cached)
        entry.add_group(bytes(LOG_KIND[p[0]] for p in group), array("i", [p[1] for p in group]),
                        array("q", [planned]) * len(group))  # fmt: skip
        await write(b"".join(parts))
        await asyncio.sleep(0)  # let other streams run between batches


#: Content delta bytes by filler word, for every response (the words are a fixed list).
_FILLER_DELTAS: dict[str, bytes] = {}


async def _burst_filler(
    plan: Plan, fmt: OpenAIStream, entry: LogEntry, planned: int, write: Any, limit: int
) -> None:
    """:func:`burst` for a plan of filler words only, with no Python step per chunk: a
    write of chunks is ``head + (tail + head).join(deltas) + tail``, each word's delta
    rendered once per process, and its log entries added by array ``extend``. The
    throughput benchmark needs the server far cheaper per chunk than the client it
    measures, on the same cores."""
    head, tail = fmt.frame()
    between = tail + head
    deltas = _FILLER_DELTAS
    # a whole write's log entries, ready to copy: arrays extend from arrays by memcpy
    kinds_n = bytes((LOG_KIND["answer"],)) * limit
    ones_n = array("i", [1]) * limit
    planned_n = array("q", [planned]) * limit
    for words in plan.filler_lists():
        for word in set(words).difference(deltas):
            deltas[word] = content_delta(word)
        parts = list(map(deltas.__getitem__, words))
        for start in range(0, len(parts), limit):
            group = parts[start : start + limit]
            n = len(group)
            entry.add_group(kinds_n[:n], ones_n[:n], planned_n[:n])
            await write(head + between.join(group) + tail)
            await asyncio.sleep(0)  # let other streams run between batches
