"""The lab panel's REST calls with 10k runs in the store (issue 15): each endpoint of a real
Jupyter Server (the installed extension) over HTTP, next to two baselines from the same
run: the server's own ``/api/status`` (HTTP, auth and JSON, no store) and the raw SQL of
the newest 50 runs.

    .venv/bin/python benchmarks/panel_api.py [--runs 10000] [--backend sqlite,postgresql]

Prints one table per backend: the median of ``--reps`` calls after a warm-up, the target
(< 300 ms) and the ratio to the raw SQL. The panel's first paint in a browser is measured
by the browser test of the panel, not here.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _scale_backends import Postgres, SQLite
from sqlalchemy import create_engine, insert, text
from store_scale import SEED, Table, median_ms, run_records, texts

from llmbench_jupyter.store import Store
from llmbench_jupyter.store.models import Run

OWNER = "panel-bench"
ENDPOINTS = ("status", "jobs?limit=50", "runs?limit=50", "leaderboard?limit=20",
             "experiments", "schedules")  # fmt: skip


def fill(store: Store, url: str, n_runs: int) -> None:
    """``n_runs`` small bench runs (two records each, through add_records, so each has its
    summaries), 200 jobs, 20 experiments of 10 runs, 20 schedules."""
    rng = np.random.default_rng(SEED)
    pool, t0 = texts(rng), datetime(2025, 1, 1, tzinfo=UTC)
    ids = [rng.bytes(8).hex() for _ in range(n_runs)]
    spec = {"targets": [{"provider": "openai", "model": "gpt-4o-mini"}]}
    rows = [{"run_id": run_id, "owner": OWNER, "kind": "bench", "name": f"run-{i}",
             "status": "done", "created_at": t0 + timedelta(minutes=i),
             "finished_at": t0 + timedelta(minutes=i, seconds=5), "spec": spec,
             "config_snapshot": {}, "versions": {}, "host": {}, "n_requests": 0,
             "n_errors": 0, "published": False} for i, run_id in enumerate(ids)]  # fmt: skip
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Run), rows)
    engine.dispose()
    small = [rec for i, run_id in enumerate(ids) for rec in
             run_records(rng, pool, run_id, 5 * i, 2, 0, t0)]  # fmt: skip
    for i in range(0, len(small), 2000):
        store.add_records(small[i : i + 2000])
    for i in range(200):
        store.create_job(job_id=f"{i:032x}", kind="bench", spec={}, pid=1, host="bench",
                         owner=OWNER, name=f"job-{i}")  # fmt: skip
    for e in range(20):
        store.create_experiment(f"exp-{e}", owner=OWNER)
        store.add_experiment_runs(f"exp-{e}", ids[e * 10 : e * 10 + 10], baseline=ids[e * 10],
                                  owner=OWNER)  # fmt: skip
    now = datetime.now(UTC)
    for s in range(20):
        store.save_schedule(f"sched-{s}", owner=OWNER, fields={
            "kind": "bench", "options": {"model": "sim-fast"}, "cron": "0 6 * * *",
            "timezone": "UTC", "missed": "skip", "enabled": True,
            "next_due_at": now + timedelta(hours=s), "created_at": now})  # fmt: skip


def serve(url: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = {**os.environ, "LLMBENCH_DB_URL": url, "LLMBENCH_USER": OWNER,
           "JUPYTER_RUNTIME_DIR": str(tmp / "rt"),
           "JUPYTER_CONFIG_DIR": str(tmp / "cfg")}  # fmt: skip
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp}"]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            return proc, base, token
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("jupyter server did not start") from None
            time.sleep(0.2)


def get(base: str, token: str, path: str) -> bytes:
    req = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body: bytes = resp.read()
        if resp.status != 200:
            raise SystemExit(f"{path}: HTTP {resp.status}")
        return body


def bench(make: Any, args: argparse.Namespace) -> Table:
    be = make("panel")
    table = Table(be.name)
    os.environ["LLMBENCH_USER"] = OWNER  # the store's rows and the server's user
    store = Store(be.url)
    t = time.perf_counter()
    fill(store, be.url, args.runs)
    print(f"  {be.name}: {args.runs:,} runs, 200 jobs, 20 experiments, 20 schedules stored "
          f"in {time.perf_counter() - t:.0f} s")  # fmt: skip
    engine = create_engine(be.url)
    newest = text("SELECT * FROM runs ORDER BY created_at DESC, run_id LIMIT 50")
    with engine.connect() as conn:
        raw = median_ms(lambda: conn.execute(newest).fetchall(), args.reps)
    engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, token = serve(be.url, Path(tmp))
        try:
            floor = median_ms(lambda: get(base, token, "/api/status"), args.reps)
            table.add("server's own /api/status (no store)", floor, "ms", None, raw)
            for path in ENDPOINTS:
                url = f"/llmbench/api/{path}"
                ms = median_ms(lambda u=url: get(base, token, u), args.reps)  # type: ignore[misc]
                table.add(f"GET /llmbench/api/{path}", ms, "ms", 300, raw)
        finally:
            proc.terminate()
            proc.wait(20)
    store.close()
    be.drop()
    print(f"  baseline: the newest 50 runs in raw SQL, {raw:.1f} ms")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    makers = {"sqlite": SQLite, "postgresql": Postgres}
    names = [b.strip() for b in args.backend.split(",") if b.strip()]
    print(f"panel_api: {args.runs:,} runs, backends {names}, {os.cpu_count()} CPUs, median of "
          f"{args.reps} after a warm-up")  # fmt: skip
    for name in names:
        bench(makers[name], args).print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
