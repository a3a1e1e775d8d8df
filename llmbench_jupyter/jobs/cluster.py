"""Benchmarks and evals fanned out to a Dask cluster (``cluster=client``): many machines.

Dask does the distribution; this module only decides what a task is and puts the
results back together, so nothing here is a cluster of its own.

- **Benchmark.** Each phase (target × context tier) in turn: one task per Dask worker,
  each running the ordinary engine (:func:`core.workload.arun`) on its shard of the
  phase (the split of :mod:`core.workload.shard`: requests round-robin, streams evenly,
  one seeded arrival schedule dealt out). The next phase starts when every shard of
  this one is back, so phases stay in step across machines.
- **Eval.** The suite's cases dealt round-robin to one task per worker, each running
  :func:`evals.runner.run_suite` on its cases; every case run comes back to the job.
- **Clocks.** Machines have different monotonic clocks, so each task reports a
  (perf_counter_ns, time_ns) pair taken together and the coordinator maps its records'
  ``send_mono_ns`` onto its own monotonic clock through the wall clock: the error is the
  wall clocks' disagreement (NTP, typically ~1 ms between machines; 0 on one host) plus
  the pairs' sampling gap (stored per task as ``clock``). Open-loop arrivals of a phase
  start at one wall-clock instant, :data:`OPEN_LOOP_LEAD_S` after the tasks are sent.
- **Results** stream back while the tasks run (:mod:`.cluster_stream`: a queue of the
  run, drained a few times a second) and go to the run's sink (the store writer, live
  progress) at the coordinator, under the user's own store role. A cancelled run keeps
  what its tasks measured before they stopped.
- **Cancellation** sets a Dask ``Event`` every task watches (a running task cannot be
  interrupted from outside), then cancels the futures; it returns once the scheduler
  shows none of the run's tasks processing.

The client must be a synchronous ``distributed.Client``; workers need this package
installed, and simulated targets must be reachable from them (a ``LocalCluster``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord, new_id
from llmbench_jupyter.core.workload import BenchSpec, WorkloadResult, describe_run, plan
from llmbench_jupyter.core.workload.shard import Shard
from llmbench_jupyter.core.workload.workers import completed_at, make_shards
from llmbench_jupyter.jobs.cluster_stream import Collector

OPEN_LOOP_LEAD_S = 2.0
STOP_POLL_S = 0.2
STOP_TIMEOUT_S = 30.0


def cluster_workers(client: Any) -> int:
    """Workers of a Dask client's cluster (at least one, or a clear error)."""
    try:
        n = len(client.scheduler_info()["workers"])
    except Exception as exc:
        raise LLMBenchError(f"cluster: expected a connected distributed.Client ({exc})") from None
    if n < 1:
        raise LLMBenchError("cluster: the Dask cluster has no workers")
    return n


def clock_pair() -> tuple[int, int, int]:
    """(monotonic, wall) read together, ns, and the gap between the two monotonic reads
    around the wall one: the pair's own uncertainty."""
    m0 = perf_counter_ns()
    wall = time.time_ns()
    m1 = perf_counter_ns()
    return (m0 + m1) // 2, wall, m1 - m0


# ----------------------------------------------------------------------- in a task
_active: dict[str, int] = {}  # run's stop event name -> its tasks running in this process
_active_lock = threading.Lock()


def active_tasks(stop_name: str | None = None) -> int:
    """Tasks of a run (of every run without a name) still running in this worker process;
    the coordinator asks every worker (``client.run``) to verify that a stop took effect."""
    with _active_lock:
        return sum(n for k, n in _active.items() if stop_name is None or k == stop_name)


def _until_stopped(stop_name: str, main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` on a fresh event loop until done or until the run's stop event is set."""
    with _active_lock:
        _active[stop_name] = _active.get(stop_name, 0) + 1
    try:
        return _watched(stop_name, main)
    finally:
        with _active_lock:
            _active[stop_name] -= 1
            if not _active[stop_name]:
                del _active[stop_name]


def _watched(stop_name: str, main: Coroutine[Any, Any, Any]) -> Any:
    from distributed import Event, get_client

    stop = Event(stop_name, client=get_client())  # this worker's client, usable from threads

    async def watched() -> Any:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        ended = threading.Event()

        def watch() -> None:
            while not ended.is_set():
                if stop.wait(STOP_POLL_S):
                    loop.call_soon_threadsafe(task.cancel)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return await task
        finally:
            ended.set()
            await asyncio.to_thread(watcher.join)  # nothing of the task outlives it

    return asyncio.run(watched())


def bench_task(
    spec: BenchSpec,
    shard: Shard,
    run_id: str,
    owner: str,
    start_wall_ns: int,
    phase_no: int,
    stop_name: str,
) -> dict[str, Any]:
    """One shard of one phase, on a Dask worker: its records stream back as they complete
    (:mod:`.cluster_stream`); it returns how many, its clock pair, status and overhead."""
    from llmbench_jupyter.core.workload import arun
    from llmbench_jupyter.jobs.cluster_stream import Outbox

    mono_ns, wall_ns, gap_ns = clock_pair()
    task_id = new_id()
    outbox = Outbox(records_queue(stop_name), task_id, (mono_ns, wall_ns, gap_ns, phase_no))
    finished: dict[str, Any] = {"status": "cancelled", "overhead": None}

    async def sync(key: str) -> int:
        if key.endswith("|go"):  # one wall-clock instant for every shard
            return perf_counter_ns() + (start_wall_ns - time.time_ns())
        return perf_counter_ns()

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.update(status=status, overhead=overhead)

    shard.sync = sync

    async def main() -> None:
        await arun(spec, sink=outbox.put, run_id=run_id, owner=owner, on_finish=on_finish,
                   shard=shard)  # fmt: skip

    try:
        with contextlib.suppress(asyncio.CancelledError):
            _until_stopped(stop_name, main())
    finally:
        sent = outbox.close()  # a stopped task's records go back too
    return {"task": task_id, "sent": sent, "mono_ns": mono_ns, "wall_ns": wall_ns,
            "gap_ns": gap_ns, **finished}  # fmt: skip


def eval_task(
    targets: list[Any], suite: Any, options: dict[str, Any], stop_name: str
) -> dict[str, Any]:
    """Some cases of a suite, on a Dask worker: each case run streams back as it ends;
    returns how many."""
    from llmbench_jupyter.evals.runner import run_suite
    from llmbench_jupyter.jobs.cluster_stream import Outbox

    task_id = new_id()
    outbox = Outbox(records_queue(stop_name), task_id)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            _until_stopped(stop_name, run_suite(targets, suite, on_case=outbox.put, **options))
    finally:
        sent = outbox.close()
    return {"task": task_id, "sent": sent}


def records_queue(stop_name: str) -> str:
    """The name of a run's results queue (one run, one stop event, one queue)."""
    return stop_name.replace("llmbench-stop-", "llmbench-results-")


# ----------------------------------------------------------------------- coordinator
class _Fanout:
    """Futures of one run on a Dask client, waited for off the event loop, stoppable."""

    def __init__(self, client: Any) -> None:
        from distributed import Event

        self.client = client
        self.stop_name = f"llmbench-stop-{new_id()}"
        self.event = Event(self.stop_name, client=client)
        self.futures: list[Any] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = self.client.submit(fn, *args, self.stop_name, pure=False)
        self.futures.append(future)
        return future

    async def each(self, futures: list[Any], handle: Callable[[Any], None]) -> None:
        """``handle(result)`` on the loop as each future finishes."""
        from distributed import as_completed

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def drain() -> None:
            try:
                for future in as_completed(futures):
                    loop.call_soon_threadsafe(queue.put_nowait, ("ok", future.result()))
            except BaseException as exc:  # a failed task, or the futures cancelled
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        threading.Thread(target=drain, daemon=True).start()
        while True:
            kind, value = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise LLMBenchError(f"a Dask task failed: {type(value).__name__}: {value}")
            handle(value)

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        """Tell every task to stop (the event stays set: a task starting late stops at
        once), cancel the futures, then wait until no worker runs any task of this run."""
        self.event.set()
        self.client.cancel(self.futures, force=True)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            running = self.client.run(active_tasks, self.stop_name)
            if not any(running.values()):
                return
            time.sleep(0.1)
        raise LLMBenchError(
            f"Dask tasks of this run still running after {STOP_TIMEOUT_S:g} s: {running}"
        )


async def run_bench(
    spec: BenchSpec,
    client: Any,
    *,
    sink: Callable[[RequestRecord], None] | None,
    run_id: str | None,
    owner: str,
    on_start: Callable[[int], None] | None,
    on_finish: Any,
) -> WorkloadResult:
    """:func:`core.workload.arun`'s contract, with the load on a Dask cluster."""
    import dataclasses

    from llmbench_jupyter.stats import combine_overhead

    spec.validate()
    phases, skipped = plan(spec)
    described = await asyncio.to_thread(describe_run, spec, phases, skipped)
    n = cluster_workers(client)
    if spec.rate is None or spec.concurrency > 1:
        n = min(n, spec.concurrency)
    n = max(1, min(n, spec.runs))
    described["cluster"] = {"workers": n}
    records: list[RequestRecord] = []
    reports: list[dict[str, Any]] = []
    clock: list[dict[str, Any]] = []
    run_id_used = run_id or new_id()
    if on_start is not None:
        on_start(len(phases) * (spec.runs + spec.warmup))
    fan = _Fanout(client)
    status = "failed"
    coord_mono, coord_wall, coord_gap = clock_pair()

    def offset_of(meta: tuple[int, ...]) -> int:
        """A task's monotonic clock minus the coordinator's, through the wall clock."""
        return (meta[0] - meta[1]) - (coord_mono - coord_wall)

    def take_record(meta: tuple[int, ...], record: RequestRecord) -> None:
        if record.send_mono_ns is not None:
            record.send_mono_ns -= offset_of(meta)
        records.append(record)
        if sink is not None:
            sink(record)

    def take(out: dict[str, Any]) -> None:
        # the bound covers the two pairs' sampling; wall clocks of different machines add
        # their own disagreement (NTP), unknown here and 0 on one host
        bound = (out["gap_ns"] + coord_gap) // 2
        offset = offset_of((out["mono_ns"], out["wall_ns"], out["gap_ns"]))
        clock.append({"offset_ns": offset, "error_bound_ns": bound, "round_trip_ns": 0,
                      "method": "wall clock", "applied": True})  # fmt: skip
        expected[out["task"]] = out["sent"]
        if out["overhead"] is not None:
            reports.append(out["overhead"])

    expected: dict[str, int] = {}
    stream = Collector(client, records_queue(fan.stop_name), take_record, _record_key)
    stream.start()
    try:
        for phase_no, phase in enumerate(phases):
            sub = dataclasses.replace(spec, targets=[phase.target], context_tiers=[phase.tier],
                                      workers=1)  # fmt: skip
            start_wall = time.time_ns() + int(OPEN_LOOP_LEAD_S * 1e9)
            futures = [fan.submit(bench_task, sub, shard, run_id_used, owner, start_wall,
                                  phase_no) for shard in make_shards(sub, n)]  # fmt: skip
            await fan.each(futures, take)
            await stream.settle(expected)
        measured = [r for r in records if not r.is_warmup]
        every_failed = bool(measured) and all(r.status != "ok" for r in measured)
        status = "failed" if every_failed else "done"
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    finally:
        if status != "done":
            await fan.stop()
        await stream.close()  # what a stopped task sent before it ended is kept
        overhead = combine_overhead(reports, clock=clock) if reports else None
        if overhead is not None:
            overhead["workers"] = {"count": n, "reason": "Dask cluster", **overhead["workers"]}
        if on_finish is not None:
            await on_finish(status, overhead)
    records.sort(key=completed_at)
    return WorkloadResult(run_id=run_id, spec=described, records=records, skipped=skipped,
                          overhead=overhead or {}, status=status)  # fmt: skip


async def run_suite_on(
    client: Any,
    targets: list[Any],
    suite: Any,
    *,
    on_case: Callable[[Any], None],
    **options: Any,
) -> None:
    """:func:`evals.runner.run_suite` with the cases dealt out to the cluster's workers."""
    import dataclasses

    n = min(cluster_workers(client), len(suite.cases))
    concurrency = options.pop("concurrency", 4)
    fan = _Fanout(client)
    expected: dict[str, int] = {}
    stream = Collector(client, records_queue(fan.stop_name), lambda _meta, run: on_case(run),
                       lambda _meta, run: _case_key(run)).start()  # fmt: skip
    done = False
    try:
        futures = []
        for k in range(n):
            part = dataclasses.replace(suite, cases=suite.cases[k::n])
            opts = {**options, "concurrency": max(1, concurrency // n)}
            futures.append(fan.submit(eval_task, targets, part, opts))

        def take(out: dict[str, Any]) -> None:
            expected[out["task"]] = out["sent"]

        await fan.each(futures, take)
        await stream.settle(expected)
        done = True
    finally:
        if not done:
            await fan.stop()
        await stream.close()


def _record_key(meta: tuple[int, ...], record: RequestRecord) -> tuple[Any, ...]:
    """One record per request of a phase (``meta[3]``, its number): a retried task's
    repeats are dropped."""
    return (meta[3], record.is_warmup, record.run_index)


def _case_key(run: Any) -> tuple[Any, ...]:
    """One case run per target, case and attempt."""
    return (run.provider, run.model, run.case_id, run.attempt)
