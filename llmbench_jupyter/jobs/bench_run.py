"""A benchmark run end to end: simulator, store and the engine, for every surface.

The engine (``core.workload``) only measures and hands records to a sink. Here a run
gets what it needs around that: the built-in simulated endpoint in its own process for
simulated targets (unless ``sim_url`` points at one already running), a ``runs`` row and
a writer thread that commits records in small batches, and the final status and
client-overhead report written when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload import BenchSpec, describe_run, plan
from llmbench_jupyter.core.workload import arun as run_workload
from llmbench_jupyter.jobs.provenance import host, versions

if TYPE_CHECKING:
    from llmbench_jupyter.store.writer import StoreWriter


async def arun(
    spec: BenchSpec,
    *,
    save: bool = True,
    store: Any = None,
    owner: str | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    on_start: Callable[[str | None, int], None] | None = None,
    config_snapshot: dict[str, Any] | None = None,
    sim_url: str | None = None,
    sweep: dict[str, Any] | None = None,
    selftest: Any = None,
    cluster: Any = None,
) -> BenchResult:
    """Run a benchmark to completion and return its records; stored unless ``save`` is False.

    Simulated targets get the built-in endpoint started in its own process unless
    ``sim_url`` points at one already running. ``sweep``: this run is one step of a load
    sweep (``jobs.sweep``); stored with the spec as ``spec["sweep"]``. ``selftest`` (True,
    a mode or a ``jobs.selftest.SelftestSpec``) runs the timing self-test first; its bound
    is stored with the run (``overhead["timing_selftest"]``); a dict is a summary measured
    already. ``cluster`` (a ``distributed.Client``) runs the load on a Dask cluster's
    workers (:mod:`llmbench_jupyter.jobs.cluster`).
    """
    spec.validate()
    with contextlib.ExitStack() as stack:
        if any(t.simulated for t in spec.targets) and not sim_url:
            from llmbench_jupyter.sim.process import sim_process

            sim_url = stack.enter_context(sim_process(seed=spec.seed))
        if sim_url:
            spec.targets = [t.with_api_base(sim_url) if t.simulated else t for t in spec.targets]
        timing = selftest if isinstance(selftest, dict) else None  # measured already
        if selftest and timing is None:
            from llmbench_jupyter.jobs.selftest import selftest_for_run

            timing = await selftest_for_run(spec, selftest, sim_url)
        return await _run_stored(
            spec,
            save,
            store,
            owner,
            on_record,
            on_start,
            config_snapshot,
            sweep,
            timing,
            cluster,
        )


async def _run_stored(
    spec: BenchSpec,
    save: bool,
    store: Any,
    owner: str | None,
    on_record: Callable[[RequestRecord], None] | None,
    on_start: Callable[[str | None, int], None] | None,
    config_snapshot: dict[str, Any] | None,
    sweep: dict[str, Any] | None = None,
    timing: dict[str, Any] | None = None,
    cluster: Any = None,
) -> BenchResult:
    from llmbench_jupyter.store.owner import current_owner  # no SQLAlchemy without save

    owner = owner or current_owner()
    writer: StoreWriter | None = None
    run_id: str | None = None
    if save:  # the event loop never waits on the database (opening may even migrate it)
        from llmbench_jupyter.store import open_store
        from llmbench_jupyter.store.writer import StoreWriter

        store = store or await asyncio.to_thread(open_store)
        described = await asyncio.to_thread(describe_run, spec, *plan(spec))  # may load litellm
        if sweep is not None:
            described["sweep"] = dict(sweep)
        run_id = await asyncio.to_thread(
            lambda: store.create_run(
                owner=owner,
                name=spec.name,
                spec=described,
                config_snapshot=config_snapshot or {},
                versions=versions(),
                host=host(),
            )
        )
        writer = StoreWriter(store)

    def sink(record: RequestRecord) -> None:
        if writer is not None:
            writer.put(record)
        if on_record is not None:
            on_record(record)

    async def finish(status: str, overhead: dict[str, Any] | None) -> None:
        if timing is not None and overhead is not None:
            overhead["timing_selftest"] = timing
        if writer is None:
            return
        await asyncio.to_thread(writer.close)
        if overhead is not None:
            overhead["store_errors"] = writer.errors
        await asyncio.to_thread(store.finish_run, run_id, status, overhead)

    runner: Any = run_workload
    if cluster is not None:
        from functools import partial

        from llmbench_jupyter.jobs.cluster import run_bench

        runner = partial(run_bench, client=cluster)
    result = await runner(
        spec,
        sink=sink,
        run_id=run_id,
        owner=owner,
        on_start=None if on_start is None else (lambda planned: on_start(run_id, planned)),
        on_finish=finish,
    )
    return BenchResult.from_workload(result, store_errors=writer.errors if writer else [])


def run(spec: BenchSpec, **kwargs: Any) -> BenchResult:
    """Synchronous wrapper of :func:`arun` for scripts (not for a running event loop)."""
    return asyncio.run(arun(spec, **kwargs))
