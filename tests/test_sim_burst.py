"""The zero-delay burst of filler words (the throughput benchmark's server) sends the very
bytes, and logs the very chunks, that the general path sends for the same plan."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from llmbench_jupyter.sim.batched import burst
from llmbench_jupyter.sim.openai_wire import OpenAIStream
from llmbench_jupyter.sim.plan import Plan, Schedule
from llmbench_jupyter.sim.scenarios import parse_model_spec
from llmbench_jupyter.sim.sendlog import LogEntry


def _plan(spec: str, seed: int = 7) -> Plan:
    return Plan(parse_model_spec(spec), None, random.Random(seed), max_tokens=None)


def _burst(spec: str, limit: int) -> tuple[list[bytes], LogEntry]:
    plan = _plan(spec)
    scenario = parse_model_spec(spec)
    fmt = OpenAIStream("chatcmpl-x", "m", 1, [])
    entry = LogEntry("chatcmpl-x", "m", time.perf_counter_ns())
    sched = Schedule(scenario, entry.arrived_ns, 0, random.Random(0))
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)

    asyncio.run(burst(plan, fmt, entry, sched, write, limit))
    return writes, entry


@pytest.mark.parametrize("out,limit", [(600, 64), (300, 100), (5, 64), (0, 64)])
def test_a_filler_burst_sends_and_logs_what_the_general_path_would(out: int, limit: int) -> None:
    spec = f"sim:ttft=0,itl=0,out={out},jitter=0,batch={limit}"
    assert _plan(spec).filler_only
    writes, entry = _burst(spec, limit)
    fmt = OpenAIStream("chatcmpl-x", "m", 1, [])
    expected = b"".join(fmt.piece(p)[1] for p in _plan(spec).pieces())
    assert b"".join(writes) == expected
    assert all(w.count(b"data: ") <= limit for w in writes)
    assert len(writes) >= -(-out // limit)
    assert len(entry.kinds) == len(entry.tokens) == len(entry.sent) == out
    assert list(entry.tokens) == [1] * out and len(set(entry.kinds)) <= 1
    # every chunk of a write has that write's stamp, taken before it; stamps never go back
    assert list(entry.sent) == sorted(entry.sent)
    assert len(set(entry.sent)) <= len(writes)


def test_plans_with_more_than_filler_take_the_general_path() -> None:
    for spec in (
        "sim:ttft=0,itl=0,out=50,jitter=0,batch=64,reason=20",
        "sim:ttft=0,itl=0,out=50,jitter=0,batch=64,tpc=3",
        "sim:ttft=0,itl=0,out=50,jitter=0",  # no batch: words are drawn one by one
    ):
        assert not _plan(spec).filler_only, spec
