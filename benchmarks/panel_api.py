"""The lab panel's REST calls with 10k runs in the store (issue 15): each endpoint of a real
Jupyter Server (the installed extension) over HTTP, next to two baselines from the same
run: the server's own ``/api/status`` (HTTP, auth and JSON, no store) and the raw SQL of
the newest 50 runs.

    .venv/bin/python benchmarks/panel_api.py [--runs 10000] [--backend sqlite,postgresql]

Prints one table per backend: the median of ``--reps`` calls after a warm-up, the target
(< 300 ms) and the ratio to the raw SQL. The panel's first paint in a browser is measured
by ``panel_first_paint.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _panel_store import OWNER, fill, serve, stop
from _scale_backends import Postgres, SQLite
from sqlalchemy import create_engine, text
from store_scale import Table, median_ms

from llmbench_jupyter.store import Store

ENDPOINTS = ("status", "jobs?limit=50", "runs?limit=50", "leaderboard?limit=20",
             "experiments", "schedules")  # fmt: skip


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
        server = serve("server", be.url, Path(tmp))
        base, token = server.base_url, server.token
        try:
            floor = median_ms(lambda: get(base, token, "/api/status"), args.reps)
            table.add("server's own /api/status (no store)", floor, "ms", None, raw)
            for path in ENDPOINTS:
                url = f"/llmbench/api/{path}"
                ms = median_ms(lambda u=url: get(base, token, u), args.reps)  # type: ignore[misc]
                table.add(f"GET /llmbench/api/{path}", ms, "ms", 300, raw)
        finally:
            stop(server)
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
