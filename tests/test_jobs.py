"""The job runner: states, persistence, the FIFO limit, cancellation, crash recovery."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs import THROTTLE_S, BenchWork, Job, JobError, JobManager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}")


def spec(sim: SimServer, model: str = "sim:ttft=20,itl=2,out=10", runs: int = 3) -> BenchSpec:
    return BenchSpec(targets=[adhoc(sim.base_url, model)], runs=runs, warmup=0)


def test_a_job_walks_the_states_and_persists_them(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store, max_concurrent=2)
    seen: list[str] = []

    async def main() -> Job:
        job = manager.submit(spec(sim))
        assert job.state == "pending"
        job.subscribe(lambda snap: seen.append(snap["state"]))
        with pytest.raises(JobError, match="await job"):
            job.result()
        with pytest.raises(JobError, match="would block"):
            job.wait(1)
        result = await job
        assert result.ok_count == 3
        return job

    job = asyncio.run(main())
    assert job.state == "done" and job.result().run_id == job.run_id
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == [
        "pending",
        "queued",
        "running",
        "done",
    ]
    row = store.get_job(job.id)
    assert row["state"] == "done" and row["run_id"] == job.run_id
    assert row["created_at"] <= row["queued_at"] <= row["started_at"] <= row["finished_at"]
    assert store.get_run(job.run_id)["status"] == "done"


def test_illegal_transitions_are_refused(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    work = BenchWork(spec(sim), save=False, config_snapshot=None, sim_url=None)
    job = Job(JobManager(store), work)
    with pytest.raises(JobError, match="cannot go from pending to done"):
        job._transition("done")


def test_the_limit_queues_jobs_fifo_and_never_rejects(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store, max_concurrent=2)

    async def main() -> list[Job]:
        jobs = [manager.submit(spec(sim, "sim:ttft=150,itl=2,out=5", runs=2)) for _ in range(4)]
        await asyncio.sleep(0.1)
        assert [j.state for j in jobs] == ["running", "running", "queued", "queued"]
        for job in jobs:
            await job
        return jobs

    jobs = asyncio.run(main())
    assert all(j.state == "done" for j in jobs)
    starts = [store.get_job(j.id)["started_at"] for j in jobs]
    assert starts[2] <= starts[3]  # first in, first out
    assert (
        starts[2] >= store.get_job(jobs[0].id)["finished_at"]
        or starts[2] >= store.get_job(jobs[1].id)["finished_at"]
    )


def test_cancel_stops_a_running_job_and_keeps_completed_results(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store)

    async def main() -> Job:
        job = manager.submit(spec(sim, "sim:ttft=10,itl=20,out=10", runs=30))
        while job.progress["done"] < 2:
            await asyncio.sleep(0.05)
        assert job.cancel() is True
        result = await job
        assert result.status == "cancelled"
        return job

    job = asyncio.run(main())
    assert job.state == "cancelled" and job.cancel() is False
    kept = job.result().records
    assert 2 <= len(kept) < 30
    assert store.get_job(job.id)["state"] == "cancelled"
    assert store.get_run(job.run_id)["status"] == "cancelled"
    stored = store.records(job.run_id)
    assert {r.request_id for r in kept} <= {r.request_id for r in stored} | set()
    assert len(stored) >= 2


def test_cancel_of_a_queued_job_never_runs_it(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store, max_concurrent=1)

    async def main() -> tuple[Job, Job]:
        first = manager.submit(spec(sim, "sim:ttft=200,itl=2,out=5", runs=1))
        second = manager.submit(spec(sim))
        await asyncio.sleep(0.05)
        assert second.state == "queued"
        second.cancel()
        await second
        await first
        return first, second

    first, second = asyncio.run(main())
    assert (first.state, second.state) == ("done", "cancelled")
    assert second.run_id is None and second.result().records == []
    assert store.get_job(second.id)["started_at"] is None


def test_plain_python_without_a_loop_runs_on_a_background_loop(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store)
    job = manager.submit(spec(sim))
    result = job.wait(60)
    assert job.state == "done" and result.ok_count == 3
    assert job.result() is result


def test_progress_reaches_subscribers_at_most_ten_times_a_second(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager(store)
    stamps: list[tuple[float, dict]] = []

    async def main() -> None:
        job = manager.submit(
            BenchSpec(
                targets=[adhoc(sim.base_url, "sim:ttft=5,itl=1,out=4")],
                runs=200,
                warmup=0,
                concurrency=8,
            )
        )
        job.subscribe(lambda snap: stamps.append((time.monotonic(), snap)))
        await job

    asyncio.run(main())
    delivered = stamps[1:]  # the first call is subscribe() handing over the current state
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(delivered)]
    # every delivery, state changes included, is spaced by the throttle: at most 10 a second
    assert gaps and min(gaps) >= THROTTLE_S * 0.9
    progress = [(t, s) for t, s in delivered if s["state"] == "running"]
    assert len({s["done"] for _, s in progress}) >= 2
    final = stamps[-1][1]
    assert final["state"] == "done" and final["done"] == final["total"] == 200
    target = final["targets"][0]
    assert target["done"] == 200 and target["ttft_ms_p50"] is not None


def test_a_killed_process_leaves_its_results_and_an_interrupted_job(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "crash.sqlite"
    script = textwrap.dedent(f"""
        import os, time
        from llmbench_jupyter.jobs import JobManager
        from llmbench_jupyter.store import open_store
        from llmbench_jupyter.core.targets import adhoc
        from llmbench_jupyter.core.workload import BenchSpec
        store = open_store("sqlite:///{db}")
        job = JobManager(store).submit(BenchSpec(
            targets=[adhoc("{sim.base_url}", "sim:ttft=10,itl=10,out=10")], runs=100, warmup=0))
        while True:
            time.sleep(0.05)
            if job.run_id and len(store.records(job.run_id)) >= 3:
                print(job.id, job.run_id, flush=True)
                os._exit(9)  # a kernel crash: no cleanup of any kind
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 9, proc.stderr
    job_id, run_id = proc.stdout.split()
    store = open_store(f"sqlite:///{db}")
    assert store.get_job(job_id)["state"] == "running"  # nobody has looked yet
    JobManager(store)  # a new kernel starts and sweeps
    assert store.get_job(job_id)["state"] == "interrupted"
    assert store.get_run(run_id)["status"] == "interrupted"
    kept = store.records(run_id)
    assert len(kept) >= 3 and all(r.status == "ok" for r in kept)


def test_the_limit_comes_from_the_environment(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMBENCH_MAX_JOBS", "5")
    assert JobManager(store).max_concurrent == 5
    with pytest.raises(Exception, match="expected an integer >= 1"):
        JobManager(store, max_concurrent=0)
    assert os.environ["LLMBENCH_MAX_JOBS"] == "5"


def test_the_default_manager_takes_its_limit_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbench_jupyter import jobs

    (tmp_path / "config.yaml").write_text(
        "defaults:\n  max_jobs: 3\nproviders:\n  p:\n    api_base: http://127.0.0.1:1/v1\n"
        "    models:\n      - id: m\n"
    )
    monkeypatch.setenv("LLMBENCH_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("LLMBENCH_DB_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.delenv("LLMBENCH_MAX_JOBS", raising=False)
    jobs.reset_manager()
    try:
        assert jobs.get_manager().max_concurrent == 3
        jobs.reset_manager()
        monkeypatch.setenv("LLMBENCH_MAX_JOBS", "1")
        assert jobs.get_manager().max_concurrent == 1
    finally:
        jobs.reset_manager()


def test_hourly_request_limit_holds_jobs_and_refuses_oversized_ones(
    sim: SimServer, store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.jobs import budgets

    monkeypatch.setattr(budgets, "BUDGET_POLL_S", 0.05)
    manager = JobManager(store, max_requests_per_hour=10)

    async def main() -> None:
        big = manager.submit(spec(sim, runs=11))
        with pytest.raises(JobError, match="plans 11 requests, more than your limit of 10"):
            await big
        assert big.state == "failed"
        first = manager.submit(spec(sim, runs=6))
        await first
        second = manager.submit(spec(sim, runs=6))
        await asyncio.sleep(0.3)
        assert second.state == "queued"  # 6 used + 6 planned > 10: it waits, never rejected
        assert "6 of 10 used in the last hour, this job needs 6" in second.progress["error"]
        store.delete_run(first.run_id)  # the budget frees up (as an hour passing would)
        await second
        assert second.state == "done" and second.error is None

    asyncio.run(main())
    actions = [(e["action"], e["target"]) for e in store.audit_log(limit=20)]
    assert ("job.end", manager.jobs()[0].id) in actions  # the refused job is audited too
    starts = [t for a, t in actions if a == "job.start"]
    assert len(starts) == 2  # the two that ran
    end = next(e for e in store.audit_log(limit=20) if e["action"] == "job.end")
    assert end["details"]["state"] in ("done", "failed") and end["details"]["kind"] == "bench"


def test_the_hourly_limit_comes_from_the_environment(  # type: ignore[no-untyped-def]
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_MAX_REQUESTS_PER_HOUR", "250")
    assert JobManager(store).max_requests_per_hour == 250
    monkeypatch.setenv("LLMBENCH_MAX_REQUESTS_PER_HOUR", "lots")
    with pytest.raises(LLMBenchError, match="expected an integer >= 1"):
        JobManager(store)


def test_eta_counts_the_slow_model_still_to_come(sim: SimServer, store) -> None:  # type: ignore[no-untyped-def]
    """Four fast requests, then four slow ones of the same provider (run one after another).

    Once the slow model has answered once, three slow requests are left, each at least its
    TTFT (300 ms, set by the sim): the ETA must be at least 0.9 s. An average over every
    request so far (mostly fast ones) said far less.
    """
    fast, slow = (
        adhoc(sim.base_url, m) for m in ("sim:ttft=1,itl=0,out=2", "sim:ttft=300,itl=0,out=2")
    )
    manager = JobManager(store)
    seen: list[dict] = []

    async def main() -> None:
        job = manager.submit(BenchSpec(targets=[fast, slow], runs=4, warmup=0))
        job.subscribe(lambda snap: seen.append(dict(snap)))
        await job

    asyncio.run(main())
    after_first_slow = [s for s in seen if s["state"] == "running" and s["done"] == 5]
    assert after_first_slow, [(s["state"], s["done"]) for s in seen]
    assert all(s["eta_s"] >= 0.9 for s in after_first_slow)


def test_a_benchmark_job_never_calls_the_store_on_the_event_loop(
    sim: SimServer, store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A database call on the kernel's loop would stall every stream's timestamps (and the
    notebook) for as long as the database takes: a lock, a slow disk, a migration."""
    on_loop: list[str] = []
    for name in dir(store):
        method = getattr(store, name)
        if name.startswith("__") or not callable(method) or name in ("_owner", "_error"):
            continue

        def watched(*args, _name=name, _method=method, **kwargs):  # type: ignore[no-untyped-def]
            try:
                asyncio.get_running_loop()
                on_loop.append(_name)
            except RuntimeError:
                pass  # a worker thread: fine
            return _method(*args, **kwargs)

        monkeypatch.setattr(store, name, watched)
    manager = JobManager(store, max_concurrent=1)

    async def main() -> None:
        await manager.submit(spec(sim, runs=4))

    asyncio.run(main())
    assert on_loop == [], sorted(set(on_loop))


def test_a_job_whose_row_cannot_be_written_fails_before_sending(
    sim: SimServer, store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    def refuse(**_: object) -> None:
        raise LLMBenchError("cannot create job (sqlite:///x.db): disk I/O error")

    monkeypatch.setattr(store, "create_job", refuse)
    manager = JobManager(store, max_concurrent=1)

    async def main() -> Job:
        job = manager.submit(spec(sim, runs=3))
        with pytest.raises(JobError, match=r"cannot create job .*disk I/O error"):
            await job
        return job

    job = asyncio.run(main())
    assert job.state == "failed" and job.records == [] and job.run_id is None
