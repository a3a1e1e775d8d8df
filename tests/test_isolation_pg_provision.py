"""Provisioning and the store as a hub user: roles, table lock-down, migrations, publishing.

What ``setup_database`` and ``provision_user`` leave behind is checked in the database
itself, and a hub user's store is exercised end to end against its own login role.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from hub_pg import scram_matches
from isolation_pg import Seeded, _bob_rows_intact, _denied, _ids, seeded_hub

from llmbench_jupyter.analysis import results
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.hub.provision import (
    DEFAULT_CONNECTION_LIMIT,
    ProvisionError,
    derive_password,
    provision_user,
    role_name,
    setup_database,
)
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.db import alembic_config, schema_heads
from llmbench_jupyter.store.models import Base

pytestmark = pytest.mark.postgres
HEAD = max(schema_heads())  # the package's newest schema revision


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    yield from seeded_hub()


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
    assert "run_summaries" in owned
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
        su.execute("UPDATE alembic_version SET version_num = '0004'")
    try:
        monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "0")
        with pytest.raises(
            LLMBenchError, match=rf"is at 0004, this package needs {HEAD}; the hub admin"
        ):
            Store(hub.urls["alice"])
        # Without the variable the store tries, the database refuses, the message is the same.
        monkeypatch.delenv("LLMBENCH_DB_MIGRATE")
        with pytest.raises(
            LLMBenchError, match=rf"is at 0004, this package needs {HEAD}; the hub admin"
        ):
            Store(hub.urls["alice"])
        with hub.connect() as su:
            assert su.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
            assert su.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'runs' "
                "AND column_name = 'published'"
            ).fetchone() == (1,)
    finally:
        with hub.connect() as su:
            su.execute("UPDATE alembic_version SET version_num = %s", (HEAD,))


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
    needs = f"is at 0003, this package needs {HEAD}; the hub admin applies migrations"
    assert needs in str(err.value)
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
