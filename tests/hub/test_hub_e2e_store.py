"""What the store lets each hub user reach, for real, on the hub of conftest.py.

One user attacks the other's rows and keys from a kernel; the hub admin reads every
user's rows; a published run becomes visible. Everything goes through the network
surfaces a person uses (the kernel WebSocket); database-level attacks are unit-tested in
depth elsewhere (hub.provision): here they prove the hook wires the right role, password
and key into the right server. Runs before test_hub_e2e_system.py (file order), and the
publishing test after the attacks (its run must stay private until then).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hub_world import RUNS, SECRET_KEY, World, _ok

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(420)]


# A against B: every statement either fails or touches no row of B's.
SQL_ATTACKS = """
b, run, b_role, a_role = {b!r}, {run!r}, {b_role!r}, {a_role!r}
url = sa.engine.make_url(os.environ["LLMBENCH_DB_URL"])
pw = url.password
def other(**kw):
    return url.set(**kw).render_as_string(hide_password=False)
out = {{
    "select_runs": attempt("SELECT count(*) FROM runs WHERE owner = :o", {{"o": b_role}}),
    "select_requests": attempt("SELECT count(*) FROM requests WHERE run_id = :r", {{"r": run}}),
    "select_keys": attempt("SELECT count(*) FROM api_keys WHERE owner = :o", {{"o": b_role}}),
    "select_audit": attempt("SELECT count(*) FROM audit_log WHERE owner = :o", {{"o": b_role}}),
    "update": attempt("UPDATE runs SET name = 'pwned' WHERE run_id = :r", {{"r": run}}),
    "update_requests": attempt("UPDATE requests SET owner = :a WHERE run_id = :r",
                               {{"a": a_role, "r": run}}),
    "delete_requests": attempt("DELETE FROM requests WHERE run_id = :r", {{"r": run}}),
    "delete_runs": attempt("DELETE FROM runs WHERE owner = :o", {{"o": b_role}}),
    "insert_as_b": attempt(
        "INSERT INTO runs (run_id, owner, kind, name, status, created_at, spec, "
        "config_snapshot, versions, host, n_requests, n_errors, published) VALUES "
        "('forged', :o, 'bench', 'x', 'done', now(), '{{}}', '{{}}', '{{}}', '{{}}', 0, 0, true)",
        {{"o": b_role}}),
    "set_role_b": attempt(f'SET ROLE "{{b_role}}"'),
    "set_role_owner": attempt('SET ROLE "llmbench_owner"'),
    "session_authorization": attempt(f'SET SESSION AUTHORIZATION "{{b_role}}"'),
    "set_config": attempt("SELECT set_config('app.user', :o, false), "
                          "set_config('llmbench.owner', :o, false), "
                          "(SELECT count(*) FROM runs WHERE owner = :o)", {{"o": b_role}}),
    "create_view": attempt("CREATE VIEW steal AS SELECT * FROM runs"),
    "create_temp_view": attempt("CREATE TEMP VIEW steal AS SELECT * FROM runs"),
    "create_function": attempt("CREATE FUNCTION steal() RETURNS bigint LANGUAGE sql "
                               "SECURITY DEFINER AS 'SELECT count(*) FROM runs'"),
    "disable_rls": attempt("ALTER TABLE runs DISABLE ROW LEVEL SECURITY"),
    "copy_to_file": attempt("COPY runs TO '/tmp/llmbench-e2e-steal.csv'"),
    "copy_from_program": attempt("COPY runs FROM PROGRAM 'id'"),
    "read_server_file": attempt("SELECT pg_read_file('pg_hba.conf')"),
    "login_as_b_with_my_password": attempt("SELECT 1", url=other(username=b_role)),
    "login_as_superuser_with_my_password": attempt("SELECT 1", url=other(username="postgres")),
    "login_as_superuser_without_password": attempt(
        "SELECT 1", url=f"postgresql+psycopg://postgres@{{url.host}}:{{url.port}}/{{url.database}}"),
    "connect_hub_db": attempt("SELECT count(*) FROM users", url=other(database="jupyterhub")),
    "connect_postgres_db": attempt("SELECT 1", url=other(database="postgres")),
}}
import psycopg
conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
with psycopg.connect(conninfo) as conn:
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT run_id, owner FROM requests) TO STDOUT") as copy:
            data = b"".join(bytes(chunk) for chunk in copy).decode()
out["copy_to_stdout_mentions_b"] = {{"ok": True, "value": (run in data) or (b_role in data)}}
print(json.dumps(out))
"""


COUNT_BY_OWNER = """
print(json.dumps({
    "runs": attempt("SELECT owner, count(*) FROM runs GROUP BY owner ORDER BY owner"),
    "requests": attempt("SELECT owner, count(*) FROM requests GROUP BY owner ORDER BY owner"),
    "api_keys": attempt("SELECT count(*) FROM api_keys"),
}))
"""


def test_benchmark_rows_are_stored_under_their_owner(world: World) -> None:
    from llmbench_jupyter.hub.provision import role_name

    for key in ("a", "b"):
        for run in world.runs[key]:
            assert (run["ok"], run["status"], run["store_errors"]) == (RUNS, "done", [])
    engine = world.superuser_engine("llmbench")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT r.owner, r.name, count(q.request_id) FROM runs r "
                    "JOIN requests q ON q.run_id = r.run_id AND q.owner = r.owner "
                    "GROUP BY r.owner, r.name ORDER BY r.name"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        (role_name(world.a.name), "a-run", RUNS),
        (role_name(world.b.name), "b-private", RUNS),
        (role_name(world.b.name), "b-public", RUNS),
    ]


def test_sql_from_a_kernel_cannot_reach_another_users_rows(world: World) -> None:
    from llmbench_jupyter.hub.provision import role_name

    b_private = world.runs["b"][0]["run_id"]
    code = SQL_ATTACKS.format(
        b=world.b.name,
        run=b_private,
        b_role=role_name(world.b.name),
        a_role=role_name(world.a.name),
    )
    out = world.kernels["a"].execute(code).json()
    for name in ("select_runs", "select_requests", "select_keys", "select_audit"):
        assert (out[name]["ok"], out[name].get("rows")) == (True, [["0"]]), (name, out[name])
    for name in ("update", "update_requests", "delete_requests", "delete_runs"):
        assert out[name]["ok"] and out[name]["rowcount"] == 0, (name, out[name])
    assert out["set_config"]["rows"][0][-1] == "0"
    must_fail = [
        "insert_as_b",
        "set_role_b",
        "set_role_owner",
        "session_authorization",
        "create_view",
        "create_temp_view",
        "create_function",
        "disable_rls",
        "copy_to_file",
        "copy_from_program",
        "read_server_file",
        "login_as_b_with_my_password",
        "login_as_superuser_with_my_password",
        "login_as_superuser_without_password",
        "connect_hub_db",
        "connect_postgres_db",
    ]
    succeeded = {name: out[name] for name in must_fail if out[name]["ok"]}
    assert not succeeded
    assert "row-level security" in out["insert_as_b"]["error"]
    assert "password authentication failed" in out["login_as_b_with_my_password"]["error"]
    assert "no password supplied" in out["login_as_superuser_without_password"]["error"]
    assert "permission denied for database" in out["connect_hub_db"]["error"]
    assert out["copy_to_stdout_mentions_b"]["value"] is False
    # and B's rows are intact
    code = (
        "print(json.dumps(attempt('SELECT name, count(*) OVER () FROM runs WHERE run_id = :r',"
        f" {{'r': {b_private!r}}})))"
    )
    check = world.kernels["b"].execute(code).json()
    assert check["rows"] == [["b-private", "1"]]


def test_api_keys_are_readable_and_decryptable_only_by_their_owner(world: World) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    from llmbench_jupyter.hub.provision import role_name
    from llmbench_jupyter.store.vault import derive_user_key

    assert world.b_secrets["listed"] == ["openai"] and world.b_secrets["roundtrip"] is True
    code = (
        "from llmbench_jupyter import keys\n"
        "print(json.dumps({'listed': [k['provider'] for k in keys.list()], "
        "'got': keys.get('openai')}))"
    )
    a_view = world.kernels["a"].execute(code).json()
    assert a_view == {"listed": [], "got": None}
    admin_view = world.kernels["admin"].execute(COUNT_BY_OWNER).json()
    assert admin_view["api_keys"]["rows"] == [["0"]]  # admins do not read ciphertexts
    engine = world.superuser_engine("llmbench")
    try:
        with engine.connect() as conn:
            token = conn.execute(
                sa.text("SELECT ciphertext FROM api_keys WHERE owner = :o"),
                {"o": role_name(world.b.name)},
            ).scalar_one()
    finally:
        engine.dispose()
    assert SECRET_KEY not in token
    master = (world.state / "vault_master_keys").read_text().split()[0].encode()
    with pytest.raises(InvalidToken):  # a copied ciphertext is useless under A's key
        Fernet(derive_user_key(master, world.a.name)).decrypt(token.encode())
    assert Fernet(derive_user_key(master, world.b.name)).decrypt(token.encode()) == (
        SECRET_KEY.encode()
    )


def test_hub_admin_role_reads_every_users_rows(world: World) -> None:
    from llmbench_jupyter.hub.provision import role_name

    out = world.kernels["admin"].execute(COUNT_BY_OWNER).json()
    a_role, b_role = role_name(world.a.name), role_name(world.b.name)
    assert out["runs"]["rows"] == sorted([[a_role, "1"], [b_role, "2"]])
    assert out["requests"]["rows"] == sorted([[a_role, str(RUNS)], [b_role, str(2 * RUNS)]])
    a_sees = world.kernels["a"].execute(COUNT_BY_OWNER).json()
    assert [r[0] for r in a_sees["runs"]["rows"]] in ([a_role], sorted([a_role, b_role]))


def test_a_run_published_by_b_becomes_visible_to_a(world: World) -> None:
    b_private, b_public = (r["run_id"] for r in world.runs["b"])
    see = (
        "from llmbench_jupyter.store import open_store\n"
        "print(json.dumps({'listed': sorted(r['run_id'] for r in "
        "open_store().list_runs(all_owners=True)), "
        f"'requests': attempt('SELECT run_id, count(*) FROM requests WHERE run_id IN "
        f"(:p, :q) GROUP BY run_id', {{'p': {b_public!r}, 'q': {b_private!r}}})['rows']}}))"
    )
    before = world.kernels["a"].execute(see).json()
    assert b_public not in before["listed"] and before["requests"] == []
    publish = f"from llmbench_jupyter.store import open_store\nopen_store().publish({b_public!r})"
    _ok(world.kernels["b"].execute(publish))
    after = world.kernels["a"].execute(see).json()
    assert b_public in after["listed"] and b_private not in after["listed"]
    assert after["requests"] == [[b_public, str(RUNS)]]
    # publishing shows, it does not hand over: A still cannot change B's published run
    code = (
        "print(json.dumps(attempt('UPDATE runs SET name = :n WHERE run_id = :r', "
        f"{{'n': 'pwned', 'r': {b_public!r}}})))"
    )
    changed = world.kernels["a"].execute(code).json()
    assert changed["ok"] and changed["rowcount"] == 0


def test_hub_and_store_databases_are_separate(world: World) -> None:
    engine = world.superuser_engine("jupyterhub")
    try:
        with engine.connect() as conn:
            hub_users = set(conn.execute(sa.text("SELECT name FROM users")).scalars())
            hub_tables = set(
                conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert {world.a.name, world.b.name, world.admin.name} <= hub_users
    assert "runs" not in hub_tables and "users_info" in hub_tables
