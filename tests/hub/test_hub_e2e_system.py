"""Accounts, servers, files and processes of hub users, for real, on the hub of conftest.py.

Sign-up and approval create private Unix accounts; each server runs as its user from
the shared venv with only its own role, key and limits; one user goes after the other's
files, processes and server; the hub's own files and log keep their secrets. Everything
goes through the network surfaces a person uses (hub forms, hub REST API, Jupyter Server
REST API, the kernel WebSocket).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
import subprocess

import pytest
from hub_world import HUB_HOME, SECRET_KEY, World

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(420)]


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
