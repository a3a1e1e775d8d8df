"""``workers=N`` from every surface: ``lj.bench``, ``%llmbench bench --workers``, the CLI
flag, and a job cancelled from the notebook API stopping every worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from IPython.core.interactiveshell import InteractiveShell

import llmbench_jupyter as lj
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


def _worker_pids() -> set[int]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", url)
    reset_manager(JobManager(open_store(url)))
    yield url
    reset_manager(None)


def test_lj_bench_with_workers_stores_every_record(sim: SimServer, store_url: str) -> None:
    job = lj.bench(api_base=sim.base_url, model="sim:ttft=5,itl=1,out=10", runs=9, warmup=1,
                   concurrency=3, workers=2, display=False)  # fmt: skip
    result = job.wait(120)
    assert job.state == "done" and result.overhead["workers"]["count"] == 2
    assert len(result.records) == 10 and len(job.records) == 10
    stored = open_store(store_url).records(job.run_id)
    assert {r.request_id for r in stored} == {r.request_id for r in result.records}
    run = open_store(store_url).get_run(job.run_id)
    assert run["status"] == "done"
    assert run["spec"]["workers"] == 2
    assert len(run["overhead"]["workers"]["per_worker"]) == 2  # stored with the run
    assert "offset_ns" in run["overhead"]["workers"]["per_worker"][0]["clock"]


def test_cancelling_the_job_stops_every_worker(sim: SimServer, store_url: str) -> None:
    first = sim._requests
    job = lj.bench(api_base=sim.base_url, model="sim:ttft=3000,out=4,jitter=0", runs=8,
                   warmup=0, concurrency=4, workers=2, display=False)  # fmt: skip
    seen: set[int] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (len(seen) >= 2 and sim._requests - first >= 4):
        time.sleep(0.05)
        seen |= _worker_pids()
    assert len(seen) >= 2 and sim._requests - first >= 4
    assert job.cancel() is True
    result = job.wait(60)
    assert job.state == "cancelled" and result.status == "cancelled"
    assert open_store(store_url).get_run(job.run_id)["status"] == "cancelled"
    assert not [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_magic_takes_workers(store_url: str) -> None:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "llmbench_jupyter")
    ip.run_line_magic("llmbench", "sim start")
    try:
        job = ip.run_line_magic(
            "llmbench", "bench -p local-sim -m sim-fast --runs 4 --warmup 0 -c 2 --workers 2"
        )
        result = job.wait(120)
        assert job.state == "done" and result.overhead["workers"]["count"] == 2
        assert len(result.measured) == 4 and result.ok_count == 4
    finally:
        ip.run_line_magic("llmbench", "sim stop")


def test_cli_workers_flag_runs_and_rejects_bad_values(sim: SimServer, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    base = [sys.executable, "-m", "llmbench_jupyter", "bench", "--api-base", sim.base_url,
            "--model", "sim:ttft=5,itl=1,out=8"]  # fmt: skip
    proc = subprocess.run(
        [*base, "--runs", "6", "--warmup", "0", "-c", "2", "--workers", "2", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "busiest of 2 worker processes" in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["run_index"] for r in rows) == list(range(6))
    bad = subprocess.run([*base, "--workers", "0"], capture_output=True, text=True, env=env,
                         timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "--workers: found 0, expected an integer >= 1" in bad.stderr
    refused = subprocess.run([*base, "-c", "2", "--workers", "3", "--no-save"],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert refused.returncode != 0
    assert "workers: found 3, expected at most concurrency (2)" in refused.stderr
    assert "Traceback" not in refused.stderr
