"""Schedules: checked when made, fired when due (real benchmark runs on the simulator),
never two firings at once, missed slots skipped or caught up, every firing audited."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.scheduler import add_schedule, next_due, run_due, timer_units
from llmbench_jupyter.store import Store

BENCH = {"model": "sim-fast", "runs": 2, "warmup": 0, "max_tokens": 16}


@pytest.fixture
def db(tmp_path: Path) -> Any:
    store = Store(f"sqlite:///{tmp_path / 'sched.db'}")
    yield store
    store.close()


def _actions(store: Any) -> list[str]:
    return [e["action"] for e in reversed(store.audit_log(limit=50))
            if e["action"].startswith("schedule.")]  # fmt: skip


def test_a_due_schedule_fires_a_real_run_and_moves_on(db) -> None:  # type: ignore[no-untyped-def]
    made = add_schedule("nightly", "0 6 * * *", store=db, **BENCH)
    due = made["next_due_at"]
    assert due > datetime.now(UTC) and (due.hour, due.minute) == (6, 0)
    assert run_due(db, now=due - timedelta(minutes=1)) == []  # not yet
    (done,) = run_due(db, now=due + timedelta(minutes=1))
    assert done["action"] == "fired" and done["status"] == "done" and done["error"] is None
    run = db.get_run(done["run_id"])
    assert run["kind"] == "bench" and run["name"] == "schedule nightly"
    assert len(db.records(done["run_id"])) == 2  # the results land like any run
    row = db.schedule("nightly")
    assert row["last_run_id"] == done["run_id"] and row["running_since"] is None
    assert row["next_due_at"] == due + timedelta(days=1)
    assert _actions(db) == ["schedule.add", "schedule.start", "schedule.end"]


def test_two_schedulers_at_once_fire_one_run(db) -> None:  # type: ignore[no-untyped-def]
    made = add_schedule("once", "*/5 * * * *", store=db, **BENCH)
    now = made["next_due_at"] + timedelta(seconds=30)
    fired: list[str] = []

    def slow_fire(store: Any, schedule: dict[str, Any]) -> tuple[str | None, str]:
        fired.append(schedule["name"])
        time.sleep(0.5)  # a long run: the other scheduler must not start it again
        return None, "done"

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(run_due(db, now=now,
                                                                      fire=slow_fire)))
               for _ in range(2)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert fired == ["once"]
    actions = sorted(r[0]["action"] for r in results if r)
    assert actions == ["busy", "fired"] or actions == ["fired"]  # the second saw it taken
    # while a firing holds the lock, another due check leaves it alone
    assert db.claim_schedule("once", now + timedelta(minutes=5))
    assert run_due(db, now=now + timedelta(minutes=6))[0]["action"] == "busy"
    assert "schedule.busy" in _actions(db)


@pytest.mark.parametrize(("missed", "fires"), [("skip", 0), ("catch_up", 1)])
def test_missed_slots_are_skipped_or_caught_up_once(db, missed: str, fires: int) -> None:  # type: ignore[no-untyped-def]
    made = add_schedule("hourly", "0 * * * *", missed=missed, store=db, **BENCH)
    later = made["next_due_at"] + timedelta(days=3, minutes=30)  # 72 slots passed
    fired: list[str] = []
    (done,) = run_due(db, now=later, fire=lambda s, sch: (fired.append("x"), (None, "done"))[1])
    assert len(fired) == fires
    assert done["action"] == ("skipped" if missed == "skip" else "fired")
    assert db.schedule("hourly")["next_due_at"] == next_due("0 * * * *", "UTC", later)


def test_a_failed_firing_is_recorded_and_the_schedule_lives_on(db) -> None:  # type: ignore[no-untyped-def]
    made = add_schedule("flaky", "0 6 * * *", store=db, **BENCH)

    def broken(store: Any, schedule: dict[str, Any]) -> tuple[str | None, str]:
        raise RuntimeError("endpoint down, key sk-sched-secret-0123456789abcdef")

    (done,) = run_due(db, now=made["next_due_at"], fire=broken)
    assert done["status"] == "failed"
    row = db.schedule("flaky")
    assert row["last_status"] == "failed" and "endpoint down" in row["last_error"]
    assert "sk-sched-secret" not in row["last_error"]  # scrubbed like any stored error
    assert row["next_due_at"] > made["next_due_at"] and row["running_since"] is None


@pytest.mark.parametrize(
    ("cron", "options", "message"),
    [
        ("0 6 * *", {}, "must have 5 fields"),
        ("61 * * * *", {}, "higher than the maximum"),
        ("0 6 * * *", {"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ("0 6 * * *", {"kind": "tune"}, "kind 'tune'"),
        ("0 6 * * *", {"missed": "later"}, "missed 'later'"),
        ("0 6 * * *", {"model": "gpt-9"}, "not configured"),
    ],
)
def test_a_bad_schedule_is_refused_when_made(
    db,
    cron: str,
    options: dict[str, Any],  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    with pytest.raises(Exception, match=message):
        add_schedule("bad", cron, store=db, **{**BENCH, **options})
    assert db.list_schedules() == []


def test_the_timer_units_run_the_scheduler_every_minute() -> None:
    text = timer_units("/opt/venv/bin/llmbench scheduler --once")
    assert "ExecStart=/opt/venv/bin/llmbench scheduler --once" in text
    assert "OnCalendar=*-*-* *:*:00" in text and "Persistent=true" in text
    with pytest.raises(InputError):
        next_due("not a cron", "UTC", datetime.now(UTC))


def test_the_cli_adds_lists_fires_and_deletes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    options = '{"model": "sim-fast", "runs": 2, "warmup": 0}'
    assert main(["schedule", "add", "daily", "--cron", "0 6 * * *", "--options", options,
                 "--db", db]) == 0  # fmt: skip
    assert "schedule daily: next at " in capsys.readouterr().out
    assert main(["schedule", "list", "--db", db]) == 0
    assert "0 6 * * *" in capsys.readouterr().out
    assert main(["scheduler", "--once", "--db", db]) == 0  # nothing due yet
    assert capsys.readouterr().out == ""
    assert main(["scheduler", "--print-timer"]) == 0
    assert "scheduler --once" in capsys.readouterr().out
    assert main(["schedule", "add", "bad", "--cron", "0 6 * *", "--db", db]) == 2
    assert "must have 5 fields" in capsys.readouterr().err
    assert main(["schedule", "delete", "daily", "--db", db]) == 0
    assert Store(db).list_schedules() == []


@pytest.mark.postgres
def test_the_hub_service_finds_the_owners_with_a_due_schedule(owner: str, pg_url: str) -> None:
    """What the hub's scheduler service asks the store first (as its owner role)."""
    from llmbench_jupyter.hub.scheduler_service import due_owners

    url = pg_url
    pg = Store(url)
    try:
        now = datetime.now(UTC)
        fields = {"kind": "bench", "options": BENCH, "cron": "0 6 * * *", "timezone": "UTC",
                  "missed": "skip", "enabled": True, "created_at": now}  # fmt: skip
        pg.save_schedule("due", owner=owner, fields={**fields, "next_due_at": now - timedelta(1)})
        pg.save_schedule("later", owner=f"{owner}-2",
                         fields={**fields, "next_due_at": now + timedelta(1)})  # fmt: skip
        found = due_owners(url)
        assert owner in found and f"{owner}-2" not in found
        assert pg.claim_schedule("due", now, owner=owner)  # running: not due for the service
        assert owner not in due_owners(url)
    finally:
        pg.delete_schedule("due", owner=owner)
        pg.delete_schedule("later", owner=f"{owner}-2")
        pg.close()
