"""The simulated server's capacity model (``slots=N``): FIFO queueing past N requests, over
real HTTP, checked against the send log (the server's own record of when it sent what)."""

from __future__ import annotations

import asyncio
import itertools
import math

import aiohttp
import pytest
from sim_client import openai_stream, run

from llmbench_jupyter.sim import ScenarioError, SimServer, parse_model_spec
from llmbench_jupyter.sim.capacity import SlotPool, capacity_rps, service_ms

# 2 slots, each request holds one for 30 + 2 * 10 = 50 ms
MODEL = "sim:slots=2,ttft=30,itl=10,out=3,jitter=0,role=0"
SERVICE_MS = 50.0


def test_knee_is_slots_over_service_time() -> None:
    sc = parse_model_spec("sim:slots=16,ttft=50,itl=10,out=16,jitter=0")
    assert service_ms(sc) == 50 + 15 * 10
    assert capacity_rps(sc) == pytest.approx(80.0)
    # tokens per chunk, reasoning and a max_tokens cap change the chunks, so the knee
    sc2 = parse_model_spec("sim:slots=4,ttft=20,itl=5,tpc=2,out=10,reason=4")
    assert service_ms(sc2) == 20 + (2 + 5 - 1) * 5
    assert service_ms(sc2, max_tokens=4) == 20 + 1 * 5
    assert capacity_rps(parse_model_spec("sim:ttft=50")) is None  # no slot limit


@pytest.mark.parametrize("bad", ["sim:slots=-1", "sim:slots=two"])
def test_bad_slots_are_refused_with_the_key_named(bad: str) -> None:
    with pytest.raises(ScenarioError, match="slots"):
        parse_model_spec(bad)


def test_requests_beyond_the_slots_wait_in_arrival_order() -> None:
    """6 requests at once on 2 slots: three waves, each one service time after the last."""

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> list[dict]:
        async def one() -> str:
            events = await openai_stream(srv, s, MODEL)
            return str(events[0][1]["id"])

        ids = await asyncio.gather(*(one() for _ in range(6)))
        stats = await (await s.get(srv.base_url.removesuffix("/v1") + "/sim/stats")).json()
        assert stats["slots"][MODEL] == {"slots": 2, "busy": 0, "queued": 0}
        return [srv.send_log(i) for i in ids]

    logs = sorted(run(body), key=lambda e: e["arrived_ns"])
    # planned time of the first content chunk, from the request's true arrival (ms)
    first = [next(c for c in e["chunks"] if c["kind"] == "answer") for e in logs]
    planned_ms = [c["planned_ns"] / 1e6 for c in first]
    for i, ms in enumerate(planned_ms):
        wave = i // 2
        # admission at the end of the previous wave's service: never earlier
        assert ms >= 30 + wave * SERVICE_MS - 2, (i, planned_ms)
    assert planned_ms[4] >= 30 + 2 * SERVICE_MS - 2 and planned_ms[5] >= planned_ms[4] - 2
    # the send log keeps true send times: each chunk written at or after its plan
    for e in logs:
        for c in e["chunks"]:
            if c["planned_ns"] >= 0:
                assert c["sent_ns"] - e["arrived_ns"] >= c["planned_ns"] - 1_000_000
    # FIFO: requests start in the order they arrived (admissions never overtake)
    starts = [e["arrived_ns"] + c["planned_ns"] for e, c in zip(logs, first, strict=True)]
    assert all(b >= a - 2_000_000 for a, b in itertools.pairwise(starts))


def test_a_client_leaving_the_queue_frees_its_place() -> None:
    """A request that times out while queued never takes a slot; later ones are served."""

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> int:
        model = "sim:slots=1,ttft=200,itl=0,out=1,jitter=0"
        url = srv.base_url + "/chat/completions"
        payload = {"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]}
        holder = asyncio.create_task(openai_stream(srv, s, model))
        await asyncio.sleep(0.05)
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=0.05)) as r:
                await r.read()
        await holder
        events = await openai_stream(srv, s, model)  # served: the slot was not lost
        return len(events)

    assert run(body) > 0


def test_slot_pool_hands_a_granted_slot_on_when_its_waiter_is_cancelled() -> None:
    async def main() -> tuple[int, int]:
        pool = SlotPool(1)
        await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        second = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0)
        pool.release()  # granted to `waiter`...
        waiter.cancel()  # ...which leaves at once: the slot must reach `second`
        await asyncio.sleep(0)
        await asyncio.wait_for(second, 1)
        return pool.free, pool.queued

    assert asyncio.run(main()) == (0, 0)
    assert capacity_rps(parse_model_spec("sim:slots=1,ttft=0,itl=0,out=1")) == math.inf
