"""A run over several worker processes (``workers=N``) against the real sim over HTTP.

Behaviour only, never speed: the shards add up to the single-process run (counts, run
indices, the one arrival schedule), records merge onto one clock in completion order,
phases stay in step, every worker reports its overhead and clock offset, and however the
run ends (done, job cancel, Ctrl-C) no worker process is left.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec, arun, plan
from llmbench_jupyter.core.workload import workers as workers_mod
from llmbench_jupyter.core.workload.shard import arrival_offsets_ns, deal_arrivals, split_streams
from llmbench_jupyter.sim import SimServer

MODEL = "sim:ttft=5,itl=1,out=12,jitter=0.1"


def _worker_pids() -> set[int]:
    """This process's worker processes (spawn_main; not the resource tracker)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


def _completed_ms(r: RequestRecord) -> float:
    assert r.send_mono_ns is not None and r.e2e_ms is not None
    origin = r.send_mono_ns / 1e6 - (r.send_lag_ms or 0.0 if r.time_origin == "intended" else 0)
    return origin + r.e2e_ms


def test_split_rules_cover_the_run_exactly() -> None:
    assert split_streams(7, 2) == [4, 3] and split_streams(64, 4) == [16] * 4
    offsets = list(range(0, 11_000, 1000))
    dealt = deal_arrivals(offsets, 3)
    assert [i for i, _ in dealt[1]] == [1, 4, 7, 10]
    assert sorted(x for part in dealt for x in part) == list(enumerate(offsets))


def test_closed_loop_over_two_workers_adds_up_to_the_single_process_run(sim: SimServer) -> None:
    target = adhoc(sim.base_url, MODEL)
    spec = BenchSpec(
        targets=[target], runs=13, warmup=3, concurrency=5, context_tiers=[0, 200], workers=2
    )
    sunk: list[RequestRecord] = []
    finished: list[tuple[str, Any]] = []
    started: list[int] = []

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.append((status, overhead))

    before = time.perf_counter_ns()
    result = asyncio.run(
        arun(spec, sink=sunk.append, owner="w", on_start=started.append, on_finish=on_finish)
    )
    after = time.perf_counter_ns()
    assert result.status == "done" and [s for s, _ in finished] == ["done"]
    assert started == [2 * (13 + 3)] and len(result.records) == 32 == len(sunk)
    assert {r.request_id for r in sunk} == {r.request_id for r in result.records}
    assert len({r.run_id for r in result.records}) == 1 and result.ok_count == 26
    for tier in (0, 200):
        for warm, n in ((True, 3), (False, 13)):
            got = [
                r.run_index
                for r in result.records
                if r.context_tier == tier and r.is_warmup == warm
            ]
            assert sorted(got) == list(range(n)), (tier, warm)
    # one clock: every send stamp falls inside this process's own window of the run...
    assert all(before < (r.send_mono_ns or 0) < after for r in result.records)
    # ...the merged list is in completion order...
    ends = [_completed_ms(r) for r in result.records]
    assert ends == sorted(ends)
    # ...and phases stay in step: no tier-200 request starts before every tier-0 one ended
    last_tier0 = max(_completed_ms(r) for r in result.records if r.context_tier == 0)
    first_tier200 = min(r.send_mono_ns or 0 for r in result.records if r.context_tier == 200)
    assert first_tier200 / 1e6 >= last_tier0 - 0.01
    # every response really came from the endpoint
    assert all(sim.send_log(r.response_id or "") is not None for r in result.records)


def test_every_worker_reports_overhead_and_its_measured_clock_offset(sim: SimServer) -> None:
    spec = BenchSpec(targets=[adhoc(sim.base_url, MODEL)], runs=6, warmup=0, concurrency=3,
                     workers=3)  # fmt: skip
    result = asyncio.run(arun(spec))
    o = result.overhead
    assert o["workers"]["count"] == 3 and o["workers"]["reason"] == "requested"
    per = o["workers"]["per_worker"]
    assert [w["worker"] for w in per] == [0, 1, 2]
    for w in per:
        assert w["client_cpu_share"] >= 0 and w["loop_lag_ms"]["n"] > 0
        assert isinstance(w["client_bound"], bool)
        clock = w["clock"]
        assert clock["round_trip_ns"] > 0 and clock["error_bound_ns"] == clock["round_trip_ns"] // 2
        # CLOCK_MONOTONIC is one clock on Linux: the offset is noise within its bound
        assert clock["applied"] is False and abs(clock["offset_ns"]) <= clock["error_bound_ns"]
    assert o["client_cpu_share"] == max(w["client_cpu_share"] for w in per)
    assert o["client_bound"] == any(w["client_bound"] for w in per)
    assert o["clock"]["error_bound_ns_max"] == max(w["clock"]["error_bound_ns"] for w in per)
    assert _worker_pids() == set()


def test_open_loop_offers_exactly_the_one_seeded_schedule(sim: SimServer) -> None:
    target = adhoc(sim.base_url, MODEL)
    spec = BenchSpec(targets=[target], runs=30, warmup=2, rate=150.0, seed=7, workers=2)
    result = asyncio.run(arun(spec))
    measured = [r for r in result.records if not r.is_warmup]
    assert len(measured) == 30 and result.ok_count == 30
    phase = plan(spec)[0][0]
    expected = arrival_offsets_ns(7, phase, 30, 150.0)
    got = {r.run_index: r.scheduled_ms for r in measured}
    assert sorted(got) == list(range(30))
    # every arrival fired at its own slot of the one schedule (offset from the common start)
    for i, offset in enumerate(expected):
        assert got[i] == pytest.approx(offset / 1e6, abs=1e-6)
    assert all(r.time_origin == "intended" and r.rate_rps == 150.0 for r in measured)
    # the same schedule a single process offers with that seed
    single = asyncio.run(arun(BenchSpec(targets=[target], runs=30, warmup=0, rate=150.0,
                                        seed=7, workers=1)))  # fmt: skip
    assert sorted(r.scheduled_ms for r in single.records) == sorted(got.values())


def test_cancelling_mid_run_stops_every_worker(sim: SimServer) -> None:
    spec = BenchSpec(targets=[adhoc(sim.base_url, "sim:ttft=3000,out=4,jitter=0")], runs=8,
                     warmup=0, concurrency=4, workers=2)  # fmt: skip
    finished: list[str] = []
    seen: set[int] = set()

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.append(status)

    async def main() -> None:
        first = sim._requests
        task = asyncio.create_task(arun(spec, on_finish=on_finish))
        for _ in range(1200):  # until both workers are up and requests are in flight
            await asyncio.sleep(0.05)
            seen.update(_worker_pids())
            if len(seen) >= 2 and sim._requests - first >= 4:
                break
        assert sim._requests - first >= 4 and not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(seen) >= 2
    assert finished == ["cancelled"]
    assert not [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert _worker_pids() == set()


def test_ctrl_c_on_the_cli_leaves_no_worker_process(sim: SimServer, tmp_path: Path) -> None:
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbench_jupyter", "bench", "--api-base", sim.base_url,
         "--model", "sim:ttft=5000,out=4,jitter=0", "--runs", "4", "--warmup", "0",
         "--concurrency", "2", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    cli = psutil.Process(proc.pid)
    workers: set[int] = set()
    deadline = time.monotonic() + 90
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = {
            c.pid for c in cli.children(recursive=True)
            if any("spawn_main" in part for part in _cmdline(c))
        }  # fmt: skip
    assert len(workers) == 2, proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
    time.sleep(2.0)  # the run has started: requests in flight
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    alive = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def test_workers_beyond_the_streams_are_refused_with_the_reason() -> None:
    target = adhoc("http://127.0.0.1:9/v1", MODEL)
    with pytest.raises(
        LLMBenchError, match=r"workers: found 4, expected at most concurrency \(2\)"
    ):
        BenchSpec(targets=[target], concurrency=2, workers=4).validate()
    with pytest.raises(LLMBenchError, match="workers: found 0"):
        BenchSpec(targets=[target], workers=0).validate()
    BenchSpec(targets=[target], rate=10.0, workers=4).validate()  # open loop, no cap: fine


def test_automatic_workers_keep_small_runs_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = adhoc("http://127.0.0.1:9/v1", MODEL)
    monkeypatch.setattr(workers_mod, "free_cores", lambda: 2)
    assert workers_mod.resolve_workers(BenchSpec(targets=[target], concurrency=8))[0] == 1
    assert workers_mod.resolve_workers(BenchSpec(targets=[target], rate=20.0, runs=100))[0] == 1
    count, why = workers_mod.resolve_workers(BenchSpec(targets=[target], concurrency=128, runs=500))
    assert count == 2 and "automatic" in why
    assert workers_mod.resolve_workers(BenchSpec(targets=[target], rate=400.0, runs=900))[0] == 2
    monkeypatch.setattr(workers_mod, "free_cores", lambda: 1)  # a busy machine: one process
    assert (
        workers_mod.resolve_workers(BenchSpec(targets=[target], concurrency=128, runs=500))[0] == 1
    )
    monkeypatch.setattr(workers_mod, "free_cores", lambda: 8)
    assert (
        workers_mod.resolve_workers(BenchSpec(targets=[target], concurrency=128, runs=500))[0] == 4
    )
    # never more workers than requests per phase
    assert workers_mod.resolve_workers(BenchSpec(targets=[target], concurrency=128, runs=3))[0] == 3
    assert workers_mod.resolve_workers(BenchSpec(targets=[target], workers=3, concurrency=4)) == (
        3, "requested",
    )  # fmt: skip
    assert math.isfinite(workers_mod.free_cores())


@pytest.mark.parametrize(
    "model",
    [
        "sim:ttft=0,itl=0,out=300,batch=64,jitter=0",  # all due at once: whole batches
        "sim:ttft=0,itl=0,out=300,batch=64,jitter=0,role=0",  # the role on the first chunk
        "sim:ttft=0,itl=0.001,out=300,batch=64,jitter=0",  # a schedule: chunks as they fall due
    ],
)
def test_sim_batch_writes_due_chunks_together_and_logs_each(sim: SimServer, model: str) -> None:
    """``batch=N`` (the throughput benchmark's cheap server): every chunk still arrives and
    is logged; chunks share the stamp of the write that carried them, taken before it."""
    spec = BenchSpec(targets=[adhoc(sim.base_url, model)],
                     runs=2, warmup=0, max_tokens=400, workers=1)  # fmt: skip
    result = asyncio.run(arun(spec))
    for r in result.records:
        assert r.status == "ok" and r.n_chunks == 300 and r.output_tokens == 300
        log = sim.send_log(r.response_id or "")
        assert log is not None
        content = [c for c in log["chunks"] if c["kind"] == "answer"]
        assert len(content) == 300 and sum(c["tokens"] for c in content) == 300
        stamps = sorted({c["sent_ns"] for c in content})
        assert len(stamps) <= 300 // 8  # batches, not one write per chunk
        assert r.send_mono_ns is not None and r.ttft_ms is not None
        assert r.send_mono_ns + r.ttft_ms * 1e6 >= content[0]["sent_ns"] - 1000
