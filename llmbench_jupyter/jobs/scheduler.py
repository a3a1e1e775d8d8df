"""Scheduled benchmarks and evals: the runs that are there in the morning.

``add_schedule`` checks everything a firing will need when the schedule is made (the cron
expression through APScheduler's ``CronTrigger``, the time zone, and the options by
building the very spec a firing builds), so a mistake fails now, not at 6 a.m.
``run_due`` fires what is due, each in the store under its owner like any run:

- **No overlap.** A firing claims its schedule first (``Store.claim_schedule``, one
  conditional update): a second scheduler, or the next firing while a long run is still
  going, finds it taken and leaves it.
- **Missed firings** (the scheduler was down past a due time by more than ``GRACE``):
  ``missed="skip"`` runs nothing for them; ``"catch_up"`` runs once for all of them. Either
  way the next due time is the first one after now.
- **Audit.** Every firing writes ``schedule.start`` and ``schedule.end`` (with the run id
  and status); a skipped slot ``schedule.skip``; a taken lock ``schedule.busy``.

``serve`` loops over ``run_due`` (``llmbench scheduler``); ``timer_units`` prints the
systemd user timer that runs ``llmbench scheduler --once`` every minute instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from llmbench_jupyter.core.errors import InputError, scrub

KINDS = ("bench", "eval")
MISSED = ("skip", "catch_up")
#: A due time passed by less than this is on time, not missed.
GRACE = timedelta(minutes=10)


def _trigger(cron: str, timezone: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise InputError(f"schedule: cron {cron!r} must have 5 fields (minute hour day month "
                         "weekday), e.g. '0 6 * * *' for 6:00 every day")  # fmt: skip
    try:
        return CronTrigger.from_crontab(cron, timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise InputError(f"schedule: cron {cron!r} in {timezone!r}: {exc}") from None


def next_due(cron: str, timezone: str, after: datetime) -> datetime:
    """The first firing strictly after ``after`` (UTC)."""
    found = _trigger(cron, timezone).get_next_fire_time(None, after + timedelta(seconds=1))
    if found is None:
        raise InputError(f"schedule: cron {cron!r} never fires again")
    return found.astimezone(UTC)


def _spec(kind: str, options: dict[str, Any], name: str) -> tuple[Any, dict[str, Any]]:
    """The spec a firing runs (named after the schedule unless the options name it)."""
    from llmbench_jupyter.jobs.specs import build_bench_spec, build_eval_spec

    given = {"name": f"schedule {name}", **options}
    if kind == "bench":
        return build_bench_spec(**given)
    return build_eval_spec(**given)


def add_schedule(name: str, cron: str, *, kind: str = "bench", timezone: str = "UTC",
                 missed: str = "skip", store: Any = None, replace: bool = False,
                 **options: Any) -> dict[str, Any]:  # fmt: skip
    """Schedule ``kind`` with ``options`` (those of ``lj.bench`` / ``lj.evaluate``) on
    ``cron`` in ``timezone``; the stored schedule with its first due time."""
    from llmbench_jupyter.store import open_store

    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputError(f"schedule: name must be a non-empty string, got {name!r}")
    if kind not in KINDS:
        raise InputError(f"schedule: kind {kind!r}; expected one of {KINDS}")
    if missed not in MISSED:
        raise InputError(f"schedule: missed {missed!r}; expected one of {MISSED}")
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError):
        raise InputError("schedule: options must be plain JSON data (they are stored)") from None
    now = datetime.now(UTC)
    first = next_due(cron, timezone, now)
    _spec(kind, dict(options), name)  # a bad model, suite or option fails now, not at 6 a.m.
    db = store or open_store()
    row = db.save_schedule(name, replace=replace, fields={
        "kind": kind, "options": options, "cron": cron, "timezone": timezone,
        "missed": missed, "enabled": True, "next_due_at": first, "created_at": now,
    })  # fmt: skip
    db.audit("schedule.add", name, {"kind": kind, "cron": cron, "timezone": timezone})
    return row


def _fire(store: Any, schedule: dict[str, Any]) -> tuple[str | None, str]:
    """Run one firing to the end; (run id, run status)."""
    spec, snapshot = _spec(schedule["kind"], dict(schedule["options"]), schedule["name"])
    if schedule["kind"] == "bench":
        from llmbench_jupyter.jobs.bench_run import run

        result = run(spec, store=store, owner=schedule["owner"], config_snapshot=snapshot)
        run_id = result.run_id
    else:
        from llmbench_jupyter.jobs import JobManager
        from llmbench_jupyter.jobs.eval_work import EvalWork

        async def evaluate() -> Any:
            job = JobManager(store, owner=schedule["owner"]).submit(
                EvalWork(spec, save=True, config_snapshot=snapshot))  # fmt: skip
            return await job

        run_id = asyncio.run(evaluate()).run_id
    status = store.get_run(run_id, owner=schedule["owner"])["status"] if run_id else "failed"
    return run_id, status


def run_due(store: Any, *, now: datetime | None = None,
            fire: Callable[[Any, dict[str, Any]], tuple[str | None, str]] = _fire,
            ) -> list[dict[str, Any]]:  # fmt: skip
    """Fire every due schedule of the caller (see the module); what happened to each."""
    now = now or datetime.now(UTC)
    out = []
    for s in store.list_schedules():
        if not s["enabled"] or s["next_due_at"] > now:
            continue
        name, late = s["name"], now - s["next_due_at"]
        following = next_due(s["cron"], s["timezone"], now)
        if not store.claim_schedule(name, now):
            store.audit("schedule.busy", name, {"due": s["next_due_at"].isoformat()})
            out.append({"name": name, "action": "busy"})
            continue
        if late > GRACE and s["missed"] == "skip":
            store.finish_schedule(name, next_due_at=following)
            store.audit("schedule.skip", name, {"missed_since": s["next_due_at"].isoformat(),
                                                "next": following.isoformat()})  # fmt: skip
            out.append({"name": name, "action": "skipped", "next_due_at": following})
            continue
        store.audit("schedule.start", name, {"due": s["next_due_at"].isoformat()})
        run_id, error = None, None
        try:
            run_id, status = fire(store, s)
        except Exception as exc:  # the schedule lives on; the reason is kept, scrubbed
            status, error = "failed", scrub(f"{type(exc).__name__}: {exc}")
        store.finish_schedule(name, next_due_at=following, fired_at=now, run_id=run_id,
                              status=status, error=error)  # fmt: skip
        store.audit("schedule.end", name, {"run_id": run_id, "status": status, "error": error})
        out.append({"name": name, "action": "fired", "run_id": run_id, "status": status,
                    "error": error, "next_due_at": following})  # fmt: skip
    return out


def serve(store: Any, *, interval_s: float = 30.0, stop: threading.Event | None = None,
          log: Callable[[str], None] = print) -> None:  # fmt: skip
    """Fire due schedules until ``stop`` is set, checking every ``interval_s`` seconds."""
    stop = stop or threading.Event()
    while not stop.is_set():
        for done in run_due(store):
            log(" ".join(f"{k}={v}" for k, v in done.items() if v is not None))
        stop.wait(interval_s)


def timer_units(command: str) -> str:
    """A systemd user service and timer that run ``command`` (``llmbench scheduler
    --once``) every minute, and the crontab line that does the same."""
    return f"""# ~/.config/systemd/user/llmbench-scheduler.service
[Unit]
Description=llmbench scheduled benchmarks and evals

[Service]
Type=oneshot
ExecStart={command}

# ~/.config/systemd/user/llmbench-scheduler.timer
[Unit]
Description=Run due llmbench schedules every minute

[Timer]
OnCalendar=*-*-* *:*:00
Persistent=true

[Install]
WantedBy=timers.target

# then: systemctl --user daemon-reload && systemctl --user enable --now llmbench-scheduler.timer
# (and loginctl enable-linger $USER, so it runs while you are logged out)
# or, with cron instead:  * * * * * {command}
"""


def schedule(name: str, cron: str, *, kind: str = "bench", timezone: str = "UTC",
             missed: str = "skip", replace: bool = False,
             **options: Any) -> dict[str, Any]:  # fmt: skip
    """Run ``lj.bench`` (``kind="bench"``) or ``lj.evaluate`` (``"eval"``) with
    ``options`` on ``cron`` in ``timezone``, fired by ``llmbench scheduler`` (or its
    systemd timer: ``llmbench scheduler --print-timer``) even when no notebook is open.
    ``missed``: after downtime, ``"skip"`` the missed firings or ``"catch_up"`` once.
    Checked now; the stored schedule with its first due time."""
    return add_schedule(name, cron, kind=kind, timezone=timezone, missed=missed,
                        replace=replace, **options)  # fmt: skip
