"""A PostgreSQL cluster of the hub's own: password (SCRAM) logins only, TCP on loopback.

Why not the machine's server: when it trusts every local connection (these machines'
default), any user's kernel can connect as the superuser, and per-user roles and
row-level security mean nothing. This cluster has no Unix socket and asks every TCP
login for its password, so a kernel gets exactly the role its password opens.

Run as root: ``initdb`` and the server run as a system user of their own
(``llmbench-pg``, created on first use), not as ``postgres``: on a machine whose own
server trusts local logins, anyone can make that server run programs as ``postgres``
(``COPY ... TO PROGRAM``), and those must not be able to read this cluster's files. The
data directory belongs to ``llmbench-pg`` (0700); the superuser's password is a
root-only secret file.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.hub.secret_files import PG_SUPERUSER_PASSWORD, read_or_create, secret_dir

#: The system account that owns the data directory and runs the server.
OS_USER = "llmbench-pg"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class ClusterError(LLMBenchError):
    """The hub's PostgreSQL cluster could not be created, started or reached."""


def find_bindir() -> Path:
    """``$LLMBENCH_HUB_PG_BINDIR``, else the newest /usr/lib/postgresql/N/bin with initdb."""
    env = os.environ.get("LLMBENCH_HUB_PG_BINDIR", "").strip()
    candidates = (
        [env]
        if env
        else sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for cand in candidates:
        if (Path(cand) / "initdb").is_file():
            return Path(cand)
    raise ClusterError(
        "PostgreSQL server binaries not found (looked for initdb in "
        f"{env or '/usr/lib/postgresql/*/bin'}): install the `postgresql` package or set "
        "LLMBENCH_HUB_PG_BINDIR"
    )


@dataclass
class PgCluster:
    """One private cluster: ``datadir`` (owned by ``llmbench-pg``) serving 127.0.0.1:``port``.

    ``secrets`` is the hub's root-only secret directory holding the superuser password.
    ``durable=False`` turns fsync off (for tests: a crash loses the cluster, which a test
    throws away anyway).
    """

    datadir: Path
    port: int
    secrets: Path
    durable: bool = True

    @property
    def password(self) -> str:
        return read_or_create(secret_dir(self.secrets), PG_SUPERUSER_PASSWORD).decode()

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """A SQLAlchemy URL to ``database`` as the superuser (holds the password: keep private)."""
        return (
            f"postgresql+psycopg://{quote(user, safe='')}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    def ensure(self) -> str:
        """Create the cluster if needed and start it if it is not running; the admin URL."""
        if os.geteuid() != 0:
            raise ClusterError(
                f"the hub's PostgreSQL cluster in {self.datadir} is run as the `{OS_USER}` "
                "system user: start the hub as root (sudo)"
            )
        bindir = find_bindir()
        _ensure_os_user()
        if not (self.datadir / "PG_VERSION").is_file():
            self._init(bindir)
        if not self.running():
            self._start(bindir)
            self._close_maintenance_dbs()
        return self.url()

    def _close_maintenance_dbs(self) -> None:
        """Only the hub's superuser may connect to ``postgres`` and ``template1``."""
        import psycopg

        conninfo = self.url().replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute("REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC")

    def running(self) -> bool:
        """True when this cluster's postmaster answers on its port."""
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.is_file():
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (fast shutdown); a no-op when it is not running."""
        if (self.datadir / "postmaster.pid").is_file():
            _run_as_server_user(
                [
                    str(find_bindir() / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                what=f"stopping PostgreSQL in {self.datadir}",
                check=False,
            )

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def _init(self, bindir: Path) -> None:
        pg = pwd.getpwnam(OS_USER)
        self.datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(self.datadir, pg.pw_uid, pg.pw_gid)
        # The password goes through a 0600 file of the server's user in a 0700 directory,
        # never on a command line (those are world-readable in /proc).
        pwdir = Path(tempfile.mkdtemp(prefix="llmbench-initdb-"))
        pwfile = pwdir / "pw"
        pwfile.write_text(self.password + "\n")
        for path in (pwdir, pwfile):
            os.chown(path, pg.pw_uid, pg.pw_gid)
        try:
            _run_as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=reject",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    *([] if self.durable else ["--no-sync"]),
                ],
                what=f"initdb {self.datadir}",
            )
        finally:
            shutil.rmtree(pwdir, ignore_errors=True)
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write(
                "\n# llmbench hub: loopback TCP only, no Unix socket, passwords always\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = ''\n"
                "password_encryption = 'scram-sha-256'\n"
                + ("" if self.durable else "fsync = off\nsynchronous_commit = off\n")
            )
        # Only loopback TCP with a password; nothing else matches, so nothing else gets in.
        (self.datadir / "pg_hba.conf").write_text(
            "# llmbench hub: every login needs its password\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )

    def _start(self, bindir: Path) -> None:
        log = self.datadir / "server.log"
        _run_as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "start",
            ],
            what=f"starting PostgreSQL in {self.datadir} on 127.0.0.1:{self.port}",
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.running():
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"PostgreSQL in {self.datadir} did not answer on 127.0.0.1:{self.port} "
                    f"within {START_TIMEOUT_S} s (see {log})"
                )
            time.sleep(0.1)


def _ensure_os_user() -> None:
    """Create the ``llmbench-pg`` system account (no home, no shell) if it is missing."""
    try:
        pwd.getpwnam(OS_USER)
        return
    except KeyError:
        pass
    proc = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            OS_USER,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and "already exists" not in proc.stderr:
        raise ClusterError(f"cannot create the system user {OS_USER}: {proc.stderr.strip()}")


def _run_as_server_user(cmd: list[str], *, what: str, check: bool = True) -> None:
    as_owner = pwd.getpwuid(os.geteuid()).pw_name == OS_USER
    full = cmd if as_owner else ["runuser", "-u", OS_USER, "--", *cmd]
    proc = subprocess.run(
        full,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=START_TIMEOUT_S * 2,
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ClusterError(f"{what} failed (exit {proc.returncode}): {tail}")


def main(argv: list[str] | None = None) -> int:
    """``python -m llmbench_jupyter.hub.pgcluster ensure|stop --datadir D --port P --secrets S``."""
    parser = argparse.ArgumentParser(prog="python -m llmbench_jupyter.hub.pgcluster")
    parser.add_argument("action", choices=["ensure", "stop"])
    parser.add_argument("--datadir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--secrets", required=True, type=Path)
    args = parser.parse_args(argv)
    cluster = PgCluster(args.datadir, args.port, args.secrets)
    try:
        if args.action == "ensure":
            cluster.ensure()
            print(f"PostgreSQL for the hub is up on 127.0.0.1:{args.port} ({args.datadir})")
        else:
            cluster.stop()
    except LLMBenchError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
