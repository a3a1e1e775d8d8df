"""The coordinator of a multi-process run: how many workers, start them, align their
clocks, hold phase barriers, merge records, stop every one of them however the run ends.

One Python process saturates at a few tens of thousands of chunks a second; past that its
own queueing shows up as the endpoint's latency (the CLIENT-BOUND verdict). Workers are
spawned processes (``spawn``: safe from a notebook kernel, which holds threads a fork
would copy mid-state), each running the ordinary engine on its shard
(:mod:`.shard` states the split, :mod:`.worker_proc` the worker's side).

**Clock alignment.** Records are stamped with ``perf_counter_ns``. On Linux that is
CLOCK_MONOTONIC, one clock for every process on the host, so the offset between a worker
and the coordinator should be 0; it is measured anyway by a handshake (coordinator
stamp, worker stamp, coordinator stamp; offset = worker - midpoint, error bound = half
the round trip, best of :data:`PINGS`). An offset larger than its own error bound is
applied (a platform whose clock is per process); one within it is noise and is not.
Both figures per worker are stored with the run's overhead report (``clock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import wait as wait_ready
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord, new_id
from llmbench_jupyter.core.workload.result import WorkloadResult
from llmbench_jupyter.core.workload.shard import (
    Shard,
    arrival_offsets_ns,
    deal_arrivals,
    phase_key,
    split_streams,
)
from llmbench_jupyter.core.workload.spec import BenchSpec, describe_run, plan

#: Clock handshakes per worker; the one with the shortest round trip is kept.
PINGS = 7
#: A phase's common start is this far after the last worker reached its barrier, so every
#: worker has the start instant before it comes.
START_LEAD_NS = 20_000_000
#: Streams (closed loop) or arrivals per second (open loop) per worker in automatic mode:
#: one process here turns client-bound at 64-256 streams (docs/metrics.md).
STREAMS_PER_WORKER = 32
RATE_PER_WORKER = 50.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0


def free_cores() -> int:
    """Cores this process may use minus the 1-minute load average (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, cpus - int(load + 0.5))


def resolve_workers(spec: BenchSpec) -> tuple[int, str]:
    """How many worker processes a run uses, and why.

    Given (``spec.workers``): that many. Automatic (None): one, unless the planned load
    is big enough for one process to become client-bound AND more than one core is free:
    then ``min(free cores, concurrency // 32)`` in a closed loop, ``min(free cores,
    rate // 50)`` in an open loop. Small runs stay in one process: starting a worker costs
    about a second (a fresh interpreter imports the client).
    """
    if spec.workers is not None:
        return spec.workers, "requested"
    if spec.rate is None:
        by_load = spec.concurrency // STREAMS_PER_WORKER
        load = f"concurrency {spec.concurrency}"
    else:
        by_load = int(spec.rate // RATE_PER_WORKER)
        if spec.concurrency > 1:
            by_load = min(by_load, spec.concurrency)
        load = f"rate {spec.rate:g}/s"
    by_load = min(by_load, spec.runs)
    if by_load < 2:
        return 1, f"automatic: {load} fits one process"
    cores = free_cores()
    if cores < 2:
        return 1, f"automatic: {load} would use {by_load} workers, but one core is free"
    count = min(cores, by_load)
    return count, f"automatic: {load} over {count} workers ({cores} cores free)"


class _Coordinator:
    def __init__(self, spec: BenchSpec, count: int, emit: Callable[[RequestRecord], None]):
        self.spec = spec
        self.count = count
        self.emit = emit
        self.loop = asyncio.get_running_loop()
        self.procs: list[Any] = []
        self.ctrl: list[Any] = []
        self.data: list[Any] = []
        self.ready: list[asyncio.Future[None]] = []
        self.done: list[asyncio.Future[tuple[str, dict[str, Any] | None]]] = []
        self.pongs: dict[tuple[int, int], asyncio.Future[int]] = {}
        self.barriers: dict[str, list[int]] = {}
        self.clock: list[dict[str, Any]] = []
        self.stopping = False
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ processes
    def start(self, shards: list[Shard], run_id: str, owner: str) -> None:
        from llmbench_jupyter.core.workload.worker_proc import worker_main

        ctx = multiprocessing.get_context("spawn")
        for shard in shards:
            ctrl_r, ctrl_w = ctx.Pipe(duplex=False)
            data_r, data_w = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=worker_main,
                args=(self.spec, shard, run_id, owner, ctrl_r, data_w),
                name=f"llmbench-worker-{shard.index}",
                daemon=True,
            )
            proc.start()
            ctrl_r.close()
            data_w.close()
            self.procs.append(proc)
            self.ctrl.append(ctrl_w)
            self.data.append(data_r)
            self.ready.append(self.loop.create_future())
            self.done.append(self.loop.create_future())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Every worker's messages, in one thread, handed to the event loop in order."""
        open_conns = {conn: k for k, conn in enumerate(self.data)}
        while open_conns:
            for ready in wait_ready(list(open_conns)):
                conn: Any = ready
                k = open_conns[conn]
                message: tuple[Any, ...]
                try:
                    message = conn.recv()
                except (EOFError, OSError):  # the worker exited (or died)
                    del open_conns[conn]
                    message = ("eof",)
                with contextlib.suppress(RuntimeError):  # loop closed
                    self.loop.call_soon_threadsafe(self._on_message, k, message)

    def _on_message(self, k: int, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "records":
            if not self.stopping:
                for record in message[1]:
                    self.emit(record)
        elif kind == "sync":
            self._barrier(k, message[1], message[2])
        elif kind == "pong":
            fut = self.pongs.pop((k, message[1]), None)
            if fut is not None and not fut.done():
                fut.set_result(message[2])
        elif kind == "ready":
            _settle(self.ready[k], None)
        elif kind == "done":
            _settle(self.done[k], (message[1], message[2]))
        elif kind == "error":
            _fail(self.done[k], f"worker {k} failed: {message[1]}")
            _fail(self.ready[k], f"worker {k} failed: {message[1]}")
        elif kind == "eof":
            code = self.procs[k].exitcode
            why = f"worker {k} exited before finishing (exit code {code})"
            _fail(self.ready[k], why)
            _fail(self.done[k], why)

    def _barrier(self, k: int, key: str, at_ns: int) -> None:
        arrived = self.barriers.setdefault(key, [])
        arrived.append(at_ns)
        if len(arrived) == self.count:
            start = max(max(arrived), perf_counter_ns()) + START_LEAD_NS
            for conn in self.ctrl:
                with contextlib.suppress(OSError):
                    conn.send(("go", key, start))

    # ------------------------------------------------------------------ clock
    async def align_clocks(self) -> None:
        """Measure each worker's clock offset (see the module docstring)."""
        for k, conn in enumerate(self.ctrl):
            best: tuple[int, int] | None = None  # (round trip, offset)
            for seq in range(PINGS):
                fut: asyncio.Future[int] = self.loop.create_future()
                self.pongs[(k, seq)] = fut
                t0 = perf_counter_ns()
                conn.send(("ping", seq))
                t1 = await asyncio.wait_for(fut, START_TIMEOUT_S)
                t2 = perf_counter_ns()
                rtt, offset = t2 - t0, t1 - (t0 + t2) // 2
                if best is None or rtt < best[0]:
                    best = (rtt, offset)
            assert best is not None
            rtt, offset = best
            applied = abs(offset) > rtt // 2
            conn.send(("clock", offset if applied else 0))
            self.clock.append(
                {
                    "worker": k,
                    "offset_ns": offset,
                    "error_bound_ns": rtt // 2,
                    "round_trip_ns": rtt,
                    "applied": applied,
                }
            )

    # ------------------------------------------------------------------ stop
    async def stop(self) -> None:
        """Ask every worker to stop, then make sure: terminate, kill. None is left."""
        self.stopping = True
        for conn in self.ctrl:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        await asyncio.to_thread(self._reap)

    def _reap(self) -> None:
        deadline = perf_counter_ns() + int(STOP_TIMEOUT_S * 1e9)
        for proc in self.procs:
            proc.join(max(0.0, (deadline - perf_counter_ns()) / 1e9))
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.ctrl:
            conn.close()
        if self._reader is not None:
            self._reader.join(5.0)
        for conn in self.data:
            conn.close()


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future[Any], why: str) -> None:
    if not fut.done():
        fut.set_exception(LLMBenchError(why))


def make_shards(spec: BenchSpec, count: int) -> list[Shard]:
    """The split (core.workload.shard): streams evenly, one arrival schedule dealt out."""
    streams = split_streams(spec.concurrency, count)
    shards = [Shard(k, count, max(1, streams[k])) for k in range(count)]
    if spec.rate is not None:
        for phase in plan(spec)[0]:
            offsets = arrival_offsets_ns(spec.seed, phase, spec.runs, spec.rate, spec.arrivals)
            for shard, dealt in zip(shards, deal_arrivals(offsets, count), strict=True):
                shard.arrivals[phase_key(phase)] = dealt
    return shards


async def run_workers(
    spec: BenchSpec,
    count: int,
    reason: str,
    *,
    sink: Callable[[RequestRecord], None] | None,
    run_id: str | None,
    owner: str,
    on_start: Callable[[int], None] | None,
    on_finish: Any,
) -> WorkloadResult:
    """:func:`engine.arun` over ``count`` worker processes; same contract as arun."""
    from llmbench_jupyter.stats import combine_overhead

    phases, skipped = plan(spec)
    described = await asyncio.to_thread(describe_run, spec, phases, skipped)
    records: list[RequestRecord] = []

    def emit(record: RequestRecord) -> None:
        records.append(record)
        if sink is not None:
            sink(record)

    if on_start is not None:
        on_start(len(phases) * (spec.runs + spec.warmup))
    coord = _Coordinator(spec, count, emit)
    status, reports = "failed", []
    try:
        coord.start(make_shards(spec, count), run_id or new_id(), owner)
        await asyncio.wait_for(asyncio.gather(*coord.ready), START_TIMEOUT_S)
        await coord.align_clocks()
        for conn in coord.ctrl:
            conn.send(("start",))
        finished = await asyncio.gather(*coord.done)
        statuses = [s for s, _ in finished]
        reports = [o for _, o in finished if o is not None]
        measured = [r for r in records if not r.is_warmup]
        # every measured request failed (or a worker failed before any): say so
        every_failed = bool(measured) and all(r.status != "ok" for r in measured)
        status = "failed" if every_failed or ("failed" in statuses and not measured) else "done"
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    finally:
        await coord.stop()
        overhead = combine_overhead(reports, clock=coord.clock) if reports else None
        if overhead is not None:
            overhead["workers"] = {"count": count, "reason": reason, **overhead["workers"]}
        if on_finish is not None:
            await on_finish(status, overhead)
    # completion order on one clock (workers deliver in batches)
    records.sort(key=completed_at)
    return WorkloadResult(
        run_id=run_id,
        spec=described,
        records=records,
        skipped=skipped,
        overhead=overhead or {},
        status=status,
    )


def completed_at(r: RequestRecord) -> float:
    """When a request ended (ms, coordinator clock): its time origin + e2e."""
    if r.send_mono_ns is None:
        return math.inf
    origin_ms = r.send_mono_ns / 1e6
    if r.time_origin == "intended":  # open loop: e2e counts from the intended send
        origin_ms -= r.send_lag_ms or 0.0
    return origin_ms + (r.e2e_ms or 0.0)
