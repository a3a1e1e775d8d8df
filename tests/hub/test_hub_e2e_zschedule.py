"""A schedule fires while its user's server is stopped, as that user (runs last: it stops
A's server).

A schedules a long benchmark every minute and logs out (the admin stops A's server). The
hub's scheduler service must fire it as A: the run is stored under A's role and nobody
else's, the audit log has the firing, and the next minute, due while the first run is
still going, starts no second run on top of it.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from hub_world import World

SCHEDULE = """
import llmbench_jupyter as lj
made = lj.schedule("e2e-nightly", "* * * * *", provider="local-sim", model="sim-slow",
                   runs=40, warmup=0, max_tokens=48)
print(json.dumps({"next_due_at": made["next_due_at"].isoformat(), "owner": made["owner"]}))
"""


def _rows(engine: sa.Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).fetchall()]


def test_a_schedule_fires_as_its_user_while_their_server_is_stopped(world: World) -> None:
    role_a, role_b = world.whoami["a"]["db_role"], world.whoami["b"]["db_role"]
    made = world.kernels["a"].execute(SCHEDULE).json()
    assert made["owner"] == role_a
    resp = world.admin.api("DELETE", f"/users/{world.a.name}/server")
    assert resp.status_code in (202, 204), resp.text
    deadline = time.monotonic() + 60
    while world.admin.api("GET", f"/users/{world.a.name}").json()["servers"]:
        assert time.monotonic() < deadline, "A's server did not stop"
        time.sleep(1)
    engine = world.superuser_engine("llmbench")
    runs_sql = ("SELECT run_id, owner, status, created_at, finished_at FROM runs "
                "WHERE name = 'schedule e2e-nightly' ORDER BY created_at")  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            runs = _rows(engine, runs_sql)
            if runs and runs[0][4] is not None:  # the first firing has finished
                break
            assert time.monotonic() < deadline, f"no finished firing: {runs}"
            time.sleep(3)
        first = runs[0]
        assert first[1] == role_a and first[2] == "done"
        assert all(r[1] == role_a for r in runs)  # under A's role, nobody else's
        # the run spanned at least one due time; no second firing started inside it
        started_inside = [r for r in runs[1:] if r[3] < first[4]]
        assert started_inside == [], runs
        assert (first[4] - first[3]).total_seconds() > 60, "the run was too short to test"
        records = _rows(engine, "SELECT count(*), min(owner), max(owner) FROM requests "
                        "WHERE run_id = :r", r=first[0])[0]  # fmt: skip
        assert records == (40, role_a, role_a)
        actions = [r[0] for r in _rows(
            engine, "SELECT action FROM audit_log WHERE owner = :o AND target = 'e2e-nightly' "
            "ORDER BY created_at", o=role_a)]  # fmt: skip
        assert actions[:3] == ["schedule.add", "schedule.start", "schedule.end"], actions
        assert not _rows(engine, "SELECT 1 FROM audit_log WHERE owner = :o AND target = "
                         "'e2e-nightly'", o=role_b)  # fmt: skip
    finally:
        with engine.begin() as conn:  # no more firings during the teardown
            conn.execute(sa.text("DELETE FROM schedules WHERE name = 'e2e-nightly'"))
        engine.dispose()
