"""Many writers at once, and a writer killed mid-run, on SQLite (WAL) and PostgreSQL.

Each writer is its own process writing through ``StoreWriter`` (the benchmark engine's
writer thread), so SQLite's file locks and PostgreSQL's row locks are really contended.
Afterwards nothing may be lost, no writer may have seen a lock error, and the summary
rows must agree exactly with the records they summarize.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from llmbench_jupyter.stats import Sketch
from llmbench_jupyter.store import Store

PROC = Path(__file__).parent / "store_writer_proc.py"
WRITERS, PER_WRITER = 8, 10_000


def _new_run(store: Store, name: str) -> str:
    return store.create_run(
        name=name, spec={"targets": []}, config_snapshot={}, versions={}, host={}
    )


def _writer(url: str, run_id: str, n: int, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROC), url, run_id, str(n), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_summaries_agree(store: Store, run_id: str) -> int:
    """Summaries equal an aggregate of the run's records, group by group; returns the
    number of records."""
    with store._engine.connect() as conn:
        groups = conn.execute(
            sa.text(
                "SELECT provider, model, context_tier, count(*) AS requests, "
                "sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) AS ok, "
                "sum(CASE WHEN status = 'ok' AND ttft_ms IS NOT NULL THEN 1 ELSE 0 END) AS timed "
                "FROM requests r JOIN request_labels l "
                "ON l.run_id = r.run_id AND l.label = r.label "
                "WHERE r.run_id = :r AND NOT is_warmup "
                "GROUP BY provider, model, context_tier"
            ),
            {"r": run_id},
        ).all()
        total = conn.execute(
            sa.text("SELECT count(*) FROM requests WHERE run_id = :r"), {"r": run_id}
        ).scalar()
    summaries = {
        (s["provider"], s["model"], s["context_tier"]): s for s in store.summary_rows([run_id])
    }
    assert len(summaries) == len(groups)
    for g in groups:
        s = summaries[(g.provider, g.model, g.context_tier)]
        assert (s["requests"], s["ok"], s["errors"]) == (g.requests, g.ok, g.requests - g.ok)
        sketch = Sketch.merge([s["ttft_ms_sketch"]])
        assert (sketch.n if sketch else 0) == g.timed
    assert store.get_run(run_id)["n_requests"] == total
    return int(total)


@pytest.mark.slow
def test_eight_writers_at_once_lose_nothing(db_url: str) -> None:
    store = Store(db_url)
    runs = [_new_run(store, "concurrent-a"), _new_run(store, "concurrent-b")]
    # four writers per run: they also contend for the same summary rows
    procs = [_writer(db_url, runs[i % 2], PER_WRITER, seed=i) for i in range(WRITERS)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:] + out[-2000:]
        report = json.loads(out.strip().splitlines()[-1])
        assert report == {"written": PER_WRITER, "errors": []}
    assert sum(_check_summaries_agree(store, run) for run in runs) == WRITERS * PER_WRITER
    store.close()


@pytest.mark.slow
def test_a_writer_killed_mid_run_leaves_summaries_that_agree(db_url: str) -> None:
    store = Store(db_url)
    run_id = _new_run(store, "killed")
    proc = _writer(db_url, run_id, 0, seed=7)  # writes until killed
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # let it commit a few batches, then kill it
            if store.get_run(run_id)["n_requests"] >= 3000:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        else:
            pytest.fail("the writer committed fewer than 3,000 records in 120 s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    reopened = Store(db_url)  # as after a crash: a new connection, SQLite recovers its WAL
    assert _check_summaries_agree(reopened, run_id) >= 3000
    reopened.close()
    store.close()
