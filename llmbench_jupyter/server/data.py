"""What the JupyterLab panel shows, read from the store as the current user: plain JSON
(no NaN, ISO times, no spec or secrets), one function per endpoint, no Jupyter imports so
it is tested on its own. The store decides visibility: on a hub the database role sees
its own rows and published runs, nothing else."""

from __future__ import annotations

import json
import math
from datetime import datetime
from importlib import metadata
from typing import Any

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.redact import redact_url

#: Largest ``limit`` a client may ask for (the panel shows a few dozen rows).
MAX_LIMIT = 500
FINAL_STATES = ("done", "failed", "cancelled", "interrupted")
RANK_BY = ("decode_tps", "ttft_ms", "tpot_ms", "cost", "success_rate")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy and pandas scalars
        return _plain(value.item())
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def _records(df: Any) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe dicts (pandas' own encoder: NaN and NA become null)."""
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", date_format="iso"))
    return out


def limit_of(raw: str | None, default: int = 50) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"limit: found {raw!r}, expected an integer 1 to {MAX_LIMIT}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InputError(f"limit: found {value}, expected an integer 1 to {MAX_LIMIT}")
    return value


def status(store: Any) -> dict[str, Any]:
    store.list_jobs(limit=1)  # reach the database now: an unreachable store says so here
    return {"ok": True, "owner": store._owner(None), "store": redact_url(str(store.url)),
            "version": metadata.version("llmbench-jupyter")}  # fmt: skip


def jobs(store: Any, limit: int) -> dict[str, Any]:
    keep = ("job_id", "kind", "name", "state", "done", "total", "run_id", "created_at",
            "started_at", "finished_at", "error")  # fmt: skip
    rows = []
    for job in store.list_jobs(limit=limit):
        row = {k: _plain(job.get(k)) for k in keep}
        row["cancel_requested"] = job.get("cancel_requested_at") is not None
        rows.append(row)
    return {"jobs": rows}


def cancel(store: Any, job_id: str) -> tuple[int, dict[str, Any]]:
    """Record a cancel request for the caller's job (its process acts on it): 202, or 404
    for no such job of theirs, 409 for a job that has finished."""
    me = store._owner(None)
    try:
        job = store.get_job(job_id)
    except LLMBenchError:
        job = None
    if job is None or job["owner"] != me:
        return 404, {"ok": False, "error": f"no job {job_id!r} of yours"}
    if job["state"] in FINAL_STATES:
        why = f"job {job_id[:8]} is {job['state']} already: nothing to cancel"
        return 409, {"ok": False, "error": why}
    store.request_job_cancel(job_id)
    return 202, {"job_id": job_id, "cancel_requested": True}


def runs(store: Any, limit: int) -> dict[str, Any]:
    from llmbench_jupyter.analysis.results import SOURCE, history

    me = store._owner(None)
    df = history(limit=limit, store=store, include_published=True)
    # one query for what the history frame leaves out: published, and an eval's summary
    listed = {r["run_id"]: r for r in store.list_runs(limit=limit, include_published=True)}
    rows = []
    for row in _records(df):
        run = listed.get(row["run_id"]) or store.get_run(row["run_id"], include_published=True)
        summary = (run.get("summary") or {}) if row["kind"] == "eval" else {}
        rates = {t: s.get("pass_rate") for t, s in summary.items() if isinstance(s, dict)}
        only = next(iter(rates.values())) if len(rates) == 1 else None  # one target's
        rows.append({**row, "mine": row.get("owner") == me, "published": bool(run.get("published")),
                     "pass_rates": rates, "pass_rate": only})  # fmt: skip
    return {"runs": rows, "source": SOURCE}


def leaderboard(store: Any, by: str | None, limit: int) -> dict[str, Any]:
    from llmbench_jupyter.analysis.results import leaderboard as board

    chosen = by or "decode_tps"
    if chosen not in RANK_BY:
        raise InputError(f"by: found {chosen!r}, expected one of {', '.join(RANK_BY)}")
    df = board(by=chosen, store=store, include_published=True)
    if "rank" not in df.columns:  # the compact view leaves it out: its place within its tier
        df.insert(0, "rank", df.groupby("context_tier").cumcount() + 1)
    source = df.attrs.get("source", "")
    return {"rows": _records(df.head(limit)), "source": source}


def experiments(store: Any) -> dict[str, Any]:
    rows = []
    for e in store.list_experiments():
        base = next((r["run_id"] for r in e["runs"] if r["baseline"]), None)
        rows.append({"name": e["name"], "description": e.get("description"),
                     "runs": len(e["runs"]), "studies": len(e.get("studies") or []),
                     "baseline": base, "updated_at": _plain(e.get("updated_at"))})  # fmt: skip
    return {"experiments": rows}


def schedules(store: Any) -> dict[str, Any]:
    keep = ("name", "kind", "cron", "timezone", "enabled", "next_due_at", "running_since",
            "last_fired_at", "last_status", "last_run_id", "last_error")  # fmt: skip
    return {"schedules": [{k: _plain(s.get(k)) for k in keep} for s in store.list_schedules()]}
