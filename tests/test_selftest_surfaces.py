"""A run's timing self-test bound on every surface: CLI summary, widget state, report HTML,
leaderboard, history, exports; and comparisons that know the bound, both ways.

One real self-test (against the simulated endpoint in its own process) is measured once
for the module; runs reuse its summary as "measured already" where a test is about a
surface rather than the measuring. No speed is asserted.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.records import RECORD_FIELDS
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.selftest import SelftestSpec, run_selftest
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    summary = run_selftest(SelftestSpec(concurrency=2, seconds=0.3)).to_dict()
    assert summary["bound_ms"] is not None and summary["bound_ms"] > 0
    return summary


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "llmbench_jupyter", *args],
                          capture_output=True, text=True, timeout=240, env=env)  # fmt: skip


def test_cli_selftest_then_bench_summary_show_and_export(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    proc = _cli("selftest", "-c", "2", "--seconds", "0.3", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["concurrency"] == 2 and summary["bound_ms"] is not None
    model = "sim:ttft=20,itl=2,out=8,role=1"
    proc = _cli("bench", "--api-base", sim.base_url, "--model", model, "--runs", "3",
                "--selftest", db=db)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "timing self-test: timing error ≤ " in proc.stdout
    assert "ms p99 on this machine at 1 stream" in proc.stdout
    run_id = proc.stdout.split("stored run ")[1].split()[0]
    shown = _cli("results", "show", run_id, db=db)
    assert "timing self-test: timing error ≤ " in shown.stdout, shown.stderr
    out = tmp_path / "records.csv"
    assert _cli("results", "export", run_id, "-o", str(out), db=db).returncode == 0
    with out.open() as fh:
        assert next(csv.reader(fh)) == list(RECORD_FIELDS)  # the columns never change
    side = json.loads((tmp_path / "records.csv.run.json").read_text())
    assert side["run_id"] == run_id and side["timing_selftest"]["bound_ms"] > 0
    # a run without a self-test exports no bound, and removes a stale one at that name
    proc = _cli("bench", "--api-base", sim.base_url, "--model", model, "--runs", "2", db=db)
    other = proc.stdout.split("stored run ")[1].split()[0]
    assert "timing self-test" not in proc.stdout
    assert _cli("results", "export", other, "-o", str(out), db=db).returncode == 0
    assert not (tmp_path / "records.csv.run.json").exists()


def test_widget_state_carries_the_bound_of_a_real_self_test(sim: SimServer, tmp_path: Path) -> None:
    from llmbench_jupyter.kernel.widget import JobWidget

    mgr = JobManager(open_store(f"sqlite:///{tmp_path / 'jobs.db'}"))
    reset_manager(mgr)
    try:

        async def main() -> Any:
            job = lj.bench(api_base=sim.base_url, model="sim:ttft=20,itl=2,out=8", runs=2,
                           warmup=0, selftest=True, display=False)  # fmt: skip
            widget = JobWidget.for_job(job)
            await job
            await asyncio.sleep(0.3)  # the throttled final snapshot
            return job, widget

        job, widget = asyncio.run(main())
    finally:
        reset_manager(None)
    state = widget.snapshot["timing_selftest"]
    stored = job.result().overhead["timing_selftest"]
    assert state["bound_ms"] == stored["bound_ms"] > 0
    assert state["text"].startswith("timing error ≤ ") and "at 1 stream" in state["text"]
    assert "llmbench-timing-bound" in JobWidget._esm  # the front end shows that text


def _run(store: Any, url: str, model: str, summary: dict[str, Any] | None) -> Any:
    spec = BenchSpec(targets=[adhoc(url, model)], runs=8, warmup=1)
    return asyncio.run(arun(spec, store=store, selftest=summary))


def test_report_leaderboard_and_history_show_the_bound(
    sim: SimServer, tmp_path: Path, measured: dict[str, Any]
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    result = _run(store, sim.base_url, "sim:ttft=20,itl=2,out=8,jitter=0", measured)
    assert result.overhead["timing_selftest"] == measured
    loaded = lj.load(result.run_id, store=store)
    assert loaded.overhead["timing_selftest"]["bound_ms"] == measured["bound_ms"]
    page = lj.export_html(loaded, tmp_path / "report.html").read_text()
    assert "Timing self-test: timing error ≤ " in page and "data-timing-bound" in page
    board = lj.leaderboard(store=store, full=True)
    assert board["timing_error_p99_ms"].tolist() == [measured["bound_ms"]]
    history = lj.history(store=store, full=True)
    assert history["timing_error_p99_ms"].tolist() == [measured["bound_ms"]]
    store.close()


def _assert_note_agrees(row: Any, bound: float) -> None:
    """Equal-latency runs: on a quiet machine their difference is inside the bound; on a
    loaded one the sim's scheduling noise can exceed a bound measured when it was quieter,
    and then the note must say so rather than claim a precision the run did not have."""
    within = abs(row["diff"]) <= bound
    expected = "within measurement error" if within else "larger than measurement error"
    assert row["measurement"] == expected, (row["diff"], bound)


def test_compare_says_within_measurement_error_both_ways(
    sim: SimServer, tmp_path: Path, measured: dict[str, Any]
) -> None:
    """Two simulated targets whose TTFT is the same: a note that agrees with their
    difference. One 250 ms slower: a real difference. Both next to the bootstrap CI
    (significant)."""
    bound = measured["bound_ms"]
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    base = _run(store, sim.base_url, "sim:ttft=40,itl=2,out=8,jitter=0", measured)
    same = _run(store, sim.base_url, "sim:ttft=40,itl=3,out=8,jitter=0", measured)
    slow = _run(store, sim.base_url, "sim:ttft=290,itl=2,out=8,jitter=0", measured)
    near = base.compare(same).iloc[0]
    _assert_note_agrees(near, bound)
    assert near["timing_error_p99_ms"] == bound
    # the same measurements reloaded from the store: no difference at all, on any machine
    itself = base.compare(lj.load(base.run_id, store=store)).iloc[0]
    assert itself["diff"] == 0 and itself["measurement"] == "within measurement error"
    assert "significant" in near.index  # the test result stays beside it
    far = base.compare(slow).iloc[0]
    assert far["diff"] > bound and far["measurement"] == "larger than measurement error"
    assert bool(far["significant"]) is True
    assert "measurement" not in base.compare(slow, metric="decode_tps").columns
    store.close()


def test_an_experiment_knows_the_bound_of_its_runs(
    tmp_path: Path, measured: dict[str, Any]
) -> None:
    """One target measured three times by a simulator whose clock passes the date it
    slows down 8× (as ``simulate_history`` does): the slowed-down run is a real
    difference, larger than measurement error; the repeat's note agrees with its numbers."""
    clock = {"now": 1_600_000_000.0}  # 2020-09, before slow_after
    srv = SimServer(seed=0, clock=lambda: clock["now"]).start_in_thread()
    store = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    model = "sim:ttft=40,itl=2,out=8,jitter=0,slow_after=2021-01-01,slow=8"
    try:
        base = _run(store, srv.base_url, model, measured)
        again = _run(store, srv.base_url, model, measured)
        clock["now"] = 1_700_000_000.0  # 2023: slowed down
        slow = _run(store, srv.base_url, model, measured)
    finally:
        srv.stop_thread()
    exp = lj.experiment("bounded", store=store)
    exp.add(base.run_id, baseline=True).add(again.run_id, slow.run_id)
    rows = exp.compare().set_index("run_id")
    repeat = rows.loc[again.run_id]
    assert repeat["timing_error_p99_ms"] == measured["bound_ms"]
    _assert_note_agrees(repeat, measured["bound_ms"])
    assert abs(repeat["diff"]) * 10 < abs(rows.loc[slow.run_id, "diff"])
    assert rows.loc[slow.run_id, "measurement"] == "larger than measurement error"
    assert rows.loc[slow.run_id, "verdict"] == "worse"  # the significance test beside it
    assert rows.loc[slow.run_id, "timing_error_p99_ms"] == measured["bound_ms"]
    store.close()
