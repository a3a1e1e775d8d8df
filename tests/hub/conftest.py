"""The hub end-to-end tests' one real hub: the session fixture ``world``.

The whole multi-user chain, for real: hub_config/ starts JupyterHub, the npm proxy and
the hub's private PostgreSQL; people sign up, get approved, log in (which creates their
Unix accounts), start servers, and run benchmarks in their kernels. Starting it takes
minutes, so test_hub_e2e_store.py and test_hub_e2e_system.py share one, set up for the
session the first time a test asks for it. Needs root (useradd, LocalProcessSpawner) and
``make hub-deps``; in CI a missing part fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
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
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_harness import HubUser, Kernel, free_port, wait_ready
from hub_world import HUB_HOME, RUNS, SECRET_KEY, World, _ok

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "hub"


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


# ---------------------------------------------------------------- the hub fixture
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


@pytest.fixture(scope="session")
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
        "LLMBENCH_SCHEDULER_INTERVAL": "3",  # the hub's scheduler service checks often
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
