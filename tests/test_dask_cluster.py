"""``cluster=client``: benchmarks and evals on a Dask ``LocalCluster`` of 2 worker processes.

The cluster's results must be the single-process results: the same record counts and run
indices, the same arrival schedule, and latency distributions a two-sample test cannot
tell apart; the eval's verdicts case by case. Cancelling mid-run leaves no task running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import distributed  # the `scale` extra, part of `test`: never skipped
import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec, arun
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.cluster import active_tasks, run_bench
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import shift_test
from llmbench_jupyter.store import open_store

#: Two-sample test level: a p-value below it would say the cluster changed the latencies.
ALPHA = 0.01
MODEL = "sim:ttft=40,itl=2,out=12,jitter=0.5"
RULES = str(files("llmbench_jupyter.evals") / "data" / "example_sim_rules.yaml")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", url)
    reset_manager(JobManager(open_store(url)))
    yield url
    reset_manager(None)


def _processing(client: Any) -> int:
    return sum(len(tasks) for tasks in client.processing().values())


def _running(client: Any) -> int:
    """llmbench tasks still executing in the workers (not only what the scheduler says)."""
    return sum(client.run(active_tasks).values())


def test_cluster_bench_matches_the_single_process_run(sim: SimServer, client: Any) -> None:
    spec_args: dict[str, Any] = dict(runs=80, warmup=2, concurrency=4, context_tiers=[0, 100])
    target = adhoc(sim.base_url, MODEL)
    single = asyncio.run(arun(BenchSpec(targets=[target], workers=1, **spec_args)))
    sunk: list[Any] = []
    spread = asyncio.run(
        run_bench(BenchSpec(targets=[target], **spec_args), client, sink=sunk.append,
                  run_id=None, owner="d", on_start=None, on_finish=None)
    )  # fmt: skip
    assert spread.status == single.status == "done"
    assert len(spread.records) == len(single.records) == 2 * 82 == len(sunk)
    assert spread.overhead["workers"]["count"] == 2
    assert len(spread.overhead["workers"]["per_worker"]) == 4  # 2 shards x 2 phases
    for tier in (0, 100):
        for warm in (True, False):

            def key(result: Any, tier: int = tier, warm: bool = warm) -> list[int]:
                return sorted(r.run_index for r in result.records
                              if r.context_tier == tier and r.is_warmup == warm)  # fmt: skip

            assert key(spread) == key(single)
    a = [r for r in single.measured if r.status == "ok"]
    b = [r for r in spread.measured if r.status == "ok"]
    assert len(a) == len(b) == 160
    assert sorted(r.output_tokens for r in a) == sorted(r.output_tokens for r in b)
    for metric in ("ttft_ms", "e2e_ms"):
        test = shift_test([getattr(r, metric) for r in a], [getattr(r, metric) for r in b])
        assert test["p_value"] > ALPHA, (metric, test)
    # the records came back on this process's clock: each inside the run's window here
    ends = [(r.send_mono_ns or 0) / 1e6 + (r.e2e_ms or 0) for r in spread.records]
    assert ends == sorted(ends)
    assert abs(spread.overhead["clock"]["offset_ns_max_abs"]) < 5_000_000  # one host


def test_cluster_open_loop_offers_the_single_process_schedule(sim: SimServer, client: Any) -> None:
    target = adhoc(sim.base_url, "sim:ttft=5,itl=1,out=6")
    args: dict[str, Any] = dict(runs=40, warmup=0, rate=80.0, seed=3)
    single = asyncio.run(arun(BenchSpec(targets=[target], workers=1, **args)))
    spread = asyncio.run(
        run_bench(BenchSpec(targets=[target], **args), client, sink=None, run_id=None,
                  owner="d", on_start=None, on_finish=None)
    )  # fmt: skip
    assert spread.ok_count == 40
    assert sorted((r.run_index, r.scheduled_ms) for r in spread.records) == sorted(
        (r.run_index, r.scheduled_ms) for r in single.records
    )


def test_cancelling_a_cluster_bench_leaves_no_task_running(
    sim: SimServer, client: Any, store_url: str
) -> None:
    first = sim._requests
    job = lj.bench(api_base=sim.base_url, model="sim:ttft=4000,out=4,jitter=0", runs=16,
                   warmup=0, concurrency=4, cluster=client, display=False)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sim._requests - first < 4:
        time.sleep(0.05)
    assert sim._requests - first >= 4 and _processing(client) == 2
    assert job.cancel() is True
    result = job.wait(60)
    assert job.state == "cancelled" and result.status == "cancelled"
    assert _processing(client) == 0 and _running(client) == 0  # stopped, not just forgotten
    sent = sim._requests
    time.sleep(1.0)
    assert sim._requests == sent  # and nothing is still sending
    assert open_store(store_url).get_run(job.run_id)["status"] == "cancelled"


def test_a_cluster_bench_shows_progress_while_it_runs_and_a_cancel_keeps_its_records(
    sim: SimServer, client: Any, store_url: str
) -> None:
    """Records stream back from the running tasks: the job's count moves between 0 and the
    total, and a cancel keeps what the workers measured before it (it used to arrive only
    with a finished task, so a cancelled run lost every running shard's records)."""
    job = lj.bench(api_base=sim.base_url, model="sim:ttft=150,out=4,jitter=0", runs=200,
                   warmup=0, concurrency=4, cluster=client, display=False)  # fmt: skip
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not job.done():
        seen.add(job.progress["done"])
        if job.progress["done"] >= 12:
            break
        time.sleep(0.05)
    partial = {d for d in seen if 0 < d < 200}
    assert len(partial) >= 2, seen  # the count moved while the tasks ran
    assert _processing(client) == 2  # and they are still running
    assert job.cancel() is True
    result = job.wait(60)
    assert job.state == "cancelled" and _processing(client) == 0 and _running(client) == 0
    kept = [r for r in result.records if r.status == "ok"]
    assert len(kept) >= 12 and len({r.run_index for r in kept}) == len(kept)
    stored = open_store(store_url).records(job.run_id)
    assert len(stored) == len(result.records)


def test_cluster_eval_gives_the_same_verdicts(client: Any, store_url: str) -> None:
    srv = SimServer(rules=RULES).start_in_thread()
    try:
        here = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url, display=False,
                           save=False).wait(120)  # fmt: skip
        job = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url, display=False,
                          cluster=client)  # fmt: skip
        there = job.wait(180)
    finally:
        srv.stop_thread()
    assert job.state == "done"

    def verdicts(result: Any) -> dict[tuple[str, int], bool]:
        return {(r.case_id, r.attempt): r.score.passed for r in result.runs}

    assert len(there.runs) == len(here.runs) == 44
    assert verdicts(there) == verdicts(here)
    stored = open_store(store_url).get_run(job.run_id)
    assert stored["status"] == "done" and stored["n_requests"] == 44


def test_cancelling_a_cluster_eval_leaves_no_task_running(client: Any, store_url: str) -> None:
    srv = SimServer(seed=0).start_in_thread()
    try:
        first = srv._requests
        job = lj.evaluate("example", "sim:ttft=4000,out=4", api_base=srv.base_url,
                          display=False, cluster=client)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and srv._requests - first < 2:
            time.sleep(0.05)
        assert srv._requests - first >= 2
        assert job.cancel() is True
        job.wait(60)
        assert job.state == "cancelled" and _processing(client) == 0 and _running(client) == 0
        sent = srv._requests
        time.sleep(1.0)
        assert srv._requests == sent
    finally:
        srv.stop_thread()
