"""What the panel's benchmarks share: a store filled like a busy user's (``fill``) and a
real Jupyter server on it (``serve``, from tests/jupyter_procs.py, the tests' own way of
starting one)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert
from store_scale import SEED, run_records, texts

from llmbench_jupyter.store import Store
from llmbench_jupyter.store.models import Run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from jupyter_procs import LAB_FLAGS, Jupyter, JupyterStartError, start, stop

__all__ = ["LAB_FLAGS", "OWNER", "Jupyter", "fill", "serve", "stop"]
OWNER = "panel-bench"


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


def serve(app: str, url: str, tmp: Path, extra: list[str] | None = None) -> Jupyter:
    """``app`` ("server" or "lab") on the store at ``url``, as :data:`OWNER`, with tmp
    Jupyter config, data and settings dirs (a developer's own setup never leaks in)."""
    env = {**os.environ, "LLMBENCH_DB_URL": url, "LLMBENCH_USER": OWNER,
           "JUPYTER_CONFIG_DIR": str(tmp / "cfg"), "XDG_DATA_HOME": str(tmp / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}  # fmt: skip
    try:
        return start(app, tmp, env, tmp / "rt", tmp / f"{app}.log", extra, timeout=120)
    except JupyterStartError as exc:
        raise SystemExit(str(exc)) from None
