"""The core engine on its own: records go to the sink it is given, and nothing else.

`core.workload.arun` never opens a store or starts a simulator (that is `jobs.bench_run`);
these tests drive it directly over real HTTP against the simulated endpoint.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec, WorkloadResult, arun
from llmbench_jupyter.sim import SimServer


def test_every_record_reaches_the_sink_and_the_run_reports_its_end(sim: SimServer) -> None:
    target = adhoc(sim.base_url, "sim:ttft=5,itl=1,out=8,jitter=0")
    spec = BenchSpec(targets=[target], runs=3, warmup=1, concurrency=2)
    sunk: list[RequestRecord] = []
    started: list[int] = []
    finished: list[tuple[str, Any]] = []

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.append((status, overhead))

    result = asyncio.run(
        arun(spec, sink=sunk.append, owner="tester", on_start=started.append, on_finish=on_finish)
    )
    assert isinstance(result, WorkloadResult)
    assert started == [4]
    assert [r.request_id for r in sunk] == [r.request_id for r in result.records]
    assert len(sunk) == 4 and sum(r.is_warmup for r in sunk) == 1
    assert all(r.status == "ok" and r.owner == "tester" for r in sunk)
    assert len({r.run_id for r in sunk}) == 1  # one id ties the records together...
    assert result.run_id is None  # ...but nothing was stored, so the result has no run id
    assert [s for s, _ in finished] == ["done"] and result.status == "done"
    assert finished[0][1] is result.overhead and "client_bound" in result.overhead
    assert result.spec["plan"]["phases"] == [
        {"provider": target.provider, "model": target.model, "context_tier": 0}
    ]


def test_a_cancelled_run_still_reports_its_end(sim: SimServer) -> None:
    target = adhoc(sim.base_url, "sim:ttft=2000,out=4,jitter=0")
    finished: list[str] = []

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.append(status)

    async def main() -> None:
        task = asyncio.create_task(
            arun(BenchSpec(targets=[target], runs=2, warmup=0), on_finish=on_finish)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert finished == ["cancelled"]


def test_the_engine_loads_no_store_simulator_or_jupyter_code() -> None:
    code = (
        "import sys, json; import llmbench_jupyter.core.workload as w; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    for absent in (
        "sqlalchemy",
        "llmbench_jupyter.store",
        "llmbench_jupyter.sim",
        "llmbench_jupyter.jobs",
        "llmbench_jupyter.analysis",
        "IPython",
    ):
        assert absent not in loaded, absent


def test_a_run_records_its_idle_loop_lag_and_the_reason_for_its_verdict(sim: SimServer) -> None:
    result = asyncio.run(
        arun(BenchSpec(targets=[adhoc(sim.base_url, "sim:ttft=1,itl=0,out=4")], runs=3, warmup=0))
    )
    over = result.overhead
    assert over["loop_lag_idle_ms"] is not None and over["loop_lag_idle_ms"] >= 0
    assert over["client_bound"] == (over["client_bound_reason"] is not None)
