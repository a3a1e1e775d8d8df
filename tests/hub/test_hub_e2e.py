"""The whole multi-user chain, for real: hub_config/ starts JupyterHub, the npm proxy and
the hub's private PostgreSQL; people sign up, get approved, log in (which creates their
Unix accounts), start servers, and run benchmarks in their kernels; then one of them
attacks the other's rows, files, processes, keys and server.

Everything goes through the network surfaces a person uses (hub forms, hub REST API,
Jupyter Server REST API, the kernel WebSocket). Database-level attacks are unit-tested
in depth elsewhere (hub.provision); here they prove the hook wires the right role,
password and key into the right server. Needs root (useradd, LocalProcessSpawner) and
``make hub-deps``; in CI a missing part fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hub_harness import HubUser, Kernel, free_port, wait_ready

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "hub"
HUB_HOME = Path(os.environ.get("LLMBENCH_HUB_HOME") or "/opt/llmbench-hub")
RUNS = 3  # measured requests per benchmark (no warm-up)
SECRET_KEY = "sk-e2e-" + uuid.uuid4().hex  # the API key B stores in the vault


def _require(ok: bool, why: str, fix: str) -> None:
    if ok:
        return
    message = f"hub end-to-end test cannot run: {why}. {fix}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _stale_files() -> list[str]:
    """Package files whose copy in the users' venv differs from the work tree."""
    venv_pkg = list((HUB_HOME / "venv" / "lib").glob("python3*/site-packages/llmbench_jupyter"))
    if not venv_pkg:
        return ["llmbench_jupyter (not installed)"]
    src = REPO / "llmbench_jupyter"
    stale = []
    for path in src.rglob("*.py"):
        copy = venv_pkg[0] / path.relative_to(src)
        if not copy.is_file() or copy.read_bytes() != path.read_bytes():
            stale.append(str(path.relative_to(REPO)))
    return stale


def _check_prerequisites() -> None:
    from llmbench_jupyter.hub.deploy import HubPaths, HubSetupError
    from llmbench_jupyter.hub.pgcluster import ClusterError, find_bindir

    _require(os.geteuid() == 0, "not root", "run it as root (it creates Unix users)")
    _require(shutil.which("useradd") is not None, "no useradd", "install the `passwd` package")
    _require(
        (Path(sys.prefix) / "bin" / "jupyterhub").is_file(),
        "jupyterhub is not installed in the test venv",
        "run `make install-test`",
    )
    try:
        HubPaths(HUB_HOME, HUB_HOME / "state", HUB_HOME / "pgdata").check_installed()
        find_bindir()
    except (HubSetupError, ClusterError) as exc:
        _require(False, str(exc), "run `make hub-deps`")
    stale = _stale_files()
    if stale:
        # CI builds the venv right before the tests, so there it is a real fault; in a
        # work tree being edited it is only a hint that kernels run older code.
        message = (
            f"the users' venv in {HUB_HOME} holds an older llmbench_jupyter "
            f"({', '.join(stale[:3])}): run `make hub-deps`"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        warnings.warn(message, stacklevel=1)


# ---------------------------------------------------------------- kernel snippets
PRELUDE = """
import json, os, pwd, sys
import sqlalchemy as sa
_eng = sa.create_engine(os.environ["LLMBENCH_DB_URL"])

def attempt(stmt, params=None, url=None):
    eng = sa.create_engine(url) if url else _eng
    try:
        with eng.begin() as c:
            r = c.execute(sa.text(stmt), params or {})
            rows = [list(map(str, x)) for x in r.fetchall()] if r.returns_rows else None
            return {"ok": True, "rows": rows, "rowcount": r.rowcount}
    except Exception as e:
        orig = getattr(e, "orig", e)
        return {"ok": False, "error": type(orig).__name__ + ": " + str(orig).splitlines()[0]}
    finally:
        if url:
            eng.dispose()

def try_os(fn):
    try:
        return {"ok": True, "value": fn()}
    except OSError as e:
        return {"ok": False, "error": type(e).__name__}
"""

BENCH = """
import llmbench_jupyter as lj
names = {names!r}
jobs = [lj.bench(provider="local-sim", model="sim-fast", runs={runs}, warmup=0,
                 display=False, name=n) for n in names]
results = [await j for j in jobs]
print(json.dumps([{{"run_id": r.run_id, "ok": r.ok_count, "status": r.status,
                   "store_errors": r.store_errors}} for r in results]))
"""

WHOAMI = """
mask = os.umask(0); os.umask(mask)
print(json.dumps({
    "uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name, "umask": mask,
    "executable": sys.executable, "pid": os.getpid(), "server_pid": os.getppid(),
    "home": os.path.expanduser("~"), "service_url": os.environ.get("JUPYTERHUB_SERVICE_URL"),
    "env": {k: os.environ.get(k) for k in (
        "LLMBENCH_DB_MIGRATE", "LLMBENCH_USER", "LLMBENCH_MAX_JOBS",
        "LLMBENCH_MAX_REQUESTS_PER_HOUR")},
    "db_role": sa.engine.make_url(os.environ["LLMBENCH_DB_URL"]).username,
    "db_database": sa.engine.make_url(os.environ["LLMBENCH_DB_URL"]).database,
    "vault_keys_sha256": [__import__("hashlib").sha256(k.encode()).hexdigest()
                          for k in os.environ["LLMBENCH_VAULT_KEYS"].split(",")],
}))
"""

# B leaves things A will go after: a key in the vault, a file at home, a file in /tmp.
B_SECRETS = """
from llmbench_jupyter.store import keys
keys.set("openai", {key!r})
home_file = os.path.expanduser("~/notes.txt")
with open(home_file, "w") as fh:
    fh.write("b's private notes")
tmp_file = "/tmp/llmbench-e2e-{tag}.txt"
with open(tmp_file, "w") as fh:
    fh.write("b's scratch")
print(json.dumps({{"home_file": home_file, "tmp_file": tmp_file,
                  "tmp_mode": oct(os.stat(tmp_file).st_mode & 0o777),
                  "listed": [k["provider"] for k in keys.list()],
                  "roundtrip": keys.get("openai") == {key!r}}}))
"""

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

# A against B's files, processes and server.
OS_ATTACKS = """
import requests
b_uid = pwd.getpwnam({b!r}).pw_uid
def b_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{{entry}}").st_uid == b_uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids
pids = b_pids()
cmdlines = []
for p in pids:
    try:
        with open(f"/proc/{{p}}/cmdline", "rb") as fh:
            cmdlines.append(fh.read().replace(b"\\0", b" ").decode(errors="replace"))
    except OSError:
        pass
def get(url, token):
    r = requests.get(url, headers={{"Authorization": f"token {{token}}"}} if token else {{}},
                     allow_redirects=False, timeout=30)
    return r.status_code
my_token = os.environ["JUPYTERHUB_API_TOKEN"]
print(json.dumps({{
    "list_home": try_os(lambda: os.listdir({home!r})),
    "read_home_file": try_os(lambda: open({home_file!r}).read()),
    "read_tmp_file": try_os(lambda: open({tmp_file!r}).read()),
    "read_environ": try_os(lambda: open("/proc/{kernel_pid}/environ", "rb").read(9).hex()),
    "read_server_environ": try_os(lambda: open("/proc/{server_pid}/environ", "rb").read(9).hex()),
    "list_fds": try_os(lambda: os.listdir("/proc/{kernel_pid}/fd")),
    "signal_kernel": try_os(lambda: os.kill({kernel_pid}, 0)),
    "list_hub_state": try_os(lambda: os.listdir({state!r})),
    "list_hub_pgdata": try_os(lambda: os.listdir({pgdata!r})),
    "b_pids_seen": len(pids),
    "b_cmdlines": cmdlines,
    "b_server_with_my_token": get({service_url!r} + "api/kernels", my_token),
    "b_server_without_token": get({service_url!r} + "api/kernels", None),
    "my_server_with_my_token": get(os.environ["JUPYTERHUB_SERVICE_URL"] + "api/status", my_token),
}}))
"""

COUNT_BY_OWNER = """
print(json.dumps({
    "runs": attempt("SELECT owner, count(*) FROM runs GROUP BY owner ORDER BY owner"),
    "requests": attempt("SELECT owner, count(*) FROM requests GROUP BY owner ORDER BY owner"),
    "api_keys": attempt("SELECT count(*) FROM api_keys"),
}))
"""


# ---------------------------------------------------------------- the hub fixture
@dataclass
class World:
    base: str
    root: Path
    state: Path
    log: Path
    admin: HubUser
    a: HubUser
    b: HubUser
    group: str
    unapproved_login: str
    a_existed_before_login: bool
    b_home_mode_before: int
    kernels: dict[str, Kernel] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    whoami: dict[str, dict[str, Any]] = field(default_factory=dict)
    b_secrets: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def superuser_engine(self, database: str) -> sa.Engine:
        from llmbench_jupyter.hub.deploy import database_url

        password = (self.state / "pg_superuser_password").read_text().strip()
        port = int(self.env["LLMBENCH_HUB_PG_PORT"])
        url = f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres"
        return sa.create_engine(database_url(url, database))

    env: dict[str, str] = field(default_factory=dict)


def _users_processes(uids: set[int]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    _check_prerequisites()
    from llmbench_jupyter.hub.pgcluster import PgCluster

    tag = uuid.uuid4().hex[:6]
    names = {"admin": f"lbadm{tag}", "a": f"lba{tag}", "b": f"lbb{tag}"}
    group = f"e2e-power-{tag}"
    root = Path(tempfile.mkdtemp(prefix="llmbench-hub-e2e-"))
    root.chmod(0o755)  # the postgres user must reach its data directory inside
    state, log = root / "state", root / "hub.log"
    limits = {
        "default": {"max_jobs": 2, "max_requests_per_hour": 100},
        "groups": {group: {"max_jobs": 5}},
        "users": {names["a"]: {"max_jobs": 3, "max_requests_per_hour": 50}},
    }
    (root / "limits.yaml").write_text(yaml.safe_dump(limits))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LLMBENCH_")},
        "LLMBENCH_HUB_HOME": str(HUB_HOME),
        "LLMBENCH_HUB_STATE": str(state),
        "LLMBENCH_HUB_PGDATA": str(root / "pgdata"),
        "LLMBENCH_HUB_PG_PORT": str(free_port()),
        "LLMBENCH_HUB_PORT": str(port),
        "LLMBENCH_HUB_API_PORT": str(free_port()),
        "LLMBENCH_HUB_PROXY_API_PORT": str(free_port()),
        "LLMBENCH_HUB_ADMIN": names["admin"],
        "LLMBENCH_HUB_LIMITS": str(root / "limits.yaml"),
    }
    base = f"http://127.0.0.1:{port}"
    # B's account exists before the hub knows B (home 0755, the system default);
    # A's is created by the hub at A's first login.
    subprocess.run(["useradd", "--create-home", "--user-group", names["b"]], check=True)
    b_home_mode = stat.S_IMODE(os.stat(pwd.getpwnam(names["b"]).pw_dir).st_mode)
    a_existed = _account_exists(names["a"])
    hub_proc: subprocess.Popen[bytes] | None = None
    w: World | None = None
    try:
        t0 = time.monotonic()
        with log.open("wb") as fh:
            hub_proc = subprocess.Popen(
                [
                    str(Path(sys.prefix) / "bin" / "jupyterhub"),
                    "-f",
                    str(REPO / "hub_config" / "jupyterhub_config.py"),
                ],
                cwd=root,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_hub(base, hub_proc, log, timeout=120)
        hub_up = time.monotonic() - t0

        admin = HubUser(base, names["admin"], "adm-" + uuid.uuid4().hex)
        a = HubUser(base, names["a"], "a-" + uuid.uuid4().hex)
        b = HubUser(base, names["b"], "b-" + uuid.uuid4().hex)
        assert "successful" in admin.signup()  # the configured admin is pre-approved
        for user in (a, b):
            assert "sent to the admin" in user.signup()
        unapproved = a.login().text
        assert admin.login().status_code == 302 and admin.logged_in()
        for user in (a, b):
            resp = admin.session.get(f"{base}/hub/authorize/{user.name}", timeout=30)
            assert resp.status_code == 200, resp.text[:300]
            assert user.login().status_code == 302 and user.logged_in()
        for user in (admin, a, b):
            user.create_token()
        resp = admin.api("POST", f"/groups/{group}", json={"users": [b.name]})
        assert resp.status_code == 201, resp.text

        w = World(
            base, root, state, log, admin, a, b, group, unapproved, a_existed, b_home_mode, env=env
        )
        w.timings["hub_start_s"] = hub_up
        t1 = time.monotonic()
        # POST /server waits up to the hub's slow_spawn_timeout (10 s): start all at once.
        with ThreadPoolExecutor(3) as pool:
            posted = list(
                pool.map(lambda u: u.api("POST", f"/users/{u.name}/server"), (a, b, admin))
            )
        for user, resp in zip((a, b, admin), posted, strict=True):
            if resp.status_code not in (201, 202):  # keep the evidence for the report
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(log, ARTIFACTS / f"hub-spawn-failure-{tag}.log")
            assert resp.status_code in (201, 202), (
                f"spawning {user.name}: HTTP {resp.status_code} {resp.text[:500]}\n"
                f"--- hub log tail ---\n{log.read_text(errors='replace')[-6000:]}"
            )
        wait_ready(admin, [a.name, b.name, admin.name], timeout=180)
        w.timings["spawn_all_s"] = time.monotonic() - t1

        ws_base = base.replace("http://", "ws://")
        t3 = time.monotonic()
        users = {"a": a, "b": b, "admin": admin}

        def open_kernel(key: str) -> tuple[str, Kernel, dict[str, Any]]:
            kernel = Kernel(users[key], ws_base)
            _ok(kernel.execute(PRELUDE))
            return key, kernel, kernel.execute(WHOAMI).json()

        with ThreadPoolExecutor(3) as pool:
            for key, kernel, me in pool.map(open_kernel, users):
                w.kernels[key], w.whoami[key] = kernel, me
        w.timings["kernels_s"] = time.monotonic() - t3
        t2 = time.monotonic()
        benches = {"a": ["a-run"], "b": ["b-private", "b-public"]}
        with ThreadPoolExecutor(2) as pool:
            done = pool.map(
                lambda k: (k, w.kernels[k].execute(BENCH.format(names=benches[k], runs=RUNS))),
                benches,
            )
            for key, result in done:
                w.runs[key] = result.json()
        w.timings["benchmarks_s"] = time.monotonic() - t2
        w.timings["setup_total_s"] = time.monotonic() - t0
        w.b_secrets = w.kernels["b"].execute(B_SECRETS.format(key=SECRET_KEY, tag=tag)).json()
        yield w
        # Seen with `pytest -s`; figures, never assertions (the machine is shared).
        print("\nhub e2e timings (s):", json.dumps({k: round(v, 1) for k, v in w.timings.items()}))
    finally:
        t4 = time.monotonic()
        if w is not None:
            for kernel in w.kernels.values():
                kernel.ws.close()  # the kernels end with their servers, below
        _stop(hub_proc, state)
        uids = {pwd.getpwnam(n).pw_uid for n in names.values() if _account_exists(n)}
        for pid in _users_processes(uids):  # anything a test user left behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for name in names.values():
            if _account_exists(name):
                subprocess.run(["userdel", "--remove", name], capture_output=True)
        for leftover in Path("/tmp").glob(f"llmbench-e2e-{tag}*"):
            leftover.unlink(missing_ok=True)
        if state.is_dir():
            PgCluster(root / "pgdata", int(env["LLMBENCH_HUB_PG_PORT"]), state).destroy()
        shutil.rmtree(root, ignore_errors=True)
        print(f"hub e2e teardown: {time.monotonic() - t4:.1f} s")


def _ok(result: Any) -> None:
    assert result.error is None, result.error


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_hub(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the hub exited with {proc.returncode}:\n{_tail(log)}", pytrace=False)
        try:
            if requests.get(f"{base}/hub/api/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    pytest.fail(f"the hub did not answer within {timeout} s:\n{_tail(log)}", pytrace=False)


def _stop(proc: subprocess.Popen[bytes] | None, state: Path) -> None:
    """Stop the hub (it stops the users' servers and the proxy), by pid only."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    proxy_pid = state / "proxy.pid"
    if proxy_pid.is_file():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(proxy_pid.read_text().strip()), signal.SIGTERM)


# ---------------------------------------------------------------- the tests
def test_signup_needs_approval_and_first_login_creates_private_accounts(world: World) -> None:
    assert "has not been authorized by an administrator yet" in world.unapproved_login
    assert not world.a_existed_before_login  # created by the hub at A's first login
    assert world.b_home_mode_before == 0o755  # useradd's default here ...
    for name in (world.a.name, world.b.name, world.admin.name):
        entry = pwd.getpwnam(name)
        info = os.stat(entry.pw_dir)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (entry.pw_uid, 0o700), name


def test_each_server_runs_as_its_user_from_the_users_venv(world: World) -> None:
    for key, user in (("a", world.a), ("b", world.b), ("admin", world.admin)):
        me = world.whoami[key]
        assert me["user"] == user.name
        assert me["uid"] == pwd.getpwnam(user.name).pw_uid
        assert me["executable"].startswith(str(HUB_HOME / "venv") + "/")
        assert me["home"] == pwd.getpwnam(user.name).pw_dir
        assert me["umask"] == 0o077


def test_users_cannot_change_the_python_everyone_runs(world: World) -> None:
    venv = HUB_HOME / "venv"
    site = next((venv / "lib").glob("python3*/site-packages"))
    for path in (venv, venv / "bin", venv / "bin" / "python", site, site / "llmbench_jupyter"):
        info = path.stat()  # bin/python: the interpreter it links to
        assert info.st_uid == 0 and not stat.S_IMODE(info.st_mode) & 0o022, path
    probe = "print(json.dumps(os.access(sys.prefix + '/bin', os.W_OK)))"
    assert world.kernels["a"].execute(probe).json() is False


def test_each_server_gets_only_its_own_role_key_and_limits(world: World) -> None:
    from llmbench_jupyter.hub.provision import role_name
    from llmbench_jupyter.store.vault import derive_user_key

    masters = [
        ln.strip().encode()
        for ln in (world.state / "vault_master_keys").read_text().splitlines()
        if ln.strip()
    ]
    expected_limits = {
        "a": ("3", "50"),  # A's own entry
        "b": ("5", "100"),  # B's group raises max_jobs; the rate comes from the default
        "admin": ("2", "100"),  # the default
    }
    for key, user in (("a", world.a), ("b", world.b), ("admin", world.admin)):
        me = world.whoami[key]
        assert me["db_role"] == role_name(user.name)
        assert me["db_database"] == "llmbench"
        assert me["env"]["LLMBENCH_DB_MIGRATE"] == "0"
        assert me["env"]["LLMBENCH_USER"] == user.name
        assert (me["env"]["LLMBENCH_MAX_JOBS"], me["env"]["LLMBENCH_MAX_REQUESTS_PER_HOUR"]) == (
            expected_limits[key]
        )
        own = [hashlib.sha256(derive_user_key(m, user.name)).hexdigest() for m in masters]
        assert me["vault_keys_sha256"] == own
    assert world.whoami["a"]["vault_keys_sha256"] != world.whoami["b"]["vault_keys_sha256"]


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


def test_files_processes_and_server_of_another_user_are_out_of_reach(world: World) -> None:
    from llmbench_jupyter.hub.provision import derive_password
    from llmbench_jupyter.store.vault import derive_user_key

    b = world.whoami["b"]
    assert world.b_secrets["tmp_mode"] == "0o600"  # umask 077 applies outside home too
    code = OS_ATTACKS.format(
        b=world.b.name,
        home=b["home"],
        home_file=world.b_secrets["home_file"],
        tmp_file=world.b_secrets["tmp_file"],
        kernel_pid=b["pid"],
        server_pid=b["server_pid"],
        service_url=b["service_url"],
        state=str(world.state),
        pgdata=str(world.root / "pgdata"),
    )
    out = world.kernels["a"].execute(code).json()
    for name in (
        "list_home",
        "read_home_file",
        "read_tmp_file",
        "read_environ",
        "read_server_environ",
        "list_fds",
        "signal_kernel",
        "list_hub_state",
        "list_hub_pgdata",
    ):
        assert out[name] == {"ok": False, "error": "PermissionError"}, (name, out[name])
    # No hidepid in this container: A sees that B's processes exist and their command
    # lines, so those must never carry a secret.
    assert out["b_pids_seen"] >= 2
    secret = (world.state / "hmac_secret").read_text().strip().encode()
    masters = (world.state / "vault_master_keys").read_text().split()
    b_password = derive_password(secret, world.b.name)
    b_keys = [derive_user_key(m.encode(), world.b.name).decode() for m in masters]
    joined = "\n".join(out["b_cmdlines"])
    assert "jupyterhub-singleuser" in joined
    assert all(s not in joined for s in (b_password, *b_keys, SECRET_KEY))
    assert out["b_server_with_my_token"] in (401, 403)
    assert out["b_server_without_token"] in (302, 401, 403)
    assert out["my_server_with_my_token"] == 200
    # through the proxy, with A's own hub token
    assert world.a.server("GET", "api/kernels", user=world.b.name).status_code == 403
    assert world.a.server("GET", "api/kernels").status_code == 200


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


def test_hub_cluster_files_are_private_to_their_own_account(world: World) -> None:
    from llmbench_jupyter.hub.pgcluster import OS_USER

    pgdata = world.root / "pgdata"
    info = pgdata.stat()
    assert (pwd.getpwuid(info.st_uid).pw_name, stat.S_IMODE(info.st_mode)) == (OS_USER, 0o700)
    # Not even `postgres` (whom this machine's trusting server lets anyone run programs as)
    # can look inside.
    proc = subprocess.run(
        ["runuser", "-u", "postgres", "--", "ls", str(pgdata)], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "Permission denied" in proc.stderr


def test_no_secret_reaches_the_hub_log(world: World) -> None:
    from llmbench_jupyter.hub.provision import derive_password
    from llmbench_jupyter.store.vault import derive_user_key

    text = world.log.read_text(errors="replace")
    secret = (world.state / "hmac_secret").read_text().strip()
    masters = (world.state / "vault_master_keys").read_text().split()
    names = (world.a.name, world.b.name, world.admin.name)
    values = [
        secret,
        *masters,
        (world.state / "pg_superuser_password").read_text().strip(),
        (world.state / "proxy_auth_token").read_text().strip(),
        *(derive_password(secret.encode(), n) for n in names),
        *(derive_user_key(m.encode(), n).decode() for m in masters for n in names),
        SECRET_KEY,
        *(u.password for u in (world.a, world.b, world.admin)),
    ]
    assert world.a.name in text  # the log is the right one, and not empty
    leaked = [i for i, v in enumerate(values) if v in text]
    assert leaked == []
