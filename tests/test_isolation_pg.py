"""Users of a hub are kept apart by PostgreSQL itself: attacks from a kernel, one by one.

alice, bob and carol (an admin) each connect with their own login role, as a notebook
kernel would, and alice tries every way we know to read or change bob's rows. The
database must refuse, or show her only her own rows and published ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.sql
import pytest
from isolation_pg import DENIED, Seeded, _bob_rows_intact, _denied, _ids, _record, seeded_hub

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.db import schema_heads

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    yield from seeded_hub()


@pytest.fixture
def alice(seeded: Seeded) -> Iterator[psycopg.Connection[Any]]:
    conn = seeded.hub.connect("alice")
    yield conn
    conn.close()


# ------------------------------------------------------------------- reading
def test_alice_reads_her_rows_and_published_ones_only(
    seeded: Seeded, alice: psycopg.Connection[Any]
) -> None:
    r = seeded.runs
    visible = {r["a_priv"], r["a_pub"], r["b_pub"]}
    assert _ids(alice, "SELECT run_id FROM runs") == visible
    for child in ("requests", "request_labels", "eval_results", "judgements"):
        assert _ids(alice, f"SELECT DISTINCT run_id FROM {child}") == visible, child
    # summaries exist for the benchmark runs only (the seed's runs have records)
    bench = {
        rid for rid in visible if _ids(alice, f"SELECT 1 FROM requests WHERE run_id = '{rid}'")
    }
    assert _ids(alice, "SELECT DISTINCT run_id FROM run_summaries") == bench
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
    # bob's summaries: readable once published, never writable by alice
    for run in (r["b_pub"], r["b_priv"]):
        assert (
            alice.execute(
                "UPDATE run_summaries SET requests = 0, ok = 0 WHERE run_id = %s", (run,)
            ).rowcount
            == 0
        )
        assert alice.execute("DELETE FROM run_summaries WHERE run_id = %s", (run,)).rowcount == 0
        # nor relabel his records (which would rename his models for every reader)
        relabel = "UPDATE request_labels SET model = 'pwned' WHERE run_id = %s"
        assert alice.execute(relabel, (run,)).rowcount == 0
        assert alice.execute("DELETE FROM request_labels WHERE run_id = %s", (run,)).rowcount == 0
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
    # nor can she forge the summary of bob's published run that everyone reads
    _denied(
        alice,
        "INSERT INTO run_summaries (run_id, provider, model, context_tier, owner, requests, "
        "ok, errors, error_categories, priced_cost_usd, priced_output_tokens) "
        "VALUES (%s, 'fake', 'fake', 0, %s, 100, 100, 0, '{}', 0, 0)",
        b_pub,
        me,
    )
    # nor add a label to it (a request row of his run could then read as another model)
    _denied(
        alice,
        "INSERT INTO request_labels (run_id, label, owner, provider, model, api_model, "
        "transport, context_tier, concurrency, time_origin, status) "
        "VALUES (%s, 99, %s, 'fake', 'fake', 'fake', 'x', 0, 1, 'sent', 'ok')",
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
    head = max(schema_heads())
    assert alice.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
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
