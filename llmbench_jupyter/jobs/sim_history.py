"""A simulated history: days of real benchmark runs against the simulator, each stored at
the date it stands for.

Trends and change detection need weeks of runs; this makes them in seconds. Each run is
a real benchmark (the bench engine, real HTTP) against a simulator whose clock is set to
the run's date, so a scenario with ``slow_after`` (``sim:...,slow_after=DATE,slow=1.5``)
answers slower from that date on, exactly as a provider that degraded would. The runs
are stored with that date (``Store.create_run(created_at=...)``) and the name
``simulated history``, so they are never mistaken for measurements of a real endpoint.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec, describe_run, plan
from llmbench_jupyter.jobs.provenance import host, versions

NAME = "simulated history"


def simulate_history(
    store: Any,
    model: str,
    *,
    days: int,
    runs_per_day: int = 1,
    requests: int = 8,
    concurrency: int = 4,
    end: datetime | None = None,
    seed: int = 0,
    owner: str | None = None,
    provider: str = "simulated",
) -> list[str]:
    """Store ``days`` × ``runs_per_day`` benchmark runs of ``model`` (a simulator model or
    ``sim:...`` spec), the last day ending at ``end`` (default: now); their run ids.
    Synchronous: call it from a script, a test or a worker thread."""
    from llmbench_jupyter.jobs.bench_run import arun
    from llmbench_jupyter.sim import SimServer

    end = end or datetime.now(UTC)
    clock = {"now": end.timestamp()}
    srv = SimServer(seed=seed, clock=lambda: clock["now"]).start_in_thread()
    ids = []
    try:
        target = adhoc(srv.base_url, model, label=provider)
        step = timedelta(days=1) / runs_per_day
        first = end - timedelta(days=days) + step
        for i in range(days * runs_per_day):
            when = first + i * step
            clock["now"] = when.timestamp()
            spec = BenchSpec(targets=[target], runs=requests, warmup=0, name=NAME,
                             concurrency=concurrency, seed=seed * 100_003 + i)  # fmt: skip
            result = asyncio.run(arun(spec, save=False))
            run_id = store.create_run(
                owner=owner, name=NAME, spec=describe_run(spec, *plan(spec)),
                config_snapshot={"simulated_history": {"model": model, "seed": seed}},
                versions=versions(), host=host(), created_at=when,
            )  # fmt: skip
            records = list(result.records)
            for record in records:  # the stored run's: its id, its owner (set by the store)
                record.run_id, record.owner = run_id, ""
            store.add_records(records)
            store.finish_run(run_id, "done")
            ids.append(run_id)
    finally:
        srv.stop_thread()
    return ids
