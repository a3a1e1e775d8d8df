"""Users of a hub are kept apart by PostgreSQL itself: attacks from a kernel, one by one.

alice, bob and carol (an admin) each connect with their own login role, as a notebook
kernel would, and alice tries every way we know to read or change bob's rows. The
database must refuse, or show her only her own rows and published ones.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import pytest
import sqlalchemy as sa
from alembic import command
from hub_pg import HubDB, hub_database, scram_matches

from llmbench_jupyter.analysis import results
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.hub.provision import (
    DEFAULT_CONNECTION_LIMIT,
    ProvisionError,
    derive_password,
    provision_user,
    role_name,
    setup_database,
)
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.db import alembic_config
from llmbench_jupyter.store.models import Base

pytestmark = pytest.mark.postgres

DENIED = "42501"  # insufficient_privilege: also what a row-level security violation raises


@dataclass
class Seeded:
    hub: HubDB
    stores: dict[str, Store]
    runs: dict[str, str]  # a_priv, a_pub, b_priv, b_pub -> run_id


def _record(run_id: str, i: int, ttft: float) -> RequestRecord:
    return RequestRecord(
        request_id=uuid.uuid4().hex,
        run_id=run_id,
        provider="sim",
        model="m1",
        run_index=i,
        started_at="2026-01-01T00:00:00+00:00",
        send_mono_ns=i,
        status="ok",
        ttft_ms=ttft,
        e2e_ms=ttft * 10,
        output_tokens=100,
        decode_tps=1000.0 / ttft,
    )


def _eval_result(case: str) -> dict[str, Any]:
    return {
        "provider": "sim",
        "model": "m1",
        "case_id": case,
        "category": "simple",
        "attempt": 0,
        "passed": True,
        "outcome": "pass",
        "score": {},
        "calls": [],
        "transcript": [],
    }


def _seed(store: Store, prefix: str) -> dict[str, str]:
    ids = {}
    for label in ("priv", "pub"):
        run_id = store.create_run(
            name=f"{prefix}-{label}", spec={}, config_snapshot={}, versions={}, host={}
        )
        store.add_records([_record(run_id, i, 50.0 + i) for i in range(3)])
        store.add_eval_results(run_id, [_eval_result(f"{prefix}-{label}-case")])
        store.add_judgements(run_id, [{"kind": "case", "judge": "j", "status": "ok"}])
        store.finish_run(run_id, "done")
        ids[f"{prefix}_{label}"] = run_id
    store.publish(ids[f"{prefix}_pub"])
    store.create_job(job_id=uuid.uuid4().hex, kind="bench", spec={}, pid=1, host="h")
    store.audit("test.seed", prefix, {"n": 2})
    store.put_api_key("openai", f"ciphertext-of-{prefix}")
    return ids


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with hub_database({"alice": False, "bob": False, "carol": True}) as hub:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LLMBENCH_DB_MIGRATE", "0")  # what the hub gives user servers
            stores = {name: Store(url) for name, url in hub.urls.items()}
        runs = {**_seed(stores["alice"], "a"), **_seed(stores["bob"], "b")}
        try:
            yield Seeded(hub, stores, runs)
        finally:
            for store in stores.values():
                store.close()


@pytest.fixture
def alice(seeded: Seeded) -> Iterator[psycopg.Connection[Any]]:
    conn = seeded.hub.connect("alice")
    yield conn
    conn.close()


def _ids(conn: psycopg.Connection[Any], query: str, *args: Any) -> set[str]:
    return {row[0] for row in conn.execute(query, args or None).fetchall()}


def _denied(conn: psycopg.Connection[Any], statement: str, *args: Any) -> str:
    """Run ``statement``; it must fail with insufficient_privilege. Returns the message."""
    with pytest.raises(psycopg.Error) as err:
        conn.execute(statement, args or None)
    assert err.value.sqlstate == DENIED, (statement, err.value.sqlstate, str(err.value))
    return str(err.value)


def _bob_rows_intact(seeded: Seeded) -> None:
    with seeded.hub.connect() as su:
        runs = su.execute(
            "SELECT run_id, name, published FROM runs WHERE owner = %s ORDER BY name",
            (seeded.hub.role("bob"),),
        ).fetchall()
        n_requests = su.execute(
            "SELECT count(*) FROM requests WHERE owner = %s", (seeded.hub.role("bob"),)
        ).fetchone()
    assert runs == [(seeded.runs["b_priv"], "b-priv", False), (seeded.runs["b_pub"], "b-pub", True)]
    assert n_requests == (6,)


# ------------------------------------------------------------------- reading
def test_alice_reads_her_rows_and_published_ones_only(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    r = seeded.runs
    visible = {r["a_priv"], r["a_pub"], r["b_pub"]}
    assert _ids(alice, "SELECT run_id FROM runs") == visible
    for child in ("requests", "eval_results", "judgements"):
        assert _ids(alice, f"SELECT DISTINCT run_id FROM {child}") == visible, child
    me = seeded.hub.role("alice")
    for private in ("jobs", "audit_log", "api_keys", "suites"):
        assert _ids(alice, f"SELECT DISTINCT owner FROM {private}") <= {me}, private
    assert _ids(alice, "SELECT DISTINCT owner FROM jobs") == {me}
    assert _ids(alice, "SELECT ciphertext FROM api_keys") == {"ciphertext-of-a"}
    # The superuser sees all four runs: the filter above is the policies' doing.
    with seeded.hub.connect() as su:
        assert len(_ids(su, "SELECT run_id FROM runs")) == 4


def test_session_variables_change_nothing(seeded: Seeded, alice: psycopg.Connection[Any]) -> None:
    before = _ids(alice, "SELECT run_id FROM runs")
    bob = psycopg.sql.Literal(seeded.hub.role("bob"))
    alice.execute(psycopg.sql.SQL("SET app.owner = {}").format(bob))
    alice.execute("SELECT set_config('app.user', %s, false)", (seeded.hub.role("bob"),))
    alice.execute("SELECT set_config('request.user', %s, false)", (seeded.hub.role("bob"),))
    assert _ids(alice, "SELECT run_id FROM runs") == before
    assert seeded.runs["b_priv"] not in before


def test_copy_to_stdout_is_filtered_and_copy_from_refused(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    with alice.cursor() as cur:
        with cur.copy("COPY runs (run_id) TO STDOUT") as copy:
            dumped = {row[0] for row in copy.rows()}
        with cur.copy("COPY (SELECT run_id FROM runs) TO STDOUT") as copy:
            dumped_query = {row[0] for row in copy.rows()}
    r = seeded.runs
    assert dumped == dumped_query == {r["a_priv"], r["a_pub"], r["b_pub"]}
    with (
        pytest.raises(psycopg.Error) as err,
        alice.cursor() as cur,
        cur.copy("COPY runs (run_id, owner) FROM STDIN") as copy,
    ):
        copy.write_row(("x", seeded.hub.role("bob")))
    assert err.value.sqlstate in (DENIED, "0A000")  # RLS tables refuse COPY FROM


def test_planner_statistics_do_not_leak_other_rows(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    with seeded.hub.connect() as su:
        su.execute("ANALYZE runs")
        # The superuser sees most-common values (names of bob's runs among them) ...
        assert su.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'runs'").fetchone()[0]
    # ... alice gets no statistics at all for a table with row-level security.
    assert alice.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'runs'").fetchone() == (
        0,
    )


def test_other_sessions_queries_are_hidden(seeded: Seeded, alice: psycopg.Connection[Any]) -> None:
    with seeded.hub.connect("bob") as bob:
        bob.execute("SELECT 'bob-secret-marker'")
        seen = alice.execute(
            "SELECT query FROM pg_stat_activity WHERE usename = %s", (seeded.hub.role("bob"),)
        ).fetchall()
    assert seen and {q for (q,) in seen} == {"<insufficient privilege>"}


# ------------------------------------------------------------------- writing
def test_update_and_delete_of_bobs_rows_touch_nothing(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    r, bob = seeded.runs, seeded.hub.role("bob")
    assert alice.execute("UPDATE runs SET name = 'pwned' WHERE owner = %s", (bob,)).rowcount == 0
    # bob's published run is readable by alice, yet not writable: only owners write.
    assert (
        alice.execute("UPDATE runs SET name = 'pwned' WHERE run_id = %s", (r["b_pub"],)).rowcount
        == 0
    )
    assert (
        alice.execute("UPDATE runs SET published = false WHERE run_id = %s", (r["b_pub"],)).rowcount
        == 0
    )
    assert alice.execute("DELETE FROM runs WHERE owner = %s", (bob,)).rowcount == 0
    assert alice.execute("DELETE FROM requests WHERE run_id = %s", (r["b_pub"],)).rowcount == 0
    assert alice.execute("DELETE FROM api_keys WHERE owner = %s", (bob,)).rowcount == 0
    _bob_rows_intact(seeded)


def test_rows_in_bobs_name_are_refused(seeded: Seeded, alice: psycopg.Connection[Any]) -> None:
    bob, r = seeded.hub.role("bob"), seeded.runs
    _denied(
        alice,
        "INSERT INTO runs (run_id, owner, kind, status, created_at, spec, config_snapshot, "
        "versions, host, n_requests, n_errors) VALUES (%s, %s, 'bench', 'done', now(), "
        "'{}', '{}', '{}', '{}', 0, 0)",
        uuid.uuid4().hex,
        bob,
    )
    _denied(
        alice,
        "INSERT INTO api_keys VALUES (%s, 'openai', 'x', now(), now())",
        bob,
    )
    _denied(alice, "INSERT INTO audit_log (id, owner, action) VALUES ('x1', %s, 'forged')", bob)
    # Giving one's own row away is refused too (WITH CHECK on the new row).
    _denied(alice, "UPDATE runs SET owner = %s WHERE run_id = %s", bob, r["a_priv"])
    _bob_rows_intact(seeded)


def test_child_rows_cannot_be_attached_to_someone_elses_run(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    """Otherwise alice could slip rows into bob's published run for everyone to read."""
    me, b_pub = seeded.hub.role("alice"), seeded.runs["b_pub"]
    _denied(
        alice,
        "INSERT INTO judgements (judgement_id, run_id, owner, kind, judge, status, messages, "
        "subject, created_at) VALUES (%s, %s, %s, 'case', 'j', 'ok', '[]', '{}', now())",
        uuid.uuid4().hex,
        b_pub,
        me,
    )
    _denied(
        alice,
        "UPDATE eval_results SET run_id = %s WHERE owner = %s",
        b_pub,
        me,
    )
    with pytest.raises(LLMBenchError, match="no run"):  # the store path says so plainly
        seeded.stores["alice"].add_records([_record(seeded.runs["b_priv"], 0, 1.0)])
    _bob_rows_intact(seeded)


# ------------------------------------------------------------------- roles
def test_switching_roles_is_refused_or_gains_nothing(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    roles = seeded.hub.roles
    for target in (seeded.hub.role("bob"), roles.owner, roles.admin, "postgres"):
        _denied(alice, f'SET ROLE "{target}"')
    _denied(alice, f'SET SESSION AUTHORIZATION "{seeded.hub.role("bob")}"')
    before = _ids(alice, "SELECT run_id FROM runs")
    # The group role grants the table privileges alice already inherits; policies key
    # on session_user, which SET ROLE does not change, so she sees and writes the same.
    alice.execute(f'SET ROLE "{roles.user}"')
    assert alice.execute("SELECT session_user::text, current_user::text").fetchone() == (
        seeded.hub.role("alice"),
        roles.user,
    )
    assert _ids(alice, "SELECT run_id FROM runs") == before
    _denied(
        alice,
        "INSERT INTO audit_log (id, owner, action) VALUES (%s, %s, 'shared')",
        uuid.uuid4().hex,
        roles.user,
    )
    alice.execute("RESET ROLE")


def test_ddl_and_policy_tampering_are_refused(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    for statement in (
        "CREATE VIEW leak AS SELECT * FROM runs",
        "CREATE TEMP VIEW leak AS SELECT * FROM runs",
        "CREATE TABLE public.mine (x int)",
        "CREATE TEMP TABLE mine (x int)",
        "CREATE SCHEMA mine",
        "CREATE FUNCTION public.leak() RETURNS SETOF runs LANGUAGE sql SECURITY DEFINER "
        "AS 'SELECT * FROM runs'",
        "CREATE FUNCTION pg_temp.leak() RETURNS SETOF runs LANGUAGE sql SECURITY DEFINER "
        "AS 'SELECT * FROM runs'",
        "ALTER TABLE runs DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE runs NO FORCE ROW LEVEL SECURITY",
        f"DROP POLICY {seeded.hub.prefix}_own ON runs",
        "CREATE POLICY everything ON runs FOR SELECT USING (true)",
        "ALTER TABLE runs OWNER TO CURRENT_USER",
        "TRUNCATE runs",
        "TRUNCATE requests, eval_results, judgements, api_keys, audit_log",
        f'GRANT "{seeded.hub.roles.admin}" TO CURRENT_USER',
        "ALTER ROLE CURRENT_USER BYPASSRLS",
    ):
        _denied(alice, statement)
    _bob_rows_intact(seeded)


def test_audit_log_is_append_only_and_timestamped_by_the_database(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    me = seeded.hub.role("alice")
    entry = uuid.uuid4().hex
    alice.execute("INSERT INTO audit_log (id, owner, action) VALUES (%s, %s, 'mine')", (entry, me))
    stamped = alice.execute("SELECT created_at FROM audit_log WHERE id = %s", (entry,)).fetchone()
    assert stamped is not None and stamped[0] is not None
    _denied(
        alice,
        "INSERT INTO audit_log (id, owner, action, created_at) VALUES (%s, %s, 'old', "
        "'2000-01-01')",
        uuid.uuid4().hex,
        me,
    )
    _denied(alice, "UPDATE audit_log SET action = 'rewritten' WHERE id = %s", entry)
    _denied(alice, "DELETE FROM audit_log WHERE id = %s", entry)


def test_schema_version_table_is_read_only(alice: psycopg.Connection[Any]) -> None:
    assert alice.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
    _denied(alice, "UPDATE alembic_version SET version_num = '0003'")
    _denied(alice, "DELETE FROM alembic_version")
    _denied(alice, "INSERT INTO alembic_version VALUES ('9999')")


def test_admin_reads_everything_but_keys_and_writes_only_own(seeded: Seeded) -> None:
    r = seeded.runs
    with seeded.hub.connect("carol") as carol:
        assert _ids(carol, "SELECT run_id FROM runs") == set(r.values())
        assert _ids(carol, "SELECT DISTINCT run_id FROM requests") == set(r.values())
        actors = _ids(carol, "SELECT DISTINCT owner FROM audit_log")
        assert {seeded.hub.role("alice"), seeded.hub.role("bob")} <= actors
        assert _ids(carol, "SELECT owner FROM api_keys") == set()  # ciphertexts stay private
        assert (
            carol.execute("UPDATE runs SET name = 'x' WHERE run_id = %s", (r["b_priv"],)).rowcount
            == 0
        )
        assert carol.execute("DELETE FROM runs WHERE run_id = %s", (r["b_priv"],)).rowcount == 0
    _bob_rows_intact(seeded)
    admin_store = seeded.stores["carol"]
    assert {e["owner"] for e in admin_store.audit_log(all_owners=True)} >= {
        seeded.hub.role("alice"),
        seeded.hub.role("bob"),
    }


def test_admin_right_follows_provisioning(seeded: Seeded) -> None:
    hub = seeded.hub
    provision_user(hub.admin_url, "carol", hub.secret, admin=False, prefix=hub.prefix)
    try:
        with hub.connect("carol") as carol:
            assert _ids(carol, "SELECT run_id FROM runs") == {
                seeded.runs["a_pub"],
                seeded.runs["b_pub"],
            }
    finally:
        provision_user(hub.admin_url, "carol", hub.secret, admin=True, prefix=hub.prefix)
    with hub.connect("carol") as carol:
        assert len(_ids(carol, "SELECT run_id FROM runs")) == 4


def test_user_roles_have_no_special_attributes(seeded: Seeded) -> None:
    hub = seeded.hub
    with hub.connect() as su:
        for user, groups in (
            ("alice", {hub.roles.user}),
            ("carol", {hub.roles.user, hub.roles.admin}),
        ):
            attrs = su.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication, "
                "rolinherit, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s",
                (hub.role(user),),
            ).fetchone()
            assert attrs == (
                False,
                False,
                False,
                False,
                False,
                True,
                True,
                DEFAULT_CONNECTION_LIMIT,
            )
            member_of = _ids(
                su,
                "SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
                hub.role(user),
            )
            assert member_of == groups
            # The password reached the server only as a SCRAM verifier of the derived one.
            verifier = su.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (hub.role(user),)
            ).fetchone()[0]
            assert verifier.startswith("SCRAM-SHA-256$")
            assert scram_matches(verifier, derive_password(hub.secret, user))
            assert not scram_matches(verifier, derive_password(hub.secret, "mallory"))
        owner_attrs = su.execute(
            "SELECT rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = %s",
            (hub.roles.owner,),
        ).fetchone()
        assert owner_attrs == (False, False, False)


def test_every_owned_table_is_locked_down(seeded: Seeded) -> None:
    """Enumerated from the models: a table added later is covered without code changes."""
    owned = [t.name for t in Base.metadata.sorted_tables if "owner" in t.columns]
    assert {"runs", "requests", "jobs", "suites", "eval_results", "judgements"} <= set(owned)
    assert {"audit_log", "api_keys"} <= set(owned)
    hub = seeded.hub
    with hub.connect() as su:
        for table in owned:
            row = su.execute(
                "SELECT relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner)::text "
                "FROM pg_class WHERE oid = %s::regclass",
                (f"public.{table}",),
            ).fetchone()
            assert row == (True, True, hub.roles.owner), table
            for privilege in ("TRUNCATE", "REFERENCES", "TRIGGER"):
                assert not su.execute(
                    "SELECT has_table_privilege(%s, %s, %s)",
                    (hub.role("alice"), f"public.{table}", privilege),
                ).fetchone()[0], (table, privilege)
        user = hub.role("alice")
        schema_create, db_create, db_temp = su.execute(
            "SELECT has_schema_privilege(%s, 'public', 'CREATE'), "
            "has_database_privilege(%s, current_database(), 'CREATE'), "
            "has_database_privilege(%s, current_database(), 'TEMP')",
            (user, user, user),
        ).fetchone()
        assert (schema_create, db_create, db_temp) == (False, False, False)


def test_setup_is_idempotent_and_covers_tables_added_later(seeded: Seeded) -> None:
    hub = seeded.hub
    extra = sa.Table(
        "zz_notes",
        Base.metadata,
        sa.Column("note_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String, nullable=False),
        sa.Column("body", sa.Text),
    )
    try:
        with hub.connect() as su:  # as a later migration would, as the owner role
            su.execute(f'SET ROLE "{hub.roles.owner}"')
            su.execute(
                "CREATE TABLE zz_notes (note_id varchar(64) PRIMARY KEY, owner varchar "
                "NOT NULL, body text)"
            )
            su.execute("INSERT INTO zz_notes VALUES ('n1', %s, 'bob secret')", (hub.role("bob"),))
        setup_database(hub.admin_url, prefix=hub.prefix)
        setup_database(hub.admin_url, prefix=hub.prefix)  # idempotent
        with hub.connect("alice") as a:
            assert _ids(a, "SELECT note_id FROM zz_notes") == set()
            a.execute("INSERT INTO zz_notes VALUES ('n2', %s, 'mine')", (hub.role("alice"),))
            assert _ids(a, "SELECT note_id FROM zz_notes") == {"n2"}
            _denied(a, "TRUNCATE zz_notes")
        with hub.connect("bob") as b:
            assert _ids(b, "SELECT note_id FROM zz_notes") == {"n1"}
    finally:
        Base.metadata.remove(extra)
        with hub.connect() as su:
            su.execute("DROP TABLE IF EXISTS zz_notes")
    # The seeded rows and the policies are as before.
    with hub.connect("alice") as a:
        assert len(_ids(a, "SELECT run_id FROM runs")) == 3
    _bob_rows_intact(seeded)


def test_provisioning_refuses_or_removes_dangerous_memberships(seeded: Seeded) -> None:
    hub = seeded.hub
    danger = f"{hub.prefix}_danger"
    with hub.connect() as su:
        su.execute(f'GRANT "{hub.roles.owner}" TO "{hub.role("alice")}"')
        provision_user(hub.admin_url, "alice", hub.secret, prefix=hub.prefix)
        assert su.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (hub.role("alice"), hub.roles.owner)
        ).fetchone() == (False,)
        su.execute(f'CREATE ROLE "{danger}" NOLOGIN BYPASSRLS')
        su.execute(f'GRANT "{danger}" TO "{hub.role("alice")}"')
        try:
            with pytest.raises(ProvisionError, match=danger):
                provision_user(hub.admin_url, "alice", hub.secret, prefix=hub.prefix)
        finally:
            su.execute(f'DROP ROLE "{danger}"')
    provision_user(hub.admin_url, "alice", hub.secret, prefix=hub.prefix)


def test_provisioning_needs_setup_first() -> None:
    from pg_admin import PG_ADMIN_URL

    with pytest.raises(ProvisionError, match="run setup_database"):
        provision_user(PG_ADMIN_URL, "alice", b"s" * 32, prefix=f"nosetup{uuid.uuid4().hex[:6]}")


# ------------------------------------------------------------------- the store
def test_store_as_a_user_writes_rows_owned_by_its_login_role(seeded: Seeded) -> None:
    store, r, hub = seeded.stores["alice"], seeded.runs, seeded.hub
    me = hub.role("alice")
    assert store.login_role == me
    # create_run(owner=...) cannot put a row in someone else's name: the login role wins.
    run_id = store.create_run(owner="bob", spec={}, config_snapshot={}, versions={}, host={})
    try:
        assert store.get_run(run_id)["owner"] == me
        assert {x["run_id"] for x in store.list_runs()} == {r["a_priv"], r["a_pub"], run_id}
        assert {x["run_id"] for x in store.list_runs(include_published=True)} == {
            r["a_priv"],
            r["a_pub"],
            r["b_pub"],
            run_id,
        }
        everyone = {x["run_id"] for x in store.list_runs(all_owners=True)}
        assert r["b_priv"] not in everyone and r["b_pub"] in everyone
    finally:
        store.delete_run(run_id)
    with pytest.raises(LLMBenchError, match="no run id starts with"):
        store.get_run(r["b_priv"])
    assert store.get_run(r["b_pub"], include_published=True)["owner"] == hub.role("bob")
    with pytest.raises(LLMBenchError, match="no run id starts with"):
        store.get_run(r["b_priv"], include_published=True)
    assert len(store.records(r["b_pub"])) == 3
    assert [e["case_id"] for e in store.eval_results(r["b_pub"])] == ["b-pub-case"]
    with pytest.raises(LLMBenchError, match="no run"):
        store.records(r["b_priv"])
    with pytest.raises(LLMBenchError, match="only a run's owner can publish"):
        store.publish(r["b_priv"])
    with pytest.raises(LLMBenchError, match="only a run's owner can publish"):
        store.publish(r["b_pub"], published=False)
    _bob_rows_intact(seeded)


def test_publish_is_audited_and_reversible(seeded: Seeded) -> None:
    alice, bob = seeded.stores["alice"], seeded.stores["bob"]
    a_priv = seeded.runs["a_priv"]
    alice.publish(a_priv)
    try:
        assert a_priv in {x["run_id"] for x in bob.list_runs(include_published=True)}
        assert len(bob.records(a_priv)) == 3
    finally:
        alice.publish(a_priv, published=False)
    assert a_priv not in {x["run_id"] for x in bob.list_runs(all_owners=True)}
    actions = [(e["action"], e["target"]) for e in alice.audit_log(limit=3)]
    assert actions[:2] == [("run.unpublish", a_priv), ("run.publish", a_priv)]
    assert all(e["owner"] == seeded.hub.role("alice") for e in alice.audit_log())


def test_history_and_leaderboard_include_published_runs(seeded: Seeded) -> None:
    store, r = seeded.stores["alice"], seeded.runs
    own = results.history(store=store)
    assert set(own["run_id"]) == {r["a_priv"], r["a_pub"]}
    shared = results.history(store=store, include_published=True)
    assert set(shared["run_id"]) == {r["a_priv"], r["a_pub"], r["b_pub"]}
    assert int(shared.set_index("run_id").loc[r["b_pub"], "requests"]) == 3
    board = results.leaderboard(store=store, include_published=True)
    assert board["n_runs"].tolist() == [3] and board["requests"].tolist() == [9]
    assert results.leaderboard(store=store)["n_runs"].tolist() == [2]


def test_user_store_never_migrates_and_says_why(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = seeded.hub
    with hub.connect() as su:
        su.execute("UPDATE alembic_version SET version_num = '0003'")
    try:
        monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "0")
        with pytest.raises(
            LLMBenchError, match=r"is at 0003, this package needs 0004; the hub admin"
        ):
            Store(hub.urls["alice"])
        # Without the variable the store tries, the database refuses, the message is the same.
        monkeypatch.delenv("LLMBENCH_DB_MIGRATE")
        with pytest.raises(
            LLMBenchError, match=r"is at 0003, this package needs 0004; the hub admin"
        ):
            Store(hub.urls["alice"])
        with hub.connect() as su:
            assert su.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
            assert su.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'runs' "
                "AND column_name = 'published'"
            ).fetchone() == (1,)
    finally:
        with hub.connect() as su:
            su.execute("UPDATE alembic_version SET version_num = '0004'")


# ------------------------------------------------------------------- no PostgreSQL needed
@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_migrate_env_zero_checks_instead_of_migrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(sa.make_url(url))
    command.upgrade(cfg, "0003")
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", value)
    with pytest.raises(LLMBenchError) as err:
        Store(url)
    assert "is at 0003, this package needs 0004; the hub admin applies migrations" in str(err.value)
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "maybe")
    with pytest.raises(LLMBenchError, match="LLMBENCH_DB_MIGRATE: found 'maybe'"):
        Store(url)
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "1")
    with Store(url) as store:  # migrating is still the default for a single user
        assert store.login_role is None
        store.publish(store.create_run(spec={}, config_snapshot={}, versions={}, host={}))
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "0")
    Store(url).close()  # at head now: checking passes


def test_role_names_are_safe_and_never_collide() -> None:
    assert role_name("alice") == "llmbench_u_alice"
    assert role_name("alice", "hubx") == "hubx_u_alice"
    names = [
        "alice",
        "Alice",
        "al.ice",
        "al_ice",
        "alice@example.com",
        "ålice",
        "a" * 52,
        "a" * 53,
        "a" * 200,
        "a" * 201,
        "x_x0123456789abcdef",  # looks like a hash tail: hashed itself
    ]
    roles = [role_name(n) for n in names]
    assert len(set(roles)) == len(names)
    for name, role in zip(names, roles, strict=True):
        assert len(role.encode()) <= 63 and role.startswith("llmbench_u_")
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in role) and role.islower()
        assert role_name(name) == role  # deterministic
    # A user who picks the name another name hashes to still gets a different role.
    hashed = role_name("Bob")
    assert (
        hashed.startswith("llmbench_u_bob_x") and role_name(hashed[len("llmbench_u_") :]) != hashed
    )
    with pytest.raises(ProvisionError, match="non-empty"):
        role_name("")
    with pytest.raises(ProvisionError, match="role prefix"):
        role_name("alice", "Bad-Prefix")


def test_derived_passwords_are_deterministic_and_distinct() -> None:
    secret = b"k" * 32
    assert derive_password(secret, "alice") == derive_password(secret, "alice")
    assert derive_password(secret, "alice") != derive_password(secret, "bob")
    assert derive_password(secret, "alice") != derive_password(b"j" * 32, "alice")
    assert len(derive_password(secret, "alice")) == 43  # 256 bits, urlsafe base64
    with pytest.raises(ProvisionError, match="at least 16 bytes"):
        derive_password(b"short", "alice")


def test_store_url_for_matches_provisioned_url(seeded: Seeded) -> None:
    from llmbench_jupyter.hub.provision import store_url_for

    hub = seeded.hub
    assert store_url_for(hub.admin_url, "alice", hub.secret, prefix=hub.prefix) == hub.urls["alice"]


def test_provision_module_imports_no_jupyterhub() -> None:
    code = (
        "import sys, llmbench_jupyter.hub.provision, llmbench_jupyter.store.vault, "
        "llmbench_jupyter.store.keys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jupyterhub', 'IPython', 'ipywidgets', 'jupyter_server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_non_superuser_database_owner_can_run_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Managed PostgreSQL has no superuser: the database's owner with CREATEROLE suffices."""
    from pg_admin import PG_ADMIN_URL

    from llmbench_jupyter.hub.provision import drop_roles
    from llmbench_jupyter.store.vault import HubVault, derive_user_key, rotate_keys

    tag = uuid.uuid4().hex[:8]
    db, hubadm, prefix = f"llmbench_ns_{tag}", f"llmbench_hubadm_{tag}", f"llmbns{tag}"
    server = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{hubadm}" LOGIN CREATEROLE'))
        conn.execute(sa.text(f'CREATE DATABASE "{db}" OWNER "{hubadm}"'))
    url = server.url.set(username=hubadm, database=db).render_as_string(hide_password=False)
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "0")
    try:
        setup_database(url, prefix=prefix)
        a_url = provision_user(url, "alice", b"s" * 32, prefix=prefix)
        b_url = provision_user(url, "bob", b"s" * 32, prefix=prefix)
        master = b"m" * 32
        with Store(a_url) as alice:
            alice.create_run(spec={}, config_snapshot={}, versions={}, host={})
            HubVault(alice, [derive_user_key(master, "alice")]).set("openai", "QzXsecretWv")
        with Store(b_url) as bob:
            assert bob.list_runs(all_owners=True) == []
        with psycopg.connect(
            sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        ) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'runs'"
            ).fetchone()
            assert owner == (f"{prefix}_owner",)
        assert rotate_keys(url, [master], b"n" * 32) == 1
        with Store(a_url) as alice:
            got = HubVault(alice, [derive_user_key(b"n" * 32, "alice")]).get("openai")
            assert got == "QzXsecretWv"
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        drop_roles(PG_ADMIN_URL, prefix=prefix)
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{hubadm}"'))
        server.dispose()
